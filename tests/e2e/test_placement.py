"""Placing tasks from offers, end to end.

The placer test plugin (tests/plugins/placer.c) packs pending tasks into
the offers it receives; real agents (or simcluster's simulated ones) run
them, and the master's books must add up: per-agent used resources, the
cluster metrics, and everything free again once the tasks are killed.
"""
import os

from conftest import TEST_PLUGINS, Placer, wait_for

CPUS, MEM = 0.01, 8


def used(slave, name):
    return slave["used_resources"].get(name, 0)


def placer_master(master_factory, args=()):
    """A started master with the placer plugin (no agents of its own)."""
    m = master_factory(args=list(args))
    with open(os.path.join(m.conf_dir, "placer.conf"), "w") as f:
        f.write("plugin = %s\n" % os.path.join(TEST_PLUGINS, "placer.so"))
    return m.start()


def store_settled(m):
    """Waits until the master's store has written everything queued (the
    registrations of many agents subscribing at once). A master stopped
    before that leaks each pending registration's callback argument
    (core/agents.c, agent_persist), which the sanitizers report; that is
    not what these tests are about."""
    wait_for(lambda: m.metrics()["master/store_pending"] == 0, timeout=30,
             what="the store to write the agents' registrations")


def check_books(m, n, cpus, mem):
    """The master's accounts for n live tasks of cpus/mem each."""
    slaves = m.json("/master/slaves")["slaves"]
    total_cpus = sum(used(s, "cpus") for s in slaves)
    total_mem = sum(used(s, "mem") for s in slaves)
    assert abs(total_cpus - n * cpus) < 1e-3, total_cpus
    assert abs(total_mem - n * mem) < 1e-3, total_mem
    for s in slaves:
        for name in ("cpus", "mem", "disk"):
            assert used(s, name) <= s["resources"].get(name, 0) + 1e-9, s
    live = sum(s["tasks"] for s in slaves)
    metrics = m.metrics()
    assert metrics["master/tasks_running"] == n, metrics
    assert abs(metrics["master/cpus_used"] - n * cpus) < 1e-3, metrics
    assert abs(metrics["master/mem_used"] - n * mem) < 1e-3, metrics
    # The role's figures: its total is the cluster's unreserved cpus, and
    # what it holds is at least what its tasks use (offers come on top).
    total = sum(s["resources"]["cpus"] for s in slaves)
    assert abs(metrics["allocator/roles/*/cpus/total"] - total) < 1e-3, metrics
    held = metrics["allocator/roles/*/cpus/allocated"]
    offered = metrics["allocator/roles/*/cpus/offered"]
    assert abs(held - offered - n * cpus) < 1e-3, metrics
    return slaves, live


def test_place_1000_tasks_on_20_real_agents(placer_cluster):
    m, placer, start_agents = placer_cluster
    agents = start_agents(20)
    # At most 50 a offer: the first cycle's 20 offers take them all,
    # so every agent runs some and none runs them all.
    placer.target(1000, prefix="pl", resources="cpus:%g;mem:%g" % (CPUS, MEM),
                  max_per_offer=50)
    s = placer.wait("running", 1000, timeout=90)
    assert s["pending"] == 0 and s["launched"] == 1000, s
    assert s["accepts"] >= 20 and s["accept_errors"] == 0, s

    slaves, _ = check_books(m, 1000, CPUS, MEM)
    assert len(slaves) == 20
    per_agent = sorted(used(x, "cpus") for x in slaves)
    assert per_agent[0] > 0 and per_agent[-1] <= 50 * CPUS + 1e-9, per_agent
    # The agents agree: 1,000 tasks running between them.
    running = 0
    for a in agents:
        running += sum(1 for t in a.state()["tasks"] if t["state"] == "TASK_RUNNING")
    assert running == 1000

    placer.kill_all()
    s = placer.wait("killed", 1000, timeout=90)
    assert s["running"] == 0, s
    check_books(m, 0, CPUS, MEM)
    wait_for(lambda: m.metrics()["allocator/roles/*/cpus/allocated"] == 0,
             what="the allocator to free every cpu")


def test_simcluster_smoke(master_factory, simcluster):
    """200 simulated agents, 2,000 tasks placed from offers: all RUNNING,
    the books add up, and all are free again after kill_all."""
    m = placer_master(master_factory)
    sim = simcluster(m, 200, "--resources=cpus:2;mem:2048;disk:1000")
    wait_for(lambda: m.metrics()["master/slaves_active"] == 200, timeout=20,
             what="200 simulated agents to subscribe")
    placer = Placer(m)
    placer.target(2000, prefix="sm", resources="cpus:0.1;mem:64")
    s = placer.wait("running", 2000, timeout=30)
    assert s["pending"] == 0 and s["accept_errors"] == 0, s
    slaves, live = check_books(m, 2000, 0.1, 64)
    assert live == 2000
    # 20 fit an agent (2 cpus / 0.1): packed onto 100 of the 200.
    assert sum(1 for x in slaves if x["tasks"]) == 100

    placer.kill_all()
    placer.wait("killed", 2000, timeout=30)
    check_books(m, 0, 0.1, 64)
    r = sim.stop()
    assert r["launches"] == 2000 and r["kills"] == 2000, r
    assert r["sent_running"] == 2000 and r["sent_killed"] == 2000, r
    assert r["acks"] == 4000 and r["waiting_acks"] == 0, r
    assert r["posts_failed"] == 0 and r["reconnects"] == 0, r
    assert r["tasks"] == 0, r  # every task ended and was acknowledged
    store_settled(m)


def test_simcluster_direct_and_finish(master_factory, simcluster):
    """Direct launches without offers, and simcluster's TASK_FINISHED after
    --finish_after; pings are answered, so agents stay active."""
    m = placer_master(master_factory, ["--agent_ping_timeout=0.2secs",
                                       "--max_agent_ping_timeouts=3"])
    sim = simcluster(m, 20, "--finish_after=0.5", "--id_prefix=fin")
    wait_for(lambda: m.metrics()["master/slaves_active"] == 20, timeout=20,
             what="20 simulated agents to subscribe")
    placer = Placer(m)
    placer.target(200, prefix="fd", resources="cpus:0.1;mem:64",
                  direct={"agent_prefix": "fin-", "agents": 20})
    placer.wait("finished", 200, timeout=20)
    metrics = m.metrics()
    assert metrics["master/tasks_finished"] == 200, metrics
    assert metrics["master/tasks_running"] == 0, metrics
    assert metrics["master/slaves_active"] == 20, metrics
    r = sim.stop()
    assert r["sent_finished"] == 200 and r["pongs"] > 0, r
    assert r["subscribed"] == 20 and r["reconnects"] == 0, r
    store_settled(m)
