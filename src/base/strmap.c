/* strmap.c - linear probing with tombstones; FNV-1a hashing. */
#include "strmap.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "buf.h"

static char tombstone[1];

static uint64_t hash(const char *s)
{
	uint64_t h = 1469598103934665603ull;
	for (; *s; s++)
		h = (h ^ (unsigned char)*s) * 1099511628211ull;
	return h;
}

static size_t find(const strmap *m, const char *key)
{
	size_t mask = m->cap - 1;
	for (size_t i = hash(key) & mask;; i = (i + 1) & mask) {
		if (!m->keys[i])
			return i;
		if (m->keys[i] != tombstone && !strcmp(m->keys[i], key))
			return i;
	}
}

static void grow(strmap *m)
{
	strmap n = {0};
	n.cap = m->cap ? m->cap * 2 : 16;
	if ((m->len) * 4 < m->cap)
		n.cap = m->cap; /* mostly tombstones: rehash at the same size */
	n.keys = xcalloc(n.cap, sizeof *n.keys);
	n.vals = xcalloc(n.cap, sizeof *n.vals);
	for (size_t i = 0; i < m->cap; i++) {
		if (m->keys[i] && m->keys[i] != tombstone) {
			size_t j = find(&n, m->keys[i]);
			n.keys[j] = m->keys[i];
			n.vals[j] = m->vals[i];
			n.len++;
		}
	}
	free(m->keys);
	free(m->vals);
	*m = n;
}

void *strmap_get(const strmap *m, const char *key)
{
	if (!m->cap)
		return NULL;
	size_t i = find(m, key);
	return m->keys[i] ? m->vals[i] : NULL;
}

void strmap_put(strmap *m, const char *key, void *val)
{
	if ((m->len + m->tomb + 1) * 4 >= m->cap * 3)
		grow(m);
	size_t i = find(m, key);
	if (!m->keys[i]) {
		m->keys[i] = xstrdup(key);
		m->len++;
	}
	m->vals[i] = val;
}

void *strmap_del(strmap *m, const char *key)
{
	if (!m->cap)
		return NULL;
	size_t i = find(m, key);
	if (!m->keys[i])
		return NULL;
	void *v = m->vals[i];
	free(m->keys[i]);
	m->keys[i] = tombstone;
	m->vals[i] = NULL;
	m->len--;
	m->tomb++;
	return v;
}

void strmap_free(strmap *m)
{
	for (size_t i = 0; i < m->cap; i++)
		if (m->keys[i] && m->keys[i] != tombstone)
			free(m->keys[i]);
	free(m->keys);
	free(m->vals);
	memset(m, 0, sizeof *m);
}

int strmap_next(const strmap *m, size_t *i, const char **key, void **val)
{
	for (; *i < m->cap; (*i)++) {
		if (m->keys[*i] && m->keys[*i] != tombstone) {
			*key = m->keys[*i];
			*val = m->vals[*i];
			(*i)++;
			return 1;
		}
	}
	return 0;
}
