"""Several masters through a real ZooKeeper: election, failover that
loses nothing, stepping down when ZooKeeper goes, standbys' redirects.

ZooKeeper is Debian's, started by scripts/zk on a free loopback port with
its own data directory; masters run with --zk_session_timeout=2secs.
"""
import os
import shutil
import signal
import subprocess
import threading
import time

import pytest
import requests

from conftest import (REPO, SLOW, TEST_PLUGINS, Agent, Launcher, free_port,
                      hello_count, kill_leftovers, wait_for)

ZK_SCRIPT = os.path.join(REPO, "scripts", "zk")


class ZooKeeper:
    def __init__(self, dir):
        self.dir = str(dir)
        self.port = free_port()

    def start(self):
        subprocess.run([ZK_SCRIPT, "start", self.dir, str(self.port)], check=True,
                       stdout=subprocess.DEVNULL)
        return self

    def stop(self):
        subprocess.run([ZK_SCRIPT, "stop", self.dir], check=True,
                       stdout=subprocess.DEVNULL)

    def url(self, path="/agora"):
        return "zk://127.0.0.1:%d%s" % (self.port, path)


@pytest.fixture
def zk(tmp_path):
    z = ZooKeeper(tmp_path / "zk").start()
    yield z
    z.stop()


def ha_args(zk):
    return ["--zk=" + zk.url(), "--zk_session_timeout=2secs",
            "--agent_ping_timeout=0.5secs", "--max_agent_ping_timeouts=6"]


def start_masters(master_factory, zk, n=3, plugins=("launcher",), hello=None):
    masters = []
    for _ in range(n):
        m = master_factory(args=ha_args(zk))
        if "launcher" in plugins:
            with open(os.path.join(m.conf_dir, "launcher.conf"), "w") as f:
                f.write("plugin = %s\n" % os.path.join(TEST_PLUGINS, "launcher.so"))
        if hello:
            shutil.copyfile(hello, os.path.join(m.conf_dir, "hello.so"))
        masters.append(m.start())
    return masters


def leader_of(masters):
    """The master that says it leads, once all agree on it."""
    def agreed():
        alive = [m for m in masters if m.alive()]
        states = [m.json("/master/state") for m in alive]
        leaders = [m for m, s in zip(alive, states) if s["elected"]]
        if len(leaders) != 1:
            return None
        pid = "master@127.0.0.1:%d" % leaders[0].port
        return leaders[0] if all(s.get("leader") == pid for s in states) else None
    return wait_for(agreed, timeout=15, what="one leader all masters agree on")


def test_one_leader_and_redirects(master_factory, zk):
    masters = start_masters(master_factory, zk)
    lead = leader_of(masters)
    standby = [m for m in masters if m is not lead][0]
    # Core and plugin routes of a standby redirect to the same path on
    # the leader; its own state and health it answers itself.
    r = requests.get(standby.url("/master/tasks?limit=5"), allow_redirects=False,
                     timeout=10 * SLOW)
    assert r.status_code == 307
    assert r.headers["Location"] == lead.url("/master/tasks?limit=5")
    r = requests.get(standby.url("/launcher/statuses"), allow_redirects=False,
                     timeout=10 * SLOW)
    assert r.status_code == 307
    assert r.headers["Location"] == lead.url("/launcher/statuses")
    assert requests.get(standby.url("/launcher/statuses"),
                        timeout=10 * SLOW).json() == []
    r = requests.get(standby.url("/master/redirect"), allow_redirects=False,
                     timeout=10 * SLOW)
    assert r.status_code == 307
    assert r.headers["Location"] == "//%s:%d" % (
        lead.json("/master/state")["hostname"], lead.port)
    assert standby.get("/health").text == "ok"
    st = standby.json("/master/state")
    assert st["elected"] is False and st["store"] == "zk"
    assert st["leader_info"]["port"] == lead.port
    assert standby.metrics()["master/elected"] == 0
    assert lead.metrics()["master/elected"] == 1


def test_abdicate_elects_the_next_master(master_factory, zk):
    """DELETE /v2/leader's service: the leader gives up the lead and
    another master is elected; the one that abdicated stands by."""
    masters = start_masters(master_factory, zk, n=2)
    lead = leader_of(masters)
    other = [m for m in masters if m is not lead][0]
    r = requests.post(lead.url("/launcher/abdicate"), timeout=10 * SLOW)
    assert r.status_code == 202
    wait_for(lambda: other.json("/master/state")["elected"], timeout=15 * SLOW,
             what="the other master to lead")
    assert leader_of(masters) is other
    assert lead.json("/master/state")["elected"] is False
    # The abdicated master still contends: it leads once the other goes.
    other.kill9()
    assert leader_of([lead]) is lead


def test_plugin_port_redirects_to_leaders_plugin_port(master_factory, zk,
                                                      hello_builds):
    masters = []
    for _ in range(2):
        m = master_factory(args=ha_args(zk))
        shutil.copyfile(hello_builds["1.0"], os.path.join(m.conf_dir, "hello.so"))
        m.hello_port = free_port()
        with open(os.path.join(m.conf_dir, "hello.conf"), "w") as f:
            f.write("port = %d\n" % m.hello_port)
        masters.append(m.start())
    lead = leader_of(masters)
    standby = [m for m in masters if m is not lead][0]
    r = requests.get("http://127.0.0.1:%d/" % standby.hello_port,
                     allow_redirects=False, timeout=10 * SLOW)
    assert r.status_code == 307
    assert r.headers["Location"] == "http://127.0.0.1:%d/" % lead.hello_port


def test_state_survives_failover(master_factory, zk, hello_builds):
    """Plugin state written before a failover is read after it: hello's
    count lives in ZooKeeper."""
    masters = start_masters(master_factory, zk, n=2, plugins=(),
                            hello=hello_builds["1.0"])
    lead = leader_of(masters)
    for i in range(1, 4):
        assert hello_count(lead.url("/hello/"))["count"] == i
    wait_for(lambda: lead.metrics()["hello/saved"] == 3, what="count 3 saved")
    lead.kill9()
    new = leader_of(masters)
    assert new is not lead
    assert hello_count(new.url("/hello/"))["count"] == 4


def running_pids(agents):
    out = {}
    for a in agents:
        for t in a.state()["tasks"]:
            if t["state"] == "TASK_RUNNING":
                out[t["id"]] = t["pid"]
    return out


def test_failover_never_kills_tasks(master_factory, zk, tmp_path):
    masters = start_masters(master_factory, zk)
    lead = leader_of(masters)
    agents = [Agent(tmp_path / ("a%d" % i), zk.url()).start(wait=False)
              for i in range(2)]
    try:
        for a in agents:
            a.master = lead
            a.wait_subscribed(timeout=20)
        launcher = Launcher(lead)
        cmd = "while [ ! -f done ]; do sleep 0.05; done; exit 4"
        ids = []
        for i in range(10):
            a = agents[i % 2]
            tid = "ha%d" % i
            ids.append((tid, a))
            launcher.launch(a.agent_id, {"task_id": tid, "command": cmd,
                                         "resources": "cpus:0.1;mem:16"})
        for tid, _ in ids:
            launcher.wait_state(tid, "TASK_RUNNING")
        pids = running_pids(agents)
        assert len(pids) == 10
        for round in range(5):
            lead.kill9()
            new = leader_of(masters)
            assert new is not lead
            lead.start()  # it comes back as a standby
            lead = new
            for a in agents:
                a.master = lead
                a.wait_subscribed(timeout=20)
            # Same processes, still running, after every failover.
            assert running_pids(agents) == pids, round
        # A task that exits now is reported to the plugin on the leader.
        tid, a = ids[round]
        open(os.path.join(a.work_dir, "sandboxes", tid, "done"), "w").close()
        st = Launcher(lead).wait_state(tid, "TASK_FAILED", timeout=20)
        assert "4" in st["message"], st
    finally:
        for a in agents:
            if a.alive():
                a.stop()
            kill_leftovers(a.work_dir)


def test_zookeeper_outage_steps_down_and_kills_nothing(master_factory, zk,
                                                       tmp_path):
    masters = start_masters(master_factory, zk, n=2)
    lead = leader_of(masters)
    a = Agent(tmp_path / "a", zk.url()).start(wait=False)
    try:
        a.master = lead
        a.wait_subscribed(timeout=20)
        launcher = Launcher(lead)
        launcher.launch(a.agent_id, {"task_id": "calm", "command": "sleep 300",
                                     "resources": "cpus:0.1;mem:16"})
        launcher.wait_state("calm", "TASK_RUNNING")
        pid = running_pids([a])["calm"]
        zk.stop()
        # Past the session timeout nobody may act as leader.
        wait_for(lambda: not any(m.json("/master/state")["elected"]
                                 for m in masters),
                 timeout=10, what="every master to step down")
        time.sleep(5 - 2)
        os.kill(pid, 0)  # the task was not killed
        zk.start()
        lead = leader_of(masters)
        a.master = lead
        a.wait_subscribed(timeout=30)
        assert running_pids([a]) == {"calm": pid}
        log = "".join(m.log() for m in masters)
        assert "stepping down" in log or "no longer leading" in log
    finally:
        if a.alive():
            a.stop()
        kill_leftovers(a.work_dir)


def test_frozen_leader_steps_down_before_acting(master_factory, zk):
    """A leader frozen past its session (SIGSTOP) finds another leader
    elected when it runs again: it steps down first thing, from its own
    clock, before ZooKeeper's news of the expired session arrives."""
    masters = start_masters(master_factory, zk, n=2, plugins=())
    lead = leader_of(masters)
    other = [m for m in masters if m is not lead][0]
    mark = lead.log_mark()
    lead.signal(signal.SIGSTOP)
    try:
        wait_for(lambda: other.json("/master/state")["elected"], timeout=15,
                 what="the standby to be elected")
    finally:
        lead.signal(signal.SIGCONT)
    wait_for(lambda: not lead.json("/master/state")["elected"], timeout=5,
             what="the old leader to step down")
    assert "this process was frozen for" in lead.log()[mark:]
    assert leader_of(masters) is other


def test_value_over_1mb_refused_at_write(master_factory, zk):
    """A plugin's 2 MB value is refused when it is put, with a clear
    error, and nothing of it is stored; 1 MB (10^6 bytes, the limit) is
    stored."""
    m = start_masters(master_factory, zk, n=1)[0]
    leader_of([m])
    r = m.post("/launcher/store/big?size=%d" % (2 << 20))
    assert r.status_code == 413, r.text
    assert r.json()["message"] == "store: too big"
    assert "refused to store launcher/big: 2097152 bytes, over the limit " \
           "of 1000000" in m.log()
    assert m.get("/launcher/store/big").status_code == 404
    r = m.post("/launcher/store/big?size=1000000")
    assert r.status_code == 201, r.text
    assert m.json("/launcher/store/big") == {"len": 1000000, "version": 1}


def test_standby_holds_requests_while_the_leader_is_dead(master_factory, zk):
    """Between a leader's death and the election, a standby does not
    redirect clients to the dead leader: it holds their requests and
    redirects them to the new leader once ZooKeeper names it."""
    masters = start_masters(master_factory, zk, plugins=())
    lead = leader_of(masters)
    standby = [m for m in masters if m is not lead][0]
    mark = standby.log_mark()
    lead.kill9()
    standby.wait_log("the leader's connection ended", since=mark)
    r = requests.get(standby.url("/master/tasks?limit=1"),
                     allow_redirects=False, timeout=30 * SLOW)
    assert r.status_code == 307, r.text
    new = leader_of([m for m in masters if m is not lead])
    assert r.headers["Location"] == new.url("/master/tasks?limit=1")
    # Followed, as a client does: answered by the new leader.
    assert requests.get(standby.url("/master/tasks"),
                        timeout=30 * SLOW).json()["tasks"] == []


def test_zk_url_from_a_file(master_factory, zk, tmp_path):
    """--zk=file:///etc/mesos/zk and --master=file://..., as Mesos reads
    them: the file holds the zk:// URL."""
    f = tmp_path / "zk-url"
    f.write_text(zk.url() + "\n")
    m = master_factory(args=["--zk=file://%s" % f, "--zk_session_timeout=2secs"])
    m.start()
    leader_of([m])
    assert m.json("/master/state")["store"] == "zk"
    a = Agent(tmp_path / "a", "file://%s" % f).start(wait=False)
    try:
        a.master = m
        a.wait_subscribed(timeout=20)
    finally:
        a.stop()
        kill_leftovers(a.work_dir)


def test_held_request_on_a_plugin_port_that_closes(master_factory, zk,
                                                   hello_builds):
    """A request a standby holds on a plugin's own port is answered 503
    when a reload closes that port (the port's server frees its requests
    when it stops: nothing may still point at them)."""
    masters = []
    for _ in range(2):
        m = master_factory(args=["--zk=" + zk.url(), "--zk_session_timeout=8secs"])
        shutil.copyfile(hello_builds["1.0"], os.path.join(m.conf_dir, "hello.so"))
        m.hello_port = free_port()
        with open(os.path.join(m.conf_dir, "hello.conf"), "w") as f:
            f.write("port = %d\n" % m.hello_port)
        masters.append(m.start())
    lead = leader_of(masters)
    standby = [m for m in masters if m is not lead][0]
    mark = standby.log_mark()
    lead.kill9()
    standby.wait_log("the leader's connection ended", since=mark)
    answer = {}

    def ask():
        try:
            answer["r"] = requests.get("http://127.0.0.1:%d/" % standby.hello_port,
                                       allow_redirects=False, timeout=30 * SLOW)
        except requests.RequestException as e:
            answer["e"] = e
    t = threading.Thread(target=ask)
    t.start()
    time.sleep(0.5 * SLOW)  # held: the next leader is 8 s away
    assert t.is_alive()
    os.remove(os.path.join(standby.conf_dir, "hello.conf"))
    standby.sighup()
    t.join(timeout=10 * SLOW)
    assert not t.is_alive()
    assert "r" in answer and answer["r"].status_code == 503, answer
    standby.check_alive()
    assert standby.get("/health").text == "ok"


def test_unreadable_registry_is_read_again(master_factory, zk, tmp_path):
    """A new leader that cannot read the agent registry keeps trying: it
    must know which agents to wait for."""
    from kazoo.client import KazooClient
    from kazoo.security import ACL, Id, Permissions

    masters = start_masters(master_factory, zk, n=2, plugins=())
    lead = leader_of(masters)
    a = Agent(tmp_path / "a", zk.url()).start(wait=False)
    a.master = lead
    a.wait_subscribed(timeout=20)
    a.stop()  # it will not come back: only the registry knows it
    kill_leftovers(a.work_dir)
    registry = "/agora/state/_core/agents"
    zc = KazooClient(hosts="127.0.0.1:%d" % zk.port, timeout=10.0)
    zc.start()
    try:
        anyone = Id("world", "anyone")
        zc.set_acls(registry, [ACL(Permissions.ALL & ~Permissions.READ, anyone)])
        mark = [m.log_mark() for m in masters]
        lead.kill9()
        new = leader_of(masters)
        i = masters.index(new)
        new.wait_log("cannot list the agent registry", since=mark[i],
                     timeout=10)
        time.sleep(1.5)
        assert new.metrics()["master/slaves_recovering"] == 0
        zc.set_acls(registry, [ACL(Permissions.ALL, anyone)])
        wait_for(lambda: new.metrics()["master/slaves_recovering"] == 1,
                 timeout=10, what="the registry read again")
    finally:
        zc.stop()
        zc.close()
