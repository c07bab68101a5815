/* credentials.c - see credentials.h. The order of the sources is the
 * contract (spec 8.6): first match wins per provider. */
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "../base/buf.h"
#include "../base/util.h"
#include "../json/json.h"
#include "credentials.h"

typedef struct {
	char *s;
	size_t n;
	json_tok *t;
} jfile;

/* Reads and parses a JSON object file; false if missing or not one. */
static bool jload(const char *home, const char *rel, jfile *f)
{
	char path[4096];
	struct stat st;
	int fd, n;
	memset(f, 0, sizeof *f);
	snprintf(path, sizeof path, "%s/%s", home, rel);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return false;
	if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode) || st.st_size > CRED_FILE_MAX) {
		close(fd);
		return false;
	}
	f->s = xmalloc((size_t)st.st_size + 1);
	while (f->n < (size_t)st.st_size) {
		ssize_t r = read(fd, f->s + f->n, (size_t)st.st_size - f->n);
		if (r <= 0)
			break;
		f->n += (size_t)r;
	}
	close(fd);
	unsigned cap = (unsigned)(f->n / 2 + 8);
	f->t = xmalloc(cap * sizeof *f->t);
	n = json_parse(f->s, f->n, f->t, cap);
	if (n <= 0 || f->t[0].type != JSON_OBJECT) {
		free(f->s);
		free(f->t);
		return false;
	}
	return true;
}

static void jdrop(jfile *f)
{
	free(f->s);
	free(f->t);
}

/* Value at a dotted path ("auth.apiKey") below object obj, or -1. */
static int jpath(const jfile *f, int obj, const char *path)
{
	char key[64];
	while (obj >= 0 && f->t[obj].type == JSON_OBJECT) {
		size_t k = strcspn(path, ".");
		snprintf(key, sizeof key, "%.*s", (int)k, path);
		int v = json_obj_get(f->s, f->t, obj, key);
		if (!path[k])
			return v;
		obj = v;
		path += k + 1;
	}
	return -1;
}

/* A non-empty string at the path, decoded (heap), or NULL. */
static char *jstring(const jfile *f, int obj, const char *path)
{
	int i = jpath(f, obj, path);
	size_t n = 0;
	char *v = i >= 0 && f->t[i].type == JSON_STRING ?
		json_str_dup(f->s, f->t, i, &n) : NULL;
	if (v && !n) {
		free(v);
		v = NULL;
	}
	return v;
}

static void set(cred *c, const char *provider, const char *source, int type, char *key)
{
	c->provider = xstrdup(provider);
	c->source = source;
	c->type = type;
	c->key = key;
}

static bool from_env(cred *c, const char *provider, const char *var, int type)
{
	const char *v = getenv(var);
	if (!v) /* an empty value still counts */
		return false;
	set(c, provider, "environment", type, xstrdup(v));
	return true;
}

/* Days since 1970-01-01 of a civil date (proleptic Gregorian). */
static int64_t days_from_civil(int64_t y, int m, int d)
{
	y -= m <= 2;
	int64_t era = (y >= 0 ? y : y - 399) / 400;
	int64_t yoe = y - era * 400;
	int64_t doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
	int64_t doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
	return era * 146097 + doe - 719468;
}

static bool digits(const char *s, int n, int *out)
{
	*out = 0;
	for (int i = 0; i < n; i++) {
		if (s[i] < '0' || s[i] > '9')
			return false;
		*out = *out * 10 + (s[i] - '0');
	}
	return true;
}

/* RFC 3339 date-time to Unix seconds; false if it is not one. */
static bool rfc3339(const char *s, int64_t *out)
{
	int Y, M, D, h, m, sec, oh = 0, om = 0;
	size_t n = strlen(s), i = 19;
	if (n < 20 || !digits(s, 4, &Y) || s[4] != '-' || !digits(s + 5, 2, &M) || s[7] != '-' ||
			!digits(s + 8, 2, &D) || (s[10] != 'T' && s[10] != 't' && s[10] != ' ') ||
			!digits(s + 11, 2, &h) || s[13] != ':' || !digits(s + 14, 2, &m) ||
			s[16] != ':' || !digits(s + 17, 2, &sec))
		return false;
	if (s[i] == '.') {
		i++;
		while (s[i] >= '0' && s[i] <= '9')
			i++;
	}
	if ((s[i] == 'Z' || s[i] == 'z') && !s[i + 1]) {
	} else if ((s[i] == '+' || s[i] == '-') && n == i + 6 && digits(s + i + 1, 2, &oh) &&
			s[i + 3] == ':' && digits(s + i + 4, 2, &om)) {
		if (s[i] == '-') {
			oh = -oh;
			om = -om;
		}
	} else {
		return false;
	}
	if (M < 1 || M > 12 || D < 1 || D > 31 || h > 23 || m > 59 || sec > 60)
		return false;
	*out = days_from_civil(Y, M, D) * 86400 + h * 3600 + m * 60 + sec - oh * 3600 - om * 60;
	return true;
}

static void from_amp(const char *home, cred *c)
{
	static const char *const keys[] = {"anthropicApiKey", "anthropic_api_key", "apiKey",
		"api_key", "accessToken", "access_token", "token", "auth.anthropicApiKey",
		"auth.apiKey", "auth.token", "anthropic.apiKey", "anthropic.token"};
	jfile f;
	if (!jload(home, ".amp/config.json", &f))
		return;
	for (size_t i = 0; i < sizeof keys / sizeof keys[0] && !c->key; i++) {
		char *v = jstring(&f, 0, keys[i]);
		if (v)
			set(c, "anthropic", "amp", CRED_API_KEY, v);
	}
	jdrop(&f);
}

static void from_claude(const char *home, bool oauth, cred *c)
{
	static const char *const files[] = {".claude.json.api", ".claude.json", ".claude.json.nathan"};
	static const char *const keys[] = {"primaryApiKey", "apiKey", "anthropicApiKey",
		"customApiKey"};
	static const char *const ofiles[] = {".claude/.credentials.json",
		".claude-oauth-credentials.json"};
	jfile f;
	for (size_t i = 0; i < 3 && !c->key; i++) {
		if (!jload(home, files[i], &f))
			continue;
		for (size_t k = 0; k < 4 && !c->key; k++) {
			char *v = jstring(&f, 0, keys[k]);
			if (v && !strncmp(v, "sk-ant-", 7))
				set(c, "anthropic", "claude-code", CRED_API_KEY, v);
			else
				free(v);
		}
		jdrop(&f);
	}
	for (size_t i = 0; i < 2 && oauth && !c->key; i++) {
		if (!jload(home, ofiles[i], &f))
			continue;
		char *v = jstring(&f, 0, "claudeAiOauth.accessToken");
		int ex = jpath(&f, 0, "claudeAiOauth.expiresAt");
		int64_t t;
		if (v && ex >= 0 && f.t[ex].type == JSON_STRING) {
			char *s = json_str_dup(f.s, f.t, ex, NULL);
			if (s && rfc3339(s, &t) && t * 1000 < util_unix_ms()) {
				free(v);
				v = NULL;
			}
			free(s);
		}
		if (v)
			set(c, "anthropic", "claude-code", CRED_OAUTH, v);
		jdrop(&f);
	}
}

static void from_codex(const char *home, bool oauth, cred *c)
{
	jfile f;
	char *v;
	if (!jload(home, ".codex/auth.json", &f))
		return;
	if ((v = jstring(&f, 0, "OPENAI_API_KEY")))
		set(c, "openai", "codex", CRED_API_KEY, v);
	else if (oauth && (v = jstring(&f, 0, "tokens.access_token")))
		set(c, "openai", "codex", CRED_OAUTH, v);
	jdrop(&f);
}

static void from_opencode(const char *home, bool oauth, cred_set *s)
{
	jfile f;
	if (!jload(home, ".local/share/opencode/auth.json", &f))
		return;
	for (int k = json_first(f.t, 0); k >= 0; k = json_next(f.t, json_next(f.t, k))) {
		int v = json_next(f.t, k), type = -1;
		char *name = json_str_dup(f.s, f.t, k, NULL), *key = NULL, *ty = jstring(&f, v, "type");
		if (ty && !strcmp(ty, "api") && (key = jstring(&f, v, "key"))) {
			type = CRED_API_KEY;
		} else if (ty && !strcmp(ty, "oauth") && oauth && (key = jstring(&f, v, "access"))) {
			int e = jpath(&f, v, "expires");
			int64_t ms;
			type = CRED_OAUTH;
			if (e >= 0 && json_get_i64(f.s, f.t, e, &ms) && ms < util_unix_ms())
				type = -1;
		}
		cred *c = NULL;
		if (type < 0 || !name) {
		} else if (!strcmp(name, "anthropic") || !strcmp(name, "openai")) {
			c = name[0] == 'a' ? &s->anthropic : &s->openai;
			if (c->key)
				c = NULL;
		} else if (s->nother < CRED_OTHER_MAX) {
			c = &s->other[s->nother++];
		}
		if (c) {
			set(c, name, "opencode", type, key);
			key = NULL;
		}
		free(key);
		free(ty);
		free(name);
	}
	jdrop(&f);
}

void cred_discover(const cred_opts *opts, cred_set *s)
{
	const char *home = opts && opts->home ? opts->home : getenv("HOME");
	bool oauth = !(opts && opts->no_oauth);
	cred *a = &s->anthropic, *o = &s->openai;

	memset(s, 0, sizeof *s);
	if (!from_env(a, "anthropic", "ANTHROPIC_API_KEY", CRED_API_KEY) &&
			!from_env(a, "anthropic", "CLAUDE_API_KEY", CRED_API_KEY) && oauth &&
			!from_env(a, "anthropic", "CLAUDE_CODE_OAUTH_TOKEN", CRED_OAUTH))
		from_env(a, "anthropic", "ANTHROPIC_AUTH_TOKEN", CRED_OAUTH);
	if (!from_env(o, "openai", "OPENAI_API_KEY", CRED_API_KEY))
		from_env(o, "openai", "CODEX_API_KEY", CRED_API_KEY);
	if (!home || !*home)
		return;
	if (!a->key)
		from_amp(home, a);
	if (!a->key)
		from_claude(home, oauth, a);
	if (!o->key)
		from_codex(home, oauth, o);
	from_opencode(home, oauth, s);
}

static void drop(cred *c)
{
	free(c->provider);
	free(c->key);
}

void cred_free(cred_set *s)
{
	drop(&s->anthropic);
	drop(&s->openai);
	for (int i = 0; i < s->nother; i++)
		drop(&s->other[i]);
	memset(s, 0, sizeof *s);
}

bool cred_agent_available(const char *agent)
{
	cred_set s;
	bool r;
	if (!strcmp(agent, "mock"))
		return true;
	cred_discover(NULL, &s);
	if (!strcmp(agent, "codex"))
		r = s.openai.key;
	else if (!strcmp(agent, "opencode"))
		r = s.anthropic.key || s.openai.key;
	else
		r = s.anthropic.key;
	cred_free(&s);
	return r;
}

static void add(char **env, int *n, const char *name, const char *v)
{
	size_t l = strlen(name) + strlen(v) + 2;
	env[*n] = xmalloc(l);
	snprintf(env[*n], l, "%s=%s", name, v);
	(*n)++;
}

char **cred_agent_env(const char *agent)
{
	bool claude = !strcmp(agent, "claude"), amp = !strcmp(agent, "amp");
	cred_set s;
	char **env;
	int n = 0;
	if (!claude && !amp)
		return NULL;
	cred_discover(NULL, &s);
	env = xcalloc(7, sizeof *env);
	const cred *a = &s.anthropic;
	if (a->key && amp) {
		add(env, &n, "ANTHROPIC_API_KEY", a->key);
		add(env, &n, "CLAUDE_API_KEY", a->key);
	} else if (a->key && strcmp(a->source, "claude-code")) {
		/* Claude reads its own files itself: nothing to add for those. */
		bool o = a->type == CRED_OAUTH;
		add(env, &n, o ? "CLAUDE_CODE_OAUTH_TOKEN" : "ANTHROPIC_API_KEY", a->key);
		add(env, &n, o ? "ANTHROPIC_AUTH_TOKEN" : "CLAUDE_API_KEY", a->key);
	}
	if (s.openai.key) {
		add(env, &n, "OPENAI_API_KEY", s.openai.key);
		add(env, &n, "CODEX_API_KEY", s.openai.key);
	}
	cred_free(&s);
	if (!n) {
		free(env);
		return NULL;
	}
	return env;
}

void cred_env_free(char **env)
{
	for (char **e = env; e && *e; e++)
		free(*e);
	free(env);
}

void cred_redact(const char *key, char *out, size_t cap)
{
	size_t a = 0, n = strlen(key);
	while (a < n && (unsigned char)key[a] <= ' ')
		a++;
	while (n > a && (unsigned char)key[n - 1] <= ' ')
		n--;
	if (n - a <= 8)
		snprintf(out, cap, "****");
	else
		snprintf(out, cap, "%.4s...%.4s", key + a, key + n - 4);
}

const char *cred_type_name(int type)
{
	return type == CRED_OAUTH ? "oauth" : "api_key";
}
