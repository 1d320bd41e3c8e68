"""
Smaller input findings (issue 15, item 9): control characters in log
lines, lone UTF-16 surrogates in JSON, ambiguous request framing, the
agent's JSONP, and state-changing requests from another site.
"""
import json
import socket

from conftest import SLOW, wait_for


def raw(port, data, timeout=5.0):
    """Sends data on a new connection; returns what came back until the
    server closed or went quiet."""
    s = socket.create_connection(("127.0.0.1", port), timeout=timeout * SLOW)
    try:
        s.sendall(data)
        got = b""
        while True:
            try:
                chunk = s.recv(65536)
            except socket.timeout:
                break
            if not chunk:
                break
            got += chunk
            if b"\r\n\r\n" in got and b"}" in got:
                break
    finally:
        s.close()
    return got


def status_of(reply):
    return int(reply.split(b" ", 2)[1])


def test_control_characters_in_log_lines_are_escaped(master_factory):
    m = master_factory().start()
    forged = "node1\n2026-01-01T00:00:00.000Z ERROR [master] forged line"
    body = {"agent_id": "a1", "hostname": forged, "ip": "127.0.0.1", "port": 1,
            "resources": "cpus:1;mem:64", "tasks": []}
    s = socket.create_connection(("127.0.0.1", m.port))
    data = json.dumps(body).encode()
    s.sendall(b"POST /api/agent/subscribe HTTP/1.1\r\nHost: x\r\nContent-Type: "
              b"application/json\r\nContent-Length: %d\r\n\r\n" % len(data) + data)
    m.wait_log("agent a1 (node1\\n2026-01-01T00:00:00.000Z ERROR [master] forged")
    s.close()
    assert not any(line.startswith("2026-01-01T00:00:00.000Z")
                   for line in m.log_lines()), m.log()


def test_lone_surrogate_refused(master_factory):
    m = master_factory().start()
    for text in ('"h\\udfff"', '"\\ud800x"', '"\\ud83d\\u0041"'):
        body = ('{"agent_id":"a1","hostname":%s,"resources":"cpus:1;mem:64"}'
                % text)
        r = m.post("/api/agent/subscribe", data=body,
                   headers={"Content-Type": "application/json"})
        assert r.status_code == 400, (text, r.text)
        assert "lone UTF-16 surrogate" in r.json()["message"]
    assert m.json("/master/agents")["agents"] == []
    # A well-formed pair is a character like any other.
    body = ('{"agent_id":"a2","hostname":"h\\ud83d\\ude00","ip":"127.0.0.1",'
            '"resources":"cpus:1;mem:64"}')
    s = socket.create_connection(("127.0.0.1", m.port))
    s.sendall(b"POST /api/agent/subscribe HTTP/1.1\r\nHost: x\r\nContent-Length:"
              b" %d\r\n\r\n%s" % (len(body), body.encode()))
    assert b" 200 " in s.recv(4096).split(b"\r\n")[0] + b" "
    s.close()
    agents = m.json("/master/agents")["agents"]
    assert agents[0]["hostname"] == "h\U0001F600"


def test_conflicting_content_lengths_refused(master_factory):
    m = master_factory().start()
    body = b'{"a":1}'
    reply = raw(m.port, b"POST /master/reload HTTP/1.1\r\nHost: x\r\n"
                b"Content-Length: 7\r\nContent-Length: 3\r\n\r\n" + body)
    assert status_of(reply) == 400, reply
    assert b"two different Content-Length" in reply
    reply = raw(m.port, b"POST /master/reload HTTP/1.1\r\nHost: x\r\n"
                b"Content-Length: 7\r\nTransfer-Encoding: chunked\r\n\r\n"
                b"7\r\n" + body + b"\r\n0\r\n\r\n")
    assert status_of(reply) == 400, reply
    assert b"Content-Length with Transfer-Encoding" in reply
    assert m.metrics()["master/plugin_reloads"] == 0
    # The same length twice is not ambiguous.
    reply = raw(m.port, b"POST /master/reload HTTP/1.1\r\nHost: x\r\n"
                b"Content-Length: 7\r\nContent-Length: 7\r\n\r\n" + body)
    assert status_of(reply) == 202, reply


def test_cross_site_state_change_refused(master_factory):
    m = master_factory().start()
    evil = {"Origin": "http://evil.example", "Content-Type": "text/plain"}
    r = m.post("/master/reload", headers=evil, data="x")
    assert r.status_code == 403, r.text
    r = m.post("/master/reload", headers={"Origin": "http://evil.example"})
    assert r.status_code == 403, r.text
    r = m.post("/master/reload", headers={"Sec-Fetch-Site": "cross-site"})
    assert r.status_code == 403, r.text
    r = m.post("/master/reload", headers={
        "Origin": "http://evil.example",
        "Content-Type": "application/x-www-form-urlencoded"}, data="a=1")
    assert r.status_code == 403, r.text
    assert m.metrics()["master/plugin_reloads"] == 0
    # A JSON body (a browser would have asked a preflight first), a page
    # of the master itself, or a client that is no browser: accepted.
    r = m.post("/master/reload", json={}, headers={"Origin": "http://evil.example"})
    assert r.status_code == 202, r.text
    r = m.post("/master/reload", headers={
        "Origin": "http://127.0.0.1:%d" % m.port, "Content-Type": "text/plain"})
    assert r.status_code == 202, r.text
    r = m.post("/master/reload")
    assert r.status_code == 202, r.text
    # GETs are not concerned.
    assert m.get("/health", headers={"Origin": "http://evil.example"}).text == "ok"


def test_agent_has_no_jsonp(cluster):
    m, _, agent = cluster
    a = agent().start()
    for path in ("/state?jsonp=steal", "/files/browse?path=/&jsonp=steal"):
        r = a.get(path)
        assert not r.text.startswith("steal("), r.text[:80]
        assert "javascript" not in r.headers.get("Content-Type", "")
