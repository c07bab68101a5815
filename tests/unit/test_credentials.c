/* test_credentials.c - credential discovery (spec 8.6) on fake home
 * directories: source order, OAuth switches and expiry, OpenCode's
 * auth.json, the injected environment, redaction. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "agents/credentials.h"
#include "t.h"

static char home[256];

static const char *const vars[] = {"ANTHROPIC_API_KEY", "CLAUDE_API_KEY",
	"CLAUDE_CODE_OAUTH_TOKEN", "ANTHROPIC_AUTH_TOKEN", "OPENAI_API_KEY", "CODEX_API_KEY"};

static void clear_env(void)
{
	for (size_t i = 0; i < sizeof vars / sizeof vars[0]; i++)
		unsetenv(vars[i]);
}

static void put(const char *rel, const char *text)
{
	char p[512];
	snprintf(p, sizeof p, "%s/%s", home, rel);
	for (char *s = p + strlen(home) + 1; *s; s++) {
		if (*s == '/') {
			*s = 0;
			mkdir(p, 0700);
			*s = '/';
		}
	}
	FILE *f = fopen(p, "w");
	fputs(text, f);
	fclose(f);
}

static void rm(const char *rel)
{
	char p[512];
	snprintf(p, sizeof p, "%s/%s", home, rel);
	unlink(p);
}

static cred_set s;

static void discover(bool no_oauth)
{
	cred_opts o = {home, no_oauth};
	cred_free(&s);
	cred_discover(&o, &s);
}

static void check_cred(const cred *c, const char *key, const char *source, int type)
{
	CHECK_STR(c->key, key);
	CHECK_STR(c->source, source);
	CHECK_INT(c->type, type);
}

static char *env_join(char **env)
{
	static char out[1024];
	out[0] = 0;
	for (char **e = env; e && *e; e++) {
		strcat(out, *e);
		strcat(out, ";");
	}
	return out;
}

static void injection(void)
{
	char **e;
	clear_env();
	setenv("HOME", home, 1);
	/* from Claude's own files: claude reads them itself */
	e = cred_agent_env("claude");
	CHECK_STR(env_join(e), "OPENAI_API_KEY=sk-codex-file;CODEX_API_KEY=sk-codex-file;");
	cred_env_free(e);
	/* amp always gets the key variables */
	e = cred_agent_env("amp");
	CHECK_STR(env_join(e), "ANTHROPIC_API_KEY=sk-ant-custom-1234567890;"
			"CLAUDE_API_KEY=sk-ant-custom-1234567890;"
			"OPENAI_API_KEY=sk-codex-file;CODEX_API_KEY=sk-codex-file;");
	cred_env_free(e);
	/* an OAuth token from the environment */
	setenv("CLAUDE_CODE_OAUTH_TOKEN", "oat-env", 1);
	e = cred_agent_env("claude");
	CHECK_STR(env_join(e), "CLAUDE_CODE_OAUTH_TOKEN=oat-env;ANTHROPIC_AUTH_TOKEN=oat-env;"
			"OPENAI_API_KEY=sk-codex-file;CODEX_API_KEY=sk-codex-file;");
	cred_env_free(e);
	setenv("ANTHROPIC_API_KEY", "sk-env", 1);
	e = cred_agent_env("claude");
	CHECK_STR(env_join(e), "ANTHROPIC_API_KEY=sk-env;CLAUDE_API_KEY=sk-env;"
			"OPENAI_API_KEY=sk-codex-file;CODEX_API_KEY=sk-codex-file;");
	cred_env_free(e);
	CHECK(cred_agent_env("codex") == NULL);
	CHECK(cred_agent_env("opencode") == NULL);
	CHECK(cred_agent_env("mock") == NULL);
	CHECK(cred_agent_available("claude"));
	CHECK(cred_agent_available("mock"));
	clear_env();
}

int main(void)
{
	char red[32];

	snprintf(home, sizeof home, "/tmp/sa-cred-XXXXXX");
	if (!mkdtemp(home))
		return 1;
	clear_env();

	/* nothing anywhere */
	discover(false);
	CHECK(!s.anthropic.key && !s.openai.key && s.nother == 0);
	setenv("HOME", home, 1);
	CHECK(!cred_agent_available("claude"));
	CHECK(!cred_agent_available("codex"));
	CHECK(!cred_agent_available("opencode"));
	CHECK(cred_agent_available("mock"));
	CHECK(cred_agent_env("claude") == NULL);

	/* environment: an empty value counts; order of variables */
	setenv("CLAUDE_API_KEY", "second", 1);
	setenv("ANTHROPIC_API_KEY", "", 1);
	discover(false);
	check_cred(&s.anthropic, "", "environment", CRED_API_KEY);
	CHECK_STR(s.anthropic.provider, "anthropic");
	unsetenv("ANTHROPIC_API_KEY");
	discover(false);
	check_cred(&s.anthropic, "second", "environment", CRED_API_KEY);
	unsetenv("CLAUDE_API_KEY");
	setenv("ANTHROPIC_AUTH_TOKEN", "oauth-2", 1);
	setenv("CLAUDE_CODE_OAUTH_TOKEN", "oauth-1", 1);
	discover(false);
	check_cred(&s.anthropic, "oauth-1", "environment", CRED_OAUTH);
	discover(true);
	CHECK(!s.anthropic.key);
	clear_env();
	setenv("CODEX_API_KEY", "codex-env", 1);
	discover(false);
	check_cred(&s.openai, "codex-env", "environment", CRED_API_KEY);
	setenv("OPENAI_API_KEY", "openai-env", 1);
	discover(false);
	check_cred(&s.openai, "openai-env", "environment", CRED_API_KEY);
	clear_env();

	/* files: malformed ones are skipped */
	put(".amp/config.json", "{not json");
	put(".claude.json", "{\"primaryApiKey\":\"not-an-anthropic-key\","
			"\"customApiKey\":\"sk-ant-custom-1234567890\"}");
	put(".codex/auth.json", "{\"OPENAI_API_KEY\":\"sk-codex-file\",\"tokens\":"
			"{\"access_token\":\"codex-oauth\"}}");
	discover(false);
	check_cred(&s.anthropic, "sk-ant-custom-1234567890", "claude-code", CRED_API_KEY);
	check_cred(&s.openai, "sk-codex-file", "codex", CRED_API_KEY);
	injection();

	/* Amp's config wins over Claude's files; nested keys */
	put(".amp/config.json", "{\"apiKey\":\"\",\"auth\":{\"token\":\"amp-nested\"}}");
	discover(false);
	check_cred(&s.anthropic, "amp-nested", "amp", CRED_API_KEY);
	put(".amp/config.json", "{\"anthropic_api_key\":\"amp-top\",\"auth\":{\"token\":\"x\"}}");
	discover(false);
	check_cred(&s.anthropic, "amp-top", "amp", CRED_API_KEY);
	rm(".amp/config.json");

	/* .claude.json.api is read before .claude.json */
	put(".claude.json.api", "{\"apiKey\":\"sk-ant-api-file\"}");
	discover(false);
	check_cred(&s.anthropic, "sk-ant-api-file", "claude-code", CRED_API_KEY);
	rm(".claude.json.api");
	rm(".claude.json");

	/* Claude OAuth files, with expiry */
	put(".claude/.credentials.json", "{\"claudeAiOauth\":{\"accessToken\":\"cl-oauth\","
			"\"expiresAt\":\"2999-01-01T00:00:00Z\"}}");
	discover(false);
	check_cred(&s.anthropic, "cl-oauth", "claude-code", CRED_OAUTH);
	discover(true);
	CHECK(!s.anthropic.key);
	put(".claude/.credentials.json", "{\"claudeAiOauth\":{\"accessToken\":\"cl-old\","
			"\"expiresAt\":\"2001-02-03T04:05:06.789+01:00\"}}");
	put(".claude-oauth-credentials.json", "{\"claudeAiOauth\":{\"accessToken\":\"cl-second\"}}");
	discover(false);
	check_cred(&s.anthropic, "cl-second", "claude-code", CRED_OAUTH);
	rm(".claude-oauth-credentials.json");

	/* Codex: an empty key falls through to the OAuth token */
	put(".codex/auth.json", "{\"OPENAI_API_KEY\":\"\",\"tokens\":{\"access_token\":\"cx-oauth\"}}");
	discover(false);
	check_cred(&s.openai, "cx-oauth", "codex", CRED_OAUTH);
	discover(true);
	CHECK(!s.openai.key);
	rm(".codex/auth.json");

	/* OpenCode's auth.json: fills empty slots and "other" */
	put(".local/share/opencode/auth.json",
			"{\"anthropic\":{\"type\":\"oauth\",\"access\":\"oc-ant\",\"expires\":99999999999999},"
			"\"openai\":{\"type\":\"api\",\"key\":\"oc-openai\"},"
			"\"openrouter\":{\"type\":\"api\",\"key\":\"or-1234567890\"},"
			"\"stale\":{\"type\":\"oauth\",\"access\":\"gone\",\"expires\":1000},"
			"\"weird\":{\"type\":\"bearer\",\"key\":\"x\"},"
			"\"my-prov\":{\"type\":\"oauth\",\"access\":\"mp-token\"}}");
	discover(false);
	check_cred(&s.anthropic, "oc-ant", "opencode", CRED_OAUTH);
	check_cred(&s.openai, "oc-openai", "opencode", CRED_API_KEY);
	CHECK_INT(s.nother, 2);
	CHECK_STR(s.other[0].provider, "openrouter");
	check_cred(&s.other[0], "or-1234567890", "opencode", CRED_API_KEY);
	CHECK_STR(s.other[1].provider, "my-prov");
	check_cred(&s.other[1], "mp-token", "opencode", CRED_OAUTH);
	discover(true);
	CHECK(!s.anthropic.key);
	CHECK_INT(s.nother, 1);
	setenv("HOME", home, 1);
	CHECK(cred_agent_available("opencode"));
	CHECK(cred_agent_available("codex"));
	/* environment still wins over the file */
	setenv("OPENAI_API_KEY", "env-wins", 1);
	discover(false);
	check_cred(&s.openai, "env-wins", "environment", CRED_API_KEY);
	clear_env();

	/* redaction */
	cred_redact("sk-ant-api03-abcdefgh", red, sizeof red);
	CHECK_STR(red, "sk-a...efgh");
	cred_redact("  12345678  ", red, sizeof red);
	CHECK_STR(red, "****");
	cred_redact("123456789", red, sizeof red);
	CHECK_STR(red, "1234...6789");
	CHECK_STR(cred_type_name(CRED_OAUTH), "oauth");
	CHECK_STR(cred_type_name(CRED_API_KEY), "api_key");

	cred_free(&s);
	char cmd[300];
	snprintf(cmd, sizeof cmd, "rm -rf '%s'", home);
	if (system(cmd) != 0)
		fprintf(stderr, "cleanup failed\n");
	return t_done("credentials");
}
