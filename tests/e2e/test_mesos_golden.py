"""Golden tests of the master's Mesos HTTP API (issue 19): Mesos' own
documented sample responses, compared key by key with agora's answers on
a live master with a real agent running real tasks.

The samples are in fixtures/mesos_docs/ (where each comes from: its
README.md). A sample gives a set of key paths, not values: every path in
it must be in agora's answer with the same JSON type (number, string,
bool, object, array). Objects are compared by key; an array by the
sample's element, applied to every element agora returns (the element of
the same "type" where the sample holds several kinds, as resources do).
agora may write more keys. An array the sample fills and agora leaves
empty is a difference too: nothing of it would have been compared.

Paths the sample has and agora does not write are listed below, each with
its reason, never skipped silently: EXCEPTIONS for what agora does not
have (optional in Mesos' protobufs) and for the samples' own errors
against those protobufs, PENDING_LEAD for what agora should write but
does not yet, in files another change is editing. An entry that
matches nothing, or a pending one that agora now answers, is reported
too, so neither list outlives its reason.
"""
import fnmatch
import json
import os
import signal
import time

import pytest
import requests

from conftest import (SLOW, Agent, Launcher, RecordIO, TEST_PLUGINS,
                      kill_leftovers)

FIXTURES = os.path.join(os.path.dirname(__file__), "fixtures", "mesos_docs")

# Paths of Mesos' samples that describe things agora has none of. A path
# is "<sample>:<key path>" with "[]" for an array's element; globs match.
EXCEPTIONS = {
    # Executors: tasks run under agora's per-task shim, not under a
    # framework's executor, so there is none to list or to name.
    "GET_EXECUTORS:get_executors.executors[]":
        "no executors: tasks run under agora's shim (ExecutorInfo)",
    "*:get_state.get_executors.executors[]":
        "no executors: tasks run under agora's shim (ExecutorInfo)",
    "*.executor_id":
        "optional in Task and TaskStatus (and no field of TaskUpdated in "
        "master.proto): agora's tasks have no executor",
    # Mesos' build facts agora's build does not have.
    "v0_state:git_sha": "optional: Mesos writes it only for a git build",
    "v0_state:git_branch": "optional: Mesos writes it only for a git build",
    "v0_state:git_tag": "optional: Mesos writes it only for a git build",
    "v0_state:cluster": "optional: Mesos writes it only with --cluster",
    "v0_state:log_dir": "optional: Mesos writes it only with --log_dir",
    "v0_state:external_log_file":
        "optional: Mesos writes it only with --external_log_file",
    # Flags are the master's own: agora's set differs from Mesos' (its
    # values are strings, as Mesos', which the flags check below asserts).
    "v0_state:flags.*": "the flag names are Mesos' own, not agora's",
    "GET_QUOTA:get_quota.status.configs[].limits.*":
        "agora's quota is a guarantee only (a role may use more when "
        "free): it sets no limits, and writes limits empty",
    # The sample's own errors, against master.proto / mesos.proto.
    "TASK_ADDED:task_added.task.command":
        "not a field of Task (mesos.proto): the sample shows TaskInfo's "
        "command, which Mesos' master does not write in TASK_ADDED",
    "GET_QUOTA:get_quota.status.infos":
        "the sample nests configs in infos; QuotaStatus (master.proto) has "
        "them side by side: the sample's config is held against "
        "status.configs below (infos is QuotaInfo, deprecated, and agora "
        "writes it too)",
}

# Paths agora should write but does not yet: in files the lead is editing
# (core/master_api_v1.c, core/master_api_v1_stream.c), or needing more
# than a writer (the task table, the allocator's v1 roles, the framework
# registry); each reason names where. Remove an entry once agora writes
# it: the test says when one is answered.
PENDING_LEAD = {
    # Empty: every difference found has been mended.
}


def load(name):
    with open(os.path.join(FIXTURES, name + ".json")) as f:
        return json.load(f)


def jtype(v):
    if isinstance(v, bool):
        return "bool"
    if isinstance(v, (int, float)):
        return "number"
    if isinstance(v, str):
        return "string"
    if isinstance(v, dict):
        return "object"
    if isinstance(v, list):
        return "array"
    return "null"


def pick(sample, el):
    """The sample's element to hold agora's element el against: the one
    of the same "type" (a SCALAR resource against a SCALAR one), else
    the first."""
    if isinstance(el, dict) and "type" in el:
        for s in sample:
            if isinstance(s, dict) and s.get("type") == el["type"]:
                return s
    return sample[0]


class Golden:
    """Compares answers with samples and gathers every difference."""

    def __init__(self):
        self.diffs = []
        self.used = set()
        self.pending_hit = set()

    def listed(self, name, path):
        full = "%s:%s" % (name, path)
        for table in (EXCEPTIONS, PENDING_LEAD):
            for pat in table:
                if fnmatch.fnmatchcase(full, pat):
                    self.used.add(pat)
                    return pat
        return None

    def compare(self, name, sample, got, path=""):
        pat = self.listed(name, path) if path else None
        if pat is not None:
            if pat in PENDING_LEAD and self.agrees(sample, got):
                self.pending_hit.add(pat)
            return
        if jtype(got) != jtype(sample):
            self.diffs.append("%s:%s: %s in the sample, %s in agora's"
                              % (name, path, jtype(sample), jtype(got)))
            return
        if isinstance(sample, dict):
            for k, v in sample.items():
                p = "%s.%s" % (path, k) if path else k
                if k not in got:
                    if self.listed(name, p) is None:
                        self.diffs.append("%s:%s: missing" % (name, p))
                    continue
                self.compare(name, v, got[k], p)
        elif isinstance(sample, list) and sample:
            p = path + "[]"
            if not got:
                if self.listed(name, p) is None:
                    self.diffs.append("%s:%s: agora's is empty, the "
                                      "sample's is not" % (name, p))
                return
            for el in got:
                self.compare(name, pick(sample, el), el, p)

    @staticmethod
    def agrees(sample, got):
        """Whether got has sample's shape, exceptions aside (a pending
        entry that agora now answers)."""
        g = Golden()
        g.compare("", sample, got, "")
        return got is not None and not g.diffs

    def check(self, name, got):
        self.compare(name, load(name), got)

    def missing_sample(self, name):
        """A sample agora sent nothing for (an event never seen)."""
        if self.listed(name, "") is None and name not in PENDING_LEAD:
            self.diffs.append("%s: agora sent none" % name)
        else:
            self.used.add(name)

    def report(self, names):
        """Fails with every difference, and with every listed path of the
        samples compared (names) that matched nothing."""
        out = list(self.diffs)
        checked = set(p for p in list(EXCEPTIONS) + list(PENDING_LEAD)
                      if p.split(":")[0] in names or
                      (p.startswith("*") and "GET_STATE" in names))
        for pat in sorted(checked - self.used):
            out.append("listed but matching nothing: %s" % pat)
        for pat in sorted(self.pending_hit):
            out.append("PENDING_LEAD entry agora now answers: %s" % pat)
        assert not out, "\n".join(["%d difference(s) with Mesos' docs:"
                                   % len(out)] + out)


# ---- the live cluster ----

@pytest.fixture
def golden_cluster(tmp_path, master_factory):
    """A master whose launcher framework has a role, a principal, a weight
    and a quota (so every list of the samples has something in it), one
    agent, one task running and one killed."""
    m = master_factory(args=["--agent_ping_timeout=0.5secs",
                             "--max_agent_ping_timeouts=4",
                             "--event_keepalive=1secs",
                             "--weights=golden=2",
                             "--quota=golden:cpus=1;mem=64"])
    write_launcher_conf(m)
    m.start()
    agents = []

    def agent():
        a = Agent(tmp_path / ("agent%d" % len(agents)), m).start()
        agents.append(a)
        return a

    launcher = Launcher(m)
    a = agent()
    for tid in ("t0", "t1"):
        launcher.launch(a.agent_id, sleeper(tid))
    for tid in ("t0", "t1"):
        launcher.wait_state(tid, "TASK_RUNNING", timeout=15 * SLOW)
    launcher.kill("t1")
    launcher.wait_state("t1", "TASK_KILLED", timeout=10 * SLOW)
    yield m, launcher, a, agent
    for x in agents:
        if x.alive():
            x.stop()
        kill_leftovers(x.work_dir)


def write_launcher_conf(m):
    with open(os.path.join(m.conf_dir, "launcher.conf"), "w") as f:
        f.write("plugin = %s\nrole = golden\nprincipal = golden-principal\n"
                % os.path.join(TEST_PLUGINS, "launcher.so"))


def sleeper(task_id):
    return {"task_id": task_id, "command": "exec sleep 60",
            "resources": "cpus:0.25;mem:16"}


def call(m, type_):
    r = requests.post(m.url("/api/v1"), json={"type": type_},
                      headers={"Accept": "application/json"},
                      timeout=10 * SLOW)
    assert r.status_code == 200, (type_, r.status_code, r.text)
    return r.json()


READS = ("GET_HEALTH", "GET_FLAGS", "GET_VERSION", "GET_METRICS",
         "GET_STATE", "GET_AGENTS", "GET_FRAMEWORKS", "GET_EXECUTORS",
         "GET_TASKS", "GET_ROLES", "GET_WEIGHTS", "GET_MASTER", "GET_QUOTA")


def test_v1_calls_against_the_docs_samples(golden_cluster):
    m, _, _, _ = golden_cluster
    g = Golden()
    for name in READS:
        g.check(name, call(m, name))
    # Roles: the sample's second element is a role with frameworks and
    # resources; hold agora's role of the launcher against it too (the
    # first element, "*", has neither).
    roles = call(m, "GET_ROLES")["get_roles"]["roles"]
    sample = load("GET_ROLES")["get_roles"]["roles"][1]
    mine = [r for r in roles if r.get("name") == "golden"]
    if not mine:
        g.diffs.append("GET_ROLES:get_roles.roles[]: no role 'golden'")
    for r in mine:
        g.compare("GET_ROLES", sample, r, "get_roles.roles(golden)")
    # Quota: the sample's config, against QuotaStatus.configs.
    status = call(m, "GET_QUOTA")["get_quota"]["status"]
    config = load("GET_QUOTA")["get_quota"]["status"]["infos"][0]
    g.compare("GET_QUOTA", {"configs": config["configs"]}, status,
              "get_quota.status")
    g.report(set(READS))


def test_v0_state_against_the_docs_sample(golden_cluster):
    m, _, _, _ = golden_cluster
    g = Golden()
    state = m.json("/master/state")
    g.check("v0_state", state)
    # Mesos writes every flag's value as a string.
    flags = state.get("flags", {})
    g.diffs += ["v0_state:flags.%s: %s, not a string" % (k, jtype(v))
                for k, v in flags.items() if not isinstance(v, str)]
    g.report({"v0_state"})


class Events(RecordIO):
    """The stream, read until an event of a type."""

    def until(self, type_, pred=None, timeout=20.0):
        """Reads until an event of type_ (for which pred holds, if given)
        was seen: the first such, now or before (the first of the type is
        kept whatever pred says; a later one is returned, not kept)."""
        ev = self.seen.get(type_)
        if ev is not None and (pred is None or pred(ev)):
            return ev
        end = time.monotonic() + timeout * SLOW
        while time.monotonic() < end:  # a HEARTBEAT a second at least
            ev = self.next()
            if ev["type"] == type_ and (pred is None or pred(ev)):
                return ev
        raise AssertionError("no %s in %s" % (type_, sorted(self.seen)))


def agent_of(ev):
    return ev["agent_added"]["agent"]["agent_info"]["id"]["value"]


EVENTS = ("SUBSCRIBED", "HEARTBEAT", "TASK_ADDED", "TASK_UPDATED",
          "AGENT_ADDED", "AGENT_REMOVED", "FRAMEWORK_ADDED",
          "FRAMEWORK_REMOVED")


def test_v1_events_against_the_docs_samples(golden_cluster):
    m, launcher, a, agent = golden_cluster
    s = Events(m)
    first = s.next()
    assert first["type"] == "SUBSCRIBED"
    # A HEARTBEAT after a second (--event_keepalive) of silence.
    s.until("HEARTBEAT")
    launcher.launch(a.agent_id, sleeper("t9"))
    s.until("TASK_ADDED")
    s.until("TASK_UPDATED")
    b = agent()
    s.until("AGENT_ADDED", lambda e: agent_of(e) == b.agent_id)
    # b goes away: removed (unreachable) after the master's ping timeouts.
    b.stop()
    s.until("AGENT_REMOVED")
    # The sample is of an agent that re-registered (it has a
    # reregistered_time): b comes back.
    b.start()
    back = s.until("AGENT_ADDED", lambda e: agent_of(e) == b.agent_id and
                   "reregistered_time" in e["agent_added"]["agent"])
    s.seen["AGENT_ADDED"] = back
    # The launcher unloaded and loaded again: its framework goes and
    # comes back (its tasks keep running).
    conf = os.path.join(m.conf_dir, "launcher.conf")
    os.unlink(conf)
    m.proc.send_signal(signal.SIGHUP)
    s.until("FRAMEWORK_REMOVED")
    write_launcher_conf(m)
    m.proc.send_signal(signal.SIGHUP)
    s.until("FRAMEWORK_ADDED")
    # Its conf changed: reloaded, it registers again at once, as a Mesos
    # scheduler failing over.
    with open(conf, "a") as f:
        f.write("# changed\n")
    m.proc.send_signal(signal.SIGHUP)
    s.until("FRAMEWORK_UPDATED")
    s.close()

    g = Golden()
    for name in EVENTS:
        g.check(name, s.seen[name])
    # The sample elides SUBSCRIBED's state ("{...}"): it is GET_STATE's.
    g.compare("GET_STATE", load("GET_STATE")["get_state"],
              first["subscribed"]["get_state"], "get_state")
    if "FRAMEWORK_UPDATED" in s.seen:
        g.check("FRAMEWORK_UPDATED", s.seen["FRAMEWORK_UPDATED"])
        if "FRAMEWORK_UPDATED" in PENDING_LEAD:
            g.pending_hit.add("FRAMEWORK_UPDATED")
    else:
        g.missing_sample("FRAMEWORK_UPDATED")
    g.report(set(EVENTS) | {"GET_STATE", "FRAMEWORK_UPDATED"})
