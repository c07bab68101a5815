"""test_codex.py - the real pinned Codex CLI (`codex app-server`, one per
session) driven through our server against the mock model server. Each
scenario asserts the universal event sequence seen over HTTP (normalized
with e2elib.normalize) and what reached the model.

Codex is configured by e2elib.Sandbox (CODEX_HOME/config.toml: model
gpt-5.5, the mock provider). Approvals: permissionMode "plan" is Codex's
untrusted approval policy, which asks before commands and patches.

Run: python3 tests/e2e/run.py test_codex"""

import base64
import json
import os
import re
import signal
import time

import e2elib
import mcp_echo
from e2elib import normalize

PNG = base64.b64decode("iVBORw0KGgoAAAANSUhEUgAAAAIAAAACCAIAAAD91JpzAAAAEElEQVR4nGP4z8AARAwQCgAf"
                       "7gP9i18U1AAAAABJRU5ErkJggg==")


def user(text, *extra):
    parts = (("text", text),) + tuple(extra)
    return [("item.started", ("message", "user", "in_progress", parts)),
            ("item.completed", ("message", "user", "completed", parts))]


def reply(text):
    return [("item.started", ("message", "assistant", "in_progress", ())),
            ("item.delta", text),
            ("item.completed", ("message", "assistant", "completed", (("text", text),)))]


def tool_call(name, *extra):
    parts = (("tool_call", name),) + tuple(extra)
    return [("item.started", ("tool_call", "assistant", "in_progress", parts)),
            ("item.completed", ("tool_call", "assistant", "completed", parts))]


def result_started(*extra):
    return [("item.started", ("tool_result", "tool", "in_progress", (("tool_result",),) + extra))]


def result_done(status="completed", *extra):
    return [("item.completed", ("tool_result", "tool", status, (("tool_result",),) + extra))]


def user_texts(req):
    """The user's texts of a model request (Codex adds its environment
    context as a user message)."""
    return [t for t in req.user_texts() if not t.startswith("<environment_context>")]


def shell(cmd, **kw):
    return e2elib.shell_turn("codex", cmd, **kw)


def patch_turn(path, line="patched line"):
    return {"custom_tool": "apply_patch",
            "raw": "*** Begin Patch\n*** Add File: %s\n+%s\n*** End Patch\n" % (path, line)}


START = [("session.started", None)]
TURN = [("turn.started", None)]
END = [("turn.ended", None)]


class CodexCase(e2elib.AgentTestCase):
    AGENT = "codex"

    def until(self, sid, typ, offset=0, timeout=90):
        """Events after offset up to the first of type typ."""
        return self.server.wait_type(sid, typ, timeout=timeout, offset=offset)[1]

    def full_turn(self, sid, text, attachments=None, timeout=90):
        off = self.server.last_sequence(sid)
        self.server.post_message(sid, text, attachments)
        return self.until(sid, "turn.ended", off, timeout)

    def codex_pids(self):
        return [int(p) for p in re.findall(r"codex app-server started as pid (\d+)",
                                           self.server.log_tail(400000))]

    def assertSeq(self, events, want, drop=()):
        self.assertEqual(normalize(events, drop=drop), want,
                         "\n" + "\n".join(e2elib.describe(e) for e in events))

    def assertNoUnparsed(self, sid):
        bad = [e for e in self.server.events(sid, include_raw=True)
               if e["type"] == "agent.unparsed"]
        self.assertEqual(bad, [])

    def assertGone(self, pid, timeout=15):
        deadline = time.monotonic() + e2elib.scaled(timeout)
        while time.monotonic() < deadline:
            try:
                os.kill(pid, 0)
            except ProcessLookupError:
                return
            try:  # a zombie counts as alive: it was not reaped
                with open("/proc/%d/stat" % pid) as f:
                    f.read()
            except FileNotFoundError:
                return
            time.sleep(0.05)
        self.fail("process %d still exists" % pid)

    def wait_log(self, pattern, count=1, timeout=30):
        deadline = time.monotonic() + e2elib.scaled(timeout)
        while time.monotonic() < deadline:
            found = re.findall(pattern, self.server.log_tail(400000))
            if len(found) >= count:
                return found
            time.sleep(0.05)
        self.fail("server log never showed %r %d times:\n%s" % (
            pattern, count, self.server.log_tail(4000)))


class CodexBasics(CodexCase):

    def test_text_with_deltas(self):
        self.mock.push({"text": "Hello there", "chunks": 3})
        sid = self.create_session()
        events = self.full_turn(sid, "say hello")
        self.assertSeq(events, TURN + user("say hello") + reply("Hello there") + END)
        self.assertGreaterEqual(len(e2elib.of_type(events, "item.delta")), 3)
        every = self.server.events(sid)
        self.assertEqual(every[0]["type"], "session.started")
        self.assertEqual(every[0]["data"]["metadata"]["model"], "default")
        native = self.server.sessions()[0]["nativeSessionId"]
        self.assertTrue(native)
        self.assertTrue(all(e["native_session_id"] == native for e in events))
        # native payloads are kept (include_raw); token usage ends the turn
        raw = self.server.events(sid, include_raw=True)
        ended = e2elib.of_type(raw, "turn.ended")[-1]
        self.assertEqual(ended["raw"]["method"], "turn/completed")
        self.assertEqual(ended["data"]["metadata"]["status"], "completed")
        self.assertIn("total", ended["data"]["metadata"]["tokenUsage"])
        self.assertEqual(ended["data"]["turn_id"], e2elib.of_type(raw, "turn.started")[-1]
                         ["data"]["turn_id"])
        req = self.mock.main_requests()[0]
        self.assertEqual(req.last_user_text(), "say hello")
        self.assertEqual(req.headers.get("originator"), "sandbox-agent")
        self.assertNoUnparsed(sid)

    def test_multi_turn_stream(self):
        self.mock.push({"text": "First answer"}, {"text": "Second answer"})
        sid = self.create_session()
        first = self.full_turn(sid, "first question")
        self.assertSeq(first, TURN + user("first question") + reply("First answer") + END)
        # the second turn over the SSE turn stream
        second = self.stream_turn(sid, "second question")
        self.assertSeq(second, TURN + user("second question") + reply("Second answer") + END)
        req = self.mock.main_requests()[-1]
        self.assertEqual(user_texts(req), ["first question", "second question"])
        self.assertIn("First answer", json.dumps(req.body))
        self.assertEqual(len(self.codex_pids()), 1)

    def test_reasoning(self):
        self.mock.push({"thinking": "Considering how to greet.", "text": "Hi"})
        sid = self.create_session()
        events = self.full_turn(sid, "greet me")
        want = TURN + user("greet me") + [
            ("item.started", ("message", "assistant", "in_progress", ())),
            ("item.delta", "Considering how to greet."),
            ("item.completed", ("message", "assistant", "completed",
                                (("reasoning", "Considering how to greet."),))),
        ] + reply("Hi") + END
        self.assertSeq(events, want)
        # the reasoning deltas belong to the reasoning item
        rs = [e for e in events if e["type"] == "item.completed" and
              e["data"]["item"]["content"][0]["type"] == "reasoning"][0]
        ds = e2elib.deltas(events)
        self.assertEqual(ds[rs["data"]["item"]["item_id"]], "Considering how to greet.")
        self.assertEqual(rs["data"]["item"]["content"][0]["visibility"], "public")

    def test_plan_agent_mode_prefix(self):
        self.mock.push({"text": "A plan"})
        sid = self.create_session(agentMode="plan")
        self.full_turn(sid, "refactor it")
        self.assertEqual(self.mock.main_requests()[0].last_user_text(),
                         "Make a plan before acting.\n\nrefactor it")

    def test_image_input(self):
        with open(self.sandbox.path("img.png"), "wb") as f:
            f.write(PNG)
        self.mock.push({"text": "A tiny image"})
        sid = self.create_session()
        events = self.full_turn(sid, "what is this?",
                                attachments=[{"path": "img.png", "mime": "image/png"}])
        text = "what is this?\n\nAttachments:\n- img.png\n"
        self.assertSeq(events, TURN + user(text, ("image", "image/png")) +
                       reply("A tiny image") + END)
        images = self.mock.main_requests()[0].images()
        self.assertEqual(len(images), 1)
        url = images[0].get("image_url") or ""
        self.assertTrue(url.startswith("data:image/png;base64,"), url[:60])
        self.assertEqual(base64.b64decode(url.split(",", 1)[1]), PNG)

    def test_models_and_capabilities(self):
        models = self.server.json("GET", "/v1/agents/codex/models")
        ids = [m["id"] for m in models["models"]]
        self.assertEqual(models["defaultModel"], "default")
        self.assertIn("default", ids)
        self.assertIn("gpt-5.5", ids)
        info = self.server.agents()["codex"]
        self.assertTrue(info["installed"])
        self.assertTrue(info["credentialsAvailable"])
        self.assertTrue(info["capabilities"]["commandExecution"])
        # an explicit model goes to codex
        self.mock.push({"text": "OK"})
        sid = self.create_session(model="gpt-5.5")
        self.full_turn(sid, "hi")
        self.assertEqual(self.mock.main_requests()[0].model, "gpt-5.5")


class CodexTools(CodexCase):

    def test_command_approved(self):
        self.mock.push(shell("echo hi > f.txt && cat f.txt"), {"text": "Done"})
        sid = self.create_session(permissionMode="plan")
        self.server.post_message(sid, "write f.txt")
        req = self.until(sid, "permission.requested")
        ev = req[-1]
        meta = ev["data"]["metadata"]
        self.assertEqual(ev["data"]["action"], "commandExecution")
        self.assertEqual(meta["codexRequestKind"], "commandExecution")
        self.assertEqual(ev["data"]["permission_id"], str(meta["codexRequestId"]))
        self.assertIn("echo hi > f.txt", meta["command"])
        self.assertTrue(meta["threadId"] and meta["turnId"] and meta["itemId"])
        self.assertFalse(os.path.exists(self.sandbox.path("f.txt")))
        self.server.reply_permission(sid, ev["data"]["permission_id"], "once")
        rest = self.until(sid, "turn.ended", ev["sequence"])
        self.assertSeq(req + rest, START + TURN + user("write f.txt") + tool_call("commandExecution") +
                       result_started() + [
                           ("permission.requested", ("commandExecution", "requested")),
                           ("permission.resolved", ("commandExecution", "accept"))] +
                       result_done("completed", ("json",)) + reply("Done") + END)
        done = [e for e in rest if e["type"] == "item.completed" and
                e["data"]["item"]["kind"] == "tool_result"][0]["data"]["item"]
        self.assertEqual(done["content"][0]["output"], "hi\n")
        self.assertEqual(done["content"][1]["json"]["exitCode"], 0)
        self.assertEqual(done["native_item_id"], meta["itemId"])
        with open(self.sandbox.path("f.txt")) as f:
            self.assertEqual(f.read(), "hi\n")
        self.assertIn("hi", self.mock.main_requests()[-1].tool_results()[-1]["content"])
        self.assertNoUnparsed(sid)

    def test_command_declined(self):
        self.mock.push(shell("echo hi > f.txt"), {"text": "Not done"})
        sid = self.create_session(permissionMode="plan")
        self.server.post_message(sid, "write f.txt")
        req = self.until(sid, "permission.requested")
        self.server.reply_permission(sid, req[-1]["data"]["permission_id"], "reject")
        rest = self.until(sid, "turn.ended", req[-1]["sequence"])
        self.assertSeq(rest, [("permission.resolved", ("commandExecution", "reject"))] +
                       result_done("failed", ("json",)) + reply("Not done") + END)
        self.assertFalse(os.path.exists(self.sandbox.path("f.txt")))
        done = [e for e in rest if e["type"] == "item.completed"][0]["data"]["item"]
        self.assertEqual(done["content"][1]["json"]["status"], "declined")

    def test_accept_for_session(self):
        # A (always), then B: codex asks again, our session answers at
        # once; then A again: codex does not ask at all
        self.mock.push(shell("echo a > a.txt", id="call_a"), shell("echo b > b.txt", id="call_b"),
                       shell("echo a > a.txt", id="call_a2"), {"text": "Both"})
        sid = self.create_session(permissionMode="plan")
        self.server.post_message(sid, "write two files")
        req = self.until(sid, "permission.requested")
        self.server.reply_permission(sid, req[-1]["data"]["permission_id"], "always")
        rest = self.until(sid, "turn.ended", req[-1]["sequence"])
        perms = [k for k in normalize(req + rest) if k[0].startswith("permission.")]
        self.assertEqual(perms, [
            ("permission.requested", ("commandExecution", "requested")),
            ("permission.resolved", ("commandExecution", "accept_for_session")),
            ("permission.requested", ("commandExecution", "requested")),
            ("permission.resolved", ("commandExecution", "accept_for_session"))])
        second = [e for e in rest if e["type"] == "permission.resolved"][-1]
        self.assertTrue(second["synthetic"])
        self.assertTrue(os.path.exists(self.sandbox.path("a.txt")))
        self.assertTrue(os.path.exists(self.sandbox.path("b.txt")))
        results = [e for e in rest if e["type"] == "item.completed" and
                   e["data"]["item"]["kind"] == "tool_result"]
        self.assertEqual([r["data"]["item"]["status"] for r in results],
                         ["completed", "completed", "completed"])
        self.assertEqual(self.server.json("GET", "/v1/sessions")["sessions"][0]["ended"], False)

    def test_file_change_approval(self):
        target = self.sandbox.path("p.txt")
        self.mock.push(patch_turn(target), {"text": "Patched"})
        sid = self.create_session(permissionMode="plan")
        self.server.post_message(sid, "patch it")
        req = self.until(sid, "permission.requested")
        ev = req[-1]
        self.assertEqual(ev["data"]["action"], "fileChange")
        self.assertEqual(ev["data"]["metadata"]["codexRequestKind"], "fileChange")
        self.assertFalse(os.path.exists(target))
        self.server.reply_permission(sid, ev["data"]["permission_id"], "once")
        rest = self.until(sid, "turn.ended", ev["sequence"])
        ref = ("file_ref", "write", "p.txt")
        self.assertSeq(req + rest, START + TURN + user("patch it") + tool_call("fileChange", ref) +
                       result_started(ref) + [
                           ("permission.requested", ("fileChange", "requested")),
                           ("permission.resolved", ("fileChange", "accept"))] +
                       result_done("completed", ref) + reply("Patched") + END)
        part = [e for e in req if e["type"] == "item.started" and
                e["data"]["item"]["kind"] == "tool_call"][0]["data"]["item"]["content"][1]
        self.assertEqual(part["path"], target)
        self.assertEqual(part["diff"], "patched line\n")
        with open(target) as f:
            self.assertEqual(f.read(), "patched line\n")

    def test_accept_edits_auto_accepts_file_changes(self):
        target = self.sandbox.path("q.txt")
        self.mock.push(patch_turn(target, "auto"), {"text": "Patched"})
        sid = self.create_session(permissionMode="acceptEdits")
        events = self.full_turn(sid, "patch it")
        ref = ("file_ref", "write", "q.txt")
        self.assertSeq(events, TURN + user("patch it") + tool_call("fileChange", ref) +
                       result_started(ref) +
                       [("permission.resolved", ("fileChange", "accept_for_session"))] +
                       result_done("completed", ref) + reply("Patched") + END)
        with open(target) as f:
            self.assertEqual(f.read(), "auto\n")
        self.assertEqual(self.server.events(sid)[-1]["type"], "turn.ended")

    def test_mcp_tool_call(self):
        log = os.path.join(self.sandbox.logs, "mcp.jsonl")
        cmd = mcp_echo.command()
        self.mock.push({"tool": "echo", "namespace": "mcp__echo", "input": {"text": "ping"}},
                       {"text": "MCP done"})
        sid = self.create_session(permissionMode="plan", mcp={"echo": {
            "type": "local", "command": cmd[0], "args": cmd[1:], "env": {"MCP_ECHO_LOG": log}}})
        self.server.post_message(sid, "call the echo tool")
        req = self.until(sid, "permission.requested")
        ev = req[-1]
        self.assertEqual(ev["data"]["action"], "mcpToolCall")
        self.assertEqual(ev["data"]["metadata"]["toolName"], "echo")
        self.assertEqual(ev["data"]["metadata"]["serverName"], "echo")
        self.server.reply_permission(sid, ev["data"]["permission_id"], "once")
        rest = self.until(sid, "turn.ended", ev["sequence"])
        self.assertSeq(req + rest, START + TURN + user("call the echo tool") + tool_call("echo.echo") +
                       result_started() + [
                           ("permission.requested", ("mcpToolCall", "requested")),
                           ("permission.resolved", ("mcpToolCall", "accept"))] +
                       result_done() + reply("MCP done") + END)
        call = [e for e in req if e["type"] == "item.completed"][-1]["data"]["item"]
        self.assertEqual(json.loads(call["content"][0]["arguments"]), {"text": "ping"})
        done = [e for e in rest if e["type"] == "item.completed"][0]["data"]["item"]
        self.assertEqual(done["content"][0]["output"], "echo: ping")
        with open(log) as f:
            calls = [json.loads(x) for x in f if '"tools/call"' in x]
        self.assertEqual(calls[0]["params"]["arguments"], {"text": "ping"})
        self.assertIn("echo: ping", self.mock.main_requests()[-1].tool_results()[-1]["content"])


    def test_mcp_always(self):
        """"always" persists the approval for the session: the second call
        of the tool is not asked about."""
        cmd = mcp_echo.command()
        self.mock.push({"tool": "echo", "namespace": "mcp__echo", "input": {"text": "one"}},
                       {"tool": "echo", "namespace": "mcp__echo", "input": {"text": "two"}},
                       {"text": "Twice"})
        sid = self.create_session(permissionMode="plan", mcp={"echo": {"command": cmd}})
        self.server.post_message(sid, "echo twice")
        req = self.until(sid, "permission.requested")
        self.server.reply_permission(sid, req[-1]["data"]["permission_id"], "always")
        rest = self.until(sid, "turn.ended", req[-1]["sequence"])
        self.assertEqual([k for k in normalize(rest) if k[0].startswith("permission.")],
                         [("permission.resolved", ("mcpToolCall", "accept_for_session"))])
        outs = [e["data"]["item"]["content"][0]["output"] for e in rest
                if e["type"] == "item.completed" and e["data"]["item"]["kind"] == "tool_result"]
        self.assertEqual(outs, ["echo: one", "echo: two"])


class CodexErrors(CodexCase):
    SANDBOX = {"retries": 0}

    def test_error_500(self):
        self.mock.push({"error": 500, "message": "upstream broke"})
        sid = self.create_session()
        events = self.full_turn(sid, "hi")
        err = e2elib.of_type(events, "error")
        self.assertEqual(len(err), 1, events)
        self.assertIsNone(err[0]["data"]["code"])
        self.assertFalse(err[0]["data"]["details"]["willRetry"])
        keys = normalize(events)
        self.assertEqual(keys[:3], TURN + user("hi"))
        self.assertEqual(keys[-2][0], "error")
        self.assertEqual(keys[-1], ("turn.ended", None))
        self.assertEqual(events[-1]["data"]["metadata"]["status"], "failed")
        # the session goes on
        self.mock.push({"text": "Recovered"})
        again = self.full_turn(sid, "again")
        self.assertSeq(again, TURN + user("again") + reply("Recovered") + END)

    def test_error_401(self):
        self.mock.push({"error": 401, "message": "invalid x-api-key"})
        sid = self.create_session()
        events = self.full_turn(sid, "hi")
        err = e2elib.of_type(events, "error")
        self.assertEqual(len(err), 1)
        self.assertIn("401", err[0]["data"]["message"])
        info = err[0]["data"]["details"]["error"]["codexErrorInfo"]
        self.assertEqual(info, {"httpConnectionFailed": {"httpStatusCode": 401}})
        self.assertEqual(normalize(events)[-1], ("turn.ended", None))
        self.assertFalse(self.server.sessions()[0]["ended"])

    def test_error_stream(self):
        """The turn stream ends at the error event."""
        self.mock.push({"error": 500, "times": 3})
        sid = self.create_session()
        events = self.stream_turn(sid, "hi")
        self.assertEqual(events[-1]["type"], "error")


class CodexRetries(CodexCase):
    SANDBOX = {"retries": 1}

    def test_retry_is_a_status_item(self):
        """A retry codex announces (willRetry) is a status item: an error
        event would end turn streams while the turn goes on."""
        self.mock.push({"error": 500, "times": 2}, {"text": "After retry"})
        sid = self.create_session()
        events = self.stream_turn(sid, "hi")
        self.assertSeq(events, TURN + user("hi") + [
            ("item.started", ("status", "system", "in_progress", (("status", "codex.retry"),))),
            ("item.completed", ("status", "system", "completed", (("status", "codex.retry"),)))] +
            reply("After retry") + END)
        detail = e2elib.of_type(events, "item.completed")[1]["data"]["item"]["content"][0]["detail"]
        self.assertIn("Reconnecting", detail)


class CodexLifecycle(CodexCase):

    def test_interrupt_by_terminate(self):
        self.mock.push({"deltas": ["one", " two", " three"], "stall": -1})
        self.addCleanup(self.mock.release)
        sid = self.create_session()
        self.server.post_message(sid, "count slowly")
        got = self.until(sid, "item.delta")
        pid = self.codex_pids()[-1]
        self.server.terminate(sid)
        events = self.server.events(sid, got[-1]["sequence"])
        self.assertSeq(events, [
            ("item.completed", ("message", "assistant", "failed", (("text", "one"),))),
            ("turn.ended", None),
            ("session.ended", "terminated")])
        self.assertEqual(events[1]["data"]["metadata"]["status"], "interrupted")
        self.assertGone(pid)
        r = self.server.post_message(sid, "more", expect=None)
        self.assertEqual(r.status, 400)
        time.sleep(0.3)  # nothing late
        self.assertEqual(len(self.server.events(sid)), events[-1]["sequence"])

    def test_resume_after_kill(self):
        self.mock.push({"text": "First answer"}, {"text": "Second answer"})
        sid = self.create_session()
        self.full_turn(sid, "first question")
        native = self.server.sessions()[0]["nativeSessionId"]
        pid = self.codex_pids()[-1]
        os.killpg(pid, signal.SIGKILL)
        self.assertGone(pid)
        self.wait_log(r"codex app-server exited with status \d+ while idle")
        events = self.full_turn(sid, "second question")
        self.assertSeq(events, TURN + user("second question") + reply("Second answer") + END)
        self.assertEqual(len(self.codex_pids()), 2)
        self.assertIn("(resumed)", self.server.log_tail(400000))
        self.assertEqual(self.server.sessions()[0]["nativeSessionId"], native)
        self.assertTrue(all(e["native_session_id"] == native for e in events))
        req = self.mock.main_requests()[-1]
        self.assertEqual(user_texts(req), ["first question", "second question"])
        self.assertIn("First answer", json.dumps(req.body))

    def test_death_mid_turn_ends_session(self):
        self.mock.push({"deltas": ["one", " two"], "stall": -1})
        self.addCleanup(self.mock.release)
        sid = self.create_session()
        self.server.post_message(sid, "count")
        self.until(sid, "item.delta")
        pid = self.codex_pids()[-1]
        os.killpg(pid, signal.SIGKILL)
        end = self.until(sid, "session.ended")
        keys = normalize(end)
        self.assertEqual(keys[-3:], [
            ("item.completed", ("message", "assistant", "failed", (("text", "one"),))),
            ("error", "server_exit"), ("session.ended", "error")])
        data = end[-1]["data"]
        self.assertEqual(data["terminated_by"], "daemon")
        self.assertEqual(data["exit_code"], 128 + signal.SIGKILL)
        self.assertIn("stderr", data)
        self.assertTrue(self.server.sessions()[0]["ended"])
        r = self.server.post_message(sid, "more", expect=None)
        self.assertEqual(r.status, 400)


class CodexIdleStop(CodexCase):

    def setUp(self):
        super().setUp()
        # a second server whose idle app-servers stop after 300 ms
        self.server.close()
        self.server = e2elib.Server(self.sandbox, env={"SANDBOX_AGENT_CODEX_IDLE_MS": "300"}).start()
        self.addCleanup(self.server.close)

    def test_idle_stop_then_resume(self):
        self.mock.push({"text": "One"}, {"text": "Two"})
        sid = self.create_session()
        self.full_turn(sid, "first")
        pid = self.codex_pids()[-1]
        self.assertGone(pid)
        self.wait_log(r"codex app-server idle, stopping it")
        events = self.full_turn(sid, "second")
        self.assertSeq(events, TURN + user("second") + reply("Two") + END)
        self.assertEqual(user_texts(self.mock.main_requests()[-1]), ["first", "second"])
