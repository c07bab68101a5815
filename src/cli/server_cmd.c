/* server_cmd.c - `sandbox-agent server`: parses its flags into a
 * srv_config, validates CORS settings, and runs the server. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../base/log.h"
#include "../base/util.h"
#include "../proc/proc.h"
#include "../server/server.h"
#include "../session/session.h"
#include "cli.h"

static const char server_usage[] =
	"Usage: sandbox-agent server [OPTIONS]\n"
	"\n"
	"Options:\n"
	"  -H, --host HOST                 Address to bind (default 127.0.0.1)\n"
	"  -p, --port PORT                 Port to bind (default 2468)\n"
	"  -t, --token TOKEN               Require this token on /v1 (except /v1/health)\n"
	"  -n, --no-token                  No authentication (the default without --token)\n"
	"  -O, --cors-allow-origin ORIGIN  Allowed CORS origin (repeatable)\n"
	"  -M, --cors-allow-method METHOD  Allowed CORS method (repeatable; default any)\n"
	"  -A, --cors-allow-header HEADER  Allowed CORS request header (repeatable; default any)\n"
	"  -C, --cors-allow-credentials    Send Access-Control-Allow-Credentials: true\n"
	"                                  (needs explicit -M and -A)\n"
	"      --no-telemetry              Accepted for compatibility; nothing is ever sent\n"
	"      --header-timeout-ms MS      Time allowed for a request head (default 10000)\n"
	"      --idle-timeout-ms MS        Idle keep-alive timeout (default 120000)\n"
	"      --max-connections N         Connection limit (default 4096)\n"
	"  -h, --help                      Print this help\n"
	"\n"
	"Environment: SANDBOX_AGENT_LOG=error|warn|info|debug, SANDBOX_AGENT_LOG_HTTP=1.\n";

static int bad(const char *msg, const char *arg)
{
	fprintf(stderr, "error: %s%s\n\n%s", msg, arg ? arg : "", server_usage);
	return 2;
}

static bool is_tchar(char ch)
{
	return (ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') || (ch >= '0' && ch <= '9') ||
		strchr("!#$%&'*+-.^_`|~", ch);
}

static bool valid_token(const char *s)
{
	if (!*s)
		return false;
	for (; *s; s++)
		if (!is_tchar(*s))
			return false;
	return true;
}

static bool valid_origin(const char *s)
{
	if (!*s)
		return false;
	for (; *s; s++)
		if ((unsigned char)*s <= 0x20 || (unsigned char)*s >= 0x7f)
			return false;
	return true;
}

static bool num(const char *s, unsigned long max, unsigned long *out)
{
	uint64_t v;
	if (!util_parse_u64(s, strlen(s), &v) || v > max)
		return false;
	*out = (unsigned long)v;
	return true;
}

int cli_server(int argc, char **argv, const cli_globals *g)
{
	srv_config cfg = {0};
	cfg.host = "127.0.0.1";
	cfg.port = 2468;
	for (int i = 1; i < argc; i++) {
		const char *a = argv[i];
		const char *v = i + 1 < argc ? argv[i + 1] : NULL;
		char name[64];
		const char *eq = strchr(a, '=');
		bool inline_value = false;
		if (a[0] == '-' && a[1] == '-' && eq && (size_t)(eq - a) < sizeof name) {
			/* --name=value */
			memcpy(name, a, (size_t)(eq - a));
			name[eq - a] = 0;
			a = name;
			v = eq + 1;
			inline_value = true;
		}
		unsigned long u;
#define OPT(s, l) (!strcmp(a, s) || !strcmp(a, l))
#define NEED() do { if (!v) return bad("missing value for ", a); if (!inline_value) i++; } while (0)
		if (OPT("-h", "--help")) {
			fputs(server_usage, stdout);
			return 0;
		} else if (OPT("-H", "--host")) {
			NEED();
			cfg.host = v;
		} else if (OPT("-p", "--port")) {
			NEED();
			if (!num(v, 65535, &u))
				return bad("invalid port: ", v);
			cfg.port = (int)u;
		} else if (OPT("-O", "--cors-allow-origin")) {
			NEED();
			if (!valid_origin(v))
				return bad("invalid cors origin: ", v);
			if (cfg.n_origins >= SRV_CORS_MAX)
				return bad("too many CORS origins", NULL);
			cfg.cors_origins[cfg.n_origins++] = v;
		} else if (OPT("-M", "--cors-allow-method")) {
			NEED();
			if (!valid_token(v))
				return bad("invalid cors method: ", v);
			if (cfg.n_methods >= SRV_CORS_MAX)
				return bad("too many CORS methods", NULL);
			cfg.cors_methods[cfg.n_methods++] = v;
		} else if (OPT("-A", "--cors-allow-header")) {
			NEED();
			if (!valid_token(v))
				return bad("invalid cors header: ", v);
			if (cfg.n_headers >= SRV_CORS_MAX)
				return bad("too many CORS headers", NULL);
			cfg.cors_headers[cfg.n_headers++] = v;
		} else if (OPT("-C", "--cors-allow-credentials")) {
			cfg.cors_credentials = true;
		} else if (!strcmp(a, "--no-telemetry")) {
			/* nothing is ever sent */
		} else if (!strcmp(a, "--header-timeout-ms")) {
			NEED();
			if (!num(v, 3600000, &u) || !u)
				return bad("invalid --header-timeout-ms: ", v);
			cfg.header_timeout_ms = (unsigned)u;
		} else if (!strcmp(a, "--idle-timeout-ms")) {
			NEED();
			if (!num(v, 86400000, &u) || !u)
				return bad("invalid --idle-timeout-ms: ", v);
			cfg.idle_timeout_ms = (unsigned)u;
		} else if (!strcmp(a, "--max-connections")) {
			NEED();
			if (!num(v, 1000000, &u) || !u)
				return bad("invalid --max-connections: ", v);
			cfg.max_connections = (unsigned)u;
		} else {
			return bad("unknown option: ", a);
		}
#undef OPT
#undef NEED
	}
	/* Credentials with wildcard methods or headers is forbidden by the
	 * CORS standard; refuse instead of failing every request later. */
	if (cfg.cors_credentials && (!cfg.n_methods || !cfg.n_headers)) {
		fprintf(stderr, "error: --cors-allow-credentials cannot be combined with wildcard "
			"methods or headers; also pass --cors-allow-method and --cors-allow-header\n");
		return 2;
	}
	cfg.token = g->token && !g->no_token && *g->token ? g->token : NULL;
	const char *lh = getenv("SANDBOX_AGENT_LOG_HTTP");
	cfg.log_http = lh && (!strcmp(lh, "1") || !strcmp(lh, "true"));
	srv_set_flush_hook(sess_flush_subscribers);
	srv_set_shutdown_hook(sess_shutdown_all, NULL);
	int rc = srv_run(&cfg);
	proc_kill_all();
	sess_free_all();
	srv_free();
	return rc;
}
