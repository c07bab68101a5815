/* codex.h - the Codex adapter's hooks beyond agent_ops (codex.c): a
 * process-less mode in which the JSON-RPC protocol runs against a buffer,
 * for the unit tests and the fuzz target, and its pure helpers.
 * Depends on the session API and base/buf. */
#ifndef AGENTS_CODEX_H
#define AGENTS_CODEX_H
#include <stdbool.h>
#include <stddef.h>
#include "../base/buf.h"
#include "../session/session.h"

/* Attaches the adapter's state to s (whose agent is agent_codex) without
 * a process: every line the adapter would write to the app-server is
 * appended to out (which must outlive s), and the handshake starts at
 * once (an initialize request is written). Replaces create(). */
void codex_test_attach(session *s, buf_t *out);
/* One stdout line of the (imaginary) app-server. */
void codex_test_line(session *s, const char *line, size_t len);
/* The app-server exited with wait status `status`. A later message
 * starts a new one (a new handshake is written to out). */
void codex_test_exit(session *s, int status);

/* Spec 5.4: if msg reports that a model was rejected, copies the model
 * id into id (cap bytes) and returns true. */
bool codex_model_rejected(const char *msg, size_t len, char *id, size_t cap);

/* The app-server's `-c` overrides for a session's MCP map (spec 5.6):
 * appends "-c" and "mcp_servers.<name>.<key>=<TOML value>" pairs to out
 * (a NULL-terminated heap array, *n entries, both updated). Returns 0,
 * or -1 with why filled when a server cannot be expressed. */
int codex_mcp_args(const char *mcp_json, char ***out, size_t *n, char *why, size_t cap);

#endif
