"""marathon.so end to end: Marathon's REST API against real agents.

Each test starts a master with marathon.so on its own port and real
agora-agents whose tasks are real processes; what is asserted is what a
Marathon client sees over HTTP.
"""
import json
import os
import subprocess
import time

import requests

from conftest import free_port, wait_for
from marathon_fixture import marathon_cluster  # noqa: F401 - a fixture

BBOTTE = {"id": "bbotte", "cmd": "echo bbotte.com; sleep 30", "cpus": 1,
          "mem": 128, "disk": 0, "instances": 1}


def sh(cmd, **kw):
    return subprocess.run(cmd, shell=True, check=True, capture_output=True,
                          text=True, timeout=60, **kw)


def test_seed_commands_verbatim(marathon_cluster, tmp_path):
    """Section 五 of the seed, command for command, against agora."""
    m, mar, agent = marathon_cluster
    agent()
    host = "127.0.0.1:%d" % mar.port
    with open(tmp_path / "bbotte.json", "w") as f:
        json.dump(BBOTTE, f)
    out = sh("curl -i -H 'Content-Type: application/json' %s/v2/apps "
             "-d @bbotte.json" % host, cwd=tmp_path).stdout
    head, body = out.split("\n\n", 1)  # text mode turned \r\n into \n
    assert head.startswith("HTTP/1.1 201"), head
    assert "Location: /v2/apps/bbotte" in head, head
    assert "Marathon-Deployment-Id: " in head, head
    created = json.loads(body)
    assert created["id"] == "/bbotte"
    assert created["cmd"] == BBOTTE["cmd"]
    assert created["tasksRunning"] == 0 and len(created["deployments"]) == 1

    mar.wait_running("bbotte", 1)
    py = "/usr/bin/python3 -m json.tool"
    metrics = json.loads(sh("curl http://%s/metrics | %s" % (host, py)).stdout)
    assert metrics["gauges"]["marathon.apps.active.gauge"]["value"] == 1
    apps = json.loads(sh("curl http://%s/v2/apps | %s" % (host, py)).stdout)
    assert [a["id"] for a in apps["apps"]] == ["/bbotte"]
    assert apps["apps"][0]["tasksRunning"] == 1
    one = json.loads(sh("curl http://%s/v2/apps/bbotte | %s" % (host, py)).stdout)
    task = one["app"]["tasks"][0]
    assert task["state"] == "TASK_RUNNING" and task["appId"] == "/bbotte"
    assert task["id"].startswith("bbotte.instance-")
    assert task["ipAddresses"] == [{"ipAddress": "127.0.0.1",
                                    "protocol": "IPv4"}], task
    # The task really runs: its sandbox's stdout has the echo.
    deleted = json.loads(sh("curl -X DELETE http://%s/v2/apps/bbotte | %s"
                            % (host, py)).stdout)
    assert set(deleted) == {"deploymentId", "version"}
    mar.wait_gone("bbotte")
    wait_for(lambda: m.metrics()["master/tasks_running"] == 0, 20,
             what="the task to be killed")


def test_defaults_and_routes_under_master_port(marathon_cluster):
    m, mar, agent = marathon_cluster
    r = mar.post("/v2/apps", json={"id": "/prod/web", "cmd": "sleep 60",
                                   "instances": 0})
    assert r.status_code == 201, r.text
    app = r.json()
    for key, value in {"cpus": 1, "mem": 128, "disk": 0, "instances": 0,
                       "backoffSeconds": 1, "backoffFactor": 1.15,
                       "maxLaunchDelaySeconds": 300, "requirePorts": False,
                       "killSelection": "YOUNGEST_FIRST",
                       "upgradeStrategy": {"minimumHealthCapacity": 1,
                                           "maximumOverCapacity": 1}}.items():
        assert app[key] == value, (key, app[key])
    # Service ports from 10000 on, one per port definition.
    assert app["portDefinitions"][0]["port"] >= 10000
    # The same routes answer under /marathon/ on the master's port.
    r = requests.get(m.url("/marathon/v2/apps/prod/web"), timeout=10)
    assert r.status_code == 200 and r.json()["app"]["id"] == "/prod/web"
    r = mar.get("/v2/apps/prod/*")
    assert [a["id"] for a in r.json()["*"]] == ["/prod/web"]
    assert mar.get("/ping").text == "pong"
    info = mar.get("/v2/info").json()
    assert info["name"] == "marathon" and info["elected"] is True
    assert info["http_config"]["http_port"] == mar.port
    assert mar.get("/v2/leader").json()["leader"].endswith(":%d" % mar.port)


def test_error_bodies(marathon_cluster):
    m, mar, agent = marathon_cluster
    r = mar.get("/v2/apps/nope")
    assert r.status_code == 404
    assert r.json() == {"message": "App '/nope' does not exist"}

    r = mar.post("/v2/apps", data="{not json", headers={"Content-Type":
                                                      "application/json"})
    assert r.status_code == 400 and r.json()["message"] == "Invalid JSON"

    r = mar.post("/v2/apps", json={"id": "bad", "cmd": "true", "cpus": -1})
    assert r.status_code == 422, r.text
    body = r.json()
    assert body["message"] == "Object is not valid"
    assert any(d["path"] == "/cpus" for d in body["details"]), body

    r = mar.post("/v2/apps", json={"id": "Bad_Id", "cmd": "true"})
    assert r.status_code == 422, r.text
    assert any(d["path"] == "/id" for d in r.json()["details"])

    # A deployment that cannot finish (no agent) locks the app: 409 with
    # its id, then force goes through.
    r = mar.post("/v2/apps", json={"id": "locked", "cmd": "sleep 60"})
    assert r.status_code == 201
    dep = r.headers["Marathon-Deployment-Id"]
    r = mar.put("/v2/apps/locked", json={"cmd": "sleep 61"})
    assert r.status_code == 409, r.text
    assert r.json()["deployments"] == [{"id": dep}]
    assert "is locked by one or more deployments" in r.json()["message"]
    r = mar.put("/v2/apps/locked?force=true", json={"cmd": "sleep 61"})
    assert r.status_code == 200, r.text
    assert r.json()["deploymentId"] != dep
    assert [d["id"] for d in mar.get("/v2/deployments").json()] == \
        [r.json()["deploymentId"]]

    r = mar.post("/v2/apps", json={"id": "locked", "cmd": "true"})
    assert r.status_code == 409
    assert r.json()["message"] == "An app with id [/locked] already exists."


def test_scale_up_and_down(marathon_cluster):
    m, mar, agent = marathon_cluster
    agent()
    assert mar.post("/v2/apps", json={"id": "s", "cmd": "sleep 600",
                                      "cpus": 0.1, "mem": 16}).status_code == 201
    first = mar.wait_running("s", 1)["tasks"][0]["id"]
    r = mar.put("/v2/apps/s", json={"instances": 5})
    assert r.status_code == 200 and "deploymentId" in r.json()
    tasks = mar.wait_running("s", 5)["tasks"]
    assert first in [t["id"] for t in tasks], "scaling up restarted a task"
    r = mar.patch("/v2/apps/s", json={"instances": 2})
    assert r.status_code == 200
    app = mar.wait_running("s", 2)
    ids = {t["id"] for t in app["tasks"]}
    # YOUNGEST_FIRST: the first task is among the survivors.
    assert first in ids
    wait_for(lambda: m.metrics()["master/tasks_running"] == 2, 20,
             what="the master to see 2 tasks")
    # Killing a task without scale: it is replaced.
    victim = sorted(ids)[0]
    r = mar.delete("/v2/apps/s/tasks/" + victim)
    assert r.status_code == 200 and r.json()["task"]["id"] == victim
    wait_for(lambda: victim not in {t["id"] for t in mar.wait_running("s", 2)
                                    ["tasks"]}, 20, what="a replacement")
    # With scale: the app shrinks.
    victim = mar.running("s")[0]["id"]
    r = mar.delete("/v2/apps/s/tasks/%s?scale=true" % victim)
    assert r.status_code == 200 and "deploymentId" in r.json(), r.text
    app = mar.wait_running("s", 1)
    assert app["instances"] == 1


def test_failing_command_backs_off(marathon_cluster):
    m, mar, agent = marathon_cluster
    agent()
    r = mar.post("/v2/apps", json={"id": "crash", "cmd": "exit 3",
                                   "cpus": 0.1, "mem": 16,
                                   "backoffSeconds": 1, "backoffFactor": 2,
                                   "maxLaunchDelaySeconds": 60})
    assert r.status_code == 201

    def launches():
        # A task just launched has no status yet: four that have one.
        tasks = m.json("/master/tasks?framework_id=marathon&order=asc"
                       "&limit=1000")["tasks"]
        ts = [t["statuses"][0]["timestamp"] for t in tasks if t["statuses"]]
        return ts if len(ts) >= 4 else None
    ts = wait_for(launches, 40, interval=0.2, what="four launches")
    gaps = [b - a for a, b in zip(ts, ts[1:])][:3]
    # 1 s, 2 s, 4 s of backoff (plus the task's own short life).
    assert gaps[0] >= 0.9 and gaps[1] >= 1.9 and gaps[2] >= 3.9, gaps
    assert gaps[2] > gaps[1] > gaps[0], gaps
    failure = mar.app("crash")["lastTaskFailure"]
    assert failure["state"] == "TASK_FAILED" and failure["appId"] == "/crash"
    queue = mar.get("/v2/queue").json()["queue"]
    assert [q["app"]["id"] for q in queue] == ["/crash"] or queue == []
    mar.delete("/v2/apps/crash")
    mar.wait_gone("crash")


def test_http_health_check_goes_healthy(marathon_cluster):
    m, mar, agent = marathon_cluster
    agent()
    app = {"id": "web", "cmd": "exec /usr/bin/python3 -m http.server $PORT0",
           "cpus": 0.1, "mem": 64, "portDefinitions": [{"port": 0}],
           "healthChecks": [{"protocol": "HTTP", "path": "/",
                             "intervalSeconds": 1, "timeoutSeconds": 1,
                             "gracePeriodSeconds": 30,
                             "maxConsecutiveFailures": 3}]}
    r = mar.post("/v2/apps", json=app)
    assert r.status_code == 201, r.text

    def healthy():
        a = mar.app("web")
        return a["tasksHealthy"] == 1 and not a["deployments"] and a
    a = wait_for(healthy, 30, interval=0.1, what="web to be healthy")
    t = a["tasks"][0]
    assert t["healthCheckResults"][0]["alive"] is True
    port = t["ports"][0]
    assert requests.get("http://127.0.0.1:%d/" % port, timeout=5).ok


def test_events_show_a_lifecycle(marathon_cluster):
    m, mar, agent = marathon_cluster
    agent()
    seen = []
    resp = requests.get(mar.url("/v2/events"), stream=True, timeout=30,
                        headers={"Accept": "text/event-stream"})
    assert resp.status_code == 200
    lines = resp.iter_lines(chunk_size=1, decode_unicode=True)

    def next_event():
        ev = None
        for line in lines:
            if line.startswith("event: "):
                ev = line[7:]
            elif line.startswith("data: "):
                return ev, json.loads(line[6:])

    ev, data = next_event()
    assert ev == "event_stream_attached"
    r = mar.post("/v2/apps", json={"id": "ev", "cmd": "sleep 600",
                                   "cpus": 0.1, "mem": 16})
    assert r.status_code == 201, r.text
    while "deployment_success" not in seen:
        try:
            ev, data = next_event()
        except requests.exceptions.ConnectionError:
            raise AssertionError("no deployment_success; seen %s; app %s; "
                                 "deployments %s; metrics %s" % (
                                     seen, mar.get("/v2/apps/ev").text,
                                     mar.get("/v2/deployments").text,
                                     m.metrics()))
        seen.append(ev)
        assert data["eventType"] == ev and data["timestamp"].endswith("Z")
    assert seen.index("api_post_event") < seen.index("deployment_info")
    assert "status_update_event" in seen and "instance_changed_event" in seen
    assert seen.index("deployment_info") < seen.index("deployment_success")
    resp.close()
    # A filter passes only its types.
    resp = requests.get(mar.url("/v2/events?event_type=app_terminated_event"),
                        stream=True, timeout=30)
    lines = resp.iter_lines(chunk_size=1, decode_unicode=True)
    mar.delete("/v2/apps/ev")
    ev, data = next_event()
    assert ev == "app_terminated_event" and data["appId"] == "/ev"
    resp.close()


def test_reload_and_restart_keep_tasks(marathon_cluster):
    m, mar, agent = marathon_cluster
    agent()
    mar.post("/v2/apps", json={"id": "keep", "cmd": "sleep 600", "cpus": 0.1,
                               "mem": 16, "instances": 3})
    before = {t["id"] for t in mar.wait_running("keep", 3)["tasks"]}
    # A changed conf, so that the reload really unloads and loads
    # marathon.so (an unchanged plugin is kept as it is).
    from marathon_fixture import write_marathon_conf
    write_marathon_conf(m, mar.port, "max_versions = 49\n")
    mark = m.log_mark()
    m.sighup()
    m.wait_log("[marathon] ready", since=mark, timeout=10)
    mar.wait_ready()
    after = {t["id"] for t in mar.wait_running("keep", 3)["tasks"]}
    assert after == before
    m.stop()
    m.start()
    mar.wait_ready()
    after = {t["id"] for t in mar.wait_running("keep", 3, timeout=40)["tasks"]}
    assert after == before
    assert mar.get("/v2/apps/keep/versions").json()["versions"]


def test_groups_deploy_in_dependency_order(marathon_cluster):
    m, mar, agent = marathon_cluster
    agent()
    group = {"id": "/shop", "apps": [
        {"id": "web", "cmd": "sleep 600", "cpus": 0.1, "mem": 16,
         "dependencies": ["/shop/db"]},
        {"id": "db", "cmd": "sleep 600", "cpus": 0.1, "mem": 16}]}
    r = mar.post("/v2/groups", json=group)
    assert r.status_code == 201, r.text
    assert r.headers["Location"] == "/v2/groups/shop"
    dep = r.json()["deploymentId"]
    plans = {d["id"]: d for d in mar.get("/v2/deployments").json()}
    steps = [[(a["action"], a["app"]) for a in s["actions"]]
             for s in plans[dep]["steps"]]
    assert steps == [[("StartApplication", "/shop/web"),
                      ("StartApplication", "/shop/db")],
                     [("ScaleApplication", "/shop/db")],
                     [("ScaleApplication", "/shop/web")]], steps
    web = mar.wait_running("/shop/web", 1)["tasks"][0]
    db = mar.wait_running("/shop/db", 1)["tasks"][0]
    # web was launched only once db ran.
    assert web["stagedAt"] >= db["startedAt"], (web, db)

    g = mar.get("/v2/groups/shop").json()
    assert g["id"] == "/shop" and sorted(a["id"] for a in g["apps"]) == \
        ["/shop/db", "/shop/web"]
    root = mar.get("/v2/groups").json()
    assert root["id"] == "/" and [x["id"] for x in root["groups"]] == ["/shop"]

    # A cycle is refused.
    bad = {"id": "/loop", "apps": [
        {"id": "a", "cmd": "true", "dependencies": ["/loop/b"]},
        {"id": "b", "cmd": "true", "dependencies": ["/loop/a"]}]}
    r = mar.post("/v2/groups", json=bad)
    assert r.status_code == 422, r.text
    assert "cyclic" in r.text
    r = mar.post("/v2/groups", json={"id": "/shop"})
    assert r.status_code == 409

    # scaleBy doubles every app; dryRun shows a plan and changes nothing.
    r = mar.put("/v2/groups/shop?dryRun=true", json={"id": "/shop", "apps": [
        {"id": "db", "cmd": "sleep 600", "cpus": 0.1, "mem": 16}]})
    assert r.status_code == 200
    assert r.json()["steps"] == [{"actions": [
        {"action": "StopApplication", "app": "/shop/web"}]}], r.json()
    r = mar.put("/v2/groups/shop", json={"scaleBy": 2})
    assert r.status_code == 200, r.text
    mar.wait_running("/shop/web", 2)
    mar.wait_running("/shop/db", 2)
    versions = mar.get("/v2/groups/shop/versions").json()
    assert len(versions) == 1
    r = mar.delete("/v2/groups/shop")
    assert r.status_code == 200 and "deploymentId" in r.json()
    mar.wait_gone("/shop/web")
    mar.wait_gone("/shop/db")
    assert mar.get("/v2/groups/shop").status_code == 404


def test_unhealthy_tasks_killed_at_a_bounded_rate(marathon_cluster):
    """Every task of the app fails its HTTP check at once (nothing
    listens): they are killed and replaced, but at most health_kill_rate
    a second, so that a partition cannot take a whole app down at once."""
    import threading
    from marathon_fixture import write_marathon_conf
    m, mar, agent = marathon_cluster
    write_marathon_conf(m, mar.port, "health_kill_rate = 0.5\n")
    mark = m.log_mark()
    m.sighup()
    m.wait_log("[marathon] ready", since=mark, timeout=10)
    mar.wait_ready()
    agent()
    kills = []
    resp = requests.get(mar.url("/v2/events?event_type="
                                "unhealthy_instance_kill_event"),
                        stream=True, timeout=60)

    def collect():
        try:
            for line in resp.iter_lines(chunk_size=1, decode_unicode=True):
                if line.startswith("data: "):
                    kills.append(time.monotonic())
        except Exception:  # noqa: BLE001 - the stream closed at the end
            pass
    threading.Thread(target=collect, daemon=True).start()
    r = mar.post("/v2/apps", json={
        "id": "sick", "cmd": "sleep 600", "cpus": 0.1, "mem": 16,
        "instances": 4, "portDefinitions": [{"port": 0}],
        "healthChecks": [{"protocol": "HTTP", "portIndex": 0,
                          "intervalSeconds": 1, "timeoutSeconds": 1,
                          "gracePeriodSeconds": 0,
                          "maxConsecutiveFailures": 2}]})
    assert r.status_code == 201, r.text
    wait_for(lambda: len(kills) >= 4, 40, interval=0.1, what="four kills")
    gaps = [b - a for a, b in zip(kills, kills[1:])]
    assert min(gaps[:3]) >= 1.5, gaps
    resp.close()
    mar.delete("/v2/apps/sick?force=true")
    mar.wait_gone("sick")


def test_plain_task_list_and_containers(marathon_cluster):
    """The text/plain task list old load balancers read, and an app with a
    Docker image the agent does not have: it fails with a message naming
    the image instead of running without it."""
    m, mar, agent = marathon_cluster
    agent()
    r = mar.post("/v2/apps", json={"id": "/lb/web", "cmd": "sleep 600",
                                   "cpus": 0.1, "mem": 16, "instances": 2,
                                   "portDefinitions": [{"port": 0}]})
    assert r.status_code == 201
    app = mar.wait_running("/lb/web", 2)
    service = app["portDefinitions"][0]["port"]
    text = mar.get("/v2/tasks", headers={"Accept": "text/plain"}).text
    line = [x for x in text.splitlines() if x.startswith("lb_web\t")]
    assert len(line) == 1, text
    fields = line[0].rstrip("\t").split("\t")
    assert fields[1] == str(service)
    hostports = sorted(fields[2:])
    assert hostports == sorted("127.0.0.1:%d" % t["ports"][0]
                               for t in app["tasks"]), (fields, app["tasks"])

    r = mar.post("/v2/apps", json={
        "id": "img", "cpus": 0.1, "mem": 16,
        "container": {"type": "DOCKER",
                      "docker": {"image": "docker.io/jdeathe/centos-ssh"}}})
    assert r.status_code == 201, r.text
    assert r.json()["container"]["docker"]["image"] == \
        "docker.io/jdeathe/centos-ssh"

    def failed():
        f = mar.app("img").get("lastTaskFailure")
        return f and f
    failure = wait_for(failed, 20, interval=0.1, what="the image task to fail")
    # The pull fails (no registry reachable here): the message names it.
    assert "failed to pull image 'docker.io/jdeathe/centos-ssh'" in \
        failure["message"], failure
    assert mar.app("img")["tasksRunning"] == 0
