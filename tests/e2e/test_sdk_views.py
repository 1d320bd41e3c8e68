"""What ABI 2.1 lets a plugin read of the master, through the launcher
test plugin loaded into a real master with real agents: the agents with
their resources and attributes, its framework's tasks, the master itself,
and the master's events (agent added, unreachable, re-registered)."""
import json
import time

from conftest import SLOW, wait_for


def task(task_id, command, **kw):
    spec = {"task_id": task_id, "command": command,
            "resources": "cpus:0.1;mem:32"}
    spec.update(kw)
    return spec


def events_of(m, type_):
    return [json.loads(e["data"]) for e in m.json("/launcher/events")
            if e["type"] == type_]


def test_agents_view(cluster):
    m, launcher, agent = cluster
    a = agent(args=["--attributes=rack:r1;zone:a"],
              resources="cpus:2;mem:1024;disk:100;cpus(web):1").start()
    agents = m.json("/launcher/agents")
    assert [x["id"] for x in agents] == [a.agent_id]
    one = m.json("/launcher/agents/" + a.agent_id)
    assert one == agents[0]
    assert one["hostname"] == "127.0.0.1"
    assert one["state"] == "active"
    assert one["attributes"] == {"rack": "r1", "zone": "a"}
    assert "cpus(web):1" in one["total"] and "cpus:2" in one["total"]
    assert one["registered_time"] > time.time() - 60
    assert m.get("/launcher/agents/no-such-agent").status_code == 404

    # A running task takes its share out of the free resources.
    launcher.launch(a.agent_id, task("sleeper", "sleep 30",
                                     resources="cpus:0.5;mem:128"))
    launcher.wait_state("sleeper", "TASK_RUNNING")
    free = m.json("/launcher/agents/" + a.agent_id)["free"]
    assert "cpus:1.5" in free and "mem:896" in free and "cpus(web):1" in free, free


def test_tasks_view(cluster):
    m, launcher, agent = cluster
    a = agent().start()
    launcher.launch(a.agent_id, task("t-run", "sleep 30", name="runner"),
                    task("t-done", "exit 0"))
    launcher.wait_state("t-run", "TASK_RUNNING")
    launcher.wait_state("t-done", "TASK_FINISHED")
    tasks = {t["task_id"]: t for t in m.json("/launcher/tasks")}
    assert set(tasks) == {"t-run", "t-done"}
    run = m.json("/launcher/tasks/t-run")
    assert run == tasks["t-run"]
    assert (run["name"], run["agent_id"], run["hostname"], run["state"]) == \
        ("runner", a.agent_id, "127.0.0.1", "TASK_RUNNING")
    assert run["launched"] <= run["timestamp"]
    assert "cpus:0.1" in run["resources"]
    assert tasks["t-done"]["state"] == "TASK_FINISHED"
    assert m.get("/launcher/tasks/nope").status_code == 404


def test_master_view(cluster):
    m, launcher, agent = cluster
    info = m.json("/launcher/master")
    state = m.json("/master/state")
    assert info["id"] == state["id"]
    assert info["port"] == m.port
    assert info["leading"] is True
    assert info["zk"] is None
    assert info["version"] == state["version"]
    assert info["start_time"] <= info["elected_time"] <= time.time()


def test_agent_events(cluster):
    m, launcher, agent = cluster
    a = agent().start()
    added = wait_for(lambda: events_of(m, "agent_added"), 5 * SLOW,
                     what="agent_added")
    assert added == [{"agent_id": a.agent_id, "hostname": "127.0.0.1",
                      "state": "active"}]
    # SIGSTOP: no pings answered; the master marks it unreachable
    # (ping timeout 0.5 s x 4) and the plugin hears of it.
    a.proc.send_signal(19)
    try:
        gone = wait_for(lambda: events_of(m, "agent_unreachable"), 10 * SLOW,
                        what="agent_unreachable")
        assert gone[0]["agent_id"] == a.agent_id
        assert gone[0]["state"] == "unreachable"
        assert m.json("/launcher/agents/" + a.agent_id)["state"] == "unreachable"
    finally:
        a.proc.send_signal(18)
    back = wait_for(lambda: events_of(m, "agent_reregistered"), 15 * SLOW,
                    what="agent_reregistered")
    assert back[0] == {"agent_id": a.agent_id, "hostname": "127.0.0.1",
                       "state": "active"}
    assert len(events_of(m, "agent_added")) == 1


def test_abdicate_alone_leads_again(cluster):
    """Alone, a master that abdicates is elected again: its plugins are
    finished and started anew (the new launcher hears leader_elected)."""
    m, launcher, agent = cluster
    a = agent().start()
    wait_for(lambda: events_of(m, "agent_added"), 5 * SLOW, what="agent_added")
    before = m.json("/master/state")["elected_time"]
    r = m.post("/launcher/abdicate")
    assert r.status_code == 202
    m.wait_log("abdicated, as asked")

    def again():
        st = m.json("/master/state")
        return st["elected"] and st["elected_time"] > before
    wait_for(again, 5 * SLOW, what="re-election")
    # A new launcher: it heard its election, not the agent of before,
    # and the agent is still there.
    wait_for(lambda: events_of(m, "leader_elected"), 5 * SLOW,
             what="the new launcher to hear leader_elected")
    assert events_of(m, "agent_added") == []
    wait_for(lambda: m.json("/launcher/agents/" + a.agent_id)["state"] == "active",
             10 * SLOW, what="the agent to be active again")


def test_plugin_not_ready_in_health_and_plugins(cluster):
    m, launcher, agent = cluster
    assert m.get("/health").text == "ok"
    assert m.plugins()["plugins"][0]["ready"] is True
    assert m.post("/launcher/ready?why=loading%20apps").status_code == 200
    r = m.get("/health")
    assert r.status_code == 503
    assert r.json()["message"] == "plugin launcher is not ready: loading apps"
    p = m.plugins()["plugins"][0]
    assert (p["ready"], p["not_ready_reason"]) == (False, "loading apps")
    assert m.post("/launcher/ready").status_code == 200
    assert m.get("/health").text == "ok"
    assert "not_ready_reason" not in m.plugins()["plugins"][0]


def test_histogram_metric(cluster):
    m, launcher, agent = cluster
    for v in range(1, 101):
        assert m.post("/launcher/observe/latency_ms?v=%d" % v).status_code == 200
    met = m.metrics()
    assert met["launcher/latency_ms"] == 100
    assert met["launcher/latency_ms/count"] == 100
    assert (met["launcher/latency_ms/min"], met["launcher/latency_ms/max"]) == (1, 100)
    assert met["launcher/latency_ms/p50"] == 50
    assert met["launcher/latency_ms/p90"] == 90
    assert met["launcher/latency_ms/p99"] == 99
    assert met["launcher/latency_ms/p999"] == 100
    # The window keeps the last 1,000: older values leave it.
    for _ in range(1000):
        m.post("/launcher/observe/latency_ms?v=7")
    met = m.metrics()
    assert met["launcher/latency_ms/count"] == 1100
    assert met["launcher/latency_ms/max"] == 7
    assert m.post("/launcher/observe/latency_ms?v=nan").status_code == 400
