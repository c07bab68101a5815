/* cli.h - subcommands of the sandbox-agent binary. */
#ifndef CLI_CLI_H
#define CLI_CLI_H
#include <stdbool.h>

typedef struct {
	const char *token; /* -t/--token */
	bool no_token;     /* -n/--no-token */
} cli_globals;

int cli_server(int argc, char **argv, const cli_globals *g);
int cli_fetch(int argc, char **argv, const cli_globals *g); /* hidden: tests the HTTP client */
void cli_usage(int to_stderr);

#endif
