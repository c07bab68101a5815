/* fuzz_http_response.c - libFuzzer target for http_parse_response and
 * http_response_framing: spans inside the head, exact-head re-parse, and
 * prefixes giving HTTP_INCOMPLETE or the same result. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "http/http.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define REQUIRE(c) do { if (!(c)) { fprintf(stderr, "property failed: %s (line %d)\n", #c, __LINE__); abort(); } } while (0)

static void in_span(const char *base, int n, const char *p, size_t len)
{
	REQUIRE(p >= base && p <= base + n && len <= (size_t)(base + n - p));
}

static void same(const http_response *a, const char *pa, const http_response *b, const char *pb)
{
	size_t i;
	REQUIRE(a->minor == b->minor && a->status == b->status && a->nheaders == b->nheaders);
	REQUIRE(a->reason - pa == b->reason - pb && a->reason_len == b->reason_len);
	for (i = 0; i < a->nheaders; i++) {
		REQUIRE(a->headers[i].name - pa == b->headers[i].name - pb);
		REQUIRE(a->headers[i].name_len == b->headers[i].name_len);
		REQUIRE(a->headers[i].value - pa == b->headers[i].value - pb);
		REQUIRE(a->headers[i].value_len == b->headers[i].value_len);
	}
}

static void check_prefix(const char *buf, size_t cut, int r, const http_response *full)
{
	http_response p;
	char *copy = malloc(cut ? cut : 1);
	int pr;
	memcpy(copy, buf, cut);
	pr = http_parse_response(copy, cut, &p);
	REQUIRE(pr == HTTP_INCOMPLETE || pr == r);
	if (pr > 0)
		same(full, buf, &p, copy);
	free(copy);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const char *buf = (const char *)data;
	http_response a, b;
	http_resp_framing f;
	uint32_t h = 2166136261u;
	size_t i;
	int r;

	r = http_parse_response(buf, size, &a);
	REQUIRE(r == HTTP_BAD || r == HTTP_INCOMPLETE || r == HTTP_TOO_MANY || (r > 0 && (size_t)r <= size));
	if (r > 0) {
		REQUIRE(a.status >= 100 && a.status <= 599 && (a.minor == 0 || a.minor == 1));
		in_span(buf, r, a.reason, a.reason_len);
		REQUIRE(memchr(a.reason, '\r', a.reason_len) == NULL);
		for (i = 0; i < a.nheaders; i++) {
			in_span(buf, r, a.headers[i].name, a.headers[i].name_len);
			in_span(buf, r, a.headers[i].value, a.headers[i].value_len);
			REQUIRE(a.headers[i].name_len > 0);
		}
		{
			char *copy = malloc((size_t)r);
			memcpy(copy, buf, (size_t)r);
			REQUIRE(http_parse_response(copy, (size_t)r, &b) == r);
			same(&a, buf, &b, copy);
			free(copy);
		}
		if (http_response_framing(&a, true, &f) == 0)
			REQUIRE(f.no_body && !f.close_delimited);
		if (http_response_framing(&a, false, &f) == 0) {
			/* Exactly one way to find the end of the body. */
			REQUIRE(f.no_body + f.chunked + f.has_length + f.close_delimited == 1);
			REQUIRE(!(f.close_delimited && f.keep_alive));
			REQUIRE(f.no_body == (a.status < 200 || a.status == 204 || a.status == 304));
		}
	}
	for (i = 0; i < size; i++)
		h = (h ^ data[i]) * 16777619u;
	if (size) {
		check_prefix(buf, h % (size + 1), r, &a);
		check_prefix(buf, (h >> 16) % (size + 1), r, &a);
	}
	return 0;
}
