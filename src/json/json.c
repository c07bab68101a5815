/* json.c - strict RFC 8259 tokenizer (one pass, no allocation, tokens are
 * offsets into the caller's bytes), lookups over its token array, and a
 * compact writer into a buf_t. Depends on base/buf.h and libc only; no
 * floating point and no printf, to keep the static binary small. */
#include "json.h"

#include <limits.h>
#include <stdlib.h>
#include <string.h>

/* ---- UTF-8 ---- */

/* Classifies the bytes at p (n > 0 available, p[0] >= 0x80: callers deal
 * with ASCII themselves). Returns the length (2-4) of a well-formed UTF-8
 * sequence; 0 if the bytes are a valid beginning cut off by the end of the
 * data; otherwise minus the length of the maximal subpart (Unicode ch. 3,
 * "U+FFFD substitution of maximal subparts"): the bytes that one
 * replacement character stands for. Overlongs, surrogates and code points
 * above U+10FFFF are ill-formed by the ranges below. */
static int utf8_seq(const unsigned char *p, size_t n)
{
	unsigned c = p[0], lo = 0x80, hi = 0xBF;
	int need, k;

	if (c < 0xC2)
		return -1; /* a continuation byte, or an overlong lead */
	if (c < 0xE0) {
		need = 2;
	} else if (c < 0xF0) {
		need = 3;
		if (c == 0xE0)
			lo = 0xA0; /* overlong below U+0800 */
		else if (c == 0xED)
			hi = 0x9F; /* U+D800..U+DFFF */
	} else if (c < 0xF5) {
		need = 4;
		if (c == 0xF0)
			lo = 0x90; /* overlong below U+10000 */
		else if (c == 0xF4)
			hi = 0x8F; /* above U+10FFFF */
	} else {
		return -1;
	}
	for (k = 1; k < need; k++) {
		if ((size_t)k >= n)
			return 0;
		if (p[k] < lo || p[k] > hi)
			return -k;
		lo = 0x80;
		hi = 0xBF;
	}
	return need;
}

static int utf8_put(char *u, uint32_t cp)
{
	if (cp < 0x80) {
		u[0] = (char)cp;
		return 1;
	}
	if (cp < 0x800) {
		u[0] = (char)(0xC0 | cp >> 6);
		u[1] = (char)(0x80 | (cp & 0x3F));
		return 2;
	}
	if (cp < 0x10000) {
		u[0] = (char)(0xE0 | cp >> 12);
		u[1] = (char)(0x80 | (cp >> 6 & 0x3F));
		u[2] = (char)(0x80 | (cp & 0x3F));
		return 3;
	}
	u[0] = (char)(0xF0 | cp >> 18);
	u[1] = (char)(0x80 | (cp >> 12 & 0x3F));
	u[2] = (char)(0x80 | (cp >> 6 & 0x3F));
	u[3] = (char)(0x80 | (cp & 0x3F));
	return 4;
}

static int hexval(unsigned c)
{
	if (c - '0' < 10)
		return (int)(c - '0');
	c |= 0x20;
	if (c - 'a' < 6)
		return (int)(c - 'a' + 10);
	return -1;
}

/* ---- tokenizer ---- */

enum { ST_VALUE, ST_VALUE_OR_END, ST_KEY, ST_KEY_OR_END, ST_COLON, ST_AFTER };

typedef struct {
	uint32_t tok;  /* token index of the open container */
	uint32_t last; /* index of its latest value, if it has one */
	bool obj;
} frame;

typedef struct {
	const unsigned char *s;
	size_t len, pos;
	json_tok *toks;
	uint32_t ntoks; /* capacity */
	uint32_t n;     /* tokens seen, also those that did not fit */
} parser;

/* Tokens past the caller's array are counted but not stored, so that the
 * whole input is still validated and JSON_ERR_NOMEM means "valid, but too
 * many tokens" (json_parse(s, len, NULL, 0) is a plain validator). */
static json_tok *tok_at(parser *p, uint32_t i)
{
	return i < p->ntoks ? &p->toks[i] : NULL;
}

static uint32_t tok_new(parser *p, json_type type, size_t start)
{
	json_tok *t = tok_at(p, p->n);

	if (t) {
		t->type = (uint8_t)type;
		t->last = 0;
		t->esc = 0;
		t->start = (uint32_t)start;
		t->end = 0;
		t->size = 0;
		t->skip = p->n + 1; /* containers fix this when they close */
	}
	return p->n++;
}

static bool is_ws(unsigned c)
{
	return c == ' ' || c == '\n' || c == '\r' || c == '\t';
}

static bool is_digit(unsigned c)
{
	return c - '0' < 10;
}

/* Four hex digits at s[i..]; PART if the input ends first. */
static int scan_hex4(const unsigned char *s, size_t len, size_t i, uint32_t *v)
{
	int k, h;

	*v = 0;
	for (k = 0; k < 4; k++) {
		if (i + k >= len)
			return JSON_ERR_PART;
		if ((h = hexval(s[i + k])) < 0)
			return JSON_ERR_INVAL;
		*v = *v << 4 | (uint32_t)h;
	}
	return 0;
}

/* The escape at s[*ip] == '\\'. A \u high surrogate must be followed at
 * once by a \u low surrogate: lone halves cannot be turned into UTF-8. */
static int scan_escape(const unsigned char *s, size_t len, size_t *ip)
{
	size_t i = *ip;
	uint32_t cp;
	int r;

	if (i + 1 >= len)
		return JSON_ERR_PART;
	switch (s[i + 1]) {
	case '"': case '\\': case '/': case 'b': case 'f': case 'n': case 'r': case 't':
		*ip = i + 2;
		return 0;
	case 'u':
		break;
	default:
		return JSON_ERR_INVAL;
	}
	if ((r = scan_hex4(s, len, i + 2, &cp)) != 0)
		return r;
	i += 6;
	if (cp >= 0xDC00 && cp <= 0xDFFF)
		return JSON_ERR_INVAL;
	if (cp >= 0xD800 && cp <= 0xDBFF) {
		if (i >= len || (s[i] == '\\' && i + 1 >= len))
			return JSON_ERR_PART;
		if (s[i] != '\\' || s[i + 1] != 'u')
			return JSON_ERR_INVAL;
		if ((r = scan_hex4(s, len, i + 2, &cp)) != 0)
			return r;
		if (cp < 0xDC00 || cp > 0xDFFF)
			return JSON_ERR_INVAL;
		i += 6;
	}
	*ip = i;
	return 0;
}

/* The string whose opening quote is at p->pos; token start/end exclude
 * the quotes. */
static int scan_string(parser *p, json_tok *t)
{
	const unsigned char *s = p->s;
	size_t i = p->pos + 1, len = p->len;
	bool esc = false;
	int r;

	for (;;) {
		unsigned c;

		/* Plain printable ASCII is by far the common case. */
		while (i < len && s[i] >= 0x20 && s[i] < 0x80 && s[i] != '"' && s[i] != '\\')
			i++;
		if (i >= len)
			return JSON_ERR_PART;
		c = s[i];
		if (c == '"')
			break;
		if (c < 0x20)
			return JSON_ERR_INVAL;
		if (c == '\\') {
			esc = true;
			if ((r = scan_escape(s, len, &i)) != 0)
				return r;
			continue;
		}
		r = utf8_seq(s + i, len - i);
		if (r == 0)
			return JSON_ERR_PART;
		if (r < 0)
			return JSON_ERR_INVAL;
		i += (size_t)r;
	}
	if (t) {
		t->start++; /* past the opening quote */
		t->end = (uint32_t)i;
		t->esc = esc;
	}
	p->pos = i + 1;
	return 0;
}

/* -? (0 | [1-9][0-9]*) (. [0-9]+)? ([eE] [+-]? [0-9]+)? ; a leading zero
 * followed by a digit ends the number here, and the caller rejects the
 * digit that follows as garbage. */
static int scan_number(parser *p)
{
	const unsigned char *s = p->s;
	size_t i = p->pos, len = p->len;

	if (s[i] == '-')
		i++;
	if (i >= len)
		return JSON_ERR_PART;
	if (s[i] == '0')
		i++;
	else if (is_digit(s[i]) && s[i] != '0')
		while (i < len && is_digit(s[i]))
			i++;
	else
		return JSON_ERR_INVAL;
	if (i < len && s[i] == '.') {
		if (++i >= len)
			return JSON_ERR_PART;
		if (!is_digit(s[i]))
			return JSON_ERR_INVAL;
		while (i < len && is_digit(s[i]))
			i++;
	}
	if (i < len && (s[i] == 'e' || s[i] == 'E')) {
		if (++i < len && (s[i] == '+' || s[i] == '-'))
			i++;
		if (i >= len)
			return JSON_ERR_PART;
		if (!is_digit(s[i]))
			return JSON_ERR_INVAL;
		while (i < len && is_digit(s[i]))
			i++;
	}
	p->pos = i;
	return 0;
}

static int scan_literal(parser *p, const char *lit)
{
	size_t i = p->pos;

	for (; *lit; lit++, i++) {
		if (i >= p->len)
			return JSON_ERR_PART;
		if (p->s[i] != (unsigned char)*lit)
			return JSON_ERR_INVAL;
	}
	p->pos = i;
	return 0;
}

/* The type a value starting with byte c would have; whether it really is
 * one is up to the scanner. */
static json_type value_type(unsigned c)
{
	switch (c) {
	case '{':
		return JSON_OBJECT;
	case '[':
		return JSON_ARRAY;
	case '"':
		return JSON_STRING;
	case 't':
		return JSON_TRUE;
	case 'f':
		return JSON_FALSE;
	case 'n':
		return JSON_NULL;
	}
	return JSON_NUMBER;
}

/* One scalar of the given type at p->pos. */
static int scan_scalar(parser *p, uint32_t idx, json_type type)
{
	json_tok *t = tok_at(p, idx);
	int r;

	switch (type) {
	case JSON_STRING:
		return scan_string(p, t);
	case JSON_TRUE:
		r = scan_literal(p, "true");
		break;
	case JSON_FALSE:
		r = scan_literal(p, "false");
		break;
	case JSON_NULL:
		r = scan_literal(p, "null");
		break;
	default:
		r = scan_number(p);
		break;
	}
	if (r == 0 && t)
		t->end = (uint32_t)p->pos;
	return r;
}

int json_parse(const char *s, size_t len, json_tok *toks, unsigned ntoks)
{
	frame st[JSON_MAX_DEPTH];
	parser p;
	int depth = 0, state = ST_VALUE, r;
	json_tok *t;

	if (len > UINT32_MAX)
		return JSON_ERR_SIZE;
	p.s = (const unsigned char *)s;
	p.len = len;
	p.pos = 0;
	p.toks = toks;
	p.ntoks = ntoks > INT_MAX ? INT_MAX : ntoks;
	p.n = 0;

	for (;;) {
		unsigned c;
		uint32_t idx;
		json_type type;
		bool closing = false;

		while (p.pos < len && is_ws(p.s[p.pos]))
			p.pos++;
		if (p.pos >= len)
			return JSON_ERR_PART;
		c = p.s[p.pos];

		switch (state) {
		case ST_KEY_OR_END:
			if (c == '}') {
				closing = true;
				break;
			}
			/* fallthrough */
		case ST_KEY:
			if (c != '"')
				return JSON_ERR_INVAL;
			idx = tok_new(&p, JSON_STRING, p.pos);
			if ((t = tok_at(&p, st[depth - 1].tok)))
				t->size++;
			if ((r = scan_string(&p, tok_at(&p, idx))) != 0)
				return r;
			state = ST_COLON;
			continue;
		case ST_COLON:
			if (c != ':')
				return JSON_ERR_INVAL;
			p.pos++;
			state = ST_VALUE;
			continue;
		case ST_AFTER:
			if (c == ',') {
				p.pos++;
				state = st[depth - 1].obj ? ST_KEY : ST_VALUE;
				continue;
			}
			if (c != (st[depth - 1].obj ? '}' : ']'))
				return JSON_ERR_INVAL;
			closing = true;
			break;
		case ST_VALUE_OR_END:
			if (c == ']') {
				closing = true;
				break;
			}
			/* fallthrough */
		default: /* ST_VALUE */
			type = value_type(c);
			if ((type == JSON_OBJECT || type == JSON_ARRAY) && depth == JSON_MAX_DEPTH)
				return JSON_ERR_DEPTH;
			idx = tok_new(&p, type, p.pos);
			if (depth > 0) {
				if (!st[depth - 1].obj && (t = tok_at(&p, st[depth - 1].tok)))
					t->size++;
				st[depth - 1].last = idx;
			}
			if (type == JSON_OBJECT || type == JSON_ARRAY) {
				st[depth].tok = idx;
				st[depth].obj = type == JSON_OBJECT;
				st[depth].last = UINT32_MAX;
				depth++;
				p.pos++;
				state = type == JSON_OBJECT ? ST_KEY_OR_END : ST_VALUE_OR_END;
				continue;
			}
			if ((r = scan_scalar(&p, idx, type)) != 0)
				return r;
			break;
		}

		if (closing) {
			frame *f = &st[--depth];

			if ((t = tok_at(&p, f->tok))) {
				t->end = (uint32_t)(p.pos + 1);
				t->skip = p.n;
			}
			if (f->last != UINT32_MAX && (t = tok_at(&p, f->last)))
				t->last = 1;
			p.pos++;
		}
		/* A value is complete. */
		if (depth == 0)
			break;
		state = ST_AFTER;
	}

	while (p.pos < len && is_ws(p.s[p.pos]))
		p.pos++;
	if (p.pos != len)
		return JSON_ERR_INVAL;
	if (p.n > p.ntoks)
		return JSON_ERR_NOMEM;
	toks[0].last = 1;
	return (int)p.n;
}

const char *json_strerror(int err)
{
	switch (err) {
	case JSON_ERR_NOMEM:
		return "too many JSON tokens";
	case JSON_ERR_INVAL:
		return "invalid JSON";
	case JSON_ERR_PART:
		return "truncated JSON";
	case JSON_ERR_DEPTH:
		return "JSON nested too deeply";
	case JSON_ERR_SIZE:
		return "JSON input too large";
	}
	return err >= 0 ? "ok" : "unknown JSON error";
}

/* ---- string decoding ---- */

/* Decodes one unit of a raw string body at *pp: a raw byte, or one escape
 * (a surrogate pair is one unit). Writes 1-4 bytes to u and returns their
 * count, or -1 for a malformed escape or a lone surrogate. Defensive: the
 * tokenizer has already rejected those, but tokens could be hand-made. */
static int str_unit(const char **pp, const char *end, char u[4])
{
	const char *p = *pp;
	uint32_t cp, lo;

	if (*p != '\\') {
		u[0] = *p;
		*pp = p + 1;
		return 1;
	}
	if (end - p < 2)
		return -1;
	switch (p[1]) {
	case '"': case '\\': case '/':
		u[0] = p[1];
		break;
	case 'b':
		u[0] = '\b';
		break;
	case 'f':
		u[0] = '\f';
		break;
	case 'n':
		u[0] = '\n';
		break;
	case 'r':
		u[0] = '\r';
		break;
	case 't':
		u[0] = '\t';
		break;
	case 'u':
		if (end - p < 6 || scan_hex4((const unsigned char *)p, 6, 2, &cp) != 0)
			return -1;
		p += 6;
		if (cp >= 0xDC00 && cp <= 0xDFFF)
			return -1;
		if (cp >= 0xD800 && cp <= 0xDBFF) {
			if (end - p < 6 || p[0] != '\\' || p[1] != 'u' ||
			    scan_hex4((const unsigned char *)p, 6, 2, &lo) != 0 ||
			    lo < 0xDC00 || lo > 0xDFFF)
				return -1;
			p += 6;
			cp = 0x10000 + ((cp - 0xD800) << 10) + (lo - 0xDC00);
		}
		*pp = p;
		return utf8_put(u, cp);
	default:
		return -1;
	}
	*pp = p + 2;
	return 1;
}

/* Decodes raw[0..n) into out, which holds cap bytes. Returns the decoded
 * length (without the NUL it adds), or -1. Decoding never grows a string,
 * so cap = n + 1 always suffices. */
static long str_decode(const char *raw, size_t n, char *out, size_t cap)
{
	const char *p = raw, *end = raw + n;
	size_t o = 0;
	char u[4];
	int k;

	while (p < end) {
		const char *bs = memchr(p, '\\', (size_t)(end - p));
		size_t run = bs ? (size_t)(bs - p) : (size_t)(end - p);

		if (run >= cap - o)
			return -1;
		memcpy(out + o, p, run);
		o += run;
		p += run;
		if (p == end)
			break;
		if ((k = str_unit(&p, end, u)) < 0 || (size_t)k >= cap - o)
			return -1;
		memcpy(out + o, u, (size_t)k);
		o += (size_t)k;
	}
	out[o] = '\0';
	return (long)o;
}

/* Compares string token t with key[0..klen). Decoding only shortens a
 * string, so a raw body shorter than the key never matches, and one of
 * the same length matches only byte for byte without escapes. */
static bool str_eq_n(const char *s, const json_tok *t, const char *key, size_t klen)
{
	const char *p = s + t->start, *end = s + t->end;
	size_t rl = t->end - t->start, o = 0;
	char u[4];
	int k;

	if (rl < klen)
		return false;
	if (!t->esc)
		return rl == klen && memcmp(p, key, klen) == 0;
	if (rl == klen)
		return false; /* it has an escape, so it decodes shorter */
	while (p < end) {
		if ((k = str_unit(&p, end, u)) < 0 || (size_t)k > klen - o ||
		    memcmp(key + o, u, (size_t)k) != 0)
			return false;
		o += (size_t)k;
	}
	return o == klen;
}

bool json_str_eq(const char *s, const json_tok *t, int i, const char *key)
{
	return i >= 0 && t[i].type == JSON_STRING && str_eq_n(s, &t[i], key, strlen(key));
}

long json_str_decode(const char *s, const json_tok *t, int i, char *out, size_t cap)
{
	if (i < 0 || t[i].type != JSON_STRING || cap == 0)
		return -1;
	return str_decode(s + t[i].start, t[i].end - t[i].start, out, cap);
}

char *json_str_dup(const char *s, const json_tok *t, int i, size_t *len)
{
	size_t n;
	char *out;
	long r;

	if (i < 0 || t[i].type != JSON_STRING)
		return NULL;
	n = t[i].end - t[i].start;
	out = xmalloc(n + 1);
	if ((r = str_decode(s + t[i].start, n, out, n + 1)) < 0) {
		free(out);
		return NULL;
	}
	if (len)
		*len = (size_t)r;
	return out;
}

/* ---- lookups ---- */

int json_obj_get(const char *s, const json_tok *t, int obj, const char *key)
{
	size_t klen = strlen(key);
	uint32_t n, k;
	int found = -1;

	if (obj < 0 || t[obj].type != JSON_OBJECT)
		return -1;
	/* Keep going after a match: with duplicate keys the last one wins,
	 * as in most other parsers. */
	for (n = t[obj].size, k = (uint32_t)obj + 1; n > 0; n--, k = t[k + 1].skip)
		if (t[k].type == JSON_STRING && str_eq_n(s, &t[k], key, klen))
			found = (int)k + 1;
	return found;
}

int json_arr_get(const json_tok *t, int arr, unsigned idx)
{
	uint32_t k;

	if (arr < 0 || t[arr].type != JSON_ARRAY || idx >= t[arr].size)
		return -1;
	for (k = (uint32_t)arr + 1; idx > 0; idx--)
		k = t[k].skip;
	return (int)k;
}

int json_first(const json_tok *t, int parent)
{
	if (parent < 0 || (t[parent].type != JSON_OBJECT && t[parent].type != JSON_ARRAY) ||
	    t[parent].size == 0)
		return -1;
	return parent + 1;
}

int json_next(const json_tok *t, int i)
{
	if (i < 0 || t[i].last)
		return -1;
	return (int)t[i].skip;
}

bool json_get_bool(const char *s, const json_tok *t, int i, bool *out)
{
	(void)s;
	if (i < 0 || (t[i].type != JSON_TRUE && t[i].type != JSON_FALSE))
		return false;
	*out = t[i].type == JSON_TRUE;
	return true;
}

/* Magnitude of an integer number token (digits only, after an optional
 * minus); false for fractions, exponents and values above max. */
static bool get_mag(const char *s, const json_tok *t, int i, bool *neg, uint64_t max, uint64_t *out)
{
	const char *p, *end;
	uint64_t v = 0;

	if (i < 0 || t[i].type != JSON_NUMBER || t[i].end <= t[i].start)
		return false;
	p = s + t[i].start;
	end = s + t[i].end;
	if ((*neg = *p == '-'))
		p++;
	if (p == end)
		return false;
	for (; p < end; p++) {
		unsigned d = (unsigned char)*p - '0';

		if (d > 9 || v > (max - d) / 10)
			return false;
		v = v * 10 + d;
	}
	*out = v;
	return true;
}

/* "-0" is not accepted as unsigned: a sign has no place there. */
bool json_get_u64(const char *s, const json_tok *t, int i, uint64_t *out)
{
	uint64_t v;
	bool neg;

	if (!get_mag(s, t, i, &neg, UINT64_MAX, &v) || neg)
		return false;
	*out = v;
	return true;
}

bool json_get_i64(const char *s, const json_tok *t, int i, int64_t *out)
{
	uint64_t v, max = (uint64_t)INT64_MAX + 1;
	bool neg;

	if (!get_mag(s, t, i, &neg, max, &v) || (!neg && v == max))
		return false;
	/* -(2^63) has no positive counterpart; build it without overflow. */
	*out = neg ? (v == max ? INT64_MIN : -(int64_t)v) : (int64_t)v;
	return true;
}

int json_obj_get_type(const char *s, const json_tok *t, int obj, const char *key, json_type type)
{
	int i = json_obj_get(s, t, obj, key);

	return i >= 0 && t[i].type == type ? i : -1;
}

/* ---- writer ---- */

void json_escape(buf_t *b, const char *s, size_t n)
{
	static const char hex[] = "0123456789abcdef";
	const unsigned char *p = (const unsigned char *)s, *end = p + n;

	buf_reserve(b, n + 2);
	while (p < end) {
		const unsigned char *run = p;
		unsigned c;
		int k;

		while (p < end && *p >= 0x20 && *p < 0x80 && *p != '"' && *p != '\\')
			p++;
		buf_append(b, run, (size_t)(p - run));
		if (p == end)
			break;
		c = *p;
		if (c >= 0x80) {
			k = utf8_seq(p, (size_t)(end - p));
			if (k > 0) {
				buf_append(b, p, (size_t)k);
				p += k;
			} else {
				buf_append(b, "\xEF\xBF\xBD", 3);
				p += k < 0 ? (size_t)-k : (size_t)(end - p);
			}
			continue;
		}
		p++;
		switch (c) {
		case '"':
			buf_append(b, "\\\"", 2);
			break;
		case '\\':
			buf_append(b, "\\\\", 2);
			break;
		case '\b':
			buf_append(b, "\\b", 2);
			break;
		case '\f':
			buf_append(b, "\\f", 2);
			break;
		case '\n':
			buf_append(b, "\\n", 2);
			break;
		case '\r':
			buf_append(b, "\\r", 2);
			break;
		case '\t':
			buf_append(b, "\\t", 2);
			break;
		default: {
			char e[6] = { '\\', 'u', '0', '0', hex[c >> 4], hex[c & 15] };

			buf_append(b, e, sizeof e);
			break;
		}
		}
	}
}

void jw_init(jw_t *w, buf_t *b)
{
	w->b = b;
	w->depth = 0;
	w->first[0] = 1;
	w->after_key = false;
}

/* Deeper than JSON_MAX_DEPTH the writer emits null for the container that
 * crosses the limit and drops everything inside it, so the output stays
 * valid JSON that the reader accepts. Returns false while dropping. */
static bool jw_sep(jw_t *w)
{
	if (w->depth > JSON_MAX_DEPTH)
		return false;
	if (w->after_key)
		w->after_key = false;
	else if (w->first[w->depth])
		w->first[w->depth] = 0;
	else
		buf_putc(w->b, ',');
	return true;
}

static void jw_open(jw_t *w, char c)
{
	if (w->depth >= JSON_MAX_DEPTH) {
		if (w->depth == JSON_MAX_DEPTH && jw_sep(w))
			buf_append(w->b, "null", 4);
		w->depth++;
		return;
	}
	jw_sep(w);
	buf_putc(w->b, c);
	w->first[++w->depth] = 1;
}

static void jw_close(jw_t *w, char c)
{
	if (w->depth <= 0)
		return;
	if (w->depth-- > JSON_MAX_DEPTH)
		return;
	w->after_key = false;
	buf_putc(w->b, c);
}

void jw_obj(jw_t *w)
{
	jw_open(w, '{');
}

void jw_obj_end(jw_t *w)
{
	jw_close(w, '}');
}

void jw_arr(jw_t *w)
{
	jw_open(w, '[');
}

void jw_arr_end(jw_t *w)
{
	jw_close(w, ']');
}

static void jw_quoted(buf_t *b, const char *s, size_t n)
{
	buf_putc(b, '"');
	json_escape(b, s, n);
	buf_putc(b, '"');
}

void jw_key(jw_t *w, const char *k)
{
	if (!jw_sep(w))
		return;
	jw_quoted(w->b, k, strlen(k));
	buf_putc(w->b, ':');
	w->after_key = true;
}

void jw_str(jw_t *w, const char *s)
{
	if (!s)
		jw_null(w);
	else
		jw_strn(w, s, strlen(s));
}

void jw_strn(jw_t *w, const char *s, size_t n)
{
	if (jw_sep(w))
		jw_quoted(w->b, s, n);
}

/* Digits of v, written backwards; 20 digits hold UINT64_MAX. */
static void put_u64(buf_t *b, uint64_t v, bool neg)
{
	char d[21], *p = d + sizeof d;

	do {
		*--p = (char)('0' + v % 10);
		v /= 10;
	} while (v);
	if (neg)
		*--p = '-';
	buf_append(b, p, (size_t)(d + sizeof d - p));
}

void jw_int(jw_t *w, int64_t v)
{
	if (jw_sep(w))
		put_u64(w->b, v < 0 ? 0 - (uint64_t)v : (uint64_t)v, v < 0);
}

void jw_uint(jw_t *w, uint64_t v)
{
	if (jw_sep(w))
		put_u64(w->b, v, false);
}

void jw_bool(jw_t *w, bool v)
{
	if (jw_sep(w))
		buf_puts(w->b, v ? "true" : "false");
}

void jw_null(jw_t *w)
{
	if (jw_sep(w))
		buf_append(w->b, "null", 4);
}

void jw_raw(jw_t *w, const char *json, size_t n)
{
	if (jw_sep(w))
		buf_append(w->b, json, n);
}

void jw_kstr(jw_t *w, const char *k, const char *s)
{
	jw_key(w, k);
	jw_str(w, s);
}

void jw_kint(jw_t *w, const char *k, int64_t v)
{
	jw_key(w, k);
	jw_int(w, v);
}

void jw_kbool(jw_t *w, const char *k, bool v)
{
	jw_key(w, k);
	jw_bool(w, v);
}
