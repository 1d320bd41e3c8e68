"""agora-agent against a real master: real tasks, real processes.

The launcher test plugin (tests/plugins/launcher.c) launches tasks on the
agent and records every status its framework receives.
"""
import http.server
import os
import signal
import threading
import time

import pytest
import requests

from conftest import SLOW, wait_for


def sandbox(agent, task_id):
    return os.path.join(agent.work_dir, "sandboxes", task_id)


def task(task_id, command, resources="cpus:0.1;mem:32", **kw):
    t = {"task_id": task_id, "command": command, "resources": resources}
    t.update(kw)
    return t


def agent_task(agent, task_id):
    for t in agent.state()["tasks"]:
        if t["id"] == task_id:
            return t
    return None


def procs_in(path):
    """Pids of the processes whose working directory is under path."""
    found = []
    for pid in os.listdir("/proc"):
        if not pid.isdigit():
            continue
        try:
            if os.readlink("/proc/%s/cwd" % pid).startswith(path):
                found.append(int(pid))
        except OSError:
            pass
    return found


def cgroups_writable():
    probe = "/sys/fs/cgroup/memory/agora-e2e-probe"
    try:
        os.mkdir(probe)
        os.rmdir(probe)
        return True
    except OSError:
        pass
    try:
        with open("/sys/fs/cgroup/cgroup.controllers") as f:
            return "memory" in f.read().split() and os.geteuid() == 0
    except OSError:
        return False


def in_order(states, want):
    """True when want appears in states as a subsequence."""
    it = iter(states)
    return all(any(s == w for s in it) for w in want)


def test_echo_and_read_back(cluster):
    m, launcher, agent = cluster
    a = agent().start()
    launcher.launch(a.agent_id, task("echo", "echo hello-agora; echo oops >&2"))
    launcher.wait_state("echo", "TASK_FINISHED")
    states = launcher.states("echo")
    assert in_order(states, ["TASK_STARTING", "TASK_RUNNING", "TASK_FINISHED"]), states
    assert len(states) == len(set(states)), states
    path = os.path.join(sandbox(a, "echo"), "stdout")
    r = a.get("/files/read", params={"path": path, "offset": 0})
    assert r.status_code == 200, r.text
    assert r.json()["data"] == "hello-agora\n"
    r = a.get("/files/read", params={"path": os.path.join(sandbox(a, "echo"), "stderr")})
    assert r.json()["data"] == "oops\n"
    r = a.get("/files/read", params={"path": path, "offset": -1})
    assert r.json()["offset"] == len("hello-agora\n")


def test_exit_codes(cluster):
    m, launcher, agent = cluster
    a = agent().start()
    launcher.launch(a.agent_id, task("ok", "exit 0"), task("three", "exit 3"))
    launcher.wait_state("ok", "TASK_FINISHED")
    failed = launcher.wait_state("three", "TASK_FAILED")
    assert "3" in failed["message"], failed
    assert "TASK_FAILED" not in launcher.states("ok")


def test_statuses_from_a_count(cluster):
    """The launcher plugin's ?from=K (what scripts/bench/agent polls):
    the statuses from the K-th on, as the whole list has them."""
    m, launcher, agent = cluster
    a = agent().start()
    launcher.launch(a.agent_id, task("f1", "true"), task("f2", "exit 2"))
    launcher.wait_state("f1", "TASK_FINISHED")
    launcher.wait_state("f2", "TASK_FAILED")
    whole = launcher.statuses()
    assert len(whole) >= 6, whole
    for k in (0, 1, len(whole) - 1, len(whole), len(whole) + 5):
        assert m.json("/launcher/statuses?from=%d" % k) == whole[k:], k
    for bad in ("x", "-1", "1x", ""):
        r = m.get("/launcher/statuses?from=" + bad)
        assert r.status_code == 400, (bad, r.text)


def test_environment(cluster):
    m, launcher, agent = cluster
    a = agent().start()
    lo, hi = a.port_range
    res = "cpus:0.1;mem:32;ports:[%d-%d]" % (lo, lo + 1)
    launcher.launch(a.agent_id, task(
        "env", 'echo "$PORT0 $PORT1 $PORT $PORTS $MESOS_TASK_ID $HOST"; '
               'echo "$MESOS_SANDBOX"; echo "$AGORA_SANDBOX"; echo "$GREETING"',
        resources=res, env={"GREETING": "hi there"}))
    launcher.wait_state("env", "TASK_FINISHED")
    r = a.get("/files/read", params={"path": os.path.join(sandbox(a, "env"), "stdout")})
    lines = r.json()["data"].splitlines()
    assert lines[0] == "%d %d %d %d,%d env 127.0.0.1" % (lo, lo + 1, lo, lo, lo + 1)
    assert lines[1] == lines[2] == sandbox(a, "env")
    assert lines[3] == "hi there"


def test_kill_after_grace_kills_everything(cluster):
    m, launcher, agent = cluster
    a = agent().start()
    cmd = ('trap "echo got-term >> term.log" TERM; (sleep 300 &); sleep 300 & '
           'while true; do sleep 0.05; done')
    launcher.launch(a.agent_id, task("stubborn", cmd, kill_grace_period=1.0))
    launcher.wait_state("stubborn", "TASK_RUNNING")
    box = sandbox(a, "stubborn")
    wait_for(lambda: len(procs_in(box)) >= 3, what="the task's children")
    t0 = time.monotonic()
    assert launcher.kill("stubborn").status_code == 202
    launcher.wait_state("stubborn", "TASK_KILLED", timeout=10)
    took = time.monotonic() - t0
    assert took >= 0.9, took
    assert in_order(launcher.states("stubborn"), ["TASK_KILLING", "TASK_KILLED"])
    with open(os.path.join(box, "term.log")) as f:
        assert "got-term" in f.read()
    wait_for(lambda: procs_in(box) == [], timeout=3,
             what="no process of the task left (%s)" % procs_in(box))


def test_memory_limit(cluster):
    if not cgroups_writable():
        pytest.skip("no writable memory cgroup on this machine: the memory "
                    "limit cannot be enforced")
    m, launcher, agent = cluster
    a = agent().start()
    hog = "/usr/bin/python3 -c 'x = bytearray(400 << 20); import time; time.sleep(30)'"
    launcher.launch(a.agent_id, task("hog", hog, resources="cpus:0.1;mem:64"))
    st = launcher.wait_state("hog", "TASK_FAILED", timeout=20)
    assert st["reason"] == "REASON_CONTAINER_LIMITATION_MEMORY", st
    assert "emory" in st["message"], st


@pytest.mark.parametrize("kind", ["HTTP", "TCP", "COMMAND"])
def test_health_checks(cluster, kind):
    m, launcher, agent = cluster
    a = agent().start()
    lo, _ = a.port_range
    # Serves until the file `stop` appears, then keeps running silently.
    cmd = ('/usr/bin/python3 -m http.server "$PORT0" --bind 127.0.0.1 '
           '>/dev/null 2>&1 & srv=$!; while [ ! -f stop ]; do sleep 0.05; '
           'done; kill $srv; sleep 300')
    hc = {"type": kind, "port_index": 0, "path": "/", "interval": 0.2,
          "timeout": 1, "grace_period": 5, "delay": 0,
          "max_consecutive_failures": 0}
    if kind == "COMMAND":
        hc["command"] = "test ! -f stop"
    tid = "hc-" + kind.lower()
    launcher.launch(a.agent_id, task(tid, cmd, resources="cpus:0.1;mem:64;ports:[%d-%d]"
                                     % (lo, lo), health_check=hc))
    wait_for(lambda: any(s["healthy"] is True for s in launcher.statuses(tid)),
             timeout=15, what="a healthy status")
    open(os.path.join(sandbox(a, tid), "stop"), "w").close()
    wait_for(lambda: launcher.statuses(tid)[-1]["healthy"] is False,
             timeout=15, what="an unhealthy status")
    healths = [s["healthy"] for s in launcher.statuses(tid) if s["healthy"] is not None]
    assert healths[0] is True and healths[-1] is False, healths
    assert launcher.kill(tid).status_code == 202
    launcher.wait_state(tid, "TASK_KILLED")


def test_agent_kill9_keeps_tasks(cluster):
    m, launcher, agent = cluster
    a = agent().start()
    cmd = "while [ ! -f done ]; do sleep 0.05; done; exit 7"
    ids = ["keep%d" % i for i in range(3)]
    launcher.launch(a.agent_id, *[task(i, cmd) for i in ids])
    for i in ids:
        launcher.wait_state(i, "TASK_RUNNING")
    pids = {i: agent_task(a, i)["pid"] for i in ids}
    assert all(pids.values()), pids
    a.kill9()
    a.start()
    for i in ids:
        t = agent_task(a, i)
        assert t["state"] == "TASK_RUNNING", t
        assert t["pid"] == pids[i]
        os.kill(pids[i], 0)  # still the same process
    open(os.path.join(sandbox(a, "keep1"), "done"), "w").close()
    failed = launcher.wait_state("keep1", "TASK_FAILED")
    assert "7" in failed["message"], failed
    for i in ("keep0", "keep2"):
        assert launcher.states(i).count("TASK_RUNNING") == 1


def test_task_ending_while_agent_down(cluster):
    m, launcher, agent = cluster
    a = agent().start()
    cmd = "while [ ! -f done ]; do sleep 0.05; done; exit 5"
    launcher.launch(a.agent_id, task("lonely", cmd))
    launcher.wait_state("lonely", "TASK_RUNNING")
    a.kill9()
    open(os.path.join(sandbox(a, "lonely"), "done"), "w").close()
    wait_for(lambda: not procs_in(sandbox(a, "lonely")), what="the task to end")
    a.start()
    failed = launcher.wait_state("lonely", "TASK_FAILED")
    assert "5" in failed["message"], failed


def test_master_down_updates_delivered_once(cluster):
    m, launcher, agent = cluster
    a = agent().start()
    cmd = "while [ ! -f done ]; do sleep 0.05; done"
    ids = ["md%d" % i for i in range(3)]
    launcher.launch(a.agent_id, *[task(i, cmd) for i in ids])
    for i in ids:
        launcher.wait_state(i, "TASK_RUNNING")
    time.sleep(0.5 * SLOW)  # let the acknowledgements reach the agent
    before = launcher.statuses()
    m.stop()
    for i in ids:
        open(os.path.join(sandbox(a, i), "done"), "w").close()
    time.sleep(5)
    m.start()
    for i in ids:
        launcher.wait_state(i, "TASK_FINISHED", timeout=30)
    time.sleep(1.0 * SLOW)  # any duplicate would arrive by now
    seen = [(s["task_id"], s["state"]) for s in before + launcher.statuses()
            if s["uuid"]]
    for i in ids:
        mine = [st for t, st in seen if t == i]
        assert len(mine) == len(set(mine)), (i, mine)
        assert mine[-1] == "TASK_FINISHED", mine


def test_agent_unreachable_then_back(cluster):
    m, launcher, agent = cluster
    a = agent().start()
    launcher.launch(a.agent_id, task("partitioned", "sleep 300"))
    launcher.wait_state("partitioned", "TASK_RUNNING")
    a.proc.send_signal(signal.SIGSTOP)
    try:
        st = launcher.wait_state("partitioned", "TASK_UNREACHABLE", timeout=10)
        assert st["reason"] == "REASON_SLAVE_REMOVED"
        assert m.metrics()["master/slaves_unreachable"] == 1
    finally:
        a.proc.send_signal(signal.SIGCONT)
    wait_for(lambda: launcher.states("partitioned")[-1] == "TASK_RUNNING",
             timeout=20, what="TASK_RUNNING after the agent came back")
    assert m.metrics()["master/slaves_active"] == 1
    assert launcher.kill("partitioned").status_code == 202
    launcher.wait_state("partitioned", "TASK_KILLED")


def test_files_confined_to_sandboxes(cluster):
    m, launcher, agent = cluster
    a = agent().start()
    launcher.launch(a.agent_id, task("box", "ln -s /etc/passwd leak; "
                                            "ln -s stdout inside; echo x"))
    launcher.wait_state("box", "TASK_FINISHED")
    box = sandbox(a, "box")
    for path in ["../../etc/passwd", box + "/../../../../etc/passwd", "/etc/passwd",
                 os.path.join(box, "leak")]:
        r = a.get("/files/read", params={"path": path})
        assert r.status_code == 403, (path, r.status_code, r.text)
        assert r.json()["message"]
    r = a.get("/files/read", params={"path": os.path.join(box, "inside")})
    assert r.status_code == 200 and r.json()["data"] == "x\n"
    r = a.get("/files/browse", params={"path": box})
    assert r.status_code == 200
    names = sorted(os.path.basename(e["path"]) for e in r.json())
    assert "stdout" in names and "stderr" in names


def test_master_views(cluster):
    m, launcher, agent = cluster
    a = agent().start()
    launcher.launch(a.agent_id, task("v1", "sleep 300", resources="cpus:0.5;mem:100",
                                     name="web", labels={"k": "v"}),
                    task("v2", "exit 0", name="once"))
    launcher.wait_state("v1", "TASK_RUNNING")
    launcher.wait_state("v2", "TASK_FINISHED")
    # The agent keeps names and labels once it dropped the parsed specs.
    assert agent_task(a, "v1")["name"] == "web"
    wait_for(lambda: agent_task(a, "v2")["state"] == "TASK_FINISHED", what="v2 ended")
    assert agent_task(a, "v2")["name"] == "once"
    mesos = [t for f in a.state()["frameworks"] for e in f["executors"]
             for t in e["tasks"] if t["id"] == "v1"]
    assert mesos[0]["labels"] == [{"key": "k", "value": "v"}], mesos
    # Status updates share kept-alive connections to the master.
    am = a.get("/metrics/snapshot").json()
    assert am["agent/master_http_reused"] >= 1, am
    assert am["agent/master_http_connects"] < am["agent/master_http_requests"], am
    slaves = m.json("/master/slaves")["slaves"]
    assert [s["id"] for s in slaves] == [a.agent_id]
    assert slaves[0]["used_resources"]["cpus"] == 0.5
    assert slaves[0]["used_resources"]["mem"] == 100
    assert m.json("/master/agents")["agents"][0]["hostname"] == "127.0.0.1"
    tasks = m.json("/master/tasks?framework_id=launcher&order=asc")["tasks"]
    assert [(t["id"], t["state"]) for t in tasks] == [("v1", "TASK_RUNNING"),
                                                     ("v2", "TASK_FINISHED")]
    assert m.json("/master/tasks?task_id=v2")["tasks"][0]["slave_id"] == a.agent_id
    assert len(m.json("/master/tasks?limit=1")["tasks"]) == 1
    assert m.get("/master/tasks?limit=x").status_code == 400
    st = m.json("/master/state")
    fw = [f for f in st["frameworks"] if f["id"] == "launcher"][0]
    assert [t["id"] for t in fw["tasks"]] == ["v1"]
    assert [t["id"] for t in fw["completed_tasks"]] == ["v2"]
    met = m.metrics()
    assert met["master/tasks_running"] == 1
    assert met["master/tasks_finished"] == 1
    assert met["master/slaves_active"] == 1
    assert met["master/cpus_used"] == 0.5
    assert met["master/cpus_total"] == 4
    # A second launch with the same id is answered with the task's status
    # (launches are idempotent by id: tests/e2e/test_acks.py).
    launcher.launch(a.agent_id, task("v1", "true"))
    wait_for(lambda: any(s["state"] == "TASK_RUNNING" and
                         s["reason"] == "REASON_TASK_ALREADY_EXISTS"
                         for s in launcher.statuses("v1")),
             what="the status of the existing task for a duplicate id")
    launcher.kill("v1")
    launcher.wait_state("v1", "TASK_KILLED")
    assert m.metrics()["master/cpus_used"] == 0


class Redirect307(http.server.BaseHTTPRequestHandler):
    """A master that does not lead: every POST gets 307 to the leader."""

    def do_POST(self):
        self.rfile.read(int(self.headers.get("Content-Length", 0)))
        self.send_response(307)
        self.send_header("Location", self.server.target + self.path)
        self.send_header("Content-Length", "0")
        self.end_headers()

    def log_message(self, *args):
        pass


def test_subscribe_follows_a_redirect(cluster):
    """The agent follows a 307 to the leader itself (its HTTP client does
    not), keeping the POST and its body, and posts its updates there."""
    m, launcher, agent = cluster
    srv = http.server.HTTPServer(("127.0.0.1", 0), Redirect307)
    srv.target = "http://127.0.0.1:%d" % m.port
    threading.Thread(target=srv.serve_forever, daemon=True).start()
    try:
        a = agent(args=["--master=127.0.0.1:%d" % srv.server_port]).start()
        launcher.launch(a.agent_id, task("redir", "exit 0"))
        launcher.wait_state("redir", "TASK_FINISHED")
        assert "redirected to %s/api/agent/subscribe" % srv.target in a.log()
    finally:
        srv.shutdown()
        srv.server_close()


def reconcile(m, *ids):
    r = m.post("/launcher/reconcile", json={"task_ids": list(ids)})
    assert r.status_code == 202, r.text


def test_reconcile_waits_for_agents_after_restart(cluster):
    """A restarted master does not call a task it has not heard of yet
    unknown while the agents of its registry may still report it."""
    m, launcher, agent = cluster
    a = agent().start()
    launcher.launch(a.agent_id, task("known", "sleep 300"))
    launcher.wait_state("known", "TASK_RUNNING")
    time.sleep(0.5 * SLOW)  # let the acknowledgement reach the agent
    a.kill9()  # its task runs on
    m.stop()
    m.start()
    # Asked at once: the registry may still be being read, which holds
    # the answers as well.
    reconcile(m, "known", "never")
    # The registry is read in the background: wait for it, not assume it.
    wait_for(lambda: m.metrics()["master/slaves_recovering"] == 1, 5 * SLOW,
             what="the registry's agent to be recovering")
    time.sleep(1.0 * SLOW)
    assert launcher.statuses() == []  # held: the agent may come back
    a.start()
    st = launcher.wait_state("known", "TASK_RUNNING")
    assert st["reason"] == "REASON_RECONCILIATION", st
    st = launcher.wait_state("never", "TASK_UNKNOWN")
    assert st["reason"] == "REASON_RECONCILIATION", st
    # One answer, though asked during the recovery and reported after.
    assert [s["reason"] for s in launcher.statuses("known")].count(
        "REASON_RECONCILIATION") == 1


def test_reconcile_answered_when_agents_never_return(cluster):
    m, launcher, agent = cluster
    a = agent().start()
    launcher.launch(a.agent_id, task("stranded", "sleep 300"))
    launcher.wait_state("stranded", "TASK_RUNNING")
    time.sleep(0.5 * SLOW)  # let the acknowledgement reach the agent
    a.kill9()
    m.stop()
    m.args.append("--agent_reregister_timeout=3secs")
    m.start()
    reconcile(m, "stranded")
    time.sleep(1.0)
    assert launcher.statuses() == []
    st = launcher.wait_state("stranded", "TASK_UNKNOWN", timeout=10)
    assert st["reason"] == "REASON_RECONCILIATION", st
    assert m.metrics()["master/slaves_unreachable"] == 1
    # The agent comes back after all: the framework, told the task was
    # unknown, hears that it runs.
    a.start()
    st = launcher.wait_state("stranded", "TASK_RUNNING")
    assert st["reason"] == "REASON_AGENT_REREGISTERED", st
