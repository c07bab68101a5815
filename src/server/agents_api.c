/* agents_api.c - the /v1/agents resource (spec 4.2-4.5). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../agents/agent.h"
#include "../json/json.h"
#include "routes.h"

void h_agents_list(srv_req *r)
{
	buf_t b;
	jw_t w;
	buf_init(&b);
	jw_init(&w, &b);
	jw_obj(&w);
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
	char *path = agent_resolve_binary(a);
	if (path && !reinstall) {
		free(path);
		srv_respond_empty(r, 204);
		return;
	}
	free(path);
	err_install_failed(r, a->id, "no install source is available for this agent in this build");
}
