/* streamjson.h - converts "stream-json" output lines into universal
 * events recorded on a session. The format is Claude Code's
 * (--output-format stream-json --verbose [--include-partial-messages]
 * [--permission-prompt-tool stdio]); Amp's --stream-json is a subset of
 * it (system/init, assistant and user messages with text, thinking,
 * tool_use and tool_result blocks, result) and goes through the same
 * code. The converter never writes to the agent: what the caller must do
 * in answer to a line is reported in sj_effects.
 *
 * Turn shape produced (agents without native item starts, spec 6.1 B):
 *   turn.started(S), user item(S), assistant placeholder item.started(S),
 *   item.delta... (text only), tool_call / tool_result items, HITL events,
 *   assistant item.completed (text and reasoning parts), error?, turn.ended(S)
 * A later API message of the same turn that carries text or thinking
 * opens a fresh placeholder; messages with only tool_use blocks do not.
 *
 * Depends on json/, the session API and adapter_util. */
#ifndef AGENTS_STREAMJSON_H
#define AGENTS_STREAMJSON_H
#include <stdbool.h>
#include <stddef.h>
#include "../session/session.h"

#define SJ_TOKENS_MIN 1024       /* first token array per line */
#define SJ_TOKENS_MAX (1u << 20) /* more tokens than this: the line is unparsed */
#define SJ_DIFF_MAX (1u << 20)   /* bytes of a file_ref diff built from tool input */
#define SJ_REQUESTS_MAX 64       /* remembered can_use_tool request -> tool_use ids */
#define SJ_ASKED_MAX 64          /* remembered question ids */

typedef struct sj_conv sj_conv;

/* What the caller has to do after a line. Strings belong to the
 * converter and stay valid until the next sj_line() call. */
typedef struct {
	bool turn_ended;         /* a result line closed the turn */
	const char *refuse_id;   /* a control_request we do not serve: refuse it */
	const char *perm_id;     /* a can_use_tool request was recorded (maybe hidden) */
	const char *perm_tool_use_id; /* its tool_use_id, or NULL */
	bool perm_question;      /* it is for a question tool */
} sj_effects;

/* location: "claude" or "amp": names agent.unparsed locations and
 * prefixes error codes and status labels. Allocates. */
sj_conv *sj_new(const char *location);
void sj_free(sj_conv *c);

/* The next user-item native id "user_<n>": n counts daemon-wide from 1. */
void sj_next_user_id(char out[32]);

/* A message was dispatched: records turn.started and the user item
 * (content: the text part, then extra_parts_json, a comma-separated list
 * of content part objects or NULL). */
void sj_turn_begin(sj_conv *c, session *s, const char *text, size_t len,
		const char *extra_parts_json);
/* The agent has the message: records the assistant placeholder. */
void sj_turn_ready(sj_conv *c, session *s);
/* The turn ended without a result line (the agent died): the open
 * assistant item is completed as failed. Records nothing else. */
void sj_turn_abort(sj_conv *c, session *s);
/* The turn failed without a result line (the agent could not be
 * started or written to, or it died): sj_turn_abort, then error `code`
 * (msg, details_json or NULL), then turn.ended if exit_code is 0 (also
 * when no process exited), else session.ended (error, agent) with the
 * exit code and stderr_json (or NULL). */
void sj_turn_failed(sj_conv *c, session *s, const char *msg, const char *code,
		const char *details_json, int exit_code, const char *stderr_json);
bool sj_in_turn(const sj_conv *c);

/* Converts one line (without its newline). Invalid or not understood
 * lines become agent.unparsed; every event carries the line as raw. */
void sj_line(sj_conv *c, session *s, const char *line, size_t len, sj_effects *fx);

/* The tool_use_id of a can_use_tool request seen on this converter, or NULL. */
const char *sj_request_tool_use(const sj_conv *c, const char *request_id);

/* Question prompt and options (spec 7.3) from a question tool's input
 * object. Writes the prompt into *prompt (heap) and the options array
 * JSON into *options (heap). Returns false if input is not an object. */
bool sj_question_of(const char *tool_name, const char *input, size_t len, char **prompt,
		char **options);
/* True for the question tools of spec 6.1 D (every casing listed). */
bool sj_is_question_tool(const char *name);
bool sj_is_plan_tool(const char *name);

#endif
