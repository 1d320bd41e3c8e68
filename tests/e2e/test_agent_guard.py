"""
The agent endpoints against a client that is not a well-behaved agent
(issue 15, items 3 and 4): refused subscribes leave nothing, a connected
agent cannot be taken over from another address, updates count only on
the subscriber's own session, and unknown agents join at a bounded rate.
"""
import json
import socket
import threading
import time

import requests

from conftest import SLOW, wait_for

GOOD_RES = "cpus:1;mem:128"


def subscribe_body(agent_id, resources=GOOD_RES, **extra):
    body = {"agent_id": agent_id, "hostname": "h-" + agent_id, "ip": "127.0.0.1",
            "port": 1, "resources": resources, "version": "test", "tasks": []}
    body.update(extra)
    return body


def agent_ids(m):
    return {a["id"]: a for a in m.json("/master/agents")["agents"]}


def test_rejected_subscribe_leaves_no_record(master_factory):
    m = master_factory(args=["--agent_ping_timeout=0.1secs",
                             "--agent_reregister_timeout=0.3secs"]).start()
    r = m.post("/api/agent/subscribe",
               json=subscribe_body("bogus-1", resources="cpus:lots"))
    assert r.status_code == 400, r.text
    assert "invalid resources" in r.json()["message"]
    r = m.post("/api/agent/subscribe", json={"agent_id": "bogus-2"})
    assert r.status_code == 400, r.text
    assert agent_ids(m) == {}
    # A record would go unreachable after --agent_reregister_timeout and be
    # stored; a restarted master would then wait for it.
    time.sleep(1.0 * SLOW)
    assert agent_ids(m) == {}
    m.restart()
    assert agent_ids(m) == {}
    metrics = m.metrics()
    assert metrics["master/slaves_recovering"] == 0
    assert metrics["master/slaves_unreachable"] == 0
