/* adapter_util.h - what the process-backed adapters (claude.c, amp.c,
 * codex.c and their stream-json converter) have in common: token helpers
 * over a parsed line, a token array that grows, reading a small file,
 * the session's MCP map (spec 5.6) as an agent's JSON config file, the
 * details of a process exit, and the first look at a stdout line.
 *
 * Depends on base/, json/, proc/, the session API and agent.h. */
#ifndef AGENTS_ADAPTER_UTIL_H
#define AGENTS_ADAPTER_UTIL_H
#include <stdbool.h>
#include <stddef.h>
#include "../base/buf.h"
#include "../json/json.h"
#include "../proc/proc.h"
#include "../session/session.h"
#include "agent.h"

#define AU_JSON_TOKENS 16384      /* tokens of a configuration document */
#define AU_UNPARSED_RAW_MAX 65536 /* raw kept of an over-long stdout line */
#define AU_ENV_NAME_MAX 256       /* environment variable names resolved */

/* ---- JSON ---- */

/* A heap token array of AU_JSON_TOKENS entries. */
json_tok *au_toks(void);
/* The bytes of value i as they appear in js (quotes included for strings). */
void au_span(const char *js, const json_tok *t, int i, const char **p, size_t *n);
/* Writes value i as it appears in js; i < 0 writes null. */
void au_w_tok(jw_t *w, const char *js, const json_tok *t, int i);
/* The value of the first of keys (NULL-terminated) present and not null
 * in object obj, or -1. */
int au_first_key(const char *js, const json_tok *t, int obj, const char *const *keys);
/* json_parse into *t (allocated with min entries when NULL), grown
 * fourfold on JSON_ERR_NOMEM up to max entries. Returns json_parse's. */
int au_parse(const char *js, size_t len, json_tok **t, unsigned *ntok, unsigned min,
		unsigned max);

/* The content array of a status item (kind status, role system):
 * [{"type":"status","label":label,"detail":detail}], detail NULL: null.
 * Appended to b. */
void au_status_content(buf_t *b, const char *label, const char *detail, size_t detail_len);

/* ---- files ---- */

/* A regular file of at most max bytes, NUL-terminated (heap; its length
 * in *len), or NULL if it is missing, not regular, larger or unreadable. */
char *au_read_file(const char *path, size_t max, size_t *len);

/* ---- MCP servers ---- */

/* One server of the session's MCP map: token indexes of the fields
 * every adapter recognizes (under any of their spellings), -1 when
 * absent or null. local/remote: how it is to be reached. */
typedef struct {
	int type, command, args, env, cwd, url, headers, bearer, env_headers, transport;
	int enabled, timeout;
	bool local, remote;
} au_mcp_server;

/* Reads object cfg. A server typed "local" or "stdio" (untyped: with a
 * command) is local; "remote" or "http" (untyped: with a url) remote;
 * sse_remote: so is one typed "sse". */
void au_mcp_server_of(const char *js, const json_tok *t, int cfg, bool sse_remote,
		au_mcp_server *m);

/* How an agent wants its JSON MCP config, where agents differ. */
typedef struct {
	const char *wrap;  /* the map goes under this key, or NULL: the map is the document */
	bool typed;        /* entries say "type" (stdio, http, sse) instead of "transport" */
	bool sse_type;     /* a server typed "sse" is a remote one */
	bool strings_only; /* non-string args, env and header values are left out */
	bool env_refs;     /* header values from the environment are written as ${VAR}
	                    * (the agent expands them), else resolved now */
} au_mcp_shape;

/* The config document (heap) for the session's map mcp_json: every
 * enabled server as local {command, args, env?} or remote {url,
 * headers} in the given shape; bearerTokenEnvVar becomes an
 * Authorization header and envHeaders more headers unless headers
 * already has them. *nservers (if not NULL) gets the number written.
 * NULL, with why filled, if some server cannot be expressed. */
char *au_mcp_config(const char *mcp_json, const au_mcp_shape *shape, int *nservers, char *why,
		size_t cap);
/* Writes doc into a new "$TMPDIR/sandbox-agent-<tag>-XXXXXX.json" of mode
 * 0600 (headers may carry secrets) and stores its heap path in *path.
 * Nothing to do if doc is NULL or *path is set. false with err filled
 * when it cannot. */
bool au_mcp_write(const char *doc, const char *tag, char **path, char *err, size_t cap);
/* Removes the file *path names, if any, and clears *path. */
void au_mcp_unlink(char **path);

/* ---- processes ---- */

/* The agent's executable (heap), or NULL with e filled (not installed). */
char *au_binary(const agent_ops *a, agent_err *e);
/* True if the agent's executable is found; else false with e filled. */
bool au_installed(const agent_ops *a, agent_err *e);

/* The exit code a wait status reports: the status, or 128 + signal. */
int au_exit_code(int status);
/* The "exit_code", "signal" (number or null) and "stderr" (tail, may be
 * NULL) members of a process exit's error details, into an open object. */
void au_w_exit(jw_t *w, int status, const char *tail, size_t tail_len);

/* What an exited process left on stderr. */
typedef struct {
	buf_t json; /* its StderrOutput object, when has_json */
	buf_t tail; /* its last lines as text (p may be NULL: none) */
	bool has_json;
} au_stderr;
void au_stderr_take(const proc_t *p, size_t lines, au_stderr *e);
const char *au_stderr_json(au_stderr *e); /* the object, or NULL */
void au_stderr_free(au_stderr *e);

/* ---- stdout lines ---- */

/* The number of leading blanks (spaces, tabs, CRs): len for a line
 * that holds nothing to record. */
size_t au_blanks(const char *line, size_t len);
/* A line over the reader's limit: agent.unparsed at location loc, with
 * its first AU_UNPARSED_RAW_MAX bytes as raw. */
void au_record_long(session *s, const char *loc, const char *line, size_t len);

#endif
