"""marathon.so's and chronos.so's web UIs as files, and chronos' schedule
preview (GET /v1/scheduler/next) that the New Job form shows.

The pages themselves are driven in headless Chromium (tests/ui); here the
serving rules: the page at the plugin's root and under /<name>/ on the
master's port (the same bytes), its files below ui/, the strict CSP, and
no page path shadowing an API route.
"""
import datetime
import os
import urllib.parse
import zoneinfo

import pytest
import requests

from conftest import wait_for
from marathon_fixture import plugin_port

UIS = {"marathon": "/v2/info", "chronos": "/v1/scheduler/jobs"}


@pytest.fixture
def plugins(master_factory):
    """A master with marathon.so and chronos.so, each on a port of its own
    (no agent: nothing here runs)."""
    m = master_factory()
    ports = {}
    for name in UIS:
        ports[name] = plugin_port(m)
        while ports[name] in list(ports.values())[:-1]:
            ports[name] = plugin_port(m)
        with open(os.path.join(m.conf_dir, name + ".conf"), "w") as f:
            f.write("plugin = %s.so\nport = %d\n" % (name, ports[name]))
    m.start()
    for name, api in UIS.items():
        url = "http://127.0.0.1:%d%s" % (ports[name], api)
        wait_for(lambda: requests.get(url, timeout=5).status_code == 200, 10,
                 what=name + " to serve")
    return m, ports


@pytest.mark.parametrize("name", sorted(UIS))
def test_page_at_both_roots(plugins, name):
    m, ports = plugins
    own = "http://127.0.0.1:%d/" % ports[name]
    mounted = "http://127.0.0.1:%d/%s/" % (m.port, name)
    a = requests.get(own, timeout=5)
    b = requests.get(mounted, timeout=5)
    for r in (a, b):
        assert r.status_code == 200
        assert r.headers["Content-Type"].startswith("text/html")
        csp = r.headers["Content-Security-Policy"]
        assert "default-src 'self'" in csp and "unsafe-inline" not in csp
        # Relative: the same page works under either root.
        assert 'src="ui/main.js"' in r.text and 'href="ui/style.css"' in r.text
    assert a.content == b.content and a.headers["ETag"] == b.headers["ETag"]
    js = requests.get(own + "ui/main.js", timeout=5)
    assert js.status_code == 200
    assert js.headers["Content-Type"].startswith("text/javascript")
    same = requests.get(mounted + "ui/main.js", timeout=5)
    assert same.content == js.content
    # Revalidation is a 304 by the ETag.
    r = requests.get(own + "ui/main.js", headers={"If-None-Match": js.headers["ETag"]},
                     timeout=5)
    assert r.status_code == 304


@pytest.mark.parametrize("name", sorted(UIS))
def test_only_files_below_ui(plugins, name):
    _, ports = plugins
    base = "http://127.0.0.1:%d" % ports[name]
    # No page for unknown paths: they would break the page's relative URLs.
    for path in ("/ui/nothing.js", "/ui/apps", "/ui/index.html", "/nothing"):
        assert requests.get(base + path, timeout=5).status_code == 404, path
    # The API is still the API.
    r = requests.get(base + UIS[name], timeout=5)
    assert r.status_code == 200 and r.headers["Content-Type"].startswith("application/json")


def nxt(ports, **q):
    return requests.get("http://127.0.0.1:%d/v1/scheduler/next?%s"
                        % (ports["chronos"], urllib.parse.urlencode(q)), timeout=5)


def ms(s):
    return int(datetime.datetime.strptime(s, "%Y-%m-%dT%H:%M:%S.%fZ")
               .replace(tzinfo=datetime.timezone.utc).timestamp() * 1000)


def test_next_cron_in_a_zone(plugins):
    _, ports = plugins
    # 02:30 in Paris is 01:30Z in winter and 00:30Z in summer.
    r = nxt(ports, schedule="cron:30 2 * * *", timezone="Europe/Paris")
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["timezone"] == "Europe/Paris" and len(body["next"]) == 5
    t = [ms(x) for x in body["next"]]
    assert all(b > a for a, b in zip(t, t[1:]))
    for x in body["next"]:
        assert x[11:19] in ("01:30:00", "00:30:00"), body
    # Bare five fields are cron too; count asks for more.
    r = nxt(ports, schedule="*/15 * * * *", count=8)
    t = [ms(x) for x in r.json()["next"]]
    assert len(t) == 8 and all(b - a == 15 * 60000 for a, b in zip(t, t[1:]))
    assert all((x // 60000) % 15 == 0 for x in t)


def test_next_iso(plugins):
    _, ports = plugins
    start = datetime.datetime.now(datetime.timezone.utc) + datetime.timedelta(hours=1)
    s = start.strftime("%Y-%m-%dT%H:%M:%SZ")
    body = nxt(ports, schedule="R3/%s/PT10M" % s).json()
    t = [ms(x) for x in body["next"]]
    assert len(t) == 3, body    # R3: three runs, not five
    assert t[0] == int(start.replace(microsecond=0).timestamp() * 1000)
    assert [b - a for a, b in zip(t, t[1:])] == [600000, 600000]
    # A start in the past: skipped forward by whole periods, past now.
    body = nxt(ports, schedule="R/2020-01-01T00:00:00Z/PT1H").json()
    t = [ms(x) for x in body["next"]]
    now = datetime.datetime.now(datetime.timezone.utc).timestamp() * 1000
    assert len(t) == 5 and now - 3600000 < t[0] and all(x % 3600000 == 0 for x in t)
    # P1D in a zone keeps the wall clock across DST (New York's starts
    # on 2027-03-14): one local hour, two UTC ones.
    body = nxt(ports, schedule="R/2027-03-10T14:00:00Z/P1D", timezone="America/New_York",
               count=10).json()
    ny = zoneinfo.ZoneInfo("America/New_York")
    local = {datetime.datetime.fromtimestamp(ms(x) / 1000, ny).hour for x in body["next"]}
    utc = {x[11:13] for x in body["next"]}
    assert len(body["next"]) == 10 and len(local) == 1 and len(utc) == 2, body


def test_next_refuses_what_a_job_would_not_take(plugins):
    _, ports = plugins
    for q in ({"schedule": "cron:61 2 * * *"}, {"schedule": "every day"},
              {"schedule": "R/2026-01-01T00:00:00Z/PT1H", "timezone": "Mars/Olympus"}, {}):
        r = nxt(ports, **q)
        assert r.status_code == 400, (q, r.text)
        assert r.json()["message"], q
