/* amp.c - the Amp adapter: the real `amp` CLI in execute mode with
 * stream-json output, a new process per message.
 *
 * Amp's agent loop runs on Amp's servers; the CLI only runs the tools
 * locally for a server-side thread. Nothing here can run a turn offline;
 * docs/amp.md says what is verified and how.
 *
 * Process. Spawned per message in the session's directory, stdin closed
 * at once (execute mode adds whatever arrives on stdin to the prompt and
 * waits for its end):
 *   amp --execute=<message> --stream-json --stream-json-thinking
 *       --no-archive-after-execute [--dangerously-allow-all] [-m <mode>]
 *       [--mcp-config <0600 temp file>]
 * and, once the thread id is known (the session_id of the stream, "T-..."):
 *   amp threads continue <thread> --execute=<message> --stream-json ...
 * "--execute=<message>" keeps a message that starts with '-' from being
 * read as an option. Execute mode archives the thread it made when the
 * run ends, and Amp refuses to continue an archived thread, hence
 * --no-archive-after-execute. Amp has no model flag: its --mode (low,
 * medium, high, ultra or a plugin mode) selects the model, so a session
 * model other than "amp-default" is passed as -m. permissionMode bypass
 * is --dangerously-allow-all (accepted, though not in --help). The
 * session's MCP servers go to --mcp-config in Amp's own shape
 * (name -> {command, args, env} | {url, headers, transport}).
 *
 * Events: the lines go through the shared stream-json converter
 * (streamjson.h): turn.started, user item and assistant placeholder are
 * recorded when the message is dispatched; text, thinking, tool_use and
 * tool_result blocks become items; a success result ends the turn. An
 * error result is handled here so that its error event has code "amp"
 * (spec 6.2; the converter would say "amp.<subtype>"). Amp cannot ask
 * for approvals in this mode: it rejects the tool and ends the run with
 * an error result naming the tools; each becomes permission.requested
 * and permission.resolved (reject), both synthetic, before the error.
 * The session's turn (queued messages) ends when the process exits.
 *
 * Failures:
 * - no AMP_API_KEY and no stored key: create is refused (400). Amp would
 *   print a login prompt on stdout and wait; should that happen anyway
 *   (a key stored for another server), the prompt is recognized, the
 *   process killed, and the session ends: error "amp_login_required",
 *   session.ended (error, agent).
 * - exit without a result line (unreachable server, key refused,
 *   WebSocket failure, internal error: Amp says why on stderr in an
 *   "Error: " line): error "process_exit" with details.stderr, then
 *   session.ended (error, agent) for a non-zero status, turn.ended for 0.
 * - exit after a result line: the turn was reported; a non-zero status
 *   is only logged.
 *
 * Terminate: SIGTERM to the process group, SIGKILL after the grace
 * period; later output is ignored.
 *
 * Depends on the session API, proc/, json/, streamjson, adapter_util and
 * the loop. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>

#include "../base/buf.h"
#include "../base/log.h"
#include "../base/util.h"
#include "../json/json.h"
#include "../proc/proc.h"
#include "../server/server.h"
#include "adapter_util.h"
#include "agent.h"
#include "streamjson.h"

#define AMP_FILE_MAX (1u << 20)        /* bytes of the secrets file read */
#define AMP_ARG_MAX (128u * 1024 - 16) /* one argv string (Linux MAX_ARG_STRLEN) */
#define AMP_ARGV_MAX 24                /* arguments of one command line, NULL included */
#define AMP_TOOLS_MAX 64               /* tool_use blocks remembered per turn */
#define AMP_TOKENS_MIN 1024            /* first token array per line */
#define AMP_TOKENS_MAX (1u << 20)      /* more tokens than this: not looked into */
#define AMP_STDERR_LINES 50            /* stderr lines given in error details */
#define AMP_THREAD_MAX 128             /* length of a thread id we pass on */
#define AMP_LOGIN_LINE_MAX 1024        /* bytes of the login prompt line kept */

static const char login_mark[] = "No API key found";
static const char login_message[] =
	"amp needs credentials: set AMP_API_KEY or run `amp login`";

/* A tool_use block of the running turn. */
typedef struct {
	char *id;
	char *name;
	char *input; /* JSON text, or NULL */
	bool done;   /* its tool_result came back */
	bool reported;
} amp_tool;

typedef struct {
	proc_t *p;
	sj_conv *conv;
	bool turn;        /* a process runs for a message */
	bool result;      /* that process wrote its result line */
	bool login;       /* it asked for a login: killed */
	bool terminating;
	char *login_line;
	amp_tool tools[AMP_TOOLS_MAX];
	unsigned ntools;
	uint64_t perm_seq;
	json_tok *t; /* tokens of the line being looked at */
	unsigned ntok;
	char *mcp_cfg;  /* --mcp-config JSON, or NULL */
	char *mcp_path; /* its temp file, once written */
	uint64_t started_ms;
} amp_state;

static void on_line(proc_t *p, void *ud, const char *line, size_t len, bool truncated);
static void on_exit_cb(proc_t *p, void *ud, int status);
static const proc_ops amp_proc_ops = {on_line, on_exit_cb};

/* ---- small helpers ---- */

/* By this name also for the unit test, which includes this file. */
static char *read_small_file(const char *path, size_t max, size_t *len)
{
	return au_read_file(path, max, len);
}

/* ---- credentials ---- */

/* A key `amp login` stored: $XDG_DATA_HOME/amp/secrets.json (default
 * ~/.local/share/amp) maps "apiKey@<server URL>" to the key. Any stored
 * key counts: Amp's own URL normalization decides which one it uses, and
 * a key for another server shows up as the login prompt, which the
 * adapter catches. */
static bool stored_key(void)
{
	const char *x = getenv("XDG_DATA_HOME"), *h = getenv("HOME");
	char path[4096];
	if (x && *x)
		snprintf(path, sizeof path, "%s/amp/secrets.json", x);
	else if (h && *h)
		snprintf(path, sizeof path, "%s/.local/share/amp/secrets.json", h);
	else
		return false;
	size_t n;
	char *js = read_small_file(path, AMP_FILE_MAX, &n);
	if (!js)
		return false;
	json_tok *t = au_toks();
	bool ok = false;
	if (json_parse(js, n, t, AU_JSON_TOKENS) > 0 && t[0].type == JSON_OBJECT) {
		for (int k = json_first(t, 0); k >= 0 && !ok; k = json_next(t, json_next(t, k))) {
			int v = json_next(t, k);
			static const char prefix[] = "apiKey@";
			ok = t[k].end - t[k].start > sizeof prefix - 1 &&
				!memcmp(js + t[k].start, prefix, sizeof prefix - 1) &&
				t[v].type == JSON_STRING && t[v].end > t[v].start;
		}
	}
	free(t);
	free(js);
	return ok;
}

static bool amp_credentials(void)
{
	const char *k = getenv("AMP_API_KEY");
	return (k && *k) || stored_key();
}

/* ---- MCP servers: the session's map in --mcp-config's shape ---- */

/* {name: {"command",…} | {"url", "transport"?, "headers"}}. Amp is not
 * known to expand variables in headers: the values are taken from our
 * environment (the file is 0600). */
static const au_mcp_shape amp_mcp_shape = {
	.sse_type = true, .strings_only = true,
};

/* The --mcp-config document for the session's map (heap), or NULL with
 * why filled; NULL with why "" when every server is disabled. */
static char *mcp_config(const char *js, char *why, size_t cap)
{
	int n = 0;
	char *doc = au_mcp_config(js, &amp_mcp_shape, &n, why, cap);
	if (doc && !n) {
		free(doc);
		why[0] = 0;
		return NULL;
	}
	return doc;
}

static bool mcp_write(amp_state *st, char *err, size_t cap)
{
	return au_mcp_write(st->mcp_cfg, "amp-mcp", &st->mcp_path, err, cap);
}

/* ---- the process ---- */

/* A thread id we may put on a command line: "T-..." in practice; never
 * something an option parser could take for a flag. */
static bool valid_thread(const char *id)
{
	size_t n = id ? strlen(id) : 0;
	if (!n || n > AMP_THREAD_MAX || id[0] == '-')
		return false;
	for (size_t i = 0; i < n; i++) {
		char c = id[i];
		if (!((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
				c == '-' || c == '_' || c == '.'))
			return false;
	}
	return true;
}

static bool default_model(const char *m)
{
	return !m || !*m || !strcmp(m, "amp-default") || !strcmp(m, "default");
}

/* The command line for one message; exec is "--execute=<message>".
 * Returns true if it continues the session's thread. */
static bool build_argv(const session *s, const amp_state *st, const char *exec,
		const char *argv[AMP_ARGV_MAX])
{
	int n = 0;
	argv[n++] = "amp";
	bool cont = valid_thread(s->native_id);
	if (cont) {
		argv[n++] = "threads";
		argv[n++] = "continue";
		argv[n++] = s->native_id;
	}
	argv[n++] = exec;
	argv[n++] = "--stream-json";
	argv[n++] = "--stream-json-thinking";
	if (!cont)
		argv[n++] = "--no-archive-after-execute";
	if (s->permission_mode && !strcmp(s->permission_mode, "bypass"))
		argv[n++] = "--dangerously-allow-all";
	if (!default_model(s->model)) {
		argv[n++] = "-m";
		argv[n++] = s->model;
	}
	if (st->mcp_path) {
		argv[n++] = "--mcp-config";
		argv[n++] = st->mcp_path;
	}
	argv[n] = NULL;
	return cont;
}

static int spawn(session *s, amp_state *st, const char *text, size_t len, agent_err *e)
{
	char *bin = au_binary(&agent_amp, e);
	if (!bin)
		return -1;
	char err[512];
	if (!mcp_write(st, err, sizeof err)) {
		agent_fail(e, AERR_EXITED, "%s", err);
		free(bin);
		return -1;
	}
	buf_t exec;
	buf_init(&exec);
	buf_puts(&exec, "--execute=");
	buf_append(&exec, text, len);
	const char *argv[AMP_ARGV_MAX];
	bool cont = build_argv(s, st, buf_cstr(&exec), argv);
	/* a daemon started from inside an Amp thread must not tie its
	 * sessions' threads to that one */
	static const char *const unset[] = {"AMP_THREAD_ID", NULL};
	proc_spec sp = {.path = bin, .argv = argv, .unset = unset, .cwd = s->directory};
	st->p = proc_spawn(srv_loop(), &sp, &amp_proc_ops, s, err, sizeof err);
	free(bin);
	buf_free(&exec);
	if (!st->p) {
		agent_fail(e, AERR_EXITED, "failed to start amp: %s", err);
		return -1;
	}
	proc_close_stdin(st->p);
	log_info("session %s: amp started as pid %d%s%s", s->id, (int)proc_pid(st->p),
		cont ? " continuing thread " : "", cont ? s->native_id : "");
	return 0;
}

/* ---- tool_use blocks of the turn (for rejected approvals) ---- */

static void tools_reset(amp_state *st)
{
	for (unsigned i = 0; i < AMP_TOOLS_MAX; i++) {
		free(st->tools[i].id);
		free(st->tools[i].name);
		free(st->tools[i].input);
	}
	memset(st->tools, 0, sizeof st->tools);
	st->ntools = 0;
}

static void remember_tool(amp_state *st, const char *js, const json_tok *t, int blk)
{
	int id = json_obj_get(js, t, blk, "id"), nm = json_obj_get(js, t, blk, "name");
	int in = json_obj_get(js, t, blk, "input");
	amp_tool *a = &st->tools[st->ntools % AMP_TOOLS_MAX];
	free(a->id);
	free(a->name);
	free(a->input);
	memset(a, 0, sizeof *a);
	a->id = id >= 0 && t[id].type == JSON_STRING ? json_str_dup(js, t, id, NULL) : NULL;
	a->name = nm >= 0 && t[nm].type == JSON_STRING ? json_str_dup(js, t, nm, NULL) : NULL;
	if (in >= 0)
		a->input = xstrndup(js + t[in].start - (t[in].type == JSON_STRING),
			t[in].end - t[in].start + 2 * (t[in].type == JSON_STRING));
	st->ntools++;
}

static void tool_done(amp_state *st, const char *js, const json_tok *t, int blk)
{
	int id = json_obj_get(js, t, blk, "tool_use_id");
	if (id < 0 || t[id].type != JSON_STRING)
		return;
	for (unsigned i = 0; i < AMP_TOOLS_MAX; i++)
		if (st->tools[i].id && json_str_eq(js, t, id, st->tools[i].id))
			st->tools[i].done = true;
}

/* Notes the tool_use and tool_result blocks of a main-conversation line. */
static void note_blocks(amp_state *st, const char *js, const json_tok *t)
{
	int ty = json_obj_get(js, t, 0, "type");
	int par = json_obj_get(js, t, 0, "parent_tool_use_id");
	if (par >= 0 && t[par].type == JSON_STRING)
		return;
	bool asst = ty >= 0 && json_str_eq(js, t, ty, "assistant");
	if (!asst && !(ty >= 0 && json_str_eq(js, t, ty, "user")))
		return;
	int m = json_obj_get(js, t, 0, "message");
	int c = m >= 0 && t[m].type == JSON_OBJECT ? json_obj_get(js, t, m, "content") : -1;
	for (int i = c >= 0 && t[c].type == JSON_ARRAY ? json_first(t, c) : -1; i >= 0;
			i = json_next(t, i)) {
		int bt = t[i].type == JSON_OBJECT ? json_obj_get(js, t, i, "type") : -1;
		if (asst && bt >= 0 && json_str_eq(js, t, bt, "tool_use"))
			remember_tool(st, js, t, i);
		else if (!asst && bt >= 0 && json_str_eq(js, t, bt, "tool_result"))
			tool_done(st, js, t, i);
	}
}

/* The tool_use block for a tool named in an approval error: the latest
 * of that name without a result, else the latest of that name. */
static amp_tool *blocked_tool(amp_state *st, const char *name, size_t n)
{
	amp_tool *any = NULL;
	for (unsigned k = 0; k < AMP_TOOLS_MAX && k < st->ntools; k++) {
		amp_tool *a = &st->tools[(st->ntools - 1 - k) % AMP_TOOLS_MAX];
		if (!a->name || strlen(a->name) != n || memcmp(a->name, name, n) || a->reported)
			continue;
		if (!a->done)
			return a;
		if (!any)
			any = a;
	}
	return any;
}

/* permission.requested + permission.resolved (reject) for one tool. */
static void rejected_approval(session *s, amp_state *st, const char *name, amp_tool *a,
		const char *reason, const char *line, size_t len, const char *sid)
{
	char id[160];
	if (a && a->id && strlen(a->id) < sizeof id)
		snprintf(id, sizeof id, "%s", a->id);
	else
		snprintf(id, sizeof id, "amp_approval_%llu", (unsigned long long)++st->perm_seq);
	if (a)
		a->reported = true;
	buf_t b;
	jw_t w;
	buf_init(&b);
	jw_init(&w, &b);
	jw_obj(&w);
	jw_kstr(&w, "toolName", name);
	jw_key(&w, "input");
	if (a && a->input)
		jw_raw(&w, a->input, strlen(a->input));
	else
		jw_null(&w);
	jw_key(&w, "toolUseId");
	jw_str(&w, a ? a->id : NULL);
	jw_kstr(&w, "reason", reason);
	jw_obj_end(&w);
	static const char *const status[] = {"requested", "reject"};
	for (int i = 0; i < 2; i++) {
		ev_conv c = {.type = i ? EV_PERMISSION_RESOLVED : EV_PERMISSION_REQUESTED,
			.synthetic = true, .native_session_id = sid, .raw_json = line, .raw_len = len};
		c.u.perm.id = id;
		c.u.perm.action = name;
		c.u.perm.status = status[i];
		c.u.perm.metadata_json = buf_cstr(&b);
		sess_record(s, &c);
	}
	buf_free(&b);
}

/* Amp rejects every tool that needs an approval in stream-json mode and
 * ends the run with "The following tools require user approval, which
 * is not supported in stream JSON mode: A, B" (or "A tool requires user
 * approval, ..." when it has no names). */
static void approvals(session *s, amp_state *st, const char *msg, const char *line, size_t len,
		const char *sid)
{
	if (!msg || (!strstr(msg, "require user approval") && !strstr(msg, "requires user approval")))
		return;
	const char *names = strstr(msg, "stream JSON mode: ");
	if (!names) {
		/* no names: the tools that never got a result, oldest first */
		unsigned from = st->ntools > AMP_TOOLS_MAX ? st->ntools - AMP_TOOLS_MAX : 0;
		for (unsigned k = from; k < st->ntools; k++) {
			amp_tool *a = &st->tools[k % AMP_TOOLS_MAX];
			if (!a->done && !a->reported)
				rejected_approval(s, st, a->name ? a->name : "unknown", a, msg, line, len, sid);
		}
		return;
	}
	names += strlen("stream JSON mode: ");
	while (*names) {
		size_t n = strcspn(names, ",");
		const char *end = names + n;
		while (names < end && *names == ' ')
			names++;
		size_t l = (size_t)(end - names);
		while (l && names[l - 1] == ' ')
			l--;
		if (l) {
			char *name = xstrndup(names, l);
			rejected_approval(s, st, name, blocked_tool(st, names, l), msg, line, len, sid);
			free(name);
		}
		names = *end ? end + 1 : end;
	}
}

/* An error result: rejected approvals, the open assistant item failed,
 * error "amp" with the whole line as details, turn.ended. */
static void error_result(session *s, amp_state *st, const char *line, size_t len)
{
	const json_tok *t = st->t;
	int sid_tok = json_obj_get(line, t, 0, "session_id");
	char *sid = sid_tok >= 0 && t[sid_tok].type == JSON_STRING ?
		json_str_dup(line, t, sid_tok, NULL) : NULL;
	int et = json_obj_get(line, t, 0, "error");
	if (et < 0 || t[et].type != JSON_STRING)
		et = json_obj_get(line, t, 0, "result");
	char *msg = et >= 0 && t[et].type == JSON_STRING ? json_str_dup(line, t, et, NULL) : NULL;
	if (msg && !*msg) {
		free(msg);
		msg = NULL;
	}
	bool in_turn = sj_in_turn(st->conv);
	approvals(s, st, msg, line, len, sid);
	sj_turn_abort(st->conv, s);
	char *details = xstrndup(line, len);
	ev_conv c = {.type = EV_ERROR, .native_session_id = sid, .raw_json = line, .raw_len = len};
	c.u.error.message = msg ? msg : "amp error";
	c.u.error.code = "amp";
	c.u.error.details_json = details;
	sess_record(s, &c);
	free(details);

	buf_t b;
	jw_t w;
	buf_init(&b);
	jw_init(&w, &b);
	jw_obj(&w);
	static const char *const keys[] = {"duration_ms", "num_turns"};
	for (int k = 0; k < 2; k++) {
		int i = json_obj_get(line, t, 0, keys[k]);
		if (i >= 0) {
			jw_key(&w, keys[k]);
			au_w_tok(&w, line, t, i);
		}
	}
	jw_obj_end(&w);
	if (in_turn) {
		ev_conv te = {.type = EV_TURN_ENDED, .synthetic = true, .native_session_id = sid,
			.raw_json = line, .raw_len = len};
		te.u.turn.metadata_json = buf_cstr(&b);
		sess_record(s, &te);
	}
	buf_free(&b);
	free(msg);
	free(sid);
}

/* ---- output ---- */

static bool is_error_result(const char *js, const json_tok *t)
{
	int ty = json_obj_get(js, t, 0, "type");
	if (ty < 0 || !json_str_eq(js, t, ty, "result"))
		return false;
	int ie = json_obj_get(js, t, 0, "is_error"), sub = json_obj_get(js, t, 0, "subtype");
	bool err = false;
	if (ie >= 0)
		json_get_bool(js, t, ie, &err);
	return err || (sub >= 0 && t[sub].type == JSON_STRING && !json_str_eq(js, t, sub, "success"));
}

/* One stdout line of the current process. */
static void handle_line(session *s, amp_state *st, const char *line, size_t len, bool truncated)
{
	size_t i = au_blanks(line, len);
	if (i == len || st->login)
		return;
	if (line[i] != '{' && memmem(line, len, login_mark, sizeof login_mark - 1)) {
		/* It waits for a code pasted on stdin: no use letting it run. */
		log_warn("session %s: amp asks for a login; stopping it", s->id);
		st->login = true;
		st->login_line = xstrndup(line, len < AMP_LOGIN_LINE_MAX ? len : AMP_LOGIN_LINE_MAX);
		if (st->p)
			proc_terminate(st->p, PROC_TERM_GRACE_MS);
		return;
	}
	if (truncated) {
		au_record_long(s, "amp", line, len);
		return;
	}
	if (au_parse(line, len, &st->t, &st->ntok, AMP_TOKENS_MIN, AMP_TOKENS_MAX) > 0 &&
			st->t[0].type == JSON_OBJECT) {
		if (is_error_result(line, st->t)) {
			st->result = true;
			error_result(s, st, line, len);
			return;
		}
		note_blocks(st, line, st->t);
	}
	sj_effects fx;
	sj_line(st->conv, s, line, len, &fx);
	if (fx.turn_ended)
		st->result = true;
}

/* Amp's reason from its stderr: the text after "Error: " on the last
 * such line (heap), or NULL. */
static char *amp_error_of(const char *err, size_t n)
{
	const char *found = NULL;
	size_t flen = 0;
	for (size_t i = 0; i < n;) {
		const char *nl = memchr(err + i, '\n', n - i);
		size_t l = nl ? (size_t)(nl - (err + i)) : n - i;
		if (l > 7 && !memcmp(err + i, "Error: ", 7)) {
			found = err + i + 7;
			flen = l - 7;
		}
		i += l + 1;
	}
	while (flen && (found[flen - 1] == '\r' || found[flen - 1] == ' '))
		flen--;
	return found && flen ? xstrndup(found, flen) : NULL;
}

/* The process is gone (status: a wait status); tail: its last stderr
 * lines as text; err_json: its StderrOutput object, or NULL. */
static void handle_exit(session *s, amp_state *st, int status, const char *tail, size_t tail_len,
		const char *err_json)
{
	int code = au_exit_code(status);
	bool turn = st->turn;
	st->turn = false;
	if (st->terminating || s->ended)
		return;
	if (st->login) {
		sj_turn_abort(st->conv, s);
		buf_t d;
		jw_t w;
		buf_init(&d);
		jw_init(&w, &d);
		jw_obj(&w);
		jw_kstr(&w, "stdout", st->login_line ? st->login_line : "");
		jw_obj_end(&w);
		sess_record_error(s, true, login_message, "amp_login_required", buf_cstr(&d));
		buf_free(&d);
		sess_end(s, "error", "agent", login_message, false, 0, NULL);
	} else if (st->result || !turn) {
		if (code != 0)
			log_warn("session %s: amp exited with status %d after its result", s->id, code);
	} else {
		char *why = amp_error_of(tail, tail_len);
		buf_t msg, det;
		buf_init(&msg);
		buf_init(&det);
		buf_printf(&msg, "agent exited with status %d", code);
		if (why)
			buf_printf(&msg, ": %s", why);
		jw_t w;
		jw_init(&w, &det);
		jw_obj(&w);
		au_w_exit(&w, status, tail, tail_len);
		jw_key(&w, "amp_error");
		jw_str(&w, why);
		jw_obj_end(&w);
		if (code != 0)
			log_warn("session %s: amp failed (%s)", s->id, buf_cstr(&msg));
		sj_turn_failed(st->conv, s, buf_cstr(&msg), "process_exit", buf_cstr(&det), code,
			err_json);
		free(why);
		buf_free(&msg);
		buf_free(&det);
	}
	if (turn)
		sess_turn_done(s);
}

static void on_line(proc_t *p, void *ud, const char *line, size_t len, bool truncated)
{
	session *s = ud;
	amp_state *st = s->agent_state;
	if (!st || st->p != p || st->terminating || s->ended)
		return;
	handle_line(s, st, line, len, truncated);
}

static void on_exit_cb(proc_t *p, void *ud, int status)
{
	session *s = ud;
	amp_state *st = s->agent_state;
	if (!st || st->p != p)
		return;
	st->p = NULL;
	au_stderr se;
	au_stderr_take(p, AMP_STDERR_LINES, &se);
	log_info("session %s: amp exited (%s %d) after %llu ms", s->id,
		WIFSIGNALED(status) ? "signal" : "status",
		WIFSIGNALED(status) ? WTERMSIG(status) : WEXITSTATUS(status),
		(unsigned long long)(util_mono_ms() - st->started_ms));
	handle_exit(s, st, status, buf_cstr(&se.tail), se.tail.len, au_stderr_json(&se));
	au_stderr_free(&se);
}

/* ---- session operations ---- */

/* The message is dispatched: turn.started and the user item. */
static void turn_begin(session *s, amp_state *st, const char *text, size_t len)
{
	tools_reset(st);
	st->result = false;
	st->login = false;
	free(st->login_line);
	st->login_line = NULL;
	sj_turn_begin(st->conv, s, text, len, NULL);
}

static int amp_send(session *s, const char *text, size_t len, const char *att, agent_err *e)
{
	amp_state *st = s->agent_state;
	(void)att; /* the attachment paths are in the text already; Amp gets no files */
	if (!st || st->terminating) {
		agent_fail(e, AERR_INVALID, "Amp session is not active");
		return -1;
	}
	if (len + sizeof "--execute=" > AMP_ARG_MAX) {
		agent_fail(e, AERR_INVALID, "message too long for amp: %zu bytes (at most %u)", len,
			(unsigned)(AMP_ARG_MAX - sizeof "--execute="));
		return -1;
	}
	if (memchr(text, 0, len)) {
		agent_fail(e, AERR_INVALID, "message contains a NUL character");
		return -1;
	}
	if (!au_installed(&agent_amp, e))
		return -1;
	if (st->p) { /* the session layer waits for exits; never here in practice */
		proc_detach(st->p);
		st->p = NULL;
	}
	turn_begin(s, st, text, len);
	if (spawn(s, st, text, len, e) != 0) {
		sj_turn_failed(st->conv, s, e->msg, "spawn_failed", NULL, 0, NULL);
		return -1;
	}
	st->turn = true;
	st->started_ms = util_mono_ms();
	sj_turn_ready(st->conv, s);
	return 0;
}

static int amp_create(session *s, agent_err *e)
{
	amp_state *st = xcalloc(1, sizeof *st);
	st->conv = sj_new("amp");
	s->agent_state = st;
	if (!amp_credentials()) {
		agent_fail(e, AERR_INVALID, "%s", login_message);
		return -1;
	}
	if (s->mcp_json) {
		char why[300];
		st->mcp_cfg = mcp_config(s->mcp_json, why, sizeof why);
		if (!st->mcp_cfg && why[0]) {
			agent_fail(e, AERR_INVALID, "%s", why);
			return -1;
		}
	}
	return 0;
}

static void amp_terminate(session *s)
{
	amp_state *st = s->agent_state;
	if (!st)
		return;
	st->terminating = true;
	if (st->p)
		proc_terminate(st->p, PROC_TERM_GRACE_MS);
	au_mcp_unlink(&st->mcp_path);
}

static void amp_free(session *s)
{
	amp_state *st = s->agent_state;
	if (!st)
		return;
	if (st->p)
		proc_detach(st->p);
	au_mcp_unlink(&st->mcp_path);
	sj_free(st->conv);
	tools_reset(st);
	free(st->t);
	free(st->login_line);
	free(st->mcp_cfg);
	free(st);
	s->agent_state = NULL;
}

static const agent_mode amp_modes[] = {
	{"build", "Build", "Default build mode"},
};
static const char *const amp_perm[] = {"default", "bypass", "acceptEdits", NULL};
static const char *const amp_perm_norm[] = {"default", "bypass", "default", NULL};
static const agent_model amp_models[] = {{"amp-default", "Amp Default"}};

const agent_ops agent_amp = {
	.id = "amp",
	.binary = "amp",
	.caps = {[CAP_TOOL_CALLS] = 1, [CAP_TOOL_RESULTS] = 1, [CAP_TEXT_MESSAGES] = 1,
		[CAP_ERROR_EVENTS] = 1, [CAP_MCP_TOOLS] = 1},
	.modes = amp_modes,
	.nmodes = 1,
	.perm_accepted = amp_perm,
	.perm_normalized = amp_perm_norm,
	.models = amp_models,
	.nmodels = 1,
	.default_model = "amp-default",
	.create = amp_create,
	.send = amp_send,
	.terminate = amp_terminate,
	.free_state = amp_free,
	.credentials = amp_credentials,
};
