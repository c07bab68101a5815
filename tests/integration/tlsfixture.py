"""tlsfixture.py - a throwaway PKI and small HTTP(S) servers and proxies
for the HTTP client tests. Python 3 standard library plus the openssl
command.

  Pki(dir)          a test CA, a second unrelated CA, and leaf certificates
                    made with openssl: "localhost" (EC), "localhost" (RSA),
                    "other.example" (for name mismatches), an expired one
  OriginServer      a threaded HTTP/1.1 server on 127.0.0.1 (TLS optional)
                    with canned routes: /hello, /chunked, /close, /big,
                    /redirect/N, /loop, /truncated, /stall, /echo, ...
  ConnectProxy      a threaded proxy: CONNECT tunnels, and absolute-form
                    http requests answered by the proxy itself; it records
                    every request line and Proxy-Authorization it saw
"""

import hashlib
import http.server
import json
import os
import select
import socket
import socketserver
import ssl
import subprocess
import threading
import time

BIG_SIZE = 5 * 1024 * 1024


def big_body():
    """5 MB of deterministic, non-repeating-looking bytes."""
    out = bytearray()
    block = hashlib.sha256(b"sandbox-agent").digest()
    while len(out) < BIG_SIZE:
        block = hashlib.sha256(block).digest()
        out += block * 64
    return bytes(out[:BIG_SIZE])


BIG = big_body()
BIG_SHA256 = hashlib.sha256(BIG).hexdigest()


def _openssl(*args, cwd):
    subprocess.run(["openssl"] + list(args), cwd=cwd, check=True,
                   stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)


class Pki:
    """Certificates in dir: ca.pem, wrongca.pem, localhost.{pem,key},
    localhost-rsa.{pem,key}, other.{pem,key}, expired.{pem,key} (valid
    until the day before it was made), bundle.pem (wrongca + ca)."""

    def __init__(self, d):
        self.dir = d
        self._ca("ca", "Sandbox Test CA")
        self._ca("wrongca", "Unrelated Test CA")
        self._leaf("localhost", "ca", "DNS:localhost", rsa=False)
        self._leaf("localhost-rsa", "ca", "DNS:localhost", rsa=True)
        self._leaf("other", "ca", "DNS:other.example", rsa=False)
        self._leaf("expired", "ca", "DNS:localhost", rsa=False, days="-1")
        with open(self.path("bundle.pem"), "w") as out:
            for name in ("wrongca.pem", "ca.pem"):
                with open(self.path(name)) as f:
                    out.write(f.read())

    def path(self, name):
        return os.path.join(self.dir, name)

    def _ca(self, name, cn):
        _openssl("req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256",
                 "-nodes", "-keyout", name + ".key", "-out", name + ".pem", "-days", "3650",
                 "-subj", "/CN=" + cn,
                 "-addext", "basicConstraints=critical,CA:TRUE",
                 "-addext", "keyUsage=critical,keyCertSign,cRLSign", cwd=self.dir)

    def _leaf(self, name, ca, san, rsa, days="3650"):
        key = ["-newkey", "rsa:2048"] if rsa else ["-newkey", "ec", "-pkeyopt",
                                                  "ec_paramgen_curve:P-256"]
        _openssl("req", *key, "-nodes", "-keyout", name + ".key", "-out", name + ".csr",
                 "-subj", "/CN=" + san.split(":", 1)[1], cwd=self.dir)
        with open(self.path(name + ".ext"), "w") as f:
            f.write("subjectAltName=%s\nbasicConstraints=CA:FALSE\n"
                    "extendedKeyUsage=serverAuth\n" % san)
        _openssl("x509", "-req", "-in", name + ".csr", "-CA", ca + ".pem", "-CAkey", ca + ".key",
                 "-CAcreateserial", "-out", name + ".pem", "-days", days,
                 "-extfile", name + ".ext", cwd=self.dir)

    def server_context(self, leaf="localhost"):
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        ctx.load_cert_chain(self.path(leaf + ".pem"), self.path(leaf + ".key"))
        return ctx


# ------------------------------------------------------------ origin server

class _Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, fmt, *args):
        pass

    def _send(self, code, body, ctype="text/plain", extra=()):
        self.send_response(code)
        self.send_header("Content-Type", ctype)
        self.send_header("Content-Length", str(len(body)))
        for k, v in extra:
            self.send_header(k, v)
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(body)
        self.wfile.flush()

    def _raw(self, data):
        self.wfile.write(data)
        self.wfile.flush()

    def do_HEAD(self):
        self.do_GET()

    def do_POST(self):
        n = int(self.headers.get("Content-Length") or 0)
        data = self.rfile.read(n) if n else b""
        self.server.owner.seen.append((self.command, self.path, dict(self.headers.items())))
        if self.path.startswith("/see-other"):
            self._send(303, b"", extra=[("Location", "/echo")])
            return
        if self.path.startswith("/temp-redirect"):
            self._send(307, b"", extra=[("Location", "/echo")])
            return
        self._send(200, json.dumps({"method": self.command, "body": data.decode()}).encode(),
                   "application/json")

    def do_GET(self):
        owner = self.server.owner
        owner.seen.append((self.command, self.path, dict(self.headers.items())))
        p = self.path
        if p == "/hello":
            self._send(200, b"hello world\n")
        elif p == "/empty":
            self._send(204, b"")
        elif p == "/notfound":
            self._send(404, b"no such thing\n")
        elif p == "/echo" or p.startswith("/echo?"):
            body = json.dumps({"method": self.command, "path": p,
                               "headers": dict(self.headers.items())}).encode()
            self._send(200, body, "application/json")
        elif p == "/chunked":
            self.send_response(200)
            self.send_header("Transfer-Encoding", "chunked")
            self.end_headers()
            for part in (b"first ", b"second ", b"x" * 5000, b" last\n"):
                self._raw(b"%x\r\n%s\r\n" % (len(part), part))
                time.sleep(0.01)
            self._raw(b"0\r\nX-Trailer: yes\r\n\r\n")
        elif p == "/close":
            # HTTP/1.0 style: no length, the body ends with the connection
            self.close_connection = True
            self._raw(b"HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\n"
                      b"Connection: close\r\n\r\n")
            for i in range(3):
                self._raw(b"line %d\n" % i)
                time.sleep(0.01)
        elif p == "/big":
            self._send(200, BIG, "application/octet-stream")
        elif p == "/big-chunked":
            self.send_response(200)
            self.send_header("Transfer-Encoding", "chunked")
            self.end_headers()
            step = 65521
            for i in range(0, len(BIG), step):
                part = BIG[i:i + step]
                self._raw(b"%x\r\n%s\r\n" % (len(part), part))
            self._raw(b"0\r\n\r\n")
        elif p.startswith("/redirect/"):
            n = int(p.rsplit("/", 1)[1])
            if n == 0:
                self._send(200, b"redirects done\n")
            else:
                self._send(302, b"moved\n", extra=[("Location", "/redirect/%d" % (n - 1))])
        elif p == "/rel":
            self._send(301, b"", extra=[("Location", "sub/../hello")])
        elif p.startswith("/to?"):
            # /to?URL: an absolute redirect anywhere
            self._send(302, b"", extra=[("Location", p[4:])])
        elif p == "/loop":
            self._send(302, b"", extra=[("Location", "/loop")])
        elif p == "/truncated":
            self.close_connection = True
            self._raw(b"HTTP/1.1 200 OK\r\nContent-Length: 1000\r\n\r\n" + b"y" * 100)
        elif p == "/truncated-chunked":
            self.close_connection = True
            self._raw(b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n"
                      b"5\r\nhello\r\n")
        elif p == "/stall":
            self._raw(b"HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\nabc")
            owner.stop_event.wait(30)
        elif p == "/stall-head":
            owner.stop_event.wait(30)
        else:
            self._send(404, b"unknown route\n")


class _Threaded(socketserver.ThreadingMixIn, http.server.HTTPServer):
    daemon_threads = True
    allow_reuse_address = True

    def handle_error(self, request, client_address):
        pass  # refused handshakes and resets are expected in these tests


class _Threaded6(_Threaded):
    address_family = socket.AF_INET6


class OriginServer:
    """HTTP/1.1 server on 127.0.0.1:<port> (or ::1); TLS when ctx is given."""

    def __init__(self, ctx=None, host="127.0.0.1"):
        self.seen = []
        self.stop_event = threading.Event()
        cls = _Threaded6 if ":" in host else _Threaded
        self.httpd = cls((host, 0), _Handler)
        self.httpd.owner = self
        if ctx is not None:
            # handshakes run in the handler threads, not in accept()
            self.httpd.socket = ctx.wrap_socket(self.httpd.socket, server_side=True,
                                                do_handshake_on_connect=False)
        self.port = self.httpd.server_address[1]
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)
        self.thread.start()

    def stop(self):
        self.stop_event.set()
        self.httpd.shutdown()
        self.httpd.server_close()


# ------------------------------------------------------------------ proxy

class ConnectProxy:
    """A tiny forward proxy: CONNECT host:port tunnels to 127.0.0.1:port
    (any host name is sent to loopback, so names need no DNS); an
    absolute-form request gets a 200 from the proxy itself, whose body
    names the request line. self.seen holds (request line, headers)."""

    def __init__(self, require_auth=None):
        self.seen = []
        self.require_auth = require_auth
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(16)
        self.port = self.sock.getsockname()[1]
        self.stopped = False
        self.thread = threading.Thread(target=self._accept, daemon=True)
        self.thread.start()

    def stop(self):
        self.stopped = True
        try:
            self.sock.close()
        except OSError:
            pass

    def _accept(self):
        while not self.stopped:
            try:
                c, _ = self.sock.accept()
            except OSError:
                return
            threading.Thread(target=self._serve, args=(c,), daemon=True).start()

    def _serve(self, c):
        try:
            c.settimeout(10)
            head = b""
            while b"\r\n\r\n" not in head:
                d = c.recv(4096)
                if not d:
                    return
                head += d
            text = head.split(b"\r\n\r\n", 1)[0].decode("latin-1")
            lines = text.split("\r\n")
            hdrs = {}
            for ln in lines[1:]:
                k, _, v = ln.partition(":")
                hdrs[k.strip().lower()] = v.strip()
            self.seen.append((lines[0], hdrs))
            if self.require_auth and hdrs.get("proxy-authorization") != self.require_auth:
                c.sendall(b"HTTP/1.1 407 Proxy Authentication Required\r\n"
                          b"Proxy-Authenticate: Basic realm=\"t\"\r\nContent-Length: 0\r\n\r\n")
                return
            method, target, _ = lines[0].split(" ", 2)
            if method == "CONNECT":
                port = int(target.rsplit(":", 1)[1])
                up = socket.create_connection(("127.0.0.1", port), timeout=10)
                c.sendall(b"HTTP/1.1 200 Connection established\r\n\r\n")
                self._pipe(c, up)
                up.close()
            else:
                body = ("proxied %s\n" % lines[0]).encode()
                c.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: %d\r\n\r\n%s" % (len(body), body))
        except OSError:
            pass
        finally:
            c.close()

    @staticmethod
    def _pipe(a, b):
        socks = [a, b]
        while True:
            r, _, _ = select.select(socks, [], [], 10)
            if not r:
                return
            for s in r:
                d = s.recv(65536)
                if not d:
                    return
                (b if s is a else a).sendall(d)
