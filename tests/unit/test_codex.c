/* test_codex.c - the Codex adapter's JSON-RPC protocol and converter,
 * driven without a process (codex_test_attach) by real app-server output
 * (tests/unit/fixtures/codex/NAME.jsonl: the stdout lines of captured
 * runs; "#> text" sends a message, "#perm once|always|reject" and
 * "#answer [[...]]" reply to the newest pending request the way the HTTP
 * handlers do, "#exit N" ends the app-server, "#interrupt" marks where
 * the capturing client interrupted). Checks the universal events stored
 * and the lines the adapter writes. CODEX_TEST_PRINT=1 prints the
 * summaries. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "agents/agent.h"
#include "agents/codex.h"
#include "base/buf.h"
#include "json/json.h"
#include "session/session.h"
#include "t.h"

#define FIXTURES "tests/unit/fixtures/codex/"
#define NTOK 8192

static json_tok tk[NTOK];
static int nsess;
static buf_t outs[64]; /* what the adapter wrote, per session; freed at the end */
static int nouts;

static buf_t *new_out(void)
{
	buf_init(&outs[nouts]);
	return &outs[nouts++];
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
 * JSON text, "" when absent. Static buffer. */
static const char *field(session *s, size_t i, const char *p)
{
	static char out[16384];
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

static void cut(buf_t *b, const char *s, size_t max)
{
	size_t n = strlen(s);
	for (size_t i = 0; i < n && i < max; i++)
		buf_putc(b, s[i] == '\n' ? '|' : s[i]);
	if (n > max)
		buf_puts(b, "...");
}

/* One line per event. */
static void summary(session *s, size_t i, buf_t *b)
{
	char type[40];
	snprintf(type, sizeof type, "%s", field(s, i, "type"));
	buf_puts(b, type);
	if (!strcmp(field(s, i, "synthetic"), "true"))
		buf_puts(b, "(S)");
	if (!strcmp(type, "item.started") || !strcmp(type, "item.completed")) {
		buf_printf(b, " %s", field(s, i, "data.item.kind"));
		buf_printf(b, "/%s", field(s, i, "data.item.role"));
		buf_printf(b, " %s", field(s, i, "data.item.status"));
		buf_printf(b, " %s", field(s, i, "data.item.item_id"));
		const char *par = field(s, i, "data.item.parent_id");
		if (strcmp(par, "null"))
			buf_printf(b, "<%s", par);
		for (int k = 0; k < 8; k++) {
			char p[64];
			snprintf(p, sizeof p, "data.item.content.%d.type", k);
			char pt[32];
			snprintf(pt, sizeof pt, "%s", field(s, i, p));
			if (!*pt)
				break;
			buf_printf(b, " [%s", pt);
			const char *f1 = !strcmp(pt, "text") || !strcmp(pt, "reasoning") ? "text"
				: !strcmp(pt, "tool_call") ? "name" : !strcmp(pt, "tool_result") ? "output"
				: !strcmp(pt, "file_ref") ? "action" : !strcmp(pt, "image") ? "mime"
				: !strcmp(pt, "status") ? "label" : NULL;
			if (f1) {
				snprintf(p, sizeof p, "data.item.content.%d.%s", k, f1);
				buf_putc(b, ':');
				cut(b, field(s, i, p), 40);
			}
			if (!strcmp(pt, "file_ref")) {
				snprintf(p, sizeof p, "data.item.content.%d.path", k);
				const char *path = field(s, i, p);
				const char *sl = strrchr(path, '/');
				buf_printf(b, ":%s", sl ? sl + 1 : path);
			}
			if (!strcmp(pt, "status")) {
				snprintf(p, sizeof p, "data.item.content.%d.detail", k);
				buf_putc(b, ':');
				cut(b, field(s, i, p), 60);
			}
			buf_putc(b, ']');
		}
	} else if (!strcmp(type, "item.delta")) {
		buf_printf(b, " %s ", field(s, i, "data.item_id"));
		cut(b, field(s, i, "data.delta"), 60);
	} else if (!strcmp(type, "turn.ended")) {
		buf_printf(b, " %s", field(s, i, "data.metadata.status"));
	} else if (!strcmp(type, "error")) {
		buf_printf(b, " %s ", field(s, i, "data.code"));
		cut(b, field(s, i, "data.message"), 60);
	} else if (!strncmp(type, "permission.", 11)) {
		buf_printf(b, " %s", field(s, i, "data.permission_id"));
		buf_printf(b, " %s", field(s, i, "data.action"));
		buf_printf(b, " %s", field(s, i, "data.status"));
	} else if (!strncmp(type, "question.", 9)) {
		buf_printf(b, " %s", field(s, i, "data.question_id"));
		buf_printf(b, " %s", field(s, i, "data.prompt"));
		buf_printf(b, " %s", field(s, i, "data.options"));
		buf_printf(b, " %s", field(s, i, "data.status"));
	} else if (!strcmp(type, "agent.unparsed")) {
		buf_printf(b, " %s", field(s, i, "data.error"));
	} else if (!strcmp(type, "session.ended")) {
		buf_printf(b, " %s", field(s, i, "data.reason"));
		buf_printf(b, " %s", field(s, i, "data.terminated_by"));
	}
	buf_putc(b, '\n');
}

/* Summaries of events [from, nev). */
static char *summaries(session *s, size_t from)
{
	buf_t b;
	buf_init(&b);
	for (size_t i = from; i < s->nev; i++)
		summary(s, i, &b);
	char *r = buf_cstr(&b);
	if (getenv("CODEX_TEST_PRINT"))
		fprintf(stderr, "---- %s\n%s", s->id, r);
	return r;
}

static void check_seq(session *s, size_t from, const char *want, int line)
{
	char *got = summaries(s, from);
	t_pass += !strcmp(got, want);
	if (strcmp(got, want)) {
		t_fail++;
		fprintf(stderr, "test_codex.c:%d: sequence of %s differs\n--- got\n%s--- want\n%s", line,
			s->id, got, want);
	}
	free(got);
}
#define CHECK_SEQ(s, from, want) check_seq(s, from, want, __LINE__)

/* ---- driving the adapter ---- */

static session *new_session(const char *pmode, const char *amode, const char *model, buf_t *out)
{
	char id[32];
	snprintf(id, sizeof id, "cx%d", ++nsess);
	session *s = sess_new(id, &agent_codex);
	s->permission_mode = xstrdup(pmode);
	s->agent_mode = xstrdup(amode);
	s->model = model ? xstrdup(model) : NULL;
	s->directory = xstrdup("/tmp");
	sess_register(s);
	ev_conv c = {.type = EV_SESSION_STARTED, .synthetic = true};
	sess_record(s, &c);
	codex_test_attach(s, out);
	return s;
}

static void line(session *s, const char *l)
{
	codex_test_line(s, l, strlen(l));
}

static void send_msg(session *s, const char *text, const char *att)
{
	agent_err e = {0};
	s->busy = true;
	CHECK_INT(agent_codex.send(s, text, strlen(text), att, &e), 0);
}

/* What h_permission_reply does after finding the permission. */
static int reply_perm(session *s, const char *id, int reply)
{
	pending_perm *p = sess_find_perm(s, id);
	if (!p)
		return -1;
	agent_err e = {0};
	if (agent_codex.reply_permission(s, p, reply, &e) != 0)
		return -1;
	p = sess_find_perm(s, id);
	if (!p)
		return 0;
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
	return 0;
}

static int reply_q(session *s, const char *id, const char *answers)
{
	pending_question *q = sess_find_question(s, id);
	if (!q)
		return -1;
	agent_err e = {0};
	if (agent_codex.reply_question(s, q, answers, &e) != 0)
		return -1;
	q = sess_find_question(s, id);
	pending_question t;
	sess_take_question(s, q, &t);
	ev_conv c = {.type = EV_QUESTION_RESOLVED, .synthetic = true};
	c.u.question.id = t.id;
	c.u.question.prompt = t.prompt;
	c.u.question.options_json = t.options_json;
	c.u.question.status = answers ? "answered" : "rejected";
	sess_record(s, &c);
	sess_free_question(&t);
	return 0;
}

static int replies_failed;

static void feed(session *s, const char *name)
{
	char path[256];
	snprintf(path, sizeof path, FIXTURES "%s.jsonl", name);
	FILE *f = fopen(path, "r");
	CHECK(f != NULL);
	if (!f)
		return;
	char *l = NULL;
	size_t cap = 0;
	ssize_t n;
	while ((n = getline(&l, &cap, f)) > 0) {
		while (n && (l[n - 1] == '\n' || l[n - 1] == '\r'))
			l[--n] = 0;
		if (!strncmp(l, "#> ", 3)) {
			send_msg(s, l + 3, NULL);
		} else if (!strncmp(l, "#perm ", 6)) {
			int r = !strcmp(l + 6, "once") ? REPLY_ONCE : !strcmp(l + 6, "always")
				? REPLY_ALWAYS : REPLY_REJECT;
			char id[64] = "";
			if (s->nperms)
				snprintf(id, sizeof id, "%s", s->perms[s->nperms - 1].id);
			if (!*id || reply_perm(s, id, r) != 0)
				replies_failed++;
		} else if (!strncmp(l, "#answer ", 8)) {
			if (!s->nquestions || reply_q(s, s->questions[s->nquestions - 1].id, l + 8) != 0)
				replies_failed++;
		} else if (!strncmp(l, "#exit ", 6)) {
			codex_test_exit(s, atoi(l + 6) << 8);
		} else if (l[0] != '#') {
			codex_test_line(s, l, (size_t)n);
		}
	}
	free(l);
	fclose(f);
}

/* The n-th line (0-based) the adapter wrote, or "". Static buffer. */
static const char *written(const buf_t *out, int n)
{
	static char lb[65536];
	const char *p = out->p, *end = out->p + out->len;
	lb[0] = 0;
	for (int i = 0; p && p < end; i++) {
		const char *nl = memchr(p, '\n', (size_t)(end - p));
		size_t l = nl ? (size_t)(nl - p) : (size_t)(end - p);
		if (i == n) {
			snprintf(lb, sizeof lb, "%.*s", (int)l, p);
			break;
		}
		p = nl ? nl + 1 : end;
	}
	return lb;
}

static int nwritten(const buf_t *out)
{
	int n = 0;
	for (size_t i = 0; i < out->len; i++)
		n += out->p[i] == '\n';
	return n;
}

static const char *last_written(const buf_t *out)
{
	return written(out, nwritten(out) - 1);
}

/* Every written line is one JSON object. */
static void check_written_json(const buf_t *out)
{
	int n = nwritten(out);
	for (int i = 0; i < n; i++) {
		const char *l = written(out, i);
		int r = json_parse(l, strlen(l), tk, NTOK);
		CHECK(r > 0 && tk[0].type == JSON_OBJECT);
	}
}

#define HANDSHAKE "session.started(S)\n"

/* ---- scenarios ---- */

static void test_text(void)
{
	buf_t *out = new_out();
	session *s = new_session("default", "build", "gpt-5.5", out);
	CHECK(strstr(written(out, 0), "\"method\":\"initialize\"") != NULL);
	CHECK(strstr(written(out, 0), "\"name\":\"sandbox-agent\"") != NULL);
	CHECK(strstr(written(out, 0), "optOutNotificationMethods") != NULL);
	feed(s, "text");
	CHECK_STR(written(out, 1), "{\"method\":\"initialized\"}");
	CHECK_STR(written(out, 2), "{\"id\":2,\"method\":\"thread/start\",\"params\":"
		"{\"model\":\"gpt-5.5\",\"cwd\":\"/tmp\"}}");
	CHECK_STR(written(out, 3), "{\"id\":3,\"method\":\"turn/start\",\"params\":"
		"{\"threadId\":\"01a216b2-2d18-7e10-b797-a4279892016c\",\"input\":[{\"type\":\"text\","
		"\"text\":\"say hi\",\"text_elements\":[]}],\"model\":\"gpt-5.5\"}}");
	CHECK_STR(s->native_id, "01a216b2-2d18-7e10-b797-a4279892016c");
	CHECK_SEQ(s, 0, HANDSHAKE
		"turn.started\n"
		"item.started message/user in_progress itm_1 [text:say hi]\n"
		"item.completed message/user completed itm_1 [text:say hi]\n"
		"item.started message/assistant in_progress itm_2\n"
		"item.delta itm_2 Hello f\n"
		"item.delta itm_2 rom mock\n"
		"item.completed message/assistant completed itm_2 [text:Hello from mock]\n"
		"turn.ended completed\n");
	/* every event carries the thread as its native session id, and raw */
	CHECK_STR(field(s, 1, "native_session_id"), "01a216b2-2d18-7e10-b797-a4279892016c");
	CHECK_STR(field(s, 1, "data.turn_id"), "01a216b2-2d36-7d10-9ec9-400e8c02062a");
	CHECK_STR(field(s, 1, "raw.method"), "turn/started");
	CHECK_STR(field(s, 8, "data.metadata.tokenUsage.total.totalTokens"), "15");
	CHECK_STR(field(s, 8, "data.metadata.durationMs"), "76");
	CHECK(!s->busy);
	check_written_json(out);
}

static void test_reasoning(void)
{
	buf_t *out = new_out();
	session *s = new_session("default", "build", "gpt-5.5", out);
	feed(s, "reasoning");
	CHECK_SEQ(s, 0, HANDSHAKE
		"turn.started\n"
		"item.started message/user in_progress itm_1 [text:say hi]\n"
		"item.completed message/user completed itm_1 [text:say hi]\n"
		"item.started message/assistant in_progress itm_2\n"
		"item.delta itm_2 Considering how to greet.\n"
		"item.completed message/assistant completed itm_2 [reasoning:Considering how to greet.]\n"
		"item.started message/assistant in_progress itm_3\n"
		"item.delta itm_3 Hello afte\n"
		"item.delta itm_3 r reasoning\n"
		"item.completed message/assistant completed itm_3 [text:Hello after reasoning]\n"
		"turn.ended completed\n");
	CHECK_STR(field(s, 6, "data.item.content.0.visibility"), "public");
	CHECK_STR(field(s, 5, "data.native_item_id"), "rs_mock_45f9988c");
}

static void test_multiturn_and_resume(void)
{
	buf_t *out = new_out();
	session *s = new_session("default", "build", "gpt-5.5", out);
	feed(s, "multiturn");
	CHECK_SEQ(s, 0, HANDSHAKE
		"turn.started\n"
		"item.started message/user in_progress itm_1 [text:first question]\n"
		"item.completed message/user completed itm_1 [text:first question]\n"
		"item.started message/assistant in_progress itm_2\n"
		"item.delta itm_2 First \n"
		"item.delta itm_2 answer\n"
		"item.completed message/assistant completed itm_2 [text:First answer]\n"
		"turn.ended completed\n"
		"turn.started\n"
		"item.started message/user in_progress itm_3 [text:second question]\n"
		"item.completed message/user completed itm_3 [text:second question]\n"
		"item.started message/assistant in_progress itm_4\n"
		"item.delta itm_4 Second\n"
		"item.delta itm_4  answer\n"
		"item.completed message/assistant completed itm_4 [text:Second answer]\n"
		"turn.ended completed\n");
	CHECK(strstr(written(out, 4), "second question") != NULL);
	/* the app-server dies while idle: nothing recorded; the next message
	 * starts a new one that resumes the thread */
	size_t mark = s->nev;
	int before = nwritten(out);
	codex_test_exit(s, 9); /* SIGKILL */
	CHECK_INT((int)s->nev, (int)mark);
	CHECK(!s->ended);
	feed(s, "resume");
	CHECK(strstr(written(out, before), "\"method\":\"initialize\"") != NULL);
	CHECK_STR(written(out, before + 2), "{\"id\":2,\"method\":\"thread/resume\",\"params\":"
		"{\"threadId\":\"01a216bd-11fe-72f1-9501-0570d2dddef2\",\"excludeTurns\":true,"
		"\"model\":\"gpt-5.5\",\"cwd\":\"/tmp\"}}");
	CHECK(strstr(written(out, before + 3), "\"id\":3,\"method\":\"turn/start\"") != NULL);
	CHECK(strstr(written(out, before + 3), "third question") != NULL);
	CHECK_SEQ(s, mark,
		"turn.started\n"
		"item.started message/user in_progress itm_5 [text:third question]\n"
		"item.completed message/user completed itm_5 [text:third question]\n"
		"item.started message/assistant in_progress itm_6\n"
		"item.delta itm_6 Third \n"
		"item.delta itm_6 answer\n"
		"item.completed message/assistant completed itm_6 [text:Third answer]\n"
		"turn.ended completed\n");
	CHECK_STR(s->native_id, "01a216bd-11fe-72f1-9501-0570d2dddef2");
}

static void test_exec_approval(void)
{
	buf_t *out = new_out();
	session *s = new_session("plan", "build", "gpt-5.5", out);
	replies_failed = 0;
	feed(s, "exec-approval");
	CHECK_INT(replies_failed, 0);
	CHECK(strstr(written(out, 2), "\"approvalPolicy\":\"untrusted\",\"sandbox\":\"read-only\"") != NULL);
	CHECK(strstr(written(out, 3), "\"sandboxPolicy\":{\"type\":\"readOnly\"}") != NULL);
	CHECK_STR(written(out, 4), "{\"id\":0,\"result\":{\"decision\":\"accept\"}}");
	CHECK_SEQ(s, 0, HANDSHAKE
		"turn.started\n"
		"item.started message/user in_progress itm_1 [text:write f.txt]\n"
		"item.completed message/user completed itm_1 [text:write f.txt]\n"
		"item.started tool_call/assistant in_progress itm_2 [tool_call:commandExecution]\n"
		"item.completed tool_call/assistant completed itm_2 [tool_call:commandExecution]\n"
		"item.started tool_result/tool in_progress itm_3<itm_2 [tool_result:]\n"
		"permission.requested 0 commandExecution requested\n"
		"permission.resolved(S) 0 commandExecution accept\n"
		"item.completed tool_result/tool completed itm_3<itm_2 [tool_result:hi|] [json]\n"
		"item.started message/assistant in_progress itm_4\n"
		"item.delta itm_4 Done: wr\n"
		"item.delta itm_4 ote f.txt\n"
		"item.completed message/assistant completed itm_4 [text:Done: wrote f.txt]\n"
		"turn.ended completed\n");
	/* metadata of spec 7.3 */
	CHECK_STR(field(s, 7, "data.metadata.codexRequestKind"), "commandExecution");
	CHECK_STR(field(s, 7, "data.metadata.codexRequestId"), "0");
	CHECK_STR(field(s, 7, "data.metadata.itemId"), "call_mock_97120a77");
	CHECK_STR(field(s, 7, "data.metadata.turnId"), "01a216b2-371c-7080-b92d-ef2234785838");
	CHECK_STR(field(s, 7, "data.metadata.command"), "/bin/bash -lc 'echo hi > f.txt && cat f.txt'");
	CHECK_STR(field(s, 7, "raw.method"), "item/commandExecution/requestApproval");
	CHECK_STR(field(s, 4, "data.item.content.0.arguments"),
		"{\"command\":\"/bin/bash -lc 'echo hi > f.txt && cat f.txt'\","
		"\"cwd\":\"/sandbox/work/codex-appserver-exec-approval\"}");
	CHECK_STR(field(s, 4, "data.item.content.0.call_id"), "call_mock_97120a77");
	CHECK_STR(field(s, 6, "data.item.native_item_id"), "call_mock_97120a77");
	CHECK_STR(field(s, 9, "data.item.content.1.json.exitCode"), "0");
	CHECK_INT(s->nperms, 0);
}

static void test_exec_decline_and_always(void)
{
	buf_t *out = new_out();
	session *s = new_session("plan", "build", "gpt-5.5", out);
	replies_failed = 0;
	feed(s, "exec-decline");
	CHECK_INT(replies_failed, 0);
	CHECK_STR(written(out, 4), "{\"id\":0,\"result\":{\"decision\":\"decline\"}}");
	char *sq = summaries(s, 0);
	CHECK(strstr(sq, "permission.resolved(S) 0 commandExecution reject\n"
		"item.completed tool_result/tool failed itm_3<itm_2 [tool_result:] [json]\n") != NULL);
	free(sq);

	buf_t *out2 = new_out();
	session *a = new_session("plan", "build", "gpt-5.5", out2);
	feed(a, "exec-acceptForSession");
	CHECK_STR(written(out2, 4), "{\"id\":0,\"result\":{\"decision\":\"acceptForSession\"}}");
	/* a second command approval in the session: answered at once */
	size_t mark = a->nev;
	send_msg(a, "again", NULL);
	line(a, "{\"id\":4,\"result\":{\"turn\":{\"id\":\"t2\"}}}");
	line(a, "{\"method\":\"item/commandExecution/requestApproval\",\"id\":1,\"params\":"
		"{\"threadId\":\"01a216b2-6254-7602-9e21-e2c3b4cce6ad\",\"turnId\":\"t2\",\"itemId\":\"c2\","
		"\"command\":\"/bin/bash -lc 'rm x'\",\"cwd\":\"/tmp\"}}");
	CHECK_SEQ(a, mark,
		"permission.requested 1 commandExecution requested\n"
		"permission.resolved(S) 1 commandExecution accept_for_session\n");
	CHECK_STR(last_written(out2), "{\"id\":1,\"result\":{\"decision\":\"acceptForSession\"}}");
	CHECK_INT(a->nperms, 0);
}

static void test_exec_output(void)
{
	buf_t *out = new_out();
	session *s = new_session("default", "build", "gpt-5.5", out);
	feed(s, "exec-output-delta");
	char *sq = summaries(s, 0);
	CHECK(strstr(sq, "item.started tool_result/tool in_progress itm_3<itm_2 [tool_result:]\n"
		"item.delta itm_3 line2|\n"
		"item.delta itm_3 line3|\n"
		"item.completed tool_result/tool completed itm_3<itm_2 [tool_result:line1|line2|line3|] [json]\n")
		!= NULL);
	free(sq);
	buf_t *out2 = new_out();
	session *f = new_session("default", "build", "gpt-5.5", out2);
	feed(f, "exec-nonzero-exit");
	sq = summaries(f, 0);
	CHECK(strstr(sq, "item.completed tool_result/tool failed itm_3<itm_2") != NULL);
	free(sq);
	size_t n = f->nev;
	for (size_t i = 0; i < n; i++)
		if (!strcmp(field(f, i, "type"), "item.completed") &&
				!strcmp(field(f, i, "data.item.kind"), "tool_result"))
			CHECK_STR(field(f, i, "data.item.content.1.json.exitCode"), "2");
}

static void test_patch(void)
{
	buf_t *out = new_out();
	session *s = new_session("default", "build", "gpt-5.5", out);
	feed(s, "patch-approval");
	CHECK_SEQ(s, 0, HANDSHAKE
		"turn.started\n"
		"item.started message/user in_progress itm_1 [text:patch]\n"
		"item.completed message/user completed itm_1 [text:patch]\n"
		"item.started tool_call/assistant in_progress itm_2 [tool_call:fileChange] [file_ref:write:p.txt]\n"
		"item.completed tool_call/assistant completed itm_2 [tool_call:fileChange] [file_ref:write:p.txt]\n"
		"item.started tool_result/tool in_progress itm_3<itm_2 [tool_result:] [file_ref:write:p.txt]\n"
		"permission.requested 0 fileChange requested\n"
		"permission.resolved(S) 0 fileChange accept\n"
		"item.completed tool_result/tool completed itm_3<itm_2 [tool_result:completed] [file_ref:write:p.txt]\n"
		"item.started message/assistant in_progress itm_4\n"
		"item.delta itm_4 Patche\n"
		"item.delta itm_4 d p.txt\n"
		"item.completed message/assistant completed itm_4 [text:Patched p.txt]\n"
		"turn.ended completed\n");
	CHECK_STR(field(s, 4, "data.item.content.1.diff"), "patched line\n");
	CHECK_STR(field(s, 4, "data.item.content.0.arguments"),
		"{\"changes\":[{\"path\":\"/sandbox/work/codex-appserver-patch-approval/p.txt\","
		"\"kind\":\"add\"}]}");
	CHECK_STR(field(s, 7, "data.metadata.grantRoot"), "");
	CHECK_STR(field(s, 7, "data.metadata.itemId"), "call_mock_92163ee0");

	/* acceptEdits: the request is hidden and accepted for the session */
	buf_t *out2 = new_out();
	session *a = new_session("acceptEdits", "build", "gpt-5.5", out2);
	replies_failed = 0;
	feed(a, "patch-approval");
	CHECK_INT(replies_failed, 1); /* nothing was pending for the client */
	char *sq = summaries(a, 0);
	CHECK(strstr(sq, "item.started tool_result/tool in_progress itm_3<itm_2 [tool_result:] "
		"[file_ref:write:p.txt]\npermission.resolved(S) 0 fileChange accept_for_session\n"
		"item.completed tool_result/tool completed") != NULL);
	CHECK(strstr(sq, "permission.requested") == NULL);
	free(sq);
	CHECK_STR(written(out2, 4), "{\"id\":0,\"result\":{\"decision\":\"acceptForSession\"}}");
	CHECK_INT(a->nperms, 0);

	buf_t *out3 = new_out();
	session *d = new_session("default", "build", "gpt-5.5", out3);
	feed(d, "patch-decline");
	sq = summaries(d, 0);
	CHECK(strstr(sq, "permission.resolved(S) 0 fileChange reject\n"
		"item.completed tool_result/tool failed itm_3<itm_2 [tool_result:declined] "
		"[file_ref:write:p.txt]\n") != NULL);
	free(sq);
}

static void test_mcp(void)
{
	buf_t *out = new_out();
	session *s = new_session("default", "build", "gpt-5.5", out);
	feed(s, "mcp-toolcall-approval");
	CHECK_STR(written(out, 4), "{\"id\":0,\"result\":{\"action\":\"accept\",\"content\":{},"
		"\"_meta\":null}}");
	char *sq = summaries(s, 0);
	CHECK(strstr(sq,
		"item.started tool_call/assistant in_progress itm_3 [tool_call:echo.echo]\n"
		"item.completed tool_call/assistant completed itm_3 [tool_call:echo.echo]\n"
		"item.started tool_result/tool in_progress itm_4<itm_3 [tool_result:]\n"
		"permission.requested 0 mcpToolCall requested\n"
		"permission.resolved(S) 0 mcpToolCall accept\n"
		"item.completed tool_result/tool completed itm_4<itm_3 [tool_result:echo: ping]\n") != NULL);
	/* the warning came before the turn */
	CHECK(strstr(sq, "session.started(S)\n"
		"item.started(S) status/system in_progress itm_1 [status:codex.warning:Model metadata "
		"for `mock-model` not found. Defaulting to fal...]\n") != NULL);
	free(sq);
	for (size_t i = 0; i < s->nev; i++) {
		if (!strcmp(field(s, i, "type"), "permission.requested")) {
			CHECK_STR(field(s, i, "data.metadata.toolName"), "echo");
			CHECK_STR(field(s, i, "data.metadata.serverName"), "echo");
			CHECK_STR(field(s, i, "data.metadata.toolParams.text"), "ping");
		}
		if (!strcmp(field(s, i, "type"), "item.completed") &&
				!strcmp(field(s, i, "data.item.kind"), "tool_call"))
			CHECK_STR(field(s, i, "data.item.content.0.arguments"), "{\"text\":\"ping\"}");
	}
	/* approval policy "never": the call fails */
	buf_t *out2 = new_out();
	session *f = new_session("bypass", "build", "gpt-5.5", out2);
	feed(f, "mcp-toolcall");
	sq = summaries(f, 0);
	CHECK(strstr(sq, "item.completed tool_result/tool failed itm_4<itm_3 [tool_result:MCP tool call "
		"requires approval, but app...]\n") != NULL);
	free(sq);
}

static void test_user_input(void)
{
	buf_t *out = new_out();
	session *s = new_session("default", "plan", "gpt-5.5", out);
	replies_failed = 0;
	feed(s, "request-user-input");
	CHECK_INT(replies_failed, 0);
	CHECK(strstr(written(out, 3), "\"text\":\"Make a plan before acting.\\n\\nask me\"") != NULL);
	CHECK_STR(written(out, 4), "{\"id\":0,\"result\":{\"answers\":{\"color\":{\"answers\":"
		"[\"Blue\"]}}}}");
	CHECK_SEQ(s, 0, HANDSHAKE
		"turn.started\n"
		"item.started message/user in_progress itm_1 [text:ask me]\n"
		"item.completed message/user completed itm_1 [text:ask me]\n"
		"question.requested 0 Which color should I use? [\"Red (Recommended)\",\"Blue\"] requested\n"
		"question.resolved(S) 0 Which color should I use? [\"Red (Recommended)\",\"Blue\"] answered\n"
		"item.started message/assistant in_progress itm_2\n"
		"item.delta itm_2 Thanks for\n"
		"item.delta itm_2  answering.\n"
		"item.completed message/assistant completed itm_2 [text:Thanks for answering.]\n"
		"turn.ended completed\n");
	/* rejected: no answers */
	buf_t *out2 = new_out();
	session *r = new_session("default", "build", "gpt-5.5", out2);
	line(r, "{\"id\":1,\"result\":{}}");
	line(r, "{\"id\":2,\"result\":{\"thread\":{\"id\":\"th\"}}}");
	send_msg(r, "ask", NULL);
	line(r, "{\"method\":\"item/tool/requestUserInput\",\"id\":7,\"params\":{\"threadId\":\"th\","
		"\"turnId\":\"t\",\"itemId\":\"i\",\"questions\":[{\"id\":\"a\",\"header\":\"A\",\"question\":"
		"\"Q1?\",\"options\":[{\"label\":\"x\",\"description\":\"\"}]},{\"id\":\"b\",\"header\":\"B\","
		"\"question\":\"Q2?\",\"options\":null}],\"isBlocking\":true}}");
	CHECK_INT(r->nquestions, 1);
	CHECK_INT(reply_q(r, "7", "[[\"x\"],[\"free text\",\"more\"]]"), 0);
	CHECK_STR(last_written(out2), "{\"id\":7,\"result\":{\"answers\":{\"a\":{\"answers\":[\"x\"]},"
		"\"b\":{\"answers\":[\"free text\",\"more\"]}}}}");
	line(r, "{\"method\":\"item/tool/requestUserInput\",\"id\":8,\"params\":{\"threadId\":\"th\","
		"\"turnId\":\"t\",\"itemId\":\"i\",\"questions\":[{\"id\":\"a\",\"header\":\"A\",\"question\":"
		"\"Q1?\"}],\"isBlocking\":true}}");
	CHECK_INT(reply_q(r, "8", NULL), 0);
	CHECK_STR(last_written(out2), "{\"id\":8,\"result\":{\"answers\":{}}}");
}

static void test_elicitation_form(void)
{
	buf_t *out = new_out();
	session *s = new_session("default", "build", NULL, out);
	line(s, "{\"id\":1,\"result\":{}}");
	CHECK_STR(written(out, 2), "{\"id\":2,\"method\":\"thread/start\",\"params\":{\"cwd\":\"/tmp\"}}");
	line(s, "{\"id\":2,\"result\":{\"thread\":{\"id\":\"th\"}}}");
	send_msg(s, "go", NULL);
	line(s, "{\"method\":\"mcpServer/elicitation/request\",\"id\":3,\"params\":{\"threadId\":\"th\","
		"\"serverName\":\"db\",\"mode\":\"form\",\"message\":\"Pick a table\",\"requestedSchema\":"
		"{\"type\":\"object\",\"properties\":{\"table\":{\"type\":\"string\",\"enum\":[\"a\",\"b\"]}}}}}");
	line(s, "{\"method\":\"mcpServer/elicitation/request\",\"id\":\"e4\",\"params\":{\"threadId\":\"th\","
		"\"serverName\":\"db\",\"mode\":\"form\",\"message\":\"Go on?\",\"requestedSchema\":"
		"{\"type\":\"object\",\"properties\":{}}}}");
	line(s, "{\"method\":\"mcpServer/elicitation/request\",\"id\":5,\"params\":{\"threadId\":\"th\","
		"\"serverName\":\"db\",\"mode\":\"form\",\"message\":\"Rows?\",\"requestedSchema\":"
		"{\"type\":\"object\",\"properties\":{\"n\":{\"type\":\"integer\"}}}}}");
	CHECK_SEQ(s, 1,
		"question.requested 3 Pick a table [\"a\",\"b\"] requested\n"
		"question.requested e4 Go on? [\"Accept\",\"Decline\"] requested\n"
		"question.requested 5 Rows? [] requested\n");
	CHECK_INT(reply_q(s, "3", "[[\"b\"]]"), 0);
	CHECK_STR(last_written(out), "{\"id\":3,\"result\":{\"action\":\"accept\",\"content\":"
		"{\"table\":\"b\"},\"_meta\":null}}");
	CHECK_INT(reply_q(s, "e4", "[[\"Decline\"]]"), 0);
	CHECK_STR(last_written(out), "{\"id\":\"e4\",\"result\":{\"action\":\"decline\",\"content\":"
		"null,\"_meta\":null}}");
	CHECK_INT(reply_q(s, "5", "[[\"42\"]]"), 0);
	CHECK_STR(last_written(out), "{\"id\":5,\"result\":{\"action\":\"accept\",\"content\":"
		"{\"n\":42},\"_meta\":null}}");
}

static void test_interrupts(void)
{
	buf_t *out = new_out();
	session *s = new_session("default", "build", "gpt-5.5", out);
	feed(s, "interrupt");
	/* no item/completed for the partial message: completed failed with
	 * the streamed text when the turn ends */
	char *sq = summaries(s, 0);
	CHECK(strstr(sq, "item.delta itm_2  three\n"
		"item.completed(S) message/assistant failed itm_2 [text:one two three]\n"
		"turn.ended interrupted\n"
		"turn.started\n") != NULL);
	free(sq);
	CHECK(!s->busy);

	buf_t *out2 = new_out();
	session *p = new_session("plan", "build", "gpt-5.5", out2);
	replies_failed = 0;
	feed(p, "interrupt-while-approval-pending");
	CHECK_INT(replies_failed, 1); /* withdrawn before the late reply */
	sq = summaries(p, 0);
	CHECK(strstr(sq, "permission.requested 0 commandExecution requested\n"
		"item.completed(S) tool_result/tool failed itm_3<itm_2 [tool_result:]\n"
		"turn.ended interrupted\n"
		"permission.resolved(S) 0 commandExecution reject\n") != NULL);
	free(sq);
	CHECK_INT(p->nperms, 0);
}

static void test_terminate(void)
{
	buf_t *out = new_out();
	session *s = new_session("default", "build", "gpt-5.5", out);
	line(s, "{\"id\":1,\"result\":{}}");
	line(s, "{\"id\":2,\"result\":{\"thread\":{\"id\":\"th\"}}}");
	send_msg(s, "count", NULL);
	line(s, "{\"id\":3,\"result\":{\"turn\":{\"id\":\"tu\"}}}");
	line(s, "{\"method\":\"turn/started\",\"params\":{\"threadId\":\"th\",\"turn\":{\"id\":\"tu\"}}}");
	line(s, "{\"method\":\"item/started\",\"params\":{\"threadId\":\"th\",\"item\":{\"type\":"
		"\"agentMessage\",\"id\":\"m1\",\"text\":\"\"}}}");
	line(s, "{\"method\":\"item/agentMessage/delta\",\"params\":{\"threadId\":\"th\",\"itemId\":"
		"\"m1\",\"delta\":\"one\"}}");
	size_t mark = s->nev;
	agent_codex.terminate(s);
	sess_end(s, "terminated", "daemon", NULL, false, 0, NULL);
	CHECK_STR(last_written(out), "{\"id\":4,\"method\":\"turn/interrupt\",\"params\":"
		"{\"threadId\":\"th\",\"turnId\":\"tu\"}}");
	CHECK_SEQ(s, mark,
		"item.completed(S) message/assistant failed itm_1 [text:one]\n"
		"turn.ended(S) interrupted\n"
		"session.ended(S) terminated daemon\n");
	/* terminated before codex started the turn: no turn.ended */
	buf_t *o2 = new_out();
	session *h = new_session("default", "build", "gpt-5.5", o2);
	send_msg(h, "early", NULL);
	size_t hm = h->nev;
	agent_codex.terminate(h);
	CHECK_INT((int)h->nev, (int)hm);
	/* late lines are ignored */
	line(s, "{\"method\":\"turn/completed\",\"params\":{\"threadId\":\"th\",\"turn\":{\"id\":\"tu\"}}}");
	CHECK_INT((int)s->nev, (int)mark + 3);
}

static void test_errors(void)
{
	buf_t *out = new_out();
	session *s = new_session("default", "build", "gpt-5.5", out);
	feed(s, "error-http401");
	CHECK_SEQ(s, 0, HANDSHAKE
		"turn.started\n"
		"item.started message/user in_progress itm_1 [text:hi]\n"
		"item.completed message/user completed itm_1 [text:hi]\n"
		"error null unexpected status 401 Unauthorized: invalid x-api-key (mock)...\n"
		"turn.ended failed\n");
	CHECK_STR(field(s, 4, "data.details.willRetry"), "false");
	CHECK_STR(field(s, 4, "data.details.error.codexErrorInfo.httpConnectionFailed.httpStatusCode"),
		"401");
	CHECK(!s->busy);

	buf_t *out2 = new_out();
	session *r = new_session("default", "build", "gpt-5.5", out2);
	feed(r, "error-http500-retries");
	CHECK_SEQ(r, 0, HANDSHAKE
		"turn.started\n"
		"item.started message/user in_progress itm_1 [text:hi]\n"
		"item.completed message/user completed itm_1 [text:hi]\n"
		"item.started(S) status/system in_progress itm_2 [status:codex.retry:Reconnecting... "
		"1/1: We’re currently experiencing high dem...]\n"
		"item.completed status/system completed itm_2 [status:codex.retry:Reconnecting... "
		"1/1: We’re currently experiencing high dem...]\n"
		"error null We’re currently experiencing high demand, which may cause ...\n"
		"turn.ended failed\n");

	/* a JSON-RPC error to turn/start; a rejected model is dropped */
	buf_t *out3 = new_out();
	session *m = new_session("default", "build", "gpt-5.3-codex", out3);
	line(m, "{\"id\":1,\"result\":{}}");
	line(m, "{\"id\":2,\"result\":{\"thread\":{\"id\":\"th\"}}}");
	send_msg(m, "hi", NULL);
	line(m, "{\"id\":3,\"error\":{\"code\":-32600,\"message\":\"The requested model "
		"'gpt-5.3-codex' does not exist.\"}}");
	CHECK_SEQ(m, 1,
		"item.started(S) status/system in_progress itm_1 [status:codex.model.unavailable:Model "
		"'gpt-5.3-codex' was rejected by provider; falling back...]\n"
		"item.completed(S) status/system completed itm_1 [status:codex.model.unavailable:Model "
		"'gpt-5.3-codex' was rejected by provider; falling back...]\n"
		"error jsonrpc.error The requested model 'gpt-5.3-codex' does not exist.\n");
	CHECK(m->model == NULL);
	CHECK(!m->busy);
	CHECK_STR(field(m, 3, "data.details.code"), "-32600");
	send_msg(m, "again", NULL);
	CHECK(strstr(last_written(out3), "\"model\"") == NULL);
}

static void test_protocol(void)
{
	buf_t *out = new_out();
	session *s = new_session("default", "build", "gpt-5.5", out);
	line(s, "{\"id\":1,\"result\":{}}");
	line(s, "{\"id\":2,\"result\":{\"thread\":{\"id\":\"th\"}}}");
	line(s, "this is not json");
	line(s, "[1,2]");
	line(s, "{\"hello\":1}");
	line(s, "{\"id\":99,\"result\":{}}");                   /* unknown id: ignored */
	line(s, "{\"method\":\"account/updated\",\"params\":{}}"); /* nothing universal */
	line(s, "{\"method\":\"item/agentMessage/delta\",\"params\":{\"itemId\":\"nope\",\"delta\":\"x\"}}");
	line(s, "{\"method\":\"item/tool/call\",\"id\":5,\"params\":{\"threadId\":\"th\"}}");
	CHECK_SEQ(s, 1,
		"agent.unparsed(S) invalid JSON from codex: invalid JSON\n"
		"agent.unparsed(S) codex line is not a JSON object\n"
		"agent.unparsed(S) not a JSON-RPC message\n"
		"agent.unparsed(S) unsupported codex server request: item/tool/call\n");
	CHECK_STR(last_written(out), "{\"id\":5,\"error\":{\"code\":-32601,\"message\":"
		"\"not supported by sandbox-agent\"}}");
	CHECK_STR(field(s, 1, "raw"), "this is not json");
	CHECK_STR(field(s, 4, "raw.method"), "item/tool/call");
	/* an id used again: the first request is withdrawn */
	line(s, "{\"method\":\"mcpServer/elicitation/request\",\"id\":9,\"params\":{\"threadId\":"
		"\"th\",\"message\":\"Sure?\"}}");
	line(s, "{\"method\":\"item/fileChange/requestApproval\",\"id\":9,\"params\":{\"threadId\":"
		"\"th\",\"itemId\":\"f\"}}");
	CHECK_SEQ(s, 5,
		"question.requested 9 Sure? [\"Accept\",\"Decline\"] requested\n"
		"question.resolved(S) 9 Sure? [\"Accept\",\"Decline\"] rejected\n"
		"permission.requested 9 fileChange requested\n");
	CHECK_INT(s->nquestions, 0);
	CHECK_INT(s->nperms, 1);
	CHECK_INT(reply_perm(s, "9", REPLY_ONCE), 0);
	CHECK_STR(last_written(out), "{\"id\":9,\"result\":{\"decision\":\"accept\"}}");
	/* other threads' notifications are not this session's */
	size_t before_other = s->nev;
	line(s, "{\"method\":\"turn/started\",\"params\":{\"threadId\":\"other\",\"turn\":{\"id\":\"x\"}}}");
	CHECK_INT((int)s->nev, (int)before_other);
	/* the thread could not be resumed: a new one, said so */
	buf_t *out2 = new_out();
	session *r = new_session("bypass", "build", "gpt-5.5", out2);
	line(r, "{\"id\":1,\"result\":{}}");
	line(r, "{\"id\":2,\"result\":{\"thread\":{\"id\":\"th1\"}}}");
	send_msg(r, "one", NULL);
	line(r, "{\"method\":\"turn/completed\",\"params\":{\"threadId\":\"th1\",\"turn\":{\"id\":\"t\","
		"\"status\":\"completed\"}}}");
	codex_test_exit(r, 0);
	int before = nwritten(out2);
	send_msg(r, "two", NULL);
	line(r, "{\"id\":1,\"result\":{}}");
	CHECK(strstr(written(out2, before + 2), "thread/resume") != NULL);
	CHECK(strstr(written(out2, before + 2), "\"approvalPolicy\":\"never\",\"sandbox\":"
		"\"danger-full-access\"") != NULL);
	line(r, "{\"id\":2,\"error\":{\"code\":-32600,\"message\":\"no rollout found for thread id th1\"}}");
	CHECK(strstr(written(out2, before + 3), "\"id\":3,\"method\":\"thread/start\"") != NULL);
	line(r, "{\"id\":3,\"result\":{\"thread\":{\"id\":\"th2\"}}}");
	CHECK(strstr(written(out2, before + 4), "\"threadId\":\"th2\"") != NULL);
	CHECK(strstr(written(out2, before + 4), "\"text\":\"two\"") != NULL);
	CHECK_STR(r->native_id, "th2");
	char *sq = summaries(r, 0);
	CHECK(strstr(sq, "status:codex.thread.restarted:thread th1 could not be resumed") != NULL);
	free(sq);
}

static void test_process_death(void)
{
	/* died before answering the message: started again, message resent */
	buf_t *out = new_out();
	session *s = new_session("default", "build", "gpt-5.5", out);
	line(s, "{\"id\":1,\"result\":{}}");
	line(s, "{\"id\":2,\"result\":{\"thread\":{\"id\":\"th\"}}}");
	send_msg(s, "hello", NULL);
	int before = nwritten(out);
	codex_test_exit(s, 9);
	CHECK(!s->ended);
	CHECK(strstr(written(out, before), "\"method\":\"initialize\"") != NULL);
	line(s, "{\"id\":1,\"result\":{}}");
	CHECK(strstr(written(out, before + 2), "\"method\":\"thread/start\"") != NULL);
	line(s, "{\"id\":2,\"result\":{\"thread\":{\"id\":\"th\"}}}");
	CHECK(strstr(written(out, before + 3), "\"text\":\"hello\"") != NULL);
	/* dies mid-turn: server_exit, the session ends */
	line(s, "{\"id\":3,\"result\":{\"turn\":{\"id\":\"tu\"}}}");
	line(s, "{\"method\":\"item/started\",\"params\":{\"threadId\":\"th\",\"item\":{\"type\":"
		"\"commandExecution\",\"id\":\"c1\",\"command\":\"sleep 9\",\"cwd\":\"/tmp\"}}}");
	line(s, "{\"method\":\"item/commandExecution/requestApproval\",\"id\":0,\"params\":{\"threadId\":"
		"\"th\",\"turnId\":\"tu\",\"itemId\":\"c1\",\"command\":\"sleep 9\"}}");
	size_t mark = s->nev;
	codex_test_exit(s, 2 << 8);
	CHECK_SEQ(s, mark,
		"permission.resolved(S) 0 commandExecution reject\n"
		"item.completed(S) tool_result/tool failed itm_2<itm_1 [tool_result:]\n"
		"error(S) server_exit agent server exited with status 2\n"
		"session.ended(S) error daemon\n");
	CHECK(s->ended);
	CHECK_STR(field(s, mark + 2, "data.details.exit_code"), "2");
	CHECK_STR(field(s, mark + 3, "data.exit_code"), "2");
	agent_err e = {0};
	CHECK(agent_codex.send(s, "x", 1, NULL, &e) == 0 || s->ended);
}

static void test_input(void)
{
	char dir[] = "/tmp/codex-unit-XXXXXX";
	CHECK(mkdtemp(dir) != NULL);
	char img[64];
	snprintf(img, sizeof img, "%s/shot.png", dir);
	FILE *f = fopen(img, "w");
	CHECK(f != NULL);
	if (f) {
		fputs("png", f);
		fclose(f);
	}
	buf_t *out = new_out();
	session *s = new_session("default", "plan", "default", out);
	free(s->directory);
	s->directory = xstrdup(dir);
	line(s, "{\"id\":1,\"result\":{}}");
	line(s, "{\"id\":2,\"result\":{\"thread\":{\"id\":\"th\"}}}");
	send_msg(s, "look", "[{\"path\":\"shot.png\"},{\"path\":\"missing.png\"},"
		"{\"path\":\"notes.txt\",\"mime\":\"text/plain\"}]");
	char want[512];
	snprintf(want, sizeof want, "{\"id\":3,\"method\":\"turn/start\",\"params\":{\"threadId\":\"th\","
		"\"input\":[{\"type\":\"text\",\"text\":\"Make a plan before acting.\\n\\nlook\","
		"\"text_elements\":[]},{\"type\":\"localImage\",\"path\":\"%s\"}]}}", img);
	CHECK_STR(last_written(out), want);
	/* the user item echoes the images */
	line(s, "{\"method\":\"item/completed\",\"params\":{\"threadId\":\"th\",\"item\":{\"type\":"
		"\"userMessage\",\"id\":\"u\",\"content\":[{\"type\":\"text\",\"text\":\"look\"},{\"type\":"
		"\"image\",\"url\":\"data:image/png;base64,AAAA\"},{\"type\":\"localImage\",\"path\":"
		"\"/x/shot.JPG\"},{\"type\":\"skill\",\"name\":\"s\",\"path\":\"/p\"}]}}}");
	CHECK_SEQ(s, 1,
		"item.started(S) message/user in_progress itm_1 [text:look] [image:image/png] "
		"[image:image/jpeg] [json]\n"
		"item.completed message/user completed itm_1 [text:look] [image:image/png] "
		"[image:image/jpeg] [json]\n");
	unlink(img);
	rmdir(dir);
}

static void test_model_rejected(void)
{
	char id[160];
	static const char *const m1 = "The requested model 'gpt-5.3-codex' does not exist.";
	static const char *const m2 = "The 'gpt-5.3-codex-NOTREAL' model is not supported when "
		"using Codex with a ChatGPT account.";
	static const char *const m3 = "error sending request for url (https://api.openai.com/v1/"
		"responses): connection refused";
	static const char *const m4 = "using model 'gpt-5.3-codex' for this turn";
	static const char *const m5 = "{\"detail\":\"The requested model \\\"gpt-5.3-codex\\\" does "
		"not exist.\",\"code\":\"model_not_found\"}";
	CHECK(codex_model_rejected(m1, strlen(m1), id, sizeof id));
	CHECK_STR(id, "gpt-5.3-codex");
	CHECK(codex_model_rejected(m2, strlen(m2), id, sizeof id));
	CHECK_STR(id, "gpt-5.3-codex-NOTREAL");
	CHECK(!codex_model_rejected(m3, strlen(m3), id, sizeof id));
	CHECK(!codex_model_rejected(m4, strlen(m4), id, sizeof id));
	CHECK(codex_model_rejected(m5, strlen(m5), id, sizeof id));
	CHECK_STR(id, "gpt-5.3-codex");
}

static void test_mcp_args(void)
{
	char **a = NULL;
	size_t n = 0;
	char why[300] = "";
	CHECK_INT(codex_mcp_args("{\"echo\":{\"type\":\"local\",\"command\":[\"python3\",\"-u\"],"
		"\"args\":[\"s.py\"],\"env\":{\"A\":\"1\",\"B.C\":\"x\\\"y\"},\"timeoutMs\":1500},"
		"\"web\":{\"type\":\"remote\",\"url\":\"http://h/mcp\",\"headers\":{\"X-A\":\"b\"},"
		"\"bearerTokenEnvVar\":\"TOK\",\"envHeaders\":{\"X-B\":\"VAR\"},\"enabled\":false}}",
		&a, &n, why, sizeof why), 0);
	CHECK_INT((int)n, 18);
	const char *want[] = {
		"-c", "mcp_servers.echo.command=\"python3\"",
		"-c", "mcp_servers.echo.args=[\"-u\", \"s.py\"]",
		"-c", "mcp_servers.echo.env={A = \"1\", \"B.C\" = \"x\\\"y\"}",
		"-c", "mcp_servers.echo.tool_timeout_sec=2",
		"-c", "mcp_servers.web.url=\"http://h/mcp\"",
		"-c", "mcp_servers.web.http_headers={X-A = \"b\"}",
		"-c", "mcp_servers.web.env_http_headers={X-B = \"VAR\"}",
		"-c", "mcp_servers.web.bearer_token_env_var=\"TOK\"",
		"-c", "mcp_servers.web.enabled=false",
	};
	for (size_t i = 0; i < n && i < 18; i++)
		CHECK_STR(a[i], want[i]);
	CHECK(a[n] == NULL);
	for (size_t i = 0; i < n; i++)
		free(a[i]);
	free(a);
	a = NULL;
	n = 0;
	CHECK_INT(codex_mcp_args("{\"bad name\":{\"command\":\"x\"}}", &a, &n, why, sizeof why), -1);
	CHECK(strstr(why, "bad name") != NULL);
	CHECK_INT(codex_mcp_args("{\"e\":{\"type\":\"local\",\"command\":[]}}", &a, &n, why,
		sizeof why), -1);
	CHECK_STR(why, "mcp command cannot be empty");
	CHECK_INT(codex_mcp_args("{\"e\":{\"type\":\"ftp\"}}", &a, &n, why, sizeof why), -1);
	for (size_t i = 0; i < n; i++)
		free(a[i]);
	free(a);
}

static void test_agent_facts(void)
{
	CHECK(agent_find("codex") == &agent_codex);
	CHECK_STR(agent_codex.default_model, "default");
	CHECK(agent_codex.caps[CAP_ITEM_STARTED]);
	CHECK(agent_codex.caps[CAP_PLAN_MODE]);
	CHECK(!agent_codex.caps[CAP_QUESTIONS]);
	const char *am, *pm;
	agent_err e = {0};
	CHECK_INT(agent_normalize_modes(&agent_codex, "plan", "acceptEdits", &am, &pm, &e), 0);
	CHECK_STR(pm, "acceptEdits");
}

int main(void)
{
	setenv("SANDBOX_AGENT_LOG", "error", 1);
	test_text();
	test_reasoning();
	test_multiturn_and_resume();
	test_exec_approval();
	test_exec_decline_and_always();
	test_exec_output();
	test_patch();
	test_mcp();
	test_user_input();
	test_elicitation_form();
	test_interrupts();
	test_terminate();
	test_errors();
	test_protocol();
	test_process_death();
	test_input();
	test_model_rejected();
	test_mcp_args();
	test_agent_facts();
	sess_free_all();
	for (int i = 0; i < nouts; i++)
		buf_free(&outs[i]);
	return t_done("codex");
}
