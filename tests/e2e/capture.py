"""capture.py - records transcripts of the real agent CLIs, run directly
(not through our server) against mockllm.py, as JSONL fixtures in
tests/e2e/fixtures/. They feed converter unit tests and fuzz seeds.

    python3 tests/e2e/capture.py [-l] [NAME...]     (default: every scenario)

-l lists the scenarios. Needs the CLIs installed (tests/e2e/setup.sh).

Fixture format: one JSON object per line, {"d": DIR, "m": MESSAGE}:
  ">"  a line written to the agent's stdin (m: the JSON object)
  "<"  a line read from the agent's stdout (m: the parsed JSON, or the text
       if the line was not JSON)
  "!"  a line the agent wrote to stderr (m: text)
stdout lines keep their order; stderr lines are interleaved as they were
read, so their position relative to stdout is approximate.

Machine-specific values are replaced with placeholders: the sandbox's work
directory "@CWD@", HOME "@HOME@", the rest of the temporary tree "@ROOT@",
the mock's port "@PORT@", the host name "@HOST@". Ids, uuids and timestamps
are left as the agents produced them.

Scenarios:
  Claude (claude -p --input-format stream-json --output-format stream-json
  --verbose --include-partial-messages --permission-prompt-tool stdio):
  text, thinking, bash-allow, bash-deny, askuserquestion, image,
  error-500, error-401, error-429 (CLAUDE_CODE_MAX_RETRIES=1), multiturn.
  Codex (codex app-server, model gpt-5.5, JSON-RPC): text, reasoning,
  exec-approval (approvalPolicy untrusted, sandbox workspace-write,
  decision accept), multiturn.
"""

import json
import os
import re
import socket
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)

import e2elib  # noqa: E402
from e2elib import AgentProcess, MockLLM, Sandbox, shell_turn  # noqa: E402

FIXTURES = os.path.join(HERE, "fixtures")

# a 2x2 PNG
PNG_B64 = ("iVBORw0KGgoAAAANSUhEUgAAAAIAAAACCAIAAAD91JpzAAAAEElEQVR4nGP4z8AARAwQCgAf7gP9"
           "i18U1AAAAABJRU5ErkJggg==")

QUESTION = {"questions": [{"question": "Which color should I use?", "header": "Color",
                           "multiSelect": False,
                           "options": [{"label": "Red", "description": "Warm color"},
                                       {"label": "Blue", "description": "Cool color"}]}]}


def user_line(content):
    return {"type": "user", "message": {"role": "user", "content": content},
            "parent_tool_use_id": None, "session_id": ""}


# -- permission policies for Claude's can_use_tool requests

def allow(req):
    return {"behavior": "allow", "updatedInput": req["input"]}


def deny(req):
    return {"behavior": "deny", "message": "User refused: no shell allowed"}


def answer_blue(req):
    inp = dict(req["input"])
    inp["answers"] = {q["question"]: "Blue" for q in inp.get("questions") or []}
    return {"behavior": "allow", "updatedInput": inp}


CLAUDE = {
    "claude-text": dict(
        turns=[{"text": "Hello from the mock model", "chunks": 3}],
        prompts=["Say hello."]),
    "claude-thinking": dict(
        turns=[{"thinking": "The user wants a greeting. I will greet them.",
                "text": "Hello after thinking", "chunks": 2}],
        prompts=["Think, then say hello."]),
    "claude-bash-allow": dict(
        turns=[shell_turn("claude", "echo hi > f.txt"), {"text": "Done: wrote f.txt"}],
        prompts=["Write hi to f.txt."], policy=allow),
    "claude-bash-deny": dict(
        turns=[shell_turn("claude", "echo hi > f.txt"),
               {"text": "Understood, I will not run it."}],
        prompts=["Write hi to f.txt."], policy=deny),
    "claude-askuserquestion": dict(
        turns=[{"tool": "AskUserQuestion", "input": QUESTION},
               {"text": "Thanks, I will use blue."}],
        prompts=["Pick a color with me."], policy=answer_blue),
    "claude-image": dict(
        turns=[{"text": "A tiny red square."}],
        prompts=[[{"type": "image", "source": {"type": "base64", "media_type": "image/png",
                                               "data": PNG_B64}},
                  {"type": "text", "text": "What is in this image?"}]],
        image=True),
    "claude-error-500": dict(
        turns=[{"error": 500, "message": "Internal server error (mock)", "times": 10}],
        prompts=["Say hello."], env={"CLAUDE_CODE_MAX_RETRIES": "1"}),
    "claude-error-401": dict(
        turns=[{"error": 401, "message": "invalid x-api-key (mock)", "times": 10}],
        prompts=["Say hello."], env={"CLAUDE_CODE_MAX_RETRIES": "1"}),
    "claude-error-429": dict(
        turns=[{"error": 429, "message": "rate limited (mock)", "times": 10}],
        prompts=["Say hello."], env={"CLAUDE_CODE_MAX_RETRIES": "1"}),
    "claude-multiturn": dict(
        turns=[{"text": "First answer"}, {"text": "Second answer"}],
        prompts=["first question", [{"type": "text", "text": "second question"}]]),
}

CODEX = {
    "codex-text": dict(
        turns=[{"text": "Hello from the mock model", "chunks": 3}],
        prompts=["say hi"]),
    "codex-reasoning": dict(
        turns=[{"thinking": "Considering how to greet.", "text": "Hello after reasoning"}],
        prompts=["think, then say hi"]),
    "codex-exec-approval": dict(
        turns=[shell_turn("codex", "echo hi > f.txt && cat f.txt"),
               {"text": "Done: wrote f.txt"}],
        prompts=["write hi to f.txt"],
        thread={"approvalPolicy": "untrusted", "sandbox": "workspace-write"},
        decision="accept"),
    "codex-multiturn": dict(
        turns=[{"text": "First answer"}, {"text": "Second answer"}],
        prompts=["first question", "second question"]),
}


class Scrubber:
    """Replaces machine-specific strings inside a JSON value."""

    def __init__(self, sandbox, mock):
        pairs = []
        for path, mark in ((sandbox.work, "@CWD@"), (sandbox.home, "@HOME@"),
                           (sandbox.root, "@ROOT@")):
            pairs.append((os.path.realpath(path), mark))
            pairs.append((path, mark))
        pairs.append(("127.0.0.1:%d" % mock.port, "127.0.0.1:@PORT@"))
        # longest first, so the work dir wins over the root containing it
        self.pairs = sorted(set(pairs), key=lambda p: -len(p[0]))
        # claude names its project dir after the cwd, every character
        # other than a letter or digit turned into '-'
        for path in {os.path.realpath(sandbox.work), sandbox.work}:
            self.pairs.append((re.sub(r"[^A-Za-z0-9]", "-", path), "-@CWD@"))
        self.host = socket.gethostname()

    def text(self, s):
        for old, new in self.pairs:
            s = s.replace(old, new)
        return s

    def __call__(self, v):
        if isinstance(v, str):
            if self.host and v == self.host:
                return "@HOST@"
            return self.text(v)
        if isinstance(v, list):
            return [self(x) for x in v]
        if isinstance(v, dict):
            return {self.text(k): self(x) for k, x in v.items()}
        return v


def run_claude(name, sc, sandbox):
    p = AgentProcess(e2elib.claude_argv(), sandbox.env(sc.get("env")), sandbox.work)
    try:
        results = []
        for prompt in sc["prompts"]:
            p.send(user_line(prompt))
            while True:
                m = p.read(120)
                if m is None:
                    raise AssertionError("%s: claude exited early; stderr %r"
                                         % (name, p.stderr_lines()[-5:]))
                if not isinstance(m, dict):
                    continue
                if m.get("type") == "control_request" and \
                        m["request"].get("subtype") == "can_use_tool":
                    policy = sc.get("policy")
                    if policy is None:
                        raise AssertionError("%s: unexpected permission request" % name)
                    p.send({"type": "control_response", "response": {
                        "subtype": "success", "request_id": m["request_id"],
                        "response": policy(m["request"])}})
                if m.get("type") == "result":
                    results.append(m)
                    break
        rc = p.wait(60)
    finally:
        p.kill()
    return p.transcript, results, rc


def run_codex(name, sc, sandbox):
    p = AgentProcess(e2elib.codex_argv(), sandbox.env(sc.get("env")), sandbox.work)
    ids = iter(range(1, 1000))

    def call(method, params):
        rid = next(ids)
        p.send({"id": rid, "method": method, "params": params})
        while True:
            m = p.read(60)
            if m is None:
                raise AssertionError("%s: codex exited early" % name)
            if isinstance(m, dict) and m.get("id") == rid and "method" not in m:
                if "error" in m:
                    raise AssertionError("%s: %s failed: %r" % (name, method, m["error"]))
                return m["result"]
    try:
        call("initialize", {"clientInfo": {"name": "sandbox-agent-e2e", "title": "e2e",
                                           "version": "0.0.0"},
                            "capabilities": {"experimentalApi": True}})
        p.send({"method": "initialized"})
        params = {"cwd": sandbox.work}
        params.update(sc.get("thread") or {})
        tid = call("thread/start", params)["thread"]["id"]
        turns = []
        for prompt in sc["prompts"]:
            call("turn/start", {"threadId": tid, "input": [
                {"type": "text", "text": prompt, "text_elements": []}]})
            while True:
                m = p.read(120)
                if m is None:
                    raise AssertionError("%s: codex exited mid-turn" % name)
                if not isinstance(m, dict):
                    continue
                if "id" in m and "method" in m:  # a server request
                    if not m["method"].endswith("requestApproval") or "decision" not in sc:
                        raise AssertionError("%s: unexpected server request %r" % (name, m))
                    p.send({"id": m["id"], "result": {"decision": sc["decision"]}})
                if m.get("method") == "turn/completed":
                    turns.append(m["params"]["turn"])
                    break
        rc = p.wait(30)
    finally:
        p.kill()
    return p.transcript, turns, rc


def check(name, outcome):
    """A fixture is only written if the run went the way the scenario
    intends."""
    if name.startswith("claude-error-"):
        return all(r.get("is_error") for r in outcome)
    if name.startswith("claude-"):
        return all(r.get("subtype") == "success" and not r.get("is_error") for r in outcome)
    return all(t.get("status") == "completed" for t in outcome)


def capture(name):
    sc = CLAUDE.get(name) or CODEX[name]
    mock = MockLLM().start()
    sandbox = Sandbox(mock)
    try:
        mock.push(*sc["turns"])
        runner = run_claude if name in CLAUDE else run_codex
        transcript, outcome, rc = runner(name, sc, sandbox)
        if not check(name, outcome):
            raise AssertionError("%s: unexpected outcome %r" % (name, outcome))
        if sc.get("image") and not mock.main_requests()[0].images():
            raise AssertionError("%s: the model request carried no image" % name)
        scrub = Scrubber(sandbox, mock)
        path = os.path.join(FIXTURES, name + ".jsonl")
        with open(path, "w") as f:
            for t in transcript:
                f.write(json.dumps({"d": t["d"], "m": scrub(t["m"])}, ensure_ascii=False) + "\n")
        print("capture: %-24s %3d lines, %d model requests, exit %s"
              % (name, len(transcript), len(mock.main_requests()), rc))
    finally:
        mock.stop()
        sandbox.cleanup()


def main(argv):
    names = list(CLAUDE) + list(CODEX)
    if "-l" in argv:
        print("\n".join(names))
        return 0
    want = [a for a in argv if not a.startswith("-")] or names
    bad = [n for n in want if n not in names]
    if bad:
        print("capture: unknown scenario(s): %s" % " ".join(bad), file=sys.stderr)
        return 2
    os.makedirs(FIXTURES, exist_ok=True)
    failed = 0
    for n in want:
        try:
            capture(n)
        except (AssertionError, TimeoutError) as e:
            failed += 1
            print("capture: %s FAILED: %s" % (n, e), file=sys.stderr)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
