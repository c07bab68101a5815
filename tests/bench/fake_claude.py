#!/usr/bin/env python3
"""fake_claude.py - a stand-in `claude` executable for the benchmarks.

Speaks just enough of Claude Code's stream-json protocol for the Claude
adapter: for each `user` line on stdin it writes an init line, the
message_start / content_block_start stream events, K text deltas, the
closing stream events, an assistant message and a result line. Other
input lines (control requests, interrupts) are ignored; end of stdin ends
the process.

The user message text selects the workload:
  burst K              K deltas written as fast as possible
  paced K INTERVAL_US  K deltas, one every INTERVAL_US microseconds
Each delta's text starts with "@<CLOCK_MONOTONIC ns>@", taken just before
the line is written, so the reader can compute write-to-read latency on
the same clock. Standard library only.
"""
import json
import os
import sys
import time

SID = "bench0000-0000-4000-8000-000000000001"
TAIL = (',"session_id":"%s","parent_tool_use_id":null,'
        '"uuid":"00000000-0000-4000-8000-%%012d"}\n' % SID)


def out(obj):
    os.write(1, (json.dumps(obj, separators=(",", ":")) + "\n").encode())


def stream_event(ev):
    out({"type": "stream_event", "event": ev, "session_id": SID,
         "parent_tool_use_id": None, "uuid": "00000000-0000-4000-8000-000000000000"})


def text_of(msg):
    content = msg.get("message", {}).get("content")
    if isinstance(content, str):
        return content
    parts = [b.get("text", "") for b in content or [] if isinstance(b, dict)]
    return " ".join(p for p in parts if p)


def turn(text):
    words = text.split()
    k = int(words[1]) if len(words) > 1 else 10
    interval = int(words[2]) / 1e6 if len(words) > 2 and words[0] == "paced" else 0.0
    out({"type": "system", "subtype": "init", "cwd": os.getcwd(), "session_id": SID,
         "tools": [], "mcp_servers": [], "model": "fake", "permissionMode": "default"})
    stream_event({"type": "message_start", "message": {
        "id": "msg_bench", "type": "message", "role": "assistant", "model": "fake",
        "content": [], "stop_reason": None}})
    stream_event({"type": "content_block_start", "index": 0,
                  "content_block": {"type": "text", "text": ""}})
    head = b'{"type":"stream_event","event":{"type":"content_block_delta","index":0,' \
           b'"delta":{"type":"text_delta","text":"@'
    tail = TAIL.encode()
    write = os.write
    mono = time.monotonic_ns
    for i in range(k):
        write(1, head + b'%d@ delta %d"}}' % (mono(), i) + tail % i)
        if interval:
            time.sleep(interval)
    summary = "%d deltas" % k
    out({"type": "assistant", "message": {
        "id": "msg_bench", "type": "message", "role": "assistant", "model": "fake",
        "content": [{"type": "text", "text": summary}], "stop_reason": None},
        "parent_tool_use_id": None, "session_id": SID})
    stream_event({"type": "content_block_stop", "index": 0})
    stream_event({"type": "message_delta", "delta": {"stop_reason": "end_turn"}})
    stream_event({"type": "message_stop"})
    out({"type": "result", "subtype": "success", "is_error": False, "num_turns": 1,
         "result": summary, "stop_reason": "end_turn", "session_id": SID})


def main():
    for line in sys.stdin.buffer:
        try:
            msg = json.loads(line)
        except ValueError:
            continue
        if isinstance(msg, dict) and msg.get("type") == "user":
            turn(text_of(msg))
    return 0


if __name__ == "__main__":
    try:
        sys.exit(main())
    except (BrokenPipeError, KeyboardInterrupt):
        sys.exit(0)
