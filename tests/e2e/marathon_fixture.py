"""A master with marathon.so on its own port, and real agents.

Shared by the marathon tests: `marathon_cluster` yields (master, mar, agent)
where mar speaks Marathon's API on the plugin's port and agent(...) starts
one more agora-agent (hostname and attributes as given).
"""
import os

import pytest
import requests

from conftest import Agent, free_port, kill_leftovers, wait_for


class MarathonClient:
    """Plain HTTP against marathon.so's port."""

    def __init__(self, port):
        self.port = port
        self.base = "http://127.0.0.1:%d" % port
        self.s = requests.Session()

    def url(self, path):
        return self.base + path

    def get(self, path, **kw):
        kw.setdefault("timeout", 10)
        return self.s.get(self.url(path), **kw)

    def post(self, path, **kw):
        kw.setdefault("timeout", 10)
        return self.s.post(self.url(path), **kw)

    def put(self, path, **kw):
        kw.setdefault("timeout", 10)
        return self.s.put(self.url(path), **kw)

    def patch(self, path, **kw):
        kw.setdefault("timeout", 10)
        return self.s.patch(self.url(path), **kw)

    def delete(self, path, **kw):
        kw.setdefault("timeout", 10)
        return self.s.delete(self.url(path), **kw)

    def app(self, app_id):
        r = self.get("/v2/apps/" + app_id.lstrip("/"))
        assert r.status_code == 200, r.text
        return r.json()["app"]

    def tasks(self, app_id):
        return self.app(app_id)["tasks"]

    def running(self, app_id):
        return [t for t in self.tasks(app_id) if t["state"] == "TASK_RUNNING"]

    def wait_running(self, app_id, n, timeout=20.0):
        def ok():
            a = self.app(app_id)
            return (a["tasksRunning"] == n and len(a["tasks"]) == n
                    and not a["deployments"]) and a
        return wait_for(ok, timeout, interval=0.1,
                        what="%s to run %d tasks" % (app_id, n))

    def wait_gone(self, app_id, timeout=20.0):
        wait_for(lambda: self.get("/v2/apps/" + app_id.lstrip("/")).status_code
                 == 404, timeout, interval=0.1, what="%s to be gone" % app_id)

    def wait_ready(self, timeout=20.0):
        wait_for(lambda: self.get("/v2/apps").status_code == 200, timeout,
                 interval=0.05, what="marathon.so to serve")


def plugin_port(master):
    """A free port for a plugin of master: not the master's own, which
    free_port() may hand out again since the master has not bound it
    yet."""
    port = free_port()
    while port == master.port:
        port = free_port()
    return port


def write_marathon_conf(master, port, extra=""):
    with open(os.path.join(master.conf_dir, "marathon.conf"), "w") as f:
        f.write("plugin = marathon.so\nport = %d\n%s" % (port, extra))


@pytest.fixture
def marathon_cluster(tmp_path, master_factory):
    m = master_factory(args=["--agent_ping_timeout=0.5secs",
                             "--max_agent_ping_timeouts=4"])
    port = plugin_port(m)
    write_marathon_conf(m, port)
    m.start()
    mar = MarathonClient(port)
    mar.wait_ready()
    agents = []

    def agent(hostname=None, attributes=None, **kw):
        args = list(kw.pop("args", []))
        if hostname:
            args.append("--hostname=" + hostname)
        if attributes:
            args.append("--attributes=" + attributes)
        a = Agent(tmp_path / ("agent%d" % len(agents)), m, args=args, **kw)
        agents.append(a)
        return a.start()

    yield m, mar, agent
    for a in agents:
        if a.alive():
            a.stop()
        kill_leftovers(a.work_dir)
