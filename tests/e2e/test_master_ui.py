"""The master's UI (core/ui/, compiled into agora-master) and the proxy it
reads agents' sandboxes through, against a real master, agent and task:
the files with their ETag, 304, gzip and security headers, index.html
for the page's own routes, and GET /agents/<id>/files/... passing the
agent's answers through (its refusals included) or 502 when the agent
cannot be reached."""
import gzip
import os
import signal
import threading

import requests

from conftest import REPO, SLOW, wait_for

UI_DIR = os.path.join(REPO, "core", "ui")
T = 10 * SLOW


def source(name):
    with open(os.path.join(UI_DIR, name), "rb") as f:
        return f.read()


def get(m, path, **kw):
    kw.setdefault("timeout", T)
    return requests.get(m.url(path), **kw)


def test_ui_files_and_headers(cluster):
    m, _, _ = cluster
    index = source("index.html")
    for path in ("/", "/ui", "/ui/", "/ui/index.html"):
        r = get(m, path, headers={"Accept-Encoding": "identity"})
        assert r.status_code == 200, path
        assert r.content == index
        assert r.headers["Content-Type"] == "text/html; charset=utf-8"
        assert r.headers["Cache-Control"] == "no-cache"
        assert r.headers["X-Content-Type-Options"] == "nosniff"
        csp = r.headers["Content-Security-Policy"]
        assert "default-src 'self'" in csp and "frame-ancestors 'none'" in csp
        assert "unsafe-inline" not in csp and "unsafe-eval" not in csp
    # Every asset of core/ui/ is served, byte for byte, typed.
    types = {".js": "text/javascript; charset=utf-8", ".css": "text/css; charset=utf-8",
             ".html": "text/html; charset=utf-8"}
    for name in sorted(os.listdir(UI_DIR)):
        r = get(m, "/ui/" + name, headers={"Accept-Encoding": "identity"})
        assert r.status_code == 200, name
        assert r.content == source(name), name
        assert r.headers["Content-Type"] == types[os.path.splitext(name)[1]]
    # HEAD: the headers without the body.
    r = requests.head(m.url("/ui/app.js"), timeout=T, headers={"Accept-Encoding": "identity"})
    assert r.status_code == 200 and r.content == b""
    assert int(r.headers["Content-Length"]) == len(source("app.js"))


def test_ui_etag_and_gzip(cluster):
    m, _, _ = cluster
    plain = get(m, "/ui/pages.js", headers={"Accept-Encoding": "identity"})
    assert "Content-Encoding" not in plain.headers
    assert plain.headers["Vary"] == "Accept-Encoding"
    etag = plain.headers["ETag"]
    assert etag.startswith('"') and etag.endswith('"')
    r = get(m, "/ui/pages.js", headers={"Accept-Encoding": "identity", "If-None-Match": etag})
    assert r.status_code == 304 and r.content == b""
    assert r.headers["ETag"] == etag
    r = get(m, "/ui/pages.js", headers={"Accept-Encoding": "identity",
                                        "If-None-Match": '"other", W/' + etag})
    assert r.status_code == 304
    r = get(m, "/ui/pages.js", headers={"Accept-Encoding": "identity", "If-None-Match": '"x"'})
    assert r.status_code == 200 and r.content == source("pages.js")
    # gzip'd: fewer bytes on the wire, the same file, another tag.
    r = get(m, "/ui/pages.js", headers={"Accept-Encoding": "gzip"}, stream=True)
    raw = r.raw.read(decode_content=False)
    assert r.headers["Content-Encoding"] == "gzip"
    assert len(raw) < len(source("pages.js")) / 2
    assert gzip.decompress(raw) == source("pages.js")
    gz_etag = r.headers["ETag"]
    assert gz_etag != etag
    r = get(m, "/ui/pages.js", headers={"Accept-Encoding": "gzip;q=1", "If-None-Match": gz_etag})
    assert r.status_code == 304
    r = get(m, "/ui/pages.js", headers={"Accept-Encoding": "gzip;q=0"})
    assert "Content-Encoding" not in r.headers


def test_ui_client_routes(cluster):
    m, _, _ = cluster
    index = source("index.html")
    for path in ("/ui/agents", "/ui/tasks", "/ui/task", "/ui/sandbox", "/ui/some/deeper/route"):
        r = get(m, path, params={"id": "x.y"}, headers={"Accept-Encoding": "identity"})
        assert r.status_code == 200 and r.content == index, path
    for path in ("/ui/missing.js", "/ui/style.css.map", "/ui/../../etc/passwd"):
        r = get(m, path)
        assert r.status_code == 404, path
        assert r.json()["message"]
    r = requests.post(m.url("/ui/app.js"), timeout=T)
    assert r.status_code == 405
    # The core's API keeps its routes beside the UI's.
    assert get(m, "/master/state").json()["elected"] is True


def start_task(cluster, task_id, command):
    m, launcher, agent = cluster
    a = agent().start()
    launcher.launch(a.agent_id, {"task_id": task_id, "command": command,
                                 "resources": "cpus:0.1;mem:32"})
    launcher.wait_state(task_id, "TASK_RUNNING", timeout=T)
    return a


def test_files_proxy(cluster):
    m, _, _ = cluster
    a = start_task(cluster, "ui-echo", "echo hello from the sandbox; echo oops >&2; sleep 600")
    base = "/agents/%s/files/" % a.agent_id
    stdout = "/sandboxes/ui-echo/stdout"

    def read():
        r = get(m, base + "read", params={"path": stdout, "offset": 0})
        return r.json() if r.status_code == 200 and r.json()["data"] else None
    doc = wait_for(read, timeout=T, what="the task's stdout through the master")
    assert doc == {"data": "hello from the sandbox\n", "offset": 0}
    # The same as the agent's own answer, status, type and body.
    for op, params in (("read", {"path": stdout, "offset": 6, "length": 4}),
                       ("read", {"path": stdout, "offset": -1}),
                       ("browse", {"path": "/sandboxes/ui-echo"}),
                       ("download", {"path": "/sandboxes/ui-echo/stderr"}),
                       ("read", {"path": "/etc/passwd"}),
                       ("read", {"path": "/sandboxes/ui-echo/../../../etc/passwd"}),
                       ("browse", {"path": "/sandboxes/nope"})):
        via = get(m, base + op, params=params)
        direct = a.get("/files/" + op, params=params)
        assert via.status_code == direct.status_code, (op, params, via.text)
        assert via.content == direct.content, (op, params)
        assert via.headers["Content-Type"] == direct.headers["Content-Type"]
        assert via.headers["X-Content-Type-Options"] == "nosniff"
        assert "sandbox" in via.headers["Content-Security-Policy"]
    r = get(m, base + "download", params={"path": "/sandboxes/ui-echo/stderr"})
    assert r.content == b"oops\n"
    assert "attachment" in r.headers["Content-Disposition"]
    # The agent's refusals pass through as they are.
    r = get(m, base + "read", params={"path": "/etc/passwd"})
    assert r.status_code == 403 and r.json()["message"] == "path is outside the sandboxes"


def test_files_proxy_errors(cluster):
    m, _, _ = cluster
    a = start_task(cluster, "ui-err", "sleep 600")
    base = "/agents/%s/files/" % a.agent_id
    r = get(m, "/agents/no-such-agent/files/read", params={"path": "/sandboxes/x/stdout"})
    assert r.status_code == 404
    assert r.json()["message"] == "no such agent: no-such-agent"
    for params in ({}, {"path": ""}, {"path": "relative/stdout"}):
        r = get(m, base + "read", params=params)
        assert r.status_code == 400, params
        assert "path" in r.json()["message"]
    r = get(m, base + "write", params={"path": "/sandboxes/ui-err/stdout"})
    assert r.status_code == 404 and "browse, read or download" in r.json()["message"]
    # The agent gone: the master answers 502 itself, and stays up.
    a.stop()
    r = get(m, base + "read", params={"path": "/sandboxes/ui-err/stdout"})
    assert r.status_code == 502
    assert r.json()["message"].startswith("agent %s is unreachable" % a.agent_id)
    assert get(m, "/health").status_code == 200


def test_files_proxy_never_blocks_and_is_bounded(cluster):
    """An agent that does not answer (SIGSTOP) holds its proxied requests
    deferred, not the master: the master answers other requests at once,
    refuses the 33rd sandbox read with 503, and passes every held one
    through once the agent answers again."""
    m, _, _ = cluster
    a = start_task(cluster, "ui-hold", "echo held; sleep 600")
    url = m.url("/agents/%s/files/read" % a.agent_id)
    params = {"path": "/sandboxes/ui-hold/stdout", "offset": 0}
    wait_for(lambda: requests.get(url, params=params, timeout=T).json()["data"] == "held\n",
             timeout=T, what="the task's line")
    results = []
    os.kill(a.proc.pid, signal.SIGSTOP)
    try:
        threads = [threading.Thread(target=lambda: results.append(
            requests.get(url, params=params, timeout=25 * SLOW))) for _ in range(32)]
        for t in threads:
            t.start()
        wait_for(lambda: m.metrics()["master/http_deferred_open"] == 32, timeout=T,
                 what="32 reads held")
        r = requests.get(url, params=params, timeout=T)
        assert r.status_code == 503 and r.json()["message"]
        assert m.get("/master/state").status_code == 200
    finally:
        os.kill(a.proc.pid, signal.SIGCONT)
    for t in threads:
        t.join(30 * SLOW)
    assert [r.status_code for r in results] == [200] * 32
    assert all(r.json() == {"data": "held\n", "offset": 0} for r in results)
    assert m.metrics()["master/http_deferred_open"] == 0
