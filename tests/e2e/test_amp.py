"""test_amp.py - the real pinned Amp CLI (@ampcode/cli) driven through our
server, offline. Amp's agent loop runs on Amp's servers, so no turn can
succeed here; what can be tested is every way a turn fails and what the
CLI accepts on its command line:

  - no credentials: create refused (400), no process started;
  - a key stored for another server: the real login prompt is recognized,
    the CLI killed, the session ended (amp_login_required);
  - AMP_URL on a closed port, a server refusing the key (401), a server
    answering in an unexpected shape, and a server that answers the first
    RPCs and creates the thread but refuses the WebSocket: each an error
    event (process_exit, Amp's "Error:" line in details) and session.ended
    (error, agent);
  - the command line the adapter builds (--execute=, --stream-json-thinking,
    --no-archive-after-execute, --dangerously-allow-all, -m, --mcp-config)
    is accepted, and what it makes the CLI send (agentMode, telemetry);
  - `threads continue` (the second message of a session) as the CLI
    parses it, and why threads must not be archived;
  - terminate while the CLI waits on the server.

After each scenario no process may be left in the sandbox besides our
server. The local Amp API stand-in (AmpStub) answers just enough to get
the CLI to each failure; see docs/amp.md.

Run: python3 tests/e2e/run.py test_amp"""

import http.server
import json
import os
import subprocess
import threading
import time

import e2elib
from e2elib import describe, of_type, scaled

NEED_CREDS = "invalid request: amp needs credentials: set AMP_API_KEY or run `amp login`"
THREAD = "T-5e2b7c1d-4a9f-4e3b-8d6c-1f0a9b8e7d21"


class AmpStub:
    """A local stand-in for Amp's HTTP API (AMP_URL). RPCs
    (POST /api/internal?<method>) answer {"ok":true,"result":...};
    POST /api/thread-actors creates THREAD; the thread-actor WebSocket
    upgrade is refused (404), which is where the CLI gives up. With
    stall=True the first RPC is never answered (until stop()).
    Every request is kept in .requests as (method, path, headers, body)."""

    def __init__(self, stall=False, archived=True):
        self.stall = stall
        self.archived = archived
        self.requests = []
        self._lock = threading.Lock()
        self._release = threading.Event()
        stub = self

        class Handler(http.server.BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *a):
                pass

            def _reply(self, code, obj):
                data = json.dumps(obj).encode()
                self.send_response(code)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def _note(self, body):
                try:
                    parsed = json.loads(body) if body else None
                except ValueError:
                    parsed = body.decode("utf-8", "replace")
                with stub._lock:
                    stub.requests.append((self.command, self.path, dict(self.headers), parsed))

            def do_GET(self):
                self._note(b"")
                self._reply(404, {"error": "not found"})

            def do_POST(self):
                n = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(n)
                self._note(body)
                if stub.stall:
                    stub._release.wait()
                    return
                path = self.path
                if path.startswith("/api/internal"):
                    method = path.partition("?")[2]
                    self._reply(200, {"ok": True, "result": stub.result(method)})
                elif path.startswith("/api/thread-actors"):
                    self._reply(200, {"threadId": THREAD, "wsToken": "stub-ws-token",
                                      "ownerUserId": "user_stub", "threadVersion": 1})
                elif path.startswith("/api/telemetry"):
                    self._reply(200, {})
                else:
                    self._reply(404, {"ok": False, "error": {"code": "not-found"}})

        class Server(http.server.ThreadingHTTPServer):
            def handle_error(self, request, client_address):
                pass  # the CLI drops connections when it gives up

        self.httpd = Server(("127.0.0.1", 0), Handler)
        self.httpd.daemon_threads = True
        self.port = self.httpd.server_address[1]
        self.url = "http://127.0.0.1:%d" % self.port
        self._thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)

    def result(self, method):
        if method == "getUserInfo":
            return {"id": "user_stub", "email": "stub@example.com", "username": "stub",
                    "features": [], "team": None, "emailVerified": True}
        if method == "loadPlugins":
            return {"plugins": []}
        if method == "loadSkills":
            return {"skills": []}
        if method == "getThreadTail":
            return {"thread": {"data": {"id": THREAD, "v": 3, "created": 1,
                                        "agentMode": "medium", "archived": self.archived}},
                    "messages": [], "hasMoreBefore": False}
        return {}

    def start(self):
        self._thread.start()
        return self

    def stop(self):
        self._release.set()
        self.httpd.shutdown()
        self.httpd.server_close()

    def seen(self):
        with self._lock:
            return list(self.requests)

    def paths(self):
        return [(m, p.partition("?")[0] + ("?" + p.partition("?")[2] if m == "POST" and
                                           p.startswith("/api/internal") else ""))
                for m, p, h, b in self.seen()]


class AmpCase(e2elib.AgentTestCase):
    AGENT = "amp"

    def leftovers(self):
        """Live processes in the sandbox other than our server."""
        me = self.server.proc.pid if self.server and self.server.proc else None
        out = []
        for pid in self.sandbox.processes():
            if pid == me:
                continue
            try:
                with open("/proc/%d/stat" % pid, "rb") as f:
                    st = f.read()
            except OSError:
                continue
            if st[st.rfind(b")") + 2:].split()[0] != b"Z":
                out.append(pid)
        return out

    def assert_no_leftovers(self, timeout=10):
        deadline = time.monotonic() + scaled(timeout)
        while self.leftovers():
            if time.monotonic() > deadline:
                names = []
                for pid in self.leftovers():
                    try:
                        with open("/proc/%d/cmdline" % pid, "rb") as f:
                            names.append((pid, f.read().replace(b"\0", b" ")[:200]))
                    except OSError:
                        pass
                self.fail("processes left in the sandbox: %r" % names)
            time.sleep(0.05)

    def failed_turn(self, sid, text, timeout=60):
        """Posts text and waits for the session to end. Returns the events
        of the turn, checked to end with the failed placeholder, the error
        and session.ended (error, agent)."""
        offset = self.server.last_sequence(sid)
        self.server.post_message(sid, text)
        _, evs = self.server.wait_event(sid, lambda e: e["type"] == "session.ended",
                                        timeout=timeout, offset=offset)
        self.assertEqual([e["type"] for e in evs[-3:]],
                         ["item.completed", "error", "session.ended"],
                         "\n".join(describe(e) for e in evs))
        self.assertEqual(evs[-3]["data"]["item"]["status"], "failed")
        end = evs[-1]["data"]
        self.assertEqual((end["reason"], end["terminated_by"]), ("error", "agent"))
        self.assertEqual([e["type"] for e in evs[:4]],
                         ["turn.started", "item.started", "item.completed", "item.started"])
        self.assertFalse(of_type(evs, "agent.unparsed"))
        return evs

    def assert_process_exit(self, evs, amp_error):
        """The error is process_exit with Amp's reason; the end has the
        exit status and the stderr."""
        err = evs[-2]["data"]
        self.assertEqual(err["code"], "process_exit")
        self.assertEqual(err["details"]["exit_code"], 1)
        self.assertEqual(err["details"]["amp_error"], amp_error)
        self.assertIn("Error: " + amp_error, err["details"]["stderr"])
        self.assertEqual(err["message"], "agent exited with status 1: " + amp_error)
        end = evs[-1]["data"]
        self.assertEqual(end["exit_code"], 1)
        self.assertEqual(end["message"], err["message"])
        self.assertIn("Error: " + amp_error, end["stderr"].get("head", "") +
                      end["stderr"].get("tail", ""))

    def assert_closed(self, sid):
        """A session ended by the agent refuses messages with its reason."""
        r = self.server.post_message(sid, "again", expect=None)
        self.assertEqual(r.status, 500, r)
        self.assertEqual(r.json()["type"], "urn:sandbox-agent:error:agent_process_exited")


class AmpNoCredentials(AmpCase):
    SANDBOX = {"extra_env": {"AMP_API_KEY": None}}

    def test_create_refused(self):
        r = self.server.request("POST", "/v1/sessions/amp-nokey", {"agent": "amp"})
        self.assertEqual(r.status, 400, r)
        self.assertEqual(r.json()["type"], "urn:sandbox-agent:error:invalid_request")
        self.assertEqual(r.json()["detail"], NEED_CREDS)
        self.assert_no_leftovers(timeout=1)
        self.assertEqual(self.mock.requests(), [])

    def test_login_prompt_of_the_real_cli(self):
        """A key stored for another server passes our check; the CLI finds
        none for AMP_URL and starts its login flow on stdout."""
        d = os.path.join(self.sandbox.xdg["XDG_DATA_HOME"], "amp")
        os.makedirs(d, exist_ok=True)
        with open(os.path.join(d, "secrets.json"), "w") as f:
            json.dump({"apiKey@https://other.example/": "sgamp_other"}, f)
        sid = self.create_session()
        t0 = time.monotonic()
        evs = self.failed_turn(sid, "say hello")
        self.assertLess(time.monotonic() - t0, scaled(30))
        err = evs[-2]["data"]
        self.assertEqual(err["code"], "amp_login_required")
        self.assertEqual(err["message"], "amp needs credentials: set AMP_API_KEY or run `amp login`")
        self.assertEqual(err["details"], {"stdout": "No API key found. Starting login flow..."})
        self.assertEqual(evs[-1]["data"]["message"], err["message"])
        self.assert_no_leftovers()
        self.assert_closed(sid)


class AmpUnreachable(AmpCase):
    """AMP_URL on a port nothing listens on."""

    def setUp(self):
        self.closed = e2elib.free_port()
        self.SANDBOX = {"extra_env": {"AMP_URL": "http://127.0.0.1:%d" % self.closed}}
        super().setUp()

    def test_unreachable(self):
        sid = self.create_session()
        evs = self.failed_turn(sid, "say hello")
        self.assert_process_exit(
            evs, "Couldn't connect to the Amp server at http://127.0.0.1:%d." % self.closed)
        self.assert_no_leftovers()
        self.assert_closed(sid)
        self.assertEqual(self.mock.requests(), [])


class AmpKeyRefused(AmpCase):
    """The mock answers Amp's first RPC with 401 auth-required."""

    def test_key_refused(self):
        sid = self.create_session()
        evs = self.failed_turn(sid, "say hello")
        self.assert_process_exit(evs, "Invalid or missing API key. Run 'amp login' to "
                                      "authenticate.")
        first = [r for r in self.mock.requests() if r.api == "amp"][0]
        self.assertEqual((first.path, list(first.query)), ("/api/internal", ["getUserInfo"]))
        self.assertEqual(first.headers.get("authorization"), "Bearer " + e2elib.AMP_TEST_KEY)
        self.assert_no_leftovers()


class AmpUnexpectedAnswer(AmpCase):
    """The mock answers {} where an RPC envelope belongs."""
    MOCK = {"amp": "unexpected"}

    def test_unexpected_answer(self):
        sid = self.create_session()
        evs = self.failed_turn(sid, "say hello")
        err = evs[-2]["data"]
        self.assertEqual(err["code"], "process_exit")
        self.assertTrue(err["details"]["amp_error"], err)
        self.assertTrue(err["message"].startswith("agent exited with status 1: "), err)
        self.assert_no_leftovers()


class AmpServerFailsLater(AmpCase):
    """A stand-in that answers the first RPCs and creates the thread, then
    refuses the thread actor's WebSocket."""
    STUB = {}

    def setUp(self):
        self.stub = AmpStub(**self.STUB).start()
        self.addCleanup(self.stub.stop)
        self.SANDBOX = {"extra_env": {"AMP_URL": self.stub.url}}
        super().setUp()

    def test_websocket_refused(self):
        mcp = {"docs": {"type": "remote", "url": "http://127.0.0.1:9/mcp",
                        "headers": {"X-Test": "1"}}}
        sid = self.create_session(permissionMode="bypass", model="high", mcp=mcp)
        evs = self.failed_turn(sid, "-say hello", timeout=90)
        self.assert_process_exit(evs, "WebSocket connection failed. Check your connection or "
                                      "proxy settings and retry.")
        seen = self.stub.seen()
        paths = self.stub.paths()
        # what arrives, in order (facts 3.5)
        self.assertEqual(paths[0], ("POST", "/api/internal?getUserInfo"))
        self.assertEqual(seen[0][2].get("Authorization"), "Bearer " + e2elib.AMP_TEST_KEY)
        self.assertIn(("POST", "/api/internal?loadPlugins"), paths)
        creates = [b for m, p, h, b in seen if p == "/api/thread-actors" and "executorType" in b]
        self.assertEqual(len(creates), 1, paths)
        # -m high is Amp's agent mode, the model selector
        self.assertEqual((creates[0]["executorType"], creates[0]["agentMode"]),
                         ("local-client", "high"))
        ws = [p for m, p, h, b in seen if m == "GET" and "/actors/gateway/threadActor/websocket"
              in p]
        self.assertTrue(ws and "rvt-key=%s" % THREAD in ws[0], paths)
        # --dangerously-allow-all was taken as such
        tele = [b for m, p, h, b in seen if p == "/api/telemetry"]
        self.assertTrue(any(isinstance(b, list) and any(
            x.get("feature") == "cli.dangerouslyAllowAll" for x in b) for b in tele), tele)
        # the thread was made but never reported on stdout: no native id
        info = [s for s in self.server.sessions() if s["sessionId"] == sid][0]
        self.assertIsNone(info["nativeSessionId"])
        self.assert_no_leftovers()
        self.assert_closed(sid)

    def test_thread_continue_command_line(self):
        """What the adapter runs for a session's later messages, run
        directly: the CLI takes the thread id and asks for its tail; an
        archived thread cannot be continued (hence
        --no-archive-after-execute on the first message)."""
        argv = [self.cli, "threads", "continue", THREAD, "--execute=-and then?",
                "--stream-json", "--stream-json-thinking", "--dangerously-allow-all"]
        p = subprocess.run(argv, env=self.sandbox.env(), cwd=self.sandbox.work,
                           stdin=subprocess.DEVNULL, capture_output=True,
                           timeout=scaled(60), start_new_session=True)
        self.assertEqual(p.returncode, 1, p)
        self.assertEqual(p.stdout, b"")
        self.assertIn(b"Error: This thread is archived and cannot be continued.", p.stderr)
        tails = [b for m, path, h, b in self.stub.seen()
                 if path == "/api/internal?getThreadTail"]
        self.assertEqual(tails[0]["params"]["thread"], THREAD)


class AmpServerStalls(AmpCase):
    """The stand-in never answers: terminate ends the session and the CLI."""

    def setUp(self):
        self.stub = AmpStub(stall=True).start()
        self.addCleanup(self.stub.stop)
        self.SANDBOX = {"extra_env": {"AMP_URL": self.stub.url}}
        super().setUp()

    def test_terminate_while_waiting(self):
        sid = self.create_session()
        self.server.post_message(sid, "say hello")
        deadline = time.monotonic() + scaled(30)
        while not self.stub.seen():
            self.assertLess(time.monotonic(), deadline, "the CLI never called the server")
            time.sleep(0.05)
        self.assertTrue(self.leftovers())
        self.server.terminate(sid)
        self.assert_no_leftovers()
        evs = self.server.events(sid)
        self.assertEqual(evs[-1]["type"], "session.ended")
        self.assertEqual(evs[-1]["data"]["reason"], "terminated")
        time.sleep(0.3)
        self.assertEqual(len(self.server.events(sid)), len(evs))
