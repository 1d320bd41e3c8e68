"""The master's Mesos HTTP API as Mesos' operator tools read it, on a live
master with real agents running real tasks (issue 19).

The key sets are Mesos' own: the fields src/master/http.cpp writes for a
framework (Summary<Framework> and FullFrameworkWriter) and an agent
(Summary<Slave>), those src/common/http.cpp writes for a task and its
statuses, and the top-level keys of the /master/state example in Mesos'
docs/endpoints/master/state.md. agora may write more keys (its own); it
must write at least these.
"""
import os
import signal
import time

import requests

from conftest import SLOW, RecordIO, wait_for

FRAMEWORK_KEYS = {
    # Summary<Framework>
    "id", "name", "pid", "used_resources", "offered_resources",
    "capabilities", "hostname", "webui_url", "active", "connected",
    "recovered",
    # FullFrameworkWriter
    "user", "failover_timeout", "checkpoint", "registered_time",
    "unregistered_time", "resources", "role", "tasks", "unreachable_tasks",
    "completed_tasks", "offers", "executors",
}
AGENT_KEYS = {
    "id", "hostname", "port", "attributes", "pid", "registered_time",
    "resources", "used_resources", "offered_resources", "reserved_resources",
    "unreserved_resources", "active", "version", "capabilities",
}
TASK_KEYS = {"id", "name", "framework_id", "executor_id", "slave_id",
             "state", "resources", "statuses"}
STATUS_KEYS = {"state", "timestamp"}
STATE_KEYS = {"version", "start_time", "elected_time", "id", "pid",
              "hostname", "activated_slaves", "deactivated_slaves", "leader",
              "flags", "slaves", "frameworks", "completed_frameworks"}
SUMMARY_AGENT_KEYS = AGENT_KEYS | {"TASK_RUNNING", "TASK_FINISHED",
                                   "framework_ids"}
SUMMARY_FRAMEWORK_KEYS = {"id", "name", "pid", "used_resources",
                          "offered_resources", "capabilities", "hostname",
                          "webui_url", "active", "connected", "recovered",
                          "TASK_RUNNING", "slave_ids"}
# model(Resources): these four whatever the resources hold.
RESOURCE_KEYS = {"cpus", "gpus", "mem", "disk"}


def missing(keys, obj):
    return sorted(keys - set(obj))


def sleeper(task_id, cpus=0.5):
    return {"task_id": task_id, "command": "exec sleep 60",
            "resources": "cpus:%s;mem:32" % cpus}


def running_cluster(cluster, n=2):
    """A master, one agent, n tasks RUNNING through the launcher."""
    m, launcher, agent = cluster
    a = agent().start()
    for i in range(n):
        launcher.launch(a.agent_id, sleeper("t%d" % i))
    for i in range(n):
        launcher.wait_state("t%d" % i, "TASK_RUNNING", timeout=15 * SLOW)
    return m, launcher, a


def test_every_master_endpoint_at_every_mesos_path(cluster):
    m, _, _ = running_cluster(cluster, 1)
    for name in ("state", "state-summary", "frameworks", "slaves", "tasks",
                 "roles", "flags", "health"):
        bodies = []
        for path in ("/master/%s", "/%s", "/master/%s.json", "/%s.json"):
            r = requests.get(m.url(path % name), timeout=5)
            assert r.status_code == 200, (path % name, r.status_code, r.text)
            bodies.append(r.json() if name != "health" else r.text)
        # One endpoint, whatever the path: same keys.
        if name != "health":
            assert all(set(b) == set(bodies[0]) for b in bodies), name
    for path in ("/redirect", "/master/redirect"):
        r = requests.get(m.url(path), allow_redirects=False, timeout=5)
        assert r.status_code == 307, path
        assert r.headers["Location"].endswith(":%d" % m.port)
    # JSONP is not carried over: it would let any page read the state.
    r = requests.get(m.url("/master/state?jsonp=steal"), timeout=5)
    assert not r.text.startswith("steal(")


def test_state_models_field_by_field(cluster):
    m, _, a = running_cluster(cluster, 2)
    state = m.json("/master/state")
    assert not missing(STATE_KEYS, state), missing(STATE_KEYS, state)
    assert state["activated_slaves"] == 1
    # Mesos' build keys: build_time is the build's, in seconds.
    assert 1.5e9 < state["build_time"] <= time.time()
    assert state["build_date"] and state["build_user"] == ""
    version = m.json("/version")
    assert (version["build_time"], version["build_user"]) == \
        (state["build_time"], "")
    assert state["orphan_tasks"] == [] and \
        state["unregistered_frameworks"] == []
    assert state["flags"]["port"] == str(m.port)

    # The agent, as Summary<Slave>.
    [ag] = state["slaves"]
    assert not missing(AGENT_KEYS, ag), missing(AGENT_KEYS, ag)
    assert ag["id"] == a.agent_id and ag["active"] is True
    for key in ("resources", "used_resources", "offered_resources",
                "unreserved_resources"):
        assert not missing(RESOURCE_KEYS, ag[key]), (key, ag[key])
    assert ag["resources"]["cpus"] == 4 and ag["resources"]["gpus"] == 0
    assert ag["reserved_resources"] == {}
    assert ag["pid"] == "slave(1)@127.0.0.1:%d" % a.port

    # The launcher's framework with its running tasks: active (registered,
    # not deactivated), with a hostname, as Mesos' tools expect.
    [fw] = [f for f in state["frameworks"] if f["id"] == "launcher"]
    assert not missing(FRAMEWORK_KEYS, fw), missing(FRAMEWORK_KEYS, fw)
    assert fw["active"] is True and fw["connected"] is True
    assert fw["hostname"] and fw["webui_url"].startswith("http://")
    assert fw["used_resources"]["cpus"] == 1.0  # two tasks of 0.5
    assert fw["used_resources"]["mem"] == 64
    assert {c["type"] for c in fw["capabilities"]} >= {"PARTITION_AWARE"}
    assert sorted(t["id"] for t in fw["tasks"]) == ["t0", "t1"]
    for t in fw["tasks"]:
        assert not missing(TASK_KEYS, t), missing(TASK_KEYS, t)
        assert t["slave_id"] == a.agent_id and t["state"] == "TASK_RUNNING"
        assert not missing(RESOURCE_KEYS, t["resources"])
        last = t["statuses"][-1]
        assert not missing(STATUS_KEYS, last)
        assert last["state"] == "TASK_RUNNING"
        # stamped by the agent to the microsecond (updates.c)
        assert len(repr(last["timestamp"]).split(".")[1]) <= 6, last
        assert abs(last["timestamp"] - time.time()) < 600
        ips = last["container_status"]["network_infos"][0]["ip_addresses"]
        assert ips[0]["ip_address"] == "127.0.0.1"

    # /master/frameworks: the same objects, and the completed ones.
    fws = m.json("/frameworks")
    assert {"frameworks", "completed_frameworks",
            "unregistered_frameworks"} <= set(fws)
    [fw2] = [f for f in fws["frameworks"] if f["id"] == "launcher"]
    assert set(fw2) == set(fw)


def test_state_summary_counts(cluster):
    m, launcher, a = running_cluster(cluster, 2)
    launcher.kill("t1")
    launcher.wait_state("t1", "TASK_KILLED", timeout=10 * SLOW)
    s = m.json("/state-summary")
    [ag] = s["slaves"]
    assert not missing(SUMMARY_AGENT_KEYS, ag), missing(SUMMARY_AGENT_KEYS, ag)
    assert ag["TASK_RUNNING"] == 1 and ag["TASK_KILLED"] == 1
    assert ag["framework_ids"] == ["launcher"]
    [fw] = [f for f in s["frameworks"] if f["id"] == "launcher"]
    assert not missing(SUMMARY_FRAMEWORK_KEYS, fw), \
        missing(SUMMARY_FRAMEWORK_KEYS, fw)
    assert fw["TASK_RUNNING"] == 1 and fw["TASK_KILLED"] == 1
    assert fw["slave_ids"] == [a.agent_id]


def test_tasks_paging_as_mesos_cli_asks(cluster):
    m, launcher, a = running_cluster(cluster, 3)
    # What the Mesos CLI's `task list` sends.
    r = requests.get(m.url("/tasks?order=asc&limit=-1"), timeout=5)
    assert r.status_code == 200, r.text
    assert [t["id"] for t in r.json()["tasks"]] == ["t0", "t1", "t2"]
    assert [t["id"] for t in m.json("/tasks?order=desc")["tasks"]] == \
        ["t2", "t1", "t0"]
    assert [t["id"] for t in
            m.json("/master/tasks?order=asc&limit=1&offset=1")["tasks"]] == \
        ["t1"]
    assert [t["id"] for t in m.json("/tasks?task_id=t2")["tasks"]] == ["t2"]
    assert m.json("/tasks?framework_id=nobody")["tasks"] == []
    for bad in ("limit=-2", "limit=x", "offset=-1", "order=up"):
        r = requests.get(m.url("/tasks?" + bad), timeout=5)
        assert r.status_code == 400, bad
        assert "message" in r.json()


def test_metrics_keys_agree_with_state(cluster):
    m, launcher, a = running_cluster(cluster, 2)
    launcher.kill("t0")
    launcher.wait_state("t0", "TASK_KILLED", timeout=10 * SLOW)
    snap = m.json("/metrics/snapshot")
    state = m.json("/master/state")
    tasks = m.json("/tasks?limit=-1")["tasks"]

    def count(st):
        return sum(1 for t in tasks if t["state"] == st)

    expect = {
        "master/elected": 1,
        "master/tasks_running": count("TASK_RUNNING"),
        "master/tasks_killed": count("TASK_KILLED"),
        "master/tasks_staging": count("TASK_STAGING"),
        "master/slaves_active": state["activated_slaves"],
        "master/slaves_inactive": state["deactivated_slaves"],
        "master/slaves_connected": 1,
        "master/slaves_disconnected": 0,
        "master/slaves_unreachable": 0,
        "master/slave_registrations": 1,
        "master/frameworks_active": len(state["frameworks"]),
        "master/frameworks_connected": len(state["frameworks"]),
        "master/frameworks_inactive": 0,
        "master/cpus_total": state["slaves"][0]["resources"]["cpus"],
        "master/mem_total": state["slaves"][0]["resources"]["mem"],
        "master/cpus_used": 0.5,
        "master/cpus_percent": 0.5 / 4,
        "master/outstanding_offers": sum(len(f["offers"])
                                         for f in state["frameworks"]),
        "allocator/mesos/resources/cpus/total": 4,
        "system/cpus_total": os.cpu_count(),
    }
    for key, want in expect.items():
        assert key in snap, key
        assert snap[key] == want, (key, snap[key], want)
    for key in ("master/uptime_secs", "master/gpus_total", "master/disk_used",
                "master/messages_status_update", "master/dropped_messages",
                "master/event_queue_messages", "master/event_queue_dispatches",
                "master/event_queue_http_requests", "registrar/queued_operations",
                "allocator/mesos/allocation_runs", "system/mem_total_bytes",
                "system/mem_free_bytes", "system/load_1min",
                "master/slave_reregistrations", "master/slave_removals"):
        assert key in snap, key
    assert snap["system/mem_free_bytes"] <= snap["system/mem_total_bytes"]
    assert snap["master/messages_status_update"] >= 3


def test_completed_frameworks_after_unload(cluster):
    m, _, _ = running_cluster(cluster, 1)
    os.unlink(os.path.join(m.conf_dir, "launcher.conf"))
    m.proc.send_signal(signal.SIGHUP)
    wait_for(lambda: not any(f["id"] == "launcher"
                             for f in m.json("/master/frameworks")
                             ["frameworks"]), 10 * SLOW,
             what="the launcher to be gone")
    state = m.json("/master/state")
    [fw] = [f for f in state["completed_frameworks"] if f["id"] == "launcher"]
    assert not missing(FRAMEWORK_KEYS, fw), missing(FRAMEWORK_KEYS, fw)
    assert fw["active"] is False and fw["unregistered_time"] > 0
    # Its task runs on (an unload kills nothing), under no framework: an
    # orphan, as Mesos lists the tasks of a framework not registered.
    [t] = state["orphan_tasks"]
    assert t["id"] == "t0" and t["state"] == "TASK_RUNNING"
    assert t["framework_id"] == "launcher"


def test_agent_state_in_mesos_shape(cluster):
    m, _, a = running_cluster(cluster, 1)
    for path in ("/state", "/slave(1)/state", "/slave(1)/state.json"):
        st = requests.get("http://127.0.0.1:%d%s" % (a.port, path),
                          timeout=5).json()
        [fw] = st["frameworks"]
        [ex] = fw["executors"]
        assert ex["directory"] and [t["id"] for t in ex["tasks"]] == ["t0"]
        assert st["flags"]["port"] == str(a.port)


# ---- the v1 operator API ----

def call(m, body, **headers):
    h = {"Content-Type": "application/json", "Accept": "application/json"}
    h.update(headers)
    return requests.post(m.url("/api/v1"), json=body, headers=h, timeout=10)


def read(m, type_):
    r = call(m, {"type": type_})
    assert r.status_code == 200, (type_, r.status_code, r.text)
    doc = r.json()
    assert doc["type"] == type_
    return doc[type_.lower()]


def test_v1_reads(cluster):
    m, _, a = running_cluster(cluster, 1)
    assert read(m, "GET_HEALTH") == {"healthy": True}
    flags = {f["name"]: f["value"] for f in read(m, "GET_FLAGS")["flags"]}
    assert flags["port"] == str(m.port)
    assert read(m, "GET_VERSION")["version_info"]["version"]
    metrics = {x["name"]: x["value"] for x in read(m, "GET_METRICS")["metrics"]}
    assert metrics["master/tasks_running"] == 1
    master = read(m, "GET_MASTER")
    assert master["master_info"]["port"] == m.port
    assert master["master_info"]["address"]["port"] == m.port

    agents = read(m, "GET_AGENTS")["agents"]
    [ag] = agents
    assert ag["agent_info"]["id"]["value"] == a.agent_id
    assert ag["active"] is True and ag["deactivated"] is False
    cpus = [r for r in ag["total_resources"] if r["name"] == "cpus"]
    assert cpus == [{"name": "cpus", "type": "SCALAR",
                     "scalar": {"value": 4}, "role": "*"}]
    assert ag["registered_time"]["nanoseconds"] > 0

    fws = read(m, "GET_FRAMEWORKS")["frameworks"]
    [fw] = [f for f in fws if f["framework_info"]["id"]["value"] == "launcher"]
    assert fw["active"] is True and fw["connected"] is True
    assert fw["framework_info"]["hostname"]
    used = {r["name"]: r["scalar"]["value"] for r in fw["allocated_resources"]
            if r["type"] == "SCALAR"}
    assert used["cpus"] == 0.5

    tasks = read(m, "GET_TASKS")
    [t] = tasks["tasks"]
    assert t["task_id"] == {"value": "t0"}
    assert t["agent_id"] == {"value": a.agent_id}
    assert t["state"] == "TASK_RUNNING"
    assert t["statuses"][-1]["state"] == "TASK_RUNNING"
    assert tasks["completed_tasks"] == []

    state = read(m, "GET_STATE")
    assert set(state) == {"get_tasks", "get_executors", "get_frameworks",
                          "get_agents"}
    assert state["get_tasks"]["tasks"][0]["task_id"] == {"value": "t0"}
    assert read(m, "GET_EXECUTORS") == {"executors": [],
                                        "orphan_executors": []}
    assert any(r["name"] == "*" for r in read(m, "GET_ROLES")["roles"])


def test_v1_errors_as_mesos_gives_them(cluster):
    m, _, _ = running_cluster(cluster, 0)
    url = m.url("/api/v1")
    r = requests.post(url, data='{"type":"GET_HEALTH"}', timeout=5,
                      headers={"Content-Type": ""})
    assert r.status_code in (400, 415), r.status_code
    r = requests.post(url, data='{"type":"GET_HEALTH"}', timeout=5,
                      headers={"Content-Type": "text/plain"})
    assert r.status_code == 415
    r = call(m, {"type": "GET_HEALTH"}, Accept="application/x-protobuf")
    assert r.status_code == 406
    r = requests.post(url, data="{not json", timeout=5,
                      headers={"Content-Type": "application/json"})
    assert r.status_code == 400 and "JSON" in r.text
    assert r.headers["Content-Type"].startswith("text/plain")
    r = call(m, {"type": "NO_SUCH_CALL"})
    assert r.status_code == 400 and "NO_SUCH_CALL" in r.text
    r = call(m, {"no": "type"})
    assert r.status_code == 400
    r = requests.get(url, timeout=5)
    assert r.status_code == 405
    r = call(m, {"type": "DRAIN_AGENT", "drain_agent": {
        "agent_id": {"value": "nobody"}}})
    assert r.status_code == 400
    r = call(m, {"type": "UPDATE_WEIGHTS", "update_weights": {
        "weight_infos": [{"role": "x", "weight": -1}]}})
    assert r.status_code == 400


def test_v1_weights_and_quota(cluster):
    m, _, _ = running_cluster(cluster, 0)
    r = call(m, {"type": "UPDATE_WEIGHTS", "update_weights": {
        "weight_infos": [{"role": "prod", "weight": 2.5}]}})
    assert r.status_code == 200, r.text
    assert {"role": "prod", "weight": 2.5} in \
        read(m, "GET_WEIGHTS")["weight_infos"]
    roles = m.json("/master/roles")["roles"]
    assert [x["weight"] for x in roles if x["name"] == "prod"] == [2.5]
    r = call(m, {"type": "UPDATE_QUOTA", "update_quota": {
        "quota_configs": [{"role": "prod", "guarantees": {
            "cpus": {"value": 1}, "mem": {"value": 256}}}]}})
    assert r.status_code == 200, r.text
    [info] = read(m, "GET_QUOTA")["status"]["infos"]
    assert info["role"] == "prod"
    got = {g["name"]: g["scalar"]["value"] for g in info["guarantee"]}
    assert got == {"cpus": 1, "mem": 256}


def test_v1_subscribe_sees_tasks_and_agents(cluster):
    m, launcher, a = running_cluster(cluster, 1)
    s = RecordIO(m)
    first = s.next()
    assert first["type"] == "SUBSCRIBED"
    st = first["subscribed"]["get_state"]
    assert [t["task_id"]["value"] for t in st["get_tasks"]["tasks"]] == ["t0"]
    assert first["subscribed"]["heartbeat_interval_seconds"] > 0

    launcher.launch(a.agent_id, sleeper("t9"))
    added = s.until(lambda e: e["type"] == "TASK_ADDED")
    assert added["task_added"]["task"]["task_id"] == {"value": "t9"}
    running = s.until(lambda e: e["type"] == "TASK_UPDATED" and
                      e["task_updated"]["state"] == "TASK_RUNNING")
    assert running["task_updated"]["status"]["task_id"] == {"value": "t9"}
    assert running["task_updated"]["framework_id"] == {"value": "launcher"}

    # The agent goes away: unreachable after the master's ping timeouts.
    a.stop()
    gone = s.until(lambda e: e["type"] == "AGENT_REMOVED")
    assert gone["agent_removed"]["agent_id"] == {"value": a.agent_id}
    s.close()


def drain(m, launcher, a, tasks, **config):
    """DRAIN_AGENT a (config: max_grace_period, mark_gone); its tasks
    end TASK_KILLED."""
    config["agent_id"] = {"value": a.agent_id}
    r = call(m, {"type": "DRAIN_AGENT", "drain_agent": config})
    assert r.status_code == 200, r.text
    for t in tasks:
        launcher.wait_state(t, "TASK_KILLED", timeout=15 * SLOW)


def test_v1_drain_and_reactivate(cluster):
    m, launcher, a = running_cluster(cluster, 2)
    drain(m, launcher, a, ("t0", "t1"),
          max_grace_period={"nanoseconds": 1000000000})
    [ag] = m.json("/master/slaves")["slaves"]
    assert ag["deactivated"] is True
    [v1] = read(m, "GET_AGENTS")["agents"]
    assert v1["deactivated"] is True
    # No offers from a deactivated agent; a launch there still goes (the
    # launcher places its tasks itself), offers stay off.
    assert all(len(f["offers"]) == 0 for f in m.json("/master/state")
               ["frameworks"])
    r = call(m, {"type": "REACTIVATE_AGENT", "reactivate_agent": {
        "agent_id": {"value": a.agent_id}}})
    assert r.status_code == 200
    assert m.json("/master/slaves")["slaves"][0]["deactivated"] is False


def test_attributes_typed_as_mesos(cluster):
    """A numeric attribute is a number, a text one a string, on the
    master's /slaves and the agent's /state alike."""
    m, _, agent = cluster
    a = agent(args=["--attributes=rack:3;zone:a"]).start()
    [ag] = m.json("/slaves")["slaves"]
    assert ag["attributes"] == {"rack": 3, "zone": "a"}
    st = requests.get("http://127.0.0.1:%d/state" % a.port, timeout=5).json()
    assert st["attributes"] == {"rack": 3, "zone": "a"}


def agent_of(m, agent_id):
    """The agent's v0 object, or None when /master/slaves does not list it."""
    for ag in m.json("/master/slaves")["slaves"]:
        if ag["id"] == agent_id:
            return ag
    return None


def test_v1_drain_ends_drained_and_outlives_the_master(cluster):
    """DRAIN_AGENT kills each task within max_grace_period; with none live
    the agent is DRAINED; the drain, like a deactivation, is kept in the
    store: a restarted master still offers nothing of it."""
    m, launcher, a = running_cluster(cluster, 2)
    drain(m, launcher, a, ("t0", "t1"),
          max_grace_period={"nanoseconds": 2000000000})

    def drained():
        [v1] = read(m, "GET_AGENTS")["agents"]
        return v1 if v1.get("drain_info", {}).get("state") == "DRAINED" \
            else None
    v1 = wait_for(drained, 10 * SLOW, what="the agent to be DRAINED")
    assert v1["deactivated"] is True
    assert v1["drain_info"]["config"] == {
        "max_grace_period": {"nanoseconds": 2000000000}, "mark_gone": False}
    assert agent_of(m, a.agent_id)["drain_info"]["state"] == "DRAINED"

    m.restart()
    a.wait_subscribed(timeout=15 * SLOW)
    ag = agent_of(m, a.agent_id)
    assert ag["deactivated"] is True and ag["active"] is True
    assert ag["drain_info"]["state"] == "DRAINED"
    assert all(len(f["offers"]) == 0
               for f in m.json("/master/state")["frameworks"])
    assert m.metrics()["master/outstanding_offers"] == 0

    r = call(m, {"type": "REACTIVATE_AGENT", "reactivate_agent": {
        "agent_id": {"value": a.agent_id}}})
    assert r.status_code == 200
    ag = agent_of(m, a.agent_id)
    assert ag["deactivated"] is False and "drain_info" not in ag
    m.restart()
    a.wait_subscribed(timeout=15 * SLOW)
    assert agent_of(m, a.agent_id)["deactivated"] is False


def test_v1_deactivation_outlives_the_master(cluster):
    m, launcher, a = running_cluster(cluster, 1)
    r = call(m, {"type": "DEACTIVATE_AGENT", "deactivate_agent": {
        "agent_id": {"value": a.agent_id}}})
    assert r.status_code == 200
    m.restart()
    a.wait_subscribed(timeout=15 * SLOW)
    ag = agent_of(m, a.agent_id)
    assert ag["deactivated"] is True and "drain_info" not in ag
    # What runs there stays.
    [t] = m.json("/master/tasks")["tasks"]
    assert (t["id"], t["state"]) == ("t0", "TASK_RUNNING")


def test_v1_drain_with_mark_gone(cluster):
    m, launcher, a = running_cluster(cluster, 1)
    drain(m, launcher, a, ("t0",), mark_gone=True)
    wait_for(lambda: agent_of(m, a.agent_id) is None, 10 * SLOW,
             what="the drained agent to be gone")
    a.proc.wait(30 * SLOW)  # told to shut down
    a.proc = None


def test_v1_mark_agent_gone(cluster):
    """A gone agent's tasks are TASK_GONE_BY_OPERATOR; the agent is told to
    shut down (it kills its tasks and forgets its id); its id is refused
    with 410 from then on, by this master and after a restart; started
    again, it joins as a new agent."""
    m, launcher, a = running_cluster(cluster, 1)
    old = a.agent_id
    s = RecordIO(m)
    s.next()
    r = call(m, {"type": "MARK_AGENT_GONE", "mark_agent_gone": {
        "agent_id": {"value": old}}})
    assert r.status_code == 200, r.text
    st = launcher.wait_state("t0", "TASK_GONE_BY_OPERATOR", timeout=10 * SLOW)
    assert st["reason"] == "REASON_SLAVE_REMOVED_BY_OPERATOR", st
    removed = s.until(lambda e: e["type"] == "AGENT_REMOVED")
    assert removed["agent_removed"]["agent_id"] == {"value": old}
    s.close()
    assert agent_of(m, old) is None
    assert read(m, "GET_AGENTS")["agents"] == []
    assert m.metrics()["master/slave_removals"] == 1
    assert a.proc.wait(30 * SLOW) is not None
    a.proc = None
    assert "marked gone" in a.log()

    body = {"agent_id": old, "hostname": "127.0.0.1", "ip": "127.0.0.1",
            "port": 1, "resources": "cpus:1;mem:64", "version": "x",
            "tasks": []}
    r = m.post("/api/agent/subscribe", json=body, timeout=5)
    assert r.status_code == 410 and "marked gone" in r.json()["message"]
    m.restart()
    # At once after the restart the registry may still be being read: the
    # subscribe is then taken, and the stored mark shuts the agent down
    # as soon as it is read. Either way the mark outlives the restart.
    r = m.post("/api/agent/subscribe", json=body, timeout=5)
    assert r.status_code == 410 or (
        r.status_code == 200 and '"type":"shutdown"' in r.text), r.text
    r = m.post("/api/agent/subscribe", json=body, timeout=5)
    assert r.status_code == 410 and "marked gone" in r.json()["message"]
    assert agent_of(m, old) is None

    a.start()
    assert a.agent_id != old
    assert agent_of(m, a.agent_id)["active"] is True


def test_v1_reload_is_framework_updated(cluster):
    """A plugin reloaded re-registers its framework: FRAMEWORK_UPDATED, as a
    Mesos scheduler failing over, not FRAMEWORK_REMOVED then ADDED."""
    m, launcher, a = running_cluster(cluster, 1)
    s = RecordIO(m)
    s.next()
    conf = os.path.join(m.conf_dir, "launcher.conf")
    with open(conf, "a") as f:
        f.write("# changed: reload me\n")
    r = m.post("/master/reload")
    assert r.status_code == 202, r.text
    ev = s.until(lambda e: e["type"].startswith("FRAMEWORK_"))
    assert ev["type"] == "FRAMEWORK_UPDATED", ev
    fw = ev["framework_updated"]["framework"]
    assert fw["framework_info"]["id"] == {"value": "launcher"}
    s.close()


# ---- v0 mutations: weights, quota, maintenance; kept in the store ----

def test_v0_weights_and_v1_weights_outlive_the_master(cluster):
    m, _, _ = cluster
    r = requests.put(m.url("/master/weights"), timeout=10,
                     json=[{"role": "analytics", "weight": 2.5}])
    assert r.status_code == 200, r.text
    r = call(m, {"type": "UPDATE_WEIGHTS", "update_weights": {
        "weight_infos": [{"role": "batch", "weight": 0.5}]}})
    assert r.status_code == 200, r.text
    want = {"analytics": 2.5, "batch": 0.5}
    assert {w["role"]: w["weight"] for w in m.json("/weights")} == want
    m.restart()
    assert {w["role"]: w["weight"]
            for w in m.json("/master/weights")} == want
    assert {w["role"]: w["weight"] for w in
            read(m, "GET_WEIGHTS")["weight_infos"]} == want

    for bad in ([{"role": "x", "weight": 0}], {"role": "x"}, "nope"):
        r = requests.put(m.url("/master/weights"), json=bad, timeout=10)
        assert r.status_code == 400, (bad, r.text)
        assert r.headers["Content-Type"].startswith("text/plain")
    assert {w["role"]: w["weight"] for w in m.json("/weights")} == want


def cpus(value):
    return {"name": "cpus", "type": "SCALAR", "scalar": {"value": value}}


def test_v0_quota_set_kept_and_removed(cluster):
    m, _, _ = cluster
    body = {"role": "dev", "guarantee": [cpus(1.5)]}
    r = requests.post(m.url("/master/quota"), json=body, timeout=10)
    assert r.status_code == 200, r.text
    r = requests.post(m.url("/quota"), json=body, timeout=10)
    assert r.status_code == 400 and "already has quota" in r.text
    r = requests.post(m.url("/quota"), timeout=10,
                      json={"role": "x", "guarantee": [{"name": "bogus"}]})
    assert r.status_code == 400

    m.restart()
    [info] = m.json("/master/quota")["infos"]
    assert info["role"] == "dev"
    assert info["guarantee"] == [cpus(1.5)]
    r = requests.delete(m.url("/master/quota/dev"), timeout=10)
    assert r.status_code == 200, r.text
    r = requests.delete(m.url("/quota/dev"), timeout=10)
    assert r.status_code == 400
    m.restart()
    assert m.json("/quota")["infos"] == []


def machine():
    return {"hostname": "127.0.0.1", "ip": "127.0.0.1"}


def test_v0_maintenance_down_and_up(cluster):
    """A machine in the schedule is draining; brought down, its agent is
    gone (tasks GONE_BY_OPERATOR, the agent shut down) and nothing from it
    may subscribe, across a restart of the master, until it is brought
    up, which also takes it out of the schedule."""
    m, launcher, a = running_cluster(cluster, 1)
    other = {"hostname": "elsewhere"}
    r = requests.post(m.url("/master/machine/down"), json=[machine()],
                      timeout=10)
    assert r.status_code == 400 and "schedule" in r.text
    schedule = {"windows": [{
        "machine_ids": [machine(), other],
        "unavailability": {"start": {"nanoseconds": 1700000000000000000},
                           "duration": {"nanoseconds": 3600000000000}}}]}
    r = requests.post(m.url("/master/maintenance/schedule"), json=schedule,
                      timeout=10)
    assert r.status_code == 200, r.text
    assert m.json("/maintenance/schedule") == schedule
    st = m.json("/master/maintenance/status")
    assert [d["id"] for d in st["draining_machines"]] == [machine(), other]
    assert st["down_machines"] == []
    dup = {"windows": schedule["windows"] * 2}
    r = requests.post(m.url("/master/maintenance/schedule"), json=dup,
                      timeout=10)
    assert r.status_code == 400 and "more than once" in r.text

    r = requests.post(m.url("/master/machine/down"), json=[machine()],
                      timeout=10)
    assert r.status_code == 200, r.text
    launcher.wait_state("t0", "TASK_GONE_BY_OPERATOR", timeout=10 * SLOW)
    assert a.proc.wait(30 * SLOW) is not None
    a.proc = None
    st = m.json("/master/maintenance/status")
    assert st["down_machines"] == [machine()]
    assert [d["id"] for d in st["draining_machines"]] == [other]
    r = requests.post(m.url("/master/maintenance/schedule"),
                      json={"windows": []}, timeout=10)
    assert r.status_code == 400 and "bring it up" in r.text

    m.restart()
    assert m.json("/master/maintenance/status")["down_machines"] == [machine()]
    body = {"agent_id": "newcomer", "hostname": "127.0.0.1",
            "ip": "127.0.0.1", "port": 1, "resources": "cpus:1;mem:64",
            "version": "x", "tasks": []}
    r = m.post("/api/agent/subscribe", json=body, timeout=5)
    assert r.status_code == 410 and "maintenance" in r.json()["message"]

    r = requests.post(m.url("/machine/up"), json=[other], timeout=10)
    assert r.status_code == 400 and "not down" in r.text
    r = requests.post(m.url("/master/machine/up"), json=[machine()],
                      timeout=10)
    assert r.status_code == 200, r.text
    st = m.json("/master/maintenance/status")
    assert st["down_machines"] == [] and \
        [d["id"] for d in st["draining_machines"]] == [other]
    assert m.json("/maintenance/schedule")["windows"][0]["machine_ids"] == \
        [other]
    a.start()
    assert agent_of(m, a.agent_id)["active"] is True


def test_v1_maintenance_calls(cluster):
    m, _, _ = cluster
    box = {"hostname": "box1"}
    schedule = {"windows": [{
        "machine_ids": [box],
        "unavailability": {"start": {"nanoseconds": 1}}}]}
    r = call(m, {"type": "START_MAINTENANCE",
                 "start_maintenance": {"machines": [box]}})
    assert r.status_code == 400 and "schedule" in r.text
    r = call(m, {"type": "UPDATE_MAINTENANCE_SCHEDULE",
                 "update_maintenance_schedule": {"schedule": schedule}})
    assert r.status_code == 200, r.text
    assert read(m, "GET_MAINTENANCE_SCHEDULE") == {"schedule": schedule}
    r = call(m, {"type": "START_MAINTENANCE",
                 "start_maintenance": {"machines": [box, box]}})
    assert r.status_code == 400 and "twice" in r.text
    r = call(m, {"type": "START_MAINTENANCE",
                 "start_maintenance": {"machines": [box]}})
    assert r.status_code == 200, r.text
    assert read(m, "GET_MAINTENANCE_STATUS") == {"status": {
        "draining_machines": [], "down_machines": [box]}}
    m.restart()
    assert read(m, "GET_MAINTENANCE_STATUS")["status"]["down_machines"] == \
        [box]
    r = call(m, {"type": "STOP_MAINTENANCE",
                 "stop_maintenance": {"machines": [box]}})
    assert r.status_code == 200, r.text
    assert read(m, "GET_MAINTENANCE_STATUS") == {"status": {
        "draining_machines": [], "down_machines": []}}
    assert read(m, "GET_MAINTENANCE_SCHEDULE") == {"schedule": {}}
