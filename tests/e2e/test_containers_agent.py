"""agora-agent's container flags against a real master: the docker
probe at start (a CLI with an engine, one without, none at all), the
refusal of bad flags, and the sweep of BRIDGE networks of tasks that are
gone. End-to-end runs of docker tasks need an engine: none here (the
command lines are unit-tested in tests/unit/test_docker.c).
"""
import os
import shutil
import subprocess

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


def test_no_probe_without_docker_in_containerizers(cluster, tmp_path):
    m, launcher, agent = cluster
    marker = tmp_path / "probed"
    cli = fake_docker(str(tmp_path / "docker"), "touch %s; echo 1" % marker)
    a = agent(args=["--docker=" + cli])
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
