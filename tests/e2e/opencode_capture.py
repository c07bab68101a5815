"""opencode_capture.py - records the event stream of the pinned `opencode
serve` (GET /global/event) for a few scenarios, driven directly (not
through our server) against mockllm.py, and writes them as unit-test
fixtures for tests/unit/test_opencode.c:

    python3 tests/e2e/opencode_capture.py [-l] [NAME...]

Fixture format (tests/unit/fixtures/opencode/NAME.jsonl), one line each:
    #session <id>          the OpenCode session the events belong to
    #> <text>              the client sent this prompt
    #perm once|always|reject   the client answered the newest permission
    #answer <json>         the client answered the newest question
    #reject                the client rejected the newest question
    <json>                 one SSE data payload as received
The sandbox path is replaced by /sandbox. Python 3 standard library only.
"""

import base64
import http.client
import json
import os
import struct
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.parse
import urllib.request
import zlib

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
import e2elib  # noqa: E402

OUT = os.path.join(os.path.dirname(HERE), "unit", "fixtures", "opencode")
NOISE = {"plugin.added", "catalog.updated", "reference.updated", "integration.updated",
         "project.updated", "file.watcher.updated", "sync", "server.heartbeat"}


def png_1x1():
    def chunk(t, d):
        return struct.pack(">I", len(d)) + t + d + struct.pack(">I", zlib.crc32(t + d) & 0xffffffff)
    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", 1, 1, 8, 2, 0, 0, 0)) +
            chunk(b"IDAT", zlib.compress(b"\x00\xff\x00\x00")) + chunk(b"IEND", b""))


class Serve:
    """opencode serve with its global event stream recorded."""

    def __init__(self, sandbox):
        self.sandbox = sandbox
        env = sandbox.env({"OPENCODE_SERVER_PASSWORD": "capture"})
        self.port = e2elib.free_port()
        self.proc = subprocess.Popen(
            [e2elib.cli_path("opencode"), "serve", "--hostname", "127.0.0.1", "--port",
             str(self.port)], env=env, cwd=sandbox.work, stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL, start_new_session=True)
        line = self.proc.stdout.readline()
        if b"listening" not in line:
            raise RuntimeError("opencode serve did not start: %r" % line)
        self.auth = "Basic " + base64.b64encode(b"opencode:capture").decode()
        self.events = []
        self.lock = threading.Lock()
        threading.Thread(target=self._sse, daemon=True).start()
        time.sleep(0.5)

    def _sse(self):
        c = http.client.HTTPConnection("127.0.0.1", self.port, timeout=3600)
        c.request("GET", "/global/event", headers={"Authorization": self.auth,
                                                   "Accept": "text/event-stream"})
        r = c.getresponse()
        while True:
            line = r.fp.readline()
            if not line:
                return
            line = line.decode("utf-8").rstrip("\r\n")
            if line.startswith("data:"):
                with self.lock:
                    self.events.append(("ev", line[5:].lstrip(" ")))

    def note(self, text):
        with self.lock:
            self.events.append(("note", text))

    def request(self, method, path, body=None):
        q = ("&" if "?" in path else "?") + "directory=" + urllib.parse.quote(self.sandbox.work)
        r = urllib.request.Request(
            "http://127.0.0.1:%d%s%s" % (self.port, path, q), method=method,
            data=json.dumps(body).encode() if body is not None else None,
            headers={"Authorization": self.auth, "Content-Type": "application/json"})
        try:
            with urllib.request.urlopen(r, timeout=60) as f:
                return f.status, f.read()
        except urllib.error.HTTPError as e:
            return e.code, e.read()

    def wait(self, pred, timeout=60):
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            with self.lock:
                evs = [json.loads(d) for k, d in self.events if k == "ev"]
            for e in evs:
                p = e.get("payload", e)
                if pred(p.get("type"), p.get("properties") or {}):
                    return p
            time.sleep(0.05)
        raise TimeoutError("no matching event")

    def stop(self):
        os.killpg(self.proc.pid, 9)
        self.proc.wait()


def run(name, serve, mock, turns, prompt, steps=(), files=()):
    mock.reset()
    mock.push(*turns)
    start = len(serve.events)
    st, body = serve.request("POST", "/session", {})
    sid = json.loads(body)["id"]
    parts = [{"type": "text", "text": prompt}] + list(files)
    serve.note("#> " + prompt)
    serve.request("POST", "/session/%s/prompt_async" % sid, {"parts": parts})
    for step in steps:
        step(serve, sid)
    serve.wait(lambda t, p: t == "session.idle" and p.get("sessionID") == sid)
    time.sleep(0.5)
    with serve.lock:
        got = serve.events[start:]
    root = serve.sandbox.root
    lines = ["#session " + sid]
    noise = 0
    for kind, data in got:
        if kind == "note":
            lines.append(data)
            continue
        p = json.loads(data)
        p = p.get("payload", p)
        if p.get("type") in NOISE:
            noise += 1
            if noise > 2:
                continue
        lines.append(data.replace(root, "/sandbox"))
    with open(os.path.join(OUT, name + ".jsonl"), "w") as f:
        f.write("\n".join(lines) + "\n")
    print("%s: %d lines" % (name, len(lines)))


def perm(reply):
    def step(serve, sid):
        p = serve.wait(lambda t, q: t == "permission.asked" and q.get("sessionID") == sid)
        serve.note("#perm " + reply)
        serve.request("POST", "/permission/%s/reply" % p["properties"]["id"], {"reply": reply})
    return step


def question(answers):
    def step(serve, sid):
        p = serve.wait(lambda t, q: t == "question.asked" and q.get("sessionID") == sid)
        qid = p["properties"]["id"]
        if answers is None:
            serve.note("#reject")
            serve.request("POST", "/question/%s/reject" % qid)
        else:
            serve.note("#answer " + json.dumps(answers))
            serve.request("POST", "/question/%s/reply" % qid, {"answers": answers})
    return step


QUESTION = {"questions": [{"question": "Which color?", "header": "Color", "options": [
    {"label": "red", "description": "Red"}, {"label": "blue", "description": "Blue"}]}]}


def scenarios(sb):
    shell = lambda c: e2elib.shell_turn("opencode", c)  # noqa: E731
    with open(os.path.join(sb.work, "notes.txt"), "w") as f:
        f.write("some notes\n")
    with open(os.path.join(sb.work, "img.png"), "wb") as f:
        f.write(png_1x1())
    return {
        "g-bash-reject": ([shell("rm -f nothing.txt"), {"text": "Done"}], "run it", [perm("reject")], ()),
        "g-bash-always": ([shell("echo a"), shell("echo b"), {"text": "Done"}], "run it",
                          [perm("always")], ()),
        "g-question-reject": ([{"tool": "question", "input": QUESTION}, {"text": "Thanks"}],
                              "ask me", [question(None)], ()),
        "g-write": ([{"tool": "write", "input": {"filePath": os.path.join(sb.work, "new.txt"),
                                                 "content": "hello\n"}}, {"text": "Wrote"}],
                    "write a file", [perm("once")], ()),
        "g-files": ([{"text": "Seen"}], "look at these", [], (
            {"type": "file", "mime": "text/plain", "filename": "notes.txt",
             "url": "file://" + os.path.join(sb.work, "notes.txt")},
            {"type": "file", "mime": "image/png", "filename": "img.png",
             "url": "file://" + os.path.join(sb.work, "img.png")})),
        "g-reasoning": ([{"thinking": "Let me think.", "text": "Answer", "chunks": 3}], "think",
                        [], ()),
    }


def main(argv):
    names = [a for a in argv if not a.startswith("-")]
    mock = e2elib.MockLLM().start()
    sb = e2elib.Sandbox(mock, opencode_permission={"bash": "ask", "edit": "ask"})
    serve = Serve(sb)
    try:
        table = scenarios(sb)
        if "-l" in argv:
            print("\n".join(sorted(table)))
            return 0
        for name in sorted(table):
            if names and name not in names:
                continue
            turns, prompt, steps, files = table[name]
            run(name, serve, mock, turns, prompt, steps, files)
    finally:
        serve.stop()
        mock.stop()
        sb.cleanup()
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
