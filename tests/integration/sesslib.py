"""sesslib.py - helpers shared by the session, event, HITL and concurrency
integration tests (test_sessions.py, test_events.py, test_hitl.py,
test_concurrency.py): a ServerTestCase with session/event helpers, exact
problem checks, event envelope checks, and a non-blocking incremental
HTTP + SSE reader for tests that hold many streams at once.
Python 3 standard library only; builds on harness.py.

Waiting is always "poll with a deadline" (scaled for sanitizer builds);
the only fixed sleeps are a few pacing intervals where a test must show
that something does NOT happen."""

import json
import re
import selectors
import socket
import time
import urllib.parse

from harness import ServerTestCase, scaled, unique_id

# Mock pacing: 0 for speed, a small value where a test needs a turn to be
# still running when it acts.
NO_DELAY = {"SANDBOX_AGENT_MOCK_DELAY_MS": "0"}


def paced(ms):
    return {"SANDBOX_AGENT_MOCK_DELAY_MS": str(ms)}


# canned prompts of spec 9.2
OK_PROMPT = "Reply with exactly the single word OK."
FIRST_PROMPT = "Reply with exactly the word FIRST."
SECOND_PROMPT = "Reply with exactly the word SECOND."
REASONING_PROMPT = "Answer briefly and include your reasoning."
STATUS_PROMPT = "Provide a short status update."
LS_PROMPT = "List files in the current directory using available tools."
BASH_PROMPT = "Use the bash tool to run `ls` in the current directory. Do not answer without using the tool."
ASK_PROMPT = ("Use the AskUserQuestion tool to ask exactly one yes/no question, then wait for a reply. "
              "Do not answer yourself.")
ASK_PROMPT2 = ("Call the AskUserQuestion tool with exactly one yes/no question and wait for a reply. "
               "Do not answer yourself.")

# events that end a /messages/stream response (spec 4.9)
TERMINAL = frozenset(("turn.ended", "session.ended", "error", "agent.unparsed",
                      "permission.requested", "question.requested"))

EVENT_KEYS = {"event_id", "sequence", "time", "session_id", "native_session_id", "synthetic",
              "source", "type", "data", "raw"}

EVENT_TYPES = {"session.started", "session.ended", "turn.started", "turn.ended", "item.started",
               "item.delta", "item.completed", "error", "permission.requested",
               "permission.resolved", "question.requested", "question.resolved", "agent.unparsed"}

SESSION_INFO_KEYS = {"sessionId", "agent", "agentMode", "permissionMode", "model", "variant",
                     "nativeSessionId", "ended", "eventCount", "createdAt", "updatedAt",
                     "directory", "title"}

TITLES = {
    "invalid_request": "Invalid Request",
    "unsupported_agent": "Unsupported Agent",
    "agent_not_installed": "Agent Not Installed",
    "install_failed": "Install Failed",
    "agent_process_exited": "Agent Process Exited",
    "token_invalid": "Token Invalid",
    "session_not_found": "Session Not Found",
    "session_already_exists": "Session Already Exists",
    "mode_not_supported": "Mode Not Supported",
    "stream_error": "Stream Error",
}

STATUS = {"invalid_request": 400, "unsupported_agent": 400, "agent_not_installed": 404,
          "install_failed": 500, "agent_process_exited": 500, "token_invalid": 401,
          "session_not_found": 404, "session_already_exists": 409, "mode_not_supported": 400,
          "stream_error": 502}

TIME_RE = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d{1,9})?Z$")


def problem(kind, detail, **ext):
    """The exact problem object of spec 1.4 for kind."""
    out = {"type": "urn:sandbox-agent:error:" + kind, "title": TITLES[kind],
           "status": STATUS[kind], "detail": detail}
    out.update(ext)
    return out


def quote(sid):
    return urllib.parse.quote(sid, safe="")


def types(events):
    return [e["type"] for e in events]


def seqs(events):
    return [e["sequence"] for e in events]


def of_type(events, t):
    return [e for e in events if e["type"] == t]


def item_of(ev):
    return ev["data"]["item"]


def texts(item):
    return [p["text"] for p in item["content"] if p.get("type") == "text"]


def native_ids(events):
    """native_item_id of every item event (started/completed/delta), in order."""
    out = []
    for e in events:
        if e["type"] in ("item.started", "item.completed"):
            out.append(item_of(e)["native_item_id"])
        elif e["type"] == "item.delta":
            out.append(e["data"]["native_item_id"])
    return out


def describe(events):
    """A compact one-line-per-event view for assertion messages."""
    rows = []
    for e in events:
        d = e.get("data") or {}
        extra = ""
        if e["type"] in ("item.started", "item.completed"):
            it = d.get("item", {})
            extra = "%s %s %s %s" % (it.get("item_id"), it.get("native_item_id"), it.get("kind"),
                                     it.get("status"))
        elif e["type"] == "item.delta":
            extra = "%s %r" % (d.get("native_item_id"), d.get("delta", "")[:30])
        elif e["type"].startswith(("permission.", "question.")):
            extra = "%s %s" % (d.get("permission_id") or d.get("question_id"), d.get("status"))
        rows.append("%s %s %s" % (e.get("sequence"), e["type"], extra))
    return "\n".join(rows)


# ---------------------------------------------------------------- test base

class SessionCase(ServerTestCase):
    """A ServerTestCase (one server per class, mock pacing off unless
    the class says otherwise) with helpers for sessions and events."""

    server_env = NO_DELAY

    # -- requests

    def create(self, sid=None, expect=200, **fields):
        """Creates a mock session (fields override the body) and returns its id."""
        sid = sid or unique_id()
        body = {"agent": "mock"}
        body.update(fields)
        st, resp, h = self.s.json("POST", "/v1/sessions/" + quote(sid), body)
        self.assertEqual(st, expect, "create %s %r -> %d %r" % (sid, body, st, resp))
        if expect == 200:
            self.assertEqual(resp, {"healthy": True, "nativeSessionId": "mock-" + sid})
        return sid

    def send(self, sid, message, attachments=None):
        """POST .../messages; asserts 204 with an empty body."""
        body = {"message": message}
        if attachments is not None:
            body["attachments"] = attachments
        st, h, data = self.s.request("POST", "/v1/sessions/%s/messages" % quote(sid), body)
        self.assertEqual(st, 204, "message %r -> %d %r" % (message, st, data[:300]))
        self.assertEqual(data, b"")

    def post(self, path, obj=None):
        """POST with an optional JSON body; returns (status, parsed, headers)."""
        return self.s.json("POST", path, obj)

    def terminate(self, sid, expect=204):
        st, h, data = self.s.request("POST", "/v1/sessions/%s/terminate" % quote(sid))
        self.assertEqual(st, expect, data[:300])

    def page(self, sid, query=""):
        """GET .../events?query; asserts 200; returns (events, hasMore)."""
        path = "/v1/sessions/%s/events" % quote(sid)
        if query:
            path += "?" + query
        st, body, h = self.s.json("GET", path)
        self.assertEqual(st, 200, body)
        self.assertEqual(set(body), {"events", "hasMore"}, body)
        return body["events"], body["hasMore"]

    def events(self, sid, offset=0, include_raw=False):
        """Every stored event after offset (paging with limit=200 like the
        reference tests)."""
        out = []
        while True:
            q = "offset=%d&limit=200" % offset
            if include_raw:
                q += "&include_raw=true"
            evs, more = self.page(sid, q)
            out.extend(evs)
            if evs:
                offset = evs[-1]["sequence"]
            if not more:
                return out

    def wait_events(self, sid, pred, timeout=5, offset=0, what="condition", include_raw=False):
        """Polls the events after offset until pred(events) is true; returns them."""
        deadline = time.monotonic() + scaled(timeout)
        while True:
            evs = self.events(sid, offset, include_raw)
            if pred(evs):
                return evs
            if time.monotonic() > deadline:
                self.fail("timed out after %.1fs waiting for %s; events after %d:\n%s"
                          % (scaled(timeout), what, offset, describe(evs)))
            time.sleep(0.01)

    def wait_count(self, sid, etype, n=1, offset=0, timeout=5, include_raw=False):
        """Waits until at least n events of etype exist after offset."""
        return self.wait_events(sid, lambda evs: len(of_type(evs, etype)) >= n, timeout, offset,
                                "%d x %s" % (n, etype), include_raw)

    def last_seq(self, sid):
        evs = self.events(sid)
        return evs[-1]["sequence"] if evs else 0

    def run_turn(self, sid, message, until="turn.ended", n=1, timeout=5):
        """Sends message and returns the events recorded after the ones
        that existed before, once n events of type `until` are there."""
        before = self.last_seq(sid)
        self.send(sid, message)
        return self.wait_count(sid, until, n, before, timeout)

    def barrier(self, sid, since=None, timeout=5):
        """Sends an echo message and waits for its turn to end. Messages run
        one turn at a time, in order, so every earlier turn has finished
        emitting by then. The barrier turn must be exactly turn.started,
        user item, echo reply, turn.ended. Returns the events recorded
        before the barrier turn, after sequence `since` (default: the last
        sequence at the call)."""
        before = self.last_seq(sid) if since is None else since
        tag = "barrier-" + unique_id("b")

        def split(evs):
            for i, e in enumerate(evs):
                if e["type"] == "item.started" and texts(item_of(e)) == ["echo " + tag]:
                    return evs[:i - 1], evs[i - 1:]
            return None

        def done(evs):
            sp = split(evs)
            return sp is not None and bool(of_type(sp[1], "turn.ended"))

        self.send(sid, "echo " + tag)
        prior, turn = split(self.wait_events(sid, done, timeout, before, "barrier turn"))
        self.assertEqual(types(turn), ["turn.started", "item.started", "item.completed",
                                       "item.started", "item.delta", "item.completed",
                                       "turn.ended"], describe(turn))
        self.assertEqual(texts(item_of(turn[5])), [tag])
        return prior

    def sessions(self):
        st, body, h = self.s.json("GET", "/v1/sessions")
        self.assertEqual(st, 200, body)
        self.assertEqual(set(body), {"sessions"})
        return body["sessions"]

    def info(self, sid):
        for s in self.sessions():
            if s["sessionId"] == sid:
                return s
        self.fail("session %s not listed" % sid)

    # -- assertions

    def assertProblemExact(self, got, kind, detail, **ext):
        """got = (status, body, headers) from Server.json: exactly the
        problem object of spec 1.4."""
        st, body, h = got
        self.assertEqual((st, body), (STATUS[kind], problem(kind, detail, **ext)))
        self.assertTrue(h.get("content-type", "").startswith("application/json") or
                        h.get("content-type", "").startswith("application/problem+json"), h)

    def assertEnvelope(self, ev, sid, raw_allowed=False):
        """The UniversalEvent envelope of spec 3.4 and our sequence rules."""
        self.assertEqual(set(ev), EVENT_KEYS, ev)
        self.assertIsInstance(ev["sequence"], int)
        self.assertEqual(ev["event_id"], "evt_%d" % ev["sequence"], ev)
        self.assertRegex(ev["time"], TIME_RE)
        self.assertEqual(ev["session_id"], sid)
        self.assertEqual(ev["native_session_id"], "mock-" + sid)
        self.assertIn(ev["type"], EVENT_TYPES)
        self.assertIsInstance(ev["synthetic"], bool)
        self.assertEqual(ev["source"], "daemon" if ev["synthetic"] else "agent", ev)
        self.assertIsInstance(ev["data"], dict)
        if not raw_allowed:
            self.assertIsNone(ev["raw"], ev)

    def assertContiguous(self, events, first=1, sid=None):
        """Sequences first, first+1, ... with no gap or duplicate."""
        self.assertEqual(seqs(events), list(range(first, first + len(events))), describe(events))
        if sid is not None:
            for e in events:
                self.assertEnvelope(e, sid, raw_allowed=True)

    def assertItem(self, ev, etype, item_id, native, kind, role, content, status,
                   synthetic=False):
        """An item.started / item.completed event with exactly this item."""
        self.assertEqual(ev["type"], etype, ev)
        self.assertEqual(ev["synthetic"], synthetic, ev)
        want = {"item_id": item_id, "native_item_id": native, "parent_id": None, "kind": kind,
                "role": role, "content": content, "status": status}
        if item_id is None:
            want["item_id"] = ev["data"]["item"].get("item_id")
            self.assertRegex(want["item_id"], r"^itm_\d+$")
        self.assertEqual(ev["data"], {"item": want})

    def assertDelta(self, ev, item_id, native, delta, synthetic):
        self.assertEqual(ev["type"], "item.delta", ev)
        self.assertEqual(ev["synthetic"], synthetic, ev)
        if item_id is None:
            item_id = ev["data"].get("item_id")
            self.assertRegex(item_id, r"^itm_\d+$")
        self.assertEqual(ev["data"], {"item_id": item_id, "native_item_id": native, "delta": delta})

    def assertMessage(self, evs, native, text_or_content, kind="message", role="assistant",
                      item_id=None):
        """evs[0:3] = started, synthetic full-text delta, completed of a
        one-text-part message (spec 6.1 C). Returns the item id."""
        content = ([{"type": "text", "text": text_or_content}]
                   if isinstance(text_or_content, str) else text_or_content)
        self.assertEqual(types(evs[:3]), ["item.started", "item.delta", "item.completed"],
                         describe(evs))
        self.assertItem(evs[0], "item.started", item_id, native, kind, role, content, "in_progress")
        iid = item_of(evs[0])["item_id"]
        joined = "\n".join(p["text"] for p in content if p["type"] == "text")
        self.assertDelta(evs[1], iid, native, joined, True)
        self.assertItem(evs[2], "item.completed", iid, native, kind, role, content, "completed")
        return iid

    def assertUserItem(self, evs, n, text, item_id=None):
        """evs[0:2] = the mock's user item for message n (no delta)."""
        content = [{"type": "text", "text": text}]
        self.assertItem(evs[0], "item.started", item_id, "mock_%d_user" % n, "message", "user",
                        content, "in_progress")
        iid = item_of(evs[0])["item_id"]
        self.assertItem(evs[1], "item.completed", iid, "mock_%d_user" % n, "message", "user",
                        content, "completed")
        return iid

    def assertTurnStarted(self, ev):
        self.assertEqual((ev["type"], ev["synthetic"], ev["data"]),
                         ("turn.started", True, {"phase": "started"}), ev)

    def assertTurnEnded(self, ev):
        self.assertEqual((ev["type"], ev["synthetic"], ev["data"]),
                         ("turn.ended", True, {"phase": "ended"}), ev)


# ---------------------------------------------------------------- streams

class StreamReader:
    """Incremental reader of one HTTP/1.1 response carrying SSE: feed()
    raw socket bytes; parses the head, de-chunks the body and splits it
    into SSE frames. frames: list of (id or None, data str); events:
    parsed JSON of each frame's data; comments: keep-alive comment count;
    done: the response body ended (terminating chunk or EOF)."""

    def __init__(self):
        self.head_buf = b""
        self.status = None
        self.headers = {}
        self.chunked = False
        self._cbuf = b""      # undecoded body bytes
        self._left = None     # bytes left in the current chunk, None = need size line
        self._text = b""      # decoded body not yet split into lines
        self._data, self._id = [], None
        self.frames = []
        self.events = []
        self.comments = 0
        self.body = b""       # whole decoded body (non-200 answers)
        self.done = False
        self.bad_lines = []

    def feed(self, data):
        if self.status is None:
            self.head_buf += data
            i = self.head_buf.find(b"\r\n\r\n")
            if i < 0:
                return
            head, data = self.head_buf[:i], self.head_buf[i + 4:]
            lines = head.decode("latin-1").split("\r\n")
            self.status = int(lines[0].split(" ")[1])
            for ln in lines[1:]:
                k, _, v = ln.partition(":")
                self.headers[k.strip().lower()] = v.strip()
            self.chunked = "chunked" in self.headers.get("transfer-encoding", "").lower()
        if not self.chunked:
            self._body(data)
            return
        self._cbuf += data
        while not self.done:
            if self._left is None:
                i = self._cbuf.find(b"\r\n")
                if i < 0:
                    return
                size = int(self._cbuf[:i].split(b";")[0], 16)
                self._cbuf = self._cbuf[i + 2:]
                if size == 0:
                    self.done = True
                    return
                self._left = size
            n = min(self._left, len(self._cbuf))
            if n:
                self._body(self._cbuf[:n])
                self._cbuf = self._cbuf[n:]
                self._left -= n
            if self._left:
                return
            if len(self._cbuf) < 2:
                return
            if self._cbuf[:2] != b"\r\n":
                raise AssertionError("bad chunk trailer %r" % self._cbuf[:20])
            self._cbuf = self._cbuf[2:]
            self._left = None

    def eof(self):
        self.done = True

    def _body(self, data):
        if self.status != 200:
            self.body += data
            return
        self._text += data
        while True:
            i = self._text.find(b"\n")
            if i < 0:
                return
            line, self._text = self._text[:i].decode("utf-8"), self._text[i + 1:]
            if line.endswith("\r"):
                line = line[:-1]
            if line == "":
                if self._data:
                    raw = "\n".join(self._data)
                    self.frames.append((self._id, raw))
                    self.events.append(json.loads(raw))
                self._data, self._id = [], None
            elif line.startswith(":"):
                self.comments += 1
            elif line.startswith("data:"):
                self._data.append(line[5:])
            elif line.startswith("id:"):
                self._id = line[3:]
            else:
                self.bad_lines.append(line)


def sse_request(path, host="127.0.0.1", headers=None, method="GET", body=None):
    """Request bytes for an SSE endpoint."""
    lines = ["%s %s HTTP/1.1" % (method, path), "Host: %s" % host, "Accept: text/event-stream"]
    for k, v in (headers or {}).items():
        lines.append("%s: %s" % (k, v))
    data = b""
    if body is not None:
        data = json.dumps(body).encode()
        lines.append("Content-Type: application/json")
        lines.append("Content-Length: %d" % len(data))
    return ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1") + data


class StreamClient:
    """One raw socket carrying an SSE request and its StreamReader.
    rcvbuf: SO_RCVBUF set before connecting (small = a slow consumer)."""

    def __init__(self, port, path, headers=None, rcvbuf=None, method="GET", body=None):
        self.path = path
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        if rcvbuf:
            self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, rcvbuf)
        self.sock.settimeout(scaled(10))
        self.sock.connect(("127.0.0.1", port))
        self.sock.sendall(sse_request(path, headers=headers, method=method, body=body))
        self.sock.setblocking(False)
        self.reader = StreamReader()
        self.closed = False

    def pump(self):
        """Reads whatever is available without blocking. False at EOF."""
        while True:
            try:
                data = self.sock.recv(262144)
            except (BlockingIOError, InterruptedError):
                return True
            except ConnectionResetError:
                data = b""
            if not data:
                self.closed = True
                self.reader.eof()
                return False
            self.reader.feed(data)

    def close(self):
        try:
            self.sock.close()
        except OSError:
            pass


def pump_until(clients, pred, timeout, what="streams"):
    """Reads all clients (non-blocking, via a selector) until pred() is
    true; fails with AssertionError after timeout (scaled) seconds."""
    sel = selectors.DefaultSelector()
    for c in clients:
        if not c.closed:
            sel.register(c.sock, selectors.EVENT_READ, c)
    deadline = time.monotonic() + scaled(timeout)
    try:
        while not pred():
            left = deadline - time.monotonic()
            if left <= 0:
                raise AssertionError("timed out after %.1fs waiting for %s" % (scaled(timeout), what))
            for key, _ in sel.select(min(left, 0.5)):
                c = key.data
                if not c.pump():
                    sel.unregister(c.sock)
    finally:
        sel.close()
