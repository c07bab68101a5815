"""test_events.py - the universal event log over HTTP with the mock agent:
the reference trace (polling and SSE), multi-turn offsets, pagination and
include_raw, SSE framing/offset/Last-Event-ID/resume, turn streams, and
the exact event sequences of every mock prompt and command.
Spec: api-v1.md 3.4, 4.9, 4.11, 4.12, 6, 9, 12.3, 12.4, 12.7."""

import json
import random
import re

from sesslib import (ASK_PROMPT, ASK_PROMPT2, BASH_PROMPT, FIRST_PROMPT, LS_PROMPT, OK_PROMPT,
                     REASONING_PROMPT, SECOND_PROMPT, STATUS_PROMPT, TERMINAL, SessionCase,
                     describe, item_of, native_ids, of_type, paced, seqs, texts, types)

FRAME_RE = re.compile(rb"id:(\d+)\ndata:(\{[^\n]*\})\n\n")


class TraceMixin:

    def assertOkTrace(self, evs, sid, mode="default", prompt=OK_PROMPT, reply="OK",
                      native="mock_1_ok"):
        """The spec 9.4 reference trace, exactly."""
        self.assertEqual(types(evs), ["session.started", "turn.started", "item.started",
                                      "item.completed", "item.started", "item.delta",
                                      "item.completed", "turn.ended"], describe(evs))
        self.assertContiguous(evs, 1, sid)
        for e in evs:
            self.assertEnvelope(e, sid)
        self.assertEqual([e["synthetic"] for e in evs],
                         [True, True, False, False, False, True, False, True])
        self.assertEqual([e["source"] for e in evs],
                         ["daemon", "daemon", "agent", "agent", "agent", "daemon", "agent", "daemon"])
        self.assertEqual(evs[0]["data"], {"metadata": {
            "agent": "mock", "agentMode": "build", "permissionMode": mode, "model": "mock",
            "variant": None}})
        self.assertTurnStarted(evs[1])
        self.assertUserItem(evs[2:4], 1, prompt, item_id="itm_1")
        self.assertMessage(evs[4:7], native, reply, item_id="itm_2")
        self.assertEqual(evs[5]["data"], {"item_id": "itm_2", "native_item_id": native,
                                          "delta": reply})
        self.assertTurnEnded(evs[7])


# ====================================================================== trace

class TestReferenceTrace(TraceMixin, SessionCase):

    def test_polling(self):
        sid = self.create(permissionMode="bypass")
        self.send(sid, OK_PROMPT)
        evs = self.wait_count(sid, "turn.ended")
        self.assertOkTrace(evs, sid, mode="bypass")
        self.assertEqual(self.events(sid), evs)  # nothing after turn.ended

    def test_polling_with_limit_and_offset_loop(self):
        # the reference client loop: offset = last seen, limit 200 ...
        sid = self.create()
        self.send(sid, OK_PROMPT)
        self.wait_count(sid, "turn.ended")
        # ... and a tiny limit gives the same events
        got, offset = [], 0
        while True:
            evs, more = self.page(sid, "offset=%d&limit=3" % offset)
            got.extend(evs)
            if evs:
                offset = evs[-1]["sequence"]
            if not more:
                break
        self.assertOkTrace(got, sid)

    def test_sse_live(self):
        sid = self.create()
        with self.s.sse("/v1/sessions/%s/events/sse?offset=0" % sid) as st:
            self.assertEqual(st.status, 200)
            self.assertTrue(st.headers.get("content-type", "").startswith("text/event-stream"),
                            st.headers)
            self.assertEqual(st.headers.get("cache-control"), "no-cache")
            first = next(st.events())
            self.assertEqual(first.id, "1")
            self.send(sid, OK_PROMPT)
            rest = [next(st.events()) for _ in range(7)]
            frames = [first] + rest
            self.assertEqual([f.id for f in frames], [str(i) for i in range(1, 9)])
            evs = [f.data for f in frames]
            self.assertOkTrace(evs, sid)
            # the stream stays open after turn.ended
            self.assertFalse(st.wait_closed(0.2))
            self.assertEqual(st.trailing, [])
        self.assertEqual(self.events(sid), evs)

    def test_sse_replay_after_the_fact(self):
        sid = self.create()
        self.send(sid, OK_PROMPT)
        polled = self.wait_count(sid, "turn.ended")
        with self.s.sse("/v1/sessions/%s/events/sse" % sid) as st:
            self.assertEqual(st.status, 200)
            evs = st.take(8)
        self.assertEqual(evs, polled)
        self.assertOkTrace(evs, sid)

    def test_sse_exact_framing(self):
        sid = self.create()
        self.send(sid, OK_PROMPT)
        self.wait_count(sid, "turn.ended")
        with self.s.conn() as c:
            c.send("GET /v1/sessions/%s/events/sse HTTP/1.1\r\nHost: x\r\n\r\n" % sid)
            version, status, reason, headers, hl = c.read_head()
            self.assertEqual(status, 200)
            self.assertEqual(headers.get("content-type"), "text/event-stream")
            body = b""
            gen = c.stream_body(headers)
            c.deadline = None
            while body.count(b"\n\n") < 8:
                body += next(gen)
        self.assertTrue(body.endswith(b"\n\n"), body[-200:])
        frames = []
        for block in body[:-2].split(b"\n\n"):
            if block.startswith(b":"):
                continue  # keep-alive comment
            m = FRAME_RE.match(block + b"\n\n")
            self.assertIsNotNone(m, block[:300])
            self.assertEqual(m.end(), len(block) + 2, block[:300])
            frames.append(m.groups())
        self.assertEqual(len(frames), 8, body[:500])
        evs = []
        for sid_bytes, data in frames:
            ev = json.loads(data)
            self.assertEqual(int(sid_bytes), ev["sequence"])
            # compact single-line JSON
            self.assertEqual(json.dumps(ev, separators=(",", ":"), ensure_ascii=False).encode(), data)
            evs.append(ev)
        self.assertOkTrace(evs, sid)

    def test_two_sessions_concurrently(self):
        a, b = self.create(), self.create()
        self.send(a, OK_PROMPT)
        self.send(b, OK_PROMPT)
        self.assertOkTrace(self.wait_count(a, "turn.ended"), a)
        self.assertOkTrace(self.wait_count(b, "turn.ended"), b)

    def test_case_insensitive_and_trimmed_prompt(self):
        sid = self.create()
        self.send(sid, "  \n reply with EXACTLY the single word ok.\t\n")
        evs = self.wait_count(sid, "turn.ended")
        self.assertOkTrace(evs, sid, prompt="reply with EXACTLY the single word ok.")


# ====================================================================== multi-turn

class TestMultiTurn(TraceMixin, SessionCase):

    def second_turn(self, evs, sid, first_seq):
        self.assertEqual(types(evs), ["turn.started", "item.started", "item.completed",
                                      "item.started", "item.delta", "item.completed",
                                      "turn.ended"], describe(evs))
        self.assertContiguous(evs, first_seq, sid)
        self.assertTurnStarted(evs[0])
        self.assertUserItem(evs[1:3], 2, SECOND_PROMPT, item_id="itm_3")
        self.assertMessage(evs[3:6], "mock_2_second", "SECOND", item_id="itm_4")
        self.assertTurnEnded(evs[6])

    def test_first_second_with_offsets(self):
        sid = self.create()
        self.send(sid, FIRST_PROMPT)
        first = self.wait_count(sid, "turn.ended")
        self.assertOkTrace(first, sid, prompt=FIRST_PROMPT, reply="FIRST", native="mock_1_first")
        offset = first[-1]["sequence"]
        self.assertEqual(offset, 8)
        self.send(sid, SECOND_PROMPT)
        second = self.wait_count(sid, "turn.ended", offset=offset)
        self.second_turn(second, sid, 9)
        self.assertNotIn("session.started", types(second))
        self.assertEqual(self.events(sid), first + second)

    def test_offset_taken_at_assistant_completion(self):
        # The reference client stops polling at the assistant's
        # item.completed; the first turn.ended may then fall into the next
        # window, and nothing else may.
        sid = self.create()
        self.send(sid, FIRST_PROMPT)
        first = self.wait_events(sid, lambda evs: any(
            e["type"] == "item.completed" and item_of(e)["role"] == "assistant" for e in evs))
        cut = next(i for i, e in enumerate(first)
                   if e["type"] == "item.completed" and item_of(e)["role"] == "assistant")
        first = first[:cut + 1]
        offset = first[-1]["sequence"]
        self.send(sid, SECOND_PROMPT)
        win = self.wait_count(sid, "turn.ended", 2 if offset == 7 else 1, offset)
        if win[0]["type"] == "turn.ended":
            self.assertTurnEnded(win[0])
            win = win[1:]
        self.second_turn(win, sid, 9)


# ====================================================================== pagination

class TestPagination(SessionCase):

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.sid = None

    def ok_session(self):
        if type(self).sid is None:
            sid = self.create()
            self.send(sid, OK_PROMPT)
            self.wait_count(sid, "turn.ended")
            type(self).sid = sid
        return type(self).sid

    def test_offset_limit_has_more(self):
        sid = self.ok_session()
        cases = [
            ("", list(range(1, 9)), False),
            ("offset=0", list(range(1, 9)), False),
            ("limit=3", [1, 2, 3], True),
            ("offset=3&limit=5", [4, 5, 6, 7, 8], False),
            ("offset=3&limit=4", [4, 5, 6, 7], True),
            ("offset=7", [8], False),
            ("offset=8", [], False),
            ("offset=8&limit=5", [], False),
            ("offset=1000", [], False),
            ("limit=8", list(range(1, 9)), False),
            ("limit=1000", list(range(1, 9)), False),
            ("limit=0", [], True),
            ("offset=7&limit=0", [], True),
            ("offset=8&limit=0", [], False),
            ("offset=18446744073709551615", [], False),
            ("limit=1&offset=5", [6], True),
        ]
        for q, want, more in cases:
            with self.subTest(query=q):
                evs, has_more = self.page(sid, q)
                self.assertEqual(seqs(evs), want)
                self.assertIs(has_more, more)

    def test_bad_query_values(self):
        sid = self.ok_session()
        for q in ("offset=abc", "offset=-1", "offset=1.5", "offset=18446744073709551616",
                  "offset=99999999999999999999999", "limit=abc", "limit=-2",
                  "include_raw=maybe"):
            with self.subTest(query=q):
                st, h, body = self.s.request("GET", "/v1/sessions/%s/events?%s" % (sid, q))
                self.assertEqual(st, 400, body)

    def test_bad_offset_on_sse(self):
        sid = self.ok_session()
        with self.s.sse("/v1/sessions/%s/events/sse?offset=x" % sid) as st:
            self.assertEqual(st.status, 400, st.body)

    def test_unknown_query_ignored(self):
        sid = self.ok_session()
        evs, more = self.page(sid, "foo=bar&offset=6")
        self.assertEqual(seqs(evs), [7, 8])


# ====================================================================== include_raw

class TestIncludeRaw(SessionCase):

    def error_session(self):
        sid = self.create()
        self.send(sid, "error")
        self.wait_count(sid, "turn.ended")
        return sid

    def check(self, evs, with_raw):
        self.assertEqual(types(evs), ["session.started", "turn.started", "item.started",
                                      "item.completed", "error", "agent.unparsed", "turn.ended"],
                         describe(evs))
        for e in evs:
            if e["type"] == "agent.unparsed" and with_raw:
                self.assertEqual(e["raw"], {"raw": "mock"})
            else:
                self.assertIsNone(e["raw"], e)

    def test_events(self):
        sid = self.error_session()
        for q, with_raw in (("", False), ("include_raw=false", False), ("includeRaw=false", False),
                            ("include_raw=true", True), ("includeRaw=true", True)):
            with self.subTest(query=q):
                evs, more = self.page(sid, q)
                self.check(evs, with_raw)

    def test_sse(self):
        sid = self.error_session()
        for q, with_raw in (("", False), ("?include_raw=true", True), ("?includeRaw=true", True)):
            with self.subTest(query=q):
                with self.s.sse("/v1/sessions/%s/events/sse%s" % (sid, q)) as st:
                    self.assertEqual(st.status, 200)
                    self.check(st.take(7), with_raw)


# ====================================================================== SSE offsets

class TestSseOffsets(SessionCase):

    def ok_session(self):
        sid = self.create()
        self.send(sid, OK_PROMPT)
        self.wait_count(sid, "turn.ended")
        return sid

    def first_seq(self, path, headers=None):
        with self.s.sse(path, headers=headers) as st:
            self.assertEqual(st.status, 200, st.body)
            e = next(st.events())
            self.assertEqual(e.id, str(e.data["sequence"]))
            return e.data["sequence"]

    def test_offset_replays_after_n(self):
        sid = self.ok_session()
        for off in range(0, 8):
            with self.subTest(offset=off):
                with self.s.sse("/v1/sessions/%s/events/sse?offset=%d" % (sid, off)) as st:
                    got = st.take(8 - off)
                    self.assertEqual(seqs(got), list(range(off + 1, 9)))
                    self.assertFalse(st.wait_closed(0.05))
                    self.assertEqual(st.trailing, [])

    def test_last_event_id_overrides_offset(self):
        sid = self.ok_session()
        base = "/v1/sessions/%s/events/sse" % sid
        self.assertEqual(self.first_seq(base, {"Last-Event-ID": "5"}), 6)
        self.assertEqual(self.first_seq(base + "?offset=2", {"Last-Event-ID": "5"}), 6)
        self.assertEqual(self.first_seq(base + "?offset=6", {"Last-Event-ID": "2"}), 3)
        self.assertEqual(self.first_seq(base + "?offset=6", {"Last-Event-ID": "0"}), 1)

    def test_offset_at_end_then_live(self):
        sid = self.ok_session()
        with self.s.sse("/v1/sessions/%s/events/sse?offset=8" % sid) as st:
            self.assertEqual(st.status, 200)
            self.send(sid, SECOND_PROMPT)
            got = st.take(7)
        self.assertEqual(seqs(got), list(range(9, 16)))
        self.assertEqual(got, self.events(sid, 8))

    def test_offset_beyond_end_waits_for_that_sequence(self):
        sid = self.ok_session()
        with self.s.sse("/v1/sessions/%s/events/sse?offset=10" % sid) as st:
            self.assertEqual(st.status, 200)
            self.send(sid, SECOND_PROMPT)
            got = st.take(5)
        self.assertEqual(seqs(got), [11, 12, 13, 14, 15])

    def test_limit_ignored_on_sse(self):
        sid = self.ok_session()
        with self.s.sse("/v1/sessions/%s/events/sse?limit=2" % sid) as st:
            self.assertEqual(seqs(st.take(8)), list(range(1, 9)))


class TestSseResume(SessionCase):
    """Reconnecting while the mock is still producing (pacing on)."""

    server_env = paced(5)

    def test_resume_by_offset_and_last_event_id(self):
        sid = self.create()
        self.send(sid, "demo")
        rnd = random.Random(7)
        got = []
        hops = 0
        while not got or got[-1]["type"] != "turn.ended":
            last = got[-1]["sequence"] if got else 0
            path = "/v1/sessions/%s/events/sse" % sid
            headers = None
            if hops % 2:
                # Last-Event-ID wins over a stale offset
                path += "?offset=0"
                headers = {"Last-Event-ID": str(last)}
            else:
                path += "?offset=%d" % last
            with self.s.sse(path, headers=headers) as st:
                self.assertEqual(st.status, 200)
                for _ in range(rnd.randint(1, 9)):
                    ev = next(st.events())
                    self.assertEqual(ev.id, str(ev.data["sequence"]))
                    got.append(ev.data)
                    if ev.data["type"] == "turn.ended":
                        break
            hops += 1
        self.assertGreater(hops, 5)
        self.assertContiguous(got, 1, sid)
        self.assertEqual(got, self.events(sid))


# ====================================================================== turn streams

class TestTurnStream(SessionCase):

    def stream(self, sid, message, query=""):
        return self.s.sse("/v1/sessions/%s/messages/stream%s" % (sid, query), method="POST",
                          body={"message": message})

    def run_stream(self, sid, message, query=""):
        """Posts to the turn stream; returns its events after checking it
        closed right after its first terminal event."""
        with self.stream(sid, message, query) as st:
            self.assertEqual(st.status, 200, st.body)
            self.assertTrue(st.headers.get("content-type", "").startswith("text/event-stream"))
            self.assertEqual(st.headers.get("cache-control"), "no-cache")
            evs = []
            for ev in st.events():
                self.assertEqual(ev.id, str(ev.data["sequence"]))
                evs.append(ev.data)
            # the loop ended: the server closed the stream
        for e in evs[:-1]:
            self.assertNotIn(e["type"], TERMINAL, describe(evs))
        self.assertIn(evs[-1]["type"], TERMINAL, describe(evs))
        return evs

    def test_ok_prompt(self):
        sid = self.create()
        evs = self.run_stream(sid, OK_PROMPT)
        self.assertEqual(types(evs), ["turn.started", "item.started", "item.completed",
                                      "item.started", "item.delta", "item.completed",
                                      "turn.ended"], describe(evs))
        self.assertEqual(len(of_type(evs, "turn.started")), 1)
        self.assertEqual(len(of_type(evs, "turn.ended")), 1)
        self.assertContiguous(evs, 2, sid)
        self.assertEqual(evs, self.events(sid, 1))

    def test_no_replay_of_older_events(self):
        sid = self.create()
        self.run_stream(sid, FIRST_PROMPT)
        evs = self.run_stream(sid, SECOND_PROMPT)
        self.assertContiguous(evs, 9, sid)
        self.assertEqual(item_of(evs[-2])["native_item_id"], "mock_2_second")

    def test_ends_after_permission_requested(self):
        sid = self.create(permissionMode="plan")
        evs = self.run_stream(sid, LS_PROMPT)
        self.assertEqual(types(evs), ["turn.started", "item.started", "item.completed",
                                      "permission.requested"], describe(evs))
        self.assertEqual(evs[-1]["data"]["permission_id"], "mock_1_permission")

    def test_bash_prompt_ends_at_permission_although_turn_goes_on(self):
        sid = self.create(permissionMode="plan")
        evs = self.run_stream(sid, BASH_PROMPT)
        self.assertEqual(types(evs)[-1], "permission.requested")
        # the turn itself continues with the tool sequence
        rest = self.wait_count(sid, "turn.ended", 1, evs[-1]["sequence"])
        self.assertIn("item.completed", types(rest))

    def test_ends_after_question_requested(self):
        sid = self.create()
        evs = self.run_stream(sid, ASK_PROMPT)
        self.assertEqual(types(evs)[-1], "question.requested")
        self.assertEqual(len(evs), 4)

    def test_ends_at_error_before_unparsed(self):
        sid = self.create()
        evs = self.run_stream(sid, "error")
        self.assertEqual(types(evs), ["turn.started", "item.started", "item.completed", "error"])

    def test_ends_at_session_ended(self):
        sid = self.create()
        evs = self.run_stream(sid, "end")
        self.assertEqual(types(evs)[-1], "session.ended")
        self.assertEqual(len(evs), 4)

    def test_include_raw(self):
        sid = self.create()
        evs = self.run_stream(sid, "unparsed", "?include_raw=true")
        self.assertEqual(types(evs), ["turn.started", "item.started", "item.completed",
                                      "agent.unparsed"])
        self.assertEqual(evs[-1]["raw"], {"raw": "mock"})
        self.assertEqual(evs[-1]["data"], {"error": "unsupported payload", "location": "mock.stream",
                                           "raw_hash": None})
        for e in evs[:-1]:
            self.assertIsNone(e["raw"])
        evs = self.run_stream(sid, "unparsed", "?includeRaw=true")
        self.assertEqual(evs[-1]["raw"], {"raw": "mock"})
        evs = self.run_stream(sid, "unparsed")
        self.assertIsNone(evs[-1]["raw"])

    def test_empty_message_stream_stays_open(self):
        sid = self.create()
        with self.stream(sid, "   ") as st:
            self.assertEqual(st.status, 200)
            first = st.next()
            self.assertEqual(first["type"], "turn.started")
            self.assertFalse(st.wait_closed(0.3), "stream closed without a terminal event")
            self.assertEqual(st.trailing, [])

    def test_stream_errors_are_problems(self):
        got = self.s.json("POST", "/v1/sessions/nope-stream/messages/stream", {"message": "x"})
        self.assertEqual(got[0], 404)
        sid = self.create()
        self.terminate(sid)
        got = self.s.json("POST", "/v1/sessions/%s/messages/stream" % sid, {"message": "x"})
        self.assertProblemExact(got, "invalid_request", "invalid request: session terminated")


# ====================================================================== mock commands

HELP = "\n".join([
    "Mock agent commands:",
    "- demo: run a full UI coverage sequence with markers.",
    "- markdown: streaming markdown fixture.",
    "- tool: tool call + tool result with file refs.",
    "- status: status item updates.",
    "- image: message with image content part.",
    "- unknown: item.kind=unknown example.",
    "- permission: permission requests (pending).",
    "- question: question requests (pending).",
    "- error: error + agent.unparsed events.",
    "- unparsed: emit agent.unparsed only.",
    "- end: emit session.ended.",
    "",
    "Any other text will be echoed as an assistant message.",
])

MARKERS = [
    "Next: system message (system role).",
    "Next: assistant message with deltas, reasoning, and JSON content parts.",
    "Next: status item updates.",
    "Next: markdown rendering + streaming markdown deltas.",
    "Next: tool call item.",
    "Next: image output content part.",
    "Next: unknown item kind.",
    "Next: permission requests (pending).",
    "Next: question requests (pending).",
    "Next: error and agent.unparsed events.",
]

RICH = [
    {"type": "text", "text": "Mock assistant response with rich content."},
    {"type": "reasoning", "text": "Public reasoning for display.", "visibility": "public"},
    {"type": "reasoning", "text": "Private reasoning hidden by default.", "visibility": "private"},
    {"type": "json", "json": {"stage": "analysis", "ok": True}},
]


class TestMockCommands(SessionCase):

    def turn(self, message, until="turn.ended", sid=None):
        """Runs message on a fresh session (or sid); returns the events of
        the turn after the user item, checking the common frame."""
        sid = sid or self.create()
        evs = self.run_turn(sid, message, until)
        self.assertTurnStarted(evs[0])
        self.assertContiguous(evs, evs[0]["sequence"], sid)
        n = int(item_of(evs[1])["native_item_id"].split("_")[1])
        self.assertUserItem(evs[1:3], n, message.strip())
        if until == "turn.ended":
            self.assertTurnEnded(evs[-1])
            self.assertEqual(len(of_type(evs, "turn.ended")), 1)
            return evs[3:-1]
        return evs[3:]

    def assertNoMoreEvents(self, sid):
        """No events were recorded after the last one but a barrier turn."""
        last = self.last_seq(sid)
        self.assertEqual(self.barrier(sid), [], "events after the turn's last event")
        return last

    # -- simple messages

    def test_help(self):
        evs = self.turn("help")
        self.assertEqual(len(evs), 3, describe(evs))
        self.assertMessage(evs, "mock_1_help", HELP, item_id="itm_2")

    def test_help_case_insensitive_with_args(self):
        evs = self.turn("HELP me please")
        self.assertMessage(evs, "mock_1_help", HELP)

    def test_echo_and_say(self):
        sid = self.create()
        evs = self.turn("echo   hello \t  big\n world  ", sid=sid)
        self.assertEqual(len(evs), 3)
        self.assertMessage(evs, "mock_1_echo", "hello big world", item_id="itm_2")
        evs = self.turn("SAY it", sid=sid)
        self.assertMessage(evs, "mock_2_echo", "it", item_id="itm_4")

    def test_echo_without_words(self):
        sid = self.create()
        evs = self.turn("echo", sid=sid)
        self.assertMessage(evs, "mock_1_echo", "Tell me what to say after `echo`.")
        evs = self.turn("say   ", sid=sid)
        self.assertMessage(evs, "mock_2_echo", "Tell me what to say after `echo`.")

    def test_other_text_echoed(self):
        evs = self.turn("  What is   the answer?\n ")
        self.assertEqual(len(evs), 3)
        self.assertMessage(evs, "mock_1_reply", "What is   the answer?", item_id="itm_2")

    def test_command_must_be_whole_word(self):
        evs = self.turn("helpful hints")
        self.assertMessage(evs, "mock_1_reply", "helpful hints")

    def test_multiline_text_echoed_with_synthetic_delta(self):
        evs = self.turn("line one\nline two")
        self.assertMessage(evs, "mock_1_reply", "line one\nline two")

    def test_unicode_echo(self):
        evs = self.turn("echo gr\u00fc\u00dfe \u2603 \U0001F600")
        self.assertMessage(evs, "mock_1_echo", "gr\u00fc\u00dfe \u2603 \U0001F600")

    def test_empty_and_whitespace_messages(self):
        for msg in ("", "   \t\n  "):
            with self.subTest(message=repr(msg)):
                sid = self.create()
                before = self.last_seq(sid)
                self.send(sid, msg)
                prior = self.barrier(sid, since=before)
                self.assertEqual(types(prior), ["turn.started"], describe(prior))
                self.assertEqual(prior[0]["sequence"], before + 1)
                self.assertTurnStarted(prior[0])
                # the message counter still advanced: the barrier was message 2
                evs = self.events(sid)
                self.assertIn("mock_2_user", native_ids(evs))

    # -- building blocks

    def test_markdown(self):
        evs = self.turn("markdown")
        self.assertEqual(types(evs), ["item.started"] + ["item.delta"] * 8 + ["item.completed"],
                         describe(evs))
        self.assertItem(evs[0], "item.started", "itm_2", "mock_1_markdown", "message", "assistant",
                        [{"type": "text", "text": "Markdown demo (streaming follows)..."}],
                        "in_progress")
        deltas = evs[1:9]
        for d in deltas:
            self.assertEqual(d["synthetic"], False)
            self.assertEqual((d["data"]["item_id"], d["data"]["native_item_id"]),
                             ("itm_2", "mock_1_markdown"))
        full = "".join(d["data"]["delta"] for d in deltas)
        done = evs[9]
        self.assertItem(done, "item.completed", "itm_2", "mock_1_markdown", "message", "assistant",
                        [{"type": "text", "text": full}], "completed")
        self.assertTrue(full.startswith("# Markdown Demo"), full)
        for part in ("## Lists", "## Code", "```ts", "## Table", "## Link"):
            self.assertIn(part, full)
        self.assertTrue(full.endswith("End of markdown demo."), full)
        heads = [full.index(h) for h in ("# Markdown Demo", "## Lists", "## Code", "## Table",
                                         "## Link")]
        self.assertEqual(heads, sorted(heads))

    def check_tool(self, evs, P, first_itm):
        self.assertEqual(types(evs), ["item.started", "item.completed", "item.started",
                                      "item.completed"], describe(evs))
        call = [{"type": "tool_call", "name": "mock.search", "arguments": "{\"query\":\"example\"}",
                 "call_id": P + "_call"}]
        result = [{"type": "tool_result", "call_id": P + "_call", "output": "mock search results"},
                  {"type": "file_ref", "path": P + "/readme.md", "action": "read", "diff": None},
                  {"type": "file_ref", "path": P + "/output.txt", "action": "write",
                   "diff": "+mock output\n"},
                  {"type": "file_ref", "path": P + "/patch.txt", "action": "patch",
                   "diff": "@@ -1,1 +1,1 @@\n-old\n+new\n"}]
        c = "itm_%d" % first_itm
        r = "itm_%d" % (first_itm + 1)
        self.assertItem(evs[0], "item.started", c, P + "_tool_call", "tool_call", "assistant", call,
                        "in_progress")
        self.assertItem(evs[1], "item.completed", c, P + "_tool_call", "tool_call", "assistant",
                        call, "completed")
        self.assertItem(evs[2], "item.started", r, P + "_tool_result", "tool_result", "tool",
                        result, "in_progress")
        self.assertItem(evs[3], "item.completed", r, P + "_tool_result", "tool_result", "tool",
                        result, "failed")
        self.assertEqual(len([p for p in result if p["type"] == "file_ref"]), 3)

    def test_tool_and_aliases(self):
        sid = self.create()
        for n, word in enumerate(("tool", "tools", "Tooling x"), 1):
            with self.subTest(word=word):
                evs = self.turn(word, sid=sid)
                self.check_tool(evs, "mock_%d" % n, 2 + 3 * (n - 1))

    def check_status(self, evs, P, itm=None):
        self.assertEqual(types(evs), ["item.started", "item.completed"], describe(evs))
        self.assertItem(evs[0], "item.started", itm, P + "_status", "status", "assistant",
                        [{"type": "status", "label": "Indexing", "detail": "2 files"}], "in_progress")
        self.assertItem(evs[1], "item.completed", item_of(evs[0])["item_id"], P + "_status",
                        "status", "assistant",
                        [{"type": "status", "label": "Indexing", "detail": "Done"}], "completed")

    def test_status_command(self):
        self.check_status(self.turn("status"), "mock_1", "itm_2")

    def check_image(self, evs, P, itm=None):
        self.assertMessage(evs, P + "_image", [
            {"type": "text", "text": "Here is a mock image output."},
            {"type": "image", "path": P + "/image.png", "mime": "image/png"}], item_id=itm)

    def test_image(self):
        evs = self.turn("image")
        self.assertEqual(len(evs), 3)
        self.check_image(evs, "mock_1", "itm_2")
        self.assertEqual(evs[1]["data"]["delta"], "Here is a mock image output.")

    def check_unknown(self, evs, P, itm=None):
        # kind unknown: no synthetic delta (only message items get one)
        self.assertEqual(types(evs), ["item.started", "item.completed"], describe(evs))
        content = [{"type": "text", "text": "Unknown item kind example."}]
        self.assertItem(evs[0], "item.started", itm, P + "_unknown", "unknown", "assistant", content,
                        "in_progress")
        self.assertItem(evs[1], "item.completed", item_of(evs[0])["item_id"], P + "_unknown",
                        "unknown", "assistant", content, "completed")

    def test_unknown(self):
        self.check_unknown(self.turn("unknown"), "mock_1", "itm_2")

    def check_permissions(self, evs, P):
        self.assertEqual(types(evs), ["permission.requested", "permission.requested"])
        self.assertEqual([e["synthetic"] for e in evs], [False, False])
        self.assertEqual(evs[0]["data"], {
            "permission_id": P + "_permission", "action": "command_execution", "status": "requested",
            "metadata": {"codexRequestKind": "commandExecution", "command": "echo mock"}})
        self.assertEqual(evs[1]["data"], {
            "permission_id": P + "_permission_denied", "action": "file_change", "status": "requested",
            "metadata": {"codexRequestKind": "fileChange", "path": P + "/deny.txt"}})

    def test_permissions(self):
        for word in ("permission", "Permissions"):
            with self.subTest(word=word):
                sid = self.create()
                evs = self.turn(word, until="permission.requested", sid=sid)
                evs = self.wait_count(sid, "permission.requested", 2, evs[0]["sequence"] - 1)
                self.check_permissions(evs, "mock_1")
                self.assertEqual(self.barrier(sid), [], "no turn.ended after pending permissions")

    def check_questions(self, evs, P):
        self.assertEqual(types(evs), ["question.requested", "question.requested"])
        self.assertEqual([e["synthetic"] for e in evs], [False, False])
        self.assertEqual(evs[0]["data"], {
            "question_id": P + "_question", "prompt": "Choose a color", "options": ["Red", "Blue"],
            "response": None, "status": "requested"})
        self.assertEqual(evs[1]["data"], {
            "question_id": P + "_question_reject", "prompt": "Allow mock experiment?",
            "options": ["Yes", "No"], "response": None, "status": "requested"})

    def test_questions(self):
        for word in ("question", "QUESTIONS"):
            with self.subTest(word=word):
                sid = self.create()
                evs = self.turn(word, until="question.requested", sid=sid)
                evs = self.wait_count(sid, "question.requested", 2, evs[0]["sequence"] - 1)
                self.check_questions(evs, "mock_1")
                self.assertEqual(self.barrier(sid), [], "no turn.ended after pending questions")

    def check_error(self, evs):
        self.assertEqual(types(evs), ["error", "agent.unparsed"])
        self.assertEqual([(e["synthetic"], e["source"]) for e in evs],
                         [(True, "daemon"), (True, "daemon")])
        self.assertEqual(evs[0]["data"], {"message": "Mock error event.", "code": "mock_error",
                                          "details": {"mock": True}})
        self.assertEqual(evs[1]["data"], {"error": "unsupported payload", "location": "mock.stream",
                                          "raw_hash": None})

    def test_error(self):
        sid = self.create()
        evs = self.turn("error", sid=sid)
        self.check_error(evs)
        raw = self.events(sid, include_raw=True)
        self.assertEqual([e["raw"] for e in raw], [None] * 5 + [{"raw": "mock"}, None])

    def test_unparsed(self):
        sid = self.create()
        evs = self.turn("unparsed", sid=sid)
        self.assertEqual(types(evs), ["agent.unparsed"])
        self.assertEqual(evs[0]["data"], {"error": "unsupported payload", "location": "mock.stream",
                                          "raw_hash": None})
        self.assertTrue(evs[0]["synthetic"])
        raw = self.events(sid, include_raw=True)
        self.assertEqual(of_type(raw, "agent.unparsed")[0]["raw"], {"raw": "mock"})

    def test_demo(self):
        sid = self.create()
        evs = self.turn("demo", sid=sid)
        P = "mock_1"
        i = 0

        def take(n):
            nonlocal i
            out = evs[i:i + n]
            i += n
            return out

        for k, marker in enumerate(MARKERS, 1):
            self.assertMessage(take(3), "%s_marker_%d" % (P, k), marker)
            if k == 1:
                # kind system: no synthetic delta (spec 6.1 C: kind message only)
                sys_evs = take(2)
                content = [{"type": "text", "text": "System ready for mock events."}]
                self.assertItem(sys_evs[0], "item.started", None, P + "_system", "system",
                                "system", content, "in_progress")
                self.assertItem(sys_evs[1], "item.completed", item_of(sys_evs[0])["item_id"],
                                P + "_system", "system", "system", content, "completed")
            elif k == 2:
                rich = take(4)
                self.check_rich(rich, P)
            elif k == 3:
                self.check_status(take(2), P)
            elif k == 4:
                md = take(10)
                self.assertEqual(types(md), ["item.started"] + ["item.delta"] * 8 +
                                 ["item.completed"], describe(md))
                self.assertEqual("".join(d["data"]["delta"] for d in md[1:9]),
                                 texts(item_of(md[9]))[0])
            elif k == 5:
                tool = take(4)
                self.check_tool(tool, P, int(item_of(tool[0])["item_id"][4:]))
            elif k == 6:
                self.check_image(take(3), P)
            elif k == 7:
                self.check_unknown(take(2), P)
            elif k == 8:
                self.check_permissions(take(2), P)
            elif k == 9:
                self.check_questions(take(2), P)
            elif k == 10:
                self.check_error(take(2))
        self.assertEqual(i, len(evs), describe(evs[i:]))
        # item ids: one per item, allocated in order from itm_2
        ids = []
        for e in evs:
            if e["type"] == "item.started":
                ids.append(item_of(e)["item_id"])
        self.assertEqual(ids, ["itm_%d" % n for n in range(2, 2 + len(ids))])
        self.assertEqual(len(ids), 10 + 8)

    def check_rich(self, evs, P, itm=None):
        self.assertEqual(types(evs), ["item.started", "item.delta", "item.delta", "item.completed"],
                         describe(evs))
        self.assertItem(evs[0], "item.started", itm, P + "_assistant_rich", "message", "assistant",
                        RICH, "in_progress")
        iid = item_of(evs[0])["item_id"]
        self.assertDelta(evs[1], iid, P + "_assistant_rich", "Mock assistant ", False)
        self.assertDelta(evs[2], iid, P + "_assistant_rich", "streaming delta.", False)
        self.assertItem(evs[3], "item.completed", iid, P + "_assistant_rich", "message", "assistant",
                        RICH, "completed")

    # -- canned prompts of 12.7 and 9.2

    def test_reasoning_prompt(self):
        evs = self.turn(REASONING_PROMPT)
        self.check_rich(evs, "mock_1", "itm_2")
        parts = [p for e in evs if e["type"] == "item.completed" for p in item_of(e)["content"]]
        self.assertIn("reasoning", [p["type"] for p in parts])

    def test_status_prompt(self):
        evs = self.turn(STATUS_PROMPT)
        self.check_status(evs, "mock_1", "itm_2")

    def test_ls_prompt_leaves_turn_open(self):
        sid = self.create(permissionMode="plan")
        evs = self.turn(LS_PROMPT, until="permission.requested", sid=sid)
        self.assertEqual(len(evs), 1)
        self.assertEqual(evs[0]["data"], {
            "permission_id": "mock_1_permission", "action": "command_execution", "status": "requested",
            "metadata": {"codexRequestKind": "commandExecution", "command": "ls"}})
        self.assertEqual((evs[0]["synthetic"], evs[0]["source"]), (False, "agent"))
        self.assertEqual(self.barrier(sid), [])

    def test_bash_prompt(self):
        evs = self.turn(BASH_PROMPT)
        self.assertEqual(evs[0]["type"], "permission.requested")
        self.assertEqual(evs[0]["data"]["permission_id"], "mock_1_permission")
        self.assertEqual(evs[0]["data"]["metadata"], {"codexRequestKind": "commandExecution",
                                                      "command": "ls"})
        self.check_tool(evs[1:], "mock_1", 2)

    def test_ask_prompts(self):
        for prompt in (ASK_PROMPT, ASK_PROMPT2):
            with self.subTest(prompt=prompt[:20]):
                sid = self.create()
                evs = self.turn(prompt, until="question.requested", sid=sid)
                self.assertEqual(len(evs), 1)
                self.assertEqual(evs[0]["data"], {
                    "question_id": "mock_1_question", "prompt": "Proceed?", "options": ["Yes", "No"],
                    "response": None, "status": "requested"})
                self.assertEqual(self.barrier(sid), [])

    def test_message_counter_per_session(self):
        a, b = self.create(), self.create()
        self.turn("hello", sid=a)
        self.turn("hello", sid=a)
        evs = self.turn("hello", sid=b)
        self.assertMessage(evs, "mock_1_reply", "hello", item_id="itm_2")
        evs = self.turn("hello", sid=a)
        self.assertMessage(evs, "mock_3_reply", "hello", item_id="itm_6")

