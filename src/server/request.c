/* request.c - request helpers shared by handlers: the JSON body (content
 * type 415, syntax 400) and typed query parameters (400), spec 1.3. */
#include <stdio.h>
#include <string.h>

#include "../base/util.h"
#include "../json/json.h"
#include "routes.h"

static bool is_json_type(const char *v, size_t n)
{
	size_t end = 0;
	while (end < n && v[end] != ';' && v[end] != ' ')
		end++;
	if (util_ieq(v, end, "application/json"))
		return true;
	/* application/<anything>+json */
	return end > 17 && util_ieq(v, 12, "application/") && util_ieq(v + end - 5, 5, "+json");
}

bool srv_json_body(srv_req *r, const char **json, void *toks, unsigned ntoks, int *count)
{
	static const char empty[] = "{}";
	const char *body = r->body;
	size_t len = r->body_len;
	size_t i = 0;
	while (i < len && (body[i] == ' ' || body[i] == '\t' || body[i] == '\r' || body[i] == '\n'))
		i++;
	if (i == len) {
		/* An empty body stands for {} (every JSON endpoint has only
		 * optional fields or reports the missing ones itself). */
		body = empty;
		len = 2;
	} else {
		const http_header *ct = srv_header(r, "Content-Type");
		if (!ct || !is_json_type(ct->value, ct->value_len)) {
			srv_problem(r, 415, "unsupported_media_type", "Unsupported Media Type",
				"expected request with Content-Type: application/json", NULL);
			return false;
		}
	}
	int n = json_parse(body, len, toks, ntoks);
	if (n < 0) {
		char detail[160];
		snprintf(detail, sizeof detail, "invalid request: body is not valid JSON (%s)",
			json_strerror(n));
		srv_problem(r, 400, "invalid_request", "Invalid Request", detail, NULL);
		return false;
	}
	if (((json_tok *)toks)[0].type != JSON_OBJECT) {
		srv_unprocessable(r, "request body must be a JSON object");
		return false;
	}
	*json = body;
	*count = n;
	return true;
}

bool srv_query_get(const srv_req *r, const char *key, char *out, size_t cap)
{
	size_t pos = 0, kl, vl;
	const char *k, *v;
	bool found = false;
	while (http_query_next(r->query, r->query_len, &pos, &k, &kl, &v, &vl)) {
		char kd[64];
		if (kl >= sizeof kd)
			continue;
		long kdl = http_pct_decode(k, kl, kd, true);
		if (kdl < 0 || !util_eq(kd, (size_t)kdl, key))
			continue;
		if (vl >= cap)
			return false;
		long vdl = http_pct_decode(v, vl, out, true);
		if (vdl < 0)
			return false;
		out[vdl] = 0;
		found = true; /* the last occurrence wins */
	}
	return found;
}

static bool query_raw(const srv_req *r, const char *key, const char *alt, char *out, size_t cap,
		bool *present)
{
	*present = srv_query_get(r, key, out, cap) || (alt && srv_query_get(r, alt, out, cap));
	return *present;
}

bool srv_query_u64(srv_req *r, const char *key, const char *alt, uint64_t *out, bool *found)
{
	char v[32];
	bool present;
	*found = false;
	if (!query_raw(r, key, alt, v, sizeof v, &present))
		return true;
	if (!util_parse_u64(v, strlen(v), out)) {
		char d[128];
		snprintf(d, sizeof d, "invalid request: query parameter %s must be an unsigned integer", key);
		srv_problem(r, 400, "invalid_request", "Invalid Request", d, NULL);
		return false;
	}
	*found = true;
	return true;
}

bool srv_query_bool(srv_req *r, const char *key, const char *alt, bool *out)
{
	char v[16];
	bool present;
	if (!query_raw(r, key, alt, v, sizeof v, &present))
		return true;
	if (!strcmp(v, "true") || !strcmp(v, "false")) {
		*out = v[0] == 't';
		return true;
	}
	char d[128];
	snprintf(d, sizeof d, "invalid request: query parameter %s must be true or false", key);
	srv_problem(r, 400, "invalid_request", "Invalid Request", d, NULL);
	return false;
}
