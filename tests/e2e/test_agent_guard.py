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


def raw_subscribe(port, body, source="127.0.0.1", timeout=5.0):
    """POSTs a subscribe from source; returns (status, the first bytes of
    the answer's body) and closes the connection at once (a stream ends
    as when its agent goes away)."""
    data = json.dumps(body).encode()
    s = socket.create_connection(("127.0.0.1", port), timeout=timeout * SLOW,
                                 source_address=(source, 0))
    try:
        s.sendall(b"POST /api/agent/subscribe HTTP/1.1\r\nHost: x\r\n"
                  b"Content-Type: application/json\r\n"
                  b"Content-Length: %d\r\n\r\n" % len(data) + data)
        got = b""
        while b"\r\n\r\n" not in got or len(got.split(b"\r\n\r\n", 1)[1]) < 8:
            chunk = s.recv(4096)
            if not chunk:
                break
            got += chunk
    finally:
        s.close()
    head, _, rest = got.partition(b"\r\n\r\n")
    return int(head.split(b" ", 2)[1]), rest.decode(errors="replace")


def task(task_id, command, resources="cpus:0.1;mem:32"):
    return {"task_id": task_id, "command": command, "resources": resources}


def test_connected_agent_not_taken_over_from_another_address(cluster):
    m, launcher, agent = cluster
    a = agent().start()
    launcher.launch(a.agent_id, task("t1", "sleep 60"))
    launcher.wait_state("t1", "TASK_RUNNING")
    status, text = raw_subscribe(m.port, subscribe_body(a.agent_id),
                                 source="127.0.0.2")
    assert status == 409, text
    assert m.metrics()["master/agent_takeovers_refused"] == 1
    # The real agent kept its stream and its task.
    info = agent_ids(m)[a.agent_id]
    assert info["connected"] and info["state"] == "active"
    time.sleep(0.5 * SLOW)
    assert "TASK_LOST" not in launcher.states("t1")
    assert a.agent_id in m.log() and "refused: it is connected from 127.0.0.1" \
        in m.log()
    # Launches still reach the real agent.
    launcher.launch(a.agent_id, task("t2", "sleep 60"))
    launcher.wait_state("t2", "TASK_RUNNING")


def test_dead_stream_may_be_taken_over(cluster):
    m, launcher, agent = cluster
    a = agent().start()
    a.kill9()  # its socket closes: the stream is dead at once
    status, text = raw_subscribe(m.port, subscribe_body(a.agent_id),
                                 source="127.0.0.2")
    assert status == 200, text
    assert '"type":"subscribed"' in text


def test_updates_only_on_the_agents_own_session(cluster):
    m, launcher, agent = cluster
    a = agent().start()
    launcher.launch(a.agent_id, task("t1", "sleep 60"))
    launcher.wait_state("t1", "TASK_RUNNING")
    forged = {"uuid": "00000000-0000-4000-8000-000000000001", "task_id": "t1",
              "framework_id": "launcher", "state": "TASK_FINISHED",
              "timestamp": time.time(), "seq": 99}
    for extra in ({}, {"session": "not-the-session"}):
        body = {"agent_id": a.agent_id, "updates": [forged]}
        body.update(extra)
        r = m.post("/api/agent/updates", json=body)
        assert r.status_code == 409, r.text
    assert m.metrics()["master/agent_sessions_refused"] == 2
    time.sleep(0.3 * SLOW)
    assert "TASK_FINISHED" not in launcher.states("t1")
    # The agent's own updates still count: a kill ends the task.
    launcher.kill("t1")
    launcher.wait_state("t1", "TASK_KILLED")


def test_subscribe_flood_bounded(master_factory, tmp_path):
    m = master_factory(args=["--agent_join_rate=5", "--agent_join_burst=20"])
    m.start()
    t0 = time.monotonic()
    codes = {}
    for i in range(300):
        status, _ = raw_subscribe(m.port, subscribe_body("fake-%d" % i))
        codes[status] = codes.get(status, 0) + 1
    elapsed = time.monotonic() - t0
    bound = 20 + 5 * elapsed + 1
    print("flood: %d subscribes in %.2f s: %s; admitted bound %.1f"
          % (300, elapsed, codes, bound))
    assert set(codes) <= {200, 429}, codes
    assert codes.get(200, 0) <= bound, (codes, bound)
    assert codes.get(200, 0) >= 20, codes
    metrics = m.metrics()
    assert metrics["master/agent_joins_refused"] == codes.get(429, 0)
    assert len(agent_ids(m)) == codes.get(200, 0)
    # Known agents are never held back: one of the admitted ones comes
    # back while the bucket is empty.
    status, _ = raw_subscribe(m.port, subscribe_body("fake-0"))
    assert status == 200
    # And new ones join again once the bucket refills.
    time.sleep(0.5 * SLOW)
    status, _ = raw_subscribe(m.port, subscribe_body("late-one"))
    assert status == 200
    assert m.get("/health").text == "ok"
