/* sessions_api.c - the /v1/sessions resource (spec 4.6-4.15): create,
 * list, messages (plain and turn-streamed), terminate, events (paged
 * and SSE), and question/permission replies. */
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "../agents/agent.h"
#include "../agents/skills.h"
#include "../base/log.h"
#include "../base/util.h"
#include "../json/json.h"
#include "../session/session.h"
#include "routes.h"

#define BODY_TOKENS 8192

static void agent_problem(srv_req *r, const session *s, const char *agent, const agent_err *e)
{
	switch (e->kind) {
	case AERR_NOT_INSTALLED:
		err_agent_not_installed(r, agent);
		break;
	case AERR_EXITED:
		err_agent_process_exited(r, agent, e->has_code, e->code, e->msg[0] ? e->msg : NULL);
		break;
	case AERR_STREAM:
		err_stream_error(r, e->msg);
		break;
	case AERR_MODE:
		err_mode_not_supported(r, agent, e->msg);
		break;
	case AERR_INSTALL:
		err_install_failed(r, agent, e->msg);
		break;
	default:
		err_invalid_request(r, e->msg);
		break;
	}
}

/* Parsed body: tokens on the heap (bodies may be large). */
typedef struct {
	const char *js;
	json_tok *t;
	int n;
} body;

static bool read_body(srv_req *r, body *b)
{
	b->t = xmalloc(BODY_TOKENS * sizeof *b->t);
	if (!srv_json_body(r, &b->js, b->t, BODY_TOKENS, &b->n)) {
		free(b->t);
		b->t = NULL;
		return false;
	}
	return true;
}

/* Optional string field: absent or null gives NULL; another type 422. */
static bool opt_str(srv_req *r, body *b, const char *key, char **out)
{
	*out = NULL;
	int i = json_obj_get(b->js, b->t, 0, key);
	if (i < 0 || b->t[i].type == JSON_NULL)
		return true;
	if (b->t[i].type != JSON_STRING) {
		char d[128];
		snprintf(d, sizeof d, "invalid body: %s must be a string", key);
		srv_unprocessable(r, d);
		return false;
	}
	*out = json_str_dup(b->js, b->t, i, NULL);
	return true;
}

static char *tok_json(body *b, int i)
{
	return xstrndup(b->js + b->t[i].start - (b->t[i].type == JSON_STRING),
		b->t[i].end - b->t[i].start + 2 * (b->t[i].type == JSON_STRING));
}

static session *lookup(srv_req *r)
{
	session *s = sess_find(r->params[0]);
	if (!s)
		err_session_not_found(r, r->params[0]);
	return s;
}

/* Messages and replies to an ended session (spec 4.8). */
static bool check_open(srv_req *r, session *s)
{
	if (!s->ended)
		return true;
	if (s->ended_by_daemon)
		err_invalid_request(r, "session terminated");
	else
		err_agent_process_exited(r, s->agent->id, s->has_exit_code, s->exit_code,
			s->end_message);
	return false;
}

/* ---- list ---- */

static void write_info(jw_t *w, const session *s)
{
	jw_obj(w);
	jw_kstr(w, "sessionId", s->id);
	jw_kstr(w, "agent", s->agent->id);
	jw_kstr(w, "agentMode", s->agent_mode);
	jw_kstr(w, "permissionMode", s->permission_mode);
	jw_key(w, "model");
	jw_str(w, s->model);
	jw_key(w, "variant");
	jw_str(w, s->variant);
	jw_key(w, "nativeSessionId");
	jw_str(w, s->native_id);
	jw_kbool(w, "ended", s->ended);
	jw_key(w, "eventCount");
	jw_uint(w, s->nev);
	jw_kint(w, "createdAt", s->created_ms);
	jw_kint(w, "updatedAt", s->updated_ms);
	jw_key(w, "directory");
	jw_str(w, s->directory);
	jw_key(w, "title");
	jw_str(w, s->title);
	if (s->mcp_json) {
		jw_key(w, "mcp");
		jw_raw(w, s->mcp_json, strlen(s->mcp_json));
	}
	if (s->skills_json) {
		jw_key(w, "skills");
		jw_raw(w, s->skills_json, strlen(s->skills_json));
	}
	jw_obj_end(w);
}

void h_sessions_list(srv_req *r)
{
	buf_t b;
	jw_t w;
	buf_init(&b);
	jw_init(&w, &b);
	jw_obj(&w);
	jw_key(&w, "sessions");
	jw_arr(&w);
	for (session *s = sess_first(); s; s = s->next_all)
		write_info(&w, s);
	jw_arr_end(&w);
	jw_obj_end(&w);
	srv_respond_json(r, 200, &b);
	buf_free(&b);
}

/* ---- create ---- */

static bool valid_session_id(const char *id)
{
	size_t n = strlen(id);
	if (!n || n > SESS_ID_MAX)
		return false;
	for (size_t i = 0; i < n; i++)
		if ((unsigned char)id[i] < 0x20 || id[i] == 0x7f)
			return false;
	return true;
}

void h_session_create(srv_req *r)
{
	body b;
	if (!read_body(r, &b))
		return;
	const char *sid = r->params[0];
	char *agent = NULL, *amode = NULL, *pmode = NULL, *model = NULL, *variant = NULL,
	     *dir = NULL, *title = NULL, *aversion = NULL;
	session *s = NULL;
	int ai = json_obj_get(b.js, b.t, 0, "agent");
	if (ai < 0 || b.t[ai].type != JSON_STRING) {
		srv_unprocessable(r, ai < 0 ? "invalid body: missing field `agent`"
					   : "invalid body: agent must be a string");
		goto out;
	}
	if (!opt_str(r, &b, "agent", &agent) || !opt_str(r, &b, "agentMode", &amode) ||
			!opt_str(r, &b, "permissionMode", &pmode) || !opt_str(r, &b, "model", &model) ||
			!opt_str(r, &b, "variant", &variant) || !opt_str(r, &b, "directory", &dir) ||
			!opt_str(r, &b, "title", &title) || !opt_str(r, &b, "agentVersion", &aversion))
		goto out;
	int mi = json_obj_get(b.js, b.t, 0, "mcp");
	int ki = json_obj_get(b.js, b.t, 0, "skills");
	if ((mi >= 0 && b.t[mi].type != JSON_OBJECT && b.t[mi].type != JSON_NULL) ||
			(ki >= 0 && b.t[ki].type != JSON_OBJECT && b.t[ki].type != JSON_NULL)) {
		srv_unprocessable(r, "invalid body: mcp and skills must be objects");
		goto out;
	}
	const agent_ops *a = agent_find(agent);
	if (!a) {
		err_unsupported_agent(r, agent);
		goto out;
	}
	if (!valid_session_id(sid)) {
		err_invalid_request(r, "session id must be 1-256 characters without control characters");
		goto out;
	}
	if (sess_find(sid)) {
		err_session_exists(r, sid);
		goto out;
	}
	agent_err e = {0};
	const char *am, *pm;
	if (agent_normalize_modes(a, amode, pmode, &am, &pm, &e) != 0) {
		agent_problem(r, NULL, a->id, &e);
		goto out;
	}
	char cwd[PATH_MAX];
	if (dir) {
		struct stat st;
		if (stat(dir, &st) != 0 || !S_ISDIR(st.st_mode)) {
			char m[PATH_MAX + 64];
			snprintf(m, sizeof m, "directory not found: %s", dir);
			err_invalid_request(r, m);
			goto out;
		}
	} else if (!getcwd(cwd, sizeof cwd)) {
		cwd[0] = 0;
	}
	if (!a->create || !a->send) {
		err_agent_not_installed(r, a->id);
		goto out;
	}
	if (ki >= 0 && b.t[ki].type == JSON_OBJECT) {
		char *skills = tok_json(&b, ki);
		char why[PATH_MAX + 128];
		int src = skills_install(skills, dir ? dir : cwd, why, sizeof why);
		free(skills);
		if (src != 0) {
			err_invalid_request(r, why);
			goto out;
		}
	}
	if (sess_count() >= SESS_MAX_SESSIONS) {
		err_invalid_request(r, "too many sessions");
		goto out;
	}
	s = sess_new(sid, a);
	s->agent_mode = xstrdup(am);
	s->permission_mode = xstrdup(pm);
	s->model = model ? model : (a->default_model ? xstrdup(a->default_model) : NULL);
	model = NULL;
	s->variant = variant;
	variant = NULL;
	s->directory = dir ? dir : (cwd[0] ? xstrdup(cwd) : NULL);
	dir = NULL;
	s->title = title;
	title = NULL;
	if (mi >= 0 && b.t[mi].type == JSON_OBJECT && b.t[mi].size)
		s->mcp_json = tok_json(&b, mi);
	if (ki >= 0 && b.t[ki].type == JSON_OBJECT)
		s->skills_json = tok_json(&b, ki);
	if (a->create(s, &e) != 0) {
		agent_problem(r, s, a->id, &e);
		sess_register(s); /* keep it owned by the table; it is ended */
		s->ended = true;
		s->ended_by_daemon = true;
		goto out;
	}
	sess_register(s);
	{
		buf_t meta;
		jw_t w;
		buf_init(&meta);
		jw_init(&w, &meta);
		jw_obj(&w);
		jw_kstr(&w, "agent", a->id);
		jw_kstr(&w, "agentMode", s->agent_mode);
		jw_kstr(&w, "permissionMode", s->permission_mode);
		jw_key(&w, "model");
		jw_str(&w, s->model);
		jw_key(&w, "variant");
		jw_str(&w, s->variant);
		jw_obj_end(&w);
		ev_conv c = {.type = EV_SESSION_STARTED, .synthetic = true};
		c.u.started.metadata_json = buf_cstr(&meta);
		sess_record(s, &c);
		buf_free(&meta);
	}
	{
		buf_t out;
		jw_t w;
		buf_init(&out);
		jw_init(&w, &out);
		jw_obj(&w);
		jw_kbool(&w, "healthy", true);
		if (s->native_id)
			jw_kstr(&w, "nativeSessionId", s->native_id);
		jw_obj_end(&w);
		srv_respond_json(r, 200, &out);
		buf_free(&out);
	}
	log_debug("session %s created (agent %s)", sid, a->id);
out:
	free(agent);
	free(amode);
	free(pmode);
	free(model);
	free(variant);
	free(dir);
	free(title);
	free(aversion);
	free(b.t);
}

/* ---- messages ---- */

/* Parses a MessageRequest into text (with attachment lines, spec 5.5)
 * and the attachments array. */
static bool read_message(srv_req *r, body *b, buf_t *text, char **attachments)
{
	*attachments = NULL;
	int mi = json_obj_get(b->js, b->t, 0, "message");
	if (mi < 0 || b->t[mi].type != JSON_STRING) {
		srv_unprocessable(r, mi < 0 ? "invalid body: missing field `message`"
					   : "invalid body: message must be a string");
		return false;
	}
	size_t ml;
	char *m = json_str_dup(b->js, b->t, mi, &ml);
	buf_append(text, m, ml);
	free(m);
	int ai = json_obj_get(b->js, b->t, 0, "attachments");
	if (ai < 0 || b->t[ai].type == JSON_NULL)
		return true;
	if (b->t[ai].type != JSON_ARRAY) {
		srv_unprocessable(r, "invalid body: attachments must be an array");
		return false;
	}
	bool first = true;
	for (int i = json_first(b->t, ai); i >= 0; i = json_next(b->t, i)) {
		int pi = b->t[i].type == JSON_OBJECT ? json_obj_get(b->js, b->t, i, "path") : -1;
		if (pi < 0 || b->t[pi].type != JSON_STRING) {
			srv_unprocessable(r, "invalid body: each attachment needs a string path");
			return false;
		}
		char *p = json_str_dup(b->js, b->t, pi, NULL);
		if (first)
			buf_puts(text, "\n\nAttachments:\n");
		first = false;
		buf_printf(text, "- %s\n", p);
		free(p);
	}
	if (b->t[ai].size)
		*attachments = tok_json(b, ai);
	return true;
}

/* Dispatches now, or queues behind the running turn. Returns 0, 1 if
 * queued, -1 after answering with an error. */
static int dispatch(srv_req *r, session *s, buf_t *text, char *attachments, sess_sub *waiting)
{
	if (s->busy) {
		if (s->nqueued >= SESS_QUEUE_MAX) {
			srv_problem(r, 409, "session_busy", "Session Busy",
				"session busy: too many messages are queued behind the running turn", NULL);
			return -1;
		}
		queued_msg *q = xcalloc(1, sizeof *q);
		q->text = xstrndup(text->p ? text->p : "", text->len);
		q->len = text->len;
		q->attachments_json = attachments ? xstrdup(attachments) : NULL;
		q->waiting_sub = waiting;
		if (s->queue_tail)
			s->queue_tail->next = q;
		else
			s->queue = q;
		s->queue_tail = q;
		s->nqueued++;
		return 1;
	}
	agent_err e = {0};
	s->busy = true;
	if (s->agent->send(s, text->p ? text->p : "", text->len, attachments, &e) != 0) {
		s->busy = false;
		agent_problem(r, s, s->agent->id, &e);
		return -1;
	}
	return 0;
}

void h_session_message(srv_req *r)
{
	body b;
	if (!read_body(r, &b))
		return;
	session *s = lookup(r);
	if (!s) {
		free(b.t);
		return;
	}
	buf_t text;
	char *att = NULL;
	buf_init(&text);
	if (read_message(r, &b, &text, &att) && check_open(r, s) &&
			dispatch(r, s, &text, att, NULL) >= 0)
		srv_respond_empty(r, 204);
	buf_free(&text);
	free(att);
	free(b.t);
}

/* SSE subscriber glue: a session subscriber writing into a stream. */
static bool sse_room(void *ud)
{
	return srv_stream_queued(ud) < SRV_STREAM_BACKLOG;
}

static void sse_write(void *ud, const char *p, size_t n)
{
	buf_append(srv_stream_buf(ud), p, n);
}

static void sse_flush(void *ud)
{
	srv_stream_flush(ud);
}

static void sse_finish(void *ud)
{
	srv_req *r = ud;
	sess_sub *sub = r->abort_ud;
	r->abort_ud = NULL;
	if (sub)
		sess_unsubscribe(sub);
	srv_stream_end(r);
}

static const sess_sub_ops sse_ops = {sse_room, sse_write, sse_flush, sse_finish};

static void stream_pull(srv_req *r, void *ud)
{
	if (r->abort_ud)
		sess_sub_pump(r->abort_ud);
}

static void stream_closed(srv_req *r, void *ud)
{
	sess_sub *sub = r->abort_ud;
	r->abort_ud = NULL;
	if (sub)
		sess_unsubscribe(sub);
}

static const srv_stream_ops stream_ops = {stream_pull, stream_closed};

void h_session_message_stream(srv_req *r)
{
	bool raw = false;
	if (!srv_query_bool(r, "include_raw", "includeRaw", &raw))
		return;
	body b;
	if (!read_body(r, &b))
		return;
	session *s = lookup(r);
	if (!s) {
		free(b.t);
		return;
	}
	buf_t text;
	char *att = NULL;
	buf_init(&text);
	if (read_message(r, &b, &text, &att) && check_open(r, s)) {
		sess_sub *sub = sess_subscribe(s, s->nev, raw, true, &sse_ops, r);
		sub->waiting = true;
		int rc = dispatch(r, s, &text, att, sub);
		if (rc < 0) {
			sess_unsubscribe(sub);
		} else {
			r->abort_ud = sub;
			srv_stream_begin(r, &stream_ops, NULL);
			if (rc == 0) /* queued turns start their stream at dispatch */
				sub->waiting = false;
			sess_sub_pump(sub);
		}
	}
	buf_free(&text);
	free(att);
	free(b.t);
}

/* ---- terminate ---- */

void h_session_terminate(srv_req *r)
{
	session *s = lookup(r);
	if (!s)
		return;
	if (!s->ended) {
		if (s->agent->terminate)
			s->agent->terminate(s);
		sess_end(s, "terminated", "daemon", NULL, false, 0, NULL);
	}
	srv_respond_empty(r, 204);
}

/* ---- events ---- */

void h_session_events(srv_req *r)
{
	uint64_t offset = 0, limit = 0;
	bool has_off, has_limit, raw = false;
	if (!srv_query_u64(r, "offset", NULL, &offset, &has_off) ||
			!srv_query_u64(r, "limit", NULL, &limit, &has_limit) ||
			!srv_query_bool(r, "include_raw", "includeRaw", &raw))
		return;
	session *s = lookup(r);
	if (!s)
		return;
	size_t from = sess_index_after(s, offset);
	size_t avail = s->nev - from;
	size_t n = has_limit && limit < avail ? (size_t)limit : avail;
	buf_t b;
	buf_init(&b);
	buf_puts(&b, "{\"events\":[");
	for (size_t i = 0; i < n; i++) {
		if (i)
			buf_putc(&b, ',');
		sess_write_event(s, from + i, raw, &b);
	}
	buf_printf(&b, "],\"hasMore\":%s}", n < avail ? "true" : "false");
	srv_respond_json(r, 200, &b);
	buf_free(&b);
}

void h_session_events_sse(srv_req *r)
{
	uint64_t offset = 0, ignored;
	bool has_off, has_limit, raw = false;
	if (!srv_query_u64(r, "offset", NULL, &offset, &has_off) ||
			!srv_query_u64(r, "limit", NULL, &ignored, &has_limit) ||
			!srv_query_bool(r, "include_raw", "includeRaw", &raw))
		return;
	session *s = lookup(r);
	if (!s)
		return;
	/* A reconnecting EventSource repeats its URL and sends the last id
	 * it saw: that id wins over the URL's offset. */
	const http_header *lei = srv_header(r, "Last-Event-ID");
	uint64_t v;
	if (lei && util_parse_u64(lei->value, lei->value_len, &v))
		offset = v;
	/* the stream starts after offset, even beyond the current end */
	sess_sub *sub = sess_subscribe(s, (size_t)offset, raw, false, &sse_ops, r);
	r->abort_ud = sub;
	srv_stream_begin(r, &stream_ops, NULL);
	sess_sub_pump(sub);
}

/* ---- human in the loop ---- */

void h_question_reply(srv_req *r)
{
	body b;
	if (!read_body(r, &b))
		return;
	session *s = lookup(r);
	if (!s) {
		free(b.t);
		return;
	}
	int ai = json_obj_get(b.js, b.t, 0, "answers");
	bool ok = ai >= 0 && b.t[ai].type == JSON_ARRAY;
	for (int i = ok ? json_first(b.t, ai) : -1; ok && i >= 0; i = json_next(b.t, i)) {
		if (b.t[i].type != JSON_ARRAY)
			ok = false;
		for (int j = ok ? json_first(b.t, i) : -1; ok && j >= 0; j = json_next(b.t, j))
			if (b.t[j].type != JSON_STRING)
				ok = false;
	}
	if (!ok) {
		srv_unprocessable(r, "invalid body: answers must be an array of string arrays");
		free(b.t);
		return;
	}
	const char *qid = r->params[1];
	pending_question *q = sess_find_question(s, qid);
	if (!q) {
		char m[SESS_ID_MAX + 64];
		snprintf(m, sizeof m, "unknown question id: %s", qid);
		err_invalid_request(r, m);
		free(b.t);
		return;
	}
	if (!check_open(r, s)) {
		free(b.t);
		return;
	}
	char *answers = tok_json(&b, ai);
	char *response = NULL;
	int first = json_first(b.t, ai);
	int inner = first >= 0 ? json_first(b.t, first) : -1;
	if (inner >= 0)
		response = json_str_dup(b.js, b.t, inner, NULL);
	agent_err e = {0};
	/* The entry stays pending until the agent has the answer, so a
	 * failed reply can be retried. */
	if (s->agent->reply_question && s->agent->reply_question(s, q, answers, &e) != 0) {
		agent_problem(r, s, s->agent->id, &e);
	} else {
		q = sess_find_question(s, qid);
		pending_question t = {0};
		if (q)
			sess_take_question(s, q, &t);
		ev_conv c = {.type = EV_QUESTION_RESOLVED, .synthetic = true};
		c.u.question.id = qid;
		c.u.question.prompt = t.prompt ? t.prompt : "";
		c.u.question.options_json = t.options_json;
		c.u.question.response = response;
		c.u.question.status = "answered";
		sess_record(s, &c);
		sess_free_question(&t);
		srv_respond_empty(r, 204);
	}
	free(answers);
	free(response);
	free(b.t);
}

void h_question_reject(srv_req *r)
{
	session *s = lookup(r);
	if (!s)
		return;
	const char *qid = r->params[1];
	pending_question *q = sess_find_question(s, qid);
	if (!q) {
		char m[SESS_ID_MAX + 64];
		snprintf(m, sizeof m, "unknown question id: %s", qid);
		err_invalid_request(r, m);
		return;
	}
	if (!check_open(r, s))
		return;
	agent_err e = {0};
	if (s->agent->reply_question && s->agent->reply_question(s, q, NULL, &e) != 0) {
		agent_problem(r, s, s->agent->id, &e);
		return;
	}
	q = sess_find_question(s, qid);
	pending_question t = {0};
	if (q)
		sess_take_question(s, q, &t);
	ev_conv c = {.type = EV_QUESTION_RESOLVED, .synthetic = true};
	c.u.question.id = qid;
	c.u.question.prompt = t.prompt ? t.prompt : "";
	c.u.question.options_json = t.options_json;
	c.u.question.status = "rejected";
	sess_record(s, &c);
	sess_free_question(&t);
	srv_respond_empty(r, 204);
}

void h_permission_reply(srv_req *r)
{
	body b;
	if (!read_body(r, &b))
		return;
	session *s = lookup(r);
	if (!s) {
		free(b.t);
		return;
	}
	int ri = json_obj_get(b.js, b.t, 0, "reply");
	int reply = -1;
	if (ri >= 0 && json_str_eq(b.js, b.t, ri, "once"))
		reply = REPLY_ONCE;
	else if (ri >= 0 && json_str_eq(b.js, b.t, ri, "always"))
		reply = REPLY_ALWAYS;
	else if (ri >= 0 && json_str_eq(b.js, b.t, ri, "reject"))
		reply = REPLY_REJECT;
	free(b.t);
	if (reply < 0) {
		srv_unprocessable(r, "invalid body: reply must be one of once, always, reject");
		return;
	}
	const char *pid = r->params[1];
	pending_perm *p = sess_find_perm(s, pid);
	if (!p) {
		char m[SESS_ID_MAX + 64];
		snprintf(m, sizeof m, "unknown permission id: %s", pid);
		err_invalid_request(r, m);
		return;
	}
	if (!check_open(r, s))
		return;
	agent_err e = {0};
	if (s->agent->reply_permission && s->agent->reply_permission(s, p, reply, &e) != 0) {
		agent_problem(r, s, s->agent->id, &e);
		return;
	}
	p = sess_find_perm(s, pid);
	if (!p) { /* the adapter resolved it itself */
		srv_respond_empty(r, 204);
		return;
	}
	pending_perm t;
	sess_take_perm(s, p, &t);
	if (reply == REPLY_ALWAYS)
		sess_allow_always(s, &t);
	if (!t.hidden || t.question_tool == false) {
		ev_conv c = {.type = EV_PERMISSION_RESOLVED, .synthetic = true};
		c.u.perm.id = t.id;
		c.u.perm.action = t.action;
		c.u.perm.status = reply == REPLY_ONCE ? "accept"
			: reply == REPLY_ALWAYS ? "accept_for_session" : "reject";
		c.u.perm.metadata_json = t.metadata_json;
		sess_record(s, &c);
	}
	sess_free_perm(&t);
	srv_respond_empty(r, 204);
}
