/* fuzz_http_request.c - libFuzzer target for http_parse_request and
 * http_request_framing. Properties: every span lies inside the head; the
 * exact head re-parses to the same result; a prefix (cut at two
 * input-derived points, in an exactly sized copy) gives HTTP_INCOMPLETE or
 * the same result; framing is consistent. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "http/http.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define REQUIRE(c) do { if (!(c)) { fprintf(stderr, "property failed: %s (line %d)\n", #c, __LINE__); abort(); } } while (0)

static int is_ws(char c) { return c == ' ' || c == '\t'; }

static void in_span(const char *base, int n, const char *p, size_t len)
{
	REQUIRE(p >= base && p <= base + n && len <= (size_t)(base + n - p));
}

/* a and b parsed buffers starting at pa and pb: same offsets, same sizes. */
static void same(const http_request *a, const char *pa, const http_request *b, const char *pb)
{
	size_t i;
	REQUIRE(a->method - pa == b->method - pb && a->method_len == b->method_len);
	REQUIRE(a->target - pa == b->target - pb && a->target_len == b->target_len);
	REQUIRE(a->minor == b->minor && a->nheaders == b->nheaders);
	for (i = 0; i < a->nheaders; i++) {
		REQUIRE(a->headers[i].name - pa == b->headers[i].name - pb);
		REQUIRE(a->headers[i].name_len == b->headers[i].name_len);
		REQUIRE(a->headers[i].value - pa == b->headers[i].value - pb);
		REQUIRE(a->headers[i].value_len == b->headers[i].value_len);
	}
}

static void check_prefix(const char *buf, size_t cut, int r, const http_request *full)
{
	http_request p;
	char *copy = malloc(cut ? cut : 1); /* exact size: ASan sees over-reads */
	int pr;
	memcpy(copy, buf, cut);
	pr = http_parse_request(copy, cut, &p);
	REQUIRE(pr == HTTP_INCOMPLETE || pr == r);
	if (pr > 0)
		same(full, buf, &p, copy);
	free(copy);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const char *buf = (const char *)data;
	http_request a, b;
	http_framing f;
	uint32_t h = 2166136261u;
	size_t i;
	int r;

	r = http_parse_request(buf, size, &a);
	REQUIRE(r == HTTP_BAD || r == HTTP_INCOMPLETE || r == HTTP_TOO_MANY || (r > 0 && (size_t)r <= size));

	if (r > 0) {
		REQUIRE(a.method_len > 0 && a.target_len > 0 && (a.minor == 0 || a.minor == 1));
		REQUIRE(a.nheaders <= HTTP_MAX_HEADERS);
		in_span(buf, r, a.method, a.method_len);
		in_span(buf, r, a.target, a.target_len);
		for (i = 0; i < a.target_len; i++)
			REQUIRE(a.target[i] > 0x20 && a.target[i] < 0x7f);
		for (i = 0; i < a.nheaders; i++) {
			const http_header *hd = &a.headers[i];
			REQUIRE(hd->name_len > 0);
			in_span(buf, r, hd->name, hd->name_len);
			in_span(buf, r, hd->value, hd->value_len);
			REQUIRE(hd->value > hd->name + hd->name_len); /* past the colon */
			REQUIRE(memchr(hd->name, ':', hd->name_len) == NULL);
			if (hd->value_len)
				REQUIRE(!is_ws(hd->value[0]) && !is_ws(hd->value[hd->value_len - 1]));
			REQUIRE(memchr(hd->value, '\r', hd->value_len) == NULL);
			REQUIRE(memchr(hd->value, '\n', hd->value_len) == NULL);
			REQUIRE(memchr(hd->value, '\0', hd->value_len) == NULL);
		}
		/* The exact head, in an exactly sized copy, parses the same. */
		{
			char *copy = malloc((size_t)r);
			memcpy(copy, buf, (size_t)r);
			REQUIRE(http_parse_request(copy, (size_t)r, &b) == r);
			same(&a, buf, &b, copy);
			free(copy);
		}
		if (http_request_framing(&a, &f) == 0) {
			REQUIRE(!(f.chunked && f.has_length));
			REQUIRE(!(f.chunked && a.minor == 0));
			REQUIRE(!f.expect_continue || a.minor == 1);
			REQUIRE(!(a.minor == 0 && f.keep_alive) ||
				http_find_header(a.headers, a.nheaders, "connection"));
		}
	}

	/* Two cut points derived from the input itself. */
	for (i = 0; i < size; i++)
		h = (h ^ data[i]) * 16777619u;
	if (size) {
		check_prefix(buf, h % (size + 1), r, &a);
		check_prefix(buf, (h >> 16) % (size + 1), r, &a);
		check_prefix(buf, size - 1, r, &a);
	}
	return 0;
}
