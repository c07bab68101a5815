/* opencode.c - the OpenCode adapter: the real `opencode serve` (HTTP + SSE,
 * its documented API, see GET /doc), one shared server for every OpenCode
 * session of this daemon, mapped into universal events. docs/opencode.md
 * has the whole mapping, the decisions and the measured figures.
 *
 * Process model. One `opencode serve --hostname 127.0.0.1 --port P` for
 * the daemon, started at the first session create (or later demand) in
 * the daemon's directory; each session lives in its own directory through
 * OpenCode's per-request `?directory=`. It is offline-clean: the models
 * catalog fetch, autoupdate, LSP downloads and sharing are switched off
 * unless the environment says otherwise, and OpenCode's plugin folders
 * are pre-seeded so that it never npm-installs at start. A random
 * password (OPENCODE_SERVER_PASSWORD) guards it; every request carries
 * Basic auth. Readiness: the "opencode server listening on" line, then
 * GET /global/health, then the one event subscription GET /global/event
 * answers; requests before the line may hang forever, so none is made.
 * An idle server (no turn, no pending request) is stopped after
 * SANDBOX_AGENT_OPENCODE_IDLE_MS and started again on demand; the
 * sessions persist in OpenCode's own store.
 *
 * Server death. Lazy restart: the next operation that needs the server
 * starts a new one (restartCount). A running turn fails (error
 * server_exit, open items failed, pending HITL withdrawn, turn.ended
 * {"status":"error"}); the session stays open and its next message runs
 * on the new server. A server that never became ready fails the sessions
 * waiting for it (error opencode_server, session.ended error/daemon).
 *
 * A lost event stream counts as a dead server (code opencode_stream).
 *
 * Turns. A message is one prompt_async; its turn runs until session.idle.
 * turn.started is recorded when the prompt goes out, turn.ended at idle
 * with {"status":"completed|error|interrupted", steps, tokens, cost}.
 * Messages sent while a turn runs wait in the session queue. Create does
 * not wait for the server: the OpenCode session is made in the loop, and
 * a message posted before it exists waits here.
 *
 * Depends on the session API, proc/, http/client and sse, json/, base/
 * and the loop. */
#include "opencode.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <netinet/in.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "../base/buf.h"
#include "../base/log.h"
#include "../base/strmap.h"
#include "../base/util.h"
#include "../http/client.h"
#include "../http/sse.h"
#include "../json/json.h"
#include "../net/loop.h"
#include "../proc/proc.h"
#include "../server/server.h"
#include "agent.h"

#define OC_START_TIMEOUT_MS 30000     /* spawn -> listening line */
#define OC_START_ATTEMPTS 2           /* spawns before waiting sessions fail */
#define OC_HEALTH_TIMEOUT_MS 5000     /* one GET /global/health */
#define OC_HEALTH_TRIES 5
#define OC_RETRY_MS 300               /* between health tries, and create tries */
#define OC_CREATE_TRIES 10            /* POST /session attempts */
#define OC_CALL_TIMEOUT_MS 120000     /* read timeout of one request */
#define OC_CONNECT_TIMEOUT_MS 5000
#define OC_SSE_TIMEOUT_MS 35000       /* heartbeats come every 10 s */
#define OC_SSE_GRACE_MS 1000          /* stream lost: time for the exit to show */
#define OC_IDLE_MS 600000             /* idle server stopped after this */
#define OC_ERROR_CHECK_MS 3000        /* session.error without idle: ask the status */
#define OC_PROMPT_CHECK_MS 15000      /* a prompt OpenCode shows no sign of: ask the status */
#define OC_BODY_MAX (16u * 1024 * 1024)  /* one response body */
#define OC_EVENT_MAX (32u * 1024 * 1024) /* one SSE event */
#define OC_TOKENS_MIN 1024
#define OC_TOKENS_MAX (1u << 21)
#define OC_PARTS_MAX 4096             /* parts tracked per turn */
#define OC_MSGS_MAX 256               /* messages tracked per turn */
#define OC_CLOSED_MAX 128             /* message ids of finished turns remembered */
#define OC_CONFIG_MAX (1u << 20)      /* an OpenCode config file read for its model */
#define OC_USERNAME "opencode"
#define OC_LISTENING "opencode server listening on "

/* ---- state ---- */

enum { SRV_STOPPED, SRV_STARTING, SRV_HEALTH, SRV_SUBSCRIBING, SRV_READY };
enum { PH_WAIT, PH_CREATING, PH_MCP, PH_READY, PH_FAILED };
enum { P_TEXT, P_REASONING, P_TOOL };

typedef struct {
	char *id;  /* part id */
	char *msg; /* message id */
	int type;
	bool started, done;
	buf_t text;      /* text so far; tool: output streamed so far */
	char *call_id;   /* tool */
	char *tool;
	char *call_native; /* "<part id>#call" */
	bool call_started, call_done, result_started;
} oc_part;

typedef struct {
	char *id;
	bool user;
} oc_msg;

typedef struct oc_sess {
	session *s;
	int phase;
	int create_tries;
	char *dir;      /* absolute directory, or NULL: the server's */
	char *query;    /* "directory=<encoded>" or "" */
	char **mcp;     /* POST /mcp bodies */
	size_t nmcp, mcp_next;
	uint64_t timer;
	bool terminating;
	bool reload;    /* skills were installed: the directory's instance reloads */
	bool needs_mcp; /* a new server: its MCP servers are added again */
	bool end_pending; /* terminated while one of its events was handled */
	/* a prompt waiting for the session or the server */
	char *prompt;
	/* the turn */
	bool turn;
	bool announced;      /* turn.started recorded */
	char *turn_meta;     /* its metadata, until then */
	bool prompt_out;     /* the prompt call is in flight */
	bool busy_seen;
	bool aborted;
	bool failed;         /* session.error or a failed prompt */
	char *user_content;  /* content of our user item, until shown */
	bool user_shown;
	char *user_msg;
	oc_msg msgs[OC_MSGS_MAX];
	size_t nmsgs;
	oc_part *parts;
	size_t nparts, cap_parts;
	int steps;
	char *finish;
	char *model;         /* provider/model of the last assistant message */
	char *agent;         /* its agent */
	double cost;
	double tok[6];       /* total input output reasoning cache.read cache.write */
	uint64_t check_timer;
	char *closed[OC_CLOSED_MAX];
	size_t closed_at;
	struct oc_sess *next;
} oc_sess;

typedef struct oc_call oc_call;
typedef void (*call_fn)(oc_call *k, int status, const char *body, size_t len, const char *err);

struct oc_call {
	hc_t *c;
	call_fn fn;
	oc_sess *o;  /* NULL once the session is gone */
	char *what;  /* for messages: "prompt", "permission reply", ... */
	char *arg;
	int status;
	buf_t body;
	bool too_big;
	oc_call *next;
};

static struct {
	int state;
	proc_t *p;
	loop_t *loop;
	unsigned port;
	char base[96];
	char auth[200];
	uint64_t start_timer, retry_timer, idle_timer, lost_timer;
	int64_t ready_ms;
	unsigned restarts;
	int start_failures;
	bool ever_started;
	bool crashed;      /* the last process died on its own */
	char last_error[300];
	int health_tries;
	hc_t *sse;
	sse_parser ps;
	bool sse_init;
	bool in_feed;      /* inside sse_parser_feed: the parser must live on */
	int in_event;      /* inside an event's handler: its turn state must live on */
	bool free_parser;  /* closed meanwhile: freed when the feed returns */
	oc_call *calls;
	oc_sess *sessions;
	strmap by_native;
	/* process-less mode */
	bool test;
	buf_t *test_out;
	/* listings */
	agent_model *models;
	size_t nmodels;
	char *default_model;
	agent_mode *modes;
	size_t nmodes;
	char *cfg_model;
	bool listing;
} S;

static void srv_ensure(void);
static void srv_died(int status, const char *stderr_json, const char *tail, const char *why,
		const char *code);
static void session_go(oc_sess *o);
static void turn_end(oc_sess *o, const char *why_status, const char *raw, size_t raw_len,
		bool native);
static void idle_check(void);

/* ---- small helpers ---- */

typedef struct {
	const char *js;
	size_t len;
	json_tok *t;
	int n;
} jdoc;

/* Parses js into d (tokens allocated, doc_free releases). */
static bool doc_parse(jdoc *d, const char *js, size_t len)
{
	unsigned cap = OC_TOKENS_MIN;
	d->js = js;
	d->len = len;
	d->t = NULL;
	d->n = 0;
	for (;;) {
		d->t = xrealloc(d->t, cap * sizeof *d->t);
		int n = json_parse(js, len, d->t, cap);
		if (n == JSON_ERR_NOMEM && cap < OC_TOKENS_MAX) {
			cap *= 4;
			continue;
		}
		if (n <= 0) {
			free(d->t);
			d->t = NULL;
			return false;
		}
		d->n = n;
		return true;
	}
}

static void doc_free(jdoc *d)
{
	free(d->t);
	d->t = NULL;
}

static int get(const jdoc *d, int obj, const char *key)
{
	if (obj < 0 || d->t[obj].type != JSON_OBJECT)
		return -1;
	return json_obj_get(d->js, d->t, obj, key);
}

static int get_t(const jdoc *d, int obj, const char *key, int type)
{
	int i = get(d, obj, key);
	return i >= 0 && d->t[i].type == type ? i : -1;
}

static char *str_at(const jdoc *d, int i)
{
	return i >= 0 ? json_str_dup(d->js, d->t, i, NULL) : NULL;
}

static char *get_str(const jdoc *d, int obj, const char *key)
{
	return str_at(d, get_t(d, obj, key, JSON_STRING));
}

static bool is_str(const jdoc *d, int obj, const char *key, const char *val)
{
	int i = get(d, obj, key);
	return i >= 0 && json_str_eq(d->js, d->t, i, val);
}

static void span(const jdoc *d, int i, const char **p, size_t *n)
{
	size_t a = d->t[i].start, b = d->t[i].end;
	if (d->t[i].type == JSON_STRING) {
		a--;
		b++;
	}
	*p = d->js + a;
	*n = b - a;
}

static void w_tok(jw_t *w, const jdoc *d, int i)
{
	const char *p;
	size_t n;
	span(d, i, &p, &n);
	jw_raw(w, p, n);
}

static char *tok_json(const jdoc *d, int i)
{
	if (i < 0)
		return NULL;
	const char *p;
	size_t n;
	span(d, i, &p, &n);
	return xstrndup(p, n);
}

static double num_at(const jdoc *d, int i)
{
	if (i < 0 || d->t[i].type != JSON_NUMBER)
		return 0;
	char tmp[64];
	size_t n = d->t[i].end - d->t[i].start;
	if (n >= sizeof tmp)
		return 0;
	memcpy(tmp, d->js + d->t[i].start, n);
	tmp[n] = 0;
	return strtod(tmp, NULL);
}

static void w_num(jw_t *w, const char *k, double v)
{
	char tmp[64];
	if (v == (double)(int64_t)v && v > -9e15 && v < 9e15)
		snprintf(tmp, sizeof tmp, "%lld", (long long)v);
	else
		snprintf(tmp, sizeof tmp, "%.10g", v);
	jw_key(w, k);
	jw_raw(w, tmp, strlen(tmp));
}

static void pct_encode(buf_t *b, const char *s)
{
	static const char hex[] = "0123456789ABCDEF";
	for (; *s; s++) {
		unsigned char c = (unsigned char)*s;
		if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
				c == '-' || c == '.' || c == '_' || c == '~') {
			buf_putc(b, (char)c);
		} else {
			buf_putc(b, '%');
			buf_putc(b, hex[c >> 4]);
			buf_putc(b, hex[c & 15]);
		}
	}
}

static unsigned env_ms(const char *name, unsigned def)
{
	const char *v = getenv(name);
	uint64_t ms;
	if (v && *v && util_parse_u64(v, strlen(v), &ms) && ms <= 86400000u)
		return (unsigned)ms;
	return def;
}

static bool file_exists(const char *p)
{
	struct stat st;
	return stat(p, &st) == 0;
}

static bool is_dir(const char *p)
{
	struct stat st;
	return stat(p, &st) == 0 && S_ISDIR(st.st_mode);
}

static char *read_small(const char *path, size_t max, size_t *len)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return NULL;
	struct stat st;
	if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode) || (size_t)st.st_size > max) {
		close(fd);
		return NULL;
	}
	buf_t b;
	buf_init(&b);
	buf_reserve(&b, (size_t)st.st_size + 1);
	for (;;) {
		buf_reserve(&b, 4096);
		ssize_t n = read(fd, b.p + b.len, b.cap - b.len);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0 || b.len + (size_t)n > max) {
			if (n != 0) {
				buf_free(&b);
				close(fd);
				return NULL;
			}
			break;
		}
		b.len += (size_t)n;
	}
	close(fd);
	*len = b.len;
	return buf_cstr(&b);
}

static int write_file(const char *path, const char *text)
{
	int fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
	if (fd < 0)
		return -1;
	size_t n = strlen(text), off = 0;
	while (off < n) {
		ssize_t w = write(fd, text + off, n - off);
		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0) {
			close(fd);
			return -1;
		}
		off += (size_t)w;
	}
	return close(fd);
}

static void mkdirs(const char *path)
{
	char tmp[PATH_MAX];
	if (snprintf(tmp, sizeof tmp, "%s", path) >= (int)sizeof tmp)
		return;
	for (char *p = tmp + 1; *p; p++) {
		if (*p == '/') {
			*p = 0;
			mkdir(tmp, 0755);
			*p = '/';
		}
	}
	mkdir(tmp, 0755);
}

/* ---- offline: OpenCode's plugin folders ----
 *
 * OpenCode npm-installs @opencode-ai/plugin into every config folder
 * (the global one, OPENCODE_CONFIG_DIR, ~/.opencode and each .opencode
 * folder above the project) unless node_modules exists and the lock file
 * lists every dependency of package.json. A folder without package.json
 * gets that state; anything already there is left alone. */

static void seed_dir(const char *dir, bool create)
{
	char p[PATH_MAX];
	if (!create && !is_dir(dir))
		return;
	if (snprintf(p, sizeof p, "%s/package.json", dir) >= (int)sizeof p || file_exists(p))
		return;
	mkdirs(dir);
	char nm[PATH_MAX], lock[PATH_MAX];
	snprintf(nm, sizeof nm, "%s/node_modules", dir);
	snprintf(lock, sizeof lock, "%s/package-lock.json", dir);
	mkdir(nm, 0755);
	if (!file_exists(lock))
		write_file(lock, "{\"lockfileVersion\":3,\"packages\":{\"\":{\"dependencies\":"
			"{\"@opencode-ai/plugin\":\"*\"}}}}\n");
	if (write_file(p, "{\"dependencies\":{\"@opencode-ai/plugin\":\"*\"}}\n") == 0)
		log_debug("opencode: seeded %s so that OpenCode does not install its plugin", dir);
}

static void seed_plugins(const char *project)
{
	const char *v = getenv("SANDBOX_AGENT_OPENCODE_SEED");
	if (v && !strcmp(v, "0"))
		return;
	const char *xdg = getenv("XDG_CONFIG_HOME"), *home = getenv("HOME");
	char p[PATH_MAX];
	if (xdg && *xdg) {
		if (snprintf(p, sizeof p, "%s/opencode", xdg) < (int)sizeof p)
			seed_dir(p, true);
	} else if (home && *home) {
		if (snprintf(p, sizeof p, "%s/.config/opencode", home) < (int)sizeof p)
			seed_dir(p, true);
	}
	const char *cd = getenv("OPENCODE_CONFIG_DIR");
	if (cd && *cd)
		seed_dir(cd, true);
	if (home && *home && snprintf(p, sizeof p, "%s/.opencode", home) < (int)sizeof p)
		seed_dir(p, false);
	if (!project)
		return;
	/* .opencode folders from the project up to the root */
	char d[PATH_MAX];
	snprintf(d, sizeof d, "%s", project);
	for (;;) {
		if (snprintf(p, sizeof p, "%s/.opencode", strcmp(d, "/") ? d : "") < (int)sizeof p)
			seed_dir(p, false);
		char *slash = strrchr(d, '/');
		if (!slash || slash == d) {
			if (!strcmp(d, "/"))
				break;
			strcpy(d, "/");
			continue;
		}
		*slash = 0;
	}
}

/* The "model" OpenCode's configuration names (global file,
 * OPENCODE_CONFIG, the project's, OPENCODE_CONFIG_CONTENT; last wins),
 * for a session created without one before the server could be asked.
 * JSONC files with comments are skipped. */
static void cfg_model_from(const char *js, size_t len, char **out)
{
	jdoc d;
	if (!js || !doc_parse(&d, js, len))
		return;
	char *m = get_str(&d, 0, "model");
	if (m && *m) {
		free(*out);
		*out = m;
	} else {
		free(m);
	}
	doc_free(&d);
}

static void cfg_model_file(const char *path, char **out)
{
	size_t n;
	char *js = read_small(path, OC_CONFIG_MAX, &n);
	cfg_model_from(js, js ? n : 0, out);
	free(js);
}

static char *config_model(const char *project)
{
	char *m = NULL;
	const char *xdg = getenv("XDG_CONFIG_HOME"), *home = getenv("HOME");
	char base[PATH_MAX], p[PATH_MAX];
	base[0] = 0;
	if (xdg && *xdg)
		snprintf(base, sizeof base, "%s/opencode", xdg);
	else if (home && *home)
		snprintf(base, sizeof base, "%s/.config/opencode", home);
	static const char *const names[] = {"config.json", "opencode.json", "opencode.jsonc"};
	for (int i = 0; base[0] && i < 3; i++) {
		if (snprintf(p, sizeof p, "%s/%s", base, names[i]) < (int)sizeof p)
			cfg_model_file(p, &m);
	}
	const char *f = getenv("OPENCODE_CONFIG");
	if (f && *f)
		cfg_model_file(f, &m);
	for (int i = 1; project && i < 3; i++) {
		if (snprintf(p, sizeof p, "%s/%s", project, names[i]) < (int)sizeof p)
			cfg_model_file(p, &m);
		if (snprintf(p, sizeof p, "%s/.opencode/%s", project, names[i]) < (int)sizeof p)
			cfg_model_file(p, &m);
	}
	const char *c = getenv("OPENCODE_CONFIG_CONTENT");
	if (c && *c)
		cfg_model_from(c, strlen(c), &m);
	return m;
}

/* ---- recording ---- */

typedef struct {
	const jdoc *d;
	int payload;
	int props;
	const char *raw;
	size_t raw_len;
} ev_ctx;

static ev_conv conv(oc_sess *o, const ev_ctx *x, ev_type type, bool synthetic)
{
	ev_conv c = {.type = type, .synthetic = synthetic};
	c.native_session_id = o->s->native_id;
	if (x) {
		c.raw_json = x->raw;
		c.raw_len = x->raw_len;
	}
	return c;
}

static void rec_item(oc_sess *o, const ev_ctx *x, ev_type type, bool synthetic,
		const char *native, const char *parent, const char *kind, const char *role,
		const char *content, const char *status)
{
	ev_conv c = conv(o, x, type, synthetic);
	c.u.item.native_item_id = native;
	c.u.item.parent_id = parent;
	c.u.item.kind = kind;
	c.u.item.role = role;
	c.u.item.content_json = content;
	c.u.item.status = status;
	sess_record(o->s, &c);
}

static void rec_delta(oc_sess *o, const ev_ctx *x, const char *native, const char *p, size_t n)
{
	if (!n)
		return;
	ev_conv c = conv(o, x, EV_ITEM_DELTA, false);
	c.u.delta.native_item_id = native;
	c.u.delta.delta = p;
	c.u.delta.delta_len = n;
	sess_record(o->s, &c);
}

/* A status item, complete at once. */
static void rec_status(oc_sess *o, const ev_ctx *x, const char *label, const char *detail,
		const char *json_extra)
{
	buf_t b;
	jw_t w;
	buf_init(&b);
	jw_init(&w, &b);
	jw_arr(&w);
	jw_obj(&w);
	jw_kstr(&w, "type", "status");
	jw_kstr(&w, "label", label);
	jw_key(&w, "detail");
	jw_str(&w, detail);
	jw_obj_end(&w);
	if (json_extra) {
		jw_obj(&w);
		jw_kstr(&w, "type", "json");
		jw_key(&w, "json");
		jw_raw(&w, json_extra, strlen(json_extra));
		jw_obj_end(&w);
	}
	jw_arr_end(&w);
	rec_item(o, x, EV_ITEM_COMPLETED, false, NULL, NULL, "status", "system", buf_cstr(&b),
		"completed");
	buf_free(&b);
}

static void rec_error(oc_sess *o, const ev_ctx *x, bool synthetic, const char *msg,
		const char *code, const char *details)
{
	ev_conv c = conv(o, x, EV_ERROR, synthetic);
	c.u.error.message = msg;
	c.u.error.code = code;
	c.u.error.details_json = details;
	sess_record(o->s, &c);
}

/* ---- the turn's bookkeeping ---- */

static bool closed_msg(const oc_sess *o, const char *id)
{
	for (size_t i = 0; id && i < OC_CLOSED_MAX; i++)
		if (o->closed[i] && !strcmp(o->closed[i], id))
			return true;
	return false;
}

static void close_msg(oc_sess *o, const char *id)
{
	if (!id || closed_msg(o, id))
		return;
	free(o->closed[o->closed_at]);
	o->closed[o->closed_at] = xstrdup(id);
	o->closed_at = (o->closed_at + 1) % OC_CLOSED_MAX;
}

static oc_msg *find_msg(oc_sess *o, const char *id)
{
	for (size_t i = 0; id && i < o->nmsgs; i++)
		if (!strcmp(o->msgs[i].id, id))
			return &o->msgs[i];
	return NULL;
}

static oc_msg *add_msg(oc_sess *o, const char *id, bool user)
{
	oc_msg *m = find_msg(o, id);
	if (m || o->nmsgs == OC_MSGS_MAX)
		return m;
	m = &o->msgs[o->nmsgs++];
	m->id = xstrdup(id);
	m->user = user;
	return m;
}

static oc_part *find_part(oc_sess *o, const char *id)
{
	for (size_t i = 0; i < o->nparts; i++)
		if (!strcmp(o->parts[i].id, id))
			return &o->parts[i];
	return NULL;
}

static oc_part *add_part(oc_sess *o, const char *id, const char *msg, int type)
{
	oc_part *p = find_part(o, id);
	if (p)
		return p;
	if (o->nparts == OC_PARTS_MAX)
		return NULL;
	if (o->nparts == o->cap_parts) {
		o->cap_parts = o->cap_parts ? o->cap_parts * 2 : 16;
		o->parts = xrealloc(o->parts, o->cap_parts * sizeof *o->parts);
	}
	p = &o->parts[o->nparts++];
	memset(p, 0, sizeof *p);
	p->id = xstrdup(id);
	p->msg = xstrdup(msg ? msg : "");
	p->type = type;
	buf_init(&p->text);
	return p;
}

static void free_turn(oc_sess *o)
{
	for (size_t i = 0; i < o->nparts; i++) {
		oc_part *p = &o->parts[i];
		free(p->id);
		free(p->msg);
		free(p->call_id);
		free(p->tool);
		free(p->call_native);
		buf_free(&p->text);
	}
	free(o->parts);
	o->parts = NULL;
	o->nparts = o->cap_parts = 0;
	for (size_t i = 0; i < o->nmsgs; i++) {
		close_msg(o, o->msgs[i].id);
		free(o->msgs[i].id);
	}
	o->nmsgs = 0;
	close_msg(o, o->user_msg);
	free(o->user_msg);
	free(o->user_content);
	free(o->finish);
	free(o->model);
	free(o->agent);
	free(o->turn_meta);
	o->user_msg = o->user_content = o->finish = o->model = o->agent = o->turn_meta = NULL;
	o->announced = false;
	o->user_shown = o->busy_seen = o->aborted = o->failed = false;
	o->prompt_out = false;
	o->steps = 0;
	o->cost = 0;
	memset(o->tok, 0, sizeof o->tok);
	if (o->check_timer && S.loop)
		loop_cancel_timer(S.loop, o->check_timer);
	o->check_timer = 0;
}

/* ---- content ---- */

static void w_text_part(jw_t *w, const char *type, const char *text, size_t n)
{
	jw_obj(w);
	jw_kstr(w, "type", type);
	jw_key(w, "text");
	jw_strn(w, text ? text : "", text ? n : 0);
	if (!strcmp(type, "reasoning"))
		jw_kstr(w, "visibility", "public");
	jw_obj_end(w);
}

static char *text_content(int type, const char *text, size_t n)
{
	buf_t b;
	jw_t w;
	buf_init(&b);
	jw_init(&w, &b);
	jw_arr(&w);
	w_text_part(&w, type == P_REASONING ? "reasoning" : "text", text, n);
	jw_arr_end(&w);
	return buf_cstr(&b);
}

/* A local path for a file part URL ("file:///x" -> "/x"); NULL for
 * anything else. */
static const char *url_path(const char *url)
{
	if (url && !strncmp(url, "file://", 7))
		return url + 7;
	return NULL;
}

/* An image part for image mimes, else a file_ref read. */
static void w_file(jw_t *w, const char *path, const char *mime)
{
	jw_obj(w);
	if (mime && !strncasecmp(mime, "image/", 6)) {
		jw_kstr(w, "type", "image");
		jw_kstr(w, "path", path);
		jw_kstr(w, "mime", mime);
	} else {
		jw_kstr(w, "type", "file_ref");
		jw_kstr(w, "path", path);
		jw_kstr(w, "action", "read");
		jw_key(w, "diff");
		jw_null(w);
	}
	jw_obj_end(w);
}

static void w_file_ref(jw_t *w, const char *path, const char *action, const char *diff)
{
	jw_obj(w);
	jw_kstr(w, "type", "file_ref");
	jw_kstr(w, "path", path);
	jw_kstr(w, "action", action);
	jw_key(w, "diff");
	jw_str(w, diff);
	jw_obj_end(w);
}

/* path made absolute against the session's directory */
static void abs_path(const oc_sess *o, const char *p, buf_t *out)
{
	buf_reset(out);
	if (p[0] != '/' && o->dir)
		buf_printf(out, "%s/", o->dir);
	buf_puts(out, p);
}

/* file_ref parts of a finished tool: what it read, wrote or patched. */
static void w_tool_files(jw_t *w, oc_sess *o, const jdoc *d, const char *tool, int state)
{
	int in = get_t(d, state, "input", JSON_OBJECT);
	int meta = get_t(d, state, "metadata", JSON_OBJECT);
	int fd = get_t(d, meta, "filediff", JSON_OBJECT);
	char *fp = get_str(d, in, "filePath");
	if (!fp)
		fp = get_str(d, meta, "filepath");
	char *diff = get_str(d, fd, "patch");
	if (!diff)
		diff = get_str(d, meta, "diff");
	char *file = get_str(d, fd, "file");
	buf_t path;
	buf_init(&path);
	const char *action = NULL;
	if (!strcmp(tool, "read"))
		action = "read";
	else if (!strcmp(tool, "write"))
		action = "write";
	else if (!strcmp(tool, "edit") || !strcmp(tool, "multiedit") || !strcmp(tool, "patch") ||
			!strcmp(tool, "apply_patch"))
		action = "patch";
	if (action && (file || fp)) {
		abs_path(o, file ? file : fp, &path);
		w_file_ref(w, buf_cstr(&path), action, !strcmp(action, "read") ? NULL : diff);
	} else if (action) {
		/* several files (apply_patch): metadata.files[] */
		int files = get_t(d, meta, "files", JSON_ARRAY);
		for (int f = files >= 0 ? json_first(d->t, files) : -1; f >= 0; f = json_next(d->t, f)) {
			char *fn = get_str(d, f, "filePath");
			if (!fn)
				fn = get_str(d, f, "file");
			if (!fn)
				fn = get_str(d, f, "path");
			char *fdiff = get_str(d, f, "diff");
			if (!fdiff)
				fdiff = get_str(d, f, "patch");
			if (fn) {
				abs_path(o, fn, &path);
				w_file_ref(w, buf_cstr(&path), action, fdiff);
			}
			free(fn);
			free(fdiff);
		}
	}
	/* files the tool attached (images it looked at, ...) */
	int att = get_t(d, state, "attachments", JSON_ARRAY);
	for (int a = att >= 0 ? json_first(d->t, att) : -1; a >= 0; a = json_next(d->t, a)) {
		char *url = get_str(d, a, "url"), *mime = get_str(d, a, "mime");
		char *name = get_str(d, a, "filename");
		const char *lp = url_path(url);
		if (lp || name)
			w_file(w, lp ? lp : name, mime);
		free(url);
		free(mime);
		free(name);
	}
	buf_free(&path);
	free(fp);
	free(diff);
	free(file);
}

/* ---- parts ---- */

static void text_started(oc_sess *o, const ev_ctx *x, oc_part *p)
{
	if (p->started)
		return;
	p->started = true;
	/* empty until it streams, as the other adapters start theirs */
	rec_item(o, x, EV_ITEM_STARTED, false, p->id, NULL, "message", "assistant", "[]",
		"in_progress");
}

static void text_complete(oc_sess *o, const ev_ctx *x, oc_part *p, bool failed)
{
	if (p->done)
		return;
	text_started(o, x, p);
	p->done = true;
	char *c = text_content(p->type, p->text.p, p->text.len);
	rec_item(o, x, EV_ITEM_COMPLETED, false, p->id, NULL, "message", "assistant", c,
		failed ? "failed" : "completed");
	free(c);
}

/* Text or reasoning part: started, the part of its text no delta carried
 * yet as a delta, completed when OpenCode marks its end. */
static void on_text_part(oc_sess *o, const ev_ctx *x, int part, const char *id, const char *msg,
		int type)
{
	const jdoc *d = x->d;
	oc_part *p = add_part(o, id, msg, type);
	if (!p || p->done)
		return;
	text_started(o, x, p);
	int ti = get_t(d, part, "text", JSON_STRING);
	size_t n = 0;
	char *text = ti >= 0 ? json_str_dup(d->js, d->t, ti, &n) : NULL;
	int di = get_t(d, x->props, "delta", JSON_STRING); /* older servers */
	if (di >= 0) {
		size_t dn;
		char *dl = json_str_dup(d->js, d->t, di, &dn);
		buf_append(&p->text, dl, dn);
		rec_delta(o, x, p->id, dl, dn);
		free(dl);
	} else if (text && n > p->text.len && !memcmp(text, p->text.p ? p->text.p : "", p->text.len)) {
		size_t had = p->text.len;
		buf_append(&p->text, text + had, n - had);
		rec_delta(o, x, p->id, text + had, n - had);
	}
	int tm = get_t(d, part, "time", JSON_OBJECT);
	if (get(d, tm, "end") >= 0) {
		if (text) {
			buf_reset(&p->text);
			buf_append(&p->text, text, n);
		}
		text_complete(o, x, p, false);
	}
	free(text);
}

static void on_delta(oc_sess *o, const ev_ctx *x)
{
	const jdoc *d = x->d;
	char *pid = get_str(d, x->props, "partID"), *msg = get_str(d, x->props, "messageID");
	int di = get_t(d, x->props, "delta", JSON_STRING);
	if (!pid || di < 0 || !is_str(d, x->props, "field", "text") || closed_msg(o, msg)) {
		free(pid);
		free(msg);
		return;
	}
	oc_msg *m = find_msg(o, msg);
	oc_part *p = find_part(o, pid);
	if (!p && !(m && m->user))
		p = add_part(o, pid, msg, P_TEXT); /* a delta before its part */
	if (p && p->type != P_TOOL && !p->done) {
		text_started(o, x, p);
		size_t n;
		char *dl = json_str_dup(d->js, d->t, di, &n);
		buf_append(&p->text, dl, n);
		rec_delta(o, x, p->id, dl, n);
		free(dl);
	}
	free(pid);
	free(msg);
}

static char *tool_call_content(const jdoc *d, const char *tool, const char *call_id, int input)
{
	buf_t b;
	jw_t w;
	buf_init(&b);
	jw_init(&w, &b);
	jw_arr(&w);
	jw_obj(&w);
	jw_kstr(&w, "type", "tool_call");
	jw_kstr(&w, "name", tool);
	jw_key(&w, "arguments");
	if (input >= 0) {
		const char *p;
		size_t n;
		span(d, input, &p, &n);
		jw_strn(&w, p, n);
	} else {
		jw_str(&w, "{}");
	}
	jw_kstr(&w, "call_id", call_id);
	jw_obj_end(&w);
	jw_arr_end(&w);
	return buf_cstr(&b);
}

static char *tool_result_content(oc_sess *o, const jdoc *d, const oc_part *p, const char *output,
		size_t n, int state)
{
	buf_t b;
	jw_t w;
	buf_init(&b);
	jw_init(&w, &b);
	jw_arr(&w);
	jw_obj(&w);
	jw_kstr(&w, "type", "tool_result");
	jw_kstr(&w, "call_id", p->call_id);
	jw_key(&w, "output");
	jw_strn(&w, output ? output : "", output ? n : 0);
	jw_obj_end(&w);
	if (state >= 0)
		w_tool_files(&w, o, d, p->tool, state);
	jw_arr_end(&w);
	return buf_cstr(&b);
}

static void tool_call_done(oc_sess *o, const ev_ctx *x, oc_part *p, int input)
{
	if (p->call_done)
		return;
	p->call_done = p->call_started = true;
	char *c = tool_call_content(x ? x->d : NULL, p->tool, p->call_id, input);
	rec_item(o, x, EV_ITEM_COMPLETED, false, p->call_native, NULL, "tool_call", "assistant", c,
		"completed");
	free(c);
}

static void tool_result_started(oc_sess *o, const ev_ctx *x, oc_part *p)
{
	if (p->result_started)
		return;
	p->result_started = true;
	char *c = tool_result_content(o, NULL, p, "", 0, -1);
	rec_item(o, x, EV_ITEM_STARTED, false, p->id, p->call_native, "tool_result", "tool", c,
		"in_progress");
	free(c);
}

/* Tool part: a tool_call item (started while pending, completed with its
 * input) and a tool_result item (started when it runs, streaming
 * metadata.output as deltas, completed or failed with its files). */
static void on_tool_part(oc_sess *o, const ev_ctx *x, int part, const char *id, const char *msg)
{
	const jdoc *d = x->d;
	oc_part *p = add_part(o, id, msg, P_TOOL);
	if (!p || p->done || p->type != P_TOOL)
		return;
	if (!p->tool) {
		p->tool = get_str(d, part, "tool");
		if (!p->tool)
			p->tool = xstrdup("unknown");
		p->call_id = get_str(d, part, "callID");
		if (!p->call_id)
			p->call_id = xstrdup(id);
		buf_t nb;
		buf_init(&nb);
		buf_printf(&nb, "%s#call", id);
		p->call_native = buf_cstr(&nb);
	}
	int state = get_t(d, part, "state", JSON_OBJECT);
	int input = get_t(d, state, "input", JSON_OBJECT);
	bool pending = is_str(d, state, "status", "pending");
	bool running = is_str(d, state, "status", "running");
	bool completed = is_str(d, state, "status", "completed");
	bool error = is_str(d, state, "status", "error");
	if (pending) {
		if (!p->call_started) {
			p->call_started = true;
			char *c = tool_call_content(d, p->tool, p->call_id, -1);
			rec_item(o, x, EV_ITEM_STARTED, false, p->call_native, NULL, "tool_call",
				"assistant", c, "in_progress");
			free(c);
		}
		return;
	}
	if (!running && !completed && !error)
		return;
	tool_call_done(o, x, p, input);
	tool_result_started(o, x, p);
	if (running) {
		int meta = get_t(d, state, "metadata", JSON_OBJECT);
		int out = get_t(d, meta, "output", JSON_STRING);
		if (out >= 0) {
			size_t n;
			char *s = json_str_dup(d->js, d->t, out, &n);
			if (n > p->text.len && !memcmp(s, p->text.p ? p->text.p : "", p->text.len)) {
				size_t had = p->text.len;
				buf_append(&p->text, s + had, n - had);
				rec_delta(o, x, p->id, s + had, n - had);
			}
			free(s);
		}
		return;
	}
	p->done = true;
	size_t n = 0;
	char *s = completed ? get_str(d, state, "output") : get_str(d, state, "error");
	if (s)
		n = strlen(s);
	char *c = tool_result_content(o, d, p, s, n, completed ? state : -1);
	rec_item(o, x, EV_ITEM_COMPLETED, false, p->id, p->call_native, "tool_result", "tool", c,
		completed ? "completed" : "failed");
	free(c);
	free(s);
}

/* A file the assistant produced: its own message item. */
static void on_file_part(oc_sess *o, const ev_ctx *x, int part, const char *id)
{
	const jdoc *d = x->d;
	char *url = get_str(d, part, "url"), *mime = get_str(d, part, "mime");
	char *name = get_str(d, part, "filename");
	const char *lp = url_path(url);
	if (lp || name) {
		buf_t b;
		jw_t w;
		buf_init(&b);
		jw_init(&w, &b);
		jw_arr(&w);
		w_file(&w, lp ? lp : name, mime);
		jw_arr_end(&w);
		rec_item(o, x, EV_ITEM_COMPLETED, false, id, NULL, "message", "assistant", buf_cstr(&b),
			"completed");
		buf_free(&b);
	}
	free(url);
	free(mime);
	free(name);
}

static void on_step_finish(oc_sess *o, const ev_ctx *x, int part)
{
	const jdoc *d = x->d;
	o->steps++;
	char *r = get_str(d, part, "reason");
	if (r) {
		free(o->finish);
		o->finish = r;
	}
	o->cost += num_at(d, get(d, part, "cost"));
	int tk = get_t(d, part, "tokens", JSON_OBJECT);
	int cache = get_t(d, tk, "cache", JSON_OBJECT);
	o->tok[0] += num_at(d, get(d, tk, "total"));
	o->tok[1] += num_at(d, get(d, tk, "input"));
	o->tok[2] += num_at(d, get(d, tk, "output"));
	o->tok[3] += num_at(d, get(d, tk, "reasoning"));
	o->tok[4] += num_at(d, get(d, cache, "read"));
	o->tok[5] += num_at(d, get(d, cache, "write"));
}

/* The user item of our prompt, with the content we sent (OpenCode's copy
 * has file contents inlined and images as data URLs). */
static void show_user(oc_sess *o, const ev_ctx *x, const char *msg)
{
	if (o->user_shown || !o->user_content)
		return;
	o->user_shown = true;
	free(o->user_msg);
	o->user_msg = xstrdup(msg);
	rec_item(o, x, EV_ITEM_STARTED, false, msg, NULL, "message", "user", o->user_content,
		"in_progress");
	rec_item(o, x, EV_ITEM_COMPLETED, false, msg, NULL, "message", "user", o->user_content,
		"completed");
}

/* A turn nobody here started (a prompt from another client of the same
 * OpenCode session): shown as it comes. */
static void foreign_turn(oc_sess *o, const ev_ctx *x)
{
	if (o->turn || o->s->ended)
		return;
	o->turn = true;
	o->busy_seen = true;
	o->announced = true;
	ev_conv c = conv(o, x, EV_TURN_STARTED, false);
	c.u.turn.metadata_json = "{\"origin\":\"opencode\"}";
	sess_record(o->s, &c);
}

/* turn.started of our prompt, recorded when it goes to OpenCode (the
 * OpenCode session exists then, so every event of the turn carries its
 * id). */
static void announce(oc_sess *o)
{
	if (o->announced || !o->turn)
		return;
	o->announced = true;
	ev_conv c = conv(o, NULL, EV_TURN_STARTED, true);
	c.u.turn.metadata_json = o->turn_meta;
	sess_record(o->s, &c);
	free(o->turn_meta);
	o->turn_meta = NULL;
}

static void on_part_updated(oc_sess *o, const ev_ctx *x)
{
	const jdoc *d = x->d;
	int part = get_t(d, x->props, "part", JSON_OBJECT);
	char *id = get_str(d, part, "id"), *msg = get_str(d, part, "messageID");
	char *type = get_str(d, part, "type");
	if (!id || !type || closed_msg(o, msg))
		goto out;
	oc_msg *m = find_msg(o, msg);
	if (m && m->user) {
		/* ours is shown from what we sent; a foreign prompt's text is
		 * taken as it is */
		bool synthetic = false;
		json_get_bool(d->js, d->t, get(d, part, "synthetic"), &synthetic);
		if (!o->user_content && !strcmp(type, "text") && !synthetic && o->turn) {
			int ti = get_t(d, part, "text", JSON_STRING);
			size_t n = 0;
			char *t = ti >= 0 ? json_str_dup(d->js, d->t, ti, &n) : NULL;
			o->user_content = text_content(P_TEXT, t, n);
			free(t);
			show_user(o, x, msg);
		}
		goto out;
	}
	if (!o->turn)
		foreign_turn(o, x);
	if (!strcmp(type, "text"))
		on_text_part(o, x, part, id, msg, P_TEXT);
	else if (!strcmp(type, "reasoning"))
		on_text_part(o, x, part, id, msg, P_REASONING);
	else if (!strcmp(type, "tool"))
		on_tool_part(o, x, part, id, msg);
	else if (!strcmp(type, "file"))
		on_file_part(o, x, part, id);
	else if (!strcmp(type, "step-finish"))
		on_step_finish(o, x, part);
	else if (!strcmp(type, "subtask")) {
		char *desc = get_str(d, part, "description");
		char *js = tok_json(d, part);
		rec_status(o, x, "opencode.subtask", desc, js);
		free(desc);
		free(js);
	} else if (!strcmp(type, "compaction")) {
		rec_status(o, x, "opencode.compaction", NULL, NULL);
	}
	/* step-start, snapshot, patch, agent, retry: nothing of their own
	 * (usage goes to turn.ended, retries come as session.status) */
out:
	free(id);
	free(msg);
	free(type);
}

static void on_message_updated(oc_sess *o, const ev_ctx *x)
{
	const jdoc *d = x->d;
	int info = get_t(d, x->props, "info", JSON_OBJECT);
	char *id = get_str(d, info, "id");
	if (!id || closed_msg(o, id)) {
		free(id);
		return;
	}
	bool user = is_str(d, info, "role", "user");
	if (user) {
		if (!o->turn && !find_msg(o, id))
			foreign_turn(o, x);
		add_msg(o, id, true);
		if (o->turn)
			show_user(o, x, id);
	} else if (is_str(d, info, "role", "assistant")) {
		if (!o->turn)
			foreign_turn(o, x);
		add_msg(o, id, false);
		char *prov = get_str(d, info, "providerID"), *model = get_str(d, info, "modelID");
		if (prov && model) {
			buf_t b;
			buf_init(&b);
			buf_printf(&b, "%s/%s", prov, model);
			free(o->model);
			o->model = buf_cstr(&b);
		}
		free(prov);
		free(model);
		char *agent = get_str(d, info, "agent");
		if (agent) {
			free(o->agent);
			o->agent = agent;
		}
		int err = get_t(d, info, "error", JSON_OBJECT);
		if (err >= 0 && is_str(d, err, "name", "MessageAbortedError"))
			o->aborted = true;
	}
	free(id);
}

/* ---- HITL ---- */

static void on_permission_asked(oc_sess *o, const ev_ctx *x)
{
	const jdoc *d = x->d;
	char *id = get_str(d, x->props, "id"), *perm = get_str(d, x->props, "permission");
	if (id) {
		char *meta = tok_json(d, x->props);
		ev_conv c = conv(o, x, EV_PERMISSION_REQUESTED, false);
		c.u.perm.id = id;
		c.u.perm.action = perm ? perm : "unknown";
		c.u.perm.status = "requested";
		c.u.perm.metadata_json = meta;
		sess_record(o->s, &c);
		free(meta);
	}
	free(id);
	free(perm);
}

/* permission.replied: shown only when the answer came from elsewhere
 * (our own replies are recorded by the API when they are made). */
static void on_permission_replied(oc_sess *o, const ev_ctx *x)
{
	const jdoc *d = x->d;
	char *id = get_str(d, x->props, "requestID");
	pending_perm *p = id ? sess_find_perm(o->s, id) : NULL;
	if (p) {
		const char *st = is_str(d, x->props, "reply", "always") ? "accept_for_session"
			: is_str(d, x->props, "reply", "once") ? "accept" : "reject";
		pending_perm t;
		sess_take_perm(o->s, p, &t);
		ev_conv c = conv(o, x, EV_PERMISSION_RESOLVED, false);
		c.u.perm.id = t.id;
		c.u.perm.action = t.action;
		c.u.perm.status = st;
		c.u.perm.metadata_json = t.metadata_json;
		sess_record(o->s, &c);
		sess_free_perm(&t);
	}
	free(id);
}

static void on_question_asked(oc_sess *o, const ev_ctx *x)
{
	const jdoc *d = x->d;
	char *id = get_str(d, x->props, "id");
	if (!id)
		return;
	int qs = get_t(d, x->props, "questions", JSON_ARRAY);
	int q0 = qs >= 0 ? json_arr_get(d->t, qs, 0) : -1;
	char *prompt = get_str(d, q0, "question");
	if (!prompt)
		prompt = get_str(d, q0, "header");
	buf_t opts;
	jw_t w;
	buf_init(&opts);
	jw_init(&w, &opts);
	jw_arr(&w);
	int ol = get_t(d, q0, "options", JSON_ARRAY);
	for (int i = ol >= 0 ? json_first(d->t, ol) : -1; i >= 0; i = json_next(d->t, i)) {
		int l = get_t(d, i, "label", JSON_STRING);
		if (l >= 0)
			w_tok(&w, d, l);
	}
	jw_arr_end(&w);
	ev_conv c = conv(o, x, EV_QUESTION_REQUESTED, false);
	c.u.question.id = id;
	c.u.question.prompt = prompt ? prompt : "";
	c.u.question.options_json = buf_cstr(&opts);
	c.u.question.status = "requested";
	sess_record(o->s, &c);
	buf_free(&opts);
	free(prompt);
	free(id);
}

static void on_question_done(oc_sess *o, const ev_ctx *x, bool answered)
{
	const jdoc *d = x->d;
	char *id = get_str(d, x->props, "requestID");
	pending_question *q = id ? sess_find_question(o->s, id) : NULL;
	if (q) {
		char *resp = NULL;
		int a = get_t(d, x->props, "answers", JSON_ARRAY);
		int a0 = a >= 0 ? json_arr_get(d->t, a, 0) : -1;
		if (a0 >= 0 && d->t[a0].type == JSON_ARRAY)
			resp = str_at(d, json_arr_get(d->t, a0, 0));
		pending_question t;
		sess_take_question(o->s, q, &t);
		ev_conv c = conv(o, x, EV_QUESTION_RESOLVED, false);
		c.u.question.id = t.id;
		c.u.question.prompt = t.prompt ? t.prompt : "";
		c.u.question.options_json = t.options_json;
		c.u.question.response = answered ? resp : NULL;
		c.u.question.status = answered ? "answered" : "rejected";
		sess_record(o->s, &c);
		sess_free_question(&t);
		free(resp);
	}
	free(id);
}

/* Requests OpenCode can no longer take an answer to (its server went
 * away, or our session ended): resolved as rejected. */
static void withdraw_hitl(oc_sess *o)
{
	session *s = o->s;
	while (s->nperms) {
		pending_perm t;
		sess_take_perm(s, &s->perms[0], &t);
		ev_conv c = conv(o, NULL, EV_PERMISSION_RESOLVED, true);
		c.u.perm.id = t.id;
		c.u.perm.action = t.action;
		c.u.perm.status = "reject";
		c.u.perm.metadata_json = t.metadata_json;
		if (!t.hidden)
			sess_record(s, &c);
		sess_free_perm(&t);
	}
	while (s->nquestions) {
		pending_question t;
		sess_take_question(s, &s->questions[0], &t);
		ev_conv c = conv(o, NULL, EV_QUESTION_RESOLVED, true);
		c.u.question.id = t.id;
		c.u.question.prompt = t.prompt ? t.prompt : "";
		c.u.question.options_json = t.options_json;
		c.u.question.status = "rejected";
		sess_record(s, &c);
		sess_free_question(&t);
	}
}

/* ---- session status, errors, turn end ---- */

/* OpenCode repeats idle after an error or an abort; a repeat must not
 * end the turn of a prompt sent meanwhile, so an idle ends a turn only
 * once OpenCode showed that it took the prompt (its user message, or
 * busy). */
static void on_session_idle(oc_sess *o, const ev_ctx *x)
{
	if (o->turn && (o->busy_seen || o->user_shown))
		turn_end(o, NULL, x->raw, x->raw_len, true);
}

static void on_status(oc_sess *o, const ev_ctx *x)
{
	const jdoc *d = x->d;
	int st = get_t(d, x->props, "status", JSON_OBJECT);
	if (is_str(d, st, "type", "busy")) {
		if (!o->turn)
			foreign_turn(o, x);
		o->busy_seen = true;
	} else if (is_str(d, st, "type", "idle")) {
		on_session_idle(o, x);
	} else if (is_str(d, st, "type", "retry")) {
		if (!o->turn)
			foreign_turn(o, x);
		o->busy_seen = true;
		char *msg = get_str(d, st, "message");
		uint64_t attempt = 0;
		json_get_u64(d->js, d->t, get(d, st, "attempt"), &attempt);
		buf_t det;
		buf_init(&det);
		buf_printf(&det, "attempt %llu: %s", (unsigned long long)attempt, msg ? msg : "retrying");
		char *js = tok_json(d, st);
		rec_status(o, x, "opencode.retry", buf_cstr(&det), js);
		free(js);
		buf_free(&det);
		free(msg);
	}
}

static void on_check_done(oc_call *k, int status, const char *body, size_t len, const char *err)
{
	oc_sess *o = k->o;
	if (!o || !o->turn || status != 200 || !o->s->native_id)
		return;
	jdoc d;
	if (!doc_parse(&d, body, len))
		return;
	/* GET /session/status lists the sessions that are not idle */
	if (d.t[0].type == JSON_OBJECT && get(&d, 0, o->s->native_id) < 0) {
		if (!o->busy_seen && !o->user_shown) {
			log_warn("session %s: OpenCode is idle and shows no sign of the prompt",
				o->s->id);
			rec_error(o, NULL, true, "OpenCode did not start the turn", "opencode_http", NULL);
			o->failed = true;
		} else {
			log_info("session %s: OpenCode reports it idle after an error", o->s->id);
		}
		turn_end(o, NULL, NULL, 0, false);
	}
	doc_free(&d);
}

static oc_call *call(const char *method, const char *path, const char *query, const char *body,
		call_fn fn, oc_sess *o, const char *what);

static void on_check_timer(loop_t *l, void *ud)
{
	oc_sess *o = ud;
	o->check_timer = 0;
	if (o->turn && S.state == SRV_READY && !(o->busy_seen && !o->failed))
		call("GET", "/session/status", o->query, NULL, on_check_done, o, "status");
}

static void on_session_error(oc_sess *o, const ev_ctx *x)
{
	const jdoc *d = x->d;
	int err = get_t(d, x->props, "error", JSON_OBJECT);
	char *name = get_str(d, err, "name");
	int data = get_t(d, err, "data", JSON_OBJECT);
	char *msg = get_str(d, data, "message");
	if (name && !strcmp(name, "MessageAbortedError")) {
		o->aborted = true; /* an interruption, shown on turn.ended */
	} else {
		char *details = tok_json(d, err);
		rec_error(o, x, false, msg ? msg : name ? name : "OpenCode error", name, details);
		free(details);
		o->failed = true;
	}
	free(name);
	free(msg);
	if (o->turn && !o->busy_seen) {
		/* failed before the turn ran (a bad attachment...): OpenCode
		 * sends no idle then */
		turn_end(o, NULL, x->raw, x->raw_len, true);
	} else if (o->turn && S.loop && !o->check_timer) {
		o->check_timer = loop_add_timer(S.loop, OC_ERROR_CHECK_MS, 0, on_check_timer, o);
	}
}

/* Closes the turn: open items completed (failed when it did not end
 * well), turn.ended with its status and usage, the next queued message. */
static void turn_end(oc_sess *o, const char *why_status, const char *raw, size_t raw_len,
		bool native)
{
	if (!o->turn)
		return;
	session *s = o->s;
	const char *status = why_status ? why_status : o->aborted ? "interrupted"
		: o->failed ? "error" : "completed";
	bool bad = strcmp(status, "completed") != 0;
	ev_ctx x = {.raw = raw, .raw_len = raw_len};
	for (size_t i = 0; i < o->nparts && !s->ended; i++) {
		oc_part *p = &o->parts[i];
		if (p->done)
			continue;
		if (p->type != P_TOOL) {
			text_complete(o, &x, p, bad);
			continue;
		}
		p->done = true;
		if (p->call_started && !p->call_done)
			tool_call_done(o, &x, p, -1);
		if (p->result_started) {
			char *c = tool_result_content(o, NULL, p, p->text.p, p->text.len, -1);
			rec_item(o, &x, EV_ITEM_COMPLETED, false, p->id, p->call_native, "tool_result",
				"tool", c, "failed");
			free(c);
		}
	}
	buf_t m;
	jw_t w;
	buf_init(&m);
	jw_init(&w, &m);
	jw_obj(&w);
	jw_kstr(&w, "status", status);
	jw_kint(&w, "steps", o->steps);
	if (o->finish)
		jw_kstr(&w, "finish", o->finish);
	if (o->model)
		jw_kstr(&w, "model", o->model);
	if (o->agent)
		jw_kstr(&w, "agent", o->agent);
	jw_key(&w, "tokens");
	jw_obj(&w);
	w_num(&w, "total", o->tok[0]);
	w_num(&w, "input", o->tok[1]);
	w_num(&w, "output", o->tok[2]);
	w_num(&w, "reasoning", o->tok[3]);
	jw_key(&w, "cache");
	jw_obj(&w);
	w_num(&w, "read", o->tok[4]);
	w_num(&w, "write", o->tok[5]);
	jw_obj_end(&w);
	jw_obj_end(&w);
	w_num(&w, "cost", o->cost);
	jw_obj_end(&w);
	if (!o->announced && !s->ended)
		announce(o);
	o->turn = false;
	free_turn(o);
	if (!s->ended) {
		ev_conv c = conv(o, &x, EV_TURN_ENDED, !native);
		c.u.turn.metadata_json = buf_cstr(&m);
		sess_record(s, &c);
	}
	buf_free(&m);
	idle_check();
	if (o->terminating)
		s->busy = false; /* the session ends: its queue is dropped, not sent */
	else
		sess_turn_done(s);
}

/* The turn fails on our side (the server died, the prompt was refused). */
static void turn_fail(oc_sess *o, const char *msg, const char *code, const char *details)
{
	if (!o->turn)
		return;
	if (msg)
		rec_error(o, NULL, true, msg, code, details);
	withdraw_hitl(o);
	turn_end(o, "error", NULL, 0, false);
}

/* ---- the event stream ---- */

static char *event_session(const jdoc *d, int props)
{
	char *sid = get_str(d, props, "sessionID");
	if (!sid)
		sid = get_str(d, get_t(d, props, "info", JSON_OBJECT), "sessionID");
	if (!sid)
		sid = get_str(d, get_t(d, props, "part", JSON_OBJECT), "sessionID");
	return sid;
}

static void srv_ready(void);

static void on_event(const char *js, size_t len)
{
	jdoc d;
	if (!doc_parse(&d, js, len)) {
		log_warn("opencode: event stream data that is not JSON (%zu bytes) ignored", len);
		return;
	}
	int payload = get_t(&d, 0, "payload", JSON_OBJECT);
	if (payload < 0)
		payload = 0;
	int ty = get_t(&d, payload, "type", JSON_STRING);
	int props = get_t(&d, payload, "properties", JSON_OBJECT);
	if (d.t[0].type != JSON_OBJECT || ty < 0)
		goto out;
	if (json_str_eq(js, d.t, ty, "server.connected")) {
		if (S.state == SRV_SUBSCRIBING)
			srv_ready();
		goto out;
	}
	char *sid = event_session(&d, props);
	oc_sess *o = sid ? strmap_get(&S.by_native, sid) : NULL;
	free(sid);
	if (!o || o->s->ended || o->terminating)
		goto out;
	ev_ctx x = {&d, payload, props, NULL, 0};
	span(&d, payload, &x.raw, &x.raw_len);
	S.in_event++;
	const char *const t = js + d.t[ty].start;
	size_t tn = d.t[ty].end - d.t[ty].start;
#define IS(name) (tn == sizeof(name) - 1 && !memcmp(t, name, tn))
	if (IS("message.part.updated"))
		on_part_updated(o, &x);
	else if (IS("message.part.delta"))
		on_delta(o, &x);
	else if (IS("message.updated"))
		on_message_updated(o, &x);
	else if (IS("session.status"))
		on_status(o, &x);
	else if (IS("session.idle"))
		on_session_idle(o, &x);
	else if (IS("session.error"))
		on_session_error(o, &x);
	else if (IS("permission.asked"))
		on_permission_asked(o, &x);
	else if (IS("permission.replied"))
		on_permission_replied(o, &x);
	else if (IS("question.asked"))
		on_question_asked(o, &x);
	else if (IS("question.replied"))
		on_question_done(o, &x, true);
	else if (IS("question.rejected"))
		on_question_done(o, &x, false);
	else if (IS("todo.updated")) {
		char *todos = tok_json(&d, get_t(&d, props, "todos", JSON_ARRAY));
		rec_status(o, &x, "opencode.todo", NULL, todos);
		free(todos);
	} else if (IS("session.compacted")) {
		rec_status(o, &x, "opencode.compacted", NULL, NULL);
	}
	/* anything else (session.updated, session.diff, message.removed,
	 * the v2 duplicates...) carries nothing a client needs here */
#undef IS
	S.in_event--;
	if (o->end_pending) {
		/* terminated from inside (the event log filled up) */
		o->end_pending = false;
		turn_end(o, "interrupted", NULL, 0, false);
	}
out:
	doc_free(&d);
}

static int on_sse_event(void *ud, const char *event, size_t elen, const char *data, size_t dlen,
		const char *id, size_t idlen)
{
	if (S.free_parser)
		return 1; /* the stream was closed by an earlier event */
	on_event(data, dlen);
	return S.free_parser ? 1 : 0;
}

/* ---- HTTP calls ---- */

static void call_free(oc_call *k)
{
	buf_free(&k->body);
	free(k->what);
	free(k->arg);
	free(k);
}

static void call_unlink(oc_call *k)
{
	for (oc_call **pp = &S.calls; *pp; pp = &(*pp)->next) {
		if (*pp == k) {
			*pp = k->next;
			return;
		}
	}
}

static bool call_headers(hc_t *c, void *ud, int status, const http_header *h, size_t n)
{
	oc_call *k = ud;
	k->status = status;
	return true;
}

static void call_data(hc_t *c, void *ud, const char *p, size_t n)
{
	oc_call *k = ud;
	if (k->body.len + n > OC_BODY_MAX) {
		k->too_big = true;
		return;
	}
	buf_append(&k->body, p, n);
}

static void call_finish(oc_call *k, int err, const char *msg)
{
	call_unlink(k);
	if (k->fn)
		k->fn(k, err ? -1 : k->status, buf_cstr(&k->body), k->body.len, err ? msg : NULL);
	call_free(k);
}

static void call_done(hc_t *c, void *ud, int err, const char *msg)
{
	oc_call *k = ud;
	k->c = NULL;
	call_finish(k, err, err ? msg : k->too_big ? "response too large" : NULL);
}

static const hc_ops call_ops = {call_headers, call_data, call_done};

static void auth_header(char *out, size_t cap, const char *password)
{
	char up[64];
	int n = snprintf(up, sizeof up, "%s:%s", OC_USERNAME, password);
	if (n < 0 || n >= (int)sizeof up)
		n = 0;
	char b64[4 * (sizeof up + 2) / 3 + 1];
	util_b64_encode((const unsigned char *)up, (size_t)n, b64);
	if (snprintf(out, cap, "Authorization: Basic %s", b64) >= (int)cap)
		out[0] = 0;
}

/* Starts one request to the server; fn gets the status (or -1 and err)
 * and the body. */
static oc_call *call(const char *method, const char *path, const char *query, const char *body,
		call_fn fn, oc_sess *o, const char *what)
{
	oc_call *k = xcalloc(1, sizeof *k);
	buf_init(&k->body);
	k->fn = fn;
	k->o = o;
	k->what = xstrdup(what);
	k->next = S.calls;
	S.calls = k;
	if (S.test) {
		buf_printf(S.test_out, "%s %s%s%s %s\n", method, path, query && *query ? "?" : "",
			query ? query : "", body ? body : "-");
		return k;
	}
	buf_t url;
	buf_init(&url);
	buf_printf(&url, "%s%s%s%s", S.base, path, query && *query ? "?" : "", query ? query : "");
	const char *hdrs[] = {S.auth, "Accept: application/json",
		body ? "Content-Type: application/json" : NULL, NULL};
	hc_request rq = {
		.method = method,
		.url = buf_cstr(&url),
		.headers = hdrs,
		.body = body,
		.body_len = body ? strlen(body) : 0,
		.connect_timeout_ms = OC_CONNECT_TIMEOUT_MS,
		.read_timeout_ms = strcmp(what, "health") ? OC_CALL_TIMEOUT_MS : OC_HEALTH_TIMEOUT_MS,
		.max_redirects = -1,
		.no_proxy = true,
	};
	char err[256];
	k->c = hc_start(S.loop, &rq, &call_ops, k, err, sizeof err);
	buf_free(&url);
	if (!k->c) {
		/* only a malformed URL gets here; the caller sees the failure
		 * through fn before call() returns */
		log_warn("opencode: %s request not started: %s", what, err);
		call_finish(k, -1, err);
		return NULL;
	}
	return k;
}

static void cancel_calls(void)
{
	while (S.calls) {
		oc_call *k = S.calls;
		S.calls = k->next;
		if (k->c)
			hc_cancel(k->c);
		call_free(k);
	}
}

/* "OpenCode <what> failed <status>: <body>" */
static void call_error(buf_t *b, oc_call *k, int status, const char *body, size_t len,
		const char *err)
{
	if (status < 0)
		buf_printf(b, "OpenCode %s failed: %s", k->what, err ? err : "connection failed");
	else
		buf_printf(b, "OpenCode %s failed %d: %.*s", k->what, status, (int)(len > 500 ? 500 : len),
			body ? body : "");
}

/* ---- the server process ---- */

static void srv_set_error(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static void srv_set_error(const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(S.last_error, sizeof S.last_error, fmt, ap);
	va_end(ap);
}

static void cancel_timer(uint64_t *t)
{
	if (*t && S.loop)
		loop_cancel_timer(S.loop, *t);
	*t = 0;
}

static void sse_close(void)
{
	if (S.sse) {
		hc_cancel(S.sse);
		S.sse = NULL;
	}
	if (S.sse_init && S.in_feed) {
		S.free_parser = true; /* the feed stops at its next event */
	} else if (S.sse_init) {
		sse_parser_free(&S.ps);
		S.sse_init = false;
	}
}

/* Feeds stream bytes to the parser; safe against the stream being closed
 * by what an event does. */
static int sse_feed(const char *p, size_t n)
{
	S.in_feed = true;
	int rc = sse_parser_feed(&S.ps, p, n, on_sse_event, NULL);
	S.in_feed = false;
	if (S.free_parser || rc != 0) {
		sse_parser_free(&S.ps);
		S.sse_init = S.free_parser = false;
		if (rc > 0)
			rc = 0; /* stopped because it was closed */
	}
	return rc;
}

/* Stops the process on purpose (idle, shutdown): no session sees it. */
static void srv_stop(const char *why)
{
	if (S.state == SRV_STOPPED)
		return;
	log_info("opencode: stopping the server (%s)", why);
	sse_close();
	cancel_calls();
	cancel_timer(&S.start_timer);
	cancel_timer(&S.retry_timer);
	cancel_timer(&S.idle_timer);
	cancel_timer(&S.lost_timer);
	if (S.p) {
		proc_detach(S.p);
		S.p = NULL;
	}
	S.state = SRV_STOPPED;
	S.crashed = false;
	for (oc_sess *o = S.sessions; o; o = o->next) {
		if (o->phase == PH_CREATING || o->phase == PH_MCP)
			o->phase = PH_WAIT;
		o->needs_mcp = o->nmcp > 0; /* runtime state of the instance */
	}
}

static void srv_kill(const char *why, const char *code)
{
	if (!S.p) {
		srv_died(0, NULL, NULL, why, code);
		return;
	}
	proc_t *p = S.p;
	buf_t err, tail;
	buf_init(&err);
	buf_init(&tail);
	bool has = proc_stderr_json(p, &err);
	proc_stderr_tail(p, &tail, 20);
	proc_detach(p);
	S.p = NULL;
	srv_died(-1, has ? buf_cstr(&err) : NULL, buf_cstr(&tail), why, code);
	buf_free(&err);
	buf_free(&tail);
}

static char sse_err[128]; /* why the stream was refused */

static bool sse_headers(hc_t *c, void *ud, int status, const http_header *h, size_t n)
{
	if (status != 200) {
		snprintf(sse_err, sizeof sse_err, "OpenCode SSE error %d", status);
		return false;
	}
	return true;
}

static void sse_data(hc_t *c, void *ud, const char *p, size_t n)
{
	if (!S.sse_init)
		return;
	if (sse_feed(p, n) != 0) {
		log_warn("opencode: an event over %u bytes; the event stream is dropped", OC_EVENT_MAX);
		hc_cancel(c);
		S.sse = NULL;
		srv_set_error("OpenCode SSE stream error: event too large");
		srv_kill(S.last_error, "opencode_stream");
	}
}

static void on_lost_timer(loop_t *l, void *ud)
{
	S.lost_timer = 0;
	if (S.state != SRV_STOPPED && !S.sse)
		srv_kill(S.last_error, "opencode_stream");
}

static void sse_done(hc_t *c, void *ud, int err, const char *msg)
{
	S.sse = NULL;
	if (S.state == SRV_STOPPED)
		return;
	/* the stream is how we see turns end: without it the server is of no
	 * use, so it is replaced; a dying server drops it first, so its exit
	 * gets a moment to be the reason */
	if (sse_err[0])
		srv_set_error("%s", sse_err);
	else
		srv_set_error("OpenCode SSE stream error: %s", err ? msg : "the stream ended");
	sse_err[0] = 0;
	log_warn("opencode: %s", S.last_error);
	if (S.p && S.loop && !S.lost_timer)
		S.lost_timer = loop_add_timer(S.loop, OC_SSE_GRACE_MS, 0, on_lost_timer, NULL);
	else if (!S.lost_timer)
		srv_kill(S.last_error, "opencode_stream");
}

static const hc_ops sse_ops = {sse_headers, sse_data, sse_done};

static void sse_open(void)
{
	S.state = SRV_SUBSCRIBING;
	sse_parser_init(&S.ps, OC_EVENT_MAX);
	S.sse_init = true;
	buf_t url;
	buf_init(&url);
	buf_printf(&url, "%s/global/event", S.base);
	const char *hdrs[] = {S.auth, "Accept: text/event-stream", NULL};
	hc_request rq = {
		.url = buf_cstr(&url),
		.headers = hdrs,
		.connect_timeout_ms = OC_CONNECT_TIMEOUT_MS,
		.read_timeout_ms = OC_SSE_TIMEOUT_MS,
		.max_redirects = -1,
		.no_proxy = true,
	};
	char err[256];
	S.sse = hc_start(S.loop, &rq, &sse_ops, NULL, err, sizeof err);
	buf_free(&url);
	if (!S.sse) {
		srv_set_error("OpenCode SSE connection failed: %s", err);
		srv_kill(S.last_error, "opencode_stream");
	}
}

static void health_go(void);

static void on_retry_timer(loop_t *l, void *ud)
{
	S.retry_timer = 0;
	if (S.state == SRV_HEALTH)
		health_go();
}

static void health_done(oc_call *k, int status, const char *body, size_t len, const char *err)
{
	if (S.state != SRV_HEALTH)
		return;
	if (status == 200) {
		sse_open();
		return;
	}
	if (++S.health_tries >= OC_HEALTH_TRIES) {
		buf_t b;
		buf_init(&b);
		call_error(&b, k, status, body, len, err);
		srv_set_error("failed to start OpenCode server: %s", buf_cstr(&b));
		buf_free(&b);
		srv_kill(S.last_error, "opencode_server");
		return;
	}
	S.retry_timer = loop_add_timer(S.loop, OC_RETRY_MS, 0, on_retry_timer, NULL);
}

static void health_go(void)
{
	call("GET", "/global/health", NULL, NULL, health_done, NULL, "health");
}

static void on_srv_line(proc_t *p, void *ud, const char *line, size_t len, bool truncated)
{
	if (p != S.p)
		return;
	const char *at = memmem(line, len, OC_LISTENING, sizeof OC_LISTENING - 1);
	if (!at || S.state != SRV_STARTING) {
		log_debug("opencode: %.*s", (int)(len > 300 ? 300 : len), line);
		return;
	}
	/* the URL it prints is the truth: keep it (port included) */
	const char *u = at + sizeof OC_LISTENING - 1;
	size_t un = len - (size_t)(u - line);
	while (un && (u[un - 1] == ' ' || u[un - 1] == '/'))
		un--;
	if (un && un < sizeof S.base && !memcmp(u, "http://", 7))
		snprintf(S.base, sizeof S.base, "%.*s", (int)un, u);
	log_info("opencode: server listening on %s", S.base);
	cancel_timer(&S.start_timer);
	S.state = SRV_HEALTH;
	S.health_tries = 0;
	health_go();
}

static void on_srv_exit(proc_t *p, void *ud, int status)
{
	if (p != S.p)
		return;
	buf_t err, tail;
	buf_init(&err);
	buf_init(&tail);
	bool has = proc_stderr_json(p, &err);
	proc_stderr_tail(p, &tail, 20);
	S.p = NULL;
	char msg[96];
	if (WIFSIGNALED(status))
		snprintf(msg, sizeof msg, "agent server exited with status %d (signal %d)",
			128 + WTERMSIG(status), WTERMSIG(status));
	else
		snprintf(msg, sizeof msg, "agent server exited with status %d",
			WIFEXITED(status) ? WEXITSTATUS(status) : 1);
	srv_died(status, has ? buf_cstr(&err) : NULL, buf_cstr(&tail), msg, "server_exit");
	buf_free(&err);
	buf_free(&tail);
}

static const proc_ops srv_proc_ops = {on_srv_line, on_srv_exit};

static void on_start_timeout(loop_t *l, void *ud)
{
	S.start_timer = 0;
	srv_set_error("failed to start OpenCode server: no \"%s\" line within %u ms",
		"opencode server listening on", env_ms("SANDBOX_AGENT_OPENCODE_START_MS",
			OC_START_TIMEOUT_MS));
	log_warn("opencode: %s", S.last_error);
	S.start_failures = OC_START_ATTEMPTS; /* a hang does not get better */
	srv_kill(S.last_error, "opencode_server");
}

static unsigned free_port(void)
{
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return 0;
	struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
	socklen_t al = sizeof a;
	unsigned port = 0;
	if (bind(fd, (struct sockaddr *)&a, sizeof a) == 0 &&
			getsockname(fd, (struct sockaddr *)&a, &al) == 0)
		port = ntohs(a.sin_port);
	close(fd);
	return port;
}

/* Spawns `opencode serve`. Returns 0, or -1 with S.last_error. */
static int srv_spawn(void)
{
	char *bin = agent_resolve_binary(&agent_opencode);
	if (!bin) {
		srv_set_error("failed to start OpenCode server: opencode is not installed");
		return -1;
	}
	S.loop = srv_loop();
	unsigned char rnd[16];
	char pw[33];
	if (util_random(rnd, sizeof rnd) != 0) {
		free(bin);
		srv_set_error("failed to start OpenCode server: no randomness for its password");
		return -1;
	}
	for (int i = 0; i < 16; i++)
		snprintf(pw + 2 * i, 3, "%02x", rnd[i]);
	S.port = free_port();
	if (!S.port) {
		free(bin);
		srv_set_error("failed to start OpenCode server: no free port: %s", strerror(errno));
		return -1;
	}
	snprintf(S.base, sizeof S.base, "http://127.0.0.1:%u", S.port);
	auth_header(S.auth, sizeof S.auth, pw);
	char port[16];
	snprintf(port, sizeof port, "%u", S.port);
	const char *argv[] = {"opencode", "serve", "--hostname", "127.0.0.1", "--port", port, NULL};
	/* offline defaults, each only when the environment does not decide */
	static const char *const defaults[] = {
		"OPENCODE_DISABLE_MODELS_FETCH=1", "OPENCODE_DISABLE_AUTOUPDATE=1",
		"OPENCODE_DISABLE_LSP_DOWNLOAD=1", "OPENCODE_DISABLE_SHARE=1",
	};
	char pwenv[64];
	snprintf(pwenv, sizeof pwenv, "OPENCODE_SERVER_PASSWORD=%s", pw);
	const char *env[8];
	int ne = 0;
	env[ne++] = pwenv;
	env[ne++] = "OPENCODE_SERVER_USERNAME=" OC_USERNAME;
	for (size_t i = 0; i < sizeof defaults / sizeof defaults[0]; i++) {
		char name[64];
		snprintf(name, sizeof name, "%.*s", (int)(strchr(defaults[i], '=') - defaults[i]),
			defaults[i]);
		if (!getenv(name))
			env[ne++] = defaults[i];
	}
	env[ne] = NULL;
	seed_plugins(NULL);
	char err[256];
	proc_spec sp = {.path = bin, .argv = argv, .env = env};
	S.p = proc_spawn(S.loop, &sp, &srv_proc_ops, NULL, err, sizeof err);
	free(bin);
	memset(pw, 0, sizeof pw);
	if (!S.p) {
		srv_set_error("failed to start OpenCode server: %s", err);
		return -1;
	}
	proc_close_stdin(S.p);
	S.state = SRV_STARTING;
	S.last_error[0] = 0;
	if (S.ever_started && S.crashed)
		S.restarts++;
	S.ever_started = true;
	S.crashed = false;
	S.start_timer = loop_add_timer(S.loop, env_ms("SANDBOX_AGENT_OPENCODE_START_MS",
		OC_START_TIMEOUT_MS), 0, on_start_timeout, NULL);
	log_info("opencode: server starting as pid %d on port %u", (int)proc_pid(S.p), S.port);
	return 0;
}

/* Sessions that wait for a server that could not start fail. */
static void fail_waiting(void)
{
	for (oc_sess *o = S.sessions; o; o = o->next) {
		session *s = o->s;
		if (s->ended || o->terminating || o->phase == PH_FAILED)
			continue;
		if (o->phase == PH_READY) {
			/* its OpenCode session exists: only the turn fails */
			if (o->prompt) {
				free(o->prompt);
				o->prompt = NULL;
				turn_fail(o, S.last_error, "opencode_server", NULL);
			}
			continue;
		}
		o->phase = PH_FAILED;
		free(o->prompt);
		o->prompt = NULL;
		rec_error(o, NULL, true, S.last_error, "opencode_server", NULL);
		if (o->turn) {
			o->turn = false;
			free_turn(o);
		}
		sess_end(s, "error", "daemon", "opencode server unavailable", false, 0, NULL);
	}
}

/* Something wants the server. */
static bool demand(void)
{
	for (oc_sess *o = S.sessions; o; o = o->next) {
		if (o->s->ended || o->terminating || o->phase == PH_FAILED)
			continue;
		if (o->phase != PH_READY || o->prompt)
			return true;
	}
	return false;
}

static void srv_ensure(void)
{
	if (S.test || S.state != SRV_STOPPED)
		return;
	if (srv_spawn() != 0) {
		log_warn("opencode: %s", S.last_error);
		fail_waiting();
	}
}

static void srv_died(int status, const char *stderr_json, const char *tail, const char *why,
		const char *code)
{
	bool was_ready = S.state == SRV_READY;
	if (S.state == SRV_STOPPED && !S.test)
		return;
	sse_close();
	cancel_calls();
	cancel_timer(&S.start_timer);
	cancel_timer(&S.retry_timer);
	cancel_timer(&S.idle_timer);
	cancel_timer(&S.lost_timer);
	S.state = SRV_STOPPED;
	S.crashed = true;
	char why_copy[sizeof S.last_error];
	snprintf(why_copy, sizeof why_copy, "%s", why);
	why = why_copy;
	snprintf(S.last_error, sizeof S.last_error, "%s", why);
	log_warn("opencode: the server is gone: %s%s%s", why, tail && *tail ? "; stderr: " : "",
		tail ? tail : "");
	buf_t det;
	jw_t w;
	buf_init(&det);
	jw_init(&w, &det);
	jw_obj(&w);
	if (status >= 0 && !S.test) {
		jw_kint(&w, "exit_code", WIFEXITED(status) ? WEXITSTATUS(status) : 128 +
			(WIFSIGNALED(status) ? WTERMSIG(status) : 0));
		jw_key(&w, "signal");
		if (WIFSIGNALED(status))
			jw_int(&w, WTERMSIG(status));
		else
			jw_null(&w);
	}
	jw_key(&w, "stderr");
	jw_str(&w, tail ? tail : "");
	if (stderr_json) {
		jw_key(&w, "stderr_output");
		jw_raw(&w, stderr_json, strlen(stderr_json));
	}
	jw_obj_end(&w);
	for (oc_sess *o = S.sessions; o; o = o->next) {
		if (o->s->ended || o->terminating)
			continue;
		if (o->phase == PH_CREATING || o->phase == PH_MCP)
			o->phase = PH_WAIT; /* created again on the next server */
		o->needs_mcp = o->nmcp > 0;
		if (o->phase == PH_READY && o->turn && !o->prompt)
			turn_fail(o, why, code, buf_cstr(&det));
		else if (o->phase == PH_READY && !o->prompt)
			withdraw_hitl(o);
	}
	buf_free(&det);
	if (S.test)
		return;
	if (!was_ready && ++S.start_failures >= OC_START_ATTEMPTS) {
		S.start_failures = 0;
		if (!strcmp(code, "server_exit"))
			srv_set_error("failed to start OpenCode server: %s", why);
		fail_waiting();
		return;
	}
	if (demand())
		srv_ensure();
}

/* ---- listings (spec 8.2, 8.3) from the running server ---- */

static int cmp_model(const void *a, const void *b)
{
	return strcmp(((const agent_model *)a)->id, ((const agent_model *)b)->id);
}

static void free_models(agent_model *m, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		free((char *)m[i].id);
		free((char *)m[i].name);
	}
	free(m);
}

static void free_modes(agent_mode *m, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		free((char *)m[i].id);
		free((char *)m[i].name);
		free((char *)m[i].description);
	}
	free(m);
}

static void on_config(oc_call *k, int status, const char *body, size_t len, const char *err)
{
	jdoc d;
	if (status != 200 || !doc_parse(&d, body, len))
		return;
	char *m = get_str(&d, 0, "model");
	free(S.cfg_model);
	S.cfg_model = m;
	if (m && S.models) {
		free(S.default_model);
		S.default_model = xstrdup(m);
		agent_opencode.default_model = S.default_model;
	}
	doc_free(&d);
}

static void on_providers(oc_call *k, int status, const char *body, size_t len, const char *err)
{
	jdoc d;
	if (status != 200 || !doc_parse(&d, body, len))
		return;
	int provs = get_t(&d, 0, "providers", JSON_ARRAY);
	if (provs < 0)
		provs = get_t(&d, 0, "all", JSON_ARRAY);
	int defs = get_t(&d, 0, "default", JSON_OBJECT);
	agent_model *ms = NULL;
	size_t n = 0, cap = 0;
	char *def = NULL;
	for (int p = provs >= 0 ? json_first(d.t, provs) : -1; p >= 0; p = json_next(d.t, p)) {
		char *pid = get_str(&d, p, "id");
		int models = get_t(&d, p, "models", JSON_OBJECT);
		if (!pid || models < 0) {
			free(pid);
			continue;
		}
		if (!def) {
			char *dm = get_str(&d, defs, pid);
			if (dm) {
				buf_t b;
				buf_init(&b);
				buf_printf(&b, "%s/%s", pid, dm);
				def = buf_cstr(&b);
				free(dm);
			}
		}
		for (int km = json_first(d.t, models); km >= 0; km = json_next(d.t, json_next(d.t, km))) {
			int mv = json_next(d.t, km);
			char *mid = get_str(&d, mv, "id");
			if (!mid)
				mid = str_at(&d, km);
			if (!mid)
				continue;
			if (n == cap) {
				cap = cap ? cap * 2 : 64;
				ms = xrealloc(ms, cap * sizeof *ms);
			}
			buf_t b;
			buf_init(&b);
			buf_printf(&b, "%s/%s", pid, mid);
			ms[n].id = buf_cstr(&b);
			ms[n].name = get_str(&d, mv, "name");
			n++;
			free(mid);
		}
		free(pid);
	}
	doc_free(&d);
	if (!n) { /* nothing usable: the listing stays as it was */
		free(def);
		free(ms);
		return;
	}
	qsort(ms, n, sizeof *ms, cmp_model);
	free_models(S.models, S.nmodels);
	S.models = ms;
	S.nmodels = n;
	agent_opencode.models = ms;
	agent_opencode.nmodels = (int)n;
	free(S.default_model);
	/* OpenCode's own choice ("model" in its configuration) wins */
	S.default_model = S.cfg_model ? xstrdup(S.cfg_model) : def ? def : xstrdup(ms[0].id);
	if (def && S.default_model != def)
		free(def);
	agent_opencode.default_model = S.default_model;
}

static const agent_mode static_modes[] = {
	{"build", "Build", "Default build mode"},
	{"plan", "Plan", "Planning mode"},
	{"custom", "Custom", "Any user-defined OpenCode agent name"},
};

static void on_agents(oc_call *k, int status, const char *body, size_t len, const char *err)
{
	jdoc d;
	if (status != 200 || !doc_parse(&d, body, len))
		return;
	int arr = d.t[0].type == JSON_ARRAY ? 0 : get_t(&d, 0, "agents", JSON_ARRAY);
	agent_mode *ms = NULL;
	size_t n = 0;
	bool custom = false;
	for (int a = arr >= 0 ? json_first(d.t, arr) : -1; a >= 0; a = json_next(d.t, a)) {
		bool hidden = false;
		json_get_bool(d.js, d.t, get(&d, a, "hidden"), &hidden);
		char *name = get_str(&d, a, "name");
		/* subagents cannot run a prompt of their own */
		if (!name || hidden || is_str(&d, a, "mode", "subagent")) {
			free(name);
			continue;
		}
		bool dup = false;
		for (size_t i = 0; i < n; i++)
			dup = dup || !strcmp(ms[i].id, name);
		if (dup) {
			free(name);
			continue;
		}
		custom = custom || !strcmp(name, "custom");
		ms = xrealloc(ms, (n + 2) * sizeof *ms);
		char *desc = get_str(&d, a, "description");
		ms[n].id = name;
		ms[n].name = xstrdup(name);
		ms[n].description = desc ? desc : xstrdup("");
		n++;
	}
	doc_free(&d);
	if (!n) {
		free(ms);
		return;
	}
	if (!custom) {
		ms = xrealloc(ms, (n + 1) * sizeof *ms);
		ms[n].id = xstrdup(static_modes[2].id);
		ms[n].name = xstrdup(static_modes[2].name);
		ms[n].description = xstrdup(static_modes[2].description);
		n++;
	}
	free_modes(S.modes, S.nmodes);
	S.modes = ms;
	S.nmodes = n;
	agent_opencode.modes = ms;
	agent_opencode.nmodes = (int)n;
}

static void refresh_listings(void)
{
	call("GET", "/config", NULL, NULL, on_config, NULL, "config");
	call("GET", "/config/providers", NULL, NULL, on_providers, NULL, "providers");
	call("GET", "/agent", NULL, NULL, on_agents, NULL, "agents");
}

/* ---- idle stop ---- */

static bool active(void)
{
	for (oc_sess *o = S.sessions; o; o = o->next) {
		if (o->s->ended || o->terminating)
			continue;
		if (o->turn || o->prompt || o->phase != PH_READY || o->s->nperms || o->s->nquestions)
			return true;
	}
	return false;
}

static bool any_live(void)
{
	for (oc_sess *o = S.sessions; o; o = o->next)
		if (!o->s->ended && !o->terminating)
			return true;
	return false;
}

static void on_idle(loop_t *l, void *ud)
{
	S.idle_timer = 0;
	if (S.state == SRV_READY && !active())
		srv_stop(any_live() ? "idle" : "no open session");
}

static void idle_check(void)
{
	if (S.test || !S.loop || S.state != SRV_READY)
		return;
	cancel_timer(&S.idle_timer);
	if (active())
		return;
	unsigned ms = any_live() ? env_ms("SANDBOX_AGENT_OPENCODE_IDLE_MS", OC_IDLE_MS) : 0;
	if (any_live() && !ms)
		return;
	if (!any_live() && srv_shutting_down()) {
		srv_stop("shutdown");
		return;
	}
	S.idle_timer = loop_add_timer(S.loop, ms ? ms : 1000, 0, on_idle, NULL);
}

/* ---- sessions on the server ---- */

static void prompt_done(oc_call *k, int status, const char *body, size_t len, const char *err)
{
	oc_sess *o = k->o;
	if (!o)
		return;
	o->prompt_out = false;
	if (status >= 200 && status < 300) {
		if (o->turn && !o->busy_seen && !o->user_shown && S.loop && !o->check_timer)
			o->check_timer = loop_add_timer(S.loop, OC_PROMPT_CHECK_MS, 0, on_check_timer, o);
		return;
	}
	buf_t b;
	buf_init(&b);
	call_error(&b, k, status, body, len, err);
	log_warn("session %s: %s", o->s->id, buf_cstr(&b));
	if (!o->s->ended)
		turn_fail(o, buf_cstr(&b), "opencode_http", NULL);
	buf_free(&b);
}

static void send_prompt(oc_sess *o)
{
	char *body = o->prompt;
	o->prompt = NULL;
	buf_t path;
	buf_init(&path);
	buf_puts(&path, "/session/");
	pct_encode(&path, o->s->native_id);
	buf_puts(&path, "/prompt_async");
	o->prompt_out = true;
	announce(o);
	call("POST", buf_cstr(&path), o->query, body, prompt_done, o, "prompt");
	buf_free(&path);
	free(body);
}

static void mcp_next(oc_sess *o);

static void mcp_done(oc_call *k, int status, const char *body, size_t len, const char *err)
{
	oc_sess *o = k->o;
	if (!o || o->phase != PH_MCP)
		return;
	if (status < 200 || status >= 300) {
		buf_t b;
		buf_init(&b);
		call_error(&b, k, status, body, len, err);
		rec_error(o, NULL, true, buf_cstr(&b), "opencode_mcp", NULL);
		buf_free(&b);
	}
	mcp_next(o);
}

static void mcp_next(oc_sess *o)
{
	if (o->mcp_next < o->nmcp) {
		o->phase = PH_MCP;
		char *b = o->mcp[o->mcp_next++];
		call("POST", "/mcp", o->query, b, mcp_done, o, "MCP add");
		return;
	}
	o->phase = PH_READY;
	if (o->prompt)
		send_prompt(o);
	idle_check();
}

static void create_go(oc_sess *o);

static void on_create_timer(loop_t *l, void *ud)
{
	oc_sess *o = ud;
	o->timer = 0;
	if (o->phase == PH_CREATING && S.state == SRV_READY)
		create_go(o);
}

static void create_done(oc_call *k, int status, const char *body, size_t len, const char *err)
{
	oc_sess *o = k->o;
	if (!o || o->phase != PH_CREATING)
		return;
	char *id = NULL;
	jdoc d;
	if (status == 200 && doc_parse(&d, body, len)) {
		id = get_str(&d, 0, "id");
		doc_free(&d);
	}
	if (!id) {
		if (++o->create_tries < OC_CREATE_TRIES && S.loop) {
			o->timer = loop_add_timer(S.loop, OC_RETRY_MS, 0, on_create_timer, o);
			return;
		}
		buf_t b;
		buf_init(&b);
		call_error(&b, k, status, body, len, err);
		log_warn("session %s: %s", o->s->id, buf_cstr(&b));
		o->phase = PH_FAILED;
		rec_error(o, NULL, true, buf_cstr(&b), "opencode_server", NULL);
		sess_end(o->s, "error", "daemon", "opencode session could not be created", false, 0,
			NULL);
		buf_free(&b);
		idle_check();
		return;
	}
	session *s = o->s;
	if (s->native_id && strcmp(s->native_id, id))
		strmap_del(&S.by_native, s->native_id);
	free(s->native_id);
	s->native_id = id;
	strmap_put(&S.by_native, id, o);
	log_info("session %s: OpenCode session %s in %s", s->id, id, o->dir ? o->dir : "(cwd)");
	o->mcp_next = 0;
	mcp_next(o);
}

/* OpenCode reads a directory's skills when its instance starts; skills a
 * new session installed into a directory already in use are only seen
 * after the instance is disposed (reloaded), which is skipped while a
 * turn runs there. */
static bool dir_in_use(const oc_sess *o, bool *busy)
{
	bool used = false;
	*busy = false;
	for (const oc_sess *x = S.sessions; x; x = x->next) {
		if (x == o || x->phase == PH_FAILED || !x->dir || !o->dir || strcmp(x->dir, o->dir))
			continue;
		used = true;
		*busy = *busy || x->turn;
	}
	return used;
}

static void reload_done(oc_call *k, int status, const char *body, size_t len, const char *err)
{
	oc_sess *o = k->o;
	if (!o || o->phase != PH_CREATING)
		return;
	if (status < 200 || status >= 300)
		log_warn("session %s: OpenCode instance reload failed (%d); new skills may be missed",
			o->s->id, status);
	create_go(o);
}

static void create_go(oc_sess *o)
{
	o->phase = PH_CREATING;
	bool busy;
	if (o->reload && dir_in_use(o, &busy)) {
		o->reload = false;
		if (busy) {
			log_warn("session %s: a turn runs in %s; OpenCode sees the new skills after its "
				"next restart", o->s->id, o->dir);
		} else {
			call("POST", "/instance/dispose", o->query, NULL, reload_done, o, "instance reload");
			return;
		}
	}
	o->reload = false;
	buf_t b;
	jw_t w;
	buf_init(&b);
	jw_init(&w, &b);
	jw_obj(&w);
	if (o->s->title)
		jw_kstr(&w, "title", o->s->title);
	jw_obj_end(&w);
	call("POST", "/session", o->query, buf_cstr(&b), create_done, o, "session create");
	buf_free(&b);
}

/* A session is ready to go on the server: created if it has no OpenCode
 * session yet, its waiting prompt sent. */
static void session_go(oc_sess *o)
{
	if (o->s->ended || o->terminating || o->phase == PH_FAILED)
		return;
	if (o->phase == PH_WAIT || (o->phase == PH_READY && o->needs_mcp)) {
		if (o->s->native_id) {
			/* its OpenCode session exists already (server restarted);
			 * MCP servers added at runtime are gone with the old one */
			o->phase = PH_READY;
			if (o->needs_mcp) {
				o->needs_mcp = false;
				o->mcp_next = 0;
				mcp_next(o);
			} else if (o->prompt) {
				send_prompt(o);
			}
		} else {
			o->create_tries = 0;
			create_go(o);
		}
	} else if (o->phase == PH_READY && o->prompt) {
		send_prompt(o);
	}
}

static void srv_ready(void)
{
	S.state = SRV_READY;
	S.ready_ms = util_unix_ms();
	S.start_failures = 0;
	log_info("opencode: server ready at %s", S.base);
	for (oc_sess *o = S.sessions; o; o = o->next)
		session_go(o);
	refresh_listings();
	idle_check();
}

/* ---- the adapter ---- */

static oc_sess *attach(session *s)
{
	oc_sess *o = xcalloc(1, sizeof *o);
	o->s = s;
	o->next = S.sessions;
	S.sessions = o;
	s->agent_state = o;
	return o;
}

static void w_mcp_str_map(jw_t *w, const jdoc *d, int obj)
{
	jw_obj(w);
	for (int k = json_first(d->t, obj); k >= 0; k = json_next(d->t, json_next(d->t, k))) {
		int v = json_next(d->t, k);
		if (d->t[v].type != JSON_STRING)
			continue;
		char *kn = str_at(d, k);
		jw_key(w, kn ? kn : "");
		w_tok(w, d, v);
		free(kn);
	}
	jw_obj_end(w);
}

static int first_key(const jdoc *d, int obj, const char *const *keys)
{
	for (; *keys; keys++) {
		int i = get(d, obj, *keys);
		if (i >= 0 && d->t[i].type != JSON_NULL)
			return i;
	}
	return -1;
}

static bool has_header(const jdoc *d, int hdrs, const char *name)
{
	for (int k = hdrs >= 0 && d->t[hdrs].type == JSON_OBJECT ? json_first(d->t, hdrs) : -1; k >= 0;
			k = json_next(d->t, json_next(d->t, k))) {
		char *kn = str_at(d, k);
		bool eq = kn && !strcasecmp(kn, name);
		free(kn);
		if (eq)
			return true;
	}
	return false;
}

/* One POST /mcp body {"name","config"} (spec 5.6 in OpenCode's terms);
 * NULL and why filled if the server cannot be expressed. Secrets named
 * by environment variables are resolved here: the daemon's environment is
 * OpenCode's. */
static char *mcp_body(const jdoc *d, const char *name, int cfg, char *why, size_t cap)
{
	static const char *const k_type[] = {"type", NULL}, *const k_cmd[] = {"command", NULL},
		*const k_args[] = {"args", NULL}, *const k_env[] = {"env", "environment", NULL},
		*const k_url[] = {"url", NULL}, *const k_hdr[] = {"headers", NULL},
		*const k_bearer[] = {"bearerTokenEnvVar", "bearer_token_env_var", NULL},
		*const k_envh[] = {"envHeaders", "envHttpHeaders", "env_http_headers", NULL},
		*const k_en[] = {"enabled", NULL}, *const k_to[] = {"timeoutMs", "timeout", NULL},
		*const k_oauth[] = {"oauth", NULL};
	int ty = first_key(d, cfg, k_type), cmd = first_key(d, cfg, k_cmd), url = first_key(d, cfg, k_url);
	bool local = ty >= 0 ? (json_str_eq(d->js, d->t, ty, "local") || json_str_eq(d->js, d->t, ty,
		"stdio")) : cmd >= 0;
	bool remote = ty >= 0 ? (json_str_eq(d->js, d->t, ty, "remote") || json_str_eq(d->js, d->t, ty,
		"http")) : url >= 0;
	int en = first_key(d, cfg, k_en), to = first_key(d, cfg, k_to);
	buf_t b;
	jw_t w;
	buf_init(&b);
	jw_init(&w, &b);
	jw_obj(&w);
	jw_kstr(&w, "name", name);
	jw_key(&w, "config");
	jw_obj(&w);
	if (local) {
		int args = first_key(d, cfg, k_args), env = first_key(d, cfg, k_env);
		int c0 = -1;
		if (cmd >= 0 && d->t[cmd].type == JSON_ARRAY)
			c0 = d->t[cmd].size ? json_first(d->t, cmd) : -1;
		else if (cmd >= 0 && d->t[cmd].type == JSON_STRING)
			c0 = cmd;
		if (c0 < 0 || d->t[c0].type != JSON_STRING) {
			snprintf(why, cap, "mcp command cannot be empty");
			buf_free(&b);
			return NULL;
		}
		jw_kstr(&w, "type", "local");
		jw_key(&w, "command");
		jw_arr(&w);
		w_tok(&w, d, c0);
		if (d->t[cmd].type == JSON_ARRAY)
			for (int i = json_next(d->t, c0); i >= 0; i = json_next(d->t, i))
				if (d->t[i].type == JSON_STRING)
					w_tok(&w, d, i);
		for (int i = args >= 0 && d->t[args].type == JSON_ARRAY ? json_first(d->t, args) : -1;
				i >= 0; i = json_next(d->t, i))
			if (d->t[i].type == JSON_STRING)
				w_tok(&w, d, i);
		jw_arr_end(&w);
		if (env >= 0 && d->t[env].type == JSON_OBJECT) {
			jw_key(&w, "environment");
			w_mcp_str_map(&w, d, env);
		}
	} else if (remote && url >= 0 && d->t[url].type == JSON_STRING) {
		int hdr = first_key(d, cfg, k_hdr), bearer = first_key(d, cfg, k_bearer);
		int envh = first_key(d, cfg, k_envh), oauth = first_key(d, cfg, k_oauth);
		jw_kstr(&w, "type", "remote");
		jw_key(&w, "url");
		w_tok(&w, d, url);
		jw_key(&w, "headers");
		jw_obj(&w);
		for (int k = hdr >= 0 && d->t[hdr].type == JSON_OBJECT ? json_first(d->t, hdr) : -1;
				k >= 0; k = json_next(d->t, json_next(d->t, k))) {
			int v = json_next(d->t, k);
			if (d->t[v].type != JSON_STRING)
				continue;
			char *kn = str_at(d, k);
			jw_key(&w, kn ? kn : "");
			w_tok(&w, d, v);
			free(kn);
		}
		if (bearer >= 0 && d->t[bearer].type == JSON_STRING && !has_header(d, hdr, "Authorization")) {
			char *var = str_at(d, bearer);
			const char *val = var ? getenv(var) : NULL;
			buf_t v;
			buf_init(&v);
			buf_printf(&v, "Bearer %s", val ? val : "");
			jw_kstr(&w, "Authorization", buf_cstr(&v));
			buf_free(&v);
			free(var);
		}
		for (int k = envh >= 0 && d->t[envh].type == JSON_OBJECT ? json_first(d->t, envh) : -1;
				k >= 0; k = json_next(d->t, json_next(d->t, k))) {
			char *kn = str_at(d, k), *var = str_at(d, json_next(d->t, k));
			if (kn && var && !has_header(d, hdr, kn)) {
				const char *val = getenv(var);
				jw_kstr(&w, kn, val ? val : "");
			}
			free(kn);
			free(var);
		}
		jw_obj_end(&w);
		if (oauth >= 0 && (d->t[oauth].type == JSON_OBJECT || d->t[oauth].type == JSON_FALSE)) {
			jw_key(&w, "oauth");
			w_tok(&w, d, oauth);
		}
	} else {
		snprintf(why, cap, "unsupported mcp server config");
		buf_free(&b);
		return NULL;
	}
	if (en >= 0 && (d->t[en].type == JSON_TRUE || d->t[en].type == JSON_FALSE)) {
		jw_key(&w, "enabled");
		w_tok(&w, d, en);
	}
	uint64_t ms;
	if (to >= 0 && json_get_u64(d->js, d->t, to, &ms) && ms > 0) {
		jw_key(&w, "timeout");
		jw_uint(&w, ms);
	}
	jw_obj_end(&w);
	jw_obj_end(&w);
	return buf_cstr(&b);
}

static int mcp_bodies(oc_sess *o, const char *js, agent_err *e)
{
	jdoc d;
	if (!doc_parse(&d, js, strlen(js)) || d.t[0].type != JSON_OBJECT) {
		if (d.t)
			doc_free(&d);
		agent_fail(e, AERR_INVALID, "invalid mcp configuration");
		return -1;
	}
	int rc = 0;
	for (int k = json_first(d.t, 0); k >= 0 && rc == 0; k = json_next(d.t, json_next(d.t, k))) {
		int cfg = json_next(d.t, k);
		char *name = str_at(&d, k);
		char why[200];
		char *b = NULL;
		if (d.t[cfg].type != JSON_OBJECT)
			snprintf(why, sizeof why, "not an object");
		else
			b = mcp_body(&d, name ? name : "", cfg, why, sizeof why);
		if (!b) {
			agent_fail(e, AERR_INVALID, "mcp server %s: %s", name ? name : "", why);
			rc = -1;
		} else {
			o->mcp = xrealloc(o->mcp, (o->nmcp + 1) * sizeof *o->mcp);
			o->mcp[o->nmcp++] = b;
		}
		free(name);
	}
	doc_free(&d);
	return rc;
}

static void set_dir(oc_sess *o, const char *dir)
{
	char real[PATH_MAX];
	free(o->dir);
	free(o->query);
	o->dir = NULL;
	if (dir && *dir)
		o->dir = xstrdup(realpath(dir, real) ? real : dir);
	else if (getcwd(real, sizeof real))
		o->dir = xstrdup(real);
	buf_t q;
	buf_init(&q);
	if (o->dir) {
		buf_puts(&q, "directory=");
		pct_encode(&q, o->dir);
	}
	o->query = buf_cstr(&q);
}

static bool model_ok(const char *m)
{
	return !m || !*m || !strcmp(m, "default") || (strchr(m, '/') && m[0] != '/');
}

static int oc_create(session *s, agent_err *e)
{
	char *bin = agent_resolve_binary(&agent_opencode);
	if (!bin) {
		agent_fail(e, AERR_NOT_INSTALLED, "opencode");
		return -1;
	}
	free(bin);
	if (!model_ok(s->model)) {
		agent_fail(e, AERR_INVALID, "OpenCode models are named provider/model: %s", s->model);
		return -1;
	}
	oc_sess *o = attach(s);
	set_dir(o, s->directory);
	if (s->mcp_json && mcp_bodies(o, s->mcp_json, e) != 0) {
		o->phase = PH_FAILED;
		return -1;
	}
	if (!s->model || !*s->model) {
		free(s->model);
		s->model = S.default_model ? xstrdup(S.default_model) : config_model(o->dir);
	}
	seed_plugins(o->dir);
	o->reload = s->skills_json != NULL;
	o->phase = PH_WAIT;
	S.loop = srv_loop();
	cancel_timer(&S.idle_timer);
	if (S.state == SRV_READY)
		session_go(o);
	else
		srv_ensure();
	return 0;
}

static const char *guess_mime(const char *path, const char *mime)
{
	if (mime && *mime)
		return mime;
	if (is_dir(path))
		return "application/x-directory";
	const char *dot = strrchr(path, '.');
	if (!dot || strchr(dot, '/'))
		return "text/plain";
	static const char *const map[][2] = {
		{".png", "image/png"}, {".jpg", "image/jpeg"}, {".jpeg", "image/jpeg"},
		{".gif", "image/gif"}, {".webp", "image/webp"}, {".pdf", "application/pdf"},
	};
	for (size_t i = 0; i < sizeof map / sizeof map[0]; i++)
		if (!strcasecmp(dot, map[i][0]))
			return map[i][1];
	return "text/plain";
}

/* The prompt body and the user item's content. The session layer appends
 * the attachment paths to the text for agents that only take text;
 * OpenCode gets them as file parts, so that suffix is taken off. */
static void build_prompt(oc_sess *o, const char *text, size_t len, const char *att, buf_t *body,
		buf_t *content)
{
	session *s = o->s;
	jdoc d = {0};
	bool have = att && doc_parse(&d, att, strlen(att)) && d.t[0].type == JSON_ARRAY;
	if (have) {
		buf_t suffix;
		buf_init(&suffix);
		bool first = true;
		for (int i = json_first(d.t, 0); i >= 0; i = json_next(d.t, i)) {
			char *p = get_str(&d, i, "path");
			if (p) {
				if (first)
					buf_puts(&suffix, "\n\nAttachments:\n");
				first = false;
				buf_printf(&suffix, "- %s\n", p);
			}
			free(p);
		}
		if (suffix.len && len >= suffix.len && !memcmp(text + len - suffix.len, suffix.p, suffix.len))
			len -= suffix.len;
		buf_free(&suffix);
	}
	jw_t w, c;
	jw_init(&w, body);
	jw_init(&c, content);
	jw_obj(&w);
	jw_key(&w, "parts");
	jw_arr(&w);
	jw_arr(&c);
	jw_obj(&w);
	jw_kstr(&w, "type", "text");
	jw_key(&w, "text");
	jw_strn(&w, text, len);
	jw_obj_end(&w);
	w_text_part(&c, "text", text, len);
	for (int i = have ? json_first(d.t, 0) : -1; i >= 0; i = json_next(d.t, i)) {
		char *p = get_str(&d, i, "path"), *mime = get_str(&d, i, "mime");
		char *fname = get_str(&d, i, "filename");
		if (!p) {
			free(mime);
			free(fname);
			continue;
		}
		buf_t full;
		buf_init(&full);
		abs_path(o, p, &full);
		const char *fp = buf_cstr(&full);
		const char *m = guess_mime(fp, mime);
		const char *base = strrchr(fp, '/');
		jw_obj(&w);
		jw_kstr(&w, "type", "file");
		jw_kstr(&w, "mime", m);
		buf_t url;
		buf_init(&url);
		buf_printf(&url, "file://%s", fp);
		jw_kstr(&w, "url", buf_cstr(&url));
		jw_kstr(&w, "filename", fname ? fname : base ? base + 1 : fp);
		jw_obj_end(&w);
		w_file(&c, fp, m);
		buf_free(&url);
		buf_free(&full);
		free(p);
		free(mime);
		free(fname);
	}
	jw_arr_end(&w);
	jw_arr_end(&c);
	if (s->agent_mode && *s->agent_mode)
		jw_kstr(&w, "agent", s->agent_mode);
	const char *slash = s->model ? strchr(s->model, '/') : NULL;
	if (slash && slash != s->model && slash[1]) {
		jw_key(&w, "model");
		jw_obj(&w);
		jw_key(&w, "providerID");
		jw_strn(&w, s->model, (size_t)(slash - s->model));
		jw_kstr(&w, "modelID", slash + 1);
		jw_obj_end(&w);
	}
	if (s->variant && *s->variant)
		jw_kstr(&w, "variant", s->variant);
	jw_obj_end(&w);
	if (d.t)
		doc_free(&d);
}

static int oc_send(session *s, const char *text, size_t len, const char *att, agent_err *e)
{
	oc_sess *o = s->agent_state;
	if (!o || o->terminating || o->phase == PH_FAILED) {
		agent_fail(e, AERR_INVALID, "OpenCode session is not active");
		return -1;
	}
	if (o->turn) {
		/* a turn another client of OpenCode started: closed here, ours
		 * is queued behind it by OpenCode */
		turn_end(o, "superseded", NULL, 0, false);
		s->busy = true;
	}
	buf_t body, content;
	buf_init(&body);
	buf_init(&content);
	build_prompt(o, text, len, att, &body, &content);
	free(o->prompt);
	o->prompt = buf_cstr(&body);
	free_turn(o);
	o->user_content = buf_cstr(&content);
	o->turn = true;
	{
		buf_t m;
		jw_t w;
		buf_init(&m);
		jw_init(&w, &m);
		jw_obj(&w);
		jw_kstr(&w, "agent", s->agent_mode && *s->agent_mode ? s->agent_mode : "build");
		jw_key(&w, "model");
		jw_str(&w, s->model);
		jw_obj_end(&w);
		o->turn_meta = buf_cstr(&m);
	}
	cancel_timer(&S.idle_timer);
	if (S.state == SRV_READY)
		session_go(o);
	else
		srv_ensure();
	return 0;
}

static void reply_done(oc_call *k, int status, const char *body, size_t len, const char *err)
{
	oc_sess *o = k->o;
	if (status >= 200 && status < 300)
		return;
	buf_t b;
	buf_init(&b);
	call_error(&b, k, status, body, len, err);
	if (o) {
		log_warn("session %s: %s", o->s->id, buf_cstr(&b));
		if (!o->s->ended)
			rec_error(o, NULL, true, buf_cstr(&b), "opencode_http", NULL);
	}
	buf_free(&b);
}

static bool ready_for_reply(oc_sess *o, agent_err *e)
{
	if (!o || o->terminating || !o->s->native_id) {
		agent_fail(e, AERR_INVALID, "missing OpenCode session id");
		return false;
	}
	if (S.state != SRV_READY) {
		agent_fail(e, AERR_STREAM, "OpenCode server is not running");
		return false;
	}
	return true;
}

static int oc_reply_permission(session *s, const pending_perm *p, int reply, agent_err *e)
{
	oc_sess *o = s->agent_state;
	if (!ready_for_reply(o, e))
		return -1;
	buf_t path;
	buf_init(&path);
	buf_puts(&path, "/permission/");
	pct_encode(&path, p->id);
	buf_puts(&path, "/reply");
	const char *r = reply == REPLY_ONCE ? "once" : reply == REPLY_ALWAYS ? "always" : "reject";
	char body[48];
	snprintf(body, sizeof body, "{\"reply\":\"%s\"}", r);
	call("POST", buf_cstr(&path), o->query, body, reply_done, o, "permission reply");
	buf_free(&path);
	idle_check();
	return 0;
}

static int oc_reply_question(session *s, const pending_question *q, const char *answers,
		agent_err *e)
{
	oc_sess *o = s->agent_state;
	if (!ready_for_reply(o, e))
		return -1;
	buf_t path, body;
	buf_init(&path);
	buf_init(&body);
	buf_puts(&path, "/question/");
	pct_encode(&path, q->id);
	if (answers) {
		buf_puts(&path, "/reply");
		buf_printf(&body, "{\"answers\":%s}", answers);
	} else {
		buf_puts(&path, "/reject");
	}
	call("POST", buf_cstr(&path), o->query, answers ? buf_cstr(&body) : NULL, reply_done, o,
		answers ? "question reply" : "question reject");
	buf_free(&path);
	buf_free(&body);
	idle_check();
	return 0;
}

static void forget(oc_sess *o)
{
	if (o->s->native_id && strmap_get(&S.by_native, o->s->native_id) == o)
		strmap_del(&S.by_native, o->s->native_id);
	cancel_timer(&o->timer);
	cancel_timer(&o->check_timer);
	for (oc_call **pp = &S.calls; *pp;) {
		oc_call *k = *pp;
		if (k->o == o && S.test && !k->c) {
			/* nothing will ever answer it */
			*pp = k->next;
			call_free(k);
			continue;
		}
		if (k->o == o)
			k->o = NULL;
		pp = &k->next;
	}
}

static void oc_terminate(session *s)
{
	oc_sess *o = s->agent_state;
	if (!o)
		return;
	if (o->terminating) {
		if (srv_shutting_down() && !any_live())
			srv_stop("shutdown");
		return;
	}
	o->terminating = true;
	if (o->turn && !s->ended) {
		/* interrupt: OpenCode aborts the generation; the turn is
		 * reported as interrupted here, its late events are dropped */
		if (s->native_id && o->phase == PH_READY && S.state == SRV_READY && !o->prompt) {
			buf_t path;
			buf_init(&path);
			buf_puts(&path, "/session/");
			pct_encode(&path, s->native_id);
			buf_puts(&path, "/abort");
			call("POST", buf_cstr(&path), o->query, NULL, NULL, NULL, "abort");
			buf_free(&path);
		}
		o->aborted = true;
		if (S.in_event)
			o->end_pending = true; /* the handler still holds the turn */
		else
			turn_end(o, "interrupted", NULL, 0, false);
	}
	free(o->prompt);
	o->prompt = NULL;
	forget(o);
	if (srv_shutting_down() && !any_live())
		srv_stop("shutdown");
	else
		idle_check();
}

static void oc_free(session *s)
{
	oc_sess *o = s->agent_state;
	if (!o)
		return;
	forget(o);
	for (oc_sess **pp = &S.sessions; *pp; pp = &(*pp)->next) {
		if (*pp == o) {
			*pp = o->next;
			break;
		}
	}
	o->turn = false;
	free_turn(o);
	for (size_t i = 0; i < OC_CLOSED_MAX; i++)
		free(o->closed[i]);
	for (size_t i = 0; i < o->nmcp; i++)
		free(o->mcp[i]);
	free(o->mcp);
	free(o->prompt);
	free(o->dir);
	free(o->query);
	free(o);
	s->agent_state = NULL;
	if (!S.sessions) {
		/* the last one: nothing may outlive the table */
		if (S.state != SRV_STOPPED && !S.test)
			srv_stop("no session");
		if (S.test) {
			cancel_calls();
			sse_close();
			S.state = SRV_STOPPED;
			S.test = false;
			S.test_out = NULL;
		}
		strmap_free(&S.by_native);
	}
}

/* ---- status for GET /v1/agents ---- */

void opencode_write_server_status(jw_t *w)
{
	jw_obj(w);
	const char *st = S.state == SRV_READY ? "running"
		: S.state != SRV_STOPPED ? "running" : S.crashed ? "error" : "stopped";
	jw_kstr(w, "status", st);
	if (S.state == SRV_READY) {
		jw_kstr(w, "baseUrl", S.base);
		jw_key(w, "uptimeMs");
		jw_uint(w, (uint64_t)(util_unix_ms() - S.ready_ms));
	}
	jw_key(w, "restartCount");
	jw_uint(w, S.restarts);
	if (S.last_error[0])
		jw_kstr(w, "lastError", S.last_error);
	jw_obj_end(w);
}

/* ---- test hooks ---- */

void opencode_test_attach(session *s, const char *native_id, buf_t *out)
{
	S.test = true;
	S.test_out = out;
	S.state = SRV_READY;
	snprintf(S.base, sizeof S.base, "http://127.0.0.1:0");
	oc_sess *o = attach(s);
	set_dir(o, s->directory);
	if (s->mcp_json) {
		agent_err e = {0};
		mcp_bodies(o, s->mcp_json, &e);
	}
	free(s->native_id);
	s->native_id = xstrdup(native_id);
	strmap_put(&S.by_native, native_id, o);
	o->phase = PH_READY;
	if (o->nmcp)
		mcp_next(o);
}

void opencode_test_event(const char *data, size_t len)
{
	on_event(data, len);
}

int opencode_test_sse(const char *p, size_t n)
{
	if (!S.sse_init) {
		sse_parser_init(&S.ps, OC_EVENT_MAX);
		S.sse_init = true;
	}
	return sse_feed(p, n);
}

void opencode_test_server_exit(int status)
{
	if (!S.test)
		return;
	char msg[64];
	snprintf(msg, sizeof msg, "agent server exited with status %d",
		WIFEXITED(status) ? WEXITSTATUS(status) : 1);
	srv_died(status, NULL, "", msg, "server_exit");
	S.state = SRV_READY; /* a new one at once, for the next requests */
	for (oc_sess *o = S.sessions; o; o = o->next)
		session_go(o);
}

int opencode_test_respond(int status, const char *body)
{
	oc_call *k = S.calls, *oldest = NULL;
	for (; k; k = k->next)
		if (k->o)
			oldest = k; /* calls are pushed at the head */
	if (!oldest)
		return -1;
	if (body)
		buf_puts(&oldest->body, body);
	oldest->status = status;
	call_finish(oldest, status < 0 ? -1 : 0, status < 0 ? "connection refused" : NULL);
	return 0;
}

/* ---- the agent ---- */

static const char *const perm_accepted[] = {"default", "acceptEdits", NULL};
static const char *const perm_normalized[] = {"default", "default", NULL};

/* Not const: the modes, models and default model are replaced by what the
 * running server reports (spec 8.2, 8.3); the static values are the
 * fallback. */
agent_ops agent_opencode = {
	.id = "opencode",
	.binary = "opencode",
	.caps = {[CAP_PERMISSIONS] = 1, [CAP_QUESTIONS] = 1, [CAP_TOOL_CALLS] = 1,
		[CAP_TOOL_RESULTS] = 1, [CAP_TEXT_MESSAGES] = 1, [CAP_IMAGES] = 1,
		[CAP_FILE_ATTACHMENTS] = 1, [CAP_SESSION_LIFECYCLE] = 1, [CAP_ERROR_EVENTS] = 1,
		[CAP_REASONING] = 1, [CAP_STATUS] = 1, [CAP_FILE_CHANGES] = 1, [CAP_MCP_TOOLS] = 1,
		[CAP_STREAMING_DELTAS] = 1, [CAP_ITEM_STARTED] = 1, [CAP_SHARED_PROCESS] = 1},
	.modes = static_modes,
	.nmodes = 3,
	.any_agent_mode = true,
	.perm_accepted = perm_accepted,
	.perm_normalized = perm_normalized,
	.models = NULL,
	.nmodels = 0,
	.default_model = NULL,
	.create = oc_create,
	.send = oc_send,
	.reply_permission = oc_reply_permission,
	.reply_question = oc_reply_question,
	.terminate = oc_terminate,
	.free_state = oc_free,
};
