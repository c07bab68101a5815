/* fuzz_b64.c - util_b64_decode on arbitrary input. Properties: whatever
 * decodes re-encodes to the canonical form of the input (standard
 * alphabet, padded, modulo the ignored trailing bits) and decodes back to
 * the same bytes; the output capacity is honoured exactly; and any input,
 * taken as raw bytes, survives encode then decode. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "base/util.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static int b64_val(char c)
{
	const char *a = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
	const char *p;

	if (c == '-')
		c = '+';
	if (c == '_')
		c = '/';
	p = c ? strchr(a, c) : NULL;
	return p ? (int)(p - a) : -1;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const char *in = (const char *)data;
	size_t cap = size, elen, i, stripped, estripped;
	unsigned char *out = malloc(cap + 1), *again = malloc(cap + 1);
	char *enc = malloc(4 * ((size + 2) / 3) + 1);
	long n, m;

	n = util_b64_decode(in, size, out, cap);
	if (n >= 0) {
		if ((size_t)n > size * 3 / 4)
			abort();
		/* exact capacity works, one byte less does not */
		if (util_b64_decode(in, size, again, (size_t)n) != n)
			abort();
		if (n > 0 && util_b64_decode(in, size, again, (size_t)n - 1) != -1)
			abort();

		elen = util_b64_encode(out, (size_t)n, enc);
		if (elen != 4 * (((size_t)n + 2) / 3) || enc[elen] != '\0')
			abort();
		m = util_b64_decode(enc, elen, again, cap);
		if (m != n || memcmp(out, again, (size_t)n) != 0)
			abort();

		/* The encoding equals the input once the input is mapped to
		 * the standard alphabet and stripped of padding, unless the
		 * input's last character carried non-zero unused bits. */
		stripped = size;
		while (stripped > 0 && in[stripped - 1] == '=')
			stripped--;
		estripped = elen;
		while (estripped > 0 && enc[estripped - 1] == '=')
			estripped--;
		if (stripped != estripped)
			abort();
		for (i = 0; i < stripped; i++) {
			int a = b64_val(in[i]), b = b64_val(enc[i]);
			if (a < 0)
				abort(); /* accepted a character outside both alphabets */
			if (a != b) {
				int unused = stripped % 4 == 2 ? 0xf : stripped % 4 == 3 ? 3 : 0;
				if (i != stripped - 1 || (a & ~unused) != (b & ~unused) || (b & unused))
					abort();
			}
		}
	}

	/* raw bytes round trip */
	elen = util_b64_encode(data, size, enc);
	m = util_b64_decode(enc, elen, again, cap);
	if (m != (long)size || memcmp(again, data, size) != 0)
		abort();

	free(out);
	free(again);
	free(enc);
	return 0;
}
