"""
Memory with a total bound (issue 15, item 8): event-stream clients that
never read, and downloads that stall, cost the daemon a bounded amount of
memory, and /health keeps answering.

Figures are printed (run with -s) with the bound each is checked
against: peak RSS (VmHWM) of the process over the whole test.
"""
import json
import os
import socket
import time

import requests

from conftest import SANITIZE, SLOW, wait_for

MB = 1 << 20


def vm(pid, key):
    with open("/proc/%d/status" % pid) as f:
        for line in f:
            if line.startswith(key + ":"):
                return int(line.split()[1]) * 1024
    raise AssertionError(key)


def stalled(port, request):
    """A connection that sends request and never reads (a small receive
    buffer, so the kernel holds little of what is sent)."""
    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    s.connect(("127.0.0.1", port))
    s.sendall(request)
    return s


def health_time(url):
    t0 = time.monotonic()
    r = requests.get(url, timeout=10 * SLOW)
    assert r.status_code == 200 and r.text == "ok"
    return time.monotonic() - t0


def flood_agents(m, n=80, size=256 * 1024):
    """n new agents whose host names are size bytes: each an agent_added
    event of that size to every event-stream client."""
    big = "h" * size
    for i in range(n):
        body = json.dumps({"agent_id": "big-%d" % i, "hostname": big,
                           "ip": "127.0.0.1", "resources": "cpus:1;mem:64"})
        s = socket.create_connection(("127.0.0.1", m.port))
        s.sendall(b"POST /api/agent/subscribe HTTP/1.1\r\nHost: x\r\n"
                  b"Content-Length: %d\r\n\r\n%s" % (len(body), body.encode()))
        s.recv(64)
        s.close()


def test_non_reading_sse_clients_bounded(master_factory):
    budget = 16 * MB
    args = ["--http_stream_budget=%d" % budget]
    # AddressSanitizer keeps freed memory in a quarantine (256 MB): the
    # buffers of ended streams would still count.
    env = {"ASAN_OPTIONS": os.environ.get("ASAN_OPTIONS", "") +
           ":quarantine_size_mb=1"} if SANITIZE else None
    # The same flood without clients: what the registry, the store and the
    # parsing cost by themselves (80 host names of 256 KB are kept).
    ref = master_factory(args=args, env=env).start()
    flood_agents(ref)
    ref_peak = vm(ref.pid, "VmHWM")
    ref.stop()

    m = master_factory(args=args, env=env).start()
    clients = [stalled(m.port, b"GET /master/events HTTP/1.1\r\nHost: x\r\n\r\n")
               for _ in range(200)]
    wait_for(lambda: m.metrics()["master/http_streams_open"] >= 200,
             what="200 event streams")
    # 80 events of 256 KB are 20 MB per client, 4 GB for 200.
    flood_agents(m)
    took = health_time(m.url("/health"))
    metrics = m.metrics()
    peak = vm(m.pid, "VmHWM")
    # Buffers grow by doubling: what is queued may hold twice its size.
    bound = ref_peak + 2 * budget + 16 * MB
    print("\nsse: 200 stalled clients, 80 events of 256 KB: peak RSS %.1f MB, "
          "bound %.1f MB (the flood without clients: %.1f MB, + 2 x budget "
          "+ 16 MB), ratio %.2f; pending %.1f MB of a %.0f MB budget; %d "
          "streams cut; /health %.3f s"
          % (peak / MB, bound / MB, ref_peak / MB, peak / bound,
             metrics["master/http_stream_pending_bytes"] / MB, budget / MB,
             metrics["master/http_streams_cut"], took))
    assert metrics["master/http_stream_pending_bytes"] <= budget
    assert metrics["master/http_streams_cut"] > 0
    assert peak < bound, (peak, bound)
    assert took < 1.0 * SLOW
    for s in clients:
        s.close()


def test_stalled_downloads_bounded(cluster):
    m, _, agent = cluster
    a = agent().start()
    d = os.path.join(a.work_dir, "sandboxes", "dl")
    os.makedirs(d)
    size = 60 * MB
    with open(os.path.join(d, "big"), "wb") as f:
        f.truncate(size)
    pid = a.proc.pid
    base = vm(pid, "VmRSS")
    conns = [stalled(a.port, b"GET /files/download?path=/sandboxes/dl/big "
                     b"HTTP/1.1\r\nHost: x\r\n\r\n") for _ in range(30)]
    time.sleep(1.0 * SLOW)
    took = health_time(a.url("/health"))
    peak = vm(pid, "VmHWM")
    bound = base + 32 * MB
    print("\ndownloads: 30 stalled of a 60 MB file: peak RSS %.1f MB (start "
          "%.1f MB), bound %.1f MB, ratio %.2f; /health %.3f s"
          % (peak / MB, base / MB, bound / MB, peak / bound, took))
    assert peak < bound, (peak, bound)
    assert took < 1.0 * SLOW
    for s in conns:
        s.close()
    # A client that reads gets the whole file.
    r = a.get("/files/download", params={"path": "/sandboxes/dl/big"})
    assert r.status_code == 200 and len(r.content) == size
