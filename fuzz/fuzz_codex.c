/* fuzz_codex.c - arbitrary codex app-server lines into the Codex adapter
 * (process-less mode, codex.h) on a real session. The first byte picks
 * the permission and agent modes. Lines starting with '#' act instead of
 * the app-server: "#>" sends a message, "#p0" / "#p1" / "#p2" reply once /
 * always / reject to the newest pending permission, "#q" answers and
 * "#r" rejects the newest question, "#x" ends the app-server, "#t"
 * terminates the session.
 * Properties: every stored event is one valid JSON object with sequence =
 * index + 1; an item is started at most once and its deltas and
 * completions follow its start; every line written to the app-server is
 * one JSON object with an id or a method; once the app-server is gone no
 * permission or question stays pending (codex can no longer take the
 * answer). */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "agents/agent.h"
#include "agents/codex.h"
#include "base/strmap.h"
#include "json/json.h"
#include "session/session.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerInitialize(int *argc, char ***argv);

#include "fuzz_events.h"

static void check_written(const buf_t *out)
{
	const char *p = out->p, *end = out->p + out->len;
	while (p && p < end) {
		const char *nl = memchr(p, '\n', (size_t)(end - p));
		REQUIRE(nl != NULL); /* whole lines only */
		int n = json_parse(p, (size_t)(nl - p), tk, NTOK);
		REQUIRE(n > 0 && tk[0].type == JSON_OBJECT);
		REQUIRE(json_obj_get(p, tk, 0, "id") >= 0 || json_obj_get(p, tk, 0, "method") >= 0);
		p = nl + 1;
	}
}

static void reply_perm(session *s, int reply)
{
	if (!s->nperms || s->ended)
		return;
	char *id = strdup(s->perms[s->nperms - 1].id);
	pending_perm *p = sess_find_perm(s, id);
	agent_err e = {0};
	if (agent_codex.reply_permission(s, p, reply, &e) == 0 && (p = sess_find_perm(s, id))) {
		pending_perm t;
		sess_take_perm(s, p, &t);
		if (reply == REPLY_ALWAYS)
			sess_allow_always(s, &t);
		ev_conv c = {.type = EV_PERMISSION_RESOLVED, .synthetic = true};
		c.u.perm.id = t.id;
		c.u.perm.action = t.action;
		c.u.perm.status = reply == REPLY_REJECT ? "reject" : "accept";
		c.u.perm.metadata_json = t.metadata_json;
		sess_record(s, &c);
		sess_free_perm(&t);
	}
	free(id);
}

static void reply_question(session *s, const char *answers)
{
	if (!s->nquestions || s->ended)
		return;
	char *id = strdup(s->questions[s->nquestions - 1].id);
	pending_question *q = sess_find_question(s, id);
	agent_err e = {0};
	if (agent_codex.reply_question(s, q, answers, &e) == 0 && (q = sess_find_question(s, id))) {
		pending_question t;
		sess_take_question(s, q, &t);
		ev_conv c = {.type = EV_QUESTION_RESOLVED, .synthetic = true};
		c.u.question.id = t.id;
		c.u.question.prompt = t.prompt;
		c.u.question.options_json = t.options_json;
		c.u.question.status = answers ? "answered" : "rejected";
		sess_record(s, &c);
		sess_free_question(&t);
	}
	free(id);
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	setenv("SANDBOX_AGENT_LOG", "error", 1);
	return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const char *const pmodes[] = {"default", "plan", "bypass", "acceptEdits"};
	session *s = sess_new("fz", &agent_codex);
	s->permission_mode = xstrdup(pmodes[size ? data[0] & 3 : 0]);
	s->agent_mode = xstrdup(size && (data[0] & 4) ? "plan" : "build");
	s->model = xstrdup(size && (data[0] & 8) ? "gpt-5.5" : "default");
	s->directory = xstrdup("/tmp");
	sess_register(s);
	buf_t out;
	buf_init(&out);
	codex_test_attach(s, &out);
	const char *p = (const char *)data, *end = p + size;
	if (size) /* the mode byte */
		p++;
	while (p < end) {
		const char *nl = memchr(p, '\n', (size_t)(end - p));
		size_t n = nl ? (size_t)(nl - p) : (size_t)(end - p);
		if (n >= 2 && p[0] == '#') {
			char c = p[1], a = n >= 3 ? p[2] : '0';
			agent_err e = {0};
			if (c == '>' && !s->ended) {
				s->busy = true;
				agent_codex.send(s, p + 2, n - 2, n > 3 && p[2] == '[' ? "[{\"path\":\"x.png\"}]"
					: NULL, &e);
			} else if (c == 'p') {
				reply_perm(s, a == '1' ? REPLY_ALWAYS : a == '2' ? REPLY_REJECT : REPLY_ONCE);
			} else if (c == 'q') {
				reply_question(s, "[[\"a\",\"b\"],[\"42\"],[]]");
			} else if (c == 'r') {
				reply_question(s, NULL);
			} else if (c == 'x') {
				codex_test_exit(s, a == '9' ? 9 : (int)((unsigned)(a & 0x0f) << 8));
				if (!s->ended) {
					REQUIRE(s->nperms == 0);
					REQUIRE(s->nquestions == 0);
				}
			} else if (c == 't' && !s->ended) {
				agent_codex.terminate(s);
				sess_end(s, "terminated", "daemon", NULL, false, 0, NULL);
			}
		} else {
			codex_test_line(s, p, n);
		}
		p += n + (nl ? 1 : 0);
	}
	check_events(s);
	check_written(&out);
	sess_free_all();
	buf_free(&out);
	return 0;
}
