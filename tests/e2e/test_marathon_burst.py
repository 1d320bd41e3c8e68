"""marathon.so in a burst of new apps: offers kept, puts gathered.

An offer no waiting app can use is kept for offer_hold seconds (to twice
that) while apps keep arriving, and the next app is filled from it
without a revive; past its time it is declined. The plugin's puts of one
pass of the loop go to the store as one transaction; deletes and reads
wait for them, so that the store sees the plugin's calls in order.
Real agents, real tasks, the plugin's own counters in /metrics.
"""
import pytest

from conftest import Agent, kill_leftovers, wait_for
from marathon_fixture import MarathonClient, plugin_port, write_marathon_conf


def app(app_id, instances=1, cpus=0.1):
    return {"id": app_id, "cmd": "sleep 600", "cpus": cpus, "mem": 16,
            "instances": instances, "portDefinitions": []}


def counters(mar):
    m = mar.get("/metrics").json()
    c = {k: v["count"] for k, v in m["counters"].items()}
    c.update({k: v["value"] for k, v in m["gauges"].items()})
    return c


@pytest.fixture
def burst_cluster(tmp_path, master_factory):
    """A master whose marathon.conf holds the test's extra lines, two
    agents (h1, h2) of 1 cpu each."""
    made = []

    def make(extra):
        m = master_factory(args=["--agent_ping_timeout=0.5secs",
                                 "--max_agent_ping_timeouts=4"])
        port = plugin_port(m)
        write_marathon_conf(m, port, extra)
        m.start()
        mar = MarathonClient(port)
        mar.wait_ready()
        for i, h in enumerate(("h1", "h2")):
            a = Agent(tmp_path / h, m, args=["--hostname=" + h,
                                             "--attributes=rack:r%d" % (i + 1)],
                      resources="cpus:1;mem:1024;disk:1000;"
                                "ports:[%d-%d]" % (31000 + 100 * i,
                                                   31009 + 100 * i))
            made.append(a)
            a.start()
        wait_for(lambda: m.json("/master/state")["activated_slaves"] == 2, 20,
                 what="two agents")
        return m, mar

    yield make
    for a in made:
        if a.alive():
            a.stop()
        kill_leftovers(a.work_dir)


def test_next_app_is_filled_from_the_kept_offer(burst_cluster):
    m, mar = burst_cluster("offer_hold = 60secs\n")
    assert mar.post("/v2/apps", json=app("a")).status_code == 201
    host_a = mar.wait_running("a", 1)["tasks"][0]["host"]
    # Both agents were offered; one offer took a's task, the other one
    # is kept rather than declined.
    c = wait_for(lambda: (lambda c: c["marathon.mesos.offers.held.gauge"] == 1
                          and c)(counters(mar)), 10, what="one offer kept")
    assert c["marathon.mesos.offers.declined.counter"] == 0, c

    # b needs what the kept copy holds: the other agent's hostname, its
    # attribute and a port of its range.
    other = "h2" if host_a == "h1" else "h1"
    b = dict(app("b"), portDefinitions=[{"port": 0}],
             constraints=[["rack", "LIKE", "r" + other[1]],
                          ["hostname", "LIKE", other]])
    assert mar.post("/v2/apps", json=b).status_code == 201
    task_b = mar.wait_running("b", 1)["tasks"][0]
    host_b = task_b["host"]
    after = counters(mar)
    # b took the kept offer (the other agent's), and no offer came for it.
    assert host_b == other, (host_a, host_b)
    low = 31000 if other == "h1" else 31100
    assert low <= task_b["ports"][0] <= low + 9, task_b
    assert after["marathon.mesos.offers.incoming.counter"] == \
        c["marathon.mesos.offers.incoming.counter"], (c, after)
    assert after["marathon.mesos.offers.held.gauge"] == 0, after
    assert after["marathon.mesos.offers.declined.counter"] == 0, after


def test_kept_offer_goes_back_after_its_time(burst_cluster):
    m, mar = burst_cluster("offer_hold = 1secs\n")
    assert mar.post("/v2/apps", json=app("a")).status_code == 201
    mar.wait_running("a", 1)
    c = counters(mar)
    assert c["marathon.mesos.offers.held.counter"] == 1, c
    # Declined within 1-2 s (the plugin's tick); then an app needing both
    # agents (a task of 0.6 cpu fits once on each) revives offers and
    # gets the declined one again.
    wait_for(lambda: counters(mar)["marathon.mesos.offers.held.gauge"] == 0,
             5, interval=0.1, what="the kept offer declined")
    assert counters(mar)["marathon.mesos.offers.declined.counter"] == 1
    assert mar.post("/v2/apps", json=app("b", 2, 0.6)).status_code == 201
    mar.wait_running("b", 2, timeout=40)
    hosts = {t["host"] for t in mar.tasks("b")}
    assert hosts == {"h1", "h2"}, hosts


def test_offer_hold_0_declines_at_once(burst_cluster):
    m, mar = burst_cluster("offer_hold = 0\n")
    assert mar.post("/v2/apps", json=app("a")).status_code == 201
    mar.wait_running("a", 1)
    c = wait_for(lambda: (lambda c: c["marathon.mesos.offers.declined.counter"]
                          == 1 and c)(counters(mar)), 10, what="a decline")
    assert c["marathon.mesos.offers.held.counter"] == 0, c
    assert c["marathon.mesos.offers.held.gauge"] == 0, c


def test_puts_land_in_order_and_survive_a_restart(burst_cluster):
    """Many puts in one pass go as transactions; a delete right after a
    put, a read right after a change and a stop right after the answers
    all see them in the order made."""
    m, mar = burst_cluster("")
    r = mar.put("/v2/apps", json=[app("p%d" % i, 0) for i in range(80)])
    assert r.status_code == 200, r.text
    # A change then at once the versions: both versions are read back.
    r = mar.put("/v2/apps/p0", json={"cmd": "sleep 601"})
    assert r.status_code == 200, r.text
    versions = mar.get("/v2/apps/p0/versions").json()["versions"]
    assert len(versions) == 2, versions
    # Created and deleted at once: gone for good.
    assert mar.post("/v2/apps", json=app("gone", 0)).status_code == 201
    assert mar.delete("/v2/apps/gone").status_code == 200
    c = counters(mar)
    assert c["marathon.store.txns.counter"] >= 1, c
    assert c["marathon.store.puts.counter"] > c["marathon.store.txns.counter"]
    m.stop()
    m.start()
    mar.wait_ready()
    ids = {a["id"] for a in mar.get("/v2/apps").json()["apps"]}
    assert ids == {"/p%d" % i for i in range(80)}, sorted(ids)
    assert mar.app("p0")["cmd"] == "sleep 601"
    assert len(mar.get("/v2/apps/p0/versions").json()["versions"]) == 2
