/* routes.h - the handlers behind the route table of router.c, one file
 * per resource. */
#ifndef SERVER_ROUTES_H
#define SERVER_ROUTES_H
#include "server.h"

/* errors.c: the problem types of spec 1.4. */
void err_invalid_request(srv_req *r, const char *msg);
void err_unsupported_agent(srv_req *r, const char *agent);
void err_agent_not_installed(srv_req *r, const char *agent);
void err_install_failed(srv_req *r, const char *agent, const char *stderr_text);
void err_agent_process_exited(srv_req *r, const char *agent, int has_code, int code,
		const char *stderr_text);
void err_token_invalid(srv_req *r);
void err_session_not_found(srv_req *r, const char *sid);
void err_session_exists(srv_req *r, const char *sid);
void err_mode_not_supported(srv_req *r, const char *agent, const char *mode);
void err_stream_error(srv_req *r, const char *msg);

/* basic.c */
void h_root(srv_req *r);
void h_health(srv_req *r);
void h_ui(srv_req *r);
void h_not_found(srv_req *r);

/* agents_api.c */
void h_agents_list(srv_req *r);
void h_agent_install(srv_req *r);
void h_agent_modes(srv_req *r);
void h_agent_models(srv_req *r);

/* sessions_api.c */
void h_sessions_list(srv_req *r);
void h_session_create(srv_req *r);
void h_session_message(srv_req *r);
void h_session_message_stream(srv_req *r);
void h_session_terminate(srv_req *r);
void h_session_events(srv_req *r);
void h_session_events_sse(srv_req *r);
void h_question_reply(srv_req *r);
void h_question_reject(srv_req *r);
void h_permission_reply(srv_req *r);

#endif
