"""fake_claude.py - a stand-in for the `claude` CLI in bidirectional
stream-json mode, for the integration tests of process supervision
(test_fake_agents.py). Python 3 standard library only.

It reads stream-json lines on stdin and answers on stdout the way
`claude -p --input-format stream-json --output-format stream-json
--verbose --include-partial-messages --permission-prompt-tool stdio`
does. What it does for a user message is chosen by the message text:

  wait <file> <message>    waits for <file> to exist (writing nothing),
                           then acts on <message>
  reply <text>             one assistant message streamed word by word
                           (each delta is a word plus its following space)
  crash [N [E [nonl]]]     N text deltas "d<i> " (default 1), with nonl
                           one more delta "unterminated" without its
                           newline, E stderr lines (default 5), then exit
                           status 3 mid-turn
  crash-escaped-child      a delta, then starts `sleep 300` in a new
                           session (out of our process group) that keeps
                           our stdout open, and exits status 3
  permission               a Bash tool_use "toolu_<pid>_<n>" and a
                           can_use_tool control request "req_<pid>_<n>"
                           (n counts messages); the control_response
                           decides the reply, "allowed" or "denied"
  close-stdin              closes its stdin, replies "closing stdin" and
                           sleeps (until a signal ends it)
  stderr-flood L W         L stderr lines of W bytes, then replies "flooded"
  bytes                    lines with invalid UTF-8 and NUL bytes, a delta
                           with non-ASCII text, then the message "done"
  garbage                  unparseable lines, then a normal reply "after garbage"
  longline <go-file>       a 9 MB line (9 MB of 'x', no newline), then
                           waits for <go-file> to exist, ends the line,
                           and replies "after longline"
  longline-utf8 <go-file>  the same with "x" and then 2-byte characters
  ignore-term              ignores SIGTERM, starts `sleep 300` (also
                           ignoring SIGTERM) in its process group, replies
                           "ignoring", and never exits on its own (not even
                           at the end of stdin)
  hang                     starts `sleep 300` in its process group, writes
                           the delta "before-hang " and never finishes the
                           turn; on an interrupt, the end of stdin or
                           SIGTERM it writes late lines (a delta "late-*",
                           a message and a result); SIGTERM then exits 143
  spawn-child              starts `sleep 300` in its process group and
                           replies "spawned"
  burst N                  N text deltas "<i>," written as fast as possible,
                           then the complete message and the result
  exit0                    a delta, then exit status 0 mid-turn
  silent-exit              one stderr line and exit status 3 before
                           writing anything on stdout
  edge <n>                 a text delta line of exactly n bytes (its text
                           is 'y' padding), then "edge" as the message
  (anything else)          reply with the text itself

What it records: every process appends JSON lines to the file named by
$FAKE_CLAUDE_PIDFILE (a relative name is relative to the working
directory, i.e. the session's directory):
  {"role": "agent", "pid", "pgid", "argv", "cwd", "tag": $FAKE_CLAUDE_TAG,
   "is_sandbox": $IS_SANDBOX, "mcp": {"path", "mode", "config"} of the
   --mcp-config file or null}                          at start
  {"role": "child", "pid", "pgid"}                     each process it starts
  {"role": "stdin", "pid", "line"}                     each user message,
                                                       control request and
                                                       control response read
  {"role": "mark", "pid", "what": "longline-written"}  the long line is out
  {"role": "mark", "pid", "what": "late"}              late lines follow
Records are written before the output they describe, so a test that sees
an event may read them.

The native session id is "fake-<pid of the first process>" or, with
--resume <id>, that id. Message ids are "msg_<pid>_<n>"."""

import json
import os
import signal
import sys
import time

OUT = sys.stdout.buffer
ERR = sys.stderr.buffer

LONG_LINE = 9 * 1024 * 1024
CHUNK = 1 << 16


class Fake:
    def __init__(self, argv):
        self.argv = argv
        self.session_id = "fake-%d" % os.getpid()
        if "--resume" in argv:
            i = argv.index("--resume")
            if i + 1 < len(argv):
                self.session_id = argv[i + 1]
        self.msg_n = 0
        self.hanging = False
        self.ignore_term = False
        self.children = []
        self.end = b"\n"
        self.pending = None  # request id of an unanswered can_use_tool

    # -- bookkeeping

    def record(self, obj):
        path = os.environ.get("FAKE_CLAUDE_PIDFILE")
        if not path:
            return
        data = (json.dumps(obj) + "\n").encode()
        fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
        try:
            os.write(fd, data)
        finally:
            os.close(fd)

    def spawn_sleep(self, ignore_term):
        import subprocess  # only here: it slows down every start

        def pre():
            if ignore_term:
                signal.signal(signal.SIGTERM, signal.SIG_IGN)
        # stays in our process group (no setsid): the server must kill
        # the whole group
        p = subprocess.Popen(["sleep", "300"], stdin=subprocess.DEVNULL,
                             preexec_fn=pre, close_fds=True)
        self.children.append(p)
        self.record({"role": "child", "pid": p.pid, "pgid": os.getpgid(p.pid)})

    # -- output

    def line(self, obj):
        OUT.write(json.dumps(obj, separators=(",", ":")).encode() + self.end)

    def flush(self):
        OUT.flush()

    def init(self):
        self.line({"type": "system", "subtype": "init", "session_id": self.session_id,
                   "cwd": os.getcwd(), "tools": [], "model": "fake-model",
                   "permissionMode": "default", "apiKeySource": "none"})

    def ev(self, event):
        self.line({"type": "stream_event", "event": event, "session_id": self.session_id,
                   "parent_tool_use_id": None, "uuid": "u-%d" % self.msg_n})

    def start_message(self):
        self.msg_n += 1
        mid = "msg_%d_%d" % (os.getpid(), self.msg_n)
        self.ev({"type": "message_start", "message": {
            "id": mid, "type": "message", "role": "assistant", "model": "fake-model",
            "content": [], "stop_reason": None, "usage": {"input_tokens": 1, "output_tokens": 0}}})
        self.ev({"type": "content_block_start", "index": 0,
                 "content_block": {"type": "text", "text": ""}})
        return mid

    def delta(self, text):
        self.ev({"type": "content_block_delta", "index": 0,
                 "delta": {"type": "text_delta", "text": text}})

    def finish_message(self, mid, text):
        self.ev({"type": "content_block_stop", "index": 0})
        self.line({"type": "assistant", "message": {
            "id": mid, "type": "message", "role": "assistant", "model": "fake-model",
            "content": [{"type": "text", "text": text}], "stop_reason": None,
            "usage": {"input_tokens": 1, "output_tokens": 1}},
            "parent_tool_use_id": None, "session_id": self.session_id})
        self.ev({"type": "message_delta", "delta": {"stop_reason": "end_turn"},
                 "usage": {"output_tokens": 1}})
        self.ev({"type": "message_stop"})

    def result(self, text, subtype="success"):
        self.line({"type": "result", "subtype": subtype, "is_error": subtype != "success",
                   "duration_ms": 7, "duration_api_ms": 5, "num_turns": 1, "result": text,
                   "session_id": self.session_id, "total_cost_usd": 0,
                   "usage": {"input_tokens": 1, "output_tokens": 1}})

    def reply(self, text):
        self.init()
        mid = self.start_message()
        words = text.split(" ")
        for i, w in enumerate(words):
            self.delta(w + (" " if i + 1 < len(words) else ""))
        self.finish_message(mid, text)
        self.result(text)
        self.flush()

    # -- behaviours: cmd_<word> for a message "<word> <arg>"

    def on_user(self, text):
        cmd, _, arg = text.partition(" ")
        handler = getattr(self, "cmd_" + cmd.replace("-", "_"), None)
        if handler is None:
            self.reply(text)
        else:
            handler(arg)

    def cmd_wait(self, arg):
        path, _, rest = arg.partition(" ")
        deadline = time.monotonic() + 120
        while not os.path.exists(path) and time.monotonic() < deadline:
            time.sleep(0.01)
        self.on_user(rest)

    def cmd_reply(self, arg):
        self.reply(arg)

    def cmd_crash(self, arg):
        self.crash(arg.split())

    def cmd_garbage(self, arg):
        self.garbage()

    def cmd_longline(self, arg):
        self.longline(arg)

    def cmd_longline_utf8(self, arg):
        self.longline(arg, utf8=True)

    def cmd_ignore_term(self, arg):
        signal.signal(signal.SIGTERM, signal.SIG_IGN)
        self.ignore_term = True
        self.spawn_sleep(True)
        self.reply("ignoring")

    def cmd_hang(self, arg):
        signal.signal(signal.SIGTERM, self.on_term)
        self.spawn_sleep(False)
        self.init()
        self.start_message()
        self.delta("before-hang ")
        self.flush()
        self.hanging = True

    def cmd_spawn_child(self, arg):
        self.spawn_sleep(False)
        self.reply("spawned")

    def cmd_burst(self, arg):
        self.burst(int(arg or "1000"))

    def cmd_silent_exit(self, arg):
        ERR.write(b"fake-claude: exiting before any output\n")
        ERR.flush()
        os._exit(3)

    def cmd_edge(self, arg):
        self.edge(int(arg))

    def cmd_stderr_flood(self, arg):
        nlines, width = arg.split()
        self.stderr_flood(int(nlines), int(width))

    def cmd_crash_escaped_child(self, arg):
        import subprocess
        self.init()
        self.start_message()
        self.delta("escaping ")
        self.flush()
        # a new session: out of reach of a kill of our group, and it
        # keeps our stdout (and stderr) open
        p = subprocess.Popen(["sleep", "300"], stdin=subprocess.DEVNULL,
                             start_new_session=True)
        self.record({"role": "child", "pid": p.pid, "pgid": os.getpgid(p.pid)})
        os._exit(3)

    def cmd_bytes(self, arg):
        self.init()
        OUT.write(b"\xfe\xff not utf-8 \x00 nul\n")
        OUT.write(b'{"type":"mystery","s":"\xff\xfe"}\n')
        mid = self.start_message()
        OUT.write(b'{"type":"stream_event","event":{"type":"content_block_delta","index":0,'
                  b'"delta":{"type":"text_delta","text":"bad \xff byte "}}}\n')
        self.delta("caf\u00e9 \u2603 \U0001f600")
        self.finish_message(mid, "done")
        self.result("done")
        self.flush()

    def cmd_permission(self, arg):
        self.ask_permission()

    def cmd_close_stdin(self, arg):
        # closed before the answer: once the turn is over, a write to our
        # stdin fails for sure
        os.close(0)
        self.reply("closing stdin")
        while True:
            time.sleep(3600)

    def cmd_exit0(self, arg):
        self.init()
        self.start_message()
        self.delta("bye ")
        self.flush()
        os._exit(0)

    def crash(self, args):
        n = int(args[0]) if args else 1
        nerr = int(args[1]) if len(args) > 1 else 5
        nonl = len(args) > 2 and args[2] == "nonl"
        self.init()
        self.start_message()
        for i in range(n):
            self.delta("d%d " % i)
        if nonl:
            # the last line loses its newline: at EOF it still counts
            self.end = b""
            self.delta("unterminated")
        self.flush()
        for i in range(nerr):
            ERR.write(b"fake-claude: stderr line %d\n" % (i + 1))
        ERR.flush()
        os._exit(3)

    def stderr_flood(self, nlines, width):
        """Much more stderr than any pipe holds, then a normal reply: the
        server must keep reading stderr while the turn runs."""
        for i in range(nlines):
            head = b"flood %d " % (i + 1)
            ERR.write(head + b"e" * max(0, width - len(head)) + b"\n")
        ERR.flush()
        self.reply("flooded")

    def garbage(self):
        self.init()
        OUT.write(b"this is not json\n")
        OUT.write(b'{"type":"mystery_event","x":1}\n')
        OUT.write(b"[1,2,3]\n")
        OUT.write(b'{"no_type":true}\n')
        OUT.write(b'{"type":"assistant","message":\n')  # cut short
        self.flush()
        mid = self.start_message()
        self.delta("after ")
        self.delta("garbage")
        self.finish_message(mid, "after garbage")
        self.result("after garbage")
        self.flush()

    def longline(self, go, utf8=False):
        self.init()
        self.flush()
        left = LONG_LINE
        if utf8:
            # "x" then two-byte characters: byte 65536 (where the server
            # cuts the raw copy) falls inside a character
            OUT.write(b"x")
            left -= 1
            block = "\u00e9".encode() * (CHUNK // 2)
        else:
            block = b"x" * CHUNK
        while left > 0:
            n = min(left, CHUNK)
            OUT.write(block[:n])
            left -= n
        OUT.flush()
        self.record({"role": "mark", "pid": os.getpid(), "what": "longline-written"})
        deadline = time.monotonic() + 120
        while go and not os.path.exists(go) and time.monotonic() < deadline:
            time.sleep(0.01)
        OUT.write(b"\n")
        self.reply("after longline")

    def edge(self, total):
        """One content_block_delta line of exactly total bytes (newline
        not counted), padded with 'y' in its text; then the end of the
        message and the result."""
        self.init()
        mid = self.start_message()
        self.flush()
        head = json.dumps({"type": "stream_event", "event": {
            "type": "content_block_delta", "index": 0,
            "delta": {"type": "text_delta", "text": ""}}}, separators=(",", ":")).encode()
        cut = head.index(b'"text":""') + len(b'"text":"')
        pad = total - len(head)
        OUT.write(head[:cut] + b"y" * pad + head[cut:] + b"\n")
        self.finish_message(mid, "edge")
        self.result("edge")
        self.flush()

    def burst(self, n):
        self.init()
        mid = self.start_message()
        parts = []
        for i in range(n):
            parts.append("%d," % i)
            self.delta(parts[-1])
        self.finish_message(mid, "".join(parts))
        self.result("burst done")
        self.flush()

    def ask_permission(self):
        """A Bash tool call that needs permission: the turn goes on when
        the control_response for it arrives on stdin."""
        self.init()
        mid = self.start_message()
        self.delta("asking ")
        self.tool_id = "toolu_%d_%d" % (os.getpid(), self.msg_n)
        tool = {"type": "tool_use", "id": self.tool_id, "name": "Bash",
                "input": {"command": "ls"}}
        self.line({"type": "assistant", "message": {
            "id": mid, "type": "message", "role": "assistant", "model": "fake-model",
            "content": [{"type": "text", "text": "asking "}, tool]},
            "parent_tool_use_id": None, "session_id": self.session_id})
        self.ev({"type": "message_stop"})
        self.pending = "req_%d_%d" % (os.getpid(), self.msg_n)
        self.line({"type": "control_request", "request_id": self.pending, "request": {
            "subtype": "can_use_tool", "tool_name": "Bash", "input": {"command": "ls"},
            "permission_suggestions": None, "tool_use_id": tool["id"]}})
        self.flush()

    def on_control_response(self, obj):
        resp = obj.get("response") or {}
        if not self.pending or resp.get("request_id") != self.pending:
            return
        self.pending = None
        allowed = (resp.get("response") or {}).get("behavior") == "allow"
        self.line({"type": "user", "message": {"role": "user", "content": [{
            "type": "tool_result", "tool_use_id": self.tool_id,
            "content": "file.txt" if allowed else "Permission denied.",
            "is_error": not allowed}]},
            "parent_tool_use_id": None, "session_id": self.session_id})
        text = "allowed" if allowed else "denied"
        mid = self.start_message()
        self.delta(text)
        self.finish_message(mid, text)
        self.result(text)
        self.flush()

    def on_control(self, obj):
        req = obj.get("request") or {}
        rid = obj.get("request_id")
        self.record({"role": "stdin", "pid": os.getpid(), "line": obj})
        self.line({"type": "control_response",
                   "response": {"subtype": "success", "request_id": rid, "response": {}}})
        if req.get("subtype") == "interrupt" and self.hanging:
            self.late("late-interrupt ")
        self.flush()

    def late(self, text):
        """Lines written after the server gave up on the turn: none of
        them may show up in the session."""
        self.record({"role": "mark", "pid": os.getpid(), "what": "late"})
        self.delta(text)
        self.line({"type": "assistant", "message": {
            "id": "msg_late_%d" % os.getpid(), "role": "assistant",
            "content": [{"type": "text", "text": text}]},
            "parent_tool_use_id": None, "session_id": self.session_id})
        self.result(text, "error_during_execution")
        self.hanging = False

    def on_term(self, signum, frame):
        """hang: SIGTERM gets one more late line, then the process exits
        with a failure status (which must not end the session again)."""
        try:
            self.late("late-term ")
            self.flush()
        finally:
            os._exit(143)

    def mcp_config(self):
        """What --mcp-config names: {"path", "mode", "config"}, or None."""
        if "--mcp-config" not in self.argv:
            return None
        path = self.argv[self.argv.index("--mcp-config") + 1]
        try:
            with open(path) as f:
                config = json.load(f)
            mode = os.stat(path).st_mode & 0o777
        except (OSError, ValueError) as e:
            return {"path": path, "error": str(e)}
        return {"path": path, "mode": mode, "config": config}

    # -- main loop

    def run(self):
        self.record({"role": "agent", "pid": os.getpid(), "pgid": os.getpgid(0),
                     "argv": self.argv, "cwd": os.getcwd(),
                     "tag": os.environ.get("FAKE_CLAUDE_TAG"),
                     "is_sandbox": os.environ.get("IS_SANDBOX"), "mcp": self.mcp_config(),
                     "anthropic_api_key": os.environ.get("ANTHROPIC_API_KEY"),
                     "claude_api_key": os.environ.get("CLAUDE_API_KEY"),
                     "oauth_token": os.environ.get("CLAUDE_CODE_OAUTH_TOKEN")})
        stdin = sys.stdin.buffer
        while True:
            raw = stdin.readline()
            if not raw:
                break
            try:
                obj = json.loads(raw)
            except ValueError:
                continue
            if not isinstance(obj, dict):
                continue
            t = obj.get("type")
            if t == "user":
                self.record({"role": "stdin", "pid": os.getpid(), "line": obj})
                content = (obj.get("message") or {}).get("content")
                text = ""
                if isinstance(content, str):
                    text = content
                elif isinstance(content, list):
                    for part in content:
                        if isinstance(part, dict) and part.get("type") == "text":
                            text = part.get("text", "")
                            break
                self.on_user(text)
            elif t == "control_request":
                self.on_control(obj)
            elif t == "control_response":
                self.record({"role": "stdin", "pid": os.getpid(), "line": obj})
                self.on_control_response(obj)
        # end of stdin
        stay = self.hanging or self.ignore_term
        if self.hanging:
            self.late("late-eof ")
            self.flush()
        while stay:
            time.sleep(3600)


def main():
    try:
        Fake(sys.argv[1:]).run()
    except BrokenPipeError:
        os._exit(1)


if __name__ == "__main__":
    main()
