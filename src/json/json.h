/* json.h - JSON reader (a jsmn-style tokenizer: no allocation, tokens are
 * spans into the caller's bytes) and a compact writer into a buf_t.
 * Depends on base/buf.h only. */
#ifndef JSON_JSON_H
#define JSON_JSON_H
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include "../base/buf.h"

#define JSON_MAX_DEPTH 64 /* nesting limit of reader and writer */

typedef enum {
	JSON_NONE = 0,
	JSON_OBJECT,
	JSON_ARRAY,
	JSON_STRING, /* start/end exclude the quotes; escapes not decoded */
	JSON_NUMBER,
	JSON_TRUE,
	JSON_FALSE,
	JSON_NULL,
} json_type;

typedef struct {
	uint8_t type;   /* json_type */
	uint8_t last;   /* 1 if no sibling follows: last child, or the root */
	uint8_t esc;    /* string: 1 if the raw bytes contain a backslash */
	uint32_t start; /* byte offset of the first byte */
	uint32_t end;   /* byte offset one past the last byte */
	uint32_t size;  /* object: number of keys; array: number of elements;
	                 * 0 for everything else */
	uint32_t skip;  /* index of the token after this whole subtree */
} json_tok;

enum {
	JSON_ERR_NOMEM = -1, /* more tokens than the caller's array holds */
	JSON_ERR_INVAL = -2, /* not RFC 8259 JSON (also: trailing bytes) */
	JSON_ERR_PART = -3,  /* input ended too early */
	JSON_ERR_DEPTH = -4, /* nesting deeper than JSON_MAX_DEPTH */
	JSON_ERR_SIZE = -5,  /* input longer than 4 GiB */
};

/* Tokenizes exactly one JSON value (surrounding whitespace allowed) and
 * validates it strictly: grammar, number syntax, string escapes, control
 * characters and UTF-8 in strings; a \u high surrogate must be followed
 * by a \u low surrogate. For an object, tokens alternate key, value.
 * Returns the number of tokens used, or a JSON_ERR_* value. Token 0 is
 * the root. Input that stops inside a value (also empty input, "-" or
 * "1.") is JSON_ERR_PART. The whole input is validated before
 * JSON_ERR_NOMEM is reported, so json_parse(s, len, NULL, 0) returns
 * JSON_ERR_NOMEM exactly when s is valid JSON. */
int json_parse(const char *s, size_t len, json_tok *toks, unsigned ntoks);
const char *json_strerror(int err);

/* Lookups over a parsed token array. All return a token index or -1.
 * json_obj_get returns the value of the key whose decoded text equals
 * key ("\u0061" matches "a"); with duplicate keys, the last one wins. */
int json_obj_get(const char *s, const json_tok *t, int obj, const char *key);
int json_arr_get(const json_tok *t, int arr, unsigned idx);
/* Iteration: first child (key for objects) and next sibling, -1 at end.
 * For objects, json_next on a key gives its value; on a value, the next key. */
int json_first(const json_tok *t, int parent);
int json_next(const json_tok *t, int i);

/* True if token i is a string whose decoded value equals key. */
bool json_str_eq(const char *s, const json_tok *t, int i, const char *key);
/* Decodes string token i (every escape, surrogate pairs) into out (cap
 * bytes, NUL-terminated). Returns decoded length, or -1 if not a string,
 * a lone surrogate, or it does not fit (cap > end - start always fits).
 * A \u0000 escape decodes to a NUL byte inside the returned length. */
long json_str_decode(const char *s, const json_tok *t, int i, char *out, size_t cap);
/* Allocating variant: returns a NUL-terminated heap copy (caller frees),
 * NULL if token i is not a string. len may be NULL. */
char *json_str_dup(const char *s, const json_tok *t, int i, size_t *len);
/* Scalars: true only for the right token type; out untouched otherwise.
 * The integer getters take numbers without fraction or exponent that fit
 * the type (json_get_u64 rejects any minus sign, also "-0"). */
bool json_get_bool(const char *s, const json_tok *t, int i, bool *out);
bool json_get_u64(const char *s, const json_tok *t, int i, uint64_t *out);
bool json_get_i64(const char *s, const json_tok *t, int i, int64_t *out);
/* Helpers taking an object and key; -1/false if missing or wrong type. */
int json_obj_get_type(const char *s, const json_tok *t, int obj, const char *key, json_type type);

/* Writer: emits compact JSON; commas are placed automatically. Strings are
 * escaped (", \, control characters as \n \r \t \b \f or \u00XX) and
 * invalid UTF-8 is replaced with U+FFFD (one per maximal subpart) so the
 * output is always valid JSON. A container opened deeper than
 * JSON_MAX_DEPTH is written as null and everything inside it dropped. */
typedef struct {
	buf_t *b;
	int depth;
	uint8_t first[JSON_MAX_DEPTH + 1]; /* 1 until the first member at that depth */
	bool after_key;
} jw_t;

void jw_init(jw_t *w, buf_t *b);
void jw_obj(jw_t *w);
void jw_obj_end(jw_t *w);
void jw_arr(jw_t *w);
void jw_arr_end(jw_t *w);
void jw_key(jw_t *w, const char *k);
void jw_str(jw_t *w, const char *s);                /* NULL writes null */
void jw_strn(jw_t *w, const char *s, size_t n);
void jw_int(jw_t *w, int64_t v);
void jw_uint(jw_t *w, uint64_t v);
void jw_bool(jw_t *w, bool v);
void jw_null(jw_t *w);
void jw_raw(jw_t *w, const char *json, size_t n);   /* pre-serialized value */
/* Key + value shorthands. */
void jw_kstr(jw_t *w, const char *k, const char *s);
void jw_kint(jw_t *w, const char *k, int64_t v);
void jw_kbool(jw_t *w, const char *k, bool v);
/* Appends s escaped as a JSON string body (no quotes) to b. */
void json_escape(buf_t *b, const char *s, size_t n);

#endif
