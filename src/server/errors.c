/* errors.c - the problem types of spec 1.4, with their exact titles,
 * detail templates and extension members. */
#include <stdbool.h>
#include <stdio.h>
#include <string.h>

#include "../json/json.h"
#include "routes.h"

static void detail2(char *out, size_t cap, const char *prefix, const char *arg)
{
	snprintf(out, cap, "%s%s", prefix, arg);
}

/* "<key>":"<escaped value>", preceded by a comma when asked */
static void kv(buf_t *b, bool comma, const char *key, const char *val)
{
	if (comma)
		buf_putc(b, ',');
	buf_printf(b, "\"%s\":\"", key);
	json_escape(b, val, strlen(val));
	buf_putc(b, '"');
}

static void problem_ext(srv_req *r, int status, const char *type, const char *title,
		const char *prefix, const char *arg, buf_t *ext)
{
	char detail[1024];
	detail2(detail, sizeof detail, prefix, arg ? arg : "");
	srv_problem(r, status, type, title, detail, ext && ext->len ? buf_cstr(ext) : NULL);
	if (ext)
		buf_free(ext);
}

void err_invalid_request(srv_req *r, const char *msg)
{
	problem_ext(r, 400, "invalid_request", "Invalid Request", "invalid request: ", msg, NULL);
}

void err_unsupported_agent(srv_req *r, const char *agent)
{
	buf_t e;
	buf_init(&e);
	kv(&e, false, "agent", agent);
	problem_ext(r, 400, "unsupported_agent", "Unsupported Agent", "unsupported agent: ", agent, &e);
}

void err_agent_not_installed(srv_req *r, const char *agent)
{
	buf_t e;
	buf_init(&e);
	kv(&e, false, "agent", agent);
	problem_ext(r, 404, "agent_not_installed", "Agent Not Installed", "agent not installed: ",
		agent, &e);
}

void err_install_failed(srv_req *r, const char *agent, const char *stderr_text)
{
	buf_t e;
	buf_init(&e);
	kv(&e, false, "agent", agent);
	if (stderr_text) {
		buf_puts(&e, ",\"details\":{");
		kv(&e, false, "stderr", stderr_text);
		buf_putc(&e, '}');
	}
	problem_ext(r, 500, "install_failed", "Install Failed", "install failed: ", agent, &e);
}

void err_agent_process_exited(srv_req *r, const char *agent, int has_code, int code,
		const char *stderr_text)
{
	buf_t e;
	buf_init(&e);
	kv(&e, false, "agent", agent);
	if (has_code || stderr_text) {
		buf_puts(&e, ",\"details\":{");
		if (has_code)
			buf_printf(&e, "\"exitCode\":%d", code);
		if (stderr_text)
			kv(&e, has_code, "stderr", stderr_text);
		buf_putc(&e, '}');
	}
	problem_ext(r, 500, "agent_process_exited", "Agent Process Exited",
		"agent process exited: ", agent, &e);
}

void err_token_invalid(srv_req *r)
{
	srv_problem(r, 401, "token_invalid", "Token Invalid", "token invalid",
		"\"details\":{\"message\":\"missing or invalid token\"}");
}

void err_session_not_found(srv_req *r, const char *sid)
{
	buf_t e;
	buf_init(&e);
	kv(&e, false, "sessionId", sid);
	problem_ext(r, 404, "session_not_found", "Session Not Found", "session not found: ", sid, &e);
}

void err_session_exists(srv_req *r, const char *sid)
{
	buf_t e;
	buf_init(&e);
	kv(&e, false, "sessionId", sid);
	problem_ext(r, 409, "session_already_exists", "Session Already Exists",
		"session already exists: ", sid, &e);
}

void err_mode_not_supported(srv_req *r, const char *agent, const char *mode)
{
	char detail[512];
	snprintf(detail, sizeof detail, "%s %s", agent, mode);
	buf_t e;
	buf_init(&e);
	kv(&e, false, "agent", agent);
	buf_puts(&e, ",\"details\":{");
	kv(&e, false, "mode", mode);
	buf_putc(&e, '}');
	problem_ext(r, 400, "mode_not_supported", "Mode Not Supported", "mode not supported: ",
		detail, &e);
}

void err_stream_error(srv_req *r, const char *msg)
{
	buf_t e;
	buf_init(&e);
	buf_puts(&e, "\"details\":{");
	kv(&e, false, "message", msg);
	buf_putc(&e, '}');
	problem_ext(r, 502, "stream_error", "Stream Error", "stream error: ", msg, &e);
}
