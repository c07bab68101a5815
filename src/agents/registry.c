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

static const agent_mode codex_modes[] = {
	{"build", "Build", "Default build mode"},
	{"plan", "Plan", "Planning mode via prompt prefix"},
};
static const agent_mode opencode_modes[] = {
	{"build", "Build", "Default build mode"},
	{"plan", "Plan", "Planning mode"},
	{"custom", "Custom", "Any user-defined OpenCode agent name"},
};
static const agent_mode amp_modes[] = {
	{"build", "Build", "Default build mode"},
};

static const char *const perm_all[] = {"default", "plan", "bypass", "acceptEdits", NULL};
static const char *const perm_opencode[] = {"default", "acceptEdits", NULL};
static const char *const perm_opencode_norm[] = {"default", "default", NULL};
static const char *const perm_amp[] = {"default", "bypass", "acceptEdits", NULL};
static const char *const perm_amp_norm[] = {"default", "bypass", "default", NULL};

static const agent_model amp_models[] = {{"amp-default", "Amp Default"}};

/* Adapters not built into this binary yet are listed with their static
 * facts; their session operations are NULL. */
static const agent_ops agent_codex_static = {
	.id = "codex",
	.binary = "codex",
	.caps = {[CAP_PLAN_MODE] = 1, [CAP_PERMISSIONS] = 1, [CAP_TOOL_CALLS] = 1,
		[CAP_TOOL_RESULTS] = 1, [CAP_TEXT_MESSAGES] = 1, [CAP_IMAGES] = 1,
		[CAP_FILE_ATTACHMENTS] = 1, [CAP_SESSION_LIFECYCLE] = 1, [CAP_ERROR_EVENTS] = 1,
		[CAP_REASONING] = 1, [CAP_STATUS] = 1, [CAP_COMMAND_EXECUTION] = 1,
		[CAP_FILE_CHANGES] = 1, [CAP_MCP_TOOLS] = 1, [CAP_STREAMING_DELTAS] = 1,
		[CAP_ITEM_STARTED] = 1, [CAP_SHARED_PROCESS] = 1},
	.modes = codex_modes, .nmodes = 2,
	.perm_accepted = perm_all, .perm_normalized = perm_all,
};
static const agent_ops agent_opencode_static = {
	.id = "opencode",
	.binary = "opencode",
	.caps = {[CAP_TOOL_CALLS] = 1, [CAP_TOOL_RESULTS] = 1, [CAP_TEXT_MESSAGES] = 1,
		[CAP_IMAGES] = 1, [CAP_FILE_ATTACHMENTS] = 1, [CAP_SESSION_LIFECYCLE] = 1,
		[CAP_ERROR_EVENTS] = 1, [CAP_MCP_TOOLS] = 1, [CAP_STREAMING_DELTAS] = 1,
		[CAP_ITEM_STARTED] = 1, [CAP_SHARED_PROCESS] = 1},
	.modes = opencode_modes, .nmodes = 3, .any_agent_mode = true,
	.perm_accepted = perm_opencode, .perm_normalized = perm_opencode_norm,
};
static const agent_ops agent_amp_static = {
	.id = "amp",
	.binary = "amp",
	.caps = {[CAP_TOOL_CALLS] = 1, [CAP_TOOL_RESULTS] = 1, [CAP_TEXT_MESSAGES] = 1,
		[CAP_ERROR_EVENTS] = 1, [CAP_MCP_TOOLS] = 1},
	.modes = amp_modes, .nmodes = 1,
	.perm_accepted = perm_amp, .perm_normalized = perm_amp_norm,
	.models = amp_models, .nmodels = 1, .default_model = "amp-default",
};

#ifndef AGENT_CODEX
#define AGENT_CODEX agent_codex_static
#endif
#ifndef AGENT_OPENCODE
#define AGENT_OPENCODE agent_opencode_static
#endif
#ifndef AGENT_AMP
#define AGENT_AMP agent_amp_static
#endif

const agent_ops *const agent_all[5] = {
	&agent_claude, &AGENT_CODEX, &AGENT_OPENCODE, &AGENT_AMP, &agent_mock,
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
	jw_kbool(w, "credentialsAvailable", builtin || (a->credentials && a->credentials()));
	if (builtin)
		jw_kstr(w, "version", "builtin");
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
		jw_obj(w);
		jw_kstr(w, "status", "stopped");
		jw_kint(w, "restartCount", 0);
		jw_obj_end(w);
	}
	jw_obj_end(w);
}
