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
int cli_install_agent(int argc, char **argv, const cli_globals *g);
int cli_credentials(int argc, char **argv, const cli_globals *g);
void cli_usage(int to_stderr);

#endif
