"""
End-to-end harness: real agora-master processes on loopback, free ports,
plugins built against the installed SDK.

Environment (set by scripts/test):
  AGORA_BUILD_DIR  build directory holding bin/agora-master and
                   lib/agora/plugins/ (default: <repo>/build)
  AGORA_PREFIX     an install prefix made by `cmake --install` (include/,
                   lib/libagora-sdk.a, lib/pkgconfig/, share/agora/sdk/)
                   (default: <build>/stage)
  AGORA_SANITIZE   ON when the build has AddressSanitizer + UBSan: timeouts
                   grow and every clean stop checks the log for reports

Run by hand:  /usr/bin/python3 -m pytest -q tests/e2e
"""
import json
import os
import re
import shutil
import signal
import socket
import subprocess
import time

import pytest
import requests

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
BUILD = os.path.abspath(os.environ.get("AGORA_BUILD_DIR") or os.path.join(REPO, "build"))
PREFIX = os.path.abspath(os.environ.get("AGORA_PREFIX") or os.path.join(BUILD, "stage"))
SANITIZE = os.environ.get("AGORA_SANITIZE", "OFF").upper() == "ON"
MASTER_BIN = os.path.join(BUILD, "bin", "agora-master")
PLUGIN_DIR = os.path.join(BUILD, "lib", "agora", "plugins")
TEST_PLUGIN_SRC = os.path.join(REPO, "tests", "plugins")

# Everything is slower under the sanitizers.
SLOW = 3.0 if SANITIZE else 1.0
SANITIZER_MARKS = ("ERROR: AddressSanitizer", "LeakSanitizer", "runtime error:")


def abi_version():
    """(major, minor) of the installed SDK header."""
    with open(os.path.join(PREFIX, "include", "agora", "plugin.h")) as f:
        text = f.read()
    return tuple(int(re.search(r"#define AGORA_ABI_%s (\d+)" % k, text).group(1))
                 for k in ("MAJOR", "MINOR"))


def free_port():
    """A port nothing listens on right now (bound to 0, then released)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class MasterDied(AssertionError):
    """The master a test talks to has exited (the message holds its log)."""


def wait_for(fn, timeout=5.0, interval=0.02, what="condition"):
    """Polls fn() until it returns a truthy value, which is returned.
    Exceptions from fn count as 'not yet', except MasterDied, which fails
    at once. Fails after timeout * SLOW."""
    deadline = time.monotonic() + timeout * SLOW
    last = None
    while True:
        try:
            v = fn()
            if v:
                return v
            last = v
        except MasterDied:
            raise
        except Exception as e:  # noqa: BLE001 - any failure means "not yet"
            last = e
        if time.monotonic() > deadline:
            raise AssertionError("timed out after %.1fs waiting for %s (last: %r)"
                                 % (timeout * SLOW, what, last))
        time.sleep(interval)


def port_open(port):
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.settimeout(1.0)
        return s.connect_ex(("127.0.0.1", port)) == 0


def master_env(extra=None):
    """The environment for a master: ours without any AGORA_* variable
    (a stray AGORA_PORT in a developer's shell would change the flags)."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("AGORA_")}
    env.update(extra or {})
    return env


class Master:
    """One agora-master process.

    Its stderr goes to <dir>/master.log (appended across restarts); work_dir,
    conf_dir and an empty config_dir live under dir and survive restarts.
    port=None starts it without --port (the caller sets .port to the one it
    expects, for the precedence tests).
    """

    def __init__(self, dir, port="free", args=(), env=None, conf_dir=None,
                 work_dir=None, config_dir=None):
        self.dir = str(dir)
        os.makedirs(self.dir, exist_ok=True)
        # Directories given by the caller are used as they are (possibly
        # absent); the default ones are made here.
        self.work_dir = work_dir or os.path.join(self.dir, "work")
        self.conf_dir = conf_dir or os.path.join(self.dir, "conf.d")
        self.config_dir = config_dir or os.path.join(self.dir, "config")
        if conf_dir is None:
            os.makedirs(self.conf_dir, exist_ok=True)
        if config_dir is None:
            os.makedirs(self.config_dir, exist_ok=True)
        self.port_flag = free_port() if port == "free" else port
        self.port = self.port_flag
        self.args = list(args)
        self.env = env
        self.log_path = os.path.join(self.dir, "master.log")
        self.proc = None
        self.starts = 0

    # ---- life ----

    def argv(self):
        a = [MASTER_BIN, "--ip=127.0.0.1", "--work_dir=" + self.work_dir,
             "--conf_dir=" + self.conf_dir, "--plugin_dir=" + PLUGIN_DIR,
             "--config_dir=" + self.config_dir]
        if self.port_flag is not None:
            a.append("--port=%d" % self.port_flag)
        return a + self.args

    def start(self, wait=True):
        assert self.proc is None, "already running"
        with open(self.log_path, "a") as log:
            log.write("---- start %d: %s\n" % (self.starts + 1, " ".join(self.argv())))
            log.flush()
            self.proc = subprocess.Popen(self.argv(), stdin=subprocess.DEVNULL,
                                         stdout=log, stderr=log,
                                         env=master_env(self.env))
        self.starts += 1
        if wait:
            self.wait_healthy()
        return self

    def wait_healthy(self, timeout=10.0):
        """Polls /health until it answers 200 "ok"; fails at once if the
        process exits."""
        deadline = time.monotonic() + timeout * SLOW
        while True:
            if self.proc.poll() is not None:
                rc = self.proc.returncode
                self.proc = None
                raise AssertionError("agora-master exited with %s before it was "
                                     "healthy; log:\n%s" % (rc, self.log()))
            try:
                r = requests.get(self.url("/health"), timeout=1.0 * SLOW)
                if r.status_code == 200 and r.text == "ok":
                    return
            except requests.RequestException:
                pass
            if time.monotonic() > deadline:
                raise AssertionError("agora-master not healthy on port %s after "
                                     "%.0fs; log:\n%s"
                                     % (self.port, timeout * SLOW, self.log()))
            time.sleep(0.02)

    @property
    def pid(self):
        return self.proc.pid

    def alive(self):
        return self.proc is not None and self.proc.poll() is None

    def signal(self, sig):
        self.proc.send_signal(sig)

    def sighup(self):
        self.signal(signal.SIGHUP)

    def stop(self, timeout=15.0):
        """SIGTERM; asserts exit code 0 and, under the sanitizers, a log
        without any report."""
        assert self.proc is not None, "not running"
        proc, self.proc = self.proc, None
        if proc.poll() is None:
            proc.send_signal(signal.SIGTERM)
        try:
            rc = proc.wait(timeout * SLOW)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
            raise AssertionError("agora-master ignored SIGTERM for %.0fs; log:\n%s"
                                 % (timeout * SLOW, self.log()))
        assert rc == 0, "agora-master exited with %s; log:\n%s" % (rc, self.log())
        self.check_sanitizers()

    def check_sanitizers(self):
        if not SANITIZE:
            return
        text = self.log()
        for mark in SANITIZER_MARKS:
            assert mark not in text, "sanitizer report (%r) in the log:\n%s" % (mark, text)

    def kill9(self):
        proc, self.proc = self.proc, None
        proc.kill()
        proc.wait()

    def restart(self):
        self.stop()
        return self.start()

    # ---- talking to it ----

    def url(self, path, port=None):
        return "http://127.0.0.1:%d%s" % (port or self.port, path)

    def check_alive(self):
        """Raises MasterDied when the process has exited on its own."""
        if self.proc is not None and self.proc.poll() is not None:
            raise MasterDied("agora-master exited with %s; log:\n%s"
                             % (self.proc.returncode, self.log()))

    def get(self, path, **kw):
        self.check_alive()
        kw.setdefault("timeout", 10 * SLOW)
        return requests.get(self.url(path), **kw)

    def post(self, path, **kw):
        self.check_alive()
        kw.setdefault("timeout", 10 * SLOW)
        return requests.post(self.url(path), **kw)

    def json(self, path):
        r = self.get(path)
        assert r.status_code == 200, (path, r.status_code, r.text)
        return r.json()

    def metrics(self):
        return self.json("/metrics/snapshot")

    def plugins(self):
        return self.json("/plugins")

    # ---- its log ----

    def log(self):
        try:
            with open(self.log_path, errors="replace") as f:
                return f.read()
        except FileNotFoundError:
            return ""

    def log_mark(self):
        """A position in the log; pass it to wait_log(since=...)."""
        return len(self.log())

    def log_lines(self, since=0):
        return self.log()[since:].splitlines()

    def wait_log(self, text, since=0, timeout=5.0):
        """Waits for a log line containing text (after since); returns it."""
        def find():
            for line in self.log_lines(since):
                if text in line:
                    return line
            return None
        return wait_for(find, timeout, what="log line %r" % text)


@pytest.fixture
def master_factory(tmp_path):
    """Makes Masters under tmp_path; stops what is still running at the end
    (asserting a clean exit)."""
    made = []
    n = [0]

    def make(**kw):
        n[0] += 1
        m = Master(kw.pop("dir", tmp_path / ("m%d" % n[0])), **kw)
        made.append(m)
        return m

    yield make
    errors = []
    for m in made:
        if m.alive():
            try:
                m.stop()
            except AssertionError as e:
                errors.append(str(e))
        elif m.proc is not None:
            m.proc = None
    assert not errors, "\n".join(errors)


# ---- building plugins against the installed SDK ----

def pkgconfig_flag_dirs(flag):
    """The directories pkg-config, pointed at the prefix, gives agora-plugin
    with `flag` ("-I" or "-L"), resolved to real paths."""
    env = dict(os.environ, PKG_CONFIG_PATH=os.path.join(PREFIX, "lib", "pkgconfig"))
    out = subprocess.run(["pkg-config", "--cflags", "--libs", "agora-plugin"], env=env,
                         capture_output=True, text=True)
    assert out.returncode == 0, out.stderr
    return [os.path.realpath(w[2:]) for w in out.stdout.split() if w.startswith(flag)]


def pkgconfig_prefix_ok():
    """True when pkg-config, pointed at the prefix, names its include dir."""
    return os.path.realpath(os.path.join(PREFIX, "include")) in pkgconfig_flag_dirs("-I")


def _run(argv, **kw):
    r = subprocess.run(argv, capture_output=True, text=True, **kw)
    assert r.returncode == 0, "%s failed (%d):\n%s\n%s" % (" ".join(argv), r.returncode,
                                                          r.stdout, r.stderr)
    return r


@pytest.fixture(scope="session")
def hello_builds(tmp_path_factory):
    """hello.so built OUT OF TREE from the installed example with its own
    CMakeLists.txt, once with HELLO_VERSION 1.0 and once with 2.0:
    {"1.0": path, "2.0": path}."""
    tmp = tmp_path_factory.mktemp("hello-builds")
    src = os.path.join(PREFIX, "share", "agora", "sdk", "examples", "hello")
    env = dict(os.environ, PKG_CONFIG_PATH=os.path.join(PREFIX, "lib", "pkgconfig"))
    out = {}
    procs = {}
    for version in ("1.0", "2.0"):
        b = os.path.join(str(tmp), "build-" + version)
        procs[version] = (b, subprocess.Popen(
            ["cmake", "-S", src, "-B", b, "-DHELLO_VERSION=" + version],
            env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True))
    for version, (b, p) in procs.items():
        text = p.communicate()[0]
        assert p.returncode == 0, "configuring hello %s failed:\n%s" % (version, text)
        _run(["cmake", "--build", b], env=env)
        so = os.path.join(b, "hello.so")
        assert os.path.exists(so), so
        out[version] = so
    return out


@pytest.fixture(scope="session")
def build_plugin(tmp_path_factory):
    """build_plugin("echo") -> path of echo.so, compiled from
    tests/plugins/echo.c with gcc against the installed headers (and,
    for sdk=True, libagora-sdk.a and yajl). Cached per session."""
    tmp = tmp_path_factory.mktemp("test-plugins")
    cache = {}

    def build(name, sdk=False, out_name=None):
        key = (name, sdk, out_name)
        if key in cache:
            return cache[key]
        out = os.path.join(str(tmp), out_name or (name + ".so"))
        argv = ["gcc", "-std=c11", "-Wall", "-Wextra", "-Werror", "-O1", "-g",
                "-shared", "-fPIC", "-fvisibility=hidden",
                "-I" + os.path.join(PREFIX, "include"),
                "-o", out, os.path.join(TEST_PLUGIN_SRC, name + ".c")]
        if sdk:
            argv += [os.path.join(PREFIX, "lib", "libagora-sdk.a"), "-lyajl", "-lm"]
        _run(argv)
        cache[key] = out
        return out

    return build


def replace_file(src, dst):
    """Copies src over dst in place (same inode, new content), with an mtime
    clearly newer than before, as `cp new.so conf.d/x.so` does."""
    before = os.stat(dst).st_mtime_ns if os.path.exists(dst) else 0
    shutil.copyfile(src, dst)
    now = max(time.time_ns(), before + 1_000_000_000)
    os.utime(dst, ns=(now, now))


def hello_count(url, session=None):
    r = (session or requests).get(url, timeout=10 * SLOW)
    assert r.status_code == 200, (url, r.status_code, r.text)
    return r.json()


# ---- agents ----

AGENT_BIN = os.path.join(BUILD, "bin", "agora-agent")
TEST_PLUGINS = os.path.join(BUILD, "tests", "plugins")


def free_port_range(n):
    """n consecutive ports nothing listens on now (checked one by one)."""
    import random
    # Below Linux's ephemeral range (32768 and up): an outgoing connection
    # of another process may take a port from there at any time.
    for _ in range(200):
        base = random.randrange(10000, 32000 - n)
        if all(not port_open(p) for p in range(base, base + n)):
            return base, base + n - 1
    raise AssertionError("no free port range of %d" % n)


class RecordIO:
    """A SUBSCRIBE stream of a master's v1 operator API, read record by
    record ("<length>\\n<JSON>"); the first event of each type is kept in
    .seen."""

    def __init__(self, m):
        self.r = requests.post(m.url("/api/v1"), json={"type": "SUBSCRIBE"},
                               headers={"Accept": "application/json"},
                               stream=True, timeout=10 * SLOW)
        assert self.r.status_code == 200, self.r.text
        self.raw = self.r.raw
        self.seen = {}

    def next(self):
        head = b""
        while not head.endswith(b"\n"):
            c = self.raw.read(1)
            assert c, "the stream ended"
            head += c
        n = int(head)
        body = b""
        while len(body) < n:
            chunk = self.raw.read(n - len(body))
            assert chunk, "the stream ended inside a record"
            body += chunk
        ev = json.loads(body)
        self.seen.setdefault(ev["type"], ev)
        return ev

    def until(self, pred, limit=200):
        """Reads until an event for which pred holds (at most limit)."""
        seen = []
        for _ in range(limit):
            ev = self.next()
            seen.append(ev["type"])
            if pred(ev):
                return ev
        raise AssertionError("not seen in %s" % seen)

    def close(self):
        self.r.close()


class Agent:
    """One agora-agent process, subscribed to a master.

    Its stderr goes to <dir>/agent.log (appended across restarts); its
    work_dir survives restarts, so a restarted agent is the same agent.
    """

    def __init__(self, dir, master, resources=None, args=(), ports=20):
        self.dir = str(dir)
        os.makedirs(self.dir, exist_ok=True)
        self.work_dir = os.path.join(self.dir, "work")
        self.master = master
        self.port = free_port()
        self.port_range = free_port_range(ports)
        self.resources = resources or (
            "cpus:4;mem:4096;disk:10000;ports:[%d-%d]" % self.port_range)
        self.args = list(args)
        self.log_path = os.path.join(self.dir, "agent.log")
        self.proc = None

    def argv(self):
        masters = self.master if isinstance(self.master, str) else \
            "127.0.0.1:%d" % self.master.port
        # Tasks naming no user run as root here, as the tests' commands
        # write into the tests' root-only directories; an agent's default
        # (nobody) is tested where a test passes --default_user itself.
        defaults = [] if any(a.startswith(("--default_user", "--switch_user"))
                             for a in self.args) else ["--default_user=root"]
        # The mesos containerizer only, unless a test asks: a machine with
        # a docker engine would otherwise run DOCKER containers there.
        if not any(a.startswith("--containerizers") for a in self.args):
            defaults.append("--containerizers=mesos")
        return [AGENT_BIN, "--master=" + masters, "--ip=127.0.0.1",
                "--port=%d" % self.port, "--work_dir=" + self.work_dir,
                "--resources=" + self.resources, "--hostname=127.0.0.1",
                "--config_dir=" + os.path.join(self.dir, "config")] + \
            defaults + self.args

    def start(self, wait=True, extra=()):
        assert self.proc is None
        os.makedirs(os.path.join(self.dir, "config"), exist_ok=True)
        with open(self.log_path, "a") as log:
            log.write("---- start: %s\n" % " ".join(self.argv() + list(extra)))
            log.flush()
            self.proc = subprocess.Popen(self.argv() + list(extra),
                                         stdin=subprocess.DEVNULL, stdout=log,
                                         stderr=log, env=master_env(),
                                         start_new_session=True)
        if wait:
            self.wait_subscribed()
        return self

    def alive(self):
        return self.proc is not None and self.proc.poll() is None

    def check_alive(self):
        if self.proc is not None and self.proc.poll() is not None:
            raise MasterDied("agora-agent exited with %s; log:\n%s"
                             % (self.proc.returncode, self.log()))

    def url(self, path):
        return "http://127.0.0.1:%d%s" % (self.port, path)

    def get(self, path, **kw):
        self.check_alive()
        kw.setdefault("timeout", 10 * SLOW)
        return requests.get(self.url(path), **kw)

    def state(self):
        r = self.get("/state")
        assert r.status_code == 200, r.text
        return r.json()

    @property
    def id(self):
        return self.state()["id"]

    def wait_subscribed(self, timeout=10.0):
        """Until the agent answers /state and the master lists it active."""
        def ok():
            self.check_alive()
            aid = self.state()["id"]
            for a in self.master.json("/master/agents")["agents"]:
                if a["id"] == aid and a["state"] == "active" and a["connected"]:
                    return aid
            return None
        self.agent_id = wait_for(ok, timeout, what="the agent to subscribe")
        return self.agent_id

    def stop(self, timeout=15.0):
        """SIGTERM: the agent exits 0 and leaves its tasks running."""
        proc, self.proc = self.proc, None
        proc.send_signal(signal.SIGTERM)
        rc = proc.wait(timeout * SLOW)
        assert rc == 0, "agora-agent exited with %s; log:\n%s" % (rc, self.log())
        if SANITIZE:
            text = self.log()
            for mark in SANITIZER_MARKS:
                assert mark not in text, "sanitizer report in:\n" + text

    def kill9(self):
        proc, self.proc = self.proc, None
        proc.kill()
        proc.wait()

    def log(self):
        try:
            with open(self.log_path, errors="replace") as f:
                return f.read()
        except FileNotFoundError:
            return ""


class Launcher:
    """The launcher test plugin on a master: launch, kill, statuses."""

    def __init__(self, master):
        self.m = master

    def launch(self, agent_id, *tasks):
        r = self.m.post("/launcher/launch", json={"agent_id": agent_id,
                                                  "tasks": list(tasks)})
        assert r.status_code == 202, r.text

    def kill(self, task_id):
        return self.m.post("/launcher/kill/" + task_id)

    def statuses(self, task_id=None):
        path = "/launcher/statuses" + ("?task_id=" + task_id if task_id else "")
        return self.m.json(path)

    def states(self, task_id):
        return [s["state"] for s in self.statuses(task_id)]

    def wait_state(self, task_id, state, timeout=10.0):
        """Until task_id has reached state; returns that status."""
        def seen():
            for s in self.statuses(task_id):
                if s["state"] == state:
                    return s
            return None
        return wait_for(seen, timeout, what="%s to reach %s (seen: %s)"
                        % (task_id, state, "…"))


@pytest.fixture
def cluster(tmp_path, master_factory):
    """A master with the launcher plugin and a factory of agents; stops
    the agents (and kills their tasks' leftovers) at the end."""
    m = master_factory(args=["--agent_ping_timeout=0.5secs",
                             "--max_agent_ping_timeouts=4"])
    with open(os.path.join(m.conf_dir, "launcher.conf"), "w") as f:
        f.write("plugin = %s\n" % os.path.join(TEST_PLUGINS, "launcher.so"))
    m.start()
    agents = []

    def agent(**kw):
        a = Agent(tmp_path / ("agent%d" % len(agents)), m, **kw)
        agents.append(a)
        return a

    yield m, Launcher(m), agent
    for a in agents:
        if a.alive():
            a.stop()
        # Tasks outlive their agent by design: end them for the next test.
        kill_leftovers(a.work_dir)


def kill_leftovers(work_dir):
    """SIGKILLs every process working in or started for work_dir: tasks
    (their cwd is a sandbox under it) and shims (named in their argv)."""
    for pid in os.listdir("/proc"):
        if not pid.isdigit() or int(pid) == os.getpid():
            continue
        try:
            cwd = os.readlink("/proc/%s/cwd" % pid)
            with open("/proc/%s/cmdline" % pid, "rb") as f:
                argv = f.read().decode(errors="replace")
        except OSError:
            continue
        if cwd.startswith(work_dir) or work_dir in argv:
            try:
                os.kill(int(pid), signal.SIGKILL)
            except OSError:
                pass


# ---- placement: the placer test plugin, agents started together, simcluster ----

SIMCLUSTER_BIN = os.path.join(BUILD, "tests", "simcluster")


class Placer:
    """The placer test plugin on a master (tests/plugins/placer.c)."""

    def __init__(self, master):
        self.m = master

    def target(self, count, prefix="p", command="sleep 600",
               resources="cpus:0.01;mem:8", **kw):
        body = {"count": count, "prefix": prefix, "command": command,
                "resources": resources}
        body.update(kw)
        r = self.m.post("/placer/target", json=body)
        assert r.status_code == 200, r.text
        return r.json()

    def stats(self):
        return self.m.json("/placer/stats")

    def kill_all(self):
        r = self.m.post("/placer/kill_all")
        assert r.status_code == 202, r.text
        return r.json()

    def wait(self, key, n, timeout=30.0):
        """Until stats()[key] reaches n; fails at once if tasks end badly."""
        def done():
            s = self.stats()
            if s["failed"] or s["error"] or s["lost"] or s[key] >= n:
                return s
            return None
        s = wait_for(done, timeout, interval=0.05,
                     what="%s >= %d in /placer/stats" % (key, n))
        assert not (s["failed"] or s["error"] or s["lost"]), \
            "tasks ended badly: %s" % s
        return s


@pytest.fixture
def placer_cluster(tmp_path, master_factory):
    """A master with the placer plugin, and start_agents(n, **kw) that
    starts n agents at once and waits for all of them to subscribe; the
    agents are stopped and their tasks' leftovers killed at the end.
    Pings keep the master's defaults (15 s, 5 misses): agents busy
    starting 50 tasks each on a loaded machine, under the sanitizers,
    can miss a short ping window and be declared unreachable."""
    m = master_factory()
    with open(os.path.join(m.conf_dir, "placer.conf"), "w") as f:
        f.write("plugin = %s\n" % os.path.join(TEST_PLUGINS, "placer.so"))
    m.start()
    agents = []

    def start_agents(n, **kw):
        batch = [Agent(tmp_path / ("agent%d" % (len(agents) + i)), m, **kw)
                 for i in range(n)]
        agents.extend(batch)
        for a in batch:
            a.start(wait=False)
        for a in batch:
            a.wait_subscribed(timeout=20.0)
        return batch

    yield m, Placer(m), start_agents
    for a in agents:
        if a.alive():
            a.stop()
    for a in agents:
        kill_leftovers(a.work_dir)


class SimCluster:
    """One simcluster process (tests/sim/simcluster.c) against a master."""

    def __init__(self, dir, master, agents, args=()):
        self.dir = str(dir)
        os.makedirs(self.dir, exist_ok=True)
        self.report_path = os.path.join(self.dir, "sim.json")
        self.log_path = os.path.join(self.dir, "sim.log")
        self.argv = [SIMCLUSTER_BIN, "--master=127.0.0.1:%d" % master.port,
                     "--agents=%d" % agents, "--report=" + self.report_path,
                     "--stats_interval=0.2"] + list(args)
        self.proc = None

    def start(self):
        with open(self.log_path, "a") as log:
            self.proc = subprocess.Popen(self.argv, stdin=subprocess.DEVNULL,
                                         stdout=log, stderr=log, env=master_env())
        return self

    def log(self):
        with open(self.log_path, errors="replace") as f:
            return f.read()

    def report(self):
        with open(self.report_path) as f:
            return json.load(f)

    def stop(self, timeout=15.0):
        """SIGTERM: exits 0 with a final stats line and report."""
        proc, self.proc = self.proc, None
        proc.send_signal(signal.SIGTERM)
        rc = proc.wait(timeout * SLOW)
        text = self.log()
        assert rc == 0, "simcluster exited with %s; log:\n%s" % (rc, text)
        assert "simcluster: final" in text, text
        if SANITIZE:
            for mark in SANITIZER_MARKS:
                assert mark not in text, "sanitizer report in:\n" + text
        return self.report()


@pytest.fixture
def simcluster(tmp_path):
    """simcluster(master, agents, *args) -> a started SimCluster; those
    still running are stopped (exit 0 asserted) at the end."""
    made = []

    def make(master, agents, *args):
        s = SimCluster(tmp_path / ("sim%d" % len(made)), master, agents, args)
        made.append(s)
        return s.start()

    yield make
    for s in made:
        if s.proc is not None:
            s.stop()
