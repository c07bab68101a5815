/* router.c - route table, path parameters, CORS preflight and token
 * auth, in the order of spec 2: preflight before auth, auth before
 * routing, /v1/health always public. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../base/util.h"
#include "routes.h"

static const srv_route routes[] = {
	{M_GET, "/", h_root, true},
	{M_GET, "/ui", h_ui, true},
	{M_GET, "/ui/", h_ui, true},
	{M_GET, "/v1/health", h_health, true},
	{M_GET, "/v1/agents", h_agents_list, false},
	{M_POST, "/v1/agents/{}/install", h_agent_install, false},
	{M_GET, "/v1/agents/{}/modes", h_agent_modes, false},
	{M_GET, "/v1/agents/{}/models", h_agent_models, false},
	{M_GET, "/v1/sessions", h_sessions_list, false},
	{M_POST, "/v1/sessions/{}", h_session_create, false},
	{M_POST, "/v1/sessions/{}/messages", h_session_message, false},
	{M_POST, "/v1/sessions/{}/messages/stream", h_session_message_stream, false},
	{M_POST, "/v1/sessions/{}/terminate", h_session_terminate, false},
	{M_GET, "/v1/sessions/{}/events", h_session_events, false},
	{M_GET, "/v1/sessions/{}/events/sse", h_session_events_sse, false},
	{M_POST, "/v1/sessions/{}/questions/{}/reply", h_question_reply, false},
	{M_POST, "/v1/sessions/{}/questions/{}/reject", h_question_reject, false},
	{M_POST, "/v1/sessions/{}/permissions/{}/reply", h_permission_reply, false},
};
#define NROUTES (sizeof routes / sizeof routes[0])

static const char *method_name(int m)
{
	switch (m) {
	case M_GET: return "GET";
	case M_HEAD: return "HEAD";
	case M_POST: return "POST";
	case M_PUT: return "PUT";
	case M_DELETE: return "DELETE";
	case M_OPTIONS: return "OPTIONS";
	case M_PATCH: return "PATCH";
	}
	return "?";
}

/* Matches path against pattern; on success stores the raw segment spans
 * for each {} in seg/seglen. */
static bool match(const char *pat, const char *path, size_t len, const char **seg,
		size_t *seglen, int *nseg)
{
	size_t i = 0;
	*nseg = 0;
	while (*pat) {
		if (pat[0] == '{' && pat[1] == '}') {
			size_t start = i;
			while (i < len && path[i] != '/')
				i++;
			if (i == start || *nseg >= SRV_MAX_PARAMS)
				return false;
			seg[*nseg] = path + start;
			seglen[*nseg] = i - start;
			(*nseg)++;
			pat += 2;
			continue;
		}
		if (i >= len || path[i] != *pat)
			return false;
		i++;
		pat++;
	}
	return i == len;
}

static bool is_ui_path(const char *p, size_t n)
{
	return n >= 4 && !memcmp(p, "/ui/", 4);
}

static void preflight(srv_req *r)
{
	const srv_config *cfg = srv_cfg();
	buf_t h;
	buf_init(&h);
	buf_puts(&h, "Access-Control-Allow-Methods: ");
	if (!cfg->n_methods)
		buf_puts(&h, "*");
	for (int i = 0; i < cfg->n_methods; i++) {
		if (i)
			buf_putc(&h, ',');
		buf_puts(&h, cfg->cors_methods[i]);
	}
	buf_puts(&h, "\r\nAccess-Control-Allow-Headers: ");
	if (!cfg->n_headers)
		buf_puts(&h, "*");
	for (int i = 0; i < cfg->n_headers; i++) {
		if (i)
			buf_putc(&h, ',');
		for (const char *p = cfg->cors_headers[i]; *p; p++)
			buf_putc(&h, (char)(*p >= 'A' && *p <= 'Z' ? *p + 32 : *p));
	}
	buf_puts(&h, "\r\n");
	srv_respond(r, 200, NULL, NULL, 0, buf_cstr(&h));
	buf_free(&h);
}

/* Accepts Bearer/Token <t> and Basic base64(user:t | t); spec 2.1. */
static bool authorized(const srv_req *r, const char *token)
{
	const http_header *h = srv_header(r, "Authorization");
	if (!h)
		return false;
	const char *v = h->value;
	size_t n = h->value_len;
	size_t sp = 0;
	while (sp < n && v[sp] != ' ')
		sp++;
	if (sp == n)
		return false;
	const char *cred = v + sp;
	size_t cl = n - sp;
	while (cl && *cred == ' ')
		cred++, cl--;
	while (cl && cred[cl - 1] == ' ')
		cl--;
	size_t tl = strlen(token);
	if (util_ieq(v, sp, "bearer") || util_ieq(v, sp, "token"))
		return util_ct_eq(cred, cl, token, tl);
	if (util_ieq(v, sp, "basic")) {
		unsigned char dec[1024];
		long dl = util_b64_decode(cred, cl, dec, sizeof dec);
		if (dl < 0)
			return false;
		const unsigned char *colon = memchr(dec, ':', (size_t)dl);
		const unsigned char *pw = colon ? colon + 1 : dec;
		size_t pl = colon ? (size_t)dl - (size_t)(colon + 1 - dec) : (size_t)dl;
		return util_ct_eq(pw, pl, token, tl);
	}
	return false;
}

void srv_route_request(srv_req *r)
{
	const char *path = r->path;
	size_t len = r->path_len;
	/* absolute-form target: drop scheme and authority */
	if (len > 7 && (!memcmp(path, "http://", 7) || !memcmp(path, "https://", 8))) {
		const char *p = memchr(path + 8, '/', len - 8);
		if (!p) {
			path = "/";
			len = 1;
		} else {
			len -= (size_t)(p - path);
			path = p;
		}
		r->path = path;
		r->path_len = len;
	}
	if (r->method == M_OPTIONS) {
		preflight(r);
		return;
	}
	const srv_config *cfg = srv_cfg();
	bool v1 = len >= 4 && !memcmp(path, "/v1/", 4);
	bool health = util_eq(path, len, "/v1/health");
	if (cfg->token && v1 && !health && !authorized(r, cfg->token)) {
		err_token_invalid(r);
		return;
	}
	int method = r->method == M_HEAD ? M_GET : r->method;
	char allow[64] = "";
	const char *seg[SRV_MAX_PARAMS];
	size_t seglen[SRV_MAX_PARAMS];
	int nseg = 0;
	for (size_t i = 0; i < NROUTES; i++) {
		if (!match(routes[i].pattern, path, len, seg, seglen, &nseg))
			continue;
		if (routes[i].method != method) {
			size_t al = strlen(allow);
			if (al + 10 < sizeof allow)
				snprintf(allow + al, sizeof allow - al, "%s%s", al ? ", " : "",
					method_name(routes[i].method));
			continue;
		}
		for (int k = 0; k < nseg; k++) {
			char *d = xmalloc(seglen[k] + 1);
			long dl = http_pct_decode(seg[k], seglen[k], d, false);
			if (dl <= 0) {
				free(d);
				srv_problem(r, 400, "invalid_request", "Invalid Request",
					"invalid request: malformed percent-encoding in path", NULL);
				return;
			}
			d[dl] = 0;
			r->params[r->nparams++] = d;
		}
		routes[i].fn(r);
		return;
	}
	if (allow[0]) {
		char hdr[96];
		if (strstr(allow, "GET"))
			strcat(allow, ", HEAD");
		snprintf(hdr, sizeof hdr, "Allow: %s\r\n", allow);
		srv_problem_hdr(r, 405, "method_not_allowed", "Method Not Allowed",
			"method not allowed", NULL, hdr);
		return;
	}
	if (is_ui_path(path, len)) {
		h_ui(r);
		return;
	}
	h_not_found(r);
}
