"""test_opencode.py - the real pinned OpenCode CLI (`opencode serve`, one
shared server for all sessions of our server) driven through our server
against the mock model server. Each scenario asserts the universal event
sequence seen over HTTP (normalized with e2elib.normalize) and what reached
the model.

OpenCode is configured by e2elib.Sandbox ($XDG_CONFIG_HOME/opencode/
opencode.json: provider "mock", @ai-sdk/openai-compatible, model
mock/mock-model). Permissions: SANDBOX opencode_permission {"bash": "ask"}
makes it ask before shell commands.

Run: python3 tests/e2e/run.py test_opencode"""

import base64
import json
import os
import re
import signal
import stat
import time

import e2elib
import mcp_echo
from e2elib import normalize

PNG = base64.b64decode("iVBORw0KGgoAAAANSUhEUgAAAAIAAAACCAIAAAD91JpzAAAAEElEQVR4nGP4z8AARAwQCgAf"
                       "7gP9i18U1AAAAABJRU5ErkJggg==")
MODEL = "mock/" + e2elib.OPENCODE_MODEL


def user(text, *extra):
    parts = (("text", text),) + tuple(extra)
    return [("item.started", ("message", "user", "in_progress", parts)),
            ("item.completed", ("message", "user", "completed", parts))]


def reply(text, kind="text", status="completed"):
    return [("item.started", ("message", "assistant", "in_progress", ())),
            ("item.delta", text),
            ("item.completed", ("message", "assistant", status, ((kind, text),)))]


def tool_call(name):
    parts = (("tool_call", name),)
    return [("item.started", ("tool_call", "assistant", "in_progress", parts)),
            ("item.completed", ("tool_call", "assistant", "completed", parts))]


def result_started():
    return [("item.started", ("tool_result", "tool", "in_progress", (("tool_result",),)))]


def result_done(status="completed", *extra):
    return [("item.completed", ("tool_result", "tool", status, (("tool_result",),) + extra))]


def shell(cmd, **kw):
    return e2elib.shell_turn("opencode", cmd, **kw)


QUESTION = {"questions": [{"question": "Which color?", "header": "Color", "options": [
    {"label": "red", "description": "Red"}, {"label": "blue", "description": "Blue"}]}]}

TURN = [("turn.started", None)]
END = [("turn.ended", None)]


class OpenCodeCase(e2elib.AgentTestCase):
    AGENT = "opencode"

    def until(self, sid, typ, offset=0, timeout=90):
        """Events after offset up to the first of type typ."""
        return self.server.wait_type(sid, typ, timeout=timeout, offset=offset)[1]

    def full_turn(self, sid, text, attachments=None, timeout=90):
        off = self.server.last_sequence(sid)
        self.server.post_message(sid, text, attachments)
        return self.until(sid, "turn.ended", off, timeout)

    def assertSeq(self, events, want, drop=()):
        self.assertEqual(normalize(events, drop=drop), want,
                         "\n" + "\n".join(e2elib.describe(e) for e in events))

    def assertPermission(self, events, want_seq, status):
        """want_seq without the permission events (OpenCode asks while the
        tool is pending or already running), which are checked apart:
        requested, then resolved with status, before the tool's result."""
        perm = ("permission.requested", "permission.resolved")
        self.assertSeq(events, want_seq, drop=perm)
        keys = normalize(events)
        req = keys.index(("permission.requested", ("bash", "requested")))
        res = keys.index(("permission.resolved", ("bash", status)))
        done = [i for i, k in enumerate(keys) if k[0] == "item.completed" and
                k[1][0] == "tool_result"][0]
        self.assertLess(req, res)
        self.assertLess(res, done)

    def turn_status(self, events):
        return [e for e in events if e["type"] == "turn.ended"][-1]["data"]["metadata"]["status"]

    def assertClean(self, sid):
        bad = [e for e in self.server.events(sid) if e["type"] == "agent.unparsed"]
        self.assertEqual(bad, [])

    def serve_pids(self):
        """Pids of `opencode serve` processes of this test."""
        out = []
        for pid in self.sandbox.processes():
            try:
                with open("/proc/%d/cmdline" % pid, "rb") as f:
                    argv = f.read().split(b"\0")
            except OSError:
                continue
            if b"serve" in argv and any(a.endswith(b"opencode") or b"opencode" in a
                                        for a in argv[:1]):
                out.append(pid)
        return out

    def wait_log(self, pattern, count=1, timeout=30):
        deadline = time.monotonic() + e2elib.scaled(timeout)
        while time.monotonic() < deadline:
            found = re.findall(pattern, self.server.log_tail(400000))
            if len(found) >= count:
                return found
            time.sleep(0.05)
        self.fail("server log never showed %r %d times:\n%s" % (
            pattern, count, self.server.log_tail(4000)))

    def set_config(self, **changes):
        """Rewrites OpenCode's opencode.json (before its server starts)."""
        cfg = self.sandbox.opencode_config_obj()
        for k, v in changes.items():
            cfg[k] = v
        with open(self.sandbox.opencode_config, "w") as f:
            json.dump(cfg, f, indent=2)
        return cfg


class OpenCodeBasics(OpenCodeCase):

    def test_text_with_deltas(self):
        self.mock.push({"text": "Hello there", "chunks": 3})
        sid = self.create_session()
        info = self.server.sessions()[0]
        self.assertEqual(info["model"], MODEL)
        events = self.full_turn(sid, "say hello")
        self.assertSeq(events, TURN + user("say hello") + reply("Hello there") + END)
        self.assertGreaterEqual(len(e2elib.of_type(events, "item.delta")), 2)
        ended = events[-1]
        self.assertFalse(ended["synthetic"])
        meta = ended["data"]["metadata"]
        self.assertEqual(meta["status"], "completed")
        self.assertEqual(meta["finish"], "stop")
        self.assertEqual(meta["model"], MODEL)
        self.assertIn("input", meta["tokens"])
        native = self.server.sessions()[0]["nativeSessionId"]
        self.assertTrue(native.startswith("ses_"))
        self.assertTrue(all(e["native_session_id"] == native for e in events))
        req = self.mock.main_requests()[0]
        self.assertEqual(req.last_user_text(), "say hello")
        self.assertEqual(req.model, e2elib.OPENCODE_MODEL)
        self.assertClean(sid)

    def test_multi_turn(self):
        self.mock.push({"text": "First answer"}, {"text": "Second answer"})
        sid = self.create_session()
        self.full_turn(sid, "first question")
        events = self.full_turn(sid, "second question")
        self.assertSeq(events, TURN + user("second question") + reply("Second answer") + END)
        req = self.mock.main_requests()[-1]
        self.assertEqual(req.user_texts()[-2:], ["first question", "second question"])
        self.assertIn("First answer", json.dumps(req.body))

    def test_stream_turn_endpoint(self):
        self.mock.push({"text": "Streamed"})
        sid = self.create_session()
        events = self.stream_turn(sid, "stream it")
        self.assertSeq(events, TURN + user("stream it") + reply("Streamed") + END)

    def test_queued_message_waits_for_the_turn(self):
        self.mock.push({"deltas": ["slow", " one"], "chunk_delay": 0.5}, {"text": "Second"})
        sid = self.create_session()
        self.server.post_message(sid, "one")
        self.server.post_message(sid, "two")
        first = self.until(sid, "turn.ended")
        events = first + self.until(sid, "turn.ended", first[-1]["sequence"])
        self.assertSeq(events, [("session.started", None)] + TURN + user("one") +
                       reply("slow one") + END + TURN + user("two") + reply("Second") + END)

    def test_reasoning(self):
        self.mock.push({"thinking": "Considering how to greet.", "text": "Hi"})
        sid = self.create_session()
        events = self.full_turn(sid, "greet me")
        self.assertSeq(events, TURN + user("greet me") +
                       reply("Considering how to greet.", "reasoning") + reply("Hi") + END)
        rs = [e for e in events if e["type"] == "item.completed" and
              e["data"]["item"]["content"][0]["type"] == "reasoning"][0]
        self.assertEqual(rs["data"]["item"]["content"][0]["visibility"], "public")
        ds = e2elib.deltas(events)
        self.assertEqual(ds[rs["data"]["item"]["item_id"]], "Considering how to greet.")

    def test_image_and_file_attachments(self):
        # the mock model must accept images, or OpenCode drops them
        cfg = self.sandbox.opencode_config_obj()
        m = cfg["provider"]["mock"]["models"][e2elib.OPENCODE_MODEL]
        m["attachment"] = True
        m["modalities"] = {"input": ["text", "image"], "output": ["text"]}
        self.set_config(provider=cfg["provider"])
        with open(self.sandbox.path("img.png"), "wb") as f:
            f.write(PNG)
        with open(self.sandbox.path("notes.txt"), "w") as f:
            f.write("remember the milk\n")
        self.mock.push({"text": "A tiny image"})
        sid = self.create_session()
        events = self.full_turn(sid, "what is this?", attachments=[
            {"path": "img.png", "mime": "image/png"}, {"path": "notes.txt"}])
        self.assertSeq(events, TURN + user("what is this?", ("image", "image/png"),
                                           ("file_ref", "read", "notes.txt")) +
                       reply("A tiny image") + END)
        req = self.mock.main_requests()[0]
        self.assertEqual(len(req.images()), 1)
        self.assertIn("remember the milk", json.dumps(req.body))
        self.assertNotIn("Attachments:", json.dumps(req.body))

    def test_models_modes_and_agent_mode(self):
        self.mock.push({"text": "Planned"})
        sid = self.create_session(agentMode="plan")
        self.full_turn(sid, "make a plan")
        models = self.server.json("GET", "/v1/agents/opencode/models")
        self.assertIn(MODEL, [m["id"] for m in models["models"]])
        self.assertEqual(models["defaultModel"], MODEL)
        modes = [m["id"] for m in self.server.json("GET", "/v1/agents/opencode/modes")["modes"]]
        self.assertIn("build", modes)
        self.assertIn("plan", modes)
        self.assertEqual(modes[-1], "custom")
        ended = e2elib.of_type(self.events(sid), "turn.ended")[-1]
        self.assertEqual(ended["data"]["metadata"]["agent"], "plan")
        agents = self.server.agents()
        self.assertTrue(agents["opencode"]["capabilities"]["sharedProcess"])

    def test_model_not_in_provider_form_is_refused(self):
        r = self.server.request("POST", "/v1/sessions/bad-model",
                                {"agent": "opencode", "model": "gpt-4"})
        self.assertEqual(r.status, 400)
        self.assertIn("provider/model", r.body.decode())


class OpenCodeTools(OpenCodeCase):
    SANDBOX = {"opencode_permission": {"bash": "ask"}}

    def shell_turn(self, sid, cmd, reply_with, text="Done"):
        self.mock.push(shell(cmd), {"text": text})
        off = self.server.last_sequence(sid)
        self.server.post_message(sid, "run " + cmd)
        ev, _ = self.wait_type(sid, "permission.requested", offset=off)
        self.assertEqual(ev["data"]["action"], "bash")
        self.assertEqual(ev["data"]["metadata"]["patterns"], [cmd])
        self.server.reply_permission(sid, ev["data"]["permission_id"], reply_with)
        return self.until(sid, "turn.ended", off)

    def test_bash_permission_once(self):
        sid = self.create_session()
        events = self.shell_turn(sid, "echo hi > f.txt", "once")
        self.assertPermission(events, TURN + user("run echo hi > f.txt") + tool_call("bash") +
                              result_started() + result_done() + reply("Done") + END, "accept")
        with open(self.sandbox.path("f.txt")) as f:
            self.assertEqual(f.read(), "hi\n")
        self.assertEqual(self.mock.main_requests()[-1].tool_results()[-1]["content"],
                         "(no output)")
        # resolved once: OpenCode's permission.replied adds nothing
        self.assertEqual(len(e2elib.of_type(self.events(sid), "permission.resolved")), 1)

    def test_bash_permission_always(self):
        sid = self.create_session()
        events = self.shell_turn(sid, "echo one", "always")
        self.assertIn(("permission.resolved", ("bash", "accept_for_session")), normalize(events))
        out = [e for e in events if e["type"] == "item.completed" and
               e["data"]["item"]["kind"] == "tool_result"][0]["data"]["item"]["content"][0]
        self.assertEqual(out["output"], "one\n")
        self.assertEqual(e2elib.deltas(events).get(
            [e for e in events if e["type"] == "item.completed" and
             e["data"]["item"]["kind"] == "tool_result"][0]["data"]["item"]["item_id"]), "one\n")
        # a command OpenCode's own "always" pattern (echo *) does not
        # cover asks again; our allow list answers it without the client
        self.mock.push(shell("ls"), {"text": "Listed"})
        off = self.server.last_sequence(sid)
        self.server.post_message(sid, "list")
        events = self.until(sid, "turn.ended", off)
        self.assertPermission(events, TURN + user("list") + tool_call("bash") + result_started() +
                              result_done() + reply("Listed") + END, "accept_for_session")
        auto = e2elib.of_type(events, "permission.resolved")[0]
        self.assertTrue(auto["synthetic"])
        # and one it covers does not ask at all
        self.mock.push(shell("echo two"), {"text": "Again"})
        events = self.full_turn(sid, "again")
        self.assertEqual(e2elib.of_type(events, "permission.requested"), [])
        self.assertEqual(self.turn_status(events), "completed")

    def test_bash_permission_reject(self):
        sid = self.create_session()
        events = self.shell_turn(sid, "rm -rf nothing", "reject")
        self.assertPermission(events, TURN + user("run rm -rf nothing") + tool_call("bash") +
                              result_started() + result_done("failed") + END, "reject")
        failed = e2elib.of_type(events, "item.completed")[-1]["data"]["item"]["content"][0]
        self.assertIn("rejected permission", failed["output"])
        self.assertEqual(self.turn_status(events), "completed")
        # the model was not asked again; the session goes on
        self.assertEqual(len(self.mock.main_requests()), 1)
        self.mock.reset()
        self.mock.push({"text": "Still here"})
        events = self.full_turn(sid, "hello?")
        self.assertSeq(events, TURN + user("hello?") + reply("Still here") + END)

    def test_file_edit_with_diff(self):
        with open(self.sandbox.path("f.txt"), "w") as f:
            f.write("hi\n")
        path = self.sandbox.path("f.txt")
        self.mock.push({"tool": "read", "input": {"filePath": path}},
                       {"tool": "edit", "input": {"filePath": path, "oldString": "hi",
                                                  "newString": "bye"}},
                       {"text": "Edited"})
        sid = self.create_session()
        events = self.full_turn(sid, "change hi to bye")
        self.assertSeq(events, TURN + user("change hi to bye") +
                       tool_call("read") + result_started() +
                       result_done("completed", ("file_ref", "read", "f.txt")) +
                       tool_call("edit") + result_started() +
                       result_done("completed", ("file_ref", "patch", "f.txt")) +
                       reply("Edited") + END)
        ref = e2elib.of_type(events, "item.completed")[-2]["data"]["item"]["content"][1]
        self.assertEqual(ref["path"], path)
        self.assertIn("-hi\n+bye", ref["diff"])
        with open(path) as f:
            self.assertEqual(f.read(), "bye\n")

    def test_question_answered(self):
        self.mock.push({"tool": "question", "input": QUESTION}, {"text": "Blue it is"})
        sid = self.create_session()
        self.server.post_message(sid, "ask me")
        ev, _ = self.wait_type(sid, "question.requested")
        self.assertEqual(ev["data"]["prompt"], "Which color?")
        self.assertEqual(ev["data"]["options"], ["red", "blue"])
        self.server.reply_question(sid, ev["data"]["question_id"], [["blue"]])
        events = self.until(sid, "turn.ended", ev["sequence"])
        keys = normalize(events)
        at = keys.index(("question.resolved", ("Which color?", "answered")))
        self.assertEqual(keys[at + 1:], result_done() + reply("Blue it is") + END)
        self.assertIn(("item.completed", ("tool_call", "assistant", "completed",
                                          (("tool_call", "question"),))), normalize(self.events(sid)))
        self.assertEqual(events[at]["data"]["response"], "blue")
        self.assertIn("blue", self.mock.main_requests()[-1].tool_results()[-1]["content"])
        self.assertEqual(len(e2elib.of_type(self.events(sid), "question.resolved")), 1)

    def test_question_rejected(self):
        self.mock.push({"tool": "question", "input": QUESTION}, {"text": "unused"})
        sid = self.create_session()
        self.server.post_message(sid, "ask me")
        ev, _ = self.wait_type(sid, "question.requested")
        self.server.reject_question(sid, ev["data"]["question_id"])
        events = self.until(sid, "turn.ended", ev["sequence"])
        keys = normalize(events)
        at = keys.index(("question.resolved", ("Which color?", "rejected")))
        self.assertEqual(keys[at + 1:], result_done("failed") + END)
        self.assertEqual(self.turn_status(events), "completed")

    def test_mcp_server(self):
        log = os.path.join(self.sandbox.root, "mcp.log")
        self.sandbox.extra_env["MCP_ECHO_LOG"] = log
        self.mock.push({"tool": "echo_echo", "input": {"text": "ping"}}, {"text": "Echoed"})
        sid = self.create_session(mcp={"echo": {
            "type": "local", "command": mcp_echo.command(), "env": {"MCP_ECHO_LOG": log}}})
        events = self.full_turn(sid, "echo ping")
        self.assertSeq(events, TURN + user("echo ping") + tool_call("echo_echo") +
                       result_started() + result_done() + reply("Echoed") + END)
        self.assertIn("echo_echo", self.mock.main_requests()[0].tools())
        self.assertIn("echo: ping", self.mock.main_requests()[-1].tool_results()[-1]["content"])


class OpenCodeErrors(OpenCodeCase):

    def test_provider_error_400(self):
        self.mock.push({"error": 400, "message": "bad request here"})
        sid = self.create_session()
        events = self.full_turn(sid, "fail")
        self.assertSeq(events, TURN + user("fail") + [("error", "APIError")] + END)
        self.assertEqual(events[-2]["data"]["message"], "bad request here")
        self.assertEqual(events[-2]["data"]["details"]["data"]["statusCode"], 400)
        self.assertEqual(self.turn_status(events), "error")
        self.assertFalse(self.server.sessions()[0]["ended"])

    def test_provider_error_500_retries_then_fails(self):
        # retry-after: 0 keeps OpenCode's backoff short
        self.mock.push({"error": 500, "message": "overloaded", "times": 10,
                        "headers": {"retry-after": "0"}})
        sid = self.create_session()
        events = self.full_turn(sid, "fail", timeout=120)
        keys = normalize(events)
        retry = ("item.completed", ("status", "system", "completed",
                                    (("status", "opencode.retry"), ("json",))))
        self.assertEqual(keys.count(retry), 5)
        self.assertEqual(keys[-2:], [("error", "APIError"), ("turn.ended", None)])
        details = [e["data"]["item"]["content"][0]["detail"] for e in events
                   if e["type"] == "item.completed" and e["data"]["item"]["kind"] == "status"]
        self.assertEqual(details[0], "attempt 1: overloaded")
        self.assertEqual(details[-1], "attempt 5: overloaded")
        self.assertEqual(self.turn_status(events), "error")
        # the session goes on
        self.mock.reset()
        self.mock.push({"text": "Better now"})
        events = self.full_turn(sid, "again")
        self.assertSeq(events, TURN + user("again") + reply("Better now") + END)


class OpenCodeLifecycle(OpenCodeCase):

    def test_abort_mid_turn(self):
        self.mock.push({"deltas": ["one", " two", " three"], "stall": -1})
        self.addCleanup(self.mock.release)
        sid = self.create_session()
        self.server.post_message(sid, "count slowly")
        got = self.until(sid, "item.delta")
        self.server.terminate(sid)
        events = self.server.events(sid, got[-1]["sequence"])
        self.assertSeq(events, [
            ("item.completed", ("message", "assistant", "failed", (("text", "one"),))),
            ("turn.ended", None),
            ("session.ended", "terminated")])
        self.assertEqual(events[1]["data"]["metadata"]["status"], "interrupted")
        r = self.server.post_message(sid, "more", expect=None)
        self.assertEqual(r.status, 400)
        time.sleep(1)  # OpenCode's abort events come and are dropped
        self.assertEqual(len(self.server.events(sid)), events[-1]["sequence"])

    def test_server_killed_mid_turn(self):
        self.mock.push({"deltas": ["one", " two"], "stall": -1})
        self.addCleanup(self.mock.release)
        sid = self.create_session()
        native = None
        self.server.post_message(sid, "count")
        self.until(sid, "item.delta")
        native = self.server.sessions()[0]["nativeSessionId"]
        pids = self.serve_pids()
        self.assertEqual(len(pids), 1)
        os.kill(pids[0], signal.SIGKILL)
        events = self.until(sid, "turn.ended")
        keys = normalize(events)
        self.assertEqual(keys[-3:], [
            ("error", "server_exit"),
            ("item.completed", ("message", "assistant", "failed", (("text", "one"),))),
            ("turn.ended", None)])
        err = [e for e in events if e["type"] == "error"][0]["data"]
        self.assertEqual(err["details"]["signal"], signal.SIGKILL)
        self.assertEqual(self.turn_status(events), "error")
        self.assertFalse(self.server.sessions()[0]["ended"])
        # the next message starts a new server and goes on in the same
        # OpenCode session
        self.mock.release()
        self.mock.reset()
        self.mock.push({"text": "Back again"})
        events = self.full_turn(sid, "still there?", timeout=120)
        self.assertSeq(events, TURN + user("still there?") + reply("Back again") + END)
        self.assertEqual(self.server.sessions()[0]["nativeSessionId"], native)
        self.assertNotEqual(self.serve_pids(), pids)
        self.assertIn("still there?", self.mock.main_requests()[-1].user_texts())
        self.assertIn("count", self.mock.main_requests()[-1].user_texts())

    def test_two_sessions_in_two_directories(self):
        da, db = os.path.join(self.sandbox.root, "dir a"), os.path.join(self.sandbox.root, "b")
        os.makedirs(da)
        os.makedirs(db)
        self.mock.push(shell("echo A > where.txt", match="in A"), {"text": "A done", "match": "in A"},
                       shell("echo B > where.txt", match="in B"), {"text": "B done", "match": "in B"})
        sa = self.create_session(directory=da)
        sb = self.create_session(directory=db)
        self.server.post_message(sa, "work in A")
        self.server.post_message(sb, "work in B")
        ea = self.until(sa, "turn.ended")
        eb = self.until(sb, "turn.ended")
        self.assertEqual(e2elib.assistant_text(ea), "A done")
        self.assertEqual(e2elib.assistant_text(eb), "B done")
        with open(os.path.join(da, "where.txt")) as f:
            self.assertEqual(f.read(), "A\n")
        with open(os.path.join(db, "where.txt")) as f:
            self.assertEqual(f.read(), "B\n")
        self.assertEqual(len(self.serve_pids()), 1)  # one shared server
        na = [s for s in self.server.sessions() if s["sessionId"] == sa][0]["nativeSessionId"]
        nb = [s for s in self.server.sessions() if s["sessionId"] == sb][0]["nativeSessionId"]
        self.assertNotEqual(na, nb)
        # session.started comes before OpenCode's session exists
        self.assertTrue(all(e["native_session_id"] == na for e in ea[1:]))
        self.assertTrue(all(e["native_session_id"] == nb for e in eb[1:]))


class OpenCodeIdle(OpenCodeCase):
    SANDBOX = {"extra_env": {"SANDBOX_AGENT_OPENCODE_IDLE_MS": "300"}}

    def test_idle_server_stops_and_comes_back(self):
        self.mock.push({"text": "First"}, {"text": "Second"})
        sid = self.create_session()
        self.full_turn(sid, "one")
        self.wait_log(r"opencode: stopping the server \(idle\)")
        deadline = time.monotonic() + e2elib.scaled(15)
        while self.serve_pids() and time.monotonic() < deadline:
            time.sleep(0.1)
        self.assertEqual(self.serve_pids(), [])
        events = self.full_turn(sid, "two", timeout=120)
        self.assertSeq(events, TURN + user("two") + reply("Second") + END)
        self.assertEqual(self.mock.main_requests()[-1].user_texts()[-2:], ["one", "two"])


class OpenCodeStartFailure(OpenCodeCase):
    SANDBOX = {"extra_env": {"SANDBOX_AGENT_OPENCODE_START_MS": "1500"}}

    def setUp(self):
        super().setUp()
        # an `opencode` that never says it listens, first on PATH
        fake = os.path.join(self.sandbox.bin, "opencode")
        os.unlink(fake)
        with open(fake, "w") as f:
            f.write("#!/bin/sh\nexec sleep 600\n")
        os.chmod(fake, stat.S_IRWXU)

    def test_server_that_never_listens(self):
        sid = self.create_session()
        ev, events = self.wait_type(sid, "session.ended", timeout=30)
        self.assertSeq(events, [("session.started", None), ("error", "opencode_server"),
                                ("session.ended", "error")])
        self.assertIn("listening", events[1]["data"]["message"])
        self.assertEqual(ev["data"]["terminated_by"], "daemon")
        r = self.server.post_message(sid, "hello", expect=None)
        self.assertEqual(r.status, 400)
        self.assertEqual(self.serve_pids(), [])


class OpenCodeSkills(OpenCodeCase):

    def skill_text(self, req):
        """What the model was told about skills (the system prompt lists
        them)."""
        return req.system_text() or ""

    def test_skills_of_a_second_session_in_a_used_directory(self):
        src = os.path.join(self.sandbox.root, "skills-src", "greet-demo")
        os.makedirs(src)
        with open(os.path.join(src, "SKILL.md"), "w") as f:
            f.write("---\nname: greet-demo\ndescription: Greets in a demo way\n---\nSay hi.\n")
        self.mock.push({"text": "First"}, {"text": "Second"})
        first = self.create_session()
        self.full_turn(first, "hello")
        self.assertNotIn("greet-demo", self.skill_text(self.mock.main_requests()[-1]))
        second = self.create_session(skills={"sources": [
            {"type": "local", "source": os.path.dirname(src)}]})
        self.full_turn(second, "hello again")
        self.assertIn("greet-demo", self.skill_text(self.mock.main_requests()[-1]))
        # OpenCode found no plugin folder to install into
        self.assertTrue(os.path.exists(self.sandbox.path(".opencode", "package.json")))
        self.assertFalse(os.path.exists(self.sandbox.path(".opencode", "node_modules",
                                                          "@opencode-ai")))
