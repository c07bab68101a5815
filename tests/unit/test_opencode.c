/* test_opencode.c - the OpenCode adapter's event mapping, HITL and
 * requests, driven without a server (opencode_test_attach) by real
 * `opencode serve` event streams: tests/unit/fixtures/opencode/NAME.jsonl,
 * one SSE data payload per line ("/event" payloads, or "/global/event"
 * records for the g-* fixtures written by tests/e2e/opencode_capture.py),
 * with directives for what the client did: "#session ID" (the OpenCode
 * session), "#> text" (a message, posted the way the HTTP handler does),
 * "#perm once|always|reject", "#answer JSON", "#reject" (replies to the
 * newest pending request, the way the handlers do). Checks the universal
 * events stored (as one-line summaries) and the requests written.
 * OPENCODE_TEST_PRINT=1 prints the summaries. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "agents/agent.h"
#include "agents/opencode.h"
#include "base/buf.h"
#include "json/json.h"
#include "session/session.h"
#include "t.h"

#define FIXTURES "tests/unit/fixtures/opencode/"
#define NTOK 65536

static json_tok tk[NTOK];
static buf_t outs[64];
static int nouts, nsess;

static buf_t *new_out(void)
{
	buf_init(&outs[nouts]);
	return &outs[nouts++];
}

/* ---- acting like the HTTP handlers ---- */

static void post(session *s, const char *msg, const char *att)
{
	/* the handler appends the attachment paths (spec 5.5) */
	buf_t tb;
	buf_init(&tb);
	buf_puts(&tb, msg);
	int n = att ? json_parse(att, strlen(att), tk, NTOK) : 0;
	for (int i = n > 0 ? json_first(tk, 0) : -1, first = 1; i >= 0; i = json_next(tk, i)) {
		char p[256] = "";
		json_str_decode(att, tk, json_obj_get(att, tk, i, "path"), p, sizeof p);
		if (first)
			buf_puts(&tb, "\n\nAttachments:\n");
		first = 0;
		buf_printf(&tb, "- %s\n", p);
	}
	const char *text = buf_cstr(&tb);
	if (s->busy) { /* queued behind the running turn, as dispatch() does */
		queued_msg *q = xcalloc(1, sizeof *q);
		q->text = xstrdup(text);
		q->len = strlen(text);
		q->attachments_json = att ? xstrdup(att) : NULL;
		if (s->queue_tail)
			s->queue_tail->next = q;
		else
			s->queue = q;
		s->queue_tail = q;
		s->nqueued++;
		buf_free(&tb);
		return;
	}
	agent_err e = {0};
	s->busy = true;
	if (s->agent->send(s, text, strlen(text), att, &e) != 0)
		s->busy = false;
	buf_free(&tb);
	return;
}

static int reply_perm(session *s, int reply)
{
	if (!s->nperms)
		return -1;
	char *id = xstrdup(s->perms[s->nperms - 1].id);
	pending_perm *p = sess_find_perm(s, id);
	agent_err e = {0};
	int rc = s->agent->reply_permission(s, p, reply, &e);
	if (rc == 0 && (p = sess_find_perm(s, id))) {
		pending_perm t;
		sess_take_perm(s, p, &t);
		if (reply == REPLY_ALWAYS)
			sess_allow_always(s, &t);
		ev_conv c = {.type = EV_PERMISSION_RESOLVED, .synthetic = true};
		c.u.perm.id = t.id;
		c.u.perm.action = t.action;
		c.u.perm.status = reply == REPLY_ONCE ? "accept" : reply == REPLY_ALWAYS
			? "accept_for_session" : "reject";
		c.u.perm.metadata_json = t.metadata_json;
		sess_record(s, &c);
		sess_free_perm(&t);
	}
	free(id);
	return rc;
}

static int reply_question(session *s, const char *answers)
{
	if (!s->nquestions)
		return -1;
	char *id = xstrdup(s->questions[s->nquestions - 1].id);
	pending_question *q = sess_find_question(s, id);
	agent_err e = {0};
	int rc = s->agent->reply_question(s, q, answers, &e);
	if (rc == 0 && (q = sess_find_question(s, id))) {
		pending_question t;
		sess_take_question(s, q, &t);
		char resp[64] = "";
		if (answers) {
			int n = json_parse(answers, strlen(answers), tk, NTOK);
			int a0 = n > 0 ? json_arr_get(tk, 0, 0) : -1;
			int v = a0 >= 0 ? json_arr_get(tk, a0, 0) : -1;
			if (v >= 0)
				json_str_decode(answers, tk, v, resp, sizeof resp);
		}
		ev_conv c = {.type = EV_QUESTION_RESOLVED, .synthetic = true};
		c.u.question.id = t.id;
		c.u.question.prompt = t.prompt;
		c.u.question.options_json = t.options_json;
		c.u.question.response = answers ? resp : NULL;
		c.u.question.status = answers ? "answered" : "rejected";
		sess_record(s, &c);
		sess_free_question(&t);
	}
	free(id);
	return rc;
}

static void terminate(session *s)
{
	if (!s->ended) {
		s->agent->terminate(s);
		sess_end(s, "terminated", "daemon", NULL, false, 0, NULL);
	}
}

static session *new_session(const char *native, buf_t **out, const char *dir, const char *model)
{
	char id[32];
	snprintf(id, sizeof id, "oc%d", ++nsess);
	session *s = sess_new(id, &agent_opencode);
	s->agent_mode = xstrdup("build");
	s->permission_mode = xstrdup("default");
	s->model = model ? xstrdup(model) : NULL;
	s->directory = xstrdup(dir ? dir : "/sandbox/work");
	sess_register(s);
	*out = new_out();
	opencode_test_attach(s, native, *out);
	return s;
}

/* Runs a fixture on a new session. */
static session *run_fixture(const char *name, buf_t **out)
{
	char path[256];
	snprintf(path, sizeof path, FIXTURES "%s.jsonl", name);
	FILE *f = fopen(path, "r");
	CHECK(f != NULL);
	if (!f)
		return NULL;
	session *s = NULL;
	char *line = NULL, *att = NULL;
	size_t cap = 0;
	ssize_t n;
	while ((n = getline(&line, &cap, f)) > 0) {
		while (n && (line[n - 1] == '\n' || line[n - 1] == '\r'))
			line[--n] = 0;
		if (!strncmp(line, "#session ", 9)) {
			s = new_session(line + 9, out, NULL, "mock/mock-model");
		} else if (!s) {
			continue;
		} else if (!strncmp(line, "#att ", 5)) {
			free(att);
			att = xstrdup(line + 5);
		} else if (!strncmp(line, "#> ", 3)) {
			post(s, line + 3, att);
			free(att);
			att = NULL;
		} else if (!strncmp(line, "#perm ", 6)) {
			reply_perm(s, !strcmp(line + 6, "once") ? REPLY_ONCE
				: !strcmp(line + 6, "always") ? REPLY_ALWAYS : REPLY_REJECT);
		} else if (!strncmp(line, "#answer ", 8)) {
			reply_question(s, line + 8);
		} else if (!strcmp(line, "#reject")) {
			reply_question(s, NULL);
		} else if (line[0] != '#') {
			opencode_test_event(line, (size_t)n);
		}
	}
	free(line);
	free(att);
	fclose(f);
	return s;
}

/* ---- reading events back ---- */

static char *event_json(session *s, size_t i)
{
	buf_t b;
	buf_init(&b);
	sess_write_event(s, i, true, &b);
	return buf_cstr(&b);
}

static int path_in(const char *js, int cur, const char *p)
{
	char key[64];
	while (*p && cur >= 0) {
		size_t l = strcspn(p, ".");
		snprintf(key, sizeof key, "%.*s", (int)l, p);
		if (tk[cur].type == JSON_ARRAY)
			cur = json_arr_get(tk, cur, (unsigned)atoi(key));
		else
			cur = json_obj_get(js, tk, cur, key);
		p += l;
		if (*p == '.')
			p++;
	}
	return cur;
}

/* Text at a dotted path of event i: strings decoded, other values as
 * JSON, "" when absent. Static buffer. */
static const char *field(session *s, size_t i, const char *p)
{
	static char out[65536];
	char *js = event_json(s, i);
	out[0] = 0;
	if (json_parse(js, strlen(js), tk, NTOK) > 0) {
		int t = path_in(js, 0, p);
		if (t >= 0 && tk[t].type == JSON_STRING)
			json_str_decode(js, tk, t, out, sizeof out);
		else if (t >= 0)
			snprintf(out, sizeof out, "%.*s", (int)(tk[t].end - tk[t].start), js + tk[t].start);
	}
	free(js);
	return out;
}

static void oneline(char *v)
{
	for (; *v; v++)
		if (*v == '\n')
			*v = '|';
}

static void part_summary(const char *js, int part, buf_t *b)
{
	char v[512], w[512];
	v[0] = w[0] = 0;
	int ty = json_obj_get(js, tk, part, "type");
	json_str_decode(js, tk, ty, v, sizeof v);
	buf_printf(b, " %s", v);
	const char *k1 = NULL, *k2 = NULL;
	if (!strcmp(v, "text") || !strcmp(v, "reasoning"))
		k1 = "text";
	else if (!strcmp(v, "tool_call"))
		k1 = "name";
	else if (!strcmp(v, "tool_result"))
		k1 = "output";
	else if (!strcmp(v, "file_ref"))
		k1 = "action", k2 = "path";
	else if (!strcmp(v, "image"))
		k1 = "mime", k2 = "path";
	else if (!strcmp(v, "status"))
		k1 = "label", k2 = "detail";
	if (k1) {
		v[0] = 0;
		json_str_decode(js, tk, json_obj_get(js, tk, part, k1), v, sizeof v);
		oneline(v);
		buf_printf(b, "=%.60s", v);
	}
	if (k2) {
		w[0] = 0;
		json_str_decode(js, tk, json_obj_get(js, tk, part, k2), w, sizeof w);
		buf_printf(b, ":%.60s", w);
	}
	if (!strcmp(v, "patch") || !strcmp(v, "write")) {
		int d = json_obj_get(js, tk, part, "diff");
		buf_printf(b, "%s", d >= 0 && tk[d].type == JSON_STRING ? "+diff" : "");
	}
}

/* One line per event; consecutive deltas of an item merged. */
static void summarize(session *s, buf_t *out)
{
	buf_reset(out);
	char last_delta[64] = "";
	for (size_t i = 0; i < s->nev; i++) {
		char *js = event_json(s, i);
		int n = json_parse(js, strlen(js), tk, NTOK);
		if (n <= 0) {
			buf_puts(out, "INVALID\n");
			free(js);
			continue;
		}
		char type[64] = "";
		json_str_decode(js, tk, json_obj_get(js, tk, 0, "type"), type, sizeof type);
		int d = json_obj_get(js, tk, 0, "data");
		char a[512] = "", b2[512] = "";
		if (!strcmp(type, "item.delta")) {
			char item[64] = "";
			json_str_decode(js, tk, json_obj_get(js, tk, d, "item_id"), item, sizeof item);
			json_str_decode(js, tk, json_obj_get(js, tk, d, "delta"), a, sizeof a);
			oneline(a);
			if (!strcmp(item, last_delta) && out->len) {
				out->len--; /* the newline, then the closing quote */
				out->len--;
				buf_printf(out, "%s\"\n", a);
			} else {
				buf_printf(out, "delta %s \"%s\"\n", item, a);
			}
			snprintf(last_delta, sizeof last_delta, "%s", item);
			free(js);
			continue;
		}
		last_delta[0] = 0;
		if (!strcmp(type, "item.started") || !strcmp(type, "item.completed")) {
			int it = json_obj_get(js, tk, d, "item");
			char id[32] = "", kind[32] = "", role[32] = "", st[32] = "", parent[32] = "";
			json_str_decode(js, tk, json_obj_get(js, tk, it, "item_id"), id, sizeof id);
			json_str_decode(js, tk, json_obj_get(js, tk, it, "kind"), kind, sizeof kind);
			json_str_decode(js, tk, json_obj_get(js, tk, it, "role"), role, sizeof role);
			json_str_decode(js, tk, json_obj_get(js, tk, it, "status"), st, sizeof st);
			json_str_decode(js, tk, json_obj_get(js, tk, it, "parent_id"), parent, sizeof parent);
			buf_printf(out, "%s %s %s/%s/%s%s%s", type + 5, id, kind, role, st, parent[0] ? " <" : "",
				parent);
			int c = json_obj_get(js, tk, it, "content");
			for (int p = json_first(tk, c); p >= 0; p = json_next(tk, p))
				part_summary(js, p, out);
			buf_putc(out, '\n');
		} else if (!strcmp(type, "turn.ended")) {
			json_str_decode(js, tk, path_in(js, d, "metadata.status"), a, sizeof a);
			buf_printf(out, "turn.ended %s\n", a);
		} else if (!strcmp(type, "error")) {
			json_str_decode(js, tk, json_obj_get(js, tk, d, "code"), a, sizeof a);
			json_str_decode(js, tk, json_obj_get(js, tk, d, "message"), b2, sizeof b2);
			buf_printf(out, "error %s: %.80s\n", a, b2);
		} else if (!strncmp(type, "permission.", 11)) {
			json_str_decode(js, tk, json_obj_get(js, tk, d, "action"), a, sizeof a);
			json_str_decode(js, tk, json_obj_get(js, tk, d, "status"), b2, sizeof b2);
			buf_printf(out, "%s %s %s\n", type, a, b2);
		} else if (!strncmp(type, "question.", 9)) {
			char r[128] = "";
			json_str_decode(js, tk, json_obj_get(js, tk, d, "prompt"), a, sizeof a);
			json_str_decode(js, tk, json_obj_get(js, tk, d, "status"), b2, sizeof b2);
			json_str_decode(js, tk, json_obj_get(js, tk, d, "response"), r, sizeof r);
			int o = json_obj_get(js, tk, d, "options");
			buf_printf(out, "%s %s %s %.*s%s%s\n", type, a, b2, (int)(tk[o].end - tk[o].start),
				js + tk[o].start, r[0] ? " " : "", r);
		} else if (!strcmp(type, "session.ended")) {
			json_str_decode(js, tk, json_obj_get(js, tk, d, "reason"), a, sizeof a);
			buf_printf(out, "session.ended %s\n", a);
		} else {
			buf_printf(out, "%s\n", type);
		}
		free(js);
	}
}

static bool printing(void)
{
	const char *v = getenv("OPENCODE_TEST_PRINT");
	return v && *v == '1';
}

static void check_summary(const char *name, session *s, const char *want)
{
	buf_t b;
	buf_init(&b);
	summarize(s, &b);
	if (printing())
		printf("==== %s\n%s", name, buf_cstr(&b));
	if (strcmp(buf_cstr(&b), want)) {
		fprintf(stderr, "%s: summary differs; got:\n%s\nwanted:\n%s\n", name, buf_cstr(&b), want);
		t_fail++;
	} else {
		t_pass++;
	}
	buf_free(&b);
}

/* Every stored event is one JSON object, sequences run from 1. */
static void check_valid(session *s)
{
	for (size_t i = 0; i < s->nev; i++) {
		char *js = event_json(s, i);
		int n = json_parse(js, strlen(js), tk, NTOK);
		CHECK(n > 0 && tk[0].type == JSON_OBJECT);
		uint64_t seq = 0;
		CHECK(n > 0 && json_get_u64(js, tk, json_obj_get(js, tk, 0, "sequence"), &seq) &&
			seq == i + 1);
		free(js);
	}
}

static size_t find(session *s, const char *type, size_t from)
{
	for (size_t i = from; i < s->nev; i++)
		if (!strcmp(field(s, i, "type"), type))
			return i;
	return (size_t)-1;
}

static bool written(const buf_t *out, const char *needle)
{
	return out->len && memmem(out->p, out->len, needle, strlen(needle)) != NULL;
}

/* ---- the fixtures: real event streams ---- */

static const char want_basic[] =
	"turn.started\n"
	"started itm_1 message/user/in_progress text=say hello\n"
	"completed itm_1 message/user/completed text=say hello\n"
	"started itm_2 message/assistant/in_progress\n"
	"delta itm_2 \"Hello from mock\"\n"
	"completed itm_2 message/assistant/completed text=Hello from mock\n"
	"turn.ended completed\n"
	"turn.started\n"
	"started itm_3 message/user/in_progress text=say hello again\n"
	"completed itm_3 message/user/completed text=say hello again\n"
	"started itm_4 message/assistant/in_progress\n"
	"delta itm_4 \"Hello from mock\"\n"
	"completed itm_4 message/assistant/completed text=Hello from mock\n"
	"turn.ended completed\n";

static const char want_reasoning[] =
	"turn.started\n"
	"started itm_1 message/user/in_progress text=MOCK:reason think first\n"
	"completed itm_1 message/user/completed text=MOCK:reason think first\n"
	"started itm_2 message/assistant/in_progress\n"
	"delta itm_2 \"Let me think about this briefly.\"\n"
	"completed itm_2 message/assistant/completed reasoning=Let me think about this briefly.\n"
	"started itm_3 message/assistant/in_progress\n"
	"delta itm_3 \"Reasoned answer from mock\"\n"
	"completed itm_3 message/assistant/completed text=Reasoned answer from mock\n"
	"turn.ended completed\n";

static const char want_edit[] =
	"turn.started\n"
	"started itm_1 message/user/in_progress text=MOCK:edit change hi to bye in f.txt\n"
	"completed itm_1 message/user/completed text=MOCK:edit change hi to bye in f.txt\n"
	"started itm_2 tool_call/assistant/in_progress tool_call=read\n"
	"completed itm_2 tool_call/assistant/completed tool_call=read\n"
	"started itm_3 tool_result/tool/in_progress <itm_2 tool_result=\n"
	"completed itm_3 tool_result/tool/completed <itm_2 tool_result=<path>/sandbox/ws/sedit/f.txt</path>|<type>file</type>|<cont file_ref=read:/sandbox/work/f.txt\n"
	"started itm_4 tool_call/assistant/in_progress tool_call=edit\n"
	"completed itm_4 tool_call/assistant/completed tool_call=edit\n"
	"started itm_5 tool_result/tool/in_progress <itm_4 tool_result=\n"
	"permission.requested edit requested\n"
	"permission.resolved edit accept_for_session\n"
	"completed itm_5 tool_result/tool/completed <itm_4 tool_result=Edit applied successfully. file_ref=patch:/sandbox/ws/sedit/f.txt+diff\n"
	"started itm_6 message/assistant/in_progress\n"
	"delta itm_6 \"Edited f.txt\"\n"
	"completed itm_6 message/assistant/completed text=Edited f.txt\n"
	"turn.ended completed\n";

static const char want_permission[] =
	"turn.started\n"
	"started itm_1 message/user/in_progress text=MOCK:bash please write f.txt\n"
	"completed itm_1 message/user/completed text=MOCK:bash please write f.txt\n"
	"started itm_2 tool_call/assistant/in_progress tool_call=bash\n"
	"completed itm_2 tool_call/assistant/completed tool_call=bash\n"
	"started itm_3 tool_result/tool/in_progress <itm_2 tool_result=\n"
	"permission.requested bash requested\n"
	"permission.resolved bash accept\n"
	"completed itm_3 tool_result/tool/completed <itm_2 tool_result=(no output)\n"
	"started itm_4 message/assistant/in_progress\n"
	"delta itm_4 \"Done: wrote hi to f.txt\"\n"
	"completed itm_4 message/assistant/completed text=Done: wrote hi to f.txt\n"
	"turn.ended completed\n"
	"turn.started\n"
	"started itm_5 message/user/in_progress text=MOCK:bash again please\n"
	"completed itm_5 message/user/completed text=MOCK:bash again please\n"
	"started itm_6 tool_call/assistant/in_progress tool_call=bash\n"
	"permission.requested bash requested\n"
	"completed itm_6 tool_call/assistant/completed tool_call=bash\n"
	"started itm_7 tool_result/tool/in_progress <itm_6 tool_result=\n"
	"permission.resolved bash reject\n"
	"completed itm_7 tool_result/tool/failed <itm_6 tool_result=The user rejected permission to use this specific tool call.\n"
	"turn.ended completed\n";

static const char want_question[] =
	"turn.started\n"
	"started itm_1 message/user/in_progress text=MOCK:question ask me\n"
	"completed itm_1 message/user/completed text=MOCK:question ask me\n"
	"started itm_2 tool_call/assistant/in_progress tool_call=question\n"
	"question.requested Which color? requested [\"red\",\"blue\"]\n"
	"completed itm_2 tool_call/assistant/completed tool_call=question\n"
	"started itm_3 tool_result/tool/in_progress <itm_2 tool_result=\n"
	"question.resolved Which color? answered [\"red\",\"blue\"] blue\n"
	"completed itm_3 tool_result/tool/completed <itm_2 tool_result=User has answered your questions: \"Which color?\"=\"blue\". You\n"
	"started itm_4 message/assistant/in_progress\n"
	"delta itm_4 \"Thanks for answering\"\n"
	"completed itm_4 message/assistant/completed text=Thanks for answering\n"
	"turn.ended completed\n";

static const char want_abort[] =
	"turn.started\n"
	"started itm_1 message/user/in_progress text=MOCK:slow stream slowly\n"
	"completed itm_1 message/user/completed text=MOCK:slow stream slowly\n"
	"started itm_2 message/assistant/in_progress\n"
	"delta itm_2 \" tick tick tick\"\n"
	"completed itm_2 message/assistant/failed text= tick tick tick\n"
	"turn.ended interrupted\n";

static const char want_retry_500[] =
	"turn.started\n"
	"started itm_1 message/user/in_progress text=MOCK:error500 fail with 500\n"
	"completed itm_1 message/user/completed text=MOCK:error500 fail with 500\n"
	"started itm_2 status/system/in_progress status=opencode.retry:attempt 1: mock error 500 json\n"
	"completed itm_2 status/system/completed status=opencode.retry:attempt 1: mock error 500 json\n"
	"started itm_3 status/system/in_progress status=opencode.retry:attempt 2: mock error 500 json\n"
	"completed itm_3 status/system/completed status=opencode.retry:attempt 2: mock error 500 json\n"
	"started itm_4 status/system/in_progress status=opencode.retry:attempt 3: mock error 500 json\n"
	"completed itm_4 status/system/completed status=opencode.retry:attempt 3: mock error 500 json\n"
	"started itm_5 status/system/in_progress status=opencode.retry:attempt 4: mock error 500 json\n"
	"completed itm_5 status/system/completed status=opencode.retry:attempt 4: mock error 500 json\n"
	"started itm_6 status/system/in_progress status=opencode.retry:attempt 5: mock error 500 json\n"
	"completed itm_6 status/system/completed status=opencode.retry:attempt 5: mock error 500 json\n"
	"error APIError: mock error 500\n"
	"turn.ended error\n";

static const char want_error_400[] =
	"turn.started\n"
	"started itm_1 message/user/in_progress text=MOCK:error fail please\n"
	"completed itm_1 message/user/completed text=MOCK:error fail please\n"
	"error APIError: mock error 400\n"
	"turn.ended error\n"
	"turn.started\n"
	"started itm_2 message/user/in_progress text=MOCK:error fail sync\n"
	"completed itm_2 message/user/completed text=MOCK:error fail sync\n"
	"error APIError: mock error 400\n"
	"turn.ended error\n";

static const char want_busy_queue_abort[] =
	"turn.started\n"
	"started itm_1 message/user/in_progress text=MOCK:slow stream slowly\n"
	"completed itm_1 message/user/completed text=MOCK:slow stream slowly\n"
	"started itm_2 message/assistant/in_progress\n"
	"delta itm_2 \" tick tick\"\n"
	"completed itm_2 message/assistant/failed text= tick tick\n"
	"turn.ended interrupted\n"
	"turn.started\n";

static const char want_g_bash_reject[] =
	"turn.started\n"
	"started itm_1 message/user/in_progress text=run it\n"
	"completed itm_1 message/user/completed text=run it\n"
	"started itm_2 tool_call/assistant/in_progress tool_call=bash\n"
	"permission.requested bash requested\n"
	"completed itm_2 tool_call/assistant/completed tool_call=bash\n"
	"started itm_3 tool_result/tool/in_progress <itm_2 tool_result=\n"
	"permission.resolved bash reject\n"
	"completed itm_3 tool_result/tool/failed <itm_2 tool_result=The user rejected permission to use this specific tool call.\n"
	"turn.ended completed\n";

static const char want_g_bash_always[] =
	"turn.started\n"
	"started itm_1 message/user/in_progress text=run it\n"
	"completed itm_1 message/user/completed text=run it\n"
	"started itm_2 tool_call/assistant/in_progress tool_call=bash\n"
	"completed itm_2 tool_call/assistant/completed tool_call=bash\n"
	"started itm_3 tool_result/tool/in_progress <itm_2 tool_result=\n"
	"permission.requested bash requested\n"
	"permission.resolved bash accept_for_session\n"
	"delta itm_3 \"a|\"\n"
	"completed itm_3 tool_result/tool/completed <itm_2 tool_result=a|\n"
	"started itm_4 tool_call/assistant/in_progress tool_call=bash\n"
	"completed itm_4 tool_call/assistant/completed tool_call=bash\n"
	"started itm_5 tool_result/tool/in_progress <itm_4 tool_result=\n"
	"delta itm_5 \"b|\"\n"
	"completed itm_5 tool_result/tool/completed <itm_4 tool_result=b|\n"
	"started itm_6 message/assistant/in_progress\n"
	"delta itm_6 \"Done\"\n"
	"completed itm_6 message/assistant/completed text=Done\n"
	"turn.ended completed\n";

static const char want_g_question_reject[] =
	"turn.started\n"
	"started itm_1 message/user/in_progress text=ask me\n"
	"completed itm_1 message/user/completed text=ask me\n"
	"started itm_2 tool_call/assistant/in_progress tool_call=question\n"
	"question.requested Which color? requested [\"red\",\"blue\"]\n"
	"completed itm_2 tool_call/assistant/completed tool_call=question\n"
	"started itm_3 tool_result/tool/in_progress <itm_2 tool_result=\n"
	"question.resolved Which color? rejected [\"red\",\"blue\"]\n"
	"completed itm_3 tool_result/tool/failed <itm_2 tool_result=The user dismissed this question\n"
	"turn.ended completed\n";

static const char want_g_write[] =
	"turn.started\n"
	"started itm_1 message/user/in_progress text=write a file\n"
	"completed itm_1 message/user/completed text=write a file\n"
	"started itm_2 tool_call/assistant/in_progress tool_call=write\n"
	"completed itm_2 tool_call/assistant/completed tool_call=write\n"
	"started itm_3 tool_result/tool/in_progress <itm_2 tool_result=\n"
	"permission.requested edit requested\n"
	"permission.resolved edit accept\n"
	"completed itm_3 tool_result/tool/completed <itm_2 tool_result=Wrote file successfully. file_ref=write:/sandbox/work/new.txt\n"
	"started itm_4 message/assistant/in_progress\n"
	"delta itm_4 \"Wrote\"\n"
	"completed itm_4 message/assistant/completed text=Wrote\n"
	"turn.ended completed\n";

static const char want_g_files[] =
	"turn.started\n"
	"started itm_1 message/user/in_progress text=look at these file_ref=read:/sandbox/work/notes.txt image=image/png:/sandbox/work/img.png\n"
	"completed itm_1 message/user/completed text=look at these file_ref=read:/sandbox/work/notes.txt image=image/png:/sandbox/work/img.png\n"
	"started itm_2 message/assistant/in_progress\n"
	"delta itm_2 \"Seen\"\n"
	"completed itm_2 message/assistant/completed text=Seen\n"
	"turn.ended completed\n";

static const char want_g_reasoning[] =
	"turn.started\n"
	"started itm_1 message/user/in_progress text=think\n"
	"completed itm_1 message/user/completed text=think\n"
	"started itm_2 message/assistant/in_progress\n"
	"delta itm_2 \"Let me think.\"\n"
	"completed itm_2 message/assistant/completed reasoning=Let me think.\n"
	"started itm_3 message/assistant/in_progress\n"
	"delta itm_3 \"Answer\"\n"
	"completed itm_3 message/assistant/completed text=Answer\n"
	"turn.ended completed\n";

static const struct {
	const char *name;
	const char *want;
} fixtures[] = {
	{"basic", want_basic},
	{"reasoning", want_reasoning},
	{"edit", want_edit},
	{"permission", want_permission},
	{"question", want_question},
	{"abort", want_abort},
	{"retry-500", want_retry_500},
	{"error-400", want_error_400},
	{"busy-queue-abort", want_busy_queue_abort},
	{"g-bash-reject", want_g_bash_reject},
	{"g-bash-always", want_g_bash_always},
	{"g-question-reject", want_g_question_reject},
	{"g-write", want_g_write},
	{"g-files", want_g_files},
	{"g-reasoning", want_g_reasoning},
};

static void test_fixtures(void)
{
	for (size_t i = 0; i < sizeof fixtures / sizeof fixtures[0]; i++) {
		buf_t *out;
		session *s = run_fixture(fixtures[i].name, &out);
		if (!s)
			continue;
		check_valid(s);
		check_summary(fixtures[i].name, s, fixtures[i].want);
		CHECK(!s->ended);
		CHECK_INT(s->nperms, 0);
		CHECK_INT(s->nquestions, 0);
		terminate(s);
	}
}

/* Details the summaries leave out. */
static void test_fixture_details(void)
{
	buf_t *out;
	session *s = run_fixture("basic", &out);
	/* the prompt: text, agent, model split at its first '/' */
	CHECK(written(out, "POST /session/ses_de947e41dffemzYaJVQZGQFc1G/prompt_async?directory="
		"%2Fsandbox%2Fwork {\"parts\":[{\"type\":\"text\",\"text\":\"say hello\"}],"
		"\"agent\":\"build\",\"model\":{\"providerID\":\"mock\",\"modelID\":\"mock-model\"}}\n"));
	CHECK_STR(field(s, 0, "synthetic"), "true"); /* turn.started: at dispatch */
	CHECK_STR(field(s, 0, "data.metadata.model"), "mock/mock-model");
	CHECK_STR(field(s, 1, "data.item.native_item_id"), "msg_216b81c0d0014fY4cAL30zh6PD");
	CHECK_STR(field(s, 3, "data.item.native_item_id"), "prt_216b82102001qjmgSOCWilpvlE");
	CHECK_STR(field(s, 3, "synthetic"), "false");
	CHECK_STR(field(s, 3, "native_session_id"), "ses_de947e41dffemzYaJVQZGQFc1G");
	CHECK_STR(field(s, 4, "raw.type"), "message.part.delta");
	size_t te = find(s, "turn.ended", 0);
	CHECK_STR(field(s, te, "synthetic"), "false");
	CHECK_STR(field(s, te, "raw.type"), "session.status");
	CHECK_STR(field(s, te, "data.metadata.steps"), "1");
	CHECK_STR(field(s, te, "data.metadata.finish"), "stop");
	CHECK_STR(field(s, te, "data.metadata.model"), "mock/mock-model");
	CHECK_STR(field(s, te, "data.metadata.tokens"),
		"{\"total\":25,\"input\":20,\"output\":5,\"reasoning\":0,\"cache\":{\"read\":0,\"write\":0}}");
	CHECK_STR(field(s, te, "data.metadata.cost"), "0");

	terminate(s);
	s = run_fixture("edit", &out);
	size_t pr = find(s, "permission.requested", 0);
	CHECK_STR(field(s, pr, "data.permission_id"), "per_216bc7f38001Zp70oGLEi6cq16");
	CHECK_STR(field(s, pr, "data.metadata.patterns.0"), "tmp/research-oa/ws/sedit/f.txt");
	CHECK(strstr(field(s, pr, "data.metadata.metadata.diff"), "+bye") != NULL);
	size_t res = find(s, "item.completed", pr);
	CHECK_STR(field(s, res, "data.item.content.1.type"), "file_ref");
	CHECK_STR(field(s, res, "data.item.content.1.action"), "patch");
	CHECK(strstr(field(s, res, "data.item.content.1.diff"), "@@ -1,1 +1,1 @@\n-hi\n+bye\n") != NULL);
	CHECK_STR(field(s, res, "data.item.content.0.call_id"), "call_mock13");
	CHECK(written(out, "POST /permission/per_216bc7f38001Zp70oGLEi6cq16/reply?directory=%2Fsandbox"
		"%2Fwork {\"reply\":\"always\"}\n"));

	terminate(s);
	s = run_fixture("question", &out);
	size_t qr = find(s, "question.requested", 0);
	CHECK_STR(field(s, qr, "data.question_id"), "que_216c37dba001egydrvy9GYUN3A");
	CHECK_STR(field(s, qr, "data.options"), "[\"red\",\"blue\"]");
	CHECK(written(out, "POST /question/que_216c37dba001egydrvy9GYUN3A/reply?directory=%2Fsandbox"
		"%2Fwork {\"answers\":[[\"blue\"]]}\n"));
	/* the question.replied event does not resolve it a second time */
	size_t n = 0;
	for (size_t i = 0; i < s->nev; i++)
		n += !strcmp(field(s, i, "type"), "question.resolved");
	CHECK_INT(n, 1);

	terminate(s);
	s = run_fixture("g-question-reject", &out);
	CHECK(written(out, "/reject?directory=%2Fsandbox%2Fwork -\n"));

	terminate(s);
	s = run_fixture("retry-500", &out);
	size_t st = find(s, "item.completed", 3);
	CHECK_STR(field(s, st, "data.item.content.1.json.attempt"), "1");
	size_t er = find(s, "error", 0);
	CHECK_STR(field(s, er, "data.details.data.statusCode"), "500");
	CHECK_STR(field(s, er, "synthetic"), "false");
	te = find(s, "turn.ended", 0);
	CHECK_STR(field(s, te, "data.metadata.status"), "error");

	terminate(s);
	s = run_fixture("abort", &out);
	CHECK(find(s, "error", 0) == (size_t)-1); /* an abort is no error */

	terminate(s);
	s = run_fixture("g-files", &out);
	CHECK(written(out, "{\"type\":\"file\",\"mime\":\"text/plain\",\"url\":\"file:///sandbox/work/"
		"notes.txt\",\"filename\":\"notes.txt\"}"));
	CHECK(written(out, "\"parts\":[{\"type\":\"text\",\"text\":\"look at these\"},"));
	CHECK_STR(field(s, 1, "data.item.content.2.type"), "image");
	CHECK_STR(field(s, 1, "data.item.content.2.path"), "/sandbox/work/img.png");
	CHECK_STR(field(s, 1, "data.item.content.2.mime"), "image/png");

	terminate(s);
	s = run_fixture("g-bash-always", &out);
	size_t d = find(s, "item.delta", 0);
	CHECK_STR(field(s, d, "data.delta"), "a\n"); /* bash output streams */
	terminate(s);
}

/* Feeds text to the event stream as SSE bytes in pieces of `step`. */
static void sse_bytes(const char *text, size_t step)
{
	for (size_t i = 0; i < strlen(text); i += step) {
		size_t n = strlen(text + i) < step ? strlen(text + i) : step;
		CHECK_INT(opencode_test_sse(text + i, n), 0);
	}
}

static char *ev_sess(const char *sid, const char *type, const char *props)
{
	buf_t b;
	buf_init(&b);
	buf_printf(&b, "{\"id\":\"evt_x\",\"type\":\"%s\",\"properties\":{\"sessionID\":\"%s\"%s%s}}",
		type, sid, props && *props ? "," : "", props ? props : "");
	return buf_cstr(&b);
}

static void event(const char *sid, const char *type, const char *props)
{
	char *e = ev_sess(sid, type, props);
	opencode_test_event(e, strlen(e));
	free(e);
}

static void msg_updated(const char *sid, const char *id, const char *role)
{
	char props[256];
	snprintf(props, sizeof props, "\"info\":{\"id\":\"%s\",\"sessionID\":\"%s\",\"role\":\"%s\"}", id,
		sid, role);
	event(sid, "message.updated", props);
}

static void part(const char *sid, const char *part_json)
{
	char *props = xmalloc(strlen(part_json) + 16);
	sprintf(props, "\"part\":%s", part_json);
	event(sid, "message.part.updated", props);
	free(props);
}

static void status(const char *sid, const char *type)
{
	char props[64];
	snprintf(props, sizeof props, "\"status\":{\"type\":\"%s\"}", type);
	event(sid, "session.status", props);
}

/* The stream in SSE framing, in awkward pieces, with CRLF, comments and
 * the /global/event wrapping: the same events as the fixture. */
static void test_sse_framing(void)
{
	buf_t *out;
	session *s = new_session("ses_sse", &out, NULL, "mock/mock-model");
	post(s, "hi", NULL);
	const char *sid = "ses_sse";
	char *evs[] = {
		ev_sess(sid, "message.updated", "\"info\":{\"id\":\"msg_u\",\"role\":\"user\"}"),
		ev_sess(sid, "session.status", "\"status\":{\"type\":\"busy\"}"),
		ev_sess(sid, "message.updated", "\"info\":{\"id\":\"msg_a\",\"role\":\"assistant\"}"),
		ev_sess(sid, "message.part.updated", "\"part\":{\"id\":\"prt_t\",\"messageID\":\"msg_a\","
			"\"type\":\"text\",\"text\":\"\"}"),
		ev_sess(sid, "message.part.delta", "\"messageID\":\"msg_a\",\"partID\":\"prt_t\","
			"\"field\":\"text\",\"delta\":\"Hel\\u006co \\u00e9\\n\"}"),
		ev_sess(sid, "message.part.updated", "\"part\":{\"id\":\"prt_t\",\"messageID\":\"msg_a\","
			"\"type\":\"text\",\"text\":\"Hello \\u00e9\\nwide\",\"time\":{\"start\":1,\"end\":2}}"),
		ev_sess(sid, "session.idle", NULL),
	};
	buf_t b;
	buf_init(&b);
	buf_puts(&b, ": comment\r\n\r\n");
	for (size_t i = 0; i < sizeof evs / sizeof evs[0]; i++) {
		if (i % 2)
			buf_printf(&b, "data: {\"directory\":\"/x\",\"payload\":%s}\r\n\r\n", evs[i]);
		else
			buf_printf(&b, "data:%s\n\n", evs[i]);
		free(evs[i]);
	}
	buf_puts(&b, "data: {\"payload\":{\"type\":\"server.heartbeat\",\"properties\":{}}}\n\n");
	buf_puts(&b, "data: not json\n\n");
	sse_bytes(buf_cstr(&b), 7);
	buf_free(&b);
	check_valid(s);
	check_summary("sse", s,
		"turn.started\n"
		"started itm_1 message/user/in_progress text=hi\n"
		"completed itm_1 message/user/completed text=hi\n"
		"started itm_2 message/assistant/in_progress\n"
		"delta itm_2 \"Hello é|wide\"\n"
		"completed itm_2 message/assistant/completed text=Hello é|wide\n"
		"turn.ended completed\n");
	CHECK(!s->busy);
	terminate(s);
}

/* The prompt is refused: the turn fails, the session stays usable. */
static void test_prompt_refused(void)
{
	buf_t *out;
	session *s = new_session("ses_ref", &out, NULL, "default");
	post(s, "one", NULL);
	CHECK(written(out, "{\"parts\":[{\"type\":\"text\",\"text\":\"one\"}],\"agent\":\"build\"}\n"));
	CHECK_INT(opencode_test_respond(400, "{\"error\":\"bad\"}"), 0);
	check_summary("refused", s,
		"turn.started\n"
		"error opencode_http: OpenCode prompt failed 400: {\"error\":\"bad\"}\n"
		"turn.ended error\n");
	CHECK(!s->busy);
	CHECK(!s->ended);
	post(s, "two", NULL);
	CHECK(written(out, "\"text\":\"two\""));
	CHECK_INT(opencode_test_respond(204, NULL), 0);
	CHECK(s->busy);
	/* a transport failure of a reply is shown as an error event */
	event("ses_ref", "permission.asked", "\"id\":\"per_1\",\"permission\":\"bash\",\"patterns\":[],"
		"\"metadata\":{},\"always\":[]");
	CHECK_INT(reply_perm(s, REPLY_ONCE), 0);
	CHECK_INT(opencode_test_respond(-1, NULL), 0);
	CHECK_STR(field(s, s->nev - 1, "data.code"), "opencode_http");
	CHECK(strstr(field(s, s->nev - 1, "data.message"), "permission reply failed") != NULL);
	terminate(s);
}

/* The server dies in the middle of a turn. */
static void test_server_exit(void)
{
	buf_t *out;
	session *s = new_session("ses_die", &out, NULL, "mock/mock-model");
	const char *sid = "ses_die";
	post(s, "go", NULL);
	CHECK_INT(opencode_test_respond(204, NULL), 0);
	msg_updated(sid, "msg_u", "user");
	status(sid, "busy");
	msg_updated(sid, "msg_a", "assistant");
	part(sid, "{\"id\":\"prt_t\",\"messageID\":\"msg_a\",\"type\":\"text\",\"text\":\"Work\"}");
	part(sid, "{\"id\":\"prt_b\",\"messageID\":\"msg_a\",\"type\":\"tool\",\"tool\":\"bash\","
		"\"callID\":\"call_1\",\"state\":{\"status\":\"running\",\"input\":{\"command\":\"ls\"},"
		"\"metadata\":{\"output\":\"a.txt\\n\"}}}");
	event(sid, "permission.asked", "\"id\":\"per_9\",\"permission\":\"bash\",\"patterns\":[\"ls\"],"
		"\"metadata\":{\"command\":\"ls\"},\"always\":[\"ls *\"]");
	event(sid, "question.asked", "\"id\":\"que_9\",\"questions\":[{\"question\":\"Sure?\","
		"\"header\":\"S\",\"options\":[{\"label\":\"yes\"}]}]");
	opencode_test_server_exit(9 << 8);
	check_valid(s);
	check_summary("server exit", s,
		"turn.started\n"
		"started itm_1 message/user/in_progress text=go\n"
		"completed itm_1 message/user/completed text=go\n"
		"started itm_2 message/assistant/in_progress\n"
		"delta itm_2 \"Work\"\n"
		"started itm_3 tool_call/assistant/in_progress tool_call=bash\n"
		"completed itm_3 tool_call/assistant/completed tool_call=bash\n"
		"started itm_4 tool_result/tool/in_progress <itm_3 tool_result=\n"
		"delta itm_4 \"a.txt|\"\n"
		"permission.requested bash requested\n"
		"question.requested Sure? requested [\"yes\"]\n"
		"error server_exit: agent server exited with status 9\n"
		"permission.resolved bash reject\n"
		"question.resolved Sure? rejected [\"yes\"]\n"
		"completed itm_2 message/assistant/failed text=Work\n"
		"completed itm_4 tool_result/tool/failed <itm_3 tool_result=a.txt|\n"
		"turn.ended error\n");
	CHECK(!s->ended);
	CHECK(!s->busy);
	CHECK_INT(s->nperms, 0);
	/* the next message goes to the new server, same OpenCode session */
	post(s, "again", NULL);
	CHECK(written(out, "POST /session/ses_die/prompt_async?directory=%2Fsandbox%2Fwork "
		"{\"parts\":[{\"type\":\"text\",\"text\":\"again\"}]"));
	terminate(s);
}

/* Terminate during a turn: abort sent, the turn interrupted, the late
 * events of OpenCode dropped. */
static void test_terminate(void)
{
	buf_t *out;
	session *s = new_session("ses_term", &out, NULL, "mock/mock-model");
	const char *sid = "ses_term";
	post(s, "slow", NULL);
	msg_updated(sid, "msg_u", "user");
	status(sid, "busy");
	part(sid, "{\"id\":\"prt_t\",\"messageID\":\"msg_a\",\"type\":\"text\",\"text\":\"tick\"}");
	terminate(s);
	CHECK(written(out, "POST /session/ses_term/abort?directory=%2Fsandbox%2Fwork -\n"));
	event(sid, "session.error", "\"error\":{\"name\":\"MessageAbortedError\",\"data\":"
		"{\"message\":\"Aborted\"}}");
	status(sid, "idle");
	check_summary("terminate", s,
		"turn.started\n"
		"started itm_1 message/user/in_progress text=slow\n"
		"completed itm_1 message/user/completed text=slow\n"
		"started itm_2 message/assistant/in_progress\n"
		"delta itm_2 \"tick\"\n"
		"completed itm_2 message/assistant/failed text=tick\n"
		"turn.ended interrupted\n"
		"session.ended terminated\n");
	CHECK_STR(field(s, 6, "synthetic"), "true");

	/* a message queued behind the turn is dropped, not sent */
	s = new_session("ses_term2", &out, NULL, "mock/mock-model");
	post(s, "first", NULL);
	post(s, "queued", NULL);
	CHECK_INT(s->nqueued, 1);
	terminate(s);
	CHECK(!written(out, "queued"));
	check_summary("terminate queued", s,
		"turn.started\n"
		"turn.ended interrupted\n"
		"session.ended terminated\n");
}

/* A prompt another client of OpenCode sent shows as a turn of its own. */
static void test_foreign_turn(void)
{
	buf_t *out;
	session *s = new_session("ses_for", &out, NULL, "mock/mock-model");
	const char *sid = "ses_for";
	msg_updated(sid, "msg_u", "user");
	part(sid, "{\"id\":\"prt_u\",\"messageID\":\"msg_u\",\"type\":\"text\",\"text\":\"from tui\"}");
	part(sid, "{\"id\":\"prt_s\",\"messageID\":\"msg_u\",\"type\":\"text\",\"synthetic\":true,"
		"\"text\":\"inlined\"}");
	status(sid, "busy");
	part(sid, "{\"id\":\"prt_t\",\"messageID\":\"msg_a\",\"type\":\"text\",\"text\":\"ok\","
		"\"time\":{\"start\":1,\"end\":2}}");
	event(sid, "session.idle", NULL);
	event(sid, "session.idle", NULL);
	check_summary("foreign", s,
		"turn.started\n"
		"started itm_1 message/user/in_progress text=from tui\n"
		"completed itm_1 message/user/completed text=from tui\n"
		"started itm_2 message/assistant/in_progress\n"
		"delta itm_2 \"ok\"\n"
		"completed itm_2 message/assistant/completed text=ok\n"
		"turn.ended completed\n");
	CHECK_STR(field(s, 0, "synthetic"), "false");
	CHECK_STR(field(s, 0, "data.metadata.origin"), "opencode");
	CHECK_INT(out->len, 0);
	terminate(s);
}

/* HITL answered elsewhere, auto-approval, an error before the turn ran,
 * a delta before its part. */
static void test_hitl_and_edges(void)
{
	buf_t *out;
	session *s = new_session("ses_h", &out, NULL, "mock/mock-model");
	const char *sid = "ses_h";
	post(s, "x", NULL);
	msg_updated(sid, "msg_u", "user");
	status(sid, "busy");
	const char *ask = "\"id\":\"per_a\",\"permission\":\"bash\",\"patterns\":[\"ls\"],"
		"\"metadata\":{},\"always\":[\"ls *\"]";
	event(sid, "permission.asked", ask);
	event(sid, "permission.replied", "\"requestID\":\"per_a\",\"reply\":\"once\"");
	event(sid, "permission.replied", "\"requestID\":\"per_a\",\"reply\":\"once\"");
	event(sid, "permission.asked", "\"id\":\"per_b\",\"permission\":\"bash\",\"patterns\":[\"ls\"],"
		"\"metadata\":{},\"always\":[\"ls *\"]");
	CHECK_INT(reply_perm(s, REPLY_ALWAYS), 0);
	event(sid, "permission.asked", "\"id\":\"per_c\",\"permission\":\"bash\",\"patterns\":[\"ls\"],"
		"\"metadata\":{},\"always\":[\"ls *\"]");
	CHECK(written(out, "POST /permission/per_c/reply?directory=%2Fsandbox%2Fwork "
		"{\"reply\":\"always\"}\n"));
	event(sid, "question.asked", "\"id\":\"que_a\",\"questions\":[{\"question\":\"Q?\","
		"\"header\":\"H\",\"options\":[]}]");
	event(sid, "question.rejected", "\"requestID\":\"que_a\"");
	event(sid, "message.part.delta", "\"messageID\":\"msg_a\",\"partID\":\"prt_x\","
		"\"field\":\"text\",\"delta\":\"early\"");
	event(sid, "todo.updated", "\"todos\":[{\"content\":\"a\",\"status\":\"pending\"}]");
	event(sid, "session.idle", NULL);
	post(s, "y", NULL);
	event(sid, "session.error", "\"error\":{\"name\":\"UnknownError\",\"data\":{\"message\":"
		"\"Image could not be decoded\"}}");
	check_valid(s);
	check_summary("hitl", s,
		"turn.started\n"
		"started itm_1 message/user/in_progress text=x\n"
		"completed itm_1 message/user/completed text=x\n"
		"permission.requested bash requested\n"
		"permission.resolved bash accept\n"
		"permission.requested bash requested\n"
		"permission.resolved bash accept_for_session\n"
		"permission.requested bash requested\n"
		"permission.resolved bash accept_for_session\n"
		"question.requested Q? requested []\n"
		"question.resolved Q? rejected []\n"
		"started itm_2 message/assistant/in_progress\n"
		"delta itm_2 \"early\"\n"
		"started itm_3 status/system/in_progress status=opencode.todo: json\n"
		"completed itm_3 status/system/completed status=opencode.todo: json\n"
		"completed itm_2 message/assistant/completed text=early\n"
		"turn.ended completed\n"
		"turn.started\n"
		"error UnknownError: Image could not be decoded\n"
		"turn.ended error\n");
	CHECK_STR(field(s, 4, "synthetic"), "false"); /* answered elsewhere */
	CHECK(!s->busy);
	terminate(s);
}

/* MCP servers are added before the first prompt goes out. */
static void test_mcp(void)
{
	setenv("OC_TEST_TOKEN", "s3cret", 1);
	char id[16];
	snprintf(id, sizeof id, "oc%d", ++nsess);
	session *s = sess_new(id, &agent_opencode);
	s->agent_mode = xstrdup("plan");
	s->permission_mode = xstrdup("default");
	s->model = xstrdup("anthropic/claude-x");
	s->variant = xstrdup("high");
	s->directory = xstrdup("/sandbox/w two");
	s->mcp_json = xstrdup("{\"echo\":{\"type\":\"local\",\"command\":[\"node\",\"echo.js\"],"
		"\"args\":[\"--x\"],\"env\":{\"A\":\"1\"},\"timeoutMs\":5000},"
		"\"web\":{\"type\":\"remote\",\"url\":\"https://h/mcp\",\"headers\":{\"X\":\"y\"},"
		"\"bearerTokenEnvVar\":\"OC_TEST_TOKEN\",\"enabled\":false}}");
	sess_register(s);
	buf_t *out = new_out();
	opencode_test_attach(s, "ses_mcp", out);
	post(s, "use tools", NULL);
	const char *q = "?directory=%2Fsandbox%2Fw%20two";
	char want[512];
	snprintf(want, sizeof want, "POST /mcp%s {\"name\":\"echo\",\"config\":{\"type\":\"local\","
		"\"command\":[\"node\",\"echo.js\",\"--x\"],\"environment\":{\"A\":\"1\"},\"timeout\":5000}}\n",
		q);
	CHECK(written(out, want));
	CHECK(!written(out, "prompt_async"));
	CHECK_INT(opencode_test_respond(200, "{}"), 0);
	snprintf(want, sizeof want, "POST /mcp%s {\"name\":\"web\",\"config\":{\"type\":\"remote\","
		"\"url\":\"https://h/mcp\",\"headers\":{\"X\":\"y\",\"Authorization\":\"Bearer s3cret\"},"
		"\"enabled\":false}}\n", q);
	CHECK(written(out, want));
	CHECK_INT(opencode_test_respond(500, "nope"), 0);
	snprintf(want, sizeof want, "POST /session/ses_mcp/prompt_async%s {\"parts\":[{\"type\":"
		"\"text\",\"text\":\"use tools\"}],\"agent\":\"plan\",\"model\":{\"providerID\":"
		"\"anthropic\",\"modelID\":\"claude-x\"},\"variant\":\"high\"}\n", q);
	CHECK(written(out, want));
	CHECK_STR(field(s, find(s, "error", 0), "data.code"), "opencode_mcp");
	CHECK_INT(find(s, "turn.started", 0), 1); /* when the prompt went out */
	/* a new server has none of them: added again before the next prompt */
	CHECK_INT(opencode_test_respond(204, NULL), 0);
	event("ses_mcp", "session.status", "\"status\":{\"type\":\"busy\"}");
	event("ses_mcp", "session.idle", NULL);
	size_t had = out->len;
	opencode_test_server_exit(1 << 8);
	post(s, "more", NULL);
	CHECK(memmem(out->p + had, out->len - had, "POST /mcp", 9) != NULL);
	CHECK(memmem(out->p + had, out->len - had, "\"more\"", 6) == NULL);
	CHECK_INT(opencode_test_respond(200, "{}"), 0);
	CHECK_INT(opencode_test_respond(200, "{}"), 0);
	CHECK(memmem(out->p + had, out->len - had, "\"more\"", 6) != NULL);
	terminate(s);

	/* a config that cannot be expressed fails the create; a missing
	 * binary is checked first */
	session *s2 = sess_new("ocbad", &agent_opencode);
	s2->mcp_json = xstrdup("{\"x\":{\"type\":\"local\",\"command\":[]}}");
	agent_err e = {0};
	char dir[] = "/tmp/oc-unit-XXXXXX";
	CHECK(mkdtemp(dir) != NULL);
	char bin[64];
	snprintf(bin, sizeof bin, "%s/opencode", dir);
	FILE *f = fopen(bin, "w");
	CHECK(f != NULL);
	if (f) {
		fputs("#!/bin/sh\nexit 1\n", f);
		fclose(f);
	}
	chmod(bin, 0755);
	const char *old_path = getenv("PATH");
	char *saved = old_path ? xstrdup(old_path) : NULL;
	setenv("PATH", "/nonexistent", 1);
	setenv("XDG_DATA_HOME", "/nonexistent", 1);
	CHECK_INT(agent_opencode.create(s2, &e), -1);
	CHECK_INT(e.kind, AERR_NOT_INSTALLED);
	setenv("PATH", dir, 1);
	memset(&e, 0, sizeof e);
	CHECK_INT(agent_opencode.create(s2, &e), -1);
	CHECK_INT(e.kind, AERR_INVALID);
	CHECK_STR(e.msg, "mcp server x: mcp command cannot be empty");
	s2->model = xstrdup("no-provider");
	memset(&e, 0, sizeof e);
	agent_opencode.free_state(s2);
	CHECK_INT(agent_opencode.create(s2, &e), -1);
	CHECK(strstr(e.msg, "provider/model") != NULL);
	if (s2->agent_state)
		agent_opencode.free_state(s2);
	sess_register(s2);
	if (saved)
		setenv("PATH", saved, 1);
	free(saved);
	unlink(bin);
	rmdir(dir);
}

/* The event log fills up in the middle of an event's handling: the
 * session is terminated from inside it, the turn state stays valid. */
static void test_log_full(void)
{
	buf_t *out;
	session *s = new_session("ses_full", &out, NULL, "mock/mock-model");
	const char *sid = "ses_full";
	post(s, "big", NULL);
	msg_updated(sid, "msg_u", "user");
	status(sid, "busy");
	part(sid, "{\"id\":\"prt_t\",\"messageID\":\"msg_a\",\"type\":\"text\",\"text\":\"\"}");
	buf_t e;
	buf_init(&e);
	buf_puts(&e, "{\"type\":\"message.part.delta\",\"properties\":{\"sessionID\":\"ses_full\","
		"\"messageID\":\"msg_a\",\"partID\":\"prt_t\",\"field\":\"text\",\"delta\":\"");
	for (int i = 0; i < 60000; i++)
		buf_putc(&e, 'a' + i % 26);
	buf_puts(&e, "\"}}");
	for (int i = 0; i < 2000 && !s->ended; i++)
		opencode_test_event(e.p, e.len);
	buf_free(&e);
	CHECK(s->ended);
	CHECK(s->log_full);
	CHECK(!s->busy);
	CHECK(written(out, "POST /session/ses_full/abort"));
	status(sid, "idle"); /* nothing more */
}

static void test_listing_static(void)
{
	CHECK(agent_opencode.any_agent_mode);
	CHECK_INT(agent_opencode.nmodes, 3);
	CHECK_STR(agent_opencode.modes[2].id, "custom");
	CHECK(agent_opencode.caps[CAP_SHARED_PROCESS]);
	CHECK(agent_opencode.caps[CAP_PERMISSIONS]);
	CHECK(agent_opencode.caps[CAP_QUESTIONS]);
	buf_t b;
	jw_t w;
	buf_init(&b);
	jw_init(&w, &b);
	opencode_write_server_status(&w);
	CHECK(strstr(buf_cstr(&b), "\"restartCount\":") != NULL);
	buf_free(&b);
}

static void show_all(void)
{
	for (size_t i = 0; i < sizeof fixtures / sizeof fixtures[0]; i++) {
		buf_t *out, b;
		session *s = run_fixture(fixtures[i].name, &out);
		buf_init(&b);
		summarize(s, &b);
		printf("==== %s\n%s---- requests\n%s", fixtures[i].name, buf_cstr(&b),
			out->p ? buf_cstr(out) : "");
		buf_free(&b);
	}
}

int main(void)
{
	setenv("SANDBOX_AGENT_LOG", "error", 1);
	if (getenv("OPENCODE_TEST_SHOW")) {
		show_all();
		return 0;
	}
	test_listing_static();
	test_fixtures();
	test_fixture_details();
	test_sse_framing();
	test_prompt_refused();
	test_server_exit();
	test_terminate();
	test_foreign_turn();
	test_hitl_and_edges();
	test_mcp();
	test_log_full();
	sess_free_all();
	for (int i = 0; i < nouts; i++)
		buf_free(&outs[i]);
	return t_done("opencode");
}
