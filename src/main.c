/* main.c - command-line entry: global flags, then one subcommand. */
#include <stdio.h>
#include <string.h>

#include "base/log.h"
#include "cli/cli.h"

static const char usage[] =
	"Usage: sandbox-agent [-t TOKEN | -n] <COMMAND> [OPTIONS]\n"
	"\n"
	"Runs coding agents (Claude Code, Codex, OpenCode, Amp, mock) behind one\n"
	"HTTP + Server-Sent-Events API.\n"
	"\n"
	"Commands:\n"
	"  server      Run the HTTP server (default 127.0.0.1:2468)\n"
	"  install-agent  Install an agent binary (claude, codex, opencode, amp)\n"
	"  credentials    Show the credentials the agents would use\n"
	"\n"
	"Global options:\n"
	"  -t, --token TOKEN   Require this bearer token on /v1 (server)\n"
	"  -n, --no-token      Run without authentication\n"
	"  -h, --help          Print this help\n"
	"  -V, --version       Print the version\n"
	"\n"
	"Run 'sandbox-agent server --help' for the server's options.\n";

void cli_usage(int to_stderr)
{
	fputs(usage, to_stderr ? stderr : stdout);
}

int main(int argc, char **argv)
{
	cli_globals g = {0};
	char *rest[256];
	int n = 0;
	log_init();
	/* Global flags may stand before or after the subcommand. */
	for (int i = 1; i < argc; i++) {
		const char *a = argv[i];
		if (!strcmp(a, "-t") || !strcmp(a, "--token")) {
			if (i + 1 >= argc) {
				fprintf(stderr, "error: %s needs a value\n\n", a);
				cli_usage(1);
				return 2;
			}
			g.token = argv[++i];
		} else if (!strncmp(a, "--token=", 8)) {
			g.token = a + 8;
		} else if (!strcmp(a, "-n") || !strcmp(a, "--no-token")) {
			g.no_token = true;
		} else if (n < (int)(sizeof rest / sizeof rest[0]) - 1) {
			rest[n++] = argv[i];
		} else {
			fprintf(stderr, "error: too many arguments\n");
			return 2;
		}
	}
	rest[n] = NULL;
	if (n == 0) {
		cli_usage(1);
		return 2;
	}
	if (!strcmp(rest[0], "-h") || !strcmp(rest[0], "--help") || !strcmp(rest[0], "help")) {
		cli_usage(0);
		return 0;
	}
	if (!strcmp(rest[0], "-V") || !strcmp(rest[0], "--version")) {
		printf("sandbox-agent %s\n", SA_VERSION);
		return 0;
	}
	if (!strcmp(rest[0], "server"))
		return cli_server(n, rest, &g);
	else if (!strcmp(rest[0], "fetch"))
		return cli_fetch(n, rest, &g);
	else if (!strcmp(rest[0], "install-agent"))
		return cli_install_agent(n, rest, &g);
	else if (!strcmp(rest[0], "credentials"))
		return cli_credentials(n, rest, &g);
	fprintf(stderr, "error: unrecognized command '%s'\n\n", rest[0]);
	cli_usage(1);
	return 2;
}
