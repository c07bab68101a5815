"""test_amp.py - the Amp adapter through the server, with a fake `amp`
(tests/integration/fakeamp/amp, first on the server's PATH) that replays
the stream-json transcripts of tests/unit/fixtures/amp/ and imitates
Amp's failures: text, thinking, tool use and result, error result,
rejected approval, multi-turn continuation of the thread, queued
messages, options on the command line, MCP configuration, credentials
(refused create, stored key), the login prompt, a failing process,
terminate. Every process the fake starts must be gone afterwards.
Spec: api-v1.md 4.7-4.10, 5.3-5.6, 6.2, 7.3, 8.1-8.3, 8.6-8.8 (amp);
docs/amp.md."""

import atexit
import json
import os
import shutil
import tempfile
import time

from harness import proc_state, scaled, unique_id
from sesslib import SessionCase, describe, item_of, of_type, quote, types

HERE = os.path.dirname(os.path.abspath(__file__))
FAKE_DIR = os.path.join(HERE, "fakeamp")
LOG_DIR = tempfile.mkdtemp(prefix="sa-fakeamp-")
atexit.register(shutil.rmtree, LOG_DIR, True)
NEED_CREDS = "invalid request: amp needs credentials: set AMP_API_KEY or run `amp login`"

CAPS = {"planMode": False, "permissions": False, "questions": False, "toolCalls": True,
        "toolResults": True, "textMessages": True, "images": False, "fileAttachments": False,
        "sessionLifecycle": False, "errorEvents": True, "reasoning": False, "status": False,
        "commandExecution": False, "fileChanges": False, "mcpTools": True,
        "streamingDeltas": False, "itemStarted": False, "sharedProcess": False}


def fake_env(log, key="sgamp_fake"):
    return {"PATH": FAKE_DIR + os.pathsep + os.environ.get("PATH", "/usr/bin:/bin"),
            "AMP_API_KEY": key, "FAKEAMP_LOG": log, "AMP_THREAD_ID": "T-outer-thread"}


def gone(pid):
    """The process no longer runs (reaped, or a zombie of another parent)."""
    return proc_state(pid) in (None, "Z")


class AmpCase(SessionCase):
    log_path = os.path.join(LOG_DIR, "runs.jsonl")
    server_env = fake_env(log_path)

    def create_amp(self, expect=200, **fields):
        sid = unique_id("amp")
        body = {"agent": "amp"}
        body.update(fields)
        st, resp, h = self.s.json("POST", "/v1/sessions/" + quote(sid), body)
        self.assertEqual(st, expect, "create %r -> %d %r" % (body, st, resp))
        if expect == 200:
            self.assertEqual(resp, {"healthy": True})
        return sid

    def runs(self, tag):
        """The fake's log entries whose message contains tag."""
        try:
            with open(self.log_path) as f:
                entries = [json.loads(l) for l in f if l.strip()]
        except FileNotFoundError:
            return []
        return [e for e in entries if tag in (e.get("message") or "")]

    def wait_runs(self, tag, n=1, timeout=10):
        deadline = time.monotonic() + scaled(timeout)
        while True:
            got = self.runs(tag)
            if len(got) >= n:
                return got
            if time.monotonic() > deadline:
                self.fail("the fake amp did not run %d time(s) for %r" % (n, tag))
            time.sleep(0.02)

    def wait_gone(self, pid, timeout=10):
        deadline = time.monotonic() + scaled(timeout)
        while not gone(pid):
            if time.monotonic() > deadline:
                self.fail("process %d still running (state %s)" % (pid, proc_state(pid)))
            time.sleep(0.02)

    def turn(self, sid, message, until="turn.ended", timeout=10):
        return self.run_turn(sid, message, until=until, timeout=timeout)

    def assert_head(self, evs, text, sid):
        """turn.started, user item, assistant placeholder (spec 5.5)."""
        self.assertEqual(types(evs[:4]), ["turn.started", "item.started", "item.completed",
                                          "item.started"], describe(evs))
        self.assertTrue(all(e["synthetic"] for e in evs[:4]))
        user = item_of(evs[2])
        self.assertEqual((user["kind"], user["role"], user["content"]),
                         ("message", "user", [{"type": "text", "text": text}]))
        self.assertRegex(user["native_item_id"], r"^user_\d+$")
        ph = item_of(evs[3])
        self.assertEqual((ph["kind"], ph["role"], ph["status"], ph["content"]),
                         ("message", "assistant", "in_progress", []))
        self.assertRegex(ph["native_item_id"], "^%s_pending_assistant_\\d+$" % sid)


class AmpTurns(AmpCase):

    def test_listing(self):
        st, body, h = self.s.json("GET", "/v1/agents")
        self.assertEqual(st, 200)
        amp = [a for a in body["agents"] if a["id"] == "amp"][0]
        self.assertTrue(amp["installed"])
        self.assertEqual(amp["path"], os.path.join(FAKE_DIR, "amp"))
        self.assertEqual(amp["capabilities"], CAPS)
        st, body, h = self.s.json("GET", "/v1/agents/amp/modes")
        self.assertEqual(body, {"modes": [{"id": "build", "name": "Build",
                                           "description": "Default build mode"}]})
        st, body, h = self.s.json("GET", "/v1/agents/amp/models")
        self.assertEqual(body, {"models": [{"id": "amp-default", "name": "Amp Default"}],
                                "defaultModel": "amp-default"})

    def test_text(self):
        sid = self.create_amp()
        tag = unique_id("t")
        msg = "fixture text 1 0 0 " + tag
        evs = self.turn(sid, msg)
        self.assert_head(evs, msg, sid)
        self.assertEqual(types(evs[4:]), ["item.delta", "item.completed", "turn.ended"],
                         describe(evs))
        done = item_of(evs[5])
        self.assertEqual(done["item_id"], item_of(evs[3])["item_id"])
        self.assertEqual(done["content"], [{"type": "text", "text": "Hello there"}])
        self.assertEqual(evs[4]["data"]["delta"], "Hello there")
        self.assertEqual(evs[6]["data"]["metadata"], {"duration_ms": 2317, "num_turns": 1})
        thread = "T-3f6a2c1e-8b4d-4e9a-b7c2-5d1e9f0a6b38"
        self.assertEqual(self.info(sid)["nativeSessionId"], thread)
        self.assertEqual(evs[5]["native_session_id"], thread)
        run = self.wait_runs(tag)[0]
        self.assertEqual(run["argv"], ["--execute=" + msg, "--stream-json",
                                       "--stream-json-thinking", "--no-archive-after-execute"])
        self.assertEqual(run["stdin"], "")
        self.assertEqual(run["cwd"], self.s.workdir)
        self.assertIsNone(run["amp_thread_id"])  # the daemon's own is not passed on
        self.wait_gone(run["pid"])
        self.assertFalse(self.info(sid)["ended"])

    def test_raw(self):
        sid = self.create_amp()
        self.turn(sid, "fixture text 1 0 0 " + unique_id("r"))
        evs = self.events(sid, include_raw=True)
        done = [e for e in evs if e["type"] == "item.completed"][-1]
        self.assertEqual(done["raw"]["type"], "assistant")
        self.assertEqual(evs[-1]["raw"]["type"], "result")
        self.assertEqual(evs[-1]["type"], "turn.ended")

    def test_thinking(self):
        sid = self.create_amp()
        evs = self.turn(sid, "fixture thinking 1 0 0 " + unique_id("k"))
        done = of_type(evs, "item.completed")[-1]
        self.assertEqual(item_of(done)["content"], [
            {"type": "reasoning", "text": "The user wants a greeting. Keep it short.",
             "visibility": "public"},
            {"type": "text", "text": "Hi! How can I help?"}])

    def test_tool_use(self):
        sid = self.create_amp()
        evs = self.turn(sid, "fixture tool 1 0 0 " + unique_id("u"))
        calls = [item_of(e) for e in of_type(evs, "item.completed")
                 if item_of(e)["kind"] == "tool_call"]
        results = [item_of(e) for e in of_type(evs, "item.completed")
                   if item_of(e)["kind"] == "tool_result"]
        self.assertEqual([(c["native_item_id"], c["content"][0]["name"]) for c in calls],
                         [("toolu_01Xk3vQ9mB2", "Bash"), ("toolu_01Rd7pL2wC4", "Read")])
        self.assertEqual(json.loads(calls[0]["content"][0]["arguments"]),
                         {"cmd": "ls", "cwd": "/work/project"})
        self.assertEqual([(r["parent_id"], r["status"]) for r in results],
                         [(calls[0]["item_id"], "completed"), (calls[1]["item_id"], "failed")])
        self.assertEqual(results[0]["content"][0]["output"],
                         '{"output":"notes.txt\\nsrc\\n","exitCode":0}')
        texts = [p["text"] for e in of_type(evs, "item.completed")
                 if item_of(e)["kind"] == "message" and item_of(e)["role"] == "assistant"
                 for p in item_of(e)["content"]]
        self.assertEqual(texts, ["I'll list the files.", "There are two entries: notes.txt and src."])
        self.assertEqual(evs[-1]["type"], "turn.ended")

    def test_error_result(self):
        sid = self.create_amp()
        tag = unique_id("e")
        evs = self.turn(sid, "fixture error 1 1 0 " + tag)  # exits 1 after the result
        self.assertEqual(types(evs[-4:]), ["item.delta", "item.completed", "error", "turn.ended"],
                         describe(evs))
        err = evs[-2]
        self.assertEqual(err["data"]["code"], "amp")
        self.assertEqual(err["data"]["message"],
                         "Amp ran into a problem: model provider overloaded (529)")
        self.assertEqual(err["data"]["details"]["subtype"], "error_during_execution")
        self.assertFalse(err["synthetic"])
        self.wait_gone(self.wait_runs(tag)[0]["pid"])
        # the session goes on: the next message continues the thread
        tag2 = unique_id("e2")
        evs = self.turn(sid, "again " + tag2)
        self.assertEqual(evs[-1]["type"], "turn.ended")
        self.assertFalse(self.info(sid)["ended"])
        run = self.wait_runs(tag2)[0]
        self.assertEqual(run["argv"][:3],
                         ["threads", "continue", "T-0a7b3c9d-2e4f-4b1a-9c8d-6e5f3a2b1c07"])

    def test_rejected_approval(self):
        sid = self.create_amp()
        evs = self.turn(sid, "fixture approval 1 1 0 " + unique_id("a"))
        tail = evs[-5:]
        self.assertEqual(types(tail), ["item.completed", "permission.requested",
                                       "permission.resolved", "error", "turn.ended"],
                         describe(evs))
        req, res = tail[1], tail[2]
        self.assertTrue(req["synthetic"] and res["synthetic"])
        self.assertEqual(req["data"]["permission_id"], "toolu_01Zq8nH5tF1")
        self.assertEqual(req["data"]["action"], "Bash")
        self.assertEqual(req["data"]["status"], "requested")
        self.assertEqual(req["data"]["metadata"]["input"], {"cmd": "rm -rf build"})
        self.assertEqual(res["data"]["status"], "reject")
        self.assertEqual(res["data"]["permission_id"], "toolu_01Zq8nH5tF1")
        self.assertEqual(tail[3]["data"]["code"], "amp")
        # nothing stays pending: a reply is refused
        st, body, h = self.post("/v1/sessions/%s/permissions/toolu_01Zq8nH5tF1/reply" % quote(sid),
                                {"reply": "once"})
        self.assertEqual(st, 400, body)
        self.assertFalse(self.info(sid)["ended"])

    def test_multiturn(self):
        sid = self.create_amp()
        tag = unique_id("m")
        first = self.turn(sid, "fixture multiturn 1 0 0 " + tag)
        second = self.turn(sid, "fixture multiturn 2 0 0 " + tag)
        self.assertEqual(of_type(first, "item.delta")[0]["data"]["delta"], "First answer")
        self.assertEqual(of_type(second, "item.delta")[0]["data"]["delta"], "Second answer")
        self.assert_head(second, "fixture multiturn 2 0 0 " + tag, sid)
        runs = self.wait_runs(tag, 2)
        thread = "T-e41c7a2b-9d0f-4e3a-8b6c-3f2a1d0e9c85"
        self.assertEqual(runs[0]["thread"], None)
        self.assertIn("--no-archive-after-execute", runs[0]["argv"])
        self.assertEqual(runs[1]["argv"], ["threads", "continue", thread,
                                           "--execute=fixture multiturn 2 0 0 " + tag,
                                           "--stream-json", "--stream-json-thinking"])
        self.assertEqual(self.info(sid)["nativeSessionId"], thread)

    def test_queued_message_waits_for_exit(self):
        """A message sent while the process runs is dispatched when it has
        exited, continuing the thread it reported."""
        sid = self.create_amp()
        tag = unique_id("q")
        self.send(sid, "fixture text 1 0 0.7 " + tag)  # lingers after its result
        self.wait_count(sid, "turn.ended")
        self.send(sid, "second " + tag)
        evs = self.wait_count(sid, "turn.ended", 2, timeout=10)
        runs = self.wait_runs(tag, 2)
        self.assertTrue(gone(runs[0]["pid"]))
        self.assertEqual(runs[1]["thread"], "T-3f6a2c1e-8b4d-4e9a-b7c2-5d1e9f0a6b38")
        self.assertEqual(types(evs).count("turn.started"), 2)

    def test_stream_turn(self):
        sid = self.create_amp()
        with self.s.sse("/v1/sessions/%s/messages/stream" % quote(sid), method="POST",
                        body={"message": "fixture text 1 0 0 " + unique_id("s")}) as st:
            self.assertEqual(st.status, 200)
            got = [e.data for e in st.events()]
        self.assertEqual(got[0]["type"], "turn.started")
        self.assertEqual(got[-1]["type"], "turn.ended")

    def test_message_like_an_option(self):
        sid = self.create_amp()
        tag = unique_id("o")
        msg = "--help " + tag
        evs = self.turn(sid, msg)
        done = of_type(evs, "item.completed")[-1]
        self.assertEqual(item_of(done)["content"], [{"type": "text", "text": "echo: " + msg}])
        self.assertEqual(self.wait_runs(tag)[0]["argv"][0], "--execute=" + msg)

    def test_options(self):
        sid = self.create_amp(permissionMode="bypass", model="high")
        self.assertEqual(self.info(sid)["permissionMode"], "bypass")
        tag = unique_id("p")
        self.turn(sid, "hello " + tag)
        argv = self.wait_runs(tag)[0]["argv"]
        self.assertIn("--dangerously-allow-all", argv)
        self.assertEqual(argv[argv.index("-m") + 1], "high")
        sid = self.create_amp(permissionMode="acceptEdits")
        self.assertEqual(self.info(sid)["permissionMode"], "default")
        self.assertEqual(self.info(sid)["model"], "amp-default")
        tag = unique_id("p2")
        self.turn(sid, "hello " + tag)
        argv = self.wait_runs(tag)[0]["argv"]
        self.assertNotIn("--dangerously-allow-all", argv)
        self.assertNotIn("-m", argv)
        st, body, h = self.s.json("POST", "/v1/sessions/" + unique_id(),
                                  {"agent": "amp", "permissionMode": "plan"})
        self.assertEqual((st, body["type"]), (400, "urn:sandbox-agent:error:mode_not_supported"))
        st, body, h = self.s.json("POST", "/v1/sessions/" + unique_id(),
                                  {"agent": "amp", "agentMode": "plan"})
        self.assertEqual((st, body["type"]), (400, "urn:sandbox-agent:error:mode_not_supported"))

    def test_mcp(self):
        mcp = {"files": {"type": "local", "command": ["npx", "-y", "fs-server"], "args": ["/w"],
                         "env": {"K": "v"}},
               "docs": {"type": "remote", "url": "https://docs.example/mcp",
                        "headers": {"X-A": "1"}}}
        sid = self.create_amp(mcp=mcp)
        tag = unique_id("c")
        self.turn(sid, "hello " + tag)
        run = self.wait_runs(tag)[0]
        path = run["argv"][run["argv"].index("--mcp-config") + 1]
        self.assertEqual(run["mcp"], {
            "files": {"command": "npx", "args": ["-y", "fs-server", "/w"], "env": {"K": "v"}},
            "docs": {"url": "https://docs.example/mcp", "headers": {"X-A": "1"}}})
        self.assertEqual(os.stat(path).st_mode & 0o777, 0o600)
        self.terminate(sid)
        self.assertFalse(os.path.exists(path))
        st, body, h = self.s.json("POST", "/v1/sessions/" + unique_id(),
                                  {"agent": "amp", "mcp": {"x": {"command": []}}})
        self.assertEqual((st, body["detail"]),
                         (400, "invalid request: mcp server x: mcp command cannot be empty"))


class AmpFailures(AmpCase):

    def test_process_fails(self):
        sid = self.create_amp()
        tag = unique_id("f")
        evs = self.turn(sid, "fail 1 Couldn't connect to the Amp server at https://ampcode.com/. "
                        + tag, until="session.ended")
        self.assertEqual(types(evs[-3:]), ["item.completed", "error", "session.ended"],
                         describe(evs))
        self.assertEqual(item_of(evs[-3])["status"], "failed")
        err = evs[-2]["data"]
        self.assertEqual(err["code"], "process_exit")
        why = "Couldn't connect to the Amp server at https://ampcode.com/. " + tag
        self.assertEqual(err["message"], "agent exited with status 1: " + why)
        self.assertEqual(err["details"]["exit_code"], 1)
        self.assertEqual(err["details"]["amp_error"], why)
        self.assertIn("Error: " + why, err["details"]["stderr"])
        self.assertIn("Check your network connection", err["details"]["stderr"])
        end = evs[-1]["data"]
        self.assertEqual((end["reason"], end["terminated_by"], end["exit_code"]),
                         ("error", "agent", 1))
        self.assertEqual(end["message"], "agent exited with status 1: " + why)
        self.assertIn("Error: " + why, (end["stderr"].get("head") or "") +
                      (end["stderr"].get("tail") or ""))
        self.assertTrue(self.info(sid)["ended"])
        # later messages: the process exit, as a problem
        st, body, h = self.s.json("POST", "/v1/sessions/%s/messages" % quote(sid),
                                  {"message": "again"})
        self.assertEqual((st, body["type"]), (500, "urn:sandbox-agent:error:agent_process_exited"))
        self.wait_gone(self.wait_runs(tag)[0]["pid"])

    def test_exit_zero_without_result(self):
        sid = self.create_amp()
        evs = self.turn(sid, "silent 0 " + unique_id("z"))
        self.assertEqual(types(evs[-3:]), ["item.completed", "error", "turn.ended"], describe(evs))
        self.assertEqual(evs[-2]["data"]["code"], "process_exit")
        self.assertEqual(evs[-2]["data"]["message"], "agent exited with status 0")
        self.assertFalse(self.info(sid)["ended"])

    def test_login_prompt(self):
        sid = self.create_amp()
        tag = unique_id("l")
        t0 = time.monotonic()
        evs = self.turn(sid, "login " + tag, until="session.ended", timeout=10)
        self.assertLess(time.monotonic() - t0, scaled(5))
        self.assertEqual(types(evs[-3:]), ["item.completed", "error", "session.ended"],
                         describe(evs))
        err = evs[-2]["data"]
        self.assertEqual(err["code"], "amp_login_required")
        self.assertEqual(err["message"],
                         "amp needs credentials: set AMP_API_KEY or run `amp login`")
        self.assertEqual(err["details"], {"stdout": "No API key found. Starting login flow..."})
        self.assertEqual((evs[-1]["data"]["reason"], evs[-1]["data"]["terminated_by"]),
                         ("error", "agent"))
        self.assertFalse(of_type(evs, "agent.unparsed"), describe(evs))
        run = self.wait_runs(tag)[0]
        self.wait_gone(run["pid"])
        self.wait_gone(run["child"])

    def test_terminate_running(self):
        sid = self.create_amp()
        tag = unique_id("h")
        self.send(sid, "hang " + tag)
        run = self.wait_runs(tag)[0]
        self.wait_events(sid, lambda evs: self.info(sid)["nativeSessionId"] is not None,
                         what="the init line")
        self.terminate(sid)
        self.wait_gone(run["pid"])
        self.wait_gone(run["child"])
        evs = self.events(sid)
        self.assertEqual(evs[-1]["type"], "session.ended", describe(evs))
        self.assertEqual(evs[-1]["data"]["reason"], "terminated")
        time.sleep(0.2)
        self.assertEqual(len(self.events(sid)), len(evs))  # nothing after the end


class AmpNoCredentials(AmpCase):
    """No AMP_API_KEY: create is refused until a key is stored."""
    log_path = os.path.join(LOG_DIR, "nokey.jsonl")
    server_env = fake_env(log_path, key=None)

    def test_refused_then_stored_key(self):
        sid = unique_id("nokey")
        got = self.s.json("POST", "/v1/sessions/" + quote(sid), {"agent": "amp"})
        self.assertProblemExact(got, "invalid_request", NEED_CREDS)
        self.assertEqual(self.runs(""), [])  # nothing was started
        # `amp login` stores the key in <data dir>/amp/secrets.json
        d = os.path.join(self.s.home, ".local", "share", "amp")
        os.makedirs(d, exist_ok=True)
        with open(os.path.join(d, "secrets.json"), "w") as f:
            json.dump({"apiKey@https://ampcode.com/": "sgamp_stored"}, f)
        try:
            sid = self.create_amp()
            evs = self.turn(sid, "fixture text 1 0 0 " + unique_id("k"))
            self.assertEqual(evs[-1]["type"], "turn.ended")
        finally:
            os.unlink(os.path.join(d, "secrets.json"))
