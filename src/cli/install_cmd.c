/* install_cmd.c - `sandbox-agent install-agent <agent|all> ...`: installs
 * agent binaries without a server (spec 11.3), with a progress bar on a
 * terminal and plain lines otherwise. `--quiet-json` is what the server
 * runs in its install child: no progress, one JSON result line on
 * stdout. Depends on agents/install and json/. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "../agents/install.h"
#include "../base/util.h"
#include "../json/json.h"
#include "cli.h"

static const char install_usage[] =
	"Usage: sandbox-agent install-agent <AGENT|all> [OPTIONS]\n"
	"\n"
	"Installs claude, codex, opencode, amp (or mock) into\n"
	"$XDG_DATA_HOME/sandbox-agent/bin (default ~/.local/share/sandbox-agent/bin).\n"
	"\n"
	"Options:\n"
	"  -r, --reinstall        Install even if the agent is already installed\n"
	"      --version V        Version to install (default: latest)\n"
	"      --source S         official (release artifacts, default) or npm\n"
	"      --registry URL     npm registry (default: NPM_CONFIG_REGISTRY, ~/.npmrc)\n"
	"      --ca-file FILE     Trust anchors (PEM) instead of the system bundle\n"
	"      --timeout-ms MS    Connect and read timeout\n"
	"      --quiet-json       No progress; print one JSON result line\n"
	"  -h, --help             Print this help\n";

#define BAR_EVERY_MS 100    /* redraw of the progress bar on a terminal */
#define LINE_EVERY_MS 5000  /* a plain progress line otherwise */
#define BAR_WIDTH 30

typedef struct {
	bool tty;
	uint64_t t0, last; /* start of the download, last report shown */
	bool bar;          /* a bar line is on screen */
} ui_t;

static void clear_bar(ui_t *u)
{
	if (u->bar)
		fputs("\r\033[K", stderr);
	u->bar = false;
}

static void on_note(void *ud, const char *agent, const char *msg)
{
	ui_t *u = ud;
	clear_bar(u);
	fprintf(stderr, "%s: %s\n", agent, msg);
}

static void human(char *out, size_t cap, double b)
{
	if (b >= 1024.0 * 1024)
		snprintf(out, cap, "%.1f MiB", b / (1024.0 * 1024));
	else
		snprintf(out, cap, "%.0f KiB", b / 1024.0);
}

/* A bar with bytes, rate and ETA on a terminal, redrawn in place; a
 * plain line every LINE_EVERY_MS otherwise (logs, pipes); and one line
 * with the totals at the end in both cases. */
static void on_progress(void *ud, const inst_progress *p)
{
	ui_t *u = ud;
	uint64_t now = util_mono_ms();
	bool end = p->total && p->done == p->total;
	char d[32], t[32], r[32];

	if (p->done == 0) {
		u->t0 = u->last = now;
		return;
	}
	if (!end && now - u->last < (u->tty ? BAR_EVERY_MS : LINE_EVERY_MS))
		return;
	u->last = now;
	double secs = (double)(now - u->t0) / 1000.0;
	double rate = secs > 0 ? (double)p->done / secs : 0;
	human(d, sizeof d, (double)p->done);
	human(r, sizeof r, rate);
	human(t, sizeof t, (double)p->total);
	if (end) {
		clear_bar(u);
		fprintf(stderr, "%s: downloaded %s in %.1f s (%s/s)\n", p->agent, d, secs, r);
		return;
	}
	if (!u->tty) {
		fprintf(stderr, "%s: %s %s", p->agent, p->phase, d);
		if (p->total)
			fprintf(stderr, " / %s (%d%%)", t, (int)(100 * p->done / p->total));
		fprintf(stderr, ", %s/s\n", r);
		return;
	}
	fprintf(stderr, "\r\033[K%s: %s ", p->agent, p->phase);
	if (p->total) {
		int w = (int)(BAR_WIDTH * p->done / p->total);
		fputc('[', stderr);
		for (int i = 0; i < BAR_WIDTH; i++)
			fputc(i < w ? '#' : '-', stderr);
		fprintf(stderr, "] %s / %s  %s/s", d, t, r);
		if (rate > 0)
			fprintf(stderr, "  ETA %.0fs", (double)(p->total - p->done) / rate);
	} else {
		fprintf(stderr, "%s  %s/s", d, r);
	}
	u->bar = true;
}

static void fail_line(const char *msg)
{
	fputs("sandbox-agent failed error=\"", stderr);
	for (const char *c = msg; *c; c++) {
		if (*c == '"' || *c == '\\')
			fputc('\\', stderr);
		fputc(*c, stderr);
	}
	fputs("\"\n", stderr);
}

static int install_one(inst_opts *o, bool json, ui_t *u)
{
	buf_t path, out;
	char err[1024];
	int rc;

	buf_init(&path);
	rc = inst_install(o, &path, err, sizeof err);
	clear_bar(u);
	if (json) {
		jw_t w;
		buf_init(&out);
		jw_init(&w, &out);
		jw_obj(&w);
		jw_kstr(&w, "agent", o->agent);
		jw_kbool(&w, "ok", rc >= 0);
		if (rc < 0)
			jw_kstr(&w, "error", err);
		else
			jw_kstr(&w, "path", buf_cstr(&path));
		jw_kbool(&w, "installed", rc > 0);
		jw_obj_end(&w);
		printf("%s\n", buf_cstr(&out));
		buf_free(&out);
	} else if (rc < 0) {
		fail_line(err);
	} else {
		char ver[200] = "";
		if (strcmp(o->agent, "mock"))
			inst_probe_version(buf_cstr(&path), ver, sizeof ver);
		printf("%s: %s %s%s%s%s\n", o->agent, rc > 0 ? "installed" : "already installed at",
				buf_cstr(&path), ver[0] ? " (" : "", ver, ver[0] ? ")" : "");
	}
	fflush(stdout);
	buf_free(&path);
	return rc < 0 ? 1 : 0;
}

int cli_install_agent(int argc, char **argv, const cli_globals *g)
{
	static const char *const all[] = {"claude", "codex", "opencode", "amp"};
	inst_opts o = {0};
	ui_t u = {0};
	const char *agent = NULL, *e;
	bool json = false;
	uint64_t v;
	int rc = 0;

	(void)g;
	for (int i = 1; i < argc; i++) {
		const char *a = argv[i], *val = i + 1 < argc ? argv[i + 1] : NULL;
		if (!strcmp(a, "-h") || !strcmp(a, "--help")) {
			fputs(install_usage, stdout);
			return 0;
		} else if (!strcmp(a, "-r") || !strcmp(a, "--reinstall")) {
			o.reinstall = true;
		} else if (!strcmp(a, "--quiet-json")) {
			json = true;
		} else if (a[0] != '-' && !agent) {
			agent = a;
		} else if (!strcmp(a, "--version") || !strcmp(a, "--source") ||
				!strcmp(a, "--registry") || !strcmp(a, "--ca-file") ||
				!strcmp(a, "--timeout-ms")) {
			if (!val) {
				fprintf(stderr, "error: %s needs a value\n\n%s", a, install_usage);
				return 2;
			}
			i++;
			if (a[2] == 'v') {
				o.version = val;
			} else if (a[2] == 'r') {
				o.registry = val;
			} else if (a[2] == 'c') {
				o.ca_file = val;
			} else if (a[2] == 't') {
				if (!util_parse_u64(val, strlen(val), &v) || !v || v > 86400000) {
					fprintf(stderr, "error: invalid --timeout-ms: %s\n", val);
					return 2;
				}
				o.timeout_ms = (unsigned)v;
			} else if (!strcmp(val, "npm")) {
				o.source = INST_NPM;
			} else if (strcmp(val, "official")) {
				fprintf(stderr, "error: --source must be official or npm\n");
				return 2;
			}
		} else {
			fprintf(stderr, "error: unexpected argument '%s'\n\n%s", a, install_usage);
			return 2;
		}
	}
	if (!agent) {
		fprintf(stderr, "error: missing AGENT\n\n%s", install_usage);
		return 2;
	}
	if (!o.timeout_ms && (e = getenv("SANDBOX_AGENT_INSTALL_TIMEOUT_MS")) &&
			util_parse_u64(e, strlen(e), &v) && v && v <= 86400000)
		o.timeout_ms = (unsigned)v;
	if (!json) {
		u.tty = isatty(2);
		o.on_note = on_note;
		o.on_progress = on_progress;
		o.ud = &u;
	}
	if (strcmp(agent, "all")) {
		o.agent = agent;
		return install_one(&o, json, &u);
	}
	for (size_t i = 0; i < sizeof all / sizeof all[0]; i++) {
		o.agent = all[i];
		rc |= install_one(&o, json, &u);
	}
	return rc;
}
