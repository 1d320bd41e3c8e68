"""The hello example, built out of tree against the installed SDK: routes
on the master's port and its own, a count kept in the store across
restarts, hot reloads under load, and a failed reload that keeps the
running generation."""
import os
import shutil
import subprocess
import threading

import requests

from conftest import (PREFIX, SLOW, abi_version, free_port, hello_count, pkgconfig_flag_dirs,
                      pkgconfig_prefix_ok,
                      replace_file, wait_for)


def test_hello_exports_only_its_entry(hello_builds):
    """The SDK's library is built with hidden visibility: a plugin that
    links it exports agora_plugin_entry and nothing of the SDK's."""
    out = subprocess.run(["nm", "-D", "--defined-only", hello_builds["1.0"]],
                         capture_output=True, text=True, check=True).stdout
    names = sorted(l.split()[-1] for l in out.splitlines() if l.strip())
    assert names == ["agora_plugin_entry"], names


def start_with_hello(master_factory, so, **kw):
    """A master with hello.so dropped into conf_dir, on its own port too."""
    m = master_factory(**kw)
    m.hello_port = free_port()
    shutil.copyfile(so, os.path.join(m.conf_dir, "hello.so"))
    with open(os.path.join(m.conf_dir, "hello.conf"), "w") as f:
        f.write("port = %d\n" % m.hello_port)
    return m.start()


def count_saved(m, count):
    """True once hello reports `count` as durably written (hello/saved is
    set when the put of that value has completed: fsync and rename)."""
    met = m.metrics()
    return met["hello/saved"] == count and met["master/store_pending"] == 0


def test_sdk_pkgconfig_points_into_prefix():
    """`cmake --install --prefix P` must give a pkg-config file usable from
    P: PKG_CONFIG_PATH=P/lib/pkgconfig pkg-config --cflags agora-plugin
    names P/include and P/lib (the example's CMakeLists.txt relies on it)."""
    assert pkgconfig_prefix_ok(), pkgconfig_flag_dirs("-I")
    assert os.path.realpath(os.path.join(PREFIX, "lib")) in pkgconfig_flag_dirs("-L")


def test_hello_out_of_tree_versions(hello_builds):
    for version, so in hello_builds.items():
        with open(so, "rb") as f:
            assert (b"\0" + version.encode() + b"\0") in f.read()


def test_hello_counts_on_both_ports(master_factory, hello_builds):
    m = start_with_hello(master_factory, hello_builds["1.0"])
    own = m.url("/", port=m.hello_port)
    assert hello_count(m.url("/hello/")) == {"message": "hello", "count": 1,
                                             "version": "1.0"}
    assert hello_count(own)["count"] == 2
    assert hello_count(m.url("/hello"))["count"] == 3
    p = m.plugins()
    assert [(x["name"], x["version"], x["port"], x["routes"]) for x in p["plugins"]] == \
        [("hello", "1.0", m.hello_port,
          ["GET /hello/", "GET /hello/ui", "GET /hello/ui/*path"])]
    assert p["plugins"][0]["file"] == os.path.join(m.conf_dir, "hello.so")
    assert p["plugins"][0]["conf"] == os.path.join(m.conf_dir, "hello.conf")
    assert p["plugins"][0]["abi"] == "%d.%d" % abi_version()
    assert m.json("/master/state")["plugins"] == p["plugins"]
    met = m.metrics()
    assert met["hello/requests"] == 3
    assert met["master/plugins_loaded"] == 1
    # The plugin's own port serves only the plugin's routes.
    r = requests.get(m.url("/health", port=m.hello_port), timeout=10 * SLOW)
    assert r.status_code == 404
    assert r.json()["message"]


def test_hello_ui_out_of_tree(master_factory, hello_builds):
    """hello.so built against the installed SDK alone carries its page
    (agora_embed + agora_static_serve): served on its port and under
    /hello/ on the master's, with the SDK's headers, the page's script
    and style, a 304 on its ETag, gzip, and the mount point without its
    slash sent to it."""
    m = start_with_hello(master_factory, hello_builds["1.0"])
    src = os.path.join(PREFIX, "share", "agora", "sdk", "examples", "hello", "ui")
    for base in (m.url("/hello/ui/"), m.url("/ui/", port=m.hello_port)):
        r = requests.get(base, timeout=10 * SLOW,
                         headers={"Accept-Encoding": "identity"})
        assert r.status_code == 200
        assert r.headers["Content-Type"] == "text/html; charset=utf-8"
        assert "Content-Encoding" not in r.headers
        with open(os.path.join(src, "index.html"), "rb") as f:
            assert r.content == f.read()
        assert "default-src 'self'" in r.headers["Content-Security-Policy"]
        assert r.headers["X-Content-Type-Options"] == "nosniff"
        etag = r.headers["ETag"]
        r = requests.get(base, headers={"If-None-Match": etag,
                                        "Accept-Encoding": "identity"},
                         timeout=10 * SLOW)
        assert r.status_code == 304 and r.content == b""
        r = requests.get(base + "hello.js", timeout=10 * SLOW,
                         headers={"Accept-Encoding": "gzip"})
        assert r.status_code == 200
        assert r.headers["Content-Encoding"] == "gzip"
        assert r.headers["Content-Type"] == "text/javascript; charset=utf-8"
        with open(os.path.join(src, "hello.js"), "rb") as f:
            assert r.content == f.read()  # requests un-gzips it
        r = requests.get(base + "nope.css", timeout=10 * SLOW)
        assert r.status_code == 404 and r.json()["message"]
    r = requests.get(m.url("/hello/ui"), allow_redirects=False, timeout=10 * SLOW)
    assert r.status_code == 308 and r.headers["Location"] == "ui/"


def test_hello_count_survives_restart_and_kill9(master_factory, hello_builds):
    m = start_with_hello(master_factory, hello_builds["1.0"])
    own = m.url("/", port=m.hello_port)
    for i in range(1, 4):
        assert hello_count(m.url("/hello/"))["count"] == i
    m.restart()
    assert hello_count(own)["count"] == 4
    assert hello_count(m.url("/hello/"))["count"] == 5
    # kill -9 loses nothing once the last write has landed. hello writes
    # its count at most every flush_interval after a reply, so "landed" is
    # polled for: hello/saved reports the last count.
    wait_for(lambda: count_saved(m, 5), what="hello to save count 5")
    m.kill9()
    m.start()
    assert hello_count(m.url("/hello/"))["count"] == 6
    # The private copy the killed master mapped was cleaned at start.
    assert len(os.listdir(os.path.join(m.work_dir, "plugins"))) == 1


class Hammer(threading.Thread):
    """Requests url until stopped, on one keep-alive session (fresh=False)
    or on a new connection each time (fresh=True); records every outcome."""

    def __init__(self, url, fresh):
        super().__init__(daemon=True)
        self.url = url
        self.fresh = fresh
        self.stop_flag = threading.Event()
        self.results = []  # (status or exception text, json or text)

    def run(self):
        session = requests.Session()
        while not self.stop_flag.is_set():
            try:
                if self.fresh:
                    r = requests.get(self.url, timeout=10 * SLOW,
                                     headers={"Connection": "close"})
                else:
                    r = session.get(self.url, timeout=10 * SLOW)
                body = r.json() if r.status_code == 200 else r.text
                self.results.append((r.status_code, body))
            except Exception as e:  # noqa: BLE001 - recorded, asserted later
                self.results.append(("%s: %s" % (type(e).__name__, e), None))
        session.close()

    def finish(self):
        self.stop_flag.set()
        self.join(30 * SLOW)
        assert not self.is_alive()
        return self.results


def reload_to(m, so, how, version):
    """Replaces conf_dir/hello.so with so, asks for a reload (SIGHUP or
    POST /master/reload), waits for /plugins to show the version."""
    gen = m.plugins()["generation"]
    replace_file(so, os.path.join(m.conf_dir, "hello.so"))
    if how == "sighup":
        m.sighup()
    else:
        r = m.post("/master/reload")
        assert r.status_code == 202
        assert r.json() == {"message": "reload requested"}

    def reloaded():
        p = m.plugins()
        return p["generation"] != gen and p["plugins"][0]["version"] == version
    wait_for(reloaded, timeout=5, what="hello %s after the reload" % version)
    p = m.plugins()["plugins"]
    assert [(x["name"], x["version"]) for x in p] == [("hello", version)]


def test_hello_reload_under_load(master_factory, hello_builds):
    """Reloads (SIGHUP, then POST /master/reload, three times each) while
    clients hammer hello on the master's port and its own, on keep-alive
    and fresh connections: every request gets a 200, every count is given
    once, and the count carries across the generations."""
    m = start_with_hello(master_factory, hello_builds["1.0"])
    on_master, on_own = m.url("/hello/"), m.url("/", port=m.hello_port)
    assert hello_count(on_master)["count"] == 1
    hammers = [Hammer(on_master, False), Hammer(on_master, True),
               Hammer(on_own, False), Hammer(on_own, True)]
    for h in hammers:
        h.start()

    def progress(k):
        n = sum(len(h.results) for h in hammers)
        wait_for(lambda: sum(len(h.results) for h in hammers) >= n + k,
                 what="%d more requests" % k)

    progress(20)
    for _ in range(3):
        reload_to(m, hello_builds["2.0"], "sighup", "2.0")
        progress(20)
        reload_to(m, hello_builds["1.0"], "post", "1.0")
        progress(20)
    results = [h.finish() for h in hammers]
    flat = [r for res in results for r in res]
    bad = [r for r in flat if r[0] != 200]
    assert not bad, "%d of %d requests without a 200 during reloads: %r" % (
        len(bad), len(flat), bad[:10])
    for res in results:
        counts = [r[1]["count"] for r in res]
        assert counts == sorted(counts), "one client saw the count go back"
    counts = sorted(r[1]["count"] for r in flat)
    # Nothing lost or counted twice: 2..n+1, then the next one.
    assert counts == list(range(2, len(flat) + 2))
    assert {r[1]["version"] for r in flat} == {"1.0", "2.0"}
    assert hello_count(on_master)["count"] == len(flat) + 2
    met = m.metrics()
    assert met["master/plugin_reloads"] == 6
    assert met["master/plugin_reload_failures"] == 0
    assert met["master/http_deferred_open"] == 0
    # One private copy mapped: the old generations' copies were removed.
    assert len(os.listdir(os.path.join(m.work_dir, "plugins"))) == 1
    print("hammer: %d requests during 6 reloads, all 200" % len(flat))


def test_failed_reload_keeps_generation(master_factory, hello_builds):
    m = start_with_hello(master_factory, hello_builds["1.0"])
    assert hello_count(m.url("/hello/"))["count"] == 1
    before = m.plugins()
    bad = os.path.join(m.conf_dir, "ghost.conf")
    with open(bad, "w") as f:
        f.write("plugin = ghost.so\n")
    mark = m.log_mark()
    m.sighup()
    m.wait_log("reload failed", since=mark)
    m.wait_log("plugin file not found", since=mark)
    wait_for(lambda: m.metrics()["master/plugin_reload_failures"] == 1,
             what="the failure to be counted")
    assert m.plugins() == before
    assert hello_count(m.url("/hello/"))["count"] == 2
    assert hello_count(m.url("/", port=m.hello_port))["count"] == 3
    met = m.metrics()
    assert met["master/plugin_reloads"] == 0
    assert met["master/plugins_loaded"] == 1

    os.unlink(bad)
    m.sighup()
    wait_for(lambda: m.metrics()["master/plugin_reloads"] == 1,
             what="the second reload to succeed")
    after = m.plugins()
    assert after["generation"] > before["generation"]
    # hello did not change: the same plugin object carries on.
    assert after["plugins"] == before["plugins"]
    assert hello_count(m.url("/hello/"))["count"] == 4
    assert m.metrics()["master/plugin_reload_failures"] == 1
