"""Outbound I/O for plugins (ABI 2.1), through the outbound test plugin
(tests/plugins/outbound.c) loaded into a real master: HTTP requests to
servers this test runs, fd watchers on a socketpair, child processes;
and unloading the plugin while each is pending."""
import http.server
import os
import socket
import threading
import time

import pytest
import requests

from conftest import SLOW, free_port, wait_for

EINVAL, ENOENT, ETOOBIG, ENOTSUP, EURL = -2, -3, -6, -11, -13
ECONNECT, ETIMEDOUT = -15, -16


class Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, *args):
        pass

    def send(self, status, body, headers=(), length=True):
        self.send_response(status)
        self.send_header("Content-Type", "text/plain")
        for k, v in headers:
            self.send_header(k, v)
        if length:
            self.send_header("Content-Length", str(len(body)))
        else:
            self.send_header("Connection", "close")
        self.end_headers()
        self.wfile.write(body)
        if not length:
            self.close_connection = True

    def do_GET(self):
        path, _, query = self.path.partition("?")
        if path == "/hello":
            self.send(200, b"hello world", [("X-Reply", "yes")])
        elif path == "/big":
            # n bytes, framed by Content-Length or (close=1) by the close.
            args = dict(a.split("=") for a in query.split("&") if a)
            body = b"x" * int(args["n"])
            self.send(200, body, length=args.get("close") != "1")
        else:
            self.send(404, b"no such thing")

    def do_POST(self):
        n = int(self.headers.get("Content-Length", "0"))
        body = self.rfile.read(n)
        reply = b"%s %s %s" % (self.command.encode(), body,
                               (self.headers.get("X-Test") or "-").encode())
        self.send(201, reply)

    do_PUT = do_POST


@pytest.fixture
def web():
    srv = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    srv.daemon_threads = True
    t = threading.Thread(target=srv.serve_forever, daemon=True)
    t.start()
    yield "http://127.0.0.1:%d" % srv.server_address[1]
    srv.shutdown()
    srv.server_close()


class Silent:
    """Accepts connections and never answers; records when the client
    closes its end (what a cancelled request does)."""

    def __init__(self):
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(8)
        self.url = "http://127.0.0.1:%d/" % self.sock.getsockname()[1]
        self.accepted = 0
        self.closed = 0
        self.requests = []
        threading.Thread(target=self.run, daemon=True).start()

    def run(self):
        while True:
            try:
                c, _ = self.sock.accept()
            except OSError:
                return
            self.accepted += 1
            threading.Thread(target=self.drain, args=(c,), daemon=True).start()

    def drain(self, c):
        data = b""
        while True:
            try:
                b = c.recv(4096)
            except OSError:
                b = b""
            if not b:
                break
            data += b
        self.requests.append(data)
        self.closed += 1
        c.close()

    def close(self):
        self.sock.close()


@pytest.fixture
def silent():
    s = Silent()
    yield s
    s.close()


@pytest.fixture
def ob(master_factory, build_plugin):
    m = master_factory()
    with open(os.path.join(m.conf_dir, "outbound.conf"), "w") as f:
        f.write("plugin = %s\n" % build_plugin("outbound", sdk=True))
    return m.start()


def fetch(m, **body):
    r = m.post("/outbound/fetch", json=body)
    assert r.status_code == 200, r.text
    return r.json()


def spawn(m, argv, **kw):
    kw["argv"] = argv
    r = m.post("/outbound/spawn", json=kw)
    assert r.status_code == 200, r.text
    return r.json()


# ---- HTTP ----

def test_fetch_get_and_post(ob, web):
    got = fetch(ob, url=web + "/hello")
    assert got["err"] == 0, got
    assert (got["status"], got["body"], got["len"]) == (200, "hello world", 11)
    assert got["content_type"] == "text/plain"
    assert got["error"] == ""

    got = fetch(ob, url=web + "/echo", method="PUT", body="payload",
                header="X-Test: on")
    assert (got["err"], got["status"], got["body"]) == (0, 201, "PUT payload on")

    # Any status is a response: err 0.
    got = fetch(ob, url=web + "/nothing")
    assert (got["err"], got["status"], got["body"]) == (0, 404, "no such thing")
    # The master's own /health, by host name.
    got = fetch(ob, url="http://localhost:%d/health" % ob.port)
    assert (got["err"], got["status"], got["body"]) == (0, 200, "ok")


def test_fetch_timeout(ob, silent):
    t0 = time.monotonic()
    got = fetch(ob, url=silent.url, timeout=0.5)
    took = time.monotonic() - t0
    assert got["err"] == ETIMEDOUT, got
    assert got["err_name"] and got["body"] is None and got["status"] == 0
    assert 0.4 < took < 5 * SLOW, took
    # The connection was given up, not left open.
    wait_for(lambda: silent.closed == 1, what="the connection closed")


def test_fetch_connection_refused(ob):
    got = fetch(ob, url="http://127.0.0.1:%d/" % free_port())
    assert got["err"] == ECONNECT, got
    assert "refused" in got["error"], got


def test_fetch_refused_at_once(ob):
    got = fetch(ob, url="https://127.0.0.1:%d/" % ob.port)
    assert got == {"err": ENOTSUP, "err_name": got["err_name"], "at_once": True}
    got = fetch(ob, url="not a url")
    assert (got["err"], got.get("at_once")) == (EURL, True), got
    got = fetch(ob)
    assert (got["err"], got.get("at_once")) == (EINVAL, True), got
    assert ob.json("/outbound/stats")["http_done"] == 0


def test_fetch_body_limit(ob, web):
    # At the limit: taken.
    got = fetch(ob, url=web + "/big?n=1000", max_body=1000)
    assert (got["err"], got["len"]) == (0, 1000), got
    # Over it, known from Content-Length, and known only as it arrives.
    for close in ("0", "1"):
        got = fetch(ob, url=web + "/big?n=1001&close=" + close, max_body=1000)
        assert got["err"] == ETOOBIG, (close, got)
        assert got["body"] is None
        assert "over 1000 bytes" in got["error"], got
    # The default limit is 8 MB.
    got = fetch(ob, url=web + "/big?n=%d" % (8 * 1024 * 1024 + 1))
    assert got["err"] == ETOOBIG, got
    got = fetch(ob, url=web + "/big?n=%d&close=1" % (8 * 1024 * 1024))
    assert (got["err"], got["len"]) == (0, 8 * 1024 * 1024)


def test_fetch_cancel(ob, silent):
    got = fetch(ob, url=silent.url, cancel_after=0.3, timeout=30)
    assert got == {"cancelled": True}
    wait_for(lambda: silent.closed == 1, what="the cancelled connection closed")
    assert silent.requests[0].startswith(b"GET / HTTP/1.1\r\n")
    time.sleep(0.3)
    assert ob.json("/outbound/stats")["http_done"] == 0


# ---- fd watchers ----

def test_fd_watchers(ob):
    r = ob.post("/outbound/pipe", json={"data": "ping pong"})
    assert r.status_code == 200, r.text
    got = r.json()
    assert got["echo"] == "ping pong"
    # a writable, b readable, a readable (at least).
    assert got["events"] >= 3, got
    assert ob.json("/outbound/stats")["fd_events"] == got["events"]


# ---- children ----

def test_spawn_exit_code(ob):
    got = spawn(ob, ["sh", "-c", "exit 3"])
    assert (got["exit_code"], got["signal"]) == (3, 0), got
    assert got["pid"] > 0
    assert got["kill_now"] == ENOENT
    got = spawn(ob, ["/bin/true"])
    assert (got["exit_code"], got["signal"]) == (0, 0), got


def test_spawn_killed_by_signal(ob):
    got = spawn(ob, ["sh", "-c", "kill -KILL $$"])
    assert (got["exit_code"], got["signal"]) == (-1, 9), got
    # proc_kill from a timer: SIGTERM to the process group.
    t0 = time.monotonic()
    got = spawn(ob, ["sleep", "30"], kill_after=0.2, signal=15)
    assert (got["exit_code"], got["signal"], got["kill"]) == (-1, 15, 0), got
    assert time.monotonic() - t0 < 10 * SLOW


def test_spawn_env_and_cwd(ob, tmp_path):
    script = 'test "$FOO" = bar && test "$(pwd)" = "%s"' % tmp_path
    env = ["FOO=bar", "PATH=/usr/bin:/bin"]
    got = spawn(ob, ["sh", "-c", script], env=env, cwd=str(tmp_path))
    assert (got["exit_code"], got["signal"]) == (0, 0), got
    got = spawn(ob, ["sh", "-c", script], env=["FOO=baz"], cwd=str(tmp_path))
    assert got["exit_code"] == 1, got
    # The master's own signal dispositions are not inherited: it ignores
    # SIGPIPE, its children must not.
    got = spawn(ob, ["sh", "-c", "kill -PIPE $$"])
    assert (got["exit_code"], got["signal"]) == (-1, 13), got


def test_spawn_refused_at_once(ob, tmp_path):
    got = spawn(ob, ["/no/such/program"])
    assert (got["err"], got.get("at_once")) == (ENOENT, True), got
    got = spawn(ob, ["no-such-program-anywhere"])
    assert (got["err"], got.get("at_once")) == (ENOENT, True), got
    got = spawn(ob, ["/bin/true"], cwd=str(tmp_path / "missing"))
    assert (got["err"], got.get("at_once")) == (ENOENT, True), got
    got = spawn(ob, [])
    assert (got["err"], got.get("at_once")) == (EINVAL, True), got
    assert ob.json("/outbound/stats")["exits"] == 0


# ---- unloading ----

def pid_alive(pid):
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return True


def test_unload_releases_pending(ob, silent, tmp_path):
    """The plugin is removed while a request, a child and a watcher are
    pending: its deferred replies are answered 503, the request's
    connection is closed, the child gets SIGTERM (and is reaped), and no
    callback of the unloaded plugin runs (it would be a call into
    unmapped code; under ASan, any use of a freed item is reported)."""
    pidfile = tmp_path / "pid"
    results = {}

    def call(name, path, body):
        try:
            results[name] = ob.post(path, json=body, timeout=30 * SLOW)
        except requests.RequestException as e:
            results[name] = e

    threads = [
        threading.Thread(target=call, args=("fetch", "/outbound/fetch",
                                            {"url": silent.url, "timeout": 60})),
        threading.Thread(target=call, args=("spawn", "/outbound/spawn",
                                            {"argv": ["sh", "-c",
                                                      "echo $$ > %s; exec sleep 60"
                                                      % pidfile]})),
    ]
    for t in threads:
        t.start()
    assert ob.post("/outbound/idle").json() == {"err": 0}
    wait_for(lambda: silent.accepted == 1, what="the request connected")
    wait_for(lambda: pidfile.exists() and pidfile.read_text().strip(),
             what="the child's pid")
    pid = int(pidfile.read_text())
    assert pid_alive(pid)

    mark = ob.log_mark()
    before = ob.metrics()["master/plugin_reloads"]
    os.unlink(os.path.join(ob.conf_dir, "outbound.conf"))
    assert ob.post("/master/reload").status_code == 202
    wait_for(lambda: ob.metrics()["master/plugin_reloads"] == before + 1,
             what="the reload")
    for t in threads:
        t.join(30 * SLOW)
    for name in ("fetch", "spawn"):
        r = results[name]
        assert isinstance(r, requests.Response), (name, r)
        assert r.status_code == 503, (name, r.status_code, r.text)
        assert "outbound was unloaded" in r.text

    wait_for(lambda: silent.closed == 1, what="the request's connection closed")
    wait_for(lambda: not pid_alive(pid), what="the child gone (and reaped)")
    ob.wait_log("SIGTERM to its child %d" % pid, since=mark)
    time.sleep(0.5)
    ob.check_alive()
    assert ob.get("/health").text == "ok"
    assert not [l for l in ob.log_lines(mark) if "outbound: " in l and " done" in l], \
        ob.log()[mark:]
