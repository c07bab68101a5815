/* fuzz_json_string.c - libFuzzer target for json_escape and the string
 * decoder on arbitrary bytes: the escaped form must always be a valid JSON
 * string; it must decode back to the input when the input is valid UTF-8,
 * and otherwise to valid UTF-8 whose escaping is the same text (so one
 * round of replacement is final). The bytes also go through the writer as
 * a key and a value and are found again with json_obj_get.
 * Depends on json/ and base/buf. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "json/json.h"

#define ASSERT(c) do { if (!(c)) abort(); } while (0)

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* An independent UTF-8 check by code point: shortest form, no
 * surrogates, nothing above U+10FFFF. */
static bool valid_utf8(const unsigned char *p, size_t n)
{
	size_t i = 0;

	while (i < n) {
		uint32_t cp, min;
		size_t len, k;

		if (p[i] < 0x80) {
			i++;
			continue;
		}
		if ((p[i] & 0xE0) == 0xC0)
			len = 2, cp = p[i] & 0x1F, min = 0x80;
		else if ((p[i] & 0xF0) == 0xE0)
			len = 3, cp = p[i] & 0x0F, min = 0x800;
		else if ((p[i] & 0xF8) == 0xF0)
			len = 4, cp = p[i] & 0x07, min = 0x10000;
		else
			return false;
		if (n - i < len)
			return false;
		for (k = 1; k < len; k++) {
			if ((p[i + k] & 0xC0) != 0x80)
				return false;
			cp = cp << 6 | (p[i + k] & 0x3F);
		}
		if (cp < min || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF))
			return false;
		i += len;
	}
	return true;
}

/* Parses a one-string document and returns its decoded bytes. */
static char *parse_string(const char *doc, size_t len, long *n)
{
	json_tok t[2];
	char *d;

	ASSERT(json_parse(doc, len, t, 2) == 1 && t[0].type == JSON_STRING);
	ASSERT(t[0].start == 1 && t[0].end == len - 1);
	d = malloc(len);
	ASSERT(d);
	*n = json_str_decode(doc, t, 0, d, len);
	ASSERT(*n >= 0);
	return d;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const char *in = (const char *)data;
	bool valid = valid_utf8(data, size);
	buf_t e1, e2, doc;
	json_tok t[8];
	char *d, *key;
	size_t i;
	long n;
	jw_t w;
	int v;

	buf_init(&e1);
	buf_init(&e2);
	buf_init(&doc);

	/* Escaping: only printable ASCII escapes and valid UTF-8 come out. */
	buf_putc(&e1, '"');
	json_escape(&e1, in, size);
	buf_putc(&e1, '"');
	for (i = 0; i < e1.len; i++)
		ASSERT((unsigned char)e1.p[i] >= 0x20);
	ASSERT(valid_utf8((const unsigned char *)e1.p, e1.len));
	if (valid && !memchr(in, '"', size) && !memchr(in, '\\', size)) {
		bool ctl = false;

		for (i = 0; i < size; i++)
			ctl |= data[i] < 0x20;
		if (!ctl) /* nothing to do: copied as it is */
			ASSERT(e1.len == size + 2 && memcmp(e1.p + 1, in, size) == 0);
	}

	/* Decoding gives the input back, or its repaired form. */
	d = parse_string(e1.p, e1.len, &n);
	ASSERT(valid_utf8((const unsigned char *)d, (size_t)n));
	if (valid)
		ASSERT((size_t)n == size && memcmp(d, in, size) == 0);
	else
		ASSERT((size_t)n != size || memcmp(d, in, size) != 0);
	buf_putc(&e2, '"');
	json_escape(&e2, d, (size_t)n);
	buf_putc(&e2, '"');
	ASSERT(e1.len == e2.len && memcmp(e1.p, e2.p, e1.len) == 0);

	/* The same bytes as a key and a value through the writer. */
	key = malloc(size + 1);
	ASSERT(key);
	memcpy(key, in, size);
	key[size] = '\0';
	jw_init(&w, &doc);
	jw_obj(&w);
	jw_key(&w, "x");
	jw_arr(&w);
	jw_arr_end(&w);
	jw_kstr(&w, key, key);
	jw_key(&w, "v");
	jw_strn(&w, in, size);
	jw_obj_end(&w);
	ASSERT(json_parse(doc.p, doc.len, t, 8) == 7);
	ASSERT(t[0].size == 3 && t[3].type == JSON_STRING && t[4].type == JSON_STRING);
	if (!memchr(in, '\0', size)) {
		v = json_obj_get(doc.p, t, 0, d);
		ASSERT(strlen(d) == (size_t)n);
		/* The key may also be "x" or "v": the last one wins. */
		ASSERT(v == (strcmp(d, "v") == 0 ? 6 : 4));
		ASSERT(json_str_eq(doc.p, t, 3, d) && json_str_eq(doc.p, t, 4, d));
	}
	ASSERT(json_str_eq(doc.p, t, 1, "x") && json_str_eq(doc.p, t, 5, "v"));
	free(key);
	free(d);
	d = malloc(doc.len);
	ASSERT(d);
	n = json_str_decode(doc.p, t, 6, d, doc.len);
	ASSERT(n >= 0);
	if (valid)
		ASSERT((size_t)n == size && memcmp(d, in, size) == 0);
	free(d);

	buf_free(&e1);
	buf_free(&e2);
	buf_free(&doc);
	return 0;
}
