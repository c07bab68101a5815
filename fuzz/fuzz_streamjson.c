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

#include "fuzz_events.h"

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
