"""What ABI 2.2 appended to a task's status and to the master's view of
it: the task's IP addresses, ports, container status and its health
check's output, reported by real agents running real checks, as the
launcher test plugin (built against 2.2) receives them; and a plugin
built against 2.1 (tests/plugins/minor1.c) served by the same master as
before."""
import os
import shutil

from conftest import (SLOW, TEST_PLUGINS, Agent, Launcher, abi_version,
                      kill_leftovers, wait_for)

ABI_MAJOR, ABI_MINOR = abi_version()

# A web server on $PORT0 for as long as the task runs.
SERVICE = "exec /usr/bin/python3 -m http.server $PORT0 --bind 127.0.0.1"


def shim_of(pid, agent):
    """Whether pid is a shim of agent (its argv: --shim <its work_dir>)."""
    with open("/proc/%d/cmdline" % pid, "rb") as f:
        argv = f.read().decode(errors="replace").split("\0")
    return "--shim" in argv and any(agent.work_dir in a for a in argv)


def container(ip, pid=None):
    c = {"network_infos": [{"ip_addresses": [{"ip_address": ip}]}]}
    if pid is not None:
        c["executor_pid"] = pid
    return c


def web_task(task_id, port, check):
    return {"task_id": task_id, "command": SERVICE,
            "resources": "cpus:0.1;mem:64;ports:[%d-%d]" % (port, port),
            "health_check": dict(check, delay=0, interval=0.2, timeout=2,
                                 grace_period=10)}


def healthy_status(launcher, task_id):
    def seen():
        for s in launcher.statuses(task_id):
            if s["healthy"] is True:
                return s
        return None
    return wait_for(seen, 15 * SLOW, what="%s to be healthy" % task_id)


def test_status_and_view_carry_container_ports_and_health(cluster):
    m, launcher, agent = cluster
    a = agent().start()
    port = a.port_range[0]
    launcher.launch(a.agent_id, web_task("web", port, {"type": "HTTP",
                                                       "port_index": 0}))
    up = healthy_status(launcher, "web")
    assert m.json("/launcher/master")["abi_minor"] == ABI_MINOR == 4

    # The health update: the agent's IP, the task's port, its shim as
    # the executor, and the check's status line.
    pid = up["container_status"]["executor_pid"]
    assert shim_of(pid, a)
    assert up["reason"] == "REASON_TASK_HEALTH_CHECK_STATUS_UPDATED"
    assert (up["ip_addresses"], up["ports"], up["container_status"],
            up["health_output"]) == (["127.0.0.1"], [port],
                                     container("127.0.0.1", pid),
                                     "HTTP/1.0 200 OK")
    # Before the shim ran there was no executor; before a check, no output.
    by_state = {s["state"]: s for s in launcher.statuses("web")}
    staging = by_state["TASK_STAGING"]
    assert staging["container_status"] == container("127.0.0.1")
    assert (staging["ports"], staging["health_output"]) == ([port], None)
    assert by_state["TASK_RUNNING"]["container_status"]["executor_pid"] == pid

    # The master's table holds the latest of each.
    view = m.json("/launcher/tasks/web")
    assert (view["ip_addresses"], view["ports"], view["container_status"],
            view["health_output"]) == (["127.0.0.1"], [port],
                                       container("127.0.0.1", pid),
                                       "HTTP/1.0 200 OK")

    # A status the master makes itself (a reconciliation answer, queued
    # and delivered on a later turn) carries them too.
    assert m.post("/launcher/reconcile",
                  json={"task_ids": ["web"]}).status_code == 202
    answer = wait_for(lambda: [s for s in launcher.statuses("web")
                               if s["reason"] == "REASON_RECONCILIATION"],
                      5 * SLOW, what="the reconciliation answer")[0]
    assert answer["source"] == "SOURCE_MASTER"
    assert (answer["ip_addresses"], answer["ports"], answer["container_status"],
            answer["health_output"]) == (["127.0.0.1"], [port],
                                         container("127.0.0.1", pid),
                                         "HTTP/1.0 200 OK")


def test_failing_check_output_reaches_the_framework(cluster):
    """A COMMAND check that fails: its exit status and output in the
    unhealthy update, and in the TASK_KILLED that ends the task."""
    m, launcher, agent = cluster
    a = agent().start()
    launcher.launch(a.agent_id, {
        "task_id": "sick", "command": "sleep 60",
        "resources": "cpus:0.1;mem:32",
        "health_check": {"type": "COMMAND",
                         "command": "echo not ready; echo on stderr >&2; exit 3",
                         "delay": 0, "interval": 0.2, "timeout": 2,
                         "grace_period": 0, "max_consecutive_failures": 3}})
    killed = launcher.wait_state("sick", "TASK_KILLED", 15 * SLOW)
    want = "command exited with status 3: not ready\non stderr"
    sick = [s for s in launcher.statuses("sick") if s["healthy"] is False]
    assert sick[0]["health_output"] == want
    assert (killed["healthy"], killed["health_output"]) == (False, want)
    assert killed["ports"] == [] and killed["ip_addresses"] == ["127.0.0.1"]
    assert m.json("/launcher/tasks/sick")["health_output"] == want


def test_restarted_master_learns_them_from_the_agent(cluster):
    """A master that restarts knows its tasks only from their agents'
    subscriptions, which carry the container status and health output:
    the view has them before any new update."""
    m, launcher, agent = cluster
    a = agent().start()
    port = a.port_range[0]
    launcher.launch(a.agent_id, web_task("web", port, {"type": "TCP",
                                                       "port_index": 0}))
    up = healthy_status(launcher, "web")
    pid = up["container_status"]["executor_pid"]
    assert up["health_output"] == "connected to 127.0.0.1:%d" % port
    m.restart()
    a.wait_subscribed(15 * SLOW)
    tasks = wait_for(lambda: m.json("/launcher/tasks"), 10 * SLOW,
                     what="the task reported again")
    assert [(t["task_id"], t["state"]) for t in tasks] == \
        [("web", "TASK_RUNNING")]
    view = tasks[0]
    assert (view["ip_addresses"], view["ports"], view["container_status"],
            view["health_output"]) == (["127.0.0.1"], [port],
                                       container("127.0.0.1", pid),
                                       "connected to 127.0.0.1:%d" % port)


def test_minor1_plugin_served_as_before(tmp_path, master_factory,
                                        build_plugin):
    """A framework built against ABI 2.1 loads into this master, launches
    a task and reads its statuses and its view, every field it knows
    right: the master's bigger structs change nothing for it."""
    m = master_factory()
    shutil.copyfile(build_plugin("minor1", sdk=True),
                    os.path.join(m.conf_dir, "minor1.so"))
    with open(os.path.join(m.conf_dir, "launcher.conf"), "w") as f:
        f.write("plugin = %s\n" % os.path.join(TEST_PLUGINS, "launcher.so"))
    m.start()
    abi = {p["name"]: p["abi"] for p in m.plugins()["plugins"]}
    assert abi == {"minor1": "%d.1" % ABI_MAJOR,
                   "launcher": "%d.%d" % (ABI_MAJOR, ABI_MINOR)}
    root = m.json("/minor1/")
    assert root["has_store_unwatch"] is True and root["api_size"] > 0

    a = Agent(tmp_path / "agent", m)
    try:
        a.start()
        port = a.port_range[0]
        r = m.post("/minor1/launch/%s/t1?port=%d" % (a.agent_id, port))
        assert r.status_code == 202, r.text

        def running():
            return [s for s in m.json("/minor1/statuses")
                    if s["state"] == "TASK_RUNNING"]
        wait_for(running, 10 * SLOW, what="t1 to run")
        seen = m.json("/minor1/statuses")
        assert [s["state"] for s in seen][:3] == \
            ["TASK_STAGING", "TASK_STARTING", "TASK_RUNNING"]
        for s in seen:
            assert (s["task_id"], s["agent_id"], s["hostname"], s["healthy"],
                    s["source"], s["has_uuid"]) == \
                ("t1", a.agent_id, "127.0.0.1", -1, "SOURCE_AGENT", True)
        view = m.json("/minor1/tasks/t1")
        assert (view["task_id"], view["name"], view["agent_id"],
                view["hostname"], view["state"]) == \
            ("t1", "t1", a.agent_id, "127.0.0.1", "TASK_RUNNING")
        assert "ports:[%d-%d]" % (port, port) in view["resources"]
        # Two specs in one call, laid out as before 2.3 appended fetch:
        # the master reads the array at the plugin's stride.
        r = m.post("/minor1/launch2/%s/t3/t4?port=%d" % (a.agent_id,
                                                          port + 2))
        assert r.status_code == 202, r.text
        for tid, p in (("t3", port + 2), ("t4", port + 3)):
            wait_for(lambda: m.json("/minor1/tasks/%s" % tid)["state"] ==
                     "TASK_RUNNING", 10 * SLOW, what="%s to run" % tid)
            assert "ports:[%d-%d]" % (p, p) in \
                m.json("/minor1/tasks/%s" % tid)["resources"]
        # The launcher beside it, built against 2.2, reads the 2.2
        # fields of the same master's structs.
        launcher = Launcher(m)
        launcher.launch(a.agent_id, {"task_id": "t2", "command": "sleep 60",
                                     "resources": "cpus:0.1;mem:32;ports:[%d-%d]"
                                     % (port + 4, port + 4)})
        t2 = launcher.wait_state("t2", "TASK_RUNNING", 10 * SLOW)
        assert (t2["ports"], t2["ip_addresses"]) == ([port + 4], ["127.0.0.1"])
        assert m.json("/launcher/master")["abi_minor"] == ABI_MINOR
    finally:
        a.stop()
        kill_leftovers(a.work_dir)
