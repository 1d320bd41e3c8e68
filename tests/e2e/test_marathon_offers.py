"""marathon.so filling offers: many tasks in one offer, several apps in one.

Found by scripts/bench/marathon: an offer that took more than eight tasks
crashed the master (the launches were moved by a realloc while their specs
still pointed into them), and apps filled into the same offer were each
given the whole offer, so the master refused what went over it and the
apps backed off as if their tasks had failed.
"""
from conftest import wait_for
from marathon_fixture import marathon_cluster  # noqa: F401 - a fixture


def app(app_id, instances, cpus):
    return {"id": app_id, "cmd": "sleep 600", "cpus": cpus, "mem": 8,
            "instances": instances, "portDefinitions": []}


def test_more_than_eight_tasks_in_one_offer(marathon_cluster):
    m, mar, agent = marathon_cluster
    agent()
    assert mar.post("/v2/apps", json=app("many", 12, 0.01)).status_code == 201
    tasks = mar.wait_running("many", 12)["tasks"]
    assert len({t["id"] for t in tasks}) == 12
    assert m.metrics()["master/tasks_running"] == 12


def test_apps_in_one_offer_share_it(marathon_cluster):
    """Two apps of 4 x 0.25 cpu, one agent of 1 cpu: 4 tasks fit, and the
    4 that do not wait in the queue without a failure or a backoff."""
    m, mar, agent = marathon_cluster
    agent(resources="cpus:1;mem:1024;disk:1000")
    r = mar.put("/v2/apps", json=[app("a", 4, 0.25), app("b", 4, 0.25)])
    assert r.status_code == 200, r.text

    def four_running():
        a, b = mar.app("a"), mar.app("b")
        return a["tasksRunning"] + b["tasksRunning"] == 4 and (a, b)
    a, b = wait_for(four_running, 20, interval=0.1, what="4 tasks running")
    for x in (a, b):
        assert x.get("lastTaskFailure") is None, x["lastTaskFailure"]
    queue = mar.get("/v2/queue").json()["queue"]
    assert sum(q["count"] for q in queue) == 4, queue
    assert all(q["delay"]["timeLeftSeconds"] == 0 for q in queue), queue
    assert m.metrics()["master/tasks_running"] == 4
