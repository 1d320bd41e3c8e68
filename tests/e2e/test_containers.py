"""The mesos containerizer (issue 16): Marathon and Chronos tasks run in
their image, without a daemon, on a real master and agent.

The agent's image store is filled by the test exactly as
docs/containers.md §2 lays it out (a layer of Debian's busybox-static,
images/<hex>.json, refs/<name>): what agora-fetcher writes after a pull,
and what an agent that already has the image holds.
"""
import hashlib
import json
import os
import shutil
import signal
import stat
import subprocess
import time

import pytest
import requests

import conftest
from conftest import wait_for
from marathon_fixture import marathon_cluster  # noqa: F401
from marathon_fixture import plugin_port

BUSYBOX = "/bin/busybox"

pytestmark = [
    pytest.mark.skipif(not os.path.exists(BUSYBOX),
                       reason="busybox-static is not installed "
                              "(scripts/setup)"),
    pytest.mark.skipif(os.geteuid() != 0,
                       reason="containers need root (namespaces, mounts)"),
]

REF = "agora-test/busybox:1.0"       # Entrypoint + Cmd, Env, User, WorkingDir
REF_CMD = "localhost:5000/bb-cmd"    # Cmd only
REF_WHITEOUT = "agora-test/wh:1"     # two layers, the top deletes a file
REF_LINK = "agora-test/link:1"       # /data is a symlink to the host's /etc


def hexdigest(text):
    return hashlib.sha256(text.encode()).hexdigest()


def ref_name(ref):
    ok = set("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
             "0123456789._-")
    return "".join(c if c in ok else "%%%02X" % ord(c) for c in ref)


def make_layer(store, name, files=(), whiteouts=()):
    """A layer of busybox-static (/bin/busybox and its applets), /etc with
    root and an `app` user; files {path: text} added, whiteouts (paths)
    deleted in overlayfs' form. Returns its hex."""
    hx = hexdigest("layer:" + name)
    root = os.path.join(store, "layers", hx, "rootfs")
    if name == "base":
        os.makedirs(os.path.join(root, "bin"))
        shutil.copy2(BUSYBOX, os.path.join(root, "bin", "busybox"))
        applets = subprocess.run([BUSYBOX, "--list"], capture_output=True,
                                 text=True, check=True).stdout.split()
        for a in applets:
            if a != "busybox":
                os.symlink("busybox", os.path.join(root, "bin", a))
        os.makedirs(os.path.join(root, "etc"))
        with open(os.path.join(root, "etc", "passwd"), "w") as f:
            f.write("root:x:0:0:root:/root:/bin/sh\n"
                    "app:x:1000:1001:app:/home/app:/bin/sh\n")
        with open(os.path.join(root, "etc", "group"), "w") as f:
            f.write("root:x:0:\napp:x:1001:\nstaff:x:50:\n")
    os.makedirs(root, exist_ok=True)
    for path, text in dict(files).items():
        p = os.path.join(root, path.lstrip("/"))
        os.makedirs(os.path.dirname(p), exist_ok=True)
        with open(p, "w") as f:
            f.write(text)
    for path in whiteouts:
        p = os.path.join(root, path.lstrip("/"))
        os.makedirs(os.path.dirname(p), exist_ok=True)
        os.mknod(p, 0o600 | stat.S_IFCHR, os.makedev(0, 0))
    return hx


def add_image(store, ref, layers, config):
    """images/<hex>.json and refs/<name>, as agora-fetcher writes them."""
    cfg = json.dumps({"config": config, "ref": ref}, sort_keys=True)
    hx = hexdigest(cfg)
    doc = {"ref": ref, "config": hx, "layers": layers, "config_json": config}
    with open(os.path.join(store, "images", hx + ".json"), "w") as f:
        json.dump(doc, f)
    with open(os.path.join(store, "refs", ref_name(ref)), "w") as f:
        f.write(hx + "\n")
    return hx


def fill_store(work_dir):
    store = os.path.join(work_dir, "images")
    for d in ("blobs", "layers", "images", "refs", "tmp"):
        os.makedirs(os.path.join(store, d), mode=0o700, exist_ok=True)
    base = make_layer(store, "base", files={"/etc/marker": "from-image\n"})
    top = make_layer(store, "top", files={"/srv/app/hello": "hi\n"})
    add_image(store, REF, [base, top], {
        "Entrypoint": ["/bin/echo", "entry"],
        "Cmd": ["default-cmd"],
        "Env": ["PATH=/bin:/sbin", "FROM_IMAGE=yes", "OVERRIDE=image"],
        "WorkingDir": "/srv/app",
        "User": "app"})
    add_image(store, REF_CMD, [base], {
        "Cmd": ["/bin/sh", "-c", "echo cmd-only $$ $(id -u)"]})
    wh = make_layer(store, "wh", whiteouts=["/etc/marker"])
    add_image(store, REF_WHITEOUT, [base, top, wh], {})
    lnk = make_layer(store, "lnk")
    os.symlink("/etc", os.path.join(store, "layers", lnk, "rootfs", "data"))
    add_image(store, REF_LINK, [base, lnk], {})
    return store


def container(image, volumes=None):
    c = {"type": "DOCKER", "docker": {"image": image, "network": "HOST"}}
    if volumes is not None:
        c["volumes"] = volumes
    return c


def post_app(mar, app):
    app.setdefault("cpus", 0.1)
    app.setdefault("mem", 32)
    app.setdefault("instances", 1)
    r = mar.post("/v2/apps", json=app)
    assert r.status_code == 201, r.text


def sandbox_of(agent, task_id):
    return os.path.join(agent.work_dir, "sandboxes", task_id)


def read(path):
    try:
        with open(path) as f:
            return f.read()
    except FileNotFoundError:
        return ""


def wait_stdout(agent, task_id, text, timeout=20):
    path = os.path.join(sandbox_of(agent, task_id), "stdout")
    return wait_for(lambda: text in read(path) and read(path), timeout,
                    interval=0.1,
                    what="%r in %s (stderr: %s)" % (
                        text, path, read(os.path.join(
                            sandbox_of(agent, task_id), "stderr"))))


def one_task(mar, app_id, timeout=20):
    app = mar.wait_running(app_id, 1, timeout)
    return app["tasks"][0]


def last_failure(mar, app_id, timeout=20):
    return wait_for(lambda: mar.app(app_id).get("lastTaskFailure"), timeout,
                    interval=0.1, what="a failure of " + app_id)


def mounts_under(path):
    with open("/proc/self/mountinfo") as f:
        return [l for l in f if path in l]


@pytest.fixture
def ctr(marathon_cluster, tmp_path):
    """marathon_cluster plus an agent whose store holds the test images,
    with --allowed_volume_paths=<tmp>/vols."""
    m, mar, make_agent = marathon_cluster
    vols = tmp_path / "vols"
    vols.mkdir()
    started = []

    def agent(**kw):
        args = ["--allowed_volume_paths=%s" % vols] + list(kw.pop("args", []))
        a = conftest.Agent(tmp_path / ("cagent%d" % time.monotonic_ns()), m,
                           args=args, **kw)
        fill_store(a.work_dir)
        started.append(a)
        return a.start()
    yield m, mar, agent, vols
    for a in started:
        if a.alive():
            a.stop()
        conftest.kill_leftovers(a.work_dir)


def test_cmd_runs_inside_its_image(ctr, tmp_path):
    """cmd runs under /bin/sh -c in the image: pid 1 of its own pid
    namespace, the image's files and Env, its WorkingDir and User, the
    sandbox at $MESOS_SANDBOX, not the host's files."""
    m, mar, agent, _ = ctr
    a = agent()
    secret = tmp_path / "host-only"
    secret.write_text("secret")
    cmd = ("echo pid=$$; cat /etc/marker; echo pwd=$(pwd) uid=$(id -u) "
           "gid=$(id -g); echo env=$FROM_IMAGE,$OVERRIDE,$PATH; "
           "echo sandbox=$MESOS_SANDBOX; echo in-sandbox > "
           "$MESOS_SANDBOX/made-inside; "
           "test -e %s && echo host=VISIBLE || echo host=HIDDEN; "
           "hostname; sleep 600" % secret)
    post_app(mar, {"id": "/ctr/one", "cmd": cmd, "env": {"OVERRIDE": "task"},
                   "container": container(REF)})
    task = one_task(mar, "/ctr/one")
    out = wait_stdout(a, task["id"], "host=")
    assert "pid=1\n" in out, out
    assert "from-image\n" in out, out
    assert "pwd=/srv/app uid=1000 gid=1001" in out, out
    assert "env=yes,task,/bin:/sbin" in out, out
    assert "sandbox=/mnt/mesos/sandbox" in out, out
    assert "host=HIDDEN" in out, out
    assert "127.0.0.1" in out  # the agent's host name (--hostname)
    made = os.path.join(sandbox_of(a, task["id"]), "made-inside")
    assert read(made) == "in-sandbox\n"
    # The container's mounts live in its own namespaces: none here.
    assert mounts_under(a.work_dir) == []

    # The master and the agent show the container.
    st = a.state()
    shown = [t for t in st["tasks"] if t["id"] == task["id"]]
    assert shown and shown[0]["container"]["docker"]["image"] == REF, shown
    v1 = requests.post(a.url("/api/v1"), json={"type": "GET_CONTAINERS"},
                       headers={"Accept": "application/json"}, timeout=10)
    cs = [c for c in v1.json()["get_containers"]["containers"]
          if c["container_id"]["value"] == task["id"]]
    assert cs and cs[0]["container_info"]["docker"]["image"] == REF, cs
    v1 = requests.post(a.url("/api/v1"), json={"type": "GET_STATE"},
                       headers={"Accept": "application/json"}, timeout=10)
    ts = [t for t in v1.json()["get_state"]["get_tasks"]["launched_tasks"]
          if t["task_id"]["value"] == task["id"]]
    assert ts and ts[0]["container"]["type"] == "DOCKER", ts
    mt = [t for t in m.json("/master/tasks")["tasks"]
          if t["id"] == task["id"]]
    assert mt and mt[0]["container"]["docker"]["image"] == REF, mt
    assert mt[0]["container"]["type"] == "DOCKER"

    # Kill: the task ends KILLED, nothing of it is left.
    r = mar.delete("/v2/apps/ctr/one")
    assert r.status_code == 200, r.text
    mar.wait_gone("/ctr/one")
    cdir = os.path.join(a.work_dir, "containers", task["id"])
    wait_for(lambda: not os.path.exists(cdir), 15,
             what="the container's directory to be removed")
    wait_for(lambda: m.metrics()["master/tasks_running"] == 0, 15,
             what="the task to end")
    assert mounts_under(a.work_dir) == []


def test_command_resolution(ctr):
    """args -> Entrypoint + args; neither -> Entrypoint + Cmd; cmd ->
    /bin/sh -c, the Entrypoint ignored; an image without Entrypoint runs
    its Cmd; a task's user wins over the image's."""
    m, mar, agent, _ = ctr
    a = agent()
    post_app(mar, {"id": "/res/args", "args": ["a1", "a2"],
                   "container": container(REF)})
    post_app(mar, {"id": "/res/none", "container": container(REF)})
    post_app(mar, {"id": "/res/cmdonly", "container": container(REF_CMD)})
    post_app(mar, {"id": "/res/user", "cmd": "echo uid=$(id -u):$(id -g)",
                   "user": "0:50", "container": container(REF)})

    def out_of(app_id, text):
        # The tasks exit at once (FINISHED, then relaunched): any sandbox
        # of the app's tasks ("res_args.instance-...") will do.
        prefix = app_id.strip("/").replace("/", "_") + "."
        root = os.path.join(a.work_dir, "sandboxes")

        def ok():
            for d in os.listdir(root) if os.path.isdir(root) else ():
                o = read(os.path.join(root, d, "stdout"))
                if d.startswith(prefix) and text in o:
                    return o
            return None
        return wait_for(ok, 20, interval=0.1, what=text + " of " + app_id)
    assert "entry a1 a2\n" in out_of("/res/args", "entry a1")
    assert "entry default-cmd\n" in out_of("/res/none", "entry default")
    assert "cmd-only 1 0\n" in out_of("/res/cmdonly", "cmd-only")
    assert "uid=0:50\n" in out_of("/res/user", "uid=")


def test_volumes(ctr, tmp_path):
    """A RO volume cannot be written, a RW one can (the host sees the
    file); a sandbox-relative one is made in the sandbox; a host path
    outside --allowed_volume_paths is TASK_ERROR naming it."""
    m, mar, agent, vols = ctr
    a = agent()
    (vols / "ro").mkdir()
    (vols / "ro" / "given").write_text("from-host\n")
    (vols / "rw").mkdir()
    cmd = ("cat /ro/given; (echo x > /ro/new) 2>/dev/null && echo ro=WROTE "
           "|| echo ro=REFUSED; echo from-container > /rw/out && echo rw=OK; "
           "echo rel > /rel/file; echo done; sleep 600")
    post_app(mar, {"id": "/vol/ok", "cmd": cmd, "container": container(REF_CMD, [
        {"containerPath": "/ro", "hostPath": str(vols / "ro"), "mode": "RO"},
        {"containerPath": "/rw", "hostPath": str(vols / "rw"), "mode": "RW"},
        {"containerPath": "/rel", "hostPath": "data", "mode": "RW"}])})
    task = one_task(mar, "/vol/ok")
    out = wait_stdout(a, task["id"], "done")
    assert "from-host\n" in out and "ro=REFUSED" in out, out
    assert "rw=OK" in out, out
    assert read(vols / "rw" / "out") == "from-container\n"
    assert not (vols / "ro" / "new").exists()
    assert read(os.path.join(sandbox_of(a, task["id"]), "data",
                             "file")) == "rel\n"

    outside = tmp_path / "outside"
    outside.mkdir()
    post_app(mar, {"id": "/vol/bad", "cmd": "sleep 600",
                   "container": container(REF, [
                       {"containerPath": "/x", "hostPath": str(outside),
                        "mode": "RW"}])})
    f = last_failure(mar, "/vol/bad")
    assert f["state"] == "TASK_ERROR", f
    assert str(outside) in f["message"], f
    assert "allowed_volume_paths" in f["message"], f
    post_app(mar, {"id": "/vol/mode", "cmd": "sleep 600",
                   "container": container(REF, [
                       {"containerPath": "/x", "hostPath": str(vols),
                        "mode": "RX"}])})
    f = last_failure(mar, "/vol/mode")
    assert f["state"] == "TASK_ERROR" and "mode" in f["message"], f


def test_refusals_and_missing_image(ctr):
    """What the agent cannot honour is TASK_ERROR naming the field; an
    image not in the store is TASK_FAILED naming the image."""
    m, mar, agent, _ = ctr
    agent()
    post_app(mar, {"id": "/ref/missing", "cmd": "true",
                   "container": container("nowhere/none:9")})
    f = last_failure(mar, "/ref/missing")
    assert f["state"] == "TASK_FAILED", f
    assert "nowhere/none:9" in f["message"], f
    c = container(REF)
    c["docker"]["privileged"] = True
    post_app(mar, {"id": "/ref/priv", "cmd": "true", "container": c})
    f = last_failure(mar, "/ref/priv")
    assert f["state"] == "TASK_ERROR", f
    assert "privileged" in f["message"], f
    c = container(REF)
    c["docker"]["parameters"] = [{"key": "cap-add", "value": "ALL"}]
    post_app(mar, {"id": "/ref/params", "cmd": "true", "container": c})
    f = last_failure(mar, "/ref/params")
    assert f["state"] == "TASK_ERROR" and "parameters" in f["message"], f


def test_image_symlinks_do_not_lead_to_the_host(ctr):
    """A volume whose containerPath crosses a symlink of the image (/data
    -> /etc) would land on the host's /etc if followed: the task fails,
    the message names the path, the host's /etc is untouched."""
    m, mar, agent, vols = ctr
    agent()
    (vols / "v").mkdir()
    post_app(mar, {"id": "/link/vol", "cmd": "sleep 600",
                   "container": container(REF_LINK, [
                       {"containerPath": "/data/agora-test-x",
                        "hostPath": str(vols / "v"), "mode": "RW"}])})
    f = last_failure(mar, "/link/vol")
    assert f["state"] == "TASK_FAILED", f
    assert "/data/agora-test-x" in f["message"], f
    assert not os.path.exists("/etc/agora-test-x")


def test_agent_restart_keeps_container_task(ctr):
    """kill -9 of the agent: the container task goes on; the restarted
    agent reattaches, and a kill afterwards ends it cleanly."""
    m, mar, agent, _ = ctr
    a = agent()
    post_app(mar, {"id": "/rec/one", "cmd": "echo up; sleep 600",
                   "container": container(REF)})
    task = one_task(mar, "/rec/one")
    wait_stdout(a, task["id"], "up")
    pid = [t["pid"] for t in a.state()["tasks"] if t["id"] == task["id"]][0]
    # The container's pid 1: busybox sh runs its last command in place.
    pids = [str(pid)]
    assert read("/proc/%d/cmdline" % pid).startswith("sleep\x00600"), pid
    a.kill9()
    time.sleep(0.5)
    assert all(os.path.exists("/proc/" + p) for p in pids)
    a.start()
    wait_for(lambda: [t for t in mar.tasks("/rec/one")
                      if t["state"] == "TASK_RUNNING"
                      and t["id"] == task["id"]], 20,
             what="the task to run after the restart")
    assert all(os.path.exists("/proc/" + p) for p in pids)
    assert mar.delete("/v2/apps/rec/one").status_code == 200
    mar.wait_gone("/rec/one")
    wait_for(lambda: not any(os.path.exists("/proc/" + p) for p in pids), 15,
             what="the container's processes to end")
    cdir = os.path.join(a.work_dir, "containers", task["id"])
    wait_for(lambda: not os.path.exists(cdir), 15,
             what="the container's directory to be removed")
    assert mounts_under(a.work_dir) == []


def test_copy_fallback_applies_whiteouts(ctr, monkeypatch):
    """Without overlayfs the layers are copied, the top layer's whiteout
    deleting the lower layer's file."""
    m, mar, agent, _ = ctr
    env = conftest.master_env()
    env["AGORA_CONTAINER_COPY"] = "1"
    monkeypatch.setattr(conftest, "master_env", lambda extra=None: env)
    a = agent()
    post_app(mar, {"id": "/copy/wh", "cmd": "test -e /etc/marker && echo "
                   "marker=THERE || echo marker=GONE; cat /srv/app/hello; "
                   "sleep 600", "container": container(REF_WHITEOUT)})
    task = one_task(mar, "/copy/wh")
    out = wait_stdout(a, task["id"], "hi")
    assert "marker=GONE" in out, out
    cdir = os.path.join(a.work_dir, "containers", task["id"], "rootfs")
    assert os.path.isdir(cdir)
    assert mar.delete("/v2/apps/copy/wh").status_code == 200
    wait_for(lambda: not os.path.exists(cdir), 15,
             what="the copy to be removed")


def test_chronos_job_in_a_container(tmp_path, master_factory):
    """A Chronos job with Chronos' container shape runs in its image."""
    m = master_factory(args=["--agent_ping_timeout=0.5secs",
                             "--max_agent_ping_timeouts=4"])
    port = plugin_port(m)
    with open(os.path.join(m.conf_dir, "chronos.conf"), "w") as f:
        f.write("plugin = chronos.so\nport = %d\n" % port)
    m.start()
    a = conftest.Agent(tmp_path / "agent", m)
    fill_store(a.work_dir)
    a.start()
    try:
        base = "http://127.0.0.1:%d" % port
        wait_for(lambda: requests.get(base + "/v1/scheduler/jobs",
                                      timeout=5).status_code == 200, 20,
                 what="chronos.so to serve")
        job = {"name": "ctrjob", "command": "echo job-pid=$$ $(cat "
               "/etc/marker)", "schedule": "R1//PT1M",
               "cpus": 0.1, "mem": 32,
               "container": {"type": "MESOS", "image": REF,
                             "network": "HOST", "volumes": []}}
        r = requests.post(base + "/v1/scheduler/iso8601", json=job, timeout=5)
        assert r.status_code in (200, 204), r.text
        sandboxes = os.path.join(a.work_dir, "sandboxes")

        def ran():
            for d in os.listdir(sandboxes) if os.path.isdir(sandboxes) else ():
                o = read(os.path.join(sandboxes, d, "stdout"))
                if "job-pid=" in o:
                    return o
            return None
        out = wait_for(ran, 30, interval=0.2, what="the job to run")
        assert "job-pid=1 from-image" in out, out
    finally:
        a.stop()
        conftest.kill_leftovers(a.work_dir)


def test_health_checks_in_a_container(ctr):
    """An HTTP check reaches busybox httpd of a HOST container through its
    port; a COMMAND check runs inside the container (it sees the image's
    files, the sandbox, the task as pid 1), and one that fails there
    makes the task unhealthy."""
    m, mar, agent, _ = ctr
    a = agent()
    web = "echo ok > $MESOS_SANDBOX/index.html; " \
          "exec httpd -f -p $PORT0 -h $MESOS_SANDBOX"
    post_app(mar, {
        "id": "/hc/http", "container": container(REF_CMD), "cmd": web,
        "portDefinitions": [{"port": 0}],
        "healthChecks": [
            {"protocol": "HTTP", "path": "/index.html", "portIndex": 0,
             "intervalSeconds": 1, "timeoutSeconds": 2,
             "gracePeriodSeconds": 30, "maxConsecutiveFailures": 3}]})
    inside = ("test -f /etc/marker && test -f $MESOS_SANDBOX/index.html "
              "&& test \"$(cat /proc/1/comm)\" = httpd")
    post_app(mar, {
        "id": "/hc/cmd", "container": container(REF_CMD), "cmd": web,
        "portDefinitions": [{"port": 0}],
        "healthChecks": [
            {"protocol": "COMMAND", "command": {"value": inside},
             "intervalSeconds": 1, "timeoutSeconds": 5,
             "gracePeriodSeconds": 30, "maxConsecutiveFailures": 0}]})
    post_app(mar, {
        "id": "/hc/bad", "container": container(REF_CMD), "cmd": web,
        "portDefinitions": [{"port": 0}],
        "healthChecks": [
            {"protocol": "COMMAND", "command": {"value": "test -f /nope"},
             "intervalSeconds": 1, "timeoutSeconds": 5,
             "gracePeriodSeconds": 0, "maxConsecutiveFailures": 0}]})

    def health(app_id, want):
        def ok():
            tasks = mar.app(app_id)["tasks"]
            return (tasks and tasks[0].get("healthCheckResults") and
                    tasks[0]["healthCheckResults"][0]["alive"] is want and
                    tasks[0])
        return wait_for(ok, 30, interval=0.2,
                        what="%s healthy=%s" % (app_id, want))
    health("/hc/http", True)
    health("/hc/cmd", True)
    health("/hc/bad", False)


def test_shim_killed_while_agent_down(ctr):
    """The agent down, the container's shim killed -9: the container
    dies with it (no orphan in its own pid namespace), and the restarted
    agent reports the task ended and removes its directory."""
    m, mar, agent, _ = ctr
    a = agent()
    post_app(mar, {"id": "/orphan/one", "cmd": "echo up; sleep 600",
                   "container": container(REF)})
    task = one_task(mar, "/orphan/one")
    wait_stdout(a, task["id"], "up")
    st = [t for t in a.state()["tasks"] if t["id"] == task["id"]][0]
    pid = st["pid"]
    meta = os.path.join(a.work_dir, "meta", "tasks", task["id"])
    # the pids line (a "cgroup <name>" line may come first: exec_int.h)
    shim = int([line for line in read(meta).splitlines()
                if line[:1].isdigit()][0].split()[0])
    assert "agora-shim" in read("/proc/%d/cmdline" % shim)
    a.kill9()
    os.kill(shim, signal.SIGKILL)
    wait_for(lambda: not os.path.exists("/proc/%d" % pid), 10,
             what="the container to die with its shim")
    a.start()
    cdir = os.path.join(a.work_dir, "containers", task["id"])
    wait_for(lambda: not os.path.exists(cdir), 20,
             what="the restarted agent to remove the container's directory")
    f = last_failure(mar, "/orphan/one")
    assert f["taskId"] == task["id"], f
    assert mounts_under(a.work_dir) == []


def test_kill_sends_sigterm_to_pid_1(ctr):
    """A kill is SIGTERM to the container's pid 1 first: a task that
    handles it (its trap runs) ends by itself, within the grace period
    (30 s, longer than the wait for its end)."""
    m, mar, agent, _ = ctr
    a = agent()
    post_app(mar, {"id": "/term/one", "container": container(REF),
                   "cmd": "trap 'echo got-term; exit 0' TERM; echo ready; "
                          "while true; do sleep 0.1; done",
                   "taskKillGracePeriodSeconds": 30})
    task = one_task(mar, "/term/one")
    wait_stdout(a, task["id"], "ready")
    assert mar.delete("/v2/apps/term/one").status_code == 200
    wait_stdout(a, task["id"], "got-term")
    mar.wait_gone("/term/one")
    cdir = os.path.join(a.work_dir, "containers", task["id"])
    wait_for(lambda: not os.path.exists(cdir), 15,
             what="the container's directory to be removed")


def test_bridge_port_mapping_and_health_check(ctr):
    """BRIDGE: busybox httpd on container port 8080 in a network
    namespace of its own, its hostPort (0: one of the offer's) mapped to
    it. The agent's HTTP check passes through the mapping, the host
    reaches it on 127.0.0.1:<hostPort>, the task's address is the
    container's own (the bridge's subnet), and a kill gives the address
    back."""
    m, mar, agent, _ = ctr
    a = agent()
    post_app(mar, {
        "id": "/br/web", "networks": [{"mode": "container/bridge"}],
        "container": {"type": "DOCKER", "docker": {"image": REF_CMD},
                      "portMappings": [{"containerPort": 8080,
                                        "hostPort": 0, "name": "http"}]},
        "cmd": "echo bridged > $MESOS_SANDBOX/index.html; "
               "exec httpd -f -p 8080 -h $MESOS_SANDBOX",
        "healthChecks": [
            {"protocol": "HTTP", "path": "/index.html", "portIndex": 0,
             "intervalSeconds": 1, "timeoutSeconds": 2,
             "gracePeriodSeconds": 30, "maxConsecutiveFailures": 3}]})

    def healthy():
        tasks = mar.app("/br/web")["tasks"]
        return (tasks and tasks[0].get("healthCheckResults") and
                tasks[0]["healthCheckResults"][0]["alive"] and tasks[0])
    t = wait_for(healthy, 30, interval=0.2, what="/br/web healthy")
    [port] = t["ports"]
    r = requests.get("http://127.0.0.1:%d/index.html" % port, timeout=5)
    assert r.text == "bridged\n"
    ips = [x["ipAddress"] for x in t.get("ipAddresses", [])]
    assert any(ip.startswith("172.31.") for ip in ips), t
    net = os.path.join(a.work_dir, "net")
    assert any(n.startswith("172.31.") for n in os.listdir(net))
    assert mar.delete("/v2/apps/br/web").status_code == 200

    def freed():
        return not [n for n in os.listdir(net) if n.startswith("172.31.")]
    wait_for(freed, 20, interval=0.2, what="the address given back")
    with pytest.raises(requests.RequestException):
        requests.get("http://127.0.0.1:%d/index.html" % port, timeout=2)


def test_master_restart_still_shows_the_container(ctr):
    """A master that did not launch the task (restarted here; a new
    leader alike) learns its container from the agent's subscription."""
    m, mar, agent, _ = ctr
    a = agent()
    post_app(mar, {"id": "/shown", "container": container(REF_CMD),
                   "cmd": "sleep 600"})
    tid = one_task(mar, "/shown")["id"]

    def shown():
        ts = [t for t in m.json("/master/tasks")["tasks"] if t["id"] == tid]
        return ts and ts[0].get("container") and ts[0]
    assert shown()["container"]["docker"]["image"] == REF_CMD
    m.restart()
    t = wait_for(shown, 20, interval=0.2, what="the task after a restart")
    assert t["container"]["type"] == "DOCKER"
    assert t["container"]["docker"]["image"] == REF_CMD
    assert t["state"] == "TASK_RUNNING"
