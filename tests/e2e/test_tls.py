"""HTTPS on the master's port, its plugins' ports and the agent's API
(libmicrohttpd's TLS, GnuTLS): --ssl_cert_file, --ssl_key_file,
--ssl_ca_file, --ssl_require_client_cert (issue 17). Certificates are
made here with Debian's openssl: a test CA, a server certificate for
127.0.0.1 and a client certificate.
"""
import os
import subprocess
import time

import pytest
import requests

from conftest import SLOW, TEST_PLUGINS, Agent, free_port, kill_leftovers


def openssl(*args, cwd):
    subprocess.run(["openssl"] + list(args), cwd=cwd, check=True,
                   capture_output=True, timeout=60)


@pytest.fixture(scope="module")
def pki(tmp_path_factory):
    """ca.pem, server.pem/server.key (CN and SAN 127.0.0.1), client.pem/
    client.key, all signed by the CA; keys mode 600."""
    d = str(tmp_path_factory.mktemp("pki"))
    openssl("req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2",
            "-subj", "/CN=agora test CA", "-keyout", "ca.key", "-out",
            "ca.pem", cwd=d)
    for name, ext in (("server", "subjectAltName=IP:127.0.0.1"),
                      ("client", "extendedKeyUsage=clientAuth")):
        openssl("req", "-newkey", "rsa:2048", "-nodes", "-subj",
                "/CN=127.0.0.1" if name == "server" else "/CN=ops",
                "-keyout", name + ".key", "-out", name + ".csr", cwd=d)
        with open(os.path.join(d, name + ".ext"), "w") as f:
            f.write(ext + "\n")
        openssl("x509", "-req", "-in", name + ".csr", "-CA", "ca.pem",
                "-CAkey", "ca.key", "-CAcreateserial", "-days", "2",
                "-extfile", name + ".ext", "-out", name + ".pem", cwd=d)
        os.chmod(os.path.join(d, name + ".key"), 0o600)
    return d


def tls_args(pki, *extra):
    return ["--ssl_cert_file=" + os.path.join(pki, "server.pem"),
            "--ssl_key_file=" + os.path.join(pki, "server.key")] + list(extra)


def wait_https(url, ca, cert=None, timeout=10.0):
    end = time.monotonic() + timeout * SLOW
    while True:
        try:
            return requests.get(url, verify=ca, cert=cert, timeout=2)
        except requests.RequestException:
            if time.monotonic() > end:
                raise
            time.sleep(0.05)


def test_master_and_plugin_ports_serve_https(pki, master_factory):
    ca = os.path.join(pki, "ca.pem")
    m = master_factory(args=tls_args(pki))
    port = free_port()
    with open(os.path.join(m.conf_dir, "launcher.conf"), "w") as f:
        f.write("plugin = %s\nport = %d\n"
                % (os.path.join(TEST_PLUGINS, "launcher.so"), port))
    m.start(wait=False)
    r = wait_https("https://127.0.0.1:%d/health" % m.port, ca)
    assert r.status_code == 200 and r.text == "ok"
    r = requests.get("https://127.0.0.1:%d/master/state" % m.port,
                     verify=ca, timeout=10)
    assert r.status_code == 200 and r.json()["flags"]["port"]
    r = wait_https("https://127.0.0.1:%d/statuses" % port, ca)
    assert r.status_code == 200
    # Plain HTTP to a TLS port is refused; a client that does not trust
    # the CA refuses the master.
    with pytest.raises(requests.RequestException):
        requests.get("http://127.0.0.1:%d/health" % m.port, timeout=5)
    with pytest.raises(requests.exceptions.SSLError):
        requests.get("https://127.0.0.1:%d/health" % m.port, timeout=5)
    m.stop()


def test_mutual_tls(pki, master_factory):
    ca = os.path.join(pki, "ca.pem")
    client = (os.path.join(pki, "client.pem"), os.path.join(pki, "client.key"))
    m = master_factory(args=tls_args(pki, "--ssl_ca_file=" + ca,
                                     "--ssl_require_client_cert"))
    m.start(wait=False)
    r = wait_https("https://127.0.0.1:%d/health" % m.port, ca, cert=client)
    assert r.status_code == 200
    r = requests.get("https://127.0.0.1:%d/master/state" % m.port,
                     verify=ca, timeout=10)
    assert r.status_code == 403
    assert "client certificate" in r.json()["message"]
    m.stop()


def test_agent_api_serves_https(pki, tmp_path, master_factory):
    """The agent's API over HTTPS only; the master's UI proxy reaches its
    files by https (the agent says so when it subscribes), trusting the
    master's --ssl_ca_file."""
    ca = os.path.join(pki, "ca.pem")
    m = master_factory(args=["--ssl_ca_file=" + ca])
    with open(os.path.join(m.conf_dir, "launcher.conf"), "w") as f:
        f.write("plugin = %s\n" % os.path.join(TEST_PLUGINS, "launcher.so"))
    m.start()
    a = Agent(tmp_path / "agent", m, args=tls_args(pki))
    a.start(wait=False)
    try:
        r = wait_https("https://127.0.0.1:%d/state" % a.port, ca)
        assert r.status_code == 200 and r.json()["id"]
        with pytest.raises(requests.RequestException):
            requests.get("http://127.0.0.1:%d/state" % a.port, timeout=5)
        aid = r.json()["id"]
        end = time.monotonic() + 15 * SLOW
        while not m.json("/master/agents")["agents"]:
            assert time.monotonic() < end, "the agent did not subscribe"
            time.sleep(0.1)
        r = m.post("/launcher/launch", json={"agent_id": aid, "tasks": [{
            "task_id": "tls-ui", "command": "echo via-https; sleep 60",
            "resources": "cpus:0.1;mem:16"}]})
        assert r.status_code == 202, r.text
        url = "/agents/%s/files/read" % aid
        params = {"path": "/sandboxes/tls-ui/stdout", "offset": 0}
        end = time.monotonic() + 15 * SLOW
        while True:
            r = m.get(url, params=params)
            if r.status_code == 200 and r.json()["data"]:
                break
            assert time.monotonic() < end, (r.status_code, r.text)
            time.sleep(0.1)
        assert r.json()["data"] == "via-https\n"
    finally:
        a.stop()
        kill_leftovers(a.work_dir)


def test_key_every_user_may_read_is_refused(pki, tmp_path, master_factory):
    key = tmp_path / "open.key"
    with open(os.path.join(pki, "server.key")) as f:
        key.write_text(f.read())
    os.chmod(key, 0o644)
    m = master_factory(args=["--ssl_cert_file=" +
                             os.path.join(pki, "server.pem"),
                             "--ssl_key_file=" + str(key)])
    m.start(wait=False)
    rc = m.proc.wait(10 * SLOW)
    m.proc = None
    assert rc != 0 and "every user may read" in m.log()


def test_agent_subscribes_over_mutual_tls(pki, tmp_path, master_factory):
    """An agent with --master=https://... and the CA follows a master that
    serves HTTPS only and asks for client certificates: it subscribes
    with its own certificate, and its task's updates arrive (the updates
    go over TLS too)."""
    ca = os.path.join(pki, "ca.pem")
    client = (os.path.join(pki, "client.pem"), os.path.join(pki, "client.key"))
    creds = tmp_path / "credentials"
    creds.write_text("agent agent-secret-e2e\n")
    os.chmod(creds, 0o600)
    cred = tmp_path / "agent.credential"
    cred.write_text("agent agent-secret-e2e\n")
    os.chmod(cred, 0o600)
    m = master_factory(args=tls_args(pki, "--ssl_ca_file=" + ca,
                                     "--ssl_require_client_cert",
                                     "--credentials=%s" % creds,
                                     "--authenticate_agents"))
    with open(os.path.join(m.conf_dir, "launcher.conf"), "w") as f:
        f.write("plugin = %s\n" % os.path.join(TEST_PLUGINS, "launcher.so"))
    m.start(wait=False)
    base = "https://127.0.0.1:%d" % m.port
    wait_https(base + "/health", ca, cert=client)

    def get(path):
        return requests.get(base + path, verify=ca, cert=client, timeout=10)

    # Without its certificate the agent is refused; with it, it joins.
    bare = Agent(tmp_path / "bare", "https://127.0.0.1:%d" % m.port,
                 args=["--ssl_ca_file=" + ca])
    bare.start(wait=False)
    # With its certificate and without its credential: refused too.
    nocred = Agent(tmp_path / "nocred", "https://127.0.0.1:%d" % m.port,
                   args=["--ssl_ca_file=" + ca,
                         "--ssl_cert_file=" + client[0],
                         "--ssl_key_file=" + client[1]])
    nocred.start(wait=False)
    a = Agent(tmp_path / "agent", "https://127.0.0.1:%d" % m.port,
              args=["--ssl_ca_file=" + ca,
                    "--ssl_cert_file=" + client[0],
                    "--ssl_key_file=" + client[1],
                    "--credential=%s" % cred])
    a.start(wait=False)
    try:
        end = time.monotonic() + 15 * SLOW
        while time.monotonic() < end:
            ags = get("/master/agents").json()["agents"]
            if ags and ags[0]["state"] == "active":
                break
            time.sleep(0.1)
        # One agent: the one with the certificate (its own API serves
        # HTTPS with it too).
        [ag] = get("/master/agents").json()["agents"]
        assert ag["state"] == "active"
        assert "HTTP 403" in bare.log()
        assert "HTTP 401" in nocred.log()
        r = requests.post(base + "/launcher/launch", verify=ca, cert=client,
                          timeout=10, json={"agent_id": ag["id"], "tasks": [{
                              "task_id": "t1", "command": "exec sleep 60",
                              "resources": "cpus:0.1;mem:16"}]})
        assert r.status_code == 202, r.text
        end = time.monotonic() + 15 * SLOW
        while time.monotonic() < end:
            states = [s["state"] for s in
                      get("/launcher/statuses?task_id=t1").json()]
            if "TASK_RUNNING" in states:
                break
            time.sleep(0.1)
        assert "TASK_RUNNING" in states, states
    finally:
        for x in (a, bare, nocred):
            x.stop()
            kill_leftovers(x.work_dir)


def test_three_masters_failover_with_tls_and_auth(pki, tmp_path,
                                                  master_factory):
    """Issue 17: three masters in ZooKeeper serving HTTPS only, agents
    and read-write calls authenticated. Agents find the leader through
    ZooKeeper (its data says https), follow it over TLS with their
    credential through two failovers, and their tasks keep running and
    reporting."""
    from test_ha import ZooKeeper, ha_args
    ca = os.path.join(pki, "ca.pem")
    creds = tmp_path / "credentials"
    creds.write_text("ops ops-secret-e2e\nagent agent-secret-e2e\n")
    os.chmod(creds, 0o600)
    cred = tmp_path / "agent.credential"
    cred.write_text("agent agent-secret-e2e\n")
    os.chmod(cred, 0o600)
    ops = ("ops", "ops-secret-e2e")
    zk = ZooKeeper(tmp_path / "zk").start()
    masters, agents = [], []
    try:
        for _ in range(3):
            m = master_factory(args=ha_args(zk) + tls_args(
                pki, "--ssl_ca_file=" + ca, "--credentials=%s" % creds,
                "--authenticate_agents", "--authenticate_http_readwrite"))
            with open(os.path.join(m.conf_dir, "launcher.conf"), "w") as f:
                f.write("plugin = %s\n" % os.path.join(TEST_PLUGINS,
                                                      "launcher.so"))
            m.start(wait=False)
            wait_https("https://127.0.0.1:%d/health" % m.port, ca)
            masters.append(m)

        def get(m, path):
            return requests.get("https://127.0.0.1:%d%s" % (m.port, path),
                                verify=ca, timeout=10)

        def leader():
            end = time.monotonic() + 20 * SLOW
            while time.monotonic() < end:
                alive = [m for m in masters if m.proc is not None]
                try:
                    lead = [m for m in alive
                            if get(m, "/master/state").json()["elected"]]
                except requests.RequestException:
                    lead = []
                if len(lead) == 1:
                    return lead[0]
                time.sleep(0.1)
            raise AssertionError("no single leader")

        def active_agents(m, n):
            end = time.monotonic() + 30 * SLOW
            while time.monotonic() < end:
                try:
                    ags = get(m, "/master/agents").json()["agents"]
                except requests.RequestException:
                    ags = []
                if sum(a["state"] == "active" for a in ags) == n:
                    return ags
                time.sleep(0.1)
            raise AssertionError("agents did not follow the leader")

        lead = leader()
        # A standby redirects with the scheme the leader serves.
        standby = next(m for m in masters if m is not lead)
        r = requests.get("https://127.0.0.1:%d/redirect" % standby.port,
                         verify=ca, timeout=10, allow_redirects=False)
        assert r.headers["Location"].startswith("https://"), r.headers
        bare = Agent(tmp_path / "bare", zk.url(),
                     args=["--ssl_ca_file=" + ca])
        bare.start(wait=False)
        agents.append(bare)
        for i in range(2):
            agents.append(Agent(tmp_path / ("a%d" % i), zk.url(),
                                args=["--ssl_ca_file=" + ca,
                                      "--credential=%s" % cred]).start(
                                          wait=False))
        ags = active_agents(lead, 2)
        launch = "https://127.0.0.1:%d/launcher/launch" % lead.port
        # Read-write calls need the credential (the launch is a plugin
        # route: frameworks are not authenticated here).
        assert requests.post("https://127.0.0.1:%d/master/reload" % lead.port,
                             verify=ca, timeout=10).status_code == 401
        for i, ag in enumerate(ags):
            r = requests.post(launch, verify=ca, auth=ops, timeout=10,
                              json={"agent_id": ag["id"], "tasks": [{
                                  "task_id": "tls%d" % i,
                                  "command": "while [ ! -f done ]; do "
                                             "sleep 0.05; done; exit 3",
                                  "resources": "cpus:0.1;mem:16"}]})
            assert r.status_code == 202, r.text

        def pids():
            out = {}
            for a in agents[1:]:
                for t in a.state()["tasks"]:
                    if t["state"] == "TASK_RUNNING":
                        out[t["id"]] = t["pid"]
            return out
        end = time.monotonic() + 20 * SLOW
        while len(pids()) < 2 and time.monotonic() < end:
            time.sleep(0.1)
        before = pids()
        assert len(before) == 2
        for _ in range(2):
            lead.kill9()
            new = leader()
            assert new is not lead
            lead.start(wait=False)  # back as a standby
            lead = new
            active_agents(lead, 2)
            assert pids() == before
        # The agent without a credential never joined any leader.
        assert "HTTP 401" in bare.log()
        # An exit after the failovers reaches the leader's plugin.
        a = agents[1]
        tid = next(t["id"] for t in a.state()["tasks"])
        open(os.path.join(a.work_dir, "sandboxes", tid, "done"), "w").close()
        end = time.monotonic() + 20 * SLOW
        while time.monotonic() < end:
            sts = get(lead, "/launcher/statuses?task_id=" + tid).json()
            if any(s["state"] == "TASK_FAILED" for s in sts):
                break
            time.sleep(0.1)
        else:
            raise AssertionError("TASK_FAILED of %s not reported" % tid)
    finally:
        for a in agents:
            if a.alive():
                a.stop()
            kill_leftovers(a.work_dir)
        for m in masters:
            if m.proc is not None:
                m.stop()
        zk.stop()
