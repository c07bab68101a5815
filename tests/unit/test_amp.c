/* test_amp.c - the Amp adapter without processes: stream-json transcripts
 * in Amp's format (tests/unit/fixtures/amp/NAME.jsonl: the stdout lines
 * of one run each; a line "#> text" starts the next message of the
 * session) fed through the adapter's line and exit handling on a real
 * session, checking the universal events stored; plus its command
 * lines, credentials discovery, MCP configuration and failure paths.
 *
 * amp.c is included so that its static functions can be driven
 * directly; its one public name is renamed to keep the linked copy in
 * the registry apart. */
#define agent_amp agent_amp_under_test
#include "agents/amp.c"
#undef agent_amp

#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "t.h"

#define FIXTURES "tests/unit/fixtures/amp/"
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

/* Token at a dotted path ("data.item.kind", array indexes as numbers). */
static int at(const char *js, const char *p)
{
	if (json_parse(js, strlen(js), tk, NTOK) <= 0)
		return -1;
	int cur = 0;
	while (*p && cur >= 0) {
		char key[64];
		size_t l = strcspn(p, ".");
		snprintf(key, sizeof key, "%.*s", (int)l, p);
		cur = tk[cur].type == JSON_ARRAY ? json_arr_get(tk, cur, (unsigned)atoi(key))
			: json_obj_get(js, tk, cur, key);
		p += l + (p[l] == '.');
	}
	return cur;
}

/* Event i's value at path: decoded string, other JSON as text, "" if absent. */
static const char *field(session *s, size_t i, const char *p)
{
	static char out[8192];
	out[0] = 0;
	if (i >= s->nev)
		return out;
	char *js = event_json(s, i);
	int t = at(js, p);
	if (t >= 0 && tk[t].type == JSON_STRING)
		json_str_decode(js, tk, t, out, sizeof out);
	else if (t >= 0)
		snprintf(out, sizeof out, "%.*s", (int)(tk[t].end - tk[t].start), js + tk[t].start);
	free(js);
	return out;
}

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
	} else if (!strncmp(type, "permission.", 11)) {
		buf_printf(b, " %s", field(s, i, "data.action"));
		buf_printf(b, " %s", field(s, i, "data.status"));
	} else if (!strcmp(type, "session.ended")) {
		buf_printf(b, " %s", field(s, i, "data.reason"));
		buf_printf(b, "/%s", field(s, i, "data.terminated_by"));
	} else if (!strcmp(type, "agent.unparsed")) {
		buf_printf(b, " %s", field(s, i, "data.location"));
	}
	buf_putc(b, '\n');
}

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
		fprintf(stderr, "%s:%d: events differ\n--- got\n%s--- want\n%s", __FILE__, line, got,
			want);
	}
	buf_free(&b);
}
#define CHECK_EVENTS(s, from, want) check_events(s, from, want, __LINE__)

/* Every stored event is one valid JSON object with a sequence. */
static void check_valid(session *s)
{
	for (size_t i = 0; i < s->nev; i++) {
		char *js = event_json(s, i);
		CHECK(json_parse(js, strlen(js), NULL, 0) == JSON_ERR_NOMEM);
		CHECK(at(js, "sequence") >= 0);
		free(js);
	}
}

/* ---- driving the adapter ---- */

static session *new_session(const char *id)
{
	session *s = sess_new(id, &agent_amp_under_test);
	s->permission_mode = xstrdup("default");
	s->model = xstrdup("amp-default");
	sess_register(s);
	agent_err e = {0};
	CHECK_INT(amp_create(s, &e), 0);
	return s;
}

static amp_state *state(session *s) { return s->agent_state; }

/* What amp_send does around the spawn. */
static void message(session *s, const char *text)
{
	amp_state *st = state(s);
	turn_begin(s, st, text, strlen(text));
	s->busy = true;
	st->turn = true;
	sj_turn_ready(st->conv, s);
}

static void line(session *s, const char *l)
{
	handle_line(s, state(s), l, strlen(l), false);
}

static void exited(session *s, int code, int sig, const char *err)
{
	int status = sig ? sig : (code & 0xff) << 8;
	handle_exit(s, state(s), status, err, strlen(err), NULL);
}

/* Feeds a fixture; "#> text" lines end the running process (status 0)
 * and dispatch the next message. */
static void feed_file(session *s, const char *name)
{
	char p[256];
	snprintf(p, sizeof p, FIXTURES "%s.jsonl", name);
	FILE *f = fopen(p, "r");
	CHECK(f != NULL);
	if (!f)
		return;
	char *l = NULL;
	size_t cap = 0;
	ssize_t n;
	while ((n = getline(&l, &cap, f)) > 0) {
		while (n && (l[n - 1] == '\n' || l[n - 1] == '\r'))
			l[--n] = 0;
		if (!n)
			continue;
		if (!strncmp(l, "#> ", 3)) {
			exited(s, 0, 0, "");
			message(s, l + 3);
		} else {
			line(s, l);
		}
	}
	free(l);
	fclose(f);
}

static session *run(const char *id, const char *fixture)
{
	session *s = new_session(id);
	message(s, "do it");
	feed_file(s, fixture);
	check_valid(s);
	return s;
}

/* ---- transcripts ---- */

static void test_text(void)
{
	session *s = run("text", "text");
	CHECK_EVENTS(s, 0, "turn.started\n"
		"item.started message/user itm_1 in_progress\n"
		"item.completed message/user itm_1 completed\n"
		"item.started message/assistant itm_2 in_progress\n"
		"item.delta itm_2 Hello there\n"
		"item.completed message/assistant itm_2 completed\n"
		"turn.ended\n");
	CHECK_STR(s->native_id, "T-3f6a2c1e-8b4d-4e9a-b7c2-5d1e9f0a6b38");
	CHECK_STR(field(s, 2, "data.item.content.0.text"), "do it");
	CHECK_STR(field(s, 5, "data.item.content"), "[{\"type\":\"text\",\"text\":\"Hello there\"}]");
	CHECK_STR(field(s, 5, "data.item.native_item_id"), "text_pending_assistant_1");
	CHECK_STR(field(s, 5, "source"), "agent");
	CHECK_STR(field(s, 5, "raw.type"), "assistant");
	CHECK_STR(field(s, 6, "data.metadata.num_turns"), "1");
	CHECK_STR(field(s, 6, "data.metadata.duration_ms"), "2317");
	CHECK_STR(field(s, 6, "raw.type"), "result");
	CHECK_STR(field(s, 6, "native_session_id"), "T-3f6a2c1e-8b4d-4e9a-b7c2-5d1e9f0a6b38");
	CHECK(state(s)->result);
	CHECK_INT(s->npending_asst, 0);
	/* the process exits after its result: the turn is over, nothing recorded */
	size_t n = s->nev;
	exited(s, 0, 0, "");
	CHECK_INT(s->nev, n);
	CHECK(!s->busy);
	CHECK(!s->ended);
}

static void test_thinking(void)
{
	session *s = run("think", "thinking");
	CHECK_EVENTS(s, 0, "turn.started\n"
		"item.started message/user itm_1 in_progress\n"
		"item.completed message/user itm_1 completed\n"
		"item.started message/assistant itm_2 in_progress\n"
		"item.delta itm_2 Hi! How can I help?\n"
		"item.completed message/assistant itm_2 completed\n"
		"turn.ended\n");
	CHECK_STR(field(s, 5, "data.item.content"),
		"[{\"type\":\"reasoning\",\"text\":\"The user wants a greeting. Keep it short.\","
		"\"visibility\":\"public\"},{\"type\":\"text\",\"text\":\"Hi! How can I help?\"}]");
}

static void test_tools(void)
{
	session *s = run("tools", "tool");
	CHECK_EVENTS(s, 0, "turn.started\n"
		"item.started message/user itm_1 in_progress\n"
		"item.completed message/user itm_1 completed\n"
		"item.started message/assistant itm_2 in_progress\n"
		"item.started tool_call/assistant itm_3 in_progress\n"
		"item.completed tool_call/assistant itm_3 completed\n"
		"item.delta itm_2 I'll list the files.\n"
		"item.completed message/assistant itm_2 completed\n"
		"item.started tool_result/tool itm_4 in_progress\n"
		"item.completed tool_result/tool itm_4 completed\n"
		"item.started tool_call/assistant itm_5 in_progress\n"
		"item.completed tool_call/assistant itm_5 completed\n"
		"item.started tool_result/tool itm_6 in_progress\n"
		"item.completed tool_result/tool itm_6 failed\n"
		"item.started message/assistant itm_7 in_progress\n"
		"item.delta itm_7 There are two entries: notes.txt and src.\n"
		"item.completed message/assistant itm_7 completed\n"
		"turn.ended\n");
	/* the call: under the message that made it, arguments as JSON text */
	CHECK_STR(field(s, 5, "data.item.parent_id"), "itm_2");
	CHECK_STR(field(s, 5, "data.item.native_item_id"), "toolu_01Xk3vQ9mB2");
	CHECK_STR(field(s, 5, "data.item.content.0.name"), "Bash");
	CHECK_STR(field(s, 5, "data.item.content.0.call_id"), "toolu_01Xk3vQ9mB2");
	CHECK_STR(field(s, 5, "data.item.content.0.arguments"),
		"{\"cmd\":\"ls\",\"cwd\":\"/work/project\"}");
	/* the result: linked to its call, Amp's JSON-stringified output kept as text */
	CHECK_STR(field(s, 9, "data.item.parent_id"), "itm_3");
	CHECK_STR(field(s, 9, "data.item.content.0.call_id"), "toolu_01Xk3vQ9mB2");
	CHECK_STR(field(s, 9, "data.item.content.0.output"),
		"{\"output\":\"notes.txt\\nsrc\\n\",\"exitCode\":0}");
	/* a message with only a tool call has no assistant item of its own */
	CHECK_STR(field(s, 11, "data.item.parent_id"), "null");
	CHECK_STR(field(s, 13, "data.item.content.0.output"), "ENOENT: no such file");
	CHECK_STR(field(s, 17, "data.metadata.num_turns"), "3");
	/* the turn remembered both calls, both with results */
	CHECK_INT(state(s)->ntools, 2);
	CHECK(state(s)->tools[0].done && state(s)->tools[1].done);
}

static void test_error_result(void)
{
	session *s = run("err", "error");
	CHECK_EVENTS(s, 0, "turn.started\n"
		"item.started message/user itm_1 in_progress\n"
		"item.completed message/user itm_1 completed\n"
		"item.started message/assistant itm_2 in_progress\n"
		"item.delta itm_2 Let me check.\n"
		"item.completed message/assistant itm_2 completed\n"
		"error amp\n"
		"turn.ended\n");
	CHECK_STR(field(s, 6, "data.message"), "Amp ran into a problem: model provider overloaded (529)");
	CHECK_STR(field(s, 6, "data.details.subtype"), "error_during_execution");
	CHECK_STR(field(s, 6, "data.details.is_error"), "true");
	CHECK_STR(field(s, 6, "source"), "agent");
	CHECK_STR(field(s, 6, "raw.type"), "result");
	CHECK_STR(field(s, 6, "native_session_id"), "T-0a7b3c9d-2e4f-4b1a-9c8d-6e5f3a2b1c07");
	CHECK_STR(field(s, 7, "synthetic"), "true");
	CHECK_STR(field(s, 7, "data.metadata.duration_ms"), "1544");
	CHECK_STR(field(s, 7, "data.metadata.num_turns"), "1");
	/* Amp may exit non-zero after an error result: the turn was reported */
	size_t n = s->nev;
	exited(s, 1, 0, "");
	CHECK_INT(s->nev, n);
	CHECK(!s->ended);
	CHECK(!s->busy);

	/* an error before any text: the placeholder fails */
	session *e = new_session("err-empty");
	message(e, "x");
	line(e, "{\"type\":\"result\",\"subtype\":\"error_during_execution\",\"duration_ms\":5,"
		"\"is_error\":true,\"num_turns\":0,\"error\":\"\",\"session_id\":\"T-1\"}");
	CHECK_EVENTS(e, 3, "item.started message/assistant itm_2 in_progress\n"
		"item.completed message/assistant itm_2 failed\n"
		"error amp\n"
		"turn.ended\n");
	CHECK_STR(field(e, 5, "data.message"), "amp error");
	CHECK_STR(e->native_id, "T-1");
	/* a stray second result: its error, but the turn ended once */
	size_t before = e->nev;
	line(e, "{\"type\":\"result\",\"is_error\":true,\"error\":\"late\"}");
	CHECK_EVENTS(e, before, "error amp\n");
}

static void test_approval(void)
{
	session *s = run("approve", "approval");
	CHECK_EVENTS(s, 0, "turn.started\n"
		"item.started message/user itm_1 in_progress\n"
		"item.completed message/user itm_1 completed\n"
		"item.started message/assistant itm_2 in_progress\n"
		"item.started tool_call/assistant itm_3 in_progress\n"
		"item.completed tool_call/assistant itm_3 completed\n"
		"item.delta itm_2 I'll delete the build directory.\n"
		"item.completed message/assistant itm_2 completed\n"
		"permission.requested Bash requested\n"
		"permission.resolved Bash reject\n"
		"error amp\n"
		"turn.ended\n");
	CHECK_STR(field(s, 8, "data.permission_id"), "toolu_01Zq8nH5tF1");
	CHECK_STR(field(s, 9, "data.permission_id"), "toolu_01Zq8nH5tF1");
	CHECK_STR(field(s, 8, "synthetic"), "true");
	CHECK_STR(field(s, 9, "synthetic"), "true");
	CHECK_STR(field(s, 8, "data.metadata.toolName"), "Bash");
	CHECK_STR(field(s, 8, "data.metadata.input.cmd"), "rm -rf build");
	CHECK_STR(field(s, 8, "data.metadata.toolUseId"), "toolu_01Zq8nH5tF1");
	CHECK(strstr(field(s, 8, "data.metadata.reason"), "require user approval") != NULL);
	CHECK_STR(field(s, 8, "raw.type"), "result");
	CHECK_INT(s->nperms, 0);
	CHECK(!strncmp(field(s, 10, "data.message"), "The following tools require user approval", 41));

	/* several names, one of them never announced by a tool_use */
	session *m = new_session("approve-many");
	message(m, "x");
	line(m, "{\"type\":\"assistant\",\"message\":{\"type\":\"message\",\"role\":\"assistant\","
		"\"content\":[{\"type\":\"tool_use\",\"id\":\"tu_a\",\"name\":\"Bash\",\"input\":{\"cmd\":\"a\"}},"
		"{\"type\":\"tool_use\",\"id\":\"tu_b\",\"name\":\"edit_file\",\"input\":{\"path\":\"f\"}}],"
		"\"stop_reason\":\"tool_use\"},\"parent_tool_use_id\":null,\"session_id\":\"T-2\"}");
	size_t from = m->nev;
	line(m, "{\"type\":\"result\",\"subtype\":\"error_during_execution\",\"duration_ms\":9,"
		"\"is_error\":true,\"num_turns\":1,\"error\":\"The following tools require user approval, "
		"which is not supported in stream JSON mode: edit_file, Bash, mcp__x__y\","
		"\"session_id\":\"T-2\"}");
	CHECK_EVENTS(m, from, "permission.requested edit_file requested\n"
		"permission.resolved edit_file reject\n"
		"permission.requested Bash requested\n"
		"permission.resolved Bash reject\n"
		"permission.requested mcp__x__y requested\n"
		"permission.resolved mcp__x__y reject\n"
		"item.completed message/assistant itm_2 failed\n"
		"error amp\n"
		"turn.ended\n");
	CHECK_STR(field(m, from, "data.permission_id"), "tu_b");
	CHECK_STR(field(m, from + 2, "data.permission_id"), "tu_a");
	CHECK_STR(field(m, from + 4, "data.permission_id"), "amp_approval_1");
	CHECK_STR(field(m, from + 4, "data.metadata.input"), "null");
	CHECK_STR(field(m, from + 4, "data.metadata.toolUseId"), "null");

	/* no names: the calls without a result */
	session *u = new_session("approve-unnamed");
	message(u, "x");
	line(u, "{\"type\":\"assistant\",\"message\":{\"type\":\"message\",\"role\":\"assistant\","
		"\"content\":[{\"type\":\"tool_use\",\"id\":\"tu_1\",\"name\":\"Read\",\"input\":{}},"
		"{\"type\":\"tool_use\",\"id\":\"tu_2\",\"name\":\"Bash\",\"input\":{\"cmd\":\"b\"}}]},"
		"\"session_id\":\"T-3\"}");
	line(u, "{\"type\":\"user\",\"message\":{\"role\":\"user\",\"content\":[{\"type\":\"tool_result\","
		"\"tool_use_id\":\"tu_1\",\"content\":\"ok\",\"is_error\":false}]},\"session_id\":\"T-3\"}");
	from = u->nev;
	line(u, "{\"type\":\"result\",\"subtype\":\"error_during_execution\",\"is_error\":true,"
		"\"error\":\"A tool requires user approval, which is not supported in stream JSON mode\"}");
	CHECK_EVENTS(u, from, "permission.requested Bash requested\n"
		"permission.resolved Bash reject\n"
		"item.completed message/assistant itm_2 failed\n"
		"error amp\n"
		"turn.ended\n");
	CHECK_STR(field(u, from, "data.permission_id"), "tu_2");
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
	CHECK_STR(field(s, 9, "data.item.content.0.text"), "and then?");
	CHECK_STR(field(s, 12, "data.item.native_item_id"), "multi_pending_assistant_2");
	CHECK_STR(s->native_id, "T-e41c7a2b-9d0f-4e3a-8b6c-3f2a1d0e9c85");
	/* the next message continues that thread */
	const char *argv[AMP_ARGV_MAX];
	CHECK(build_argv(s, state(s), "--execute=third", argv));
	CHECK_STR(argv[0], "amp");
	CHECK_STR(argv[1], "threads");
	CHECK_STR(argv[2], "continue");
	CHECK_STR(argv[3], "T-e41c7a2b-9d0f-4e3a-8b6c-3f2a1d0e9c85");
	CHECK_STR(argv[4], "--execute=third");
	CHECK_STR(argv[5], "--stream-json");
	CHECK_STR(argv[6], "--stream-json-thinking");
	CHECK(argv[7] == NULL);
}

/* ---- command lines ---- */

static void test_argv(void)
{
	session *s = new_session("argv");
	const char *argv[AMP_ARGV_MAX];
	CHECK(!build_argv(s, state(s), "--execute=-x hi", argv));
	CHECK_STR(argv[0], "amp");
	CHECK_STR(argv[1], "--execute=-x hi");
	CHECK_STR(argv[2], "--stream-json");
	CHECK_STR(argv[3], "--stream-json-thinking");
	CHECK_STR(argv[4], "--no-archive-after-execute");
	CHECK(argv[5] == NULL);

	free(s->permission_mode);
	s->permission_mode = xstrdup("bypass");
	free(s->model);
	s->model = xstrdup("high");
	state(s)->mcp_path = xstrdup("/tmp/m.json");
	build_argv(s, state(s), "--execute=a", argv);
	CHECK_STR(argv[5], "--dangerously-allow-all");
	CHECK_STR(argv[6], "-m");
	CHECK_STR(argv[7], "high");
	CHECK_STR(argv[8], "--mcp-config");
	CHECK_STR(argv[9], "/tmp/m.json");
	CHECK(argv[10] == NULL);
	free(state(s)->mcp_path);
	state(s)->mcp_path = NULL;

	/* a native id that is no thread id is never passed on */
	s->native_id = xstrdup("--help");
	CHECK(!build_argv(s, state(s), "--execute=a", argv));
	CHECK(valid_thread("T-abc_1.2"));
	CHECK(!valid_thread(""));
	CHECK(!valid_thread("T-a b"));
	CHECK(!valid_thread("T-a;rm"));
	char longid[AMP_THREAD_MAX + 2];
	memset(longid, 'a', sizeof longid - 1);
	longid[sizeof longid - 1] = 0;
	CHECK(!valid_thread(longid));
	CHECK(default_model(NULL) && default_model("amp-default") && default_model("default"));
	CHECK(!default_model("low"));
}

/* ---- failures ---- */

static void test_login_prompt(void)
{
	session *s = new_session("login");
	message(s, "hi");
	size_t from = s->nev;
	line(s, "No API key found. Starting login flow...");
	CHECK(state(s)->login);
	line(s, "If your browser does not open automatically, visit:");
	line(s, "{\"type\":\"result\",\"subtype\":\"success\"}");
	CHECK_INT(s->nev, from); /* nothing until the process is gone */
	exited(s, 0, SIGTERM, "");
	CHECK_EVENTS(s, from, "item.completed message/assistant itm_2 failed\n"
		"error amp_login_required\n"
		"session.ended error/agent\n");
	CHECK_STR(field(s, from + 1, "data.message"),
		"amp needs credentials: set AMP_API_KEY or run `amp login`");
	CHECK_STR(field(s, from + 1, "data.details.stdout"), "No API key found. Starting login flow...");
	CHECK_STR(field(s, from + 2, "data.message"),
		"amp needs credentials: set AMP_API_KEY or run `amp login`");
	CHECK(s->ended);
	CHECK(!s->busy);
	/* a JSON line quoting the words is no prompt */
	session *j = new_session("login-json");
	message(j, "hi");
	line(j, "{\"type\":\"assistant\",\"message\":{\"role\":\"assistant\",\"content\":"
		"[{\"type\":\"text\",\"text\":\"No API key found\"}]},\"session_id\":\"T-9\"}");
	CHECK(!state(j)->login);
}

static void test_exit_without_result(void)
{
	static const char err[] = "Error: Couldn't connect to the Amp server at http://127.0.0.1:9.\n"
		"\n"
		"Run `pnpm dev` to start the local server, then try again.\n";
	session *s = new_session("unreach");
	message(s, "hi");
	size_t from = s->nev;
	exited(s, 1, 0, err);
	CHECK_EVENTS(s, from, "item.completed message/assistant itm_2 failed\n"
		"error process_exit\n"
		"session.ended error/agent\n");
	CHECK_STR(field(s, from + 1, "data.message"),
		"agent exited with status 1: Couldn't connect to the Amp server at http://127.0.0.1:9.");
	CHECK_STR(field(s, from + 1, "data.details.exit_code"), "1");
	CHECK_STR(field(s, from + 1, "data.details.signal"), "null");
	CHECK_STR(field(s, from + 1, "data.details.stderr"), err);
	CHECK_STR(field(s, from + 1, "data.details.amp_error"),
		"Couldn't connect to the Amp server at http://127.0.0.1:9.");
	CHECK_STR(field(s, from + 2, "data.exit_code"), "1");
	CHECK_STR(field(s, from + 2, "data.message"),
		"agent exited with status 1: Couldn't connect to the Amp server at http://127.0.0.1:9.");
	CHECK(s->ended && !s->ended_by_daemon && s->has_exit_code && s->exit_code == 1);
	CHECK(!s->busy);

	/* no "Error:" line: the plain message */
	session *q = new_session("quiet");
	message(q, "hi");
	exited(q, 3, 0, "something else\n");
	CHECK_STR(field(q, q->nev - 2, "data.message"), "agent exited with status 3");
	CHECK_STR(field(q, q->nev - 2, "data.details.amp_error"), "null");

	/* killed by a signal */
	session *k = new_session("killed");
	message(k, "hi");
	exited(k, 0, SIGKILL, "");
	CHECK_STR(field(k, k->nev - 2, "data.message"), "agent exited with status 137");
	CHECK_STR(field(k, k->nev - 2, "data.details.signal"), "9");

	/* status 0 without a result: the turn ends, the session stays */
	session *z = new_session("zero");
	message(z, "hi");
	from = z->nev;
	exited(z, 0, 0, "");
	CHECK_EVENTS(z, from, "item.completed message/assistant itm_2 failed\n"
		"error process_exit\n"
		"turn.ended\n");
	CHECK(!z->ended);

	/* the last "Error: " line wins */
	char *w = amp_error_of("Error: first\nnoise\nError: WebSocket connection failed.  \r\n", 59);
	CHECK_STR(w, "WebSocket connection failed.");
	free(w);
	CHECK(amp_error_of("Error: \n", 8) == NULL);
	CHECK(amp_error_of("", 0) == NULL);
}

static void test_unparsed_and_limits(void)
{
	session *s = new_session("junk");
	message(s, "hi");
	size_t from = s->nev;
	line(s, "warning: something odd");
	line(s, "[1,2]");
	line(s, "   ");
	handle_line(s, state(s), "{\"type\":\"assistant\"", 19, true);
	CHECK_EVENTS(s, from, "agent.unparsed amp\n"
		"agent.unparsed amp\n"
		"agent.unparsed amp\n");
	CHECK_STR(field(s, from, "raw"), "warning: something odd");
	CHECK_STR(field(s, from + 2, "data.error"), "line longer than the limit");
	/* after terminate, the exit records nothing */
	state(s)->terminating = true;
	size_t n = s->nev;
	exited(s, 143, 0, "");
	CHECK_INT(s->nev, n);
	/* more tool calls than remembered: the oldest are forgotten */
	session *t = new_session("many-tools");
	message(t, "x");
	for (int i = 0; i < AMP_TOOLS_MAX + 5; i++) {
		char l[512];
		snprintf(l, sizeof l, "{\"type\":\"assistant\",\"message\":{\"role\":\"assistant\","
			"\"content\":[{\"type\":\"tool_use\",\"id\":\"tu_%d\",\"name\":\"Bash\","
			"\"input\":{\"cmd\":\"n\"}}]},\"session_id\":\"T-4\"}", i);
		line(t, l);
	}
	CHECK_INT(state(t)->ntools, AMP_TOOLS_MAX + 5);
	from = t->nev;
	line(t, "{\"type\":\"result\",\"is_error\":true,\"error\":\"The following tools require "
		"user approval, which is not supported in stream JSON mode: Bash\"}");
	char want[32];
	snprintf(want, sizeof want, "tu_%d", AMP_TOOLS_MAX + 4);
	CHECK_STR(field(t, from, "data.permission_id"), want);
}

/* ---- credentials and configuration ---- */

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
	char dir[] = "/tmp/test-amp-XXXXXX";
	CHECK(mkdtemp(dir) != NULL);
	char p[1024], amp[512];
	setenv("HOME", dir, 1);
	unsetenv("XDG_DATA_HOME");
	unsetenv("AMP_API_KEY");
	CHECK(!amp_credentials());
	setenv("AMP_API_KEY", "", 1);
	CHECK(!amp_credentials()); /* Amp treats an empty key as none */
	setenv("AMP_API_KEY", "sgamp_x", 1);
	CHECK(amp_credentials());
	unsetenv("AMP_API_KEY");

	snprintf(p, sizeof p, "%s/.local", dir);
	mkdir(p, 0700);
	snprintf(p, sizeof p, "%s/.local/share", dir);
	mkdir(p, 0700);
	snprintf(amp, sizeof amp, "%s/.local/share/amp", dir);
	mkdir(amp, 0700);
	snprintf(p, sizeof p, "%s/secrets.json", amp);
	write_file(p, "{\"apiKey@https://ampcode.com/\": \"\"}");
	CHECK(!amp_credentials());
	write_file(p, "{\"other@https://ampcode.com/\": \"sgamp_y\"}");
	CHECK(!amp_credentials());
	write_file(p, "not json");
	CHECK(!amp_credentials());
	write_file(p, "{\"apiKey@https://ampcode.com/\": \"sgamp_y\"}");
	CHECK(amp_credentials());
	/* XDG_DATA_HOME wins over HOME */
	snprintf(p, sizeof p, "%s/xdg", dir);
	mkdir(p, 0700);
	setenv("XDG_DATA_HOME", p, 1);
	CHECK(!amp_credentials());
	snprintf(p, sizeof p, "%s/xdg/amp", dir);
	mkdir(p, 0700);
	snprintf(p, sizeof p, "%s/xdg/amp/secrets.json", dir);
	write_file(p, "{\"apiKey@http://127.0.0.1:8080/\":\"sgamp_z\"}");
	CHECK(amp_credentials());

	/* create is refused without credentials, with the way out in the message */
	unsetenv("XDG_DATA_HOME");
	snprintf(p, sizeof p, "%s/.local/share/amp/secrets.json", dir);
	unlink(p);
	session *s = sess_new("nokey", &agent_amp_under_test);
	sess_register(s);
	agent_err e = {0};
	CHECK_INT(amp_create(s, &e), -1);
	CHECK_INT(e.kind, AERR_INVALID);
	CHECK_STR(e.msg, "amp needs credentials: set AMP_API_KEY or run `amp login`");
	CHECK(agent_amp_under_test.credentials == amp_credentials);

	snprintf(p, sizeof p, "%s/xdg/amp/secrets.json", dir);
	unlink(p);
	snprintf(p, sizeof p, "%s/xdg/amp", dir);
	rmdir(p);
	snprintf(p, sizeof p, "%s/xdg", dir);
	rmdir(p);
	rmdir(amp);
	snprintf(p, sizeof p, "%s/.local/share", dir);
	rmdir(p);
	snprintf(p, sizeof p, "%s/.local", dir);
	rmdir(p);
	rmdir(dir);
	setenv("AMP_API_KEY", "sgamp_test", 1);
}

static void test_mcp(void)
{
	char why[300];
	setenv("TEST_AMP_TOKEN", "tok123", 1);
	setenv("TEST_AMP_TEAM", "blue", 1);
	char *c = mcp_config("{\"fs\":{\"type\":\"local\",\"command\":[\"npx\",\"-y\",\"srv\"],"
		"\"args\":[\"/work\"],\"env\":{\"A\":\"1\",\"N\":2},\"timeoutMs\":5000},"
		"\"web\":{\"type\":\"remote\",\"url\":\"https://m.example/mcp\",\"headers\":{\"X-A\":\"b\"},"
		"\"bearerTokenEnvVar\":\"TEST_AMP_TOKEN\",\"envHeaders\":{\"X-Team\":\"TEST_AMP_TEAM\"}},"
		"\"off\":{\"command\":\"x\",\"enabled\":false},"
		"\"ev\":{\"url\":\"https://e.example/sse\",\"transport\":\"sse\","
		"\"headers\":{\"authorization\":\"Basic q\"},\"bearerTokenEnvVar\":\"TEST_AMP_TOKEN\"}}",
		why, sizeof why);
	CHECK_STR(c, "{\"fs\":{\"command\":\"npx\",\"args\":[\"-y\",\"srv\",\"/work\"],"
		"\"env\":{\"A\":\"1\"}},"
		"\"web\":{\"url\":\"https://m.example/mcp\",\"headers\":{\"X-A\":\"b\","
		"\"Authorization\":\"Bearer tok123\",\"X-Team\":\"blue\"}},"
		"\"ev\":{\"url\":\"https://e.example/sse\",\"transport\":\"sse\","
		"\"headers\":{\"authorization\":\"Basic q\"}}}");
	free(c);
	CHECK(mcp_config("{\"a\":{\"command\":[]}}", why, sizeof why) == NULL);
	CHECK_STR(why, "mcp server a: mcp command cannot be empty");
	CHECK(mcp_config("{\"a\":{\"type\":\"weird\"}}", why, sizeof why) == NULL);
	CHECK_STR(why, "mcp server a: unsupported mcp server config");
	CHECK(mcp_config("{\"a\":3}", why, sizeof why) == NULL);
	CHECK_STR(why, "mcp server a: not an object");
	CHECK(mcp_config("[1]", why, sizeof why) == NULL);
	CHECK_STR(why, "invalid mcp configuration");
	/* only disabled servers: nothing to pass, no error */
	CHECK(mcp_config("{\"a\":{\"command\":\"x\",\"enabled\":false}}", why, sizeof why) == NULL);
	CHECK_STR(why, "");

	/* create: an invalid map is refused, a valid one written 0600 at spawn */
	session *s = sess_new("mcp-bad", &agent_amp_under_test);
	s->mcp_json = xstrdup("{\"a\":{\"command\":[]}}");
	sess_register(s);
	agent_err e = {0};
	CHECK_INT(amp_create(s, &e), -1);
	CHECK_STR(e.msg, "mcp server a: mcp command cannot be empty");
	session *g = sess_new("mcp-good", &agent_amp_under_test);
	g->mcp_json = xstrdup("{\"a\":{\"command\":\"x\"}}");
	sess_register(g);
	CHECK_INT(amp_create(g, &e), 0);
	char err[200];
	CHECK(mcp_write(state(g), err, sizeof err));
	struct stat st;
	CHECK(state(g)->mcp_path && stat(state(g)->mcp_path, &st) == 0 && (st.st_mode & 0777) == 0600);
	size_t n;
	char *body = read_small_file(state(g)->mcp_path, 4096, &n);
	CHECK_STR(body, "{\"a\":{\"command\":\"x\",\"args\":[]}}");
	free(body);
	char *path = xstrdup(state(g)->mcp_path);
	amp_terminate(g);
	CHECK(access(path, F_OK) != 0);
	free(path);
}

static void test_facts(void)
{
	const agent_ops *a = &agent_amp_under_test;
	CHECK_STR(a->id, "amp");
	CHECK_STR(a->binary, "amp");
	/* the registry lists the linked copy, with its operations */
	const agent_ops *r = agent_find("amp");
	CHECK(r != NULL && r->create && r->send && r->terminate && r->free_state && r->credentials);
	CHECK(a->caps[CAP_TOOL_CALLS] && a->caps[CAP_TOOL_RESULTS] && a->caps[CAP_TEXT_MESSAGES] &&
		a->caps[CAP_ERROR_EVENTS] && a->caps[CAP_MCP_TOOLS]);
	int on = 0;
	for (int i = 0; i < CAP__COUNT; i++)
		on += a->caps[i];
	CHECK_INT(on, 5);
	CHECK_INT(a->nmodes, 1);
	CHECK_STR(a->modes[0].id, "build");
	CHECK_STR(a->default_model, "amp-default");
	CHECK_INT(a->nmodels, 1);
	const char *am, *pm;
	agent_err e = {0};
	CHECK_INT(agent_normalize_modes(a, NULL, "acceptEdits", &am, &pm, &e), 0);
	CHECK_STR(pm, "default");
	CHECK_INT(agent_normalize_modes(a, NULL, "bypass", &am, &pm, &e), 0);
	CHECK_STR(pm, "bypass");
	CHECK_INT(agent_normalize_modes(a, NULL, "plan", &am, &pm, &e), -1);
	CHECK_INT(e.kind, AERR_MODE);
	CHECK_INT(agent_normalize_modes(a, "plan", NULL, &am, &pm, &e), -1);
	CHECK(a->reply_permission == NULL && a->reply_question == NULL);
}

int main(void)
{
	setenv("AMP_API_KEY", "sgamp_test", 1);
	test_text();
	test_thinking();
	test_tools();
	test_error_result();
	test_approval();
	test_multiturn();
	test_argv();
	test_login_prompt();
	test_exit_without_result();
	test_unparsed_and_limits();
	test_credentials();
	test_mcp();
	test_facts();
	sess_free_all();
	return t_done("amp");
}
