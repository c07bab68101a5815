"""test_sessions.py - the sessions API with the built-in mock agent:
create (validation, normalization, directory), the session listing,
terminate, the mock `end` command, 404 on every session route, message
attachments, and the agents' models/modes endpoints.
Spec: api-v1.md 3.2, 4.4-4.8, 4.10, 5.2-5.5, 8.2, 8.3, 9, 12.1, 12.3, 12.8."""

import os
import tempfile
import time

from harness import scaled, unique_id
from sesslib import (OK_PROMPT, SESSION_INFO_KEYS, SessionCase, describe, item_of, of_type,
                     paced, types)


# ====================================================================== create

class TestCreate(SessionCase):

    def test_create_records_session_started(self):
        sid = self.create()
        evs = self.events(sid)
        self.assertEqual(len(evs), 1, describe(evs))
        e = evs[0]
        self.assertEnvelope(e, sid)
        self.assertEqual((e["sequence"], e["event_id"], e["type"], e["synthetic"], e["source"]),
                         (1, "evt_1", "session.started", True, "daemon"))
        self.assertEqual(e["data"], {"metadata": {"agent": "mock", "agentMode": "build",
                                                  "permissionMode": "default", "model": "mock",
                                                  "variant": None}})

    def test_defaults_in_listing(self):
        sid = self.create()
        info = self.info(sid)
        self.assertEqual(set(info), SESSION_INFO_KEYS, info)
        self.assertEqual(info["agent"], "mock")
        self.assertEqual(info["agentMode"], "build")
        self.assertEqual(info["permissionMode"], "default")
        self.assertEqual(info["model"], "mock")
        self.assertIsNone(info["variant"])
        self.assertIsNone(info["title"])
        self.assertEqual(info["nativeSessionId"], "mock-" + sid)
        self.assertIs(info["ended"], False)
        self.assertEqual(info["eventCount"], 1)

    def test_accept_edits_listed_as_default(self):
        sid = self.create(permissionMode="acceptEdits")
        self.assertEqual(self.info(sid)["permissionMode"], "default")
        meta = self.events(sid)[0]["data"]["metadata"]
        self.assertEqual(meta["permissionMode"], "default")

    def test_permission_modes_kept(self):
        for mode in ("default", "plan", "bypass"):
            with self.subTest(mode=mode):
                sid = self.create(permissionMode=mode)
                self.assertEqual(self.info(sid)["permissionMode"], mode)
                self.assertEqual(self.events(sid)[0]["data"]["metadata"]["permissionMode"], mode)

    def test_agent_modes(self):
        for mode in ("build", "plan"):
            with self.subTest(mode=mode):
                sid = self.create(agentMode=mode)
                self.assertEqual(self.info(sid)["agentMode"], mode)
                self.assertEqual(self.events(sid)[0]["data"]["metadata"]["agentMode"], mode)

    def test_fields_echoed(self):
        sid = self.create(model="my-model", variant="fast", title="A title \u00e9")
        info = self.info(sid)
        self.assertEqual((info["model"], info["variant"], info["title"]),
                         ("my-model", "fast", "A title \u00e9"))
        self.assertEqual(self.events(sid)[0]["data"]["metadata"],
                         {"agent": "mock", "agentMode": "build", "permissionMode": "default",
                          "model": "my-model", "variant": "fast"})

    def test_invalid_permission_mode(self):
        sid = unique_id()
        got = self.post("/v1/sessions/" + sid, {"agent": "mock", "permissionMode": "yolo"})
        self.assertProblemExact(got, "invalid_request", "invalid request: invalid permission mode: yolo")
        # case matters
        got = self.post("/v1/sessions/" + sid, {"agent": "mock", "permissionMode": "Default"})
        self.assertProblemExact(got, "invalid_request",
                                "invalid request: invalid permission mode: Default")
        self.assertNotIn(sid, [s["sessionId"] for s in self.sessions()])

    def test_bad_agent_mode(self):
        sid = unique_id()
        got = self.post("/v1/sessions/" + sid, {"agent": "mock", "agentMode": "turbo"})
        self.assertProblemExact(got, "mode_not_supported", "mode not supported: mock turbo",
                                agent="mock", details={"mode": "turbo"})
        self.assertNotIn(sid, [s["sessionId"] for s in self.sessions()])
        # a later valid create with that id works: nothing was registered
        self.create(sid)

    def test_unknown_agent(self):
        for agent in ("nope", "Mock", "MOCK", ""):
            with self.subTest(agent=agent):
                got = self.post("/v1/sessions/" + unique_id(), {"agent": agent})
                self.assertProblemExact(got, "unsupported_agent", "unsupported agent: " + agent,
                                        agent=agent)

    def test_unknown_agent_wins_over_duplicate(self):
        sid = self.create()
        got = self.post("/v1/sessions/" + sid, {"agent": "nope"})
        self.assertProblemExact(got, "unsupported_agent", "unsupported agent: nope", agent="nope")

    def test_duplicate_id(self):
        sid = self.create()
        got = self.post("/v1/sessions/" + sid, {"agent": "mock"})
        self.assertProblemExact(got, "session_already_exists", "session already exists: " + sid,
                                sessionId=sid)
        # the original session is untouched
        self.assertEqual(len(self.events(sid)), 1)

    def test_duplicate_of_terminated_session(self):
        sid = self.create()
        self.terminate(sid)
        got = self.post("/v1/sessions/" + sid, {"agent": "mock"})
        self.assertProblemExact(got, "session_already_exists", "session already exists: " + sid,
                                sessionId=sid)

    def test_directory_echoed(self):
        d = tempfile.mkdtemp(prefix="sa-dir-")
        try:
            sid = self.create(directory=d)
            self.assertEqual(self.info(sid)["directory"], d)
        finally:
            os.rmdir(d)

    def test_directory_defaults_to_server_cwd(self):
        sid = self.create()
        self.assertEqual(self.info(sid)["directory"], os.path.realpath(self.s.workdir))

    def test_directory_must_exist(self):
        fd, path = tempfile.mkstemp(prefix="sa-file-")
        os.close(fd)
        try:
            for d in ("/nonexistent-dir-%d" % os.getpid(), path):
                with self.subTest(directory=d):
                    sid = unique_id()
                    st, body, h = self.post("/v1/sessions/" + sid, {"agent": "mock", "directory": d})
                    self.assertProblem(st, body, h, 400, "invalid_request")
                    self.assertTrue(body["detail"].startswith("invalid request: "), body)
                    self.assertNotIn(sid, [s["sessionId"] for s in self.sessions()])
        finally:
            os.unlink(path)

    def test_odd_session_ids(self):
        for sid in ("a b", "x+y", "\u00fcml\u00e4ut", "dots.and-dashes_ok", "q?x"):
            with self.subTest(sid=sid):
                self.create(sid)
                self.assertEqual(self.info(sid)["nativeSessionId"], "mock-" + sid)
                evs = self.events(sid)
                self.assertEqual(evs[0]["session_id"], sid)


# ====================================================================== 404s

class TestNotFound(SessionCase):

    ROUTES = (
        ("POST", "messages", {"message": "hi"}),
        ("POST", "messages/stream", {"message": "hi"}),
        ("POST", "terminate", None),
        ("GET", "events", None),
        ("GET", "events?offset=3&limit=2", None),
        ("GET", "events/sse", None),
        ("POST", "questions/q1/reply", {"answers": [["Yes"]]}),
        ("POST", "questions/q1/reject", None),
        ("POST", "permissions/p1/reply", {"reply": "once"}),
    )

    def test_every_session_route(self):
        sid = "missing-" + unique_id()
        for method, tail, body in self.ROUTES:
            with self.subTest(route=tail):
                got = self.s.json(method, "/v1/sessions/%s/%s" % (sid, tail), body)
                self.assertProblemExact(got, "session_not_found", "session not found: " + sid,
                                        sessionId=sid)

    def test_sse_404_is_plain_problem(self):
        sid = "missing-" + unique_id()
        with self.s.sse("/v1/sessions/%s/events/sse" % sid) as st:
            self.assertEqual(st.status, 404)
            self.assertFalse(st.headers.get("content-type", "").startswith("text/event-stream"))


# ====================================================================== listing

class TestListing(SessionCase):

    def test_newest_first_with_exact_fields(self):
        t0 = int(time.time() * 1000)
        ids = [self.create() for _ in range(4)]
        t1 = int(time.time() * 1000)
        listed = [s["sessionId"] for s in self.sessions()]
        mine = [x for x in listed if x in ids]
        self.assertEqual(mine, list(reversed(ids)))
        # newest first across the whole list, too
        self.assertEqual(listed[:4], list(reversed(ids)))
        for info in self.sessions():
            if info["sessionId"] not in ids:
                continue
            self.assertEqual(set(info), SESSION_INFO_KEYS, info)
            for k in ("createdAt", "updatedAt", "eventCount"):
                self.assertIs(type(info[k]), int, (k, info))
            self.assertTrue(t0 - 1000 <= info["createdAt"] <= t1 + 1000, (t0, info, t1))
            self.assertGreaterEqual(info["updatedAt"], info["createdAt"])

    def test_event_count_and_updated_at(self):
        sid = self.create()
        before = self.info(sid)
        self.assertEqual(before["eventCount"], 1)
        time.sleep(0.01)  # so that a bumped updatedAt is visibly later
        self.run_turn(sid, OK_PROMPT)
        after = self.info(sid)
        evs = self.events(sid)
        self.assertEqual(len(evs), 8, describe(evs))
        self.assertEqual(after["eventCount"], len(evs))
        self.assertEqual(after["createdAt"], before["createdAt"])
        self.assertGreater(after["updatedAt"], before["updatedAt"])
        self.assertLessEqual(after["updatedAt"], int(time.time() * 1000) + 1000)

    def test_ended_flag(self):
        a, b = self.create(), self.create()
        self.terminate(a)
        self.assertIs(self.info(a)["ended"], True)
        self.assertIs(self.info(b)["ended"], False)
        self.assertEqual(self.info(a)["eventCount"], 2)

    def test_includes_terminated_sessions_in_order(self):
        a, b, c = self.create(), self.create(), self.create()
        self.terminate(b)
        listed = [s["sessionId"] for s in self.sessions() if s["sessionId"] in (a, b, c)]
        self.assertEqual(listed, [c, b, a])


# ====================================================================== terminate

class TestTerminate(SessionCase):

    def test_terminate_records_session_ended_once(self):
        sid = self.create()
        self.run_turn(sid, OK_PROMPT)
        self.terminate(sid)
        evs = self.events(sid)
        self.assertContiguous(evs, 1, sid)
        self.assertEqual(len(evs), 9, describe(evs))
        end = evs[-1]
        self.assertEqual((end["type"], end["synthetic"], end["source"], end["data"]),
                         ("session.ended", True, "daemon",
                          {"reason": "terminated", "terminated_by": "daemon"}))
        # again: 204, nothing recorded
        self.terminate(sid)
        self.terminate(sid)
        self.assertEqual(self.events(sid), evs)
        self.assertEqual(self.info(sid)["eventCount"], 9)

    def test_messages_after_terminate_rejected(self):
        sid = self.create()
        self.terminate(sid)
        got = self.post("/v1/sessions/%s/messages" % sid, {"message": OK_PROMPT})
        self.assertProblemExact(got, "invalid_request", "invalid request: session terminated")
        got = self.post("/v1/sessions/%s/messages/stream" % sid, {"message": OK_PROMPT})
        self.assertProblemExact(got, "invalid_request", "invalid request: session terminated")
        self.assertEqual(types(self.events(sid)), ["session.started", "session.ended"])

    def test_events_still_readable_after_terminate(self):
        sid = self.create()
        self.terminate(sid)
        with self.s.sse("/v1/sessions/%s/events/sse" % sid) as st:
            self.assertEqual(st.status, 200)
            got = st.take(2)
        self.assertEqual(types(got), ["session.started", "session.ended"])


class TestTerminatePaced(SessionCase):
    """Mock pacing on, so a turn is still running when terminate comes."""

    server_env = paced(50)

    def test_terminate_during_turn_stops_the_mock(self):
        sid = self.create()
        self.send(sid, "demo")
        self.send(sid, OK_PROMPT)  # queued behind demo; must never run
        self.wait_count(sid, "item.completed", 2)  # the turn is under way
        self.terminate(sid)
        evs = self.events(sid)
        ended = [i for i, e in enumerate(evs) if e["type"] == "session.ended"]
        self.assertEqual(len(ended), 1, describe(evs))
        # several pacing intervals: nothing more may be recorded
        time.sleep(scaled(0.4))
        evs2 = self.events(sid)
        self.assertEqual(evs2, evs, "events recorded after terminate:\n" + describe(evs2[len(evs):]))
        self.assertEqual(evs[-1]["type"], "session.ended", describe(evs))
        self.assertEqual(evs[-1]["data"], {"reason": "terminated", "terminated_by": "daemon"})
        self.assertContiguous(evs, 1, sid)
        self.assertNotIn("turn.ended", types(evs))
        self.assertEqual(len(of_type(evs, "turn.started")), 1, describe(evs))
        self.assertFalse([n for n in self._natives(evs) if n.startswith("mock_2_")])
        info = self.info(sid)
        self.assertIs(info["ended"], True)
        self.assertEqual(info["eventCount"], len(evs))

    def stream(self, sid, message):
        return self.s.sse("/v1/sessions/%s/messages/stream" % sid, method="POST",
                          body={"message": message})

    def test_turn_stream_ends_at_terminate(self):
        sid = self.create()
        with self.stream(sid, "demo") as st:
            self.assertEqual(st.status, 200, st.body)
            self.assertEqual(st.next()["type"], "turn.started")
            self.terminate(sid)
            got = [e.data for e in st.events()]  # ends when the server closes it
        self.assertEqual(got[-1]["type"], "session.ended", describe(got))
        self.assertEqual(got[-1]["data"], {"reason": "terminated", "terminated_by": "daemon"})

    def test_turn_stream_of_queued_message_ends_at_terminate(self):
        sid = self.create()
        self.send(sid, "demo")
        with self.stream(sid, "echo never") as st:
            self.assertEqual(st.status, 200, st.body)
            self.wait_count(sid, "item.completed", 2)
            self.terminate(sid)
            got = [e.data for e in st.events()]
        # the queued turn never started: only the session end reaches it
        self.assertEqual(types(got), ["session.ended"], describe(got))

    def test_client_leaving_turn_stream_does_not_stop_turn(self):
        sid = self.create()
        with self.stream(sid, "markdown") as st:
            self.assertEqual(st.status, 200, st.body)
            st.take(2)
        evs = self.wait_count(sid, "turn.ended", timeout=10)
        self.assertEqual(len(of_type(evs, "item.delta")), 8, describe(evs))
        self.assertContiguous(evs, 1, sid)

    @staticmethod
    def _natives(evs):
        out = []
        for e in evs:
            if e["type"] in ("item.started", "item.completed"):
                out.append(item_of(e)["native_item_id"])
        return out

    def test_open_sse_sees_session_ended_then_nothing(self):
        sid = self.create()
        with self.s.sse("/v1/sessions/%s/events/sse" % sid) as st:
            self.assertEqual(st.status, 200)
            self.assertEqual(st.next()["type"], "session.started")
            self.send(sid, "demo")
            self.assertEqual(st.next()["type"], "turn.started")
            self.terminate(sid)
            seen = []
            for e in st:
                seen.append(e)
                if e["type"] == "session.ended":
                    break
            self.assertFalse(st.wait_closed(0.4), "events/sse must stay open after session.ended")
            self.assertEqual(st.trailing, [], "events after session.ended")
        evs = self.events(sid)
        self.assertEqual(seen, evs[2:])


# ====================================================================== mock `end`

class TestEndCommand(SessionCase):

    def test_end_records_session_ended_but_session_stays_open(self):
        sid = self.create()
        evs = self.run_turn(sid, "end", until="session.ended")
        self.assertEqual(types(evs), ["turn.started", "item.started", "item.completed",
                                      "session.ended"], describe(evs))
        self.assertUserItem(evs[1:3], 1, "end")
        self.assertEqual((evs[3]["synthetic"], evs[3]["source"], evs[3]["data"]),
                         (True, "daemon", {"reason": "completed", "terminated_by": "agent"}))
        self.assertIs(self.info(sid)["ended"], False)
        # documented behavior: the session keeps accepting messages
        evs = self.run_turn(sid, OK_PROMPT)
        self.assertEqual(types(evs)[-1], "turn.ended")
        self.assertEqual(item_of(evs[-2])["native_item_id"], "mock_2_ok")
        # ... and no turn.ended was recorded for the `end` turn
        all_evs = self.events(sid)
        self.assertEqual(len(of_type(all_evs, "turn.ended")), 1, describe(all_evs))
        self.assertContiguous(all_evs, 1, sid)

    def test_end_aliases(self):
        for word in ("ENDED", "session.end", "End now please"):
            with self.subTest(word=word):
                sid = self.create()
                evs = self.run_turn(sid, word, until="session.ended")
                self.assertEqual(types(evs)[-1], "session.ended")
                self.assertEqual(evs[-1]["data"], {"reason": "completed", "terminated_by": "agent"})

    def test_terminate_after_end_still_records(self):
        # `end` does not mark the session ended, so terminate does record
        sid = self.create()
        self.run_turn(sid, "end", until="session.ended")
        self.terminate(sid)
        evs = self.events(sid)
        ended = of_type(evs, "session.ended")
        self.assertEqual([e["data"]["reason"] for e in ended], ["completed", "terminated"])


# ====================================================================== messages

class TestMessages(SessionCase):

    def test_attachments_appended_to_prompt(self):
        sid = self.create()
        before = self.last_seq(sid)
        self.send(sid, "look at these", attachments=[{"path": "/tmp/a.txt", "mime": "text/plain"},
                                                     {"path": "rel/b.png", "filename": "b.png"}])
        evs = self.wait_count(sid, "turn.ended", 1, before)
        want = "look at these\n\nAttachments:\n- /tmp/a.txt\n- rel/b.png"
        self.assertUserItem(evs[1:3], 1, want)
        self.assertMessage(evs[3:6], "mock_1_reply", want)

    def test_empty_attachments(self):
        sid = self.create()
        before = self.last_seq(sid)
        self.send(sid, "plain", attachments=[])
        evs = self.wait_count(sid, "turn.ended", 1, before)
        self.assertUserItem(evs[1:3], 1, "plain")

    def test_two_sessions_independent(self):
        a, b = self.create(), self.create()
        self.send(a, OK_PROMPT)
        self.send(b, OK_PROMPT)
        ea = self.wait_count(a, "turn.ended")
        eb = self.wait_count(b, "turn.ended")
        strip = lambda evs: [(e["sequence"], e["type"], e["synthetic"], e["data"]) for e in evs]
        self.assertEqual(strip(ea), strip(eb))
        self.assertEqual(len(ea), 8)


# ====================================================================== agents

class TestAgentModelsModes(SessionCase):

    MODES = {
        "claude": [("build", "Build", "Default build mode"), ("plan", "Plan", "Plan mode (prompt-only)")],
        "codex": [("build", "Build", "Default build mode"),
                  ("plan", "Plan", "Planning mode via prompt prefix")],
        "amp": [("build", "Build", "Default build mode")],
        "mock": [("build", "Build", "Mock agent for UI testing"), ("plan", "Plan", "Plan-only mock mode")],
    }

    def modes(self, agent):
        st, body, h = self.s.json("GET", "/v1/agents/%s/modes" % agent)
        self.assertEqual(st, 200, body)
        self.assertEqual(set(body), {"modes"})
        for m in body["modes"]:
            self.assertEqual(set(m), {"id", "name", "description"}, m)
            self.assertTrue(m["description"], m)
        return [(m["id"], m["name"], m["description"]) for m in body["modes"]]

    def models(self, agent):
        st, body, h = self.s.json("GET", "/v1/agents/%s/models" % agent)
        return st, body

    def test_static_modes(self):
        for agent, want in self.MODES.items():
            with self.subTest(agent=agent):
                self.assertEqual(self.modes(agent), want)

    def test_opencode_modes(self):
        got = self.modes("opencode")
        ids = sorted(m[0] for m in got)
        self.assertIn("custom", ids)
        if ids == ["build", "custom", "plan"]:  # static fallback (no opencode binary)
            self.assertEqual(sorted(got), [
                ("build", "Build", "Default build mode"),
                ("custom", "Custom", "Any user-defined OpenCode agent name"),
                ("plan", "Plan", "Planning mode")])

    def test_mock_models(self):
        st, body = self.models("mock")
        self.assertEqual((st, body), (200, {"models": [{"id": "mock", "name": "Mock"}],
                                            "defaultModel": "mock"}))

    def test_amp_models(self):
        st, body = self.models("amp")
        self.assertEqual((st, body), (200, {"models": [{"id": "amp-default", "name": "Amp Default"}],
                                            "defaultModel": "amp-default"}))

    def test_claude_models_fallback_without_credentials(self):
        st, body = self.models("claude")
        self.assertEqual(st, 200, body)
        self.assertEqual(body, {"models": [{"id": "default", "name": "Default (recommended)"},
                                           {"id": "sonnet", "name": "Sonnet"},
                                           {"id": "opus", "name": "Opus"},
                                           {"id": "haiku", "name": "Haiku"}],
                                "defaultModel": "default"})

    def test_codex_and_opencode_models_answer(self):
        # without those binaries: opencode -> 200 with an empty list (spec
        # 8.3); codex -> 200 with a list, or a stream_error problem
        for agent in ("codex", "opencode"):
            with self.subTest(agent=agent):
                st, body = self.models(agent)
                if st == 200:
                    self.assertIsInstance(body.get("models"), list, body)
                    if body["models"]:
                        self.assertIn(body.get("defaultModel"), [m["id"] for m in body["models"]])
                    else:
                        self.assertNotIn("defaultModel", body)
                else:
                    self.assertEqual(agent, "codex", body)
                    self.assertIn(st, (404, 502), body)

    def test_models_cached_and_stable(self):
        self.assertEqual(self.models("mock"), self.models("mock"))

    def test_unknown_agent(self):
        for agent in ("nope", "Mock", "mock2"):
            for what in ("models", "modes"):
                with self.subTest(agent=agent, what=what):
                    got = self.s.json("GET", "/v1/agents/%s/%s" % (agent, what))
                    self.assertProblemExact(got, "unsupported_agent", "unsupported agent: " + agent,
                                            agent=agent)

    def test_mock_session_uses_default_model(self):
        sid = self.create()
        self.assertEqual(self.info(sid)["model"], "mock")
