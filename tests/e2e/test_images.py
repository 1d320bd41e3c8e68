"""Image pulls by agora-fetcher into the image store (docs/containers.md
§2), against Debian's docker-registry on loopback holding an image built
here from busybox-static (registry_fixture.py), and from local
docker-archive and OCI layouts.

The fetcher runs as the agent runs it: its job on fd 0, its reason on fd
3. What it did is checked on disk: layers unpacked with their modes,
whiteouts in overlayfs' form, images/<hex>.json and refs/<name>, blobs
verified against their digests.
"""
import fcntl
import gzip
import hashlib
import io
import json
import os
import shutil
import stat
import subprocess
import tarfile
import threading

import pytest

from conftest import BUILD, SLOW, free_port, wait_for
from marathon_fixture import marathon_cluster  # noqa: F401 - a fixture
from registry_fixture import (AuthProxy, CONFIG, registry,  # noqa: F401
                              test_layout, tls_registry, write_oci_index,
                              write_oci_layout)

FETCHER = os.path.join(BUILD, "bin", "agora-fetcher")


def run_fetcher(tmp_path, image, gc=False, timeout=60, user=None):
    """Runs agora-fetcher with a job holding image (for the task's user
    when given); (rc, reason, stderr)."""
    sandbox = tmp_path / "sandbox"
    job = dict(image) if gc else {"sandbox": str(sandbox), "image": image,
                                  "user": user}
    r, w = os.pipe()
    # fd 3 is the reason's pipe; close_fds would close it after the dup2.
    p = subprocess.Popen([FETCHER] + (["--gc"] if gc else []),
                         stdin=subprocess.PIPE, stdout=subprocess.DEVNULL,
                         stderr=subprocess.PIPE, close_fds=False,
                         preexec_fn=lambda: os.dup2(w, 3))
    os.close(w)
    _, err = p.communicate(json.dumps(job).encode(), timeout=timeout * SLOW)
    with os.fdopen(r, "rb") as f:
        reason = f.read().decode()
    return p.returncode, reason, err.decode()


def ref_name(ref):
    out = []
    for b in ref.encode():
        c = chr(b)
        out.append(c if c.isalnum() or c in "._-" else "%%%02X" % b)
    return "".join(out)


def image_of(store, ref):
    """The images/<hex>.json a ref stands for, parsed."""
    with open(os.path.join(store, "refs", ref_name(ref))) as f:
        line = f.read()
    assert line.endswith("\n") and len(line) == 65, line
    with open(os.path.join(store, "images", line[:64] + ".json")) as f:
        return json.load(f)


def check_test_image(store, ref, digests):
    """The store holds the test image as the contract says."""
    img = image_of(store, ref)
    assert img["ref"] == ref
    assert img["config"] == digests["config"]
    assert img["layers"] == digests["layers"]
    assert img["config_json"] == CONFIG
    st = os.stat(os.path.join(store, "blobs", digests["config"]))
    assert stat.S_IMODE(st.st_mode) == 0o600
    with open(os.path.join(store, "blobs", digests["config"]), "rb") as f:
        assert hashlib.sha256(f.read()).hexdigest() == digests["config"]
    for d in ("blobs", "layers", "images", "refs", "tmp"):
        assert stat.S_IMODE(os.stat(os.path.join(store, d)).st_mode) == 0o700
    assert stat.S_IMODE(os.stat(store).st_mode) == 0o700
    one = os.path.join(store, "layers", digests["layers"][0], "rootfs")
    two = os.path.join(store, "layers", digests["layers"][1], "rootfs")
    # Layer 1 as its tar has it: modes kept, symlinks kept.
    assert os.readlink(os.path.join(one, "bin", "sh")) == "busybox"
    assert stat.S_IMODE(os.stat(os.path.join(one, "bin/busybox")).st_mode) == 0o755
    assert stat.S_IMODE(os.stat(os.path.join(one, "etc/keep")).st_mode) == 0o600
    assert open(os.path.join(one, "etc/hello")).read() == "hello\n"
    assert stat.S_IMODE(os.stat(one).st_mode) == 0o755
    # Layer 2: its whiteouts in overlayfs' form, no .wh. file left.
    wh = os.lstat(os.path.join(two, "etc", "hello"))
    assert stat.S_ISCHR(wh.st_mode) and wh.st_rdev == 0, wh
    assert os.getxattr(os.path.join(two, "opq"),
                       "trusted.overlay.opaque") == b"y"
    assert sorted(os.listdir(os.path.join(two, "opq"))) == ["b"]
    assert sorted(os.listdir(os.path.join(two, "etc"))) == ["added", "hello"]
    for root, dirs, files in os.walk(two):
        assert not [n for n in dirs + files if n.startswith(".wh.")]
    # Nothing left in tmp/ but the locks.
    assert all(n.endswith(".lock") for n in os.listdir(os.path.join(store, "tmp")))


def job(registry_url, store, ref, **kw):
    j = {"ref": ref, "store": str(store), "registry": registry_url,
         "force_pull": False}
    j.update(kw)
    return j


def test_pull_over_http_fills_the_store(tmp_path, registry):
    store = tmp_path / "images"
    ref = registry.host + "/busybox:1"
    rc, reason, err = run_fetcher(tmp_path, job(registry.url, store, ref))
    assert rc == 0, (reason, err)
    check_test_image(str(store), ref, registry.layout[1])
    # By digest too: the manifest's digest is checked, the layers shared.
    ref2 = registry.host + "/busybox@sha256:" + registry.layout[1]["manifest"]
    rc, reason, err = run_fetcher(tmp_path, job(registry.url, store, ref2))
    assert rc == 0, (reason, err)
    assert image_of(str(store), ref2)["layers"] == registry.layout[1]["layers"]
    assert len(os.listdir(store / "layers")) == 2


def test_an_index_gives_this_machines_image(tmp_path, registry):
    """A manifest list / OCI index, from the registry and from a layout:
    the linux image of this architecture is taken, not the first."""
    layout = str(tmp_path / "multi")
    digests = write_oci_index(layout)
    registry.push_layout(layout, "multi", "busybox:multi", all_images=True)
    store = tmp_path / "images"
    for ref, url in ((registry.host + "/busybox:multi", registry.url),
                     ("oci:%s:multi" % layout, "")):
        rc, reason, err = run_fetcher(tmp_path, job(url, store, ref))
        assert rc == 0, (ref, reason, err)
        img = image_of(str(store), ref)
        assert img["config"] == digests["config"], ref
        assert img["config_json"] == CONFIG


def test_pull_over_https_trusts_the_ca_it_is_given(tmp_path, tls_registry):
    store = tmp_path / "images"
    ref = tls_registry.host + "/busybox:1"
    rc, reason, _ = run_fetcher(tmp_path, job(tls_registry.url, store, ref))
    assert rc == 1
    assert reason.startswith("failed to pull image '%s'" % ref), reason
    assert "certificate" in reason.lower() or "ssl" in reason.lower(), reason
    rc, reason, err = run_fetcher(
        tmp_path, job(tls_registry.url, store, ref, ca_file=tls_registry.ca))
    assert rc == 0, (reason, err)
    check_test_image(str(store), ref, tls_registry.layout[1])


def test_a_tampered_blob_fails_the_pull(tmp_path, registry):
    store = tmp_path / "images"
    ref = registry.host + "/busybox:1"
    top = registry.layout[1]["layers"][1]
    path = registry.blob_path(top)
    data = open(path, "rb").read()
    bad = gzip.compress(gzip.decompress(data).replace(b"added\n", b"evil!\n"),
                        mtime=0)
    with open(path, "wb") as f:
        f.write(bad)
    rc, reason, _ = run_fetcher(tmp_path, job(registry.url, store, ref))
    assert rc == 1
    assert reason.startswith("failed to pull image '%s'" % ref), reason
    assert "tampered" in reason and top[:12] in reason, reason
    assert not os.listdir(store / "refs")
    assert not os.path.exists(store / "layers" / top)


def test_missing_image_and_unreachable_registry(tmp_path, registry):
    store = tmp_path / "images"
    ref = registry.host + "/busybox:nope"
    rc, reason, _ = run_fetcher(tmp_path, job(registry.url, store, ref))
    assert rc == 1
    assert reason.startswith("failed to pull image '%s'" % ref), reason
    assert "404" in reason and "no such image" in reason, reason
    port = free_port()
    ref = "127.0.0.1:%d/busybox:1" % port
    rc, reason, _ = run_fetcher(
        tmp_path, job("http://127.0.0.1:%d" % port, store, ref))
    assert rc == 1
    assert reason.startswith("failed to pull image '%s'" % ref), reason
    assert "connect" in reason.lower(), reason
    rc, reason, _ = run_fetcher(tmp_path, job(registry.url, store, "Bad Name"))
    assert rc == 1 and "not an image reference" in reason, reason


def docker_config(tmp_path, host, user="agora", secret="s3cret"):
    import base64
    p = tmp_path / "docker.json"
    p.write_text(json.dumps({"auths": {"http://%s" % host: {
        "auth": base64.b64encode(("%s:%s" % (user, secret)).encode()).decode()}}}))
    os.chmod(p, 0o600)
    return str(p)


@pytest.mark.parametrize("mode", ["bearer", "basic"])
def test_auth_with_the_docker_config(tmp_path, registry, mode):
    proxy = AuthProxy(registry.port, mode)
    try:
        store = tmp_path / "images"
        ref = proxy.host + "/busybox:1"
        rc, reason, err = run_fetcher(tmp_path, job(proxy.url, store, ref))
        assert rc == 1
        assert reason.startswith("failed to pull image '%s'" % ref), reason
        assert ("401" in reason or "credentials" in reason), reason
        conf = docker_config(tmp_path, proxy.host)
        rc, reason, err = run_fetcher(
            tmp_path, job(proxy.url, store, ref, docker_config=conf))
        assert rc == 0, (reason, err)
        check_test_image(str(store), ref, registry.layout[1])
        if mode == "bearer":
            assert proxy.hits["token"] == 1, proxy.hits
        assert "s3cret" not in err and proxy.token not in err
        # Wrong credentials: refused, and the secret is in no message.
        bad = docker_config(tmp_path, proxy.host, secret="b4dpass")
        rc, reason, err = run_fetcher(
            tmp_path, job(proxy.url, store, ref, docker_config=bad,
                          force_pull=True))
        assert rc == 1 and "401" in reason, reason
        assert "b4dpass" not in reason + err
    finally:
        proxy.stop()


def test_refs_hit_and_force_pull(tmp_path, registry):
    proxy = AuthProxy(registry.port, "bearer")
    try:
        store = tmp_path / "images"
        ref = proxy.host + "/busybox:1"
        conf = docker_config(tmp_path, proxy.host)
        j = job(proxy.url, store, ref, docker_config=conf)
        assert run_fetcher(tmp_path, j)[0] == 0
        first = proxy.hits["ok"]
        assert first >= 4  # manifest, 2 layers, config
        rc, _, err = run_fetcher(tmp_path, j)
        assert rc == 0 and "is in the store" in err, err
        assert proxy.hits["ok"] == first  # a hit asks nothing
        j["force_pull"] = True
        rc, _, err = run_fetcher(tmp_path, j)
        assert rc == 0, err
        # The manifest and config again; layers present are not pulled.
        assert proxy.hits["ok"] == first + 2, proxy.hits
    finally:
        proxy.stop()


def test_docker_archive_oci_layout_and_local_registry(tmp_path, test_layout):
    layout, digests = test_layout
    store = tmp_path / "images"
    # oci:DIR:tag, the layout itself.
    ref = "oci:%s:1" % layout
    rc, reason, err = run_fetcher(tmp_path, job("", store, ref))
    assert rc == 0, (reason, err)
    check_test_image(str(store), ref, digests)
    # oci-archive: the layout as a tar.
    arch = tmp_path / "img.oci.tar"
    with tarfile.open(arch, "w") as t:
        t.add(layout, arcname=".")
    rc, reason, err = run_fetcher(tmp_path, job("", store, "oci-archive:%s" % arch))
    assert rc == 0, (reason, err)
    assert image_of(str(store), "oci-archive:%s" % arch)["config"] == \
        digests["config"]
    # docker-archive: what skopeo writes (its layers uncompressed, named
    # by the digests of their tars).
    darch = tmp_path / "img.docker.tar"
    subprocess.run(["skopeo", "copy", "--quiet", "oci:%s:1" % layout,
                    "docker-archive:%s:busybox:1" % darch], check=True,
                   timeout=120)
    shutil.rmtree(store)
    ref = "docker-archive:%s" % darch
    rc, reason, err = run_fetcher(tmp_path, job("", store, ref))
    assert rc == 0, (reason, err)
    img = image_of(str(store), ref)
    assert ["sha256:" + l for l in img["layers"]] == digests["diff_ids"]
    assert img["config_json"] == CONFIG
    two = store / "layers" / img["layers"][1] / "rootfs"
    assert stat.S_ISCHR(os.lstat(two / "etc" / "hello").st_mode)
    # Mesos' local registry: --docker_registry=/dir of <name>:<tag>.tar.
    regdir = tmp_path / "localreg"
    regdir.mkdir()
    shutil.copy(darch, regdir / "busybox:1.tar")
    rc, reason, err = run_fetcher(tmp_path, job(str(regdir), store, "busybox:1"))
    assert rc == 0, (reason, err)
    assert image_of(str(store), "busybox:1")["layers"] == img["layers"]
    rc, reason, _ = run_fetcher(tmp_path, job(str(regdir), store, "busybox:2"))
    assert rc == 1 and "busybox:2" in reason, reason


def test_local_sources_are_read_as_the_tasks_user(tmp_path, test_layout):
    """A task names a local archive or layout: the fetcher (root, for the
    store) opens it as the task's user, so no task gets an image its user
    could not read; FIFOs and devices are refused."""
    import tempfile
    layout, digests = test_layout
    pub = tempfile.mkdtemp(prefix="agora-img-")
    try:
        os.chmod(pub, 0o755)
        arch = os.path.join(pub, "img.oci.tar")
        with tarfile.open(arch, "w") as t:
            t.add(layout, arcname=".")
        store = tmp_path / "images"
        os.chmod(arch, 0o600)
        ref = "oci-archive:" + arch
        rc, reason, _ = run_fetcher(tmp_path, job("", store, ref), user="nobody")
        assert rc == 1 and "Permission denied" in reason, reason
        os.chmod(arch, 0o644)
        rc, reason, err = run_fetcher(tmp_path, job("", store, ref),
                                      user="nobody")
        assert rc == 0, (reason, err)
        assert image_of(str(store), ref)["config"] == digests["config"]
        # An oci: directory the user cannot read.
        priv = os.path.join(pub, "layout")
        shutil.copytree(layout, priv)
        os.chmod(priv, 0o700)
        rc, reason, _ = run_fetcher(tmp_path, job("", store, "oci:" + priv),
                                    user="nobody")
        assert rc == 1 and "Permission denied" in reason, reason
        fifo = os.path.join(pub, "fifo.tar")
        os.mkfifo(fifo, 0o666)
        rc, reason, _ = run_fetcher(tmp_path,
                                    job("", store, "docker-archive:" + fifo),
                                    timeout=20)
        assert rc == 1 and "failed to pull image" in reason, reason
    finally:
        shutil.rmtree(pub)


def file_entry(name):
    info = tarfile.TarInfo(name)
    info.size = 5
    return info, b"evil\n"


def link_entry(name, target, kind):
    info = tarfile.TarInfo(name)
    info.type = kind
    info.linkname = target
    return info, None


def oci_with_top_layer(layout, entries):
    """The test image's layout with layer 2 swapped for one of entries;
    the new layer's hex digest."""
    digests = write_oci_layout(str(layout))
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w") as t:
        for info, data in entries:
            t.addfile(info, io.BytesIO(data) if data is not None else None)
    blob = gzip.compress(buf.getvalue(), mtime=0)
    hexd = hashlib.sha256(blob).hexdigest()
    (layout / "blobs" / "sha256" / hexd).write_bytes(blob)
    mpath = layout / "blobs" / "sha256" / digests["manifest"]
    mf = json.loads(mpath.read_text())
    mf["layers"][1]["digest"] = "sha256:" + hexd
    mbytes = json.dumps(mf).encode()
    mhex = hashlib.sha256(mbytes).hexdigest()
    (layout / "blobs" / "sha256" / mhex).write_bytes(mbytes)
    index = json.loads((layout / "index.json").read_text())
    index["manifests"][0]["digest"] = "sha256:" + mhex
    (layout / "index.json").write_text(json.dumps(index))
    return hexd


ESCAPES = {
    "dotdot": [file_entry("../evil")],
    "absolute": [file_entry("/abs-evil")],
    "inner-dotdot": [file_entry("a/../../evil")],
    "hardlink-out": [link_entry("h", "../../../../etc/passwd", tarfile.LNKTYPE)],
    "hardlink-absolute": [link_entry("h", "/etc/passwd", tarfile.LNKTYPE)],
    "hardlink-via-symlink": [link_entry("s", "/etc", tarfile.SYMTYPE),
                             link_entry("h", "s/passwd", tarfile.LNKTYPE)],
    "whiteout-via-symlink": [link_entry("s", "/tmp", tarfile.SYMTYPE),
                             file_entry("s/.wh.agora-layer-victim")],
    "device": [link_entry("dev", "", tarfile.CHRTYPE)],
}


@pytest.mark.parametrize("case", sorted(ESCAPES))
def test_layer_entries_escaping_are_refused(tmp_path, case):
    victim = "/tmp/agora-layer-victim"
    with open(victim, "w") as f:
        f.write("victim\n")
    layout = tmp_path / "bad"
    hexd = oci_with_top_layer(layout, ESCAPES[case])
    store = tmp_path / "images"
    rc, reason, _ = run_fetcher(tmp_path, job("", store, "oci:%s" % layout))
    assert rc == 1 and reason.startswith("failed to pull image"), reason
    assert "layer sha256:%s" % hexd[:12] in reason, reason
    assert not (tmp_path / "evil").exists() and not os.path.exists("/abs-evil")
    assert not os.path.exists("/tmp/agora-layer-evil")
    assert open(victim).read() == "victim\n"
    assert os.stat("/etc/passwd").st_nlink == 1
    assert not os.path.exists(store / "layers" / hexd)
    assert not os.listdir(store / "refs")


def test_a_write_through_a_layers_symlink_stays_in_the_layer(tmp_path):
    """libarchive (SECURE_SYMLINKS with UNLINK) replaces a symlink met on
    the way by a directory: the file lands in the layer, never outside."""
    layout = tmp_path / "bad"
    hexd = oci_with_top_layer(layout, [
        link_entry("s", "/tmp", tarfile.SYMTYPE),
        file_entry("s/agora-layer-evil")])
    store = tmp_path / "images"
    rc, reason, _ = run_fetcher(tmp_path, job("", store, "oci:%s" % layout))
    assert not os.path.exists("/tmp/agora-layer-evil")
    if rc == 0:
        top = store / "layers" / hexd / "rootfs"
        assert (top / "s").is_dir() and not (top / "s").is_symlink()
        assert (top / "s" / "agora-layer-evil").read_text() == "evil\n"


def test_the_image_size_bound(tmp_path, test_layout):
    store = tmp_path / "images"
    rc, reason, _ = run_fetcher(
        tmp_path, job("", store, "oci:%s" % test_layout[0], max_bytes=100000))
    assert rc == 1 and "larger than the limit of" in reason, reason


def test_concurrent_pulls_of_one_image(tmp_path, registry):
    store = tmp_path / "images"
    ref = registry.host + "/busybox:1"
    results = []

    def one(i):
        d = tmp_path / ("p%d" % i)
        d.mkdir()
        results.append(run_fetcher(d, job(registry.url, store, ref)))
    threads = [threading.Thread(target=one, args=(i,)) for i in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert [r[0] for r in results] == [0] * 6, results
    check_test_image(str(store), ref, registry.layout[1])
    assert sorted(os.listdir(store / "layers")) == \
        sorted(registry.layout[1]["layers"])


def test_gc_keeps_what_live_tasks_use(tmp_path, registry):
    store = tmp_path / "images"
    ref1 = registry.host + "/busybox:1"
    # A second image sharing layer 1: another config, another top layer.
    other = tmp_path / "other"
    d2 = write_oci_layout(str(other), tag="2",
                          config=dict(CONFIG, Cmd=["echo other"]))
    registry.push_layout(str(other), "2", "busybox:2")
    ref2 = registry.host + "/busybox:2"
    for ref in (ref1, ref2):
        rc, reason, err = run_fetcher(tmp_path, job(registry.url, store, ref))
        assert rc == 0, (reason, err)
    assert len(os.listdir(store / "images")) == 2
    # A pull running (the store's lock held shared): nothing is removed.
    lock = os.open(store / "tmp" / ".store.lock", os.O_RDWR)
    fcntl.flock(lock, fcntl.LOCK_SH)
    rc, _, err = run_fetcher(tmp_path, {"store": str(store), "keep": []},
                             gc=True)
    assert rc == 0 and "a pull runs" in err, err
    assert len(os.listdir(store / "refs")) == 2
    os.close(lock)
    # ref1 kept: ref2's image and its own config go; shared layers stay.
    (store / "tmp" / "leftover.x").mkdir()
    rc, _, err = run_fetcher(tmp_path, {"store": str(store), "keep": [ref1]},
                             gc=True)
    assert rc == 0, err
    assert os.listdir(store / "refs") == [ref_name(ref1)]
    assert os.listdir(store / "images") == \
        [registry.layout[1]["config"] + ".json"]
    assert d2["config"] != registry.layout[1]["config"]
    assert os.listdir(store / "blobs") == [registry.layout[1]["config"]]
    assert sorted(os.listdir(store / "layers")) == \
        sorted(registry.layout[1]["layers"])
    assert os.listdir(store / "tmp") == [".store.lock"]
    # The kept image is whole still.
    check_test_image(str(store), ref1, registry.layout[1])
    # collect: false (the agent's --image_gc_interval=0): tmp/ only.
    (store / "tmp" / "leftover.y").mkdir()
    rc, _, err = run_fetcher(tmp_path, {"store": str(store), "keep": [],
                                        "collect": False}, gc=True)
    assert rc == 0, err
    assert os.listdir(store / "refs") == [ref_name(ref1)]
    assert os.listdir(store / "tmp") == [".store.lock"]
    # A size bound the store fits: nothing more goes.
    rc, _, err = run_fetcher(tmp_path, {"store": str(store), "keep": [],
                                        "max_bytes": 1 << 30}, gc=True)
    assert os.listdir(store / "refs") == [ref_name(ref1)]
    # Nothing kept and no bound: everything goes.
    rc, _, err = run_fetcher(tmp_path, {"store": str(store), "keep": []},
                             gc=True)
    assert rc == 0, err
    for d in ("refs", "images", "blobs", "layers"):
        assert os.listdir(store / d) == [], d


def test_marathon_app_with_an_image_fills_the_store(marathon_cluster, registry,
                                                    tmp_path):
    """End to end: a Marathon app naming an image of the registry is
    pulled into the store by the agent, then runs in that image (the
    mesos containerizer), its stdout in the sandbox."""
    m, mar, agent = marathon_cluster
    a = agent(args=["--docker_registry=" + registry.url])
    ref = registry.host + "/busybox:1"
    r = mar.post("/v2/apps", json={
        "id": "img", "cmd": "echo in-the-image; sleep 60", "cpus": 0.1,
        "mem": 32, "container": {"type": "MESOS", "docker": {"image": ref}}})
    assert r.status_code == 201, r.text
    store = os.path.join(str(a.work_dir), "images")
    wait_for(lambda: os.path.exists(os.path.join(store, "refs", ref_name(ref))),
             30 * SLOW, interval=0.1, what="the image in the store")
    check_test_image(store, ref, registry.layout[1])
    app = mar.wait_running("img", 1, timeout=30 * SLOW)
    [tid] = [t["id"] for t in app["tasks"]]
    out = os.path.join(str(a.work_dir), "sandboxes", tid, "stdout")

    def said():
        try:
            with open(out) as f:
                return "in-the-image" in f.read()
        except FileNotFoundError:
            return False
    wait_for(said, 10 * SLOW, what="the task's stdout")


def test_marathon_app_with_a_missing_image_fails_naming_it(marathon_cluster,
                                                           registry):
    m, mar, agent = marathon_cluster
    agent(args=["--docker_registry=" + registry.url])
    ref = registry.host + "/busybox:missing"
    r = mar.post("/v2/apps", json={
        "id": "noimg", "cmd": "sleep 60", "cpus": 0.1, "mem": 32,
        "container": {"type": "DOCKER", "docker": {"image": ref}}})
    assert r.status_code == 201, r.text
    failure = wait_for(lambda: mar.app("noimg").get("lastTaskFailure"),
                       30 * SLOW, interval=0.1, what="the app to fail")
    assert failure["state"] == "TASK_FAILED", failure
    assert "failed to pull image '%s'" % ref in failure["message"], failure
    r = m.post("/api/v1", json={"type": "GET_TASKS"})
    done = [t for t in r.json()["get_tasks"]["completed_tasks"]
            if t["task_id"]["value"] == failure["taskId"]]
    assert done[0]["statuses"][-1]["reason"] == "REASON_FETCHER_FAILED", done


def test_the_agents_collector(marathon_cluster, registry, tmp_path):
    """The agent empties images/tmp at start and, every
    --image_gc_interval, removes what no live task uses (here
    --image_gc_max_bytes=0: every unused image), through `agora-fetcher
    --gc` run as its child."""
    m, mar, agent = marathon_cluster
    store = tmp_path / "agent0" / "work" / "images"
    (store / "tmp" / "half-unpacked.1234" / "rootfs").mkdir(parents=True)
    a = agent(args=["--docker_registry=" + registry.url,
                    "--image_gc_interval=1secs", "--image_gc_max_bytes=0"])
    assert str(store) == os.path.join(str(a.work_dir), "images")
    wait_for(lambda: not (store / "tmp" / "half-unpacked.1234").exists(),
             10 * SLOW, interval=0.1, what="images/tmp emptied at start")
    ref = registry.host + "/busybox:1"
    r = mar.post("/v2/apps", json={
        "id": "gc", "cmd": "sleep 60", "cpus": 0.1, "mem": 32,
        "container": {"type": "MESOS", "docker": {"image": ref}}})
    assert r.status_code == 201, r.text
    wait_for(lambda: (store / "refs" / ref_name(ref)).exists(), 30 * SLOW,
             interval=0.05, what="the image pulled")
    mar.delete("/v2/apps/gc?force=true")
    mar.wait_gone("gc")
    # No live task uses it now: the next collection removes it all.
    wait_for(lambda: not any(os.listdir(store / d) for d in
                             ("refs", "images", "blobs", "layers")),
             30 * SLOW, interval=0.2, what="the unused image collected")


def test_dot_slash_names_and_hard_links_in_a_layer(tmp_path):
    """`tar -C dir .` writes "./x" names and "./x" hard link targets:
    both are taken, and the link is a link."""
    layout = tmp_path / "dots"
    info, data = file_entry("./x")
    link = tarfile.TarInfo("./y")
    link.type = tarfile.LNKTYPE
    link.linkname = "./x"
    hexd = oci_with_top_layer(layout, [(info, data), (link, None)])
    store = tmp_path / "images"
    rc, reason, err = run_fetcher(tmp_path, job("", store, "oci:%s" % layout))
    assert rc == 0, (reason, err)
    top = store / "layers" / hexd / "rootfs"
    assert os.stat(top / "x").st_ino == os.stat(top / "y").st_ino
    assert (top / "y").read_text() == "evil\n"


def test_zstd_and_uncompressed_layers(tmp_path):
    """Layers compressed with zstd (the zstd CLI, as Docker's
    tar+zstd) and not compressed at all are unpacked as gzip'd ones."""
    if not shutil.which("zstd"):
        pytest.skip("no zstd CLI to make the layer with")
    layout = tmp_path / "z"
    digests = write_oci_layout(str(layout))
    from registry_fixture import layer_tars
    one, two = layer_tars()
    z = subprocess.run(["zstd", "-q", "-c"], input=two, check=True,
                       capture_output=True).stdout
    assert z[:4] == b"\x28\xb5\x2f\xfd"
    blobs = layout / "blobs" / "sha256"
    hexes = []
    for data in (one, z):
        h = hashlib.sha256(data).hexdigest()
        (blobs / h).write_bytes(data)
        hexes.append(h)
    mf = json.loads((blobs / digests["manifest"]).read_text())
    mf["layers"][0]["digest"] = "sha256:" + hexes[0]
    mf["layers"][0]["mediaType"] = "application/vnd.oci.image.layer.v1.tar"
    mf["layers"][1]["digest"] = "sha256:" + hexes[1]
    mf["layers"][1]["mediaType"] = "application/vnd.oci.image.layer.v1.tar+zstd"
    mbytes = json.dumps(mf).encode()
    mhex = hashlib.sha256(mbytes).hexdigest()
    (blobs / mhex).write_bytes(mbytes)
    index = json.loads((layout / "index.json").read_text())
    index["manifests"][0]["digest"] = "sha256:" + mhex
    (layout / "index.json").write_text(json.dumps(index))
    store = tmp_path / "images"
    ref = "oci:%s" % layout
    rc, reason, err = run_fetcher(tmp_path, job("", store, ref))
    assert rc == 0, (reason, err)
    check_test_image(str(store), ref, dict(digests, layers=hexes))


def test_chronos_job_with_an_image_pulls_it(tmp_path, master_factory,
                                            registry):
    """Chronos' container (`image` at the container's top level) reaches
    the fetcher as Marathon's does."""
    from conftest import Agent, kill_leftovers
    from marathon_fixture import plugin_port
    from test_chronos import ChronosClient
    m = master_factory()
    port = plugin_port(m)
    with open(os.path.join(m.conf_dir, "chronos.conf"), "w") as f:
        f.write("plugin = chronos.so\nport = %d\n" % port)
    m.start()
    c = ChronosClient(port)
    wait_for(lambda: c.req("GET", "/v1/scheduler/jobs").status_code == 200,
             10, what="chronos.so to serve")
    a = Agent(tmp_path / "agent", m,
              args=["--docker_registry=" + registry.url]).start()
    try:
        ref = registry.host + "/busybox:1"
        c.job({"name": "img", "command": "echo hi", "schedule": "R1//PT1M",
               "cpus": 0.1, "mem": 32,
               "container": {"type": "DOCKER", "image": ref,
                             "forcePullImage": True}})
        store = os.path.join(a.work_dir, "images")
        wait_for(lambda: os.path.exists(os.path.join(store, "refs",
                                                     ref_name(ref))),
                 30 * SLOW, interval=0.1, what="the chronos job's image")
        check_test_image(store, ref, registry.layout[1])
    finally:
        a.stop()
        kill_leftovers(a.work_dir)


def du_bytes(path):
    """Bytes of the blocks under path, as the collector counts them."""
    total = 0
    for root, dirs, files in os.walk(path):
        for n in dirs + files + ["."]:
            p = os.path.join(root, n) if n != "." else root
            total += os.lstat(p).st_blocks * 512
    return total


def test_gc_size_bound_removes_the_least_recently_used(tmp_path, registry):
    store = tmp_path / "images"
    other = tmp_path / "other"
    d2 = write_oci_layout(str(other), tag="2", extra=[[("big", os.urandom(1 << 20))]])
    registry.push_layout(str(other), "2", "busybox:2")
    refs = [registry.host + "/busybox:1", registry.host + "/busybox:2"]
    for ref in refs:
        rc, reason, err = run_fetcher(tmp_path, job(registry.url, store, ref))
        assert rc == 0, (reason, err)
    # busybox:2 used long ago, busybox:1 recently.
    os.utime(store / "refs" / ref_name(refs[1]), (1000, 1000))
    one = sum(du_bytes(store / "layers" / h) for h in registry.layout[1]["layers"])
    # Room for busybox:1's layers only: busybox:2 (the older) goes.
    rc, _, err = run_fetcher(tmp_path, {"store": str(store), "keep": [],
                                        "max_bytes": one + 4096}, gc=True)
    assert rc == 0, err
    assert os.listdir(store / "refs") == [ref_name(refs[0])]
    assert sorted(os.listdir(store / "layers")) == \
        sorted(registry.layout[1]["layers"])
    assert d2["config"] + ".json" not in os.listdir(store / "images")
    # Kept even past the bound when a live task uses it.
    rc, _, err = run_fetcher(tmp_path, {"store": str(store), "keep": [refs[0]],
                                        "max_bytes": 1}, gc=True)
    assert os.listdir(store / "refs") == [ref_name(refs[0])]


def test_a_whiteouts_missing_parents_are_0755(tmp_path):
    """A whiteout whose directories the layer's tar does not list gets
    them made 0755 (as Docker makes them): a 0750 one would hide the
    lower layer's directory from the task's user once overlaid."""
    layout = tmp_path / "wh"
    hexd = oci_with_top_layer(layout, [file_entry("usr/lib/.wh.gone"),
                                       file_entry("var/.wh..wh..opq")])
    store = tmp_path / "images"
    rc, reason, err = run_fetcher(tmp_path, job("", store, "oci:%s" % layout))
    assert rc == 0, (reason, err)
    top = store / "layers" / hexd / "rootfs"
    for d in ("usr", "usr/lib", "var"):
        assert stat.S_IMODE(os.stat(top / d).st_mode) == 0o755, d
    assert stat.S_ISCHR(os.lstat(top / "usr/lib/gone").st_mode)
    assert os.getxattr(top / "var", "trusted.overlay.opaque") == b"y"
