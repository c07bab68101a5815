/* strmap.h - a small open-addressing hash map from NUL-terminated string
 * keys (copied) to pointer values. Depends on buf.h (xmalloc). */
#ifndef BASE_STRMAP_H
#define BASE_STRMAP_H
#include <stddef.h>

typedef struct {
	char **keys;
	void **vals;
	size_t cap; /* power of two, or 0 */
	size_t len;
	size_t tomb;
} strmap;

void *strmap_get(const strmap *m, const char *key);
void strmap_put(strmap *m, const char *key, void *val); /* replaces */
void *strmap_del(strmap *m, const char *key);           /* returns the old value */
void strmap_free(strmap *m);                             /* keys only; values are the caller's */
/* Iteration: for (size_t i = 0; strmap_next(m, &i, &k, &v);) */
int strmap_next(const strmap *m, size_t *i, const char **key, void **val);

#endif
