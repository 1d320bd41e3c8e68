"""The plugin guide's commands, run as written: the SDK installed under a
prefix outside the tree, the smallest plugin and its CMakeLists.txt taken
from the guide's own code blocks, built both ways the guide shows (CMake
and `cc` by hand) with the PKG_CONFIG_PATH it says to set, then loaded
into a real master and asked for its route."""
import os
import re
import shutil
import subprocess

from conftest import BUILD, REPO, _run

GUIDE = os.path.join(REPO, "plugins", "sdk", "docs", "plugin-guide.md")


def guide():
    with open(GUIDE) as f:
        return f.read()


def block_after(text, heading, lang):
    """The first ```lang block after the line `heading`."""
    start = text.index("\n" + heading + "\n")
    m = re.compile(r"```%s\n(.*?)```" % lang, re.S).search(text, start)
    assert m, "no %s block after %s" % (lang, heading)
    return m.group(1)


def inline_after(text, marker):
    """The `code` that follows marker, its line breaks made spaces."""
    m = re.compile(re.escape(marker) + r"\s*`([^`]*)`", re.S).search(text)
    assert m, "no inline code after %r" % marker
    return " ".join(m.group(1).split())


def test_guide_commands_verbatim(tmp_path, master_factory):
    text = guide()
    prefix = str(tmp_path / "opt-agora")
    _run(["cmake", "--install", BUILD, "--prefix", prefix])
    # "export PKG_CONFIG_PATH=/opt/agora/lib/pkgconfig", for our prefix.
    export = inline_after(text, "tell pkg-config where its file is first:")
    assert export == "export PKG_CONFIG_PATH=/opt/agora/lib/pkgconfig", export
    env = dict(os.environ, PKG_CONFIG_PATH=export.split("=", 1)[1]
               .replace("/opt/agora", prefix))

    src = tmp_path / "pinger"
    src.mkdir()
    (src / "pinger.c").write_text(block_after(text, "## The smallest plugin", "c"))
    (src / "CMakeLists.txt").write_text(block_after(text, "## Building", "cmake"))

    # With CMake.
    _run(["cmake", "-S", str(src), "-B", str(src / "build")], env=env)
    _run(["cmake", "--build", str(src / "build")], env=env)
    built = src / "build" / "pinger.so"
    assert built.exists()

    # By hand, the command as the guide gives it.
    by_hand = inline_after(text, "or by hand:")
    assert by_hand.startswith("cc -shared"), by_hand
    _run(["sh", "-c", by_hand], cwd=str(src), env=env)
    for so in (built, src / "pinger.so"):
        out = _run(["nm", "-D", "--defined-only", str(so)]).stdout
        names = [l.split()[-1] for l in out.splitlines() if l.strip()]
        assert names == ["agora_plugin_entry"], names

    # The example's command, with <prefix> filled in.
    hello = inline_after(text, "is a complete plugin with its own `CMakeLists.txt`:")
    hello = hello.replace("<prefix>", prefix)
    _run(["sh", "-c", hello], cwd=str(tmp_path), env=env)
    assert (tmp_path / "build" / "hello.so").exists()

    # Dropped into --conf_dir, as the guide says, it serves its route.
    m = master_factory()
    shutil.copyfile(str(src / "pinger.so"), os.path.join(m.conf_dir, "pinger.so"))
    m.start()
    r = m.get("/pinger/ping")
    assert (r.status_code, r.text) == (200, "pong")
