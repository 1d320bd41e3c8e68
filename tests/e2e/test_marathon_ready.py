"""marathon.so readiness checks end to end (marathon-api.md §2.5).

The task is a real HTTP server (`/usr/bin/python3 -m http.server $PORT0`
serving a directory of the test's), and its readiness check asks for a
file there: 404 until the test writes it, 200 after. marathon.so sends
the checks itself from the master; what is asserted is what a Marathon
client sees: the deployment stays until the tasks are ready, the results
under embed=app.readiness and in GET /v2/deployments, and a rolling
restart that keeps the old tasks until the new ones are ready.
"""
import time

from conftest import wait_for
from marathon_fixture import marathon_cluster  # noqa: F401

CHECK = {"name": "warm", "protocol": "HTTP", "path": "/ready.txt",
         "portName": "web", "intervalSeconds": 2, "timeoutSeconds": 1,
         "httpStatusCodesForReady": [200], "preserveLastResponse": True}


def app_def(served):
    return {"id": "warm", "cpus": 0.1, "mem": 64, "instances": 2,
            "cmd": "exec /usr/bin/python3 -m http.server --directory %s "
                   "$PORT0" % served,
            "portDefinitions": [{"port": 0, "name": "web"}],
            "readinessChecks": [CHECK]}


def running_ids(app):
    return {t["id"] for t in app["tasks"] if t["state"] == "TASK_RUNNING"}


def readiness(mar):
    r = mar.get("/v2/apps/warm?embed=app.readiness")
    assert r.status_code == 200, r.text
    return r.json()["app"]


def current_results(mar):
    deps = mar.get("/v2/deployments").json()
    out = []
    for d in deps:
        for a in d["currentActions"]:
            if a["app"] == "/warm":
                out += a["readinessCheckResults"]
    return out


def test_deployment_waits_for_readiness(marathon_cluster, tmp_path):
    m, mar, agent = marathon_cluster
    agent()
    served = tmp_path / "served"
    served.mkdir()
    r = mar.post("/v2/apps", json=app_def(served))
    assert r.status_code == 201, r.text
    dep = r.headers["Marathon-Deployment-Id"]

    # Both run, and the checks answer 404: not ready, the step waits.
    def checked():
        a = readiness(mar)
        res = a["readinessCheckResults"]
        return (len(running_ids(a)) == 2 and len(res) == 2 and
                all(x["lastResponse"]["status"] == 404 for x in res) and a)
    a = wait_for(checked, 30, interval=0.2, what="two tasks checked, 404")
    ids = running_ids(a)
    for x in a["readinessCheckResults"]:
        assert x["name"] == "warm" and x["ready"] is False, x
        assert x["taskId"] in ids, x
        assert x["lastResponse"]["contentType"].startswith("text/html"), x
    time.sleep(4)  # two more intervals: still waiting
    a = readiness(mar)
    assert [d["id"] for d in a["deployments"]] == [dep], a["deployments"]
    res = current_results(mar)
    assert {x["taskId"] for x in res} == ids and \
        not any(x["ready"] for x in res), res

    (served / "ready.txt").write_text("warm\n")
    t_file = time.monotonic()
    wait_for(lambda: not mar.app("warm")["deployments"], 15, interval=0.1,
             what="the deployment to finish once the tasks are ready")
    # At most an interval and a check's timeout after the file appeared.
    assert time.monotonic() - t_file < 5
    a = readiness(mar)
    assert running_ids(a) == ids  # the same tasks: nothing restarted
    assert a["readinessCheckResults"] == []  # shown during deployments


def test_rolling_restart_waits_for_readiness(marathon_cluster, tmp_path):
    m, mar, agent = marathon_cluster
    agent()
    served = tmp_path / "served"
    served.mkdir()
    (served / "ready.txt").write_text("warm\n")
    r = mar.post("/v2/apps", json=app_def(served))
    assert r.status_code == 201, r.text
    old = running_ids(mar.wait_running("warm", 2, timeout=30))

    # The new tasks will not be ready until the file is back; the
    # default upgradeStrategy (minimumHealthCapacity 1) keeps both old
    # tasks until then.
    (served / "ready.txt").unlink()
    r = mar.post("/v2/apps/warm/restart")
    assert r.status_code == 200, r.text

    def new_checked():
        a = readiness(mar)
        new = running_ids(a) - old
        res = [x for x in a["readinessCheckResults"] if x["taskId"] in new]
        return (len(new) == 2 and len(res) == 2 and
                all(x["lastResponse"]["status"] == 404 for x in res) and a)
    wait_for(new_checked, 30, interval=0.2, what="two new tasks, not ready")
    time.sleep(3)
    a = readiness(mar)
    assert old <= running_ids(a), "an old task went before a new one was ready"
    assert a["deployments"], "the restart ended with its tasks not ready"

    (served / "ready.txt").write_text("warm\n")
    a = wait_for(lambda: (lambda a: not a["deployments"] and
                          len(running_ids(a)) == 2 and a)(mar.app("warm")),
                 20, interval=0.1, what="the restart to finish")
    assert not (running_ids(a) & old), "old tasks left after the restart"


def test_readiness_check_validation(marathon_cluster, tmp_path):
    m, mar, agent = marathon_cluster
    bad = app_def(tmp_path)
    bad["readinessChecks"] = [dict(CHECK, portName="nope")]
    r = mar.post("/v2/apps", json=bad)
    assert r.status_code == 422, r.text
    assert "No port definition reference for portName nope" in r.text
    bad["readinessChecks"] = [dict(CHECK, timeoutSeconds=2, intervalSeconds=2)]
    r = mar.post("/v2/apps", json=bad)
    assert r.status_code == 422, r.text
