/* fuzz_url.c - hc_url_parse / hc_url_resolve / hc_no_proxy_match. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "http/client.h"

static void check_url(const hc_url *u)
{
	const char *p;
	if (!u->host[0] || u->port < 1 || u->port > 65535 || u->target[0] != '/')
		abort();
	for (p = u->target; *p; p++)
		if ((unsigned char)*p <= 0x20 || (unsigned char)*p >= 0x7f || *p == '#')
			abort();
}

static void roundtrip(const hc_url *u)
{
	char s[HC_MAX_HOST + 64 + 9000], err[256];
	hc_url v;
	bool v6 = strchr(u->host, ':') != NULL;
	if (strlen(u->target) > 8000)
		return;
	snprintf(s, sizeof s, "%s://%s%s%s:%u%s", u->https ? "https" : "http", v6 ? "[" : "",
			u->host, v6 ? "]" : "", u->port, u->target);
	if (hc_url_parse(s, &v, err, sizeof err) != 0)
		abort();
	if (v.https != u->https || v.port != u->port || strcmp(v.host, u->host) ||
	    strcmp(v.target, u->target))
		abort();
	hc_url_free(&v);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *a, *b, *nl, err[256];
	hc_url u;
	if (size < 1)
		return 0;
	a = malloc(size);
	memcpy(a, data + 1, size - 1);
	a[size - 1] = '\0';
	nl = strchr(a, '\n');
	b = nl ? nl + 1 : a + strlen(a);
	if (nl)
		*nl = '\0';
	switch (data[0] % 3) {
	case 0:
		if (hc_url_parse(a, &u, err, sizeof err) == 0) {
			check_url(&u);
			roundtrip(&u);
			hc_url_free(&u);
		} else if (!strstr(err, "URL")) {
			abort();
		}
		break;
	case 1: {
		char *r;
		if (hc_url_parse(a, &u, err, sizeof err) != 0)
			break;
		hc_url_free(&u);
		r = hc_url_resolve(a, b);
		if (!r)
			abort();
		/* a relative reference stays on the base scheme and has no dot segments */
		if (!strchr(b, ':') && !(b[0] == '/' && b[1] == '/') && b[0] && b[0] != '?' && b[0] != '#') {
			if (strncmp(r, a, strcspn(a, ":")) != 0)
				abort();
			if (hc_url_parse(r, &u, err, sizeof err) == 0) {
				size_t pl = strcspn(u.target, "?");
				char *path = strndup(u.target, pl);
				if (strstr(path, "/./") || strstr(path, "/../"))
					abort();
				if (pl >= 2 && !strcmp(path + pl - 2, "/.")) abort();
				if (pl >= 3 && !strcmp(path + pl - 3, "/..")) abort();
				free(path);
				hc_url_free(&u);
			}
		}
		free(r);
		break;
	}
	default:
		if (hc_no_proxy_match(a, b[0] ? b : "h.example") != hc_no_proxy_match(a, b[0] ? b : "h.example"))
			abort();
		if (!hc_no_proxy_match("*", b[0] ? b : "x"))
			abort();
		break;
	}
	free(a);
	return 0;
}
