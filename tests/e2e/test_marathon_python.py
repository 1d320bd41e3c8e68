"""marathon-python (Debian's python3-marathon), a client nobody here wrote,
drives an app's whole life through its own API against marathon.so.

Every call goes through the library's own parsing into its model objects,
which refuse keys they do not know: a field agora serves that Marathon
does not, or a shape that differs, fails here.
"""
import threading

from marathon import MarathonClient
from marathon.models import MarathonApp, MarathonGroup
from marathon.models.events import MarathonEvent

from conftest import wait_for
from marathon_fixture import marathon_cluster  # noqa: F401 - a fixture


def settled(c, app_id, n):
    def ok():
        a = c.get_app(app_id)
        return a.tasks_running == n and len(a.tasks) == n and \
            not a.deployments and a
    return wait_for(ok, 30, interval=0.1, what="%s at %d" % (app_id, n))


def test_lifecycle(marathon_cluster):
    m, mar, agent = marathon_cluster
    agent()
    c = MarathonClient("http://127.0.0.1:%d" % mar.port)
    assert c.ping().strip() in (b"pong", b'"pong"')
    info = c.get_info()
    assert info.name == "marathon" and info.elected
    assert c.get_leader()["leader"].endswith(":%d" % mar.port)

    app = c.create_app("py", MarathonApp(cmd="sleep 600", cpus=0.1, mem=16,
                                         instances=1, labels={"tier": "web"}))
    assert app.id == "/py"
    a = settled(c, "/py", 1)

    for kw in ({}, {"embed_tasks": True}, {"embed_counts": True},
               {"embed_deployments": True}, {"embed_last_task_failure": True},
               {"embed_failures": True}, {"embed_task_stats": True},
               {"embed_readiness": True}):
        apps = c.list_apps(**kw)
        assert [x.id for x in apps] == ["/py"], kw
    assert [x.id for x in c.list_apps(label="tier==web")] == ["/py"]
    assert c.list_apps(label="tier==db") == []
    assert [x.id for x in c.list_apps(cmd="SLEEP")] == ["/py"]

    c.scale_app("/py", instances=3)
    settled(c, "/py", 3)
    c.scale_app("/py", delta=-1)
    settled(c, "/py", 2)

    tasks = c.list_tasks("/py")
    assert len(tasks) == 2 and all(t.app_id == "/py" for t in tasks)
    assert len(c.list_tasks()) == 2
    c.kill_task("/py", tasks[0].id)
    wait_for(lambda: tasks[0].id not in [t.id for t in c.list_tasks("/py")]
             and len(c.list_tasks("/py")) == 2, 30,
             what="a replacement for the killed task")
    c.kill_given_tasks([c.list_tasks("/py")[0].id], scale=True)
    settled(c, "/py", 1)

    versions = c.list_versions("/py")
    assert len(versions) >= 3
    first = versions[-1]
    assert c.get_version("/py", first).instances == 1

    c.update_app("/py", MarathonApp(cmd="sleep 601", cpus=0.1, mem=16,
                                    instances=1))
    a = settled(c, "/py", 1)
    assert a.cmd == "sleep 601"
    c.rollback_app("/py", first)
    a = settled(c, "/py", 1)
    assert a.cmd == "sleep 600"

    old = {t.id for t in c.list_tasks("/py")}
    c.restart_app("/py")
    wait_for(lambda: not ({t.id for t in c.list_tasks("/py")} & old)
             and len(c.list_tasks("/py")) == 1, 30, what="a restart")

    assert c.list_deployments() == []
    assert isinstance(c.list_queue(), list)
    assert c.get_metrics()["gauges"]

    # The library's stream is a generator: it connects at the first
    # next(), which waits in a thread until the delete's event comes;
    # the delete waits until marathon.so counts the stream connected.
    stream = c.event_stream(event_types=["app_terminated_event"])
    got = []
    reader = threading.Thread(target=lambda: got.append(next(stream)),
                              daemon=True)
    reader.start()
    wait_for(lambda: c.get_metrics()["gauges"]
             ["marathon.http.event-streams.active.gauge"]["value"] >= 1,
             10, interval=0.05, what="the event stream to connect")
    c.delete_app("/py")
    reader.join(30)
    assert got, "no app_terminated_event within 30 s"
    ev = got[0]
    assert isinstance(ev, MarathonEvent) and ev.app_id == "/py"
    wait_for(lambda: c.list_apps() == [], 30, what="the app to go")


def test_groups(marathon_cluster):
    m, mar, agent = marathon_cluster
    agent()
    c = MarathonClient("http://127.0.0.1:%d" % mar.port)
    g = MarathonGroup(id="/pyg", apps=[
        MarathonApp(id="/pyg/db", cmd="sleep 600", cpus=0.1, mem=16),
        MarathonApp(id="/pyg/web", cmd="sleep 600", cpus=0.1, mem=16,
                    dependencies=["/pyg/db"])])
    assert "deploymentId" in c.create_group(g)
    settled(c, "/pyg/web", 1)
    assert [x.id for x in c.list_groups()] == ["/pyg"]
    got = c.get_group("/pyg")
    assert sorted(a.id for a in got.apps) == ["/pyg/db", "/pyg/web"]
    c.scale_group("/pyg", 2)
    settled(c, "/pyg/web", 2)
    settled(c, "/pyg/db", 2)
    first = c.session.get(c.servers[0] + "/v2/groups/pyg/versions").json()[-1]
    c.update_group("/pyg", MarathonGroup(id="/pyg", apps=[
        MarathonApp(id="/pyg/db", cmd="sleep 600", cpus=0.1, mem=16)]))
    wait_for(lambda: [a.id for a in c.list_apps()] == ["/pyg/db"], 30,
             what="web to be stopped")
    c.rollback_group("/pyg", first)
    settled(c, "/pyg/web", 1)
    c.delete_group("/pyg")
    wait_for(lambda: c.list_apps() == [], 30, what="the group to go")
