"""test_concurrency.py - many sessions and streams at once: 50 sessions
with 5 SSE readers each plus one deliberately slow reader (every reader
sees every event exactly once, in order), 1000 sessions created and
terminated with no fd or child-process leak, and messages queued behind
a running turn (run strictly after it, never interleaved).
Spec: api-v1.md 4.8, 4.9, 4.12, 5.5, 6.4, 6.6 and our queueing rule."""

import os

from harness import unique_id, wait_until
from sesslib import (FIRST_PROMPT, LS_PROMPT, OK_PROMPT, SECOND_PROMPT, SessionCase, StreamClient,
                     describe, item_of, native_ids, of_type, paced, pump_until, quote, types)

N_SESSIONS = 50
READERS_EARLY = 3   # opened before the messages
READERS_LATE = 2    # opened while the messages run: replay + live
MESSAGES = (OK_PROMPT, "markdown", "tool")
SLOW_DEMOS = 30
SLOW_RCVBUF = 4096
FD_SLACK = 3


def turn_ends(events):
    return sum(1 for e in events if e["type"] == "turn.ended")


class TestManyStreams(SessionCase):

    def settle_fds(self, baseline, what):
        ok = wait_until(lambda: self.s.fds() <= baseline + FD_SLACK, 5)
        self.assertTrue(ok, "%s: server has %d fds, baseline %d (%s)"
                        % (what, self.s.fds(), baseline, sorted(self._fd_targets())))

    def _fd_targets(self):
        out = []
        d = "/proc/%d/fd" % self.s.pid
        for f in os.listdir(d):
            try:
                out.append(os.readlink(os.path.join(d, f)))
            except OSError:
                pass
        return out

    def test_50_sessions_5_readers_and_a_slow_one(self):
        baseline = self.s.fds()
        port = self.s.port
        sids = [self.create() for _ in range(N_SESSIONS)]
        slow_sid = self.create()
        readers = {sid: [] for sid in sids}
        clients = []
        try:
            for sid in sids:
                for _ in range(READERS_EARLY):
                    c = StreamClient(port, "/v1/sessions/%s/events/sse" % quote(sid))
                    readers[sid].append(c)
                    clients.append(c)
            slow = StreamClient(port, "/v1/sessions/%s/events/sse?offset=0" % quote(slow_sid),
                                rcvbuf=SLOW_RCVBUF)
            for _ in range(SLOW_DEMOS):
                self.send(slow_sid, "demo")
            for msg in MESSAGES:
                for sid in sids:
                    self.send(sid, msg)
                # keep the early readers drained meanwhile
                pump_until(clients, lambda: True, 1)
            for sid in sids:
                for _ in range(READERS_LATE):
                    c = StreamClient(port, "/v1/sessions/%s/events/sse?offset=0" % quote(sid))
                    readers[sid].append(c)
                    clients.append(c)

            def all_done():
                return all(turn_ends(c.reader.events) >= len(MESSAGES) for c in clients)
            pump_until(clients, all_done, 30, "every fast reader to see %d turn.ended" % len(MESSAGES))

            for sid in sids:
                stored = self.events(sid)
                self.assertEqual(turn_ends(stored), len(MESSAGES))
                self.assertContiguous(stored, 1, sid)
                for k, c in enumerate(readers[sid]):
                    r = c.reader
                    self.assertEqual(r.status, 200)
                    self.assertEqual(r.bad_lines, [])
                    self.assertEqual([f[0] for f in r.frames], [str(e["sequence"]) for e in r.events])
                    # exactly the stored events, each once, in order (late
                    # readers: a little more may have been stored since)
                    self.assertEqual(r.events, stored[:len(r.events)],
                                     "session %s reader %d:\n%s" % (sid, k, describe(r.events)))
                    self.assertEqual(len(r.events), len(stored), "session %s reader %d" % (sid, k))

            # the slow reader: nothing read yet; let the session finish all
            # 30 demos (the server must buffer or serve from the log, and
            # must not have dropped the stream), then read everything
            self.wait_events(slow_sid, lambda evs: turn_ends(evs) >= SLOW_DEMOS, 30,
                             what="%d demo turns" % SLOW_DEMOS)
            stored = self.events(slow_sid)
            pump_until([slow], lambda: len(slow.reader.events) >= len(stored) or slow.closed, 30,
                       "the slow reader to catch up")
            self.assertFalse(slow.closed, "server closed the slow stream after %d of %d events"
                             % (len(slow.reader.events), len(stored)))
            got = slow.reader.events
            self.assertEqual(len(got), len(stored))
            self.assertContiguous(got, 1, slow_sid)
            self.assertEqual(got, stored)
            self.assertEqual(turn_ends(got), SLOW_DEMOS)
        finally:
            for c in clients:
                c.close()
            try:
                slow.close()
            except NameError:
                pass
        self.settle_fds(baseline, "after closing %d streams" % (len(clients) + 1))
        self.assertEqual(self.s.children(), [])

    def test_1000_sessions_created_and_terminated(self):
        baseline = self.s.fds()
        conn = self.s.connection()
        prefix = unique_id("bulk")
        try:
            for i in range(1000):
                sid = "%s-%d" % (prefix, i)
                conn.request("POST", "/v1/sessions/" + sid, body=b'{"agent":"mock"}',
                             headers={"Content-Type": "application/json"})
                r = conn.getresponse()
                body = r.read()
                self.assertEqual(r.status, 200, body)
                conn.request("POST", "/v1/sessions/%s/terminate" % sid)
                r = conn.getresponse()
                body = r.read()
                self.assertEqual(r.status, 204, body)
        finally:
            conn.close()
        listed = {s["sessionId"]: s for s in self.sessions() if s["sessionId"].startswith(prefix)}
        self.assertEqual(len(listed), 1000)
        self.assertTrue(all(s["ended"] and s["eventCount"] == 2 for s in listed.values()))
        self.assertEqual(types(self.events(prefix + "-999")), ["session.started", "session.ended"])
        self.settle_fds(baseline, "after 1000 sessions")
        self.assertEqual(self.s.children(), [])
        self.assertTrue(self.s.health_ok())


# ====================================================================== queueing

class TestQueuedMessages(SessionCase):
    """A message posted while a turn runs is queued and runs after it."""

    server_env = paced(50)

    def assertTurns(self, evs, specs):
        """evs (after session.started) = consecutive turns; specs: list of
        (message number, native suffix or None, ends_with_turn_ended)."""
        i = 0
        for n, suffix, closed in specs:
            self.assertTurnStarted(evs[i])
            j = i + 1
            while j < len(evs) and evs[j]["type"] != "turn.started":
                j += 1
            turn = evs[i:j]
            for nid in native_ids(turn):
                self.assertTrue(nid.startswith("mock_%d_" % n), "turn %d has %s:\n%s"
                                % (n, nid, describe(evs)))
            if closed:
                self.assertTurnEnded(turn[-1])
                self.assertEqual(len(of_type(turn, "turn.ended")), 1, describe(turn))
            else:
                self.assertEqual(of_type(turn, "turn.ended"), [], describe(turn))
            if suffix:
                self.assertIn("mock_%d_%s" % (n, suffix), native_ids(turn))
            i = j
        self.assertEqual(i, len(evs), describe(evs))

    def test_two_messages_back_to_back(self):
        sid = self.create()
        self.send(sid, FIRST_PROMPT)
        self.send(sid, SECOND_PROMPT)
        evs = self.wait_count(sid, "turn.ended", 2)
        self.assertContiguous(evs, 1, sid)
        self.assertEqual(types(evs), ["session.started"] + [
            "turn.started", "item.started", "item.completed", "item.started", "item.delta",
            "item.completed", "turn.ended"] * 2, describe(evs))
        self.assertTurns(evs[1:], [(1, "first", True), (2, "second", True)])
        self.assertEqual([item_of(evs[k])["item_id"] for k in (2, 4, 9, 11)],
                         ["itm_1", "itm_2", "itm_3", "itm_4"])
        self.assertEqual(len(of_type(evs, "turn.started")), 2)

    def test_five_queued_in_order(self):
        sid = self.create()
        words = ["alpha", "beta", "gamma", "delta", "epsilon"]
        for w in words:
            self.send(sid, "echo " + w)
        evs = self.wait_count(sid, "turn.ended", 5, timeout=10)
        self.assertTurns(evs[1:], [(n, "echo", True) for n in range(1, 6)])
        replies = [item_of(e)["content"][0]["text"] for e in evs
                   if e["type"] == "item.completed" and item_of(e)["role"] == "assistant"]
        self.assertEqual(replies, words)

    def test_turn_stream_for_queued_message_carries_only_its_turn(self):
        sid = self.create()
        self.send(sid, OK_PROMPT)
        self.send(sid, "echo two")
        with self.s.sse("/v1/sessions/%s/messages/stream" % sid, method="POST",
                        body={"message": "echo three"}) as st:
            self.assertEqual(st.status, 200, st.body)
            got = [e.data for e in st.events()]
        self.assertEqual(types(got), ["turn.started", "item.started", "item.completed",
                                      "item.started", "item.delta", "item.completed", "turn.ended"],
                         describe(got))
        for nid in native_ids(got):
            self.assertTrue(nid.startswith("mock_3_"), describe(got))
        stored = self.events(sid)
        self.assertEqual(got, stored[-7:])
        self.assertTurns(stored[1:], [(1, "ok", True), (2, "echo", True), (3, "echo", True)])

    def test_turn_ending_at_permission_does_not_block_queue(self):
        sid = self.create(permissionMode="plan")
        self.send(sid, LS_PROMPT)
        self.send(sid, OK_PROMPT)
        evs = self.wait_count(sid, "turn.ended", 1)
        self.assertTurns(evs[1:], [(1, None, False), (2, "ok", True)])
        self.assertEqual(types(evs[1:5]), ["turn.started", "item.started", "item.completed",
                                           "permission.requested"])

    def test_empty_message_queued(self):
        sid = self.create()
        self.send(sid, OK_PROMPT)
        self.send(sid, "  ")
        self.send(sid, "echo after")
        evs = self.wait_count(sid, "turn.ended", 2)
        self.assertTurns(evs[1:], [(1, "ok", True), (2, None, False), (3, "echo", True)])

    def test_sse_reader_sees_queued_turns_in_order(self):
        sid = self.create()
        with self.s.sse("/v1/sessions/%s/events/sse" % sid) as st:
            self.assertEqual(st.status, 200)
            self.send(sid, FIRST_PROMPT)
            self.send(sid, SECOND_PROMPT)
            got = st.take(15)
        self.assertContiguous(got, 1, sid)
        self.assertTurns(got[1:], [(1, "first", True), (2, "second", True)])
