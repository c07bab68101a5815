/* agent.h - the one small interface every agent adapter implements, and
 * the registry of the five agents with their static facts (capabilities,
 * modes, models; spec 8.1-8.3). Adapters know their agent and the
 * session API, never the router. */
#ifndef AGENTS_AGENT_H
#define AGENTS_AGENT_H
#include <stdbool.h>
#include "../json/json.h"
#include "../session/session.h"

/* Failure of an adapter operation, mapped to a problem by the API. */
typedef enum {
	AERR_NONE = 0,
	AERR_INVALID,       /* 400 invalid_request */
	AERR_NOT_INSTALLED, /* 404 agent_not_installed */
	AERR_EXITED,        /* 500 agent_process_exited */
	AERR_STREAM,        /* 502 stream_error */
	AERR_MODE,          /* 400 mode_not_supported */
	AERR_INSTALL,       /* 500 install_failed */
} agent_err_kind;

typedef struct {
	agent_err_kind kind;
	bool has_code;
	int code;
	char msg[512];
} agent_err;

void agent_fail(agent_err *e, agent_err_kind kind, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

enum { REPLY_ONCE, REPLY_ALWAYS, REPLY_REJECT };

/* Capability flags in the order of spec 3.1. */
enum {
	CAP_PLAN_MODE, CAP_PERMISSIONS, CAP_QUESTIONS, CAP_TOOL_CALLS, CAP_TOOL_RESULTS,
	CAP_TEXT_MESSAGES, CAP_IMAGES, CAP_FILE_ATTACHMENTS, CAP_SESSION_LIFECYCLE,
	CAP_ERROR_EVENTS, CAP_REASONING, CAP_STATUS, CAP_COMMAND_EXECUTION, CAP_FILE_CHANGES,
	CAP_MCP_TOOLS, CAP_STREAMING_DELTAS, CAP_ITEM_STARTED, CAP_SHARED_PROCESS, CAP__COUNT
};
extern const char *const agent_cap_names[CAP__COUNT];

typedef struct {
	const char *id, *name, *description;
} agent_mode;

typedef struct {
	const char *id, *name;
} agent_model;

struct agent_ops {
	const char *id;
	const char *binary; /* executable name, NULL for built-in */
	bool caps[CAP__COUNT];
	const agent_mode *modes;
	int nmodes;
	bool any_agent_mode; /* opencode: any string */
	/* permission modes: accepted values and normalization */
	const char *const *perm_accepted;    /* NULL-terminated */
	const char *const *perm_normalized;  /* same order: stored value */
	const agent_model *models;
	int nmodels;
	const char *default_model;

	/* Session operations. NULL means unsupported for this agent. */
	int (*create)(session *s, agent_err *e);
	int (*send)(session *s, const char *text, size_t len, const char *attachments_json,
			agent_err *e);
	int (*reply_permission)(session *s, const pending_perm *p, int reply, agent_err *e);
	/* answers_json: the request's answers array, or NULL to reject. */
	int (*reply_question)(session *s, const pending_question *q, const char *answers_json,
			agent_err *e);
	void (*terminate)(session *s);
	void (*free_state)(session *s);
	bool (*credentials)(void);
};

extern const agent_ops *const agent_all[5]; /* claude, codex, opencode, amp, mock */
const agent_ops *agent_find(const char *id);
extern const agent_ops agent_mock;
extern const agent_ops agent_claude;
extern const agent_ops agent_amp;
extern const agent_ops agent_codex;
extern agent_ops agent_opencode; /* modes and models follow its running server */

/* Validates and normalizes agentMode/permissionMode (spec 5.3). Returns
 * 0, or -1 with e filled. Outputs are static strings or agent_mode. */
int agent_normalize_modes(const agent_ops *a, const char *amode, const char *perm_mode,
		const char **amode_out, const char **perm_mode_out, agent_err *e);
/* Writes the AgentInfo object of one agent. */
void agent_write_info(const agent_ops *a, jw_t *w);
/* Resolves the agent's binary: install dir, then PATH. Returns a heap
 * path or NULL. */
char *agent_resolve_binary(const agent_ops *a);

#endif
