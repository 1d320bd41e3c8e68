"""Every way the loader refuses a plugin: each has its own log line naming
the file, the master keeps serving, and the other plugins load. The test
plugins are compiled here with gcc against the installed header."""
import os
import shutil

import pytest
import requests

from conftest import PLUGIN_DIR, SLOW, abi_version

ABI_MAJOR, ABI_MINOR = abi_version()


def setup_corrupt(m, build_plugin, hello_builds):
    path = os.path.join(m.conf_dir, "corrupt.so")
    with open(path, "wb") as f:
        f.write(os.urandom(4096))
    return path


def setup_abi2(m, build_plugin, hello_builds):
    path = os.path.join(m.conf_dir, "abi2.so")
    shutil.copyfile(build_plugin("abi2"), path)
    return path


def setup_abi1(m, build_plugin, hello_builds):
    path = os.path.join(m.conf_dir, "abi1.so")
    shutil.copyfile(build_plugin("abi1"), path)
    return path


def setup_noentry(m, build_plugin, hello_builds):
    path = os.path.join(m.conf_dir, "noentry.so")
    shutil.copyfile(build_plugin("noentry"), path)
    return path


def setup_initfail(m, build_plugin, hello_builds):
    # Through a conf with an absolute path this time, not a drop-in.
    with open(os.path.join(m.conf_dir, "initfail.conf"), "w") as f:
        f.write("# fails in init\nplugin = %s\n" % build_plugin("initfail"))
    return build_plugin("initfail")


def setup_missing(m, build_plugin, hello_builds):
    with open(os.path.join(m.conf_dir, "ghost.conf"), "w") as f:
        f.write("plugin = ghost.so\n")
    return os.path.join(PLUGIN_DIR, "ghost.so")


def setup_duplicate(m, build_plugin, hello_builds):
    # Two confs, two files, one name: the first in name order wins.
    for conf, version in (("a_hello.conf", "1.0"), ("b_hello.conf", "2.0")):
        with open(os.path.join(m.conf_dir, conf), "w") as f:
            f.write("plugin = %s\n" % hello_builds[version])
    return hello_builds["2.0"]


def setup_unknown_key(m, build_plugin, hello_builds):
    path = os.path.join(m.conf_dir, "hello.so")
    shutil.copyfile(hello_builds["1.0"], path)
    with open(os.path.join(m.conf_dir, "hello.conf"), "w") as f:
        f.write("greeting = hi\ncolour = blue\n")
    return path


# (setup, message in the log line, plugins loaded besides echo)
CASES = {
    "corrupt": (setup_corrupt, "not a loadable shared object", []),
    "abi_mismatch": (setup_abi2, "ABI mismatch", []),
    "abi_older_major": (setup_abi1, "ABI mismatch: plugin built for ABI 1.0", []),
    "no_entry": (setup_noentry, "no entry symbol agora_plugin_entry", []),
    "init_fails": (setup_initfail, "init of plugin initfail failed", []),
    "missing_file": (setup_missing, "plugin file not found", []),
    "duplicate": (setup_duplicate, "duplicate plugin name 'hello'", [("hello", "1.0")]),
    "unknown_key": (setup_unknown_key, "unknown key 'colour' for plugin hello", []),
}


@pytest.mark.parametrize("case", list(CASES))
def test_refused_plugin(case, master_factory, build_plugin, hello_builds):
    setup, message, others = CASES[case]
    m = master_factory()
    shutil.copyfile(build_plugin("echo", sdk=True), os.path.join(m.conf_dir, "echo.so"))
    refused = setup(m, build_plugin, hello_builds)
    m.start()

    lines = [l for l in m.log_lines() if message in l]
    assert len(lines) == 1, "want one line with %r in:\n%s" % (message, m.log())
    line = lines[0]
    assert "ERROR" in line and "refused" in line
    assert refused in line, "the line names %s: %s" % (refused, line)
    if case == "abi_mismatch":
        assert "ABI %d.%d" % (ABI_MAJOR + 1, ABI_MINOR) in line, line
    if case.startswith("abi_"):
        assert "speaks %d.%d" % (ABI_MAJOR, ABI_MINOR) in line, line
    if case == "duplicate":
        assert hello_builds["1.0"] in line  # names the one already loaded

    # Still serving, with the other plugins.
    assert m.get("/health").text == "ok"
    loaded = [(p["name"], p["version"]) for p in m.plugins()["plugins"]]
    assert sorted(loaded) == sorted([("echo", "1.0")] + others)
    r = m.post("/echo", json={"still": "here"})
    assert (r.status_code, r.json()) == (200, {"still": "here"})
    assert m.metrics()["master/plugins_loaded"] == 1 + len(others)
    if case == "init_fails":
        # Its routes were never mounted, and the timer it started in init
        # was released with it (it aborts the process if it ever fires).
        assert m.get("/initfail/").status_code == 404
        for _ in range(10):
            assert m.get("/health").status_code == 200
        assert m.alive()
    if case == "duplicate":
        assert requests.get(m.url("/hello/"), timeout=10 * SLOW).json()["version"] == "1.0"
    m.stop()


def test_older_minor_plugin_served(master_factory, build_plugin):
    """A plugin built against ABI 2.0 loads into a master of a newer minor,
    and sees the longer services table the master gives."""
    m = master_factory()
    shutil.copyfile(build_plugin("minor0"), os.path.join(m.conf_dir, "minor0.so"))
    m.start()
    p = m.plugins()["plugins"]
    assert [(x["name"], x["abi"]) for x in p] == [("minor0", "%d.0" % ABI_MAJOR)]
    assert ABI_MINOR >= 1
    r = m.get("/minor0/")
    assert r.status_code == 200, r.text
    assert r.json()["has_subscribe"] is True


def test_all_refusals_at_once(master_factory, build_plugin, hello_builds):
    """Every bad file in one conf_dir (hello's unknown key excepted, as it
    would refuse hello itself): one line each, echo and hello load."""
    m = master_factory()
    shutil.copyfile(build_plugin("echo", sdk=True), os.path.join(m.conf_dir, "echo.so"))
    for case in ("corrupt", "abi_mismatch", "no_entry", "init_fails",
                 "missing_file", "duplicate"):
        CASES[case][0](m, build_plugin, hello_builds)
    m.start()
    for case in ("corrupt", "abi_mismatch", "no_entry", "init_fails",
                 "missing_file", "duplicate"):
        msg = CASES[case][1]
        assert sum(msg in l for l in m.log_lines()) == 1, (msg, m.log())
    loaded = sorted((p["name"], p["version"]) for p in m.plugins()["plugins"])
    assert loaded == [("echo", "1.0"), ("hello", "1.0")]
    m.stop()


def test_bad_plugin_refused_on_reload(master_factory, build_plugin, hello_builds):
    """A reload that meets a bad file fails as a whole: the log has the
    file's own message and "reload failed"; the running plugins stay."""
    m = master_factory()
    shutil.copyfile(build_plugin("echo", sdk=True), os.path.join(m.conf_dir, "echo.so"))
    m.start()
    before = m.plugins()
    for case in ("abi_mismatch", "no_entry", "corrupt"):
        path = CASES[case][0](m, build_plugin, hello_builds)
        mark = m.log_mark()
        m.sighup()
        line = m.wait_log(CASES[case][1], since=mark)
        assert path in line
        m.wait_log("reload failed", since=mark)
        os.unlink(path)
    assert m.plugins() == before
    assert m.metrics()["master/plugin_reload_failures"] == 3
    assert m.post("/echo", json=[1]).json() == [1]
    m.stop()
