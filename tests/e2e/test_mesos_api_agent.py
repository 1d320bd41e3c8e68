"""The agent's v1 operator API (POST /api/v1 on agora-agent) as Mesos'
operator tools call it, on a live master with a real agent running real
tasks (issue 19).

Each answer is checked field by field against the messages of Mesos'
include/mesos/v1/agent/agent.proto (Response.GetState, GetTasks,
GetExecutors, GetFrameworks, GetContainers, ListFiles, ReadFile, ...) and
include/mesos/v1/mesos.proto (Task, TaskStatus, ExecutorInfo,
FrameworkInfo, ContainerStatus, ResourceStatistics, FileInfo, Resource),
in protobuf's JSON mapping: the field names below are those messages'.
For each message: the fields agora must write (the proto's required ones
and those agora promises in docs/mesos-api.md), and every field the
message has, which no key of agora's may fall outside.
"""
import base64
import os
import signal
import socket
import stat
import time

import requests

from conftest import SLOW, wait_for
from test_agent import sandbox, task

# (must write, may write) for each message, from agent.proto / mesos.proto.
PROTO = {
    "GetTasks": ({"pending_tasks", "queued_tasks", "launched_tasks",
                  "terminated_tasks", "completed_tasks"},) * 2,
    "GetExecutors": ({"executors", "completed_executors"},) * 2,
    "GetFrameworks": ({"frameworks", "completed_frameworks"},) * 2,
    "GetState": ({"get_tasks", "get_executors", "get_frameworks"},) * 2,
    "GetContainers": ({"containers"},) * 2,
    "Container": ({"framework_id", "executor_id", "executor_name",
                   "container_id"},
                  {"framework_id", "executor_id", "executor_name",
                   "container_id", "container_status",
                   "resource_statistics"}),
    "ContainerStatus": ({"network_infos", "executor_pid"},
                        {"container_id", "network_infos", "cgroup_info",
                         "executor_pid"}),
    "ResourceStatistics": ({"timestamp", "cpus_user_time_secs",
                            "cpus_system_time_secs", "cpus_limit",
                            "mem_rss_bytes", "mem_limit_bytes"},
                           {"timestamp", "processes", "threads",
                            "cpus_user_time_secs", "cpus_system_time_secs",
                            "cpus_limit", "cpus_limit_burst",
                            "cpus_nr_periods", "cpus_nr_throttled",
                            "cpus_throttled_time_secs", "mem_total_bytes",
                            "mem_total_memsw_bytes", "mem_limit_bytes",
                            "mem_soft_limit_bytes", "mem_file_bytes",
                            "mem_anon_bytes", "mem_cache_bytes",
                            "mem_rss_bytes", "mem_mapped_file_bytes",
                            "mem_swap_bytes", "mem_unevictable_bytes"}),
    "Task": ({"name", "task_id", "framework_id", "agent_id", "state",
              "resources", "statuses"},
             {"name", "task_id", "framework_id", "executor_id", "agent_id",
              "state", "resources", "statuses", "status_update_state",
              "status_update_uuid", "labels", "discovery", "container",
              "health_check", "user", "limits"}),
    "TaskStatus": ({"task_id", "state"},
                   {"task_id", "state", "message", "source", "reason",
                    "data", "agent_id", "executor_id", "timestamp", "uuid",
                    "healthy", "check_status", "labels", "container_status",
                    "unreachable_time", "limitation"}),
    "Executor": ({"executor_info"},) * 2,
    "ExecutorInfo": ({"executor_id", "framework_id", "name", "source",
                      "resources"},
                     {"type", "executor_id", "framework_id", "command",
                      "container", "resources", "name", "source", "data",
                      "discovery", "shutdown_grace_period", "labels"}),
    "Framework": ({"framework_info"},) * 2,
    "FrameworkInfo": ({"user", "name", "id"},
                      {"user", "name", "id", "failover_timeout",
                       "checkpoint", "role", "roles", "hostname",
                       "principal", "webui_url", "capabilities", "labels",
                       "offer_filters"}),
    "Resource": ({"name", "type"},
                 {"provider_id", "name", "type", "scalar", "ranges", "set",
                  "role", "allocation_info", "reservation", "reservations",
                  "disk", "revocable", "shared"}),
    "ListFiles": ({"file_infos"},) * 2,
    "FileInfo": ({"path", "nlink", "size", "mtime", "mode", "uid", "gid"},) * 2,
    "ReadFile": ({"size", "data"},) * 2,
    "GetHealth": ({"healthy"},) * 2,
    "GetVersion": ({"version_info"},) * 2,
    "GetFlags": ({"flags"},) * 2,
    "GetMetrics": ({"metrics"},) * 2,
}


def shape(message, obj):
    """obj has every field agora must write of message, and none that
    message lacks."""
    must, may = PROTO[message]
    assert isinstance(obj, dict), (message, obj)
    assert must <= set(obj), (message, sorted(must - set(obj)), obj)
    assert set(obj) <= may, (message, sorted(set(obj) - may), obj)
    return obj


def call(a, body, path="/api/v1", **headers):
    h = {"Content-Type": "application/json", "Accept": "application/json"}
    h.update(headers)
    a.check_alive()
    return requests.post(a.url(path), json=body, headers=h,
                         timeout=10 * SLOW)


def read(a, type_, message=None, **kw):
    """The answer of a read call: its message, shape-checked as
    Response.<Type> when there is no message name in kw."""
    body = {"type": type_}
    if message is not None:
        body[type_.lower()] = message
    r = call(a, body, **kw)
    assert r.status_code == 200, (type_, r.status_code, r.text)
    assert r.headers["Content-Type"].startswith("application/json")
    doc = r.json()
    assert set(doc) == {"type", type_.lower()}, doc
    assert doc["type"] == type_
    return doc[type_.lower()]


def refused(a, body, status, *words):
    r = call(a, body)
    assert r.status_code == status, (body, r.status_code, r.text)
    assert r.headers["Content-Type"].startswith("text/plain"), r.headers
    for w in words:
        assert w in r.text, (w, r.text)
    return r.text


def sleeper(task_id, **kw):
    return task(task_id, "exec sleep 120", resources="cpus:0.5;mem:32", **kw)


def started(cluster, *tasks, running=(), finished=()):
    """A master, one agent, tasks launched and waited for."""
    m, launcher, agent = cluster
    a = agent().start()
    launcher.launch(a.agent_id, *tasks)
    for t in running:
        launcher.wait_state(t, "TASK_RUNNING", timeout=15)
    for t in finished:
        launcher.wait_state(t, "TASK_FINISHED", timeout=15)
    return m, launcher, a


def flat_task(a, task_id):
    for t in a.state()["tasks"]:
        if t["id"] == task_id:
            return t
    return None


def check_task(t, a, task_id, state):
    shape("Task", t)
    assert t["task_id"] == {"value": task_id}
    assert t["agent_id"] == {"value": a.agent_id}
    assert t["state"] == state
    for s in t["statuses"]:
        shape("TaskStatus", s)
        assert s["task_id"] == {"value": task_id}
    assert t["statuses"][-1]["state"] == state
    for r in t["resources"]:
        shape("Resource", r)


def test_v1_agent_reads(cluster):
    m, launcher, a = started(
        cluster, sleeper("live", labels={"tier": "web"}),
        task("done", "echo done"), running=["live"], finished=["done"])
    assert shape("GetHealth", read(a, "GET_HEALTH")) == {"healthy": True}
    v = shape("GetVersion", read(a, "GET_VERSION"))["version_info"]
    assert v["version"] == a.state()["version"]
    flags = shape("GetFlags", read(a, "GET_FLAGS"))["flags"]
    assert {f["name"]: f["value"] for f in flags}["port"] == str(a.port)
    metrics = {x["name"]: x["value"]
               for x in shape("GetMetrics", read(a, "GET_METRICS"))["metrics"]}
    assert metrics["slave/tasks_running"] == 1
    # Mesos' keys that exporters read, each against what it reports.
    snap = a.get("/metrics/snapshot").json()
    assert snap["slave/registered"] == 1
    assert snap["slave/frameworks_active"] == 1  # the launcher
    assert snap["slave/executors_running"] == 1
    assert snap["slave/executors_terminated"] == snap["slave/tasks_finished"] \
        == 1
    assert snap["slave/valid_status_updates"] >= 3  # RUNNING x2, FINISHED

    # "done" leaves terminated_tasks for completed_tasks once the master
    # has acknowledged its updates.
    def acked():
        t = shape("GetTasks", read(a, "GET_TASKS"))
        return t if [x["task_id"]["value"] for x in t["completed_tasks"]] \
            == ["done"] else None
    tasks = wait_for(acked, what="done in completed_tasks")
    [live] = tasks["launched_tasks"]
    check_task(live, a, "live", "TASK_RUNNING")
    assert live["labels"] == {"labels": [{"key": "tier", "value": "web"}]}
    cpus = [r for r in live["resources"] if r["name"] == "cpus"]
    assert cpus == [{"name": "cpus", "type": "SCALAR",
                     "scalar": {"value": 0.5}, "role": "*"}]
    assert live["statuses"][-1]["timestamp"] > 0
    check_task(tasks["completed_tasks"][0], a, "done", "TASK_FINISHED")
    assert tasks["pending_tasks"] == tasks["queued_tasks"] == \
        tasks["terminated_tasks"] == []

    fw_id = flat_task(a, "live")["framework_id"]
    ex = shape("GetExecutors", read(a, "GET_EXECUTORS"))
    [e] = ex["executors"]
    info = shape("ExecutorInfo", shape("Executor", e)["executor_info"])
    assert info["executor_id"] == {"value": "live"}
    assert info["framework_id"] == {"value": fw_id}
    assert info["name"] == "Command Executor (Task: live)"
    [c] = ex["completed_executors"]
    assert c["executor_info"]["executor_id"] == {"value": "done"}

    fws = shape("GetFrameworks", read(a, "GET_FRAMEWORKS"))
    [f] = fws["frameworks"]
    assert shape("FrameworkInfo", shape("Framework", f)["framework_info"]) \
        == {"user": "", "name": "", "id": {"value": fw_id}}
    assert fws["completed_frameworks"] == []

    state = shape("GetState", read(a, "GET_STATE"))
    assert state["get_frameworks"] == fws
    assert state["get_executors"] == ex
    assert [t["task_id"] for t in state["get_tasks"]["launched_tasks"]] == \
        [{"value": "live"}]
    # Mesos' other spelling of the agent's path.
    assert read(a, "GET_HEALTH", path="/slave(1)/api/v1") == {"healthy": True}


def test_v1_get_containers(cluster):
    m, launcher, a = started(cluster, sleeper("c1"), task("gone", "true"),
                             running=["c1"], finished=["gone"])

    def usage():
        cs = shape("GetContainers", read(a, "GET_CONTAINERS"))["containers"]
        return cs if cs and "resource_statistics" in cs[0] else None
    [c] = wait_for(usage, what="c1's container with its statistics")
    shape("Container", c)
    fw_id = flat_task(a, "c1")["framework_id"]
    assert c["container_id"] == {"value": "c1"}
    assert c["executor_id"] == {"value": "c1"}
    assert c["framework_id"] == {"value": fw_id}
    assert c["executor_name"] == "Command Executor (Task: c1)"
    cs = shape("ContainerStatus", c["container_status"])
    assert cs["network_infos"] == [{"ip_addresses": [
        {"ip_address": "127.0.0.1"}]}]
    # executor_pid is the task's shim, a live process that runs it.
    with open("/proc/%d/cmdline" % cs["executor_pid"], "rb") as f:
        assert b"--shim" in f.read()
    with open("/proc/%d/stat" % flat_task(a, "c1")["pid"]) as f:
        assert int(f.read().rsplit(")", 1)[1].split()[1]) == \
            cs["executor_pid"], "the shim is the task's parent"
    st = shape("ResourceStatistics", c["resource_statistics"])
    assert st["cpus_limit"] == 0.5
    assert abs(st["timestamp"] - time.time()) < 60
    assert st["mem_rss_bytes"] >= 0 and st["cpus_user_time_secs"] >= 0
    if a.state()["isolation"].startswith("cgroups"):
        assert st["mem_limit_bytes"] == 32 * 1024 * 1024
    # show_nested and show_standalone are taken; agora has neither kind.
    again = read(a, "GET_CONTAINERS", {"show_nested": True,
                                       "show_standalone": True})
    assert [x["container_id"] for x in again["containers"]] == [{"value": "c1"}]


def task_alive(pid):
    try:
        with open("/proc/%d/stat" % pid) as f:
            return f.read().rsplit(")", 1)[1].split()[0] != "Z"
    except FileNotFoundError:
        return False


def test_v1_kill_container(cluster):
    m, launcher, a = started(cluster, sleeper("k9"),
                             sleeper("k15", kill_grace_period=30),
                             running=["k9", "k15"])
    pids = {t: flat_task(a, t)["pid"] for t in ("k9", "k15")}
    assert all(task_alive(p) for p in pids.values())

    refused(a, {"type": "KILL_CONTAINER", "kill_container": {
        "container_id": {"value": "nope"}}}, 404, "nope")
    refused(a, {"type": "KILL_CONTAINER", "kill_container": {}}, 400,
            "container_id")
    refused(a, {"type": "KILL_CONTAINER"}, 400, "container_id")
    refused(a, {"type": "KILL_CONTAINER", "kill_container": {
        "container_id": {"value": "k9"}, "signal": 1}}, 400, "signal")
    assert task_alive(pids["k9"]), "a refused kill killed the task"

    # Mesos' default signal, SIGKILL: killed at once, the master hears it.
    r = call(a, {"type": "KILL_CONTAINER", "kill_container": {
        "container_id": {"value": "k9"}}})
    assert r.status_code == 200 and r.text == "", (r.status_code, r.text)
    launcher.wait_state("k9", "TASK_KILLED")
    assert not task_alive(pids["k9"])
    assert m.json("/master/tasks?task_id=k9")["tasks"][0]["state"] == \
        "TASK_KILLED"
    refused(a, {"type": "KILL_CONTAINER", "kill_container": {
        "container_id": {"value": "k9"}}}, 404)

    # SIGTERM: `sleep` dies of it well before its 30 s grace.
    r = call(a, {"type": "KILL_CONTAINER", "kill_container": {
        "container_id": {"value": "k15"}, "signal": signal.SIGTERM}})
    assert r.status_code == 200, r.text
    launcher.wait_state("k15", "TASK_KILLED", timeout=10)
    assert not task_alive(pids["k15"])


def read_file(a, path, offset=0, length=None):
    msg = {"path": path, "offset": offset}
    if length is not None:
        msg["length"] = length
    rf = shape("ReadFile", read(a, "READ_FILE", msg))
    return rf["size"], base64.b64decode(rf["data"], validate=True)


TEXT = b"hello world 0123456789\n\xff\x00binary"


def test_v1_read_file(cluster, tmp_path):
    secret = tmp_path / "outside"
    secret.write_text("not for the API\n")
    cmd = ("printf 'hello world 0123456789\\n\\377\\000binary'; "
           "head -c 200000 /dev/zero | tr '\\0' a > big; "
           "ln -s %s leak; ln -s .. up; mkdir sub" % secret)
    m, launcher, a = started(cluster, task("rf", cmd), finished=["rf"])
    box = sandbox(a, "rf")
    out = os.path.join(box, "stdout")
    assert os.path.islink(os.path.join(box, "leak")), "the task planted none"

    assert read_file(a, out) == (len(TEXT), TEXT)
    # Lengths of every remainder mod 3: base64's padding of each.
    for n in (5, 6, 7):
        assert read_file(a, out, 6, n) == (len(TEXT), TEXT[6:6 + n])
    assert read_file(a, "/sandboxes/rf/stdout", 6, 5) == (len(TEXT), b"world")
    assert read_file(a, out, len(TEXT) + 10) == (len(TEXT), b"")
    assert read_file(a, out, 0, 0) == (len(TEXT), b"")
    # protobuf's JSON mapping writes a uint64 as a string: taken too.
    assert read_file(a, out, "6", "5") == (len(TEXT), b"world")
    # One read is at most 16 pages, whatever length asks.
    cap = 16 * os.sysconf("SC_PAGESIZE")
    size, data = read_file(a, os.path.join(box, "big"), 0, 10 ** 9)
    assert size == 200000 and data == b"a" * cap
    size, data = read_file(a, os.path.join(box, "big"), 199990)
    assert data == b"a" * 10

    def refuse(path, status, offset=0):
        return refused(a, {"type": "READ_FILE", "read_file": {
            "path": path, "offset": offset}}, status)
    refuse(os.path.join(box, "leak"), 403)        # symlink out of the sandboxes
    refuse(os.path.join(box, "up", "..", "meta", "agent_id"), 403)
    refuse("/sandboxes/../meta/agent_id", 403)
    refuse(os.path.join(box, "..", "..", "meta", "journal"), 403)
    refuse(str(secret), 403)
    refuse(os.path.join(box, "missing"), 404)
    refuse(os.path.join(box, "sub"), 400)
    refuse(out, 400, offset=-1)
    refuse("", 400)
    refused(a, {"type": "READ_FILE", "read_file": {"path": out}}, 400,
            "offset")
    refused(a, {"type": "READ_FILE"}, 400, "path")


def test_v1_list_files(cluster):
    m, launcher, a = started(
        cluster, task("lf", "echo x; mkdir d; ln -s /etc leak"),
        finished=["lf"])
    box = sandbox(a, "lf")
    infos = shape("ListFiles", read(a, "LIST_FILES", {"path": box}))
    by_name = {os.path.basename(i["path"]): shape("FileInfo", i)
               for i in infos["file_infos"]}
    assert {"stdout", "stderr", "d", "leak"} <= set(by_name), by_name
    out = by_name["stdout"]
    st = os.stat(os.path.join(box, "stdout"))
    assert out["path"] == os.path.join(box, "stdout")
    assert out["size"] == st.st_size == 2
    assert out["nlink"] == st.st_nlink
    assert out["mode"] == st.st_mode and stat.S_ISREG(out["mode"])
    assert out["mtime"] == {"nanoseconds": st.st_mtime_ns}
    assert isinstance(out["uid"], str) and isinstance(out["gid"], str)
    assert stat.S_ISDIR(by_name["d"]["mode"])
    # A symlink out of the sandboxes is listed as the link, not followed.
    assert stat.S_ISLNK(by_name["leak"]["mode"])

    virt = read(a, "LIST_FILES", {"path": "/sandboxes/lf"})["file_infos"]
    assert sorted(os.path.basename(i["path"]) for i in virt) == \
        sorted(by_name)
    [one] = read(a, "LIST_FILES", {"path": os.path.join(box, "stdout")})[
        "file_infos"]
    assert one["size"] == 2
    for path, status in ((os.path.join(box, "leak"), 403),
                         ("/sandboxes/../meta", 403), ("/etc", 403),
                         (os.path.join(box, "nope"), 404), ("", 400)):
        refused(a, {"type": "LIST_FILES", "list_files": {"path": path}},
                status)
    refused(a, {"type": "LIST_FILES"}, 400, "path")


def test_v1_errors_as_mesos_gives_them(cluster):
    m, launcher, agent = cluster
    a = agent().start()
    url = a.url("/api/v1")
    r = requests.post(url, data='{"type":"GET_HEALTH"}', timeout=5)
    assert r.status_code == 400 and "Content-Type" in r.text, r.text
    r = requests.post(url, data='{"type":"GET_HEALTH"}', timeout=5,
                      headers={"Content-Type": "application/x-protobuf"})
    assert r.status_code == 415, r.text
    r = call(a, {"type": "GET_HEALTH"}, Accept="application/x-protobuf")
    assert r.status_code == 406, r.text
    r = requests.post(url, data="{not json", timeout=5,
                      headers={"Content-Type": "application/json"})
    assert r.status_code == 400 and "JSON" in r.text
    assert r.headers["Content-Type"].startswith("text/plain")
    refused(a, {"type": "LAUNCH_NESTED_CONTAINER"}, 400,
            "LAUNCH_NESTED_CONTAINER")
    refused(a, {"no": "type"}, 400, "type")
    refused(a, [1, 2], 400, "type")
    r = requests.get(url, timeout=5)
    assert r.status_code == 405, r.status_code
    # Bodies are bounded as elsewhere on the agent: a declared length over
    # the limit is answered at once (headers only, so that the answer is
    # not lost in a reset of a body still being sent).
    with socket.create_connection(("127.0.0.1", a.port), timeout=10) as c:
        c.sendall(b"POST /api/v1 HTTP/1.1\r\nHost: x\r\n"
                  b"Content-Type: application/json\r\n"
                  b"Content-Length: %d\r\n\r\n" % (2 << 20))
        head = c.recv(4096)
    assert head.startswith(b"HTTP/1.1 413"), head[:80]
    assert read(a, "GET_HEALTH") == {"healthy": True}
