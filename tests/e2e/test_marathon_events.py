"""marathon.so's event bus: the §4.2 types beyond an app's lifecycle.

add_health_check_event when an app version with health checks arrives,
remove_health_check_event when it goes, and deployment_step_failure
before deployment_failed / group_change_failed when a deployment is
cancelled in the middle of a step. A real master, agent and SSE stream.
"""
import json

import requests

from marathon_fixture import marathon_cluster  # noqa: F401

TYPES = ["add_health_check_event", "remove_health_check_event",
         "deployment_step_failure", "deployment_failed",
         "group_change_failed", "app_terminated_event"]


class Stream:
    """GET /v2/events?event_type=...: connected when made."""

    def __init__(self, mar, types):
        q = "&".join("event_type=" + t for t in types)
        self.resp = requests.get(mar.url("/v2/events?" + q), stream=True,
                                 timeout=30,
                                 headers={"Accept": "text/event-stream"})
        assert self.resp.status_code == 200
        self.lines = self.resp.iter_lines(chunk_size=1, decode_unicode=True)

    def next(self):
        ev = None
        for line in self.lines:
            if line.startswith("event: "):
                ev = line[7:]
            elif line.startswith("data: "):
                data = json.loads(line[6:])
                assert data["eventType"] == ev
                return ev, data
        raise AssertionError("the stream ended")

    def until(self, want):
        """The next event of type want, and the types seen before it."""
        seen = []
        while True:
            ev, data = self.next()
            if ev == want:
                return data, seen
            seen.append(ev)

    def close(self):
        self.resp.close()


def test_health_check_events(marathon_cluster):
    m, mar, agent = marathon_cluster
    agent()
    s = Stream(mar, TYPES)
    hc = {"protocol": "TCP", "portIndex": 0, "intervalSeconds": 5,
          "gracePeriodSeconds": 30, "maxConsecutiveFailures": 3}
    r = mar.post("/v2/apps", json={"id": "hc", "cmd": "sleep 600",
                                   "cpus": 0.1, "mem": 16,
                                   "portDefinitions": [{"port": 0}],
                                   "healthChecks": [hc]})
    assert r.status_code == 201, r.text
    version = r.json()["version"]
    ev, d = s.next()
    assert ev == "add_health_check_event", (ev, d)
    assert d["appId"] == "/hc" and d["version"] == version
    assert d["healthCheck"]["protocol"] == "TCP"
    assert d["healthCheck"]["intervalSeconds"] == 5

    # A new version without checks (forced: `sleep` never passes a TCP
    # check, so the first deployment is still waiting): the old
    # version's checks go.
    r = mar.put("/v2/apps/hc?force=true",
                json={"cmd": "sleep 601", "healthChecks": []})
    assert r.status_code == 200, r.text
    d, seen = s.until("remove_health_check_event")
    assert d["appId"] == "/hc", d
    assert "add_health_check_event" not in seen, seen

    r = mar.delete("/v2/apps/hc?force=true")
    assert r.status_code == 200, r.text
    d, seen = s.until("app_terminated_event")
    assert d["appId"] == "/hc", d
    # The version left had no checks: nothing more to remove.
    assert "remove_health_check_event" not in seen, seen
    s.close()


def test_cancelled_deployment_fails_its_step(marathon_cluster):
    m, mar, agent = marathon_cluster
    agent()
    s = Stream(mar, TYPES)
    # More cpus than any agent has: the deployment cannot finish.
    r = mar.post("/v2/apps", json={"id": "big", "cmd": "sleep 600",
                                   "cpus": 64, "mem": 16})
    assert r.status_code == 201, r.text
    dep = r.headers["Marathon-Deployment-Id"]
    r = mar.delete("/v2/deployments/" + dep + "?force=true")
    assert r.status_code == 202, r.text
    got = [s.next() for _ in range(3)]
    assert [ev for ev, _ in got] == ["deployment_step_failure",
                                     "deployment_failed",
                                     "group_change_failed"], got
    step = got[0][1]
    assert step["plan"]["id"] == dep
    assert step["currentStep"]["actions"][0]["app"] == "/big"
    assert got[1][1]["id"] == dep
    s.close()
