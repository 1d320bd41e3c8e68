"""A real Docker registry on loopback for the image tests: Debian's
docker-registry (distribution 2.8) with its storage under the test's tmp
dir, plain HTTP or HTTPS with a CA made in the test, and an image built
here from Debian's busybox-static, written as an OCI layout and pushed
with skopeo.

The test image has two layers, the second with whiteouts:
  layer 1: bin/busybox, bin/sh ls cat echo (symlinks), etc/hello,
           etc/keep, opq/a, opq/sub/x
  layer 2: etc/.wh.hello (hello deleted), opq/.wh..wh..opq (opq made
           opaque), opq/b, etc/added
and a config with Entrypoint, Cmd, Env and WorkingDir.

An optional auth proxy in front of the registry (python, in a thread)
answers 401 with a Bearer challenge whose token service wants Basic
credentials, or asks for Basic itself: the fetcher's auth is tested
against what it would meet at Docker Hub, without a JWT-signing registry.
"""
import base64
import gzip
import hashlib
import http.client
import http.server
import io
import json
import os
import shutil
import subprocess
import tarfile
import threading

import pytest

from conftest import free_port, port_open, wait_for

BUSYBOX = "/bin/busybox"
APPLETS = ("sh", "ls", "cat", "echo", "httpd")
CONFIG = {"Entrypoint": ["/bin/sh", "-c"], "Cmd": ["echo hello from the image"],
          "Env": ["PATH=/bin", "IMG=busybox-test"], "WorkingDir": "/opq"}


def _tar(entries):
    """A tar (bytes) of entries: (name, kind, data_or_target, mode)."""
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w", format=tarfile.PAX_FORMAT) as t:
        for name, kind, data, mode in entries:
            info = tarfile.TarInfo(name)
            info.mode = mode
            info.mtime = 1700000000
            if kind == "dir":
                info.type = tarfile.DIRTYPE
                t.addfile(info)
            elif kind == "sym":
                info.type = tarfile.SYMTYPE
                info.linkname = data
                t.addfile(info)
            else:
                info.size = len(data)
                t.addfile(info, io.BytesIO(data))
    return buf.getvalue()


def layer_tars():
    """The two layers' uncompressed tars."""
    with open(BUSYBOX, "rb") as f:
        bb = f.read()
    one = [("bin", "dir", None, 0o755), ("bin/busybox", "file", bb, 0o755)]
    one += [("bin/" + a, "sym", "busybox", 0o777) for a in APPLETS]
    one += [("etc", "dir", None, 0o755),
            ("etc/hello", "file", b"hello\n", 0o644),
            ("etc/keep", "file", b"keep\n", 0o600),
            ("opq", "dir", None, 0o755), ("opq/a", "file", b"a\n", 0o644),
            ("opq/sub", "dir", None, 0o755),
            ("opq/sub/x", "file", b"x\n", 0o644)]
    two = [("etc", "dir", None, 0o755),
           ("etc/.wh.hello", "file", b"", 0o644),
           ("etc/added", "file", b"added\n", 0o644),
           ("opq", "dir", None, 0o755),
           ("opq/.wh..wh..opq", "file", b"", 0o644),
           ("opq/b", "file", b"b\n", 0o644)]
    return _tar(one), _tar(two)


def _blob(layout, data):
    digest = hashlib.sha256(data).hexdigest()
    d = os.path.join(layout, "blobs", "sha256")
    os.makedirs(d, exist_ok=True)
    with open(os.path.join(d, digest), "wb") as f:
        f.write(data)
    return digest


def write_oci_layout(layout, tag="1", config=None, extra=None):
    """An OCI image layout of the test image; returns a dict with the
    digests: manifest, config, layers (compressed, as the manifest
    names them) and diff_ids. extra: more layers on top, each a list of
    (name, bytes) files (the benchmark's bulk)."""
    os.makedirs(layout, exist_ok=True)
    tars = list(layer_tars())
    for files in extra or []:
        tars.append(_tar([(n, "file", d, 0o644) for n, d in files]))
    gz = [gzip.compress(t, mtime=0) for t in tars]
    layers = [_blob(layout, g) for g in gz]
    diff_ids = ["sha256:" + hashlib.sha256(t).hexdigest() for t in tars]
    cfg = {"architecture": "amd64" if os.uname().machine == "x86_64" else "arm64",
           "os": "linux", "config": config or CONFIG,
           "rootfs": {"type": "layers", "diff_ids": diff_ids}}
    cfg_bytes = json.dumps(cfg).encode()
    cfg_digest = _blob(layout, cfg_bytes)
    manifest = {"schemaVersion": 2,
                "mediaType": "application/vnd.oci.image.manifest.v1+json",
                "config": {"mediaType": "application/vnd.oci.image.config.v1+json",
                           "digest": "sha256:" + cfg_digest, "size": len(cfg_bytes)},
                "layers": [{"mediaType": "application/vnd.oci.image.layer.v1.tar+gzip",
                            "digest": "sha256:" + d, "size": len(g)}
                           for d, g in zip(layers, gz)]}
    mbytes = json.dumps(manifest).encode()
    mdigest = _blob(layout, mbytes)
    index = {"schemaVersion": 2, "manifests": [
        {"mediaType": "application/vnd.oci.image.manifest.v1+json",
         "digest": "sha256:" + mdigest, "size": len(mbytes),
         "annotations": {"org.opencontainers.image.ref.name": tag}}]}
    with open(os.path.join(layout, "index.json"), "w") as f:
        json.dump(index, f)
    with open(os.path.join(layout, "oci-layout"), "w") as f:
        json.dump({"imageLayoutVersion": "1.0.0"}, f)
    return {"manifest": mdigest, "config": cfg_digest, "layers": layers,
            "diff_ids": diff_ids}


def write_oci_index(layout, tag="multi"):
    """The test image behind an image index (a manifest list): an entry
    for another architecture first (the same layers, its own config),
    then this machine's. Returns the digests of write_oci_layout plus
    "index"."""
    digests = write_oci_layout(layout, tag="plain")
    mine = "amd64" if os.uname().machine == "x86_64" else "arm64"
    other_cfg = json.dumps({"architecture": "s390x", "os": "linux",
                            "config": {"Cmd": ["wrong-arch"]},
                            "rootfs": {"type": "layers",
                                       "diff_ids": digests["diff_ids"]}}).encode()
    ocfg = _blob(layout, other_cfg)
    with open(os.path.join(layout, "blobs", "sha256", digests["manifest"])) as f:
        mf = json.load(f)
    mf["config"] = dict(mf["config"], digest="sha256:" + ocfg, size=len(other_cfg))
    obytes = json.dumps(mf).encode()
    other = _blob(layout, obytes)
    msize = os.path.getsize(os.path.join(layout, "blobs", "sha256",
                                         digests["manifest"]))
    index = {"schemaVersion": 2,
             "mediaType": "application/vnd.oci.image.index.v1+json",
             "manifests": [
                 {"mediaType": "application/vnd.oci.image.manifest.v1+json",
                  "digest": "sha256:" + other, "size": len(obytes),
                  "platform": {"os": "linux", "architecture": "s390x"}},
                 {"mediaType": "application/vnd.oci.image.manifest.v1+json",
                  "digest": "sha256:" + digests["manifest"], "size": msize,
                  "platform": {"os": "linux", "architecture": mine}}]}
    ibytes = json.dumps(index).encode()
    idx = _blob(layout, ibytes)
    top = {"schemaVersion": 2, "manifests": [
        {"mediaType": "application/vnd.oci.image.index.v1+json",
         "digest": "sha256:" + idx, "size": len(ibytes),
         "annotations": {"org.opencontainers.image.ref.name": tag}}]}
    with open(os.path.join(layout, "index.json"), "w") as f:
        json.dump(top, f)
    return dict(digests, index=idx)


def make_ca(d):
    """A CA and a certificate for 127.0.0.1 it signed (openssl)."""
    def ssl(*args):
        subprocess.run(["openssl"] + list(args), cwd=d, check=True,
                       stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    ssl("req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", "ca.key",
        "-out", "ca.pem", "-days", "2", "-subj", "/CN=agora test CA")
    ssl("req", "-newkey", "rsa:2048", "-nodes", "-keyout", "reg.key",
        "-out", "reg.csr", "-subj", "/CN=127.0.0.1")
    with open(os.path.join(d, "ext.cnf"), "w") as f:
        f.write("subjectAltName=IP:127.0.0.1\n")
    ssl("x509", "-req", "-in", "reg.csr", "-CA", "ca.pem", "-CAkey", "ca.key",
        "-CAcreateserial", "-out", "reg.pem", "-days", "2", "-extfile", "ext.cnf")
    return (os.path.join(d, "ca.pem"), os.path.join(d, "reg.pem"),
            os.path.join(d, "reg.key"))


class Registry:
    """docker-registry on a loopback port; .url, .host, .storage."""

    def __init__(self, base, tls=False):
        self.dir = str(base)
        os.makedirs(self.dir, exist_ok=True)
        self.port = free_port()
        self.host = "127.0.0.1:%d" % self.port
        self.storage = os.path.join(self.dir, "storage")
        self.ca = None
        http = {"addr": self.host, "headers": {}}
        if tls:
            self.ca, cert, key = make_ca(self.dir)
            http["tls"] = {"certificate": cert, "key": key}
        conf = {"version": 0.1, "log": {"level": "warn"},
                "storage": {"filesystem": {"rootdirectory": self.storage},
                            "delete": {"enabled": True}},
                "http": http}
        path = os.path.join(self.dir, "config.yml")
        with open(path, "w") as f:
            json.dump(conf, f)  # YAML is a superset of JSON
        self.log = open(os.path.join(self.dir, "registry.log"), "w")
        self.proc = subprocess.Popen(["/usr/bin/docker-registry", "serve", path],
                                     stdin=subprocess.DEVNULL, stdout=self.log,
                                     stderr=self.log)
        wait_for(lambda: port_open(self.port), 15, what="docker-registry")
        self.url = ("https://" if tls else "http://") + self.host

    def push_layout(self, layout, tag, name, all_images=False):
        """skopeo copy of the layout's tag to <host>/<name> (all_images:
        every image of an index, the index kept)."""
        args = ["skopeo", "copy", "--quiet", "--dest-tls-verify=false"]
        if all_images:
            args.append("--all")
        if self.ca:
            args = ["skopeo", "copy", "--quiet", "--dest-cert-dir",
                    self._certdir()] + (["--all"] if all_images else [])
        subprocess.run(args + ["oci:%s:%s" % (layout, tag),
                               "docker://%s/%s" % (self.host, name)],
                       check=True, timeout=120, capture_output=True)

    def _certdir(self):
        d = os.path.join(self.dir, "certs.d")
        os.makedirs(d, exist_ok=True)
        shutil.copy(self.ca, os.path.join(d, "ca.crt"))
        return d

    def blob_path(self, hexdigest):
        return os.path.join(self.storage, "docker", "registry", "v2", "blobs",
                            "sha256", hexdigest[:2], hexdigest, "data")

    def stop(self):
        self.proc.terminate()
        try:
            self.proc.wait(10)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
        self.log.close()


class AuthProxy:
    """An HTTP front of a registry that wants auth. mode "bearer": 401
    with a Bearer challenge; its /token wants Basic user:secret and gives
    a token the proxy then accepts. mode "basic": Basic user:secret on
    every request. Counts requests per kind in .hits."""

    def __init__(self, upstream_port, mode, user="agora", secret="s3cret"):
        self.port = free_port()
        self.host = "127.0.0.1:%d" % self.port
        self.url = "http://" + self.host
        self.mode = mode
        self.token = "tok-" + base64.b16encode(os.urandom(8)).decode()
        self.basic = "Basic " + base64.b64encode(
            ("%s:%s" % (user, secret)).encode()).decode()
        self.hits = {"token": 0, "denied": 0, "ok": 0}
        proxy = self

        class H(http.server.BaseHTTPRequestHandler):
            def log_message(self, *a):
                pass

            def _deny(self):
                proxy.hits["denied"] += 1
                self.send_response(401)
                if proxy.mode == "bearer":
                    self.send_header(
                        "WWW-Authenticate",
                        'Bearer realm="%s/token",service="test-registry",'
                        'scope="repository:busybox:pull"' % proxy.url)
                else:
                    self.send_header("WWW-Authenticate", 'Basic realm="test"')
                self.send_header("Content-Length", "0")
                self.end_headers()

            def do_GET(self):
                auth = self.headers.get("Authorization", "")
                if self.path.startswith("/token"):
                    if auth != proxy.basic:
                        return self._deny()
                    proxy.hits["token"] += 1
                    body = json.dumps({"token": proxy.token}).encode()
                    self.send_response(200)
                    self.send_header("Content-Type", "application/json")
                    self.send_header("Content-Length", str(len(body)))
                    self.end_headers()
                    self.wfile.write(body)
                    return
                want = ("Bearer " + proxy.token if proxy.mode == "bearer"
                        else proxy.basic)
                if auth != want:
                    return self._deny()
                proxy.hits["ok"] += 1
                c = http.client.HTTPConnection("127.0.0.1", upstream_port,
                                               timeout=30)
                hdrs = {k: v for k, v in self.headers.items()
                        if k.lower() in ("accept",)}
                c.request("GET", self.path, headers=hdrs)
                r = c.getresponse()
                body = r.read()
                self.send_response(r.status)
                for k, v in r.getheaders():
                    if k.lower() in ("content-type", "docker-content-digest"):
                        self.send_header(k, v)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)
                c.close()

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", self.port), H)
        self.thread = threading.Thread(target=self.server.serve_forever,
                                       daemon=True)
        self.thread.start()

    def stop(self):
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def test_layout(tmp_path):
    """The test image as an OCI layout: (dir, digests)."""
    d = str(tmp_path / "layout")
    return d, write_oci_layout(d)


@pytest.fixture
def registry(tmp_path, test_layout):
    """A plain-HTTP registry holding the test image as busybox:1."""
    r = Registry(tmp_path / "registry")
    r.push_layout(test_layout[0], "1", "busybox:1")
    r.layout = test_layout
    yield r
    r.stop()


@pytest.fixture
def tls_registry(tmp_path, test_layout):
    """An HTTPS registry (a CA made here) holding busybox:1."""
    r = Registry(tmp_path / "tls-registry", tls=True)
    r.push_layout(test_layout[0], "1", "busybox:1")
    r.layout = test_layout
    yield r
    r.stop()
