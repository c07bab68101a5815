/* agents_api.c - the /v1/agents resource (spec 4.2-4.5). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>

#include "../agents/agent.h"
#include "../agents/install.h"
#include "../base/log.h"
#include "../proc/proc.h"
#include "../json/json.h"
#include "routes.h"

void h_agents_list(srv_req *r)
{
	buf_t b;
	jw_t w;
	buf_init(&b);
	jw_init(&w, &b);
	jw_obj(&w);
	inst_version_attach(srv_loop());
	jw_key(&w, "agents");
	jw_arr(&w);
	for (int i = 0; i < 5; i++)
		agent_write_info(agent_all[i], &w);
	jw_arr_end(&w);
	jw_obj_end(&w);
	srv_respond_json(r, 200, &b);
	buf_free(&b);
}

static const agent_ops *find_or_fail(srv_req *r)
{
	const agent_ops *a = agent_find(r->params[0]);
	if (!a)
		err_unsupported_agent(r, r->params[0]);
	return a;
}

void h_agent_modes(srv_req *r)
{
	const agent_ops *a = find_or_fail(r);
	if (!a)
		return;
	buf_t b;
	jw_t w;
	buf_init(&b);
	jw_init(&w, &b);
	jw_obj(&w);
	jw_key(&w, "modes");
	jw_arr(&w);
	for (int i = 0; i < a->nmodes; i++) {
		jw_obj(&w);
		jw_kstr(&w, "id", a->modes[i].id);
		jw_kstr(&w, "name", a->modes[i].name);
		jw_kstr(&w, "description", a->modes[i].description);
		jw_obj_end(&w);
	}
	jw_arr_end(&w);
	jw_obj_end(&w);
	srv_respond_json(r, 200, &b);
	buf_free(&b);
}

void h_agent_models(srv_req *r)
{
	const agent_ops *a = find_or_fail(r);
	if (!a)
		return;
	buf_t b;
	jw_t w;
	buf_init(&b);
	jw_init(&w, &b);
	jw_obj(&w);
	jw_key(&w, "models");
	jw_arr(&w);
	for (int i = 0; i < a->nmodels; i++) {
		jw_obj(&w);
		jw_kstr(&w, "id", a->models[i].id);
		if (a->models[i].name)
			jw_kstr(&w, "name", a->models[i].name);
		jw_obj_end(&w);
	}
	jw_arr_end(&w);
	if (a->default_model)
		jw_kstr(&w, "defaultModel", a->default_model);
	jw_obj_end(&w);
	srv_respond_json(r, 200, &b);
	buf_free(&b);
}

/* ---- install: one child per agent, every request for it waits ----
 *
 * The download and unpacking run in "<self> install-agent <agent>
 * --quiet-json", so the loop never blocks. Requests arriving while a
 * child runs for the same agent wait for that child; the answer (204,
 * or 500 install_failed with the child's error) goes to all of them. */

typedef struct waiter {
	struct waiter *next;
	srv_req *r;
} waiter;

typedef struct {
	proc_t *p;
	waiter *waiting;
	buf_t error; /* from the child's JSON result line */
} install_job;

static install_job jobs[5];

static void install_abort(srv_req *r, void *ud)
{
	install_job *j = ud;
	for (waiter **w = &j->waiting; *w; w = &(*w)->next) {
		if ((*w)->r == r) {
			waiter *dead = *w;
			*w = dead->next;
			free(dead);
			return;
		}
	}
}

static void install_line(proc_t *p, void *ud, const char *line, size_t len, bool truncated)
{
	install_job *j = ud;
	json_tok t[16];
	if (json_parse(line, len, t, 16) <= 0 || t[0].type != JSON_OBJECT)
		return;
	int e = json_obj_get_type(line, t, 0, "error", JSON_STRING);
	if (e >= 0) {
		char *msg = json_str_dup(line, t, e, NULL);
		buf_reset(&j->error);
		buf_puts(&j->error, msg);
		free(msg);
	}
}

static void install_exit(proc_t *p, void *ud, int status)
{
	install_job *j = ud;
	bool ok = WIFEXITED(status) && WEXITSTATUS(status) == 0;
	const agent_ops *a = agent_all[j - jobs];
	if (!ok && !j->error.len)
		proc_stderr_tail(p, &j->error, 20);
	if (!ok && !j->error.len)
		buf_printf(&j->error, "install process failed (status %d)", status);
	j->p = NULL;
	while (j->waiting) {
		waiter *w = j->waiting;
		j->waiting = w->next;
		w->r->on_abort = NULL;
		if (ok)
			srv_respond_empty(w->r, 204);
		else
			err_install_failed(w->r, a->id, buf_cstr(&j->error));
		free(w);
	}
	if (ok)
		log_info("agent %s installed", a->id);
	else
		log_warn("agent %s install failed: %s", a->id, buf_cstr(&j->error));
	buf_free(&j->error);
}

static const proc_ops install_ops = {install_line, install_exit};

void h_agent_install(srv_req *r)
{
	json_tok t[64];
	const char *js;
	int n;
	if (!srv_json_body(r, &js, t, 64, &n))
		return;
	const agent_ops *a = find_or_fail(r);
	if (!a)
		return;
	int ri = json_obj_get(js, t, 0, "reinstall");
	bool reinstall = false;
	if (ri >= 0 && t[ri].type != JSON_NULL && !json_get_bool(js, t, ri, &reinstall)) {
		srv_unprocessable(r, "invalid body: reinstall must be a boolean");
		return;
	}
	if (!a->binary) {
		srv_respond_empty(r, 204);
		return;
	}
	install_job *j = NULL;
	for (int i = 0; i < 5; i++)
		if (agent_all[i] == a)
			j = &jobs[i];
	if (!j->p) {
		char *path = agent_resolve_binary(a);
		bool have = path != NULL;
		free(path);
		if (have && !reinstall) {
			srv_respond_empty(r, 204);
			return;
		}
		const char *argv[] = {"sandbox-agent", "install-agent", a->id, "--quiet-json",
			reinstall ? "--reinstall" : NULL, NULL};
		proc_spec sp = {.path = "/proc/self/exe", .argv = argv};
		char err[256];
		buf_init(&j->error);
		j->p = proc_spawn(srv_loop(), &sp, &install_ops, j, err, sizeof err);
		if (!j->p) {
			err_install_failed(r, a->id, err);
			return;
		}
		proc_close_stdin(j->p);
		log_info("installing agent %s (pid %d)", a->id, (int)proc_pid(j->p));
	}
	/* Answered when the child exits (install_exit). */
	waiter *w = xcalloc(1, sizeof *w);
	w->r = r;
	w->next = j->waiting;
	j->waiting = w;
	r->on_abort = install_abort;
	r->abort_ud = j;
}
