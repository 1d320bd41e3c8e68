"""Explicit acknowledgements, idempotent launches, and reconciliation of a
task that ended while its plugin was unloaded: a real master with the
launcher test plugin (tests/plugins/launcher.c) and real agents.
"""
import os
import time

from conftest import SLOW, TEST_PLUGINS, wait_for


def task(task_id, command, resources="cpus:0.1;mem:32"):
    return {"task_id": task_id, "command": command, "resources": resources}


def sandbox(agent, task_id):
    return os.path.join(agent.work_dir, "sandboxes", task_id)


def agent_metrics(a):
    r = a.get("/metrics/snapshot")
    assert r.status_code == 200, r.text
    return r.json()


def explicit_acks(m, on):
    r = m.post("/launcher/explicit_acks?on=%d" % on)
    assert r.status_code == 200, r.text


def unacked(m):
    return m.json("/launcher/unacked")


def ack(m, task_id, uuid):
    return m.post("/launcher/ack", json={"task_id": task_id, "uuid": uuid})


def agent_uuids(launcher, task_id):
    return [s["uuid"] for s in launcher.statuses(task_id) if s["uuid"]]


def write_launcher_conf(m, extra=""):
    with open(os.path.join(m.conf_dir, "launcher.conf"), "w") as f:
        f.write("plugin = %s\n%s" % (os.path.join(TEST_PLUGINS, "launcher.so"),
                                     extra))


def reload_and_wait(m):
    before = m.metrics()["master/plugin_reloads"]
    m.sighup()
    wait_for(lambda: m.metrics()["master/plugin_reloads"] == before + 1,
             what="the reload")


def unload_launcher(m):
    os.remove(os.path.join(m.conf_dir, "launcher.conf"))
    reload_and_wait(m)
    assert "launcher" not in [p["name"] for p in m.plugins()["plugins"]]


def reconcile(m, *ids):
    r = m.post("/launcher/reconcile", json={"task_ids": list(ids)})
    assert r.status_code == 202, r.text


def master_task(m, task_id):
    tasks = m.json("/master/tasks?task_id=" + task_id)["tasks"]
    return tasks[0] if tasks else None


# ---- explicit acknowledgements ----

def test_explicit_acks_redeliver_until_acknowledged(cluster):
    m, launcher, agent = cluster
    a = agent().start()
    explicit_acks(m, 1)
    launcher.launch(a.agent_id, task("ea", "sleep 300"))
    launcher.wait_state("ea", "TASK_RUNNING")

    # Unacknowledged: the agent keeps them and re-sends them, and the
    # framework sees each re-sent copy again, with its uuid.
    def redelivered():
        u = agent_uuids(launcher, "ea")
        return len(u) > len(set(u))
    wait_for(redelivered, timeout=10, what="a re-sent update delivered again")
    waiting = unacked(m)
    assert {w["uuid"] for w in waiting} == set(agent_uuids(launcher, "ea"))
    assert len(waiting) >= 2, waiting  # STAGING and RUNNING at least
    assert agent_metrics(a)["agent/status_updates_pending"] == len(waiting)
    mm = m.metrics()
    assert mm["master/status_updates_unacknowledged"] == len(waiting), mm
    assert mm["master/status_updates_redelivered"] >= 1, mm

    # An update the framework does not wait on cannot be acknowledged.
    assert ack(m, "ea", "no-such-uuid").status_code == 404
    assert ack(m, "other", waiting[0]["uuid"]).status_code == 404

    for w in waiting:
        r = ack(m, w["task_id"], w["uuid"])
        assert r.status_code == 200, r.text
    wait_for(lambda: agent_metrics(a)["agent/status_updates_pending"] == 0,
             what="the agent to hear the acknowledgements")
    assert m.metrics()["master/status_updates_unacknowledged"] == 0
    assert ack(m, "ea", waiting[0]["uuid"]).status_code == 404  # done already

    # Acknowledged: no copy comes back any more.
    seen = len(launcher.statuses("ea"))
    time.sleep(3.0 * SLOW)
    assert len(launcher.statuses("ea")) == seen, launcher.statuses("ea")


def test_acks_off_unchanged(cluster):
    m, launcher, agent = cluster
    a = agent().start()
    launcher.launch(a.agent_id, task("plain", "sleep 300"))
    launcher.wait_state("plain", "TASK_RUNNING")
    wait_for(lambda: agent_metrics(a)["agent/status_updates_pending"] == 0,
             what="the master to acknowledge on delivery")
    time.sleep(2.5 * SLOW)
    u = agent_uuids(launcher, "plain")
    assert len(u) == len(set(u)), launcher.statuses("plain")
    assert unacked(m) == []
    mm = m.metrics()
    assert mm["master/status_updates_unacknowledged"] == 0, mm
    assert mm["master/status_updates_redelivered"] == 0, mm
    # Nothing waits on an acknowledgement: acknowledging finds nothing.
    assert ack(m, "plain", u[0]).status_code == 404


def test_turning_explicit_acks_off_acknowledges_what_waits(cluster):
    m, launcher, agent = cluster
    a = agent().start()
    explicit_acks(m, 1)
    launcher.launch(a.agent_id, task("toggle", "sleep 300"))
    launcher.wait_state("toggle", "TASK_RUNNING")
    time.sleep(1.5 * SLOW)
    assert agent_metrics(a)["agent/status_updates_pending"] >= 2
    explicit_acks(m, 0)
    wait_for(lambda: agent_metrics(a)["agent/status_updates_pending"] == 0,
             what="the agent to hear every update acknowledged")
    assert m.metrics()["master/status_updates_unacknowledged"] == 0


def test_unacknowledged_updates_go_to_the_next_generation(cluster):
    """A plugin unloaded with updates unacknowledged leaves nothing
    behind in the master; the agent keeps re-sending them and the next
    generation (explicit acks turned on in init) receives them."""
    m, launcher, agent = cluster
    write_launcher_conf(m, "explicit_acks = true\n")
    reload_and_wait(m)
    a = agent().start()
    launcher.launch(a.agent_id, task("gen", "sleep 300"))
    launcher.wait_state("gen", "TASK_RUNNING")
    first = set(agent_uuids(launcher, "gen"))
    assert {w["uuid"] for w in unacked(m)} == first
    unload_launcher(m)
    assert m.metrics()["master/status_updates_unacknowledged"] == 0
    time.sleep(1.5 * SLOW)  # re-sent to no framework: held by the agent
    assert agent_metrics(a)["agent/status_updates_pending"] == len(first)

    write_launcher_conf(m, "explicit_acks = true\n")
    reload_and_wait(m)
    wait_for(lambda: {w["uuid"] for w in unacked(m)} == first, timeout=15,
             what="the new generation to receive the updates again")
    for w in unacked(m):
        assert ack(m, w["task_id"], w["uuid"]).status_code == 200
    wait_for(lambda: agent_metrics(a)["agent/status_updates_pending"] == 0,
             what="the agent to hear the acknowledgements")


# ---- idempotent launches ----

def test_second_launch_of_an_id_is_answered_not_run(cluster, tmp_path):
    m, launcher, agent = cluster
    a = agent().start()
    runs = tmp_path / "runs"
    cmd = "echo run >> %s; while [ ! -f done ]; do sleep 0.05; done" % runs
    launcher.launch(a.agent_id, task("once", cmd))
    launcher.wait_state("once", "TASK_RUNNING")

    launcher.launch(a.agent_id, task("once", cmd))
    def answered(state):
        for s in launcher.statuses("once"):
            if s["reason"] == "REASON_TASK_ALREADY_EXISTS" and \
                    s["state"] == state:
                return s
        return None
    st = wait_for(lambda: answered("TASK_RUNNING"),
                  what="the existing task's status")
    assert st["source"] == "SOURCE_MASTER" and st["uuid"] is None, st
    assert st["agent_id"] == a.agent_id, st

    # Ended, and still kept by the master: still not run again.
    open(os.path.join(sandbox(a, "once"), "done"), "w").close()
    launcher.wait_state("once", "TASK_FINISHED")
    launcher.launch(a.agent_id, task("once", cmd))
    wait_for(lambda: answered("TASK_FINISHED"),
             what="the finished task's status")
    time.sleep(1.0 * SLOW)
    with open(runs) as f:
        assert f.read() == "run\n"
    assert m.metrics()["master/launches_of_existing_tasks"] == 2
    assert launcher.states("once").count("TASK_ERROR") == 0


def test_one_id_twice_in_one_launch_runs_once(cluster, tmp_path):
    m, launcher, agent = cluster
    a = agent().start()
    runs = tmp_path / "runs"
    cmd = "echo run >> %s; sleep 300" % runs
    launcher.launch(a.agent_id, task("twin", cmd), task("twin", cmd))
    launcher.wait_state("twin", "TASK_RUNNING")
    wait_for(lambda: any(s["reason"] == "REASON_TASK_ALREADY_EXISTS"
                         for s in launcher.statuses("twin")),
             what="the second spec answered with the first's status")
    time.sleep(1.0 * SLOW)
    with open(runs) as f:
        assert f.read() == "run\n"
    # The allocator was not charged twice: one task's resources in use.
    ag = [x for x in m.json("/master/agents")["agents"]
          if x["id"] == a.agent_id][0]
    assert abs(ag["used_resources"]["cpus"] - 0.1) < 1e-6, ag


# ---- reconciliation of a task that ended while its plugin was away ----

def test_reconcile_after_unload_answers_latest_state(cluster):
    m, launcher, agent = cluster
    a = agent().start()
    launcher.launch(a.agent_id,
                    task("fin", "while [ ! -f done ]; do sleep 0.05; done"))
    launcher.wait_state("fin", "TASK_RUNNING")
    wait_for(lambda: agent_metrics(a)["agent/status_updates_pending"] == 0,
             what="the acknowledgements")
    unload_launcher(m)

    sent = agent_metrics(a)["agent/status_updates_sent"]
    open(os.path.join(sandbox(a, "fin"), "done"), "w").close()
    # The agent posts TASK_FINISHED; no framework hears it, but the
    # master's table has it.
    wait_for(lambda: (master_task(m, "fin") or {}).get("state") ==
             "TASK_FINISHED", what="the master's table to say TASK_FINISHED")
    # Let the agent retry twice (after 1 s and 2 s more): its next retry
    # is then about 4 s away, long after the reconciliation below.
    wait_for(lambda: agent_metrics(a)["agent/status_updates_sent"] >= sent + 3,
             timeout=10, what="the agent's retries")
    assert agent_metrics(a)["agent/status_updates_pending"] == 1

    write_launcher_conf(m)
    reload_and_wait(m)
    reconcile(m, "fin")
    first = wait_for(lambda: launcher.statuses("fin"),
                     what="the reconciliation answer")[0]
    assert first["reason"] == "REASON_RECONCILIATION", first
    assert first["state"] == "TASK_FINISHED", first
    # The agent's own update still arrives, and is acknowledged.
    wait_for(lambda: any(s["uuid"] and s["state"] == "TASK_FINISHED"
                         for s in launcher.statuses("fin")), timeout=15,
             what="the agent's re-sent update")
    wait_for(lambda: agent_metrics(a)["agent/status_updates_pending"] == 0,
             what="its acknowledgement")
