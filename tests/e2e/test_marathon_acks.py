"""
Acknowledgements marathon.so gives while an agent's updates POST is
applied: a real master with marathon.so, and an agent played by this test
over the agent protocol (subscribe stream, updates POST) so that the
stream's events can be read one by one.

marathon.so acknowledges a RUNNING update that changes nothing it stores
at once, inside the update's delivery. Such acknowledgements join the ack
event the master writes for the POST (one stream write a POST, not one an
update); one acknowledged after its store write still comes alone.
"""
import json
import socket
import time
import uuid

from conftest import SLOW, wait_for
from marathon_fixture import MarathonClient, plugin_port, write_marathon_conf


class FakeAgent:
    """An agent's subscribe stream, read event by event."""

    def __init__(self, master, agent_id):
        self.master, self.agent_id = master, agent_id
        body = json.dumps({
            "agent_id": agent_id, "hostname": "h-" + agent_id,
            "ip": "127.0.0.1", "port": 1, "version": "test", "tasks": [],
            "resources": "cpus:4;mem:4096;disk:1000;ports:[31000-31100]"}).encode()
        self.s = socket.create_connection(("127.0.0.1", master.port),
                                          timeout=10 * SLOW)
        self.s.sendall(b"POST /api/agent/subscribe HTTP/1.1\r\nHost: x\r\n"
                       b"Content-Type: application/json\r\n"
                       b"Content-Length: %d\r\n\r\n" % len(body) + body)
        self.raw = b""
        while b"\r\n\r\n" not in self.raw:
            self.recv()
        head, _, self.raw = self.raw.partition(b"\r\n\r\n")
        assert head.split(b" ", 2)[1] == b"200", head
        assert b"chunked" in head.lower(), head
        self.text = b""
        sub = self.next_event()
        assert sub["type"] == "subscribed", sub
        self.session = sub["session"]

    def recv(self):
        chunk = self.s.recv(65536)
        assert chunk, "the master closed the stream"
        self.raw += chunk

    def next_event(self):
        """The next line of the stream, decoded (chunked framing undone)."""
        while b"\n" not in self.text:
            while b"\r\n" not in self.raw:
                self.recv()
            size_line, _, rest = self.raw.partition(b"\r\n")
            size = int(size_line.split(b";")[0], 16)
            while len(rest) < size + 2:
                self.recv()
                rest = self.raw.partition(b"\r\n")[2]
            self.text += rest[:size]
            self.raw = rest[size + 2:]
        line, _, self.text = self.text.partition(b"\n")
        return json.loads(line) if line.strip() else self.next_event()

    def event_of(self, kind):
        while True:
            ev = self.next_event()
            if ev.get("type") == kind:
                return ev

    def post_updates(self, updates):
        r = self.master.post("/api/agent/updates", json={
            "agent_id": self.agent_id, "session": self.session,
            "updates": updates})
        assert r.status_code == 202, r.text

    def close(self):
        self.s.close()


def update(launch, state, seq):
    return {"uuid": str(uuid.uuid4()), "task_id": launch["task"]["task_id"],
            "framework_id": launch["framework_id"], "state": state,
            "timestamp": time.time(), "seq": seq}


def marathon_and_agent(master_factory, agent_id):
    """A master with marathon.so, its client, and a FakeAgent of it."""
    m = master_factory()
    port = plugin_port(m)
    write_marathon_conf(m, port)
    m.start()
    mar = MarathonClient(port)
    mar.wait_ready()
    return m, mar, FakeAgent(m, agent_id)


def post_app(mar, app_id, instances):
    r = mar.post("/v2/apps", json={"id": app_id, "cmd": "sleep 1000",
                                   "cpus": 0.1, "mem": 32,
                                   "instances": instances})
    assert r.status_code == 201, r.text


def test_acks_given_during_the_post_join_its_ack_event(master_factory):
    m, mar, a = marathon_and_agent(master_factory, "fake-acks-1")
    try:
        post_app(mar, "/acks", 2)
        launches = [a.event_of("launch"), a.event_of("launch")]
        # Both RUNNING in one POST: marathon.so acknowledges each at once
        # (nothing it stores changes), so the POST's one ack event holds
        # both, and no ack event of its own follows for either.
        ups = [update(l, "TASK_RUNNING", 1) for l in launches]
        a.post_updates(ups)
        ack = a.event_of("ack")
        assert sorted(u["uuid"] for u in ack["updates"]) == \
            sorted(u["uuid"] for u in ups), ack
        assert sorted(u["task_id"] for u in ack["updates"]) == \
            sorted(l["task"]["task_id"] for l in launches), ack
        wait_for(lambda: mar.get("/v2/apps/acks").json()["app"]
                 ["tasksRunning"] == 2, what="both instances running")
        # A terminal update is stored first: its acknowledgement comes in
        # the store write's completion, as an ack event of its own after
        # the POST's (which is then empty).
        fin = update(launches[0], "TASK_FAILED", 2)
        a.post_updates([fin])
        acks = [a.event_of("ack")]
        while fin["uuid"] not in [u["uuid"] for u in acks[-1]["updates"]]:
            acks.append(a.event_of("ack"))
        assert acks[0]["updates"] == [] and len(acks) == 2, acks
    finally:
        a.close()


def post_raw(master, body):
    """POST /api/agent/updates with body as it is (bytes)."""
    return master.post("/api/agent/updates", data=body,
                       headers={"Content-Type": "application/json"})


def test_updates_body_refusals_and_members(master_factory):
    """The updates body is read without a tree (core/agent_update.c): what
    the tree refused is refused with a 400 and a JSON message, nothing of
    the agent's lost; a body read as the tree's getters read it (the first
    of a key given twice, unknown members skipped, an element that is not
    an object dropped, the addresses of container_status) is applied."""
    m, mar, a = marathon_and_agent(master_factory, "fake-body-1")
    try:
        post_app(mar, "/body", 1)
        launch = a.event_of("launch")
        head = '{"agent_id": "%s", "session": "%s", "updates": ' % (
            a.agent_id, a.session)
        for body, reason in [
                (head + "[", "invalid JSON: parse error: premature EOF"),
                (head + "[]} x", "invalid JSON: parse error: trailing garbage"),
                (head + '[{"task_id": "\\udc00"}]}',
                 "invalid JSON: a lone UTF-16 surrogate (\\udc00) in a string"),
                (head + "[" * 600 + "]" * 600 + "}",
                 "invalid JSON: nested deeper than 512 levels"),
                ("", "invalid JSON: parse error: premature EOF")]:
            r = post_raw(m, body.encode())
            assert r.status_code == 400, (body[:80], r.status_code, r.text)
            assert r.json()["message"] == reason, r.text
        r = post_raw(m, b'{"updates": [], "session": "%s"}' %
                     a.session.encode())
        assert r.status_code == 409, r.text
        assert "not subscribed" in r.json()["message"], r.text

        up = update(launch, "TASK_RUNNING", 1)
        body = head + json.dumps([
            7, None,
            {"ignored": {"deep": [[{"uuid": "no"}]]}, "uuid": up["uuid"],
             "task_id": up["task_id"], "framework_id": up["framework_id"],
             "state": "TASK_RUNNING", "state": "TASK_FAILED",
             "timestamp": up["timestamp"], "seq": 1.0,
             "container_status": {"network_infos": [
                 {"ip_addresses": [{"ip_address": "not an address"},
                                   {"ip_address": "10.1.2.3"}]}],
                 "executor_pid": 4321},
             "health_output": None}]) + "}"
        # json.dumps keeps only the last of a key given twice: the first
        # is put back by hand.
        body = body.replace('"state": "TASK_FAILED"',
                            '"state": "TASK_RUNNING", "state": "TASK_FAILED"')
        assert body.count('"state"') == 2
        r = post_raw(m, body.encode())
        assert r.status_code == 202, r.text
        ack = a.event_of("ack")
        assert [u["uuid"] for u in ack["updates"]] == [up["uuid"]], ack
        wait_for(lambda: mar.get("/v2/apps/body").json()["app"]
                 ["tasksRunning"] == 1, what="the instance running")
        task = mar.get("/v2/apps/body/tasks").json()["tasks"][0]
        assert task["ipAddresses"] == [{"ipAddress": "10.1.2.3",
                                        "protocol": "IPv4"}], task
    finally:
        a.close()
