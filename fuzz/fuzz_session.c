/* fuzz_session.c - the recording pipeline and the event serializer: a
 * random series of conversions (items, deltas, HITL, errors, ends,
 * unparsed payloads with arbitrary bytes) goes through sess_record.
 * Every stored event must parse as one JSON object whose sequence equals
 * its position, with event_id "evt_<sequence>"; item.started appears at
 * most once per item id. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "agents/agent.h"
#include "json/json.h"
#include "session/session.h"

static const agent_ops no_item_start = {
	.id = "fuzz", .binary = "fuzz",
	.caps = {[CAP_ITEM_STARTED] = 0},
};

typedef struct {
	const uint8_t *p;
	size_t n;
} input;

static unsigned take(input *in)
{
	if (!in->n)
		return 0;
	in->n--;
	return *in->p++;
}

/* A short string from the input (possibly invalid UTF-8), or one of a
 * few fixed names so that ids collide often. */
static char *str(input *in, char *out, size_t cap)
{
	static const char *const names[] = {"a", "b", "user_1", "itm_1", "tmp_x", "", "AskUserQuestion",
		"fileChange", "x_pending_assistant_1"};
	unsigned k = take(in);
	if (k < 200) {
		snprintf(out, cap, "%s", names[k % 9]);
		return out;
	}
	size_t len = take(in) % (cap - 1);
	if (len > in->n)
		len = in->n;
	memcpy(out, in->p, len);
	out[len] = 0; /* embedded NULs just shorten it */
	in->p += len;
	in->n -= len;
	return out;
}

static void check_log(const session *s)
{
	static json_tok t[4096];
	buf_t b;
	buf_init(&b);
	for (size_t i = 0; i < s->nev; i++) {
		buf_reset(&b);
		sess_write_event(s, i, (i & 1) != 0, &b);
		int n = json_parse(b.p, b.len, t, 4096);
		if (n < 0 && n != JSON_ERR_NOMEM)
			abort();
		if (n > 0) {
			uint64_t seq;
			int si = json_obj_get(b.p, t, 0, "sequence");
			if (si < 0 || !json_get_u64(b.p, t, si, &seq) || seq != i + 1)
				abort();
			char eid[32];
			snprintf(eid, sizeof eid, "evt_%zu", i + 1);
			if (!json_str_eq(b.p, t, json_obj_get(b.p, t, 0, "event_id"), eid))
				abort();
		}
	}
	buf_free(&b);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	input in = {data, size};
	const agent_ops *a = take(&in) & 1 ? &agent_mock : &no_item_start;
	session *s = sess_new("x", a);
	s->permission_mode = strdup(take(&in) & 1 ? "acceptEdits" : "default");
	sess_register(s);
	char s1[64], s2[64], s3[64];
	buf_t content;
	buf_init(&content);
	for (int ops = 0; ops < 64 && in.n; ops++) {
		unsigned op = take(&in) % 12;
		ev_conv c = {.synthetic = take(&in) & 1};
		switch (op) {
		case 0:
			sess_push_pending_assistant(s);
			continue;
		case 1:
		case 2: {
			jw_t w;
			buf_reset(&content);
			jw_init(&w, &content);
			jw_arr(&w);
			jw_obj(&w);
			jw_kstr(&w, "type", "text");
			jw_kstr(&w, "text", str(&in, s3, sizeof s3));
			jw_obj_end(&w);
			jw_arr_end(&w);
			c.type = op == 1 ? EV_ITEM_STARTED : EV_ITEM_COMPLETED;
			c.u.item.item_id = take(&in) & 1 ? str(&in, s1, sizeof s1) : NULL;
			c.u.item.native_item_id = take(&in) & 1 ? str(&in, s2, sizeof s2) : NULL;
			c.u.item.parent_id = take(&in) & 1 ? "native-parent" : NULL;
			c.u.item.kind = take(&in) & 1 ? "message" : "tool_call";
			c.u.item.role = take(&in) & 1 ? "assistant" : "user";
			c.u.item.content_json = buf_cstr(&content);
			c.u.item.status = "completed";
			break;
		}
		case 3:
			c.type = EV_ITEM_DELTA;
			c.u.delta.native_item_id = take(&in) & 1 ? str(&in, s2, sizeof s2) : NULL;
			c.u.delta.delta = str(&in, s3, sizeof s3);
			c.u.delta.delta_len = strlen(s3);
			break;
		case 4:
		case 5:
			c.type = op == 4 ? EV_PERMISSION_REQUESTED : EV_PERMISSION_RESOLVED;
			c.u.perm.id = str(&in, s1, sizeof s1);
			c.u.perm.action = str(&in, s2, sizeof s2);
			c.u.perm.status = op == 4 ? "requested" : "accept";
			c.u.perm.metadata_json = take(&in) & 1 ? "{\"toolName\":\"Bash\"}" : NULL;
			break;
		case 6:
			if (s->nperms) {
				pending_perm t;
				sess_take_perm(s, &s->perms[0], &t);
				sess_allow_always(s, &t);
				sess_free_perm(&t);
			}
			continue;
		case 7:
		case 8:
			c.type = op == 7 ? EV_QUESTION_REQUESTED : EV_QUESTION_RESOLVED;
			c.u.question.id = str(&in, s1, sizeof s1);
			c.u.question.prompt = str(&in, s2, sizeof s2);
			c.u.question.options_json = "[\"Yes\",\"No\"]";
			c.u.question.status = op == 7 ? "requested" : "answered";
			break;
		case 9:
			c.type = EV_ERROR;
			c.u.error.message = str(&in, s1, sizeof s1);
			break;
		case 10: {
			size_t len = take(&in) % 64;
			if (len > in.n)
				len = in.n;
			sess_record_unparsed(s, "bad line", "fuzz", (const char *)in.p, len);
			in.p += len;
			in.n -= len;
			continue;
		}
		default:
			c.type = take(&in) & 1 ? EV_SESSION_STARTED : EV_TURN_ENDED;
			break;
		}
		sess_record(s, &c);
	}
	check_log(s);
	buf_free(&content);
	sess_free_all();
	return 0;
}
