"""marathon.so's index of the apps' definitions (plugins/marathon/mar_index.c).

A POST no longer walks every app: whether its id is taken (an app, a
group holding apps, an app above it), whether anything names a
dependency, and which service ports are free come from counts kept as
apps come, change and go. These tests change the apps through the API
and check each answer that the counts decide, against a real master:
a count that was not taken back when an app went, or not moved when a
definition was replaced, shows as a wrong 409, a missing one, or a
service port given twice.
"""
from marathon_fixture import marathon_cluster  # noqa: F401 - a fixture


def post(mar, body):
    return mar.post("/v2/apps", json=body)


def ports(app):
    return [p["port"] for p in app["portDefinitions"]]


def test_ids_taken_by_apps_and_groups(marathon_cluster):
    m, mar, agent = marathon_cluster
    r = post(mar, {"id": "/a/b/c", "cmd": "sleep 60", "instances": 0})
    assert r.status_code == 201, r.text

    for gid in ("/a/b", "/a"):
        r = post(mar, {"id": gid, "cmd": "sleep 60", "instances": 0})
        assert r.status_code == 409, r.text
        assert r.json()["message"] == "A group with id [%s] already exists." % gid
    r = post(mar, {"id": "/a/b/c/d", "cmd": "sleep 60", "instances": 0})
    assert r.status_code == 409, r.text
    assert r.json()["message"] == "An app with the path /a/b/c already exists."
    r = post(mar, {"id": "/a/b/c/d/e", "cmd": "sleep 60", "instances": 0})
    assert r.status_code == 409, r.text
    assert r.json()["message"] == "An app with the path /a/b/c already exists."
    # A sibling and a longer name that only starts the same are free.
    assert post(mar, {"id": "/a/b/x", "cmd": "sleep 60",
                      "instances": 0}).status_code == 201
    assert post(mar, {"id": "/a/bc", "cmd": "sleep 60",
                      "instances": 0}).status_code == 201
    assert mar.get("/v2/groups/a/b").status_code == 200

    # /a/b/c goes: /a/b still holds /a/b/x, and /a/b/c/d is free now.
    assert mar.delete("/v2/apps/a/b/c").status_code == 200
    mar.wait_gone("a/b/c")
    r = post(mar, {"id": "/a/b", "cmd": "sleep 60", "instances": 0})
    assert r.status_code == 409, r.text
    assert r.json()["message"] == "A group with id [/a/b] already exists."
    assert post(mar, {"id": "/a/b/c/d", "cmd": "sleep 60",
                      "instances": 0}).status_code == 201
    # Both apps under /a/b go: the group is no longer counted, and an app
    # may take its id.
    for app_id in ("a/b/x", "a/b/c/d"):
        assert mar.delete("/v2/apps/" + app_id).status_code == 200
        mar.wait_gone(app_id)
    assert mar.get("/v2/groups/a/b/c").status_code == 404
    r = post(mar, {"id": "/a/b", "cmd": "sleep 60", "instances": 0})
    assert r.status_code == 201, r.text
    # /a holds /a/b and /a/bc.
    r = post(mar, {"id": "/a", "cmd": "sleep 60", "instances": 0})
    assert r.status_code == 409
    assert r.json()["message"] == "A group with id [/a] already exists."


def test_service_ports_unique_as_apps_change(marathon_cluster):
    m, mar, agent = marathon_cluster
    two = [{"port": 0}, {"port": 0}]
    r = post(mar, {"id": "/p1", "cmd": "sleep 60", "instances": 0,
                   "portDefinitions": two})
    assert r.status_code == 201, r.text
    assert ports(r.json()) == [10000, 10001]
    r = post(mar, {"id": "/p2", "cmd": "sleep 60", "instances": 0,
                   "portDefinitions": [{"port": 0}, {"port": 10003}]})
    assert r.status_code == 201, r.text
    assert ports(r.json()) == [10002, 10003]

    # p1 is replaced with one port definition: its own ports do not count
    # against it, so it keeps the lowest, and 10001 is free again.
    r = mar.put("/v2/apps/p1", json={"cmd": "sleep 60", "instances": 0,
                                     "portDefinitions": [{"port": 0}]})
    assert r.status_code == 200, r.text
    assert ports(mar.app("p1")) == [10000]
    r = post(mar, {"id": "/p3", "cmd": "sleep 60", "instances": 0,
                   "portDefinitions": two})
    assert r.status_code == 201, r.text
    assert ports(r.json()) == [10001, 10004]

    # p2 goes: its ports are free for the next app.
    assert mar.delete("/v2/apps/p2").status_code == 200
    mar.wait_gone("p2")
    r = post(mar, {"id": "/p4", "cmd": "sleep 60", "instances": 0,
                   "portDefinitions": two})
    assert r.status_code == 201, r.text
    assert ports(r.json()) == [10002, 10003]
    every = [p for a in mar.get("/v2/apps").json()["apps"] for p in ports(a)]
    assert sorted(every) == sorted(set(every)), every


def test_dependencies_counted_as_apps_change(marathon_cluster):
    """Apps without dependencies take the index's short way (every level
    0); an app that names one is counted, so a cycle through it is still
    found, and the count goes when the app does or drops the dependency
    (no cycle is seen where there is none)."""
    m, mar, agent = marathon_cluster
    cycle = "Dependency graph has cyclic dependencies."

    def app(app_id, deps=()):
        return {"id": app_id, "cmd": "sleep 60", "instances": 0,
                "dependencies": list(deps)}
    assert post(mar, app("/d/db")).status_code == 201
    assert post(mar, app("/d/web", ["/d/db"])).status_code == 201
    # db -> web closes a cycle that only the counted web names.
    r = mar.put("/v2/apps/d/db", json=app("/d/db", ["/d/web"]))
    assert r.status_code == 422, r.text
    assert r.json()["details"][0]["errors"] == [cycle]
    # web drops its dependency (a replaced definition): db may now name web.
    r = mar.put("/v2/apps/d/web?force=true", json=app("/d/web"))
    assert r.status_code == 200, r.text
    r = mar.put("/v2/apps/d/db?force=true", json=app("/d/db", ["/d/web"]))
    assert r.status_code == 200, r.text
    # and web naming db is the cycle again, through db's counted definition.
    r = mar.put("/v2/apps/d/web?force=true", json=app("/d/web", ["/d/db"]))
    assert r.status_code == 422, r.text
    # db goes: web may name anything that is not a cycle.
    assert mar.delete("/v2/apps/d/db?force=true").status_code == 200
    mar.wait_gone("d/db")
    r = mar.put("/v2/apps/d/web?force=true", json=app("/d/web", ["/d/db"]))
    assert r.status_code == 200, r.text
