"""The environment of marathon.so's tasks (marathon-api.md §3.12), as a
real task on a real agent sees it.

The parts that come from the app's definition alone (its resources, its
labels) are formatted once per definition and shared by its tasks
(mar_sched.c, struct mar_envc); these tests read them from inside the
tasks, and again after the definition changed, which must drop them.
"""
import os

from conftest import wait_for
from marathon_fixture import marathon_cluster  # noqa: F401 - a fixture


def read_env(path):
    env = {}
    with open(path) as f:
        for line in f.read().split("\0"):
            if "=" in line:
                k, v = line.split("=", 1)
                env[k] = v
    return env


def envs_of(out_dir, task_ids):
    """{task id: its environment} once every task wrote its file."""
    def written():
        files = {t: os.path.join(out_dir, t) for t in task_ids}
        if all(os.path.exists(p + ".done") for p in files.values()):
            return {t: read_env(p) for t, p in files.items()}
        return None
    return wait_for(written, 20, what="the tasks' environment files")


def test_env_from_the_definition_and_after_it_changes(marathon_cluster,
                                                      tmp_path):
    m, mar, agent = marathon_cluster
    agent()
    out = tmp_path / "env"
    out.mkdir()
    # The environment, NUL-separated (values may hold anything), then a
    # marker that it is complete.
    cmd = ("/usr/bin/python3 -c \"import os; open('%s/' + os.environ["
           "'MESOS_TASK_ID'], 'w').write(''.join(k + '=' + v + chr(0) for "
           "k, v in os.environ.items()))\" && touch %s/$MESOS_TASK_ID.done; "
           "sleep 60" % (out, out))
    long_value = "x" * 513
    app = {"id": "/envy", "cmd": cmd, "cpus": 0.25, "mem": 32, "disk": 3,
           "instances": 2,
           "labels": {"tier": "web", "a-b.c": "v 1", "big": long_value}}
    r = mar.post("/v2/apps", json=app)
    assert r.status_code == 201, r.text
    tasks = mar.wait_running("envy", 2)["tasks"]
    envs = envs_of(out, [t["id"] for t in tasks])
    for t in tasks:
        e = envs[t["id"]]
        assert e["MESOS_TASK_ID"] == t["id"]
        assert e["MARATHON_APP_ID"] == "/envy"
        assert e["MARATHON_APP_VERSION"] == t["version"]
        assert e["MARATHON_APP_RESOURCE_CPUS"] == "0.25"
        assert e["MARATHON_APP_RESOURCE_MEM"] == "32"
        assert e["MARATHON_APP_RESOURCE_DISK"] == "3"
        assert e["MARATHON_APP_RESOURCE_GPUS"] == "0"
        assert sorted(e["MARATHON_APP_LABELS"].split(" ")) == \
            ["a-b.c", "big", "tier"]
        assert e["MARATHON_APP_LABEL_TIER"] == "web"
        assert e["MARATHON_APP_LABEL_A_B_C"] == "v 1"
        # A value over 512 bytes is not passed (Marathon's rule).
        assert "MARATHON_APP_LABEL_BIG" not in e
        assert e["HOST"] == t["host"]

    # A new definition: its tasks see its resources and labels, not the
    # ones kept for the old definition.
    app.update({"cpus": 0.5, "mem": 48, "disk": 0,
                "labels": {"tier": "db"}})
    r = mar.put("/v2/apps/envy", json=app)
    assert r.status_code == 200, r.text
    old = {t["id"] for t in tasks}

    def replaced():
        ts = [t for t in mar.tasks("envy") if t["id"] not in old and
              t["state"] == "TASK_RUNNING"]
        return ts if len(ts) == 2 else None
    new = wait_for(replaced, 30, what="2 tasks of the new version")
    envs = envs_of(out, [t["id"] for t in new])
    for t in new:
        e = envs[t["id"]]
        assert e["MARATHON_APP_VERSION"] == t["version"]
        assert e["MARATHON_APP_RESOURCE_CPUS"] == "0.5"
        assert e["MARATHON_APP_RESOURCE_MEM"] == "48"
        assert e["MARATHON_APP_RESOURCE_DISK"] == "0"
        assert e["MARATHON_APP_LABELS"] == "tier"
        assert e["MARATHON_APP_LABEL_TIER"] == "db"
        assert "MARATHON_APP_LABEL_A_B_C" not in e
