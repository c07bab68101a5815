"""test_claude.py - the real pinned Claude Code CLI driven through our
server (one long-lived stream-json process per session) against the mock
model server. Each scenario asserts the exact universal event sequence
seen through the HTTP API (normalized with e2elib.normalize).

Run: python3 tests/e2e/run.py test_claude"""

import base64
import os
import re
import time
import unittest

import claude_helpers
import e2elib
from e2elib import normalize

TURN_START = [
    ("turn.started", None),
]

PNG = base64.b64decode("iVBORw0KGgoAAAANSUhEUgAAAAIAAAACCAIAAAD91JpzAAAAEElEQVR4nGP4z8AARAwQCgAf"
                       "7gP9i18U1AAAAABJRU5ErkJggg==")


def user(text, *extra):
    parts = (("text", text),) + tuple(extra)
    return [("item.started", ("message", "user", "in_progress", parts)),
            ("item.completed", ("message", "user", "completed", parts))]


PLACEHOLDER = [("item.started", ("message", "assistant", "in_progress", ()))]


def reply(text, status="completed"):
    return [("item.delta", text), ("item.completed", ("message", "assistant", status,
                                                     (("text", text),)))]


def tool_call(name, *extra):
    parts = (("tool_call", name),) + tuple(extra)
    return [("item.started", ("tool_call", "assistant", "in_progress", parts)),
            ("item.completed", ("tool_call", "assistant", "completed", parts))]


def tool_result(status="completed"):
    return [("item.started", ("tool_result", "tool", "in_progress", (("tool_result",),))),
            ("item.completed", ("tool_result", "tool", status, (("tool_result",),)))]


def bash(command):
    return e2elib.shell_turn("claude", command)


def ask_turn(question="Which color?"):
    return {"tool": "AskUserQuestion", "input": {"questions": [{
        "question": question, "header": "Color", "multiSelect": False,
        "options": [{"label": "Red", "description": "Warm"},
                    {"label": "Blue", "description": "Cool"}]}]}}


class ClaudeCase(e2elib.AgentTestCase):
    AGENT = "claude"

    def until(self, sid, typ, offset=0, timeout=90):
        """Events after offset up to the first of type typ."""
        return self.server.wait_type(sid, typ, timeout=timeout, offset=offset)[1]

    def full_turn(self, sid, text, attachments=None, timeout=90):
        off = self.server.last_sequence(sid)
        self.server.post_message(sid, text, attachments)
        return self.until(sid, "turn.ended", off, timeout)

    def claude_pids(self):
        """Pids of the claude processes our server started, in order."""
        return [int(p) for p in re.findall(r"claude started as pid (\d+)",
                                           self.server.log_tail(200000))]

    def assertSeq(self, events, want):
        self.assertEqual(normalize(events), want,
                         "\n" + "\n".join(e2elib.describe(e) for e in events))

    def assertNoUnparsed(self, sid):
        bad = [e for e in self.server.events(sid) if e["type"] == "agent.unparsed"]
        self.assertEqual(bad, [])

    def assertGone(self, pid, timeout=10):
        """pid has exited and was reaped (no zombie left behind)."""
        deadline = time.monotonic() + e2elib.scaled(timeout)
        while time.monotonic() < deadline:
            try:
                with open("/proc/%d/stat" % pid) as f:
                    state = f.read().rsplit(")", 1)[1].split()[0]
            except (FileNotFoundError, ProcessLookupError, IndexError):
                return
            time.sleep(0.05)
        self.fail("process %d still exists (state %s)" % (pid, state))

    def wait_transcript(self, native, text, timeout=15):
        """Waits until Claude's transcript of session `native` holds text."""
        deadline = time.monotonic() + e2elib.scaled(timeout)
        root = os.path.join(self.sandbox.home, ".claude", "projects")
        while time.monotonic() < deadline:
            for d, _, files in os.walk(root):
                if native + ".jsonl" in files:
                    with open(os.path.join(d, native + ".jsonl"), errors="replace") as f:
                        if text in f.read():
                            return
            time.sleep(0.05)
        self.fail("transcript of %s never contained %r" % (native, text))

    def assertGroupGone(self, pgid, timeout=10):
        deadline = time.monotonic() + e2elib.scaled(timeout)
        while time.monotonic() < deadline:
            try:
                os.killpg(pgid, 0)
            except ProcessLookupError:
                return
            except PermissionError:
                pass
            time.sleep(0.05)
        self.fail("process group %d still alive" % pgid)


class ClaudeBasics(ClaudeCase):

    def test_single_reply_with_deltas(self):
        self.mock.push({"text": "Hello there, friend", "chunks": 3})
        sid = self.create_session()
        t0 = time.monotonic()
        self.server.post_message(sid, "say hello")
        first = self.server.wait_type(sid, "item.delta", timeout=90)[0]
        t_delta = time.monotonic() - t0
        events = self.until(sid, "turn.ended")
        t_turn = time.monotonic() - t0
        self.assertSeq(events, [("session.started", None)] + TURN_START + user("say hello") +
                       PLACEHOLDER + reply("Hello there, friend") + [("turn.ended", None)])
        # real streaming: more than one native delta, all on the placeholder item
        ds = e2elib.of_type(events, "item.delta")
        self.assertEqual(len(ds), 3)
        self.assertTrue(all(not d["synthetic"] for d in ds))
        placeholder = events[4]["data"]["item"]
        self.assertEqual({d["data"]["item_id"] for d in ds}, {placeholder["item_id"]})
        done = events[-2]["data"]["item"]
        self.assertEqual(done["item_id"], placeholder["item_id"])
        self.assertTrue(done["native_item_id"].startswith(sid + "_pending_assistant_"))
        self.assertTrue(events[2]["data"]["item"]["native_item_id"].startswith("user_"))
        # native session id adopted; usage on turn.ended
        info = [s for s in self.server.sessions() if s["sessionId"] == sid][0]
        self.assertRegex(info.get("nativeSessionId") or "", r"^[0-9a-f-]{36}$")
        meta = events[-1]["data"]["metadata"]
        self.assertIn("usage", meta)
        self.assertIn("total_cost_usd", meta)
        self.assertEqual(meta["num_turns"], 1)
        # (Claude prefixes the first prompt with a <system-reminder> block)
        self.assertTrue(self.mock.main_requests()[0].last_user_text().endswith("say hello"))
        self.assertEqual(first["data"]["delta"], ds[0]["data"]["delta"])
        print("\nclaude e2e: first delta %.2fs, turn.ended %.2fs after the message "
              "(process spawned at the message)" % (t_delta, t_turn), flush=True)

    def test_multi_turn_one_process(self):
        self.mock.push({"text": "First answer"}, {"text": "Second answer"})
        sid = self.create_session()
        ev1 = self.full_turn(sid, "first question")
        t0 = time.monotonic()
        ev2 = self.full_turn(sid, "second question")
        t_second = time.monotonic() - t0
        self.assertSeq(ev1, TURN_START + user("first question") + PLACEHOLDER +
                       reply("First answer") + [("turn.ended", None)])
        self.assertSeq(ev2, TURN_START + user("second question") + PLACEHOLDER +
                       reply("Second answer") + [("turn.ended", None)])
        self.assertEqual(len(self.claude_pids()), 1, "one process for both turns")
        texts = self.mock.main_requests()[1].user_texts()
        self.assertEqual(len(texts), 2)
        self.assertTrue(texts[0].endswith("first question"))
        self.assertEqual(texts[1], "second question")
        self.assertNoUnparsed(sid)
        print("\nclaude e2e: second turn (warm process) %.2fs" % t_second, flush=True)

    def test_stream_turn_endpoint(self):
        self.mock.push({"text": "Streamed", "chunks": 2})
        sid = self.create_session()
        events = self.stream_turn(sid, "stream please")
        self.assertSeq(events, TURN_START + user("stream please") + PLACEHOLDER +
                       reply("Streamed") + [("turn.ended", None)])

    def test_thinking_is_reasoning(self):
        self.mock.push({"thinking": "Let me think.", "text": "Thought about it"})
        sid = self.create_session()
        events = self.full_turn(sid, "think")
        done = [e for e in events if e["type"] == "item.completed"][-1]["data"]["item"]
        self.assertEqual(done["content"], [
            {"type": "reasoning", "text": "Let me think.", "visibility": "public"},
            {"type": "text", "text": "Thought about it"}])
        self.assertEqual(e2elib.deltas(events)[done["item_id"]], "Thought about it")

    def test_model_flag(self):
        self.mock.push({"text": "ok"})
        sid = self.create_session(model="sonnet")
        self.full_turn(sid, "hi")
        self.assertIn("sonnet", self.mock.main_requests()[0].model)

    def test_tool_call_with_result(self):
        with open(self.sandbox.path("notes.txt"), "w") as f:
            f.write("alpha\nbeta\n")
        self.mock.push({"tool": "Read", "input": {"file_path": self.sandbox.path("notes.txt")}},
                       {"text": "The file has two lines"})
        sid = self.create_session()
        events = self.full_turn(sid, "read notes.txt")
        self.assertSeq(events, TURN_START + user("read notes.txt") + PLACEHOLDER +
                       tool_call("Read", ("file_ref", "read", "notes.txt")) + tool_result() +
                       reply("The file has two lines") + [("turn.ended", None)])
        call = e2elib.of_type(events, "item.completed")[1]["data"]["item"]
        res = e2elib.of_type(events, "item.completed")[2]["data"]["item"]
        self.assertEqual(res["content"][0]["call_id"], call["content"][0]["call_id"])
        self.assertEqual(res["parent_id"], call["item_id"])
        self.assertIn("alpha", res["content"][0]["output"])
        self.assertEqual(self.mock.main_requests()[1].tool_results()[0]["is_error"], False)

    def test_image_input(self):
        path = self.sandbox.path("dot.png")
        with open(path, "wb") as f:
            f.write(PNG)
        self.mock.push({"text": "A tiny image"})
        sid = self.create_session()
        events = self.full_turn(sid, "what is this?", attachments=[{"path": path,
                                                                     "mime": "image/png"}])
        text = "what is this?\n\nAttachments:\n- %s\n" % path
        self.assertSeq(events, TURN_START + user(text, ("image", "image/png")) +
                       PLACEHOLDER + reply("A tiny image") + [("turn.ended", None)])
        imgs = self.mock.main_requests()[0].images()
        self.assertEqual(len(imgs), 1)
        self.assertEqual(imgs[0]["source"]["media_type"], "image/png")
        self.assertEqual(base64.b64decode(imgs[0]["source"]["data"]), PNG)
        self.assertIn(path, self.mock.main_requests()[0].last_user_text())


    def test_mcp_server(self):
        cmd = claude_helpers.mcp_echo_command()
        self.mock.push({"tool": "mcp__echo__echo", "input": {"text": "hi"}}, {"text": "Echoed"})
        sid = self.create_session(mcp={"echo": {"type": "local", "command": cmd[0],
                                                "args": cmd[1:]}})
        off = self.server.last_sequence(sid)
        self.server.post_message(sid, "echo hi")
        e, _ = self.server.wait_type(sid, "permission.requested", "turn.ended", offset=off)
        if e["type"] == "permission.requested":
            self.assertEqual(e["data"]["action"], "mcp__echo__echo")
            self.server.reply_permission(sid, e["data"]["permission_id"], "once")
        events = self.until(sid, "turn.ended", off)
        self.assertIn("mcp__echo__echo", self.mock.main_requests()[0].tools())
        res = [x["data"]["item"] for x in e2elib.of_type(events, "item.completed")
               if x["data"]["item"]["kind"] == "tool_result"]
        self.assertEqual(len(res), 1)
        self.assertEqual(res[0]["status"], "completed")
        self.assertIn("echo: hi", res[0]["content"][0]["output"])
        self.assertEqual(e2elib.assistant_text(events), "Echoed")
        self.assertNoUnparsed(sid)

    def test_invalid_mcp_config(self):
        r = self.server.request("POST", "/v1/sessions/bad-mcp", {
            "agent": "claude", "mcp": {"x": {"type": "local", "command": []}}})
        self.assertEqual(r.status, 400, r)


class ClaudePermissions(ClaudeCase):

    def test_permission_allow(self):
        self.mock.push(bash("echo hi > f.txt"), {"text": "Wrote it"})
        sid = self.create_session()
        off = self.server.last_sequence(sid)
        self.server.post_message(sid, "write f.txt")
        perm = self.server.wait_type(sid, "permission.requested", offset=off)[0]
        meta = perm["data"]["metadata"]
        self.assertEqual(meta["toolName"], "Bash")
        self.assertEqual(meta["input"]["command"], "echo hi > f.txt")
        self.assertIn("permissionSuggestions", meta)
        self.assertIn("blockedPath", meta)
        self.server.reply_permission(sid, perm["data"]["permission_id"], "once")
        events = self.until(sid, "turn.ended", off)
        self.assertSeq(events, TURN_START + user("write f.txt") + PLACEHOLDER +
                       tool_call("Bash", ("json",)) +
                       [("permission.requested", ("Bash", "requested")),
                        ("permission.resolved", ("Bash", "accept"))] +
                       tool_result() + reply("Wrote it") + [("turn.ended", None)])
        with open(self.sandbox.path("f.txt")) as f:
            self.assertEqual(f.read(), "hi\n")
        self.assertNoUnparsed(sid)

    def test_permission_deny(self):
        self.mock.push(bash("echo hi > f.txt"), {"text": "Not allowed then"})
        sid = self.create_session()
        off = self.server.last_sequence(sid)
        self.server.post_message(sid, "write f.txt")
        perm = self.server.wait_type(sid, "permission.requested", offset=off)[0]
        self.server.reply_permission(sid, perm["data"]["permission_id"], "reject")
        events = self.until(sid, "turn.ended", off)
        self.assertSeq(events, TURN_START + user("write f.txt") + PLACEHOLDER +
                       tool_call("Bash", ("json",)) +
                       [("permission.requested", ("Bash", "requested")),
                        ("permission.resolved", ("Bash", "reject"))] +
                       tool_result("failed") + reply("Not allowed then") + [("turn.ended", None)])
        self.assertFalse(os.path.exists(self.sandbox.path("f.txt")))
        tr = self.mock.main_requests()[1].tool_results()[0]
        self.assertTrue(tr["is_error"])
        self.assertIn("Permission denied.", tr["content"])

    def test_permission_always_auto_approves_next(self):
        self.mock.push(bash("echo a > a.txt"), bash("echo b > b.txt"), {"text": "Both written"})
        sid = self.create_session()
        off = self.server.last_sequence(sid)
        self.server.post_message(sid, "write two files")
        perm = self.server.wait_type(sid, "permission.requested", offset=off)[0]
        self.server.reply_permission(sid, perm["data"]["permission_id"], "always")
        events = self.until(sid, "turn.ended", off)
        self.assertSeq(events, TURN_START + user("write two files") + PLACEHOLDER +
                       tool_call("Bash", ("json",)) +
                       [("permission.requested", ("Bash", "requested")),
                        ("permission.resolved", ("Bash", "accept_for_session"))] +
                       tool_result() + tool_call("Bash", ("json",)) +
                       [("permission.requested", ("Bash", "requested")),
                        ("permission.resolved", ("Bash", "accept_for_session"))] +
                       tool_result() + reply("Both written") + [("turn.ended", None)])
        resolved = e2elib.of_type(events, "permission.resolved")
        self.assertTrue(all(r["synthetic"] for r in resolved))
        for name in ("a.txt", "b.txt"):
            self.assertTrue(os.path.exists(self.sandbox.path(name)), name)

    def test_question_answered(self):
        self.mock.push(ask_turn(), {"text": "Blue it is"})
        sid = self.create_session()
        off = self.server.last_sequence(sid)
        self.server.post_message(sid, "pick a color with me")
        q = self.server.wait_type(sid, "question.requested", offset=off)[0]
        self.assertEqual(q["data"]["options"], ["Red", "Blue"])
        self.server.reply_question(sid, q["data"]["question_id"], [["Blue"]])
        events = self.until(sid, "turn.ended", off)
        self.assertSeq(events, TURN_START + user("pick a color with me") + PLACEHOLDER +
                       tool_call("AskUserQuestion") +
                       [("question.requested", ("Which color?", "requested")),
                        ("question.resolved", ("Which color?", "answered"))] +
                       tool_result() + reply("Blue it is") + [("turn.ended", None)])
        self.assertEqual(e2elib.of_type(events, "question.resolved")[0]["data"]["response"], "Blue")
        tr = self.mock.main_requests()[1].tool_results()[0]
        self.assertFalse(tr["is_error"])
        self.assertIn('"Which color?"="Blue"', tr["content"])
        self.assertNoUnparsed(sid)

    def test_question_rejected(self):
        self.mock.push(ask_turn(), {"text": "Fine, no color"})
        sid = self.create_session()
        off = self.server.last_sequence(sid)
        self.server.post_message(sid, "pick a color with me")
        q = self.server.wait_type(sid, "question.requested", offset=off)[0]
        self.server.reject_question(sid, q["data"]["question_id"])
        events = self.until(sid, "turn.ended", off)
        self.assertSeq(events, TURN_START + user("pick a color with me") + PLACEHOLDER +
                       tool_call("AskUserQuestion") +
                       [("question.requested", ("Which color?", "requested")),
                        ("question.resolved", ("Which color?", "rejected"))] +
                       tool_result("failed") + reply("Fine, no color") + [("turn.ended", None)])
        tr = self.mock.main_requests()[1].tool_results()[0]
        self.assertTrue(tr["is_error"])

    def test_plan_mode_exit_plan_question(self):
        self.mock.push({"tool": "ExitPlanMode", "input": {"plan": "1. write plan.txt"}},
                       {"text": "Plan approved"})
        sid = self.create_session(permissionMode="plan")
        off = self.server.last_sequence(sid)
        self.server.post_message(sid, "make a plan")
        q = self.server.wait_type(sid, "question.requested", offset=off)[0]
        self.assertEqual(q["data"]["options"], ["approve", "reject"])
        argv = open("/proc/%d/cmdline" % self.claude_pids()[-1], "rb").read().split(b"\0")
        self.assertIn(b"plan", argv[argv.index(b"--permission-mode") + 1:][:1])
        self.assertNotIn(b"--model", argv)  # model "default": Claude chooses
        self.server.reply_question(sid, q["data"]["question_id"], [["approve"]])
        events = self.until(sid, "turn.ended", off)
        self.assertSeq(events, TURN_START + user("make a plan") + PLACEHOLDER +
                       tool_call("ExitPlanMode") +
                       [("question.requested", ("Approve plan execution?", "requested")),
                        ("question.resolved", ("Approve plan execution?", "answered"))] +
                       tool_result() + reply("Plan approved") + [("turn.ended", None)])
        self.assertFalse(self.mock.main_requests()[1].tool_results()[0]["is_error"])

    def test_terminate_while_permission_pending(self):
        self.mock.push(bash("echo hi > f.txt"), {"text": "never"})
        sid = self.create_session()
        off = self.server.last_sequence(sid)
        self.server.post_message(sid, "write f.txt")
        self.server.wait_type(sid, "permission.requested", offset=off)
        pid = self.claude_pids()[-1]
        self.server.terminate(sid)
        self.assertGroupGone(pid)
        self.assertGone(pid)
        time.sleep(0.3)  # anything Claude printed while dying must be ignored
        events = self.server.events(sid, off)
        self.assertSeq(events, TURN_START + user("write f.txt") + PLACEHOLDER +
                       tool_call("Bash", ("json",)) +
                       [("permission.requested", ("Bash", "requested")),
                        ("session.ended", "terminated")])
        self.assertEqual(events[-1]["data"]["terminated_by"], "daemon")
        self.assertFalse(os.path.exists(self.sandbox.path("f.txt")))
        r = self.server.post_message(sid, "more", expect=None)
        self.assertNotEqual(r.status, 204)


class ClaudeErrors(ClaudeCase):
    SANDBOX = {"retries": 1}

    def error_turn(self, status, etype):
        self.mock.push({"error": status, "etype": etype, "message": "mock %d" % status,
                        "times": 2, "headers": {"retry-after": "0"}},
                       {"text": "Recovered"})
        sid = self.create_session()
        off = self.server.last_sequence(sid)
        events = self.full_turn(sid, "fail please")
        types = [e["type"] for e in events]
        self.assertEqual(types, ["turn.started", "item.started", "item.completed", "item.started",
                                 "item.started", "item.completed",  # api_retry status
                                 "item.delta", "item.completed", "error", "turn.ended"],
                         "\n" + "\n".join(e2elib.describe(e) for e in events))
        status_item = events[5]["data"]["item"]
        self.assertEqual(status_item["kind"], "status")
        self.assertEqual(status_item["content"][0]["label"], "claude.api_retry")
        err = events[8]["data"]
        self.assertEqual(err["code"], "claude.api_error")
        self.assertEqual(err["details"]["is_error"], True)
        done = events[7]["data"]["item"]
        self.assertEqual(done["role"], "assistant")
        self.assertEqual(done["content"][0]["text"], err["message"])
        # the session stays usable
        ev2 = self.full_turn(sid, "try again")
        self.assertSeq(ev2, TURN_START + user("try again") + PLACEHOLDER + reply("Recovered") +
                       [("turn.ended", None)])
        self.assertEqual(len(self.claude_pids()), 1)
        self.assertNoUnparsed(sid)
        del off
        return err

    def test_api_error_500(self):
        err = self.error_turn(500, "api_error")
        self.assertEqual(err["details"]["api_error_status"], 500)

    def test_api_error_401(self):
        err = self.error_turn(401, "authentication_error")
        self.assertEqual(err["details"]["api_error_status"], 401)

    def test_api_error_429(self):
        err = self.error_turn(429, "rate_limit_error")
        self.assertEqual(err["details"]["api_error_status"], 429)


class ClaudeProcess(ClaudeCase):

    def test_killed_mid_turn(self):
        self.addCleanup(self.mock.release)
        self.mock.push({"text": "one two three four", "chunks": 4, "stall": -1})
        sid = self.create_session()
        off = self.server.last_sequence(sid)
        self.server.post_message(sid, "count slowly")
        self.server.wait_type(sid, "item.delta", offset=off)
        pid = self.claude_pids()[-1]
        os.kill(pid, 9)
        events = self.until(sid, "session.ended", off)
        first = e2elib.of_type(events, "item.delta")[0]["data"]["delta"]
        self.assertTrue(first and "one two three four".startswith(first), first)
        self.assertSeq(events, TURN_START + user("count slowly") + PLACEHOLDER +
                       [("item.delta", first),
                        ("item.completed", ("message", "assistant", "failed", ())),
                        ("error", "process_exit"), ("session.ended", "error")])
        err = events[-2]["data"]
        self.assertEqual(err["message"], "agent exited with status 137")
        self.assertEqual(err["details"]["signal"], 9)
        end = events[-1]["data"]
        self.assertEqual(end["terminated_by"], "agent")
        self.assertEqual(end["exit_code"], 137)
        self.assertGone(pid)
        self.assertGroupGone(pid)
        r = self.server.post_message(sid, "again", expect=None)
        self.assertNotEqual(r.status, 204)

    def test_resume_after_restart(self):
        self.mock.push({"text": "First answer"}, {"text": "Second answer"})
        sid = self.create_session()
        ev1 = self.full_turn(sid, "first question")
        self.assertEqual(e2elib.assistant_text(ev1), "First answer")
        native = [s for s in self.server.sessions() if s["sessionId"] == sid][0]["nativeSessionId"]
        pid = self.claude_pids()[-1]
        # Claude writes its transcript a moment after the result: a kill
        # before that loses the conversation (then a resume cannot work)
        self.wait_transcript(native, "First answer")
        os.kill(pid, 9)
        self.assertGone(pid)
        time.sleep(0.2)  # let the server reap it
        ev2 = self.full_turn(sid, "second question")
        self.assertSeq(ev2, TURN_START + user("second question") + PLACEHOLDER +
                       reply("Second answer") + [("turn.ended", None)])
        pids = self.claude_pids()
        self.assertEqual(len(pids), 2)
        self.assertIn("(resumed)", self.server.log_tail(200000))
        req = self.mock.main_requests()[-1]
        texts = req.user_texts()
        self.assertEqual(len(texts), 2)
        self.assertTrue(texts[0].endswith("first question"))
        self.assertTrue(texts[1].endswith("second question"))
        hist = [m for m in req.body["messages"] if m["role"] == "assistant"]
        self.assertIn("First answer", str(hist))
        self.assertEqual(ev2[-1]["native_session_id"], native)
        # nothing but the two turns: the idle death was not an event
        bad = [e for e in self.server.events(sid)
               if e["type"] in ("error", "session.ended", "agent.unparsed")]
        self.assertEqual(bad, [])


if __name__ == "__main__":
    unittest.main()
