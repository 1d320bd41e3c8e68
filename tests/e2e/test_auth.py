"""Authentication of the master's endpoints, its agents and its plugins,
as Mesos' flags configure it (issue 17): --credentials, --jwt_secret_key,
--authenticate_http_readonly/_readwrite, --authenticate_agents,
--authenticate_frameworks, and an agent's --credential. Real masters, a
real agent running a real task, real HTTP.
"""
import base64
import hashlib
import hmac
import json
import os
import time

import requests

from conftest import (SLOW, TEST_PLUGINS, Agent, free_port, kill_leftovers,
                      wait_for)

SECRET = "s3cr3t-never-logged"
AGENT_SECRET = "agent-pass-never-logged"
JWT_KEY = b"jwt-key-for-tests"


def write(path, text, mode=0o600):
    with open(path, "w") as f:
        f.write(text)
    os.chmod(path, mode)
    return str(path)


def b64url(data):
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def jwt(claims, key=JWT_KEY, alg="HS256"):
    head = b64url(json.dumps({"alg": alg, "typ": "JWT"}).encode())
    body = b64url(json.dumps(claims).encode())
    sig = hmac.new(key, ("%s.%s" % (head, body)).encode(),
                   hashlib.sha256).digest()
    return "%s.%s.%s" % (head, body, b64url(sig))


def secured(tmp_path, master_factory, *flags, plugin_conf=None):
    creds = write(tmp_path / "credentials.json", json.dumps({"credentials": [
        {"principal": "ops", "secret": SECRET},
        {"principal": "agent1", "secret": AGENT_SECRET}]}))
    key = write(tmp_path / "jwt.key", JWT_KEY.decode() + "\n")
    m = master_factory(args=["--credentials=" + creds,
                             "--jwt_secret_key=" + key,
                             "--agent_ping_timeout=0.5secs"] + list(flags))
    with open(os.path.join(m.conf_dir, "launcher.conf"), "w") as f:
        f.write("plugin = %s\n" % os.path.join(TEST_PLUGINS, "launcher.so"))
        f.write(plugin_conf or "")
    return m.start()


OPS = ("ops", SECRET)


def test_readonly_and_readwrite_realms(tmp_path, master_factory):
    m = secured(tmp_path, master_factory, "--authenticate_http_readonly",
                "--authenticate_http_readwrite")
    r = requests.get(m.url("/master/state"), timeout=10)
    assert r.status_code == 401
    assert 'Basic realm="mesos-master-readonly"' in \
        r.headers["WWW-Authenticate"]
    assert r.json()["message"].startswith("authentication required")
    assert requests.get(m.url("/master/state"), auth=OPS,
                        timeout=10).status_code == 200
    assert requests.get(m.url("/master/state"), auth=("ops", "bad-pass-xyz"),
                        timeout=10).status_code == 401
    assert requests.get(m.url("/master/state"), auth=("nobody", SECRET),
                        timeout=10).status_code == 401

    r = requests.post(m.url("/master/reload"), timeout=10)
    assert r.status_code == 401
    assert 'realm="mesos-master-readwrite"' in r.headers["WWW-Authenticate"]
    assert requests.post(m.url("/master/reload"), auth=OPS,
                         timeout=10).status_code == 202
    r = requests.post(m.url("/api/v1"), json={"type": "GET_HEALTH"},
                      timeout=10)
    assert r.status_code == 401

    # Open to everyone: what load balancers and agents look for.
    for path in ("/health", "/master/health", "/version", "/master/redirect"):
        r = requests.get(m.url(path), timeout=10, allow_redirects=False)
        assert r.status_code in (200, 307), (path, r.status_code)

    # Bearer tokens: HS256 with the key, "sub" is the principal.
    def bearer(tok):
        return requests.get(m.url("/master/flags"), timeout=10,
                            headers={"Authorization": "Bearer " + tok})
    assert bearer(jwt({"sub": "ci", "exp": time.time() + 60})) \
        .status_code == 200
    assert bearer(jwt({"sub": "ci", "exp": time.time() - 1})) \
        .status_code == 401
    assert bearer(jwt({"sub": "ci"}, key=b"other")).status_code == 401
    assert bearer(jwt({"sub": "ci"}, alg="none")).status_code == 401
    assert bearer(jwt({"exp": time.time() + 60})).status_code == 401

    # The secrets never reach the log; the refusals are there.
    log = m.log()
    assert SECRET not in log and "bad-pass-xyz" not in log
    assert "refused" in log and "no credentials" in log


def test_credentials_file_every_user_may_read_is_refused(tmp_path,
                                                         master_factory):
    creds = write(tmp_path / "c.txt", "ops %s\n" % SECRET, mode=0o644)
    m = master_factory(args=["--credentials=" + creds,
                             "--authenticate_http_readwrite"])
    m.start(wait=False)
    rc = m.proc.wait(10 * SLOW)
    m.proc = None
    assert rc != 0
    assert "every user may read" in m.log()
    assert SECRET not in m.log()


def test_authenticate_flag_without_credentials_is_refused(tmp_path,
                                                          master_factory):
    m = master_factory(args=["--authenticate_agents"])
    m.start(wait=False)
    rc = m.proc.wait(10 * SLOW)
    m.proc = None
    assert rc != 0 and "--credentials" in m.log()


def test_agents_authenticate(tmp_path, master_factory):
    """With --authenticate_agents an agent without its credential cannot
    subscribe (nor can an impostor); with it, it subscribes and its
    task's updates arrive."""
    m = secured(tmp_path, master_factory, "--authenticate_agents",
                "--authenticate_http_readwrite")
    r = m.post("/api/agent/subscribe", json={
        "agent_id": "impostor", "hostname": "h", "ip": "127.0.0.1",
        "port": 1, "resources": "cpus:1;mem:64", "tasks": []}, timeout=5)
    assert r.status_code == 401

    bare = Agent(tmp_path / "bare", m)
    bare.start(wait=False)
    try:
        wait_for(lambda: "HTTP 401" in bare.log(), 10 * SLOW,
                 what="the agent's subscription to be refused")
        assert m.json("/master/agents")["agents"] == []
    finally:
        bare.stop()
        kill_leftovers(bare.work_dir)

    cred = write(tmp_path / "agent.cred", json.dumps(
        {"principal": "agent1", "secret": AGENT_SECRET}))
    a = Agent(tmp_path / "good", m, args=["--credential=" + cred])
    a.start()
    try:
        r = requests.post(m.url("/launcher/launch"), timeout=10, json={
            "agent_id": a.agent_id, "tasks": [{
                "task_id": "t1", "command": "exec sleep 60",
                "resources": "cpus:0.1;mem:16"}]})
        assert r.status_code == 202, r.text
        wait_for(lambda: any(s["state"] == "TASK_RUNNING" for s in
                             m.json("/launcher/statuses?task_id=t1")),
                 15 * SLOW, what="t1 RUNNING through authenticated updates")
        # Issue 15's impostor: the real agent's id (public) and a forged
        # update of its task, without the credential: refused, and the
        # agent and its task are as they were.
        r = m.post("/api/agent/subscribe", timeout=5, json={
            "agent_id": a.agent_id, "hostname": "h", "ip": "127.0.0.1",
            "port": 1, "resources": "cpus:64;mem:65536", "tasks": []})
        assert r.status_code == 401
        r = m.post("/api/agent/updates", timeout=5, json={
            "agent_id": a.agent_id, "updates": [{
                "task_id": "t1", "framework_id": "launcher",
                "state": "TASK_FINISHED", "seq": 99}]})
        assert r.status_code == 401
        [ag] = m.json("/master/agents")["agents"]
        assert ag["state"] == "active" and ag["resources"]["cpus"] < 64
        [t] = m.json("/master/tasks")["tasks"]
        assert t["state"] == "TASK_RUNNING"
        assert AGENT_SECRET not in a.log() and AGENT_SECRET not in m.log()
    finally:
        a.stop()
        kill_leftovers(a.work_dir)


def test_plugin_routes_authenticate(tmp_path, master_factory):
    """On the master's port under /launcher/ and on the plugin's own."""
    port = free_port()
    m = secured(tmp_path, master_factory, "--authenticate_frameworks",
                plugin_conf="port = %d\n" % port)
    for url in (m.url("/launcher/statuses"),
                "http://127.0.0.1:%d/statuses" % port):
        r = requests.get(url, timeout=10)
        assert r.status_code == 401, url
        assert 'realm="mesos-master-scheduler"' in \
            r.headers["WWW-Authenticate"]
        assert requests.get(url, auth=OPS, timeout=10).status_code == 200
    # The plugin hears who asked (ABI 2.4's req_principal).
    r = requests.get(m.url("/launcher/master"), auth=OPS, timeout=10)
    assert r.json()["principal"] == "ops"
    tok = jwt({"sub": "ci-bot", "exp": time.time() + 60})
    r = requests.get(m.url("/launcher/master"), timeout=10,
                     headers={"Authorization": "Bearer " + tok})
    assert r.json()["principal"] == "ci-bot"
    # The core's own endpoints are not a framework's realm.
    assert requests.get(m.url("/master/state"), timeout=10).status_code == 200


def test_plugin_conf_opts_out(tmp_path, master_factory):
    m = secured(tmp_path, master_factory, "--authenticate_frameworks",
                plugin_conf="authenticate = false\n")
    assert requests.get(m.url("/launcher/statuses"),
                        timeout=10).status_code == 200
    # Not authenticated: no principal, credentials sent or not.
    r = requests.get(m.url("/launcher/master"), auth=OPS, timeout=10)
    assert r.status_code == 200 and "principal" not in r.json()


# ---- authorization: Mesos' ACLs ----

ACLS = {
    "permissive": False,
    "register_frameworks": [{"principals": {"type": "ANY"},
                             "roles": {"type": "ANY"}}],
    "run_tasks": [
        {"principals": {"type": "NONE"}, "users": {"values": ["root"]}},
        {"principals": {"type": "ANY"}, "users": {"type": "ANY"}}],
    "reload_plugins": [{"principals": {"values": ["ops"]}}],
    "get_flags": [{"principals": {"values": ["ops"]}}],
}


def statuses(m, task_id):
    r = requests.get(m.url("/launcher/statuses?task_id=" + task_id),
                     auth=OPS, timeout=10)
    return r.json()


def test_acls(tmp_path, master_factory):
    """run_tasks as root refused for every principal (TASK_ERROR,
    REASON_TASK_UNAUTHORIZED) while other tasks run; reload_plugins and
    get_flags only for ops; nothing else allowed (permissive false)."""
    acls = write(tmp_path / "acls.json", json.dumps(ACLS), mode=0o644)
    m = secured(tmp_path, master_factory, "--acls=" + acls,
                "--authenticate_http_readonly",
                "--authenticate_http_readwrite",
                plugin_conf="principal = launcher-p\n")
    creds = write(tmp_path / "agent.cred", "agent1 %s\n" % AGENT_SECRET)
    a = Agent(tmp_path / "agent", m, args=["--credential=" + creds])
    a.start(wait=False)
    try:
        def agent_id():
            r = requests.get(m.url("/master/agents"), auth=OPS, timeout=10)
            ags = r.json()["agents"]
            return ags[0]["id"] if ags and ags[0]["state"] == "active" \
                else None
        aid = wait_for(agent_id, 10 * SLOW, what="the agent to subscribe")
        r = requests.post(m.url("/launcher/launch"), timeout=10, json={
            "agent_id": aid, "tasks": [
                {"task_id": "as-root", "command": "true", "user": "root",
                 "resources": "cpus:0.1;mem:16"},
                {"task_id": "plain", "command": "exec sleep 60",
                 "resources": "cpus:0.1;mem:16"}]})
        assert r.status_code == 202, r.text
        st = wait_for(lambda: [s for s in statuses(m, "as-root")
                               if s["state"] == "TASK_ERROR"], 10 * SLOW,
                      what="as-root refused")[0]
        assert st["reason"] == "REASON_TASK_UNAUTHORIZED"
        assert "root" in st["message"]
        wait_for(lambda: any(s["state"] == "TASK_RUNNING"
                             for s in statuses(m, "plain")), 15 * SLOW,
                 what="plain RUNNING")
    finally:
        a.stop()
        kill_leftovers(a.work_dir)

    r = requests.post(m.url("/master/reload"), timeout=10,
                      auth=("agent1", AGENT_SECRET))
    assert r.status_code == 403
    assert requests.post(m.url("/master/reload"), auth=OPS,
                         timeout=10).status_code == 202
    for path in ("/master/flags", "/flags"):
        assert requests.get(m.url(path), auth=("agent1", AGENT_SECRET),
                            timeout=10).status_code == 403
        assert requests.get(m.url(path), auth=OPS,
                            timeout=10).status_code == 200
    state = requests.get(m.url("/master/state"), timeout=10,
                         auth=("agent1", AGENT_SECRET)).json()
    assert "flags" not in state
    assert "flags" in requests.get(m.url("/master/state"), auth=OPS,
                                   timeout=10).json()
    r = requests.post(m.url("/api/v1"), auth=("agent1", AGENT_SECRET),
                      json={"type": "GET_FLAGS"}, timeout=10)
    assert r.status_code == 403
    assert "not allowed by the ACLs" in m.log()


def test_acls_refuse_a_framework_role(tmp_path, master_factory):
    acls = json.dumps({"register_frameworks": [
        {"principals": {"type": "NONE"}, "roles": {"values": ["analytics"]}}]})
    m = secured(tmp_path, master_factory, "--acls=" + acls,
                plugin_conf="role = analytics\n")
    assert m.json("/master/frameworks")["frameworks"] == []
    assert "may not register with role analytics" in m.log()


def test_bad_acls_stop_the_start(tmp_path, master_factory):
    m = master_factory(args=['--acls={"run_tasks": [{"users": 3}]}'])
    m.start(wait=False)
    rc = m.proc.wait(10 * SLOW)
    m.proc = None
    assert rc != 0 and "--acls" in m.log()


# ---- Marathon's --http_credentials, in marathon.so's conf ----

def test_marathon_http_credentials(tmp_path, master_factory):
    """marathon-python's username/password work unchanged against a
    marathon.so whose conf has http_credentials; without them, 401; a conf
    holding them that every user may read is refused."""
    from marathon import MarathonClient as PyMarathon
    from marathon.exceptions import MarathonHttpError
    from marathon_fixture import plugin_port

    m = master_factory()
    port = plugin_port(m)
    conf = os.path.join(m.conf_dir, "marathon.conf")
    write(conf, "plugin = marathon.so\nport = %d\nhttp_credentials = "
          "mar:mar-pass-xyz\n" % port)
    m.start()
    url = "http://127.0.0.1:%d" % port
    wait_for(lambda: requests.get(url + "/ping", timeout=5).status_code
             == 401, 10 * SLOW, what="marathon.so to serve")
    r = requests.get(url + "/v2/apps", timeout=10)
    assert r.status_code == 401 and "Basic" in r.headers["WWW-Authenticate"]
    assert requests.get(m.url("/marathon/v2/apps"),
                        timeout=10).status_code == 401
    assert requests.get(url + "/v2/apps", auth=("mar", "nope"),
                        timeout=10).status_code == 401

    client = PyMarathon(url, username="mar", password="mar-pass-xyz")
    assert client.list_apps() == []
    try:
        PyMarathon(url).list_apps()
        raise AssertionError("listed apps without credentials")
    except MarathonHttpError as e:
        assert e.status_code == 401
    assert "mar-pass-xyz" not in m.log()

    # A conf with a secret that every user may read: the reload refuses it.
    os.chmod(conf, 0o644)
    m.sighup()
    wait_for(lambda: "every user may read" in m.log(), 10 * SLOW,
             what="the reload to refuse the conf")
    assert "mar-pass-xyz" not in m.log()


def test_root_needs_an_acl(tmp_path, master_factory):
    """A task as root is refused unless a run_tasks rule allows it for the
    framework's principal: not by default, nor by permissive ACLs."""
    def run_as_root(plugin_conf, *flags):
        d = tmp_path / ("case%d" % len(flags))
        d.mkdir()
        m = secured(d, master_factory, *flags, plugin_conf=plugin_conf)
        a = Agent(tmp_path / ("agent%d" % len(flags)), m)
        a.start()
        try:
            r = requests.post(m.url("/launcher/launch"), timeout=10, json={
                "agent_id": a.agent_id, "tasks": [{
                    "task_id": "r", "command": "exec sleep 60",
                    "user": "root", "resources": "cpus:0.1;mem:16"}]})
            assert r.status_code == 202, r.text
            return wait_for(lambda: [s for s in statuses(m, "r") if s["state"]
                                     in ("TASK_ERROR", "TASK_RUNNING")],
                            15 * SLOW, what="r to start or be refused")[0]
        finally:
            a.stop()
            kill_leftovers(a.work_dir)
            m.stop()

    st = run_as_root("")
    assert (st["state"], st["reason"]) == ("TASK_ERROR",
                                           "REASON_TASK_UNAUTHORIZED")
    assert "root" in st["message"]
    allow = json.dumps({"run_tasks": [{"principals": {"values": ["p1"]},
                                       "users": {"values": ["root"]}}]})
    st = run_as_root("principal = p1\n", "--acls=" + allow)
    assert st["state"] == "TASK_RUNNING", st


def read_record(raw):
    """One "<length>\\n<JSON>" record of a v1 event stream."""
    head = b""
    while not head.endswith(b"\n"):
        c = raw.read(1)
        assert c, "the stream ended"
        head += c
    body = b""
    while len(body) < int(head):
        chunk = raw.read(int(head) - len(body))
        assert chunk, "the stream ended inside a record"
        body += chunk
    return json.loads(body)


def event_task(ev):
    if ev["type"] == "TASK_ADDED":
        return ev["task_added"]["task"]["task_id"]["value"]
    if ev["type"] == "TASK_UPDATED":
        return ev["task_updated"]["task_id"]["value"]
    return None


def test_view_tasks(tmp_path, master_factory):
    """view_tasks (object: the task's user): ops sees every task, agent1
    only nobody's, in /master/tasks, /master/state, /master/frameworks,
    v1 GET_TASKS and the v1 event stream (snapshot and events).
    access_sandboxes: agent1 reads nobody's sandboxes through the master,
    and no other's; nobody else reads any."""
    acls = json.dumps({"view_tasks": [
        {"principals": {"values": ["ops"]}, "users": {"type": "ANY"}},
        {"principals": {"values": ["agent1"]}, "users": {"values": ["nobody"]}},
        {"principals": {"values": ["agent1"]}, "users": {"type": "NONE"}}],
        "access_sandboxes": [
        {"principals": {"values": ["agent1"]}, "users": {"values": ["nobody"]}},
        {"principals": {"type": "ANY"}, "users": {"type": "NONE"}}]})
    m = secured(tmp_path, master_factory, "--acls=" + acls,
                "--authenticate_http_readonly",
                "--authenticate_http_readwrite")  # /api/v1 is read-write
    creds = write(tmp_path / "agent.cred", "agent1 %s\n" % AGENT_SECRET)
    a = Agent(tmp_path / "agent", m, args=["--credential=" + creds])
    a.start(wait=False)
    viewer = ("agent1", AGENT_SECRET)

    def agent_id():
        ags = requests.get(m.url("/master/agents"), auth=OPS,
                           timeout=10).json()["agents"]
        return ags[0]["id"] if ags and ags[0]["state"] == "active" else None
    aid = wait_for(agent_id, 10 * SLOW, what="the agent to subscribe")

    def subscribe():
        r = requests.post(m.url("/api/v1"), auth=viewer, stream=True,
                          json={"type": "SUBSCRIBE"}, timeout=10 * SLOW)
        assert r.status_code == 200, r.text
        return r

    def launch(*users, suffix=""):
        r = requests.post(m.url("/launcher/launch"), timeout=10, json={
            "agent_id": aid, "tasks": [
                {"task_id": "v-%s%s" % (u or "none", suffix),
                 "command": "exec sleep 60", "resources": "cpus:0.1;mem:16",
                 **({"user": u} if u else {})} for u in users]})
        assert r.status_code == 202, r.text

    def ids(who, path="/master/tasks", state=None):
        r = requests.get(m.url(path), auth=who, timeout=10)
        assert r.status_code == 200, r.text
        return sorted(t["id"] for t in r.json()["tasks"]
                      if state is None or t["state"] == state)
    early = subscribe()
    try:
        launch("nobody", "daemon", None)
        everyone = ["v-daemon", "v-nobody", "v-none"]
        wait_for(lambda: ids(OPS, state="TASK_RUNNING") == everyone,
                 10 * SLOW, what="three tasks running")
        assert ids(viewer) == ["v-nobody"]
        for path in ("/master/state", "/master/frameworks"):
            for who, want in ((OPS, 3), (viewer, 1)):
                doc = requests.get(m.url(path), auth=who, timeout=10).json()
                n = sum(len(f["tasks"]) for f in doc["frameworks"])
                assert n == want, (path, who[0], n)
        for who, want in ((OPS, 3), (viewer, 1)):
            r = requests.post(m.url("/api/v1"), auth=who, timeout=10,
                              json={"type": "GET_TASKS"})
            assert len(r.json()["get_tasks"]["tasks"]) == want, who[0]
        files = "/agents/%s/files/read" % aid
        for who, path, want in (
                (viewer, "/sandboxes/v-nobody/stdout", 200),
                (viewer, "/sandboxes/v-daemon/stdout", 403),
                (viewer, "/sandboxes/v-nobody/../v-daemon/stdout", 403),
                (viewer, "/sandboxes", 403),
                (OPS, "/sandboxes/v-nobody/stdout", 403)):
            r = requests.get(m.url(files), auth=who, timeout=10,
                             params={"path": path, "offset": 0})
            assert r.status_code == want, (who[0], path, r.text)
        # A subscription now: its snapshot holds nobody's task only.
        late = subscribe()
        snap = read_record(late.raw)
        late.close()
        assert [t["task_id"]["value"] for t in
                snap["subscribed"]["get_state"]["get_tasks"]["tasks"]] == \
            ["v-nobody"]
        # The early stream: every event of the three came before those of
        # a task launched after they ran, and only nobody's passed.
        launch("nobody", suffix="2")
        seen = set()
        while "v-nobody2" not in seen:
            t = event_task(read_record(early.raw))
            if t:
                seen.add(t)
        assert seen == {"v-nobody", "v-nobody2"}
    finally:
        early.close()
        a.stop()
        kill_leftovers(a.work_dir)


def test_teardown(tmp_path, master_factory):
    """Mesos' teardown of a framework (a plugin here), under the teardown
    ACL (object: the framework's principal): its tasks are killed and its
    plugin unloaded until the operator's next reload."""
    acls = json.dumps({"teardown": [
        {"principals": {"values": ["ops"]},
         "framework_principals": {"values": ["launcher-p"]}},
        {"principals": {"type": "ANY"},
         "framework_principals": {"type": "NONE"}}]})
    m = secured(tmp_path, master_factory, "--acls=" + acls,
                "--authenticate_http_readwrite",
                plugin_conf="principal = launcher-p\n")
    a = Agent(tmp_path / "agent", m).start()
    try:
        r = requests.post(m.url("/launcher/launch"), timeout=10, json={
            "agent_id": a.agent_id, "tasks": [{
                "task_id": "td", "command": "exec sleep 60",
                "resources": "cpus:0.1;mem:16"}]})
        assert r.status_code == 202, r.text
        wait_for(lambda: any(s["state"] == "TASK_RUNNING" for s in
                             m.json("/launcher/statuses?task_id=td")),
                 15 * SLOW, what="td RUNNING")
        [fw] = m.json("/master/frameworks")["frameworks"]
        url = m.url("/master/teardown")
        r = requests.post(url, data="frameworkId=" + fw["id"], timeout=10,
                          auth=("agent1", AGENT_SECRET))
        assert r.status_code == 403
        r = requests.post(m.url("/api/v1"), auth=OPS, timeout=10, json={
            "type": "TEARDOWN", "teardown": {"framework_id": {"value": "x"}}})
        assert r.status_code == 400 and "No framework" in r.text
        r = requests.post(url, data="frameworkId=" + fw["id"], timeout=10,
                          auth=OPS)
        assert r.status_code == 200, r.text
        wait_for(lambda: m.json("/master/tasks")["tasks"][0]["state"] ==
                 "TASK_KILLED", 15 * SLOW, what="td killed")
        wait_for(lambda: m.get("/launcher/statuses").status_code == 404,
                 10 * SLOW, what="the plugin unloaded")
        assert m.json("/master/frameworks")["frameworks"] == []
        assert "torn down" in m.log()
        # The operator's reload loads it again.
        assert requests.post(m.url("/master/reload"), auth=OPS,
                             timeout=10).status_code == 202
        wait_for(lambda: m.get("/launcher/statuses").status_code == 200,
                 10 * SLOW, what="the plugin back")
    finally:
        a.stop()
        kill_leftovers(a.work_dir)
