/* claude.c - the Claude Code adapter: the real `claude` CLI in
 * bidirectional stream-json mode, one long-lived process per session.
 *
 * Process. Spawned at the first message (create only prepares state), in
 * the session's directory, with the server's environment unchanged:
 *   claude -p --input-format stream-json --output-format stream-json
 *          --verbose --include-partial-messages --permission-prompt-tool stdio
 *          [--model M] [--permission-mode plan|acceptEdits]
 *          [--dangerously-skip-permissions, with IS_SANDBOX=1]
 *          [--mcp-config <0600 temp file>] [--resume <native session id>]
 * Model "default" passes no --model. Each message is one user line on
 * stdin; later turns reuse the process, and the session layer queues
 * messages while a turn runs. The `result` line ends a turn.
 *
 * Process end. While idle, any exit (also a kill) is not an end: the next
 * message respawns with --resume. During a turn: if the process wrote
 * nothing for this turn yet (it died under our feet just before the
 * message), it is respawned once and the message written again;
 * otherwise the open assistant item fails, an error event (process_exit)
 * is recorded, and a non-zero status ends the session (error, agent).
 * Exit status 0 mid-turn only ends the turn. Claude writes its transcript
 * shortly after a result; if it was killed before that, the resume fails
 * ("No conversation found"): that turn reports the error and the next
 * message starts a new conversation (the new native id is adopted).
 *
 * Terminate: interrupt if a turn runs, close stdin, SIGTERM the process
 * group (SIGKILL after the grace period); later lines are ignored.
 *
 * Events: see streamjson.h. api_retry lines become status items
 * ("claude.api_retry") so that slow retries are visible.
 *
 * HITL (spec 7.3): can_use_tool -> permission.requested; replies are
 * control_responses (allow + updatedInput = the request's input; deny +
 * "Permission denied."). AskUserQuestion / ExitPlanMode -> question
 * requested from the tool_use; the tool's own can_use_tool stays hidden
 * and is answered by the question reply: allow with the input plus
 * "answers" keyed by question text (multi-select joined with ", "), which
 * is what the tool reads; ExitPlanMode answered "reject" is a deny. A
 * reply that arrives before Claude's can_use_tool is kept and applied
 * when the request comes.
 *
 * Images: attachments with an image mime (or extension) Anthropic accepts
 * are read (up to CLAUDE_IMAGE_MAX each, CLAUDE_IMAGES_B64_MAX encoded per
 * message so the line fits the stdin queue) and sent as base64 image
 * blocks before the text; every attachment also stays a text line of the
 * message.
 *
 * Limits: a stdout line over PROC_LINE_MAX becomes agent.unparsed; were
 * that the result line, the turn would only end with the process.
 *
 * Depends on the session API, proc/, json/, streamjson, adapter_util and
 * the loop. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "../base/buf.h"
#include "../base/log.h"
#include "../base/util.h"
#include "../json/json.h"
#include "../proc/proc.h"
#include "../server/server.h"
#include "adapter_util.h"
#include "agent.h"
#include "credentials.h"
#include "streamjson.h"

#define CLAUDE_IMAGE_MAX (10u * 1024 * 1024) /* bytes of one image attachment */
#define CLAUDE_IMAGES_B64_MAX (12u * 1024 * 1024) /* base64 per message: the line must
                                                   * fit PROC_STDIN_MAX */
#define CLAUDE_FILE_MAX (1u << 20)           /* credential files read */
#define CLAUDE_EARLY_MAX 16                  /* question replies waiting for can_use_tool */
#define CLAUDE_JSON_TOKENS 16384             /* tokens for inputs and configs */
#define CLAUDE_STDERR_LINES 20               /* stderr lines given in error details */

typedef struct {
	char *qid;
	char *answers; /* JSON array, NULL = rejected */
} early_answer;

typedef struct {
	proc_t *p;
	sj_conv *conv;
	bool turn;        /* a message is with the process and no result yet */
	bool terminating;
	bool turn_output; /* the process wrote a line since the message */
	bool retried;
	bool resumed;     /* the process was started with --resume */
	bool no_resume;   /* the native session is gone: start afresh */
	char *line;       /* the user line of the running turn */
	size_t line_len;
	char *mcp_cfg;    /* Claude mcp-config JSON, or NULL */
	char *mcp_path;   /* its temp file, once written */
	early_answer early[CLAUDE_EARLY_MAX];
	uint64_t sent_ms; /* when the message went out (timing log) */
	uint64_t req_seq;
} claude_state;

static void on_line(proc_t *p, void *ud, const char *line, size_t len, bool truncated);
static void on_exit_cb(proc_t *p, void *ud, int status);
static const proc_ops claude_proc_ops = {on_line, on_exit_cb};

/* ---- small helpers ---- */

static json_tok *toks(void) { return xmalloc(CLAUDE_JSON_TOKENS * sizeof(json_tok)); }

static bool active(const claude_state *st)
{
	return st && st->p && !st->terminating && proc_stdin_open(st->p);
}

static int write_line(claude_state *st, buf_t *b)
{
	buf_putc(b, '\n');
	return st->p ? proc_write(st->p, b->p, b->len) : -1;
}

/* ---- credentials (spec 8.6, Claude's part) ---- */

static bool env_set(const char *k, bool empty_ok)
{
	const char *v = getenv(k);
	return v && (empty_ok || *v);
}

static bool file_has_claude_creds(const char *path, bool oauth_file)
{
	size_t n;
	char *js = au_read_file(path, CLAUDE_FILE_MAX, &n);
	if (!js)
		return false;
	json_tok *t = toks();
	bool ok = false;
	if (json_parse(js, n, t, CLAUDE_JSON_TOKENS) > 0 && t[0].type == JSON_OBJECT) {
		if (oauth_file) {
			int o = json_obj_get(js, t, 0, "claudeAiOauth");
			int a = o >= 0 && t[o].type == JSON_OBJECT ? json_obj_get(js, t, o, "accessToken") : -1;
			int ex = o >= 0 && t[o].type == JSON_OBJECT ? json_obj_get(js, t, o, "expiresAt") : -1;
			int64_t exp;
			ok = a >= 0 && t[a].type == JSON_STRING && t[a].end > t[a].start;
			if (ok && ex >= 0 && json_get_i64(js, t, ex, &exp) && exp < util_unix_ms())
				ok = false;
		} else {
			static const char *const keys[] = {"primaryApiKey", "apiKey", "anthropicApiKey",
				"customApiKey"};
			for (int k = 0; k < 4 && !ok; k++) {
				int i = json_obj_get(js, t, 0, keys[k]);
				ok = i >= 0 && t[i].type == JSON_STRING && t[i].end - t[i].start > 7 &&
					!memcmp(js + t[i].start, "sk-ant-", 7);
			}
			int oa = json_obj_get(js, t, 0, "oauthAccount");
			if (!ok && oa >= 0 && t[oa].type == JSON_OBJECT && t[oa].size)
				ok = true;
		}
	}
	free(t);
	free(js);
	return ok;
}

static bool claude_credentials(void)
{
	if (env_set("ANTHROPIC_API_KEY", true) || env_set("CLAUDE_API_KEY", false) ||
			env_set("CLAUDE_CODE_OAUTH_TOKEN", false) || env_set("ANTHROPIC_AUTH_TOKEN", false))
		return true;
	const char *home = getenv("HOME");
	const char *cfg = getenv("CLAUDE_CONFIG_DIR");
	char path[4096];
	if (cfg && *cfg) {
		snprintf(path, sizeof path, "%s/.credentials.json", cfg);
		if (file_has_claude_creds(path, true))
			return true;
		snprintf(path, sizeof path, "%s/.claude.json", cfg);
		if (file_has_claude_creds(path, false))
			return true;
	}
	if (home && *home) {
		snprintf(path, sizeof path, "%s/.claude/.credentials.json", home);
		if (file_has_claude_creds(path, true))
			return true;
		snprintf(path, sizeof path, "%s/.claude.json", home);
		if (file_has_claude_creds(path, false))
			return true;
	}
	return false;
}

/* ---- MCP servers: the session's map as Claude's mcp-config ---- */

/* {"mcpServers":{name: {"type":"stdio",…} | {"type":"http"|"sse",…}}}.
 * Claude expands ${VAR} in MCP configs: header secrets stay in the
 * environment. */
static const au_mcp_shape claude_mcp_shape = {
	.wrap = "mcpServers", .typed = true, .env_refs = true,
};

/* ---- the process ---- */

static int spawn(session *s, claude_state *st, agent_err *e)
{
	char *bin = au_binary(&agent_claude, e);
	if (!bin)
		return -1;
	char err[512];
	if (!au_mcp_write(st->mcp_cfg, "mcp", &st->mcp_path, err, sizeof err)) {
		agent_fail(e, AERR_EXITED, "%s", err);
		free(bin);
		return -1;
	}
	const char *argv[24];
	int n = 0;
	argv[n++] = "claude";
	argv[n++] = "-p";
	argv[n++] = "--input-format";
	argv[n++] = "stream-json";
	argv[n++] = "--output-format";
	argv[n++] = "stream-json";
	argv[n++] = "--verbose";
	argv[n++] = "--include-partial-messages";
	argv[n++] = "--permission-prompt-tool";
	argv[n++] = "stdio";
	if (s->model && *s->model && strcmp(s->model, "default")) {
		argv[n++] = "--model";
		argv[n++] = s->model;
	}
	const char *pm = s->permission_mode ? s->permission_mode : "default";
	/* Credentials found outside Claude Code's own files (spec 8.6) */
	char **cenv = cred_agent_env("claude");
	size_t ne = 0;
	while (cenv && cenv[ne])
		ne++;
	const char **env = xcalloc(ne + 2, sizeof *env);
	for (size_t i = 0; i < ne; i++)
		env[i] = cenv[i];
	if (!strcmp(pm, "plan") || !strcmp(pm, "acceptEdits")) {
		argv[n++] = "--permission-mode";
		argv[n++] = pm;
	} else if (!strcmp(pm, "bypass")) {
		argv[n++] = "--dangerously-skip-permissions";
		env[ne++] = "IS_SANDBOX=1"; /* else refused when the daemon runs as root */
	}
	if (st->mcp_path) {
		argv[n++] = "--mcp-config";
		argv[n++] = st->mcp_path;
	}
	st->resumed = false;
	if (s->native_id && *s->native_id && s->native_id[0] != '-' && !st->no_resume) {
		argv[n++] = "--resume";
		argv[n++] = s->native_id;
		st->resumed = true;
	}
	st->no_resume = false;
	argv[n] = NULL;
	proc_spec sp = {.path = bin, .argv = argv, .env = env, .cwd = s->directory};
	st->p = proc_spawn(srv_loop(), &sp, &claude_proc_ops, s, err, sizeof err);
	free(env);
	cred_env_free(cenv);
	free(bin);
	if (!st->p) {
		agent_fail(e, AERR_EXITED, "failed to start claude: %s", err);
		return -1;
	}
	log_info("session %s: claude started as pid %d%s", s->id, (int)proc_pid(st->p),
		st->resumed ? " (resumed)" : "");
	return 0;
}

static void w_control_id(jw_t *w, claude_state *st)
{
	char id[48];
	snprintf(id, sizeof id, "sa-%llu", (unsigned long long)++st->req_seq);
	jw_kstr(w, "request_id", id);
}

static void send_interrupt(claude_state *st)
{
	buf_t b;
	jw_t w;
	buf_init(&b);
	jw_init(&w, &b);
	jw_obj(&w);
	jw_kstr(&w, "type", "control_request");
	w_control_id(&w, st);
	jw_key(&w, "request");
	jw_obj(&w);
	jw_kstr(&w, "subtype", "interrupt");
	jw_obj_end(&w);
	jw_obj_end(&w);
	write_line(st, &b);
	buf_free(&b);
}

static void refuse(claude_state *st, const char *req_id)
{
	buf_t b;
	jw_t w;
	buf_init(&b);
	jw_init(&w, &b);
	jw_obj(&w);
	jw_kstr(&w, "type", "control_response");
	jw_key(&w, "response");
	jw_obj(&w);
	jw_kstr(&w, "subtype", "error");
	jw_kstr(&w, "request_id", req_id);
	jw_kstr(&w, "error", "unsupported control request");
	jw_obj_end(&w);
	jw_obj_end(&w);
	write_line(st, &b);
	buf_free(&b);
}

/* ---- permission and question replies ---- */

/* The "input" object kept in a permission's metadata: its span, or "{}". */
static void stored_input(const char *meta, json_tok *t, const char **in, size_t *n)
{
	*in = "{}";
	*n = 2;
	if (!meta)
		return;
	int c = json_parse(meta, strlen(meta), t, CLAUDE_JSON_TOKENS);
	int i = c > 0 && t[0].type == JSON_OBJECT ? json_obj_get(meta, t, 0, "input") : -1;
	if (i >= 0 && t[i].type == JSON_OBJECT) {
		*in = meta + t[i].start;
		*n = t[i].end - t[i].start;
	}
}

/* answers map keyed by question text (index when a question has none);
 * several labels of one question are joined with ", ". */
static void w_answers(jw_t *w, const char *in, size_t in_len, const char *answers)
{
	json_tok *ti = toks(), *ta = toks();
	int ni = json_parse(in, in_len, ti, CLAUDE_JSON_TOKENS);
	int na = json_parse(answers, strlen(answers), ta, CLAUDE_JSON_TOKENS);
	int qs = ni > 0 && ti[0].type == JSON_OBJECT ? json_obj_get(in, ti, 0, "questions") : -1;
	jw_obj(w);
	unsigned idx = 0;
	for (int a = na > 0 && ta[0].type == JSON_ARRAY ? json_first(ta, 0) : -1; a >= 0;
			a = json_next(ta, a), idx++) {
		if (ta[a].type != JSON_ARRAY || !ta[a].size)
			continue;
		int q = qs >= 0 && ti[qs].type == JSON_ARRAY ? json_arr_get(ti, qs, idx) : -1;
		int qt = q >= 0 && ti[q].type == JSON_OBJECT ? json_obj_get(in, ti, q, "question") : -1;
		char *key = qt >= 0 ? json_str_dup(in, ti, qt, NULL) : NULL;
		char num[24];
		snprintf(num, sizeof num, "%u", idx);
		buf_t v;
		buf_init(&v);
		for (int j = json_first(ta, a); j >= 0; j = json_next(ta, j)) {
			size_t l;
			char *s = json_str_dup(answers, ta, j, &l);
			if (!s)
				continue;
			if (v.len)
				buf_puts(&v, ", ");
			buf_append(&v, s, l);
			free(s);
		}
		jw_key(w, key ? key : num);
		jw_strn(w, v.p ? v.p : "", v.len);
		buf_free(&v);
		free(key);
	}
	jw_obj_end(w);
	free(ti);
	free(ta);
}

/* updatedInput: the input object, with "answers" replaced when given. */
static void w_updated_input(jw_t *w, const char *in, size_t n, const char *answers)
{
	if (!answers) {
		jw_raw(w, in, n);
		return;
	}
	json_tok *t = toks();
	int c = json_parse(in, n, t, CLAUDE_JSON_TOKENS);
	jw_obj(w);
	for (int k = c > 0 && t[0].type == JSON_OBJECT ? json_first(t, 0) : -1; k >= 0;
			k = json_next(t, json_next(t, k))) {
		if (json_str_eq(in, t, k, "answers"))
			continue;
		char *kn = json_str_dup(in, t, k, NULL);
		jw_key(w, kn ? kn : "");
		au_w_tok(w, in, t, json_next(t, k));
		free(kn);
	}
	free(t);
	jw_key(w, "answers");
	w_answers(w, in, n, answers);
	jw_obj_end(w);
}

static int decide(claude_state *st, const char *req_id, bool allow, const char *meta,
		const char *answers)
{
	json_tok *t = toks();
	const char *in;
	size_t n;
	stored_input(meta, t, &in, &n);
	buf_t b;
	jw_t w;
	buf_init(&b);
	jw_init(&w, &b);
	jw_obj(&w);
	jw_kstr(&w, "type", "control_response");
	jw_key(&w, "response");
	jw_obj(&w);
	jw_kstr(&w, "subtype", "success");
	jw_kstr(&w, "request_id", req_id);
	jw_key(&w, "response");
	jw_obj(&w);
	if (allow) {
		jw_kstr(&w, "behavior", "allow");
		jw_key(&w, "updatedInput");
		w_updated_input(&w, in, n, answers);
	} else {
		jw_kstr(&w, "behavior", "deny");
		jw_kstr(&w, "message", "Permission denied.");
	}
	jw_obj_end(&w);
	jw_obj_end(&w);
	jw_obj_end(&w);
	int rc = write_line(st, &b);
	buf_free(&b);
	free(t);
	return rc;
}

static int claude_reply_permission(session *s, const pending_perm *p, int reply, agent_err *e)
{
	claude_state *st = s->agent_state;
	if (!active(st)) {
		agent_fail(e, AERR_INVALID, "Claude session is not active");
		return -1;
	}
	if (decide(st, p->id, reply != REPLY_REJECT, p->metadata_json, NULL) != 0) {
		agent_fail(e, AERR_STREAM, "cannot write to the claude process");
		return -1;
	}
	return 0;
}

/* The hidden can_use_tool of question qid, if Claude sent it already. */
static pending_perm *question_perm(session *s, claude_state *st, const char *qid)
{
	pending_perm *loose = NULL;
	for (size_t i = 0; i < s->nperms; i++) {
		pending_perm *p = &s->perms[i];
		if (!p->question_tool)
			continue;
		const char *tu = sj_request_tool_use(st->conv, p->id);
		if (tu && !strcmp(tu, qid))
			return p;
		if (!loose && (!tu || !sess_find_question(s, tu)))
			loose = p;
	}
	return loose;
}

static bool first_answer_is(const char *answers, const char *word)
{
	if (!answers)
		return false;
	json_tok t[64];
	int n = json_parse(answers, strlen(answers), t, 64);
	int a = n > 0 && t[0].type == JSON_ARRAY ? json_first(t, 0) : -1;
	int v = a >= 0 && t[a].type == JSON_ARRAY ? json_first(t, a) : -1;
	char *s = v >= 0 ? json_str_dup(answers, t, v, NULL) : NULL;
	bool eq = s && !strcasecmp(s, word);
	free(s);
	return eq;
}

/* Answers the hidden permission p for a question (answers NULL: reject)
 * and resolves it (hidden, so nothing is shown). */
static int answer_perm(session *s, claude_state *st, pending_perm *p, const char *answers)
{
	bool plan = sj_is_plan_tool(p->action);
	bool allow = answers && !(plan && first_answer_is(answers, "reject"));
	if (decide(st, p->id, allow, p->metadata_json, plan ? NULL : answers) != 0)
		return -1;
	pending_perm t;
	sess_take_perm(s, p, &t);
	ev_conv c = {.type = EV_PERMISSION_RESOLVED, .synthetic = true};
	c.u.perm.id = t.id;
	c.u.perm.action = t.action;
	c.u.perm.status = allow ? "accept" : "reject";
	c.u.perm.metadata_json = t.metadata_json;
	sess_record(s, &c);
	sess_free_perm(&t);
	return 0;
}

static int claude_reply_question(session *s, const pending_question *q, const char *answers,
		agent_err *e)
{
	claude_state *st = s->agent_state;
	if (!active(st)) {
		agent_fail(e, AERR_INVALID, "Claude session is not active");
		return -1;
	}
	pending_perm *p = question_perm(s, st, q->id);
	if (p) {
		if (answer_perm(s, st, p, answers) != 0) {
			agent_fail(e, AERR_STREAM, "cannot write to the claude process");
			return -1;
		}
		return 0;
	}
	/* Claude asks for the tool's permission right after the tool_use
	 * line; keep the reply until it does. */
	early_answer *slot = &st->early[0];
	for (int i = 0; i < CLAUDE_EARLY_MAX; i++) {
		if (!st->early[i].qid) {
			slot = &st->early[i];
			break;
		}
	}
	free(slot->qid);
	free(slot->answers);
	slot->qid = xstrdup(q->id);
	slot->answers = answers ? xstrdup(answers) : NULL;
	return 0;
}

static void apply_early(session *s, claude_state *st, const char *perm_id, const char *tool_use)
{
	for (int i = 0; i < CLAUDE_EARLY_MAX; i++) {
		early_answer *a = &st->early[i];
		if (!a->qid || strcmp(a->qid, tool_use))
			continue;
		pending_perm *p = sess_find_perm(s, perm_id);
		if (p)
			answer_perm(s, st, p, a->answers);
		free(a->qid);
		free(a->answers);
		a->qid = a->answers = NULL;
		return;
	}
}

/* ---- process callbacks ---- */

static void on_line(proc_t *p, void *ud, const char *line, size_t len, bool truncated)
{
	session *s = ud;
	claude_state *st = s->agent_state;
	if (!st || st->p != p || st->terminating || s->ended)
		return;
	if (!st->turn_output && st->turn)
		log_debug("session %s: claude first line %llu ms after the message", s->id,
			(unsigned long long)(util_mono_ms() - st->sent_ms));
	st->turn_output = true;
	if (au_blanks(line, len) == len)
		return;
	if (truncated) {
		au_record_long(s, "claude", line, len);
		return;
	}
	sj_effects fx;
	sj_line(st->conv, s, line, len, &fx);
	if (s->ended || st->p != p)
		return;
	if (fx.refuse_id)
		refuse(st, fx.refuse_id);
	if (fx.perm_id && fx.perm_question && fx.perm_tool_use_id)
		apply_early(s, st, fx.perm_id, fx.perm_tool_use_id);
	/* A resume whose transcript is gone (the process was killed before
	 * writing it) fails every time: the next message starts afresh. */
	static const char gone[] = "No conversation found with session ID";
	if (fx.turn_ended && st->resumed && memmem(line, len, gone, sizeof gone - 1)) {
		log_warn("session %s: claude cannot resume %s; the next message starts a new "
			"conversation", s->id, s->native_id ? s->native_id : "");
		st->no_resume = true;
	}
	if (fx.turn_ended && st->turn) {
		st->turn = false;
		free(st->line);
		st->line = NULL;
		log_debug("session %s: claude turn took %llu ms", s->id,
			(unsigned long long)(util_mono_ms() - st->sent_ms));
		sess_turn_done(s);
	}
}

static bool respawn_and_resend(session *s, claude_state *st)
{
	agent_err e = {0};
	if (spawn(s, st, &e) != 0) {
		log_warn("session %s: %s", s->id, e.msg);
		return false;
	}
	st->retried = true;
	if (proc_write(st->p, st->line, st->line_len) != 0) {
		proc_detach(st->p);
		st->p = NULL;
		return false;
	}
	st->sent_ms = util_mono_ms();
	return true;
}

static void on_exit_cb(proc_t *p, void *ud, int status)
{
	session *s = ud;
	claude_state *st = s->agent_state;
	if (!st || st->p != p)
		return;
	st->p = NULL;
	int code = au_exit_code(status);
	if (st->terminating || s->ended)
		return;
	if (!st->turn) {
		/* idle: resumable, the next message starts a new process */
		log_info("session %s: claude exited with status %d while idle", s->id, code);
		return;
	}
	if (!st->turn_output && !st->retried && st->line) {
		log_info("session %s: claude exited (status %d) before answering; restarting it",
			s->id, code);
		if (respawn_and_resend(s, st))
			return;
	}
	au_stderr se;
	au_stderr_take(p, CLAUDE_STDERR_LINES, &se);
	char msg[64];
	snprintf(msg, sizeof msg, "agent exited with status %d", code);
	buf_t det;
	jw_t w;
	buf_init(&det);
	jw_init(&w, &det);
	jw_obj(&w);
	au_w_exit(&w, status, se.tail.p, se.tail.len);
	jw_obj_end(&w);
	st->turn = false;
	free(st->line);
	st->line = NULL;
	if (code != 0)
		log_warn("session %s: claude died during a turn (%s)", s->id, msg);
	sj_turn_failed(st->conv, s, msg, "process_exit", buf_cstr(&det), code, au_stderr_json(&se));
	if (code != 0) /* the file may hold header values; the session is over */
		au_mcp_unlink(&st->mcp_path);
	au_stderr_free(&se);
	buf_free(&det);
	sess_turn_done(s);
}

/* ---- messages ---- */

static const char *image_mime(const char *path, const char *mime)
{
	static const char *const ok[] = {"image/png", "image/jpeg", "image/gif", "image/webp"};
	if (mime && *mime) {
		for (int i = 0; i < 4; i++)
			if (!strcasecmp(mime, ok[i]))
				return ok[i];
		if (!strcasecmp(mime, "image/jpg"))
			return "image/jpeg";
		return NULL;
	}
	const char *dot = strrchr(path, '.');
	if (!dot || strchr(dot, '/'))
		return NULL;
	if (!strcasecmp(dot, ".png"))
		return ok[0];
	if (!strcasecmp(dot, ".jpg") || !strcasecmp(dot, ".jpeg"))
		return ok[1];
	if (!strcasecmp(dot, ".gif"))
		return ok[2];
	if (!strcasecmp(dot, ".webp"))
		return ok[3];
	return NULL;
}

/* Image blocks for the image attachments, written into w (an open
 * content array); the matching user-item parts go to parts. */
static void image_blocks(session *s, const char *att, jw_t *w, buf_t *parts)
{
	size_t budget = CLAUDE_IMAGES_B64_MAX;
	json_tok *t = toks();
	int n = att ? json_parse(att, strlen(att), t, CLAUDE_JSON_TOKENS) : -1;
	for (int i = n > 0 && t[0].type == JSON_ARRAY ? json_first(t, 0) : -1; i >= 0;
			i = json_next(t, i)) {
		if (t[i].type != JSON_OBJECT)
			continue;
		int pi = json_obj_get(att, t, i, "path"), mi = json_obj_get(att, t, i, "mime");
		char *path = pi >= 0 ? json_str_dup(att, t, pi, NULL) : NULL;
		char *mime = mi >= 0 ? json_str_dup(att, t, mi, NULL) : NULL;
		const char *m = path ? image_mime(path, mime) : NULL;
		if (m) {
			buf_t full;
			buf_init(&full);
			if (path[0] != '/' && s->directory)
				buf_printf(&full, "%s/", s->directory);
			buf_puts(&full, path);
			size_t len;
			char *data = au_read_file(buf_cstr(&full), CLAUDE_IMAGE_MAX, &len);
			if (data && 4 * ((len + 2) / 3) > budget) {
				log_warn("session %s: image attachment %s left out: the message would be "
					"too large", s->id, buf_cstr(&full));
				free(data);
				data = NULL;
			} else if (data) {
				budget -= 4 * ((len + 2) / 3);
			}
			if (data) {
				char *b64 = xmalloc(4 * ((len + 2) / 3) + 1);
				size_t bl = util_b64_encode((const unsigned char *)data, len, b64);
				jw_obj(w);
				jw_kstr(w, "type", "image");
				jw_key(w, "source");
				jw_obj(w);
				jw_kstr(w, "type", "base64");
				jw_kstr(w, "media_type", m);
				jw_key(w, "data");
				jw_strn(w, b64, bl);
				jw_obj_end(w);
				jw_obj_end(w);
				free(b64);
				free(data);
				jw_t pw;
				if (parts->len)
					buf_putc(parts, ',');
				jw_init(&pw, parts);
				jw_obj(&pw);
				jw_kstr(&pw, "type", "image");
				jw_kstr(&pw, "path", path);
				jw_kstr(&pw, "mime", m);
				jw_obj_end(&pw);
			} else {
				log_warn("session %s: image attachment %s not sent (unreadable or over %u "
					"bytes)", s->id, buf_cstr(&full), CLAUDE_IMAGE_MAX);
			}
			buf_free(&full);
		}
		free(path);
		free(mime);
	}
	free(t);
}

static int claude_send(session *s, const char *text, size_t len, const char *att, agent_err *e)
{
	claude_state *st = s->agent_state;
	if (!st || st->terminating) {
		agent_fail(e, AERR_INVALID, "Claude session is not active");
		return -1;
	}
	if (!st->p && !au_installed(&agent_claude, e))
		return -1;
	buf_t line, parts;
	jw_t w;
	buf_init(&line);
	buf_init(&parts);
	jw_init(&w, &line);
	jw_obj(&w);
	jw_kstr(&w, "type", "user");
	jw_key(&w, "message");
	jw_obj(&w);
	jw_kstr(&w, "role", "user");
	jw_key(&w, "content");
	jw_arr(&w);
	image_blocks(s, att, &w, &parts);
	jw_obj(&w);
	jw_kstr(&w, "type", "text");
	jw_key(&w, "text");
	jw_strn(&w, text, len);
	jw_obj_end(&w);
	jw_arr_end(&w);
	jw_obj_end(&w);
	jw_key(&w, "parent_tool_use_id");
	jw_null(&w);
	jw_kstr(&w, "session_id", s->native_id ? s->native_id : "");
	jw_obj_end(&w);
	buf_putc(&line, '\n');

	sj_turn_begin(st->conv, s, text, len, parts.len ? buf_cstr(&parts) : NULL);
	buf_free(&parts);
	const char *code = "spawn_failed";
	int rc = 0;
	if (!st->p)
		rc = spawn(s, st, e);
	if (rc == 0 && proc_write(st->p, line.p, line.len) != 0) {
		agent_fail(e, AERR_EXITED, "cannot write to the claude process");
		code = "send_failed";
		rc = -1;
	}
	if (rc != 0) {
		sj_turn_failed(st->conv, s, e->msg, code, NULL, 0, NULL);
		buf_free(&line);
		return -1;
	}
	free(st->line);
	st->line = line.p;
	st->line_len = line.len;
	st->turn = true;
	st->turn_output = false;
	st->retried = false;
	st->sent_ms = util_mono_ms();
	sj_turn_ready(st->conv, s);
	return 0;
}

/* ---- lifecycle ---- */

static int claude_create(session *s, agent_err *e)
{
	claude_state *st = xcalloc(1, sizeof *st);
	st->conv = sj_new("claude");
	s->agent_state = st;
	if (s->mcp_json) {
		char why[300];
		st->mcp_cfg = au_mcp_config(s->mcp_json, &claude_mcp_shape, NULL, why, sizeof why);
		if (!st->mcp_cfg) {
			agent_fail(e, AERR_INVALID, "%s", why);
			return -1;
		}
	}
	return 0;
}

static void claude_terminate(session *s)
{
	claude_state *st = s->agent_state;
	if (!st)
		return;
	st->terminating = true;
	if (st->p) {
		if (st->turn)
			send_interrupt(st);
		proc_close_stdin(st->p);
		proc_terminate(st->p, PROC_TERM_GRACE_MS);
	}
	au_mcp_unlink(&st->mcp_path);
}

static void claude_free(session *s)
{
	claude_state *st = s->agent_state;
	if (!st)
		return;
	if (st->p)
		proc_detach(st->p);
	au_mcp_unlink(&st->mcp_path);
	sj_free(st->conv);
	free(st->line);
	free(st->mcp_cfg);
	for (int i = 0; i < CLAUDE_EARLY_MAX; i++) {
		free(st->early[i].qid);
		free(st->early[i].answers);
	}
	free(st);
	s->agent_state = NULL;
}

static const agent_mode claude_modes[] = {
	{"build", "Build", "Default build mode"},
	{"plan", "Plan", "Plan mode (prompt-only)"},
};
static const char *const claude_perm[] = {"default", "plan", "bypass", "acceptEdits", NULL};
static const agent_model claude_models[] = {
	{"default", "Default (recommended)"}, {"sonnet", "Sonnet"}, {"opus", "Opus"}, {"haiku", "Haiku"},
};

const agent_ops agent_claude = {
	.id = "claude",
	.binary = "claude",
	.caps = {[CAP_PERMISSIONS] = 1, [CAP_QUESTIONS] = 1, [CAP_TOOL_CALLS] = 1,
		[CAP_TOOL_RESULTS] = 1, [CAP_TEXT_MESSAGES] = 1, [CAP_MCP_TOOLS] = 1,
		[CAP_STREAMING_DELTAS] = 1},
	.modes = claude_modes,
	.nmodes = 2,
	.perm_accepted = claude_perm,
	.perm_normalized = claude_perm,
	.models = claude_models,
	.nmodels = 4,
	.default_model = "default",
	.create = claude_create,
	.send = claude_send,
	.reply_permission = claude_reply_permission,
	.reply_question = claude_reply_question,
	.terminate = claude_terminate,
	.free_state = claude_free,
	.credentials = claude_credentials,
};
