"""Fencing (ABI 2.2): a store write started by a master that has been
deposed fails with AGORA_ENOTLEADER instead of landing.

The launcher test plugin puts "fini" under its conf's fini_key from its
fini, without waiting. At a shutdown the master still leads, and the
write lands; after an abdication it must not - with the local store (one
master, elected again) and with ZooKeeper's (the next master leads and
reads what is there). The unit tests (test_store, test_store_zk) hold
the store's side: every kind of write, a queued write, and ZooKeeper's
check of the election znode when it goes before the master hears of it.
"""
import os

from conftest import SLOW, TEST_PLUGINS, wait_for
from test_ha import ZooKeeper, ha_args, leader_of  # noqa: F401 (zk below)

import pytest


@pytest.fixture
def zk(tmp_path):
    z = ZooKeeper(tmp_path / "zk").start()
    yield z
    z.stop()


def with_launcher(m):
    with open(os.path.join(m.conf_dir, "launcher.conf"), "w") as f:
        f.write("plugin = %s\nfini_key = from_fini\n"
                % os.path.join(TEST_PLUGINS, "launcher.so"))
    return m


def stored(m, key):
    """The launcher's store read of key: 200 with {len, version}, or 404."""
    r = m.get("/launcher/store/" + key)
    assert r.status_code in (200, 404), r.text
    return r.json() if r.status_code == 200 else None


def test_local_store_refuses_writes_of_a_deposed_master(master_factory):
    m = with_launcher(master_factory()).start()
    assert m.post("/launcher/store/before?size=3").status_code == 201
    elected = m.json("/master/state")["elected_time"]
    mark = m.log_mark()
    assert m.post("/launcher/abdicate").status_code == 202
    m.wait_log("abdicated, as asked", since=mark)

    def again():
        st = m.json("/master/state")
        return st["elected"] and st["elected_time"] > elected
    wait_for(again, 5 * SLOW, what="the re-election")
    # The store runs its ops in order: the new launcher's read comes
    # after the fini write of the old one, had it been let through.
    assert stored(m, "before")["len"] == 3
    assert stored(m, "from_fini") is None
    # Refused at once, the term having ended before fini ran.
    m.wait_log("refused a write of launcher/from_fini: this master's term "
               "ended", since=mark)
    assert m.post("/launcher/store/after?size=2").status_code == 201
    assert stored(m, "after")["len"] == 2

    # The same write at a shutdown lands: the master leads until it stops.
    m.stop()
    m.start()
    assert stored(m, "from_fini") == {"len": 4, "version": 1}


def test_zk_store_refuses_writes_of_a_deposed_master(master_factory, zk):
    """The leader abdicates: its plugin's fini write, of a key that
    exists (one setData), is refused. ZooKeeper would take it: the
    session lives, and it would come before the deletion of the leader's
    znode, which is what elects the next master. The next leader reads
    what the first wrote while it led, not what it wrote once deposed;
    its own term writes."""
    masters = [with_launcher(master_factory(args=ha_args(zk))).start()
               for _ in range(2)]
    lead = leader_of(masters)
    other = [m for m in masters if m is not lead][0]
    line = lead.wait_log("term 1 begins")
    assert "writes check /agora/leader/member_" in line, line
    assert lead.post("/launcher/store/from_fini?size=3").status_code == 201
    assert lead.post("/launcher/abdicate").status_code == 202
    wait_for(lambda: other.json("/master/state")["elected"], 15 * SLOW,
             what="the other master to lead")
    assert leader_of(masters) is other
    assert stored(other, "from_fini") == {"len": 3, "version": 1}
    lead.wait_log("refused a write of launcher/from_fini: this master's "
                  "term ended")
    assert other.post("/launcher/store/after?size=2").status_code == 201

    # The new leader stops while it leads: its fini write lands, and the
    # first master, leading again, reads it.
    other.stop()
    assert leader_of([lead]) is lead
    wait_for(lambda: stored(lead, "from_fini")["len"] == 4, 10 * SLOW,
             what="the launcher on the first master again")
    assert stored(lead, "from_fini") == {"len": 4, "version": 2}
    assert stored(lead, "after")["len"] == 2
