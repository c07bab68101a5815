/* opencode.h - the OpenCode adapter's hooks beyond agent_ops (opencode.c):
 * the shared server's status for GET /v1/agents, and a server-less mode in
 * which the event stream is fed by hand and the requests the adapter
 * would make are written to a buffer, for the unit tests and the fuzz
 * target. Depends on the session API, json/ and base/buf. */
#ifndef AGENTS_OPENCODE_H
#define AGENTS_OPENCODE_H
#include <stddef.h>
#include "../base/buf.h"
#include "../json/json.h"
#include "../session/session.h"

/* The ServerStatusInfo object of spec 3.1 for the shared `opencode
 * serve`: status running|stopped|error, baseUrl and uptimeMs while
 * running, restartCount, lastError. */
void opencode_write_server_status(jw_t *w);

/* Attaches the adapter's state to s (whose agent is agent_opencode) as if
 * its OpenCode session native_id existed on a running server, without
 * any process or connection. Every request the adapter would send is
 * appended to out (which must outlive s) as one line:
 * "METHOD PATH[?QUERY] BODY\n" (BODY "-" when there is none). Replaces
 * create(). */
void opencode_test_attach(session *s, const char *native_id, buf_t *out);
/* One event of the stream: the JSON of an SSE data field, either an
 * /event payload {"type","properties"} or a /global/event record
 * {"directory","payload":{...}}. Routed by its session id. */
void opencode_test_event(const char *data, size_t len);
/* Raw bytes of the event stream (SSE framing), parsed incrementally.
 * Returns what the SSE parser returned (-1: an event over the limit; the
 * parser is then reset). */
int opencode_test_sse(const char *p, size_t n);
/* The server went away with wait status `status` (the death path:
 * running turns fail, pending requests are withdrawn). */
void opencode_test_server_exit(int status);
/* Answers the oldest request written since attach that has no answer
 * yet (a prompt, a reply) with an HTTP status and body; -1 for a
 * transport failure. Returns 0, or -1 if none is waiting. */
int opencode_test_respond(int status, const char *body);

#endif
