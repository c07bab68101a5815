/* fuzz_streamjson.c - arbitrary stream-json lines into the converter on a
 * real session. A line "#>" starts a turn (user item and placeholder), a
 * line "#!" aborts it. Properties: every stored event is one valid JSON
 * object with sequence = index + 1; an item is started at most once, and
 * deltas and completions only follow its start; a turn ended by a result
 * line is no longer open; no placeholder outlives a completed turn. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "agents/agent.h"
#include "agents/streamjson.h"
#include "base/strmap.h"
#include "json/json.h"
#include "session/session.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define REQUIRE(c) do { if (!(c)) { fprintf(stderr, "property failed: %s (line %d)\n", #c, __LINE__); abort(); } } while (0)
#define NTOK 65536

static json_tok tk[NTOK];

static void check_events(session *s)
{
	strmap started = {0};
	buf_t b;
	buf_init(&b);
	for (size_t i = 0; i < s->nev; i++) {
		buf_reset(&b);
		sess_write_event(s, i, true, &b);
		int n = json_parse(b.p, b.len, tk, NTOK);
		REQUIRE(n > 0 || n == JSON_ERR_NOMEM);
		if (n <= 0)
			continue;
		REQUIRE(tk[0].type == JSON_OBJECT);
		uint64_t seq = 0;
		REQUIRE(json_get_u64(b.p, tk, json_obj_get(b.p, tk, 0, "sequence"), &seq));
		REQUIRE(seq == i + 1);
		int ty = json_obj_get(b.p, tk, 0, "type");
		int d = json_obj_get(b.p, tk, 0, "data");
		REQUIRE(ty >= 0 && d >= 0 && tk[d].type == JSON_OBJECT);
		bool st = json_str_eq(b.p, tk, ty, "item.started");
		bool co = json_str_eq(b.p, tk, ty, "item.completed");
		bool de = json_str_eq(b.p, tk, ty, "item.delta");
		if (!st && !co && !de)
			continue;
		int it = de ? d : json_obj_get(b.p, tk, d, "item");
		int id = json_obj_get(b.p, tk, it, "item_id");
		REQUIRE(id >= 0 && tk[id].type == JSON_STRING);
		char *key = json_str_dup(b.p, tk, id, NULL);
		bool seen = strmap_get(&started, key) != NULL;
		if (st) {
			REQUIRE(!seen);
			strmap_put(&started, key, (void *)1);
		} else {
			REQUIRE(seen);
		}
		free(key);
	}
	buf_free(&b);
	strmap_free(&started);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	session *s = sess_new("fz", &agent_claude);
	s->permission_mode = xstrdup(size && (data[0] & 1) ? "acceptEdits" : "default");
	sess_register(s);
	sj_conv *c = sj_new(size && (data[0] & 2) ? "amp" : "claude");
	const char *p = (const char *)data, *end = p + size;
	while (p < end) {
		const char *nl = memchr(p, '\n', (size_t)(end - p));
		size_t n = nl ? (size_t)(nl - p) : (size_t)(end - p);
		if (n >= 2 && p[0] == '#' && p[1] == '>') {
			sj_turn_begin(c, s, p + 2, n - 2, NULL);
			sj_turn_ready(c, s);
			REQUIRE(sj_in_turn(c));
		} else if (n >= 2 && p[0] == '#' && p[1] == '!') {
			sj_turn_abort(c, s);
			REQUIRE(!sj_in_turn(c));
		} else {
			sj_effects fx;
			char *line = xmalloc(n ? n : 1); /* exact size: overreads show up */
			memcpy(line, p, n);
			sj_line(c, s, line, n, &fx);
			if (fx.turn_ended)
				REQUIRE(!sj_in_turn(c));
			if (fx.refuse_id)
				REQUIRE(strlen(fx.refuse_id) <= n);
			free(line);
		}
		REQUIRE(s->npending_asst <= 1);
		p += n + (nl ? 1 : 0);
	}
	sj_turn_abort(c, s);
	REQUIRE(s->npending_asst == 0);
	check_events(s);
	sj_free(c);
	sess_free_all();
	return 0;
}
