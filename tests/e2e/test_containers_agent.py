"""agora-agent's container flags against a real master: the docker
probe at start (a CLI with an engine, one without, none at all), the
refusal of bad flags, and the sweep of BRIDGE networks of tasks that are
gone. End-to-end runs of docker tasks need an engine: none here (the
command lines are unit-tested in tests/unit/test_docker.c).
"""
import json
import os
import shutil
import stat
import subprocess

import pytest

from conftest import AGENT_BIN, wait_for
from marathon_fixture import marathon_cluster  # noqa: F401 - a fixture


def fake_docker(path, body):
    with open(path, "w") as f:
        f.write("#!/bin/sh\n" + body + "\n")
    os.chmod(path, 0o700)
    return path


def test_probe_finds_an_engine(cluster, tmp_path):
    m, launcher, agent = cluster
    cli = fake_docker(str(tmp_path / "docker"),
                      '[ "$1" = version ] || exit 9; echo 24.0.7')
    a = agent(args=["--containerizers=docker,mesos", "--docker=" + cli])
    a.start()
    wait_for(lambda: "docker containerizer: engine 24.0.7" in a.log(),
             what="the probe's answer")
    assert "docker is unavailable" not in a.log()


def test_probe_without_an_engine_leaves_the_agent_running(cluster, tmp_path):
    m, launcher, agent = cluster
    if shutil.which("docker") and subprocess.run(
            ["docker", "version"], capture_output=True).returncode == 0:
        cli = fake_docker(str(tmp_path / "docker"),
                          "echo 'Cannot connect to the Docker daemon' >&2; "
                          "exit 1")
    else:
        cli = "docker"  # this machine's: a CLI without an engine, or none
    a = agent(args=["--containerizers=docker,mesos", "--docker=" + cli])
    a.start()
    wait_for(lambda: "docker is unavailable" in a.log(),
             what="the probe's failure in the log")
    line = [l for l in a.log().splitlines() if "docker is unavailable" in l][0]
    assert "Cannot connect" in line or "cannot run docker" in line, line
    # Still serving and subscribed.
    assert a.state()["id"] == a.wait_subscribed()


def test_default_probes_docker(cluster, tmp_path):
    """By default (no --containerizers) the agent runs mesos, plus docker
    where `docker version` reaches an engine."""
    m, launcher, agent = cluster
    cli = fake_docker(str(tmp_path / "docker"),
                      '[ "$1" = version ] || exit 9; echo 24.0.9')
    a = agent(args=["--containerizers=", "--docker=" + cli])
    a.start()
    wait_for(lambda: "docker containerizer: engine 24.0.9" in a.log(),
             what="the probe's answer")


def test_no_probe_without_docker_in_containerizers(cluster, tmp_path):
    m, launcher, agent = cluster
    marker = tmp_path / "probed"
    cli = fake_docker(str(tmp_path / "docker"), "touch %s; echo 1" % marker)
    a = agent(args=["--containerizers=mesos", "--docker=" + cli])
    a.start()
    assert not marker.exists()
    log = a.log()
    assert "docker containerizer" not in log and "docker is unavailable" \
        not in log, log


def test_bad_flags_are_refused(tmp_path):
    base = [AGENT_BIN, "--master=127.0.0.1:1", "--port=0",
            "--work_dir=%s" % (tmp_path / "w")]
    for flag, msg in [
            ("--containerizers=docker,lxc",
             "--containerizers: lxc is not mesos or docker"),
            ("--network_cidr=10.1.0.1/16",
             "--network_cidr: host bits set in 10.1.0.1/16"),
            ("--network_cidr=10.1.0.0/31",
             "--network_cidr: not a.b.c.d/len with len 8..30: 10.1.0.0/31"),
            ("--network_bridge=much-too-long-name",
             "--network_bridge: longer than 15 bytes")]:
        r = subprocess.run(base + [flag], capture_output=True, text=True,
                           timeout=10)
        assert r.returncode == 2, (flag, r.stderr)
        assert "agora-agent: " + msg in r.stderr, (flag, r.stderr)


def test_sweep_frees_addresses_of_tasks_gone(cluster, tmp_path):
    m, launcher, agent = cluster
    a = agent(args=["--network_bridge=agtest9",
                    "--network_cidr=198.18.9.0/24"])
    net = os.path.join(a.work_dir, "net")
    os.makedirs(net, mode=0o700)
    ghost = os.path.join(net, "198.18.9.7")
    with open(ghost, "w") as f:
        f.write("ghost-task\n")
    not_ours = os.path.join(net, "notes.txt")
    with open(not_ours, "w") as f:
        f.write("kept\n")
    a.start()
    assert not os.path.exists(ghost)
    assert os.path.exists(not_ours)
    assert "network: undid 1 BRIDGE network(s) of tasks gone" in a.log()


def journal_specs(work_dir):
    """The task specs the agent checkpointed (JOURNAL_TASK records of
    <work_dir>/meta/journal, agent/journal.h), parsed."""
    import json
    import struct
    path = os.path.join(work_dir, "meta", "journal")
    try:
        with open(path, "rb") as f:
            data = f.read()
    except FileNotFoundError:
        return []
    specs, off = [], 8
    while off + 12 <= len(data):
        length, _crc, rtype = struct.unpack_from("<III", data, off)
        payload = data[off + 12:off + 12 + length]
        off += 12 + length
        if rtype == 1 and len(payload) == length:
            rec = json.loads(payload)
            specs.append(json.loads(rec["spec_json"]))
    return specs


def test_marathon_bridge_task_gets_concrete_host_ports(tmp_path,
                                                      marathon_cluster):
    """marathon.so replaces each hostPort 0 with the task's port from its
    offer, says BRIDGE in docker.network, and sets PORT_<containerPort>
    and PORT_<NAME>, in the launch the agent receives."""
    m, mar, agent = marathon_cluster
    a = agent()
    app = {"id": "/bridged", "cmd": "sleep 60", "cpus": 0.1, "mem": 32,
           "networks": [{"mode": "container/bridge"}],
           "container": {"type": "DOCKER",
                         "docker": {"image": "busybox:1.35"},
                         "portMappings": [
                             {"containerPort": 80, "hostPort": 0,
                              "name": "http"},
                             {"containerPort": 53, "hostPort": 0,
                              "protocol": "udp"}]}}
    r = mar.post("/v2/apps", json=app)
    assert r.status_code == 201, r.text
    spec = wait_for(lambda: next(iter(journal_specs(a.work_dir)), None), 20,
                    what="the agent to checkpoint the app's task")
    ct = spec["container"]
    assert ct["docker"]["network"] == "BRIDGE"
    assert ct["docker"]["image"] == "busybox:1.35"
    hosts = [pm["hostPort"] for pm in ct["portMappings"]]
    lo, hi = a.port_range
    assert all(lo <= p <= hi for p in hosts), hosts
    assert len(set(hosts)) == 2
    assert [pm["containerPort"] for pm in ct["portMappings"]] == [80, 53]
    assert ct["portMappings"][1]["protocol"] == "udp"
    env = spec["env"]
    assert env["PORT0"] == str(hosts[0]) and env["PORT1"] == str(hosts[1])
    assert env["PORT_80"] == str(hosts[0])
    assert env["PORT_HTTP"] == str(hosts[0])
    assert env["PORT_53"] == str(hosts[1])
    # The task's resources hold exactly those ports.
    import re
    held = set()
    for b, e in re.findall(r"(\d+)-(\d+)",
                           spec["resources"].split("ports")[1]):
        held.update(range(int(b), int(e) + 1))
    assert held == set(hosts), spec["resources"]


FAKE_DOCKER = r'''#!/usr/bin/python3
# A docker CLI without an engine: what agora's agent asks of the CLI is
# logged, and `run` runs the command on the host, as the container would.
import json, os, sys
LOG = %r
IMAGE = %r
args = sys.argv[1:]
with open(LOG, "a") as f:
    f.write(json.dumps(args) + "\n")
if args[:1] == ["version"]:
    print("24.0-fake")
    sys.exit(0)
if args[:1] == ["inspect"]:  # the "container"'s pid and an address
    try:
        with open(LOG + "." + args[-1]) as f:
            print(f.read() + " 172.17.0.9")
    except FileNotFoundError:
        sys.exit(1)
    sys.exit(0)
if args[:1] == ["exec"]:  # exec name sh -c cmd: as inside the container
    os.execvpe(args[2], args[2:], {"IN_CONTAINER": "yes",
                                   "PATH": "/usr/bin:/bin"})
if args[:1] == ["stop"]:  # stop -t=N name: the "container" gets SIGTERM
    with open(LOG + "." + args[-1]) as f:
        os.kill(int(f.read()), 15)
    sys.exit(0)
if args[:1] != ["run"]:
    sys.exit(0)
env, sandbox, entry, i = {}, None, None, 1
while args[i] != IMAGE:
    a = args[i]
    if a.startswith("--env-file="):
        with open(a.split("=", 1)[1]) as f:
            for line in f.read().splitlines():
                k, _, v = line.partition("=")
                env[k] = v
    elif a.startswith("--volume=") and a.endswith(":/mnt/mesos/sandbox"):
        sandbox = a[len("--volume="):].split(":")[0]
    elif a.startswith("--entrypoint="):
        entry = a.split("=", 1)[1]
    i += 2 if a in ("-v", "--volume", "-p", "-e") else 1
cmd = ([entry] if entry else []) + args[i + 1:]
name = next(a for a in args if a.startswith("--name="))[len("--name="):]
with open(LOG + "." + name, "w") as f:  # the pid `stop` signals
    f.write(str(os.getpid()))
env["MESOS_SANDBOX"] = sandbox
env["PATH"] = "/usr/bin:/bin"
os.chdir(sandbox)
os.execvpe(cmd[0], cmd, env)
'''


def test_docker_tasks_run_through_the_cli(marathon_cluster, tmp_path):
    """With an engine (here a fake CLI that runs the command on the host),
    a container of type DOCKER runs as `docker run` in the foreground:
    named mesos-<task>, its environment in a 0600 env file out of the
    sandbox and never in argv, the sandbox mounted at /mnt/mesos/sandbox; the
    agent pulls no image itself; a kill is `docker stop -t <grace>`, and
    `docker rm -f -v`
    removes the container. type MESOS still runs under the mesos
    containerizer's own path (not through the CLI)."""
    m, mar, agent = marathon_cluster
    log = tmp_path / "docker.log"
    cli = tmp_path / "docker"
    cli.write_text(FAKE_DOCKER % (str(log), "fake/img:1"))
    cli.chmod(0o700)
    a = agent(args=["--containerizers=docker,mesos", "--docker=%s" % cli,
                    "--docker_registry=http://127.0.0.1:1"])
    wait_for(lambda: "docker containerizer: engine 24.0-fake" in a.log(),
             what="the probe's answer")
    r = mar.post("/v2/apps", json={
        "id": "dk", "cmd": "echo from-docker $SECRET_VAR; exec sleep 600",
        "cpus": 0.1, "mem": 32, "env": {"SECRET_VAR": "s3cr3t-e2e"},
        "taskKillGracePeriodSeconds": 5,
        "container": {"type": "DOCKER",
                      "docker": {"image": "fake/img:1", "network": "HOST"}}})
    assert r.status_code == 201, r.text
    [t] = mar.wait_running("dk", 1, timeout=20)["tasks"]
    tid = t["id"]
    # RUNNING once `docker inspect` saw the container: its address is
    # the task's.
    assert {"ipAddress": "172.17.0.9", "protocol": "IPv4"} in \
        t.get("ipAddresses", []), t
    sandbox = os.path.join(a.work_dir, "sandboxes", tid)

    def said():
        try:
            with open(os.path.join(sandbox, "stdout")) as f:
                return "from-docker s3cr3t-e2e" in f.read()
        except FileNotFoundError:
            return False
    wait_for(said, 20, what="the task's stdout")
    calls = [json.loads(l) for l in log.read_text().splitlines()]
    [run] = [c for c in calls if c[:1] == ["run"]]
    name = next(x for x in run if x.startswith("--name="))[len("--name="):]
    assert name.startswith("mesos-")
    # The environment file: beside the task's meta file in the agent's
    # 0700 meta/, not in the sandbox /files serves; 0600, root's.
    env_file = os.path.join(a.work_dir, "meta", "tasks", tid + "#docker_env")
    assert "--env-file=" + env_file in run
    assert not os.path.exists(os.path.join(sandbox, ".docker_env"))
    assert "%s:/mnt/mesos/sandbox" % sandbox in " ".join(run)
    assert "--entrypoint=/bin/sh" in run and "fake/img:1" in run
    assert "s3cr3t-e2e" not in json.dumps(calls)
    st = os.stat(env_file)
    assert stat.S_IMODE(st.st_mode) == 0o600 and st.st_uid == 0
    assert not os.path.exists(os.path.join(a.work_dir, "images", "refs")) \
        or os.listdir(os.path.join(a.work_dir, "images", "refs")) == []
    assert mar.delete("/v2/apps/dk").status_code == 200

    def removed():
        calls = [json.loads(l) for l in log.read_text().splitlines()]
        return ["rm", "-f", "-v", name] in calls and calls
    calls = wait_for(removed, 20, what="docker rm -f -v " + name)
    # The kill was the engine's, within the grace: docker stop -t 5 (the
    # task ended on its SIGTERM, before the agent's SIGKILL at 5 s).
    assert ["stop", "-t=5", name] in calls, calls
    assert "still running after its grace period" not in a.log()
    wait_for(lambda: not os.path.exists(env_file), 20,
             what="the environment file removed")
    wait_for(lambda: [t["state"] for t in m.json("/master/tasks")["tasks"]
                      if t["id"] == tid] == ["TASK_KILLED"], 20,
             what="the task killed")
    # type MESOS: the agent's own containerizer (its pull fails here, as
    # no registry answers), never the CLI.
    r = mar.post("/v2/apps", json={
        "id": "ms", "cmd": "true", "cpus": 0.1, "mem": 32,
        "container": {"type": "MESOS", "docker": {"image": "fake/img:1"}}})
    assert r.status_code == 201, r.text
    f = wait_for(lambda: mar.app("ms").get("lastTaskFailure"), 20,
                 what="the MESOS task's pull to fail")
    assert "fake/img:1" in f["message"], f
    calls = [json.loads(l) for l in log.read_text().splitlines()]
    assert len([c for c in calls if c[:1] == ["run"]]) == 1


def test_docker_command_check_runs_in_the_container(marathon_cluster,
                                                    tmp_path):
    """A COMMAND health check of a task the docker CLI runs is `docker exec
    <container> sh -c <command>`, as Mesos' docker executor runs it: in
    the container (here the fake CLI's "container", the only place where
    IN_CONTAINER=yes), not on the host beside `docker run`."""
    m, mar, agent = marathon_cluster
    log = tmp_path / "docker.log"
    cli = tmp_path / "docker"
    cli.write_text(FAKE_DOCKER % (str(log), "fake/img:1"))
    cli.chmod(0o700)
    a = agent(args=["--containerizers=docker,mesos", "--docker=%s" % cli])
    wait_for(lambda: "docker containerizer: engine 24.0-fake" in a.log(),
             what="the probe's answer")
    check = 'test "$IN_CONTAINER" = yes'
    r = mar.post("/v2/apps", json={
        "id": "dkh", "cmd": "exec sleep 600", "cpus": 0.1, "mem": 32,
        "container": {"type": "DOCKER",
                      "docker": {"image": "fake/img:1", "network": "HOST"}},
        "healthChecks": [{"protocol": "COMMAND", "command": {"value": check},
                          "gracePeriodSeconds": 30, "intervalSeconds": 1,
                          "maxConsecutiveFailures": 0}]})
    assert r.status_code == 201, r.text
    mar.wait_running("dkh", 1, timeout=20)
    wait_for(lambda: mar.app("dkh").get("tasksHealthy") == 1, 20,
             what="the check to pass in the container")
    calls = [json.loads(l) for l in log.read_text().splitlines()]
    [run] = [c for c in calls if c[:1] == ["run"]]
    name = next(x for x in run if x.startswith("--name="))[len("--name="):]
    assert ["exec", name, "sh", "-c", check] in calls, calls
    assert mar.delete("/v2/apps/dkh").status_code == 200


def engine_answers():
    return shutil.which("docker") is not None and subprocess.run(
        ["docker", "version"], capture_output=True).returncode == 0


@pytest.mark.skipif(not engine_answers(),
                    reason="no docker engine answers `docker version` here")
def test_a_real_engine_runs_a_marathon_app(marathon_cluster, tmp_path):
    """Where an engine exists: the test image (busybox-static, as in
    test_images.py) loaded into it with skopeo, a Marathon app of type
    DOCKER runs there, its stdout in the sandbox, and its deletion
    leaves no container."""
    import registry_fixture as rf
    layout = str(tmp_path / "layout")
    rf.write_oci_layout(layout)
    subprocess.run(["skopeo", "copy", "--quiet", "oci:%s:1" % layout,
                    "docker-daemon:agora-test/bb:1"], check=True,
                   timeout=120, capture_output=True)
    m, mar, agent = marathon_cluster
    a = agent(args=["--containerizers=docker,mesos"])
    wait_for(lambda: "docker containerizer: engine" in a.log(),
             what="the probe's answer")
    r = mar.post("/v2/apps", json={
        "id": "real", "cmd": "echo in-docker; exec sleep 600",
        "cpus": 0.1, "mem": 32, "taskKillGracePeriodSeconds": 2,
        "container": {"type": "DOCKER", "docker": {
            "image": "agora-test/bb:1", "network": "HOST"}}})
    assert r.status_code == 201, r.text
    [t] = mar.wait_running("real", 1, timeout=60)["tasks"]
    out = os.path.join(a.work_dir, "sandboxes", t["id"], "stdout")

    def said():
        try:
            with open(out) as f:
                return "in-docker" in f.read()
        except FileNotFoundError:
            return False
    wait_for(said, 30, what="the task's stdout")
    assert mar.delete("/v2/apps/real").status_code == 200

    def gone():
        ps = subprocess.run(["docker", "ps", "-aq", "--filter",
                             "name=mesos-real"], capture_output=True,
                            text=True)
        return ps.returncode == 0 and ps.stdout.strip() == ""
    wait_for(gone, 30, what="the container removed")
