"""The master alone: its own endpoints, metrics, errors, events, flags."""
import http.client
import os
import re
import subprocess

import conftest
import pytest
import requests

from conftest import (MASTER_BIN, PREFIX, REPO, SLOW, master_env, port_open,
                      free_port, wait_for)


def project_version():
    with open(os.path.join(REPO, "CMakeLists.txt")) as f:
        return re.search(r"project\(agora\s+VERSION\s+([0-9.]+)", f.read()).group(1)


def abi_version():
    return "%d.%d" % conftest.abi_version()


def test_health_version_state(master_factory):
    m = master_factory().start()
    r = m.get("/health")
    assert r.status_code == 200
    assert r.text == "ok"
    assert r.headers["Content-Type"] == "text/plain"

    v = m.json("/version")
    assert v["version"] == project_version()
    assert v["plugin_abi"] == abi_version()

    st = m.json("/master/state")
    assert st["elected"] is True
    assert st["version"] == project_version()
    assert st["leader_info"]["ip"] == "127.0.0.1"
    assert st["leader_info"]["port"] == m.port
    assert st["leader_info"]["id"] == st["id"]
    assert st["pid"] == "master@127.0.0.1:%d" % m.port
    assert st["leader"] == st["pid"]
    assert st["plugins"] == []
    assert st["frameworks"] == []
    assert st["store"] == "local"
    # The Mesos aliases serve the same document.
    assert m.json("/state.json")["id"] == st["id"]
    assert m.json("/master/state.json")["id"] == st["id"]


def test_metrics_snapshot(master_factory):
    m = master_factory().start()
    a = m.metrics()
    assert a["master/elected"] == 1
    assert a["master/plugins_loaded"] == 0
    assert a["master/plugin_reload_failures"] == 0
    assert a["master/uptime_secs"] >= 0
    m.get("/health")
    b = m.metrics()
    # The snapshot counts itself: /health and the second snapshot.
    assert b["master/http_requests"] == a["master/http_requests"] + 2
    assert b["master/http_responses_2xx"] == a["master/http_responses_2xx"] + 2
    m.get("/no/such/path")
    c = m.metrics()
    assert c["master/http_requests"] == b["master/http_requests"] + 2
    assert c["master/http_responses_4xx"] == b["master/http_responses_4xx"] + 1
    assert c["master/uptime_secs"] > a["master/uptime_secs"]


def test_unknown_path_404_json(master_factory):
    m = master_factory().start()
    r = m.get("/no/such/path")
    assert r.status_code == 404
    assert r.headers["Content-Type"] == "application/json"
    body = r.json()
    assert list(body) == ["message"]
    assert "/no/such/path" in body["message"]


@pytest.mark.parametrize("method,path,allow", [
    ("DELETE", "/health", "GET"),
    ("GET", "/master/reload", "POST"),
    ("PUT", "/master/state", "GET"),
])
def test_wrong_method_405_allow(master_factory, method, path, allow):
    m = master_factory().start()
    r = requests.request(method, m.url(path), timeout=10 * SLOW)
    assert r.status_code == 405
    assert r.headers["Allow"] == allow
    assert r.headers["Content-Type"] == "application/json"
    assert method in r.json()["message"]
    # Nothing was reloaded by the GET.
    assert m.metrics()["master/plugin_reloads"] == 0


def test_redirect_to_self(master_factory):
    m = master_factory().start()
    r = m.get("/master/redirect", allow_redirects=False)
    assert r.status_code == 307
    host = m.json("/master/state")["hostname"]
    assert r.headers["Location"] == "//%s:%d" % (host, m.port)


def read_event(resp, event):
    """Reads the (dechunked) event stream until a whole `event: <event>`
    block has arrived; returns (its data line, what came before it).
    http.client's read1() returns what one chunk holds; the socket has the
    connection's timeout."""
    got = ""
    head = "event: %s\ndata: " % event
    while head not in got or "\n\n" not in got[got.index(head):]:
        data = resp.read1(65536)
        assert data, "the stream ended; got %r" % got
        got += data.decode()
    at = got.index(head)
    return got[at + len(head):].split("\n", 1)[0], got[:at]


def test_events_plugins_reloaded(master_factory):
    # A suspended connection is not watched by libmicrohttpd: a client that
    # left is noticed at the next write, so keep-alives come often here.
    m = master_factory(args=["--event_keepalive=100ms"]).start()
    conn = http.client.HTTPConnection("127.0.0.1", m.port, timeout=10 * SLOW)
    conn.request("GET", "/master/events")
    resp = conn.getresponse()
    assert resp.status == 200
    assert resp.getheader("Content-Type") == "text/event-stream"
    wait_for(lambda: m.metrics()["master/event_subscribers"] == 1,
             what="one event subscriber")
    published = m.metrics()["master/events_published"]
    r = m.post("/master/reload")
    assert r.status_code == 202
    assert r.json() == {"message": "reload requested"}
    data, before = read_event(resp, "plugins_reloaded")
    gen = m.plugins()["generation"]
    assert data == '{"ok":true,"generation":%d}' % gen
    # Before it, keep-alive comments only.
    assert before == ":\n\n" * (len(before) // 3), before
    resp.close()
    conn.close()
    wait_for(lambda: m.metrics()["master/event_subscribers"] == 0,
             what="the subscriber to go when the client left")
    assert m.metrics()["master/events_published"] == published + 1


def test_stop_with_open_event_stream(master_factory):
    """SIGTERM ends open streams and still exits 0 (and clean under ASan)."""
    m = master_factory().start()
    conn = http.client.HTTPConnection("127.0.0.1", m.port, timeout=10 * SLOW)
    conn.request("GET", "/master/events")
    resp = conn.getresponse()
    assert resp.status == 200
    wait_for(lambda: m.metrics()["master/event_subscribers"] == 1,
             what="one event subscriber")
    m.stop()
    assert resp.read() == b""  # the stream ended cleanly
    conn.close()


# ---- flags ----

# The flags DESIGN.md promises, and every row of the table in master.c.
FLAGS = ["ip", "port", "work_dir", "conf_dir", "plugin_dir", "zk",
         "zk_session_timeout", "allocation_interval", "agent_ping_timeout",
         "max_agent_ping_timeouts", "log_level", "max_body_size"]


def table_flags():
    with open(os.path.join(REPO, "core", "master.c")) as f:
        return re.findall(r"(?m)^\s+F\((\w+),", f.read())


def test_help_lists_every_flag_with_default():
    r = subprocess.run([MASTER_BIN, "--help"], capture_output=True, text=True,
                       env=master_env(), timeout=30 * SLOW)
    assert r.returncode == 0, r.stderr
    # "  --port=INT\n      port to listen on (default: 5050)"; a flag
    # without a default says what it falls back to, or nothing.
    helps = dict(re.findall(r"(?m)^  --([a-z_]+)=[A-Z]+\n      (.*)$", r.stdout))
    defaults = {k: m.group(1) for k, h in helps.items()
                for m in [re.search(r"\(default: ([^)]*)\)$", h)] if m}
    assert len(table_flags()) >= len(FLAGS)
    for flag in FLAGS + table_flags():
        assert flag in helps, "--%s missing from --help:\n%s" % (flag, r.stdout)
        assert helps[flag].count("(default:") <= 1, helps[flag]
    assert "(default: none)" not in r.stdout
    assert defaults["hostname"] == "the system's"
    assert defaults["port"] == "5050"
    assert defaults["zk_session_timeout"] == "10secs"
    assert defaults["ip"] == "0.0.0.0"
    assert defaults["allocation_interval"] == "50ms"
    assert defaults["log_level"] == "info"
    assert defaults["max_body_size"] == "1048576"
    assert "--config_dir" in r.stdout


def test_port_in_use_named(tmp_path):
    """A master whose port is taken exits 1 and says which port, and why."""
    import socket
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        s.listen()
        port = s.getsockname()[1]
        r = subprocess.run([MASTER_BIN, "--ip=127.0.0.1", "--port=%d" % port,
                            "--work_dir=%s" % tmp_path], capture_output=True,
                           text=True, env=master_env(), timeout=30 * SLOW)
    assert r.returncode == 1, r.stderr
    assert "cannot listen on 127.0.0.1:%d: Address already in use" % port in r.stderr
    assert "port 0" not in r.stderr, r.stderr


def test_unknown_flag_refused():
    r = subprocess.run([MASTER_BIN, "--prot=5050"], capture_output=True, text=True,
                       env=master_env(), timeout=30 * SLOW)
    assert r.returncode == 2
    assert "unknown flag --prot" in r.stderr


def test_config_precedence_file_env_flag(master_factory, tmp_path):
    """A file <config_dir>/port is used without flag or env; AGORA_PORT
    beats the file; --port beats AGORA_PORT."""
    p_file, p_env, p_flag = free_port(), free_port(), free_port()
    assert len({p_file, p_env, p_flag}) == 3
    config = tmp_path / "config"
    config.mkdir()
    (config / "port").write_text("%d\n" % p_file)
    common = dict(dir=tmp_path / "m", config_dir=str(config))

    m = master_factory(port=None, **common)
    m.port = p_file
    m.start()
    assert not port_open(p_env) and not port_open(p_flag)
    m.stop()

    m = master_factory(port=None, env={"AGORA_PORT": str(p_env)}, **common)
    m.port = p_env
    m.start()
    assert not port_open(p_file) and not port_open(p_flag)
    m.stop()

    m = master_factory(port=p_flag, env={"AGORA_PORT": str(p_env)}, **common)
    m.start()
    assert not port_open(p_file) and not port_open(p_env)
    assert m.json("/master/state")["leader_info"]["port"] == p_flag
    m.stop()


@pytest.mark.parametrize("conf_dir", ["empty", "missing"])
def test_starts_without_plugins(master_factory, tmp_path, conf_dir):
    """An empty or absent conf_dir is no error: the master serves without
    plugins, and a reload of nothing succeeds."""
    d = tmp_path / "confs"
    if conf_dir == "empty":
        d.mkdir()
    m = master_factory(conf_dir=str(d)).start()
    assert m.plugins()["plugins"] == []
    assert m.post("/master/reload").status_code == 202
    wait_for(lambda: m.metrics()["master/plugin_reloads"] == 1, what="the reload")
    assert m.metrics()["master/plugin_reload_failures"] == 0
    m.stop()
