/* fetch_cmd.c - `sandbox-agent fetch URL`: a hidden subcommand that runs
 * one request through hc_fetch, for testing the HTTP client and TLS from
 * the outside. The status line goes to stderr, the body to stdout or a
 * file. Exit 0 on 2xx, 1 on any other status or error, 2 on usage errors.
 * Depends on base/ and http/client. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "../base/buf.h"
#include "../base/util.h"
#include "../http/client.h"
#include "cli.h"

#define FETCH_MAX_HEADERS 32
#define FETCH_DEFAULT_MAX_BYTES (256u << 20)

static const char fetch_usage[] =
	"Usage: sandbox-agent fetch URL [OPTIONS]\n"
	"\n"
	"Options:\n"
	"      --ca-file FILE       Trust anchors (PEM) instead of the system bundle\n"
	"  -o, --output FILE        Write the body to FILE instead of stdout\n"
	"      --max-bytes N        Largest body accepted (default 256 MiB)\n"
	"  -H, --header 'K: V'      Extra request header (repeatable)\n"
	"  -X, --method METHOD      Request method (default GET)\n"
	"  -d, --data TEXT          Request body\n"
	"      --timeout-ms MS      Connect and read timeout\n"
	"      --max-redirects N    Redirects followed (default 8; -1: none)\n"
	"      --no-proxy           Ignore the proxy environment variables\n";

static int usage_err(const char *msg, const char *arg)
{
	fprintf(stderr, "error: %s%s\n\n%s", msg, arg ? arg : "", fetch_usage);
	return 2;
}

static bool num(const char *s, uint64_t max, uint64_t *out)
{
	return util_parse_u64(s, strlen(s), out) && *out <= max;
}

static int write_all(int fd, const char *p, size_t n)
{
	while (n > 0) {
		ssize_t w = write(fd, p, n);
		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0)
			return -1;
		p += w;
		n -= (size_t)w;
	}
	return 0;
}

int cli_fetch(int argc, char **argv, const cli_globals *g)
{
	const char *hdrs[FETCH_MAX_HEADERS + 1];
	size_t nh = 0;
	hc_request req = {0};
	const char *output = NULL;
	uint64_t max = FETCH_DEFAULT_MAX_BYTES, v;
	char err[256];
	buf_t body;
	int status = 0, i, fd = 1, rc;

	(void)g;
	for (i = 1; i < argc; i++) {
		const char *a = argv[i];
		const char *val = i + 1 < argc ? argv[i + 1] : NULL;
		if (!strcmp(a, "-h") || !strcmp(a, "--help")) {
			fputs(fetch_usage, stdout);
			return 0;
		}
		if (!strcmp(a, "--no-proxy")) {
			req.no_proxy = true;
			continue;
		}
		if (a[0] != '-') {
			if (req.url)
				return usage_err("more than one URL: ", a);
			req.url = a;
			continue;
		}
		if (!val)
			return usage_err("missing value for ", a);
		i++;
		if (!strcmp(a, "--ca-file")) {
			req.ca_file = val;
		} else if (!strcmp(a, "-o") || !strcmp(a, "--output")) {
			output = val;
		} else if (!strcmp(a, "--max-bytes")) {
			if (!num(val, SIZE_MAX, &max))
				return usage_err("bad --max-bytes: ", val);
		} else if (!strcmp(a, "-H") || !strcmp(a, "--header")) {
			if (nh == FETCH_MAX_HEADERS)
				return usage_err("too many headers", NULL);
			hdrs[nh++] = val;
		} else if (!strcmp(a, "-X") || !strcmp(a, "--method")) {
			req.method = val;
		} else if (!strcmp(a, "-d") || !strcmp(a, "--data")) {
			req.body = val;
			req.body_len = strlen(val);
		} else if (!strcmp(a, "--timeout-ms")) {
			if (!num(val, 86400000, &v) || v == 0)
				return usage_err("bad --timeout-ms: ", val);
			req.connect_timeout_ms = req.read_timeout_ms = (unsigned)v;
		} else if (!strcmp(a, "--max-redirects")) {
			if (!strcmp(val, "-1"))
				req.max_redirects = -1;
			else if (num(val, 100, &v) && v > 0)
				req.max_redirects = (int)v;
			else
				return usage_err("bad --max-redirects: ", val);
		} else {
			return usage_err("unknown option ", a);
		}
	}
	if (!req.url)
		return usage_err("no URL", NULL);
	hdrs[nh] = NULL;
	req.headers = hdrs;

	buf_init(&body);
	if (hc_fetch(&req, &status, &body, (size_t)max, err, sizeof err) < 0) {
		fprintf(stderr, "error: %s\n", err);
		buf_free(&body);
		return 1;
	}
	fprintf(stderr, "HTTP %d %s\n", status, http_reason(status));
	rc = status >= 200 && status <= 299 ? 0 : 1;
	if (output) {
		fd = open(output, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
		if (fd < 0) {
			fprintf(stderr, "error: %s: %s\n", output, strerror(errno));
			buf_free(&body);
			return 1;
		}
	}
	if (write_all(fd, body.p, body.len) < 0) {
		fprintf(stderr, "error: writing the body: %s\n", strerror(errno));
		rc = 1;
	}
	if (output && close(fd) < 0) {
		fprintf(stderr, "error: %s: %s\n", output, strerror(errno));
		rc = 1;
	}
	if (status < 200 || status > 299)
		fprintf(stderr, "error: HTTP status %d\n", status);
	buf_free(&body);
	return rc;
}
