/* install.h - installing agent binaries (spec 8.4, 8.5): platform
 * detection, the official release artifacts or the agents' npm packages,
 * streamed over HTTP(S) through the checks (npm integrity, Claude's
 * manifest) and our own gzip/tar readers into a temporary file, in
 * bounded memory, then renamed into place, so a failed install leaves
 * nothing behind. Installs of one agent by several processes are
 * serialized with a lock file.
 *
 * Also the version cache of GET /v1/agents: "<bin> --version" runs as a
 * child process from the loop, and its answer is kept per binary (path,
 * inode, size, mtime), so listing agents never waits for a binary.
 *
 * Depends on base/ (inflate, tar, sha), json/, http/client, proc/. */
#ifndef AGENTS_INSTALL_H
#define AGENTS_INSTALL_H
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include "../base/buf.h"
#include "../net/loop.h"

#define INST_MAX_DOWNLOAD (1024u * 1024 * 1024) /* compressed artifact */
#define INST_MAX_UNPACKED (4ull << 30)           /* bytes produced by gunzip */
#define INST_MAX_META (32u * 1024 * 1024)        /* packument, version text, manifest */
#define INST_MAX_ENTRIES 200000                  /* files in an extracted package */
#define INST_VERSION_TIMEOUT_MS 10000            /* one "<bin> --version" run */

enum { INST_OFFICIAL = 0, INST_NPM };

/* Progress of the current artifact, reported as its bytes arrive (they
 * are checked and unpacked on the way, so there is no later phase):
 * first with done = 0, then after every piece, and the last report has
 * done == total (total is 0 until then when the server sent no length). */
typedef struct {
	const char *agent;
	const char *phase; /* "download" */
	uint64_t done, total;
} inst_progress;

typedef struct {
	const char *agent;     /* claude, codex, opencode, amp, mock */
	const char *version;   /* NULL: latest (or the npm dist-tag "latest") */
	bool reinstall;
	int source;            /* INST_OFFICIAL or INST_NPM */
	const char *registry;  /* npm registry; NULL: environment, then ~/.npmrc */
	const char *ca_file;   /* trust anchors replacing the system bundle */
	unsigned timeout_ms;   /* connect/read timeout; 0: the client's defaults */
	/* Optional reporting; called from the installing process. */
	void (*on_progress)(void *ud, const inst_progress *p);
	void (*on_note)(void *ud, const char *agent, const char *msg);
	void *ud;
} inst_opts;

/* Installs one agent (blocking: for the CLI and the install child,
 * never the server loop). Returns 1 if installed, 0 if it was already
 * there (and not reinstall), -1 with err filled. path receives the
 * installed binary (may be NULL). */
int inst_install(const inst_opts *o, buf_t *path, char *err, size_t errcap);

/* <data_dir>/sandbox-agent/bin (spec 8.4). */
void inst_bin_dir(buf_t *out);
/* Platform tag used for artifacts, e.g. "linux-x64-musl"; -1 with err
 * for an unsupported platform. */
int inst_platform_name(char *out, size_t cap, char *err, size_t errcap);
/* The npm registry to use: explicit, else NPM_CONFIG_REGISTRY /
 * npm_config_registry, else registry= in the user's npmrc. Returns 0
 * (out without a trailing '/') or -1 if none is configured. */
int inst_npm_registry(const char *explicit_url, const char *scope, buf_t *out);

/* First line of "<bin> --version" (then "version", then "-V") per spec
 * 8.4, cut before " (". Blocking, with INST_VERSION_TIMEOUT_MS per run;
 * for the CLI. Returns 0 or -1. */
int inst_probe_version(const char *bin, char *out, size_t cap);

/* Version cache for the server. inst_version_attach gives it the loop
 * its probe children run on; inst_version_get returns the cached
 * version of the binary at path, or NULL while it is unknown (a probe
 * is then started, once per binary). */
void inst_version_attach(loop_t *l);
const char *inst_version_get(const char *path);

#endif
