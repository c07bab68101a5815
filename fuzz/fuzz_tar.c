/* fuzz_tar.c - libFuzzer target for the streaming tar reader.
 *
 * Properties: every reported name is normalized and safe (relative, no
 * "." or ".." component, no empty component), symbolic links stay
 * inside, hard links name safe paths; a file's data adds up to its size
 * and is followed by exactly one end call; and feeding the input whole
 * or in input-derived pieces gives the same events and the same result. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/tar.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define REQUIRE(c) do { if (!(c)) { fprintf(stderr, "property failed: %s (line %d)\n", #c, __LINE__); abort(); } } while (0)

typedef struct {
	uint64_t hash;      /* of the event sequence */
	uint64_t events;
	int in_file;
	uint64_t want, got;
	int skip_every;     /* skip the data of every n-th entry */
	uint64_t n;
} state;

static void mix(state *s, const void *p, size_t n)
{
	const uint8_t *b = p;
	for (size_t i = 0; i < n; i++)
		s->hash = (s->hash ^ b[i]) * 1099511628211ull;
	s->events++;
}

static void check_name(const char *p)
{
	size_t n = strlen(p);
	char tmp[TAR_NAME_MAX + 1];
	REQUIRE(n > 0 && n <= TAR_NAME_MAX);
	REQUIRE(p[0] != '/' && p[n - 1] != '/');
	REQUIRE(!strstr(p, "//"));
	/* already normalized: cleaning it again changes nothing */
	REQUIRE(tar_clean_path(p, n, tmp, sizeof tmp) == (long)n && !strcmp(tmp, p));
}

static int on_entry(void *ud, const tar_entry *e)
{
	state *s = ud;
	REQUIRE(!s->in_file);
	REQUIRE(e->type >= TAR_FILE && e->type <= TAR_OTHER);
	check_name(e->path);
	if (e->type == TAR_SYMLINK)
		REQUIRE(tar_link_inside(e->path, e->link));
	if (e->type == TAR_HARDLINK) {
		char tmp[TAR_NAME_MAX + 1];
		REQUIRE(tar_clean_path(e->link, strlen(e->link), tmp, sizeof tmp) > 0);
	}
	if (e->type != TAR_SYMLINK && e->type != TAR_HARDLINK)
		REQUIRE(e->link[0] == 0);
	REQUIRE(e->type == TAR_FILE || e->size == 0);
	REQUIRE(e->mode <= 07777);
	mix(s, e->path, strlen(e->path));
	mix(s, e->link, strlen(e->link));
	mix(s, &e->size, sizeof e->size);
	s->n++;
	if (s->skip_every && s->n % (uint64_t)s->skip_every == 0)
		return 1;
	if (e->type == TAR_FILE) {
		s->in_file = 1;
		s->want = e->size;
		s->got = 0;
	}
	return 0;
}

static int on_data(void *ud, const uint8_t *p, size_t n)
{
	state *s = ud;
	REQUIRE(s->in_file);
	REQUIRE(n > 0 && s->got + n <= s->want);
	s->got += n;
	/* chunking differs between runs: hash the bytes, not the calls */
	for (size_t i = 0; i < n; i++)
		s->hash = (s->hash ^ p[i]) * 1099511628211ull;
	return 0;
}

static int on_end(void *ud, const tar_entry *e)
{
	state *s = ud;
	REQUIRE(s->in_file && s->got == s->want);
	s->in_file = 0;
	mix(s, "$", 1);
	return 0;
}

static const tar_ops ops = {on_entry, on_data, on_end};

static int run(const uint8_t *d, size_t n, size_t piece, uint32_t seed, int skip, state *s,
		tar_t *t, int *fin)
{
	int r = 0;
	memset(s, 0, sizeof *s);
	s->hash = 1469598103934665603ull;
	s->skip_every = skip;
	tar_init(t, &ops, s);
	for (size_t off = 0; off < n && r == 0;) {
		size_t k = piece ? 1 + seed % piece : n - off;
		seed = seed * 1103515245u + 12345u;
		if (k > n - off)
			k = n - off;
		uint8_t *p = malloc(k); /* exact size: ASan sees over-reads */
		memcpy(p, d + off, k);
		r = tar_feed(t, p, k);
		free(p);
		off += k;
	}
	*fin = r == 0 ? tar_finish(t) : -1;
	if (*fin == 0)
		REQUIRE(!s->in_file);
	return r;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static tar_t t1, t2;
	state a, b;
	int fa, fb;
	if (size < 1)
		return 0;
	size_t piece = 1 + data[0] % 700;
	int skip = data[0] >> 6;
	int ra = run(data + 1, size - 1, 0, 0, skip, &a, &t1, &fa);
	int rb = run(data + 1, size - 1, piece, data[0], skip, &b, &t2, &fb);
	REQUIRE(ra == rb && fa == fb);
	REQUIRE(a.hash == b.hash && a.events == b.events && a.n == b.n);
	if (ra < 0)
		REQUIRE(!strcmp(t1.err, t2.err));
	return 0;
}
