/* basic.c - the routes outside the sessions API: server info, health,
 * the inspector page and the 404 fallback (spec 1.2, 4.1). */
#include <string.h>

#include "routes.h"

#define SERVER_INFO \
	"This is a Sandbox Agent server. Available endpoints:\n" \
	"- GET  /           - Server info\n" \
	"- GET  /v1/health  - Health check\n" \
	"- GET  /ui/        - Inspector UI\n" \
	"\n" \
	"See https://sandboxagent.dev for API documentation."

#define TEXT "text/plain; charset=utf-8"

void h_root(srv_req *r)
{
	srv_respond(r, 200, TEXT, SERVER_INFO, sizeof SERVER_INFO - 1, NULL);
}

void h_health(srv_req *r)
{
	static const char ok[] = "{\"status\":\"ok\"}";
	srv_respond(r, 200, "application/json", ok, sizeof ok - 1, NULL);
}

void h_not_found(srv_req *r)
{
	static const char body[] = "404 Not Found\n\n" SERVER_INFO;
	srv_respond(r, 404, TEXT, body, sizeof body - 1, NULL);
}

void h_ui(srv_req *r)
{
	static const char body[] = "Inspector UI was not included in this build.";
	srv_respond(r, 404, TEXT, body, sizeof body - 1, NULL);
}
