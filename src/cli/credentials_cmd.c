/* credentials_cmd.c - `sandbox-agent credentials extract|extract-env`
 * (spec 11.4, output formats of 8.6). Depends on agents/credentials and
 * json/. */
#include <ctype.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "../agents/credentials.h"
#include "../json/json.h"
#include "cli.h"

static const char cred_usage[] =
	"Usage: sandbox-agent credentials extract [-a AGENT] [-p PROVIDER] [-d HOME] [--no-oauth] [-r]\n"
	"       sandbox-agent credentials extract-env [-e] [-d HOME] [--no-oauth]\n"
	"\n"
	"Options:\n"
	"  -a, --agent AGENT      Print only the token AGENT would use\n"
	"                         (claude, codex, opencode, amp)\n"
	"  -p, --provider P       Print only P's token (anthropic, openai, or another)\n"
	"  -d, --home-dir DIR     Look for credential files under DIR instead of ~\n"
	"      --no-oauth         Ignore OAuth tokens\n"
	"  -r, --reveal           Do not redact keys in the JSON summary\n"
	"  -e, --export           Prefix each variable with 'export '\n";

static int fail(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static int fail(const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	fputs("sandbox-agent failed error=\"", stderr);
	vfprintf(stderr, fmt, ap);
	fputs("\"\n", stderr);
	va_end(ap);
	return 1;
}

/* Re-indents compact JSON with two spaces per level. */
static void pretty(const char *s, size_t n)
{
	int depth = 0;
	bool str = false;
	for (size_t i = 0; i < n; i++) {
		char c = s[i];
		if (str) {
			putchar(c);
			if (c == '\\' && i + 1 < n)
				putchar(s[++i]);
			else if (c == '"')
				str = false;
			continue;
		}
		switch (c) {
		case '"':
			str = true;
			putchar(c);
			break;
		case '{': case '[':
			if (i + 1 < n && (s[i + 1] == '}' || s[i + 1] == ']')) {
				putchar(c);
				putchar(s[++i]);
				break;
			}
			printf("%c\n%*s", c, 2 * ++depth, "");
			break;
		case '}': case ']':
			printf("\n%*s%c", 2 * --depth, "", c);
			break;
		case ',':
			printf(",\n%*s", 2 * depth, "");
			break;
		case ':':
			fputs(": ", stdout);
			break;
		default:
			putchar(c);
		}
	}
	putchar('\n');
}

static void summary(jw_t *w, const cred *c, bool reveal)
{
	char red[32];
	if (!c->key) {
		jw_null(w);
		return;
	}
	cred_redact(c->key, red, sizeof red);
	jw_obj(w);
	jw_kstr(w, "provider", c->provider);
	jw_kstr(w, "source", c->source);
	jw_kstr(w, "auth_type", cred_type_name(c->type));
	jw_kstr(w, "api_key", reveal ? c->key : red);
	jw_kbool(w, "redacted", !reveal);
	jw_obj_end(w);
}

static const cred *by_provider(const cred_set *s, const char *p)
{
	if (!strcmp(p, "anthropic"))
		return &s->anthropic;
	if (!strcmp(p, "openai"))
		return &s->openai;
	for (int i = 0; i < s->nother; i++)
		if (!strcmp(s->other[i].provider, p))
			return &s->other[i];
	return NULL;
}

static int print_key(const cred *c)
{
	printf("%s\n", c->key);
	return 0;
}

/* --agent: the one token the agent would use. */
static int agent_token(const cred_set *s, const char *agent, const char *prov)
{
	const cred *c = NULL;
	bool claude = !strcmp(agent, "claude") || !strcmp(agent, "amp");
	if (claude || !strcmp(agent, "codex")) {
		const char *want = claude ? "anthropic" : "openai";
		if (prov && strcmp(prov, want))
			return fail("provider %s is not supported for %s", prov, agent);
		c = claude ? &s->anthropic : &s->openai;
	} else if (!strcmp(agent, "opencode")) {
		if (prov)
			c = by_provider(s, prov);
		else if (s->openai.key)
			c = &s->openai;
		else if (s->anthropic.key)
			c = &s->anthropic;
		else if (s->nother == 1)
			c = &s->other[0];
		else if (s->nother > 1) {
			char list[1024] = "";
			for (int i = 0; i < s->nother; i++) {
				size_t l = strlen(list);
				snprintf(list + l, sizeof list - l, "%s%s", i ? ", " : "", s->other[i].provider);
			}
			return fail("multiple providers available for opencode: %s (use --provider)",
					list);
		}
	} else {
		return fail("unsupported agent: %s", agent);
	}
	if (!c || !c->key)
		return fail("no credentials found for %s", agent);
	return print_key(c);
}

static void env_line(bool exp, const char *name, const char *v)
{
	printf("%s%s=%s\n", exp ? "export " : "", name, v);
}

int cli_credentials(int argc, char **argv, const cli_globals *g)
{
	const char *agent = NULL, *prov = NULL, *sub = argc > 1 ? argv[1] : NULL;
	bool reveal = false, exp = false, env;
	cred_opts o = {0};
	cred_set s;
	int rc = 0;

	(void)g;
	if (!sub || !strcmp(sub, "-h") || !strcmp(sub, "--help")) {
		fputs(cred_usage, sub ? stdout : stderr);
		return sub ? 0 : 2;
	}
	env = !strcmp(sub, "extract-env");
	if (!env && strcmp(sub, "extract")) {
		fprintf(stderr, "error: unknown credentials command '%s'\n\n%s", sub, cred_usage);
		return 2;
	}
	for (int i = 2; i < argc; i++) {
		const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
		const char **dst = NULL;
		if (!strcmp(a, "--no-oauth"))
			o.no_oauth = true;
		else if (!env && (!strcmp(a, "-r") || !strcmp(a, "--reveal")))
			reveal = true;
		else if (env && (!strcmp(a, "-e") || !strcmp(a, "--export")))
			exp = true;
		else if (!strcmp(a, "-d") || !strcmp(a, "--home-dir"))
			dst = &o.home;
		else if (!env && (!strcmp(a, "-a") || !strcmp(a, "--agent")))
			dst = &agent;
		else if (!env && (!strcmp(a, "-p") || !strcmp(a, "--provider")))
			dst = &prov;
		else if (!strcmp(a, "-h") || !strcmp(a, "--help")) {
			fputs(cred_usage, stdout);
			return 0;
		} else {
			fprintf(stderr, "error: unexpected argument '%s'\n\n%s", a, cred_usage);
			return 2;
		}
		if (dst) {
			if (!v) {
				fprintf(stderr, "error: %s needs a value\n\n%s", a, cred_usage);
				return 2;
			}
			*dst = v;
			i++;
		}
	}
	cred_discover(&o, &s);
	if (env) {
		if (s.anthropic.key) {
			env_line(exp, "ANTHROPIC_API_KEY", s.anthropic.key);
			env_line(exp, "CLAUDE_API_KEY", s.anthropic.key);
		}
		if (s.openai.key) {
			env_line(exp, "OPENAI_API_KEY", s.openai.key);
			env_line(exp, "CODEX_API_KEY", s.openai.key);
		}
		for (int i = 0; i < s.nother; i++) {
			char name[160];
			size_t k = 0;
			for (const char *c = s.other[i].provider; *c && k < sizeof name - 9; c++)
				name[k++] = *c == '-' ? '_' : (char)toupper((unsigned char)*c);
			memcpy(name + k, "_API_KEY", 9);
			env_line(exp, name, s.other[i].key);
		}
	} else if (agent) {
		rc = agent_token(&s, agent, prov);
	} else if (prov) {
		const cred *c = by_provider(&s, prov);
		rc = c && c->key ? print_key(c) : fail("no credentials found for provider %s", prov);
	} else {
		buf_t b;
		jw_t w;
		buf_init(&b);
		jw_init(&w, &b);
		jw_obj(&w);
		jw_key(&w, "anthropic");
		summary(&w, &s.anthropic, reveal);
		jw_key(&w, "openai");
		summary(&w, &s.openai, reveal);
		jw_key(&w, "other");
		jw_obj(&w);
		for (int i = 0; i < s.nother; i++) {
			jw_key(&w, s.other[i].provider);
			summary(&w, &s.other[i], reveal);
		}
		jw_obj_end(&w);
		jw_obj_end(&w);
		pretty(b.p, b.len);
		buf_free(&b);
	}
	cred_free(&s);
	return rc;
}
