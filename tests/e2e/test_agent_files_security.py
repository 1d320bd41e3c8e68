"""The agent's files against the users of its tasks (issue 15, items 5
and 6): what a task of another user can do to the files the agent and
its shim open as root, and who can read what the agent keeps.
"""
import os
import pwd
import stat

import pytest

from conftest import TEST_PLUGINS, Agent, Launcher, wait_for
from test_agent import sandbox, task

ROOT = os.geteuid() == 0
SECRET = "DB_PASSWORD=hunter2-e2e"


def nobody():
    return pwd.getpwnam("nobody")


def open_path_to(path):
    """Lets every user cross the directories above path (pytest makes its
    tmp dirs 0700), as an agent's work_dir is on a real machine."""
    d = os.path.dirname(path)
    while d not in ("/", ""):
        st = os.stat(d)
        if not st.st_mode & stat.S_IXOTH:
            os.chmod(d, stat.S_IMODE(st.st_mode) | stat.S_IXOTH)
        d = os.path.dirname(d)


@pytest.mark.skipif(not ROOT, reason="switching users needs root")
def test_stdout_symlink_to_a_root_file_is_not_followed(cluster, tmp_path,
                                                       master_factory):
    """A task of user nobody replaces its stdout by a symlink to a file
    of root's; launched again under the same id, the shim (root) must not
    append to that file nor make it nobody's."""
    m, launcher, agent = cluster
    a = agent()
    open_path_to(a.work_dir)
    a.start()
    victim = tmp_path / "root-owned"
    victim.write_text("root's\n")
    os.chmod(victim, 0o644)
    # The victim's directory is open to nobody (the attack needs only the
    # path; the symlink is made by the task).
    os.chmod(tmp_path, 0o755)
    launcher.launch(a.agent_id, task(
        "evil", "ln -sf %s stdout && ln -sf %s stderr" % (victim, victim),
        user="nobody"))
    launcher.wait_state("evil", "TASK_FINISHED")
    out = os.path.join(sandbox(a, "evil"), "stdout")
    assert os.path.islink(out), "the task could not plant its symlink"
    b, launcher2 = again_under_a_new_master(a, master_factory)
    try:
        launcher2.launch(b.agent_id, task("evil", "echo again; echo err >&2",
                                          user="nobody"))
        launcher2.wait_state("evil", "TASK_FINISHED")
    finally:
        b.stop()
    st = os.stat(victim)
    assert (st.st_uid, st.st_gid) == (0, 0), "the shim chowned root's file"
    assert victim.read_text() == "root's\n", "the shim wrote into root's file"
    assert stat.S_IMODE(st.st_mode) == 0o644
    # The second run's output went to new files of nobody's.
    for name, text in (("stdout", "again\n"), ("stderr", "err\n")):
        p = os.path.join(sandbox(a, "evil"), name)
        lst = os.lstat(p)
        assert stat.S_ISREG(lst.st_mode), name
        assert lst.st_uid == nobody().pw_uid, name
        assert lst.st_nlink == 1
        with open(p) as f:
            assert f.read() == text


@pytest.mark.skipif(not ROOT, reason="switching users needs root")
def test_stdout_hard_link_to_a_root_file_is_replaced(cluster, tmp_path,
                                                     master_factory):
    """The same with a hard link (where the kernel lets a user make one):
    an existing stdout that is not a regular file of the task user's own
    with one link is replaced, never written."""
    m, launcher, agent = cluster
    a = agent()
    open_path_to(a.work_dir)
    a.start()
    launcher.launch(a.agent_id, task("hl", "true", user="nobody"))
    launcher.wait_state("hl", "TASK_FINISHED")
    out = os.path.join(sandbox(a, "hl"), "stdout")
    # Made by root here: fs.protected_hardlinks keeps nobody from it, but
    # a machine may have it off.
    victim = tmp_path / "root-owned"
    victim.write_text("root's\n")
    os.unlink(out)
    os.link(victim, out)
    b, launcher2 = again_under_a_new_master(a, master_factory)
    try:
        launcher2.launch(b.agent_id, task("hl", "echo again", user="nobody"))
        launcher2.wait_state("hl", "TASK_FINISHED")
    finally:
        b.stop()
    st = os.stat(victim)
    assert st.st_uid == 0 and victim.read_text() == "root's\n"
    assert os.stat(out).st_uid == nobody().pw_uid
    with open(out) as f:
        assert f.read() == "again\n"


def again_under_a_new_master(a, master_factory):
    """The same agent (same work_dir and id) under a master that never
    saw its tasks: the only way to launch a task id again, as a master
    never launches an id twice. Returns (the agent, its launcher)."""
    a.stop()
    m2 = master_factory()
    with open(os.path.join(m2.conf_dir, "launcher.conf"), "w") as f:
        f.write("plugin = %s\n" % os.path.join(TEST_PLUGINS, "launcher.so"))
    m2.start()
    b = Agent(a.dir, m2)
    b.start()
    return b, Launcher(m2)


def modes_under(top):
    """{path: (mode, is_dir)} of everything under top, top included."""
    out = {}
    for d, dirs, files in os.walk(top):
        out[d] = (stat.S_IMODE(os.lstat(d).st_mode), True)
        for f in files:
            p = os.path.join(d, f)
            out[p] = (stat.S_IMODE(os.lstat(p).st_mode), False)
    return out


def test_meta_is_the_agents_alone(cluster):
    """Everything under meta/ (the journal holds the tasks' environment)
    is 0700 / 0600, and no file the agent wrote anywhere in its work_dir
    holds a task's secret unless only its owner can read it."""
    m, launcher, agent = cluster
    a = agent()
    a.start()
    name, value = SECRET.split("=", 1)
    launcher.launch(a.agent_id, task("secret", "sleep 600", env={name: value}))
    launcher.wait_state("secret", "TASK_RUNNING")
    meta = os.path.join(a.work_dir, "meta")
    modes = modes_under(meta)
    assert os.path.join(meta, "journal") in modes
    assert os.path.join(meta, "tasks", "secret") in modes  # its meta file
    bad = {p: oct(mode) for p, (mode, is_dir) in modes.items()
           if mode != (0o700 if is_dir else 0o600)}
    assert not bad, bad
    for d, dirs, files in os.walk(a.work_dir):
        for f in files:
            p = os.path.join(d, f)
            with open(p, "rb") as fh:
                if value.encode() in fh.read():
                    assert stat.S_IMODE(os.lstat(p).st_mode) & 0o077 == 0, p
    # The sandbox: the task user's (here the agent's own), 0750.
    assert stat.S_IMODE(os.stat(sandbox(a, "secret")).st_mode) == 0o750
    launcher.kill("secret")
    launcher.wait_state("secret", "TASK_KILLED")


@pytest.mark.skipif(not ROOT, reason="switching users needs root")
def test_sandbox_owned_by_the_task_user(cluster):
    m, launcher, agent = cluster
    a = agent()
    open_path_to(a.work_dir)
    a.start()
    launcher.launch(a.agent_id, task("own", "id -u > me", user="nobody"))
    launcher.wait_state("own", "TASK_FINISHED")
    st = os.stat(sandbox(a, "own"))
    assert (st.st_uid, st.st_gid) == (nobody().pw_uid, nobody().pw_gid)
    assert stat.S_IMODE(st.st_mode) == 0o750
    with open(os.path.join(sandbox(a, "own"), "me")) as f:
        assert int(f.read()) == nobody().pw_uid


def test_meta_modes_fixed_after_an_older_agent(cluster):
    """A work_dir an older agent left 0755 / 0644 is brought to 0700 /
    0600 at start."""
    m, launcher, agent = cluster
    a = agent()
    a.start()
    a.stop()
    meta = os.path.join(a.work_dir, "meta")
    os.chmod(meta, 0o755)
    os.chmod(os.path.join(meta, "tasks"), 0o755)
    os.chmod(os.path.join(meta, "journal"), 0o644)
    a.start()
    assert stat.S_IMODE(os.stat(meta).st_mode) == 0o700
    assert stat.S_IMODE(os.stat(os.path.join(meta, "tasks")).st_mode) == 0o700
    assert stat.S_IMODE(os.stat(os.path.join(meta, "journal")).st_mode) == 0o600


def run_id(launcher, a, tid, **kw):
    """The uid a task's `id -u` prints, and its sandbox's owner."""
    launcher.launch(a.agent_id, task(tid, "id -u > me", **kw))
    launcher.wait_state(tid, "TASK_FINISHED")
    with open(os.path.join(sandbox(a, tid), "me")) as f:
        return int(f.read()), os.stat(sandbox(a, tid)).st_uid


@pytest.mark.skipif(not ROOT, reason="switching users needs root")
def test_a_task_naming_no_user_runs_as_nobody(cluster):
    """Issue 17: a root agent's default user is nobody, not root."""
    m, launcher, agent = cluster
    a = agent(args=["--switch_user=true"])  # the agent's own defaults
    open_path_to(a.work_dir)
    a.start()
    assert run_id(launcher, a, "anon") == (nobody().pw_uid,) * 2
    assert "tasks run as their users, by default nobody" in a.log()


@pytest.mark.skipif(not ROOT, reason="switching users needs root")
def test_default_user_and_no_switch(cluster):
    """--default_user names the user of tasks that name none; with
    --switch_user=false every task runs as the agent's user, whatever it
    names (Mesos' flag)."""
    m, launcher, agent = cluster
    daemon = pwd.getpwnam("daemon").pw_uid
    a = agent(args=["--default_user=daemon"])
    open_path_to(a.work_dir)
    a.start()
    assert run_id(launcher, a, "dflt") == (daemon, daemon)
    assert run_id(launcher, a, "named", user="nobody")[0] == nobody().pw_uid
    b = agent(args=["--switch_user=false"])
    b.start()
    assert run_id(launcher, b, "noswitch", user="nobody") == (0, 0)
    assert run_id(launcher, b, "noswitch2") == (0, 0)
