/* adapter_util.c - the pieces the process-backed adapters share (see
 * adapter_util.h). Where agents want something different, the caller
 * says so in a parameter; nothing here knows one agent from another.
 *
 * Depends on base/, json/, proc/, the session API and agent.h. */
#include "adapter_util.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#define AU_READ_CHUNK 65536 /* bytes asked of one read() */

/* ---- JSON ---- */

json_tok *au_toks(void) { return xmalloc(AU_JSON_TOKENS * sizeof(json_tok)); }

void au_span(const char *js, const json_tok *t, int i, const char **p, size_t *n)
{
	size_t a = t[i].start, b = t[i].end;
	if (t[i].type == JSON_STRING) {
		a--;
		b++;
	}
	*p = js + a;
	*n = b - a;
}

void au_w_tok(jw_t *w, const char *js, const json_tok *t, int i)
{
	if (i < 0) {
		jw_null(w);
		return;
	}
	const char *p;
	size_t n;
	au_span(js, t, i, &p, &n);
	jw_raw(w, p, n);
}

int au_first_key(const char *js, const json_tok *t, int obj, const char *const *keys)
{
	if (obj < 0 || t[obj].type != JSON_OBJECT)
		return -1;
	for (; *keys; keys++) {
		int i = json_obj_get(js, t, obj, *keys);
		if (i >= 0 && t[i].type != JSON_NULL)
			return i;
	}
	return -1;
}

int au_parse(const char *js, size_t len, json_tok **t, unsigned *ntok, unsigned min,
		unsigned max)
{
	if (!*t) {
		*ntok = min;
		*t = xmalloc(*ntok * sizeof **t);
	}
	for (;;) {
		int r = json_parse(js, len, *t, *ntok);
		if (r != JSON_ERR_NOMEM || *ntok >= max)
			return r;
		*ntok = *ntok * 4 > max ? max : *ntok * 4;
		*t = xrealloc(*t, *ntok * sizeof **t);
	}
}

void au_status_content(buf_t *b, const char *label, const char *detail, size_t detail_len)
{
	jw_t w;
	jw_init(&w, b);
	jw_arr(&w);
	jw_obj(&w);
	jw_kstr(&w, "type", "status");
	jw_kstr(&w, "label", label);
	jw_key(&w, "detail");
	if (detail)
		jw_strn(&w, detail, detail_len);
	else
		jw_null(&w);
	jw_obj_end(&w);
	jw_arr_end(&w);
}

/* ---- files ---- */

char *au_read_file(const char *path, size_t max, size_t *len)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return NULL;
	struct stat st;
	buf_t b;
	buf_init(&b);
	bool ok = fstat(fd, &st) == 0 && S_ISREG(st.st_mode) && (size_t)st.st_size <= max;
	if (ok)
		buf_reserve(&b, (size_t)st.st_size + 1);
	while (ok) {
		buf_reserve(&b, AU_READ_CHUNK);
		ssize_t n = read(fd, b.p + b.len, b.cap - b.len);
		if (n < 0 && errno == EINTR)
			continue;
		if (n == 0)
			break;
		ok = n > 0 && b.len + (size_t)n <= max; /* an error, or it grew meanwhile */
		if (ok)
			b.len += (size_t)n;
	}
	close(fd);
	if (!ok) {
		buf_free(&b);
		return NULL;
	}
	*len = b.len;
	return buf_cstr(&b);
}

/* ---- MCP servers ---- */

void au_mcp_server_of(const char *js, const json_tok *t, int cfg, bool sse_remote,
		au_mcp_server *m)
{
	static const char *const k_type[] = {"type", NULL}, *const k_cmd[] = {"command", NULL},
		*const k_args[] = {"args", NULL}, *const k_env[] = {"env", "environment", NULL},
		*const k_cwd[] = {"cwd", NULL}, *const k_url[] = {"url", NULL},
		*const k_hdr[] = {"headers", NULL},
		*const k_bearer[] = {"bearerTokenEnvVar", "bearer_token_env_var", NULL},
		*const k_envh[] = {"envHeaders", "envHttpHeaders", "env_http_headers", NULL},
		*const k_tr[] = {"transport", NULL}, *const k_en[] = {"enabled", NULL},
		*const k_to[] = {"timeoutMs", "timeout", NULL};
	const struct {
		int *at;
		const char *const *keys;
	} f[] = {
		{&m->type, k_type}, {&m->command, k_cmd}, {&m->args, k_args}, {&m->env, k_env},
		{&m->cwd, k_cwd}, {&m->url, k_url}, {&m->headers, k_hdr}, {&m->bearer, k_bearer},
		{&m->env_headers, k_envh}, {&m->transport, k_tr}, {&m->enabled, k_en},
		{&m->timeout, k_to},
	};
	for (size_t i = 0; i < sizeof f / sizeof f[0]; i++)
		*f[i].at = au_first_key(js, t, cfg, f[i].keys);
	int ty = m->type;
	m->local = ty >= 0 ? json_str_eq(js, t, ty, "local") || json_str_eq(js, t, ty, "stdio")
		: m->command >= 0;
	m->remote = ty >= 0 ? json_str_eq(js, t, ty, "remote") || json_str_eq(js, t, ty, "http") ||
			(sse_remote && json_str_eq(js, t, ty, "sse"))
		: m->url >= 0;
}

static bool has_header(const char *js, const json_tok *t, int hdrs, const char *name)
{
	for (int k = hdrs >= 0 && t[hdrs].type == JSON_OBJECT ? json_first(t, hdrs) : -1; k >= 0;
			k = json_next(t, json_next(t, k))) {
		char *kn = json_str_dup(js, t, k, NULL);
		bool eq = kn && !strcasecmp(kn, name);
		free(kn);
		if (eq)
			return true;
	}
	return false;
}

/* The members of object obj (none if it is no object); only those with
 * a string value when strings_only. */
static void w_members(jw_t *w, const char *js, const json_tok *t, int obj, bool strings_only)
{
	for (int k = obj >= 0 && t[obj].type == JSON_OBJECT ? json_first(t, obj) : -1; k >= 0;
			k = json_next(t, json_next(t, k))) {
		int v = json_next(t, k);
		if (strings_only && t[v].type != JSON_STRING)
			continue;
		char *kn = json_str_dup(js, t, k, NULL);
		jw_key(w, kn ? kn : "");
		au_w_tok(w, js, t, v);
		free(kn);
	}
}

/* Header `key`: prefix, then for the environment variable string token
 * i names either "${NAME}" (refs: the agent expands it) or its value now
 * ("" if unset). */
static void w_env_header(jw_t *w, const char *key, const char *prefix, const char *js,
		const json_tok *t, int i, bool refs)
{
	buf_t b;
	buf_init(&b);
	buf_puts(&b, prefix);
	if (refs) {
		char *name = json_str_dup(js, t, i, NULL);
		buf_printf(&b, "${%s}", name ? name : "");
		free(name);
	} else {
		char name[AU_ENV_NAME_MAX];
		const char *v = json_str_decode(js, t, i, name, sizeof name) < 0 ? NULL : getenv(name);
		buf_puts(&b, v ? v : "");
	}
	jw_kstr(w, key, buf_cstr(&b));
	buf_free(&b);
}

/* Array values from token first on (none if first < 0). */
static void w_values(jw_t *w, const char *js, const json_tok *t, int first, bool strings_only)
{
	for (int i = first; i >= 0; i = json_next(t, i))
		if (!strings_only || t[i].type == JSON_STRING)
			au_w_tok(w, js, t, i);
}

/* One server entry; false (why filled) if it cannot be expressed. */
static bool mcp_entry(jw_t *w, const char *js, const json_tok *t, int cfg,
		const au_mcp_shape *sh, char *why, size_t cap)
{
	au_mcp_server m;
	au_mcp_server_of(js, t, cfg, sh->sse_type, &m);
	int cmd = m.command;
	if (m.local) {
		int c0 = -1;
		if (cmd >= 0 && t[cmd].type == JSON_ARRAY)
			c0 = t[cmd].size ? json_first(t, cmd) : -1;
		else if (cmd >= 0 && t[cmd].type == JSON_STRING)
			c0 = cmd;
		if (c0 < 0 || t[c0].type != JSON_STRING) {
			snprintf(why, cap, "mcp command cannot be empty");
			return false;
		}
		jw_obj(w);
		if (sh->typed)
			jw_kstr(w, "type", "stdio");
		jw_key(w, "command");
		au_w_tok(w, js, t, c0);
		jw_key(w, "args");
		jw_arr(w); /* an array command's rest goes before args */
		w_values(w, js, t, t[cmd].type == JSON_ARRAY ? json_next(t, c0) : -1, sh->strings_only);
		w_values(w, js, t, m.args >= 0 && t[m.args].type == JSON_ARRAY ?
			json_first(t, m.args) : -1, sh->strings_only);
		jw_arr_end(w);
		if (m.env >= 0 && t[m.env].type == JSON_OBJECT) {
			jw_key(w, "env");
			if (sh->strings_only) {
				jw_obj(w);
				w_members(w, js, t, m.env, true);
				jw_obj_end(w);
			} else {
				au_w_tok(w, js, t, m.env);
			}
		}
		jw_obj_end(w);
		return true;
	}
	if (m.remote && m.url >= 0 && t[m.url].type == JSON_STRING) {
		int tr = m.transport;
		jw_obj(w);
		if (sh->typed)
			jw_kstr(w, "type", tr >= 0 && json_str_eq(js, t, tr, "sse") ? "sse" : "http");
		jw_key(w, "url");
		au_w_tok(w, js, t, m.url);
		if (!sh->typed && tr >= 0 && t[tr].type == JSON_STRING) {
			jw_key(w, "transport");
			au_w_tok(w, js, t, tr);
		} else if (!sh->typed && m.type >= 0 && json_str_eq(js, t, m.type, "sse")) {
			jw_kstr(w, "transport", "sse");
		}
		jw_key(w, "headers");
		jw_obj(w);
		w_members(w, js, t, m.headers, sh->strings_only);
		if (m.bearer >= 0 && t[m.bearer].type == JSON_STRING &&
				!has_header(js, t, m.headers, "Authorization"))
			w_env_header(w, "Authorization", "Bearer ", js, t, m.bearer, sh->env_refs);
		int eh = m.env_headers;
		for (int k = eh >= 0 && t[eh].type == JSON_OBJECT ? json_first(t, eh) : -1; k >= 0;
				k = json_next(t, json_next(t, k))) {
			int v = json_next(t, k);
			char *kn = json_str_dup(js, t, k, NULL);
			if (kn && t[v].type == JSON_STRING && !has_header(js, t, m.headers, kn))
				w_env_header(w, kn, "", js, t, v, sh->env_refs);
			free(kn);
		}
		jw_obj_end(w);
		jw_obj_end(w);
		return true;
	}
	snprintf(why, cap, "unsupported mcp server config");
	return false;
}

char *au_mcp_config(const char *js, const au_mcp_shape *sh, int *nservers, char *why, size_t cap)
{
	json_tok *t = au_toks();
	int n = json_parse(js, strlen(js), t, AU_JSON_TOKENS);
	if (n <= 0 || t[0].type != JSON_OBJECT) {
		snprintf(why, cap, "invalid mcp configuration");
		free(t);
		return NULL;
	}
	buf_t b;
	jw_t w;
	buf_init(&b);
	jw_init(&w, &b);
	if (sh->wrap) {
		jw_obj(&w);
		jw_key(&w, sh->wrap);
	}
	jw_obj(&w);
	bool ok = true;
	int count = 0;
	for (int k = json_first(t, 0); k >= 0 && ok; k = json_next(t, json_next(t, k))) {
		int cfg = json_next(t, k);
		char *name = json_str_dup(js, t, k, NULL);
		int en = t[cfg].type == JSON_OBJECT ? json_obj_get(js, t, cfg, "enabled") : -1;
		bool enabled = true;
		if (en >= 0)
			json_get_bool(js, t, en, &enabled);
		if (t[cfg].type != JSON_OBJECT) {
			snprintf(why, cap, "mcp server %s: not an object", name ? name : "");
			ok = false;
		} else if (enabled) {
			jw_key(&w, name ? name : "");
			char sub[200];
			if (!mcp_entry(&w, js, t, cfg, sh, sub, sizeof sub)) {
				snprintf(why, cap, "mcp server %s: %s", name ? name : "", sub);
				ok = false;
			}
			count++;
		}
		free(name);
	}
	jw_obj_end(&w);
	if (sh->wrap)
		jw_obj_end(&w);
	free(t);
	if (!ok) {
		buf_free(&b);
		return NULL;
	}
	if (nservers)
		*nservers = count;
	return buf_cstr(&b);
}

bool au_mcp_write(const char *doc, const char *tag, char **path, char *err, size_t cap)
{
	if (!doc || *path)
		return true;
	const char *dir = getenv("TMPDIR");
	buf_t p;
	buf_init(&p);
	buf_printf(&p, "%s/sandbox-agent-%s-XXXXXX.json", dir && *dir ? dir : "/tmp", tag);
	char *name = buf_cstr(&p);
	int fd = mkstemps(name, 5); /* mode 0600 */
	if (fd < 0) {
		snprintf(err, cap, "cannot write the MCP configuration: %s", strerror(errno));
		buf_free(&p);
		return false;
	}
	size_t n = strlen(doc), off = 0;
	while (off < n) {
		ssize_t w = write(fd, doc + off, n - off);
		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0) {
			snprintf(err, cap, "cannot write the MCP configuration: %s", strerror(errno));
			close(fd);
			unlink(name);
			buf_free(&p);
			return false;
		}
		off += (size_t)w;
	}
	close(fd);
	*path = name;
	return true;
}

void au_mcp_unlink(char **path)
{
	if (*path) {
		unlink(*path);
		free(*path);
		*path = NULL;
	}
}

/* ---- processes ---- */

char *au_binary(const agent_ops *a, agent_err *e)
{
	char *bin = agent_resolve_binary(a);
	if (!bin)
		agent_fail(e, AERR_NOT_INSTALLED, "%s", a->id);
	return bin;
}

bool au_installed(const agent_ops *a, agent_err *e)
{
	char *bin = au_binary(a, e);
	free(bin);
	return bin != NULL;
}

int au_exit_code(int status)
{
	if (WIFSIGNALED(status))
		return 128 + WTERMSIG(status);
	return WIFEXITED(status) ? WEXITSTATUS(status) : 1;
}

void au_w_exit(jw_t *w, int status, const char *tail, size_t tail_len)
{
	jw_kint(w, "exit_code", au_exit_code(status));
	jw_key(w, "signal");
	if (WIFSIGNALED(status))
		jw_int(w, WTERMSIG(status));
	else
		jw_null(w);
	jw_key(w, "stderr");
	jw_strn(w, tail ? tail : "", tail ? tail_len : 0);
}

void au_stderr_take(const proc_t *p, size_t lines, au_stderr *e)
{
	buf_init(&e->json);
	buf_init(&e->tail);
	e->has_json = proc_stderr_json(p, &e->json);
	proc_stderr_tail(p, &e->tail, lines);
}

const char *au_stderr_json(au_stderr *e) { return e->has_json ? buf_cstr(&e->json) : NULL; }

void au_stderr_free(au_stderr *e)
{
	buf_free(&e->json);
	buf_free(&e->tail);
}

/* ---- stdout lines ---- */

size_t au_blanks(const char *line, size_t len)
{
	size_t i = 0;
	while (i < len && (line[i] == ' ' || line[i] == '\t' || line[i] == '\r'))
		i++;
	return i;
}

void au_record_long(session *s, const char *loc, const char *line, size_t len)
{
	sess_record_unparsed(s, "line longer than the limit", loc, line,
		len < AU_UNPARSED_RAW_MAX ? len : AU_UNPARSED_RAW_MAX);
}
