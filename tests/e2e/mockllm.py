"""mockllm.py - a scriptable mock model server for the end-to-end tests.

One HTTP server on 127.0.0.1 that speaks the three wire protocols the agent
CLIs use, so that a real agent can run a whole turn without any network:

  POST .../v1/messages[?beta=true]        Anthropic Messages (Claude Code)
  POST .../v1/messages/count_tokens       Anthropic token counting
  POST .../v1/responses                   OpenAI Responses (Codex)
  POST .../v1/chat/completions            OpenAI Chat Completions (OpenCode)
  GET  .../v1/models                      model list (Anthropic and OpenAI shape)
  POST /api/...                           Amp stubs (the Amp CLI cannot run a
                                          turn offline; these only let its
                                          error paths be tested)

Routes are matched on the end of the path, so a base URL with a prefix
(http://127.0.0.1:PORT/some/prefix) works too. Streaming answers are
Server-Sent Events in chunked transfer encoding, framed the way each API
frames them; non-streaming requests ("stream": false) get one JSON body.
Python 3 standard library only.

In-process use
--------------
    from mockllm import MockLLM
    mock = MockLLM().start()          # port 0: the kernel picks a free port
    mock.url                          # "http://127.0.0.1:PORT"
    mock.push({"text": "Hello there", "chunks": 3})
    mock.push({"tool": "Bash", "input": {"command": "echo hi"}})
    ...run an agent with its base URL set to mock.url...
    req = mock.main_requests()[-1]    # what the agent sent
    req.tool_results()                # [{"id":..., "content":..., "is_error":...}]
    mock.stop()

Turns (what the NEXT main model request gets)
---------------------------------------------
A turn is a dict (JSON-compatible, so a script file can hold the same).
Content keys, combined freely; blocks are emitted in this order:
  "thinking": str          thinking / reasoning text (Anthropic thinking
                           block with a signature_delta; Responses reasoning
                           summary; Chat reasoning_content)
  "text": str              assistant text
  "chunks": int            split text and thinking into this many deltas
                           (default 2)
  "deltas": [str]          explicit text deltas (overrides text/chunks)
  "tool": name, "input": {...} or JSON str, "id": str (optional),
  "namespace": str         one tool call (Responses: a function_call; with
                           "namespace" the item carries it, as Codex uses for
                           MCP tools)
  "tools": [{"name", "input", "id"?, "namespace"?, "custom"?}]
                           several tool calls in one message
  "custom_tool": name, "raw": str
                           a Responses custom_tool_call (Codex apply_patch,
                           code-mode exec); other APIs get a plain tool call
                           with input {"input": raw}
  "blocks": [...]          full control: a list of {"type": "text"|"thinking"|
                           "tool", ...} in the order given
  "stop_reason": str       override (Anthropic stop_reason / Chat
                           finish_reason)
  "usage": {"input_tokens": n, "output_tokens": n}
Errors:
  "error": status          answer with this HTTP status and the API's error
                           JSON; "message", "etype" (error type) and "body"
                           (dict or str: the whole body) customise it;
                           "headers": {...} extra response headers
                           (e.g. {"retry-after": "0"})
Timing and failures:
  "delay": secs            wait before the response headers
  "chunk_delay": secs      wait between streamed deltas
  "stall": secs            after the first delta, wait this long (-1: until
                           release() or stop())
  "hangup": "before"|"mid" close the connection without any response, or
                           after the first delta without ending the stream
Selection:
  "times": n               serve this turn to n requests, then drop it (an
                           error repeated for an agent's retries)
  "match": str             only a request whose last user text contains
                           this substring takes the turn
  "when": callable(Request) -> bool   (in-process only) custom predicate

A request takes the first queued turn whose selectors accept it (turns
without selectors accept every request), so matched and unmatched turns can
be mixed. Persistent rules added with mock.rule(substring, turn) are
checked first and never consumed. With no acceptable turn, the default
reply is served (text "OK"; MockLLM(default=...) changes it).

Side requests
-------------
Agents make requests of their own besides the conversation: OpenCode asks
the model for a session title (system prompt "You are a title
generator..."), Claude Code can ask for a conversation title / topic or a
one-token quota probe, and Claude Code counts tokens. These never consume a
scripted turn. classify() decides; a request is a side request when:
  * its path ends in /count_tokens (answered {"input_tokens": n});
  * it offers no tools and its system prompt matches one of SIDE_PROMPTS
    (title, topic, summary generators); answered with text "Mock title";
  * it offers no tools and asks for max_tokens <= 1 (quota probe),
    answered "OK".
Every other model request is a main request. A test can override this with
MockLLM(classify=func) where func(Request) returns a side kind or None.

Recording
---------
Every request (side, main, unknown route, admin excluded) is recorded as a
Request: .seq .method .path .query .headers (lowercase names) .body (parsed
JSON or None) .raw .api ("anthropic"|"responses"|"chat"|"count_tokens"|
"models"|"amp"|"unknown") .side (kind or None) .turn (the turn served) and
helpers .model .stream .tools() .last_user_text() .user_texts()
.tool_results() .images() .system_text(). mock.requests() lists them;
mock.main_requests() only the main ones; mock.wait_requests(n) blocks.

Standalone use
--------------
    python3 mockllm.py --port 0 [--script turns.json] [--log requests.jsonl]

prints "mockllm listening on http://127.0.0.1:PORT" and serves until killed.
The script file is a list of turns or {"turns": [...], "rules":
[{"match": str, "turn": {...}}], "default": {...}}. Admin routes for
scripting from another process: POST /_mock/turns (a turn or a list),
POST /_mock/reset, POST /_mock/release, GET /_mock/requests.
"""

import argparse
import base64
import gzip
import http.server
import json
import socket
import sys
import threading
import time
import urllib.parse
import zlib

DEFAULT_REPLY = {"text": "OK"}
SIDE_TITLE_TEXT = "Mock title"
SIGNATURE = base64.b64encode(b"mock-signature").decode()

# Lowercased substrings of a system prompt that mark a side request (only
# consulted for requests that offer no tools).
SIDE_PROMPTS = (
    ("title", "title generator"),
    ("title", "generate a title"),
    ("title", "generate a concise"),
    ("title", "session title"),
    ("title", "write a 5-10 word title"),
    ("topic", "new conversation topic"),
    ("summary", "summarize this coding conversation"),
    ("summary", "summary of the conversation"),
)

ANTHROPIC_ERROR_TYPES = {
    400: "invalid_request_error", 401: "authentication_error",
    403: "permission_error", 404: "not_found_error",
    413: "request_too_large", 429: "rate_limit_error",
    500: "api_error", 503: "api_error", 529: "overloaded_error",
}
OPENAI_ERROR_TYPES = {
    400: "invalid_request_error", 401: "invalid_request_error",
    403: "permission_denied", 404: "not_found", 429: "rate_limit_exceeded",
    500: "server_error", 503: "server_error", 529: "server_error",
}
MODELS = ("claude-opus-4-8", "claude-sonnet-4-6", "claude-haiku-4-5",
          "gpt-5.5", "mock-model")

MAX_BODY = 64 * 1024 * 1024  # agents send whole histories, images included


# ---------------------------------------------------------------- requests

class Request:
    """One request as received by the mock."""

    def __init__(self, seq, method, path, query, headers, raw):
        self.seq = seq
        self.time = time.time()
        self.method = method
        self.path = path
        self.query = query
        self.headers = headers
        self.raw = raw
        self.body = None
        if raw:
            try:
                self.body = json.loads(raw.decode("utf-8"))
            except (ValueError, UnicodeDecodeError):
                self.body = None
        self.api = api_of(method, path)
        self.side = None
        self.turn = None
        self.status = None

    # -- simple fields
    @property
    def model(self):
        return self.body.get("model") if isinstance(self.body, dict) else None

    @property
    def stream(self):
        return bool(isinstance(self.body, dict) and self.body.get("stream"))

    def tools(self):
        """Names of the tools offered to the model (all APIs)."""
        if not isinstance(self.body, dict):
            return []
        out = []
        for t in self.body.get("tools") or []:
            if not isinstance(t, dict):
                continue
            if isinstance(t.get("function"), dict):  # chat completions
                out.append(t["function"].get("name"))
            elif t.get("name"):
                out.append(t["name"])
            elif t.get("type"):
                out.append(t["type"])
        return out

    def system_text(self):
        """The system prompt as one string (Anthropic system, Responses
        instructions, Chat system/developer messages)."""
        b = self.body if isinstance(self.body, dict) else {}
        parts = []
        if self.api == "responses":
            if isinstance(b.get("instructions"), str):
                parts.append(b["instructions"])
            for it in b.get("input") or []:
                if isinstance(it, dict) and it.get("role") in ("system", "developer"):
                    parts.append(_text_of(it.get("content")))
        else:
            s = b.get("system")
            if s is not None:
                parts.append(_text_of(s))
            for m in b.get("messages") or []:
                if isinstance(m, dict) and m.get("role") in ("system", "developer"):
                    parts.append(_text_of(m.get("content")))
        return "\n".join(p for p in parts if p)

    def _messages(self):
        """[(role, content)] in order, for every API. Non-message items
        (Responses function_call_output, ...) and Chat tool messages come
        as (type or "tool", the whole item)."""
        b = self.body if isinstance(self.body, dict) else {}
        out = []
        if self.api == "responses":
            inp = b.get("input")
            if isinstance(inp, str):
                return [("user", inp)]
            for it in inp or []:
                if not isinstance(it, dict):
                    continue
                t = it.get("type", "message")
                if t == "message":
                    out.append((it.get("role"), it.get("content")))
                else:
                    out.append((t, it))
            return out
        for m in b.get("messages") or []:
            if isinstance(m, dict):
                # a chat tool message is kept whole: its id is beside the content
                out.append((m.get("role"), m if m.get("role") == "tool" else m.get("content")))
        return out

    def user_texts(self):
        """Texts of every user message that carries text (tool results
        excluded), oldest first."""
        out = []
        for role, content in self._messages():
            if role != "user":
                continue
            t = _text_of(content, user_only=True)
            if t:
                out.append(t)
        return out

    def last_user_text(self):
        """Text of the most recent user message that carries text; "" if
        none. Used by the "match" selector."""
        texts = self.user_texts()
        return texts[-1] if texts else ""

    def after_tool_result(self):
        """True if the newest history entry is a tool result (the request
        continues a turn after a tool ran)."""
        msgs = self._messages()
        if not msgs:
            return False
        role, content = msgs[-1]
        if role in ("tool", "function_call_output", "custom_tool_call_output"):
            return True
        if role == "user" and isinstance(content, list):
            return any(isinstance(c, dict) and c.get("type") == "tool_result" for c in content)
        return False

    def tool_results(self):
        """Every tool result in the history: [{"id", "content", "is_error"}]
        with content flattened to text."""
        out = []
        for role, content in self._messages():
            if role == "user" and isinstance(content, list):
                for c in content:
                    if isinstance(c, dict) and c.get("type") == "tool_result":
                        out.append({"id": c.get("tool_use_id"),
                                    "content": _text_of(c.get("content")),
                                    "is_error": bool(c.get("is_error"))})
            elif role == "tool":  # chat completions
                out.append({"id": content.get("tool_call_id"),
                             "content": _text_of(content.get("content")), "is_error": False})
            elif role in ("function_call_output", "custom_tool_call_output"):
                out.append({"id": content.get("call_id"),
                            "content": _text_of(content.get("output")),
                            "is_error": False})
        return out

    def tool_calls(self):
        """Tool calls made by the assistant earlier in the history:
        [{"id", "name", "input"}] (input as sent: dict or JSON text)."""
        out = []
        b = self.body if isinstance(self.body, dict) else {}
        if self.api == "responses":
            for it in b.get("input") or []:
                if isinstance(it, dict) and it.get("type") in ("function_call", "custom_tool_call"):
                    out.append({"id": it.get("call_id"), "name": it.get("name"),
                                "input": it.get("arguments", it.get("input"))})
            return out
        for m in b.get("messages") or []:
            if not isinstance(m, dict) or m.get("role") != "assistant":
                continue
            for tc in m.get("tool_calls") or []:
                f = tc.get("function") or {}
                out.append({"id": tc.get("id"), "name": f.get("name"),
                            "input": f.get("arguments")})
            if isinstance(m.get("content"), list):
                for c in m["content"]:
                    if isinstance(c, dict) and c.get("type") == "tool_use":
                        out.append({"id": c.get("id"), "name": c.get("name"),
                                    "input": c.get("input")})
        return out

    def images(self):
        """Image parts anywhere in the history, as the API carries them
        (Anthropic image blocks, Responses input_image, Chat image_url)."""
        out = []

        def walk(x):
            if isinstance(x, dict):
                if x.get("type") in ("image", "input_image", "image_url"):
                    out.append(x)
                    return
                for v in x.values():
                    walk(v)
            elif isinstance(x, list):
                for v in x:
                    walk(v)
        if isinstance(self.body, dict):
            walk(self.body.get("messages"))
            walk(self.body.get("input"))
        return out

    def to_json(self):
        """A JSON-able summary (the log format)."""
        return {"seq": self.seq, "time": self.time, "method": self.method,
                "path": self.path, "query": self.query, "headers": self.headers,
                "api": self.api, "side": self.side, "status": self.status,
                "turn": _jsonable(self.turn),
                "body": self.body if self.body is not None else
                self.raw.decode("utf-8", "replace")}

    def __repr__(self):
        return "<Request #%d %s %s api=%s side=%s model=%s last_user=%r>" % (
            self.seq, self.method, self.path, self.api, self.side, self.model,
            self.last_user_text()[:60])


def _text_of(content, user_only=False):
    """Flattens message content (str, list of parts, dict) to text. With
    user_only, tool_result parts are skipped."""
    if content is None:
        return ""
    if isinstance(content, str):
        return content
    if isinstance(content, dict):
        if content.get("type") in ("text", "input_text", "output_text", "summary_text"):
            return content.get("text") or ""
        if "text" in content and isinstance(content["text"], str):
            return content["text"]
        if "content" in content:
            return _text_of(content["content"], user_only)
        return ""
    if isinstance(content, list):
        parts = []
        for c in content:
            if user_only and isinstance(c, dict) and c.get("type") in ("tool_result",):
                continue
            t = _text_of(c, user_only)
            if t:
                parts.append(t)
        return "\n".join(parts)
    return ""


def _jsonable(turn):
    if turn is None:
        return None
    return {k: v for k, v in turn.items() if not callable(v)}


def api_of(method, path):
    p = path.rstrip("/")
    if method == "POST":
        if p.endswith("/messages/count_tokens"):
            return "count_tokens"
        if p.endswith("/messages"):
            return "anthropic"
        if p.endswith("/responses"):
            return "responses"
        if p.endswith("/chat/completions"):
            return "chat"
    if method == "GET" and p.endswith("/models"):
        return "models"
    if p.startswith("/api/") or p == "/api":
        return "amp"
    return "unknown"


def classify(req):
    """Default side-request detector; returns a kind ("count_tokens",
    "title", "topic", "summary", "quota") or None for a main request."""
    if req.api == "count_tokens":
        return "count_tokens"
    if req.api not in ("anthropic", "responses", "chat"):
        return None
    if req.tools():
        return None
    b = req.body if isinstance(req.body, dict) else {}
    sys_text = req.system_text().lower()
    for kind, needle in SIDE_PROMPTS:
        if needle in sys_text:
            return kind
    mt = b.get("max_tokens", b.get("max_output_tokens"))
    if isinstance(mt, int) and mt <= 1:
        return "quota"
    return None


def _schema_value(schema, name=""):
    """A small value that satisfies a simple JSON schema (strings get the
    mock title text)."""
    if not isinstance(schema, dict):
        return SIDE_TITLE_TEXT
    t = schema.get("type")
    if isinstance(t, list):
        t = next((x for x in t if x != "null"), "null")
    if "enum" in schema and schema["enum"]:
        return schema["enum"][0]
    if t == "object":
        props = schema.get("properties") or {}
        return {k: _schema_value(v, k) for k, v in props.items()}
    if t == "array":
        return []
    if t == "boolean":
        return False
    if t in ("integer", "number"):
        return 0
    if t == "null":
        return None
    return SIDE_TITLE_TEXT


def side_text(req):
    """The answer text for a side request: JSON matching the requested
    output schema if the request asks for structured output, else
    "Mock title" for title/topic/summary requests and "OK" otherwise."""
    b = req.body if isinstance(req.body, dict) else {}
    schema = None
    fmt = (b.get("output_config") or {}).get("format") or {}          # Anthropic
    if fmt.get("type") == "json_schema":
        schema = fmt.get("schema")
    fmt = (b.get("text") or {}).get("format") if isinstance(b.get("text"), dict) else None
    if isinstance(fmt, dict) and fmt.get("type") == "json_schema":   # Responses
        schema = fmt.get("schema")
    rf = b.get("response_format") or {}                                # Chat
    if isinstance(rf, dict) and rf.get("type") == "json_schema":
        schema = (rf.get("json_schema") or {}).get("schema")
    if schema is not None:
        return json.dumps(_schema_value(schema))
    if req.side in ("title", "topic", "summary"):
        return SIDE_TITLE_TEXT
    return "OK"


# ---------------------------------------------------------------- turns

def _split(text, n):
    """Splits text into n non-empty pieces of similar size (fewer if the
    text is short)."""
    if not text:
        return [text] if text == "" else []
    n = max(1, min(int(n), len(text)))
    size, rest = divmod(len(text), n)
    out, i = [], 0
    for k in range(n):
        j = i + size + (1 if k < rest else 0)
        out.append(text[i:j])
        i = j
    return out


class _Ids:
    """Deterministic ids: msg_mock_1, toolu_mock_2, ..."""

    def __init__(self):
        self.n = 0
        self.lock = threading.Lock()

    def __call__(self, prefix):
        with self.lock:
            self.n += 1
            return "%s_mock_%d" % (prefix, self.n)


def blocks_of(turn, ids, api):
    """The content blocks of a turn, normalised:
    [{"type": "thinking"|"text", "deltas": [...]} |
     {"type": "tool", "name", "args" (JSON text), "input" (dict or None),
      "id", "namespace", "custom", "raw"}]."""
    chunks = turn.get("chunks", 2)
    out = []
    if "blocks" in turn:
        src = list(turn["blocks"])
    else:
        src = []
        if turn.get("thinking") is not None:
            src.append({"type": "thinking", "text": turn["thinking"]})
        if "deltas" in turn:
            src.append({"type": "text", "deltas": turn["deltas"]})
        elif turn.get("text") is not None:
            src.append({"type": "text", "text": turn["text"]})
        if turn.get("tool") is not None:
            src.append({"type": "tool", "name": turn["tool"], "input": turn.get("input", {}),
                        "id": turn.get("id"), "namespace": turn.get("namespace")})
        if turn.get("custom_tool") is not None:
            src.append({"type": "tool", "name": turn["custom_tool"], "custom": True,
                        "raw": turn.get("raw", turn.get("input", "")), "id": turn.get("id")})
        for t in turn.get("tools") or []:
            b = dict(t)
            b["type"] = "tool"
            src.append(b)
        if not src:
            src.append({"type": "text", "text": ""})
    for b in src:
        typ = b.get("type")
        if typ in ("text", "thinking", "reasoning"):
            deltas = b.get("deltas")
            if deltas is None:
                deltas = _split(b.get("text", ""), b.get("chunks", chunks))
            out.append({"type": "thinking" if typ != "text" else "text",
                        "deltas": [str(d) for d in deltas]})
        elif typ in ("tool", "tool_use", "function_call", "custom_tool_call"):
            custom = bool(b.get("custom")) or typ == "custom_tool_call"
            raw = b.get("raw", b.get("input", "")) if custom else None
            inp = b.get("input", {})
            if custom:
                if not isinstance(raw, str):
                    raw = json.dumps(raw)
                inp = {"input": raw}
            if isinstance(inp, str):
                args = inp
                try:
                    inp = json.loads(inp)
                except ValueError:
                    inp = None
            else:
                args = json.dumps(inp)
            tid = b.get("id")
            if not tid:
                tid = ids("toolu" if api == "anthropic" else "call")
            out.append({"type": "tool", "name": b.get("name"), "args": args, "input": inp,
                        "id": tid, "namespace": b.get("namespace"), "custom": custom,
                        "raw": raw, "chunks": b.get("chunks", chunks)})
        else:
            raise ValueError("mockllm: unknown block type %r" % (typ,))
    return out


def turn_accepts(turn, req):
    if "match" in turn and turn["match"] is not None:
        if turn["match"] not in req.last_user_text():
            return False
    when = turn.get("when")
    if callable(when) and not when(req):
        return False
    return True


# ---------------------------------------------------------------- encoders
#
# Each encoder yields (kind, payload) pairs: kind "event" for framing
# events, "delta" for content deltas (the points where chunk_delay, stall
# and hangup apply). payload is the exact bytes of one SSE event.

def _sse(event, data):
    body = json.dumps(data, separators=(",", ":"))
    if event is None:
        return ("data: %s\n\n" % body).encode()
    return ("event: %s\ndata: %s\n\n" % (event, body)).encode()


def _usage(turn, default_in=10, default_out=5):
    u = turn.get("usage") or {}
    return (int(u.get("input_tokens", default_in)), int(u.get("output_tokens", default_out)))


def anthropic_stream(req, turn, blocks, ids):
    model = req.model or "claude-mock"
    mid = turn.get("message_id") or ids("msg")
    tin, tout = _usage(turn)
    has_tool = any(b["type"] == "tool" for b in blocks)
    stop = turn.get("stop_reason") or ("tool_use" if has_tool else "end_turn")

    def ev(name, data):
        return _sse(name, dict({"type": name}, **data))
    yield "event", ev("message_start", {"message": {
        "id": mid, "type": "message", "role": "assistant", "model": model, "content": [],
        "stop_reason": None, "stop_sequence": None,
        "usage": {"input_tokens": tin, "cache_creation_input_tokens": 0,
                  "cache_read_input_tokens": 0, "output_tokens": 1}}})
    for i, b in enumerate(blocks):
        if b["type"] == "thinking":
            yield "event", ev("content_block_start", {"index": i, "content_block": {
                "type": "thinking", "thinking": "", "signature": ""}})
            for d in b["deltas"]:
                yield "delta", ev("content_block_delta", {"index": i, "delta": {
                    "type": "thinking_delta", "thinking": d}})
            yield "event", ev("content_block_delta", {"index": i, "delta": {
                "type": "signature_delta", "signature": SIGNATURE}})
        elif b["type"] == "text":
            yield "event", ev("content_block_start", {"index": i, "content_block": {
                "type": "text", "text": ""}})
            for d in b["deltas"]:
                yield "delta", ev("content_block_delta", {"index": i, "delta": {
                    "type": "text_delta", "text": d}})
        else:
            yield "event", ev("content_block_start", {"index": i, "content_block": {
                "type": "tool_use", "id": b["id"], "name": b["name"], "input": {}}})
            for d in _split(b["args"], b["chunks"]):
                yield "delta", ev("content_block_delta", {"index": i, "delta": {
                    "type": "input_json_delta", "partial_json": d}})
        yield "event", ev("content_block_stop", {"index": i})
    yield "event", ev("message_delta", {"delta": {"stop_reason": stop, "stop_sequence": None},
                                        "usage": {"output_tokens": tout}})
    yield "event", ev("message_stop", {})


def anthropic_message(req, turn, blocks, ids):
    tin, tout = _usage(turn)
    has_tool = any(b["type"] == "tool" for b in blocks)
    content = []
    for b in blocks:
        if b["type"] == "thinking":
            content.append({"type": "thinking", "thinking": "".join(b["deltas"]),
                            "signature": SIGNATURE})
        elif b["type"] == "text":
            content.append({"type": "text", "text": "".join(b["deltas"])})
        else:
            content.append({"type": "tool_use", "id": b["id"], "name": b["name"],
                            "input": b["input"] if b["input"] is not None else {}})
    return {"id": turn.get("message_id") or ids("msg"), "type": "message", "role": "assistant",
            "model": req.model or "claude-mock", "content": content,
            "stop_reason": turn.get("stop_reason") or ("tool_use" if has_tool else "end_turn"),
            "stop_sequence": None,
            "usage": {"input_tokens": tin, "cache_creation_input_tokens": 0,
                      "cache_read_input_tokens": 0, "output_tokens": tout}}


def _responses_items(blocks, ids):
    """Builds the final output items of a Responses answer."""
    items = []
    for b in blocks:
        if b["type"] == "thinking":
            items.append({"type": "reasoning", "id": ids("rs"),
                          "summary": [{"type": "summary_text", "text": "".join(b["deltas"])}]})
        elif b["type"] == "text":
            items.append({"type": "message", "id": ids("msg"), "role": "assistant",
                          "status": "completed",
                          "content": [{"type": "output_text", "text": "".join(b["deltas"]),
                                       "annotations": []}]})
        elif b["custom"]:
            items.append({"type": "custom_tool_call", "id": ids("ctc"), "call_id": b["id"],
                          "name": b["name"], "input": b["raw"], "status": "completed"})
        else:
            it = {"type": "function_call", "id": ids("fc"), "call_id": b["id"],
                  "name": b["name"], "arguments": b["args"], "status": "completed"}
            if b.get("namespace"):
                it["namespace"] = b["namespace"]
            items.append(it)
    return items


def _responses_usage(turn):
    tin, tout = _usage(turn)
    return {"input_tokens": tin, "input_tokens_details": {"cached_tokens": 0},
            "output_tokens": tout, "output_tokens_details": {"reasoning_tokens": 0},
            "total_tokens": tin + tout}


def responses_stream(req, turn, blocks, ids):
    model = req.model or "mock-model"
    rid = turn.get("response_id") or ids("resp")
    items = _responses_items(blocks, ids)
    seq = [0]

    def ev(name, data):
        data = dict({"type": name, "sequence_number": seq[0]}, **data)
        seq[0] += 1
        return _sse(name, data)
    base = {"id": rid, "object": "response", "created_at": int(time.time()),
            "model": model, "output": [], "status": "in_progress"}
    yield "event", ev("response.created", {"response": base})
    yield "event", ev("response.in_progress", {"response": base})
    for oi, (b, item) in enumerate(zip(blocks, items)):
        iid = item["id"]
        if b["type"] == "thinking":
            yield "event", ev("response.output_item.added", {"output_index": oi, "item": {
                "type": "reasoning", "id": iid, "summary": []}})
            yield "event", ev("response.reasoning_summary_part.added", {
                "item_id": iid, "output_index": oi, "summary_index": 0,
                "part": {"type": "summary_text", "text": ""}})
            for d in b["deltas"]:
                yield "delta", ev("response.reasoning_summary_text.delta", {
                    "item_id": iid, "output_index": oi, "summary_index": 0, "delta": d})
            text = "".join(b["deltas"])
            yield "event", ev("response.reasoning_summary_text.done", {
                "item_id": iid, "output_index": oi, "summary_index": 0, "text": text})
            yield "event", ev("response.reasoning_summary_part.done", {
                "item_id": iid, "output_index": oi, "summary_index": 0,
                "part": {"type": "summary_text", "text": text}})
        elif b["type"] == "text":
            yield "event", ev("response.output_item.added", {"output_index": oi, "item": {
                "type": "message", "id": iid, "role": "assistant", "status": "in_progress",
                "content": []}})
            yield "event", ev("response.content_part.added", {
                "item_id": iid, "output_index": oi, "content_index": 0,
                "part": {"type": "output_text", "text": "", "annotations": []}})
            for d in b["deltas"]:
                yield "delta", ev("response.output_text.delta", {
                    "item_id": iid, "output_index": oi, "content_index": 0, "delta": d})
            text = "".join(b["deltas"])
            yield "event", ev("response.output_text.done", {
                "item_id": iid, "output_index": oi, "content_index": 0, "text": text})
            yield "event", ev("response.content_part.done", {
                "item_id": iid, "output_index": oi, "content_index": 0,
                "part": {"type": "output_text", "text": text, "annotations": []}})
        elif b["custom"]:
            added = dict(item, input="", status="in_progress")
            yield "event", ev("response.output_item.added", {"output_index": oi, "item": added})
            for d in _split(b["raw"], b["chunks"]):
                yield "delta", ev("response.custom_tool_call_input.delta", {
                    "item_id": iid, "output_index": oi, "delta": d})
            yield "event", ev("response.custom_tool_call_input.done", {
                "item_id": iid, "output_index": oi, "input": b["raw"]})
        else:
            added = dict(item, arguments="", status="in_progress")
            yield "event", ev("response.output_item.added", {"output_index": oi, "item": added})
            for d in _split(b["args"], b["chunks"]):
                yield "delta", ev("response.function_call_arguments.delta", {
                    "item_id": iid, "output_index": oi, "delta": d})
            yield "event", ev("response.function_call_arguments.done", {
                "item_id": iid, "output_index": oi, "arguments": b["args"]})
        yield "event", ev("response.output_item.done", {"output_index": oi, "item": item})
    done = dict(base, status="completed", output=items, usage=_responses_usage(turn))
    yield "event", ev("response.completed", {"response": done})


def responses_message(req, turn, blocks, ids):
    return {"id": turn.get("response_id") or ids("resp"), "object": "response",
            "created_at": int(time.time()), "model": req.model or "mock-model",
            "status": "completed", "output": _responses_items(blocks, ids),
            "usage": _responses_usage(turn)}


def chat_stream(req, turn, blocks, ids):
    model = req.model or "mock-model"
    cid = turn.get("response_id") or ids("chatcmpl")
    created = int(time.time())
    has_tool = any(b["type"] == "tool" for b in blocks)
    finish = turn.get("stop_reason") or ("tool_calls" if has_tool else "stop")

    def chunk(delta, finish_reason=None):
        return _sse(None, {"id": cid, "object": "chat.completion.chunk", "created": created,
                           "model": model, "choices": [{"index": 0, "delta": delta,
                                                        "finish_reason": finish_reason}]})
    yield "event", chunk({"role": "assistant", "content": ""})
    ti = 0
    for b in blocks:
        if b["type"] == "thinking":
            for d in b["deltas"]:
                yield "delta", chunk({"reasoning_content": d})
        elif b["type"] == "text":
            for d in b["deltas"]:
                yield "delta", chunk({"content": d})
        else:
            yield "event", chunk({"tool_calls": [{"index": ti, "id": b["id"], "type": "function",
                                                  "function": {"name": b["name"],
                                                               "arguments": ""}}]})
            for d in _split(b["args"], b["chunks"]):
                yield "delta", chunk({"tool_calls": [{"index": ti,
                                                      "function": {"arguments": d}}]})
            ti += 1
    yield "event", chunk({}, finish)
    opts = (req.body or {}).get("stream_options") or {}
    if opts.get("include_usage"):
        tin, tout = _usage(turn, 20, 5)
        yield "event", _sse(None, {"id": cid, "object": "chat.completion.chunk",
                                   "created": created, "model": model, "choices": [],
                                   "usage": {"prompt_tokens": tin, "completion_tokens": tout,
                                             "total_tokens": tin + tout}})
    yield "event", b"data: [DONE]\n\n"


def chat_message(req, turn, blocks, ids):
    tin, tout = _usage(turn, 20, 5)
    msg = {"role": "assistant", "content": None}
    text = "".join("".join(b["deltas"]) for b in blocks if b["type"] == "text")
    think = "".join("".join(b["deltas"]) for b in blocks if b["type"] == "thinking")
    msg["content"] = text
    if think:
        msg["reasoning_content"] = think
    calls = [{"id": b["id"], "type": "function",
              "function": {"name": b["name"], "arguments": b["args"]}}
             for b in blocks if b["type"] == "tool"]
    if calls:
        msg["tool_calls"] = calls
    return {"id": turn.get("response_id") or ids("chatcmpl"), "object": "chat.completion",
            "created": int(time.time()), "model": req.model or "mock-model",
            "choices": [{"index": 0, "message": msg,
                         "finish_reason": turn.get("stop_reason") or
                         ("tool_calls" if calls else "stop")}],
            "usage": {"prompt_tokens": tin, "completion_tokens": tout,
                      "total_tokens": tin + tout}}


ENCODERS = {
    "anthropic": (anthropic_stream, anthropic_message),
    "responses": (responses_stream, responses_message),
    "chat": (chat_stream, chat_message),
}


def error_body(api, status, message=None, etype=None):
    msg = message or "mock error %d" % status
    if api in ("anthropic", "count_tokens"):
        return {"type": "error", "error": {"type": etype or ANTHROPIC_ERROR_TYPES.get(
            status, "api_error"), "message": msg}}
    return {"error": {"message": msg, "type": etype or OPENAI_ERROR_TYPES.get(
        status, "server_error"), "param": None, "code": None}}


# ---------------------------------------------------------------- server

class _Hangup(Exception):
    pass


class _Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "mockllm/1"
    mock = None  # set per server class

    def log_message(self, fmt, *args):  # quiet: requests are recorded instead
        pass

    def _read_body(self):
        te = self.headers.get("Transfer-Encoding", "").lower()
        if "chunked" in te:
            parts, total = [], 0
            while True:
                line = self.rfile.readline(1024)
                if not line:
                    break
                size = int(line.strip().split(b";")[0] or b"0", 16)
                if size == 0:
                    while self.rfile.readline(1024).strip():
                        pass
                    break
                total += size
                if total > MAX_BODY:
                    raise ValueError("body too large")
                parts.append(self.rfile.read(size))
                self.rfile.readline(8)
            raw = b"".join(parts)
        else:
            n = int(self.headers.get("Content-Length") or 0)
            if n > MAX_BODY:
                raise ValueError("body too large")
            raw = self.rfile.read(n) if n > 0 else b""
        enc = self.headers.get("Content-Encoding", "").lower()
        try:
            if enc == "gzip":
                raw = gzip.decompress(raw)
            elif enc == "deflate":
                raw = zlib.decompress(raw)
        except (OSError, zlib.error):
            pass
        return raw

    def do_GET(self):
        self._handle("GET")

    def do_POST(self):
        self._handle("POST")

    def do_PUT(self):
        self._handle("PUT")

    def do_DELETE(self):
        self._handle("DELETE")

    def _handle(self, method):
        try:
            raw = self._read_body()
        except ValueError:
            self._json(413, {"error": {"message": "mock: body too large"}})
            return
        u = urllib.parse.urlsplit(self.path)
        path = u.path
        query = urllib.parse.parse_qs(u.query, keep_blank_values=True)
        if path.startswith("/_mock/"):
            self._admin(method, path, raw)
            return
        headers = {k.lower(): v for k, v in self.headers.items()}
        m = self.mock
        req = m._record(method, path, query, headers, raw)
        try:
            m._dispatch(self, req)
        except _Hangup:
            self.close_connection = True
            try:
                self.connection.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
        except (BrokenPipeError, ConnectionResetError):
            self.close_connection = True

    # -- plain responses
    def _json(self, status, obj, extra_headers=None):
        body = json.dumps(obj).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.send_header("request-id", "req_mock")
        for k, v in (extra_headers or {}).items():
            self.send_header(k, str(v))
        self.end_headers()
        self.wfile.write(body)
        self.wfile.flush()

    def _raw(self, status, body, ctype="application/json", extra_headers=None):
        if isinstance(body, str):
            body = body.encode()
        self.send_response(status)
        self.send_header("Content-Type", ctype)
        self.send_header("Content-Length", str(len(body)))
        self.send_header("request-id", "req_mock")
        for k, v in (extra_headers or {}).items():
            self.send_header(k, str(v))
        self.end_headers()
        self.wfile.write(body)
        self.wfile.flush()

    # -- streaming
    def _stream_start(self):
        self.send_response(200)
        self.send_header("Content-Type", "text/event-stream; charset=utf-8")
        self.send_header("Cache-Control", "no-cache")
        self.send_header("Transfer-Encoding", "chunked")
        self.send_header("request-id", "req_mock")
        self.end_headers()
        self.wfile.flush()

    def _chunk(self, data):
        self.wfile.write(b"%x\r\n%s\r\n" % (len(data), data))
        self.wfile.flush()

    def _stream_end(self):
        self.wfile.write(b"0\r\n\r\n")
        self.wfile.flush()

    def _admin(self, method, path, raw):
        m = self.mock
        try:
            obj = json.loads(raw) if raw else None
        except ValueError:
            self._json(400, {"error": "bad json"})
            return
        if method == "POST" and path == "/_mock/turns":
            for t in obj if isinstance(obj, list) else [obj]:
                m.push(t)
            self._json(200, {"queued": m.pending()})
        elif method == "POST" and path == "/_mock/reset":
            m.reset()
            self._json(200, {"ok": True})
        elif method == "POST" and path == "/_mock/release":
            m.release()
            self._json(200, {"ok": True})
        elif method == "GET" and path == "/_mock/requests":
            self._json(200, [r.to_json() for r in m.requests()])
        else:
            self._json(404, {"error": "unknown admin route"})


class _Server(http.server.ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True
    request_queue_size = 64


class MockLLM:
    """The mock model server. See the module docstring."""

    def __init__(self, host="127.0.0.1", port=0, default=None, classify=classify,
                 log=None, amp="auth"):
        self.host = host
        self._want_port = port
        self.default = dict(default or DEFAULT_REPLY)
        self.classify = classify
        self.amp = amp  # "auth" (401 auth-required), "unexpected" ({}), "down" (503)
        self._log_path = log
        self._lock = threading.Condition()
        self._queue = []   # [[turn, remaining]]
        self._rules = []   # [(substring, turn)]
        self._reqs = []
        self._seq = 0
        self._ids = _Ids()
        self._release = threading.Event()
        self._stopping = threading.Event()
        self._httpd = None
        self._thread = None

    # -- lifecycle
    def start(self):
        handler = type("Handler", (_Handler,), {"mock": self})
        self._httpd = _Server((self.host, self._want_port), handler)
        self._thread = threading.Thread(target=self._httpd.serve_forever,
                                        kwargs={"poll_interval": 0.1},
                                        name="mockllm", daemon=True)
        self._thread.start()
        return self

    def stop(self):
        self._stopping.set()
        self._release.set()
        if self._httpd is not None:
            self._httpd.shutdown()
            self._httpd.server_close()
            self._httpd = None

    def __enter__(self):
        return self.start() if self._httpd is None else self

    def __exit__(self, *a):
        self.stop()

    @property
    def port(self):
        return self._httpd.server_address[1]

    @property
    def url(self):
        return "http://%s:%d" % (self.host, self.port)

    # -- scripting
    def push(self, *turns):
        """Queues turns (dicts) for the next main requests."""
        with self._lock:
            for t in turns:
                if not isinstance(t, dict):
                    raise TypeError("a turn is a dict, got %r" % (t,))
                self._queue.append([dict(t), int(t.get("times", 1))])
        return self

    def rule(self, match, turn):
        """A persistent turn for every main request whose last user text
        contains `match` (checked before the queue, never consumed)."""
        with self._lock:
            self._rules.append((match, dict(turn)))
        return self

    def pending(self):
        """Number of queued turns not yet served."""
        with self._lock:
            return len(self._queue)

    def reset(self):
        """Forgets queued turns, rules and recorded requests."""
        with self._lock:
            self._queue.clear()
            self._rules.clear()
            self._reqs.clear()
            self._release.clear()

    def release(self):
        """Ends every current and future stall (stall -1 included)."""
        self._release.set()

    # -- recording
    def requests(self, api=None, side=None):
        """Recorded requests, oldest first. api filters by API name; side
        None keeps all, True only side requests, False all but them."""
        with self._lock:
            out = list(self._reqs)
        if api is not None:
            out = [r for r in out if r.api == api]
        if side is True:
            out = [r for r in out if r.side]
        elif side is False:
            out = [r for r in out if not r.side]
        return out

    def main_requests(self):
        """Main model requests (conversation turns), oldest first."""
        return [r for r in self.requests()
                if r.api in ("anthropic", "responses", "chat") and not r.side]

    def side_requests(self):
        return self.requests(side=True)

    def wait_requests(self, n, timeout=30, main=True):
        """Blocks until at least n (main) requests were recorded; returns
        them. Raises TimeoutError listing what arrived."""
        deadline = time.monotonic() + timeout
        with self._lock:
            while True:
                got = [r for r in self._reqs if not main or (
                    r.api in ("anthropic", "responses", "chat") and not r.side)]
                if len(got) >= n:
                    return got
                left = deadline - time.monotonic()
                if left <= 0:
                    raise TimeoutError("mockllm: %d of %d requests after %ss: %r"
                                       % (len(got), n, timeout, self._reqs))
                self._lock.wait(left)

    def _record(self, method, path, query, headers, raw):
        with self._lock:
            self._seq += 1
            req = Request(self._seq, method, path, query, headers, raw)
            try:
                req.side = self.classify(req) if self.classify else None
            except Exception:  # a broken classifier must not kill the server
                req.side = None
            self._reqs.append(req)
            self._lock.notify_all()
        return req

    def _log(self, req):
        if not self._log_path:
            return
        with self._lock:
            with open(self._log_path, "a") as f:
                f.write(json.dumps(req.to_json()) + "\n")

    def _take(self, req):
        with self._lock:
            for match, turn in self._rules:
                if match in req.last_user_text():
                    return dict(turn)
            for i, entry in enumerate(self._queue):
                turn, left = entry
                if not turn_accepts(turn, req):
                    continue
                if left <= 1:
                    del self._queue[i]
                else:
                    entry[1] = left - 1
                return dict(turn)
            return dict(self.default)

    # -- serving
    def _dispatch(self, h, req):
        api = req.api
        try:
            if api == "models":
                req.status = 200
                h._json(200, self._models_body())
            elif api == "amp":
                self._amp(h, req)
            elif api == "count_tokens":
                req.status = 200
                n = max(1, len(req.raw) // 4)
                h._json(200, {"input_tokens": n})
            elif api in ENCODERS:
                if req.side:
                    turn = {"text": side_text(req)}
                else:
                    turn = self._take(req)
                req.turn = turn
                self._serve_turn(h, req, turn)
            else:
                req.status = 404
                h._json(404, error_body("anthropic", 404, "mockllm: no route for %s %s"
                                        % (req.method, req.path), "not_found_error"))
        finally:
            self._log(req)

    def _models_body(self):
        data = [{"id": m, "object": "model", "type": "model", "display_name": m,
                 "created": 0, "created_at": "2025-01-01T00:00:00Z", "owned_by": "mock"}
                for m in MODELS]
        return {"object": "list", "data": data, "has_more": False,
                "first_id": data[0]["id"], "last_id": data[-1]["id"]}

    def _amp(self, h, req):
        if self.amp == "unexpected":
            req.status = 200
            h._json(200, {})
        elif self.amp == "down":
            req.status = 503
            h._json(503, {"ok": False, "error": {"code": "unavailable",
                                                 "message": "mock: unavailable"}})
        else:
            req.status = 401
            h._json(401, {"ok": False, "error": {"code": "auth-required",
                                                 "message": "mock: invalid API key"}})

    def _sleep(self, secs):
        """Sleeps, but wakes early when released or stopped. secs < 0
        waits for release()/stop()."""
        if secs is None or secs == 0:
            return
        if secs < 0:
            self._release.wait()
        else:
            self._release.wait(secs)

    def _serve_turn(self, h, req, turn):
        delay = turn.get("delay")
        if delay:
            self._stopping.wait(delay)
        if turn.get("hangup") == "before":
            req.status = 0
            raise _Hangup()
        if turn.get("error") is not None:
            status = int(turn["error"])
            req.status = status
            body = turn.get("body")
            if body is None:
                body = error_body(req.api, status, turn.get("message"), turn.get("etype"))
            if isinstance(body, (dict, list)):
                h._json(status, body, turn.get("headers"))
            else:
                h._raw(status, body, "text/plain", turn.get("headers"))
            return
        blocks = blocks_of(turn, self._ids, req.api)
        stream_fn, message_fn = ENCODERS[req.api]
        req.status = 200
        if not req.stream:
            h._json(200, message_fn(req, turn, blocks, self._ids))
            return
        h._stream_start()
        first_delta = True
        chunk_delay = turn.get("chunk_delay")
        for kind, data in stream_fn(req, turn, blocks, self._ids):
            if kind == "delta":
                if not first_delta and chunk_delay:
                    self._sleep(chunk_delay)
            h._chunk(data)
            if kind == "delta" and first_delta:
                first_delta = False
                if turn.get("hangup") == "mid":
                    raise _Hangup()
                if turn.get("stall") is not None:
                    self._sleep(turn["stall"])
        h._stream_end()


# ---------------------------------------------------------------- CLI

def load_script(mock, path):
    """Loads a script file (list of turns, or {"turns", "rules",
    "default"}) into mock."""
    with open(path) as f:
        obj = json.load(f)
    if isinstance(obj, list):
        obj = {"turns": obj}
    for t in obj.get("turns") or []:
        mock.push(t)
    for r in obj.get("rules") or []:
        mock.rule(r["match"], r["turn"])
    if obj.get("default"):
        mock.default = dict(obj["default"])


def main(argv=None):
    ap = argparse.ArgumentParser(description="Scriptable mock model server (see module doc).")
    ap.add_argument("--host", default="127.0.0.1")
    ap.add_argument("--port", type=int, default=0)
    ap.add_argument("--script", help="JSON file: list of turns or {turns, rules, default}")
    ap.add_argument("--log", help="append one JSON line per request to this file")
    ap.add_argument("--amp", default="auth", choices=("auth", "unexpected", "down"))
    a = ap.parse_args(argv)
    mock = MockLLM(host=a.host, port=a.port, log=a.log, amp=a.amp)
    if a.script:
        load_script(mock, a.script)
    mock.start()
    print("mockllm listening on %s" % mock.url, flush=True)
    try:
        while True:
            time.sleep(3600)
    except KeyboardInterrupt:
        pass
    finally:
        mock.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
