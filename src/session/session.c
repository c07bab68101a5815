/* session.c - session table, the recording pipeline of spec 6.1, the
 * append-only event log and its subscribers. See session.h. */
#include "session.h"

#include <stdio.h>
#include <stdlib.h>
#include <strings.h>
#include <string.h>

#include "../agents/agent.h"
#include "../base/log.h"
#include "../base/strmap.h"
#include "../base/util.h"
#include "../json/json.h"
#include "../proc/proc.h"

#define CONTENT_TOKENS 4096 /* tokens when reading an item's content */

static const char *const type_names[EV__COUNT] = {
	"session.started", "session.ended", "turn.started", "turn.ended", "item.started",
	"item.delta", "item.completed", "error", "permission.requested", "permission.resolved",
	"question.requested", "question.resolved", "agent.unparsed",
};

const char *ev_type_name(ev_type t)
{
	return t < EV__COUNT ? type_names[t] : "unknown";
}

/* Per-item flags, keyed by item id. */
enum { IT_STARTED = 1, IT_COMPLETED = 2, IT_DELTA = 4 };

struct sess_map {
	strmap native; /* native item id -> item id (heap string) */
	strmap flags;  /* item id -> (void *)(uintptr_t)flags */
};

static struct {
	strmap by_id;
	session *all; /* newest first */
	size_t count;
	sess_sub **dirty;
	size_t ndirty, capdirty;
} T;

session *sess_find(const char *id) { return strmap_get(&T.by_id, id); }
session *sess_first(void) { return T.all; }
size_t sess_count(void) { return T.count; }

session *sess_new(const char *id, const agent_ops *agent)
{
	session *s = xcalloc(1, sizeof *s);
	s->id = xstrdup(id);
	s->agent = agent;
	s->items = xcalloc(1, sizeof *s->items);
	s->created_ms = s->updated_ms = util_unix_ms();
	return s;
}

void sess_register(session *s)
{
	strmap_put(&T.by_id, s->id, s);
	s->next_all = T.all;
	T.all = s;
	T.count++;
}

/* ---- item bookkeeping ---- */

static unsigned item_flags(session *s, const char *item_id)
{
	return (unsigned)(uintptr_t)strmap_get(&s->items->flags, item_id);
}

static void item_set(session *s, const char *item_id, unsigned f)
{
	strmap_put(&s->items->flags, item_id, (void *)(uintptr_t)(item_flags(s, item_id) | f));
}

void sess_new_item_id(session *s, char out[32])
{
	snprintf(out, 32, "itm_%llu", (unsigned long long)++s->next_item);
}

/* The item id mapped to native, allocating one if unseen. */
static const char *item_for_native(session *s, const char *native, char tmp[32])
{
	const char *id = strmap_get(&s->items->native, native);
	if (id)
		return id;
	sess_new_item_id(s, tmp);
	strmap_put(&s->items->native, native, xstrdup(tmp));
	return strmap_get(&s->items->native, native);
}

const char *sess_push_pending_assistant(session *s)
{
	char id[SESS_ID_MAX + 64];
	snprintf(id, sizeof id, "%s_pending_assistant_%llu", s->id,
		(unsigned long long)++s->pending_asst_counter);
	s->pending_asst = xrealloc(s->pending_asst, (s->npending_asst + 1) * sizeof *s->pending_asst);
	s->pending_asst[s->npending_asst++] = xstrdup(id);
	return s->pending_asst[s->npending_asst - 1];
}

static bool is_pending_asst(session *s, const char *native)
{
	for (size_t i = 0; native && i < s->npending_asst; i++)
		if (!strcmp(s->pending_asst[i], native))
			return true;
	return false;
}

/* ---- serialization ---- */

static void w_str_or_null(jw_t *w, const char *k, const char *v)
{
	jw_key(w, k);
	jw_str(w, v);
}

static void w_json_or_null(jw_t *w, const char *k, const char *json)
{
	jw_key(w, k);
	if (json)
		jw_raw(w, json, strlen(json));
	else
		jw_null(w);
}

static void write_data(jw_t *w, const ev_conv *c)
{
	jw_key(w, "data");
	jw_obj(w);
	switch (c->type) {
	case EV_SESSION_STARTED:
		w_json_or_null(w, "metadata", c->u.started.metadata_json);
		break;
	case EV_SESSION_ENDED:
		jw_kstr(w, "reason", c->u.ended.reason);
		jw_kstr(w, "terminated_by", c->u.ended.terminated_by);
		if (!strcmp(c->u.ended.reason, "error")) {
			if (c->u.ended.message)
				jw_kstr(w, "message", c->u.ended.message);
			if (c->u.ended.has_exit_code)
				jw_kint(w, "exit_code", c->u.ended.exit_code);
			if (c->u.ended.stderr_json) {
				jw_key(w, "stderr");
				jw_raw(w, c->u.ended.stderr_json, strlen(c->u.ended.stderr_json));
			}
		}
		break;
	case EV_TURN_STARTED:
	case EV_TURN_ENDED:
		jw_kstr(w, "phase", c->type == EV_TURN_STARTED ? "started" : "ended");
		if (c->u.turn.turn_id)
			jw_kstr(w, "turn_id", c->u.turn.turn_id);
		if (c->u.turn.metadata_json) {
			jw_key(w, "metadata");
			jw_raw(w, c->u.turn.metadata_json, strlen(c->u.turn.metadata_json));
		}
		break;
	case EV_ITEM_STARTED:
	case EV_ITEM_COMPLETED:
		jw_key(w, "item");
		jw_obj(w);
		jw_kstr(w, "item_id", c->u.item.item_id);
		w_str_or_null(w, "native_item_id", c->u.item.native_item_id);
		w_str_or_null(w, "parent_id", c->u.item.parent_id);
		jw_kstr(w, "kind", c->u.item.kind);
		w_str_or_null(w, "role", c->u.item.role);
		jw_key(w, "content");
		if (c->u.item.content_json)
			jw_raw(w, c->u.item.content_json, strlen(c->u.item.content_json));
		else
			jw_raw(w, "[]", 2);
		jw_kstr(w, "status", c->u.item.status);
		jw_obj_end(w);
		break;
	case EV_ITEM_DELTA:
		jw_kstr(w, "item_id", c->u.delta.item_id);
		w_str_or_null(w, "native_item_id", c->u.delta.native_item_id);
		jw_key(w, "delta");
		jw_strn(w, c->u.delta.delta, c->u.delta.delta_len);
		break;
	case EV_ERROR:
		jw_kstr(w, "message", c->u.error.message);
		w_str_or_null(w, "code", c->u.error.code);
		w_json_or_null(w, "details", c->u.error.details_json);
		break;
	case EV_PERMISSION_REQUESTED:
	case EV_PERMISSION_RESOLVED:
		jw_kstr(w, "permission_id", c->u.perm.id);
		jw_kstr(w, "action", c->u.perm.action);
		jw_kstr(w, "status", c->u.perm.status);
		w_json_or_null(w, "metadata", c->u.perm.metadata_json);
		break;
	case EV_QUESTION_REQUESTED:
	case EV_QUESTION_RESOLVED:
		jw_kstr(w, "question_id", c->u.question.id);
		jw_kstr(w, "prompt", c->u.question.prompt);
		jw_key(w, "options");
		if (c->u.question.options_json)
			jw_raw(w, c->u.question.options_json, strlen(c->u.question.options_json));
		else
			jw_raw(w, "[]", 2);
		w_str_or_null(w, "response", c->u.question.response);
		jw_kstr(w, "status", c->u.question.status);
		break;
	case EV_AGENT_UNPARSED:
		jw_kstr(w, "error", c->u.unparsed.error);
		jw_kstr(w, "location", c->u.unparsed.location);
		jw_key(w, "raw_hash");
		jw_null(w);
		break;
	default:
		break;
	}
	jw_obj_end(w);
}

static void sub_pump(sess_sub *sub);

/* Appends a fully resolved event. */
static uint64_t store(session *s, const ev_conv *c)
{
	if (s->log_full)
		return 0;
	if (s->nev == s->cap_ev) {
		s->cap_ev = s->cap_ev ? s->cap_ev * 2 : 32;
		s->ev = xrealloc(s->ev, s->cap_ev * sizeof *s->ev);
	}
	uint64_t seq = s->nev + 1;
	size_t off = s->log.len;
	char ts[48];
	util_rfc3339_now(ts);
	jw_t w;
	jw_init(&w, &s->log);
	jw_obj(&w);
	char eid[32];
	snprintf(eid, sizeof eid, "evt_%llu", (unsigned long long)seq);
	jw_kstr(&w, "event_id", eid);
	jw_key(&w, "sequence");
	jw_uint(&w, seq);
	jw_kstr(&w, "time", ts);
	jw_kstr(&w, "session_id", s->id);
	w_str_or_null(&w, "native_session_id", s->native_id);
	jw_kbool(&w, "synthetic", c->synthetic);
	jw_kstr(&w, "source", c->synthetic ? "daemon" : "agent");
	jw_kstr(&w, "type", ev_type_name(c->type));
	write_data(&w, c);
	buf_puts(&s->log, ",\"raw\":");
	ev_rec *r = &s->ev[s->nev];
	r->off = (uint32_t)off;
	r->len = (uint32_t)(s->log.len - off);
	r->type = (uint8_t)c->type;
	r->raw_len = 0;
	if (c->raw_json && c->raw_len) {
		/* Raw JSON may only hold line breaks as insignificant whitespace;
		 * blank them so every event stays one SSE data line. */
		size_t at = s->log.len;
		buf_append(&s->log, c->raw_json, c->raw_len);
		for (size_t i = at; i < s->log.len; i++)
			if (s->log.p[i] == '\n' || s->log.p[i] == '\r')
				s->log.p[i] = ' ';
		r->raw_len = (uint32_t)c->raw_len;
	}
	s->nev++;
	s->updated_ms = util_unix_ms();
	for (sess_sub *sub = s->subs; sub; sub = sub->next_sub)
		sub_pump(sub);
	return seq;
}

void sess_write_event(const session *s, size_t i, bool with_raw, buf_t *b)
{
	const ev_rec *r = &s->ev[i];
	buf_append(b, s->log.p + r->off, r->len);
	if (with_raw && r->raw_len)
		buf_append(b, s->log.p + r->off + r->len, r->raw_len);
	else
		buf_puts(b, "null");
	buf_putc(b, '}');
}

size_t sess_index_after(const session *s, uint64_t offset)
{
	return offset >= s->nev ? s->nev : (size_t)offset;
}

/* ---- the pipeline ---- */

static bool is_question_tool(const char *a)
{
	static const char *const names[] = {
		"AskUserQuestion", "ask_user_question", "askUserQuestion", "ask-user-question",
		"ExitPlanMode", "exit_plan_mode", "exitPlanMode", "exit-plan-mode",
	};
	for (size_t i = 0; a && i < sizeof names / sizeof names[0]; i++)
		if (!strcmp(a, names[i]))
			return true;
	return false;
}

static bool is_file_change(const char *a)
{
	return a && (!strcmp(a, "fileChange") || !strcmp(a, "file_change") ||
		!strcmp(a, "file-change") || !strcasecmp(a, "filechange"));
}

/* The text parts of a content array, joined with "\n". Returns false if
 * there is none. */
static bool content_text(const char *content, buf_t *out)
{
	if (!content)
		return false;
	json_tok *t = xmalloc(CONTENT_TOKENS * sizeof *t);
	int n = json_parse(content, strlen(content), t, CONTENT_TOKENS);
	bool any = false;
	if (n > 0 && t[0].type == JSON_ARRAY) {
		for (int i = json_first(t, 0); i >= 0; i = json_next(t, i)) {
			if (t[i].type != JSON_OBJECT)
				continue;
			int ty = json_obj_get(content, t, i, "type");
			int tx = json_obj_get(content, t, i, "text");
			if (ty < 0 || tx < 0 || !json_str_eq(content, t, ty, "text") ||
					t[tx].type != JSON_STRING)
				continue;
			size_t l;
			char *txt = json_str_dup(content, t, tx, &l);
			if (any)
				buf_putc(out, '\n');
			buf_append(out, txt, l);
			free(txt);
			any = true;
		}
	}
	free(t);
	return any;
}

/* Allow keys of a permission (spec 7.4): the raw value and its category. */
static void perm_keys(const pending_perm *p, char ***keys, size_t *n)
{
	const char *vals[4] = {p->action, NULL, NULL, NULL};
	char *owned[3] = {NULL, NULL, NULL};
	int nv = 1;
	if (p->metadata_json) {
		json_tok t[512];
		const char *m = p->metadata_json;
		int c = json_parse(m, strlen(m), t, 512);
		if (c > 0 && t[0].type == JSON_OBJECT) {
			static const char *const fields[] = {"permission", "codexRequestKind", "toolName", "tool_name"};
			for (int f = 0; f < 4 && nv < 4; f++) {
				if (f == 3 && owned[2])
					break;
				int i = json_obj_get(m, t, 0, fields[f]);
				if (i >= 0 && t[i].type == JSON_STRING) {
					owned[nv - 1] = json_str_dup(m, t, i, NULL);
					vals[nv] = owned[nv - 1];
					nv++;
				}
			}
		}
	}
	for (int i = 0; i < nv; i++) {
		const char *v = vals[i];
		if (!v)
			continue;
		while (*v == ' ' || *v == '\t')
			v++;
		size_t l = strlen(v);
		while (l && (v[l - 1] == ' ' || v[l - 1] == '\t'))
			l--;
		if (!l)
			continue;
		*keys = xrealloc(*keys, (*n + 2) * sizeof **keys);
		(*keys)[(*n)++] = xstrndup(v, l);
		size_t cl = 0;
		while (cl < l && v[cl] != ' ' && v[cl] != '\t' && v[cl] != ':')
			cl++;
		char *cat = xstrndup(v, cl);
		bool simple = cl > 0;
		for (size_t k = 0; k < cl; k++) {
			char ch = cat[k];
			if (!((ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') ||
					(ch >= '0' && ch <= '9') || ch == '_' || ch == '-' || ch == '.'))
				simple = false;
		}
		if (simple)
			for (size_t k = 0; k < cl; k++)
				if (cat[k] >= 'A' && cat[k] <= 'Z')
					cat[k] = (char)(cat[k] + 32);
		if (cl)
			(*keys)[(*n)++] = cat;
		else
			free(cat);
	}
	for (int i = 0; i < 3; i++)
		free(owned[i]);
}

void sess_allow_always(session *s, const pending_perm *p)
{
	perm_keys(p, &s->allow_keys, &s->nallow);
}

static bool perm_allowed(session *s, const pending_perm *p)
{
	char **keys = NULL;
	size_t n = 0;
	bool hit = false;
	perm_keys(p, &keys, &n);
	for (size_t i = 0; i < n && !hit; i++)
		for (size_t j = 0; j < s->nallow && !hit; j++)
			if (!strcmp(keys[i], s->allow_keys[j]))
				hit = true;
	for (size_t i = 0; i < n; i++)
		free(keys[i]);
	free(keys);
	return hit;
}

/* ---- HITL registries ---- */

pending_perm *sess_find_perm(session *s, const char *id)
{
	for (size_t i = 0; i < s->nperms; i++)
		if (!strcmp(s->perms[i].id, id))
			return &s->perms[i];
	return NULL;
}

pending_question *sess_find_question(session *s, const char *id)
{
	for (size_t i = 0; i < s->nquestions; i++)
		if (!strcmp(s->questions[i].id, id))
			return &s->questions[i];
	return NULL;
}

void sess_take_perm(session *s, pending_perm *p, pending_perm *out)
{
	*out = *p;
	size_t i = (size_t)(p - s->perms);
	memmove(&s->perms[i], &s->perms[i + 1], (s->nperms - i - 1) * sizeof *p);
	s->nperms--;
}

void sess_put_perm(session *s, const pending_perm *p)
{
	s->perms = xrealloc(s->perms, (s->nperms + 1) * sizeof *s->perms);
	s->perms[s->nperms].id = xstrdup(p->id);
	s->perms[s->nperms].action = xstrdup(p->action);
	s->perms[s->nperms].metadata_json = p->metadata_json ? xstrdup(p->metadata_json) : NULL;
	s->perms[s->nperms].hidden = p->hidden;
	s->perms[s->nperms].question_tool = p->question_tool;
	s->nperms++;
}

void sess_take_question(session *s, pending_question *q, pending_question *out)
{
	*out = *q;
	size_t i = (size_t)(q - s->questions);
	memmove(&s->questions[i], &s->questions[i + 1], (s->nquestions - i - 1) * sizeof *q);
	s->nquestions--;
}

void sess_put_question(session *s, const pending_question *q)
{
	s->questions = xrealloc(s->questions, (s->nquestions + 1) * sizeof *s->questions);
	s->questions[s->nquestions].id = xstrdup(q->id);
	s->questions[s->nquestions].prompt = xstrdup(q->prompt);
	s->questions[s->nquestions].options_json = q->options_json ? xstrdup(q->options_json) : NULL;
	s->nquestions++;
}

void sess_free_perm(pending_perm *p)
{
	free(p->id);
	free(p->action);
	free(p->metadata_json);
	memset(p, 0, sizeof *p);
}

void sess_free_question(pending_question *q)
{
	free(q->id);
	free(q->prompt);
	free(q->options_json);
	memset(q, 0, sizeof *q);
}

static void auto_approve(session *s, const char *perm_id)
{
	pending_perm *p = sess_find_perm(s, perm_id);
	if (!p || p->question_tool || !perm_allowed(s, p))
		return;
	pending_perm taken;
	sess_take_perm(s, p, &taken);
	agent_err e = {0};
	if (s->agent->reply_permission && s->agent->reply_permission(s, &taken, REPLY_ALWAYS, &e) != 0) {
		log_warn("session %s: auto-approval of %s failed: %s", s->id, taken.id, e.msg);
		sess_put_perm(s, &taken);
		sess_free_perm(&taken);
		return;
	}
	ev_conv c = {.type = EV_PERMISSION_RESOLVED, .synthetic = true};
	c.u.perm.id = taken.id;
	c.u.perm.action = taken.action;
	c.u.perm.status = "accept_for_session";
	c.u.perm.metadata_json = taken.metadata_json;
	sess_record(s, &c);
	sess_free_perm(&taken);
}

static void log_full(session *s)
{
	s->log_full = false;
	ev_conv c = {.type = EV_ERROR, .synthetic = true};
	c.u.error.message = "event log limit reached; the session was ended";
	c.u.error.code = "event_log_full";
	store(s, &c);
	s->log_full = true;
	log_warn("session %s: event log reached %u bytes, ending it", s->id, SESS_LOG_MAX);
}

uint64_t sess_record(session *s, const ev_conv *in)
{
	if (s->log_full)
		return 0;
	if (s->log.len + 65536 > SESS_LOG_MAX) {
		log_full(s);
		if (!s->ended) {
			if (s->agent->terminate)
				s->agent->terminate(s);
			s->ended = true;
			s->ended_by_daemon = true;
			s->end_reason = "error";
		}
		return 0;
	}
	ev_conv c = *in;
	char idbuf[32], parentbuf[32];

	/* A: native session id */
	if (!s->native_id && c.native_session_id && *c.native_session_id)
		s->native_id = xstrdup(c.native_session_id);

	bool pending_model = !s->agent->caps[CAP_ITEM_STARTED];
	char *popped = NULL;
	/* B: agents without native item starts */
	if (pending_model) {
		if (c.type == EV_ITEM_STARTED && c.u.item.kind && !strcmp(c.u.item.kind, "message") &&
				c.u.item.role && !strcmp(c.u.item.role, "assistant") &&
				!is_pending_asst(s, c.u.item.native_item_id))
			return 0;
		if (c.type == EV_ITEM_COMPLETED && c.u.item.kind && !strcmp(c.u.item.kind, "message") &&
				c.u.item.role && !strcmp(c.u.item.role, "assistant") && s->npending_asst) {
			popped = s->pending_asst[0];
			memmove(s->pending_asst, s->pending_asst + 1,
				--s->npending_asst * sizeof *s->pending_asst);
			c.u.item.native_item_id = popped;
			c.u.item.item_id = NULL;
		}
		if (c.type == EV_ITEM_DELTA && s->npending_asst &&
				(!c.u.delta.native_item_id || strncmp(c.u.delta.native_item_id, "user_", 5))) {
			c.u.delta.native_item_id = s->pending_asst[0];
			c.u.delta.item_id = NULL;
		}
	}

	/* C: item ids */
	if (c.type == EV_ITEM_STARTED || c.type == EV_ITEM_COMPLETED) {
		if (!c.u.item.item_id || !*c.u.item.item_id) {
			if (c.u.item.native_item_id) {
				c.u.item.item_id = item_for_native(s, c.u.item.native_item_id, idbuf);
			} else {
				sess_new_item_id(s, idbuf);
				c.u.item.item_id = idbuf;
			}
		}
		if (c.u.item.parent_id && strncmp(c.u.item.parent_id, "itm_", 4))
			c.u.item.parent_id = item_for_native(s, c.u.item.parent_id, parentbuf);
	} else if (c.type == EV_ITEM_DELTA) {
		if (!c.u.delta.item_id || !*c.u.delta.item_id) {
			if (c.u.delta.native_item_id) {
				c.u.delta.item_id = item_for_native(s, c.u.delta.native_item_id, idbuf);
			} else {
				sess_new_item_id(s, idbuf);
				c.u.delta.item_id = idbuf;
			}
		}
	}
	uint64_t seq = 0;
	if (c.type == EV_ITEM_COMPLETED) {
		char *item_id = xstrdup(c.u.item.item_id);
		c.u.item.item_id = item_id;
		unsigned f = item_flags(s, item_id);
		if (!(f & (IT_STARTED | IT_COMPLETED))) {
			ev_conv st = c;
			st.type = EV_ITEM_STARTED;
			st.synthetic = true;
			st.u.item.status = "in_progress";
			store(s, &st);
			item_set(s, item_id, IT_STARTED);
		}
		bool user = c.u.item.role && !strcmp(c.u.item.role, "user");
		if (!user && c.u.item.kind && !strcmp(c.u.item.kind, "message") &&
				!(item_flags(s, item_id) & IT_DELTA)) {
			buf_t txt;
			buf_init(&txt);
			if (content_text(c.u.item.content_json, &txt)) {
				ev_conv d = {.type = EV_ITEM_DELTA, .synthetic = true};
				d.u.delta.item_id = item_id;
				d.u.delta.native_item_id = c.u.item.native_item_id;
				d.u.delta.delta = txt.p ? txt.p : "";
				d.u.delta.delta_len = txt.len;
				store(s, &d);
				item_set(s, item_id, IT_DELTA);
			}
			buf_free(&txt);
		}
		seq = store(s, &c);
		item_set(s, item_id, IT_COMPLETED);
		free(item_id);
		free(popped);
		return seq;
	}
	free(popped);

	/* D: store rules */
	switch (c.type) {
	case EV_SESSION_STARTED:
		for (size_t i = 0; i < s->nev; i++)
			if (s->ev[i].type == EV_SESSION_STARTED)
				return 0;
		break;
	case EV_SESSION_ENDED:
		if (!c.synthetic && s->agent->binary)
			return 0; /* resumable agents: a native end is not the session's end */
		break;
	case EV_ITEM_STARTED:
		if (item_flags(s, c.u.item.item_id) & (IT_STARTED | IT_COMPLETED))
			return 0;
		seq = store(s, &c);
		item_set(s, c.u.item.item_id, IT_STARTED);
		return seq;
	case EV_ITEM_DELTA:
		seq = store(s, &c);
		item_set(s, c.u.delta.item_id, IT_DELTA);
		return seq;
	case EV_PERMISSION_REQUESTED: {
		pending_perm p = {0};
		p.id = (char *)c.u.perm.id;
		p.action = (char *)c.u.perm.action;
		p.metadata_json = (char *)c.u.perm.metadata_json;
		p.question_tool = is_question_tool(c.u.perm.action);
		bool hide_edit = s->permission_mode && !strcmp(s->permission_mode, "acceptEdits") &&
			is_file_change(c.u.perm.action);
		p.hidden = p.question_tool || hide_edit;
		if (!sess_find_perm(s, p.id))
			sess_put_perm(s, &p);
		if (p.hidden)
			return 0;
		seq = store(s, &c);
		auto_approve(s, c.u.perm.id);
		return seq;
	}
	case EV_PERMISSION_RESOLVED: {
		pending_perm *p = sess_find_perm(s, c.u.perm.id);
		bool hidden = is_question_tool(c.u.perm.action);
		if (p) {
			pending_perm t;
			sess_take_perm(s, p, &t);
			sess_free_perm(&t);
		}
		if (hidden)
			return 0;
		break;
	}
	case EV_QUESTION_REQUESTED: {
		if (!sess_find_question(s, c.u.question.id)) {
			pending_question q = {(char *)c.u.question.id, (char *)c.u.question.prompt,
				(char *)c.u.question.options_json};
			sess_put_question(s, &q);
		}
		break;
	}
	case EV_QUESTION_RESOLVED: {
		pending_question *q = sess_find_question(s, c.u.question.id);
		if (q) {
			pending_question t;
			sess_take_question(s, q, &t);
			sess_free_question(&t);
		}
		break;
	}
	default:
		break;
	}
	return store(s, &c);
}

uint64_t sess_record_simple(session *s, ev_type t, bool synthetic)
{
	ev_conv c = {.type = t, .synthetic = synthetic};
	return sess_record(s, &c);
}

uint64_t sess_record_error(session *s, bool synthetic, const char *message, const char *code,
		const char *details_json)
{
	ev_conv c = {.type = EV_ERROR, .synthetic = synthetic};
	c.u.error.message = message;
	c.u.error.code = code;
	c.u.error.details_json = details_json;
	return sess_record(s, &c);
}

uint64_t sess_record_unparsed(session *s, const char *error, const char *location,
		const char *raw, size_t raw_len)
{
	buf_t b;
	buf_init(&b);
	/* raw: the payload if it is JSON, else the line as a JSON string */
	json_tok t[1];
	int pr = raw ? json_parse(raw, raw_len, t, 1) : JSON_ERR_INVAL;
	if (raw && (pr == 1 || pr == JSON_ERR_NOMEM) && raw_len) {
		buf_append(&b, raw, raw_len);
	} else if (raw) {
		buf_putc(&b, '"');
		json_escape(&b, raw, raw_len);
		buf_putc(&b, '"');
	}
	ev_conv c = {.type = EV_AGENT_UNPARSED, .synthetic = true};
	c.u.unparsed.error = error;
	c.u.unparsed.location = location;
	c.raw_json = b.len ? b.p : NULL;
	c.raw_len = b.len;
	uint64_t seq = sess_record(s, &c);
	buf_free(&b);
	return seq;
}

void sess_end(session *s, const char *reason, const char *by, const char *message,
		bool has_code, int code, const char *stderr_json)
{
	if (s->ended)
		return;
	ev_conv c = {.type = EV_SESSION_ENDED, .synthetic = true};
	c.u.ended.reason = reason;
	c.u.ended.terminated_by = by;
	c.u.ended.message = message;
	c.u.ended.has_exit_code = has_code;
	c.u.ended.exit_code = code;
	c.u.ended.stderr_json = stderr_json;
	s->ended = true;
	s->ended_by_daemon = !strcmp(by, "daemon");
	s->end_reason = !strcmp(reason, "completed") ? "completed"
		: !strcmp(reason, "error") ? "error" : "terminated";
	s->has_exit_code = has_code;
	s->exit_code = code;
	free(s->end_message);
	s->end_message = message ? xstrdup(message) : NULL;
	/* turn streams of queued messages see only the end */
	for (queued_msg *q = s->queue; q; q = q->next) {
		if (q->waiting_sub) {
			q->waiting_sub->next = s->nev;
			q->waiting_sub->waiting = false;
			q->waiting_sub = NULL;
		}
	}
	sess_record(s, &c);
	/* queued messages will never run */
	while (s->queue) {
		queued_msg *q = s->queue;
		s->queue = q->next;
		free(q->text);
		free(q->attachments_json);
		free(q);
	}
	s->queue_tail = NULL;
	s->nqueued = 0;
	s->busy = false;
}

/* ---- subscribers ---- */

static void mark_dirty(sess_sub *sub)
{
	if (sub->dirty)
		return;
	sub->dirty = true;
	if (T.ndirty == T.capdirty) {
		T.capdirty = T.capdirty ? T.capdirty * 2 : 16;
		T.dirty = xrealloc(T.dirty, T.capdirty * sizeof *T.dirty);
	}
	T.dirty[T.ndirty++] = sub;
}

static bool terminal(uint8_t type)
{
	return type == EV_TURN_ENDED || type == EV_SESSION_ENDED || type == EV_ERROR ||
		type == EV_AGENT_UNPARSED || type == EV_PERMISSION_REQUESTED ||
		type == EV_QUESTION_REQUESTED;
}

static void sub_pump(sess_sub *sub)
{
	session *s = sub->s;
	if (sub->done || sub->waiting)
		return;
	bool wrote = false;
	char head[40];
	while (sub->next < s->nev && sub->ops->room(sub->ud)) {
		const ev_rec *r = &s->ev[sub->next];
		int hl = snprintf(head, sizeof head, "id:%zu\ndata:", sub->next + 1);
		sub->ops->write(sub->ud, head, (size_t)hl);
		sub->ops->write(sub->ud, s->log.p + r->off, r->len);
		if (sub->include_raw && r->raw_len)
			sub->ops->write(sub->ud, s->log.p + r->off + r->len, r->raw_len);
		else
			sub->ops->write(sub->ud, "null", 4);
		sub->ops->write(sub->ud, "}\n\n", 3);
		sub->next++;
		wrote = true;
		if (sub->turn_stream && terminal(r->type)) {
			sub->done = true;
			break;
		}
	}
	if (wrote || sub->done)
		mark_dirty(sub);
}

void sess_sub_pump(sess_sub *sub) { sub_pump(sub); }

sess_sub *sess_subscribe(session *s, size_t from_index, bool include_raw, bool turn_stream,
		const sess_sub_ops *ops, void *ud)
{
	sess_sub *sub = xcalloc(1, sizeof *sub);
	sub->s = s;
	sub->next = from_index;
	sub->include_raw = include_raw;
	sub->turn_stream = turn_stream;
	sub->ops = ops;
	sub->ud = ud;
	sub->next_sub = s->subs;
	s->subs = sub;
	return sub;
}

void sess_unsubscribe(sess_sub *sub)
{
	session *s = sub->s;
	for (sess_sub **pp = &s->subs; *pp; pp = &(*pp)->next_sub) {
		if (*pp == sub) {
			*pp = sub->next_sub;
			break;
		}
	}
	for (queued_msg *q = s->queue; q; q = q->next)
		if (q->waiting_sub == sub)
			q->waiting_sub = NULL;
	for (size_t i = 0; (sub->dirty || sub->flushing) && i < T.ndirty; i++)
		if (T.dirty[i] == sub)
			T.dirty[i] = NULL;
	free(sub);
}

void sess_flush_subscribers(void)
{
	/* A flush may write to a socket that turns out dead, which
	 * unsubscribes (and frees) the subscriber: its entries are nulled
	 * then, and checked after every call. Pumps during a flush may
	 * append entries; the loop picks them up. */
	for (size_t i = 0; i < T.ndirty; i++) {
		sess_sub *sub = T.dirty[i];
		if (!sub)
			continue;
		sub->dirty = false;
		sub->flushing = true;
		sub->ops->flush(sub->ud);
		if (!T.dirty[i])
			continue;
		sub->flushing = false;
		if (sub->done && sub->ops->finish) {
			T.dirty[i] = NULL;
			sub->ops->finish(sub->ud);
		}
	}
	T.ndirty = 0;
}

/* ---- turns and queued messages ---- */

void sess_turn_done(session *s)
{
	s->busy = false;
	while (!s->busy && s->queue && !s->ended) {
		queued_msg *q = s->queue;
		s->queue = q->next;
		if (!s->queue)
			s->queue_tail = NULL;
		s->nqueued--;
		if (q->waiting_sub) {
			q->waiting_sub->waiting = false;
			q->waiting_sub->next = s->nev;
		}
		s->busy = true;
		agent_err e = {0};
		if (s->agent->send(s, q->text, q->len, q->attachments_json, &e) != 0) {
			sess_record_error(s, true, e.msg, "queued_message_failed", NULL);
			s->busy = false;
		}
		if (q->waiting_sub)
			sub_pump(q->waiting_sub);
		free(q->text);
		free(q->attachments_json);
		free(q);
	}
}

/* ---- shutdown ---- */

bool sess_shutdown_all(void *ud)
{
	static bool terminated;
	if (!terminated) {
		terminated = true;
		for (session *s = T.all; s; s = s->next_all)
			if (s->agent->terminate)
				s->agent->terminate(s);
	}
	return proc_alive_count() > 0;
}

void sess_free_all(void)
{
	session *s = T.all;
	while (s) {
		session *n = s->next_all;
		while (s->subs)
			sess_unsubscribe(s->subs);
		if (s->agent->free_state)
			s->agent->free_state(s);
		size_t i = 0;
		const char *k;
		void *v;
		while (strmap_next(&s->items->native, &i, &k, &v))
			free(v);
		strmap_free(&s->items->native);
		strmap_free(&s->items->flags);
		free(s->items);
		for (size_t j = 0; j < s->nperms; j++)
			sess_free_perm(&s->perms[j]);
		for (size_t j = 0; j < s->nquestions; j++)
			sess_free_question(&s->questions[j]);
		for (size_t j = 0; j < s->nallow; j++)
			free(s->allow_keys[j]);
		for (size_t j = 0; j < s->npending_asst; j++)
			free(s->pending_asst[j]);
		while (s->queue) {
			queued_msg *q = s->queue;
			s->queue = q->next;
			free(q->text);
			free(q->attachments_json);
			free(q);
		}
		free(s->pending_asst);
		free(s->allow_keys);
		free(s->perms);
		free(s->questions);
		free(s->ev);
		buf_free(&s->log);
		free(s->id);
		free(s->agent_mode);
		free(s->permission_mode);
		free(s->model);
		free(s->variant);
		free(s->directory);
		free(s->title);
		free(s->mcp_json);
		free(s->skills_json);
		free(s->native_id);
		free(s->end_message);
		free(s);
		s = n;
	}
	T.all = NULL;
	T.count = 0;
	strmap_free(&T.by_id);
	free(T.dirty);
	T.dirty = NULL;
	T.ndirty = T.capdirty = 0;
}
