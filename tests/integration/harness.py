"""harness.py - start sandbox-agent servers and talk to them for the
integration tests. Python 3 standard library only.

Environment:
  SANDBOX_AGENT_BIN        absolute path of the binary under test
  SANDBOX_AGENT_TEST_MODE  "rel" or "san" (sanitizer build: timeouts x3)

Main pieces:
  Server          one server process on a free 127.0.0.1 port, with a fresh
                  HOME; request()/json()/raw()/sse() helpers; stop()
  ServerTestCase  unittest base class sharing one Server per class and
                  checking after every test that it is still alive
  RawConn         a raw socket with an HTTP/1.1 response reader (keep-alive,
                  pipelining, chunked, streaming)
  run_cli()       run the binary to completion with the same hermetic env
  count_fds(), child_pids()
"""

import atexit
import base64
import http.client
import json as jsonlib
import os
import shutil
import signal
import socket
import subprocess
import tempfile
import time
import unittest

BIN = os.environ.get("SANDBOX_AGENT_BIN", "")
MODE = os.environ.get("SANDBOX_AGENT_TEST_MODE", "rel")
SCALE = 3.0 if MODE == "san" else 1.0

VERSION = "0.1.11"
MAX_BODY = 2 * 1024 * 1024

SERVER_INFO = (
    "This is a Sandbox Agent server. Available endpoints:\n"
    "- GET  /           - Server info\n"
    "- GET  /v1/health  - Health check\n"
    "- GET  /ui/        - Inspector UI\n"
    "\n"
    "See https://sandboxagent.dev for API documentation."
)

TOKEN_INVALID = {
    "type": "urn:sandbox-agent:error:token_invalid",
    "title": "Token Invalid",
    "status": 401,
    "detail": "token invalid",
    "details": {"message": "missing or invalid token"},
}

SANITIZER_MARKS = (
    "ERROR: AddressSanitizer",
    "ERROR: LeakSanitizer",
    "runtime error:",
    "ERROR: UndefinedBehaviorSanitizer",
)

_live_servers = []


def scaled(seconds):
    """A timeout adjusted for the build mode."""
    return seconds * SCALE


def _kill_leftovers():
    for s in list(_live_servers):
        s._kill()


atexit.register(_kill_leftovers)


def free_port(host="127.0.0.1"):
    """A port that was free a moment ago (bind port 0, read it, close)."""
    fam = socket.AF_INET6 if ":" in host else socket.AF_INET
    s = socket.socket(fam, socket.SOCK_STREAM)
    try:
        s.bind((host, 0))
        return s.getsockname()[1]
    finally:
        s.close()


def hermetic_env(home, overrides=None):
    """The process environment for the binary: our own HOME and data
    dir, warn-level logs kept on stdio, nothing from a caller's
    SANDBOX_AGENT_* settings or agent credentials."""
    env = {}
    for k, v in os.environ.items():
        if k.startswith("SANDBOX_AGENT_") or k.startswith("SANDBOX_TEST_"):
            continue
        if k in ("ANTHROPIC_API_KEY", "CLAUDE_API_KEY", "CLAUDE_CODE_OAUTH_TOKEN",
                 "ANTHROPIC_AUTH_TOKEN", "OPENAI_API_KEY", "CODEX_API_KEY",
                 "RUST_LOG", "XDG_DATA_HOME", "HOME"):
            continue
        env[k] = v
    env["HOME"] = home
    env["XDG_DATA_HOME"] = os.path.join(home, ".local", "share")
    env["SANDBOX_AGENT_LOG"] = "warn"
    env["SANDBOX_AGENT_LOG_STDOUT"] = "1"
    env["SANDBOX_AGENT_LOG_HTTP"] = "0"
    if MODE == "san":
        env.setdefault("ASAN_OPTIONS", "abort_on_error=0:detect_leaks=1")
        env.setdefault("UBSAN_OPTIONS", "print_stacktrace=1:halt_on_error=1")
    if overrides:
        for k, v in overrides.items():
            if v is None:
                env.pop(k, None)
            else:
                env[k] = v
    return env


def require_bin():
    if not BIN:
        raise AssertionError("SANDBOX_AGENT_BIN is not set")
    if not os.path.isfile(BIN) or not os.access(BIN, os.X_OK):
        raise AssertionError("binary under test not found or not executable: %r" % BIN)


def run_cli(args, timeout=10, env=None, input=None, cwd=None):
    """Runs the binary to completion. Returns (rc, stdout, stderr) as str.
    A process still running after timeout is killed and reported as an
    AssertionError (the command was expected to exit)."""
    require_bin()
    home = tempfile.mkdtemp(prefix="sa-cli-")
    try:
        p = subprocess.run([BIN] + list(args), env=hermetic_env(home, env),
                           input=input, capture_output=True,
                           cwd=cwd or home, timeout=scaled(timeout))
    except subprocess.TimeoutExpired as e:
        raise AssertionError("%r did not exit within %ss; stdout=%r stderr=%r"
                             % (args, scaled(timeout), e.stdout, e.stderr))
    finally:
        shutil.rmtree(home, ignore_errors=True)
    return (p.returncode, p.stdout.decode("utf-8", "replace"),
            p.stderr.decode("utf-8", "replace"))


# ---------------------------------------------------------------- /proc

def count_fds(pid):
    """Number of open file descriptors of pid."""
    return len(os.listdir("/proc/%d/fd" % pid))


def child_pids(pid):
    """Pids whose parent is pid (direct children, zombies included)."""
    out = []
    for d in os.listdir("/proc"):
        if not d.isdigit():
            continue
        try:
            with open("/proc/%s/stat" % d, "rb") as f:
                st = f.read()
        except OSError:
            continue
        # comm may contain spaces and parentheses: split after the last ')'
        rest = st[st.rfind(b")") + 2:].split()
        if len(rest) >= 2 and int(rest[1]) == pid:
            out.append(int(d))
    return out


def proc_state(pid):
    """Single-letter state from /proc/<pid>/stat, or None if gone."""
    try:
        with open("/proc/%d/stat" % pid, "rb") as f:
            st = f.read()
    except OSError:
        return None
    return st[st.rfind(b")") + 2:].split()[0].decode()


# ---------------------------------------------------------------- raw HTTP

class RawResponse:
    def __init__(self, version, status, reason, headers, header_list, body):
        self.version = version
        self.status = status
        self.reason = reason
        self.headers = headers          # lowercase name -> last value
        self.header_list = header_list  # [(lowercase name, value)] in order
        self.body = body

    def header_all(self, name):
        return [v for k, v in self.header_list if k == name.lower()]

    def json(self):
        return jsonlib.loads(self.body.decode("utf-8"))

    def __repr__(self):
        return "<RawResponse %s %d %r %r>" % (self.version, self.status,
                                               self.headers, self.body[:200])


class ConnClosed(Exception):
    """The peer closed (or reset) the connection before a full response."""


class RawConn:
    """A TCP connection to the server with a small HTTP/1.x response
    reader. All reads honour the timeout; closes and resets are reported
    as ConnClosed."""

    def __init__(self, port, host="127.0.0.1", timeout=10):
        self.timeout = scaled(timeout)
        fam = socket.AF_INET6 if ":" in host else socket.AF_INET
        self.sock = socket.socket(fam, socket.SOCK_STREAM)
        self.sock.settimeout(self.timeout)
        self.sock.connect((host, port))
        self.buf = b""
        self.eof = False
        self.deadline = None

    def close(self):
        try:
            self.sock.close()
        except OSError:
            pass

    def __enter__(self):
        return self

    def __exit__(self, *a):
        self.close()

    def send(self, data):
        """sendall, but a peer that already closed is not an error here:
        returns False if the write failed with EPIPE/ECONNRESET."""
        if isinstance(data, str):
            data = data.encode("latin-1")
        try:
            self.sock.sendall(data)
            return True
        except (BrokenPipeError, ConnectionResetError):
            return False

    def _fill(self, deadline=None):
        """Reads more bytes into buf. Returns False at EOF/reset."""
        if self.eof:
            return False
        if deadline is not None:
            left = deadline - time.monotonic()
            if left <= 0:
                raise socket.timeout("deadline passed")
            self.sock.settimeout(left)
        try:
            chunk = self.sock.recv(65536)
        except ConnectionResetError:
            chunk = b""
        finally:
            if deadline is not None:
                self.sock.settimeout(self.timeout)
        if not chunk:
            self.eof = True
            return False
        self.buf += chunk
        return True

    def _line(self):
        while True:
            i = self.buf.find(b"\n")
            if i >= 0:
                line, self.buf = self.buf[:i + 1], self.buf[i + 1:]
                return line
            if not self._fill():
                raise ConnClosed("closed while reading a line; have %r" % self.buf[:200])

    def _exact(self, n):
        while len(self.buf) < n:
            if not self._fill():
                raise ConnClosed("closed with %d of %d body bytes" % (len(self.buf), n))
        out, self.buf = self.buf[:n], self.buf[n:]
        return out

    def read_head(self):
        """Reads a status line and headers. Returns
        (version, status, reason, headers_dict, header_list)."""
        line = self._line()
        parts = line.rstrip(b"\r\n").split(b" ", 2)
        if len(parts) < 2 or not parts[0].startswith(b"HTTP/"):
            raise AssertionError("bad status line %r (buffer %r)" % (line, self.buf[:200]))
        version = parts[0].decode()
        status = int(parts[1])
        reason = parts[2].decode("latin-1") if len(parts) > 2 else ""
        headers, hlist = {}, []
        while True:
            h = self._line().rstrip(b"\r\n")
            if not h:
                break
            k, _, v = h.partition(b":")
            k = k.decode("latin-1").strip().lower()
            v = v.decode("latin-1").strip()
            hlist.append((k, v))
            headers[k] = v
        return version, status, reason, headers, hlist

    def read_response(self, head=False, allow_interim=False):
        """Reads one complete response. Interim 1xx responses are skipped
        unless allow_interim (then a 1xx is returned as is). head=True
        for a response to HEAD (no body whatever the headers say)."""
        while True:
            version, status, reason, headers, hlist = self.read_head()
            if 100 <= status < 200 and status != 101 and not allow_interim:
                continue
            break
        if head or status in (204, 304) or 100 <= status < 200:
            body = b""
        elif "chunked" in headers.get("transfer-encoding", "").lower():
            body = b"".join(self._chunks())
        elif "content-length" in headers:
            body = self._exact(int(headers["content-length"]))
        else:
            while self._fill():
                pass
            body, self.buf = self.buf, b""
        return RawResponse(version, status, reason, headers, hlist, body)

    def _chunks(self):
        while True:
            size_line = self._line().strip()
            size = int(size_line.split(b";")[0], 16)
            if size == 0:
                while self._line().strip():
                    pass
                return
            yield self._exact(size)
            self._line()

    def stream_body(self, headers):
        """Yields body bytes as they arrive (chunked or close-delimited).
        Reads honour self.deadline (monotonic seconds) when set."""
        chunked = "chunked" in headers.get("transfer-encoding", "").lower()
        if not chunked:
            while True:
                if self.buf:
                    out, self.buf = self.buf, b""
                    yield out
                if not self._fill(self.deadline):
                    return
        while True:
            while b"\n" not in self.buf:
                if not self._fill(self.deadline):
                    return
            size_line, _, self.buf = self.buf.partition(b"\n")
            size = int(size_line.strip().split(b";")[0], 16)
            if size == 0:
                return
            while size > 0:
                if not self.buf and not self._fill(self.deadline):
                    return
                n = min(size, len(self.buf))
                out, self.buf = self.buf[:n], self.buf[n:]
                size -= n
                yield out
            while len(self.buf) < 2:
                if not self._fill(self.deadline):
                    return
            self.buf = self.buf[2:]

    def read_all(self, timeout=None):
        """Everything until EOF/reset, or until timeout (then returns what
        arrived and sets self.eof False)."""
        deadline = time.monotonic() + (scaled(timeout) if timeout else self.timeout)
        try:
            while self._fill(deadline):
                pass
        except socket.timeout:
            pass
        out, self.buf = self.buf, b""
        return out

    def is_closed(self, timeout=2):
        """True if the peer closes (EOF or reset) within timeout seconds
        with no further data; False if it stays open. Data arriving
        instead is an AssertionError."""
        deadline = time.monotonic() + scaled(timeout)
        try:
            while True:
                if not self._fill(deadline):
                    if self.buf:
                        raise AssertionError("unexpected bytes before close: %r" % self.buf[:200])
                    return True
                if self.buf:
                    raise AssertionError("unexpected bytes on idle connection: %r" % self.buf[:200])
        except socket.timeout:
            return False


def parse_raw_response(data):
    """Parses one response out of bytes (as read by Server.raw). Returns
    (RawResponse, rest) or raises AssertionError."""
    c = RawConn.__new__(RawConn)
    c.buf = data
    c.eof = True
    c.sock = None
    c.timeout = 0
    try:
        r = c.read_response()
    except ConnClosed as e:
        raise AssertionError("truncated response in %r: %s" % (data[:300], e))
    return r, c.buf


# ---------------------------------------------------------------- SSE

class SSEEvent:
    def __init__(self, data, event_id=None, event=None):
        self.raw = data
        self.id = event_id
        self.event = event
        try:
            self.data = jsonlib.loads(data)
        except ValueError:
            self.data = data

    def __repr__(self):
        return "<SSEEvent id=%r %r>" % (self.id, self.raw[:200])


class SSEStream:
    """An open text/event-stream response. Iterating yields the parsed
    JSON of each event's data (str if not JSON); events() yields SSEEvent
    objects. Waiting longer than timeout for an event raises
    socket.timeout; the end of the stream ends the iteration."""

    def __init__(self, conn, status, headers, body, timeout):
        self.conn = conn
        self.status = status
        self.headers = headers
        self.body = body  # for non-200 answers: the whole body
        self.timeout = timeout
        self.last_id = None
        self.comments = 0
        self._text = b""
        self._gen = None

    def close(self):
        self.conn.close()

    def __enter__(self):
        return self

    def __exit__(self, *a):
        self.close()

    def _lines(self):
        body = self.conn.stream_body(self.headers)
        while True:
            i = self._text.find(b"\n")
            if i >= 0:
                line, self._text = self._text[:i], self._text[i + 1:]
                yield line[:-1] if line.endswith(b"\r") else line
                continue
            # each wait for more bytes gets the full timeout
            self.conn.deadline = time.monotonic() + self.timeout
            try:
                piece = next(body, None)
            finally:
                self.conn.deadline = None
            if piece is None:
                return
            self._text += piece

    def events(self):
        if self._gen is None:
            self._gen = self._events()
        return self._gen

    def _events(self):
        data, eid, ev = [], None, None
        for line in self._lines():
            line = line.decode("utf-8")
            if line == "":
                if data:
                    if eid is not None:
                        self.last_id = eid
                    yield SSEEvent("\n".join(data), eid, ev)
                data, eid, ev = [], None, None
                continue
            if line.startswith(":"):
                self.comments += 1
                continue
            field, _, value = line.partition(":")
            if value.startswith(" "):
                value = value[1:]
            if field == "data":
                data.append(value)
            elif field == "id":
                eid = value
            elif field == "event":
                ev = value

    def __iter__(self):
        for e in self.events():
            yield e.data

    def wait_closed(self, timeout=2):
        """True if the stream ends (terminating chunk, EOF or reset)
        within timeout seconds (scaled); events arriving meanwhile are
        consumed and kept in self.trailing."""
        self.trailing = []
        saved, self.timeout = self.timeout, scaled(timeout)
        deadline = time.monotonic() + scaled(timeout)
        try:
            for e in self.events():
                self.trailing.append(e)
                if time.monotonic() > deadline:
                    return False
            return True
        except socket.timeout:
            return False
        finally:
            self.timeout = saved

    def next(self):
        """The next event's data; raises StopIteration at end of stream."""
        return next(self.events()).data

    def take(self, n):
        """The next n events' data."""
        out = []
        it = self.events()
        for _ in range(n):
            out.append(next(it).data)
        return out


# ---------------------------------------------------------------- Server

class ServerStartError(AssertionError):
    pass


class Server:
    """A sandbox-agent server on 127.0.0.1:<free port>.

        with Server(["--token", "secret"]) as s:
            status, headers, body = s.request("GET", "/v1/health")

    On exit the process must still be alive (a crash fails the test), and
    must exit 0 within 5 s (scaled) after SIGTERM."""

    def __init__(self, extra_args=(), env=None, start=True, host="127.0.0.1",
                 preexec_fn=None, start_timeout=10, argv=None, port=None):
        """argv: optional function port -> full argument list after the
        binary (replaces the default "server --host H --port P ...").
        port: use this port instead of a free one (no retry)."""
        self.extra_args = list(extra_args)
        self.argv = argv
        self.fixed_port = port
        self.env_overrides = dict(env or {})
        self.host = host
        self.preexec_fn = preexec_fn
        self.start_timeout = start_timeout
        self.proc = None
        self.port = None
        self.home = None
        self.stderr_path = None
        self.stdout_path = None
        self.returncode = None
        if start:
            self.start()

    # -- lifecycle

    def start(self):
        require_bin()
        self.home = tempfile.mkdtemp(prefix="sa-home-")
        os.makedirs(os.path.join(self.home, ".local", "share"), exist_ok=True)
        self.workdir = os.path.join(self.home, "work")
        os.makedirs(self.workdir, exist_ok=True)
        last_err = ""
        for attempt in range(1 if self.fixed_port else 5):
            self.port = self.fixed_port or free_port(self.host)
            self.stderr_path = os.path.join(self.home, "stderr.%d.log" % attempt)
            self.stdout_path = os.path.join(self.home, "stdout.%d.log" % attempt)
            if self.argv is not None:
                args = [BIN] + list(self.argv(self.port))
            else:
                args = [BIN, "server", "--host", self.host, "--port", str(self.port)] + self.extra_args
            self.args = args
            with open(self.stderr_path, "wb") as err, open(self.stdout_path, "wb") as out:
                self.proc = subprocess.Popen(
                    args, stdin=subprocess.DEVNULL, stdout=out, stderr=err,
                    env=hermetic_env(self.home, self.env_overrides), cwd=self.workdir,
                    preexec_fn=self.preexec_fn)
            _live_servers.append(self)
            ok, why = self._wait_ready(scaled(self.start_timeout))
            if ok:
                return self
            self._kill()
            last_err = why
            text = self.stderr().lower()
            if "in use" in text or "eaddrinuse" in text or "address already" in text:
                continue  # lost the port race; try another
            break
        raise ServerStartError("server %r did not start: %s\n--- stderr:\n%s"
                               % (self.args, last_err, self.stderr()[-4000:]))

    def _wait_ready(self, timeout):
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            rc = self.proc.poll()
            if rc is not None:
                return False, "exited with %d" % rc
            try:
                c = http.client.HTTPConnection(self.host, self.port, timeout=1)
                c.request("GET", "/v1/health")
                r = c.getresponse()
                r.read()
                c.close()
                if r.status == 200:
                    return True, ""
                return False, "health answered %d" % r.status
            except (OSError, http.client.HTTPException):
                time.sleep(0.05)
        return False, "no health answer within %.1fs" % timeout

    def _kill(self):
        if self.proc and self.proc.poll() is None:
            try:
                self.proc.kill()
                self.proc.wait(5)
            except (OSError, subprocess.TimeoutExpired):
                pass
        if self in _live_servers:
            _live_servers.remove(self)

    @property
    def pid(self):
        return self.proc.pid

    def alive(self):
        return self.proc is not None and self.proc.poll() is None

    def assert_alive(self, context=""):
        if not self.alive():
            rc = self.proc.returncode if self.proc else None
            how = ("killed by signal %d" % -rc) if rc is not None and rc < 0 else ("exit %r" % rc)
            raise AssertionError("server died (%s)%s\n--- stderr:\n%s"
                                 % (how, (" " + context) if context else "",
                                    self.stderr_excerpt()))

    def stop(self, sig=signal.SIGTERM, timeout=5):
        """Sends sig and waits up to timeout (scaled) seconds. Returns the
        exit code (negative: killed by that signal), or None if the process
        did not exit in time (it is then killed)."""
        if self.proc is None:
            return None
        if self.proc.poll() is None:
            self.proc.send_signal(sig)
            try:
                self.proc.wait(scaled(timeout))
            except subprocess.TimeoutExpired:
                self._kill()
                self.returncode = None
                return None
        self.returncode = self.proc.returncode
        if self in _live_servers:
            _live_servers.remove(self)
        return self.returncode

    def close(self, check=True):
        """Teardown: checks alive, SIGTERM, exit 0 within 5 s, no
        sanitizer reports. Removes the temp HOME."""
        try:
            if check:
                self.assert_alive("before shutdown")
                rc = self.stop(signal.SIGTERM, 5)
                if rc is None:
                    raise AssertionError("server did not exit within %.0fs of SIGTERM\n%s"
                                         % (scaled(5), self.stderr_excerpt()))
                if rc != 0:
                    raise AssertionError("server exited %d after SIGTERM\n--- stderr:\n%s"
                                         % (rc, self.stderr_excerpt()))
                self.check_sanitizer()
            else:
                self.stop(signal.SIGTERM, 5)
        finally:
            self._kill()
            if self.home and not os.environ.get("SANDBOX_AGENT_TEST_KEEP"):
                shutil.rmtree(self.home, ignore_errors=True)

    def stderr_excerpt(self, limit=6000):
        """The part of stderr worth showing: a sanitizer report from its
        start if there is one, else the tail."""
        text = self.stderr()
        first = min([i for i in (text.find(m) for m in SANITIZER_MARKS) if i >= 0] or [-1])
        if first >= 0:
            start = text.rfind("\n", 0, first) + 1
            return text[start:start + limit]
        return text[-limit:]

    def check_sanitizer(self):
        text = self.stderr()
        for mark in SANITIZER_MARKS:
            if mark in text:
                raise AssertionError("sanitizer report in server stderr:\n" + self.stderr_excerpt())

    def __enter__(self):
        return self

    def __exit__(self, exc_type, exc, tb):
        # do not mask the test's own failure with a teardown failure
        self.close(check=exc_type is None)
        return False

    def stderr(self):
        try:
            with open(self.stderr_path, "rb") as f:
                err = f.read().decode("utf-8", "replace")
            with open(self.stdout_path, "rb") as f:
                out = f.read().decode("utf-8", "replace")
        except (OSError, TypeError):
            return ""
        return err + (("\n--- stdout:\n" + out) if out else "")

    def fds(self):
        return count_fds(self.pid)

    def children(self):
        return child_pids(self.pid)

    # -- clients

    @property
    def base_url(self):
        return "http://%s:%d" % (self.host, self.port)

    def connection(self, timeout=10):
        return http.client.HTTPConnection(self.host, self.port, timeout=scaled(timeout))

    def request(self, method, path, body=None, headers=None, timeout=10):
        """One request on a fresh connection. Returns (status,
        {lowercase header: value}, body bytes). A dict/list body is sent as
        JSON with Content-Type application/json."""
        headers = dict(headers or {})
        if isinstance(body, (dict, list)):
            body = jsonlib.dumps(body).encode()
            if not any(k.lower() == "content-type" for k in headers):
                headers["Content-Type"] = "application/json"
        elif isinstance(body, str):
            body = body.encode()
        c = self.connection(timeout)
        try:
            c.request(method, path, body=body, headers=headers)
            r = c.getresponse()
            data = r.read()
            hdrs = {}
            for k, v in r.getheaders():
                k = k.lower()
                hdrs[k] = (hdrs[k] + ", " + v) if k in hdrs and k in ("vary", "allow") else v
            return r.status, hdrs, data
        finally:
            c.close()

    def json(self, method, path, obj=None, headers=None, timeout=10):
        """Like request() with a JSON body (when obj is not None). Returns
        (status, parsed JSON or None, headers)."""
        headers = dict(headers or {})
        body = None
        if obj is not None:
            body = jsonlib.dumps(obj).encode()
            headers.setdefault("Content-Type", "application/json")
        status, hdrs, data = self.request(method, path, body, headers, timeout)
        try:
            parsed = jsonlib.loads(data.decode("utf-8")) if data else None
        except ValueError:
            parsed = None
        return status, parsed, hdrs

    def raw(self, data, timeout=5):
        """Sends raw bytes on a fresh connection; returns all bytes read
        until the server closes or timeout seconds (scaled) pass."""
        with RawConn(self.port, self.host, timeout=timeout) as c:
            c.send(data)
            return c.read_all(timeout)

    def conn(self, timeout=10):
        """A RawConn to this server."""
        return RawConn(self.port, self.host, timeout=timeout)

    def sse(self, path, method="GET", body=None, headers=None, timeout=10):
        """Opens an SSE stream. Returns an SSEStream (status/headers set;
        iterate for events). A non-2xx answer is returned with .body set
        and no events."""
        hdrs = {"Host": "%s:%d" % (self.host, self.port), "Accept": "text/event-stream"}
        if isinstance(body, (dict, list)):
            body = jsonlib.dumps(body).encode()
            hdrs["Content-Type"] = "application/json"
        elif isinstance(body, str):
            body = body.encode()
        hdrs.update(headers or {})
        if body is not None:
            hdrs["Content-Length"] = str(len(body))
        req = "%s %s HTTP/1.1\r\n" % (method, path)
        req += "".join("%s: %s\r\n" % kv for kv in hdrs.items()) + "\r\n"
        c = self.conn(timeout)
        c.send(req.encode("latin-1") + (body or b""))
        version, status, reason, headers_d, hl = c.read_head()
        body_bytes = b""
        if status != 200:
            if "content-length" in headers_d:
                body_bytes = c._exact(int(headers_d["content-length"]))
            else:
                body_bytes = b"".join(c.stream_body(headers_d))
        return SSEStream(c, status, headers_d, body_bytes, scaled(timeout))

    # -- convenience

    def health_ok(self, timeout=5):
        """True if GET /v1/health answers 200 within timeout (scaled)."""
        try:
            st, _, body = self.request("GET", "/v1/health", timeout=timeout)
            return st == 200
        except (OSError, http.client.HTTPException):
            return False


def basic(user_pass, urlsafe=False, pad=True):
    raw = user_pass.encode()
    enc = base64.urlsafe_b64encode(raw) if urlsafe else base64.b64encode(raw)
    enc = enc.decode()
    return enc if pad else enc.rstrip("=")


# ---------------------------------------------------------------- unittest

class ServerTestCase(unittest.TestCase):
    """One server per test class, started with server_args/server_env.
    After each test the server must still be alive; at the end of the
    class it must stop cleanly. A server that fails to start fails every
    test of the class (not just one class-level error)."""

    server_args = ()
    server_env = None
    server = None
    _start_error = None

    @classmethod
    def setUpClass(cls):
        cls._start_error = None
        try:
            cls.server = Server(cls.server_args, env=cls.server_env)
        except AssertionError as e:
            cls.server = None
            cls._start_error = e

    @classmethod
    def tearDownClass(cls):
        if cls.server is not None:
            s, cls.server = cls.server, None
            s.close(check=True)

    def setUp(self):
        if self._start_error is not None:
            raise AssertionError("server did not start: %s" % self._start_error)

    def tearDown(self):
        s = type(self).server
        if s is not None and s.alive():
            # a crash right after the last response must be blamed on this
            # test, not the next one
            s.health_ok(timeout=2)
        if s is not None and not s.alive():
            # replace it so later tests of the class still get a server
            try:
                s.assert_alive("after %s" % self.id())
            finally:
                s._kill()
                try:
                    type(self).server = Server(self.server_args, env=self.server_env)
                except AssertionError as e:
                    type(self).server = None
                    type(self)._start_error = e

    @property
    def s(self):
        return type(self).server

    # assertions shared by the suites

    def assertProblem(self, status, body, headers, want_status, want_type=None):
        """body (parsed JSON) is a problem object per spec 1.4."""
        ct = headers.get("content-type", "")
        self.assertTrue(ct.startswith("application/json") or ct.startswith("application/problem+json"),
                        "problem content-type is %r" % ct)
        self.assertEqual(status, want_status, body)
        self.assertIsInstance(body, dict, "problem body is not a JSON object")
        for k in ("type", "title", "status", "detail"):
            self.assertIn(k, body, "problem lacks %r: %r" % (k, body))
        self.assertEqual(body["status"], want_status)
        self.assertIsInstance(body["title"], str)
        self.assertIsInstance(body["detail"], str)
        self.assertTrue(body["type"].startswith("urn:sandbox-agent:error:"), body["type"])
        if want_type:
            self.assertEqual(body["type"], "urn:sandbox-agent:error:" + want_type)


def wait_until(pred, timeout, step=0.05):
    """Polls pred until true or timeout (scaled). Returns the last value."""
    deadline = time.monotonic() + scaled(timeout)
    while True:
        v = pred()
        if v or time.monotonic() >= deadline:
            return v
        time.sleep(step)


def unique_id(prefix="s"):
    return "%s-%d-%s" % (prefix, os.getpid(), base64.b32encode(os.urandom(5)).decode().lower())

