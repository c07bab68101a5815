/* test_json.c - unit tests for json/json.c: strict validation (every error
 * code), tokens and their size/skip/last, lookups, string decoding
 * (escapes, surrogates, UTF-8 edges), integer getters, and the writer. */
#include "json/json.h"

#include <stdint.h>
#include <stdlib.h>

#include "t.h"

#define NTOK 256
static json_tok T[NTOK];

/* Parses a NUL-terminated document into T. */
static int parse(const char *s)
{
	return json_parse(s, strlen(s), T, NTOK);
}

static int parse_n(const char *s, size_t n)
{
	return json_parse(s, n, T, NTOK);
}

/* Escapes s[0..n) into a fresh string (caller frees). */
static char *esc(const char *s, size_t n)
{
	buf_t b;

	buf_init(&b);
	json_escape(&b, s, n);
	return buf_cstr(&b);
}

static void test_valid(void)
{
	static const char *ok[] = {
		"0", "-0", "1", "-1", "123", "1.5", "-0.0", "0e0", "0E+1", "1e-7",
		"12.34e56", "1E400", "-9223372036854775809", "\"\"", "\"abc\"",
		"true", "false", "null", "[]", "{}", " [ ] ", "\t\r\n{ }\n",
		"[1,2,3]", "{\"a\":1}", "{\"a\":{\"b\":[true,false,null]}}",
		"[[],{},[[]],{\"\":{}}]", "\"\\u0000\"", "\"\\\"\\\\\\/\\b\\f\\n\\r\\t\"",
		"\"\\ud83d\\ude00\"", "\"\\uD83D\\uDE00\"", "\"\\uFFFF\"", "\"\\uE000\"",
		"\"\xc3\xa9\"", "\"\xe2\x82\xac\"", "\"\xf0\x9f\x98\x80\"", "\"\xf4\x8f\xbf\xbf\"",
		"\"\xed\x9f\xbf\"", "\"\xee\x80\x80\"", "\"\x7f\"", "\"\xe2\x80\xa8\"",
		"{\"a\":1,\"a\":2}", "[\"a\" , \"b\" ]", "{ \"k\" : \"v\" }",
	};
	size_t i;

	for (i = 0; i < sizeof ok / sizeof *ok; i++) {
		int r = parse(ok[i]);

		if (r <= 0)
			fprintf(stderr, "valid document rejected (%d): %s\n", r, ok[i]);
		CHECK(r > 0);
		/* The validator form agrees. */
		CHECK_INT(json_parse(ok[i], strlen(ok[i]), NULL, 0), JSON_ERR_NOMEM);
	}
}

struct bad {
	const char *s;
	int err;
};

static void test_invalid(void)
{
	static const struct bad bad[] = {
		/* truncated */
		{ "", JSON_ERR_PART }, { "   ", JSON_ERR_PART }, { "{", JSON_ERR_PART },
		{ "[", JSON_ERR_PART }, { "{\"a\"", JSON_ERR_PART }, { "{\"a\":", JSON_ERR_PART },
		{ "{\"a\":1", JSON_ERR_PART }, { "{\"a\":1,", JSON_ERR_PART }, { "[1,", JSON_ERR_PART },
		{ "[1", JSON_ERR_PART }, { "\"abc", JSON_ERR_PART }, { "\"ab\\", JSON_ERR_PART },
		{ "\"\\u12", JSON_ERR_PART }, { "\"\\ud83d", JSON_ERR_PART },
		{ "\"\\ud83d\\", JSON_ERR_PART }, { "\"\\ud83d\\u", JSON_ERR_PART },
		{ "\"\\ud83d\\ude0", JSON_ERR_PART }, { "tru", JSON_ERR_PART }, { "f", JSON_ERR_PART },
		{ "nul", JSON_ERR_PART }, { "-", JSON_ERR_PART }, { "1.", JSON_ERR_PART },
		{ "1e", JSON_ERR_PART }, { "1e+", JSON_ERR_PART }, { "\"\xc3", JSON_ERR_PART },
		{ "\"\xf0\x9f\x98", JSON_ERR_PART }, { "[{\"a\":[", JSON_ERR_PART },
		{ "{\"ab", JSON_ERR_PART }, { "{\"a\\u00", JSON_ERR_PART }, { "{\"a\":1,\"b", JSON_ERR_PART },
		/* grammar */
		{ "[1,]", JSON_ERR_INVAL }, { "{\"a\":1,}", JSON_ERR_INVAL }, { "[,1]", JSON_ERR_INVAL },
		{ "[1 2]", JSON_ERR_INVAL }, { "{\"a\" 1}", JSON_ERR_INVAL }, { "{\"a\":}", JSON_ERR_INVAL },
		{ "{1:2}", JSON_ERR_INVAL }, { "{a:1}", JSON_ERR_INVAL }, { "{'a':1}", JSON_ERR_INVAL },
		{ "[1}", JSON_ERR_INVAL }, { "{\"a\":1]", JSON_ERR_INVAL }, { "]", JSON_ERR_INVAL },
		{ "}", JSON_ERR_INVAL }, { ",", JSON_ERR_INVAL }, { ":", JSON_ERR_INVAL },
		{ "{,}", JSON_ERR_INVAL }, { "[1]]", JSON_ERR_INVAL }, { "{}}", JSON_ERR_INVAL },
		{ "1 2", JSON_ERR_INVAL }, { "{} x", JSON_ERR_INVAL }, { "\"a\"\"b\"", JSON_ERR_INVAL },
		{ "{\"a\"::1}", JSON_ERR_INVAL }, { "{\"a\",1}", JSON_ERR_INVAL },
		{ "\xef\xbb\xbf{}", JSON_ERR_INVAL }, { "\v1", JSON_ERR_INVAL }, { "\f1", JSON_ERR_INVAL },
		/* literals */
		{ "truex", JSON_ERR_INVAL }, { "True", JSON_ERR_INVAL }, { "nulL", JSON_ERR_INVAL },
		{ "NaN", JSON_ERR_INVAL }, { "Infinity", JSON_ERR_INVAL }, { "-Infinity", JSON_ERR_INVAL },
		{ "undefined", JSON_ERR_INVAL }, { "[fals]", JSON_ERR_INVAL },
		/* numbers */
		{ "01", JSON_ERR_INVAL }, { "-01", JSON_ERR_INVAL }, { "00", JSON_ERR_INVAL },
		{ "[-]", JSON_ERR_INVAL }, { ".5", JSON_ERR_INVAL }, { "-.5", JSON_ERR_INVAL },
		{ "[1.]", JSON_ERR_INVAL }, { "1.e5", JSON_ERR_INVAL }, { "1e+e", JSON_ERR_INVAL },
		{ "[1e]", JSON_ERR_INVAL }, { "1e++1", JSON_ERR_INVAL }, { "+1", JSON_ERR_INVAL },
		{ "0x10", JSON_ERR_INVAL }, { "1.5.2", JSON_ERR_INVAL }, { "1..2", JSON_ERR_INVAL },
		{ "- 1", JSON_ERR_INVAL }, { "1 .5", JSON_ERR_INVAL }, { "--1", JSON_ERR_INVAL },
		/* strings */
		{ "'a'", JSON_ERR_INVAL }, { "\"a\nb\"", JSON_ERR_INVAL }, { "\"\t\"", JSON_ERR_INVAL },
		{ "\"\x1f\"", JSON_ERR_INVAL }, { "\"\\a\"", JSON_ERR_INVAL }, { "\"\\x41\"", JSON_ERR_INVAL },
		{ "\"\\U0041\"", JSON_ERR_INVAL }, { "\"\\u12g4\"", JSON_ERR_INVAL }, { "\"\\u12\"", JSON_ERR_INVAL },
		{ "\"\\'\"", JSON_ERR_INVAL }, { "\"\\0\"", JSON_ERR_INVAL },
		{ "{\"a\x01\":1}", JSON_ERR_INVAL }, { "{\"\\x\":1}", JSON_ERR_INVAL },
		/* surrogate escapes */
		{ "\"\\ud83d\"", JSON_ERR_INVAL }, { "\"\\ude00\"", JSON_ERR_INVAL },
		{ "\"\\ud83dx\"", JSON_ERR_INVAL }, { "\"\\ud83d\\n\"", JSON_ERR_INVAL },
		{ "\"\\ud83d\\ud83d\"", JSON_ERR_INVAL }, { "\"\\ud83d\\u0041\"", JSON_ERR_INVAL },
		{ "\"\\ude00\\ud83d\"", JSON_ERR_INVAL }, { "\"\\uDBFF\\uE000\"", JSON_ERR_INVAL },
		/* UTF-8 inside strings */
		{ "\"\x80\"", JSON_ERR_INVAL }, { "\"\xbf\"", JSON_ERR_INVAL }, { "\"\xc0\x80\"", JSON_ERR_INVAL },
		{ "\"\xc1\xbf\"", JSON_ERR_INVAL }, { "\"\xe0\x80\x80\"", JSON_ERR_INVAL },
		{ "\"\xe0\x9f\xbf\"", JSON_ERR_INVAL }, { "\"\xf0\x80\x80\x80\"", JSON_ERR_INVAL },
		{ "\"\xf0\x8f\xbf\xbf\"", JSON_ERR_INVAL }, { "\"\xed\xa0\x80\"", JSON_ERR_INVAL },
		{ "\"\xed\xbf\xbf\"", JSON_ERR_INVAL }, { "\"\xf4\x90\x80\x80\"", JSON_ERR_INVAL },
		{ "\"\xf5\x80\x80\x80\"", JSON_ERR_INVAL }, { "\"\xff\"", JSON_ERR_INVAL },
		{ "\"\xfe\"", JSON_ERR_INVAL }, { "\"\xc3\"", JSON_ERR_INVAL }, { "\"\xc3x\"", JSON_ERR_INVAL },
		{ "\"\xe2\x82\"", JSON_ERR_INVAL }, { "\"\xf0\x9f\x98x\"", JSON_ERR_INVAL },
		/* bytes outside strings */
		{ "[\xc3\xa9]", JSON_ERR_INVAL }, { "\xff", JSON_ERR_INVAL },
	};
	size_t i;

	for (i = 0; i < sizeof bad / sizeof *bad; i++) {
		int r = parse(bad[i].s);

		if (r != bad[i].err)
			fprintf(stderr, "bad[%zu] \"%s\": got %d, want %d\n", i, bad[i].s, r, bad[i].err);
		CHECK_INT(r, bad[i].err);
		/* Error codes do not depend on the size of the token array. */
		CHECK_INT(json_parse(bad[i].s, strlen(bad[i].s), NULL, 0), bad[i].err);
	}
	/* NUL bytes: never valid, inside or outside strings. */
	CHECK_INT(parse_n("\"a\0b\"", 5), JSON_ERR_INVAL);
	CHECK_INT(parse_n("1\0", 2), JSON_ERR_INVAL);
	CHECK_INT(parse_n("\0", 1), JSON_ERR_INVAL);
	/* The length bounds the input, not the NUL. */
	CHECK_INT(parse_n("[1,2]", 4), JSON_ERR_PART);
	CHECK_INT(parse_n("123", 2), 1);
	CHECK_INT(T[0].end, 2);
	CHECK_INT(parse_n("truex", 4), 1);
}

static void test_limits(void)
{
	char deep[2 * JSON_MAX_DEPTH + 8];
	json_tok few[3];
	int d;

	/* Exactly JSON_MAX_DEPTH nested containers are allowed. */
	for (d = 0; d < JSON_MAX_DEPTH; d++) {
		deep[d] = '[';
		deep[2 * JSON_MAX_DEPTH - 1 - d] = ']';
	}
	CHECK_INT(parse_n(deep, 2 * JSON_MAX_DEPTH), JSON_MAX_DEPTH);
	CHECK_INT(T[0].skip, JSON_MAX_DEPTH);
	CHECK_INT(T[JSON_MAX_DEPTH - 1].size, 0);
	CHECK_INT(T[JSON_MAX_DEPTH - 2].size, 1);
	/* One more is too deep, closed or not. */
	for (d = 0; d <= JSON_MAX_DEPTH; d++) {
		deep[d] = '[';
		deep[2 * JSON_MAX_DEPTH + 1 - d] = ']';
	}
	CHECK_INT(parse_n(deep, 2 * JSON_MAX_DEPTH + 2), JSON_ERR_DEPTH);
	CHECK_INT(parse_n(deep, JSON_MAX_DEPTH + 1), JSON_ERR_DEPTH);
	CHECK_INT(parse_n(deep, JSON_MAX_DEPTH), JSON_ERR_PART);
	/* Objects count too. */
	{
		char obj[6 * JSON_MAX_DEPTH + 8];
		size_t n = 0;

		for (d = 0; d < JSON_MAX_DEPTH; d++)
			n += (size_t)sprintf(obj + n, "{\"a\":");
		obj[n++] = '1';
		for (d = 0; d < JSON_MAX_DEPTH; d++)
			obj[n++] = '}';
		CHECK_INT(parse_n(obj, n), 2 * JSON_MAX_DEPTH + 1);
		CHECK_INT(T[0].size, 1);
		CHECK_INT(T[0].skip, 2 * JSON_MAX_DEPTH + 1);
		obj[5 * JSON_MAX_DEPTH] = '{';
		CHECK_INT(parse_n(obj, n), JSON_ERR_DEPTH);
	}

	/* Token array exhausted, after full validation. */
	CHECK_INT(json_parse("[1,2]", 5, few, 3), 3);
	CHECK_INT(json_parse("[1,2,3]", 7, few, 3), JSON_ERR_NOMEM);
	CHECK_INT(json_parse("[1,2,3,]", 8, few, 3), JSON_ERR_INVAL);
	CHECK_INT(json_parse("[1,2,3", 6, few, 3), JSON_ERR_PART);
	CHECK_INT(json_parse("1", 1, few, 0), JSON_ERR_NOMEM);
	CHECK_INT(json_parse("1", 1, few, 1), 1);
	CHECK_INT(json_parse("{\"a\":1}", 7, few, 2), JSON_ERR_NOMEM);
	CHECK_INT(json_parse("{\"a\":1}", 7, few, 3), 3);
	CHECK_INT(json_parse("x", (size_t)UINT32_MAX + 1, few, 3), JSON_ERR_SIZE);

	CHECK_STR(json_strerror(JSON_ERR_NOMEM), "too many JSON tokens");
	CHECK_STR(json_strerror(JSON_ERR_INVAL), "invalid JSON");
	CHECK_STR(json_strerror(JSON_ERR_PART), "truncated JSON");
	CHECK_STR(json_strerror(JSON_ERR_DEPTH), "JSON nested too deeply");
	CHECK_STR(json_strerror(JSON_ERR_SIZE), "JSON input too large");
	CHECK_STR(json_strerror(-99), "unknown JSON error");
}

static void test_tokens(void)
{
	const char *s = " {\"a\": [1, {\"b\": null}, \"x\\ny\"], \"c\": true, \"d\": {}} ";
	int n = parse(s);

	/* 0 {  1 "a"  2 [  3 1  4 {  5 "b"  6 null  7 "x\ny"  8 "c"  9 true
	 * 10 "d"  11 {} */
	CHECK_INT(n, 12);
	CHECK_INT(T[0].type, JSON_OBJECT);
	CHECK_INT(T[0].size, 3);
	CHECK_INT(T[0].skip, 12);
	CHECK_INT(T[0].start, 1);
	CHECK_INT(T[0].end, strlen(s) - 1);
	CHECK_INT(T[0].last, 1);
	CHECK_INT(T[1].type, JSON_STRING);
	CHECK_MEM(s + T[1].start, T[1].end - T[1].start, "a");
	CHECK_INT(T[1].size, 0);
	CHECK_INT(T[1].skip, 2);
	CHECK_INT(T[1].last, 0);
	CHECK_INT(T[2].type, JSON_ARRAY);
	CHECK_INT(T[2].size, 3);
	CHECK_INT(T[2].skip, 8);
	CHECK_MEM(s + T[2].start, T[2].end - T[2].start, "[1, {\"b\": null}, \"x\\ny\"]");
	CHECK_INT(T[3].type, JSON_NUMBER);
	CHECK_MEM(s + T[3].start, T[3].end - T[3].start, "1");
	CHECK_INT(T[4].type, JSON_OBJECT);
	CHECK_INT(T[4].size, 1);
	CHECK_INT(T[4].skip, 7);
	CHECK_INT(T[6].type, JSON_NULL);
	CHECK_INT(T[6].last, 1);
	CHECK_MEM(s + T[6].start, T[6].end - T[6].start, "null");
	CHECK_INT(T[7].type, JSON_STRING);
	CHECK_INT(T[7].esc, 1);
	CHECK_INT(T[7].last, 1);
	CHECK_INT(T[1].esc, 0);
	CHECK_INT(T[9].type, JSON_TRUE);
	CHECK_INT(T[11].type, JSON_OBJECT);
	CHECK_INT(T[11].size, 0);
	CHECK_INT(T[11].skip, 12);
	CHECK_INT(T[11].last, 1);
	CHECK_INT(T[9].last, 0);

	/* Top-level scalars. */
	CHECK_INT(parse(" \"hi\" "), 1);
	CHECK_INT(T[0].type, JSON_STRING);
	CHECK_INT(T[0].start, 2);
	CHECK_INT(T[0].end, 4);
	CHECK_INT(T[0].skip, 1);
	CHECK_INT(T[0].last, 1);
	CHECK_INT(parse("-12.5e3"), 1);
	CHECK_INT(T[0].type, JSON_NUMBER);
	CHECK_INT(T[0].end, 7);
	CHECK_INT(parse("false"), 1);
	CHECK_INT(T[0].type, JSON_FALSE);
}

static void test_lookup(void)
{
	const char *s = "{\"name\":\"x\",\"n\":42,\"\\u0061\":1,\"list\":[10,[20,21],{\"k\":30},40],"
			"\"dup\":1,\"dup\":2,\"t\":true,\"f\":false,\"z\":null,\"e\\\"q\":\"w\","
			"\"nul\\u0000\":5,\"\xc3\xa9\":\"\\u00e9\"}";
	int n = parse(s), list, i, k, cnt;
	bool bv;
	int64_t iv;
	uint64_t uv;

	CHECK(n > 0);
	CHECK_INT(T[json_obj_get(s, T, 0, "name")].type, JSON_STRING);
	CHECK(json_str_eq(s, T, json_obj_get(s, T, 0, "name"), "x"));
	CHECK(json_get_i64(s, T, json_obj_get(s, T, 0, "n"), &iv) && iv == 42);
	CHECK_INT(json_obj_get(s, T, 0, "missing"), -1);
	CHECK_INT(json_obj_get(s, T, 0, ""), -1);
	CHECK_INT(json_obj_get(s, T, 0, "nam"), -1);
	CHECK_INT(json_obj_get(s, T, 0, "names"), -1);
	/* Keys compare by decoded value. */
	CHECK(json_get_i64(s, T, json_obj_get(s, T, 0, "a"), &iv) && iv == 1);
	CHECK_INT(json_obj_get(s, T, 0, "\\u0061"), -1);
	CHECK(json_obj_get(s, T, 0, "e\"q") > 0);
	CHECK_INT(json_obj_get(s, T, 0, "e\\\"q"), -1);
	CHECK_INT(json_obj_get(s, T, 0, "nul"), -1);
	CHECK(json_str_eq(s, T, json_obj_get(s, T, 0, "\xc3\xa9"), "\xc3\xa9"));
	/* Duplicates: the last one wins. */
	CHECK(json_get_i64(s, T, json_obj_get(s, T, 0, "dup"), &iv) && iv == 2);
	/* Typed lookups. */
	CHECK(json_obj_get_type(s, T, 0, "list", JSON_ARRAY) > 0);
	CHECK_INT(json_obj_get_type(s, T, 0, "list", JSON_OBJECT), -1);
	CHECK_INT(json_obj_get_type(s, T, 0, "nope", JSON_ARRAY), -1);
	CHECK(json_get_bool(s, T, json_obj_get(s, T, 0, "t"), &bv) && bv);
	CHECK(json_get_bool(s, T, json_obj_get(s, T, 0, "f"), &bv) && !bv);
	CHECK(!json_get_bool(s, T, json_obj_get(s, T, 0, "z"), &bv));
	CHECK(!json_get_bool(s, T, json_obj_get(s, T, 0, "n"), &bv));
	CHECK(!json_get_bool(s, T, -1, &bv));
	CHECK(!json_get_u64(s, T, json_obj_get(s, T, 0, "name"), &uv));
	/* Not an object. */
	list = json_obj_get(s, T, 0, "list");
	CHECK_INT(json_obj_get(s, T, list, "k"), -1);
	CHECK_INT(json_obj_get(s, T, -1, "k"), -1);

	/* Arrays. */
	CHECK(json_get_i64(s, T, json_arr_get(T, list, 0), &iv) && iv == 10);
	CHECK_INT(T[json_arr_get(T, list, 1)].type, JSON_ARRAY);
	CHECK(json_get_i64(s, T, json_arr_get(T, json_arr_get(T, list, 1), 1), &iv) && iv == 21);
	CHECK(json_get_i64(s, T, json_obj_get(s, T, json_arr_get(T, list, 2), "k"), &iv) && iv == 30);
	CHECK(json_get_i64(s, T, json_arr_get(T, list, 3), &iv) && iv == 40);
	CHECK_INT(json_arr_get(T, list, 4), -1);
	CHECK_INT(json_arr_get(T, 0, 0), -1);
	CHECK_INT(json_arr_get(T, -1, 0), -1);

	/* Iteration over the array and the object. */
	cnt = 0;
	for (i = json_first(T, list); i >= 0; i = json_next(T, i))
		cnt++;
	CHECK_INT(cnt, 4);
	cnt = 0;
	for (k = json_first(T, 0); k >= 0; k = json_next(T, json_next(T, k)))
		cnt++;
	CHECK_INT(cnt, (int)T[0].size);
	CHECK_INT(cnt, 12);
	CHECK_INT(json_next(T, 1), 2); /* key -> value */
	CHECK_INT(json_next(T, 0), -1); /* root has no sibling */
	CHECK_INT(json_first(T, json_arr_get(T, list, 0)), -1);

	CHECK_INT(parse("[]"), 1);
	CHECK_INT(json_first(T, 0), -1);
	CHECK_INT(parse("{}"), 1);
	CHECK_INT(json_first(T, 0), -1);
	CHECK_INT(json_obj_get("{}", T, 0, "a"), -1);
	CHECK_INT(parse("[[1],[2]]"), 5);
	CHECK_INT(json_next(T, 1), 3);
	CHECK_INT(json_next(T, 3), -1);
	CHECK_INT(json_next(T, 2), -1);
	CHECK_INT(json_next(T, -1), -1);
}

static void test_numbers(void)
{
	const char *s = "[0,-0,42,-42,18446744073709551615,18446744073709551616,"
			"9223372036854775807,9223372036854775808,-9223372036854775808,"
			"-9223372036854775809,1.0,1e2,-1E2,99999999999999999999999]";
	int64_t iv = 7;
	uint64_t uv = 7;

	CHECK_INT(parse(s), 15);
	CHECK(json_get_u64(s, T, 1, &uv) && uv == 0);
	CHECK(json_get_i64(s, T, 1, &iv) && iv == 0);
	CHECK(!json_get_u64(s, T, 2, &uv));
	CHECK(json_get_i64(s, T, 2, &iv) && iv == 0);
	CHECK(json_get_u64(s, T, 3, &uv) && uv == 42);
	CHECK(json_get_i64(s, T, 4, &iv) && iv == -42);
	CHECK(!json_get_u64(s, T, 4, &uv));
	CHECK(json_get_u64(s, T, 5, &uv) && uv == UINT64_MAX);
	CHECK(!json_get_i64(s, T, 5, &iv));
	uv = 7;
	CHECK(!json_get_u64(s, T, 6, &uv));
	CHECK(uv == 7); /* untouched on failure */
	CHECK(json_get_i64(s, T, 7, &iv) && iv == INT64_MAX);
	CHECK(!json_get_i64(s, T, 8, &iv));
	CHECK(json_get_u64(s, T, 8, &uv) && uv == (uint64_t)INT64_MAX + 1);
	CHECK(json_get_i64(s, T, 9, &iv) && iv == INT64_MIN);
	CHECK(!json_get_i64(s, T, 10, &iv));
	CHECK(!json_get_i64(s, T, 11, &iv));
	CHECK(!json_get_u64(s, T, 11, &uv));
	CHECK(!json_get_i64(s, T, 12, &iv));
	CHECK(!json_get_i64(s, T, 13, &iv));
	CHECK(!json_get_u64(s, T, 14, &uv));
	CHECK(!json_get_i64(s, T, 0, &iv)); /* the array */
	CHECK(!json_get_u64(s, T, -1, &uv));
}

/* Decodes the single string document doc. */
static long dec(const char *doc, char *out, size_t cap)
{
	if (parse(doc) != 1)
		return -2;
	return json_str_decode(doc, T, 0, out, cap);
}

static void test_decode(void)
{
	char out[64];
	char *d;
	size_t len = 99;

	CHECK_INT(dec("\"plain\"", out, sizeof out), 5);
	CHECK_STR(out, "plain");
	CHECK_INT(dec("\"\\\"\\\\\\/\\b\\f\\n\\r\\t\"", out, sizeof out), 8);
	CHECK_MEM(out, 8, "\"\\/\b\f\n\r\t");
	CHECK_INT(dec("\"\\u0041\\u00e9\\u20AC\"", out, sizeof out), 6);
	CHECK_STR(out, "A\xc3\xa9\xe2\x82\xac");
	CHECK_INT(dec("\"\\u0000x\"", out, sizeof out), 2);
	CHECK(out[0] == 0 && out[1] == 'x' && out[2] == 0);
	CHECK_INT(dec("\"\\u007f\\u0080\\u07ff\\u0800\\uffff\"", out, sizeof out), 1 + 2 + 2 + 3 + 3);
	CHECK_STR(out, "\x7f\xc2\x80\xdf\xbf\xe0\xa0\x80\xef\xbf\xbf");
	/* Surrogate pairs become one 4-byte sequence. */
	CHECK_INT(dec("\"\\ud83d\\ude00\"", out, sizeof out), 4);
	CHECK_STR(out, "\xf0\x9f\x98\x80");
	CHECK_INT(dec("\"\\ud800\\udc00|\\udbff\\udfff\"", out, sizeof out), 9);
	CHECK_STR(out, "\xf0\x90\x80\x80|\xf4\x8f\xbf\xbf");
	/* Raw UTF-8 is kept. */
	CHECK_INT(dec("\"\xf0\x9f\x98\x80\xc3\xa9\"", out, sizeof out), 6);
	CHECK_STR(out, "\xf0\x9f\x98\x80\xc3\xa9");
	/* Capacity: the NUL must fit too. */
	CHECK_INT(dec("\"abc\"", out, 4), 3);
	CHECK_INT(dec("\"abc\"", out, 3), -1);
	CHECK_INT(dec("\"a\\nc\"", out, 3), -1);
	CHECK_INT(dec("\"a\\u20acc\"", out, 5), -1);
	CHECK_INT(dec("\"a\\u20acc\"", out, 6), 5);
	CHECK_INT(dec("\"\"", out, 1), 0);
	CHECK_INT(dec("\"\"", out, 0), -1);
	CHECK_INT(parse("[1]"), 2);
	CHECK_INT(json_str_decode("[1]", T, 1, out, sizeof out), -1);
	CHECK_INT(json_str_decode("[1]", T, 0, out, sizeof out), -1);
	CHECK_INT(json_str_decode("[1]", T, -1, out, sizeof out), -1);

	/* Hand-made tokens with a lone surrogate or a bad escape. */
	{
		const char *raw = "\"\\ud800\" \"\\q\" \"\\u12\" \\ - \"\\udc00\"";
		json_tok h[6] = {
			{ .type = JSON_STRING, .esc = 1, .start = 1, .end = 7 },
			{ .type = JSON_STRING, .esc = 1, .start = 10, .end = 12 },
			{ .type = JSON_STRING, .esc = 1, .start = 15, .end = 19 },
			{ .type = JSON_STRING, .esc = 1, .start = 21, .end = 22 },
			{ .type = JSON_NUMBER, .start = 23, .end = 24 },
			{ .type = JSON_STRING, .esc = 1, .start = 26, .end = 32 },
		};
		int64_t iv;

		CHECK_INT(json_str_decode(raw, h, 0, out, sizeof out), -1);
		CHECK_INT(json_str_decode(raw, h, 1, out, sizeof out), -1);
		CHECK_INT(json_str_decode(raw, h, 2, out, sizeof out), -1);
		CHECK_INT(json_str_decode(raw, h, 3, out, sizeof out), -1);
		CHECK(!json_get_i64(raw, h, 4, &iv));
		CHECK_INT(json_str_decode(raw, h, 5, out, sizeof out), -1);
		CHECK(json_str_dup(raw, h, 0, NULL) == NULL);
		CHECK(!json_str_eq(raw, h, 0, "x"));
	}

	/* json_str_dup */
	CHECK_INT(parse("[\"a\\tb\\u0000c\", 5]"), 3);
	d = json_str_dup("[\"a\\tb\\u0000c\", 5]", T, 1, &len);
	CHECK(d != NULL);
	CHECK_INT(len, 5);
	CHECK(d && memcmp(d, "a\tb\0c", 6) == 0);
	free(d);
	CHECK(json_str_dup("[\"a\\tb\\u0000c\", 5]", T, 2, &len) == NULL);
	d = json_str_dup("[\"a\\tb\\u0000c\", 5]", T, 1, NULL);
	CHECK(d != NULL);
	free(d);

	/* json_str_eq */
	CHECK_INT(parse("[\"abc\",\"a\\u0062c\",\"\\ud83d\\ude00\",\"\",\"x\\u0000\",1]"), 7);
	{
		const char *s = "[\"abc\",\"a\\u0062c\",\"\\ud83d\\ude00\",\"\",\"x\\u0000\",1]";
		CHECK(json_str_eq(s, T, 1, "abc"));
		CHECK(!json_str_eq(s, T, 1, "ab"));
		CHECK(!json_str_eq(s, T, 1, "abcd"));
		CHECK(json_str_eq(s, T, 2, "abc"));
		CHECK(!json_str_eq(s, T, 2, "abd"));
		CHECK(!json_str_eq(s, T, 2, "a\\u0062c"));
		CHECK(!json_str_eq(s, T, 2, "ab"));
		CHECK(json_str_eq(s, T, 3, "\xf0\x9f\x98\x80"));
		CHECK(!json_str_eq(s, T, 3, "\xf0\x9f\x98"));
		CHECK(json_str_eq(s, T, 4, ""));
		CHECK(!json_str_eq(s, T, 4, "a"));
		CHECK(!json_str_eq(s, T, 5, "x"));
		CHECK(!json_str_eq(s, T, 6, "1"));
		CHECK(!json_str_eq(s, T, 0, ""));
	}
}

static void test_escape(void)
{
	char *e;
	char all[32];
	int i;

	e = esc("plain text", 10);
	CHECK_STR(e, "plain text");
	free(e);
	e = esc("\"\\/", 3);
	CHECK_STR(e, "\\\"\\\\/");
	free(e);
	e = esc("\b\f\n\r\t", 5);
	CHECK_STR(e, "\\b\\f\\n\\r\\t");
	free(e);
	for (i = 0; i < 32; i++)
		all[i] = (char)i;
	e = esc(all, 32);
	CHECK_STR(e, "\\u0000\\u0001\\u0002\\u0003\\u0004\\u0005\\u0006\\u0007\\b\\t\\n\\u000b\\f\\r"
		     "\\u000e\\u000f\\u0010\\u0011\\u0012\\u0013\\u0014\\u0015\\u0016\\u0017\\u0018"
		     "\\u0019\\u001a\\u001b\\u001c\\u001d\\u001e\\u001f");
	free(e);
	e = esc("\x7f", 1); /* DEL is fine as it is */
	CHECK_STR(e, "\x7f");
	free(e);
	e = esc("\xe2\x80\xa8\xe2\x80\xa9", 6); /* U+2028/2029 stay raw */
	CHECK_STR(e, "\xe2\x80\xa8\xe2\x80\xa9");
	free(e);
	e = esc("\xc3\xa9\xe2\x82\xac\xf0\x9f\x98\x80\xf4\x8f\xbf\xbf\xed\x9f\xbf", 16);
	CHECK_STR(e, "\xc3\xa9\xe2\x82\xac\xf0\x9f\x98\x80\xf4\x8f\xbf\xbf\xed\x9f\xbf");
	free(e);

	/* Invalid UTF-8: one U+FFFD per maximal subpart. */
#define FFFD "\xef\xbf\xbd"
	e = esc("a\x80z", 3);
	CHECK_STR(e, "a" FFFD "z");
	free(e);
	e = esc("\xc0\xaf", 2); /* overlong: both bytes are bad on their own */
	CHECK_STR(e, FFFD FFFD);
	free(e);
	e = esc("\xe0\x80\xaf", 3);
	CHECK_STR(e, FFFD FFFD FFFD);
	free(e);
	e = esc("\xed\xa0\x80", 3); /* a surrogate encoded in UTF-8 */
	CHECK_STR(e, FFFD FFFD FFFD);
	free(e);
	e = esc("\xf4\x90\x80\x80", 4); /* above U+10FFFF */
	CHECK_STR(e, FFFD FFFD FFFD FFFD);
	free(e);
	e = esc("\xf5\xff\xfe", 3);
	CHECK_STR(e, FFFD FFFD FFFD);
	free(e);
	e = esc("\xe2\x82", 2); /* truncated at the end: one subpart */
	CHECK_STR(e, FFFD);
	free(e);
	e = esc("\xf0\x9f\x98", 3);
	CHECK_STR(e, FFFD);
	free(e);
	e = esc("\xe2\x82z", 3);
	CHECK_STR(e, FFFD "z");
	free(e);
	e = esc("\xf0\x9f\xc3\xa9", 4);
	CHECK_STR(e, FFFD "\xc3\xa9");
	free(e);
	/* The example of Unicode 15 table 3-8. */
	e = esc("\x61\xf1\x80\x80\xe1\x80\xc2\x62\x80\x63\x80\xbf\x64", 13);
	CHECK_STR(e, "a" FFFD FFFD FFFD "b" FFFD "c" FFFD FFFD "d");
	free(e);
	e = esc("", 0);
	CHECK_STR(e, "");
	free(e);
#undef FFFD
}

static void test_writer(void)
{
	buf_t b;
	jw_t w;
	int d;

	buf_init(&b);
	jw_init(&w, &b);
	jw_obj(&w);
	jw_kstr(&w, "s", "a\"b");
	jw_kint(&w, "i", -5);
	jw_kbool(&w, "t", true);
	jw_key(&w, "arr");
	jw_arr(&w);
	jw_int(&w, 0);
	jw_uint(&w, UINT64_MAX);
	jw_int(&w, INT64_MIN);
	jw_int(&w, INT64_MAX);
	jw_null(&w);
	jw_str(&w, NULL);
	jw_bool(&w, false);
	jw_arr(&w);
	jw_arr_end(&w);
	jw_obj(&w);
	jw_obj_end(&w);
	jw_raw(&w, "{\"r\":1}", 7);
	jw_strn(&w, "ab\0c", 4);
	jw_arr_end(&w);
	jw_key(&w, "k\n");
	jw_obj(&w);
	jw_key(&w, "x");
	jw_arr(&w);
	jw_arr_end(&w);
	jw_obj_end(&w);
	jw_obj_end(&w);
	CHECK_STR(buf_cstr(&b), "{\"s\":\"a\\\"b\",\"i\":-5,\"t\":true,\"arr\":[0,18446744073709551615,"
				"-9223372036854775808,9223372036854775807,null,null,false,[],{},{\"r\":1},"
				"\"ab\\u0000c\"],\"k\\n\":{\"x\":[]}}");
	CHECK(parse_n(b.p, b.len) > 0);
	CHECK_INT(w.depth, 0);

	/* Extra closes are ignored. */
	buf_reset(&b);
	jw_init(&w, &b);
	jw_arr_end(&w);
	jw_int(&w, 7);
	CHECK_STR(buf_cstr(&b), "7");

	/* Invalid UTF-8 in keys and values still gives valid JSON. */
	buf_reset(&b);
	jw_init(&w, &b);
	jw_obj(&w);
	jw_kstr(&w, "\xff", "\xc3");
	jw_obj_end(&w);
	CHECK_STR(buf_cstr(&b), "{\"\xef\xbf\xbd\":\"\xef\xbf\xbd\"}");
	CHECK_INT(parse_n(b.p, b.len), 3);

	/* Past the depth limit, the container becomes null and its contents
	 * are dropped; the output still parses. */
	buf_reset(&b);
	jw_init(&w, &b);
	for (d = 0; d < JSON_MAX_DEPTH; d++)
		jw_arr(&w);
	jw_int(&w, 1);
	jw_obj(&w);
	jw_kint(&w, "x", 2);
	jw_arr(&w);
	jw_arr_end(&w);
	jw_obj_end(&w);
	jw_int(&w, 3);
	for (d = 0; d < JSON_MAX_DEPTH; d++)
		jw_arr_end(&w);
	CHECK_INT(b.len, 2 * JSON_MAX_DEPTH + strlen("1,null,3"));
	CHECK(b.len > 70 && memcmp(b.p + JSON_MAX_DEPTH, "1,null,3]", 9) == 0);
	CHECK_INT(parse_n(b.p, b.len), JSON_MAX_DEPTH + 3);
	CHECK_INT(w.depth, 0);
	buf_free(&b);
}

/* Writes token i and its subtree back out with the writer. */
static int rewrite(jw_t *w, const char *s, int i)
{
	char str[256];
	long n;
	int k;

	switch (T[i].type) {
	case JSON_OBJECT:
		jw_obj(w);
		for (k = json_first(T, i); k >= 0; k = json_next(T, json_next(T, k))) {
			n = json_str_decode(s, T, k, str, sizeof str);
			if (n < 0)
				return -1;
			jw_key(w, str);
			rewrite(w, s, json_next(T, k));
		}
		jw_obj_end(w);
		break;
	case JSON_ARRAY:
		jw_arr(w);
		for (k = json_first(T, i); k >= 0; k = json_next(T, k))
			rewrite(w, s, k);
		jw_arr_end(w);
		break;
	case JSON_STRING:
		n = json_str_decode(s, T, i, str, sizeof str);
		if (n < 0)
			return -1;
		jw_strn(w, str, (size_t)n);
		break;
	case JSON_TRUE:
	case JSON_FALSE:
		jw_bool(w, T[i].type == JSON_TRUE);
		break;
	case JSON_NULL:
		jw_null(w);
		break;
	default:
		jw_raw(w, s + T[i].start, T[i].end - T[i].start);
		break;
	}
	return 0;
}

static void test_roundtrip(void)
{
	static const struct {
		const char *in, *out;
	} rt[] = {
		{ " { \"a\" : [ 1 , 2.5e3 , -0 ] , \"b\" : { } } ", "{\"a\":[1,2.5e3,-0],\"b\":{}}" },
		{ "[\"\\u0041\\/\\u00e9\\ud83d\\ude00\\u001f\\u007f\"]", "[\"A/\xc3\xa9\xf0\x9f\x98\x80\\u001f\x7f\"]" },
		{ "{\"k\\r\\n\":[true,false,null,[[]]]}", "{\"k\\r\\n\":[true,false,null,[[]]]}" },
		{ "\"\\b\\f\"", "\"\\b\\f\"" },
		{ "42", "42" },
	};
	size_t i;
	buf_t b, b2;
	jw_t w;

	buf_init(&b);
	buf_init(&b2);
	for (i = 0; i < sizeof rt / sizeof *rt; i++) {
		CHECK(parse(rt[i].in) > 0);
		buf_reset(&b);
		jw_init(&w, &b);
		CHECK_INT(rewrite(&w, rt[i].in, 0), 0);
		CHECK_STR(buf_cstr(&b), rt[i].out);
		/* Writing the output again changes nothing. */
		CHECK(parse_n(b.p, b.len) > 0);
		buf_reset(&b2);
		jw_init(&w, &b2);
		rewrite(&w, b.p, 0);
		CHECK_STR(buf_cstr(&b2), rt[i].out);
	}
	buf_free(&b);
	buf_free(&b2);
}

int main(void)
{
	test_valid();
	test_invalid();
	test_limits();
	test_tokens();
	test_lookup();
	test_numbers();
	test_decode();
	test_escape();
	test_writer();
	test_roundtrip();
	return t_done("json");
}
