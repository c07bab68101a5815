/* mock.c - the built-in mock agent (spec 9): canned prompts and
 * commands that emit every event type, deterministic, paced by a timer
 * (SANDBOX_AGENT_MOCK_DELAY_MS, default 200 ms; 0 in tests).
 * Depends on the session API and the loop. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "../base/buf.h"
#include "../json/json.h"
#include "../net/loop.h"
#include "../server/server.h"
#include "agent.h"

#define MOCK_DEFAULT_DELAY_MS 200

/* One paced element: an event and the strings it owns. */
typedef struct {
	ev_type type;
	bool synthetic;
	char *s[6]; /* owned strings, meaning per type */
	char *raw;
} step;

typedef struct {
	step *steps;
	size_t n, cap, at;
	uint64_t timer;
} mock_state;

static unsigned delay_ms(void)
{
	const char *v = getenv("SANDBOX_AGENT_MOCK_DELAY_MS");
	if (v && *v) {
		long d = strtol(v, NULL, 10);
		if (d >= 0 && d <= 60000)
			return (unsigned)d;
	}
	return MOCK_DEFAULT_DELAY_MS;
}

static char *dup_or_null(const char *s) { return s ? xstrdup(s) : NULL; }

static step *push(mock_state *m, ev_type t, bool synthetic)
{
	if (m->n == m->cap) {
		m->cap = m->cap ? m->cap * 2 : 16;
		m->steps = xrealloc(m->steps, m->cap * sizeof *m->steps);
	}
	step *st = &m->steps[m->n++];
	memset(st, 0, sizeof *st);
	st->type = t;
	st->synthetic = synthetic;
	return st;
}

/* item: s0 native id, s1 kind, s2 role, s3 content, s4 status */
static void item(mock_state *m, ev_type t, const char *native, const char *kind,
		const char *role, const char *content, const char *status)
{
	step *st = push(m, t, false);
	st->s[0] = xstrdup(native);
	st->s[1] = xstrdup(kind);
	st->s[2] = dup_or_null(role);
	st->s[3] = xstrdup(content);
	st->s[4] = xstrdup(status);
}

static void message(mock_state *m, const char *native, const char *kind, const char *role,
		const char *content)
{
	item(m, EV_ITEM_STARTED, native, kind, role, content, "in_progress");
	item(m, EV_ITEM_COMPLETED, native, kind, role, content, "completed");
}

static void delta(mock_state *m, const char *native, const char *text)
{
	step *st = push(m, EV_ITEM_DELTA, false);
	st->s[0] = xstrdup(native);
	st->s[1] = xstrdup(text);
}

static char *text_content(const char *text)
{
	buf_t b;
	jw_t w;
	buf_init(&b);
	jw_init(&w, &b);
	jw_arr(&w);
	jw_obj(&w);
	jw_kstr(&w, "type", "text");
	jw_kstr(&w, "text", text);
	jw_obj_end(&w);
	jw_arr_end(&w);
	return buf_cstr(&b);
}

static void text_message(mock_state *m, const char *native, const char *text)
{
	char *c = text_content(text);
	message(m, native, "message", "assistant", c);
	free(c);
}

static void permission(mock_state *m, const char *id, const char *action, const char *meta)
{
	step *st = push(m, EV_PERMISSION_REQUESTED, false);
	st->s[0] = xstrdup(id);
	st->s[1] = xstrdup(action);
	st->s[2] = xstrdup(meta);
}

static void question(mock_state *m, const char *id, const char *prompt, const char *options)
{
	step *st = push(m, EV_QUESTION_REQUESTED, false);
	st->s[0] = xstrdup(id);
	st->s[1] = xstrdup(prompt);
	st->s[2] = xstrdup(options);
}

static char *fmt(const char *f, const char *p)
{
	buf_t b;
	buf_init(&b);
	const char *at;
	while ((at = strstr(f, "%P"))) {
		buf_append(&b, f, (size_t)(at - f));
		buf_puts(&b, p);
		f = at + 2;
	}
	buf_puts(&b, f);
	return buf_cstr(&b);
}

static void fmt_message(mock_state *m, const char *native_fmt, const char *P, const char *text)
{
	char *n = fmt(native_fmt, P);
	text_message(m, n, text);
	free(n);
}

/* ---- building blocks of spec 9.3 ---- */

static void seq_rich(mock_state *m, const char *P)
{
	char *n = fmt("%P_assistant_rich", P);
	const char *content = "[{\"type\":\"text\",\"text\":\"Mock assistant response with rich content.\"},"
		"{\"type\":\"reasoning\",\"text\":\"Public reasoning for display.\",\"visibility\":\"public\"},"
		"{\"type\":\"reasoning\",\"text\":\"Private reasoning hidden by default.\",\"visibility\":\"private\"},"
		"{\"type\":\"json\",\"json\":{\"stage\":\"analysis\",\"ok\":true}}]";
	item(m, EV_ITEM_STARTED, n, "message", "assistant", content, "in_progress");
	delta(m, n, "Mock assistant ");
	delta(m, n, "streaming delta.");
	item(m, EV_ITEM_COMPLETED, n, "message", "assistant", content, "completed");
	free(n);
}

static void seq_status(mock_state *m, const char *P)
{
	char *n = fmt("%P_status", P);
	item(m, EV_ITEM_STARTED, n, "status", "assistant",
		"[{\"type\":\"status\",\"label\":\"Indexing\",\"detail\":\"2 files\"}]", "in_progress");
	item(m, EV_ITEM_COMPLETED, n, "status", "assistant",
		"[{\"type\":\"status\",\"label\":\"Indexing\",\"detail\":\"Done\"}]", "completed");
	free(n);
}

static const char *const markdown_parts[8] = {
	"# Markdown Demo\n\nThis message streams **markdown** in pieces.\n\n",
	"## Lists\n\n- first item\n- second item\n  - nested item\n\n",
	"1. one\n2. two\n\n",
	"## Code\n\n```ts\nfunction greet(name: string): string {\n",
	"  return `hello ${name}`;\n}\n```\n\n",
	"## Table\n\n| agent | streams |\n| --- | --- |\n| mock | yes |\n\n",
	"## Link\n\n[sandbox-agent](https://sandboxagent.dev)\n\n",
	"End of markdown demo.",
};

static void seq_markdown(mock_state *m, const char *P)
{
	char *n = fmt("%P_markdown", P);
	char *start = text_content("Markdown demo (streaming follows)...");
	buf_t full;
	buf_init(&full);
	item(m, EV_ITEM_STARTED, n, "message", "assistant", start, "in_progress");
	for (int i = 0; i < 8; i++) {
		delta(m, n, markdown_parts[i]);
		buf_puts(&full, markdown_parts[i]);
	}
	char *done = text_content(buf_cstr(&full));
	item(m, EV_ITEM_COMPLETED, n, "message", "assistant", done, "completed");
	free(done);
	free(start);
	buf_free(&full);
	free(n);
}

static void seq_tool(mock_state *m, const char *P)
{
	char *call = fmt("%P_tool_call", P);
	char *res = fmt("%P_tool_result", P);
	char *cc = fmt("[{\"type\":\"tool_call\",\"name\":\"mock.search\","
		"\"arguments\":\"{\\\"query\\\":\\\"example\\\"}\",\"call_id\":\"%P_call\"}]", P);
	char *rc = fmt("[{\"type\":\"tool_result\",\"call_id\":\"%P_call\",\"output\":\"mock search results\"},"
		"{\"type\":\"file_ref\",\"path\":\"%P/readme.md\",\"action\":\"read\",\"diff\":null},"
		"{\"type\":\"file_ref\",\"path\":\"%P/output.txt\",\"action\":\"write\",\"diff\":\"+mock output\\n\"},"
		"{\"type\":\"file_ref\",\"path\":\"%P/patch.txt\",\"action\":\"patch\","
		"\"diff\":\"@@ -1,1 +1,1 @@\\n-old\\n+new\\n\"}]", P);
	message(m, call, "tool_call", "assistant", cc);
	item(m, EV_ITEM_STARTED, res, "tool_result", "tool", rc, "in_progress");
	item(m, EV_ITEM_COMPLETED, res, "tool_result", "tool", rc, "failed");
	free(call);
	free(res);
	free(cc);
	free(rc);
}

static void seq_image(mock_state *m, const char *P)
{
	char *n = fmt("%P_image", P);
	char *c = fmt("[{\"type\":\"text\",\"text\":\"Here is a mock image output.\"},"
		"{\"type\":\"image\",\"path\":\"%P/image.png\",\"mime\":\"image/png\"}]", P);
	message(m, n, "message", "assistant", c);
	free(n);
	free(c);
}

static void seq_unknown(mock_state *m, const char *P)
{
	char *n = fmt("%P_unknown", P);
	char *c = text_content("Unknown item kind example.");
	message(m, n, "unknown", "assistant", c);
	free(n);
	free(c);
}

static void seq_permissions(mock_state *m, const char *P)
{
	char *id = fmt("%P_permission", P);
	char *id2 = fmt("%P_permission_denied", P);
	char *meta2 = fmt("{\"codexRequestKind\":\"fileChange\",\"path\":\"%P/deny.txt\"}", P);
	permission(m, id, "command_execution",
		"{\"codexRequestKind\":\"commandExecution\",\"command\":\"echo mock\"}");
	permission(m, id2, "file_change", meta2);
	free(id);
	free(id2);
	free(meta2);
}

static void seq_questions(mock_state *m, const char *P)
{
	char *id = fmt("%P_question", P);
	char *id2 = fmt("%P_question_reject", P);
	question(m, id, "Choose a color", "[\"Red\",\"Blue\"]");
	question(m, id2, "Allow mock experiment?", "[\"Yes\",\"No\"]");
	free(id);
	free(id2);
}

static void seq_error(mock_state *m)
{
	step *st = push(m, EV_ERROR, true);
	st->s[0] = xstrdup("Mock error event.");
	st->s[1] = xstrdup("mock_error");
	st->s[2] = xstrdup("{\"mock\":true}");
	st = push(m, EV_AGENT_UNPARSED, true);
	st->s[0] = xstrdup("unsupported payload");
	st->s[1] = xstrdup("mock.stream");
	st->raw = xstrdup("{\"raw\":\"mock\"}");
}

static void seq_demo(mock_state *m, const char *P)
{
	static const char *const markers[10] = {
		"Next: system message (system role).",
		"Next: assistant message with deltas, reasoning, and JSON content parts.",
		"Next: status item updates.",
		"Next: markdown rendering + streaming markdown deltas.",
		"Next: tool call item.",
		"Next: image output content part.",
		"Next: unknown item kind.",
		"Next: permission requests (pending).",
		"Next: question requests (pending).",
		"Next: error and agent.unparsed events.",
	};
	for (int k = 0; k < 10; k++) {
		char native[64];
		snprintf(native, sizeof native, "%s_marker_%d", P, k + 1);
		text_message(m, native, markers[k]);
		switch (k) {
		case 0: {
			char *n = fmt("%P_system", P);
			char *c = text_content("System ready for mock events.");
			message(m, n, "system", "system", c);
			free(n);
			free(c);
			break;
		}
		case 1: seq_rich(m, P); break;
		case 2: seq_status(m, P); break;
		case 3: seq_markdown(m, P); break;
		case 4: seq_tool(m, P); break;
		case 5: seq_image(m, P); break;
		case 6: seq_unknown(m, P); break;
		case 7: seq_permissions(m, P); break;
		case 8: seq_questions(m, P); break;
		case 9: seq_error(m); break;
		}
	}
}

static const char help_text[] =
	"Mock agent commands:\n"
	"- demo: run a full UI coverage sequence with markers.\n"
	"- markdown: streaming markdown fixture.\n"
	"- tool: tool call + tool result with file refs.\n"
	"- status: status item updates.\n"
	"- image: message with image content part.\n"
	"- unknown: item.kind=unknown example.\n"
	"- permission: permission requests (pending).\n"
	"- question: question requests (pending).\n"
	"- error: error + agent.unparsed events.\n"
	"- unparsed: emit agent.unparsed only.\n"
	"- end: emit session.ended.\n"
	"\n"
	"Any other text will be echoed as an assistant message.";

static bool word_is(const char *w, size_t n, const char *const *names)
{
	for (; *names; names++)
		if (strlen(*names) == n && !strncasecmp(w, *names, n))
			return true;
	return false;
}

/* The events for one trimmed message (spec 9.2, 9.3). */
static void plan(mock_state *m, const char *P, const char *text)
{
	static const struct { const char *prompt; const char *suffix; const char *reply; } canned[] = {
		{"Reply with exactly the single word OK.", "%P_ok", "OK"},
		{"Reply with exactly the word FIRST.", "%P_first", "FIRST"},
		{"Reply with exactly the word SECOND.", "%P_second", "SECOND"},
	};
	for (size_t i = 0; i < sizeof canned / sizeof canned[0]; i++) {
		if (!strcasecmp(text, canned[i].prompt)) {
			fmt_message(m, canned[i].suffix, P, canned[i].reply);
			return;
		}
	}
	if (!strcasecmp(text, "Answer briefly and include your reasoning.")) {
		seq_rich(m, P);
		return;
	}
	if (!strcasecmp(text, "Provide a short status update.")) {
		seq_status(m, P);
		return;
	}
	bool ls_prompt = !strcasecmp(text, "List files in the current directory using available tools.");
	bool bash_prompt = !strcasecmp(text, "Use the bash tool to run `ls` in the current directory. "
		"Do not answer without using the tool.");
	if (ls_prompt || bash_prompt) {
		char *id = fmt("%P_permission", P);
		permission(m, id, "command_execution",
			"{\"codexRequestKind\":\"commandExecution\",\"command\":\"ls\"}");
		free(id);
		if (bash_prompt)
			seq_tool(m, P);
		return;
	}
	if (!strcasecmp(text, "Use the AskUserQuestion tool to ask exactly one yes/no question, then "
			"wait for a reply. Do not answer yourself.") ||
			!strcasecmp(text, "Call the AskUserQuestion tool with exactly one yes/no question and "
			"wait for a reply. Do not answer yourself.")) {
		char *id = fmt("%P_question", P);
		question(m, id, "Proceed?", "[\"Yes\",\"No\"]");
		free(id);
		return;
	}
	size_t wl = strcspn(text, " \t\r\n");
	static const char *const w_help[] = {"help", NULL}, *const w_demo[] = {"demo", NULL},
		*const w_md[] = {"markdown", NULL}, *const w_tool[] = {"tool", "tools", "tooling", NULL},
		*const w_status[] = {"status", NULL}, *const w_image[] = {"image", NULL},
		*const w_unknown[] = {"unknown", NULL}, *const w_perm[] = {"permission", "permissions", NULL},
		*const w_q[] = {"question", "questions", NULL}, *const w_err[] = {"error", NULL},
		*const w_unparsed[] = {"unparsed", NULL},
		*const w_end[] = {"end", "ended", "session.end", NULL}, *const w_echo[] = {"echo", "say", NULL};
	if (word_is(text, wl, w_help)) {
		fmt_message(m, "%P_help", P, help_text);
	} else if (word_is(text, wl, w_demo)) {
		seq_demo(m, P);
	} else if (word_is(text, wl, w_md)) {
		seq_markdown(m, P);
	} else if (word_is(text, wl, w_tool)) {
		seq_tool(m, P);
	} else if (word_is(text, wl, w_status)) {
		seq_status(m, P);
	} else if (word_is(text, wl, w_image)) {
		seq_image(m, P);
	} else if (word_is(text, wl, w_unknown)) {
		seq_unknown(m, P);
	} else if (word_is(text, wl, w_perm)) {
		seq_permissions(m, P);
	} else if (word_is(text, wl, w_q)) {
		seq_questions(m, P);
	} else if (word_is(text, wl, w_err)) {
		seq_error(m);
	} else if (word_is(text, wl, w_unparsed)) {
		step *st = push(m, EV_AGENT_UNPARSED, true);
		st->s[0] = xstrdup("unsupported payload");
		st->s[1] = xstrdup("mock.stream");
		st->raw = xstrdup("{\"raw\":\"mock\"}");
	} else if (word_is(text, wl, w_end)) {
		step *st = push(m, EV_SESSION_ENDED, true);
		st->s[0] = xstrdup("completed");
		st->s[1] = xstrdup("agent");
	} else if (word_is(text, wl, w_echo)) {
		/* the remaining words joined by single spaces */
		buf_t b;
		buf_init(&b);
		const char *p = text + wl;
		while (*p) {
			p += strspn(p, " \t\r\n");
			size_t l = strcspn(p, " \t\r\n");
			if (!l)
				break;
			if (b.len)
				buf_putc(&b, ' ');
			buf_append(&b, p, l);
			p += l;
		}
		fmt_message(m, "%P_echo", P, b.len ? buf_cstr(&b) : "Tell me what to say after `echo`.");
		buf_free(&b);
	} else {
		fmt_message(m, "%P_reply", P, text);
	}
}

static void step_free(step *st)
{
	for (int i = 0; i < 6; i++)
		free(st->s[i]);
	free(st->raw);
}

static void emit(session *s, step *st)
{
	ev_conv c = {.type = st->type, .synthetic = st->synthetic};
	c.native_session_id = s->native_id;
	if (st->raw) {
		c.raw_json = st->raw;
		c.raw_len = strlen(st->raw);
	}
	switch (st->type) {
	case EV_ITEM_STARTED:
	case EV_ITEM_COMPLETED:
		c.u.item.native_item_id = st->s[0];
		c.u.item.kind = st->s[1];
		c.u.item.role = st->s[2];
		c.u.item.content_json = st->s[3];
		c.u.item.status = st->s[4];
		break;
	case EV_ITEM_DELTA:
		c.u.delta.native_item_id = st->s[0];
		c.u.delta.delta = st->s[1];
		c.u.delta.delta_len = strlen(st->s[1]);
		break;
	case EV_PERMISSION_REQUESTED:
		c.u.perm.id = st->s[0];
		c.u.perm.action = st->s[1];
		c.u.perm.metadata_json = st->s[2];
		c.u.perm.status = "requested";
		break;
	case EV_QUESTION_REQUESTED:
		c.u.question.id = st->s[0];
		c.u.question.prompt = st->s[1];
		c.u.question.options_json = st->s[2];
		c.u.question.status = "requested";
		break;
	case EV_ERROR:
		c.u.error.message = st->s[0];
		c.u.error.code = st->s[1];
		c.u.error.details_json = st->s[2];
		break;
	case EV_AGENT_UNPARSED:
		c.u.unparsed.error = st->s[0];
		c.u.unparsed.location = st->s[1];
		break;
	case EV_SESSION_ENDED:
		c.u.ended.reason = st->s[0];
		c.u.ended.terminated_by = st->s[1];
		break;
	default:
		break;
	}
	sess_record(s, &c);
}

static void plan_clear(mock_state *m)
{
	for (size_t i = 0; i < m->n; i++)
		step_free(&m->steps[i]);
	m->n = m->at = 0;
}

static void tick(loop_t *l, void *ud)
{
	session *s = ud;
	mock_state *m = s->agent_state;
	m->timer = 0;
	if (m->at < m->n)
		emit(s, &m->steps[m->at++]);
	if (m->at < m->n && !s->ended) {
		m->timer = loop_add_timer(l, delay_ms(), 0, tick, s);
		return;
	}
	plan_clear(m);
	sess_turn_done(s);
}

static int mock_create(session *s, agent_err *e)
{
	char nid[SESS_ID_MAX + 8];
	snprintf(nid, sizeof nid, "mock-%s", s->id);
	s->native_id = xstrdup(nid);
	s->agent_state = xcalloc(1, sizeof(mock_state));
	return 0;
}

static int mock_send(session *s, const char *text, size_t len, const char *attachments_json,
		agent_err *e)
{
	mock_state *m = s->agent_state;
	sess_record_simple(s, EV_TURN_STARTED, true);
	char P[32];
	snprintf(P, sizeof P, "mock_%llu", (unsigned long long)++s->message_counter);
	/* trim */
	while (len && (*text == ' ' || *text == '\t' || *text == '\r' || *text == '\n'))
		text++, len--;
	while (len && (text[len - 1] == ' ' || text[len - 1] == '\t' || text[len - 1] == '\r' ||
			text[len - 1] == '\n'))
		len--;
	if (!len) {
		/* nothing at all: no user item, no turn.ended */
		loop_add_timer(srv_loop(), 0, 0, tick, s);
		return 0;
	}
	char *t = xstrndup(text, len);
	char *uid = fmt("%P_user", P);
	char *uc = text_content(t);
	item(m, EV_ITEM_STARTED, uid, "message", "user", uc, "in_progress");
	item(m, EV_ITEM_COMPLETED, uid, "message", "user", uc, "completed");
	free(uid);
	free(uc);
	plan(m, P, t);
	free(t);
	ev_type last = m->steps[m->n - 1].type;
	if (last != EV_SESSION_ENDED && last != EV_PERMISSION_REQUESTED &&
			last != EV_QUESTION_REQUESTED)
		push(m, EV_TURN_ENDED, true);
	m->timer = loop_add_timer(srv_loop(), delay_ms(), 0, tick, s);
	return 0;
}

static int mock_reply_ok(session *s, const pending_perm *p, int reply, agent_err *e)
{
	return 0;
}

static int mock_question_ok(session *s, const pending_question *q, const char *answers,
		agent_err *e)
{
	return 0;
}

static void mock_terminate(session *s)
{
	mock_state *m = s->agent_state;
	if (m && m->timer) {
		loop_cancel_timer(srv_loop(), m->timer);
		m->timer = 0;
	}
	if (m)
		plan_clear(m);
}

static void mock_free(session *s)
{
	mock_state *m = s->agent_state;
	if (!m)
		return;
	mock_terminate(s);
	free(m->steps);
	free(m);
	s->agent_state = NULL;
}

static const agent_mode mock_modes[] = {
	{"build", "Build", "Mock agent for UI testing"},
	{"plan", "Plan", "Plan-only mock mode"},
};
static const char *const mock_perm[] = {"default", "plan", "bypass", "acceptEdits", NULL};
static const char *const mock_perm_norm[] = {"default", "plan", "bypass", "default", NULL};
static const agent_model mock_models[] = {{"mock", "Mock"}};

const agent_ops agent_mock = {
	.id = "mock",
	.binary = NULL,
	.caps = {1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 0},
	.modes = mock_modes,
	.nmodes = 2,
	.perm_accepted = mock_perm,
	.perm_normalized = mock_perm_norm,
	.models = mock_models,
	.nmodels = 1,
	.default_model = "mock",
	.create = mock_create,
	.send = mock_send,
	.reply_permission = mock_reply_ok,
	.reply_question = mock_question_ok,
	.terminate = mock_terminate,
	.free_state = mock_free,
};
