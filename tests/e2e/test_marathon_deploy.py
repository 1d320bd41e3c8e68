"""marathon.so deployments end to end: rolling restart, constraints and
the launch queue, failover through ZooKeeper, a master killed in the
middle of a deployment, killing tasks by host, and cancelling a stuck
deployment (marathon-api.md §1.4, §1.5, §3.2, §3.3, §3.6, §3.11).

Real agora-master and agora-agent processes; tasks are real processes
(`/usr/bin/python3 -m http.server $PORT0` where a health check needs
something to answer). What is asserted is what a Marathon client sees
over HTTP, and, where it matters, which processes the agents run.
"""
import os
import signal
import threading
import time

from conftest import Agent, kill_leftovers, wait_for
from marathon_fixture import (MarathonClient, marathon_cluster,  # noqa: F401
                              plugin_port,
                              write_marathon_conf)
from test_ha import ha_args, leader_of, zk  # noqa: F401 - zk is a fixture

TERMINAL = {"TASK_FINISHED", "TASK_FAILED", "TASK_KILLED", "TASK_ERROR",
            "TASK_LOST", "TASK_DROPPED", "TASK_GONE", "TASK_GONE_BY_OPERATOR",
            "TASK_UNKNOWN"}

HTTP_CMD = "exec /usr/bin/python3 -m http.server $PORT0"


def http_check(grace=30):
    return [{"protocol": "HTTP", "path": "/", "portIndex": 0,
             "intervalSeconds": 1, "timeoutSeconds": 1,
             "gracePeriodSeconds": grace, "maxConsecutiveFailures": 3}]


def alive(task):
    """True when the task's health check says alive (Marathon's
    healthCheckResults: empty until the first result)."""
    res = task.get("healthCheckResults") or []
    return bool(res) and all(r.get("alive") is True for r in res)


def live(tasks):
    return [t for t in tasks if t["state"] not in TERMINAL]


def create(mar, app):
    r = mar.post("/v2/apps", json=app)
    assert r.status_code == 201, r.text
    return r.headers["Marathon-Deployment-Id"]


def wait_healthy(mar, app_id, n, timeout=30.0):
    """Until the app has n tasks, all running and alive, no deployment."""
    def ok():
        a = mar.app(app_id)
        ts = a["tasks"]
        return (len(ts) == n and not a["deployments"] and
                all(t["state"] == "TASK_RUNNING" and alive(t) for t in ts)
                and a)
    return wait_for(ok, timeout, interval=0.1,
                    what="%s to have %d healthy tasks" % (app_id, n))


def agent_running(agents, prefix):
    """Ids of the tasks the agents run (TASK_RUNNING) whose id starts with
    prefix: the processes, as opposed to what marathon.so says."""
    out = set()
    for a in agents:
        for t in a.state()["tasks"]:
            if t["id"].startswith(prefix) and t["state"] == "TASK_RUNNING":
                out.add(t["id"])
    return out


def queue_entry(mar, app_id):
    for q in mar.get("/v2/queue").json()["queue"]:
        if q["app"]["id"] == app_id:
            return q
    return None


def rejects(entry):
    """{reason: declined} of a queue entry's rejectSummaryLastOffers."""
    return {r["reason"]: r["declined"] for r in
            entry["processedOffersSummary"]["rejectSummaryLastOffers"]}


# ---- 1. rolling restart (§3.2) ----

def test_rolling_restart_keeps_minimum_health_capacity(marathon_cluster):
    """4 instances, minimumHealthCapacity 0.5, maximumOverCapacity 0:
    during POST /restart there are never fewer than 2 healthy tasks nor
    more than 4 tasks, sampled every 100 ms; afterwards 4 new tasks."""
    m, mar, agent = marathon_cluster
    ag = agent()
    create(mar, {"id": "roll", "cmd": HTTP_CMD, "cpus": 0.1, "mem": 64,
                 "instances": 4, "portDefinitions": [{"port": 0}],
                 "healthChecks": http_check(),
                 "upgradeStrategy": {"minimumHealthCapacity": 0.5,
                                     "maximumOverCapacity": 0}})
    before = {t["id"] for t in wait_healthy(mar, "roll", 4)["tasks"]}

    r = mar.post("/v2/apps/roll/restart")
    assert r.status_code == 200, r.text
    dep = r.json()["deploymentId"]
    assert r.json()["version"]

    samples = []  # (seconds since restart, live ids, healthy ids, agent ids)
    t0 = time.monotonic()
    while True:
        a = mar.app("roll")
        ts = live(a["tasks"])
        samples.append((round(time.monotonic() - t0, 2),
                        sorted(t["id"][-8:] + ":" + t["state"][5:] for t in ts),
                        len([t for t in ts if alive(t)]),
                        len(agent_running([ag], "roll."))))
        if dep not in [d["id"] for d in a["deployments"]]:
            break
        assert time.monotonic() - t0 < 60, \
            "the restart did not finish in 60 s; last samples: %s" % samples[-5:]
        time.sleep(0.1)

    worst_healthy = min(s[2] for s in samples)
    most_tasks = max(len(s[1]) for s in samples)
    assert worst_healthy >= 2, "fewer than 2 healthy: %s" % [
        s for s in samples if s[2] < 2][:5]
    assert most_tasks <= 4, "more than 4 tasks (maximumOverCapacity 0): %s" % [
        s for s in samples if len(s[1]) > 4][:5]
    assert max(s[3] for s in samples) <= 4, \
        "an agent ran more than 4 tasks: %s" % [s for s in samples if s[3] > 4][:5]
    after = {t["id"] for t in wait_healthy(mar, "roll", 4)["tasks"]}
    assert len(after) == 4 and not (after & before), (before, after)
    assert agent_running([ag], "roll.") == after


def test_rolling_restart_one_extra_at_a_time(marathon_cluster):
    """{minimumHealthCapacity 1, maximumOverCapacity 0} (§3.2: "start 1
    extra, kill 1 old per new healthy"): 3 instances without health
    checks (running = healthy) are all replaced, never fewer than 3
    running nor more than 4 tasks."""
    m, mar, agent = marathon_cluster
    ag = agent()
    create(mar, {"id": "one", "cmd": "sleep 600", "cpus": 0.1, "mem": 16,
                 "instances": 3,
                 "upgradeStrategy": {"minimumHealthCapacity": 1,
                                     "maximumOverCapacity": 0}})
    before = {t["id"] for t in mar.wait_running("one", 3)["tasks"]}
    r = mar.post("/v2/apps/one/restart")
    assert r.status_code == 200, r.text
    dep = r.json()["deploymentId"]
    samples = []  # (seconds, live ids:state)
    t0 = time.monotonic()
    while True:
        a = mar.app("one")
        ts = live(a["tasks"])
        samples.append((round(time.monotonic() - t0, 2),
                        sorted(t["id"][-8:] + ":" + t["state"][5:] for t in ts)))
        if dep not in [d["id"] for d in a["deployments"]]:
            break
        assert time.monotonic() - t0 < 30, \
            "the restart did not finish in 30 s; samples: %s; deployments: %s" \
            % (samples[:3] + samples[-3:], mar.get("/v2/deployments").json())
        time.sleep(0.1)
    assert min(sum(x.endswith(":RUNNING") for x in s[1]) for s in samples) >= 3, \
        [s for s in samples if sum(x.endswith(":RUNNING") for x in s[1]) < 3][:5]
    assert max(len(s[1]) for s in samples) <= 4, \
        [s for s in samples if len(s[1]) > 4][:5]
    after = {t["id"] for t in mar.wait_running("one", 3)["tasks"]}
    assert not (after & before), (before, after)
    assert agent_running([ag], "one.") == after


# ---- 2. constraints and the queue (§3.6, §1.5) ----

def three_hosts(agent):
    """h1 and h2 in rack r1, h3 in rack r2."""
    return [agent(hostname="h1", attributes="rack:r1"),
            agent(hostname="h2", attributes="rack:r1"),
            agent(hostname="h3", attributes="rack:r2")]


def test_unique_hostname_leaves_the_fourth_waiting(marathon_cluster):
    m, mar, agent = marathon_cluster
    three_hosts(agent)
    dep = create(mar, {"id": "uniq", "cmd": "sleep 600", "cpus": 0.1,
                       "mem": 16, "instances": 4,
                       "constraints": [["hostname", "UNIQUE"]]})

    def three():
        ts = mar.running("uniq")
        return len(ts) == 3 and ts
    ts = wait_for(three, 20, interval=0.1, what="3 tasks of /uniq running")
    assert sorted(t["host"] for t in ts) == ["h1", "h2", "h3"]

    def waiting():
        e = queue_entry(mar, "/uniq")
        return e and rejects(e).get("UnfulfilledConstraint", 0) > 0 and e
    e = wait_for(waiting, 20, interval=0.2,
                 what="/uniq in /v2/queue declined for UnfulfilledConstraint")
    assert e["count"] == 1, e
    assert e["delay"]["overdue"] is True, e
    assert e["processedOffersSummary"]["processedOffersCount"] > 0, e
    assert e["processedOffersSummary"]["unusedOffersCount"] > 0, e
    # Resources were never the reason.
    assert rejects(e).get("InsufficientCpus", 0) == 0, e
    assert rejects(e).get("InsufficientMemory", 0) == 0, e
    # The 4th stays waiting: still 3, the deployment still running.
    a = mar.app("uniq")
    assert a["tasksRunning"] == 3 and len(a["tasks"]) == 3, a["tasks"]
    assert [d["id"] for d in a["deployments"]] == [dep]


def test_max_per_and_group_by_over_an_attribute(marathon_cluster):
    m, mar, agent = marathon_cluster
    three_hosts(agent)
    rack = {"h1": "r1", "h2": "r1", "h3": "r2"}

    def per_rack(app_id):
        out = {}
        for t in mar.running(app_id):
            out[rack[t["host"]]] = out.get(rack[t["host"]], 0) + 1
        return out

    # MAX_PER 1 over 2 racks: 2 of 3 run, one per rack, the 3rd waits.
    create(mar, {"id": "maxper", "cmd": "sleep 600", "cpus": 0.1, "mem": 16,
                 "instances": 3, "constraints": [["rack", "MAX_PER", "1"]]})
    wait_for(lambda: len(mar.running("maxper")) == 2, 20, interval=0.1,
             what="2 tasks of /maxper")

    def waiting():
        e = queue_entry(mar, "/maxper")
        return e and rejects(e).get("UnfulfilledConstraint", 0) > 0 and e
    e = wait_for(waiting, 20, interval=0.2, what="/maxper waiting in the queue")
    assert e["count"] == 1, e
    assert per_rack("maxper") == {"r1": 1, "r2": 1}
    assert len(mar.tasks("maxper")) == 2

    # GROUP_BY with 2 values: 6 tasks spread 3/3 although rack r1 has
    # two agents; scaling down to 2 keeps the balance (1/1).
    create(mar, {"id": "grp", "cmd": "sleep 600", "cpus": 0.1, "mem": 16,
                 "instances": 6, "constraints": [["rack", "GROUP_BY", "2"]]})
    mar.wait_running("grp", 6)
    assert per_rack("grp") == {"r1": 3, "r2": 3}
    r = mar.patch("/v2/apps/grp", json={"instances": 2})
    assert r.status_code == 200, r.text
    mar.wait_running("grp", 2)
    assert per_rack("grp") == {"r1": 1, "r2": 1}


def test_bad_constraints_are_422(marathon_cluster):
    m, mar, agent = marathon_cluster
    cases = [
        (["hostname", "FOO"], "operator must be one of the following UNIQUE, "
         "CLUSTER, GROUP_BY, LIKE, MAX_PER, UNLIKE or IS"),
        (["hostname"], "Each constraint must have either 2 or 3 fields"),
        (["hostname", "UNIQUE", "x"], "UNIQUE does not accept a value"),
        (["rack", "MAX_PER", "two"], "MAX_PER requires an integer value"),
        (["rack", "GROUP_BY", "x"],
         "GROUP BY must define an integer value or else no value at all"),
        (["rack", "LIKE"],
         "LIKE and UNLIKE require a non-empty, regular expression value"),
    ]
    for c, msg in cases:
        r = mar.post("/v2/apps", json={"id": "badc", "cmd": "sleep 1",
                                       "constraints": [["hostname", "UNIQUE"], c]})
        assert r.status_code == 422, (c, r.status_code, r.text)
        body = r.json()
        assert body["message"] == "Object is not valid", body
        hits = [d for d in body["details"] if d["path"].startswith("/constraints")
                and any(msg in e for e in d["errors"])]
        assert hits, (c, body)
        # The second constraint is the bad one: its index is in the path.
        assert all("(1)" in d["path"] for d in hits), (c, body)
    assert mar.get("/v2/apps/badc").status_code == 404
    # The operator's case does not matter; it is returned upper-case.
    r = mar.post("/v2/apps", json={"id": "goodc", "cmd": "sleep 1",
                                   "instances": 0,
                                   "constraints": [["hostname", "unique"]]})
    assert r.status_code == 201, r.text
    assert r.json()["constraints"] == [["hostname", "UNIQUE"]]


# ---- 3. failover (§3.11) ----

def start_marathon_masters(master_factory, zk, n=3):
    masters = []
    for _ in range(n):
        m = master_factory(args=ha_args(zk))
        m.mar_port = plugin_port(m)
        write_marathon_conf(m, m.mar_port)
        masters.append(m.start())
    return masters


def test_failover_keeps_tasks_and_serves_on_the_new_leader(master_factory, zk,
                                                           tmp_path):
    masters = start_marathon_masters(master_factory, zk)
    lead = leader_of(masters)
    agents = [Agent(tmp_path / ("a%d" % i), zk.url()).start(wait=False)
              for i in range(2)]
    try:
        for a in agents:
            a.master = lead
            a.wait_subscribed(timeout=20)
        mar = MarathonClient(lead.mar_port)
        mar.wait_ready()
        create(mar, {"id": "ha", "cmd": "sleep 600", "cpus": 0.1, "mem": 16,
                     "instances": 3})
        ids = {t["id"] for t in mar.wait_running("ha", 3)["tasks"]}
        assert agent_running(agents, "ha.") == ids

        # Three failovers (the killed master comes back as a standby):
        # each new leader reads the store while the agents re-register
        # and report their tasks, a race that one round may not show.
        for rnd in range(3):
            lead.kill9()
            new = leader_of(masters)
            assert new is not lead
            lead.start()
            lead = new
            for a in agents:
                a.master = new
                a.wait_subscribed(timeout=20)
            mar = MarathonClient(new.mar_port)
            mar.wait_ready(timeout=30)
            info = mar.get("/v2/info").json()
            assert info["elected"] is True, info
            assert info["http_config"]["http_port"] == new.mar_port, info
            app = mar.wait_running("ha", 3, timeout=30)
            assert {t["id"] for t in app["tasks"]} == ids, rnd
            assert agent_running(agents, "ha.") == ids, rnd

        # The new leader acts: a scale to 4 adds one and keeps the 3.
        r = mar.put("/v2/apps/ha", json={"instances": 4})
        assert r.status_code == 200, r.text
        four = {t["id"] for t in mar.wait_running("ha", 4)["tasks"]}
        assert ids < four
        assert agent_running(agents, "ha.") == four

        # A real reload of marathon.so (its conf changed, so SIGHUP
        # loads it again) on the leader keeps every task.
        mark = new.log_mark()
        write_marathon_conf(new, new.mar_port, "max_versions = 49\n")
        new.sighup()
        new.wait_log("loaded 1 apps", since=mark, timeout=20)
        mar.wait_ready()
        assert {t["id"] for t in mar.wait_running("ha", 4)["tasks"]} == four
        assert agent_running(agents, "ha.") == four
    finally:
        for a in agents:
            if a.alive():
                a.stop()
            kill_leftovers(a.work_dir)


# ---- 4. a master killed in the middle of a deployment ----

def test_kill9_mid_deployment_resumes_it(marathon_cluster, tmp_path):
    """Scale 2 -> 4 of a health-checked app whose new tasks cannot become
    healthy until a gate file exists: the deployment is in progress when
    the (only) master is killed -9. After the restart the same deployment
    is there, and it completes once the gate opens; no task changed id."""
    m, mar, agent = marathon_cluster
    ag = agent()
    gate = tmp_path / "gate"
    gate.write_text("open")
    cmd = ("while [ ! -f %s ]; do sleep 0.1; done; %s" % (gate, HTTP_CMD))
    create(mar, {"id": "mid", "cmd": cmd, "cpus": 0.1, "mem": 64,
                 "instances": 2, "portDefinitions": [{"port": 0}],
                 "healthChecks": http_check(grace=300)})
    first = {t["id"] for t in wait_healthy(mar, "mid", 2)["tasks"]}
    gate.unlink()

    r = mar.put("/v2/apps/mid", json={"instances": 4})
    assert r.status_code == 200, r.text
    dep = r.json()["deploymentId"]

    def four_running():
        ts = mar.tasks("mid")
        return (len(ts) == 4 and all(t["state"] == "TASK_RUNNING" for t in ts)
                and ts)
    ts = wait_for(four_running, 20, interval=0.1, what="4 tasks running")
    ids = {t["id"] for t in ts}
    assert first < ids
    assert [d["id"] for d in mar.get("/v2/deployments").json()] == [dep]
    assert agent_running([ag], "mid.") == ids

    m.kill9()
    m.start()
    mar.wait_ready(timeout=30)
    # The deployment was resumed, not lost nor finished early.
    deps = mar.get("/v2/deployments").json()
    assert [d["id"] for d in deps] == [dep], deps
    assert deps[0]["currentActions"][0]["action"] == "ScaleApplication", deps
    a = mar.app("mid")
    assert a["instances"] == 4
    assert {t["id"] for t in a["tasks"]} == ids

    gate.write_text("open")
    done = wait_healthy(mar, "mid", 4, timeout=40)
    assert {t["id"] for t in done["tasks"]} == ids
    assert mar.get("/v2/deployments").json() == []
    assert agent_running([ag], "mid.") == ids


# ---- 5. killing by host; cancelling a stuck deployment (§1.1, §1.4) ----

def test_kill_by_host_and_cancel_a_stuck_deployment(marathon_cluster):
    m, mar, agent = marathon_cluster
    agent(hostname="h1")
    agent(hostname="h2")
    create(mar, {"id": "kh", "cmd": "sleep 600", "cpus": 0.1, "mem": 16,
                 "instances": 4, "constraints": [["hostname", "MAX_PER", "2"]]})
    tasks = mar.wait_running("kh", 4)["tasks"]
    on = {h: {t["id"] for t in tasks if t["host"] == h} for h in ("h1", "h2")}
    assert len(on["h1"]) == 2 and len(on["h2"]) == 2, tasks

    # Kill what runs on h1, without scaling: both are replaced (on h1,
    # MAX_PER 2 leaves no room on h2), h2's untouched, instances kept.
    r = mar.delete("/v2/apps/kh/tasks?host=h1&scale=false")
    assert r.status_code == 200, r.text
    assert {t["id"] for t in r.json()["tasks"]} == on["h1"]

    def replaced():
        a = mar.app("kh")
        ids = {t["id"] for t in mar.running("kh")}
        return (len(ids) == 4 and len(a["tasks"]) == 4
                and not (ids & on["h1"]) and a)
    a = wait_for(replaced, 30, interval=0.2, what="h1's tasks replaced")
    assert a["instances"] == 4
    now = {h: {t["id"] for t in a["tasks"] if t["host"] == h}
           for h in ("h1", "h2")}
    assert now["h2"] == on["h2"]
    assert len(now["h1"]) == 2

    # Scale beyond what MAX_PER 2 allows on 2 hosts: stuck at 4 of 6.
    r = mar.put("/v2/apps/kh", json={"instances": 6})
    assert r.status_code == 200, r.text
    stuck = r.json()["deploymentId"]
    e = wait_for(lambda: queue_entry(mar, "/kh"), 20, interval=0.2,
                 what="/kh in the queue")
    assert e["count"] == 2, e
    assert [d["id"] for d in mar.get("/v2/deployments").json()] == [stuck]
    assert len(mar.running("kh")) == 4

    # DELETE without force: a rollback deployment to instances 4.
    r = mar.delete("/v2/deployments/" + stuck)
    assert r.status_code == 200, r.text
    body = r.json()
    assert set(body) == {"deploymentId", "version"}, body
    assert body["deploymentId"] != stuck
    assert r.headers.get("Marathon-Deployment-Id") == body["deploymentId"]

    def rolled_back():
        a = mar.app("kh")
        return (a["instances"] == 4 and not a["deployments"] and
                mar.get("/v2/deployments").json() == [] and a)
    a = wait_for(rolled_back, 20, interval=0.2, what="the rollback")
    assert {t["id"] for t in a["tasks"]} == now["h1"] | now["h2"]
    assert queue_entry(mar, "/kh") is None

    # Stuck again; DELETE with force: 202, the deployment just goes.
    r = mar.put("/v2/apps/kh", json={"instances": 7})
    assert r.status_code == 200, r.text
    stuck = r.json()["deploymentId"]
    r = mar.delete("/v2/deployments/%s?force=true" % stuck)
    assert r.status_code == 202, r.text
    assert mar.get("/v2/deployments").json() == []
    a = mar.app("kh")
    assert a["deployments"] == [] and a["instances"] == 7
    r = mar.delete("/v2/deployments/" + stuck)
    assert r.status_code == 404
    assert r.json() == {"message": "DeploymentPlan %s does not exist" % stuck}


def test_create_is_answered_once_stored(master_factory, zk):
    """POST /v2/apps answers once the app's records are in the store, as
    Marathon does: with ZooKeeper stopped (SIGSTOP) no answer comes, so a
    master dying then has told no client of an app it would lose; once
    ZooKeeper runs again, 201, and the app and its deployment are read
    back."""
    m = master_factory(args=["--zk=" + zk.url(), "--zk_session_timeout=10secs"])
    m.mar_port = plugin_port(m)
    write_marathon_conf(m, m.mar_port)
    m.start()
    mar = MarathonClient(m.mar_port)
    wait_for(lambda: mar.get("/v2/apps").status_code == 200, 20,
             what="marathon.so to serve")
    with open(os.path.join(zk.dir, "zk.pid")) as f:
        pid = int(f.read())
    got = {}

    def post():
        got["r"] = mar.post("/v2/apps", timeout=30,
                            json={"id": "/held", "cmd": "sleep 1",
                                  "instances": 0})
    os.kill(pid, signal.SIGSTOP)
    try:
        t = threading.Thread(target=post)
        t.start()
        t.join(1.5)
        assert t.is_alive(), "answered before the store wrote: %s" % (
            got["r"].status_code, )
    finally:
        os.kill(pid, signal.SIGCONT)
    t.join(30)
    assert got["r"].status_code == 201, got["r"].text
    assert got["r"].headers.get("Location", "").endswith("/v2/apps/held")
    assert got["r"].headers.get("Marathon-Deployment-Id")
    assert mar.get("/v2/apps/held").json()["app"]["id"] == "/held"
