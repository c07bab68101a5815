/* test_sse.c - unit tests for the SSE writer and the incremental
 * event-stream parser. */
#include <stdlib.h>
#include <string.h>

#include "base/buf.h"
#include "http/sse.h"
#include "t.h"

/* Events seen by the callback, flattened as "event|data|id\n". */
struct seen {
	buf_t log;
	int n;
	int stop_after; /* return 7 from the n-th event; 0: never */
};

static int collect(void *ud, const char *ev, size_t elen, const char *data, size_t dlen,
		const char *id, size_t idlen)
{
	struct seen *s = ud;
	/* The slices are NUL-terminated for convenience. */
	CHECK(ev[elen] == '\0' && data[dlen] == '\0' && id[idlen] == '\0');
	buf_append(&s->log, ev, elen);
	buf_putc(&s->log, '|');
	buf_append(&s->log, data, dlen);
	buf_putc(&s->log, '|');
	buf_append(&s->log, id, idlen);
	buf_putc(&s->log, '\n');
	s->n++;
	return s->stop_after && s->n == s->stop_after ? 7 : 0;
}

/* Parses the stream fed in pieces of `step` bytes (0: all at once);
 * returns the feed result, events in s. */
static int parse_steps(const char *in, size_t n, size_t step, size_t max, struct seen *s)
{
	sse_parser ps;
	size_t off = 0;
	int r = 0;

	buf_init(&s->log);
	s->n = 0;
	sse_parser_init(&ps, max);
	if (step == 0)
		step = n ? n : 1;
	while (off < n && r == 0) {
		size_t k = n - off < step ? n - off : step;
		r = sse_parser_feed(&ps, in + off, k, collect, s);
		off += k;
	}
	sse_parser_free(&ps);
	return r;
}

/* The same stream in every piece size gives want (and result r). */
static void parse_case(const char *in, size_t max, int want_r, const char *want)
{
	static const size_t steps[] = {0, 1, 2, 3, 5, 8};
	size_t n = strlen(in), i;
	for (i = 0; i < sizeof steps / sizeof steps[0]; i++) {
		struct seen s = {0};
		int r = parse_steps(in, n, steps[i], max, &s);
		CHECK_INT(r, want_r);
		CHECK_MEM(s.log.p ? s.log.p : "", s.log.len, want);
		buf_free(&s.log);
	}
}

static void write_case(int has_id, uint64_t id, const char *data, size_t n, const char *want)
{
	buf_t b;
	buf_init(&b);
	sse_write_event(&b, has_id, id, data, n);
	CHECK_MEM(b.p, b.len, want);
	buf_free(&b);
}

static void test_writer(void)
{
	buf_t b;

	write_case(0, 0, "{\"a\":1}", 7, "data:{\"a\":1}\n\n");
	write_case(1, 42, "x", 1, "id:42\ndata:x\n\n");
	write_case(1, 0, "x", 1, "id:0\ndata:x\n\n");
	write_case(1, UINT64_MAX, "", 0, "id:18446744073709551615\ndata:\n\n");
	write_case(0, 0, "", 0, "data:\n\n");
	write_case(0, 0, NULL, 0, "data:\n\n");
	write_case(0, 0, "a\nb", 3, "data:a\ndata:b\n\n");
	write_case(0, 0, "a\rb", 3, "data:a\ndata:b\n\n");
	write_case(0, 0, "a\r\nb", 4, "data:a\ndata:b\n\n");
	write_case(0, 0, "a\n\nb", 4, "data:a\ndata:\ndata:b\n\n");
	write_case(0, 0, "a\r\rb", 4, "data:a\ndata:\ndata:b\n\n");
	write_case(0, 0, "a\n", 2, "data:a\ndata:\n\n");
	write_case(0, 0, "\n", 1, "data:\ndata:\n\n");
	write_case(0, 0, "a\r", 2, "data:a\ndata:\n\n");
	write_case(0, 0, "a\n\r", 3, "data:a\ndata:\ndata:\n\n");
	write_case(0, 0, " lead", 5, "data:  lead\n\n");
	write_case(0, 0, "a\n b", 4, "data:a\ndata:  b\n\n");

	/* Bytes other than CR and LF pass through, NUL included. */
	buf_init(&b);
	sse_write_event(&b, 0, 0, "a\0b", 3);
	CHECK(b.len == 10 && memcmp(b.p, "data:a\0b\n\n", 10) == 0);
	buf_reset(&b);
	sse_write_comment(&b, "keep-alive");
	CHECK_MEM(b.p, b.len, ": keep-alive\n\n");
	buf_reset(&b);
	sse_write_comment(&b, "");
	CHECK_MEM(b.p, b.len, ":\n\n");
	buf_reset(&b);
	sse_write_comment(&b, "a\r\ndata:x");
	CHECK_MEM(b.p, b.len, ": a\n: data:x\n\n");
	buf_reset(&b);
	sse_write_comment(&b, NULL);
	CHECK_MEM(b.p, b.len, ":\n\n");
	/* Appends, never replaces. */
	buf_reset(&b);
	sse_write_event(&b, 0, 0, "1", 1);
	sse_write_event(&b, 0, 0, "2", 1);
	CHECK_MEM(b.p, b.len, "data:1\n\ndata:2\n\n");
	buf_free(&b);
}

/* Whatever the writer emits, the parser gives back (CR/CRLF as LF). */
static void roundtrip(const char *data, const char *want_data, int has_id, uint64_t id)
{
	buf_t b, want;
	struct seen s = {0};
	buf_init(&b);
	buf_init(&want);
	sse_write_event(&b, has_id, id, data, strlen(data));
	sse_write_comment(&b, "ping");
	buf_printf(&want, "message|%s|", want_data);
	if (has_id)
		buf_printf(&want, "%llu", (unsigned long long)id);
	buf_putc(&want, '\n');
	CHECK_INT(parse_steps(b.p, b.len, 1, 0, &s), 0);
	CHECK_INT(s.n, 1);
	CHECK_MEM(s.log.p, s.log.len, buf_cstr(&want));
	buf_free(&s.log);
	buf_free(&b);
	buf_free(&want);
}

static void test_roundtrip(void)
{
	roundtrip("{\"type\":\"item.delta\"}", "{\"type\":\"item.delta\"}", 0, 0);
	roundtrip("a\nb\r\nc\rd", "a\nb\nc\nd", 1, 9);
	roundtrip("", "", 1, 1);
	roundtrip("trailing\n", "trailing\n", 0, 0);
	roundtrip(" spaced", " spaced", 0, 0);
	roundtrip("x\n  two", "x\n  two", 0, 0);
	roundtrip(":colon", ":colon", 0, 0);
}

static void test_parser(void)
{
	/* Basics: one event, default name, no id. */
	parse_case("data:hello\n\n", 0, 0, "message|hello|\n");
	parse_case("data: hello\n\n", 0, 0, "message|hello|\n");
	parse_case("data:  two\n\n", 0, 0, "message| two|\n");
	/* Multi-line data joined with LF. */
	parse_case("data:a\ndata:b\ndata\ndata:\n\n", 0, 0, "message|a\nb\n\n|\n");
	/* An empty data line still makes an event. */
	parse_case("data\n\n", 0, 0, "message||\n");
	parse_case("data:\n\n", 0, 0, "message||\n");
	/* No data: nothing dispatched, and the event name does not leak. */
	parse_case("event:x\n\ndata:y\n\n", 0, 0, "message|y|\n");
	parse_case("\n\n\n", 0, 0, "");
	/* Comments. */
	parse_case(": hi\n:\ndata:a\n: mid\ndata:b\n\n", 0, 0, "message|a\nb|\n");
	parse_case(":only comments\n\n", 0, 0, "");
	/* Line ends: CR, LF, CRLF, mixed. */
	parse_case("data:a\r\n\r\ndata:b\r\rdata:c\n\n", 0, 0, "message|a|\nmessage|b|\nmessage|c|\n");
	parse_case("data:a\r\ndata:b\r\n\r\n", 0, 0, "message|a\nb|\n");
	parse_case("data:a\n\r\n", 0, 0, "message|a|\n");
	/* event and id fields; the id stays for later events. */
	parse_case("event:delta\nid:7\ndata:x\n\ndata:y\n\n", 0, 0, "delta|x|7\nmessage|y|7\n");
	parse_case("id: 1\ndata:x\n\nid\ndata:y\n\n", 0, 0, "message|x|1\nmessage|y|\n");
	parse_case("event: a\nevent: b\ndata:x\n\n", 0, 0, "b|x|\n");
	parse_case("event\ndata:x\n\n", 0, 0, "message|x|\n");
	/* retry and unknown fields ignored; field names are case-sensitive. */
	parse_case("retry:1000\nfoo:bar\nDATA:no\ndata:yes\n\n", 0, 0, "message|yes|\n");
	parse_case("data :x\ndata:y\n\n", 0, 0, "message|y|\n");
	/* Only the first colon splits. */
	parse_case("data:a:b: c\n\n", 0, 0, "message|a:b: c|\n");
	/* BOM at the start only. */
	parse_case("\xEF\xBB\xBF" "data:x\n\n", 0, 0, "message|x|\n");
	parse_case("\xEF\xBB\xBF\n" "data:x\n\n", 0, 0, "message|x|\n");
	parse_case("data:x\n\n\xEF\xBB\xBF" "data:y\n\n", 0, 0, "message|x|\n");
	/* Not terminated: not dispatched. */
	parse_case("data:x\n", 0, 0, "");
	parse_case("data:x", 0, 0, "");
	/* Non-ASCII data passes through. */
	parse_case("data:\xc3\xa9\xe2\x82\xac\n\n", 0, 0, "message|\xc3\xa9\xe2\x82\xac|\n");
}

static void test_split_crlf(void)
{
	sse_parser ps;
	struct seen s = {0};
	buf_init(&s.log);
	sse_parser_init(&ps, 0);
	/* A CR at the end of one feed and its LF at the start of the next
	 * are one line end, not two (which would dispatch early). */
	CHECK_INT(sse_parser_feed(&ps, "data:a\r", 7, collect, &s), 0);
	CHECK_INT(sse_parser_feed(&ps, "\ndata:b\r", 8, collect, &s), 0);
	CHECK_INT(s.n, 0);
	CHECK_INT(sse_parser_feed(&ps, "\n", 1, collect, &s), 0);
	CHECK_INT(s.n, 0);
	CHECK_INT(sse_parser_feed(&ps, "\r", 1, collect, &s), 0);
	CHECK_INT(s.n, 1);
	CHECK_INT(sse_parser_feed(&ps, "\n", 1, collect, &s), 0);
	CHECK_INT(sse_parser_feed(&ps, "", 0, collect, &s), 0);
	CHECK_INT(s.n, 1);
	CHECK_MEM(s.log.p, s.log.len, "message|a\nb|\n");
	/* Two CRs are two line ends. */
	CHECK_INT(sse_parser_feed(&ps, "data:c\r", 7, collect, &s), 0);
	CHECK_INT(sse_parser_feed(&ps, "\r", 1, collect, &s), 0);
	CHECK_INT(s.n, 2);
	sse_parser_free(&ps);
	buf_free(&s.log);
}

static void test_limits(void)
{
	sse_parser ps;
	struct seen s = {0};
	char big[300];

	/* Event of 10 data bytes with max 10: fine. "data:" counts toward the
	 * line while it is pending. */
	parse_case("data:12345\n\n", 10, 0, "message|12345|\n");
	parse_case("data:123456\n\n", 10, -1, "");
	/* Data accumulated over lines counts. */
	parse_case("data:ab\ndata:cd\ndata:ef\n\n", 12, 0, "message|ab\ncd\nef|\n");
	parse_case("data:ab\ndata:cd\ndata:ef\n\n", 11, -1, "");
	parse_case("data:ab\n\ndata:cd\n\ndata:ef\n\n", 11, 0, "message|ab|\nmessage|cd|\nmessage|ef|\n");
	/* An endless line without a line end is caught too. */
	memset(big, 'x', sizeof big - 1);
	big[sizeof big - 1] = '\0';
	parse_case(big, 100, -1, "");
	/* Events before the oversize one are delivered. */
	parse_case("data:ok\n\ndata:toolongtoolongtoolong\n\n", 16, -1, "message|ok|\n");

	/* A callback's non-zero return stops the feed at once. */
	buf_init(&s.log);
	s.stop_after = 1;
	sse_parser_init(&ps, 0);
	CHECK_INT(sse_parser_feed(&ps, "data:1\n\ndata:2\n\n", 16, collect, &s), 7);
	CHECK_INT(s.n, 1);
	sse_parser_free(&ps);
	buf_free(&s.log);

	/* No callback: parsing still works. */
	sse_parser_init(&ps, 0);
	CHECK_INT(sse_parser_feed(&ps, "data:1\n\n", 8, NULL, NULL), 0);
	CHECK_INT(ps.max_event, SSE_MAX_EVENT_DEFAULT);
	sse_parser_free(&ps);
	sse_parser_free(&ps); /* twice is harmless */
}

int main(void)
{
	test_writer();
	test_roundtrip();
	test_parser();
	test_split_crlf();
	test_limits();
	return t_done("sse");
}
