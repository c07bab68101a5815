/* streamjson.c - stream-json lines to universal events. See streamjson.h.
 *
 * Why the assistant item is built this way: Claude writes one "assistant"
 * line per content block, and the blocks of one API message share
 * message.id. With --include-partial-messages the text also arrives as
 * stream_event deltas before that line. The converter keeps one open
 * assistant item (a pending placeholder of the session, spec 6.1 B) bound
 * to the first message that carries text or thinking, sends text deltas to
 * it, collects text and reasoning parts from the complete lines, and
 * completes it when the message is over: message_stop, a line of another
 * message, tool results coming back, or the result line. tool_use blocks
 * become their own tool_call items, tool_result blocks tool_result items.
 * Depends on json/, the session API and adapter_util. */
#include "streamjson.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../base/buf.h"
#include "../json/json.h"
#include "adapter_util.h"

typedef struct {
	char *req;
	char *tool_use;
} req_ent;

struct sj_conv {
	char loc[16];
	json_tok *t;
	unsigned ntok;
	/* the line being converted */
	const char *js;
	size_t jlen;
	char *sid; /* its session_id */
	/* the turn */
	bool turn;
	bool open;         /* a placeholder is pending in the session */
	char *placeholder; /* its native id */
	char *bound;       /* message id it carries; "" = a line without id; NULL = none yet */
	buf_t parts;       /* content parts of that message, comma separated */
	char *stream_id;   /* message id of the last message_start */
	req_ent req[SJ_REQUESTS_MAX];
	unsigned req_next;
	char *asked[SJ_ASKED_MAX];
	unsigned asked_next;
	/* effect strings of the last line */
	char *fx_refuse, *fx_perm, *fx_tool;
};

static uint64_t user_counter; /* daemon-wide, spec 5.5 step 3 */

void sj_next_user_id(char out[32])
{
	snprintf(out, 32, "user_%llu", (unsigned long long)++user_counter);
}

sj_conv *sj_new(const char *location)
{
	sj_conv *c = xcalloc(1, sizeof *c);
	snprintf(c->loc, sizeof c->loc, "%s", location);
	c->ntok = SJ_TOKENS_MIN;
	c->t = xmalloc(c->ntok * sizeof *c->t);
	buf_init(&c->parts);
	return c;
}

void sj_free(sj_conv *c)
{
	if (!c)
		return;
	free(c->t);
	free(c->sid);
	free(c->placeholder);
	free(c->bound);
	buf_free(&c->parts);
	free(c->stream_id);
	for (unsigned i = 0; i < SJ_REQUESTS_MAX; i++) {
		free(c->req[i].req);
		free(c->req[i].tool_use);
	}
	for (unsigned i = 0; i < SJ_ASKED_MAX; i++)
		free(c->asked[i]);
	free(c->fx_refuse);
	free(c->fx_perm);
	free(c->fx_tool);
	free(c);
}

bool sj_in_turn(const sj_conv *c) { return c->turn; }

bool sj_is_plan_tool(const char *n)
{
	return n && (!strcmp(n, "ExitPlanMode") || !strcmp(n, "exit_plan_mode") ||
		!strcmp(n, "exitPlanMode") || !strcmp(n, "exit-plan-mode"));
}

bool sj_is_question_tool(const char *n)
{
	return n && (!strcmp(n, "AskUserQuestion") || !strcmp(n, "ask_user_question") ||
		!strcmp(n, "askUserQuestion") || !strcmp(n, "ask-user-question") ||
		sj_is_plan_tool(n));
}

/* ---- token helpers over the current line ---- */

static bool is(const sj_conv *c, int i, json_type ty) { return i >= 0 && c->t[i].type == ty; }

static int get(const sj_conv *c, int obj, const char *key)
{
	return is(c, obj, JSON_OBJECT) ? json_obj_get(c->js, c->t, obj, key) : -1;
}

static char *str(const sj_conv *c, int i)
{
	return is(c, i, JSON_STRING) ? json_str_dup(c->js, c->t, i, NULL) : NULL;
}

static bool streq(const sj_conv *c, int i, const char *v)
{
	return is(c, i, JSON_STRING) && json_str_eq(c->js, c->t, i, v);
}

static bool truthy(const sj_conv *c, int i)
{
	bool b = false;
	return i >= 0 && json_get_bool(c->js, c->t, i, &b) && b;
}

/* The bytes of value i as they appear in the line (quotes included). */
static void span(const sj_conv *c, int i, const char **p, size_t *n)
{
	au_span(c->js, c->t, i, p, n);
}

static void w_value(jw_t *w, const sj_conv *c, int i) { au_w_tok(w, c->js, c->t, i); }

/* Value i as JSON text inside a JSON string ("arguments"). */
static void w_value_text(jw_t *w, const sj_conv *c, int i, const char *dflt)
{
	if (i < 0) {
		jw_str(w, dflt);
		return;
	}
	const char *p;
	size_t n;
	span(c, i, &p, &n);
	jw_strn(w, p, n);
}

/* ---- recording ---- */

static void base_ev(const sj_conv *c, ev_conv *e, ev_type t, bool synthetic)
{
	memset(e, 0, sizeof *e);
	e->type = t;
	e->synthetic = synthetic;
	e->native_session_id = c->sid;
	if (c->js) {
		e->raw_json = c->js;
		e->raw_len = c->jlen;
	}
}

static void rec_item(sj_conv *c, session *s, ev_type t, bool synthetic, const char *item_id,
		const char *native, const char *parent, const char *kind, const char *role,
		const char *content, const char *status)
{
	ev_conv e;
	base_ev(c, &e, t, synthetic);
	e.u.item.item_id = item_id;
	e.u.item.native_item_id = native;
	e.u.item.parent_id = parent;
	e.u.item.kind = kind;
	e.u.item.role = role;
	e.u.item.content_json = content;
	e.u.item.status = status;
	sess_record(s, &e);
}

static void status_item(sj_conv *c, session *s, const char *label, const char *detail)
{
	buf_t b;
	char lab[64];
	snprintf(lab, sizeof lab, "%s.%s", c->loc, label);
	buf_init(&b);
	au_status_content(&b, lab, detail, detail ? strlen(detail) : 0);
	rec_item(c, s, EV_ITEM_COMPLETED, false, NULL, NULL, NULL, "status", "system", buf_cstr(&b),
		"completed");
	buf_free(&b);
}

/* ---- the open assistant item ---- */

static void open_placeholder(sj_conv *c, session *s)
{
	const char *ph = sess_push_pending_assistant(s);
	free(c->placeholder);
	c->placeholder = xstrdup(ph);
	c->open = true;
	free(c->bound);
	c->bound = NULL;
	buf_reset(&c->parts);
	rec_item(c, s, EV_ITEM_STARTED, true, NULL, c->placeholder, NULL, "message", "assistant",
		"[]", "in_progress");
}

static void complete_msg(sj_conv *c, session *s, const char *status)
{
	if (!c->open)
		return;
	buf_t b;
	buf_init(&b);
	buf_putc(&b, '[');
	buf_append(&b, c->parts.p, c->parts.len);
	buf_putc(&b, ']');
	c->open = false;
	/* the session pops the placeholder and keeps its item id */
	rec_item(c, s, EV_ITEM_COMPLETED, c->bound == NULL, NULL, c->placeholder, NULL, "message",
		"assistant", buf_cstr(&b), status);
	buf_free(&b);
	free(c->bound);
	c->bound = NULL;
	buf_reset(&c->parts);
}

/* Makes the open item carry message id (NULL: a line without id). */
static void bind(sj_conv *c, session *s, const char *id)
{
	if (c->open && c->bound && *c->bound && id && strcmp(c->bound, id))
		complete_msg(c, s, "completed");
	if (!c->open)
		open_placeholder(c, s);
	if (!c->bound || (!*c->bound && id)) {
		free(c->bound);
		c->bound = xstrdup(id ? id : "");
	}
}

/* Is the open item the message id (NULL: the message of an id-less line)? */
static bool bound_to(const sj_conv *c, const char *id)
{
	return c->open && c->bound && !strcmp(c->bound, id ? id : "");
}

static void add_part(sj_conv *c, const char *json, size_t n)
{
	if (c->parts.len)
		buf_putc(&c->parts, ',');
	buf_append(&c->parts, json, n);
}

static void delta(sj_conv *c, session *s, int text_tok)
{
	size_t n;
	char *d = json_str_dup(c->js, c->t, text_tok, &n);
	if (d && n) {
		ev_conv e;
		base_ev(c, &e, EV_ITEM_DELTA, false);
		e.u.delta.native_item_id = c->placeholder;
		e.u.delta.delta = d;
		e.u.delta.delta_len = n;
		sess_record(s, &e);
	}
	free(d);
}

/* ---- questions ---- */

static bool asked(const sj_conv *c, const char *id)
{
	for (unsigned i = 0; i < SJ_ASKED_MAX; i++)
		if (c->asked[i] && !strcmp(c->asked[i], id))
			return true;
	return false;
}

static void w_labels(jw_t *w, const char *js, const json_tok *t, int arr)
{
	jw_arr(w);
	for (int i = arr >= 0 && t[arr].type == JSON_ARRAY ? json_first(t, arr) : -1; i >= 0;
			i = json_next(t, i)) {
		int l = t[i].type == JSON_OBJECT ? json_obj_get(js, t, i, "label") : i;
		if (l >= 0 && t[l].type == JSON_STRING) {
			size_t n;
			char *v = json_str_dup(js, t, l, &n);
			jw_strn(w, v, n);
			free(v);
		}
	}
	jw_arr_end(w);
}

bool sj_question_of(const char *tool, const char *js, size_t len, char **prompt, char **options)
{
	enum { QTOK = 4096 };
	json_tok *t = xmalloc(QTOK * sizeof *t);
	int n = json_parse(js, len, t, QTOK);
	*prompt = NULL;
	*options = NULL;
	if (n <= 0 || t[0].type != JSON_OBJECT) {
		free(t);
		return false;
	}
	int q = 0, opts = -1, ptok = -1;
	int qs = json_obj_get(js, t, 0, "questions");
	if (qs >= 0 && t[qs].type == JSON_ARRAY && t[qs].size) {
		q = json_first(t, qs);
		if (t[q].type != JSON_OBJECT)
			q = -1;
	}
	if (q >= 0) {
		ptok = json_obj_get(js, t, q, "question");
		opts = json_obj_get(js, t, q, "options");
	}
	buf_t b;
	jw_t w;
	buf_init(&b);
	jw_init(&w, &b);
	if (ptok >= 0 && t[ptok].type == JSON_STRING) {
		*prompt = json_str_dup(js, t, ptok, NULL);
		w_labels(&w, js, t, opts);
	} else if (sj_is_plan_tool(tool)) {
		*prompt = xstrdup("Approve plan execution?");
		jw_arr(&w);
		jw_str(&w, "approve");
		jw_str(&w, "reject");
		jw_arr_end(&w);
	} else {
		*prompt = xstrdup("");
		w_labels(&w, js, t, -1);
	}
	*options = buf_cstr(&b);
	free(t);
	return true;
}

/* question.requested for a question tool's input value (token in). */
static void ask(sj_conv *c, session *s, const char *id, const char *tool, int in)
{
	if (!id || asked(c, id) || sess_find_question(s, id))
		return;
	const char *p = "{}";
	size_t n = 2;
	if (is(c, in, JSON_OBJECT))
		span(c, in, &p, &n);
	char *prompt, *options;
	if (!sj_question_of(tool, p, n, &prompt, &options))
		return;
	ev_conv e;
	base_ev(c, &e, EV_QUESTION_REQUESTED, false);
	e.u.question.id = id;
	e.u.question.prompt = prompt;
	e.u.question.options_json = options;
	e.u.question.status = "requested";
	sess_record(s, &e);
	free(c->asked[c->asked_next]);
	c->asked[c->asked_next] = xstrdup(id);
	c->asked_next = (c->asked_next + 1) % SJ_ASKED_MAX;
	free(prompt);
	free(options);
}

/* ---- tool calls and results ---- */

/* s as lines each starting with prefix. */
static void diff_lines(buf_t *b, char prefix, const char *s, size_t n)
{
	size_t i = 0;
	while (i < n && b->len < SJ_DIFF_MAX) {
		const char *nl = memchr(s + i, '\n', n - i);
		size_t l = nl ? (size_t)(nl - (s + i)) : n - i;
		buf_putc(b, prefix);
		buf_append(b, s + i, l);
		buf_putc(b, '\n');
		i += l + (nl ? 1 : 0);
	}
}

static void hunk(const sj_conv *c, buf_t *b, int obj, const char *old_key, const char *new_key)
{
	size_t on = 0, nn = 0;
	char *o = str(c, get(c, obj, old_key));
	char *nw = str(c, get(c, obj, new_key));
	if (o)
		on = strlen(o);
	if (nw)
		nn = strlen(nw);
	/* Positions in the file are unknown here; bare "@@" separates hunks. */
	buf_puts(b, "@@\n");
	diff_lines(b, '-', o ? o : "", on);
	diff_lines(b, '+', nw ? nw : "", nn);
	free(o);
	free(nw);
}

static void file_ref(jw_t *w, const sj_conv *c, int path_tok, const char *action, buf_t *diff)
{
	jw_obj(w);
	jw_kstr(w, "type", "file_ref");
	jw_key(w, "path");
	w_value(w, c, path_tok);
	jw_kstr(w, "action", action);
	jw_key(w, "diff");
	if (diff) {
		if (diff->len > SJ_DIFF_MAX) {
			diff->len = SJ_DIFF_MAX;
			buf_puts(diff, "\n\\ diff truncated\n");
		}
		jw_strn(w, diff->p ? diff->p : "", diff->len);
	} else {
		jw_null(w);
	}
	jw_obj_end(w);
}

/* Extra content parts for the well-known tools: the command of Bash,
 * file references with diffs of the editing tools. */
static void tool_parts(jw_t *w, const sj_conv *c, const char *name, int in)
{
	if (!name || !is(c, in, JSON_OBJECT))
		return;
	int path = get(c, in, "file_path");
	buf_t d;
	buf_init(&d);
	if (!strcmp(name, "Bash")) {
		int cmd = get(c, in, "command");
		if (is(c, cmd, JSON_STRING)) {
			jw_obj(w);
			jw_kstr(w, "type", "json");
			jw_key(w, "json");
			jw_obj(w);
			jw_key(w, "command");
			w_value(w, c, cmd);
			jw_obj_end(w);
			jw_obj_end(w);
		}
	} else if (!strcmp(name, "Write") && is(c, path, JSON_STRING)) {
		size_t n = 0;
		int ct = get(c, in, "content");
		char *body = is(c, ct, JSON_STRING) ? json_str_dup(c->js, c->t, ct, &n) : NULL;
		diff_lines(&d, '+', body ? body : "", n);
		free(body);
		file_ref(w, c, path, "write", &d);
	} else if (!strcmp(name, "Edit") && is(c, path, JSON_STRING)) {
		hunk(c, &d, in, "old_string", "new_string");
		file_ref(w, c, path, "patch", &d);
	} else if (!strcmp(name, "MultiEdit") && is(c, path, JSON_STRING)) {
		int edits = get(c, in, "edits");
		for (int i = is(c, edits, JSON_ARRAY) ? json_first(c->t, edits) : -1; i >= 0;
				i = json_next(c->t, i))
			if (is(c, i, JSON_OBJECT))
				hunk(c, &d, i, "old_string", "new_string");
		file_ref(w, c, path, "patch", &d);
	} else if (!strcmp(name, "NotebookEdit")) {
		int np = get(c, in, "notebook_path");
		if (is(c, np, JSON_STRING)) {
			hunk(c, &d, in, "old_source", "new_source");
			file_ref(w, c, np, "patch", &d);
		}
	} else if (!strcmp(name, "Read") && is(c, path, JSON_STRING)) {
		file_ref(w, c, path, "read", NULL);
	}
	buf_free(&d);
}

/* A tool_use block (or a top-level tool_use line): a tool_call item. */
static void tool_call(sj_conv *c, session *s, int blk, const char *msg_id, const char *sub_parent)
{
	char *id = str(c, get(c, blk, "id"));
	char *name = str(c, get(c, blk, "name"));
	int in = get(c, blk, "input");
	buf_t b;
	jw_t w;
	buf_init(&b);
	jw_init(&w, &b);
	jw_arr(&w);
	jw_obj(&w);
	jw_kstr(&w, "type", "tool_call");
	jw_kstr(&w, "name", name ? name : "unknown");
	jw_key(&w, "arguments");
	w_value_text(&w, c, in, "{}");
	jw_kstr(&w, "call_id", id ? id : "");
	jw_obj_end(&w);
	tool_parts(&w, c, name, in);
	jw_arr_end(&w);
	const char *parent = sub_parent;
	if (!parent && bound_to(c, msg_id))
		parent = c->placeholder;
	rec_item(c, s, EV_ITEM_COMPLETED, false, NULL, id, parent, "tool_call", "assistant",
		buf_cstr(&b), "completed");
	buf_free(&b);
	if (sj_is_question_tool(name) || is(c, get(c, in, "questions"), JSON_ARRAY))
		ask(c, s, id, name, in);
	free(id);
	free(name);
}

/* The text of a tool_result's content: a string, or the text blocks of
 * an array joined with newlines, or other JSON as text. */
static void result_text(const sj_conv *c, int ct, buf_t *out)
{
	if (ct < 0 || is(c, ct, JSON_NULL))
		return;
	if (is(c, ct, JSON_STRING)) {
		size_t n;
		char *v = json_str_dup(c->js, c->t, ct, &n);
		buf_append(out, v, n);
		free(v);
		return;
	}
	if (is(c, ct, JSON_ARRAY)) {
		bool first = true;
		for (int i = json_first(c->t, ct); i >= 0; i = json_next(c->t, i)) {
			int tx = get(c, i, "text");
			if (!streq(c, get(c, i, "type"), "text") || !is(c, tx, JSON_STRING))
				continue;
			size_t n;
			char *v = json_str_dup(c->js, c->t, tx, &n);
			if (!first)
				buf_putc(out, '\n');
			buf_append(out, v, n);
			free(v);
			first = false;
		}
		return;
	}
	const char *p;
	size_t n;
	span(c, ct, &p, &n);
	buf_append(out, p, n);
}

static void tool_result(sj_conv *c, session *s, int blk, const char *sub_parent)
{
	int tk = get(c, blk, "tool_use_id");
	if (tk < 0)
		tk = get(c, blk, "toolUseId");
	char *tid = str(c, tk);
	buf_t out, b;
	jw_t w;
	buf_init(&out);
	buf_init(&b);
	result_text(c, get(c, blk, "content"), &out);
	jw_init(&w, &b);
	jw_arr(&w);
	jw_obj(&w);
	jw_kstr(&w, "type", "tool_result");
	jw_kstr(&w, "call_id", tid ? tid : "");
	jw_key(&w, "output");
	jw_strn(&w, out.p ? out.p : "", out.len);
	jw_obj_end(&w);
	jw_arr_end(&w);
	/* Its own item id: the tool_use id already names the tool_call item. */
	char item[32];
	sess_new_item_id(s, item);
	rec_item(c, s, EV_ITEM_COMPLETED, false, item, tid, tid ? tid : sub_parent, "tool_result",
		"tool", buf_cstr(&b), truthy(c, get(c, blk, "is_error")) ? "failed" : "completed");
	buf_free(&out);
	buf_free(&b);
	free(tid);
}

/* ---- line types ---- */

static void content_part(sj_conv *c, session *s, int blk, const char *mid)
{
	int ty = get(c, blk, "type");
	buf_t b;
	jw_t w;
	buf_init(&b);
	jw_init(&w, &b);
	if (streq(c, ty, "text")) {
		jw_obj(&w);
		jw_kstr(&w, "type", "text");
		jw_key(&w, "text");
		int tx = get(c, blk, "text");
		if (is(c, tx, JSON_STRING))
			w_value(&w, c, tx);
		else
			jw_str(&w, "");
		jw_obj_end(&w);
	} else if (streq(c, ty, "thinking") || streq(c, ty, "redacted_thinking")) {
		bool redacted = streq(c, ty, "redacted_thinking");
		int tx = get(c, blk, "thinking");
		jw_obj(&w);
		jw_kstr(&w, "type", "reasoning");
		jw_key(&w, "text");
		if (!redacted && is(c, tx, JSON_STRING))
			w_value(&w, c, tx);
		else
			jw_str(&w, "");
		jw_kstr(&w, "visibility", redacted ? "private" : "public");
		jw_obj_end(&w);
	} else {
		jw_obj(&w);
		jw_kstr(&w, "type", "json");
		jw_key(&w, "json");
		w_value(&w, c, blk);
		jw_obj_end(&w);
	}
	bind(c, s, mid);
	add_part(c, b.p, b.len);
	buf_free(&b);
}

static bool is_result_block(const sj_conv *c, int ty)
{
	if (!is(c, ty, JSON_STRING))
		return false;
	const char *p = c->js + c->t[ty].start;
	size_t n = c->t[ty].end - c->t[ty].start;
	return n > 12 && !memcmp(p + n - 12, "_tool_result", 12);
}

/* Sub-agent output (parent_tool_use_id set): items under that tool call,
 * never the session's assistant message (kind unknown keeps the
 * placeholder of the main conversation untouched). */
static void sub_blocks(sj_conv *c, session *s, int content, const char *parent)
{
	for (int i = is(c, content, JSON_ARRAY) ? json_first(c->t, content) : -1; i >= 0;
			i = json_next(c->t, i)) {
		int ty = get(c, i, "type");
		if (streq(c, ty, "tool_use") || streq(c, ty, "server_tool_use")) {
			tool_call(c, s, i, NULL, parent);
		} else if (streq(c, ty, "tool_result")) {
			tool_result(c, s, i, parent);
		} else if (streq(c, ty, "text")) {
			buf_t b;
			jw_t w;
			buf_init(&b);
			jw_init(&w, &b);
			jw_arr(&w);
			jw_obj(&w);
			jw_kstr(&w, "type", "text");
			jw_key(&w, "text");
			w_value(&w, c, is(c, get(c, i, "text"), JSON_STRING) ? get(c, i, "text") : -1);
			jw_obj_end(&w);
			jw_arr_end(&w);
			rec_item(c, s, EV_ITEM_COMPLETED, false, NULL, NULL, parent, "unknown", "assistant",
				buf_cstr(&b), "completed");
			buf_free(&b);
		}
	}
}

static bool on_assistant(sj_conv *c, session *s, int root)
{
	int m = get(c, root, "message");
	int content = get(c, m, "content");
	if (!is(c, m, JSON_OBJECT) || (!is(c, content, JSON_ARRAY) && !is(c, content, JSON_STRING)))
		return false;
	char *parent = str(c, get(c, root, "parent_tool_use_id"));
	if (parent) {
		sub_blocks(c, s, content, parent);
		free(parent);
		return true;
	}
	char *mid = str(c, get(c, m, "id"));
	if (is(c, content, JSON_STRING)) {
		buf_t b;
		jw_t w;
		buf_init(&b);
		jw_init(&w, &b);
		jw_obj(&w);
		jw_kstr(&w, "type", "text");
		jw_key(&w, "text");
		w_value(&w, c, content);
		jw_obj_end(&w);
		bind(c, s, mid);
		add_part(c, b.p, b.len);
		buf_free(&b);
	} else {
		for (int i = json_first(c->t, content); i >= 0; i = json_next(c->t, i)) {
			int ty = get(c, i, "type");
			if (streq(c, ty, "tool_use") || streq(c, ty, "server_tool_use")) {
				/* a message that moved on to tools ends the earlier one */
				if (c->open && c->bound && *c->bound && mid && strcmp(c->bound, mid))
					complete_msg(c, s, "completed");
				tool_call(c, s, i, mid, NULL);
			} else if (is_result_block(c, ty)) {
				tool_result(c, s, i, NULL);
			} else if (is(c, i, JSON_OBJECT)) {
				content_part(c, s, i, mid);
			}
		}
	}
	/* a line without message id is a whole message (Amp) */
	if (!mid && c->open && c->bound && !*c->bound)
		complete_msg(c, s, "completed");
	free(mid);
	return true;
}

static bool interrupted_text(const sj_conv *c, int tx)
{
	static const char mark[] = "[Request interrupted";
	return is(c, tx, JSON_STRING) && c->t[tx].end - c->t[tx].start >= sizeof mark - 1 &&
		!memcmp(c->js + c->t[tx].start, mark, sizeof mark - 1);
}

static void interrupted(sj_conv *c, session *s, int tx)
{
	char *v = str(c, tx);
	status_item(c, s, "interrupted", v ? v : "");
	free(v);
}

static bool on_user(sj_conv *c, session *s, int root)
{
	if (truthy(c, get(c, root, "isReplay")))
		return true; /* our own message echoed back */
	int m = get(c, root, "message");
	int content = get(c, m, "content");
	if (!is(c, m, JSON_OBJECT) || (!is(c, content, JSON_ARRAY) && !is(c, content, JSON_STRING)))
		return false;
	char *parent = str(c, get(c, root, "parent_tool_use_id"));
	if (parent) {
		sub_blocks(c, s, content, parent);
		free(parent);
		return true;
	}
	if (is(c, content, JSON_STRING)) {
		if (interrupted_text(c, content))
			interrupted(c, s, content);
		return true;
	}
	for (int i = json_first(c->t, content); i >= 0; i = json_next(c->t, i)) {
		int ty = get(c, i, "type");
		if (streq(c, ty, "tool_result")) {
			/* tools ran: the message that asked for them is over */
			if (c->open && c->bound)
				complete_msg(c, s, "completed");
			tool_result(c, s, i, NULL);
		} else if (streq(c, ty, "text") && interrupted_text(c, get(c, i, "text"))) {
			interrupted(c, s, get(c, i, "text"));
		}
		/* other user text is the prompt itself, already recorded */
	}
	return true;
}

static void w_opt(jw_t *w, const sj_conv *c, int obj, const char *key)
{
	int i = get(c, obj, key);
	if (i >= 0) {
		jw_key(w, key);
		w_value(w, c, i);
	}
}

static bool on_result(sj_conv *c, session *s, int root, sj_effects *fx)
{
	int sub = get(c, root, "subtype");
	bool err = truthy(c, get(c, root, "is_error")) ||
		(is(c, sub, JSON_STRING) && !streq(c, sub, "success"));
	if (c->open)
		complete_msg(c, s, c->bound || !err ? "completed" : "failed");
	if (err) {
		char code[96], *msg = NULL;
		char *st = str(c, sub);
		if (!st || !strcmp(st, "success"))
			snprintf(code, sizeof code, "%s.api_error", c->loc);
		else
			snprintf(code, sizeof code, "%s.%.64s", c->loc, st);
		const char *keys[] = {"result", "error"};
		for (int k = 0; k < 2 && !msg; k++) {
			msg = str(c, get(c, root, keys[k]));
			if (msg && !*msg) {
				free(msg);
				msg = NULL;
			}
		}
		int errs = get(c, root, "errors");
		if (!msg && is(c, errs, JSON_ARRAY) && c->t[errs].size)
			msg = str(c, json_first(c->t, errs));
		if (!msg) {
			buf_t b;
			buf_init(&b);
			buf_printf(&b, "%s turn failed (%s)", c->loc, st ? st : "error");
			msg = buf_cstr(&b);
		}
		ev_conv e;
		base_ev(c, &e, EV_ERROR, false);
		e.u.error.message = msg;
		e.u.error.code = code;
		/* details must be NUL-terminated JSON: the line is, up to jlen */
		char *details = xstrndup(c->js, c->jlen);
		e.u.error.details_json = details;
		sess_record(s, &e);
		free(details);
		free(msg);
		free(st);
	}
	if (c->turn) {
		buf_t b;
		jw_t w;
		buf_init(&b);
		jw_init(&w, &b);
		jw_obj(&w);
		w_opt(&w, c, root, "usage");
		w_opt(&w, c, root, "total_cost_usd");
		w_opt(&w, c, root, "duration_ms");
		w_opt(&w, c, root, "num_turns");
		jw_obj_end(&w);
		ev_conv e;
		base_ev(c, &e, EV_TURN_ENDED, true);
		e.u.turn.metadata_json = buf_cstr(&b);
		sess_record(s, &e);
		buf_free(&b);
		c->turn = false;
	}
	fx->turn_ended = true;
	return true;
}

static void remember(sj_conv *c, const char *req, const char *tool_use)
{
	req_ent *e = &c->req[c->req_next];
	free(e->req);
	free(e->tool_use);
	e->req = xstrdup(req);
	e->tool_use = tool_use ? xstrdup(tool_use) : NULL;
	c->req_next = (c->req_next + 1) % SJ_REQUESTS_MAX;
}

const char *sj_request_tool_use(const sj_conv *c, const char *req)
{
	for (unsigned i = 0; i < SJ_REQUESTS_MAX; i++)
		if (c->req[i].req && !strcmp(c->req[i].req, req))
			return c->req[i].tool_use;
	return NULL;
}

static bool on_control_request(sj_conv *c, session *s, int root, sj_effects *fx)
{
	char *rid = str(c, get(c, root, "request_id"));
	int req = get(c, root, "request");
	if (!rid || !is(c, req, JSON_OBJECT)) {
		free(rid);
		return false;
	}
	if (!streq(c, get(c, req, "subtype"), "can_use_tool")) {
		sess_record_unparsed(s, "unsupported control request", c->loc, c->js, c->jlen);
		c->fx_refuse = rid;
		fx->refuse_id = rid;
		return true;
	}
	char *tool = str(c, get(c, req, "tool_name"));
	char *tuid = str(c, get(c, req, "tool_use_id"));
	int in = get(c, req, "input");
	remember(c, rid, tuid);
	if (sj_is_question_tool(tool))
		ask(c, s, tuid, tool, in); /* in case no tool_use line announced it */
	buf_t b;
	jw_t w;
	buf_init(&b);
	jw_init(&w, &b);
	jw_obj(&w);
	jw_kstr(&w, "toolName", tool ? tool : "unknown");
	jw_key(&w, "input");
	w_value(&w, c, in);
	jw_key(&w, "permissionSuggestions");
	w_value(&w, c, get(c, req, "permission_suggestions"));
	jw_key(&w, "blockedPath");
	w_value(&w, c, get(c, req, "blocked_path"));
	jw_obj_end(&w);
	ev_conv e;
	base_ev(c, &e, EV_PERMISSION_REQUESTED, false);
	e.u.perm.id = rid;
	e.u.perm.action = tool ? tool : "unknown";
	e.u.perm.status = "requested";
	e.u.perm.metadata_json = buf_cstr(&b);
	sess_record(s, &e);
	buf_free(&b);
	fx->perm_question = sj_is_question_tool(tool);
	c->fx_perm = rid;
	c->fx_tool = tuid;
	fx->perm_id = rid;
	fx->perm_tool_use_id = tuid;
	free(tool);
	return true;
}

/* Claude withdrew a request (after an interrupt): resolve what is pending. */
static bool on_control_cancel(sj_conv *c, session *s, int root)
{
	char *rid = str(c, get(c, root, "request_id"));
	if (!rid)
		return false;
	pending_perm *p = sess_find_perm(s, rid);
	if (p) {
		char *action = xstrdup(p->action);
		char *meta = p->metadata_json ? xstrdup(p->metadata_json) : NULL;
		bool qtool = p->question_tool;
		ev_conv e;
		base_ev(c, &e, EV_PERMISSION_RESOLVED, true);
		e.u.perm.id = rid;
		e.u.perm.action = action;
		e.u.perm.status = "reject";
		e.u.perm.metadata_json = meta;
		sess_record(s, &e);
		const char *tuid = sj_request_tool_use(c, rid);
		pending_question *q = qtool && tuid ? sess_find_question(s, tuid) : NULL;
		if (q) {
			char *qid = xstrdup(q->id), *prompt = xstrdup(q->prompt);
			char *opts = q->options_json ? xstrdup(q->options_json) : NULL;
			base_ev(c, &e, EV_QUESTION_RESOLVED, true);
			e.u.question.id = qid;
			e.u.question.prompt = prompt;
			e.u.question.options_json = opts;
			e.u.question.status = "rejected";
			sess_record(s, &e);
			free(qid);
			free(prompt);
			free(opts);
		}
		free(action);
		free(meta);
	}
	free(rid);
	return true;
}

static bool on_stream_event(sj_conv *c, session *s, int root)
{
	if (is(c, get(c, root, "parent_tool_use_id"), JSON_STRING))
		return true; /* sub-agent streams: their complete lines are enough */
	int ev = get(c, root, "event");
	int et = get(c, ev, "type");
	if (!is(c, et, JSON_STRING))
		return false;
	if (streq(c, et, "message_start")) {
		free(c->stream_id);
		c->stream_id = str(c, get(c, get(c, ev, "message"), "id"));
	} else if (streq(c, et, "content_block_start")) {
		int cb = get(c, ev, "content_block");
		int ty = get(c, cb, "type");
		if (streq(c, ty, "text") || streq(c, ty, "thinking"))
			bind(c, s, c->stream_id);
		int tx = get(c, cb, "text");
		if (streq(c, ty, "text") && is(c, tx, JSON_STRING))
			delta(c, s, tx);
	} else if (streq(c, et, "content_block_delta")) {
		int d = get(c, ev, "delta");
		int tx = get(c, d, "text");
		if (streq(c, get(c, d, "type"), "text_delta") && is(c, tx, JSON_STRING)) {
			bind(c, s, c->stream_id);
			delta(c, s, tx);
		}
		/* thinking arrives whole in the assistant line; tool input too */
	} else if (streq(c, et, "message_stop")) {
		if (c->stream_id && bound_to(c, c->stream_id))
			complete_msg(c, s, "completed");
	} else if (!streq(c, et, "content_block_stop") && !streq(c, et, "message_delta") &&
			!streq(c, et, "ping") && !streq(c, et, "error")) {
		return false;
	}
	return true;
}

static bool on_system(sj_conv *c, session *s, int root)
{
	int sub = get(c, root, "subtype");
	if (streq(c, sub, "init")) {
		/* The agent's id wins: after a resume that could not find the
		 * conversation it starts a new one, and that is what to resume. */
		if (c->sid && *c->sid && (!s->native_id || strcmp(s->native_id, c->sid))) {
			free(s->native_id);
			s->native_id = xstrdup(c->sid);
		}
	} else if (streq(c, sub, "api_retry")) {
		buf_t d;
		int64_t attempt = 0, max = 0, st = 0;
		json_get_i64(c->js, c->t, get(c, root, "attempt"), &attempt);
		json_get_i64(c->js, c->t, get(c, root, "max_retries"), &max);
		char *why = str(c, get(c, root, "error"));
		buf_init(&d);
		buf_printf(&d, "attempt %lld of %lld: %s", (long long)attempt, (long long)max,
			why ? why : "error");
		if (json_get_i64(c->js, c->t, get(c, root, "error_status"), &st))
			buf_printf(&d, " (HTTP %lld)", (long long)st);
		status_item(c, s, "api_retry", buf_cstr(&d));
		buf_free(&d);
		free(why);
	}
	/* The other system lines (status, thinking_tokens, hooks, tasks,
	 * compaction, notifications, ...) describe the agent's own
	 * bookkeeping: nothing to show. */
	return true;
}

void sj_line(sj_conv *c, session *s, const char *line, size_t len, sj_effects *fx)
{
	memset(fx, 0, sizeof *fx);
	free(c->fx_refuse);
	free(c->fx_perm);
	free(c->fx_tool);
	c->fx_refuse = c->fx_perm = c->fx_tool = NULL;
	free(c->sid);
	c->sid = NULL;
	int n = au_parse(line, len, &c->t, &c->ntok, SJ_TOKENS_MIN, SJ_TOKENS_MAX);
	if (n < 0) {
		char m[96];
		snprintf(m, sizeof m, "invalid JSON: %s", json_strerror(n));
		sess_record_unparsed(s, m, c->loc, line, len);
		return;
	}
	if (c->t[0].type != JSON_OBJECT) {
		sess_record_unparsed(s, "not a JSON object", c->loc, line, len);
		return;
	}
	c->js = line;
	c->jlen = len;
	int sid = get(c, 0, "session_id");
	c->sid = str(c, sid >= 0 ? sid : get(c, 0, "sessionId"));
	int ty = get(c, 0, "type");
	bool ok = true;
	if (streq(c, ty, "assistant"))
		ok = on_assistant(c, s, 0);
	else if (streq(c, ty, "user"))
		ok = on_user(c, s, 0);
	else if (streq(c, ty, "stream_event"))
		ok = on_stream_event(c, s, 0);
	else if (streq(c, ty, "result"))
		ok = on_result(c, s, 0, fx);
	else if (streq(c, ty, "system"))
		ok = on_system(c, s, 0);
	else if (streq(c, ty, "control_request"))
		ok = on_control_request(c, s, 0, fx);
	else if (streq(c, ty, "control_cancel_request"))
		ok = on_control_cancel(c, s, 0);
	else if (streq(c, ty, "tool_use"))
		tool_call(c, s, 0, NULL, NULL);
	else if (streq(c, ty, "tool_result"))
		tool_result(c, s, 0, NULL);
	else if (!streq(c, ty, "control_response") && !streq(c, ty, "keep_alive") &&
			!streq(c, ty, "update_environment_variables") && !streq(c, ty, "tool_progress") &&
			!streq(c, ty, "rate_limit_event") && !streq(c, ty, "auth_status") &&
			!streq(c, ty, "tool_use_summary") && !streq(c, ty, "prompt_suggestion") &&
			!streq(c, ty, "transcript_mirror"))
		ok = false;
	if (!ok) {
		char m[160];
		char *tn = str(c, ty);
		if (tn)
			snprintf(m, sizeof m, "unsupported %s event: %.100s", c->loc, tn);
		else
			snprintf(m, sizeof m, "%s line without a type", c->loc);
		free(tn);
		sess_record_unparsed(s, m, c->loc, line, len);
	}
	c->js = NULL;
	c->jlen = 0;
}

/* ---- turns ---- */

void sj_turn_begin(sj_conv *c, session *s, const char *text, size_t len,
		const char *extra_parts_json)
{
	c->js = NULL;
	free(c->sid);
	c->sid = NULL;
	if (c->open)
		complete_msg(c, s, "completed");
	free(c->stream_id);
	c->stream_id = NULL;
	c->turn = true;
	sess_record_simple(s, EV_TURN_STARTED, true);
	char uid[32];
	sj_next_user_id(uid);
	buf_t b;
	jw_t w;
	buf_init(&b);
	jw_init(&w, &b);
	jw_arr(&w);
	jw_obj(&w);
	jw_kstr(&w, "type", "text");
	jw_key(&w, "text");
	jw_strn(&w, text, len);
	jw_obj_end(&w);
	if (extra_parts_json && *extra_parts_json)
		jw_raw(&w, extra_parts_json, strlen(extra_parts_json));
	jw_arr_end(&w);
	rec_item(c, s, EV_ITEM_STARTED, true, NULL, uid, NULL, "message", "user", buf_cstr(&b),
		"in_progress");
	rec_item(c, s, EV_ITEM_COMPLETED, true, NULL, uid, NULL, "message", "user", buf_cstr(&b),
		"completed");
	buf_free(&b);
}

void sj_turn_ready(sj_conv *c, session *s)
{
	c->js = NULL;
	free(c->sid);
	c->sid = NULL;
	open_placeholder(c, s);
}

void sj_turn_abort(sj_conv *c, session *s)
{
	c->js = NULL;
	free(c->sid);
	c->sid = NULL;
	complete_msg(c, s, "failed");
	c->turn = false;
}

void sj_turn_failed(sj_conv *c, session *s, const char *msg, const char *code,
		const char *details_json, int exit_code, const char *stderr_json)
{
	sj_turn_abort(c, s);
	sess_record_error(s, true, msg, code, details_json);
	if (exit_code == 0)
		sess_record_simple(s, EV_TURN_ENDED, true);
	else
		sess_end(s, "error", "agent", msg, true, exit_code, stderr_json);
}
