/* fuzz_opencode.c - arbitrary event streams into the OpenCode adapter
 * (server-less mode, opencode.h) on a real session attached to the
 * OpenCode session "ses_f". The first byte picks how the rest is read:
 * bit 0 clear, each line is one event payload (JSON of an SSE data
 * field); set, the bytes go through the SSE parser as the stream. Lines
 * starting with '#' act instead: "#>" sends a message (with attachments
 * when "#>[" starts it), "#p0" / "#p1" / "#p2" reply once / always /
 * reject to the newest pending permission, "#q" answers and "#r" rejects
 * the newest question, "#R<status>" answers the oldest open request
 * ("#R-" fails it), "#x" ends the server, "#t" terminates the session.
 * Properties: every stored event is one valid JSON object with sequence =
 * index + 1; an item is started at most once and its deltas and
 * completions follow its start; turns never nest (turn.started and
 * turn.ended alternate); every request written is "METHOD PATH BODY" with
 * a JSON body or "-"; after the server ended no permission or question
 * stays pending and no turn runs; a terminated session takes no events. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "agents/agent.h"
#include "agents/opencode.h"
#include "base/strmap.h"
#include "json/json.h"
#include "session/session.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerInitialize(int *argc, char ***argv);

#define REQUIRE(c) do { if (!(c)) { fprintf(stderr, "property failed: %s (line %d)\n", #c, __LINE__); abort(); } } while (0)
#define NTOK 65536

static json_tok tk[NTOK];

static void check_events(session *s)
{
	strmap started = {0};
	buf_t b;
	buf_init(&b);
	int open_turn = 0;
	for (size_t i = 0; i < s->nev; i++) {
		buf_reset(&b);
		sess_write_event(s, i, true, &b);
		int n = json_parse(b.p, b.len, tk, NTOK);
		REQUIRE(n > 0 || n == JSON_ERR_NOMEM);
		if (n <= 0)
			continue;
		REQUIRE(tk[0].type == JSON_OBJECT);
		uint64_t seq = 0;
		REQUIRE(json_get_u64(b.p, tk, json_obj_get(b.p, tk, 0, "sequence"), &seq));
		REQUIRE(seq == i + 1);
		int ty = json_obj_get(b.p, tk, 0, "type");
		int d = json_obj_get(b.p, tk, 0, "data");
		REQUIRE(ty >= 0 && d >= 0 && tk[d].type == JSON_OBJECT);
		if (json_str_eq(b.p, tk, ty, "turn.started")) {
			REQUIRE(!open_turn);
			open_turn = 1;
			continue;
		}
		if (json_str_eq(b.p, tk, ty, "turn.ended")) {
			REQUIRE(open_turn);
			open_turn = 0;
			continue;
		}
		bool st = json_str_eq(b.p, tk, ty, "item.started");
		bool co = json_str_eq(b.p, tk, ty, "item.completed");
		bool de = json_str_eq(b.p, tk, ty, "item.delta");
		if (!st && !co && !de)
			continue;
		int it = de ? d : json_obj_get(b.p, tk, d, "item");
		int id = json_obj_get(b.p, tk, it, "item_id");
		REQUIRE(id >= 0 && tk[id].type == JSON_STRING);
		char *key = json_str_dup(b.p, tk, id, NULL);
		bool seen = strmap_get(&started, key) != NULL;
		if (st) {
			REQUIRE(!seen);
			strmap_put(&started, key, (void *)1);
		} else {
			REQUIRE(seen);
		}
		free(key);
	}
	buf_free(&b);
	strmap_free(&started);
}

static void check_written(const buf_t *out)
{
	if (!out->p)
		return;
	const char *p = out->p, *end = out->p + out->len;
	while (p && p < end) {
		const char *nl = memchr(p, '\n', (size_t)(end - p));
		REQUIRE(nl != NULL); /* whole lines only */
		const char *sp1 = memchr(p, ' ', (size_t)(nl - p));
		REQUIRE(sp1 != NULL);
		REQUIRE(!memcmp(p, "POST ", 5) || !memcmp(p, "GET ", 4));
		const char *sp2 = memchr(sp1 + 1, ' ', (size_t)(nl - sp1 - 1));
		REQUIRE(sp2 != NULL && sp1[1] == '/');
		const char *body = sp2 + 1;
		size_t bn = (size_t)(nl - body);
		if (!(bn == 1 && body[0] == '-')) {
			int n = json_parse(body, bn, tk, NTOK);
			REQUIRE(n > 0 && tk[0].type == JSON_OBJECT);
		}
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
	if (agent_opencode.reply_permission(s, p, reply, &e) == 0 && (p = sess_find_perm(s, id))) {
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
	if (agent_opencode.reply_question(s, q, answers, &e) == 0 &&
			(q = sess_find_question(s, id))) {
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

/* Sends a message the way the HTTP handler dispatches one. */
static void send_msg(session *s, const char *p, size_t n, const char *att)
{
	if (s->ended || s->busy)
		return; /* a busy session queues; not needed here */
	agent_err e = {0};
	s->busy = true;
	if (agent_opencode.send(s, p, n, att, &e) != 0)
		s->busy = false;
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	setenv("SANDBOX_AGENT_LOG", "error", 1);
	return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	session *s = sess_new("fz", &agent_opencode);
	s->permission_mode = xstrdup("default");
	s->agent_mode = xstrdup(size && (data[0] & 2) ? "plan" : "build");
	s->model = xstrdup(size && (data[0] & 4) ? "default" : "mock/mock-model");
	s->directory = xstrdup("/tmp");
	sess_register(s);
	buf_t out;
	buf_init(&out);
	opencode_test_attach(s, "ses_f", &out);
	bool sse = size && (data[0] & 1);
	const char *p = (const char *)data, *end = p + size;
	if (size) /* the mode byte */
		p++;
	while (p < end) {
		const char *nl = memchr(p, '\n', (size_t)(end - p));
		size_t n = nl ? (size_t)(nl - p) : (size_t)(end - p);
		if (n >= 2 && p[0] == '#') {
			char c = p[1], a = n >= 3 ? p[2] : '0';
			if (c == '>') {
				send_msg(s, p + 2, n - 2, a == '[' ? "[{\"path\":\"x.png\"},{\"path\":\"/d/n.txt\","
					"\"mime\":\"text/plain\",\"filename\":\"n\"}]" : NULL);
			} else if (c == 'p') {
				reply_perm(s, a == '1' ? REPLY_ALWAYS : a == '2' ? REPLY_REJECT : REPLY_ONCE);
			} else if (c == 'q') {
				reply_question(s, "[[\"a\",\"b\"],[\"42\"],[]]");
			} else if (c == 'r') {
				reply_question(s, NULL);
			} else if (c == 'R') {
				int status = a == '-' ? -1 : 0;
				for (size_t k = 2; k < n && k < 6 && p[k] >= '0' && p[k] <= '9'; k++)
					status = status * 10 + (p[k] - '0');
				opencode_test_respond(status, "{\"id\":\"ses_f\"}");
			} else if (c == 'x') {
				opencode_test_server_exit(1 << 8);
				if (!s->ended) {
					REQUIRE(s->nperms == 0);
					REQUIRE(s->nquestions == 0);
					REQUIRE(!s->busy);
				}
			} else if (c == 't' && !s->ended) {
				agent_opencode.terminate(s);
				sess_end(s, "terminated", "daemon", NULL, false, 0, NULL);
			}
		} else if (sse) {
			size_t before = s->nev;
			bool was_ended = s->ended;
			opencode_test_sse(p, nl ? n + 1 : n);
			if (was_ended)
				REQUIRE(s->nev == before);
		} else {
			size_t before = s->nev;
			bool was_ended = s->ended;
			opencode_test_event(p, n);
			if (was_ended)
				REQUIRE(s->nev == before);
		}
		p += n + (nl ? 1 : 0);
	}
	check_events(s);
	check_written(&out);
	sess_free_all();
	buf_free(&out);
	return 0;
}
