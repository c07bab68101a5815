"""installfixture.py - a local HTTPS world for the install tests: a test
CA (openssl CLI), an HTTPS server on 127.0.0.1 (name "localhost")
serving fake release artifacts and a fake npm registry, and a tiny
CONNECT proxy. Python 3 standard library plus the openssl command.

    with InstallWorld() as w:
        w.route("/x", body=b"...", chunked=True)
        w.url("/x")            -> "https://localhost:PORT/x"
        w.ca_file              -> PEM of the CA that signed the server
        w.other_ca_file        -> PEM of an unrelated CA
        w.hits["/x"]           -> number of GETs served for /x

Route options: body, status, headers, chunked (Transfer-Encoding:
chunked), truncate (announce the whole length, send half, close),
stall (send the headers and a few bytes, then nothing for that many
seconds), redirect (Location), delay (seconds before answering).
"""

import base64
import gzip
import hashlib
import io
import json
import os
import platform
import select
import shutil
import socket
import ssl
import subprocess
import tarfile
import tempfile
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


def fake_exe(name, version):
    """A tiny executable that answers --version like the real CLIs."""
    return ("#!/bin/sh\n"
            "case \"$1\" in --version|version|-V) echo '%s (fake %s)'; exit 0;; esac\n"
            "echo 'fake %s'\n" % (version, name, name)).encode()


def targz(members):
    """members: list of (name, bytes | None for a directory, mode[, type, linkname])."""
    raw = io.BytesIO()
    with tarfile.open(fileobj=raw, mode="w", format=tarfile.PAX_FORMAT) as tf:
        for m in members:
            name, data, mode = m[0], m[1], m[2]
            ti = tarfile.TarInfo(name)
            ti.mode = mode
            ti.mtime = 1700000000
            if len(m) > 3:
                ti.type = m[3]
                ti.linkname = m[4]
                tf.addfile(ti)
            elif data is None:
                ti.type = tarfile.DIRTYPE
                tf.addfile(ti)
            else:
                ti.size = len(data)
                tf.addfile(ti, io.BytesIO(data))
    return gzip.compress(raw.getvalue(), 6, mtime=0)


def sri512(data):
    return "sha512-" + base64.b64encode(hashlib.sha512(data).digest()).decode()


def machine():
    """(os_arch, rust target) of this machine as the installer names them."""
    m = platform.machine()
    arm = m in ("aarch64", "arm64")
    return ("linux-arm64" if arm else "linux-x64",
            "aarch64-unknown-linux-musl" if arm else "x86_64-unknown-linux-musl")


def _openssl(*args, cwd):
    subprocess.run(["openssl"] + list(args), cwd=cwd, check=True,
                   stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


def make_ca(d, name):
    """CA key+cert (P-256) and a server cert for DNS:localhost."""
    _openssl("ecparam", "-name", "prime256v1", "-genkey", "-noout", "-out", name + "-ca.key", cwd=d)
    _openssl("req", "-x509", "-new", "-key", name + "-ca.key", "-days", "2", "-subj",
             "/CN=%s test CA" % name, "-addext", "basicConstraints=critical,CA:TRUE",
             "-addext", "keyUsage=critical,keyCertSign,cRLSign",
             "-out", name + "-ca.pem", cwd=d)
    _openssl("ecparam", "-name", "prime256v1", "-genkey", "-noout", "-out", name + "-srv.key", cwd=d)
    _openssl("req", "-new", "-key", name + "-srv.key", "-subj", "/CN=localhost",
             "-out", name + "-srv.csr", cwd=d)
    with open(os.path.join(d, name + "-ext.cnf"), "w") as f:
        f.write("subjectAltName=DNS:localhost\nbasicConstraints=CA:FALSE\n"
                "extendedKeyUsage=serverAuth\n")
    _openssl("x509", "-req", "-in", name + "-srv.csr", "-CA", name + "-ca.pem", "-CAkey",
             name + "-ca.key", "-CAcreateserial", "-days", "2", "-extfile", name + "-ext.cnf",
             "-out", name + "-srv.pem", cwd=d)
    return (os.path.join(d, name + "-ca.pem"), os.path.join(d, name + "-srv.pem"),
            os.path.join(d, name + "-srv.key"))


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, *a):
        pass

    def do_GET(self):
        w = self.server.world
        path = self.path.split("?")[0]
        with w.lock:
            w.hits[path] = w.hits.get(path, 0) + 1
            w.requests.append((path, dict(self.headers)))
            r = w.routes.get(path)
        if r is None:
            self._send(404, b"not found\n", {})
            return
        if r.get("delay"):
            time.sleep(r["delay"])
        if r.get("redirect"):
            self._send(r.get("status", 302), b"", {"Location": r["redirect"]})
            return
        body = r.get("body", b"")
        hdrs = dict(r.get("headers", {}))
        status = r.get("status", 200)
        try:
            if r.get("chunked"):
                self.send_response(status)
                for k, v in hdrs.items():
                    self.send_header(k, v)
                self.send_header("Transfer-Encoding", "chunked")
                self.end_headers()
                step = 7919
                for i in range(0, len(body), step):
                    part = body[i:i + step]
                    self.wfile.write(b"%x\r\n%s\r\n" % (len(part), part))
                self.wfile.write(b"0\r\n\r\n")
            elif r.get("truncate"):
                self.send_response(status)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body[:len(body) // 2])
                self.wfile.flush()
                self.close_connection = True
            elif r.get("stall"):
                self.send_response(status)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body[:16])
                self.wfile.flush()
                time.sleep(r["stall"])
                self.close_connection = True
            else:
                self._send(status, body, hdrs)
        except (BrokenPipeError, ConnectionResetError, ssl.SSLError, OSError):
            self.close_connection = True

    def _send(self, status, body, hdrs):
        self.send_response(status)
        for k, v in hdrs.items():
            self.send_header(k, v)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)


class _TLSServer(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True

    def get_request(self):
        sock, addr = super().get_request()
        sock.settimeout(30)
        return self.ctx.wrap_socket(sock, server_side=True), addr

    def handle_error(self, request, client_address):
        pass  # refused handshakes (wrong CA tests) are expected


class Proxy:
    """A CONNECT-only HTTP proxy on 127.0.0.1; records the targets."""

    def __init__(self):
        self.sock = socket.socket()
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(16)
        self.port = self.sock.getsockname()[1]
        self.targets = []
        self.stopped = False
        threading.Thread(target=self._accept, daemon=True).start()

    def url(self):
        return "http://127.0.0.1:%d" % self.port

    def _accept(self):
        while not self.stopped:
            try:
                c, _ = self.sock.accept()
            except OSError:
                return
            threading.Thread(target=self._serve, args=(c,), daemon=True).start()

    def _serve(self, c):
        try:
            data = b""
            while b"\r\n\r\n" not in data:
                chunk = c.recv(4096)
                if not chunk:
                    return
                data += chunk
            line = data.split(b"\r\n", 1)[0].decode()
            method, target, _ = line.split(" ", 2)
            if method != "CONNECT":
                c.sendall(b"HTTP/1.1 405 Method Not Allowed\r\nContent-Length: 0\r\n\r\n")
                return
            self.targets.append(target)
            host, port = target.rsplit(":", 1)
            up = socket.create_connection(("127.0.0.1" if host == "localhost" else host, int(port)))
            c.sendall(b"HTTP/1.1 200 Connection established\r\n\r\n")
            rest = data.split(b"\r\n\r\n", 1)[1]
            if rest:
                up.sendall(rest)
            socks = [c, up]
            while True:
                r, _, _ = select.select(socks, [], [], 30)
                if not r:
                    return
                for s in r:
                    b = s.recv(65536)
                    if not b:
                        return
                    (up if s is c else c).sendall(b)
        except OSError:
            pass
        finally:
            c.close()

    def close(self):
        self.stopped = True
        self.sock.close()


class InstallWorld:
    def __init__(self):
        self.dir = tempfile.mkdtemp(prefix="sa-install-")
        self.ca_file, cert, key = make_ca(self.dir, "test")
        self.other_ca_file, _, _ = make_ca(self.dir, "other")
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        ctx.load_cert_chain(cert, key)
        self.httpd = _TLSServer(("127.0.0.1", 0), _Handler)
        self.httpd.ctx = ctx
        self.httpd.world = self
        self.port = self.httpd.server_address[1]
        self.routes = {}
        self.hits = {}
        self.requests = []
        self.lock = threading.Lock()
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)
        self.thread.start()

    def url(self, path=""):
        return "https://localhost:%d%s" % (self.port, path)

    def route(self, path, **opts):
        with self.lock:
            self.routes[path] = opts

    def hits_of(self, path):
        with self.lock:
            return self.hits.get(path, 0)

    def close(self):
        self.httpd.shutdown()
        self.httpd.server_close()
        shutil.rmtree(self.dir, ignore_errors=True)

    def __enter__(self):
        return self

    def __exit__(self, *a):
        self.close()

    # -- a fake npm registry under /npm

    def registry(self):
        return self.url("/npm/")

    def npm_package(self, name, versions, latest):
        """versions: {version: {"tarball": bytes | None, "integrity": str | None,
        "optionalDependencies": {...}, "bin": ...}}. Tarballs are served
        under /npm/tgz/."""
        vs = {}
        for v, spec in versions.items():
            meta = {"name": name, "version": v}
            for k in ("optionalDependencies", "bin"):
                if k in spec:
                    meta[k] = spec[k]
            if spec.get("tarball") is not None:
                tpath = "/npm/tgz/%s-%s.tgz" % (name.replace("/", "_"), v)
                self.route(tpath, body=spec["tarball"], chunked=spec.get("chunked", False))
                meta["dist"] = {"tarball": self.url(tpath),
                                "integrity": spec.get("integrity") or sri512(spec["tarball"]),
                                "shasum": hashlib.sha1(spec["tarball"]).hexdigest()}
            vs[v] = meta
        doc = {"name": name, "dist-tags": {"latest": latest}, "versions": vs}
        self.route("/npm/" + name.replace("/", "%2f"), body=json.dumps(doc).encode(),
                   headers={"Content-Type": "application/vnd.npm.install-v1+json"})
