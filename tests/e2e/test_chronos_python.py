"""chronos.so against the requests chronos-python makes.

chronos-python (Yelp's client, `chronos/__init__.py`) is not packaged in
Debian, and this machine reaches no package index beyond Debian's, so it
cannot be installed. ChronosPythonWire below makes the exact requests its
ChronosClient makes - the same transport (httplib2, which Debian packages
as python3-httplib2), methods, paths with the `/v1` prefix or none (the
2.x client, scheduler_api_version=None, which updates with PUT), the
URL quoted as it quotes it, Content-Type only with a body, the body
json.dumps(job) - and judges the answers as its _check() does: 401 an
error, a body that is not JSON kept as bytes, no body an error unless
204, 400 and above an error carrying the body's "message", and the next
server of its list tried when one fails. A client built that way works
unchanged against chronos.so when this test passes.
"""
import json
import socket
from urllib.parse import quote

import httplib2
import pytest

from conftest import free_port, wait_for
from test_chronos import chronos, lines  # noqa: F401 - a fixture


class APIError(Exception):
    pass


class ChronosPythonWire:
    """chronos-python's ChronosClient, request for request (not its
    code: its behaviour, read from chronos/__init__.py)."""

    REQUIRED = ["command", "name", "owner", "disabled"]
    LEGACY_REQUIRED = ["async"]

    def __init__(self, servers, scheduler_api_version="v1"):
        servers = servers if isinstance(servers, list) else [servers]
        self.servers = ["http://%s" % s for s in servers]
        self.version = scheduler_api_version
        self.prefix = "" if scheduler_api_version is None else \
            "/" + scheduler_api_version
        self.sent = []

    def list(self):
        return self.call("/scheduler/jobs", "GET")

    def delete(self, name):
        return self.call("/scheduler/job/%s" % name, "DELETE")

    def delete_tasks(self, name):
        return self.call("/scheduler/task/kill/%s" % name, "DELETE")

    def run(self, name):
        return self.call("/scheduler/job/%s" % name, "PUT")

    def add(self, job, update=False):
        path = "/scheduler/iso8601"
        self.check_fields(job)
        if "parents" in job:
            path = "/scheduler/dependency"
        method = "POST"
        if self.version is None and update:
            method = "PUT"                  # 2.x: PUT updates
        return self.call(path, method, json.dumps(job))

    def update(self, job):
        return self.add(job, update=True)

    def job_stat(self, name):
        return self.call("/scheduler/job/stat/%s" % name, "GET")

    def scheduler_graph(self):
        return self.call("/scheduler/graph/csv", "GET")

    def scheduler_stat(self, which):
        return self.call("/scheduler/stats/%s" % which, "GET")

    def metrics(self):
        return self.call("/metrics", "GET", prefix=False)

    def call(self, url, method="GET", body=None, prefix=True):
        hdrs = {"Content-Type": "application/json"} if body else {}
        url = (self.prefix + url) if prefix else url
        conn = httplib2.Http(disable_ssl_certificate_validation=False)
        self.errors = []
        for server in self.servers:
            endpoint = "%s%s" % (server, quote(url))
            try:
                resp, content = conn.request(endpoint, method, body=body,
                                             headers=hdrs)
            except (socket.error, httplib2.ServerNotFoundError):
                continue                    # the next server
            self.sent.append((method, url, resp.status))
            try:
                return self.check(resp, content)
            except APIError as e:           # logged, and the next server
                self.errors.append(str(e))
        raise APIError("No remaining Chronos servers to try")

    def check(self, resp, content):
        status = resp.status
        payload = None
        if status == 401:
            raise APIError("unauthorized")
        if content:
            try:
                payload = json.loads(content.decode("utf-8"))
            except ValueError:
                payload = content
        if payload is None and status != 204:
            raise APIError("status %d, no body" % status)
        if status >= 400:
            message = "API returned status %d, content: %s" % (status, payload)
            if "message" in payload:
                message = "%s (...)" % (payload["message"][:120],)
            raise APIError(message)
        return payload

    def check_fields(self, job):
        fields = list(self.REQUIRED)
        if self.version is None:
            fields += self.LEGACY_REQUIRED
        for k in fields:
            assert k in job, "chronos-python refuses a job without %s" % k
        assert sum(k in job for k in ("schedule", "parents")) == 1


def job(name, out, **kw):
    d = {"name": name, "command": "echo %s >> %s" % (name, out),
         "owner": "ops@example.com", "disabled": False, "async": False,
         "epsilon": "PT30S", "cpus": 0.1, "mem": 16}
    d.update(kw)
    return d


@pytest.mark.parametrize("version", ["v1", None])
def test_chronos_python_requests(chronos, version):
    m, c, out = chronos
    host = c.base.split("//", 1)[1]
    dead = "127.0.0.1:%d" % free_port()     # nothing listens: tried first
    cp = ChronosPythonWire([dead, host], scheduler_api_version=version)
    f = out / "cp"
    never = "R1/2099-01-01T00:00:00Z/PT1H"

    assert cp.list() == []
    assert cp.add(job("parent", f, schedule=never)) is None      # 204
    assert cp.add(job("child", f, parents=["parent"])) is None
    jobs = {j["name"]: j for j in cp.list()}
    assert set(jobs) == {"parent", "child"}
    assert jobs["child"]["parents"] == ["parent"]
    assert jobs["parent"]["owner"] == "ops@example.com"
    # update: POST with v1, PUT with the 2.x client; both replace.
    assert cp.update(job("parent", f, schedule=never,
                         description="changed")) is None
    assert {j["name"]: j for j in cp.list()}["parent"]["description"] == \
        "changed"
    # run: the child follows its parent.
    assert cp.run("parent") is None
    wait_for(lambda: lines(f) == ["parent", "child"], 20, interval=0.1,
             what="parent, then child")
    wait_for(lambda: cp.job_stat("child")["histogram"]["count"] == 1, 10,
             interval=0.2, what="the child's stat")
    stat = cp.job_stat("parent")
    assert stat["taskStatHistory"][0]["status"] == "Success"
    graph = cp.scheduler_graph()                # text: kept as bytes
    assert isinstance(graph, bytes)
    assert b"link,parent,child" in graph.splitlines()
    for which in ("99thPercentile", "98thPercentile", "95thPercentile",
                  "75thPercentile", "median", "mean"):
        names = {s["jobNameLabel"] for s in cp.scheduler_stat(which)}
        assert names == {"parent", "child"}, which
    assert "counters" in cp.metrics()
    # Errors come back as chronos-python reads them: the message.
    with pytest.raises(APIError, match="No remaining"):
        cp.add(job("orphan", f, parents=["nope"]))
    assert "parent 'nope' of job 'orphan' does not exist" in cp.errors[0]
    with pytest.raises(APIError, match="No remaining"):
        cp.run("nope")
    assert cp.errors == ["Job 'nope' not found (...)"]
    assert cp.delete_tasks("parent") is None
    assert cp.delete("child") is None
    assert cp.delete("parent") is None
    assert cp.list() == []
    prefix = "/v1/scheduler/" if version else "/scheduler/"
    assert all(u.startswith(prefix) or u == "/metrics"
               for _, u, _ in cp.sent)
