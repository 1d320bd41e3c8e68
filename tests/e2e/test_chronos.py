"""chronos.so end to end: Chronos' REST API against real agents.

Jobs write lines to files in a directory the test owns, so what ran, how
often and in which order is read from the files, not from the plugin.
"""
import os
import signal
import subprocess
import threading
import time

import pytest
import requests

from conftest import Agent, kill_leftovers, wait_for
from test_ha import zk  # noqa: F401 - a fixture
from marathon_fixture import plugin_port


class ChronosClient:
    def __init__(self, port):
        self.base = "http://127.0.0.1:%d" % port

    def req(self, method, path, **kw):
        kw.setdefault("timeout", 10)
        return requests.request(method, self.base + path, **kw)

    def job(self, body, kind="iso8601"):
        r = self.req("POST", "/v1/scheduler/" + kind, json=body)
        assert r.status_code == 204, r.text
        return r


@pytest.fixture
def chronos(tmp_path, master_factory):
    m = master_factory(args=["--agent_ping_timeout=0.5secs",
                             "--max_agent_ping_timeouts=4"])
    port = plugin_port(m)
    with open(os.path.join(m.conf_dir, "chronos.conf"), "w") as f:
        f.write("plugin = chronos.so\nport = %d\nfailure_retry = 1secs\n"
                % port)
    m.start()
    c = ChronosClient(port)
    wait_for(lambda: c.req("GET", "/v1/scheduler/jobs").status_code == 200,
             10, what="chronos.so to serve")
    a = Agent(tmp_path / "agent", m).start()
    out = tmp_path / "out"
    out.mkdir()
    yield m, c, out
    a.stop()
    kill_leftovers(a.work_dir)


def lines(path):
    try:
        with open(path) as f:
            return f.read().splitlines()
    except FileNotFoundError:
        return []


def test_r3_runs_exactly_three_times(chronos):
    m, c, out = chronos
    f = out / "r3"
    c.job({"name": "r3", "command": "echo $CHRONOS_JOB_RUN_TIME >> %s" % f,
           "schedule": "R3//PT2S", "cpus": 0.1, "mem": 16})
    wait_for(lambda: len(lines(f)) >= 3, 20, interval=0.1, what="3 runs")
    time.sleep(3)
    runs = lines(f)
    assert len(runs) == 3, runs
    assert len(set(runs)) == 3, runs       # three distinct nominal instants
    gaps = [int(b) - int(a) for a, b in zip(runs, runs[1:])]
    assert gaps == [2000, 2000], gaps
    job = c.req("GET", "/v1/scheduler/job/r3").json()
    assert job["successCount"] == 3 and job["schedule"].startswith("R0/")
    assert job["disabled"] is True


def test_chain_runs_in_order_and_api(chronos):
    m, c, out = chronos
    f = out / "chain"
    # Not before 2099: a runs only when asked.
    c.job({"name": "a", "command": "echo a >> %s" % f,
           "schedule": "R1/2099-01-01T00:00:00Z/PT1H", "cpus": 0.1,
           "mem": 16})
    c.job({"name": "b", "command": "echo b >> %s" % f, "parents": ["a"],
           "cpus": 0.1, "mem": 16}, kind="dependency")
    c.job({"name": "c", "command": "echo c >> %s" % f, "parents": ["b"],
           "cpus": 0.1, "mem": 16}, kind="dependency")
    # Parents must exist.
    r = c.req("POST", "/scheduler/dependency",
              json={"name": "orphan", "command": "true", "parents": ["nope"]})
    assert r.status_code == 400 and r.json()["status"] == "Bad Request"
    # Run a now: the chain follows.
    assert c.req("PUT", "/scheduler/job/a").status_code == 204
    wait_for(lambda: len(lines(f)) >= 3, 20, interval=0.1, what="a, b, c")
    time.sleep(1)
    assert lines(f) == ["a", "b", "c"]
    summary = c.req("GET", "/v1/scheduler/jobs/summary").json()["jobs"]
    assert {j["name"]: j["status"] for j in summary}["c"] == "success"
    found = c.req("GET", "/v1/scheduler/jobs/search?name=B").json()
    assert [j["name"] for j in found] == ["b"]
    dot = c.req("GET", "/v1/scheduler/graph/dot").text
    svg = subprocess.run(["dot", "-Tsvg"], input=dot, capture_output=True,
                         text=True, timeout=30)
    assert svg.returncode == 0 and "<svg" in svg.stdout, svg.stderr
    csv = c.req("GET", "/v1/scheduler/graph/csv").text.splitlines()
    assert "link,a,b" in csv and "link,b,c" in csv
    assert c.req("GET", "/v1/scheduler/job/nope").status_code == 400
    assert c.req("GET", "/ping").text == "pong"


def test_failing_job_is_retried_then_counted(chronos):
    m, c, out = chronos
    f = out / "fail"
    c.job({"name": "fails", "command": "echo x >> %s; exit 1" % f,
           "schedule": "R1//PT1H", "retries": 2, "cpus": 0.1, "mem": 16})
    wait_for(lambda: c.req("GET", "/v1/scheduler/job/fails").json()
             ["errorCount"] == 1, 30, interval=0.2, what="the error count")
    assert len(lines(f)) == 3  # the run and its two retries


def test_delete_kills_a_running_task(chronos):
    m, c, out = chronos
    f = out / "long"
    c.job({"name": "long", "command": "echo up >> %s; sleep 600" % f,
           "schedule": "R1//PT1H", "cpus": 0.1, "mem": 16})
    wait_for(lambda: lines(f) == ["up"], 20, interval=0.1, what="it runs")
    assert c.req("DELETE", "/v1/scheduler/job/long").status_code == 204
    wait_for(lambda: m.metrics()["master/tasks_running"] == 0, 20,
             what="the task to be killed")
    assert c.req("GET", "/v1/scheduler/job/long").status_code == 400


def instants(path):
    """The nominal instants a job ran for (CHRONOS_JOB_RUN_TIME)."""
    return [int(x) for x in lines(path)]


def check_once(runs, period_ms, skipped_ok):
    """Every instant ran at most once, on the job's grid; the gaps are one
    period, or several when instants were skipped past their deadline."""
    assert len(runs) == len(set(runs)), "an instant ran twice: %s" % runs
    gaps = [b - a for a, b in zip(runs, runs[1:])]
    assert all(g % period_ms == 0 and g > 0 for g in gaps), gaps
    if not skipped_ok:
        assert all(g == period_ms for g in gaps), gaps


def write_chronos_conf(m, port, extra=""):
    with open(os.path.join(m.conf_dir, "chronos.conf"), "w") as f:
        f.write("plugin = chronos.so\nport = %d\nfailure_retry = 1secs\n%s"
                % (port, extra))


def test_reload_mid_schedule_loses_and_doubles_nothing(chronos):
    m, c, out = chronos
    f = out / "tick"
    c.job({"name": "tick", "command": "echo $CHRONOS_JOB_RUN_TIME >> %s" % f,
           "schedule": "R//PT2S", "cpus": 0.1, "mem": 16,
           "epsilon": "PT30S"})
    wait_for(lambda: len(lines(f)) >= 2, 20, interval=0.1, what="two runs")
    for i in range(3):
        write_chronos_conf(m, int(c.base.rsplit(":", 1)[1]),
                           "history = %d\n" % (50 + i))
        mark = m.log_mark()
        m.sighup()
        m.wait_log("[chronos] loaded", since=mark, timeout=10)
        time.sleep(1.5)
    n = len(lines(f))
    wait_for(lambda: len(lines(f)) >= n + 2, 20, interval=0.1,
             what="runs after the reloads")
    check_once(instants(f), 2000, skipped_ok=False)


def test_leader_killed_every_instant_once(master_factory, zk, tmp_path):
    """kill -9 of the leading master (3 masters, ZooKeeper) while a PT2S
    job runs: every nominal instant of the next 20 s ran exactly once, or
    was skipped past its epsilon; none ran twice."""
    from test_ha import ha_args, leader_of
    masters = []
    for _ in range(3):
        m = master_factory(args=ha_args(zk))
        m.chr_port = plugin_port(m)
        write_chronos_conf(m, m.chr_port)
        masters.append(m.start())
    lead = leader_of(masters)
    a = Agent(tmp_path / "agent", zk.url()).start(wait=False)
    a.master = lead
    out = tmp_path / "out"
    out.mkdir()
    f = out / "ha"
    try:
        a.wait_subscribed(timeout=20)
        c = ChronosClient(lead.chr_port)
        wait_for(lambda: c.req("GET", "/scheduler/jobs").status_code == 200,
                 20, what="chronos.so on the leader")
        c.job({"name": "ha", "command": "echo $CHRONOS_JOB_RUN_TIME >> %s"
               % f, "schedule": "R//PT2S", "cpus": 0.1, "mem": 16,
               "epsilon": "PT3S"})
        wait_for(lambda: len(lines(f)) >= 2, 20, interval=0.1,
                 what="two runs")
        start = instants(f)[0]
        lead.kill9()
        new = leader_of(masters)
        a.master = new
        c = ChronosClient(new.chr_port)
        wait_for(lambda: c.req("GET", "/scheduler/jobs").status_code == 200,
                 30, what="chronos.so on the new leader")
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            time.sleep(0.5)
        runs = instants(f)
        check_once(runs, 2000, skipped_ok=True)
        assert runs[-1] - start >= 10000, runs  # it went on after failover
        job = c.req("GET", "/scheduler/job/ha").json()
        assert job["successCount"] >= 1
    finally:
        if a.alive():
            a.stop()
        kill_leftovers(a.work_dir)


def test_diamond_and_stats(chronos):
    """A, B -> C: C runs once after both have succeeded, and again only
    after both have succeeded again."""
    m, c, out = chronos
    f = out / "d"
    never = "R1/2099-01-01T00:00:00Z/PT1H"
    for name in ("a", "b"):
        c.job({"name": name, "command": "echo %s >> %s" % (name, f),
               "schedule": never, "cpus": 0.1, "mem": 16})
    c.job({"name": "c", "command": "echo c >> %s" % f, "parents": ["a", "b"],
           "cpus": 0.1, "mem": 16}, kind="dependency")

    def run(name, want):
        assert c.req("PUT", "/scheduler/job/" + name).status_code == 204
        wait_for(lambda: len(lines(f)) >= want, 20, interval=0.1,
                 what="%d lines" % want)
        time.sleep(0.5)
    run("a", 1)
    run("a", 2)
    assert "c" not in lines(f)
    run("b", 4)                     # b, then c
    assert lines(f) == ["a", "a", "b", "c"]
    run("a", 5)
    time.sleep(1)
    assert lines(f).count("c") == 1
    run("b", 7)
    assert lines(f).count("c") == 2
    stat = c.req("GET", "/v1/scheduler/job/stat/a").json()
    assert stat["histogram"]["count"] >= 3
    top = c.req("GET", "/v1/scheduler/stats/99thPercentile").json()
    assert {x["jobNameLabel"] for x in top} >= {"a", "b", "c"}
    assert c.req("GET", "/v1/scheduler/stats/nope").status_code == 400
    # Cron schedules, in a zone; bad ones are refused with a reason.
    c.job({"name": "nightly", "command": "true", "cpus": 0.1, "mem": 16,
           "schedule": "cron:30 2 * * *",
           "scheduleTimeZone": "Europe/Berlin"})
    got = c.req("GET", "/v1/scheduler/job/nightly").json()
    assert got["schedule"] == "cron:30 2 * * *"
    for bad in ({"schedule": "cron:0 0 30 2 *"},
                {"schedule": "R/2020-01-01T00:00:00Z/PT1H",
                 "scheduleTimeZone": "Mars/Olympus"},
                {"schedule": "wat"}):
        body = {"name": "bad", "command": "true"}
        body.update(bad)
        r = c.req("POST", "/v1/scheduler/iso8601", json=body)
        assert r.status_code == 400, (bad, r.text)
        assert r.json()["status"] == "Bad Request" and r.json()["message"]


def test_max_completion_time_kills_and_counts_a_failure(chronos):
    m, c, out = chronos
    f = out / "slow"
    c.job({"name": "slow", "command": "echo up >> %s; sleep 600" % f,
           "schedule": "R1//PT1H", "maxCompletionTime": 1, "retries": 0,
           "cpus": 0.1, "mem": 16})
    wait_for(lambda: lines(f) == ["up"], 20, interval=0.1, what="it runs")
    wait_for(lambda: c.req("GET", "/v1/scheduler/job/slow").json()
             ["errorCount"] == 1, 20, interval=0.2, what="the failure")
    wait_for(lambda: m.metrics()["master/tasks_running"] == 0, 20,
             what="the task to be killed")
    assert c.req("GET", "/v1/scheduler/job/slow").json()["successCount"] == 0


def job_doc(c, name):
    return c.req("GET", "/v1/scheduler/job/" + name).json()


def report(c, task_id, body, prefix="/scheduler"):
    return c.req("PUT", "%s/task/%s" % (prefix, task_id), json=body)


def test_async_job_ends_by_callback(chronos):
    """2.x's async jobs: the task finishing does not end the run; PUT
    /scheduler/task/{taskId} {"statusCode":0} counts a success, non-zero
    a failure (retries apply); a repeated callback counts nothing."""
    m, c, out = chronos
    f = out / "async"
    c.job({"name": "as", "command": "echo $mesos_task_id >> %s" % f,
           "schedule": "R1//PT1H", "async": True, "cpus": 0.1, "mem": 16})
    wait_for(lambda: len(lines(f)) == 1, 20, interval=0.1, what="it runs")
    tid = lines(f)[0]
    assert tid.startswith("ct:") and ":as:" in tid
    wait_for(lambda: m.metrics()["master/tasks_finished"] >= 1, 20,
             what="its task to finish")
    time.sleep(1)
    job = job_doc(c, "as")
    assert job["successCount"] == 0 and job["errorCount"] == 0, job
    summary = c.req("GET", "/scheduler/jobs/summary").json()["jobs"]
    assert [j["state"] for j in summary if j["name"] == "as"] == ["running"]
    # Bad calls: Chronos' 400 body, nothing counted.
    for body in ({}, {"statusCode": "0"}, {"statusCode": 0.5}, [0]):
        r = report(c, tid, body)
        assert r.status_code == 400, (body, r.text)
        assert r.json()["status"] == "Bad Request" and r.json()["message"]
    r = c.req("PUT", "/scheduler/task/" + tid, data="{",
              headers={"Content-Type": "application/json"})
    assert r.status_code == 400 and "JSON" in r.json()["message"]
    for bad in ("nope", "ct:1:0:nosuchjob:", "ct:1:0:as:"):
        r = report(c, bad, {"statusCode": 0})
        assert r.status_code == 400 and r.json()["status"] == "Bad Request"
    assert job_doc(c, "as")["successCount"] == 0
    # The callback, under both prefixes; the second is a repeat.
    assert report(c, tid, {"statusCode": 0}).status_code == 204
    assert report(c, tid, {"statusCode": 0},
                  prefix="/v1/scheduler").status_code == 204
    job = job_doc(c, "as")
    assert job["successCount"] == 1 and job["errorCount"] == 0, job
    assert job["lastSuccess"]
    stat = c.req("GET", "/scheduler/job/stat/as").json()
    hist = stat["taskStatHistory"]
    assert [(h["taskId"], h["status"]) for h in hist] == [(tid, "Success")]
    assert hist[0]["endTime"] != "N/A" and hist[0]["duration"].endswith("s")

    # A failure is retried (attempt 1), and counted once retries are out.
    g = out / "asf"
    c.job({"name": "asf", "command": "echo $mesos_task_id >> %s" % g,
           "schedule": "R1//PT1H", "async": True, "retries": 1,
           "cpus": 0.1, "mem": 16})
    wait_for(lambda: len(lines(g)) == 1, 20, interval=0.1, what="it runs")
    wait_for(lambda: report(c, lines(g)[0], {"statusCode": 2}).status_code
             == 204, 10, interval=0.2, what="its task to be launched")
    wait_for(lambda: len(lines(g)) == 2, 20, interval=0.1, what="the retry")
    retry = lines(g)[1]
    assert retry.split(":")[2] == "1", retry        # attempt 1, same instant
    assert retry.split(":")[1] == lines(g)[0].split(":")[1]
    assert job_doc(c, "asf")["errorCount"] == 0
    wait_for(lambda: report(c, retry, {"statusCode": 3}).status_code == 204,
             10, interval=0.2, what="the retry to be launched")
    job = job_doc(c, "asf")
    assert job["errorCount"] == 1 and job["successCount"] == 0, job
    time.sleep(1.5)
    assert len(lines(g)) == 2                       # no third attempt

    # Deleting a job whose run awaits its callback ends that run.
    h = out / "asd"
    c.job({"name": "asd", "command": "echo $mesos_task_id >> %s" % h,
           "schedule": "R1//PT1H", "async": True, "cpus": 0.1, "mem": 16})
    wait_for(lambda: len(lines(h)) == 1, 20, interval=0.1, what="it runs")
    live = c.req("GET", "/metrics").json()["gauges"]["chronos.runs.live"]
    assert live["value"] == 1
    wait_for(lambda: m.metrics()["master/tasks_running"] == 0, 20,
             what="its task to finish")
    assert c.req("DELETE", "/scheduler/job/asd").status_code == 204
    live = c.req("GET", "/metrics").json()["gauges"]["chronos.runs.live"]
    assert live["value"] == 0
    r = report(c, lines(h)[0], {"statusCode": 0})
    assert r.status_code == 400 and "not found" in r.json()["message"]


def test_callback_while_the_task_runs(chronos):
    """A run that reports before its task ends is counted then, once: the
    task's later end (here killed) counts nothing more."""
    m, c, out = chronos
    f = out / "cb"
    c.job({"name": "cb", "command": "echo $mesos_task_id >> %s; sleep 600"
           % f, "schedule": "R1//PT1H", "cpus": 0.1, "mem": 16})
    wait_for(lambda: len(lines(f)) == 1, 20, interval=0.1, what="it runs")
    tid = lines(f)[0]
    assert report(c, tid, {"statusCode": 0}).status_code == 204
    assert job_doc(c, "cb")["successCount"] == 1
    assert c.req("DELETE", "/scheduler/task/kill/cb").status_code == 204
    wait_for(lambda: m.metrics()["master/tasks_running"] == 0, 20,
             what="the task to be killed")
    time.sleep(0.5)
    job = job_doc(c, "cb")
    assert job["successCount"] == 1 and job["errorCount"] == 0, job
    # Its run is over: a late callback is answered, and counts nothing.
    assert report(c, tid, {"statusCode": 1}).status_code == 204
    assert job_doc(c, "cb")["errorCount"] == 0


def test_history_survives_a_restart(chronos):
    """job/stat and stats/ come from history/<name> in the store: the same
    after the master restarts; the history keeps the last `history`
    runs only."""
    m, c, out = chronos
    f = out / "h"
    c.job({"name": "h", "command": "echo $mesos_task_id >> %s" % f,
           "schedule": "R4//PT1S", "cpus": 0.1, "mem": 16})
    c.job({"name": "hf", "command": "exit 1", "schedule": "R1//PT1H",
           "retries": 0, "cpus": 0.1, "mem": 16})
    wait_for(lambda: job_doc(c, "h")["successCount"] == 4 and
             job_doc(c, "hf")["errorCount"] == 1, 30, interval=0.2,
             what="4 runs and a failure")
    before = c.req("GET", "/v1/scheduler/job/stat/h").json()
    assert before["histogram"]["count"] == 4
    assert [h["taskId"] for h in before["taskStatHistory"]] == \
        list(reversed(lines(f)))
    assert all(h["status"] == "Success" for h in before["taskStatHistory"])
    fail = c.req("GET", "/v1/scheduler/job/stat/hf").json()
    assert [h["status"] for h in fail["taskStatHistory"]] == ["Fail"]
    assert fail["histogram"]["count"] == 0
    stats = c.req("GET", "/v1/scheduler/stats/median").json()
    assert [s["jobNameLabel"] for s in stats] == ["h"]

    # Restart with a history of 3: the same figures from the store, the
    # oldest run dropped.
    port = int(c.base.rsplit(":", 1)[1])
    write_chronos_conf(m, port, "history = 3\n")
    m.restart()
    wait_for(lambda: c.req("GET", "/v1/scheduler/jobs").status_code == 200,
             20, what="chronos.so after the restart")
    after = c.req("GET", "/v1/scheduler/job/stat/h").json()
    assert after["taskStatHistory"] == before["taskStatHistory"][:3]
    assert after["histogram"]["count"] == 3
    assert c.req("GET", "/v1/scheduler/job/stat/hf").json() == fail
    assert [s["jobNameLabel"] for s in
            c.req("GET", "/v1/scheduler/stats/median").json()] == ["h"]
    # Deleting the job deletes its history.
    assert c.req("DELETE", "/v1/scheduler/job/h").status_code == 204
    c.job({"name": "h", "command": "true", "schedule": "R0//PT1H"})
    assert c.req("GET", "/v1/scheduler/job/stat/h").json()[
        "taskStatHistory"] == []


def answered_once_stored(zk, call, meanwhile=None):
    """call() with ZooKeeper stopped (SIGSTOP): asserts no answer comes
    within 1.5 s; then meanwhile() if given, with ZooKeeper still
    stopped, else ZooKeeper resumed; returns the answer."""
    with open(os.path.join(zk.dir, "zk.pid")) as f:
        pid = int(f.read())
    got = {}
    t = threading.Thread(target=lambda: got.setdefault("r", call()))
    os.kill(pid, signal.SIGSTOP)
    try:
        t.start()
        t.join(1.5)
        assert t.is_alive(), "answered before the store wrote: %d %s" % (
            got["r"].status_code, got["r"].text)
        if meanwhile:
            meanwhile()
            t.join(30)
    finally:
        os.kill(pid, signal.SIGCONT)
    t.join(30)
    assert "r" in got, "no answer"
    return got["r"]


def chronos_on_zk(master_factory, zk, timeout="10secs"):
    m = master_factory(args=["--zk=" + zk.url(),
                             "--zk_session_timeout=" + timeout])
    port = plugin_port(m)
    write_chronos_conf(m, port)
    m.start()
    c = ChronosClient(port)
    wait_for(lambda: c.req("GET", "/v1/scheduler/jobs").status_code == 200,
             20, what="chronos.so to serve")
    return m, c, port


def test_changes_are_answered_once_stored(master_factory, zk):
    """A change is answered once its store writes are in ZooKeeper, as
    Chronos persists before it answers: with ZooKeeper stopped no answer
    comes, so a master dying then has told no client of a job it would
    lose (or of a delete it would undo); once ZooKeeper runs again, the
    answer, and the change is there."""
    m, c, port = chronos_on_zk(master_factory, zk)
    never = "R1/2099-01-01T00:00:00Z/PT1H"

    r = answered_once_stored(zk, lambda: c.req(
        "POST", "/v1/scheduler/iso8601", timeout=30,
        json={"name": "held", "command": "true", "schedule": never}))
    assert r.status_code == 204, r.text
    assert c.req("GET", "/v1/scheduler/job/held").json()["name"] == "held"

    r = answered_once_stored(zk, lambda: c.req(
        "PUT", "/scheduler/job/success/held", timeout=30))
    assert r.status_code == 200, r.text
    assert r.text == "marked job held as successful: true"
    assert c.req("GET", "/v1/scheduler/job/held").json()["successCount"] == 1

    # Run now (no agent: it stays queued): its launch record is written.
    r = answered_once_stored(zk, lambda: c.req(
        "PUT", "/v1/scheduler/job/held", timeout=30))
    assert r.status_code == 204, r.text
    summary = c.req("GET", "/v1/scheduler/jobs/summary").json()["jobs"]
    assert [(j["name"], j["state"]) for j in summary] == [("held", "queued")]

    r = answered_once_stored(zk, lambda: c.req(
        "DELETE", "/v1/scheduler/job/held", timeout=30))
    assert r.status_code == 204, r.text
    assert c.req("GET", "/v1/scheduler/job/held").status_code == 400


def test_held_answer_on_reload_and_failed_write(master_factory, zk):
    """A change waiting for the store is answered 503, never 204, when
    chronos.so is reloaded meanwhile (SIGHUP: the host answers it), and
    when its write fails (ZooKeeper silent past 2/3 of the session
    timeout: the store gives up on it, and the write may or may not have
    happened); chronos.so serves again once ZooKeeper is back."""
    m, c, port = chronos_on_zk(master_factory, zk, timeout="3secs")

    def reload():
        write_chronos_conf(m, port, "history = 7\n")
        m.sighup()

    r = answered_once_stored(zk, lambda: c.req(
        "POST", "/v1/scheduler/iso8601", timeout=30,
        json={"name": "reloaded", "command": "true",
              "schedule": "R1//PT1H"}), meanwhile=reload)
    assert r.status_code == 503, r.text
    assert r.json() == {"message": "plugin chronos was unloaded"}
    wait_for(lambda: c.req("GET", "/v1/scheduler/jobs").status_code == 200,
             20, what="chronos.so after the reload")

    r = answered_once_stored(zk, lambda: c.req(
        "POST", "/v1/scheduler/iso8601", timeout=30,
        json={"name": "unstored", "command": "true",
              "schedule": "R1//PT1H"}), meanwhile=lambda: None)
    assert r.status_code == 503, r.text
    assert r.json() == {"message": "the change could not be stored: "
                        "temporarily unavailable"}
    wait_for(lambda: c.req("GET", "/v1/scheduler/jobs").status_code == 200,
             30, what="chronos.so once ZooKeeper is back")
    assert m.alive()


def test_callback_is_answered_once_stored(master_factory, zk, tmp_path):
    """The 2.x completion callback is answered once the outcome it counts
    is stored: with ZooKeeper stopped no answer comes; resumed, 204 and
    the success counted."""
    m, c, port = chronos_on_zk(master_factory, zk)
    a = Agent(tmp_path / "agent", m).start()
    f = tmp_path / "cbz"
    try:
        c.job({"name": "cbz", "command": "echo $mesos_task_id >> %s; "
               "sleep 600" % f, "schedule": "R1//PT1H", "cpus": 0.1,
               "mem": 16})
        wait_for(lambda: len(lines(f)) == 1, 20, interval=0.1,
                 what="it runs")
        tid = lines(f)[0]
        wait_for(lambda: m.metrics()["master/tasks_running"] == 1, 20,
                 what="its task to run")
        r = answered_once_stored(zk, lambda: c.req(
            "PUT", "/scheduler/task/" + tid, json={"statusCode": 0},
            timeout=30))
        assert r.status_code == 204, r.text
        assert job_doc(c, "cbz")["successCount"] == 1
    finally:
        a.stop()
        kill_leftovers(a.work_dir)
