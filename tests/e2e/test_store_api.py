"""The store calls of ABI 2.1 through a real plugin: the launcher test
plugin, loaded into a real master (the local store under its work
directory), runs transactions, reads a key's children with their values,
and records what its watch on its whole namespace hears."""
import json


def txn(m, ops):
    r = m.post("/launcher/txn", data=json.dumps(ops))
    return r.status_code, r.json()


def children(m, key):
    r = m.get("/launcher/children", params={"key": key})
    return r.status_code, r.json()


def test_txn_children_and_watch(cluster):
    m, _, _ = cluster
    status, body = txn(m, [
        {"op": "put", "key": "apps/web", "value": "w1", "version": 0},
        {"op": "put", "key": "apps/db", "value": "d1", "version": 0},
        {"op": "check", "key": "apps/cache", "version": 0},
    ])
    assert (status, body) == (200, {"versions": [1, 1, 0]})

    # A stale version anywhere: nothing of the transaction is applied.
    status, body = txn(m, [
        {"op": "put", "key": "apps/web", "value": "w2", "version": 1},
        {"op": "put", "key": "apps/new", "value": "n1", "version": 0},
        {"op": "delete", "key": "apps/db", "version": 5},
    ])
    assert (status, body) == (409, {"failed": 2})
    status, body = children(m, "apps")
    assert status == 200
    assert body["entries"] == [
        {"name": "db", "value": "d1", "version": 1},
        {"name": "web", "value": "w1", "version": 1},
    ]

    status, body = txn(m, [
        {"op": "put", "key": "apps/web", "value": "w2", "version": 1},
        {"op": "delete", "key": "apps/db", "version": 1},
    ])
    assert (status, body) == (200, {"versions": [2, 0]})
    assert children(m, "apps")[1]["entries"] == [
        {"name": "web", "value": "w2", "version": 2}]
    # One level: the top holds "apps", which has no value of its own.
    assert children(m, "")[1]["entries"] == []

    # Refused at the call: the same key twice, a bad key.
    status, _ = txn(m, [{"op": "check", "key": "a"},
                        {"op": "check", "key": "a"}])
    assert status == 400
    assert m.get("/launcher/children",
                 params={"key": "a//b"}).status_code == 400

    # The watch heard each write once, in order; failures wrote nothing.
    assert m.json("/launcher/store_events") == [
        {"event": "created", "key": "apps/web", "version": 1},
        {"event": "created", "key": "apps/db", "version": 1},
        {"event": "changed", "key": "apps/web", "version": 2},
        {"event": "deleted", "key": "apps/db", "version": 0},
    ]

    # Durable: a restarted master reads the same.
    m.restart()
    assert children(m, "apps")[1]["entries"] == [
        {"name": "web", "value": "w2", "version": 2}]
    assert m.json("/launcher/store_events") == []
