"""The fetcher end to end: Marathon's and Chronos' `fetch` and `uris`
against a real master, real agents and agora-fetcher, with the files
served by `python3 -m http.server` on loopback.

What a task fetched is proven by what the task itself does with it: a
script from an archive runs and writes to the task's stdout. Requests are
counted in the server's own log.
"""
import io
import os
import pwd
import re
import socket
import stat
import subprocess
import tarfile
import zipfile

import pytest

from conftest import SLOW, free_port, port_open, wait_for
from marathon_fixture import marathon_cluster  # noqa: F401 - a fixture
from test_agent_files_security import open_path_to
from test_chronos import chronos  # noqa: F401 - a fixture

SCRIPT = b"#!/bin/sh\necho fetched-%s-ran\n"


def add_file(tar, name, data, mode=0o755):
    info = tarfile.TarInfo(name)
    info.size = len(data)
    info.mode = mode
    tar.addfile(info, io.BytesIO(data))


def write_tgz(path, members):
    with tarfile.open(path, "w:gz") as t:
        for name, data in members:
            add_file(t, name, data)


@pytest.fixture
def files(tmp_path):
    """A directory served over HTTP on loopback; yields (dir, base URL,
    a function counting GETs of a path in the server's log)."""
    d = tmp_path / "www"
    d.mkdir()
    port = free_port()
    log = open(tmp_path / "http.log", "w")
    proc = subprocess.Popen(
        ["/usr/bin/python3", "-m", "http.server", str(port), "--bind",
         "127.0.0.1", "--directory", str(d)],
        stdin=subprocess.DEVNULL, stdout=log, stderr=log)
    wait_for(lambda: port_open(port), 10, what="the file server")

    def gets(path):
        get = re.compile(r'"GET %s[ ?]' % re.escape(path))
        with open(tmp_path / "http.log") as f:
            return sum(bool(get.search(line)) for line in f)
    yield d, "http://127.0.0.1:%d" % port, gets
    proc.terminate()
    proc.wait(10)
    log.close()


def sandbox_out(agent_dir, task_id, name="stdout"):
    path = os.path.join(str(agent_dir), "work", "sandboxes", task_id, name)
    try:
        with open(path) as f:
            return f.read()
    except FileNotFoundError:
        return ""


def wait_output(tmp_path, mar, app_id, text, n=1):
    """The app's n tasks running, and text in each one's stdout."""
    app = mar.wait_running(app_id, n, timeout=30 * SLOW)
    ids = [t["id"] for t in app["tasks"]]
    wait_for(lambda: all(text in sandbox_out(tmp_path / "agent0", i)
                         for i in ids), 10 * SLOW,
             what="%r in the stdout of %s" % (text, ids))
    return ids


def wait_failure(mar, app_id):
    return wait_for(lambda: mar.app(app_id).get("lastTaskFailure"),
                    30 * SLOW, interval=0.1, what="%s to fail" % app_id)


def test_tar_gz_is_extracted_and_its_script_runs(marathon_cluster, files,
                                                 tmp_path):
    m, mar, agent = marathon_cluster
    agent()
    d, base, gets = files
    write_tgz(d / "app.tar.gz", [("app/run.sh", SCRIPT % b"tgz")])
    r = mar.post("/v2/apps", json={
        "id": "tgz", "cmd": "./app/run.sh && sleep 60", "cpus": 0.1,
        "mem": 32, "fetch": [{"uri": base + "/app.tar.gz"}]})
    assert r.status_code == 201, r.text
    [tid] = wait_output(tmp_path, mar, "tgz", "fetched-tgz-ran")
    # The archive stays beside what it held, as Mesos leaves it.
    sandbox = tmp_path / "agent0" / "work" / "sandboxes" / tid
    assert (sandbox / "app.tar.gz").is_file()
    assert "agora-fetcher: extracting app.tar.gz" in \
        sandbox_out(tmp_path / "agent0", tid, "stderr")
    assert gets("/app.tar.gz") == 1
    # The master's task JSON shows the launch as any other.
    tasks = m.json("/master/tasks")["tasks"]
    assert [t["state"] for t in tasks if t["id"] == tid] == ["TASK_RUNNING"]


def test_executable_output_file_and_file_uri(marathon_cluster, files,
                                             tmp_path):
    """executable: 0755 and not extracted; outputFile renames (into a
    directory it makes); a file:// URI; a zip unpacked."""
    m, mar, agent = marathon_cluster
    agent()
    d, base, gets = files
    (d / "tool.sh").write_bytes(SCRIPT % b"exe")
    local = tmp_path / "local.sh"
    local.write_bytes(SCRIPT % b"file")
    with zipfile.ZipFile(d / "pkg.zip", "w") as z:
        z.writestr("pkg/data.txt", "zipped-data\n")
    r = mar.post("/v2/apps", json={
        "id": "exe", "cpus": 0.1, "mem": 32,
        "cmd": "bin/go && sh ./local && cat pkg/data.txt && sleep 60",
        "fetch": [{"uri": base + "/tool.sh", "executable": True,
                   "outputFile": "bin/go"},
                  {"uri": "file://%s" % local, "outputFile": "local"},
                  {"uri": base + "/pkg.zip"}]})
    assert r.status_code == 201, r.text
    [tid] = wait_output(tmp_path, mar, "exe", "zipped-data")
    out = sandbox_out(tmp_path / "agent0", tid)
    assert "fetched-exe-ran" in out and "fetched-file-ran" in out, out
    sandbox = tmp_path / "agent0" / "work" / "sandboxes" / tid
    assert os.stat(sandbox / "bin" / "go").st_mode & 0o777 == 0o755
    assert not (sandbox / "tool.sh").exists()


def test_cache_fetches_once_for_two_tasks(marathon_cluster, files, tmp_path):
    m, mar, agent = marathon_cluster
    agent()
    d, base, gets = files
    write_tgz(d / "cached.tar.gz", [("c/run.sh", SCRIPT % b"cached")])
    r = mar.post("/v2/apps", json={
        "id": "cached", "cmd": "./c/run.sh && sleep 60", "cpus": 0.1,
        "mem": 32, "instances": 2,
        "fetch": [{"uri": base + "/cached.tar.gz", "cache": True}]})
    assert r.status_code == 201, r.text
    wait_output(tmp_path, mar, "cached", "fetched-cached-ran", n=2)
    assert gets("/cached.tar.gz") == 1
    # Without cache, each task downloads its own copy.
    r = mar.post("/v2/apps", json={
        "id": "uncached", "cmd": "./c/run.sh && sleep 60", "cpus": 0.1,
        "mem": 32, "instances": 2,
        "fetch": [{"uri": base + "/cached.tar.gz"}]})
    assert r.status_code == 201, r.text
    wait_output(tmp_path, mar, "uncached", "fetched-cached-ran", n=2)
    assert gets("/cached.tar.gz") == 3


def test_404_fails_the_task_naming_the_uri(marathon_cluster, files,
                                           tmp_path):
    m, mar, agent = marathon_cluster
    a = agent()
    d, base, gets = files
    uri = base.replace("http://", "http://user:s3cret@") + \
        "/missing.tar.gz?token=s3cret"
    r = mar.post("/v2/apps", json={
        "id": "missing", "cmd": "sleep 60", "cpus": 0.1, "mem": 32,
        "fetch": [{"uri": uri}]})
    assert r.status_code == 201, r.text
    failure = wait_failure(mar, "missing")
    assert failure["state"] == "TASK_FAILED", failure
    shown = base.replace("http://", "http://***@") + "/missing.tar.gz?***"
    assert shown in failure["message"] and "404" in failure["message"], \
        failure
    assert "s3cret" not in failure["message"]
    tid = failure["taskId"]
    task = [t for t in m.json("/master/tasks")["tasks"] if t["id"] == tid]
    assert task[0]["state"] == "TASK_FAILED"
    assert shown in task[0]["message"]
    r = m.post("/api/v1", json={"type": "GET_TASKS"})
    assert r.status_code == 200, r.text
    done = [t for t in r.json()["get_tasks"]["completed_tasks"]
            if t["task_id"]["value"] == tid]
    assert done[0]["statuses"][-1]["reason"] == "REASON_FETCHER_FAILED", done
    assert gets("/missing.tar.gz") >= 1
    # The credentials are in no log and no file of the sandbox.
    assert "s3cret" not in m.log() and "s3cret" not in a.log()
    err = sandbox_out(tmp_path / "agent0", tid, "stderr")
    assert shown in err and "s3cret" not in err, err


@pytest.mark.parametrize("entry", ["../evil", "/ABS/evil", "ok/../../evil"])
def test_archive_escaping_the_sandbox_is_refused(marathon_cluster, files,
                                                 tmp_path, entry):
    m, mar, agent = marathon_cluster
    agent()
    d, base, gets = files
    entry = entry.replace("/ABS", str(tmp_path))
    write_tgz(d / "evil.tar.gz", [("fine.txt", b"fine"), (entry, b"evil")])
    r = mar.post("/v2/apps", json={
        "id": "evil", "cmd": "sleep 60", "cpus": 0.1, "mem": 32,
        "fetch": [{"uri": base + "/evil.tar.gz"}]})
    assert r.status_code == 201, r.text
    failure = wait_failure(mar, "evil")
    assert failure["state"] == "TASK_FAILED"
    assert "refused the entry '%s'" % entry in failure["message"], failure
    assert base + "/evil.tar.gz" in failure["message"]
    evil = [p for p in (tmp_path / "evil", tmp_path / "agent0" / "evil",
                        tmp_path / "agent0" / "work" / "evil",
                        tmp_path / "agent0" / "work" / "sandboxes" / "evil")
            if p.exists()]
    assert evil == []


def test_archive_symlink_out_is_refused(marathon_cluster, files, tmp_path):
    m, mar, agent = marathon_cluster
    agent()
    d, base, gets = files
    with tarfile.open(d / "link.tar", "w") as t:
        info = tarfile.TarInfo("etc")
        info.type = tarfile.SYMTYPE
        info.linkname = "/etc"
        t.addfile(info)
    r = mar.post("/v2/apps", json={
        "id": "link", "cmd": "sleep 60", "cpus": 0.1, "mem": 32,
        "fetch": [{"uri": base + "/link.tar"}]})
    assert r.status_code == 201, r.text
    failure = wait_failure(mar, "link")
    assert "symlink that leads out" in failure["message"], failure


def test_container_still_refused(marathon_cluster):
    """A container task whose image cannot be pulled (a registry that is
    not there: the agent's --docker_registry, so the test never reaches
    the network) fails with a message naming the image, and never runs
    without it."""
    m, mar, agent = marathon_cluster
    agent(args=["--docker_registry=http://127.0.0.1:1"])
    r = mar.post("/v2/apps", json={
        "id": "img", "cmd": "sleep 60", "cpus": 0.1, "mem": 16,
        "container": {"type": "DOCKER", "docker": {"image": "debian"}},
        "fetch": [{"uri": "http://127.0.0.1:1/never.tar.gz"}]})
    assert r.status_code == 201, r.text
    failure = wait_failure(mar, "img")
    assert "failed to pull image 'debian'" in failure["message"], failure
    assert mar.app("img")["tasksRunning"] == 0


def test_chronos_job_with_uris_runs(chronos, files):
    m, c, out = chronos
    d, base, gets = files
    write_tgz(d / "job.tar.gz", [("job/run.sh", SCRIPT % b"chronos")])
    c.job({"name": "fetched", "command": "./job/run.sh >> %s/ran" % out,
           "schedule": "R1//PT1M", "cpus": 0.1, "mem": 32,
           "uris": [base + "/job.tar.gz"]})
    wait_for(lambda: (out / "ran").exists() and
             "fetched-chronos-ran" in (out / "ran").read_text(), 30 * SLOW,
             what="the chronos job to run its fetched script")
    assert gets("/job.tar.gz") == 1
    # fetch with output_file and executable, Chronos' spelling.
    (d / "tool.sh").write_bytes(SCRIPT % b"chronos-exe")
    c.job({"name": "fetched2", "command": "./t >> %s/ran2" % out,
           "schedule": "R1//PT1M", "cpus": 0.1, "mem": 32,
           "fetch": [{"uri": base + "/tool.sh", "executable": True,
                      "output_file": "t"}]})
    wait_for(lambda: (out / "ran2").exists() and
             "fetched-chronos-exe-ran" in (out / "ran2").read_text(),
             30 * SLOW, what="the chronos job to run its fetched tool")


@pytest.fixture
def silent():
    """A loopback port that accepts connections and never answers: a
    download from it stalls."""
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    s.listen(64)
    yield "http://127.0.0.1:%d" % s.getsockname()[1]
    s.close()


def fetcher_pids(agent_dir):
    with open(os.path.join(str(agent_dir), "agent.log")) as f:
        return [int(x) for x in
                re.findall(r"fetcher (\d+) started", f.read())]


def alive(pid):
    try:
        with open("/proc/%d/stat" % pid) as f:
            return f.read().split()[2] != "Z"
    except FileNotFoundError:
        return False


def master_task(m, app_id):
    tasks = [t for t in m.json("/master/tasks")["tasks"]
             if t["id"].startswith(app_id + ".")]
    return tasks[0] if tasks else None


def test_stalled_download_fails_the_task(marathon_cluster, silent):
    m, mar, agent = marathon_cluster
    agent(args=["--fetcher_stall_timeout=1secs"])
    r = mar.post("/v2/apps", json={
        "id": "stall", "cmd": "sleep 60", "cpus": 0.1, "mem": 32,
        "fetch": [{"uri": silent + "/never.tar.gz"}]})
    assert r.status_code == 201, r.text
    failure = wait_failure(mar, "stall")
    assert silent + "/never.tar.gz" in failure["message"], failure
    assert "stalled" in failure["message"] or "timed out" in \
        failure["message"], failure


def test_kill_during_fetch_kills_the_fetcher(marathon_cluster, silent,
                                             tmp_path):
    m, mar, agent = marathon_cluster
    a = agent()
    r = mar.post("/v2/apps", json={
        "id": "slow", "cmd": "sleep 60", "cpus": 0.1, "mem": 32,
        "fetch": [{"uri": silent + "/never.tar.gz"}]})
    assert r.status_code == 201, r.text
    [pid] = wait_for(lambda: fetcher_pids(tmp_path / "agent0"), 20 * SLOW,
                     what="the fetcher to start")
    assert alive(pid)
    # Fetching: the task is staging, no shim yet.
    assert master_task(m, "slow")["state"] == "TASK_STAGING"
    assert mar.delete("/v2/apps/slow").status_code == 200
    mar.wait_gone("slow")
    wait_for(lambda: not alive(pid), 10 * SLOW, what="the fetcher killed")
    wait_for(lambda: (master_task(m, "slow") or {}).get("state") ==
             "TASK_KILLED", 10 * SLOW, what="the task killed")
    a.stop()  # with no fetcher left: a clean stop (and no leak under ASan)


def test_agent_restart_during_fetch(marathon_cluster, silent, files,
                                    tmp_path):
    """The fetcher dies with its agent; the restarted agent fails the
    task (it had not started), and Marathon launches it again."""
    m, mar, agent = marathon_cluster
    a = agent()
    d, base, gets = files
    (d / "slow.sh").write_bytes(SCRIPT % b"again")
    r = mar.post("/v2/apps", json={
        "id": "again", "cmd": "sleep 60", "cpus": 0.1, "mem": 32,
        "fetch": [{"uri": silent + "/never.tar.gz"}]})
    assert r.status_code == 201, r.text
    [pid] = wait_for(lambda: fetcher_pids(tmp_path / "agent0"), 20 * SLOW,
                     what="the fetcher to start")
    first = master_task(m, "again")["id"]
    a.kill9()
    wait_for(lambda: not alive(pid), 10 * SLOW,
             what="the fetcher to die with its agent")
    # Let the next launch fetch something that answers.
    r = mar.put("/v2/apps/again?force=true", json={
        "cmd": "./slow.sh && sleep 60",
        "fetch": [{"uri": base + "/slow.sh", "executable": True}]})
    assert r.status_code == 200, r.text
    a.start()
    wait_for(lambda: [t for t in m.json("/master/tasks")["tasks"]
                      if t["id"] == first and t["state"] == "TASK_FAILED"],
             20 * SLOW, what="the interrupted task to fail")
    wait_output(tmp_path, mar, "again", "fetched-again-ran")


@pytest.mark.skipif(os.geteuid() != 0, reason="switching users needs root")
def test_fetch_runs_as_the_tasks_user(marathon_cluster, files, tmp_path):
    """As root, the fetcher becomes the task's user before it fetches:
    the sandbox's files are the user's, and a file:// URI reads only what
    the user may."""
    m, mar, agent = marathon_cluster
    a = agent()
    open_path_to(a.work_dir)
    d, base, gets = files
    write_tgz(d / "mine.tar.gz", [("m/run.sh", SCRIPT % b"nobody")])
    r = mar.post("/v2/apps", json={
        "id": "mine", "cmd": "./m/run.sh && id -un && sleep 60",
        "user": "nobody", "cpus": 0.1, "mem": 32,
        "fetch": [{"uri": base + "/mine.tar.gz", "cache": True}]})
    assert r.status_code == 201, r.text
    [tid] = wait_output(tmp_path, mar, "mine", "fetched-nobody-ran")
    sandbox = tmp_path / "agent0" / "work" / "sandboxes" / tid
    uid = pwd.getpwnam("nobody").pw_uid
    for p in ("mine.tar.gz", "m", "m/run.sh", "stderr"):
        assert os.lstat(sandbox / p).st_uid == uid, p
    cache = tmp_path / "agent0" / "work" / "fetch_cache" / ("u%d" % uid)
    assert os.stat(cache).st_uid == uid
    assert stat.S_IMODE(os.stat(cache).st_mode) == 0o700
    secret = tmp_path / "root-only"
    secret.write_text("root's secret\n")
    os.chmod(secret, 0o600)
    os.chmod(tmp_path, 0o755)
    r = mar.post("/v2/apps", json={
        "id": "steal", "cmd": "sleep 60", "user": "nobody", "cpus": 0.1,
        "mem": 32, "fetch": [{"uri": "file://%s" % secret}]})
    assert r.status_code == 201, r.text
    failure = wait_failure(mar, "steal")
    assert "file://%s" % secret in failure["message"], failure


@pytest.mark.parametrize("entry,why", [
    ({"uri": "ftp://user:pw@h/x.tar.gz"},
     "fetch[0]: unsupported scheme in 'ftp://***@h/x.tar.gz' (http, https "
     "and file are)"),
    ({"uri": "http://h/x", "outputFile": "../x"},
     "fetch[0]: output_file '../x' is a '..' component"),
    ({"uri": "http://h/x", "destPath": "/etc/x"},
     "fetch[0]: output_file '/etc/x' is an absolute path"),
    ({"uri": "http://h/"},
     "fetch[0]: 'http://h/' names no file (give an output_file)"),
])
def test_unfetchable_list_is_task_error(marathon_cluster, entry, why):
    """What no fetch can satisfy is an invalid task, refused before any
    fetcher runs: TASK_ERROR with the reason, never a silent ignore."""
    m, mar, agent = marathon_cluster
    a = agent()
    r = mar.post("/v2/apps", json={"id": "bad", "cmd": "sleep 60",
                                   "cpus": 0.1, "mem": 32, "fetch": [entry]})
    assert r.status_code == 201, r.text
    t = wait_for(lambda: (master_task(m, "bad") or {}).get("state") ==
                 "TASK_ERROR" and master_task(m, "bad"), 20 * SLOW,
                 what="the task refused")
    assert t["message"] == why, t
    assert "fetcher" not in a.log()


def test_entry_name_not_utf8_still_reported(marathon_cluster, files):
    """An archive's entry names are any bytes; the failure's message is
    made UTF-8 text, so the master takes the status (and nothing is
    lost)."""
    m, mar, agent = marathon_cluster
    agent()
    d, base, gets = files
    write_tgz(d / "bytes.tar.gz", [("../\udcff\udcfe", b"x")])
    r = mar.post("/v2/apps", json={
        "id": "bytes", "cmd": "sleep 60", "cpus": 0.1, "mem": 32,
        "fetch": [{"uri": base + "/bytes.tar.gz"}]})
    assert r.status_code == 201, r.text
    failure = wait_failure(mar, "bytes")
    assert "refused the entry '../??'" in failure["message"], failure
