/* fuzz_json.c - libFuzzer target for the JSON reader. For every input that
 * parses it checks the token tree (spans, size, skip, sibling links), the
 * error code's independence from the token array size, that prefixes of a
 * valid document are only ever "truncated", that every string decodes and
 * survives json_escape, the key lookups, the integer getters against the
 * writer, and that writing the tree back out reaches a fixed point.
 * Depends on json/ and base/buf. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "json/json.h"

#define NTOK 4096
#define PREFIX_ALL 256 /* check every prefix of documents up to this size */

static json_tok toks[NTOK];
static json_tok toks2[NTOK];

#define ASSERT(c) do { if (!(c)) abort(); } while (0)

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static char *decode(const char *s, const json_tok *t, int i, long *n)
{
	size_t cap = t[i].end - t[i].start + 1;
	char *d = malloc(cap);

	ASSERT(d);
	*n = json_str_decode(s, t, i, d, cap);
	ASSERT(*n >= 0 && (size_t)*n < cap && d[*n] == '\0');
	return d;
}

/* Every string token decodes; its escaped form parses back to the same
 * bytes; json_str_dup and json_str_eq agree with the decoder. */
static void check_string(const char *s, int i)
{
	const json_tok *t = &toks[i];
	size_t rl = t->end - t->start, dl;
	json_tok t2[2];
	char *d, *d2, *dup;
	long n, n2;
	buf_t b;

	ASSERT(t->size == 0 && t->skip == (uint32_t)i + 1);
	ASSERT((memchr(s + t->start, '\\', rl) != NULL) == (t->esc != 0));
	ASSERT(s[t->start - 1] == '"' && s[t->end] == '"');
	d = decode(s, toks, i, &n);
	if (!t->esc)
		ASSERT((size_t)n == rl && memcmp(d, s + t->start, rl) == 0);
	ASSERT(json_str_decode(s, toks, i, d, (size_t)n) == -1); /* no room for the NUL */

	dup = json_str_dup(s, toks, i, &dl);
	ASSERT(dup && dl == (size_t)n && memcmp(dup, d, dl + 1) == 0);
	free(dup);

	if (!memchr(d, '\0', (size_t)n)) {
		ASSERT(json_str_eq(s, toks, i, d));
		if (n > 0) {
			d[n - 1] ^= 1;
			ASSERT(!json_str_eq(s, toks, i, d));
			d[n - 1] ^= 1;
			dup = malloc((size_t)n);
			ASSERT(dup);
			memcpy(dup, d, (size_t)n - 1);
			dup[n - 1] = '\0';
			ASSERT(!json_str_eq(s, toks, i, dup));
			free(dup);
		}
	}

	buf_init(&b);
	buf_putc(&b, '"');
	json_escape(&b, d, (size_t)n);
	buf_putc(&b, '"');
	ASSERT(json_parse(b.p, b.len, t2, 2) == 1 && t2[0].type == JSON_STRING);
	d2 = decode(b.p, t2, 0, &n2);
	ASSERT(n2 == n && memcmp(d, d2, (size_t)n) == 0);
	free(d2);
	buf_free(&b);
	free(d);
}

static void check_number(const char *s, int i)
{
	const json_tok *t = &toks[i];
	size_t rl = t->end - t->start;
	const char *p = s + t->start;
	bool integer = !memchr(p, '.', rl) && !memchr(p, 'e', rl) && !memchr(p, 'E', rl);
	uint64_t u;
	int64_t v;
	buf_t b;
	jw_t w;

	ASSERT(t->size == 0 && t->skip == (uint32_t)i + 1);
	buf_init(&b);
	if (json_get_u64(s, toks, i, &u)) {
		ASSERT(integer && p[0] != '-');
		jw_init(&w, &b);
		jw_uint(&w, u);
		ASSERT(b.len == rl && memcmp(b.p, p, rl) == 0);
	} else if (integer && p[0] != '-') {
		ASSERT(rl >= 20); /* only too large values fail */
	}
	buf_reset(&b);
	if (json_get_i64(s, toks, i, &v)) {
		ASSERT(integer);
		jw_init(&w, &b);
		jw_int(&w, v);
		if (!(rl == 2 && p[0] == '-' && p[1] == '0'))
			ASSERT(b.len == rl && memcmp(b.p, p, rl) == 0);
		else
			ASSERT(v == 0);
	} else if (integer) {
		ASSERT(rl - (p[0] == '-') >= 19);
	}
	buf_free(&b);
}

/* Children of container i: counts, spans, sibling links, lookups. */
static void check_container(const char *s, int ntok, int i)
{
	const json_tok *t = &toks[i];
	bool obj = t->type == JSON_OBJECT;
	uint32_t cnt = 0;
	int k, prev = -1;

	ASSERT(t->skip > (uint32_t)i && t->skip <= (uint32_t)ntok);
	ASSERT(s[t->start] == (obj ? '{' : '[') && s[t->end - 1] == (obj ? '}' : ']'));
	for (k = json_first(toks, i); k >= 0; k = json_next(toks, k)) {
		int v = k;

		ASSERT(k == (prev < 0 ? i + 1 : (int)toks[prev].skip));
		ASSERT(toks[k].start > t->start && toks[k].end < t->end);
		if (obj) {
			long n;
			char *key;

			ASSERT(toks[k].type == JSON_STRING && !toks[k].last);
			v = json_next(toks, k);
			ASSERT(v == k + 1);
			key = decode(s, toks, k, &n);
			if (!memchr(key, '\0', (size_t)n)) {
				/* The last key with this decoded text wins. */
				int got = json_obj_get(s, toks, i, key);

				ASSERT(got >= v && got < (int)t->skip);
				ASSERT(json_str_eq(s, toks, got - 1, key));
				ASSERT(json_obj_get_type(s, toks, i, key, (json_type)toks[got].type) == got);
			}
			free(key);
		} else {
			ASSERT(json_arr_get(toks, i, cnt) == k);
		}
		ASSERT(toks[v].start > t->start && toks[v].end < t->end);
		prev = k = v; /* json_next of a value: the next key */
		cnt++;
		ASSERT(cnt <= t->size);
	}
	ASSERT(cnt == t->size);
	ASSERT(prev < 0 ? t->skip == (uint32_t)i + 1 : toks[prev].skip == t->skip);
	if (!obj)
		ASSERT(json_arr_get(toks, i, cnt) == -1);
	else
		ASSERT(json_arr_get(toks, i, 0) == -1);
}

/* Writes token i of (s, t) with the writer. */
static void rewrite(jw_t *w, const char *s, const json_tok *t, int i)
{
	char *d;
	long n;
	int k;

	switch (t[i].type) {
	case JSON_OBJECT:
		jw_obj(w);
		for (k = json_first(t, i); k >= 0; k = json_next(t, json_next(t, k))) {
			d = decode(s, t, k, &n);
			jw_key(w, d); /* stops at a decoded NUL, which is fine here */
			free(d);
			rewrite(w, s, t, k + 1);
		}
		jw_obj_end(w);
		break;
	case JSON_ARRAY:
		jw_arr(w);
		for (k = json_first(t, i); k >= 0; k = json_next(t, k))
			rewrite(w, s, t, k);
		jw_arr_end(w);
		break;
	case JSON_STRING:
		d = decode(s, t, i, &n);
		jw_strn(w, d, (size_t)n);
		free(d);
		break;
	case JSON_TRUE:
	case JSON_FALSE:
		jw_bool(w, t[i].type == JSON_TRUE);
		break;
	case JSON_NULL:
		jw_null(w);
		break;
	default:
		jw_raw(w, s + t[i].start, t[i].end - t[i].start);
		break;
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const char *s = (const char *)data;
	int r = json_parse(s, size, toks, NTOK), r2, i;
	size_t k, step;
	bool bv = false;
	buf_t b1, b2;
	jw_t w;

	ASSERT(r > 0 || (r >= JSON_ERR_DEPTH && r <= JSON_ERR_NOMEM));
	/* Same verdict without a token array: NOMEM means valid. */
	r2 = json_parse(s, size, NULL, 0);
	ASSERT(r2 == (r > 0 ? JSON_ERR_NOMEM : r));
	if (r <= 0)
		return 0;
	ASSERT(json_parse(s, size, toks2, (unsigned)r) == r);
	ASSERT(memcmp(toks, toks2, (size_t)r * sizeof *toks) == 0);
	ASSERT(json_parse(s, size, toks2, (unsigned)r - 1) == JSON_ERR_NOMEM);

	/* A proper prefix of a valid document is truncated or itself valid. */
	step = size <= PREFIX_ALL ? 1 : size / 64;
	for (k = 0; k < size; k += step) {
		int rp = json_parse(s, k, toks2, NTOK);

		ASSERT(rp == JSON_ERR_PART || rp > 0);
	}

	ASSERT(toks[0].skip == (uint32_t)r && toks[0].last);
	for (i = 0; i < r; i++) {
		const json_tok *t = &toks[i];

		ASSERT(t->start <= t->end && t->end <= size);
		ASSERT(t->skip > (uint32_t)i && t->skip <= (uint32_t)r);
		switch (t->type) {
		case JSON_OBJECT:
		case JSON_ARRAY:
			check_container(s, r, i);
			break;
		case JSON_STRING:
			check_string(s, i);
			break;
		case JSON_NUMBER:
			check_number(s, i);
			break;
		case JSON_TRUE:
		case JSON_FALSE:
		case JSON_NULL:
			ASSERT(t->size == 0 && t->skip == (uint32_t)i + 1);
			ASSERT(t->end - t->start == (t->type == JSON_FALSE ? 5u : 4u));
			ASSERT(json_get_bool(s, toks, i, &bv) == (t->type != JSON_NULL));
			ASSERT(t->type == JSON_NULL || bv == (t->type == JSON_TRUE));
			break;
		default:
			abort();
		}
	}

	/* Writing the tree out gives valid JSON with the same shape, and
	 * writing that again gives the same bytes. */
	buf_init(&b1);
	buf_init(&b2);
	jw_init(&w, &b1);
	rewrite(&w, s, toks, 0);
	ASSERT(w.depth == 0);
	r2 = json_parse(b1.p, b1.len, toks2, NTOK);
	ASSERT(r2 == r);
	for (i = 0; i < r; i++)
		ASSERT(toks2[i].type == toks[i].type && toks2[i].size == toks[i].size &&
		       toks2[i].skip == toks[i].skip);
	jw_init(&w, &b2);
	rewrite(&w, b1.p, toks2, 0);
	ASSERT(b1.len == b2.len && memcmp(b1.p, b2.p, b1.len) == 0);
	buf_free(&b1);
	buf_free(&b2);
	return 0;
}
