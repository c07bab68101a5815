/* test_claude.c - the stream-json converter driven with real Claude Code
 * output (tests/unit/fixtures/claude/NAME.jsonl: the stdout lines of the
 * captured runs, system/init trimmed to its identifying fields; a line
 * "#> user message" marks where a user message went in) on a real
 * session of the Claude adapter, checking the universal events stored. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "agents/agent.h"
#include "agents/streamjson.h"
#include "base/buf.h"
#include "json/json.h"
#include "session/session.h"
#include "t.h"

#define FIXTURES "tests/unit/fixtures/claude/"
#define NTOK 4096

static json_tok tk[NTOK];

/* ---- reading events back ---- */

static char *event_json(session *s, size_t i)
{
	buf_t b;
	buf_init(&b);
	sess_write_event(s, i, true, &b);
	return buf_cstr(&b);
}

/* Token of a dotted path ("data.item.kind") in js, or -1. */
static int path(const char *js, const char *p)
{
	int n = json_parse(js, strlen(js), tk, NTOK);
	if (n <= 0)
		return -1;
	int cur = 0;
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

/* String at a path of event i (static buffer), "" if none, "null" for null. */
static const char *field(session *s, size_t i, const char *p)
{
	static char out[8192];
	char *js = event_json(s, i);
	int t = path(js, p);
	out[0] = 0;
	if (t >= 0 && tk[t].type == JSON_STRING)
		json_str_decode(js, tk, t, out, sizeof out);
	else if (t >= 0)
		snprintf(out, sizeof out, "%.*s", (int)(tk[t].end - tk[t].start), js + tk[t].start);
	free(js);
	return out;
}

/* One line per event: type and what identifies it. */
static void summary(session *s, size_t i, buf_t *b)
{
	char type[32];
	snprintf(type, sizeof type, "%s", field(s, i, "type"));
	buf_puts(b, type);
	if (!strcmp(type, "item.started") || !strcmp(type, "item.completed")) {
		buf_printf(b, " %s", field(s, i, "data.item.kind"));
		buf_printf(b, "/%s", field(s, i, "data.item.role"));
		buf_printf(b, " %s", field(s, i, "data.item.item_id"));
		buf_printf(b, " %s", field(s, i, "data.item.status"));
	} else if (!strcmp(type, "item.delta")) {
		buf_printf(b, " %s", field(s, i, "data.item_id"));
		buf_printf(b, " %s", field(s, i, "data.delta"));
	} else if (!strcmp(type, "error")) {
		buf_printf(b, " %s", field(s, i, "data.code"));
	} else if (!strcmp(type, "permission.requested") || !strcmp(type, "permission.resolved")) {
		buf_printf(b, " %s", field(s, i, "data.action"));
		buf_printf(b, " %s", field(s, i, "data.status"));
	} else if (!strcmp(type, "question.requested") || !strcmp(type, "question.resolved")) {
		buf_printf(b, " %s", field(s, i, "data.prompt"));
		buf_printf(b, " %s", field(s, i, "data.options"));
	} else if (!strcmp(type, "agent.unparsed")) {
		buf_printf(b, " %s", field(s, i, "data.error"));
	}
	buf_putc(b, '\n');
}

/* Compares the summaries of events from index `from` with want. */
static void check_events(session *s, size_t from, const char *want, int line)
{
	buf_t b;
	buf_init(&b);
	for (size_t i = from; i < s->nev; i++)
		summary(s, i, &b);
	const char *got = buf_cstr(&b);
	if (!strcmp(got, want)) {
		t_pass++;
	} else {
		t_fail++;
		fprintf(stderr, "%s:%d: events differ\n--- got\n%s--- want\n%s", __FILE__, line, got, want);
	}
	buf_free(&b);
}
#define CHECK_EVENTS(s, from, want) check_events(s, from, want, __LINE__)

/* Every stored event is valid JSON with the envelope keys. */
static void check_valid(session *s)
{
	for (size_t i = 0; i < s->nev; i++) {
		char *js = event_json(s, i);
		int n = json_parse(js, strlen(js), NULL, 0);
		CHECK(n == JSON_ERR_NOMEM);
		free(js);
		CHECK(path(js = event_json(s, i), "sequence") >= 0);
		free(js);
	}
}

/* ---- driving ---- */

static session *new_session(const char *id)
{
	session *s = sess_new(id, &agent_claude);
	s->permission_mode = xstrdup("default");
	sess_register(s);
	return s;
}

static sj_effects last_fx;
static int refused, perms_seen;

static void feed(sj_conv *c, session *s, const char *line)
{
	if (!strncmp(line, "#> ", 3)) {
		sj_turn_begin(c, s, "do it", 5, NULL);
		sj_turn_ready(c, s);
		return;
	}
	sj_line(c, s, line, strlen(line), &last_fx);
	if (last_fx.refuse_id)
		refused++;
	if (last_fx.perm_id)
		perms_seen++;
}

static void feed_file(sj_conv *c, session *s, const char *name)
{
	char p[256];
	snprintf(p, sizeof p, FIXTURES "%s.jsonl", name);
	FILE *f = fopen(p, "r");
	CHECK(f != NULL);
	if (!f)
		return;
	char *line = NULL;
	size_t cap = 0;
	ssize_t n;
	while ((n = getline(&line, &cap, f)) > 0) {
		while (n && (line[n - 1] == '\n' || line[n - 1] == '\r'))
			line[--n] = 0;
		if (n)
			feed(c, s, line);
	}
	free(line);
	fclose(f);
}

static session *run(const char *id, const char *fixture)
{
	session *s = new_session(id);
	sj_conv *c = sj_new("claude");
	feed_file(c, s, fixture);
	check_valid(s);
	sj_free(c);
	return s;
}

/* ---- the cases ---- */

static void test_partial_thinking(void)
{
	session *s = run("thinking", "partial-thinking");
	CHECK_EVENTS(s, 0, "turn.started\n"
		"item.started message/user itm_1 in_progress\n"
		"item.completed message/user itm_1 completed\n"
		"item.started message/assistant itm_2 in_progress\n"
		"item.delta itm_2 Hello afte\n"
		"item.delta itm_2 r thinking\n"
		"item.completed message/assistant itm_2 completed\n"
		"turn.ended\n");
	CHECK_STR(s->native_id, "d86035ef-b7f4-4af7-9280-095ec93ed9a6");
	CHECK_STR(field(s, 6, "data.item.content"),
		"[{\"type\":\"reasoning\",\"text\":\"Let me think about greeting the user.\","
		"\"visibility\":\"public\"},{\"type\":\"text\",\"text\":\"Hello after thinking\"}]");
	CHECK_STR(field(s, 6, "data.item.native_item_id"), "thinking_pending_assistant_1");
	CHECK_STR(field(s, 6, "source"), "agent");
	CHECK_STR(field(s, 7, "data.metadata.duration_ms"), "60");
	CHECK_STR(field(s, 7, "data.metadata.num_turns"), "1");
	CHECK_STR(field(s, 7, "data.metadata.usage.output_tokens"), "12");
	CHECK(strlen(field(s, 7, "data.metadata.total_cost_usd")) > 0);
	CHECK_STR(field(s, 7, "raw.type"), "result");
	CHECK_STR(field(s, 4, "raw.type"), "stream_event");
	char *u1 = xstrdup(field(s, 1, "data.item.native_item_id"));
	CHECK_STR(u1, field(s, 2, "data.item.native_item_id"));
	free(u1);
	CHECK(!strncmp(field(s, 1, "data.item.native_item_id"), "user_", 5));
	CHECK_STR(field(s, 0, "native_session_id"), "null");
	CHECK_STR(field(s, 7, "native_session_id"), "d86035ef-b7f4-4af7-9280-095ec93ed9a6");
	CHECK_INT(s->npending_asst, 0);
}

static void test_tool_partial(void)
{
	session *s = run("replay", "tooluse-partial-replay");
	CHECK_EVENTS(s, 0, "turn.started\n"
		"item.started message/user itm_1 in_progress\n"
		"item.completed message/user itm_1 completed\n"
		"item.started message/assistant itm_2 in_progress\n"
		"item.delta itm_2 I'll creat\n"
		"item.delta itm_2 e the file.\n"
		"item.started tool_call/assistant itm_3 in_progress\n"
		"item.completed tool_call/assistant itm_3 completed\n"
		"permission.requested Bash requested\n"
		"item.completed message/assistant itm_2 completed\n"
		"item.started tool_result/tool itm_4 in_progress\n"
		"item.completed tool_result/tool itm_4 completed\n"
		"item.started message/assistant itm_5 in_progress\n"
		"item.delta itm_5 Done: wr\n"
		"item.delta itm_5 ote f.txt\n"
		"item.completed message/assistant itm_5 completed\n"
		"turn.ended\n");
	/* tool call: under the assistant item, arguments as JSON text, command part */
	CHECK_STR(field(s, 7, "data.item.parent_id"), "itm_2");
	CHECK_STR(field(s, 7, "data.item.native_item_id"), "toolu_mock_7838dfb98c0c4d99");
	CHECK_STR(field(s, 7, "data.item.content.0.name"), "Bash");
	CHECK_STR(field(s, 7, "data.item.content.0.call_id"), "toolu_mock_7838dfb98c0c4d99");
	CHECK_STR(field(s, 7, "data.item.content.0.arguments"),
		"{\"command\":\"echo hi > f.txt\",\"description\":\"Write hi to f.txt\"}");
	CHECK_STR(field(s, 7, "data.item.content.1.json.command"), "echo hi > f.txt");
	CHECK_STR(field(s, 6, "synthetic"), "true");
	CHECK_STR(field(s, 7, "synthetic"), "false");
	/* permission metadata (spec 7.3) */
	CHECK_STR(field(s, 8, "data.permission_id"), "d142f92f-ce89-4776-9ab5-5e18e9f2b9b8");
	CHECK_STR(field(s, 8, "data.metadata.toolName"), "Bash");
	CHECK_STR(field(s, 8, "data.metadata.input.command"), "echo hi > f.txt");
	CHECK_STR(field(s, 8, "data.metadata.permissionSuggestions.0.type"), "addRules");
	CHECK_STR(field(s, 8, "data.metadata.blockedPath"),
		"/sandbox/work/claude-tooluse-partial-replay/f.txt");
	CHECK_INT(s->nperms, 1);
	CHECK_INT(perms_seen, 1);
	/* the result links to its call */
	CHECK_STR(field(s, 11, "data.item.parent_id"), "itm_3");
	CHECK_STR(field(s, 11, "data.item.native_item_id"), "toolu_mock_7838dfb98c0c4d99");
	CHECK_STR(field(s, 11, "data.item.content.0.output"), "(Bash completed with no output)");
	CHECK_STR(field(s, 11, "data.item.content.0.call_id"), "toolu_mock_7838dfb98c0c4d99");
	CHECK_STR(field(s, 9, "data.item.content.0.type"), "reasoning");
	CHECK_STR(field(s, 9, "data.item.content.1.text"), "I'll create the file.");
}

static void test_question(void)
{
	session *s = run("ask", "askuserquestion");
	CHECK_EVENTS(s, 0, "turn.started\n"
		"item.started message/user itm_1 in_progress\n"
		"item.completed message/user itm_1 completed\n"
		"item.started message/assistant itm_2 in_progress\n"
		"item.started tool_call/assistant itm_3 in_progress\n"
		"item.completed tool_call/assistant itm_3 completed\n"
		"question.requested Which color should I use? [\"Red\",\"Blue\"]\n"
		"item.started tool_result/tool itm_4 in_progress\n"
		"item.completed tool_result/tool itm_4 completed\n"
		"item.delta itm_2 Thanks for answering.\n"
		"item.completed message/assistant itm_2 completed\n"
		"turn.ended\n");
	CHECK_STR(field(s, 6, "data.question_id"), "toolu_mock_ba7a5d72f3fe4450");
	CHECK_STR(field(s, 5, "data.item.parent_id"), "null");
	/* the tool's permission is pending but never shown */
	CHECK_INT(s->nperms, 1);
	CHECK(s->nperms == 1 && s->perms[0].question_tool && s->perms[0].hidden);
	CHECK(s->nperms == 1 && !strcmp(s->perms[0].id, "a752398f-62e8-4f90-bba4-530ad2b7c89a"));
	CHECK_INT(s->nquestions, 1);
	CHECK_STR(field(s, 9, "synthetic"), "true");
}

static void test_cancel(void)
{
	session *s = run("cancel", "interrupt-while-permission-pending");
	CHECK_EVENTS(s, 0, "turn.started\n"
		"item.started message/user itm_1 in_progress\n"
		"item.completed message/user itm_1 completed\n"
		"item.started message/assistant itm_2 in_progress\n"
		"item.started tool_call/assistant itm_3 in_progress\n"
		"item.completed tool_call/assistant itm_3 completed\n"
		"permission.requested Bash requested\n"
		"permission.resolved Bash reject\n"
		"item.started tool_result/tool itm_4 in_progress\n"
		"item.completed tool_result/tool itm_4 failed\n"
		"item.started status/system itm_5 in_progress\n"
		"item.completed status/system itm_5 completed\n"
		"item.completed message/assistant itm_2 failed\n"
		"error claude.error_during_execution\n"
		"turn.ended\n");
	CHECK_INT(s->nperms, 0);
	CHECK_STR(field(s, 11, "data.item.content.0.label"), "claude.interrupted");
	CHECK_STR(field(s, 11, "data.item.content.0.detail"), "[Request interrupted by user for tool use]");
	CHECK_STR(field(s, 12, "data.item.content"), "[]");
	CHECK_STR(field(s, 13, "data.details.subtype"), "error_during_execution");
}

static void test_api_error(void)
{
	session *s = run("e500", "error-http500");
	CHECK_EVENTS(s, 0, "turn.started\n"
		"item.started message/user itm_1 in_progress\n"
		"item.completed message/user itm_1 completed\n"
		"item.started message/assistant itm_2 in_progress\n"
		"item.started status/system itm_3 in_progress\n"
		"item.completed status/system itm_3 completed\n"
		"item.started status/system itm_4 in_progress\n"
		"item.completed status/system itm_4 completed\n"
		"item.delta itm_2 API Error: 500 Internal server error (mock). This is a server-side issue, "
		"usually temporary \xe2\x80\x94 try again in a moment. If it persists, check your inference "
		"gateway (127.0.0.1:18931).\n"
		"item.completed message/assistant itm_2 completed\n"
		"error claude.api_error\n"
		"turn.ended\n");
	CHECK_STR(field(s, 5, "data.item.content.0.label"), "claude.api_retry");
	CHECK_STR(field(s, 5, "data.item.content.0.detail"), "attempt 1 of 2: server_error (HTTP 500)");
	CHECK(!strncmp(field(s, 10, "data.message"), "API Error: 500 Internal server error", 36));
	CHECK_STR(field(s, 10, "data.details.api_error_status"), "500");
	CHECK_STR(field(s, 10, "source"), "agent");

	session *s2 = run("e401", "error-http401");
	CHECK_STR(field(s2, s2->nev - 2, "data.code"), "claude.api_error");
	CHECK_STR(field(s2, s2->nev - 2, "data.message"), "Invalid API key \xc2\xb7 Fix external API key");
	CHECK_STR(field(s2, s2->nev - 1, "type"), "turn.ended");
}

static void test_file_tools(void)
{
	session *s = run("edit", "mode-default-read-edit");
	CHECK_EVENTS(s, 0, "turn.started\n"
		"item.started message/user itm_1 in_progress\n"
		"item.completed message/user itm_1 completed\n"
		"item.started message/assistant itm_2 in_progress\n"
		"item.started tool_call/assistant itm_3 in_progress\n"
		"item.completed tool_call/assistant itm_3 completed\n"
		"item.started tool_result/tool itm_4 in_progress\n"
		"item.completed tool_result/tool itm_4 completed\n"
		"item.started tool_call/assistant itm_5 in_progress\n"
		"item.completed tool_call/assistant itm_5 completed\n"
		"permission.requested Edit requested\n"
		"item.started tool_result/tool itm_6 in_progress\n"
		"item.completed tool_result/tool itm_6 completed\n"
		"item.delta itm_2 Edited e.txt\n"
		"item.completed message/assistant itm_2 completed\n"
		"turn.ended\n");
	CHECK_STR(field(s, 5, "data.item.content.1.type"), "file_ref");
	CHECK_STR(field(s, 5, "data.item.content.1.action"), "read");
	CHECK_STR(field(s, 5, "data.item.content.1.diff"), "null");
	CHECK_STR(field(s, 5, "data.item.content.1.path"), "/sandbox/work/claude-mode-default-read-edit/e.txt");
	CHECK_STR(field(s, 9, "data.item.content.1.action"), "patch");
	CHECK_STR(field(s, 9, "data.item.content.1.diff"), "@@\n-alpha\n+beta\n");
	CHECK_STR(field(s, 10, "data.metadata.blockedPath"), "null");
	CHECK_STR(field(s, 7, "data.item.content.0.output"), "1\talpha\n2\t");

	session *w = run("write", "mode-default-write");
	CHECK_STR(field(w, 5, "data.item.content.0.name"), "Write");
	CHECK_STR(field(w, 5, "data.item.content.1.action"), "write");
	CHECK_STR(field(w, 5, "data.item.content.1.diff"), "+hello world\n");
}

static void test_multiturn(void)
{
	session *s = run("multi", "multiturn");
	CHECK_EVENTS(s, 0, "turn.started\n"
		"item.started message/user itm_1 in_progress\n"
		"item.completed message/user itm_1 completed\n"
		"item.started message/assistant itm_2 in_progress\n"
		"item.delta itm_2 First answer\n"
		"item.completed message/assistant itm_2 completed\n"
		"turn.ended\n"
		"turn.started\n"
		"item.started message/user itm_3 in_progress\n"
		"item.completed message/user itm_3 completed\n"
		"item.started message/assistant itm_4 in_progress\n"
		"item.delta itm_4 Second answer\n"
		"item.completed message/assistant itm_4 completed\n"
		"turn.ended\n");
	/* user item ids count daemon-wide */
	char *u1 = xstrdup(field(s, 1, "data.item.native_item_id"));
	CHECK(strcmp(u1, field(s, 8, "data.item.native_item_id")));
	free(u1);
	CHECK_STR(field(s, 10, "data.item.native_item_id"), "multi_pending_assistant_2");
}

static void test_deny_and_interrupt(void)
{
	session *s = run("deny", "permission-deny");
	CHECK_EVENTS(s, 0, "turn.started\n"
		"item.started message/user itm_1 in_progress\n"
		"item.completed message/user itm_1 completed\n"
		"item.started message/assistant itm_2 in_progress\n"
		"item.started tool_call/assistant itm_3 in_progress\n"
		"item.completed tool_call/assistant itm_3 completed\n"
		"permission.requested Bash requested\n"
		"item.started tool_result/tool itm_4 in_progress\n"
		"item.completed tool_result/tool itm_4 failed\n"
		"item.delta itm_2 Done: wrote f.txt\n"
		"item.completed message/assistant itm_2 completed\n"
		"turn.ended\n");
	CHECK_STR(field(s, s->nev - 1, "type"), "turn.ended");
	CHECK_STR(field(s, 8, "data.item.status"), "failed");
	CHECK_STR(field(s, 8, "data.item.content.0.output"), "User refused: no shell allowed");

	session *i = run("intr", "interrupt");
	/* the interrupted partial text is a completed item, the next turn normal */
	buf_t b;
	buf_init(&b);
	for (size_t k = 0; k < i->nev; k++)
		summary(i, k, &b);
	CHECK(strstr(buf_cstr(&b), "error claude.error_during_execution\nturn.ended\nturn.started\n") != NULL);
	CHECK(strstr(buf_cstr(&b), "item.delta itm_5 after i\nitem.delta itm_5 nterrupt\n") != NULL);
	buf_free(&b);
	CHECK_INT(i->npending_asst, 0);

	session *t = run("ttt", "tooluse-text-thinking");
	CHECK_STR(field(t, t->nev - 1, "type"), "turn.ended");
	session *img = run("img", "image-input");
	CHECK_STR(field(img, img->nev - 2, "data.item.content.0.text"), "Hello from mock");
}

static void test_amp_like(void)
{
	session *s = new_session("amp");
	sj_conv *c = sj_new("amp");
	feed(c, s, "#> user");
	feed(c, s, "{\"type\":\"system\",\"subtype\":\"init\",\"cwd\":\"/w\",\"session_id\":\"T-1\","
		"\"tools\":[],\"mcp_servers\":[],\"agent_mode\":\"smart\"}");
	feed(c, s, "{\"type\":\"assistant\",\"message\":{\"type\":\"message\",\"role\":\"assistant\","
		"\"content\":[{\"type\":\"text\",\"text\":\"Let me look.\"},{\"type\":\"tool_use\",\"id\":\"tu1\","
		"\"name\":\"Read\",\"input\":{\"file_path\":\"/w/x\"}}],\"stop_reason\":\"tool_use\"},"
		"\"parent_tool_use_id\":null,\"session_id\":\"T-1\"}");
	feed(c, s, "{\"type\":\"user\",\"message\":{\"role\":\"user\",\"content\":[{\"type\":\"tool_result\","
		"\"tool_use_id\":\"tu1\",\"content\":\"data\",\"is_error\":false}]},\"parent_tool_use_id\":null,"
		"\"session_id\":\"T-1\"}");
	feed(c, s, "{\"type\":\"assistant\",\"message\":{\"type\":\"message\",\"role\":\"assistant\","
		"\"content\":[{\"type\":\"text\",\"text\":\"Done.\"}],\"stop_reason\":\"end_turn\"},"
		"\"parent_tool_use_id\":null,\"session_id\":\"T-1\"}");
	feed(c, s, "{\"type\":\"result\",\"subtype\":\"error_during_execution\",\"duration_ms\":5,"
		"\"is_error\":true,\"num_turns\":2,\"error\":\"boom\",\"session_id\":\"T-1\"}");
	CHECK_EVENTS(s, 0, "turn.started\n"
		"item.started message/user itm_1 in_progress\n"
		"item.completed message/user itm_1 completed\n"
		"item.started message/assistant itm_2 in_progress\n"
		"item.started tool_call/assistant itm_3 in_progress\n"
		"item.completed tool_call/assistant itm_3 completed\n"
		"item.delta itm_2 Let me look.\n"
		"item.completed message/assistant itm_2 completed\n"
		"item.started tool_result/tool itm_4 in_progress\n"
		"item.completed tool_result/tool itm_4 completed\n"
		"item.started message/assistant itm_5 in_progress\n"
		"item.delta itm_5 Done.\n"
		"item.completed message/assistant itm_5 completed\n"
		"error amp.error_during_execution\n"
		"turn.ended\n");
	CHECK_STR(field(s, 5, "data.item.parent_id"), "itm_2");
	CHECK_STR(field(s, 13, "data.message"), "boom");
	CHECK_STR(s->native_id, "T-1");
	CHECK(last_fx.turn_ended);
	CHECK(!sj_in_turn(c));
	check_valid(s);
	sj_free(c);
}

static void test_unparsed_and_edges(void)
{
	session *s = new_session("bad");
	sj_conv *c = sj_new("claude");
	refused = 0;
	feed(c, s, "this is not json");
	feed(c, s, "[1,2]");
	feed(c, s, "{\"type\":\"bogus\"}");
	feed(c, s, "{\"no_type\":1}");
	feed(c, s, "{\"type\":\"assistant\"}");
	feed(c, s, "{\"type\":\"control_request\",\"request_id\":\"r1\",\"request\":{\"subtype\":\"hook_callback\"}}");
	CHECK_STR(last_fx.refuse_id, "r1");
	/* ignored on purpose: no event */
	feed(c, s, "{\"type\":\"keep_alive\"}");
	feed(c, s, "{\"type\":\"system\",\"subtype\":\"thinking_tokens\",\"estimated_tokens\":1}");
	feed(c, s, "{\"type\":\"stream_event\",\"event\":{\"type\":\"ping\"}}");
	feed(c, s, "{\"type\":\"control_response\",\"response\":{\"subtype\":\"success\",\"request_id\":\"x\"}}");
	feed(c, s, "{\"type\":\"control_cancel_request\",\"request_id\":\"unknown\"}");
	CHECK_EVENTS(s, 0, "agent.unparsed invalid JSON: invalid JSON\n"
		"agent.unparsed not a JSON object\n"
		"agent.unparsed unsupported claude event: bogus\n"
		"agent.unparsed claude line without a type\n"
		"agent.unparsed unsupported claude event: assistant\n"
		"agent.unparsed unsupported control request\n");
	CHECK_INT(refused, 1);
	CHECK_STR(field(s, 0, "raw"), "this is not json");
	CHECK_STR(field(s, 1, "raw"), "[1,2]");
	CHECK_STR(field(s, 0, "data.location"), "claude");

	/* sub-agent output hangs under its Task call and leaves the placeholder alone */
	size_t from = s->nev;
	feed(c, s, "#> user");
	feed(c, s, "{\"type\":\"assistant\",\"message\":{\"id\":\"m1\",\"content\":[{\"type\":\"tool_use\","
		"\"id\":\"task1\",\"name\":\"Task\",\"input\":{\"prompt\":\"look\"}}]},\"parent_tool_use_id\":null,"
		"\"session_id\":\"S\"}");
	feed(c, s, "{\"type\":\"assistant\",\"message\":{\"id\":\"m2\",\"content\":[{\"type\":\"text\","
		"\"text\":\"sub says hi\"}]},\"parent_tool_use_id\":\"task1\",\"session_id\":\"S\"}");
	feed(c, s, "{\"type\":\"stream_event\",\"event\":{\"type\":\"content_block_delta\",\"index\":0,"
		"\"delta\":{\"type\":\"text_delta\",\"text\":\"ignored\"}},\"parent_tool_use_id\":\"task1\"}");
	feed(c, s, "{\"type\":\"result\",\"subtype\":\"success\",\"is_error\":false,\"result\":\"\"}");
	CHECK_EVENTS(s, from, "turn.started\n"
		"item.started message/user itm_1 in_progress\n"
		"item.completed message/user itm_1 completed\n"
		"item.started message/assistant itm_2 in_progress\n"
		"item.started tool_call/assistant itm_3 in_progress\n"
		"item.completed tool_call/assistant itm_3 completed\n"
		"item.started unknown/assistant itm_4 in_progress\n"
		"item.completed unknown/assistant itm_4 completed\n"
		"item.completed message/assistant itm_2 completed\n"
		"turn.ended\n");
	CHECK_STR(field(s, from + 7, "data.item.parent_id"), "itm_3");
	CHECK_STR(field(s, from + 8, "data.item.content"), "[]");

	/* a question-tool permission without a tool_use line still asks */
	from = s->nev;
	feed(c, s, "{\"type\":\"control_request\",\"request_id\":\"q1\",\"request\":{\"subtype\":\"can_use_tool\","
		"\"tool_name\":\"ExitPlanMode\",\"input\":{\"plan\":\"do x\"},\"tool_use_id\":\"tp1\"}}");
	CHECK_EVENTS(s, from, "question.requested Approve plan execution? [\"approve\",\"reject\"]\n");
	CHECK(last_fx.perm_question);
	CHECK_STR(last_fx.perm_tool_use_id, "tp1");
	CHECK_STR(sj_request_tool_use(c, "q1"), "tp1");
	/* withdrawn: the hidden permission and its question are resolved */
	feed(c, s, "{\"type\":\"control_cancel_request\",\"request_id\":\"q1\"}");
	CHECK_EVENTS(s, from, "question.requested Approve plan execution? [\"approve\",\"reject\"]\n"
		"question.resolved Approve plan execution? [\"approve\",\"reject\"]\n");
	CHECK_STR(field(s, s->nev - 1, "data.status"), "rejected");
	CHECK_INT(s->nquestions, 0);
	CHECK_INT(s->nperms, 0);
	check_valid(s);
	sj_free(c);
}

static void test_question_of(void)
{
	char *p, *o;
	const char *in = "{\"questions\":[{\"question\":\"Pick?\",\"options\":[{\"label\":\"A\"},{\"label\":\"B\"}]}]}";
	CHECK(sj_question_of("AskUserQuestion", in, strlen(in), &p, &o));
	CHECK_STR(p, "Pick?");
	CHECK_STR(o, "[\"A\",\"B\"]");
	free(p);
	free(o);
	CHECK(sj_question_of("ExitPlanMode", "{}", 2, &p, &o));
	CHECK_STR(p, "Approve plan execution?");
	CHECK_STR(o, "[\"approve\",\"reject\"]");
	free(p);
	free(o);
	CHECK(!sj_question_of("AskUserQuestion", "[]", 2, &p, &o));
	CHECK(sj_is_question_tool("ask-user-question"));
	CHECK(sj_is_question_tool("exit_plan_mode"));
	CHECK(!sj_is_question_tool("Bash"));
	char a[32], b[32];
	sj_next_user_id(a);
	sj_next_user_id(b);
	CHECK(strcmp(a, b) != 0 && !strncmp(a, "user_", 5));
}

static void write_file(const char *path, const char *text)
{
	FILE *f = fopen(path, "w");
	CHECK(f != NULL);
	if (f) {
		fputs(text, f);
		fclose(f);
	}
}

static void test_credentials(void)
{
	static const char *const vars[] = {"ANTHROPIC_API_KEY", "CLAUDE_API_KEY",
		"CLAUDE_CODE_OAUTH_TOKEN", "ANTHROPIC_AUTH_TOKEN", "CLAUDE_CONFIG_DIR"};
	char home[] = "/tmp/test_claude_home_XXXXXX";
	CHECK(mkdtemp(home) != NULL);
	char *old_home = getenv("HOME") ? xstrdup(getenv("HOME")) : NULL;
	for (int i = 0; i < 5; i++)
		unsetenv(vars[i]);
	setenv("HOME", home, 1);
	CHECK(!agent_claude.credentials());
	setenv("ANTHROPIC_API_KEY", "", 1); /* set, even empty, counts */
	CHECK(agent_claude.credentials());
	unsetenv("ANTHROPIC_API_KEY");
	setenv("CLAUDE_CODE_OAUTH_TOKEN", "tok", 1);
	CHECK(agent_claude.credentials());
	unsetenv("CLAUDE_CODE_OAUTH_TOKEN");

	char p[512], dir[128];
	snprintf(dir, sizeof dir, "%s/.claude", home);
	mkdir(dir, 0700);
	snprintf(p, sizeof p, "%s/.credentials.json", dir);
	write_file(p, "{\"claudeAiOauth\":{\"accessToken\":\"a\",\"expiresAt\":1000}}");
	CHECK(!agent_claude.credentials()); /* expired */
	write_file(p, "{\"claudeAiOauth\":{\"accessToken\":\"a\",\"expiresAt\":99999999999999}}");
	CHECK(agent_claude.credentials());
	unlink(p);
	snprintf(p, sizeof p, "%s/.claude.json", home);
	write_file(p, "{\"primaryApiKey\":\"nope\"}");
	CHECK(!agent_claude.credentials());
	write_file(p, "{\"primaryApiKey\":\"sk-ant-123\"}");
	CHECK(agent_claude.credentials());
	write_file(p, "not json");
	CHECK(!agent_claude.credentials());
	unlink(p);
	rmdir(dir);
	rmdir(home);
	if (old_home)
		setenv("HOME", old_home, 1);
	free(old_home);
}

static void test_registry(void)
{
	CHECK(agent_find("claude") == &agent_claude);
	CHECK_STR(agent_claude.default_model, "default");
	CHECK_INT(agent_claude.nmodels, 4);
	CHECK(!agent_claude.caps[CAP_ITEM_STARTED]);
	CHECK(agent_claude.caps[CAP_STREAMING_DELTAS]);
	CHECK(agent_claude.credentials != NULL);
}

int main(void)
{
	test_partial_thinking();
	test_tool_partial();
	test_question();
	test_cancel();
	test_api_error();
	test_file_tools();
	test_multiturn();
	test_deny_and_interrupt();
	test_amp_like();
	test_unparsed_and_edges();
	test_question_of();
	test_registry();
	test_credentials();
	sess_free_all();
	return t_done("claude");
}
