"""Reloads that change more than the .so: a conf value, the plugin's own
port, a plugin removed, and a reload whose init fails half-way (the
previous generation must come back, listener included)."""
import os
import shutil

import requests

from conftest import SLOW, free_port, hello_count, port_open, replace_file, wait_for


def start(master_factory, so, conf):
    m = master_factory()
    shutil.copyfile(so, os.path.join(m.conf_dir, "hello.so"))
    with open(os.path.join(m.conf_dir, "hello.conf"), "w") as f:
        f.write(conf)
    return m.start()


def reload_and_wait(m, ok=True):
    """SIGHUP, then waits for the reload to be counted; returns /plugins."""
    met = m.metrics()
    key = "master/plugin_reloads" if ok else "master/plugin_reload_failures"
    m.sighup()
    wait_for(lambda: m.metrics()[key] == met[key] + 1, what=key)
    return m.plugins()


def write_conf(m, text):
    path = os.path.join(m.conf_dir, "hello.conf")
    with open(path, "w") as f:
        f.write(text)


def test_conf_change_reloads_plugin(master_factory, hello_builds):
    port = free_port()
    m = start(master_factory, hello_builds["1.0"], "port = %d\n" % port)
    assert hello_count(m.url("/hello/")) == {"message": "hello", "count": 1, "version": "1.0"}
    write_conf(m, "port = %d\ngreeting = \"hi there\"\n" % port)
    reload_and_wait(m)
    assert hello_count(m.url("/", port=port)) == {"message": "hi there", "count": 2,
                                                  "version": "1.0"}


def test_port_change_moves_listener(master_factory, hello_builds):
    p1, p2 = free_port(), free_port()
    m = start(master_factory, hello_builds["1.0"], "port = %d\n" % p1)
    assert hello_count(m.url("/", port=p1))["count"] == 1
    write_conf(m, "port = %d\n" % p2)
    p = reload_and_wait(m)
    assert p["plugins"][0]["port"] == p2
    assert hello_count(m.url("/", port=p2))["count"] == 2
    assert not port_open(p1), "the old port is still open"
    # And back to no port at all.
    write_conf(m, "greeting = hello\n")
    p = reload_and_wait(m)
    assert p["plugins"][0]["port"] == 0
    assert not port_open(p2)
    assert hello_count(m.url("/hello/"))["count"] == 3


def test_removed_plugin_unloads(master_factory, hello_builds):
    port = free_port()
    m = start(master_factory, hello_builds["1.0"], "port = %d\n" % port)
    assert hello_count(m.url("/hello/"))["count"] == 1
    assert m.metrics()["hello/requests"] == 1
    os.unlink(os.path.join(m.conf_dir, "hello.so"))
    os.unlink(os.path.join(m.conf_dir, "hello.conf"))
    p = reload_and_wait(m)
    assert p["plugins"] == []
    r = m.get("/hello/")
    assert r.status_code == 404
    assert not port_open(port)
    met = m.metrics()
    assert met["master/plugins_loaded"] == 0
    assert "hello/requests" not in met
    assert os.listdir(os.path.join(m.work_dir, "plugins")) == []
    # Back again: the count was kept in the store.
    shutil.copyfile(hello_builds["2.0"], os.path.join(m.conf_dir, "hello.so"))
    reload_and_wait(m)
    assert hello_count(m.url("/hello/")) == {"message": "hello", "count": 2, "version": "2.0"}


def test_port_clash_with_master_refused(master_factory, hello_builds):
    m = start(master_factory, hello_builds["1.0"], "greeting = x\n")
    before = m.plugins()
    write_conf(m, "port = %d\n" % m.port)
    mark = m.log_mark()
    reload_and_wait(m, ok=False)
    line = m.wait_log("port %d is already in use" % m.port, since=mark)
    assert os.path.join(m.conf_dir, "hello.so") in line
    # libmicrohttpd's own line names the port asked for, not 0.
    assert not [l for l in m.log_lines() if "port 0" in l], m.log()
    m.wait_log("reload failed", since=mark)
    assert m.plugins() == before
    assert hello_count(m.url("/hello/")) == {"message": "x", "count": 1, "version": "1.0"}


def test_init_failure_rolls_back(master_factory, hello_builds, build_plugin):
    """A reload that replaces hello (1.0 -> 2.0) and adds a plugin whose
    init fails: hello 2.0 was already started when initfail failed, so the
    rollback finishes it and starts hello 1.0 again - on its own port, with
    its count."""
    port = free_port()
    m = start(master_factory, hello_builds["1.0"], "port = %d\n" % port)
    assert hello_count(m.url("/hello/"))["count"] == 1
    assert hello_count(m.url("/", port=port))["count"] == 2
    wait_for(lambda: m.metrics()["master/store_pending"] == 0, what="an idle store")
    before = m.plugins()
    replace_file(hello_builds["2.0"], os.path.join(m.conf_dir, "hello.so"))
    with open(os.path.join(m.conf_dir, "initfail.conf"), "w") as f:
        f.write("plugin = %s\n" % build_plugin("initfail"))
    mark = m.log_mark()
    reload_and_wait(m, ok=False)
    m.wait_log("init of plugin initfail failed", since=mark)
    # The log says what happened: a rollback, not "keeping" as it was.
    m.wait_log("reload failed: an init failed; the plugins it replaced were "
               "started again", since=mark)
    assert not [l for l in m.log_lines(since=mark) if "keeping the current" in l]
    after = m.plugins()
    assert after["generation"] == before["generation"]
    assert [(x["name"], x["version"], x["port"]) for x in after["plugins"]] == \
        [("hello", "1.0", port)]
    assert hello_count(m.url("/hello/")) == {"message": "hello", "count": 3, "version": "1.0"}
    assert hello_count(m.url("/", port=port))["count"] == 4
    # Mended: the next reload takes hello 2.0.
    os.unlink(os.path.join(m.conf_dir, "initfail.conf"))
    p = reload_and_wait(m)
    assert [(x["name"], x["version"]) for x in p["plugins"]] == [("hello", "2.0")]
    assert hello_count(m.url("/", port=port))["count"] == 5
    r = requests.get(m.url("/initfail/"), timeout=10 * SLOW)
    assert r.status_code == 404
