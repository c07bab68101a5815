/* fuzz_events.h - the property check shared by the converter fuzz
 * targets: every stored event serializes to one JSON object whose
 * sequence equals its position, and each item id starts at most once,
 * before any delta or completion of it. */
#ifndef FUZZ_EVENTS_H
#define FUZZ_EVENTS_H
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

#include "base/strmap.h"
#include "json/json.h"
#include "session/session.h"

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

#endif
