"""Request bodies: the size limit (413), malformed JSON (400), and deferred
replies, through the echo test plugin (tests/plugins/echo.c, linked
against the installed libagora-sdk.a and yajl)."""
import json
import os
import shutil
import socket
import threading
import time

import pytest
import requests

from conftest import SLOW, wait_for

LIMIT = 1024


@pytest.fixture
def echo_master(master_factory, build_plugin):
    m = master_factory(args=["--max_body_size=%d" % LIMIT])
    shutil.copyfile(build_plugin("echo", sdk=True), os.path.join(m.conf_dir, "echo.so"))
    m.start()
    assert [p["name"] for p in m.plugins()["plugins"]] == ["echo"]
    return m


def json_of_size(n):
    """A JSON document of exactly n bytes: {"pad":"xxx..."}."""
    doc = '{"pad":"%s"}' % ("x" * (n - 10))
    assert len(doc) == n
    return doc


def assert_413(r):
    assert r.status_code == 413, (r.status_code, r.text)
    assert r.headers["Content-Type"] == "application/json"
    assert r.json() == {"message": "request body larger than %d bytes" % LIMIT}


def test_body_at_limit_accepted(echo_master):
    m = echo_master
    doc = json_of_size(LIMIT)
    r = m.post("/echo", data=doc, headers={"Content-Type": "application/json"})
    assert r.status_code == 200
    assert r.json() == json.loads(doc)


@pytest.mark.parametrize("path", ["/master/reload", "/echo", "/health"])
def test_body_over_limit_413(echo_master, path):
    m = echo_master
    r = m.post(path, data=b"y" * (2 * LIMIT))
    assert_413(r)
    r = m.post(path, data=json_of_size(LIMIT + 1))
    assert_413(r)
    assert m.metrics()["master/plugin_reloads"] == 0  # the 413 ran no handler
    assert m.get("/health").text == "ok"


def test_chunked_body_over_limit_413(echo_master):
    """No Content-Length: the limit is found while the chunks arrive."""
    m = echo_master

    def chunks():
        for _ in range(8):
            yield b"z" * 256

    r = m.post("/echo", data=chunks())
    assert r.request.headers.get("Transfer-Encoding") == "chunked"
    assert "Content-Length" not in r.request.headers
    assert_413(r)
    # A chunked body within the limit is read whole.
    doc = json.dumps({"k": list(range(50))}).encode()
    r = m.post("/echo", data=iter([doc[:10], doc[10:]]))
    assert r.status_code == 200 and r.json() == json.loads(doc)
    assert m.get("/health").text == "ok"


def test_large_declared_body_refused_early(echo_master):
    """A Content-Length far over the limit is answered 413 without the
    master waiting for (or buffering) the body."""
    m = echo_master
    with socket.create_connection(("127.0.0.1", m.port), timeout=10 * SLOW) as s:
        s.sendall(b"POST /echo HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
                  b"Content-Length: 1000000000\r\n\r\n{")
        got = b""
        while b"\r\n\r\n" not in got:
            data = s.recv(4096)
            if not data:
                break
            got += data
        # The rest of the body is never read as a request: the master
        # closes the connection after the 413.
        while True:
            data = s.recv(4096)
            if not data:
                break
            got += data
    assert got.startswith(b"HTTP/1.1 413 "), got
    assert got.count(b"HTTP/1.1 ") == 1, got
    assert b"\r\nConnection: close\r\n" in got, got
    assert m.get("/health").text == "ok"


def test_body_over_limit_on_keepalive_session(echo_master):
    """After a 413 whose body was sent, the client's next request (on a new
    connection, as the 413 said close) is served normally."""
    m = echo_master
    with requests.Session() as s:
        r = s.post(m.url("/echo"), data=b"[" + b"1," * LIMIT + b"1]")
        assert_413(r)
        assert r.headers["Connection"] == "close"
        r = s.post(m.url("/echo"), json={"next": True})
        assert (r.status_code, r.json()) == (200, {"next": True})


@pytest.mark.parametrize("body", ['{"a": 1,', "not json", "", '{"a" 1}', "[1, 2"])
def test_malformed_json_400(echo_master, body):
    r = echo_master.post("/echo", data=body, headers={"Content-Type": "application/json"})
    assert r.status_code == 400, r.text
    assert r.headers["Content-Type"] == "application/json"
    msg = r.json()["message"]
    assert msg.startswith("invalid JSON: ") and len(msg) > len("invalid JSON: ")


def test_echo_round_trip(echo_master):
    doc = {"s": "caf\u00e9 \"quoted\" \\ \n\t", "i": -42, "big": 9007199254740993,
           "f": 1.5, "t": True, "n": None, "a": [1, [2, {}], "x"], "o": {"k": []}}
    r = echo_master.post("/echo", data=json.dumps(doc),
                         headers={"Content-Type": "application/json"})
    assert r.status_code == 200
    assert r.headers["Content-Type"] == "application/json"
    assert r.json() == doc


def test_deferred_reply(echo_master):
    m = echo_master
    t0 = time.monotonic()
    r = m.post("/echo?defer=0.2", json={"late": True})
    took = time.monotonic() - t0
    assert (r.status_code, r.json()) == (200, {"late": True})
    assert took >= 0.2, took
    assert took < 2.0 * SLOW, took
    assert m.metrics()["master/http_deferred_open"] == 0


def test_concurrent_deferred_replies(echo_master):
    """30 requests deferred at once, on their own connections: each gets
    its own document, and together they take about one timer, not 30."""
    m = echo_master
    n, delay = 30, 0.3
    results = [None] * n

    def one(i):
        try:
            r = requests.post(m.url("/echo?defer=%g" % delay), json={"i": i, "pad": "p" * i},
                              timeout=20 * SLOW)
            results[i] = (r.status_code, r.json())
        except Exception as e:  # noqa: BLE001
            results[i] = (repr(e), None)

    threads = [threading.Thread(target=one, args=(i,)) for i in range(n)]
    t0 = time.monotonic()
    for t in threads:
        t.start()
    wait_for(lambda: m.metrics()["master/http_deferred_open"] > 0,
             what="deferred requests to be open")
    for t in threads:
        t.join(30 * SLOW)
    took = time.monotonic() - t0
    assert results == [(200, {"i": i, "pad": "p" * i}) for i in range(n)]
    assert took < delay * n / 3, took
    assert m.metrics()["master/http_deferred_open"] == 0


def test_deferred_requests_answered_at_stop(echo_master):
    """SIGTERM while requests wait on a timer: they are answered 503 (the
    plugin unloads first), and the master still exits 0."""
    m = echo_master
    results = []

    def one():
        r = requests.post(m.url("/echo?defer=30"), json={}, timeout=20 * SLOW)
        results.append((r.status_code, r.json()))

    threads = [threading.Thread(target=one) for _ in range(3)]
    for t in threads:
        t.start()
    wait_for(lambda: m.metrics()["master/http_deferred_open"] == 3,
             what="three deferred requests")
    m.stop()
    for t in threads:
        t.join(20 * SLOW)
    assert len(results) == 3
    for status, body in results:
        assert status == 503
        assert body == {"message": "plugin echo was unloaded"}


def test_deferred_requests_answered_on_reload(echo_master, build_plugin):
    """A reload that replaces echo answers its deferred requests 503 and
    stops their timers; the new echo serves at once."""
    m = echo_master
    results = []

    def one():
        r = requests.post(m.url("/echo?defer=30"), json={}, timeout=20 * SLOW)
        results.append((r.status_code, r.json()))

    t = threading.Thread(target=one)
    t.start()
    wait_for(lambda: m.metrics()["master/http_deferred_open"] == 1,
             what="a deferred request")
    gen = m.plugins()["generation"]
    path = os.path.join(m.conf_dir, "echo.so")
    st = os.stat(path)
    os.utime(path, ns=(st.st_atime_ns, st.st_mtime_ns + 1_000_000_000))
    m.sighup()
    t.join(20 * SLOW)
    assert results == [(503, {"message": "plugin echo was unloaded"})]
    wait_for(lambda: m.plugins()["generation"] != gen, what="the reload")
    assert m.post("/echo", json={"after": 1}).json() == {"after": 1}
    assert m.metrics()["master/http_deferred_open"] == 0
