"""mcp_echo.py - a tiny MCP server over stdio (JSON-RPC 2.0, one object per
line) for the Codex MCP scenario. One tool, `echo`, answers its `text`
argument as "echo: <text>". Every request is appended to the file named by
MCP_ECHO_LOG, if set, so a test can see what the agent called. Python 3
standard library only.

    python3 tests/e2e/mcp_echo.py"""

import json
import os
import sys

TOOL = {
    "name": "echo",
    "description": "Echo back the given text",
    "inputSchema": {
        "type": "object",
        "properties": {"text": {"type": "string", "description": "what to echo"}},
        "required": ["text"],
    },
}


def command():
    """The command line that starts this server."""
    return [sys.executable, os.path.abspath(__file__)]


def result_for(method, params):
    """The result of one request, or None for an unknown method."""
    if method == "initialize":
        return {"protocolVersion": params.get("protocolVersion") or "2025-06-18",
                "capabilities": {"tools": {"listChanged": False}},
                "serverInfo": {"name": "echo", "version": "1.0.0"}}
    if method == "tools/list":
        return {"tools": [TOOL]}
    if method == "tools/call":
        args = params.get("arguments") or {}
        return {"content": [{"type": "text", "text": "echo: %s" % args.get("text", "")}],
                "isError": False}
    if method in ("resources/list", "resources/templates/list", "prompts/list"):
        key = {"resources/list": "resources", "resources/templates/list": "resourceTemplates",
               "prompts/list": "prompts"}[method]
        return {key: []}
    if method == "ping":
        return {}
    return None


def log(msg):
    path = os.environ.get("MCP_ECHO_LOG")
    if path:
        with open(path, "a") as f:
            f.write(json.dumps(msg) + "\n")


def main():
    for line in sys.stdin:
        line = line.strip()
        if not line:
            continue
        try:
            msg = json.loads(line)
        except ValueError:
            continue
        if not isinstance(msg, dict) or "method" not in msg:
            continue
        log(msg)
        if "id" not in msg:
            continue  # a notification
        res = result_for(msg["method"], msg.get("params") or {})
        if res is None:
            out = {"jsonrpc": "2.0", "id": msg["id"],
                   "error": {"code": -32601, "message": "method not found"}}
        else:
            out = {"jsonrpc": "2.0", "id": msg["id"], "result": res}
        sys.stdout.write(json.dumps(out) + "\n")
        sys.stdout.flush()


if __name__ == "__main__":
    main()
