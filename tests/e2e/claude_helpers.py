"""claude_helpers.py - small pieces the Claude scenarios need beyond
e2elib. Run as a script it is a minimal MCP server over stdio (JSON-RPC 2.0,
one object per line) with one tool, `echo`, that returns its `text`
argument prefixed with "echo: ". Python 3 standard library only."""

import json
import os
import sys

HERE = os.path.dirname(os.path.abspath(__file__))


def mcp_echo_command():
    """[command, args...] starting the echo MCP server."""
    return [sys.executable, os.path.join(HERE, "claude_helpers.py"), "mcp-echo"]


ECHO_TOOL = {
    "name": "echo",
    "description": "Returns the text it is given.",
    "inputSchema": {"type": "object", "properties": {"text": {"type": "string"}},
                    "required": ["text"]},
}


def _answer(req):
    method = req.get("method")
    if method == "initialize":
        return {"protocolVersion": (req.get("params") or {}).get("protocolVersion",
                                                                 "2024-11-05"),
                "capabilities": {"tools": {}},
                "serverInfo": {"name": "echo", "version": "1.0.0"}}
    if method == "tools/list":
        return {"tools": [ECHO_TOOL]}
    if method == "tools/call":
        args = (req.get("params") or {}).get("arguments") or {}
        return {"content": [{"type": "text", "text": "echo: %s" % args.get("text", "")}]}
    if method in ("resources/list", "prompts/list"):
        return {method.split("/")[0]: []}
    if method == "ping":
        return {}
    return None


def serve_mcp_echo():
    for line in sys.stdin:
        line = line.strip()
        if not line:
            continue
        try:
            req = json.loads(line)
        except ValueError:
            continue
        if "id" not in req:
            continue  # a notification
        result = _answer(req)
        if result is None:
            out = {"jsonrpc": "2.0", "id": req["id"],
                   "error": {"code": -32601, "message": "method not found"}}
        else:
            out = {"jsonrpc": "2.0", "id": req["id"], "result": result}
        sys.stdout.write(json.dumps(out) + "\n")
        sys.stdout.flush()


if __name__ == "__main__":
    if sys.argv[1:] == ["mcp-echo"]:
        serve_mcp_echo()
    else:
        sys.exit("usage: claude_helpers.py mcp-echo")
