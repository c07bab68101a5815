/* credentials.h - discovery of the model providers' credentials the
 * agents would use (spec 8.6): environment variables, then the agents'
 * own files under the home directory (Amp, Claude Code, Codex, OpenCode).
 * Discovery is fresh on every call, never fails (unreadable or malformed
 * files are skipped) and only reads small files. Also the environment
 * additions for per-turn agent processes. Depends on base/ and json/. */
#ifndef AGENTS_CREDENTIALS_H
#define AGENTS_CREDENTIALS_H
#include <stdbool.h>
#include <stddef.h>

#define CRED_FILE_MAX (1024 * 1024) /* larger credential files are skipped */
#define CRED_OTHER_MAX 32           /* "other" providers kept */

enum { CRED_API_KEY = 0, CRED_OAUTH };

typedef struct {
	char *provider;     /* "anthropic", "openai" or another provider name; NULL: none */
	const char *source; /* "environment", "amp", "claude-code", "codex", "opencode" */
	int type;           /* CRED_API_KEY or CRED_OAUTH */
	char *key;
} cred;

typedef struct {
	cred anthropic, openai;
	cred other[CRED_OTHER_MAX];
	int nother;
} cred_set;

typedef struct {
	const char *home; /* replaces $HOME for file lookups; NULL: $HOME */
	bool no_oauth;    /* skip OAuth tokens (environment and files) */
} cred_opts;

/* Fills s (free with cred_free). opts may be NULL. */
void cred_discover(const cred_opts *opts, cred_set *s);
void cred_free(cred_set *s);
/* credentialsAvailable of spec 8.6 (fresh discovery). mock: true. */
bool cred_agent_available(const char *agent);
/* Variables to add to the environment of a per-turn process of agent
 * (claude, amp; spec 8.6 "Injection"): a NULL-terminated array of
 * "NAME=value" strings owned by the caller (cred_env_free), or NULL when
 * there is nothing to add. codex and opencode always get NULL: their
 * shared servers run with the daemon's own environment. */
char **cred_agent_env(const char *agent);
void cred_env_free(char **env);
/* "sk-a...wxyz" form of a key, "****" for short ones (out: 16 bytes). */
void cred_redact(const char *key, char *out, size_t cap);
const char *cred_type_name(int type); /* "api_key" or "oauth" */

#endif
