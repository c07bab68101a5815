"""test_mockllm.py - tests of the mock model server itself (mockllm.py):
each API's framing, scripting (queue, matchers, rules, errors, delays,
stalls, hang-ups), side-request handling, request recording and the
standalone command line. Needs no agent CLI and no server binary; uses only
http.client/urllib."""

import http.client
import json
import os
import subprocess
import sys
import tempfile
import threading
import time
import unittest
import urllib.error
import urllib.request

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)

import mockllm  # noqa: E402
from mockllm import MockLLM  # noqa: E402

E2E_NEEDS_AGENTS = False  # run.py runs these even when setup.sh failed


def post(mock, path, body, headers=None, timeout=10):
    """POST JSON; returns (status, headers, raw body bytes)."""
    c = http.client.HTTPConnection("127.0.0.1", mock.port, timeout=timeout)
    try:
        h = {"Content-Type": "application/json"}
        h.update(headers or {})
        c.request("POST", path, body=json.dumps(body).encode(), headers=h)
        r = c.getresponse()
        return r.status, {k.lower(): v for k, v in r.getheaders()}, r.read()
    finally:
        c.close()


def sse(raw):
    """Parses SSE bytes into [(event name or None, data string)]."""
    out = []
    for block in raw.decode().split("\n\n"):
        if not block.strip():
            continue
        ev, data = None, []
        for line in block.split("\n"):
            if line.startswith("event:"):
                ev = line[6:].strip()
            elif line.startswith("data:"):
                data.append(line[5:].lstrip(" "))
        out.append((ev, "\n".join(data)))
    return out


def sse_json(raw):
    return [(ev, json.loads(d)) for ev, d in sse(raw) if d != "[DONE]"]


ANTH = "/v1/messages?beta=true"
TOOLS_A = [{"name": "Bash", "description": "run", "input_schema": {"type": "object"}}]
TOOLS_C = [{"type": "function", "function": {"name": "bash", "parameters": {"type": "object"}}}]
TOOLS_R = [{"type": "function", "name": "exec_command", "parameters": {"type": "object"}}]


def anth_body(text="hi", stream=True, **kw):
    b = {"model": "claude-test", "max_tokens": 1000, "stream": stream, "tools": TOOLS_A,
         "system": [{"type": "text", "text": "You are a coding agent."}],
         "messages": [{"role": "user", "content": [{"type": "text", "text": text}]}]}
    b.update(kw)
    return b


def chat_body(text="hi", stream=True, **kw):
    b = {"model": "mock-model", "stream": stream, "tools": TOOLS_C,
         "stream_options": {"include_usage": True},
         "messages": [{"role": "system", "content": "You are opencode."},
                      {"role": "user", "content": text}]}
    b.update(kw)
    return b


def resp_body(text="hi", stream=True, **kw):
    b = {"model": "gpt-5.5", "stream": stream, "tools": TOOLS_R, "instructions": "You are Codex.",
         "input": [{"type": "message", "role": "user",
                    "content": [{"type": "input_text", "text": text}]}]}
    b.update(kw)
    return b


class MockCase(unittest.TestCase):
    def setUp(self):
        self.mock = MockLLM().start()
        self.addCleanup(self.mock.stop)


class TestAnthropic(MockCase):
    def test_stream_text_framing(self):
        self.mock.push({"text": "Hello world", "chunks": 3})
        st, h, raw = post(self.mock, ANTH, anth_body())
        self.assertEqual(st, 200)
        self.assertIn("text/event-stream", h["content-type"])
        self.assertEqual(h.get("transfer-encoding"), "chunked")
        evs = sse_json(raw)
        self.assertEqual([e for e, _ in evs], [
            "message_start", "content_block_start", "content_block_delta",
            "content_block_delta", "content_block_delta", "content_block_stop",
            "message_delta", "message_stop"])
        for name, data in evs:  # the event: line and the JSON type agree
            self.assertEqual(name, data["type"])
        self.assertEqual(evs[0][1]["message"]["model"], "claude-test")
        self.assertEqual("".join(d["delta"]["text"] for _, d in evs[2:5]), "Hello world")
        self.assertEqual(evs[6][1]["delta"]["stop_reason"], "end_turn")
        self.assertIn("output_tokens", evs[6][1]["usage"])

    def test_thinking_text_tool(self):
        self.mock.push({"thinking": "Let me think.", "text": "Running it.",
                        "tool": "Bash", "input": {"command": "echo hi"}, "id": "toolu_x"})
        st, h, raw = post(self.mock, ANTH, anth_body())
        evs = sse_json(raw)
        starts = [d["content_block"] for e, d in evs if e == "content_block_start"]
        self.assertEqual([b["type"] for b in starts], ["thinking", "text", "tool_use"])
        self.assertEqual(starts[2], {"type": "tool_use", "id": "toolu_x", "name": "Bash",
                                     "input": {}})
        deltas = [d["delta"] for e, d in evs if e == "content_block_delta"]
        think = "".join(d["thinking"] for d in deltas if d["type"] == "thinking_delta")
        self.assertEqual(think, "Let me think.")
        sig = [d for d in deltas if d["type"] == "signature_delta"]
        self.assertEqual(len(sig), 1)
        self.assertTrue(sig[0]["signature"])
        args = "".join(d["partial_json"] for d in deltas if d["type"] == "input_json_delta")
        self.assertEqual(json.loads(args), {"command": "echo hi"})
        md = [d for e, d in evs if e == "message_delta"][0]
        self.assertEqual(md["delta"]["stop_reason"], "tool_use")
        # signature comes after the thinking deltas, before the block stops
        idx = [i for i, (e, d) in enumerate(evs) if e == "content_block_delta"
               and d["delta"]["type"] == "signature_delta"][0]
        self.assertEqual(evs[idx + 1][0], "content_block_stop")

    def test_non_streaming(self):
        self.mock.push({"thinking": "t", "text": "Plain", "tool": "Bash", "input": {"a": 1}})
        st, h, raw = post(self.mock, "/v1/messages", anth_body(stream=False))
        self.assertEqual(st, 200)
        self.assertIn("application/json", h["content-type"])
        msg = json.loads(raw)
        self.assertEqual(msg["type"], "message")
        self.assertEqual([c["type"] for c in msg["content"]], ["thinking", "text", "tool_use"])
        self.assertEqual(msg["content"][2]["input"], {"a": 1})
        self.assertEqual(msg["stop_reason"], "tool_use")

    def test_count_tokens_and_models_are_side(self):
        self.mock.push({"text": "scripted"})
        st, _, raw = post(self.mock, "/v1/messages/count_tokens", anth_body())
        self.assertEqual(st, 200)
        self.assertGreater(json.loads(raw)["input_tokens"], 0)
        with urllib.request.urlopen(self.mock.url + "/v1/models", timeout=10) as r:
            models = json.loads(r.read())
        self.assertTrue(models["data"])
        self.assertEqual(self.mock.pending(), 1)  # nothing consumed
        self.assertEqual(self.mock.requests()[0].side, "count_tokens")

    def test_path_prefix(self):
        self.mock.push({"text": "prefixed"})
        st, _, raw = post(self.mock, "/some/prefix/v1/messages?beta=true", anth_body())
        self.assertEqual(st, 200)
        self.assertIn("prefixed", "".join(
            d["delta"].get("text", "") for e, d in sse_json(raw) if e == "content_block_delta"))

    def test_tool_result_and_image_recorded(self):
        img = {"type": "image", "source": {"type": "base64", "media_type": "image/png",
                                           "data": "iVBORw0KGgo="}}
        body = anth_body()
        body["messages"] = [
            {"role": "user", "content": [img, {"type": "text", "text": "what is this?"}]},
            {"role": "assistant", "content": [{"type": "tool_use", "id": "t1", "name": "Bash",
                                               "input": {"command": "ls"}}]},
            {"role": "user", "content": [{"type": "tool_result", "tool_use_id": "t1",
                                          "content": [{"type": "text", "text": "a.txt"}],
                                          "is_error": False}]}]
        post(self.mock, ANTH, body, headers={"x-api-key": "sk-test"})
        r = self.mock.main_requests()[0]
        self.assertEqual(r.headers["x-api-key"], "sk-test")
        self.assertEqual(r.query, {"beta": ["true"]})
        self.assertEqual(r.api, "anthropic")
        self.assertEqual(r.last_user_text(), "what is this?")
        self.assertTrue(r.after_tool_result())
        self.assertEqual(r.tool_results(), [{"id": "t1", "content": "a.txt", "is_error": False}])
        self.assertEqual(r.tool_calls(), [{"id": "t1", "name": "Bash", "input": {"command": "ls"}}])
        self.assertEqual(r.images(), [img])
        self.assertEqual(r.tools(), ["Bash"])
        self.assertEqual(r.system_text(), "You are a coding agent.")


class TestResponses(MockCase):
    def test_stream_reasoning_text(self):
        self.mock.push({"thinking": "Considering.", "text": "Hello from mock", "chunks": 2})
        st, h, raw = post(self.mock, "/v1/responses", resp_body())
        self.assertEqual(st, 200)
        evs = sse_json(raw)
        names = [e for e, _ in evs]
        self.assertEqual(names[:2], ["response.created", "response.in_progress"])
        self.assertEqual(names[-1], "response.completed")
        for name, data in evs:
            self.assertEqual(name, data["type"])
        seqs = [d["sequence_number"] for _, d in evs]
        self.assertEqual(seqs, list(range(len(seqs))))
        self.assertIn("response.reasoning_summary_part.added", names)
        summ = "".join(d["delta"] for e, d in evs
                       if e == "response.reasoning_summary_text.delta")
        self.assertEqual(summ, "Considering.")
        text = "".join(d["delta"] for e, d in evs if e == "response.output_text.delta")
        self.assertEqual(text, "Hello from mock")
        done = [d["item"] for e, d in evs if e == "response.output_item.done"]
        self.assertEqual([i["type"] for i in done], ["reasoning", "message"])
        self.assertEqual(done[1]["content"][0]["text"], "Hello from mock")
        comp = evs[-1][1]["response"]
        self.assertEqual(comp["status"], "completed")
        self.assertEqual(comp["usage"]["total_tokens"],
                         comp["usage"]["input_tokens"] + comp["usage"]["output_tokens"])
        self.assertEqual([i["type"] for i in comp["output"]], ["reasoning", "message"])

    def test_function_and_custom_calls(self):
        self.mock.push({"tools": [
            {"name": "exec_command", "input": {"cmd": "echo hi"}, "id": "call_a"},
            {"name": "echo", "namespace": "mcp__echo", "input": {"text": "x"}},
            {"name": "apply_patch", "custom": True, "raw": "*** Begin Patch\n*** End Patch\n"}]})
        st, _, raw = post(self.mock, "/v1/responses", resp_body())
        evs = sse_json(raw)
        added = [d["item"] for e, d in evs if e == "response.output_item.added"]
        self.assertEqual(added[0]["arguments"], "")
        args = "".join(d["delta"] for e, d in evs
                       if e == "response.function_call_arguments.delta" and
                       d["item_id"] == added[0]["id"])
        self.assertEqual(json.loads(args), {"cmd": "echo hi"})
        done = [d["item"] for e, d in evs if e == "response.output_item.done"]
        self.assertEqual(done[0]["type"], "function_call")
        self.assertEqual(done[0]["call_id"], "call_a")
        self.assertEqual(done[0]["name"], "exec_command")
        self.assertEqual(done[1]["namespace"], "mcp__echo")
        self.assertEqual(done[2]["type"], "custom_tool_call")
        self.assertEqual(done[2]["input"], "*** Begin Patch\n*** End Patch\n")
        self.assertTrue(done[2]["call_id"].startswith("call_"))

    def test_non_streaming_and_recording(self):
        self.mock.push({"text": "plain"})
        body = resp_body(stream=False)
        body["input"] += [
            {"type": "function_call", "call_id": "c1", "name": "exec_command",
             "arguments": "{\"cmd\": \"ls\"}"},
            {"type": "function_call_output", "call_id": "c1", "output": "a.txt\n"}]
        st, _, raw = post(self.mock, "/v1/responses", body)
        out = json.loads(raw)
        self.assertEqual(out["output"][0]["content"][0]["text"], "plain")
        r = self.mock.main_requests()[0]
        self.assertEqual(r.tool_results(), [{"id": "c1", "content": "a.txt\n", "is_error": False}])
        self.assertTrue(r.after_tool_result())
        self.assertEqual(r.last_user_text(), "hi")
        self.assertEqual(r.system_text(), "You are Codex.")


class TestChat(MockCase):
    def test_stream_reasoning_text_usage_done(self):
        self.mock.push({"thinking": "Hmm.", "text": "Hello!", "chunks": 2})
        st, h, raw = post(self.mock, "/v1/chat/completions", chat_body())
        self.assertEqual(st, 200)
        blocks = sse(raw)
        self.assertTrue(all(ev is None for ev, _ in blocks))  # data-only framing
        self.assertEqual(blocks[-1][1], "[DONE]")
        chunks = [json.loads(d) for _, d in blocks[:-1]]
        self.assertEqual(chunks[0]["choices"][0]["delta"]["role"], "assistant")
        deltas = [c["choices"][0]["delta"] for c in chunks if c["choices"]]
        self.assertEqual("".join(d.get("reasoning_content", "") for d in deltas), "Hmm.")
        self.assertEqual("".join(d.get("content") or "" for d in deltas), "Hello!")
        fin = [c["choices"][0]["finish_reason"] for c in chunks if c["choices"]]
        self.assertEqual(fin[-1], "stop")
        self.assertEqual(chunks[-1]["choices"], [])
        self.assertEqual(chunks[-1]["usage"]["total_tokens"], 25)

    def test_tool_calls(self):
        self.mock.push({"tool": "bash", "input": {"command": "echo hi > f.txt"}, "id": "call_1"})
        st, _, raw = post(self.mock, "/v1/chat/completions", chat_body())
        chunks = [json.loads(d) for _, d in sse(raw) if d != "[DONE]"]
        calls = [tc for c in chunks if c["choices"]
                 for tc in c["choices"][0]["delta"].get("tool_calls") or []]
        self.assertEqual(calls[0]["id"], "call_1")
        self.assertEqual(calls[0]["function"]["name"], "bash")
        args = "".join(tc["function"].get("arguments", "") for tc in calls)
        self.assertEqual(json.loads(args), {"command": "echo hi > f.txt"})
        fin = [c["choices"][0]["finish_reason"] for c in chunks if c["choices"]]
        self.assertEqual(fin[-1], "tool_calls")

    def test_no_usage_without_include_usage(self):
        body = chat_body()
        del body["stream_options"]
        st, _, raw = post(self.mock, "/v1/chat/completions", body)
        chunks = [json.loads(d) for _, d in sse(raw) if d != "[DONE]"]
        self.assertFalse(any("usage" in c for c in chunks))

    def test_non_streaming(self):
        self.mock.push({"text": "plain", "tool": "bash", "input": {"command": "ls"}})
        st, _, raw = post(self.mock, "/v1/chat/completions", chat_body(stream=False))
        out = json.loads(raw)
        msg = out["choices"][0]["message"]
        self.assertEqual(msg["content"], "plain")
        self.assertEqual(msg["tool_calls"][0]["function"]["name"], "bash")
        self.assertEqual(out["choices"][0]["finish_reason"], "tool_calls")

    def test_tool_message_recorded(self):
        body = chat_body()
        body["messages"] += [
            {"role": "assistant", "content": "", "tool_calls": [
                {"id": "call_9", "type": "function",
                 "function": {"name": "bash", "arguments": "{\"command\":\"ls\"}"}}]},
            {"role": "tool", "tool_call_id": "call_9", "content": "(no output)"}]
        post(self.mock, "/v1/chat/completions", body)
        r = self.mock.main_requests()[0]
        self.assertEqual(r.tool_results(), [{"id": "call_9", "content": "(no output)",
                                             "is_error": False}])
        self.assertEqual(r.tool_calls()[0]["name"], "bash")
        self.assertEqual(r.last_user_text(), "hi")


class TestScripting(MockCase):
    def text_of(self, raw):
        return "".join(d["delta"].get("text", "") for e, d in sse_json(raw)
                       if e == "content_block_delta")

    def test_queue_order_and_default(self):
        self.mock.push({"text": "one"}, {"text": "two"})
        got = [self.text_of(post(self.mock, ANTH, anth_body())[2]) for _ in range(3)]
        self.assertEqual(got, ["one", "two", "OK"])
        self.assertEqual(self.mock.pending(), 0)

    def test_custom_default(self):
        m = MockLLM(default={"text": "fallback"}).start()
        self.addCleanup(m.stop)
        self.assertEqual(self.text_of(post(m, ANTH, anth_body())[2]), "fallback")

    def test_match_and_rule(self):
        self.mock.push({"text": "generic"}, {"text": "for blue", "match": "blue"})
        self.mock.rule("always-this", {"text": "ruled"})
        self.assertEqual(self.text_of(post(self.mock, ANTH, anth_body("pick blue"))[2]),
                         "generic")  # first acceptable turn wins
        self.assertEqual(self.text_of(post(self.mock, ANTH, anth_body("red"))[2]), "OK")
        self.assertEqual(self.mock.pending(), 1)  # "blue" still waits
        self.assertEqual(self.text_of(post(self.mock, ANTH, anth_body("now blue"))[2]),
                         "for blue")
        for _ in range(2):
            self.assertEqual(self.text_of(post(self.mock, ANTH, anth_body("always-this"))[2]),
                             "ruled")

    def test_when_predicate(self):
        self.mock.push({"text": "after tool", "when": lambda r: r.after_tool_result()})
        self.assertEqual(self.text_of(post(self.mock, ANTH, anth_body())[2]), "OK")
        self.assertEqual(self.mock.pending(), 1)

    def test_error_times_then_ok(self):
        self.mock.push({"error": 500, "times": 2}, {"text": "recovered"})
        for _ in range(2):
            st, h, raw = post(self.mock, ANTH, anth_body())
            self.assertEqual(st, 500)
            self.assertEqual(json.loads(raw), {"type": "error", "error": {
                "type": "api_error", "message": "mock error 500"}})
        st, _, raw = post(self.mock, ANTH, anth_body())
        self.assertEqual((st, self.text_of(raw)), (200, "recovered"))
        self.assertEqual([r.status for r in self.mock.main_requests()], [500, 500, 200])

    def test_error_shapes(self):
        self.mock.push({"error": 429, "message": "slow down", "headers": {"retry-after": "0"}},
                       {"error": 401},
                       {"error": 529, "etype": "overloaded_error", "body": "plain text"})
        st, h, raw = post(self.mock, "/v1/chat/completions", chat_body())
        self.assertEqual(st, 429)
        self.assertEqual(h["retry-after"], "0")
        self.assertEqual(json.loads(raw)["error"]["message"], "slow down")
        self.assertEqual(json.loads(raw)["error"]["type"], "rate_limit_exceeded")
        st, _, raw = post(self.mock, ANTH, anth_body())
        self.assertEqual((st, json.loads(raw)["error"]["type"]), (401, "authentication_error"))
        st, h, raw = post(self.mock, "/v1/responses", resp_body())
        self.assertEqual((st, raw), (529, b"plain text"))

    def test_delay(self):
        self.mock.push({"text": "late", "delay": 0.4})
        t0 = time.monotonic()
        st, _, raw = post(self.mock, ANTH, anth_body())
        self.assertGreaterEqual(time.monotonic() - t0, 0.35)
        self.assertEqual(self.text_of(raw), "late")

    def test_chunk_delay_streams_incrementally(self):
        self.mock.push({"text": "abcd", "chunks": 4, "chunk_delay": 0.3})
        c = http.client.HTTPConnection("127.0.0.1", self.mock.port, timeout=10)
        c.request("POST", ANTH, body=json.dumps(anth_body()).encode(),
                  headers={"Content-Type": "application/json"})
        r = c.getresponse()
        first = b""
        while b"text_delta" not in first:
            first += r.read1(65536)
        t_first = time.monotonic()
        rest = r.read()
        # the first delta came before the three pauses that follow it
        self.assertGreaterEqual(time.monotonic() - t_first, 0.85)
        c.close()
        self.assertEqual(self.text_of(first + rest), "abcd")

    def test_stall_until_release(self):
        self.mock.push({"text": "ab", "chunks": 2, "stall": -1})
        out = {}

        def run():
            out["r"] = post(self.mock, ANTH, anth_body(), timeout=20)
        t = threading.Thread(target=run)
        t.start()
        time.sleep(0.5)
        self.assertTrue(t.is_alive())
        self.mock.release()
        t.join(10)
        self.assertFalse(t.is_alive())
        self.assertEqual(self.text_of(out["r"][2]), "ab")

    def test_hangup_before(self):
        self.mock.push({"hangup": "before"})
        with self.assertRaises((http.client.RemoteDisconnected, ConnectionResetError)):
            post(self.mock, ANTH, anth_body())
        st, _, _ = post(self.mock, ANTH, anth_body())  # the server survives
        self.assertEqual(st, 200)

    def test_hangup_mid_stream(self):
        self.mock.push({"text": "abcdef", "chunks": 3, "hangup": "mid"})
        c = http.client.HTTPConnection("127.0.0.1", self.mock.port, timeout=10)
        c.request("POST", "/v1/responses", body=json.dumps(resp_body()).encode(),
                  headers={"Content-Type": "application/json"})
        r = c.getresponse()
        self.assertEqual(r.status, 200)
        with self.assertRaises(http.client.IncompleteRead) as cm:
            r.read()
        c.close()
        partial = cm.exception.partial
        self.assertIn(b"response.output_text.delta", partial)
        self.assertNotIn(b"response.completed", partial)

    def test_concurrent_requests_get_distinct_turns(self):
        self.mock.push(*[{"text": "t%d" % i} for i in range(8)])
        got = []
        lock = threading.Lock()

        def run():
            t = self.text_of(post(self.mock, ANTH, anth_body())[2])
            with lock:
                got.append(t)
        ts = [threading.Thread(target=run) for _ in range(8)]
        for t in ts:
            t.start()
        for t in ts:
            t.join(10)
        self.assertEqual(sorted(got), sorted("t%d" % i for i in range(8)))

    def test_wait_requests(self):
        threading.Timer(0.2, lambda: post(self.mock, ANTH, anth_body())).start()
        got = self.mock.wait_requests(1, timeout=5)
        self.assertEqual(len(got), 1)
        with self.assertRaises(TimeoutError):
            self.mock.wait_requests(2, timeout=0.3)

    def test_bad_turn_rejected(self):
        with self.assertRaises(TypeError):
            self.mock.push("text")


class TestSideRequests(MockCase):
    def test_opencode_title_request(self):
        self.mock.push({"text": "scripted"})
        body = chat_body("build a parser")
        del body["tools"]
        body["messages"][0]["content"] = "You are a title generator. You output ONLY a title."
        st, _, raw = post(self.mock, "/v1/chat/completions", body)
        chunks = [json.loads(d) for _, d in sse(raw) if d != "[DONE]"]
        text = "".join(c["choices"][0]["delta"].get("content") or ""
                       for c in chunks if c["choices"])
        self.assertEqual(text, mockllm.SIDE_TITLE_TEXT)
        self.assertEqual(self.mock.pending(), 1)
        self.assertEqual(self.mock.side_requests()[0].side, "title")
        self.assertEqual(self.mock.main_requests(), [])

    def test_claude_structured_title_request(self):
        body = anth_body("<session>\nhello\n</session>")
        del body["tools"]
        body["system"] = [{"type": "text", "text": "Generate a concise, sentence-case title "
                           "(3-7 words). Return JSON with a single \"title\" field."}]
        body["output_config"] = {"format": {"type": "json_schema", "schema": {
            "type": "object", "properties": {"title": {"type": "string"}},
            "required": ["title"]}}}
        self.mock.push({"text": "scripted"})
        st, _, raw = post(self.mock, ANTH, body)
        text = "".join(d["delta"].get("text", "") for e, d in sse_json(raw)
                       if e == "content_block_delta")
        self.assertEqual(json.loads(text), {"title": mockllm.SIDE_TITLE_TEXT})
        self.assertEqual(self.mock.pending(), 1)

    def test_quota_probe(self):
        body = anth_body("quota", stream=False, max_tokens=1)
        del body["tools"]
        self.mock.push({"text": "scripted"})
        st, _, raw = post(self.mock, ANTH, body)
        self.assertEqual(json.loads(raw)["content"][0]["text"], "OK")
        self.assertEqual(self.mock.requests()[0].side, "quota")
        self.assertEqual(self.mock.pending(), 1)

    def test_tools_make_it_main(self):
        body = chat_body()
        body["messages"][0]["content"] = "You are a title generator."
        self.mock.push({"text": "scripted"})
        post(self.mock, "/v1/chat/completions", body)
        self.assertEqual(self.mock.pending(), 0)

    def test_custom_classifier(self):
        m = MockLLM(classify=lambda r: "mine" if "side" in r.last_user_text() else None).start()
        self.addCleanup(m.stop)
        m.push({"text": "scripted"})
        post(m, ANTH, anth_body("a side question"))
        self.assertEqual(m.pending(), 1)

    def test_unknown_route_and_amp(self):
        st, _, _ = post(self.mock, "/v2/nothing", {})
        self.assertEqual(st, 404)
        st, _, raw = post(self.mock, "/api/internal?getUserInfo", {"method": "getUserInfo"})
        self.assertEqual(st, 401)
        self.assertEqual(json.loads(raw)["error"]["code"], "auth-required")
        self.assertEqual([r.api for r in self.mock.requests()], ["unknown", "amp"])
        self.assertEqual(self.mock.requests()[1].query, {"getUserInfo": [""]})


class TestStandalone(unittest.TestCase):
    def test_cli_script_log_and_admin(self):
        d = tempfile.mkdtemp(prefix="mockllm-test-")
        script = os.path.join(d, "s.json")
        log = os.path.join(d, "log.jsonl")
        with open(script, "w") as f:
            json.dump({"turns": [{"text": "from script"}],
                       "rules": [{"match": "ping", "turn": {"text": "pong"}}],
                       "default": {"text": "dflt"}}, f)
        p = subprocess.Popen([sys.executable, os.path.join(HERE, "mockllm.py"), "--port", "0",
                              "--script", script, "--log", log],
                             stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        try:
            line = p.stdout.readline().decode()
            self.assertTrue(line.startswith("mockllm listening on http://127.0.0.1:"), line)
            url = line.split()[-1]

            class M:  # what post() needs
                port = int(url.rsplit(":", 1)[1])

            def text(body):
                return "".join(d["delta"].get("text", "") for e, d in
                               sse_json(post(M, ANTH, body)[2]) if e == "content_block_delta")
            self.assertEqual(text(anth_body("ping")), "pong")
            self.assertEqual(text(anth_body("x")), "from script")
            self.assertEqual(text(anth_body("x")), "dflt")
            st, _, raw = post(M, "/_mock/turns", [{"text": "pushed"}])
            self.assertEqual(json.loads(raw), {"queued": 1})
            self.assertEqual(text(anth_body("x")), "pushed")
            with urllib.request.urlopen(url + "/_mock/requests", timeout=10) as r:
                reqs = json.loads(r.read())
            self.assertEqual(len(reqs), 4)
            self.assertEqual(reqs[0]["body"]["messages"][0]["content"][0]["text"], "ping")
            post(M, "/_mock/reset", {})
            with urllib.request.urlopen(url + "/_mock/requests", timeout=10) as r:
                self.assertEqual(json.loads(r.read()), [])
            with open(log) as f:
                logged = [json.loads(x) for x in f]
            self.assertEqual(len(logged), 4)
            self.assertEqual(logged[0]["turn"], {"text": "pong"})
        finally:
            p.terminate()
            p.wait(10)
            p.stdout.close()
            p.stderr.close()


class TestHelpers(unittest.TestCase):
    def test_split(self):
        self.assertEqual(mockllm._split("abcdefg", 3), ["abc", "de", "fg"])
        self.assertEqual(mockllm._split("ab", 5), ["a", "b"])
        self.assertEqual(mockllm._split("", 3), [""])

    def test_api_of(self):
        self.assertEqual(mockllm.api_of("POST", "/x/v1/messages"), "anthropic")
        self.assertEqual(mockllm.api_of("POST", "/v1/messages/count_tokens"), "count_tokens")
        self.assertEqual(mockllm.api_of("POST", "/v1/responses"), "responses")
        self.assertEqual(mockllm.api_of("POST", "/v1/chat/completions"), "chat")
        self.assertEqual(mockllm.api_of("GET", "/v1/models"), "models")
        self.assertEqual(mockllm.api_of("GET", "/v1/messages"), "unknown")

    def test_unknown_block_type(self):
        with self.assertRaises(ValueError):
            mockllm.blocks_of({"blocks": [{"type": "video"}]}, mockllm._Ids(), "anthropic")


if __name__ == "__main__":
    unittest.main()
