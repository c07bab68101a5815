/* registry.c - the five agents and their static facts: capabilities
 * (spec 8.1), modes (8.2), models (8.3), mode validation (5.3), binary
 * resolution (8.4), and the AgentInfo writer of GET /v1/agents. */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "../base/buf.h"
#include "agent.h"
#include "opencode.h"
#include "credentials.h"
#include "install.h"

const char *const agent_cap_names[CAP__COUNT] = {
	"planMode", "permissions", "questions", "toolCalls", "toolResults", "textMessages",
	"images", "fileAttachments", "sessionLifecycle", "errorEvents", "reasoning", "status",
	"commandExecution", "fileChanges", "mcpTools", "streamingDeltas", "itemStarted",
	"sharedProcess",
};

void agent_fail(agent_err *e, agent_err_kind kind, const char *fmt, ...)
{
	va_list ap;
	e->kind = kind;
	va_start(ap, fmt);
	vsnprintf(e->msg, sizeof e->msg, fmt, ap);
	va_end(ap);
}

static const char *const perm_all[] = {"default", "plan", "bypass", "acceptEdits", NULL};
const agent_ops *const agent_all[5] = {
	&agent_claude, &agent_codex, &agent_opencode, &agent_amp, &agent_mock,
};

const agent_ops *agent_find(const char *id)
{
	for (int i = 0; i < 5; i++)
		if (!strcmp(agent_all[i]->id, id))
			return agent_all[i];
	return NULL;
}

int agent_normalize_modes(const agent_ops *a, const char *amode, const char *perm_mode,
		const char **amode_out, const char **perm_mode_out, agent_err *e)
{
	if (!amode)
		amode = "build";
	*amode_out = NULL;
	if (a->any_agent_mode) {
		*amode_out = amode;
	} else {
		for (int i = 0; i < a->nmodes; i++)
			if (!strcmp(a->modes[i].id, amode))
				*amode_out = a->modes[i].id;
	}
	if (!*amode_out) {
		e->kind = AERR_MODE;
		snprintf(e->msg, sizeof e->msg, "%s", amode);
		return -1;
	}
	if (!perm_mode)
		perm_mode = "default";
	bool known = false;
	for (int i = 0; perm_all[i]; i++)
		if (!strcmp(perm_all[i], perm_mode))
			known = true;
	if (!known) {
		agent_fail(e, AERR_INVALID, "invalid permission mode: %s", perm_mode);
		return -1;
	}
	for (int i = 0; a->perm_accepted[i]; i++) {
		if (!strcmp(a->perm_accepted[i], perm_mode)) {
			*perm_mode_out = a->perm_normalized[i];
			if (!strcmp(a->id, "claude") && !strcmp(perm_mode, "bypass") && geteuid() == 0) {
				agent_fail(e, AERR_INVALID, "permission mode 'bypass' is not supported when "
					"running as root (Claude refuses --dangerously-skip-permissions with "
					"root privileges)");
				return -1;
			}
			return 0;
		}
	}
	e->kind = AERR_MODE;
	snprintf(e->msg, sizeof e->msg, "%s", perm_mode);
	return -1;
}

static bool is_exec(const char *p)
{
	struct stat st;
	return stat(p, &st) == 0 && S_ISREG(st.st_mode) && access(p, X_OK) == 0;
}

/* <data_dir>/sandbox-agent/bin, data_dir = $XDG_DATA_HOME or ~/.local/share */
static void install_dir(buf_t *b)
{
	const char *x = getenv("XDG_DATA_HOME");
	const char *h = getenv("HOME");
	if (x && *x)
		buf_printf(b, "%s/sandbox-agent/bin", x);
	else if (h && *h)
		buf_printf(b, "%s/.local/share/sandbox-agent/bin", h);
	else
		buf_puts(b, "./.sandbox-agent/bin");
}

char *agent_resolve_binary(const agent_ops *a)
{
	if (!a->binary)
		return NULL;
	buf_t b;
	buf_init(&b);
	install_dir(&b);
	buf_printf(&b, "/%s", a->binary);
	if (is_exec(buf_cstr(&b)))
		return b.p;
	const char *path = getenv("PATH");
	while (path && *path) {
		const char *colon = strchr(path, ':');
		size_t n = colon ? (size_t)(colon - path) : strlen(path);
		if (n) {
			buf_reset(&b);
			buf_append(&b, path, n);
			buf_printf(&b, "/%s", a->binary);
			if (is_exec(buf_cstr(&b)))
				return b.p;
		}
		path = colon ? colon + 1 : NULL;
	}
	buf_free(&b);
	return NULL;
}

void agent_write_info(const agent_ops *a, jw_t *w)
{
	jw_obj(w);
	jw_kstr(w, "id", a->id);
	char *path = agent_resolve_binary(a);
	bool builtin = !a->binary;
	jw_kbool(w, "installed", builtin || path);
	/* Spec 8.6 discovery, or whatever else the adapter knows its agent
	 * accepts (e.g. Amp's own login). */
	jw_kbool(w, "credentialsAvailable", cred_agent_available(a->id) ||
			(a->credentials && a->credentials()));
	/* Versions come from a probe child; absent until it answered. */
	const char *ver = builtin ? "builtin" : path ? inst_version_get(path) : NULL;
	if (ver)
		jw_kstr(w, "version", ver);
	if (path)
		jw_kstr(w, "path", path);
	free(path);
	jw_key(w, "capabilities");
	jw_obj(w);
	for (int i = 0; i < CAP__COUNT; i++)
		jw_kbool(w, agent_cap_names[i], a->caps[i]);
	jw_obj_end(w);
	if (a->caps[CAP_SHARED_PROCESS]) {
		jw_key(w, "serverStatus");
		if (a == &agent_opencode) {
			opencode_write_server_status(w); /* the shared server's live state */
		} else {
			/* codex runs one app-server per session: no shared server */
			jw_obj(w);
			jw_kstr(w, "status", "stopped");
			jw_kint(w, "restartCount", 0);
			jw_obj_end(w);
		}
	}
	jw_obj_end(w);
}
