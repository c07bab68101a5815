"""test_fake_agents.py - process supervision and lossless event handling,
driven through the Claude adapter with a fake `claude` executable
(fakeagents/fake_claude.py; what it does is chosen by the message text,
see its docstring).

Every test starts its own server whose PATH begins with a temp dir
holding a `claude` wrapper, gives each session its own directory (the
fake records there its pid, its children's pids, its argv and what it
read on stdin), and checks the exact universal events over HTTP and the
processes through /proc:
  1. normal turns on one long-lived process; argv, MCP config file,
     install dir, permissions over stdio; then (TestStartAndExit) spawn
     failures, the one retry of a process that died before answering,
     exit 0 mid-turn, restarts with --resume, a closed stdin
  2. crashes mid-turn: every line kept, process_exit, session.ended with
     the stderr head/tail, the documented error for the next message
  3. garbage, invalid UTF-8, over-long lines and the exact line limit:
     agent.unparsed, the turn goes on, the server stays responsive
  4. an agent ignoring SIGTERM: SIGKILL to the whole group after the grace
  5. terminate during a turn: nothing from the agent after session.ended
  6. server SIGTERM with live agents
  7. a 20000-delta burst seen exactly once by every reader
  8. 100 sessions with a process each: no fd or child left afterwards

Dead processes: PID 1 of some containers does not reap orphans, so a
grandchild (the fake's `sleep`) counts as gone once it is a zombie; the
server's own children must be reaped (the server's child list empty).
Timeouts are scaled x3 for the sanitizer build (harness.scaled).
Spec: api-v1.md 3.4, 4.8, 4.10, 5.2, 6.x, 7.3; docs/compatibility.md.
Python 3 standard library only."""

import http.client
import json
import os
import shutil
import signal
import tempfile
import threading
import time
import unittest

from harness import Server, proc_state, scaled, unique_id
from sesslib import (EVENT_KEYS, TIME_RE, StreamClient, describe, of_type, problem, pump_until,
                     quote, types)

HERE = os.path.dirname(os.path.abspath(__file__))
FAKES = os.path.join(HERE, "fakeagents")
FAKE_PY = os.path.join(FAKES, "fake_claude.py")
PIDFILE = "fake_claude.pids"

CLAUDE_ARGV = ["-p", "--input-format", "stream-json", "--output-format", "stream-json",
               "--verbose", "--include-partial-messages", "--permission-prompt-tool", "stdio"]
TURN_META = {"usage": {"input_tokens": 1, "output_tokens": 1}, "total_cost_usd": 0,
             "duration_ms": 7, "num_turns": 1}

LINE_MAX = 8 * 1024 * 1024      # PROC_LINE_MAX
UNPARSED_RAW_MAX = 65536        # CLAUDE_UNPARSED_RAW_MAX
GRACE = 1.0                     # PROC_TERM_GRACE_MS
STDERR_HEAD, STDERR_TAIL = 20, 50
FD_SLACK = 3
BURST = 20000
MANY = 100


def words_of(text):
    """The deltas the fake writes for "reply <text>"."""
    ws = text.split(" ")
    return [w + (" " if i + 1 < len(ws) else "") for i, w in enumerate(ws)]


def gone(pid):
    """Not running any more: no such process, or a zombie nobody reaped
    (only acceptable for processes that are not the server's children,
    which is checked separately)."""
    return proc_state(pid) in (None, "Z", "X")


def is_fake_process(pid):
    """pid still runs the fake or the `sleep` it started (not a reused pid)."""
    try:
        with open("/proc/%d/cmdline" % pid, "rb") as f:
            argv = f.read().split(b"\0")
    except OSError:
        return False
    return any(a.endswith(b"fake_claude.py") for a in argv) or argv[:2] == [b"sleep", b"300"]


class HealthProbe(threading.Thread):
    """GET /v1/health on fresh connections in a loop until stop();
    latencies and failures are kept."""

    def __init__(self, port):
        super().__init__(daemon=True)
        self.port = port
        self.latencies = []
        self.failures = []
        self._stop_ev = threading.Event()

    def run(self):
        while not self._stop_ev.is_set():
            t0 = time.monotonic()
            try:
                c = http.client.HTTPConnection("127.0.0.1", self.port, timeout=scaled(5))
                c.request("GET", "/v1/health")
                r = c.getresponse()
                body = r.read()
                c.close()
                if r.status != 200:
                    self.failures.append("status %d %r" % (r.status, body[:100]))
            except (OSError, http.client.HTTPException) as e:
                self.failures.append(repr(e))
            self.latencies.append(time.monotonic() - t0)
            self._stop_ev.wait(0.005)

    def stop(self):
        self._stop_ev.set()
        if self.ident is not None:  # started
            self.join(scaled(10))


class FakeAgentCase(unittest.TestCase):
    """A fresh server per test, with the fake `claude` first on PATH."""

    def setUp(self):
        self.tmp = tempfile.mkdtemp(prefix="sa-fake-")
        self.bindir = os.path.join(self.tmp, "bin")
        os.makedirs(self.bindir)
        self.install_wrapper(self.bindir)
        self.tmpdir = os.path.join(self.tmp, "tmpdir")  # the server's TMPDIR
        os.makedirs(self.tmpdir)
        self.env = {"PATH": self.bindir + os.pathsep + os.environ.get("PATH", "/usr/bin:/bin"),
                    "FAKE_CLAUDE_PIDFILE": PIDFILE, "FAKE_CLAUDE_PY": FAKE_PY,
                    "TMPDIR": self.tmpdir}
        self.dirs = {}
        self.addCleanup(self._cleanup)
        self.srv = Server(env=self.env)

    def install_wrapper(self, where, extra_env=None):
        """A copy of fakeagents/claude in where (executable whatever the
        checkout did to file modes); extra_env lines are exported first."""
        with open(os.path.join(FAKES, "claude")) as f:
            text = f.read()
        if extra_env:
            lines = text.split("\n")
            exports = ["export %s=%s" % kv for kv in extra_env.items()]
            text = "\n".join(lines[:1] + exports + lines[1:])
        path = os.path.join(where, "claude")
        with open(path, "w") as f:
            f.write(text)
        os.chmod(path, 0o755)

    def _cleanup(self):
        srv = getattr(self, "srv", None)
        try:
            if srv is not None:
                if srv.alive():
                    srv.close(check=True)
                else:
                    srv.close(check=False)
        finally:
            # a broken server must not leave fakes behind: SIGKILL what
            # the fakes recorded and is still running
            for sid in list(self.dirs):
                for r in self.records(sid):
                    if r["role"] in ("agent", "child") and not gone(r["pid"]) and \
                            is_fake_process(r["pid"]):
                        try:
                            os.kill(r["pid"], signal.SIGKILL)
                        except OSError:
                            pass
            shutil.rmtree(self.tmp, ignore_errors=True)

    # -- sessions

    def create(self, sid=None, **fields):
        sid = sid or unique_id("f")
        d = tempfile.mkdtemp(prefix="sess-", dir=self.tmp)
        body = {"agent": "claude", "directory": d}
        body.update(fields)
        st, body, h = self.srv.json("POST", "/v1/sessions/" + quote(sid), body)
        self.assertEqual((st, body), (200, {"healthy": True}), "create %s" % sid)
        self.dirs[sid] = d
        return sid

    def send(self, sid, message):
        st, h, data = self.srv.request("POST", "/v1/sessions/%s/messages" % quote(sid),
                                       {"message": message})
        self.assertEqual((st, data), (204, b""), "message %r" % message)

    def terminate(self, sid):
        """POST terminate; returns how long the answer took."""
        t0 = time.monotonic()
        st, h, data = self.srv.request("POST", "/v1/sessions/%s/terminate" % quote(sid))
        took = time.monotonic() - t0
        self.assertEqual((st, data), (204, b""))
        return took

    def events(self, sid, offset=0, raw=False, limit=2000):
        out = []
        while True:
            q = "offset=%d&limit=%d" % (offset, limit)
            if raw:
                q += "&include_raw=true"
            st, body, h = self.srv.json("GET", "/v1/sessions/%s/events?%s" % (quote(sid), q))
            self.assertEqual(st, 200, body)
            out.extend(body["events"])
            if body["events"]:
                offset = body["events"][-1]["sequence"]
            if not body["hasMore"]:
                return out

    def wait_events(self, sid, pred, timeout=10, what="condition", raw=False):
        deadline = time.monotonic() + scaled(timeout)
        while True:
            evs = self.events(sid, raw=raw)
            if pred(evs):
                return evs
            if time.monotonic() > deadline:
                self.fail("timed out after %.1fs waiting for %s in %s:\n%s\n--- server:\n%s"
                          % (scaled(timeout), what, sid, describe(evs)[-3000:],
                             self.srv.stderr_excerpt(2000)))
            time.sleep(0.02)

    def wait_type(self, sid, etype, n=1, timeout=10, raw=False):
        return self.wait_events(sid, lambda evs: len(of_type(evs, etype)) >= n, timeout,
                                "%d x %s" % (n, etype), raw)

    def info(self, sid):
        st, body, h = self.srv.json("GET", "/v1/sessions")
        self.assertEqual(st, 200)
        for s in body["sessions"]:
            if s["sessionId"] == sid:
                return s
        self.fail("session %s not listed" % sid)

    # -- what the fakes recorded

    def records(self, sid, role=None):
        try:
            with open(os.path.join(self.dirs[sid], PIDFILE)) as f:
                recs = [json.loads(ln) for ln in f if ln.strip()]
        except (OSError, ValueError):
            recs = []
        return [r for r in recs if role is None or r["role"] == role]

    def pids(self, sid, role):
        return [r["pid"] for r in self.records(sid, role)]

    def wait_records(self, sid, pred, timeout=10, what="records"):
        deadline = time.monotonic() + scaled(timeout)
        while True:
            recs = self.records(sid)
            if pred(recs):
                return recs
            if time.monotonic() > deadline:
                self.fail("timed out waiting for %s of %s: %r" % (what, sid, recs))
            time.sleep(0.01)

    # -- processes

    def wait_gone(self, pids, timeout):
        """Waits until every pid is gone and the server has no child left.
        Returns the time it took."""
        t0 = time.monotonic()
        deadline = t0 + scaled(timeout)
        while True:
            left = [p for p in pids if not gone(p)]
            kids = self.srv.children()
            if not left and not kids:
                return time.monotonic() - t0
            if time.monotonic() > deadline:
                self.fail("after %.1fs still running: %r (states %r); server children %r "
                          "(states %r)\n--- server:\n%s"
                          % (scaled(timeout), left, [proc_state(p) for p in left], kids,
                             [proc_state(p) for p in kids], self.srv.stderr_excerpt(2000)))
            time.sleep(0.01)

    def assertRunning(self, pid):
        self.assertIn(proc_state(pid), ("R", "S", "D"), "pid %d is not running" % pid)

    # -- events

    def assertEnvelopes(self, evs, sid, natives, raw=False):
        """Contiguous sequences from 1, the envelope of every event;
        natives: native_session_id per event (a list, or one value)."""
        self.assertEqual([e["sequence"] for e in evs], list(range(1, len(evs) + 1)),
                         describe(evs))
        if not isinstance(natives, list):
            natives = [natives] * len(evs)
        for e, native in zip(evs, natives):
            self.assertEqual(set(e), EVENT_KEYS, e)
            self.assertEqual(e["event_id"], "evt_%d" % e["sequence"], e)
            self.assertRegex(e["time"], TIME_RE)
            self.assertEqual(e["session_id"], sid, e)
            self.assertEqual(e["native_session_id"], native, e)
            self.assertEqual(e["source"], "daemon" if e["synthetic"] else "agent", e)
            if not raw:
                self.assertIsNone(e["raw"], e)

    def item_id(self, ev):
        iid = ev["data"]["item"]["item_id"] if "item" in ev["data"] else ev["data"]["item_id"]
        self.assertRegex(iid, r"^itm_\d+$")
        return iid

    def expect_turn_start(self, evs, sid, text, n_asst):
        """evs[0:4]: turn.started, the user item (started, completed), the
        assistant placeholder n_asst. Returns (user native, assistant item
        id, placeholder native id)."""
        self.assertEqual(types(evs[:4]), ["turn.started", "item.started", "item.completed",
                                          "item.started"], describe(evs))
        self.assertEqual((evs[0]["synthetic"], evs[0]["data"]), (True, {"phase": "started"}))
        uid = self.item_id(evs[1])
        unative = evs[1]["data"]["item"]["native_item_id"]
        self.assertRegex(unative, r"^user_\d+$")
        content = [{"type": "text", "text": text}]
        for ev, status in ((evs[1], "in_progress"), (evs[2], "completed")):
            self.assertEqual((ev["synthetic"], ev["data"]), (True, {"item": {
                "item_id": uid, "native_item_id": unative, "parent_id": None, "kind": "message",
                "role": "user", "content": content, "status": status}}), ev)
        aid = self.item_id(evs[3])
        self.assertNotEqual(aid, uid)
        ph = "%s_pending_assistant_%d" % (sid, n_asst)
        self.assertEqual((evs[3]["synthetic"], evs[3]["data"]), (True, {"item": {
            "item_id": aid, "native_item_id": ph, "parent_id": None, "kind": "message",
            "role": "assistant", "content": [], "status": "in_progress"}}), evs[3])
        return unative, aid, ph

    def expect_deltas(self, evs, aid, ph, deltas):
        self.assertEqual(types(evs), ["item.delta"] * len(deltas), describe(evs))
        got = [(e["synthetic"], e["data"]) for e in evs]
        want = [(False, {"item_id": aid, "native_item_id": ph, "delta": d}) for d in deltas]
        if got != want:  # one readable difference instead of a giant dump
            for i, (g, w) in enumerate(zip(got, want)):
                self.assertEqual(g, w, "delta %d" % i)

    def expect_asst_done(self, ev, aid, ph, content, status="completed", synthetic=False):
        self.assertEqual((ev["type"], ev["synthetic"], ev["data"]), ("item.completed", synthetic, {
            "item": {"item_id": aid, "native_item_id": ph, "parent_id": None, "kind": "message",
                     "role": "assistant", "content": content, "status": status}}), ev)

    def expect_reply_turn(self, evs, sid, message, text, n_asst):
        """evs is exactly the turn of a "reply <text>" message."""
        deltas = words_of(text)
        self.assertEqual(len(evs), 6 + len(deltas), describe(evs))
        unative, aid, ph = self.expect_turn_start(evs, sid, message, n_asst)
        self.expect_deltas(evs[4:4 + len(deltas)], aid, ph, deltas)
        self.expect_asst_done(evs[-2], aid, ph, [{"type": "text", "text": text}])
        self.assertEqual((evs[-1]["type"], evs[-1]["synthetic"], evs[-1]["data"]),
                         ("turn.ended", True, {"phase": "ended", "metadata": TURN_META}))
        return unative

    def expect_started(self, ev):
        self.assertEqual((ev["type"], ev["synthetic"], ev["data"]), ("session.started", True, {
            "metadata": {"agent": "claude", "agentMode": "build", "permissionMode": "default",
                         "model": "default", "variant": None}}))

    def expect_ended_by_terminate(self, ev):
        self.assertEqual((ev["type"], ev["synthetic"], ev["data"]),
                         ("session.ended", True, {"reason": "terminated",
                                                  "terminated_by": "daemon"}), ev)

    def expect_problem(self, got, kind, detail, **ext):
        want = problem(kind, detail, **ext)
        self.assertEqual(got[:2], (want["status"], want))

    # an MCP map and what Claude must get for it
    MCP = {"fs": {"command": ["npx", "fs-server"], "args": ["-y"], "env": {"A": "1"}},
           "web": {"type": "remote", "url": "http://127.0.0.1:9/mcp", "headers": {"X-K": "v"},
                   "bearerTokenEnvVar": "WEB_TOKEN"}}

    MCP_CLAUDE = {"mcpServers": {
        "fs": {"type": "stdio", "command": "npx", "args": ["fs-server", "-y"], "env": {"A": "1"}},
        "web": {"type": "http", "url": "http://127.0.0.1:9/mcp",
                "headers": {"X-K": "v", "Authorization": "Bearer ${WEB_TOKEN}"}}}}

    def mcp_session(self, message, **fields):
        sid = self.create(mcp=self.MCP, **fields)
        self.send(sid, message)
        agent = self.wait_records(sid, lambda rs: any(r["role"] == "agent" for r in rs), 10,
                                  "the agent")[0]
        mcp = agent["mcp"]
        self.assertEqual(os.path.dirname(mcp["path"]), self.tmpdir)
        self.assertEqual((mcp["mode"], mcp["config"]), (0o600, self.MCP_CLAUDE))
        return sid, agent

    def user_line(self, text, native):
        """The stdin line the adapter writes for a message."""
        return {"type": "user", "message": {"role": "user", "content": [
            {"type": "text", "text": text}]}, "parent_tool_use_id": None, "session_id": native}


# ---------------------------------------------------------------- 1. normal turns

class TestReply(FakeAgentCase):

    def test_reply_then_second_message_on_the_same_process(self):
        sid = self.create()
        self.send(sid, "reply hello from the fake")
        evs = self.wait_type(sid, "turn.ended")
        self.assertEqual(len(evs), 11, describe(evs))
        agents = self.records(sid, "agent")
        self.assertEqual(len(agents), 1, agents)
        pid = agents[0]["pid"]
        native = "fake-%d" % pid
        self.assertEqual(agents[0]["argv"], CLAUDE_ARGV)
        self.assertEqual(agents[0]["cwd"], os.path.realpath(self.dirs[sid]))
        self.assertEqual(agents[0]["pgid"], pid, "the agent must lead its own process group")
        self.expect_started(evs[0])
        self.expect_reply_turn(evs[1:], sid, "reply hello from the fake", "hello from the fake", 1)
        # the first turn's daemon events precede the agent's first line
        self.assertEnvelopes(evs, sid, [None] * 5 + [native] * 6)
        self.assertRunning(pid)
        self.assertEqual(self.srv.children(), [pid])
        self.assertEqual(self.info(sid)["nativeSessionId"], native)

        self.send(sid, "reply second answer")
        evs = self.wait_type(sid, "turn.ended", 2)
        self.assertEqual(len(evs), 11 + 8, describe(evs))
        self.expect_reply_turn(evs[11:], sid, "reply second answer", "second answer", 2)
        self.assertEnvelopes(evs, sid, [None] * 5 + [native] * 14)
        self.assertEqual(self.pids(sid, "agent"), [pid], "a second process was started")
        self.assertEqual(self.srv.children(), [pid])
        # what the adapter wrote: one user line per message, the second
        # one naming the session the agent reported
        stdin = [r["line"] for r in self.records(sid, "stdin")]
        self.assertEqual(stdin, [self.user_line("reply hello from the fake", ""),
                                 self.user_line("reply second answer", native)])

        # idle terminate: stdin closes, the fake exits on its own
        self.assertLess(self.terminate(sid), scaled(1))
        self.wait_gone([pid], 2 + GRACE)
        evs2 = self.events(sid)
        self.assertEqual(evs2[:-1], evs)
        self.expect_ended_by_terminate(evs2[-1])
        self.assertIs(self.info(sid)["ended"], True)

    def test_install_dir_binary_wins_over_path(self):
        inst = os.path.join(self.srv.home, ".local", "share", "sandbox-agent", "bin")
        os.makedirs(inst)
        self.install_wrapper(inst, {"FAKE_CLAUDE_TAG": "installed"})
        st, body, h = self.srv.json("GET", "/v1/agents")
        self.assertEqual(st, 200)
        claude = [a for a in body["agents"] if a["id"] == "claude"][0]
        self.assertEqual((claude["installed"], claude["path"]),
                         (True, os.path.join(inst, "claude")))
        sid = self.create()
        self.send(sid, "reply installed copy")
        evs = self.wait_type(sid, "turn.ended")
        self.expect_reply_turn(evs[1:], sid, "reply installed copy", "installed copy", 1)
        agents = self.records(sid, "agent")
        self.assertEqual([(a["argv"], a.get("tag")) for a in agents], [(CLAUDE_ARGV, "installed")])

    def test_argv_and_mcp_config_file_removed_at_terminate(self):
        sid, agent = self.mcp_session("reply with tools", model="opus",
                                      permissionMode="acceptEdits")
        path = agent["mcp"]["path"]
        self.assertEqual(agent["argv"], CLAUDE_ARGV + [
            "--model", "opus", "--permission-mode", "acceptEdits", "--mcp-config", path])
        # the environment is passed on unchanged
        self.assertEqual(agent["is_sandbox"], os.environ.get("IS_SANDBOX"))
        evs = self.wait_type(sid, "turn.ended")
        self.assertTrue(os.path.exists(path), "the config must outlive a turn (restarts use it)")
        self.terminate(sid)
        self.wait_gone([agent["pid"]], 2 + GRACE)
        self.assertFalse(os.path.exists(path), "MCP config left behind after terminate")
        self.assertEqual(os.listdir(self.tmpdir), [])

    def test_credentials_from_files_are_injected(self):
        """Spec 8.6: a key found outside Claude Code's own files (here
        OpenCode's auth.json) reaches the agent as ANTHROPIC_API_KEY and
        CLAUDE_API_KEY; an OAuth token found in the environment is passed
        on as CLAUDE_CODE_OAUTH_TOKEN."""
        auth = os.path.join(self.srv.home, ".local", "share", "opencode")
        os.makedirs(auth, exist_ok=True)
        with open(os.path.join(auth, "auth.json"), "w") as f:
            json.dump({"anthropic": {"type": "api", "key": "sk-ant-from-opencode"}}, f)
        sid = self.create()
        self.send(sid, "reply keys")
        self.wait_type(sid, "turn.ended")
        agent = self.records(sid, "agent")[0]
        self.assertEqual((agent["anthropic_api_key"], agent["claude_api_key"]),
                         ("sk-ant-from-opencode", "sk-ant-from-opencode"))

    def test_permission_round_trip_over_stdio(self):
        sid = self.create()
        for n, reply, status, behavior, text in (
                (1, "once", "accept", {"behavior": "allow", "updatedInput": {"command": "ls"}},
                 "allowed"),
                (2, "reject", "reject", {"behavior": "deny", "message": "Permission denied."},
                 "denied")):
            self.send(sid, "permission")
            evs = self.wait_type(sid, "permission.requested", n)
            pid = self.pids(sid, "agent")[0]
            req = "req_%d_%d" % (pid, 2 * n - 1)
            meta = {"toolName": "Bash", "input": {"command": "ls"},
                    "permissionSuggestions": None, "blockedPath": None}
            ev = evs[-1]
            self.assertEqual((ev["type"], ev["synthetic"], ev["data"]), (
                "permission.requested", False, {"permission_id": req, "action": "Bash",
                                                "status": "requested", "metadata": meta}))
            st, h, data = self.srv.request(
                "POST", "/v1/sessions/%s/permissions/%s/reply" % (quote(sid), req),
                {"reply": reply})
            self.assertEqual((st, data), (204, b""))
            evs = self.wait_type(sid, "turn.ended", n)
            i = [e["sequence"] for e in evs].index(ev["sequence"])
            self.assertEqual((evs[i + 1]["type"], evs[i + 1]["synthetic"], evs[i + 1]["data"]), (
                "permission.resolved", True, {"permission_id": req, "action": "Bash",
                                              "status": status, "metadata": meta}))
            # what reached the agent's stdin
            self.assertEqual(self.records(sid, "stdin")[-1]["line"], {
                "type": "control_response", "response": {
                    "subtype": "success", "request_id": req, "response": behavior}})
            done = [e for e in evs[i:] if e["type"] == "item.completed" and
                    e["data"]["item"]["kind"] == "message"]
            self.assertEqual(done[-1]["data"]["item"]["content"], [{"type": "text", "text": text}])
            # answered once: a second reply is refused
            got = self.srv.json("POST", "/v1/sessions/%s/permissions/%s/reply" % (quote(sid), req),
                                {"reply": "once"})
            self.expect_problem(got, "invalid_request",
                                "invalid request: unknown permission id: " + req)
        self.assertEqual(len(self.pids(sid, "agent")), 1)


# ---------------------------------------------------------------- starting and exiting

class TestStartAndExit(FakeAgentCase):

    def test_missing_binary_is_agent_not_installed(self):
        os.unlink(os.path.join(self.bindir, "claude"))
        rest = os.pathsep.join(p for p in self.env["PATH"].split(os.pathsep) if p != self.bindir)
        if shutil.which("claude", path=rest):
            self.skipTest("a claude binary is on the system PATH")
        sid = self.create()
        for _ in range(2):
            got = self.srv.json("POST", "/v1/sessions/%s/messages" % quote(sid), {"message": "hi"})
            self.expect_problem(got, "agent_not_installed", "agent not installed: claude",
                                agent="claude")
        evs = self.events(sid)
        self.assertEqual(types(evs), ["session.started"])
        self.assertEqual(self.srv.children(), [])

    def test_binary_that_cannot_start_is_agent_process_exited(self):
        path = os.path.join(self.bindir, "claude")
        with open(path, "w") as f:
            f.write("#!/nonexistent/interpreter\n")
        os.chmod(path, 0o755)
        sid = self.create()
        why = "failed to start claude: cannot start %s: No such file or directory" % path
        for n in (1, 2):
            got = self.srv.json("POST", "/v1/sessions/%s/messages" % quote(sid),
                                {"message": "try %d" % n})
            self.expect_problem(got, "agent_process_exited", "agent process exited: claude",
                                agent="claude", details={"stderr": why})
        evs = self.events(sid)
        self.assertEqual(types(evs), ["session.started"] + [
            "turn.started", "item.started", "item.completed", "error", "turn.ended"] * 2,
            describe(evs))
        for i, n in ((1, 1), (6, 2)):
            self.assertEqual(types(evs[i:i + 3]), ["turn.started", "item.started",
                                                   "item.completed"])
            self.assertEqual(evs[i + 1]["data"]["item"]["content"],
                             [{"type": "text", "text": "try %d" % n}])
            self.assertEqual((evs[i + 3]["synthetic"], evs[i + 3]["data"]), (True, {
                "message": why, "code": "spawn_failed", "details": None}))
            self.assertEqual(evs[i + 4]["data"], {"phase": "ended"})
        self.assertEnvelopes(evs, sid, None)
        self.assertIs(self.info(sid)["ended"], False)
        self.assertEqual(self.srv.children(), [])

    def test_exit_before_any_output_is_retried_once(self):
        sid = self.create()
        self.send(sid, "silent-exit")
        evs = self.wait_type(sid, "session.ended")
        agents = self.records(sid, "agent")
        self.assertEqual([a["argv"] for a in agents], [CLAUDE_ARGV, CLAUDE_ARGV])
        stdin = [r["line"] for r in self.records(sid, "stdin")]
        self.assertEqual(stdin, [self.user_line("silent-exit", "")] * 2,
                         "the message is written again to the new process")
        self.assertEqual(types(evs), ["session.started", "turn.started", "item.started",
                                      "item.completed", "item.started", "item.completed", "error",
                                      "session.ended"], describe(evs))
        unative, aid, ph = self.expect_turn_start(evs[1:], sid, "silent-exit", 1)
        self.expect_asst_done(evs[5], aid, ph, [], "failed", synthetic=True)
        err = "fake-claude: exiting before any output"
        self.assertEqual((evs[6]["synthetic"], evs[6]["data"]), (True, {
            "message": "agent exited with status 3", "code": "process_exit",
            "details": {"exit_code": 3, "signal": None, "stderr": err}}))
        self.assertEqual((evs[7]["synthetic"], evs[7]["data"]), (True, {
            "reason": "error", "terminated_by": "agent", "message": "agent exited with status 3",
            "exit_code": 3, "stderr": {"head": err, "truncated": False, "total_lines": 1}}))
        self.assertEnvelopes(evs, sid, None)
        self.wait_gone([a["pid"] for a in agents], 2)

    def test_exit_zero_mid_turn_ends_the_turn_and_resumes(self):
        sid = self.create()
        self.send(sid, "exit0")
        evs = self.wait_type(sid, "turn.ended")
        pid1 = self.pids(sid, "agent")[0]
        native = "fake-%d" % pid1
        self.assertEqual(types(evs), ["session.started", "turn.started", "item.started",
                                      "item.completed", "item.started", "item.delta",
                                      "item.completed", "error", "turn.ended"], describe(evs))
        unative, aid, ph = self.expect_turn_start(evs[1:], sid, "exit0", 1)
        self.expect_deltas(evs[5:6], aid, ph, ["bye "])
        self.expect_asst_done(evs[6], aid, ph, [], "failed")
        self.assertEqual((evs[7]["synthetic"], evs[7]["data"]), (True, {
            "message": "agent exited with status 0", "code": "process_exit",
            "details": {"exit_code": 0, "signal": None, "stderr": ""}}))
        self.assertEqual((evs[8]["synthetic"], evs[8]["data"]), (True, {"phase": "ended"}))
        self.assertEnvelopes(evs, sid, [None] * 5 + [native] * 4)
        self.assertIs(self.info(sid)["ended"], False)
        self.wait_gone([pid1], 2)

        # the next message starts a new process resuming the native session
        self.send(sid, "reply resumed fine")
        evs = self.wait_type(sid, "turn.ended", 2)
        self.expect_reply_turn(evs[9:], sid, "reply resumed fine", "resumed fine", 2)
        agents = self.records(sid, "agent")
        self.assertEqual(len(agents), 2, agents)
        self.assertNotEqual(agents[1]["pid"], pid1)
        self.assertEqual(agents[1]["argv"], CLAUDE_ARGV + ["--resume", native])
        self.assertEnvelopes(evs, sid, [None] * 5 + [native] * (len(evs) - 5))
        self.assertEqual(self.records(sid, "stdin")[-1]["line"],
                         self.user_line("reply resumed fine", native))

    def test_idle_agent_killed_is_restarted_with_resume(self):
        sid = self.create()
        self.send(sid, "reply first")
        evs = self.wait_type(sid, "turn.ended")
        pid1 = self.pids(sid, "agent")[0]
        native = "fake-%d" % pid1
        os.kill(pid1, signal.SIGKILL)
        self.wait_gone([pid1], 2)
        # an idle exit is not an end: nothing recorded, session open
        self.assertEqual(self.events(sid), evs)
        self.assertIs(self.info(sid)["ended"], False)
        self.send(sid, "reply second")
        evs2 = self.wait_type(sid, "turn.ended", 2)
        self.expect_reply_turn(evs2[len(evs):], sid, "reply second", "second", 2)
        agents = self.records(sid, "agent")
        self.assertEqual([a["argv"] for a in agents],
                         [CLAUDE_ARGV, CLAUDE_ARGV + ["--resume", native]])
        self.assertEqual(self.records(sid, "stdin")[-1]["line"],
                         self.user_line("reply second", native))
        self.assertEnvelopes(evs2, sid, [None] * 5 + [native] * (len(evs2) - 5))
        self.assertEqual(self.srv.children(), [agents[1]["pid"]])

    def test_agent_that_closed_its_stdin_does_not_swallow_the_next_message(self):
        """The fake closes its stdin, answers, and stays alive. The next
        message cannot be written (EPIPE). Whatever the server does about
        it (refuse the message, end the turn with an error, or restart
        the agent and answer), it must not accept the message and then
        leave its turn open forever."""
        sid = self.create()
        self.send(sid, "close-stdin")
        evs = self.wait_type(sid, "turn.ended")
        pid = self.pids(sid, "agent")[0]
        self.assertRunning(pid)
        st, h, data = self.srv.request("POST", "/v1/sessions/%s/messages" % quote(sid),
                                       {"message": "reply not lost"})
        self.assertTrue(self.srv.alive(), "server died writing to a closed pipe")
        self.assertIn(st, (204, 500, 502), data)

        def settled(e):
            later = e[len(evs):]
            opened = len(of_type(later, "turn.started"))
            closed = len(of_type(later, "turn.ended")) + len(of_type(later, "session.ended"))
            return (opened or st != 204) and opened <= closed

        later = self.wait_events(sid, settled, 3, "the turn of the message that could not be "
                                 "written to be closed")[len(evs):]
        answered = [e for e in later if e["type"] == "item.completed" and
                    e["data"]["item"]["content"] == [{"type": "text", "text": "not lost"}]]
        self.assertTrue(st != 204 or answered or of_type(later, "error"), describe(later))


# ---------------------------------------------------------------- 2. crashes

class TestCrash(FakeAgentCase):

    def crash(self, ndeltas, nerr, nonl=False):
        sid = self.create()
        message = "crash %d %d%s" % (ndeltas, nerr, " nonl" if nonl else "")
        self.send(sid, message)
        evs = self.wait_type(sid, "session.ended")
        deltas = ["d%d " % i for i in range(ndeltas)] + (["unterminated"] if nonl else [])
        ndeltas = len(deltas)
        pid = self.pids(sid, "agent")[0]
        native = "fake-%d" % pid
        self.assertEqual(types(evs), ["session.started", "turn.started", "item.started",
                                      "item.completed", "item.started"] +
                         ["item.delta"] * ndeltas + ["item.completed", "error", "session.ended"],
                         describe(evs))
        unative, aid, ph = self.expect_turn_start(evs[1:], sid, message, 1)
        # every line written before the exit is there, in order
        self.expect_deltas(evs[5:5 + ndeltas], aid, ph, deltas)
        self.expect_asst_done(evs[5 + ndeltas], aid, ph, [], "failed")
        self.assertEnvelopes(evs, sid, [None] * 5 + [native] * (ndeltas + 3))
        lines = ["fake-claude: stderr line %d" % (i + 1) for i in range(nerr)]
        err, end = evs[-2], evs[-1]
        self.assertEqual((err["synthetic"], err["data"]), (True, {
            "message": "agent exited with status 3", "code": "process_exit",
            "details": {"exit_code": 3, "signal": None, "stderr": "\n".join(lines[-20:])}}))
        self.assertEqual((end["synthetic"], end["source"]), (True, "daemon"))
        return sid, pid, evs, lines

    def after_crash(self, sid, pid, evs):
        # the session is over, and says so
        info = self.info(sid)
        self.assertEqual((info["ended"], info["eventCount"]), (True, len(evs)))
        detail = {"exitCode": 3, "stderr": "agent exited with status 3"}
        for path in ("/messages", "/messages/stream"):
            got = self.srv.json("POST", "/v1/sessions/%s%s" % (quote(sid), path),
                                {"message": "reply more"})
            self.expect_problem(got, "agent_process_exited", "agent process exited: claude",
                                agent="claude", details=detail)
        # terminate after the end: 204, nothing recorded
        self.terminate(sid)
        # no zombie, no second process
        self.wait_gone([pid], 2)
        self.assertEqual(self.pids(sid, "agent"), [pid])
        self.assertEqual(self.events(sid), evs)

    def test_crash_mid_turn_keeps_every_line(self):
        # 2000 deltas are more than a pipe holds: the fake blocks on its
        # writes while the server reads, then exits at once
        sid, pid, evs, lines = self.crash(2000, 5)
        self.assertEqual(evs[-1]["data"], {
            "reason": "error", "terminated_by": "agent", "message": "agent exited with status 3",
            "exit_code": 3, "stderr": {"head": "\n".join(lines), "truncated": False,
                                       "total_lines": 5}})
        self.after_crash(sid, pid, evs)

    def test_crash_with_long_stderr_keeps_head_and_tail(self):
        sid, pid, evs, lines = self.crash(1, 100)
        self.assertEqual(evs[-1]["data"], {
            "reason": "error", "terminated_by": "agent", "message": "agent exited with status 3",
            "exit_code": 3, "stderr": {"head": "\n".join(lines[:STDERR_HEAD]),
                                       "tail": "\n".join(lines[-STDERR_TAIL:]),
                                       "truncated": True, "total_lines": 100}})
        self.after_crash(sid, pid, evs)

    def test_crash_with_an_unterminated_last_line(self):
        sid, pid, evs, lines = self.crash(3, 2, nonl=True)
        self.assertEqual(evs[-1]["data"]["stderr"], {"head": "\n".join(lines),
                                                     "truncated": False, "total_lines": 2})
        self.after_crash(sid, pid, evs)

    def test_queued_message_is_dropped_when_the_agent_dies(self):
        sid = self.create()
        go = os.path.join(self.tmp, "go-" + sid)
        self.send(sid, "wait %s crash 50 1" % go)
        self.wait_records(sid, lambda rs: any(r["role"] == "stdin" for r in rs), 10,
                          "the message read")
        self.send(sid, "reply never")  # queued behind the running turn
        open(go, "w").close()
        evs = self.wait_type(sid, "session.ended")
        self.assertEqual(types(evs)[-3:], ["item.completed", "error", "session.ended"],
                         describe(evs))
        self.assertEqual(len(of_type(evs, "turn.started")), 1, describe(evs))
        pid = self.pids(sid, "agent")[0]
        self.wait_gone([pid], 2)
        self.assertEqual(self.pids(sid, "agent"), [pid], "the queued message started a process")
        self.assertEqual(len(self.records(sid, "stdin")), 1)
        self.assertEqual(self.events(sid), evs)

    def test_killed_by_a_signal_mid_turn(self):
        sid = self.create()
        self.send(sid, "hang")
        self.wait_type(sid, "item.delta")
        pid = self.pids(sid, "agent")[0]
        kid = self.pids(sid, "child")[0]
        os.kill(pid, signal.SIGKILL)
        evs = self.wait_type(sid, "session.ended")
        self.assertEqual(types(evs), ["session.started", "turn.started", "item.started",
                                      "item.completed", "item.started", "item.delta",
                                      "item.completed", "error", "session.ended"], describe(evs))
        unative, aid, ph = self.expect_turn_start(evs[1:], sid, "hang", 1)
        self.expect_asst_done(evs[6], aid, ph, [], "failed")
        msg = "agent exited with status 137"
        self.assertEqual((evs[7]["synthetic"], evs[7]["data"]), (True, {
            "message": msg, "code": "process_exit",
            "details": {"exit_code": 137, "signal": 9, "stderr": ""}}))
        # no stderr at all: no "stderr" key
        self.assertEqual((evs[8]["synthetic"], evs[8]["data"]), (True, {
            "reason": "error", "terminated_by": "agent", "message": msg, "exit_code": 137}))
        self.assertEnvelopes(evs, sid, [None] * 5 + ["fake-%d" % pid] * 4)
        # the rest of the group goes with it
        self.wait_gone([pid, kid], 2)
        got = self.srv.json("POST", "/v1/sessions/%s/messages" % quote(sid), {"message": "x"})
        self.expect_problem(got, "agent_process_exited", "agent process exited: claude",
                            agent="claude", details={"exitCode": 137, "stderr": msg})

    def test_stderr_flood_is_drained_and_kept_bounded(self):
        sid = self.create()
        nflood, width = 20000, 1000   # 20 MB: far more than a pipe holds
        self.send(sid, "stderr-flood %d %d" % (nflood, width))
        evs = self.wait_type(sid, "turn.ended", timeout=20)
        self.expect_reply_turn(evs[1:], sid, "stderr-flood %d %d" % (nflood, width), "flooded", 1)
        self.send(sid, "crash 1 3")
        evs = self.wait_type(sid, "session.ended")

        def cut(i):
            head = "flood %d " % i
            return (head + "e" * (width - len(head)))[:500] + "..."

        lines = [cut(i) for i in range(1, nflood + 1)] + \
            ["fake-claude: stderr line %d" % i for i in (1, 2, 3)]
        self.assertEqual(evs[-1]["data"], {
            "reason": "error", "terminated_by": "agent", "message": "agent exited with status 3",
            "exit_code": 3, "stderr": {"head": "\n".join(lines[:STDERR_HEAD]),
                                       "tail": "\n".join(lines[-STDERR_TAIL:]),
                                       "truncated": True, "total_lines": nflood + 3}})
        self.assertEqual(evs[-2]["data"]["details"]["stderr"], "\n".join(lines[-20:]))
        self.assertEqual(len(self.pids(sid, "agent")), 1)

    def test_crash_with_a_descendant_holding_stdout_still_ends_the_session(self):
        """The fake starts `sleep 300` in a new session (so no kill of its
        process group reaches it) with the fake's stdout, then exits 3.
        The agent is gone: the session must record process_exit and end
        within a bounded time instead of waiting for that pipe's EOF."""
        sid = self.create()
        self.send(sid, "crash-escaped-child")
        self.wait_records(sid, lambda rs: any(r["role"] == "child" for r in rs), 10,
                          "the escaped child")
        self.wait_gone(self.pids(sid, "agent"), 2)  # the agent is reaped...
        # ...so its end must be recorded, without waiting for `sleep 300`
        evs = self.wait_type(sid, "session.ended", timeout=2 + GRACE)
        self.assertEqual(types(evs), ["session.started", "turn.started", "item.started",
                                      "item.completed", "item.started", "item.delta",
                                      "item.completed", "error", "session.ended"], describe(evs))
        self.assertEqual(evs[-1]["data"], {
            "reason": "error", "terminated_by": "agent", "message": "agent exited with status 3",
            "exit_code": 3})

    def test_mcp_config_file_removed_when_the_agent_dies(self):
        """The config may carry header values; once the session has ended
        because the agent died, nothing will read it again."""
        sid, agent = self.mcp_session("crash 1 1", permissionMode="plan")
        self.assertEqual(agent["argv"], CLAUDE_ARGV + [
            "--permission-mode", "plan", "--mcp-config", agent["mcp"]["path"]])
        self.wait_type(sid, "session.ended")
        self.wait_gone([agent["pid"]], 2)
        self.assertEqual(os.listdir(self.tmpdir), [],
                         "MCP config left behind after the session ended")


# ---------------------------------------------------------------- 3. garbage

class TestGarbage(FakeAgentCase):

    def test_unparseable_lines_then_the_turn_finishes(self):
        sid = self.create()
        self.send(sid, "garbage")
        evs = self.wait_type(sid, "turn.ended", raw=True)
        pid = self.pids(sid, "agent")[0]
        native = "fake-%d" % pid
        unparsed = [
            ("invalid JSON: invalid JSON", "this is not json"),
            ("unsupported claude event: mystery_event", {"type": "mystery_event", "x": 1}),
            ("not a JSON object", [1, 2, 3]),
            ("claude line without a type", {"no_type": True}),
            ("invalid JSON: truncated JSON", '{"type":"assistant","message":'),
        ]
        self.assertEqual(types(evs), ["session.started", "turn.started", "item.started",
                                      "item.completed", "item.started"] +
                         ["agent.unparsed"] * len(unparsed) +
                         ["item.delta", "item.delta", "item.completed", "turn.ended"],
                         describe(evs))
        unative, aid, ph = self.expect_turn_start(evs[1:], sid, "garbage", 1)
        got = [(e["synthetic"], e["data"], e["raw"]) for e in evs[5:10]]
        want = [(True, {"error": err, "location": "claude", "raw_hash": None}, raw)
                for err, raw in unparsed]
        self.assertEqual(got, want)
        self.expect_deltas(evs[10:12], aid, ph, ["after ", "garbage"])
        self.expect_asst_done(evs[12], aid, ph, [{"type": "text", "text": "after garbage"}])
        self.assertEqual((evs[13]["data"], evs[13]["raw"]["type"]),
                         ({"phase": "ended", "metadata": TURN_META}, "result"))
        self.assertEnvelopes(evs, sid, [None] * 5 + [native] * 9, raw=True)
        # without include_raw the raw payloads stay out
        self.assertEqual([e["raw"] for e in self.events(sid)], [None] * len(evs))
        # and the same process takes the next message
        self.send(sid, "reply still here")
        evs2 = self.wait_type(sid, "turn.ended", 2)
        self.expect_reply_turn(evs2[len(evs):], sid, "reply still here", "still here", 2)
        self.assertEqual(self.pids(sid, "agent"), [pid])

    def test_invalid_utf8_and_nul_bytes(self):
        sid = self.create()
        self.send(sid, "bytes")
        evs = self.wait_type(sid, "turn.ended", raw=True)
        self.assertEqual(types(evs), ["session.started", "turn.started", "item.started",
                                      "item.completed", "item.started"] +
                         ["agent.unparsed"] * 3 +
                         ["item.delta", "item.completed", "turn.ended"], describe(evs))
        unative, aid, ph = self.expect_turn_start(evs[1:], sid, "bytes", 1)
        # the raw line comes back as a string, invalid bytes replaced
        self.assertEqual([(e["data"]["error"], e["raw"]) for e in evs[5:8]], [
            ("invalid JSON: invalid JSON", "\ufffd\ufffd not utf-8 \x00 nul"),
            ("invalid JSON: invalid JSON", '{"type":"mystery","s":"\ufffd\ufffd"}'),
            ("invalid JSON: invalid JSON", '{"type":"stream_event","event":{"type":'
             '"content_block_delta","index":0,"delta":{"type":"text_delta","text":'
             '"bad \ufffd byte "}}}'),
        ])
        # valid non-ASCII text passes unchanged
        self.expect_deltas(evs[8:9], aid, ph, ["caf\u00e9 \u2603 \U0001f600"])
        self.expect_asst_done(evs[9], aid, ph, [{"type": "text", "text": "done"}])

    def test_over_long_line_is_one_unparsed_and_the_server_stays_fast(self):
        self.over_long_line("longline", "x" * UNPARSED_RAW_MAX)

    def test_over_long_line_cut_inside_a_character(self):
        # "x" + 2-byte characters: the raw copy ends with half a character,
        # which must come back as U+FFFD, never as invalid UTF-8
        self.over_long_line("longline-utf8", "x" + "\u00e9" * (UNPARSED_RAW_MAX // 2 - 1) +
                            "\ufffd")

    def over_long_line(self, command, raw):
        sid = self.create()
        go = os.path.join(self.tmp, "go-" + sid)
        probe = HealthProbe(self.srv.port)
        probe.start()
        try:
            self.send(sid, "%s %s" % (command, go))
            self.wait_records(sid, lambda rs: any(r["role"] == "mark" for r in rs), 20,
                              "the long line written")
            # the fake sits in the middle of its line: health still answers
            for _ in range(5):
                t0 = time.monotonic()
                self.assertTrue(self.srv.health_ok(timeout=1))
                self.assertLess(time.monotonic() - t0, scaled(0.5))
            open(go, "w").close()
            evs = self.wait_type(sid, "turn.ended", raw=True, timeout=20)
        finally:
            probe.stop()
        self.assertEqual(probe.failures, [])
        self.assertGreater(len(probe.latencies), 3)
        self.assertLess(max(probe.latencies), scaled(1.0), "slowest health answer")
        pid = self.pids(sid, "agent")[0]
        self.assertEqual(types(evs), ["session.started", "turn.started", "item.started",
                                      "item.completed", "item.started", "agent.unparsed",
                                      "item.delta", "item.delta", "item.completed", "turn.ended"],
                         describe(evs))
        unative, aid, ph = self.expect_turn_start(evs[1:], sid, "%s %s" % (command, go), 1)
        u = evs[5]
        self.assertEqual((u["synthetic"], u["data"]), (True, {
            "error": "line longer than the limit", "location": "claude", "raw_hash": None}))
        self.assertTrue(u["raw"] == raw, "raw of the over-long line: %d chars, ends %r"
                        % (len(u["raw"]), u["raw"][-5:]))
        # the line after the long one is read normally
        self.expect_deltas(evs[6:8], aid, ph, ["after ", "longline"])
        self.expect_asst_done(evs[8], aid, ph, [{"type": "text", "text": "after longline"}])
        self.assertEnvelopes(evs, sid, [None] * 5 + ["fake-%d" % pid] * 5, raw=True)
        self.assertEqual(self.pids(sid, "agent"), [pid])

    def test_line_of_exactly_the_limit_is_read_one_more_byte_is_not(self):
        sid = self.create()
        self.send(sid, "edge %d" % LINE_MAX)
        evs = self.wait_type(sid, "turn.ended", timeout=20)
        self.assertEqual(types(evs), ["session.started", "turn.started", "item.started",
                                      "item.completed", "item.started", "item.delta",
                                      "item.completed", "turn.ended"], describe(evs))
        d = evs[5]["data"]["delta"]
        self.assertEqual((len(d), set(d)), (LINE_MAX - len(
            '{"type":"stream_event","event":{"type":"content_block_delta","index":0,'
            '"delta":{"type":"text_delta","text":""}}}'), {"y"}))
        n = len(evs)
        self.send(sid, "edge %d" % (LINE_MAX + 1))
        evs = self.wait_type(sid, "turn.ended", 2, timeout=20)
        self.assertEqual(types(evs[n:]), ["turn.started", "item.started", "item.completed",
                                          "item.started", "agent.unparsed", "item.delta",
                                          "item.completed", "turn.ended"], describe(evs[n:]))
        self.assertEqual(evs[n + 4]["data"]["error"], "line longer than the limit")
        # the over-long delta is lost, so the completed text comes as one
        # synthetic delta (spec 6.3)
        self.assertEqual((evs[n + 5]["synthetic"], evs[n + 5]["data"]["delta"]), (True, "edge"))
        self.assertEqual(len(self.pids(sid, "agent")), 1)


# ---------------------------------------------------------------- 4, 5. terminate

class TestTerminate(FakeAgentCase):

    def test_agent_ignoring_sigterm_is_killed_with_its_group(self):
        sid = self.create()
        self.send(sid, "ignore-term")
        evs = self.wait_type(sid, "turn.ended")
        self.expect_reply_turn(evs[1:], sid, "ignore-term", "ignoring", 1)
        pid = self.pids(sid, "agent")[0]
        kids = self.records(sid, "child")
        self.assertEqual([k["pgid"] for k in kids], [pid], "the child is in the agent's group")
        kid = kids[0]["pid"]
        self.assertRunning(pid)
        self.assertRunning(kid)

        took = self.terminate(sid)
        self.assertLess(took, scaled(0.5), "terminate must not wait for the agent")
        t0 = time.monotonic() - took
        self.wait_gone([pid, kid], 2 + GRACE)
        elapsed = time.monotonic() - t0
        # both ignore SIGTERM: only the SIGKILL after the grace period ends them
        self.assertGreaterEqual(elapsed, GRACE * 0.9)
        self.assertLess(elapsed, scaled(2 + GRACE))

        evs2 = self.events(sid)
        self.assertEqual(evs2[:-1], evs, describe(evs2))
        self.expect_ended_by_terminate(evs2[-1])
        self.assertEnvelopes(evs2, sid, [None] * 5 + ["fake-%d" % pid] * (len(evs2) - 5))
        self.terminate(sid)
        self.assertEqual(self.events(sid), evs2)
        got = self.srv.json("POST", "/v1/sessions/%s/messages" % quote(sid), {"message": "x"})
        self.expect_problem(got, "invalid_request", "invalid request: session terminated")
        self.assertEqual(self.pids(sid, "agent"), [pid])

    def test_terminate_during_a_turn_drops_everything_after(self):
        sid = self.create()
        self.send(sid, "hang")
        evs = self.wait_type(sid, "item.delta")
        pid = self.pids(sid, "agent")[0]
        kid = self.pids(sid, "child")[0]
        self.assertRunning(kid)
        self.assertLess(self.terminate(sid), scaled(0.5))
        self.wait_gone([pid, kid], 2 + GRACE)
        # the fake did write late lines (at the interrupt, or SIGTERM)...
        self.assertIn("late", [r["what"] for r in self.records(sid, "mark")])
        stdin = [r["line"] for r in self.records(sid, "stdin")]
        self.assertEqual(stdin[0], self.user_line("hang", ""))
        for extra in stdin[1:]:
            self.assertEqual((extra["type"], extra["request"]),
                             ("control_request", {"subtype": "interrupt"}), extra)
        # ...and none of them was recorded: the process is reaped, so its
        # output has been read to the end
        evs = self.events(sid)
        self.assertEqual(types(evs), ["session.started", "turn.started", "item.started",
                                      "item.completed", "item.started", "item.delta",
                                      "session.ended"], describe(evs))
        unative, aid, ph = self.expect_turn_start(evs[1:], sid, "hang", 1)
        self.expect_deltas(evs[5:6], aid, ph, ["before-hang "])
        self.expect_ended_by_terminate(evs[6])
        self.assertEnvelopes(evs, sid, [None] * 5 + ["fake-%d" % pid] * 2)
        self.assertEqual(self.info(sid)["eventCount"], 7)


# ---------------------------------------------------------------- 6. shutdown

class TestShutdown(FakeAgentCase):

    def test_server_sigterm_with_live_agents(self):
        idle, busy = self.create(mcp=self.MCP), self.create()
        stubborn = self.create()
        self.send(idle, "spawn-child")
        self.send(busy, "hang")
        self.send(stubborn, "ignore-term")
        self.wait_type(idle, "turn.ended")
        self.wait_type(busy, "item.delta")
        self.wait_type(stubborn, "turn.ended")
        pids = []
        for sid in (idle, busy, stubborn):
            recs = self.records(sid)
            self.assertEqual([r["role"] for r in recs if r["role"] != "stdin"],
                             ["agent", "child"], recs)
            pids += [r["pid"] for r in recs if r["role"] in ("agent", "child")]
        for p in pids:
            self.assertRunning(p)
        stream = self.srv.sse("/v1/sessions/%s/events/sse" % quote(busy))
        self.assertEqual(stream.status, 200)

        t0 = time.monotonic()
        rc = self.srv.stop(signal.SIGTERM, 3)
        took = time.monotonic() - t0
        self.assertEqual(rc, 0, "server exit status after SIGTERM\n" + self.srv.stderr_excerpt())
        self.assertLess(took, scaled(3))
        self.srv.check_sanitizer()
        self.assertTrue(stream.wait_closed(1), "event stream still open after shutdown")
        stream.close()
        # nothing of the agents survives the server
        deadline = time.monotonic() + scaled(1)
        while [p for p in pids if not gone(p)] and time.monotonic() < deadline:
            time.sleep(0.01)
        self.assertEqual([(p, proc_state(p)) for p in pids if not gone(p)], [])
        self.assertEqual(os.listdir(self.tmpdir), [], "temp files left behind")


# ---------------------------------------------------------------- 7. burst

class TestBurst(FakeAgentCase):

    def test_burst_of_deltas_seen_exactly_once_by_every_reader(self):
        sid = self.create()
        path = "/v1/sessions/%s" % quote(sid)
        sse = StreamClient(self.srv.port, path + "/events/sse")
        # a reader with a tiny window, not read at all during the burst:
        # the server must pause it, never skip events
        slow = StreamClient(self.srv.port, path + "/events/sse?offset=0", rcvbuf=4096)
        turn = None
        probe = HealthProbe(self.srv.port)
        try:
            pump_until([sse], lambda: len(sse.reader.events) >= 1, 5, "session.started on SSE")
            probe.start()
            turn = StreamClient(self.srv.port, path + "/messages/stream", method="POST",
                                body={"message": "burst %d" % BURST})
            pump_until([sse, turn],
                       lambda: turn.reader.done and any(e["type"] == "turn.ended"
                                                        for e in sse.reader.events[-3:]),
                       60, "the burst on both streams")
            probe.stop()
            evs = self.events(sid)
            pump_until([slow], lambda: len(slow.reader.events) >= len(evs), 30,
                       "the slow reader catching up")
        finally:
            probe.stop()
            sse.close()
            slow.close()
            if turn:
                turn.close()
        n = 1 + 4 + BURST + 2
        pid = self.pids(sid, "agent")[0]
        self.assertEqual(len(evs), n, describe(evs[-10:]))
        self.assertEnvelopes(evs, sid, [None] * 5 + ["fake-%d" % pid] * (n - 5))
        self.assertEqual(types(evs[-2:]), ["item.completed", "turn.ended"])
        unative, aid, ph = self.expect_turn_start(evs[1:], sid, "burst %d" % BURST, 1)
        want = ["%d," % i for i in range(BURST)]
        self.expect_deltas(evs[5:5 + BURST], aid, ph, want)
        self.expect_asst_done(evs[-2], aid, ph, [{"type": "text", "text": "".join(want)}])

        # the SSE reader: every event exactly once, ids = sequences
        self.assertEqual(sse.reader.bad_lines, [])
        self.assertEqual(sse.reader.events, evs)
        self.assertEqual([f[0] for f in sse.reader.frames], [str(i) for i in range(1, n + 1)])
        self.assertEqual(slow.reader.events, evs)
        # the turn stream: everything after the message, up to turn.ended
        self.assertEqual(turn.reader.status, 200)
        self.assertEqual(turn.reader.events, evs[1:])
        self.assertEqual("".join(e["data"]["delta"] for e in of_type(sse.reader.events,
                                                                     "item.delta")),
                         "".join(want))
        # the server answered health checks all along
        self.assertEqual(probe.failures, [])
        self.assertGreater(len(probe.latencies), 3)
        self.assertLess(max(probe.latencies), scaled(1.0), "slowest health answer")


# ---------------------------------------------------------------- 8. many processes

class TestMany(FakeAgentCase):

    def test_hundred_sessions_each_with_a_process(self):
        self.assertTrue(self.srv.health_ok())
        baseline = self.srv.fds()
        sids = [self.create("many-%03d" % i) for i in range(MANY)]
        for i, sid in enumerate(sids):
            self.send(sid, "reply session %d done" % i)
        per_session = 1 + 6 + 3

        def counts():
            st, body, h = self.srv.json("GET", "/v1/sessions")
            return {s["sessionId"]: s["eventCount"] for s in body["sessions"]}

        deadline = time.monotonic() + scaled(40)
        while True:
            c = counts()
            if all(c.get(sid) == per_session for sid in sids):
                break
            if time.monotonic() > deadline:
                late = {sid: c.get(sid) for sid in sids if c.get(sid) != per_session}
                self.fail("turns not finished: %r" % sorted(late.items())[:10])
            time.sleep(0.05)
        pids = []
        unatives = []
        for i, sid in enumerate(sids):
            evs = self.events(sid)
            self.assertEqual(len(evs), per_session, describe(evs))
            unatives.append(self.expect_reply_turn(evs[1:], sid, "reply session %d done" % i,
                                                   "session %d done" % i, 1))
            agents = self.pids(sid, "agent")
            self.assertEqual(len(agents), 1, sid)
            pids += agents
            self.assertEnvelopes(evs, sid, [None] * 5 + ["fake-%d" % agents[0]] * 5)
        self.assertEqual(len(set(pids)), MANY)
        self.assertEqual(len(set(unatives)), MANY, "user item native ids are daemon-wide")
        self.assertEqual(sorted(self.srv.children()), sorted(pids))

        for sid in sids:
            self.terminate(sid)
        self.wait_gone(pids, 10)
        deadline = time.monotonic() + scaled(5)
        while self.srv.fds() > baseline + FD_SLACK and time.monotonic() < deadline:
            time.sleep(0.02)
        self.assertLessEqual(self.srv.fds(), baseline + FD_SLACK,
                             "fds: baseline %d, now %d" % (baseline, self.srv.fds()))
        for sid in sids:
            self.assertEqual(self.events(sid)[-1]["data"],
                             {"reason": "terminated", "terminated_by": "daemon"})
        self.assertTrue(self.srv.health_ok())


if __name__ == "__main__":
    unittest.main()
