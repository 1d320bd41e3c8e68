"""agora-agent --master=zk://...: the agent follows the masters' election.

A real ZooKeeper (scripts/zk) and real agora-masters. The election is
played by the test itself where it needs to be steered: it creates the
members' znodes <root>/leader/member_NNNNNNNNNN (ephemeral, sequential)
with kazoo, their data pointing at standalone masters (started without
--zk, they answer an agent as leaders do). The lowest member leads; the
agent must subscribe to it, and move to the next one within a second of
the leader's znode going.
"""
import json
import os
import subprocess
import time

import pytest
from kazoo.client import KazooClient

from conftest import (REPO, SLOW, Agent, free_port, kill_leftovers, wait_for)

ZK_SCRIPT = os.path.join(REPO, "scripts", "zk")
ROOT = "/agora"
PING = ["--agent_ping_timeout=0.5secs", "--max_agent_ping_timeouts=4"]


class ZooKeeper:
    """One standalone ZooKeeper server (scripts/zk) on a free port."""

    def __init__(self, dir):
        self.dir = str(dir)
        self.port = free_port()
        self.running = False
        self.max_session_ms = None  # scripts/zk's 10 s unless set

    @property
    def hosts(self):
        return "127.0.0.1:%d" % self.port

    def url(self, root=ROOT):
        return "zk://%s%s" % (self.hosts, root)

    def start(self):
        env = dict(os.environ)
        if self.max_session_ms:
            env["ZK_MAX_SESSION_TIMEOUT"] = str(self.max_session_ms)
        r = subprocess.run([ZK_SCRIPT, "start", self.dir, str(self.port)],
                           capture_output=True, text=True, timeout=60,
                           env=env)
        assert r.returncode == 0, "scripts/zk start failed:\n%s%s" % (r.stdout, r.stderr)
        self.running = True
        return self

    def stop(self):
        subprocess.run([ZK_SCRIPT, "stop", self.dir], capture_output=True,
                       text=True, timeout=60)
        self.running = False


@pytest.fixture
def zk(tmp_path):
    """A ZooKeeper, not started yet (.start() it)."""
    z = ZooKeeper(tmp_path / "zk")
    yield z
    if z.running:
        z.stop()


class Election:
    """The masters' election, played by the test through kazoo."""

    def __init__(self, zk, timeout=10.0):
        self.client = KazooClient(hosts=zk.hosts, timeout=timeout)
        self.client.start(timeout=15.0)
        self.dir = ROOT + "/leader"

    def member(self, master=None, data=None):
        """Creates a member whose data points at master (or is data);
        returns its path."""
        if data is None:
            data = json.dumps({
                "id": "master-%d" % master.port, "hostname": "127.0.0.1",
                "ip": "127.0.0.1", "port": master.port,
                "pid": "master@127.0.0.1:%d" % master.port,
                "version": "0.1.0", "plugin_ports": {}})
        return self.client.create(self.dir + "/member_", data.encode(),
                                  ephemeral=True, sequence=True, makepath=True)

    def delete(self, path):
        self.client.delete(path)

    def close(self):
        self.client.stop()
        self.client.close()


@pytest.fixture
def election_factory():
    made = []

    def make(zk, **kw):
        e = Election(zk, **kw)
        made.append(e)
        return e

    yield make
    for e in made:
        e.close()


@pytest.fixture
def agents(tmp_path):
    """agents(url) -> an Agent (not started) with --master=url; stopped at
    the end (exit 0 asserted)."""
    made = []

    def make(url):
        a = Agent(tmp_path / ("agent%d" % len(made)), url)
        made.append(a)
        return a

    yield make
    for a in made:
        if a.alive():
            a.stop()
        kill_leftovers(a.work_dir)


def agent_state_on(master, agent):
    """The agent's entry in master's /master/agents, or None."""
    aid = agent.state()["id"]
    for e in master.json("/master/agents")["agents"]:
        if e["id"] == aid:
            return e
    return None


def on(master, agent):
    """True when master lists the agent active and connected."""
    e = agent_state_on(master, agent)
    return bool(e and e["state"] == "active" and e["connected"])


def gone_from(master, agent):
    """True when master no longer holds the agent's stream."""
    e = agent_state_on(master, agent)
    return e is not None and not e["connected"]


def wait_on(master, agent, timeout=10.0):
    wait_for(lambda: on(master, agent), timeout,
             what="the agent to subscribe to the master on port %d" % master.port)


def timed_move(agent, master, change, limit=1.0):
    """Runs change() and returns how long the agent took to be active
    and connected on master after it; fails past limit (x SLOW)."""
    t0 = time.monotonic()
    change()
    wait_for(lambda: on(master, agent), limit,
             interval=0.01, what="the agent on port %d within %.1fs"
             % (master.port, limit * SLOW))
    return time.monotonic() - t0


def agent_log_has(agent, text):
    return text in agent.log()


def test_agent_follows_the_leader(zk, election_factory, master_factory, agents):
    """member_A < member_B: the agent subscribes to A; A's znode goes:
    to B within a second, and A sees its stream close; A contends again
    and B's znode goes: back to A."""
    zk.start()
    ma = master_factory(args=PING).start()
    mb = master_factory(args=PING).start()
    e = election_factory(zk)
    za = e.member(ma)
    e.member(mb)
    a = agents(zk.url())
    a.start(wait=False)
    wait_on(ma, a)
    assert agent_state_on(mb, a) is None

    took = timed_move(a, mb, lambda: e.delete(za))
    wait_for(lambda: gone_from(ma, a), 5.0,
             what="master A to see the agent's stream close")
    assert "leaving master http://127.0.0.1:%d for the new leader 127.0.0.1:%d" \
        % (ma.port, mb.port) in a.log()

    # A contends again (a new, higher member): B still leads, nothing moves.
    za2 = e.member(ma)
    time.sleep(0.3)
    assert on(mb, a) and not on(ma, a)
    # B's member goes (kazoo keeps its session: delete it): A again.
    zb = [p for p in e.client.get_children(e.dir)
          if e.dir + "/" + p != za2][0]
    timed_move(a, ma, lambda: e.delete(e.dir + "/" + zb))
    wait_for(lambda: gone_from(mb, a), 5.0,
             what="master B to see the agent's stream close")
    assert a.alive()
    print("moved to the new leader in %.3f s" % took)


def test_agent_waits_for_a_leader(zk, election_factory, master_factory, agents):
    """No <root>/leader at all: the agent waits, then subscribes as soon
    as a member appears. All members gone: the stream it has stays. A
    lowest member whose data says no address is waited out."""
    zk.start()
    ma = master_factory(args=PING).start()
    mb = master_factory(args=PING).start()
    a = agents(zk.url())
    a.start(wait=False)
    wait_for(lambda: agent_log_has(a, "no master contends in /agora/leader"),
             10.0, what="the agent to wait for a leader")
    time.sleep(0.5)
    assert agent_state_on(ma, a) is None and agent_state_on(mb, a) is None

    e = election_factory(zk)
    made = []
    timed_move(a, ma, lambda: made.append(e.member(ma)))
    za = made[0]

    # No member left: no leader known, the stream to A stays.
    e.delete(za)
    wait_for(lambda: a.log().count("no master contends") >= 2, 5.0,
             what="the agent to see no leader")
    time.sleep(1.0)
    assert on(ma, a)

    # The lowest member says nothing usable: wait; when it goes, B leads.
    bad = e.member(data="not json")
    zb = e.member(mb)
    wait_for(lambda: agent_log_has(a, "gives no usable address"), 5.0,
             what="the agent to refuse the bad member")
    time.sleep(0.5)
    assert on(ma, a) and agent_state_on(mb, a) is None
    timed_move(a, mb, lambda: e.delete(bad))
    assert e.client.exists(zb)


def test_zookeeper_down_at_agent_start(zk, election_factory, master_factory,
                                       agents):
    """ZooKeeper does not answer when the agent starts: it runs, keeps
    trying, and subscribes once ZooKeeper is up and a master leads."""
    ma = master_factory(args=PING).start()
    a = agents(zk.url())
    a.start(wait=False)
    wait_for(lambda: agent_log_has(a, "no leading master known: waiting"),
             10.0, what="the agent to start")
    time.sleep(2.0)
    assert a.alive() and agent_state_on(ma, a) is None
    zk.start()
    e = election_factory(zk)
    e.member(ma)
    wait_on(ma, a, timeout=20.0)


def test_zookeeper_restart_keeps_the_stream(zk, election_factory,
                                            master_factory, agents):
    """ZooKeeper goes down under a subscribed agent: the stream to the
    leader stays. ZooKeeper back (same data, within the session timeout):
    the agent follows the election again."""
    # A ZooKeeper's JVM may take over 10 s to start again on a loaded
    # machine: kazoo's session must outlast that for its members to stay.
    zk.max_session_ms = 40000
    zk.start()
    ma = master_factory(args=PING).start()
    mb = master_factory(args=PING).start()
    e = election_factory(zk, timeout=40.0)
    za = e.member(ma)
    e.member(mb)
    a = agents(zk.url())
    a.start(wait=False)
    wait_on(ma, a)
    zk.stop()
    time.sleep(2.0)
    assert on(ma, a) and agent_state_on(mb, a) is None
    zk.start()
    # kazoo's session survives too: its members are still there.
    wait_for(lambda: e.client.connected and e.client.exists(za), 15.0,
             what="kazoo to reconnect")
    wait_for(lambda: agent_log_has(a, "ZooKeeper session up") and
             a.log().count("ZooKeeper session up") >= 2, 15.0,
             what="the agent to reconnect")
    timed_move(a, mb, lambda: e.delete(za))
    wait_for(lambda: gone_from(ma, a), 5.0, what="A to lose the agent")


@pytest.mark.parametrize("url,why", [
    ("zk://127.0.0.1:2181", "is not zk://"),
    ("zk://127.0.0.1:2181/", "is not zk://"),
])
def test_bad_zk_url(tmp_path, url, why):
    """A zk:// URL without a path is refused at start, with a reason."""
    a = Agent(tmp_path / "agent", url)
    a.start(wait=False)
    rc = a.proc.wait(10 * SLOW)
    a.proc = None
    assert rc != 0
    assert why in a.log(), a.log()


# ---- real masters with --zk ----

def elected(master):
    return master.metrics()["master/elected"] == 1


def on_leader(master, agent):
    """master leads and lists the agent active and connected (asked
    without following a standby's redirect to the leader)."""
    if not elected(master):
        return False
    aid = agent.state()["id"]
    r = master.get("/master/agents", allow_redirects=False)
    if r.status_code != 200:
        return False
    for e in r.json()["agents"]:
        if e["id"] == aid:
            return e["state"] == "active" and e["connected"]
    return False


def test_agent_follows_real_masters(zk, master_factory, agents):
    """Two agora-masters with --zk: the agent subscribes to the elected
    one; it stops (its znode goes with its session): the agent is on the
    other as soon as that one leads. The first comes back as a standby;
    the leader is killed: its session expires, the first leads again,
    and the agent follows."""
    zk.start()
    args = PING + ["--zk=" + zk.url(), "--zk_session_timeout=2secs"]
    ma = master_factory(args=args).start()
    wait_for(lambda: elected(ma), 15.0, what="master A to be elected")
    mb = master_factory(args=args).start()
    time.sleep(0.5)
    assert not elected(mb)
    a = agents(zk.url())
    a.start(wait=False)
    wait_for(lambda: on_leader(ma, a), 15.0, what="the agent on master A")

    ma.stop()
    t0 = time.monotonic()
    wait_for(lambda: elected(mb), 5.0, interval=0.01, what="B to be elected")
    t1 = time.monotonic()
    wait_for(lambda: on_leader(mb, a), 1.0, interval=0.01,
             what="the agent on B within a second of B's election")
    t2 = time.monotonic()
    print("B elected %.3f s after A stopped; the agent on B %.3f s later"
          % (t1 - t0, t2 - t1))

    ma.start()
    time.sleep(0.5)
    assert not elected(ma) and on_leader(mb, a)
    mb.kill9()
    wait_for(lambda: elected(ma), 15.0, interval=0.01, what="A to lead again")
    wait_for(lambda: on_leader(ma, a), 1.0, interval=0.01,
             what="the agent on A within a second of A's election")
    assert a.alive()
