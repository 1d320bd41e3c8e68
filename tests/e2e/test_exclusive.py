"""
One daemon per port and per work_dir (issue 15, item 2).

A second agora-master on a port a master listens on used to start too
(SO_REUSEPORT) and both served, the kernel splitting the requests; a
second one on the same work_dir wrote the same store. Now each stops
at once, with the reason, and exits non-zero. The same for the agent.
"""
import os
import stat
import subprocess

from conftest import (AGENT_BIN, MASTER_BIN, PLUGIN_DIR, SLOW, Agent,
                      free_port, master_env)


def run_master(work_dir, port, tmp_path):
    conf = tmp_path / "conf.d"
    conf.mkdir(exist_ok=True)
    return subprocess.run(
        [MASTER_BIN, "--ip=127.0.0.1", "--port=%d" % port,
         "--work_dir=%s" % work_dir, "--conf_dir=%s" % conf,
         "--plugin_dir=" + PLUGIN_DIR],
        stdin=subprocess.DEVNULL, capture_output=True, text=True,
        env=master_env(), timeout=20 * SLOW)


def test_second_master_on_a_taken_port_fails(master_factory, tmp_path):
    m = master_factory().start()
    r = run_master(tmp_path / "other-work", m.port, tmp_path)
    assert r.returncode != 0, r.stderr
    assert "Address already in use" in r.stderr, r.stderr
    # The first one still answers, alone.
    assert m.get("/health").text == "ok"


def test_second_master_on_a_held_work_dir_fails(master_factory, tmp_path):
    m = master_factory().start()
    r = run_master(m.work_dir, free_port(), tmp_path)
    assert r.returncode != 0, r.stderr
    assert "work_dir %s is in use by agora-master (pid %d)" % (m.work_dir, m.pid) \
        in r.stderr, r.stderr
    st = os.lstat(os.path.join(m.work_dir, "lock"))
    assert stat.S_IMODE(st.st_mode) == 0o600
    assert m.get("/health").text == "ok"


def test_work_dir_free_again_after_the_holder_exits(master_factory, tmp_path):
    m = master_factory().start()
    m.kill9()  # the kernel drops the lock with the process
    m.start()
    assert m.get("/health").text == "ok"


def test_lock_file_symlink_not_followed(master_factory, tmp_path):
    target = tmp_path / "target"
    target.write_text("keep\n")
    os.chmod(target, 0o644)
    work = tmp_path / "w"
    work.mkdir()
    os.symlink(target, work / "lock")
    r = run_master(work, free_port(), tmp_path)
    assert r.returncode != 0, r.stderr
    assert "lock file" in r.stderr, r.stderr
    assert target.read_text() == "keep\n"


def test_second_agent_on_a_held_work_dir_fails(cluster, tmp_path):
    m, _, agent = cluster
    a = agent().start()
    b = Agent(tmp_path / "second", m)
    b.work_dir = a.work_dir
    r = subprocess.run([AGENT_BIN] + b.argv()[1:], stdin=subprocess.DEVNULL,
                       capture_output=True, text=True, env=master_env(),
                       timeout=20 * SLOW)
    assert r.returncode != 0, r.stderr
    assert "work_dir %s is in use by agora-agent (pid %d)" \
        % (a.work_dir, a.proc.pid) in r.stderr, r.stderr
    assert a.state()["id"] == a.agent_id


def test_second_agent_on_a_taken_port_fails(cluster, tmp_path):
    m, _, agent = cluster
    a = agent().start()
    b = Agent(tmp_path / "second", m)
    b.port = a.port
    r = subprocess.run([AGENT_BIN] + b.argv()[1:], stdin=subprocess.DEVNULL,
                       capture_output=True, text=True, env=master_env(),
                       timeout=20 * SLOW)
    assert r.returncode != 0, r.stderr
    assert "Address already in use" in r.stderr, r.stderr
