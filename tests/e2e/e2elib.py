"""e2elib.py - helpers for the end-to-end tests: the real agent CLIs
(pinned in package.json, installed by setup.sh) driven through our server
against the mock model server in mockllm.py. Python 3 standard library only.

Environment:
  SANDBOX_AGENT_BIN        the server binary (default: build/sandbox-agent
                           under the repository root)
  SANDBOX_AGENT_TEST_MODE  "rel" or "san" (sanitizer build: timeouts x3)
  E2E_KEEP=1               keep each test's temporary tree (path is printed)

A typical scenario file (tests/e2e/test_<agent>.py):

    import e2elib
    from e2elib import normalize

    class ClaudeText(e2elib.AgentTestCase):
        AGENT = "claude"

        def test_text(self):
            self.mock.push({"text": "Hello there", "chunks": 3})
            sid = self.create_session()
            events = self.turn(sid, "say hello")          # one whole turn
            self.assertIn(("item.completed", ("message", "assistant", "completed",
                           (("text", "Hello there"),))), normalize(events))
            self.assertEqual(self.mock.main_requests()[0].last_user_text(), ...)

AgentTestCase.setUp gives every test a fresh MockLLM (self.mock), a fresh
Sandbox (self.sandbox: HOME, XDG dirs, agent config files, a work dir and
a bin dir of claude/codex/opencode/amp symlinks first on PATH) and our
server started in it (self.server); tearDown stops the server and fails the
test if it did not exit cleanly (exit 0 after SIGTERM, no sanitizer
report). Set SERVER = False to drive a CLI directly (AgentProcess).

Pieces:
  cli_path(agent)          pinned CLI binary; SkipTest only if npm is absent
  Sandbox(mock, ...)       temp tree + config files + env() for the CLIs
  Server(sandbox)          our server on a free port: request()/json(),
                           session helpers (create_session, post_message,
                           events, wait_event, wait_turn, stream_turn,
                           reply_permission, reply_question, reject_question,
                           terminate), stop()/close()
  AgentProcess(argv, ...)  a CLI run directly with line-based JSON stdio and
                           a transcript of {"d": ">"|"<"|"!", "m": ...}
  claude_argv(), codex_argv()  the command lines used for direct runs
  shell_turn(agent, cmd)   a mock turn making the agent's shell tool call
  normalize(events)        (type, key) tuples for exact-sequence asserts
  assistant_text(events), deltas(events), of_type(events, *types)

How each CLI is pointed at the mock (Sandbox writes all of it):
  claude    env ANTHROPIC_BASE_URL=<mock>, ANTHROPIC_API_KEY=sk-test,
            CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC=1, DISABLE_AUTOUPDATER=1
  codex     CODEX_HOME=$HOME/.codex with config.toml: model "gpt-5.5"
            (classic exec_command / apply_patch tools), model_provider
            "mock" = {base_url=<mock>/v1, wire_api="responses",
            env_key="OPENAI_API_KEY"}, features.plugins=false,
            analytics.enabled=false; env OPENAI_API_KEY=sk-test
  opencode  $XDG_CONFIG_HOME/opencode/opencode.json: provider "mock" with
            npm "@ai-sdk/openai-compatible" at <mock>/v1 (Chat Completions),
            model and small_model "mock/mock-model", autoupdate off, share
            disabled; the config dir is pre-seeded with package.json,
            package-lock.json and node_modules/ so OpenCode does not npm
            install its plugin; env OPENCODE_DISABLE_MODELS_FETCH=1,
            OPENCODE_DISABLE_AUTOUPDATE=1, OPENCODE_DISABLE_LSP_DOWNLOAD=1,
            OPENCODE_DISABLE_SHARE=1
  amp       env AMP_URL=<mock>, AMP_API_KEY=sgamp_test,
            AMP_SKIP_UPDATE_CHECK=1 (Amp cannot run a turn offline: the
            mock answers its /api calls per MockLLM(amp=...), so only its
            error paths can be tested)
"""

import http.client
import itertools
import json
import os
import queue
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import unittest

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(os.path.dirname(HERE))
sys.path.insert(0, HERE)

from mockllm import MockLLM  # noqa: E402,F401  (re-exported for test files)

BIN = os.environ.get("SANDBOX_AGENT_BIN") or os.path.join(REPO, "build", "sandbox-agent")
MODE = os.environ.get("SANDBOX_AGENT_TEST_MODE", "rel")
SCALE = 3.0 if MODE == "san" else 1.0
KEEP = os.environ.get("E2E_KEEP") == "1"

AGENTS = ("claude", "codex", "opencode", "amp")
# E2E_NODE_BIN points the tests at other CLI builds (e.g. the newest npm
# versions installed elsewhere) without touching the pinned ones.
NODE_BIN = os.environ.get("E2E_NODE_BIN") or os.path.join(HERE, "node_modules", ".bin")
PACKAGES = {"claude": "@anthropic-ai/claude-code", "codex": "@openai/codex",
            "opencode": "opencode-ai", "amp": "@ampcode/cli"}

TEST_KEY = "sk-test"
AMP_TEST_KEY = "sgamp_test"
CODEX_MODEL = "gpt-5.5"
OPENCODE_MODEL = "mock-model"

SANITIZER_MARKS = ("ERROR: AddressSanitizer", "ERROR: LeakSanitizer",
                   "runtime error:", "ERROR: UndefinedBehaviorSanitizer")

# Inherited variables that would point an agent (or our server) somewhere
# else: dropped from every environment built here.
_DROP_PREFIXES = ("ANTHROPIC_", "CLAUDE_", "OPENAI_", "CODEX_", "OPENCODE_", "AMP_",
                  "SANDBOX_AGENT_", "SANDBOX_TEST_", "XDG_", "NPM_CONFIG_", "npm_")
_DROP = ("HOME", "HTTP_PROXY", "HTTPS_PROXY", "ALL_PROXY", "http_proxy", "https_proxy",
         "all_proxy", "NODE_OPTIONS", "RUST_LOG", "IS_SANDBOX", "DISABLE_AUTOUPDATER")


def scaled(seconds):
    """A timeout adjusted for the build mode (x3 under sanitizers)."""
    return seconds * SCALE


def pinned_versions():
    """{package name: version} from package.json."""
    with open(os.path.join(HERE, "package.json")) as f:
        return dict(json.load(f)["dependencies"])


def npm_available():
    return bool(shutil.which("npm") and shutil.which("node"))


def cli_path(agent):
    """Absolute path of the pinned CLI for agent. Skips the test (with the
    reason printed by run.py) only when npm itself is missing; a missing
    binary with npm present is a failure (setup.sh should have installed
    it)."""
    if agent not in AGENTS:
        raise ValueError("unknown agent %r" % agent)
    p = os.path.join(NODE_BIN, agent)
    if os.path.exists(p):
        return os.path.realpath(p)
    if not npm_available():
        raise unittest.SkipTest("npm/node not available, cannot install the %s CLI "
                                "(tests/deps.sh installs them)" % agent)
    raise AssertionError("%s CLI not installed at %s: run tests/e2e/setup.sh" % (agent, p))


def free_port():
    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    try:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]
    finally:
        s.close()


def base_env():
    """The caller's environment minus anything agent- or server-specific."""
    env = {}
    for k, v in os.environ.items():
        if k in _DROP or k.startswith(_DROP_PREFIXES):
            continue
        env[k] = v
    env["NO_PROXY"] = env["no_proxy"] = "127.0.0.1,localhost"
    return env


# ---------------------------------------------------------------- sandbox

class Sandbox:
    """A fresh temporary tree for one test, with every CLI configured to
    talk only to `mock`:

      root/home   HOME (with .codex, .config, .local/share, .cache, .local/state)
      root/work   the working directory for our server and the agents
      root/bin    symlinks claude, codex, opencode, amp -> pinned binaries
                  (first on PATH)
      root/logs   server and agent logs

    Options:
      retries      None keeps each CLI's default; N sets
                   CLAUDE_CODE_MAX_RETRIES=N and Codex request/stream
                   max retries (useful for error scenarios)
      codex_model  model in config.toml (default gpt-5.5: classic tools;
                   "gpt-6.1-sol" is Codex's code mode)
      opencode_wire "chat" (default, @ai-sdk/openai-compatible),
                   "anthropic" or "responses"
      opencode_permission  dict for opencode.json "permission", e.g.
                   {"bash": "ask", "edit": "ask"}
      extra_env    dict merged last (None values delete)
    """

    def __init__(self, mock, retries=None, codex_model=CODEX_MODEL, opencode_wire="chat",
                 opencode_permission=None, extra_env=None, agents=AGENTS, prefix="sa-e2e-"):
        self.mock = mock
        self.retries = retries
        self.codex_model = codex_model
        self.opencode_wire = opencode_wire
        self.opencode_permission = opencode_permission
        self.extra_env = dict(extra_env or {})
        self.root = tempfile.mkdtemp(prefix=prefix)
        self.home = os.path.join(self.root, "home")
        self.work = os.path.join(self.root, "work")
        self.bin = os.path.join(self.root, "bin")
        self.logs = os.path.join(self.root, "logs")
        self.xdg = {
            "XDG_CONFIG_HOME": os.path.join(self.home, ".config"),
            "XDG_DATA_HOME": os.path.join(self.home, ".local", "share"),
            "XDG_CACHE_HOME": os.path.join(self.home, ".cache"),
            "XDG_STATE_HOME": os.path.join(self.home, ".local", "state"),
        }
        self.codex_home = os.path.join(self.home, ".codex")
        for d in [self.home, self.work, self.bin, self.logs, self.codex_home] + list(self.xdg.values()):
            os.makedirs(d, exist_ok=True)
        self.agents = tuple(agents)
        for a in self.agents:
            target = os.path.join(NODE_BIN, a)
            if os.path.exists(target):
                os.symlink(os.path.realpath(target), os.path.join(self.bin, a))
        self._write_codex()
        self._write_opencode()

    # -- config files
    def _write_codex(self):
        retry = ""
        if self.retries is not None:
            retry = "request_max_retries = %d\nstream_max_retries = %d\n" % (
                self.retries, self.retries)
        text = (
            "# written by tests/e2e/e2elib.py: talk only to the mock model server\n"
            "model = %s\n"
            "model_provider = \"mock\"\n"
            "\n[model_providers.mock]\n"
            "name = \"mock\"\n"
            "base_url = %s\n"
            "wire_api = \"responses\"\n"
            "env_key = \"OPENAI_API_KEY\"\n"
            "%s"
            "\n[features]\nplugins = false\n"
            "\n[analytics]\nenabled = false\n"
        ) % (json.dumps(self.codex_model), json.dumps(self.mock.url + "/v1"), retry)
        self.codex_config = os.path.join(self.codex_home, "config.toml")
        with open(self.codex_config, "w") as f:
            f.write(text)

    def opencode_config_obj(self):
        npm = {"chat": "@ai-sdk/openai-compatible", "anthropic": "@ai-sdk/anthropic",
               "responses": "@ai-sdk/openai"}[self.opencode_wire]
        cfg = {
            "$schema": "https://opencode.ai/config.json",
            "provider": {"mock": {
                "npm": npm, "name": "Mock",
                "options": {"baseURL": self.mock.url + "/v1", "apiKey": TEST_KEY},
                "models": {OPENCODE_MODEL: {
                    "name": "Mock Model", "tool_call": True, "reasoning": False,
                    "limit": {"context": 128000, "output": 8192}}}}},
            "model": "mock/" + OPENCODE_MODEL,
            "small_model": "mock/" + OPENCODE_MODEL,
            "autoupdate": False,
            "share": "disabled",
        }
        if self.opencode_permission:
            cfg["permission"] = dict(self.opencode_permission)
        return cfg

    def _write_opencode(self):
        d = os.path.join(self.xdg["XDG_CONFIG_HOME"], "opencode")
        os.makedirs(os.path.join(d, "node_modules"), exist_ok=True)
        plugin_version = pinned_versions().get("opencode-ai", "")
        # OpenCode npm-installs @opencode-ai/plugin into every config dir
        # unless node_modules exists and the lock lists each dependency.
        with open(os.path.join(d, "package.json"), "w") as f:
            json.dump({"dependencies": {"@opencode-ai/plugin": plugin_version}}, f)
        with open(os.path.join(d, "package-lock.json"), "w") as f:
            json.dump({"lockfileVersion": 3, "packages": {"": {"dependencies": {
                "@opencode-ai/plugin": plugin_version}}}}, f)
        self.opencode_config = os.path.join(d, "opencode.json")
        with open(self.opencode_config, "w") as f:
            json.dump(self.opencode_config_obj(), f, indent=2)

    # -- environment
    def env(self, extra=None):
        """The environment for our server and for the CLIs run directly."""
        env = base_env()
        env["HOME"] = self.home
        env.update(self.xdg)
        env["PATH"] = self.bin + os.pathsep + env.get("PATH", "/usr/bin:/bin")
        # claude
        env["ANTHROPIC_BASE_URL"] = self.mock.url
        env["ANTHROPIC_API_KEY"] = TEST_KEY
        env["CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC"] = "1"
        env["DISABLE_AUTOUPDATER"] = "1"
        if self.retries is not None:
            env["CLAUDE_CODE_MAX_RETRIES"] = str(self.retries)
        # codex
        env["CODEX_HOME"] = self.codex_home
        env["OPENAI_API_KEY"] = TEST_KEY
        # opencode
        env["OPENCODE_DISABLE_MODELS_FETCH"] = "1"
        env["OPENCODE_DISABLE_AUTOUPDATE"] = "1"
        env["OPENCODE_DISABLE_LSP_DOWNLOAD"] = "1"
        env["OPENCODE_DISABLE_SHARE"] = "1"
        # amp
        env["AMP_URL"] = self.mock.url
        env["AMP_API_KEY"] = AMP_TEST_KEY
        env["AMP_SKIP_UPDATE_CHECK"] = "1"
        for src in (self.extra_env, extra or {}):
            for k, v in src.items():
                if v is None:
                    env.pop(k, None)
                else:
                    env[k] = v
        return env

    def path(self, *parts):
        """A path inside the work directory."""
        return os.path.join(self.work, *parts)

    def processes(self):
        """Pids of live processes whose working directory is inside this
        sandbox (agents and whatever they started)."""
        out = []
        for d in os.listdir("/proc"):
            if not d.isdigit() or int(d) == os.getpid():
                continue
            try:
                cwd = os.readlink("/proc/%s/cwd" % d)
            except OSError:
                continue
            if cwd == self.root or cwd.startswith(self.root + os.sep):
                out.append(int(d))
        return out

    def kill_strays(self):
        """Kills processes left running in the sandbox (an agent our server
        failed to reap must not outlive the test). Returns their pids."""
        pids = self.processes()
        for pid in pids:
            try:
                os.kill(pid, signal.SIGKILL)
            except OSError:
                pass
        return pids

    def cleanup(self):
        strays = self.kill_strays()
        if strays:
            print("e2e: killed %d process(es) left in %s: %s" % (
                len(strays), self.root, strays), flush=True)
        if KEEP:
            print("e2e: kept %s" % self.root, flush=True)
            return
        shutil.rmtree(self.root, ignore_errors=True)


# ---------------------------------------------------------------- our server

_session_numbers = itertools.count(1)


class ServerError(AssertionError):
    pass


class Response:
    def __init__(self, status, headers, body):
        self.status = status
        self.headers = headers  # lowercase name -> value
        self.body = body        # bytes

    def json(self):
        return json.loads(self.body.decode("utf-8")) if self.body else None

    def __repr__(self):
        return "<Response %d %r>" % (self.status, self.body[:300])


class Server:
    """Our server binary on 127.0.0.1:<free port>, run in sandbox.work with
    sandbox.env() (so the agents it spawns find the pinned CLIs first on
    PATH and talk to the mock). stdout+stderr go to sandbox.logs/server.log.
    """

    def __init__(self, sandbox, args=(), env=None, token=None, start_timeout=15):
        self.sandbox = sandbox
        self.args = list(args)
        self.extra_env = dict(env or {})
        self.token = token
        self.start_timeout = start_timeout
        self.proc = None
        self.port = None
        self.log_path = os.path.join(sandbox.logs, "server.log")
        self._log = None

    def start(self):
        if not os.path.isfile(BIN) or not os.access(BIN, os.X_OK):
            raise ServerError("server binary not found or not executable: %r "
                              "(set SANDBOX_AGENT_BIN)" % BIN)
        env = self.sandbox.env(self.extra_env)
        env.setdefault("SANDBOX_AGENT_LOG_STDOUT", "1")
        env.setdefault("SANDBOX_AGENT_LOG_HTTP", "0")
        if MODE == "san":
            env.setdefault("ASAN_OPTIONS", "abort_on_error=0:detect_leaks=1")
            env.setdefault("UBSAN_OPTIONS", "print_stacktrace=1:halt_on_error=1")
        for attempt in range(3):  # a port taken between probe and bind: retry
            self.port = free_port()
            argv = [BIN]
            if self.token:
                argv += ["--token", self.token]
            argv += ["server", "--host", "127.0.0.1", "--port", str(self.port)] + self.args
            self._log = open(self.log_path, "ab")
            self.proc = subprocess.Popen(argv, env=env, cwd=self.sandbox.work,
                                         stdin=subprocess.DEVNULL, stdout=self._log,
                                         stderr=subprocess.STDOUT, start_new_session=True)
            if self._wait_ready(scaled(self.start_timeout)):
                return self
            self._kill()
        raise ServerError("server did not become ready on /v1/health\n%s" % self.log_tail())

    def _wait_ready(self, timeout):
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                return False
            try:
                r = self.request("GET", "/v1/health", timeout=2)
                if r.status == 200:
                    return True
            except OSError:
                pass
            time.sleep(0.05)
        return False

    def log_tail(self, n=8000):
        try:
            with open(self.log_path, "rb") as f:
                data = f.read()
        except OSError:
            return ""
        return data[-n:].decode("utf-8", "replace")

    def alive(self):
        return self.proc is not None and self.proc.poll() is None

    def _kill(self):
        if self.proc is not None and self.proc.poll() is None:
            try:
                os.killpg(self.proc.pid, signal.SIGKILL)
            except OSError:
                pass
            self.proc.wait(10)
        if self._log:
            self._log.close()
            self._log = None

    def stop(self, timeout=10):
        """SIGTERM, then waits; returns the exit code (None if it had to be
        killed). Agent processes left in the server's process group are
        killed afterwards either way."""
        if self.proc is None:
            return None
        rc = self.proc.poll()
        if rc is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                rc = self.proc.wait(scaled(timeout))
            except subprocess.TimeoutExpired:
                rc = None
        try:
            os.killpg(self.proc.pid, signal.SIGKILL)  # stray agents
        except OSError:
            pass
        self._kill()
        return rc

    def close(self):
        """Teardown check: the server must still be running, exit 0 after
        SIGTERM and leave no sanitizer report in its log."""
        if self.proc is None:
            return
        was_alive = self.alive()
        early_rc = self.proc.poll()
        rc = self.stop()
        self.proc = None
        log = self.log_tail(200000)
        if not was_alive:
            raise ServerError("server died during the test (exit %r)\n%s"
                              % (early_rc, log[-6000:]))
        if rc is None:
            raise ServerError("server did not exit within %.0fs of SIGTERM\n%s"
                              % (scaled(10), log[-6000:]))
        if rc != 0:
            raise ServerError("server exited %d after SIGTERM\n%s" % (rc, log[-6000:]))
        for mark in SANITIZER_MARKS:
            if mark in log:
                raise ServerError("sanitizer report in server log:\n" + log[-8000:])

    # -- HTTP
    @property
    def url(self):
        return "http://127.0.0.1:%d" % self.port

    def _headers(self, headers):
        h = {"Accept": "application/json"}
        if self.token:
            h["Authorization"] = "Bearer " + self.token
        h.update(headers or {})
        return h

    def request(self, method, path, body=None, headers=None, timeout=30):
        """One request; body may be bytes, str or a JSON-able object.
        Returns a Response."""
        h = self._headers(headers)
        if body is not None and not isinstance(body, (bytes, str)):
            body = json.dumps(body)
            h.setdefault("Content-Type", "application/json")
        if isinstance(body, str):
            body = body.encode()
        c = http.client.HTTPConnection("127.0.0.1", self.port, timeout=scaled(timeout))
        try:
            c.request(method, path, body=body, headers=h)
            r = c.getresponse()
            data = r.read()
            return Response(r.status, {k.lower(): v for k, v in r.getheaders()}, data)
        finally:
            c.close()

    def json(self, method, path, obj=None, expect=200, timeout=30):
        """request() + status check (expect: int or tuple) + parsed body."""
        r = self.request(method, path, obj, timeout=timeout)
        ok = expect if isinstance(expect, (tuple, list)) else (expect,)
        if r.status not in ok:
            raise AssertionError("%s %s -> %d (wanted %s): %s" % (
                method, path, r.status, expect, r.body[:1000].decode("utf-8", "replace")))
        return r.json()

    # -- sessions
    def create_session(self, agent, session_id=None, expect=200, **fields):
        """POST /v1/sessions/{id}; fields are CreateSessionRequest keys
        (agentMode, permissionMode, model, ...). Returns the session id."""
        sid = session_id or "%s-%d-%d" % (agent, os.getpid(), next(_session_numbers))
        body = dict(fields)
        body["agent"] = agent
        self.json("POST", "/v1/sessions/%s" % sid, body, expect=expect, timeout=120)
        return sid

    def post_message(self, sid, text, attachments=None, expect=204):
        body = {"message": text}
        if attachments is not None:
            body["attachments"] = attachments
        r = self.request("POST", "/v1/sessions/%s/messages" % sid, body, timeout=120)
        if expect is not None and r.status != expect:
            raise AssertionError("post_message -> %d: %s" % (r.status, r.body[:1000]))
        return r

    def events(self, sid, offset=0, include_raw=False):
        """All stored events with sequence > offset."""
        q = "?offset=%d" % offset + ("&include_raw=true" if include_raw else "")
        return self.json("GET", "/v1/sessions/%s/events%s" % (sid, q))["events"]

    def wait_event(self, sid, pred, timeout=60, offset=0, include_raw=False):
        """Polls events until one satisfies pred(event). Returns (event,
        events after offset up to and including it). On timeout raises
        AssertionError with the events seen and the server log tail."""
        deadline = time.monotonic() + scaled(timeout)
        seen = []
        while True:
            seen = self.events(sid, offset, include_raw)
            for i, e in enumerate(seen):
                if pred(e):
                    return e, seen[:i + 1]
            if not self.alive():
                raise ServerError("server died while waiting\n%s" % self.log_tail())
            if time.monotonic() > deadline:
                raise AssertionError("no matching event within %.0fs; got %d events:\n%s\n"
                                     "--- server log:\n%s" % (
                                         scaled(timeout), len(seen),
                                         "\n".join(describe(e) for e in seen[-40:]),
                                         self.log_tail(4000)))
            time.sleep(0.1)

    def wait_type(self, sid, *types, timeout=60, offset=0):
        """wait_event for the first event whose type is one of types."""
        return self.wait_event(sid, lambda e: e["type"] in types, timeout, offset)

    def wait_turn(self, sid, offset=0, timeout=90):
        """Waits for the end of a turn (turn.ended, session.ended or
        error) and returns the events after offset up to it."""
        return self.wait_type(sid, "turn.ended", "session.ended", "error",
                              timeout=timeout, offset=offset)[1]

    def last_sequence(self, sid):
        ev = self.events(sid)
        return ev[-1]["sequence"] if ev else 0

    def turn(self, sid, text, timeout=90, attachments=None):
        """post_message + wait_turn; returns the events of this turn."""
        offset = self.last_sequence(sid)
        self.post_message(sid, text, attachments)
        return self.wait_turn(sid, offset, timeout)

    def stream_turn(self, sid, text, timeout=90, attachments=None, include_raw=False):
        """POST .../messages/stream and reads the SSE response until the
        server ends it. Returns the events. Raises AssertionError on a
        non-200 answer, or if no event arrives for `timeout` seconds."""
        body = {"message": text}
        if attachments is not None:
            body["attachments"] = attachments
        path = "/v1/sessions/%s/messages/stream" % sid
        if include_raw:
            path += "?include_raw=true"
        h = self._headers({"Content-Type": "application/json", "Accept": "text/event-stream"})
        c = http.client.HTTPConnection("127.0.0.1", self.port, timeout=scaled(timeout))
        try:
            c.request("POST", path, body=json.dumps(body).encode(), headers=h)
            r = c.getresponse()
            if r.status != 200:
                raise AssertionError("stream_turn -> %d: %s" % (r.status, r.read()[:1000]))
            return list(read_sse(r))
        finally:
            c.close()

    def reply_permission(self, sid, pid, reply="once", expect=204):
        r = self.request("POST", "/v1/sessions/%s/permissions/%s/reply" % (sid, pid),
                         {"reply": reply})
        if expect is not None and r.status != expect:
            raise AssertionError("reply_permission -> %d: %s" % (r.status, r.body[:1000]))
        return r

    def reply_question(self, sid, qid, answers, expect=204):
        """answers: [["label"], ...] (one inner list per question)."""
        r = self.request("POST", "/v1/sessions/%s/questions/%s/reply" % (sid, qid),
                         {"answers": answers})
        if expect is not None and r.status != expect:
            raise AssertionError("reply_question -> %d: %s" % (r.status, r.body[:1000]))
        return r

    def reject_question(self, sid, qid, expect=204):
        r = self.request("POST", "/v1/sessions/%s/questions/%s/reject" % (sid, qid))
        if expect is not None and r.status != expect:
            raise AssertionError("reject_question -> %d: %s" % (r.status, r.body[:1000]))
        return r

    def terminate(self, sid, expect=204):
        r = self.request("POST", "/v1/sessions/%s/terminate" % sid)
        if expect is not None and r.status != expect:
            raise AssertionError("terminate -> %d: %s" % (r.status, r.body[:1000]))
        return r

    def sessions(self):
        return self.json("GET", "/v1/sessions")["sessions"]

    def agents(self):
        return {a["id"]: a for a in self.json("GET", "/v1/agents", timeout=120)["agents"]}


def read_sse(resp):
    """Yields the parsed JSON of each `data:` event of an http.client
    response until the stream ends."""
    data = []
    while True:
        line = resp.readline()
        if not line:
            break
        line = line.decode("utf-8").rstrip("\r\n")
        if line == "":
            if data:
                text = "\n".join(data)
                data = []
                try:
                    yield json.loads(text)
                except ValueError:
                    yield text
            continue
        if line.startswith(":"):
            continue
        field, _, value = line.partition(":")
        if value.startswith(" "):
            value = value[1:]
        if field == "data":
            data.append(value)
    if data:
        yield json.loads("\n".join(data))


# ---------------------------------------------------------------- direct runs

def claude_argv(*extra, partial=True, prompt_tool=True):
    """The bidirectional stream-json command line (what our server runs,
    minus session flags)."""
    argv = [cli_path("claude"), "-p", "--input-format", "stream-json",
            "--output-format", "stream-json", "--verbose"]
    if partial:
        argv.append("--include-partial-messages")
    if prompt_tool:
        argv += ["--permission-prompt-tool", "stdio"]
    return argv + list(extra)


def codex_argv(*extra):
    """codex app-server (provider and model come from config.toml)."""
    return [cli_path("codex"), "app-server"] + list(extra)


class AgentProcess:
    """A CLI run directly with newline-delimited JSON on stdin/stdout.
    Every line written or read is kept in .transcript as {"d": ">"|"<"|"!",
    "m": parsed JSON or text} (">" stdin, "<" stdout, "!" stderr)."""

    def __init__(self, argv, env, cwd):
        self.argv = list(argv)
        self.proc = subprocess.Popen(argv, env=env, cwd=cwd, stdin=subprocess.PIPE,
                                     stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                     start_new_session=True)
        self.transcript = []
        self._lock = threading.Lock()
        self._out = queue.Queue()
        self._t_out = threading.Thread(target=self._pump, args=(self.proc.stdout, "<"),
                                       daemon=True)
        self._t_err = threading.Thread(target=self._pump, args=(self.proc.stderr, "!"),
                                       daemon=True)
        self._t_out.start()
        self._t_err.start()

    def _note(self, d, m):
        with self._lock:
            self.transcript.append({"d": d, "m": m})

    def _pump(self, f, d):
        for raw in iter(f.readline, b""):
            text = raw.decode("utf-8", "replace").rstrip("\r\n")
            try:
                m = json.loads(text)
            except ValueError:
                m = text
            if d == "!" and text == "":
                continue
            self._note(d, m)
            if d == "<":
                self._out.put(m)
        if d == "<":
            self._out.put(None)  # EOF marker

    def send(self, obj):
        """Writes one JSON line to stdin."""
        line = json.dumps(obj) if not isinstance(obj, str) else obj
        self._note(">", obj)
        self.proc.stdin.write(line.encode() + b"\n")
        self.proc.stdin.flush()

    def read(self, timeout=30):
        """Next stdout line (parsed) or None at EOF; TimeoutError if none
        arrives within timeout (scaled)."""
        try:
            m = self._out.get(timeout=scaled(timeout))
        except queue.Empty:
            raise TimeoutError("no output from %s within %ss" % (
                os.path.basename(self.argv[0]), scaled(timeout)))
        if m is None:
            self._out.put(None)
        return m

    def read_until(self, pred, timeout=60):
        """Reads lines until pred(line) holds; returns [lines...] with the
        matching one last. AssertionError at EOF or timeout."""
        got = []
        deadline = time.monotonic() + scaled(timeout)
        while True:
            left = deadline - time.monotonic()
            if left <= 0:
                raise AssertionError("timeout waiting for a line; last lines: %r" % got[-5:])
            try:
                m = self._out.get(timeout=left)
            except queue.Empty:
                continue
            if m is None:
                self._out.put(None)
                raise AssertionError("EOF waiting for a line; last lines: %r\nstderr: %r" % (
                    got[-5:], self.stderr_lines()[-10:]))
            got.append(m)
            if pred(m):
                return got

    def stderr_lines(self):
        with self._lock:
            return [t["m"] for t in self.transcript if t["d"] == "!"]

    def close_stdin(self):
        try:
            self.proc.stdin.close()
        except OSError:
            pass

    def wait(self, timeout=30):
        """Waits for exit (after closing stdin); returns the exit code.
        Kills the process group on timeout and returns None."""
        self.close_stdin()
        try:
            rc = self.proc.wait(scaled(timeout))
        except subprocess.TimeoutExpired:
            self.kill()
            rc = None
        self._t_out.join(5)
        self._t_err.join(5)
        self._close_pipes()
        return rc

    def _close_pipes(self):
        for f in (self.proc.stdin, self.proc.stdout, self.proc.stderr):
            try:
                f.close()
            except (OSError, ValueError):
                pass

    def kill(self):
        """Kills the process group and closes the pipes."""
        try:
            os.killpg(self.proc.pid, signal.SIGKILL)  # the CLI and anything it started
        except OSError:
            pass
        try:
            self.proc.wait(10)
        except subprocess.TimeoutExpired:
            pass
        self._t_out.join(5)
        self._t_err.join(5)
        self._close_pipes()


# ---------------------------------------------------------------- scripting

def shell_turn(agent, command, **extra):
    """A mock turn in which the model calls the agent's shell tool."""
    if agent == "claude":
        turn = {"tool": "Bash", "input": {"command": command,
                                          "description": "Run a shell command"}}
    elif agent == "codex":
        turn = {"tool": "exec_command", "input": {"cmd": command}}
    elif agent == "opencode":
        turn = {"tool": "bash", "input": {"command": command,
                                          "description": "Run a shell command"}}
    else:
        raise ValueError("no shell tool scripted for %r" % agent)
    turn.update(extra)
    return turn


# ---------------------------------------------------------------- event helpers

def _content_key(part):
    t = part.get("type")
    if t == "text":
        return ("text", part.get("text"))
    if t == "reasoning":
        return ("reasoning", part.get("text"))
    if t == "tool_call":
        return ("tool_call", part.get("name"))
    if t == "tool_result":
        return ("tool_result",)
    if t == "file_ref":
        return ("file_ref", part.get("action"), os.path.basename(part.get("path") or ""))
    if t == "image":
        return ("image", part.get("mime"))
    if t == "status":
        return ("status", part.get("label"))
    return (t,)


def event_key(e):
    """The key data of one universal event (see normalize)."""
    t = e.get("type")
    d = e.get("data") or {}
    if t in ("item.started", "item.completed"):
        it = d.get("item") or {}
        return (it.get("kind"), it.get("role"), it.get("status"),
                tuple(_content_key(p) for p in it.get("content") or []))
    if t == "item.delta":
        return d.get("delta")
    if t == "session.ended":
        return d.get("reason")
    if t == "error":
        return d.get("code") or d.get("message")
    if t in ("permission.requested", "permission.resolved"):
        return (d.get("action"), d.get("status"))
    if t in ("question.requested", "question.resolved"):
        return (d.get("prompt"), d.get("status"))
    if t == "agent.unparsed":
        return d.get("location")
    return None


def normalize(events, collapse_deltas=True, drop=()):
    """Turns universal events into (type, key) tuples for exact-sequence
    assertions:

      session.started / turn.*   (type, None)
      session.ended              (type, reason)
      item.started/.completed    (type, (kind, role, status, parts)) with
                                 parts: ("text", t) ("reasoning", t)
                                 ("tool_call", name) ("tool_result",)
                                 ("file_ref", action, basename)
                                 ("image", mime) ("status", label)
      item.delta                 (type, delta text); with collapse_deltas
                                 consecutive deltas of one item are merged
                                 into one tuple (agents may re-chunk)
      error                      (type, code or message)
      permission.*               (type, (action, status))
      question.*                 (type, (prompt, status))
      agent.unparsed             (type, location)

    drop: event types to leave out."""
    out = []
    last_delta_item = None
    for e in events:
        t = e.get("type")
        if t in drop:
            continue
        if t == "item.delta" and collapse_deltas:
            item = (e.get("data") or {}).get("item_id")
            if out and last_delta_item == item and out[-1][0] == "item.delta":
                out[-1] = ("item.delta", out[-1][1] + (e["data"].get("delta") or ""))
                continue
            last_delta_item = item
        else:
            last_delta_item = None
        out.append((t, event_key(e)))
    return out


def of_type(events, *types):
    return [e for e in events if e.get("type") in types]


def deltas(events):
    """{item_id: concatenated delta text}."""
    out = {}
    for e in of_type(events, "item.delta"):
        d = e["data"]
        out[d["item_id"]] = out.get(d["item_id"], "") + (d.get("delta") or "")
    return out


def assistant_text(events):
    """Concatenated text of completed assistant message items."""
    parts = []
    for e in of_type(events, "item.completed"):
        it = e["data"]["item"]
        if it.get("kind") == "message" and it.get("role") == "assistant":
            parts.extend(p.get("text", "") for p in it.get("content") or []
                         if p.get("type") == "text")
    return "".join(parts)


def describe(e):
    """One short line for an event (failure messages)."""
    return "%5s %-22s %s" % (e.get("sequence"), e.get("type"),
                             json.dumps(event_key(e))[:160])


# ---------------------------------------------------------------- test base

class AgentTestCase(unittest.TestCase):
    """Base class for per-agent scenario tests. Class attributes:

      AGENT        "claude" | "codex" | "opencode" | "amp" (required)
      SERVER       start our server (default True)
      SANDBOX      dict of Sandbox options (retries, opencode_permission...)
      MOCK         dict of MockLLM options (default, amp, ...)
      SERVER_ARGS  extra `server` arguments

    Gives self.mock, self.sandbox, self.server and shortcuts
    create_session(), turn(), stream_turn(), wait_type(), events()."""

    AGENT = None
    SERVER = True
    SANDBOX = {}
    MOCK = {}
    SERVER_ARGS = ()
    maxDiff = None

    def setUp(self):
        if not self.AGENT:
            raise unittest.SkipTest("AGENT not set")
        self.cli = cli_path(self.AGENT)
        self.mock = MockLLM(**self.MOCK).start()
        self.addCleanup(self.mock.stop)
        self.sandbox = Sandbox(self.mock, **self.SANDBOX)
        self.addCleanup(self.sandbox.cleanup)
        self.server = None
        if self.SERVER:
            self.server = Server(self.sandbox, self.SERVER_ARGS).start()
            self.addCleanup(self.server.close)

    def create_session(self, session_id=None, **fields):
        return self.server.create_session(self.AGENT, session_id, **fields)

    def turn(self, sid, text, timeout=90, **kw):
        return self.server.turn(sid, text, timeout, **kw)

    def stream_turn(self, sid, text, timeout=90, **kw):
        return self.server.stream_turn(sid, text, timeout, **kw)

    def wait_type(self, sid, *types, timeout=60, offset=0):
        return self.server.wait_type(sid, *types, timeout=timeout, offset=offset)

    def events(self, sid, offset=0):
        return self.server.events(sid, offset)

    def run_direct(self, argv, **env):
        """An AgentProcess for a CLI run directly in the sandbox (killed at
        cleanup)."""
        p = AgentProcess(argv, self.sandbox.env(env), self.sandbox.work)
        self.addCleanup(p.kill)
        return p
