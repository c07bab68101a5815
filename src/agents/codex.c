/* codex.c - the Codex adapter: the real `codex app-server` (JSON-RPC 2.0,
 * one object per line on stdin/stdout), mapped into universal events.
 * docs/codex.md has the whole mapping, the decisions and the figures.
 *
 * Process model. One app-server per session, started at create in the
 * session's directory with the server's environment:
 *   codex app-server --disable plugins -c analytics.enabled=false
 *         [-c mcp_servers.<name>.<key>=<TOML>]...
 * (plugins and analytics would reach the network). A crash or a hang
 * touches one session only; the handshake is initialize -> initialized ->
 * thread/start, driven by the responses, never waited for. A message
 * that arrives before the thread exists waits inside the adapter.
 * An idle app-server is stopped after SANDBOX_AGENT_CODEX_IDLE_MS
 * (default CODEX_IDLE_MS, 0: never) by closing its stdin.
 *
 * Process end. Idle (also after an idle stop or a kill between turns):
 * nothing is recorded; the next message starts a new app-server that
 * continues the thread with thread/resume. During a turn, if the
 * app-server has not answered the message yet (it died under our feet),
 * it is restarted once and the message sent again; otherwise the open
 * items fail, an error event (server_exit, stderr tail in details) is
 * recorded and the session ends (error, daemon, with the StderrOutput).
 *
 * Terminate: turn/interrupt for a running turn, open items failed, a
 * synthetic turn.ended, then stdin closed and the process group stopped.
 *
 * HITL: command and file-change approvals, MCP tool-call approvals
 * (elicitations) and permission-profile requests become
 * permission.requested (id = the JSON-RPC id as text);
 * item/tool/requestUserInput and other MCP elicitations become
 * question.requested. Replies are JSON-RPC results. In acceptEdits mode
 * file-change approvals are hidden and accepted for the session here.
 * A request codex withdraws (serverRequest/resolved before our answer, or
 * its process ended) is resolved as rejected. Other server requests get
 * a JSON-RPC error at once, so codex never waits on us.
 *
 * Depends on the session API, proc/, json/, base/, adapter_util and the
 * loop. */
#include "codex.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

#include "../base/buf.h"
#include "../base/log.h"
#include "../base/util.h"
#include "../json/json.h"
#include "../proc/proc.h"
#include "../server/server.h"
#include "adapter_util.h"
#include "agent.h"
#include "credentials.h"

#ifndef SA_VERSION
#define SA_VERSION "0.0.0"
#endif

#define CODEX_TOKENS_MIN 4096        /* tokens for a line, grown on demand */
#define CODEX_TOKENS_MAX (1u << 20)  /* more values than this: agent.unparsed */
#define CODEX_TOKENS_KEEP 65536      /* a bigger token array is freed after use */
#define CODEX_REQS_MAX 32            /* our requests awaiting a response */
#define CODEX_START_TIMEOUT_MS 30000 /* spawn -> thread ready */
#define CODEX_IDLE_MS 600000         /* idle app-server stopped after this */
#define CODEX_KEY_MAX 128            /* JSON-RPC id text kept as an HITL id */
#define CODEX_STDERR_LINES 20        /* stderr lines given in error details */

static const char plan_prefix[] = "Make a plan before acting.\n\n";

/* Notifications we never use; codex skips them (initialize capability). */
static const char *const opt_out[] = {
	"account/rateLimits/updated", "thread/readState/changed", "remoteControl/status/changed",
	"thread/status/changed", "thread/started", "thread/settings/updated", "turn/diff/updated",
};

enum { PH_NONE, PH_INIT, PH_THREAD, PH_READY };
enum { RQ_INITIALIZE = 1, RQ_THREAD_START, RQ_THREAD_RESUME, RQ_TURN_START, RQ_OTHER };

/* How a ThreadItem is shown. Pairs become a tool_call item (native id
 * "<id>:call", complete at once) and a tool_result item (native id = the
 * ThreadItem id, parent = the call) that streams and completes. */
enum {
	K_USER, K_AGENT, K_REASONING, K_PLAN, K_COMMAND, K_FILE, K_MCP, K_DYNAMIC, K_COLLAB,
	K_WEB, K_IMAGEGEN, K_IMAGEVIEW, K_REVIEW_IN, K_REVIEW_OUT, K_COMPACTION, K_OTHER,
};

/* Server requests we owe an answer. */
enum { SR_COMMAND, SR_FILE, SR_MCP_APPROVAL, SR_PERMISSIONS, SR_USER_INPUT, SR_ELICIT,
	SR_LEGACY_PATCH, SR_LEGACY_EXEC };

typedef struct {
	int64_t id;
	int kind;
} cx_req;

typedef struct {
	char *id;   /* ThreadItem id */
	int kind;
	bool delta; /* a delta went out (reasoning part separators) */
	buf_t text; /* streamed text, for a completion the turn end forces */
} cx_item;

typedef struct {
	char *key;     /* the JSON-RPC id as text: the permission / question id */
	char *id_json; /* the id as sent (for the reply) */
	int kind;
	char *extra;   /* user input: question ids; permissions: the profile;
	                * elicitation: field name and type */
} cx_sreq;

typedef struct codex_state {
	proc_t *p;
	buf_t *test_out; /* process-less mode: writes land here */
	int phase;
	bool terminating;
	bool stopping;   /* idle stop: stdin closed on purpose */
	int64_t next_id;
	cx_req reqs[CODEX_REQS_MAX];
	int nreqs;
	char *thread_id;
	bool had_turn;   /* the thread has a rollout: resumable */
	bool resuming;
	char **mcp_args;
	size_t nmcp_args;
	uint64_t start_timer, idle_timer;
	/* the turn */
	bool turn;          /* a message was dispatched, no turn end yet */
	bool turn_sent;     /* turn/start written to this process */
	bool turn_answered; /* this process answered for the turn */
	bool retried;
	bool turn_error;    /* an error event was recorded for this turn */
	bool turn_open;     /* turn.started recorded, turn.ended not yet */
	char *turn_id;
	char *input;        /* the turn's input array (JSON) */
	char *usage;        /* last thread/tokenUsage/updated tokenUsage */
	cx_item *items;     /* open items */
	size_t nitems;
	cx_sreq *sreqs;
	size_t nsreqs;
	/* the line being handled: raw for every event it yields */
	const char *raw;
	size_t raw_len;
	json_tok *tok;
	unsigned ntok;
	uint64_t spawned_ms;
} codex_state;

/* One parsed line. */
typedef struct {
	const char *js;
	json_tok *t;
} jdoc;

static void on_line(proc_t *p, void *ud, const char *line, size_t len, bool truncated);
static void on_exit_cb(proc_t *p, void *ud, int status);
static const proc_ops codex_proc_ops = {on_line, on_exit_cb};
static int codex_reply_permission(session *s, const pending_perm *p, int reply, agent_err *e);
static int spawn(session *s, codex_state *st, agent_err *e);
static void handle_line(session *s, codex_state *st, const char *line, size_t len);

/* ---- JSON helpers ---- */

static int get(const jdoc *d, int obj, const char *key)
{
	if (obj < 0 || d->t[obj].type != JSON_OBJECT)
		return -1;
	return json_obj_get(d->js, d->t, obj, key);
}

static int get_t(const jdoc *d, int obj, const char *key, int type)
{
	int i = get(d, obj, key);
	return i >= 0 && d->t[i].type == type ? i : -1;
}

static char *str_at(const jdoc *d, int i, size_t *len)
{
	return i >= 0 && d->t[i].type == JSON_STRING ? json_str_dup(d->js, d->t, i, len) : NULL;
}

static char *get_str(const jdoc *d, int obj, const char *key)
{
	return str_at(d, get(d, obj, key), NULL);
}

static bool is_str(const jdoc *d, int obj, const char *key, const char *val)
{
	int i = get(d, obj, key);
	return i >= 0 && json_str_eq(d->js, d->t, i, val);
}

/* The JSON text of token i (strings with their quotes). */
static void span(const jdoc *d, int i, const char **p, size_t *n)
{
	au_span(d->js, d->t, i, p, n);
}

static void w_tok(jw_t *w, const jdoc *d, int i) { au_w_tok(w, d->js, d->t, i); }

static char *tok_json(const jdoc *d, int i)
{
	if (i < 0)
		return xstrdup("null");
	const char *p;
	size_t n;
	span(d, i, &p, &n);
	return xstrndup(p, n);
}

/* A string token as a JSON string value, anything else as its JSON text
 * in a string (tool arguments are JSON text). */
static void w_text_of(jw_t *w, const jdoc *d, int i)
{
	if (i < 0 || d->t[i].type == JSON_NULL) {
		jw_str(w, "");
	} else if (d->t[i].type == JSON_STRING) {
		w_tok(w, d, i);
	} else {
		const char *p;
		size_t n;
		span(d, i, &p, &n);
		jw_strn(w, p, n);
	}
}

static void w_kstr_tok(jw_t *w, const char *k, const jdoc *d, int i)
{
	jw_key(w, k);
	if (i >= 0 && d->t[i].type == JSON_STRING)
		w_tok(w, d, i);
	else
		jw_null(w);
}

/* Parses a line with a token array that grows up to CODEX_TOKENS_MAX. */
static int parse(codex_state *st, const char *js, size_t len, jdoc *d)
{
	int n = au_parse(js, len, &st->tok, &st->ntok, CODEX_TOKENS_MIN, CODEX_TOKENS_MAX);
	d->js = js;
	d->t = st->tok;
	return n;
}

/* ---- writing to the app-server ---- */

static bool active(const codex_state *st)
{
	if (!st || st->terminating || st->stopping)
		return false;
	return st->test_out || (st->p && proc_stdin_open(st->p));
}

/* Writes one line (b without its newline). */
static int send_line(codex_state *st, buf_t *b)
{
	buf_putc(b, '\n');
	if (st->test_out) {
		buf_append(st->test_out, b->p, b->len);
		return 0;
	}
	return st->p ? proc_write(st->p, b->p, b->len) : -1;
}

/* Starts a request: {"id":N,"method":M,"params": — the caller writes the
 * params value and calls req_end. */
static int64_t req_begin(codex_state *st, jw_t *w, buf_t *b, const char *method, int kind)
{
	int64_t id = st->next_id++;
	if (st->nreqs == CODEX_REQS_MAX) { /* never answered: forget the oldest */
		memmove(st->reqs, st->reqs + 1, (CODEX_REQS_MAX - 1) * sizeof *st->reqs);
		st->nreqs--;
	}
	st->reqs[st->nreqs].id = id;
	st->reqs[st->nreqs].kind = kind;
	st->nreqs++;
	buf_init(b);
	jw_init(w, b);
	jw_obj(w);
	jw_key(w, "id");
	jw_int(w, id);
	jw_kstr(w, "method", method);
	jw_key(w, "params");
	return id;
}

static int req_end(codex_state *st, jw_t *w, buf_t *b)
{
	jw_obj_end(w);
	int rc = send_line(st, b);
	buf_free(b);
	return rc;
}

static int take_req(codex_state *st, int64_t id)
{
	for (int i = 0; i < st->nreqs; i++) {
		if (st->reqs[i].id == id) {
			int kind = st->reqs[i].kind;
			memmove(&st->reqs[i], &st->reqs[i + 1], (size_t)(st->nreqs - i - 1) * sizeof *st->reqs);
			st->nreqs--;
			return kind;
		}
	}
	return 0;
}

static int reply_result(codex_state *st, const char *id_json, const char *result)
{
	buf_t b;
	buf_init(&b);
	buf_printf(&b, "{\"id\":%s,\"result\":%s}", id_json, result);
	int rc = send_line(st, &b);
	buf_free(&b);
	return rc;
}

static int reply_error(codex_state *st, const char *id_json, int code, const char *msg)
{
	buf_t b;
	jw_t w;
	buf_init(&b);
	buf_printf(&b, "{\"id\":%s,\"error\":", id_json);
	jw_init(&w, &b);
	jw_obj(&w);
	jw_kint(&w, "code", code);
	jw_kstr(&w, "message", msg);
	jw_obj_end(&w);
	buf_putc(&b, '}');
	int rc = send_line(st, &b);
	buf_free(&b);
	return rc;
}

/* Approval policy and sandbox of a permission mode (spec 5.3); NULL for
 * none (codex's configuration decides). */
static void mode_policy(const session *s, const char **approval, const char **sandbox,
		const char **policy_type)
{
	const char *pm = s->permission_mode ? s->permission_mode : "default";
	*approval = *sandbox = *policy_type = NULL;
	if (!strcmp(pm, "plan")) {
		*approval = "untrusted";
		*sandbox = "read-only";
		*policy_type = "readOnly";
	} else if (!strcmp(pm, "bypass")) {
		*approval = "never";
		*sandbox = "danger-full-access";
		*policy_type = "dangerFullAccess";
	}
}

/* "default" is Codex's own configured model: nothing is sent. */
static const char *session_model(const session *s)
{
	return s->model && *s->model && strcmp(s->model, "default") ? s->model : NULL;
}

static int send_initialize(codex_state *st)
{
	jw_t w;
	buf_t b;
	req_begin(st, &w, &b, "initialize", RQ_INITIALIZE);
	jw_obj(&w);
	jw_key(&w, "clientInfo");
	jw_obj(&w);
	jw_kstr(&w, "name", "sandbox-agent");
	jw_kstr(&w, "title", "sandbox-agent");
	jw_kstr(&w, "version", SA_VERSION);
	jw_obj_end(&w);
	jw_key(&w, "capabilities");
	jw_obj(&w);
	jw_key(&w, "optOutNotificationMethods");
	jw_arr(&w);
	for (size_t i = 0; i < sizeof opt_out / sizeof opt_out[0]; i++)
		jw_str(&w, opt_out[i]);
	jw_arr_end(&w);
	jw_obj_end(&w);
	jw_obj_end(&w);
	return req_end(st, &w, &b);
}

/* thread/start, or thread/resume of a thread that has a rollout. */
static int send_thread(session *s, codex_state *st)
{
	const char *approval, *sandbox, *ptype;
	mode_policy(s, &approval, &sandbox, &ptype);
	bool resume = st->thread_id && st->had_turn;
	jw_t w;
	buf_t b;
	req_begin(st, &w, &b, resume ? "thread/resume" : "thread/start",
		resume ? RQ_THREAD_RESUME : RQ_THREAD_START);
	jw_obj(&w);
	if (resume) {
		jw_kstr(&w, "threadId", st->thread_id);
		jw_kbool(&w, "excludeTurns", true); /* history stays in codex */
	}
	if (session_model(s))
		jw_kstr(&w, "model", session_model(s));
	if (s->directory)
		jw_kstr(&w, "cwd", s->directory);
	if (approval) {
		jw_kstr(&w, "approvalPolicy", approval);
		jw_kstr(&w, "sandbox", sandbox);
	}
	jw_obj_end(&w);
	st->resuming = resume;
	st->phase = PH_THREAD;
	return req_end(st, &w, &b);
}

static int send_turn_start(session *s, codex_state *st)
{
	const char *approval, *sandbox, *ptype;
	mode_policy(s, &approval, &sandbox, &ptype);
	jw_t w;
	buf_t b;
	req_begin(st, &w, &b, "turn/start", RQ_TURN_START);
	jw_obj(&w);
	jw_kstr(&w, "threadId", st->thread_id);
	jw_key(&w, "input");
	jw_raw(&w, st->input, strlen(st->input));
	if (session_model(s))
		jw_kstr(&w, "model", session_model(s));
	if (approval) {
		jw_kstr(&w, "approvalPolicy", approval);
		jw_key(&w, "sandboxPolicy");
		jw_obj(&w);
		jw_kstr(&w, "type", ptype);
		jw_obj_end(&w);
	}
	jw_obj_end(&w);
	st->turn_sent = true;
	return req_end(st, &w, &b);
}

static void send_interrupt(codex_state *st)
{
	if (!st->thread_id || !st->turn_id)
		return;
	jw_t w;
	buf_t b;
	req_begin(st, &w, &b, "turn/interrupt", RQ_OTHER);
	jw_obj(&w);
	jw_kstr(&w, "threadId", st->thread_id);
	jw_kstr(&w, "turnId", st->turn_id);
	jw_obj_end(&w);
	req_end(st, &w, &b);
}

/* ---- recording ---- */

static ev_conv conv(codex_state *st, ev_type type, bool synthetic)
{
	ev_conv c = {.type = type, .synthetic = synthetic};
	c.native_session_id = st->thread_id;
	c.raw_json = st->raw;
	c.raw_len = st->raw ? st->raw_len : 0;
	return c;
}

static void rec_item(session *s, codex_state *st, ev_type type, bool synthetic,
		const char *native, const char *parent, const char *kind, const char *role,
		const char *content, const char *status)
{
	ev_conv c = conv(st, type, synthetic);
	c.u.item.native_item_id = native;
	c.u.item.parent_id = parent;
	c.u.item.kind = kind;
	c.u.item.role = role;
	c.u.item.content_json = content;
	c.u.item.status = status;
	sess_record(s, &c);
}

static void rec_delta(session *s, codex_state *st, const char *native, const char *text,
		size_t len)
{
	ev_conv c = conv(st, EV_ITEM_DELTA, false);
	c.u.delta.native_item_id = native;
	c.u.delta.delta = text;
	c.u.delta.delta_len = len;
	sess_record(s, &c);
}

/* A status item (kind status, role system), completed at once. */
static void rec_status(session *s, codex_state *st, const char *label, const char *detail,
		size_t detail_len)
{
	buf_t b;
	buf_init(&b);
	au_status_content(&b, label, detail, detail_len);
	rec_item(s, st, EV_ITEM_COMPLETED, false, NULL, NULL, "status", "system", buf_cstr(&b),
		"completed");
	buf_free(&b);
}

static void rec_error(session *s, codex_state *st, bool synthetic, const char *msg,
		const char *code, const char *details)
{
	ev_conv c = conv(st, EV_ERROR, synthetic);
	c.u.error.message = msg;
	c.u.error.code = code;
	c.u.error.details_json = details;
	sess_record(s, &c);
}

/* ---- open items ---- */

static cx_item *find_item(codex_state *st, const char *id)
{
	for (size_t i = 0; id && i < st->nitems; i++)
		if (!strcmp(st->items[i].id, id))
			return &st->items[i];
	return NULL;
}

static void drop_item(codex_state *st, cx_item *it)
{
	size_t i = (size_t)(it - st->items);
	free(it->id);
	buf_free(&it->text);
	memmove(&st->items[i], &st->items[i + 1], (st->nitems - i - 1) * sizeof *it);
	st->nitems--;
}

static bool is_pair(int kind)
{
	return kind == K_COMMAND || kind == K_FILE || kind == K_MCP || kind == K_DYNAMIC ||
		kind == K_COLLAB || kind == K_WEB || kind == K_IMAGEGEN;
}

static int item_kind(const jdoc *d, int item)
{
	static const struct { const char *type; int kind; } map[] = {
		{"userMessage", K_USER}, {"agentMessage", K_AGENT}, {"reasoning", K_REASONING},
		{"plan", K_PLAN}, {"commandExecution", K_COMMAND}, {"fileChange", K_FILE},
		{"mcpToolCall", K_MCP}, {"dynamicToolCall", K_DYNAMIC},
		{"collabAgentToolCall", K_COLLAB}, {"webSearch", K_WEB},
		{"imageGeneration", K_IMAGEGEN}, {"imageView", K_IMAGEVIEW},
		{"enteredReviewMode", K_REVIEW_IN}, {"exitedReviewMode", K_REVIEW_OUT},
		{"contextCompaction", K_COMPACTION},
	};
	int ty = get_t(d, item, "type", JSON_STRING);
	for (size_t i = 0; ty >= 0 && i < sizeof map / sizeof map[0]; i++)
		if (json_str_eq(d->js, d->t, ty, map[i].type))
			return map[i].kind;
	return K_OTHER;
}

/* ---- ThreadItem -> content ---- */

static const char *mime_of_path(const char *path)
{
	const char *dot = path ? strrchr(path, '.') : NULL;
	if (!dot || strchr(dot, '/'))
		return NULL;
	if (!strcasecmp(dot, ".png"))
		return "image/png";
	if (!strcasecmp(dot, ".jpg") || !strcasecmp(dot, ".jpeg"))
		return "image/jpeg";
	if (!strcasecmp(dot, ".gif"))
		return "image/gif";
	if (!strcasecmp(dot, ".webp"))
		return "image/webp";
	return NULL;
}

static void w_image(jw_t *w, const char *path, const char *mime)
{
	jw_obj(w);
	jw_kstr(w, "type", "image");
	jw_kstr(w, "path", path ? path : "");
	jw_key(w, "mime");
	jw_str(w, mime);
	jw_obj_end(w);
}

static void w_text(jw_t *w, const char *text, size_t len)
{
	jw_obj(w);
	jw_kstr(w, "type", "text");
	jw_key(w, "text");
	jw_strn(w, text, len);
	jw_obj_end(w);
}

static void w_json_part(jw_t *w, const jdoc *d, int i)
{
	jw_obj(w);
	jw_kstr(w, "type", "json");
	jw_key(w, "json");
	w_tok(w, d, i);
	jw_obj_end(w);
}

static void user_content(jw_t *w, const jdoc *d, int item)
{
	int c = get_t(d, item, "content", JSON_ARRAY);
	for (int i = c >= 0 ? json_first(d->t, c) : -1; i >= 0; i = json_next(d->t, i)) {
		if (is_str(d, i, "type", "text")) {
			size_t n;
			char *t = str_at(d, get(d, i, "text"), &n);
			w_text(w, t ? t : "", t ? n : 0);
			free(t);
		} else if (is_str(d, i, "type", "image")) {
			char *url = get_str(d, i, "url");
			char mime[64] = "";
			/* data:<mime>;base64,... */
			if (url && !strncmp(url, "data:", 5)) {
				size_t l = strcspn(url + 5, ";,");
				if (l && l < sizeof mime)
					snprintf(mime, sizeof mime, "%.*s", (int)l, url + 5);
			}
			w_image(w, url, *mime ? mime : NULL);
			free(url);
		} else if (is_str(d, i, "type", "localImage") || is_str(d, i, "type", "local_image")) {
			char *path = get_str(d, i, "path");
			w_image(w, path, mime_of_path(path));
			free(path);
		} else {
			w_json_part(w, d, i);
		}
	}
}

static void reasoning_content(jw_t *w, const jdoc *d, int item)
{
	static const struct { const char *key, *vis; } parts[] = {
		{"summary", "public"}, {"content", "private"},
	};
	for (int k = 0; k < 2; k++) {
		int a = get_t(d, item, parts[k].key, JSON_ARRAY);
		for (int i = a >= 0 ? json_first(d->t, a) : -1; i >= 0; i = json_next(d->t, i)) {
			/* plain strings; older shapes wrap them in {"text"} */
			int ti = d->t[i].type == JSON_STRING ? i : get_t(d, i, "text", JSON_STRING);
			if (ti < 0)
				continue;
			jw_obj(w);
			jw_kstr(w, "type", "reasoning");
			jw_key(w, "text");
			w_tok(w, d, ti);
			jw_kstr(w, "visibility", parts[k].vis);
			jw_obj_end(w);
		}
	}
}

/* file_ref parts of a fileChange's changes. */
static void file_refs(jw_t *w, const jdoc *d, int item)
{
	int a = get_t(d, item, "changes", JSON_ARRAY);
	for (int i = a >= 0 ? json_first(d->t, a) : -1; i >= 0; i = json_next(d->t, i)) {
		int path = get_t(d, i, "path", JSON_STRING);
		if (path < 0)
			continue;
		int kind = get(d, i, "kind");
		bool add = kind >= 0 && (is_str(d, kind, "type", "add") ||
			json_str_eq(d->js, d->t, kind, "add"));
		jw_obj(w);
		jw_kstr(w, "type", "file_ref");
		jw_key(w, "path");
		w_tok(w, d, path);
		/* a new file is written; updates, moves and deletions patch */
		jw_kstr(w, "action", add ? "write" : "patch");
		w_kstr_tok(w, "diff", d, get_t(d, i, "diff", JSON_STRING));
		jw_obj_end(w);
	}
}

static void call_name(buf_t *b, int kind, const jdoc *d, int item)
{
	static const char *const fixed[] = {
		[K_COMMAND] = "commandExecution", [K_FILE] = "fileChange", [K_WEB] = "webSearch",
		[K_IMAGEGEN] = "imageGeneration",
	};
	if (kind == K_MCP || kind == K_DYNAMIC) {
		char *ns = get_str(d, item, kind == K_MCP ? "server" : "namespace");
		char *tool = get_str(d, item, "tool");
		if (ns && *ns)
			buf_printf(b, "%s.", ns);
		buf_puts(b, tool ? tool : "unknown");
		free(ns);
		free(tool);
	} else if (kind == K_COLLAB) {
		char *tool = get_str(d, item, "tool");
		buf_puts(b, tool ? tool : "collabAgent");
		free(tool);
	} else {
		buf_puts(b, fixed[kind]);
	}
}

/* The tool_call part's arguments (JSON text or a plain string). */
static void call_args(jw_t *w, int kind, const jdoc *d, int item)
{
	if (kind == K_COMMAND || kind == K_FILE) {
		buf_t a;
		jw_t aw;
		buf_init(&a);
		jw_init(&aw, &a);
		jw_obj(&aw);
		if (kind == K_COMMAND) {
			w_kstr_tok(&aw, "command", d, get(d, item, "command"));
			w_kstr_tok(&aw, "cwd", d, get(d, item, "cwd"));
		} else {
			jw_key(&aw, "changes");
			jw_arr(&aw);
			int c = get_t(d, item, "changes", JSON_ARRAY);
			for (int i = c >= 0 ? json_first(d->t, c) : -1; i >= 0; i = json_next(d->t, i)) {
				int kd = get(d, i, "kind");
				jw_obj(&aw);
				w_kstr_tok(&aw, "path", d, get(d, i, "path"));
				w_kstr_tok(&aw, "kind", d, kd >= 0 && d->t[kd].type == JSON_OBJECT
					? get(d, kd, "type") : kd);
				int mv = get_t(d, kd, "move_path", JSON_STRING);
				if (mv >= 0)
					w_kstr_tok(&aw, "move_path", d, mv);
				jw_obj_end(&aw);
			}
			jw_arr_end(&aw);
		}
		jw_obj_end(&aw);
		jw_strn(w, a.p, a.len);
		buf_free(&a);
	} else if (kind == K_MCP || kind == K_DYNAMIC) {
		w_text_of(w, d, get(d, item, "arguments"));
	} else if (kind == K_COLLAB) {
		w_text_of(w, d, get(d, item, "prompt"));
	} else if (kind == K_WEB) {
		w_text_of(w, d, get(d, item, "query"));
	} else {
		w_text_of(w, d, get(d, item, "revisedPrompt"));
	}
}

static void call_content(buf_t *out, int kind, const jdoc *d, int item, const char *id)
{
	jw_t w;
	buf_t name;
	buf_init(&name);
	call_name(&name, kind, d, item);
	jw_init(&w, out);
	jw_arr(&w);
	jw_obj(&w);
	jw_kstr(&w, "type", "tool_call");
	jw_kstr(&w, "name", buf_cstr(&name));
	jw_key(&w, "arguments");
	call_args(&w, kind, d, item);
	jw_kstr(&w, "call_id", id);
	jw_obj_end(&w);
	if (kind == K_FILE)
		file_refs(&w, d, item);
	jw_arr_end(&w);
	buf_free(&name);
}

/* Text blocks of an MCP result / dynamic tool contentItems, joined. */
static bool joined_texts(const jdoc *d, int arr, const char *type, buf_t *out)
{
	bool any = false;
	for (int i = arr >= 0 ? json_first(d->t, arr) : -1; i >= 0; i = json_next(d->t, i)) {
		if (!is_str(d, i, "type", type))
			continue;
		size_t n;
		char *t = str_at(d, get(d, i, "text"), &n);
		if (!t)
			continue;
		if (any)
			buf_putc(out, '\n');
		buf_append(out, t, n);
		free(t);
		any = true;
	}
	return any;
}

/* The tool_result item: its content and status ("completed" / "failed";
 * in_progress while final is false). */
static const char *result_content(buf_t *out, int kind, const jdoc *d, int item, const char *id,
		bool final)
{
	jw_t w;
	buf_t o;
	buf_init(&o);
	const char *status = final ? "completed" : "in_progress";
	int extra = -1; /* a token shown as a json part */
	if (final) {
		int stt = get_t(d, item, "status", JSON_STRING);
		if (stt >= 0 && !json_str_eq(d->js, d->t, stt, "completed"))
			status = "failed";
		int sc = get_t(d, item, "success", JSON_FALSE);
		if (sc >= 0)
			status = "failed";
	}
	if (final && kind == K_COMMAND) {
		size_t n;
		char *t = str_at(d, get(d, item, "aggregatedOutput"), &n);
		if (t)
			buf_append(&o, t, n);
		free(t);
	} else if (final && kind == K_FILE) {
		char *t = get_str(d, item, "status");
		buf_puts(&o, t ? t : "");
		free(t);
	} else if (final && kind == K_MCP) {
		int err = get_t(d, item, "error", JSON_OBJECT);
		int res = get_t(d, item, "result", JSON_OBJECT);
		if (err >= 0) {
			char *m = get_str(d, err, "message");
			buf_puts(&o, m ? m : "");
			free(m);
			status = "failed";
		} else if (res >= 0 && !joined_texts(d, get_t(d, res, "content", JSON_ARRAY), "text", &o)) {
			const char *p;
			size_t n;
			span(d, res, &p, &n);
			buf_append(&o, p, n);
		}
		if (res >= 0 && (get_t(d, res, "structuredContent", JSON_OBJECT) >= 0 ||
				get_t(d, res, "structuredContent", JSON_ARRAY) >= 0))
			extra = res;
	} else if (final && kind == K_DYNAMIC) {
		joined_texts(d, get_t(d, item, "contentItems", JSON_ARRAY), "inputText", &o);
	} else if (final && kind == K_COLLAB) {
		extra = get(d, item, "agentsStates");
	} else if (final && kind == K_WEB) {
		extra = get(d, item, "results");
	} else if (final && kind == K_IMAGEGEN) {
		char *f = get_str(d, item, "failure");
		buf_puts(&o, f ? f : "");
		if (f)
			status = "failed";
		free(f);
	}
	jw_init(&w, out);
	jw_arr(&w);
	jw_obj(&w);
	jw_kstr(&w, "type", "tool_result");
	jw_kstr(&w, "call_id", id);
	jw_key(&w, "output");
	jw_strn(&w, o.p ? o.p : "", o.len);
	jw_obj_end(&w);
	if (kind == K_FILE)
		file_refs(&w, d, item);
	if (final && kind == K_COMMAND) {
		jw_obj(&w);
		jw_kstr(&w, "type", "json");
		jw_key(&w, "json");
		jw_obj(&w);
		jw_key(&w, "exitCode");
		w_tok(&w, d, get_t(d, item, "exitCode", JSON_NUMBER));
		w_kstr_tok(&w, "status", d, get(d, item, "status"));
		jw_key(&w, "durationMs");
		w_tok(&w, d, get_t(d, item, "durationMs", JSON_NUMBER));
		jw_obj_end(&w);
		jw_obj_end(&w);
	}
	if (final && kind == K_IMAGEGEN) {
		char *p = get_str(d, item, "savedPath");
		if (p)
			w_image(&w, p, mime_of_path(p));
		free(p);
	}
	if (extra >= 0 && d->t[extra].type != JSON_NULL)
		w_json_part(&w, d, extra);
	jw_arr_end(&w);
	buf_free(&o);
	return status;
}

/* Content, kind and role of a single (non-pair) item. */
static void single_content(buf_t *out, int kind, const jdoc *d, int item, bool final,
		const char **ukind, const char **role)
{
	jw_t w;
	jw_init(&w, out);
	jw_arr(&w);
	*ukind = "message";
	*role = "assistant";
	switch (kind) {
	case K_USER:
		*role = "user";
		user_content(&w, d, item);
		break;
	case K_AGENT:
	case K_PLAN:
		if (final) {
			size_t n;
			char *t = str_at(d, get(d, item, "text"), &n);
			if (t)
				w_text(&w, t, n);
			free(t);
		}
		break;
	case K_REASONING:
		reasoning_content(&w, d, item);
		break;
	case K_IMAGEVIEW: {
		char *p = get_str(d, item, "path");
		w_image(&w, p, mime_of_path(p));
		free(p);
		break;
	}
	case K_REVIEW_IN:
	case K_REVIEW_OUT:
	case K_COMPACTION:
		*ukind = "status";
		*role = "system";
		jw_obj(&w);
		jw_kstr(&w, "type", "status");
		jw_kstr(&w, "label", kind == K_REVIEW_IN ? "review.entered"
			: kind == K_REVIEW_OUT ? "review.exited" : "context.compaction");
		w_kstr_tok(&w, "detail", d, get(d, item, "review"));
		jw_obj_end(&w);
		break;
	default:
		*ukind = "unknown";
		*role = NULL;
		w_json_part(&w, d, item);
		break;
	}
	jw_arr_end(&w);
}

/* ---- items ---- */

static void item_started(session *s, codex_state *st, const jdoc *d, int item)
{
	char *id = get_str(d, item, "id");
	if (!id || find_item(st, id)) {
		free(id);
		return;
	}
	int kind = item_kind(d, item);
	st->items = xrealloc(st->items, (st->nitems + 1) * sizeof *st->items);
	cx_item *it = &st->items[st->nitems++];
	memset(it, 0, sizeof *it);
	it->id = xstrdup(id);
	it->kind = kind;
	buf_t c;
	buf_init(&c);
	if (is_pair(kind)) {
		char call[CODEX_KEY_MAX + 8];
		snprintf(call, sizeof call, "%.*s:call", CODEX_KEY_MAX, id);
		call_content(&c, kind, d, item, id);
		rec_item(s, st, EV_ITEM_STARTED, false, call, NULL, "tool_call", "assistant",
			buf_cstr(&c), "in_progress");
		rec_item(s, st, EV_ITEM_COMPLETED, false, call, NULL, "tool_call", "assistant",
			buf_cstr(&c), "completed");
		buf_reset(&c);
		result_content(&c, kind, d, item, id, false);
		rec_item(s, st, EV_ITEM_STARTED, false, id, call, "tool_result", "tool", buf_cstr(&c),
			"in_progress");
	} else {
		const char *uk, *role;
		single_content(&c, kind, d, item, false, &uk, &role);
		rec_item(s, st, EV_ITEM_STARTED, false, id, NULL, uk, role, buf_cstr(&c),
			"in_progress");
	}
	buf_free(&c);
	free(id);
}

static void item_completed(session *s, codex_state *st, const jdoc *d, int item)
{
	char *id = get_str(d, item, "id");
	if (!id)
		return;
	int kind = item_kind(d, item);
	cx_item *it = find_item(st, id);
	buf_t c;
	buf_init(&c);
	char call[CODEX_KEY_MAX + 8];
	snprintf(call, sizeof call, "%.*s:call", CODEX_KEY_MAX, id);
	if (is_pair(kind)) {
		if (!it) { /* never started: its call first */
			call_content(&c, kind, d, item, id);
			rec_item(s, st, EV_ITEM_COMPLETED, false, call, NULL, "tool_call", "assistant",
				buf_cstr(&c), "completed");
			buf_reset(&c);
		}
		const char *status = result_content(&c, kind, d, item, id, true);
		rec_item(s, st, EV_ITEM_COMPLETED, false, id, call, "tool_result", "tool",
			buf_cstr(&c), status);
	} else {
		const char *uk, *role;
		single_content(&c, kind, d, item, true, &uk, &role);
		rec_item(s, st, EV_ITEM_COMPLETED, false, id, NULL, uk, role, buf_cstr(&c),
			"completed");
	}
	buf_free(&c);
	it = find_item(st, id);
	if (it)
		drop_item(st, it);
	free(id);
}

/* Completes every open item as failed (interrupt, turn end, exit). */
static void close_items(session *s, codex_state *st)
{
	while (st->nitems) {
		cx_item *it = &st->items[st->nitems - 1];
		buf_t c;
		jw_t w;
		buf_init(&c);
		jw_init(&w, &c);
		jw_arr(&w);
		if (is_pair(it->kind)) {
			char call[CODEX_KEY_MAX + 8];
			snprintf(call, sizeof call, "%.*s:call", CODEX_KEY_MAX, it->id);
			jw_obj(&w);
			jw_kstr(&w, "type", "tool_result");
			jw_kstr(&w, "call_id", it->id);
			jw_kstr(&w, "output", "");
			jw_obj_end(&w);
			jw_arr_end(&w);
			rec_item(s, st, EV_ITEM_COMPLETED, true, it->id, call, "tool_result", "tool",
				buf_cstr(&c), "failed");
		} else {
			const char *kind = "message", *role = "assistant";
			if (it->kind == K_REASONING && it->text.len) {
				jw_obj(&w);
				jw_kstr(&w, "type", "reasoning");
				jw_key(&w, "text");
				jw_strn(&w, it->text.p, it->text.len);
				jw_kstr(&w, "visibility", "public");
				jw_obj_end(&w);
			} else if (it->text.len) {
				w_text(&w, it->text.p, it->text.len);
			}
			if (it->kind == K_USER)
				role = "user";
			else if (it->kind == K_REVIEW_IN || it->kind == K_REVIEW_OUT ||
					it->kind == K_COMPACTION)
				kind = "status", role = "system";
			else if (it->kind == K_OTHER)
				kind = "unknown", role = NULL;
			jw_arr_end(&w);
			rec_item(s, st, EV_ITEM_COMPLETED, true, it->id, NULL, kind, role, buf_cstr(&c),
				"failed");
		}
		buf_free(&c);
		drop_item(st, it);
	}
}

/* A delta for an open item; native is the item (or result) id. */
static void item_delta(session *s, codex_state *st, const jdoc *d, int params,
		const char *field, const char *suffix)
{
	char *id = get_str(d, params, "itemId");
	cx_item *it = find_item(st, id);
	size_t n;
	char *text = str_at(d, get(d, params, field), &n);
	if (it && text && n) {
		buf_t t;
		buf_init(&t);
		buf_append(&t, text, n);
		if (suffix)
			buf_puts(&t, suffix);
		if (it->kind == K_AGENT || it->kind == K_REASONING || it->kind == K_PLAN)
			buf_append(&it->text, t.p, t.len);
		it->delta = true;
		rec_delta(s, st, id, t.p, t.len);
		buf_free(&t);
	}
	free(text);
	free(id);
}

/* ---- turns ---- */

static void arm_idle(session *s, codex_state *st);

static void end_turn(session *s, codex_state *st)
{
	st->turn = st->turn_sent = st->turn_answered = st->turn_error = st->turn_open = false;
	free(st->turn_id);
	free(st->input);
	free(st->usage);
	st->turn_id = st->input = st->usage = NULL;
	arm_idle(s, st);
	sess_turn_done(s);
}

static void set_turn_id(codex_state *st, const jdoc *d, int turn)
{
	char *id = get_str(d, turn, "id");
	if (id && (!st->turn_id || strcmp(st->turn_id, id))) {
		free(st->turn_id);
		st->turn_id = id;
		id = NULL;
	}
	free(id);
}

static void turn_started(session *s, codex_state *st, const jdoc *d, int params)
{
	int turn = get_t(d, params, "turn", JSON_OBJECT);
	if (!st->turn) { /* a turn codex started by itself */
		st->turn = true;
		s->busy = true;
	}
	st->turn_answered = true;
	st->turn_open = true;
	set_turn_id(st, d, turn);
	ev_conv c = conv(st, EV_TURN_STARTED, false);
	c.u.turn.turn_id = st->turn_id;
	char *meta = turn >= 0 ? tok_json(d, turn) : NULL;
	c.u.turn.metadata_json = meta;
	sess_record(s, &c);
	free(meta);
}

static void turn_completed(session *s, codex_state *st, const jdoc *d, int params)
{
	int turn = get_t(d, params, "turn", JSON_OBJECT);
	set_turn_id(st, d, turn);
	close_items(s, st);
	int err = get_t(d, turn, "error", JSON_OBJECT);
	if (err >= 0 && !st->turn_error) {
		char *m = get_str(d, err, "message");
		char *det = tok_json(d, err);
		rec_error(s, st, false, m ? m : "turn failed", NULL, det);
		free(m);
		free(det);
	}
	/* metadata: the turn, plus the token usage codex reported for it */
	buf_t meta;
	jw_t w;
	buf_init(&meta);
	jw_init(&w, &meta);
	jw_obj(&w);
	for (int k = turn >= 0 ? json_first(d->t, turn) : -1; k >= 0;
			k = json_next(d->t, json_next(d->t, k))) {
		if (json_str_eq(d->js, d->t, k, "tokenUsage"))
			continue;
		char *kn = str_at(d, k, NULL);
		jw_key(&w, kn ? kn : "");
		w_tok(&w, d, json_next(d->t, k));
		free(kn);
	}
	if (st->usage) {
		jw_key(&w, "tokenUsage");
		jw_raw(&w, st->usage, strlen(st->usage));
	}
	jw_obj_end(&w);
	ev_conv c = conv(st, EV_TURN_ENDED, false);
	c.u.turn.turn_id = st->turn_id;
	c.u.turn.metadata_json = buf_cstr(&meta);
	sess_record(s, &c);
	buf_free(&meta);
	st->had_turn = true;
	if (st->turn)
		end_turn(s, st);
}

/* Spec 5.4: a rejected session model is dropped (recorded as a status
 * item) so that the next turn uses Codex's default. */
static void check_model(session *s, codex_state *st, const char *msg, size_t len)
{
	char id[160];
	if (!msg || !codex_model_rejected(msg, len, id, sizeof id))
		return;
	if (!s->model || strcmp(s->model, id))
		return;
	free(s->model);
	s->model = NULL;
	char detail[256];
	int n = snprintf(detail, sizeof detail, "Model '%s' was rejected by provider; falling back "
		"to default for this session.", id);
	buf_t b;
	jw_t w;
	buf_init(&b);
	jw_init(&w, &b);
	jw_arr(&w);
	jw_obj(&w);
	jw_kstr(&w, "type", "status");
	jw_kstr(&w, "label", "codex.model.unavailable");
	jw_key(&w, "detail");
	jw_strn(&w, detail, n > 0 ? (size_t)n : 0);
	jw_obj_end(&w);
	jw_arr_end(&w);
	rec_item(s, st, EV_ITEM_COMPLETED, true, NULL, NULL, "status", "system", buf_cstr(&b),
		"completed");
	buf_free(&b);
}

/* ---- server requests (HITL) ---- */

static cx_sreq *find_sreq(codex_state *st, const char *key)
{
	for (size_t i = 0; key && i < st->nsreqs; i++)
		if (!strcmp(st->sreqs[i].key, key))
			return &st->sreqs[i];
	return NULL;
}

static void drop_sreq(codex_state *st, cx_sreq *r)
{
	size_t i = (size_t)(r - st->sreqs);
	free(r->key);
	free(r->id_json);
	free(r->extra);
	memmove(&st->sreqs[i], &st->sreqs[i + 1], (st->nsreqs - i - 1) * sizeof *r);
	st->nsreqs--;
}

static void add_sreq(codex_state *st, const char *key, const char *id_json, int kind, char *extra)
{
	cx_sreq *old = find_sreq(st, key);
	if (old)
		drop_sreq(st, old);
	st->sreqs = xrealloc(st->sreqs, (st->nsreqs + 1) * sizeof *st->sreqs);
	cx_sreq *r = &st->sreqs[st->nsreqs++];
	r->key = xstrdup(key);
	r->id_json = xstrdup(id_json);
	r->kind = kind;
	r->extra = extra;
}

/* A request codex no longer waits for: resolved as rejected. */
static void withdraw(session *s, codex_state *st, const char *key)
{
	cx_sreq *r = find_sreq(st, key);
	if (!r)
		return;
	bool question = r->kind == SR_USER_INPUT || r->kind == SR_ELICIT;
	drop_sreq(st, r);
	if (s->ended)
		return;
	if (question) {
		pending_question *q = sess_find_question(s, key);
		if (!q)
			return;
		pending_question t;
		sess_take_question(s, q, &t);
		ev_conv c = conv(st, EV_QUESTION_RESOLVED, true);
		c.u.question.id = t.id;
		c.u.question.prompt = t.prompt;
		c.u.question.options_json = t.options_json;
		c.u.question.status = "rejected";
		sess_record(s, &c);
		sess_free_question(&t);
	} else {
		pending_perm *p = sess_find_perm(s, key);
		if (!p)
			return;
		pending_perm t;
		sess_take_perm(s, p, &t);
		ev_conv c = conv(st, EV_PERMISSION_RESOLVED, true);
		c.u.perm.id = t.id;
		c.u.perm.action = t.action;
		c.u.perm.status = "reject";
		c.u.perm.metadata_json = t.metadata_json;
		sess_record(s, &c);
		sess_free_perm(&t);
	}
}

static void withdraw_all(session *s, codex_state *st)
{
	while (st->nsreqs) {
		char *key = xstrdup(st->sreqs[st->nsreqs - 1].key);
		withdraw(s, st, key);
		free(key);
	}
}

static void perm_requested(session *s, codex_state *st, const char *key, const char *action,
		const char *meta)
{
	ev_conv c = conv(st, EV_PERMISSION_REQUESTED, false);
	c.u.perm.id = key;
	c.u.perm.action = action;
	c.u.perm.status = "requested";
	c.u.perm.metadata_json = meta;
	sess_record(s, &c);
	/* acceptEdits (spec 7.4): the session keeps file-change requests
	 * hidden; they are accepted for the session here. */
	pending_perm *p = sess_find_perm(s, key);
	if (!p || !p->hidden || p->question_tool || s->ended)
		return;
	agent_err e = {0};
	if (codex_reply_permission(s, p, REPLY_ALWAYS, &e) != 0) {
		log_warn("session %s: auto-accepting %s failed: %s", s->id, key, e.msg);
		return;
	}
	p = sess_find_perm(s, key);
	if (!p)
		return;
	pending_perm t;
	sess_take_perm(s, p, &t);
	ev_conv r = conv(st, EV_PERMISSION_RESOLVED, true);
	r.u.perm.id = t.id;
	r.u.perm.action = t.action;
	r.u.perm.status = "accept_for_session";
	r.u.perm.metadata_json = t.metadata_json;
	sess_record(s, &r);
	sess_free_perm(&t);
}

/* Metadata of spec 7.3 plus what identifies the request's subject. */
static void meta_begin(jw_t *w, const char *kind, const jdoc *d, int idt)
{
	jw_obj(w);
	jw_kstr(w, "codexRequestKind", kind);
	jw_key(w, "codexRequestId");
	w_tok(w, d, idt);
}

static void approval_request(session *s, codex_state *st, const jdoc *d, int idt,
		const char *key, const char *id_json, int kind, int params)
{
	bool legacy = kind == SR_LEGACY_EXEC || kind == SR_LEGACY_PATCH;
	bool cmd = kind == SR_COMMAND || kind == SR_LEGACY_EXEC;
	const char *action = cmd ? "commandExecution" : "fileChange";
	buf_t m;
	jw_t w;
	buf_init(&m);
	jw_init(&w, &m);
	meta_begin(&w, action, d, idt);
	w_kstr_tok(&w, "threadId", d, get(d, params, legacy ? "conversationId" : "threadId"));
	if (!legacy)
		w_kstr_tok(&w, "turnId", d, get(d, params, "turnId"));
	w_kstr_tok(&w, "itemId", d, get(d, params, legacy ? "callId" : "itemId"));
	if (cmd) {
		int c = get(d, params, "command");
		jw_key(&w, "command");
		if (c >= 0 && d->t[c].type == JSON_ARRAY) { /* legacy: argv */
			buf_t j;
			buf_init(&j);
			for (int i = json_first(d->t, c); i >= 0; i = json_next(d->t, i)) {
				char *a = str_at(d, i, NULL);
				if (j.len)
					buf_putc(&j, ' ');
				buf_puts(&j, a ? a : "");
				free(a);
			}
			jw_strn(&w, j.p ? j.p : "", j.len);
			buf_free(&j);
		} else {
			w_tok(&w, d, c >= 0 && d->t[c].type == JSON_STRING ? c : -1);
		}
		w_kstr_tok(&w, "cwd", d, get(d, params, "cwd"));
	}
	int reason = get_t(d, params, "reason", JSON_STRING);
	if (reason >= 0)
		w_kstr_tok(&w, "reason", d, reason);
	if (!cmd) {
		int gr = get_t(d, params, "grantRoot", JSON_STRING);
		if (gr >= 0)
			w_kstr_tok(&w, "grantRoot", d, gr);
	}
	jw_obj_end(&w);
	add_sreq(st, key, id_json, kind, NULL);
	perm_requested(s, st, key, action, buf_cstr(&m));
	buf_free(&m);
}

static void permissions_request(session *s, codex_state *st, const jdoc *d, int idt,
		const char *key, const char *id_json, int params)
{
	buf_t m;
	jw_t w;
	buf_init(&m);
	jw_init(&w, &m);
	meta_begin(&w, "permissions", d, idt);
	w_kstr_tok(&w, "threadId", d, get(d, params, "threadId"));
	w_kstr_tok(&w, "turnId", d, get(d, params, "turnId"));
	w_kstr_tok(&w, "itemId", d, get(d, params, "itemId"));
	int reason = get_t(d, params, "reason", JSON_STRING);
	if (reason >= 0)
		w_kstr_tok(&w, "reason", d, reason);
	int prof = get_t(d, params, "permissions", JSON_OBJECT);
	jw_key(&w, "permissions");
	w_tok(&w, d, prof);
	jw_obj_end(&w);
	add_sreq(st, key, id_json, SR_PERMISSIONS, prof >= 0 ? tok_json(d, prof) : xstrdup("{}"));
	perm_requested(s, st, key, "permissions", buf_cstr(&m));
	buf_free(&m);
}

static void question_requested(session *s, codex_state *st, const char *key, const char *prompt,
		const char *options)
{
	ev_conv c = conv(st, EV_QUESTION_REQUESTED, false);
	c.u.question.id = key;
	c.u.question.prompt = prompt;
	c.u.question.options_json = options;
	c.u.question.status = "requested";
	sess_record(s, &c);
}

/* item/tool/requestUserInput: the first question is the prompt; answers
 * go back by position, keyed by each question's id. */
static void user_input_request(session *s, codex_state *st, const jdoc *d, const char *key,
		const char *id_json, int params)
{
	int qs = get_t(d, params, "questions", JSON_ARRAY);
	buf_t ids, opts;
	jw_t wi, wo;
	buf_init(&ids);
	buf_init(&opts);
	jw_init(&wi, &ids);
	jw_init(&wo, &opts);
	jw_arr(&wi);
	jw_arr(&wo);
	char *prompt = NULL;
	bool first = true;
	for (int q = qs >= 0 ? json_first(d->t, qs) : -1; q >= 0; q = json_next(d->t, q)) {
		int qi = get_t(d, q, "id", JSON_STRING);
		if (qi >= 0)
			w_tok(&wi, d, qi);
		else
			jw_str(&wi, "");
		if (first) {
			first = false;
			prompt = get_str(d, q, "question");
			int os = get_t(d, q, "options", JSON_ARRAY);
			for (int o = os >= 0 ? json_first(d->t, os) : -1; o >= 0; o = json_next(d->t, o)) {
				int l = get_t(d, o, "label", JSON_STRING);
				if (l >= 0)
					w_tok(&wo, d, l);
			}
		}
	}
	jw_arr_end(&wi);
	jw_arr_end(&wo);
	add_sreq(st, key, id_json, SR_USER_INPUT, buf_cstr(&ids));
	question_requested(s, st, key, prompt ? prompt : "", buf_cstr(&opts));
	free(prompt);
	buf_free(&opts);
}

/* mcpServer/elicitation/request: a tool-call approval is a permission;
 * any other form is a question on its first field. */
static void elicitation_request(session *s, codex_state *st, const jdoc *d, int idt,
		const char *key, const char *id_json, int params)
{
	int meta = get_t(d, params, "_meta", JSON_OBJECT);
	if (is_str(d, meta, "codex_approval_kind", "mcp_tool_call")) {
		buf_t m;
		jw_t w;
		buf_init(&m);
		jw_init(&w, &m);
		meta_begin(&w, "mcpToolCall", d, idt);
		w_kstr_tok(&w, "threadId", d, get(d, params, "threadId"));
		w_kstr_tok(&w, "turnId", d, get(d, params, "turnId"));
		w_kstr_tok(&w, "serverName", d, get(d, params, "serverName"));
		w_kstr_tok(&w, "toolName", d, get(d, meta, "tool_name"));
		w_kstr_tok(&w, "message", d, get(d, params, "message"));
		jw_key(&w, "toolParams");
		w_tok(&w, d, get(d, meta, "tool_params"));
		jw_obj_end(&w);
		add_sreq(st, key, id_json, SR_MCP_APPROVAL, NULL);
		perm_requested(s, st, key, "mcpToolCall", buf_cstr(&m));
		buf_free(&m);
		return;
	}
	char *msg = get_str(d, params, "message");
	char *url = get_str(d, params, "url");
	int props = get_t(d, get(d, params, "requestedSchema"), "properties", JSON_OBJECT);
	int f = props >= 0 ? json_first(d->t, props) : -1;
	buf_t opts, extra, prompt;
	jw_t wo;
	buf_init(&opts);
	buf_init(&extra);
	buf_init(&prompt);
	buf_puts(&prompt, msg ? msg : "");
	if (url)
		buf_printf(&prompt, "\n%s", url);
	jw_init(&wo, &opts);
	jw_arr(&wo);
	if (f >= 0) {
		/* extra: "<type>\n<field name>" */
		int fs = json_next(d->t, f);
		char *name = str_at(d, f, NULL);
		char *type = get_str(d, fs, "type");
		buf_printf(&extra, "%s\n%s", type ? type : "string", name ? name : "");
		int en = get_t(d, fs, "enum", JSON_ARRAY);
		int one = get_t(d, fs, "oneOf", JSON_ARRAY);
		for (int o = en >= 0 ? json_first(d->t, en) : -1; o >= 0; o = json_next(d->t, o))
			if (d->t[o].type == JSON_STRING)
				w_tok(&wo, d, o);
		for (int o = one >= 0 ? json_first(d->t, one) : -1; o >= 0; o = json_next(d->t, o)) {
			int cv = get_t(d, o, "const", JSON_STRING);
			if (cv >= 0)
				w_tok(&wo, d, cv);
		}
		if (type && !strcmp(type, "boolean") && en < 0) {
			jw_str(&wo, "true");
			jw_str(&wo, "false");
		}
		free(name);
		free(type);
	} else {
		jw_str(&wo, "Accept");
		jw_str(&wo, "Decline");
	}
	jw_arr_end(&wo);
	add_sreq(st, key, id_json, SR_ELICIT, extra.len ? buf_cstr(&extra) : NULL);
	if (!extra.len)
		buf_free(&extra);
	question_requested(s, st, key, buf_cstr(&prompt), buf_cstr(&opts));
	buf_free(&opts);
	buf_free(&prompt);
	free(msg);
	free(url);
}

static void on_request(session *s, codex_state *st, const jdoc *d, int root, int idt,
		int method)
{
	char key[CODEX_KEY_MAX + 1];
	const char *idp;
	size_t idn;
	span(d, idt, &idp, &idn);
	char *id_json = xstrndup(idp, idn);
	if (d->t[idt].type == JSON_STRING) {
		if (json_str_decode(d->js, d->t, idt, key, sizeof key) < 0)
			snprintf(key, sizeof key, "%.*s", (int)(idn < CODEX_KEY_MAX ? idn : CODEX_KEY_MAX),
				idp);
	} else {
		snprintf(key, sizeof key, "%.*s", (int)(idn < CODEX_KEY_MAX ? idn : CODEX_KEY_MAX), idp);
	}
	/* an id codex uses again: it no longer waits for the old request */
	if (find_sreq(st, key))
		withdraw(s, st, key);
	int params = get_t(d, root, "params", JSON_OBJECT);
	const char *js = d->js;
	if (json_str_eq(js, d->t, method, "item/commandExecution/requestApproval")) {
		approval_request(s, st, d, idt, key, id_json, SR_COMMAND, params);
	} else if (json_str_eq(js, d->t, method, "item/fileChange/requestApproval")) {
		approval_request(s, st, d, idt, key, id_json, SR_FILE, params);
	} else if (json_str_eq(js, d->t, method, "execCommandApproval")) {
		approval_request(s, st, d, idt, key, id_json, SR_LEGACY_EXEC, params);
	} else if (json_str_eq(js, d->t, method, "applyPatchApproval")) {
		approval_request(s, st, d, idt, key, id_json, SR_LEGACY_PATCH, params);
	} else if (json_str_eq(js, d->t, method, "item/permissions/requestApproval")) {
		permissions_request(s, st, d, idt, key, id_json, params);
	} else if (json_str_eq(js, d->t, method, "item/tool/requestUserInput")) {
		user_input_request(s, st, d, key, id_json, params);
	} else if (json_str_eq(js, d->t, method, "mcpServer/elicitation/request")) {
		elicitation_request(s, st, d, idt, key, id_json, params);
	} else {
		/* dynamic tools, auth refresh, attestation...: nothing here can
		 * answer them, and codex must not wait */
		char *m = str_at(d, method, NULL);
		char err[200];
		snprintf(err, sizeof err, "unsupported codex server request: %.120s", m ? m : "");
		reply_error(st, id_json, -32601, "not supported by sandbox-agent");
		sess_record_unparsed(s, err, "codex", st->raw, st->raw_len);
		free(m);
	}
	free(id_json);
}

/* ---- notifications ---- */

/* Notifications of other threads (sub-agents) are not this session's. */
static bool our_thread(codex_state *st, const jdoc *d, int params)
{
	int t = get_t(d, params, "threadId", JSON_STRING);
	return t < 0 || !st->thread_id || json_str_eq(d->js, d->t, t, st->thread_id);
}

static void on_error_note(session *s, codex_state *st, const jdoc *d, int params)
{
	int err = get_t(d, params, "error", JSON_OBJECT);
	size_t n = 0, an = 0;
	char *msg = str_at(d, get(d, err, "message"), &n);
	char *add = str_at(d, get(d, err, "additionalDetails"), &an);
	check_model(s, st, msg, n);
	if (add)
		check_model(s, st, add, an);
	bool retry = get_t(d, params, "willRetry", JSON_TRUE) >= 0;
	if (retry) {
		/* codex carries on: an error event would end turn streams */
		buf_t det;
		buf_init(&det);
		buf_append(&det, msg ? msg : "", n);
		if (add && an) {
			buf_puts(&det, ": ");
			buf_append(&det, add, an);
		}
		rec_status(s, st, "codex.retry", det.p ? det.p : "", det.len);
		buf_free(&det);
	} else {
		char *details = tok_json(d, params);
		rec_error(s, st, false, msg && n ? msg : "codex error", NULL, details);
		free(details);
		st->turn_error = true;
	}
	free(msg);
	free(add);
}

static void on_note(session *s, codex_state *st, const jdoc *d, int root, int method)
{
	int params = get_t(d, root, "params", JSON_OBJECT);
	const char *js = d->js;
	const json_tok *t = d->t;
#define IS(m) json_str_eq(js, t, method, m)
	if (IS("configWarning") || IS("deprecationNotice")) {
		char *m = get_str(d, params, "summary");
		log_info("session %s: codex: %s", s->id, m ? m : "");
		free(m);
		return;
	}
	if (IS("serverRequest/resolved")) {
		int r = get(d, params, "requestId");
		if (r >= 0) {
			char key[CODEX_KEY_MAX + 1];
			if (t[r].type == JSON_STRING) {
				if (json_str_decode(js, t, r, key, sizeof key) < 0)
					return;
			} else {
				snprintf(key, sizeof key, "%.*s", (int)(t[r].end - t[r].start), js + t[r].start);
			}
			withdraw(s, st, key);
		}
		return;
	}
	if (!our_thread(st, d, params))
		return;
	int item = get_t(d, params, "item", JSON_OBJECT);
	if (IS("turn/started")) {
		turn_started(s, st, d, params);
	} else if (IS("turn/completed")) {
		turn_completed(s, st, d, params);
	} else if (IS("item/started")) {
		if (item >= 0)
			item_started(s, st, d, item);
	} else if (IS("item/completed")) {
		if (item >= 0)
			item_completed(s, st, d, item);
	} else if (IS("item/agentMessage/delta") || IS("item/reasoning/summaryTextDelta") ||
			IS("item/reasoning/textDelta") || IS("item/plan/delta") ||
			IS("item/commandExecution/outputDelta") || IS("item/fileChange/outputDelta")) {
		item_delta(s, st, d, params, "delta", NULL);
	} else if (IS("item/commandExecution/terminalInteraction")) {
		item_delta(s, st, d, params, "stdin", NULL);
	} else if (IS("item/mcpToolCall/progress")) {
		item_delta(s, st, d, params, "message", "\n");
	} else if (IS("item/reasoning/summaryPartAdded")) {
		/* a new summary part: keep the parts apart in the stream */
		char *id = get_str(d, params, "itemId");
		cx_item *it = find_item(st, id);
		if (it && it->delta) {
			buf_append(&it->text, "\n\n", 2);
			rec_delta(s, st, id, "\n\n", 2);
		}
		free(id);
	} else if (IS("thread/tokenUsage/updated")) {
		int u = get_t(d, params, "tokenUsage", JSON_OBJECT);
		if (u >= 0) {
			free(st->usage);
			st->usage = tok_json(d, u);
		}
	} else if (IS("error")) {
		on_error_note(s, st, d, params);
	} else if (IS("warning") || IS("guardianWarning")) {
		size_t n = 0;
		char *m = str_at(d, get(d, params, "message"), &n);
		rec_status(s, st, "codex.warning", m ? m : "", m ? n : 0);
		free(m);
	} else if (IS("turn/plan/updated")) {
		const char *p;
		size_t n;
		span(d, params, &p, &n);
		rec_status(s, st, "turn.plan.updated", p, n);
	} else if (IS("thread/compacted")) {
		rec_status(s, st, "thread.compacted", NULL, 0);
	} else if (IS("model/rerouted")) {
		char *from = get_str(d, params, "fromModel"), *to = get_str(d, params, "toModel");
		buf_t b;
		buf_init(&b);
		buf_printf(&b, "%s -> %s", from ? from : "", to ? to : "");
		rec_status(s, st, "model.rerouted", b.p, b.len);
		buf_free(&b);
		free(from);
		free(to);
	} else if (IS("mcpServer/startupStatus/updated")) {
		if (is_str(d, params, "status", "failed")) {
			char *name = get_str(d, params, "name"), *err = get_str(d, params, "error");
			buf_t b;
			buf_init(&b);
			buf_printf(&b, "%s: %s", name ? name : "", err ? err : "failed to start");
			rec_status(s, st, "mcp.startup.failed", b.p, b.len);
			buf_free(&b);
			free(name);
			free(err);
		}
	}
	/* everything else carries nothing universal (docs/codex.md) */
#undef IS
}

/* ---- responses to our requests ---- */

static void flush_turn(session *s, codex_state *st)
{
	if (st->phase != PH_READY || !st->turn || st->turn_sent || !st->input)
		return;
	if (send_turn_start(s, st) != 0) {
		rec_error(s, st, true, "cannot write to the codex app-server", "send_failed", NULL);
		end_turn(s, st);
	}
}

static void adopt_thread(session *s, codex_state *st, const char *tid)
{
	if (!st->thread_id || strcmp(st->thread_id, tid)) {
		if (st->thread_id)
			log_info("session %s: codex thread %s replaced by %s", s->id, st->thread_id, tid);
		free(st->thread_id);
		st->thread_id = xstrdup(tid);
		st->had_turn = false;
	}
	if (!s->native_id || strcmp(s->native_id, tid)) {
		free(s->native_id);
		s->native_id = xstrdup(tid);
	}
}

/* The handshake or thread failed: the waiting message fails, and the
 * next one starts a new app-server. */
static void startup_failed(session *s, codex_state *st, const char *what, const jdoc *d,
		int err)
{
	char *m = get_str(d, err, "message");
	char msg[600];
	snprintf(msg, sizeof msg, "%s failed: %.500s", what, m ? m : "unknown error");
	char *details = tok_json(d, err);
	log_warn("session %s: codex %s", s->id, msg);
	withdraw_all(s, st);
	if (st->turn) {
		rec_error(s, st, false, msg, "jsonrpc.error", details);
		end_turn(s, st);
	}
	free(details);
	free(m);
	if (st->p) {
		proc_detach(st->p);
		st->p = NULL;
	}
	st->phase = PH_NONE;
}

static void on_response(session *s, codex_state *st, const jdoc *d, int root, int idt)
{
	int64_t id;
	if (!json_get_i64(d->js, d->t, idt, &id))
		return;
	int kind = take_req(st, id);
	int res = get(d, root, "result");
	int err = get_t(d, root, "error", JSON_OBJECT);
	switch (kind) {
	case RQ_INITIALIZE:
		if (err >= 0) {
			startup_failed(s, st, "initialize", d, err);
			return;
		}
		{
			buf_t b;
			buf_init(&b);
			buf_puts(&b, "{\"method\":\"initialized\"}");
			send_line(st, &b);
			buf_free(&b);
		}
		send_thread(s, st);
		return;
	case RQ_THREAD_START:
	case RQ_THREAD_RESUME: {
		if (err >= 0 && kind == RQ_THREAD_RESUME) {
			/* no rollout (or a broken one): a new thread, said so */
			char *m = get_str(d, err, "message");
			char det[400];
			int n = snprintf(det, sizeof det, "thread %.80s could not be resumed (%.200s); "
				"a new thread was started", st->thread_id, m ? m : "error");
			rec_status(s, st, "codex.thread.restarted", det, n > 0 ? (size_t)n : 0);
			free(m);
			st->had_turn = false;
			send_thread(s, st);
			return;
		}
		if (err >= 0) {
			startup_failed(s, st, "thread/start", d, err);
			return;
		}
		int th = get_t(d, res, "thread", JSON_OBJECT);
		char *tid = get_str(d, th, "id");
		if (!tid)
			tid = get_str(d, res, "threadId");
		if (!tid) {
			startup_failed(s, st, "thread/start", d, res);
			return;
		}
		adopt_thread(s, st, tid);
		free(tid);
		if (kind == RQ_THREAD_RESUME)
			st->had_turn = true;
		st->phase = PH_READY;
		if (!st->test_out) {
			if (st->start_timer)
				loop_cancel_timer(srv_loop(), st->start_timer);
			st->start_timer = 0;
			log_info("session %s: codex thread %s ready %llu ms after spawn%s", s->id,
				st->thread_id, (unsigned long long)(util_mono_ms() - st->spawned_ms),
				kind == RQ_THREAD_RESUME ? " (resumed)" : "");
		}
		flush_turn(s, st);
		if (!st->turn)
			arm_idle(s, st);
		return;
	}
	case RQ_TURN_START:
		if (!st->turn)
			return;
		st->turn_answered = true;
		if (err >= 0) {
			size_t n = 0;
			char *m = str_at(d, get(d, err, "message"), &n);
			check_model(s, st, m, n);
			int data = get(d, err, "data");
			if (data >= 0) {
				const char *p;
				size_t dn;
				span(d, data, &p, &dn);
				check_model(s, st, p, dn);
			}
			char *details = tok_json(d, err);
			rec_error(s, st, false, m && n ? m : "turn/start failed", "jsonrpc.error", details);
			free(details);
			free(m);
			close_items(s, st);
			end_turn(s, st);
			return;
		}
		set_turn_id(st, d, get_t(d, res, "turn", JSON_OBJECT));
		return;
	default:
		return; /* turn/interrupt and unknown ids */
	}
}

/* ---- one line ---- */

static void handle_line(session *s, codex_state *st, const char *line, size_t len)
{
	jdoc d;
	int n = parse(st, line, len, &d);
	st->raw = line;
	st->raw_len = len;
	if (n <= 0 || d.t[0].type != JSON_OBJECT) {
		char err[128];
		snprintf(err, sizeof err, n <= 0 ? "invalid JSON from codex: %s"
			: "codex line is not a JSON object%s", n <= 0 ? json_strerror(n) : "");
		sess_record_unparsed(s, err, "codex", line, len);
	} else {
		int method = get_t(&d, 0, "method", JSON_STRING);
		int idt = get(&d, 0, "id");
		if (idt >= 0 && d.t[idt].type != JSON_NUMBER && d.t[idt].type != JSON_STRING)
			idt = -1;
		if (method >= 0 && idt >= 0)
			on_request(s, st, &d, 0, idt, method);
		else if (method >= 0)
			on_note(s, st, &d, 0, method);
		else if (idt >= 0 && (get(&d, 0, "result") >= 0 || get(&d, 0, "error") >= 0))
			on_response(s, st, &d, 0, idt);
		else
			sess_record_unparsed(s, "not a JSON-RPC message", "codex", line, len);
	}
	st->raw = NULL;
	st->raw_len = 0;
	if (st->ntok > CODEX_TOKENS_KEEP) {
		free(st->tok);
		st->tok = NULL;
		st->ntok = 0;
	}
}

/* ---- the process ---- */

static unsigned idle_ms(void)
{
	const char *v = getenv("SANDBOX_AGENT_CODEX_IDLE_MS");
	uint64_t ms;
	if (v && util_parse_u64(v, strlen(v), &ms) && ms <= 86400000u)
		return (unsigned)ms;
	return CODEX_IDLE_MS;
}

static void on_idle(loop_t *l, void *ud)
{
	session *s = ud;
	codex_state *st = s->agent_state;
	st->idle_timer = 0;
	if (!st->p || st->turn || st->nsreqs || st->phase != PH_READY || st->terminating ||
			s->ended)
		return;
	log_info("session %s: codex app-server idle, stopping it (the thread resumes with the "
		"next message)", s->id);
	st->stopping = true;
	proc_close_stdin(st->p); /* codex exits on EOF */
}

static void arm_idle(session *s, codex_state *st)
{
	if (st->test_out)
		return;
	if (st->idle_timer)
		loop_cancel_timer(srv_loop(), st->idle_timer);
	st->idle_timer = 0;
	unsigned ms = idle_ms();
	if (ms && st->p && !st->turn && !st->terminating)
		st->idle_timer = loop_add_timer(srv_loop(), ms, 0, on_idle, s);
}

static void on_start_timeout(loop_t *l, void *ud)
{
	session *s = ud;
	codex_state *st = s->agent_state;
	st->start_timer = 0;
	if (!st->p || st->phase == PH_READY)
		return;
	log_warn("session %s: codex app-server did not get ready within %u ms, stopping it",
		s->id, CODEX_START_TIMEOUT_MS);
	st->retried = true; /* a hang is no race: no second start */
	proc_terminate(st->p, PROC_TERM_GRACE_MS);
}

static void cancel_timers(codex_state *st)
{
	if (st->test_out)
		return;
	if (st->start_timer)
		loop_cancel_timer(srv_loop(), st->start_timer);
	if (st->idle_timer)
		loop_cancel_timer(srv_loop(), st->idle_timer);
	st->start_timer = st->idle_timer = 0;
}

/* Resets the protocol for a new app-server and starts its handshake. */
static int spawn(session *s, codex_state *st, agent_err *e)
{
	st->phase = PH_INIT;
	st->next_id = 1;
	st->nreqs = 0;
	st->turn_sent = false;
	st->stopping = false;
	if (st->test_out)
		return send_initialize(st);
	char *bin = au_binary(&agent_codex, e);
	if (!bin) {
		st->phase = PH_NONE;
		return -1;
	}
	const char **argv = xcalloc(st->nmcp_args + 8, sizeof *argv);
	size_t n = 0;
	argv[n++] = "codex";
	argv[n++] = "app-server";
	argv[n++] = "--disable";
	argv[n++] = "plugins";
	argv[n++] = "-c";
	argv[n++] = "analytics.enabled=false";
	for (size_t i = 0; i < st->nmcp_args; i++)
		argv[n++] = st->mcp_args[i];
	argv[n] = NULL;
	char err[256];
	proc_spec sp = {.path = bin, .argv = argv, .cwd = s->directory};
	st->p = proc_spawn(srv_loop(), &sp, &codex_proc_ops, s, err, sizeof err);
	free(argv);
	free(bin);
	if (!st->p) {
		st->phase = PH_NONE;
		agent_fail(e, AERR_EXITED, "failed to start codex app-server: %s", err);
		return -1;
	}
	st->spawned_ms = util_mono_ms();
	log_info("session %s: codex app-server started as pid %d", s->id, (int)proc_pid(st->p));
	cancel_timers(st);
	st->start_timer = loop_add_timer(srv_loop(), CODEX_START_TIMEOUT_MS, 0, on_start_timeout, s);
	if (send_initialize(st) != 0) {
		agent_fail(e, AERR_EXITED, "cannot write to the codex app-server");
		return -1;
	}
	return 0;
}

static void on_line(proc_t *p, void *ud, const char *line, size_t len, bool truncated)
{
	session *s = ud;
	codex_state *st = s->agent_state;
	if (!st || st->p != p || st->terminating || s->ended)
		return;
	if (au_blanks(line, len) == len)
		return;
	if (truncated) {
		au_record_long(s, "codex", line, len);
		return;
	}
	handle_line(s, st, line, len);
}

/* The app-server is gone (st->p already cleared). */
static void process_gone(session *s, codex_state *st, int status, const char *stderr_json,
		const char *tail, size_t tail_len)
{
	int code = au_exit_code(status);
	cancel_timers(st);
	st->phase = PH_NONE;
	st->nreqs = 0;
	st->turn_sent = false;
	if (st->terminating || s->ended)
		return;
	withdraw_all(s, st);
	if (st->stopping) {
		st->stopping = false;
		return;
	}
	if (!st->turn) {
		log_warn("session %s: codex app-server exited with status %d while idle%s%.*s", s->id,
			code, tail_len ? ": " : "", (int)(tail_len > 300 ? 300 : tail_len), tail ? tail : "");
		return;
	}
	if (!st->turn_answered && !st->retried) {
		agent_err e = {0};
		st->retried = true;
		log_info("session %s: codex app-server exited (status %d) before answering; "
			"starting it again", s->id, code);
		if (spawn(s, st, &e) == 0)
			return;
		log_warn("session %s: %s", s->id, e.msg);
	}
	close_items(s, st);
	char msg[64];
	snprintf(msg, sizeof msg, "agent server exited with status %d", code);
	buf_t det;
	jw_t w;
	buf_init(&det);
	jw_init(&w, &det);
	jw_obj(&w);
	au_w_exit(&w, status, tail, tail_len);
	jw_obj_end(&w);
	log_warn("session %s: codex app-server died during a turn (%s)", s->id, msg);
	rec_error(s, st, true, msg, "server_exit", buf_cstr(&det));
	buf_free(&det);
	st->turn = false;
	free(st->input);
	st->input = NULL;
	sess_end(s, "error", "daemon", msg, true, code, stderr_json);
}

static void on_exit_cb(proc_t *p, void *ud, int status)
{
	session *s = ud;
	codex_state *st = s->agent_state;
	if (!st || st->p != p)
		return;
	st->p = NULL;
	au_stderr se;
	au_stderr_take(p, CODEX_STDERR_LINES, &se);
	process_gone(s, st, status, au_stderr_json(&se), se.tail.p, se.tail.len);
	au_stderr_free(&se);
}

/* ---- messages ---- */

/* The turn's input items: the text, then every image attachment as a
 * localImage (codex reads and inlines the file). */
static char *build_input(session *s, const char *text, size_t len, const char *att)
{
	buf_t b;
	jw_t w;
	buf_init(&b);
	jw_init(&w, &b);
	jw_arr(&w);
	jw_obj(&w);
	jw_kstr(&w, "type", "text");
	jw_key(&w, "text");
	bool plan = s->agent_mode && !strcmp(s->agent_mode, "plan");
	buf_t t;
	buf_init(&t);
	if (plan)
		buf_puts(&t, plan_prefix);
	buf_append(&t, text, len);
	jw_strn(&w, t.p ? t.p : "", t.len);
	buf_free(&t);
	jw_key(&w, "text_elements");
	jw_arr(&w);
	jw_arr_end(&w);
	jw_obj_end(&w);
	json_tok *tk = xmalloc(CODEX_TOKENS_MIN * sizeof *tk);
	int n = att ? json_parse(att, strlen(att), tk, CODEX_TOKENS_MIN) : -1;
	jdoc d = {att, tk};
	for (int i = n > 0 && tk[0].type == JSON_ARRAY ? json_first(tk, 0) : -1; i >= 0;
			i = json_next(tk, i)) {
		char *path = get_str(&d, i, "path");
		char *mime = get_str(&d, i, "mime");
		bool image = mime ? !strncasecmp(mime, "image/", 6) : mime_of_path(path) != NULL;
		if (path && *path && image) {
			buf_t full;
			buf_init(&full);
			if (path[0] != '/' && s->directory)
				buf_printf(&full, "%s/", s->directory);
			buf_puts(&full, path);
			struct stat sb;
			if (stat(buf_cstr(&full), &sb) == 0 && S_ISREG(sb.st_mode)) {
				jw_obj(&w);
				jw_kstr(&w, "type", "localImage");
				jw_kstr(&w, "path", buf_cstr(&full));
				jw_obj_end(&w);
			} else {
				log_warn("session %s: image attachment %s not found; sent as text only",
					s->id, buf_cstr(&full));
			}
			buf_free(&full);
		}
		free(path);
		free(mime);
	}
	free(tk);
	jw_arr_end(&w);
	return buf_cstr(&b);
}

static int codex_send(session *s, const char *text, size_t len, const char *att, agent_err *e)
{
	codex_state *st = s->agent_state;
	if (!st || st->terminating) {
		agent_fail(e, AERR_INVALID, "codex session is not active");
		return -1;
	}
	if (st->p && (st->stopping || !proc_stdin_open(st->p))) {
		proc_detach(st->p); /* an idle stop in progress: start afresh */
		st->p = NULL;
		st->phase = PH_NONE;
	}
	if (st->phase == PH_NONE && !st->p && !st->test_out && !au_installed(&agent_codex, e))
		return -1;
	free(st->input);
	st->input = build_input(s, text, len, att);
	st->turn = true;
	st->turn_sent = st->turn_answered = st->retried = st->turn_error = false;
	free(st->turn_id);
	free(st->usage);
	st->turn_id = st->usage = NULL;
	if (st->idle_timer && !st->test_out)
		loop_cancel_timer(srv_loop(), st->idle_timer);
	st->idle_timer = 0;
	if (st->phase == PH_NONE && spawn(s, st, e) != 0) {
		st->turn = false;
		free(st->input);
		st->input = NULL;
		return -1;
	}
	if (st->phase == PH_READY && send_turn_start(s, st) != 0) {
		agent_fail(e, AERR_STREAM, "cannot write to the codex app-server");
		st->turn = false;
		free(st->input);
		st->input = NULL;
		return -1;
	}
	return 0;
}

/* ---- replies ---- */

static int codex_reply_permission(session *s, const pending_perm *p, int reply, agent_err *e)
{
	codex_state *st = s->agent_state;
	if (!active(st)) {
		agent_fail(e, AERR_INVALID, "codex server not active");
		return -1;
	}
	cx_sreq *r = find_sreq(st, p->id);
	if (!r || r->kind == SR_USER_INPUT || r->kind == SR_ELICIT) {
		agent_fail(e, AERR_INVALID, "unsupported codex permission request");
		return -1;
	}
	buf_t b;
	buf_init(&b);
	bool once = reply == REPLY_ONCE, always = reply == REPLY_ALWAYS;
	switch (r->kind) {
	case SR_COMMAND:
	case SR_FILE:
		buf_printf(&b, "{\"decision\":\"%s\"}", once ? "accept" : always ? "acceptForSession"
			: "decline");
		break;
	case SR_LEGACY_EXEC:
	case SR_LEGACY_PATCH:
		if (once || always)
			buf_printf(&b, "{\"decision\":\"%s\"}", once ? "approved" : "approved_for_session");
		else
			buf_puts(&b, "{\"decision\":{\"denied\":{\"rejection\":\"Permission denied.\"}}}");
		break;
	case SR_MCP_APPROVAL:
		if (once)
			buf_puts(&b, "{\"action\":\"accept\",\"content\":{},\"_meta\":null}");
		else if (always) /* codex offers "persist": "session" */
			buf_puts(&b, "{\"action\":\"accept\",\"content\":{},\"_meta\":{\"persist\":\"session\"}}");
		else
			buf_puts(&b, "{\"action\":\"decline\",\"content\":null,\"_meta\":null}");
		break;
	default: /* SR_PERMISSIONS: grant what was asked, or nothing */
		if (once || always)
			buf_printf(&b, "{\"permissions\":%s,\"scope\":\"%s\"}", r->extra ? r->extra : "{}",
				once ? "turn" : "session");
		else
			buf_puts(&b, "{\"permissions\":{}}");
		break;
	}
	int rc = reply_result(st, r->id_json, buf_cstr(&b));
	buf_free(&b);
	if (rc != 0) {
		agent_fail(e, AERR_STREAM, "cannot write to the codex app-server");
		return -1;
	}
	drop_sreq(st, find_sreq(st, p->id));
	return 0;
}

/* The i-th inner array of answers as a JSON array (or "[]"). */
static void w_answer(jw_t *w, const char *answers, const json_tok *t, int n, unsigned i)
{
	int a = n > 0 && t[0].type == JSON_ARRAY ? json_arr_get(t, 0, i) : -1;
	if (a >= 0 && t[a].type == JSON_ARRAY)
		jw_raw(w, answers + t[a].start, t[a].end - t[a].start);
	else
		jw_raw(w, "[]", 2);
}

static int codex_reply_question(session *s, const pending_question *q, const char *answers,
		agent_err *e)
{
	codex_state *st = s->agent_state;
	if (!active(st)) {
		agent_fail(e, AERR_INVALID, "codex server not active");
		return -1;
	}
	cx_sreq *r = find_sreq(st, q->id);
	if (!r || (r->kind != SR_USER_INPUT && r->kind != SR_ELICIT)) {
		agent_fail(e, AERR_INVALID, "unsupported codex question request");
		return -1;
	}
	json_tok *t = xmalloc(CODEX_TOKENS_MIN * sizeof *t);
	int n = answers ? json_parse(answers, strlen(answers), t, CODEX_TOKENS_MIN) : -1;
	buf_t b;
	jw_t w;
	buf_init(&b);
	jw_init(&w, &b);
	jw_obj(&w);
	if (r->kind == SR_USER_INPUT) {
		/* {"answers": {<question id>: {"answers": [...]}}}; rejected: none */
		jw_key(&w, "answers");
		jw_obj(&w);
		json_tok it[256];
		const char *ids = r->extra ? r->extra : "[]";
		int ni = json_parse(ids, strlen(ids), it, 256);
		unsigned k = 0;
		for (int i = answers && ni > 0 ? json_first(it, 0) : -1; i >= 0; i = json_next(it, i), k++) {
			int a = n > 0 && t[0].type == JSON_ARRAY ? json_arr_get(t, 0, k) : -1;
			if (a < 0)
				break;
			char *qid = json_str_dup(ids, it, i, NULL);
			jw_key(&w, qid ? qid : "");
			jw_obj(&w);
			jw_key(&w, "answers");
			w_answer(&w, answers, t, n, k);
			jw_obj_end(&w);
			free(qid);
		}
		jw_obj_end(&w);
	} else {
		/* extra: "<type>\n<field>"; no field: Accept / Decline */
		int a0 = n > 0 && t[0].type == JSON_ARRAY ? json_arr_get(t, 0, 0) : -1;
		int v = a0 >= 0 && t[a0].type == JSON_ARRAY ? json_first(t, a0) : -1;
		char *val = v >= 0 ? json_str_dup(answers, t, v, NULL) : NULL;
		bool decline = !answers || (!r->extra && val && !strcasecmp(val, "Decline"));
		jw_kstr(&w, "action", decline ? "decline" : "accept");
		jw_key(&w, "content");
		if (decline) {
			jw_null(&w);
		} else {
			jw_obj(&w);
			const char *nl = r->extra ? strchr(r->extra, '\n') : NULL;
			if (nl && val) {
				jw_key(&w, nl + 1);
				size_t tl = (size_t)(nl - r->extra);
				if (tl == 7 && !strncmp(r->extra, "boolean", 7)) {
					jw_bool(&w, !strcasecmp(val, "true") || !strcasecmp(val, "yes") ||
						!strcasecmp(val, "accept"));
				} else if ((tl == 6 && !strncmp(r->extra, "number", 6)) ||
						(tl == 7 && !strncmp(r->extra, "integer", 7))) {
					json_tok nt[1];
					size_t vl = strlen(val);
					if (json_parse(val, vl, nt, 1) == 1 && nt[0].type == JSON_NUMBER)
						jw_raw(&w, val, vl);
					else
						jw_str(&w, val);
				} else {
					jw_str(&w, val);
				}
			}
			jw_obj_end(&w);
		}
		jw_kstr(&w, "_meta", NULL);
		free(val);
	}
	jw_obj_end(&w);
	free(t);
	int rc = reply_result(st, r->id_json, buf_cstr(&b));
	buf_free(&b);
	if (rc != 0) {
		agent_fail(e, AERR_STREAM, "cannot write to the codex app-server");
		return -1;
	}
	drop_sreq(st, find_sreq(st, q->id));
	return 0;
}

/* ---- lifecycle ---- */

static void free_mcp_args(codex_state *st)
{
	for (size_t i = 0; i < st->nmcp_args; i++)
		free(st->mcp_args[i]);
	free(st->mcp_args);
	st->mcp_args = NULL;
	st->nmcp_args = 0;
}

static int codex_create(session *s, agent_err *e)
{
	codex_state *st = xcalloc(1, sizeof *st);
	s->agent_state = st;
	if (s->mcp_json) {
		char why[300];
		if (codex_mcp_args(s->mcp_json, &st->mcp_args, &st->nmcp_args, why, sizeof why) != 0) {
			agent_fail(e, AERR_INVALID, "%s", why);
			return -1;
		}
	}
	/* started now: the handshake overlaps the client's first message */
	return spawn(s, st, e);
}

static void codex_terminate(session *s)
{
	codex_state *st = s->agent_state;
	if (!st || st->terminating)
		return;
	if (st->turn && !s->ended) {
		if (active(st))
			send_interrupt(st);
		close_items(s, st);
		if (st->turn_open) { /* codex will not say it ended */
			ev_conv c = conv(st, EV_TURN_ENDED, true);
			c.u.turn.turn_id = st->turn_id;
			c.u.turn.metadata_json = "{\"status\":\"interrupted\"}";
			sess_record(s, &c);
		}
	}
	st->turn_open = false;
	st->terminating = true;
	st->turn = false;
	cancel_timers(st);
	if (st->p) {
		proc_close_stdin(st->p);
		proc_terminate(st->p, PROC_TERM_GRACE_MS);
	}
}

static void codex_free(session *s)
{
	codex_state *st = s->agent_state;
	if (!st)
		return;
	cancel_timers(st);
	if (st->p)
		proc_detach(st->p);
	while (st->nitems)
		drop_item(st, &st->items[st->nitems - 1]);
	while (st->nsreqs)
		drop_sreq(st, &st->sreqs[st->nsreqs - 1]);
	free(st->items);
	free(st->sreqs);
	free_mcp_args(st);
	free(st->thread_id);
	free(st->turn_id);
	free(st->input);
	free(st->usage);
	free(st->tok);
	free(st);
	s->agent_state = NULL;
}

/* ---- credentials ---- */

/* Spec 8.6 (OpenAI's part); discovery lives in credentials.c. */
static bool codex_credentials(void)
{
	return cred_agent_available("codex");
}

/* ---- pure helpers ---- */

static bool model_char(char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
		c == '.' || c == '_' || c == '-';
}

static bool contains_ci(const char *s, size_t n, const char *needle)
{
	size_t m = strlen(needle);
	for (size_t i = 0; i + m <= n; i++)
		if (!strncasecmp(s + i, needle, m))
			return true;
	return false;
}

bool codex_model_rejected(const char *msg, size_t len, char *id, size_t cap)
{
	static const char *const why[] = {
		"does not exist", "model_not_found", "requested model",
		"not supported when using codex with a chatgpt account",
	};
	if (!contains_ci(msg, len, "model"))
		return false;
	bool hit = false;
	for (size_t i = 0; i < sizeof why / sizeof why[0] && !hit; i++)
		hit = contains_ci(msg, len, why[i]);
	if (!hit)
		return false;
	/* a quoted model-like token; single quotes first. A JSON-embedded
	 * message escapes its double quotes: \"id\" counts too. */
	for (int pass = 0; pass < 2; pass++) {
		char q = pass ? '"' : '\'';
		for (size_t i = 0; i < len; i++) {
			if (msg[i] != q)
				continue;
			size_t j = i + 1;
			while (j < len && model_char(msg[j]))
				j++;
			size_t n = j - i - 1;
			bool closed = j < len && (msg[j] == q ||
				(msg[j] == '\\' && j + 1 < len && msg[j + 1] == q));
			if (closed && n >= 3 && n <= 128 && memchr(msg + i + 1, '-', n) && n < cap) {
				memcpy(id, msg + i + 1, n);
				id[n] = 0;
				return true;
			}
		}
	}
	return false;
}

/* TOML: a basic string, and a key (bare when it can be). */
static void toml_str(buf_t *b, const char *s, size_t n)
{
	buf_putc(b, '"');
	for (size_t i = 0; i < n; i++) {
		unsigned char c = (unsigned char)s[i];
		if (c == '"' || c == '\\')
			buf_printf(b, "\\%c", c);
		else if (c == '\n')
			buf_puts(b, "\\n");
		else if (c == '\t')
			buf_puts(b, "\\t");
		else if (c == '\r')
			buf_puts(b, "\\r");
		else if (c < 0x20 || c == 0x7f)
			buf_printf(b, "\\u%04x", c);
		else
			buf_putc(b, (char)c);
	}
	buf_putc(b, '"');
}

static bool bare_key(const char *k, size_t n)
{
	if (!n)
		return false;
	for (size_t i = 0; i < n; i++) {
		char c = k[i];
		if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
				c == '_' || c == '-'))
			return false;
	}
	return true;
}

static void toml_key(buf_t *b, const char *k, size_t n)
{
	if (bare_key(k, n))
		buf_append(b, k, n);
	else
		toml_str(b, k, n);
}

/* A JSON string token as TOML; false if it is not a string. */
static bool toml_tok_str(buf_t *b, const jdoc *d, int i)
{
	size_t n;
	char *v = str_at(d, i, &n);
	if (!v)
		return false;
	toml_str(b, v, n);
	free(v);
	return true;
}

/* A map of strings as an inline table. */
static bool toml_map(buf_t *b, const jdoc *d, int obj)
{
	buf_putc(b, '{');
	bool first = true;
	for (int k = json_first(d->t, obj); k >= 0; k = json_next(d->t, json_next(d->t, k))) {
		size_t kn;
		char *key = str_at(d, k, &kn);
		if (!first)
			buf_puts(b, ", ");
		first = false;
		toml_key(b, key ? key : "", key ? kn : 0);
		buf_puts(b, " = ");
		free(key);
		if (!toml_tok_str(b, d, json_next(d->t, k)))
			return false;
	}
	buf_putc(b, '}');
	return true;
}

static void push_arg(char ***out, size_t *n, const char *name, const char *key, buf_t *val)
{
	*out = xrealloc(*out, (*n + 3) * sizeof **out);
	(*out)[(*n)++] = xstrdup("-c");
	buf_t a;
	buf_init(&a);
	buf_printf(&a, "mcp_servers.%s.%s=", name, key);
	buf_append(&a, val->p, val->len);
	(*out)[(*n)++] = buf_cstr(&a);
	(*out)[*n] = NULL;
	buf_reset(val);
}

/* One server's overrides; false with why filled if it cannot be said. */
static bool mcp_server(const jdoc *d, const char *name, int cfg, char ***out, size_t *n,
		char *why, size_t cap)
{
	au_mcp_server f;
	au_mcp_server_of(d->js, d->t, cfg, false, &f);
	int cmd = f.command, url = f.url;
	buf_t v;
	buf_init(&v);
	bool ok = true;
	if (f.local) {
		int args = f.args, env = f.env, cwd = f.cwd;
		int c0 = cmd >= 0 && d->t[cmd].type == JSON_ARRAY ? json_first(d->t, cmd) : cmd;
		if (c0 < 0 || !toml_tok_str(&v, d, c0)) {
			snprintf(why, cap, "mcp command cannot be empty");
			buf_free(&v);
			return false;
		}
		push_arg(out, n, name, "command", &v);
		/* an array command's rest goes before args */
		buf_putc(&v, '[');
		bool first = true;
		for (int i = d->t[cmd].type == JSON_ARRAY ? json_next(d->t, c0) : -1; i >= 0 && ok;
				i = json_next(d->t, i)) {
			buf_puts(&v, first ? "" : ", ");
			first = false;
			ok = toml_tok_str(&v, d, i);
		}
		if (args >= 0 && d->t[args].type != JSON_ARRAY)
			ok = false;
		for (int i = args >= 0 && ok ? json_first(d->t, args) : -1; i >= 0 && ok;
				i = json_next(d->t, i)) {
			buf_puts(&v, first ? "" : ", ");
			first = false;
			ok = toml_tok_str(&v, d, i);
		}
		buf_putc(&v, ']');
		if (!ok) {
			snprintf(why, cap, "mcp server %s: args must be strings", name);
			buf_free(&v);
			return false;
		}
		if (!first)
			push_arg(out, n, name, "args", &v);
		buf_reset(&v);
		if (env >= 0) {
			if (d->t[env].type != JSON_OBJECT || !toml_map(&v, d, env)) {
				snprintf(why, cap, "mcp server %s: env must map names to strings", name);
				buf_free(&v);
				return false;
			}
			push_arg(out, n, name, "env", &v);
		}
		if (cwd >= 0 && toml_tok_str(&v, d, cwd))
			push_arg(out, n, name, "cwd", &v);
	} else if (f.remote && url >= 0 && d->t[url].type == JSON_STRING) {
		int hdr = f.headers, bearer = f.bearer, envh = f.env_headers;
		toml_tok_str(&v, d, url);
		push_arg(out, n, name, "url", &v);
		static const char *const names[] = {"http_headers", "env_http_headers"};
		int maps[] = {hdr, envh};
		for (int m = 0; m < 2; m++) {
			if (maps[m] < 0)
				continue;
			if (d->t[maps[m]].type != JSON_OBJECT || !toml_map(&v, d, maps[m])) {
				snprintf(why, cap, "mcp server %s: headers must map names to strings", name);
				buf_free(&v);
				return false;
			}
			push_arg(out, n, name, names[m], &v);
		}
		if (bearer >= 0 && toml_tok_str(&v, d, bearer))
			push_arg(out, n, name, "bearer_token_env_var", &v);
	} else {
		snprintf(why, cap, "mcp server %s: unsupported mcp server config", name);
		buf_free(&v);
		return false;
	}
	int en = f.enabled, to = f.timeout;
	bool b;
	if (en >= 0 && json_get_bool(d->js, d->t, en, &b)) {
		buf_puts(&v, b ? "true" : "false");
		push_arg(out, n, name, "enabled", &v);
	}
	uint64_t ms;
	if (to >= 0 && json_get_u64(d->js, d->t, to, &ms)) {
		buf_printf(&v, "%llu", (unsigned long long)((ms + 999) / 1000));
		push_arg(out, n, name, "tool_timeout_sec", &v);
	}
	buf_free(&v);
	return true;
}

int codex_mcp_args(const char *mcp_json, char ***out, size_t *n, char *why, size_t cap)
{
	json_tok *t = xmalloc(CODEX_TOKENS_MIN * sizeof *t);
	int c = json_parse(mcp_json, strlen(mcp_json), t, CODEX_TOKENS_MIN);
	jdoc d = {mcp_json, t};
	int rc = 0;
	if (c <= 0 || t[0].type != JSON_OBJECT) {
		snprintf(why, cap, "invalid mcp configuration");
		rc = -1;
	}
	for (int k = rc ? -1 : json_first(t, 0); k >= 0 && !rc; k = json_next(t, json_next(t, k))) {
		size_t nl;
		char *name = str_at(&d, k, &nl);
		int cfg = json_next(t, k);
		/* the name is part of a dotted -c key: it must be a bare TOML key */
		if (!name || !bare_key(name, nl) || strlen(name) != nl) {
			snprintf(why, cap, "mcp server name %.100s: only letters, digits, '_' and '-' "
				"are supported for codex", name ? name : "");
			rc = -1;
		} else if (t[cfg].type != JSON_OBJECT) {
			snprintf(why, cap, "mcp server %s: not an object", name);
			rc = -1;
		} else if (!mcp_server(&d, name, cfg, out, n, why, cap)) {
			rc = -1;
		}
		free(name);
	}
	free(t);
	return rc;
}

/* ---- test hooks ---- */

void codex_test_attach(session *s, buf_t *out)
{
	codex_state *st = xcalloc(1, sizeof *st);
	st->test_out = out;
	s->agent_state = st;
	agent_err e = {0};
	spawn(s, st, &e);
}

void codex_test_line(session *s, const char *line, size_t len)
{
	codex_state *st = s->agent_state;
	if (!st || st->terminating || s->ended || st->phase == PH_NONE)
		return;
	handle_line(s, st, line, len);
}

void codex_test_exit(session *s, int status)
{
	codex_state *st = s->agent_state;
	if (!st || st->phase == PH_NONE)
		return;
	process_gone(s, st, status, NULL, NULL, 0);
}

/* ---- the agent ---- */

static const agent_mode codex_modes[] = {
	{"build", "Build", "Default build mode"},
	{"plan", "Plan", "Planning mode via prompt prefix"},
};
static const char *const codex_perm[] = {"default", "plan", "bypass", "acceptEdits", NULL};
/* Codex 0.169's catalog (model/list); "default" leaves the choice to
 * Codex's configuration (config.toml `model`, else its own default). */
static const agent_model codex_models[] = {
	{"default", "Default (Codex configuration)"}, {"gpt-5.5", "GPT-5.5"},
	{"gpt-5.6-luna", "GPT-5.6-Luna"}, {"gpt-5.6-sol", "GPT-5.6-Sol"},
	{"gpt-5.6-terra", "GPT-5.6-Terra"}, {"gpt-6-astra", "GPT-6-Astra"},
	{"gpt-6-luna", "GPT-6-Luna"}, {"gpt-6-sol", "GPT-6-Sol"}, {"gpt-6.1-sol", "GPT-6.1-Sol"},
	{"gpt-6.1-terra", "GPT-6.1 Terra"},
};

const agent_ops agent_codex = {
	.id = "codex",
	.binary = "codex",
	.caps = {[CAP_PLAN_MODE] = 1, [CAP_PERMISSIONS] = 1, [CAP_TOOL_CALLS] = 1,
		[CAP_TOOL_RESULTS] = 1, [CAP_TEXT_MESSAGES] = 1, [CAP_IMAGES] = 1,
		[CAP_FILE_ATTACHMENTS] = 1, [CAP_SESSION_LIFECYCLE] = 1, [CAP_ERROR_EVENTS] = 1,
		[CAP_REASONING] = 1, [CAP_STATUS] = 1, [CAP_COMMAND_EXECUTION] = 1,
		[CAP_FILE_CHANGES] = 1, [CAP_MCP_TOOLS] = 1, [CAP_STREAMING_DELTAS] = 1,
		[CAP_ITEM_STARTED] = 1, [CAP_SHARED_PROCESS] = 1},
	.modes = codex_modes,
	.nmodes = 2,
	.perm_accepted = codex_perm,
	.perm_normalized = codex_perm,
	.models = codex_models,
	.nmodels = sizeof codex_models / sizeof codex_models[0],
	.default_model = "default",
	.create = codex_create,
	.send = codex_send,
	.reply_permission = codex_reply_permission,
	.reply_question = codex_reply_question,
	.terminate = codex_terminate,
	.free_state = codex_free,
	.credentials = codex_credentials,
};
