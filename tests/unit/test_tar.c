/* test_tar.c - the streaming tar reader: archives built here block by
 * block (ustar, GNU long names, pax, base-256), fed whole and byte by
 * byte; path normalization and every refusal of unsafe names/links. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/tar.h"
#include "t.h"

/* ---- an archive builder ---- */

typedef struct {
	unsigned char *p;
	size_t n, cap;
} arc;

static void put(arc *a, const void *d, size_t n)
{
	if (a->n + n > a->cap) {
		a->cap = (a->n + n) * 2 + 4096;
		a->p = realloc(a->p, a->cap);
	}
	memcpy(a->p + a->n, d, n);
	a->n += n;
}

static void pad(arc *a)
{
	static const unsigned char z[512];
	if (a->n % 512)
		put(a, z, 512 - a->n % 512);
}

/* One header block; size in octal unless b256. magic: 0 ustar, 1 GNU, 2 none. */
static void hdr_ex(arc *a, const char *name, const char *prefix, int type, size_t size,
		const char *link, int magic, int b256, int bad_sum)
{
	unsigned char h[512];
	unsigned sum = 0;
	memset(h, 0, sizeof h);
	memcpy(h, name, strlen(name) < 100 ? strlen(name) : 100);
	snprintf((char *)h + 100, 8, "%07o", 0755);
	snprintf((char *)h + 108, 8, "%07o", 0);
	snprintf((char *)h + 116, 8, "%07o", 0);
	if (b256) {
		h[124] = 0x80;
		for (int i = 0; i < 8; i++)
			h[135 - i] = (unsigned char)(size >> (8 * i));
	} else {
		snprintf((char *)h + 124, 12, "%011zo", size);
	}
	snprintf((char *)h + 136, 12, "%011o", 1700000000u);
	h[156] = (unsigned char)type;
	if (link)
		memcpy(h + 157, link, strlen(link));
	if (magic == 0)
		memcpy(h + 257, "ustar\0" "00", 8);
	else if (magic == 1)
		memcpy(h + 257, "ustar  ", 8);
	if (prefix)
		memcpy(h + 345, prefix, strlen(prefix));
	memset(h + 148, ' ', 8);
	for (int i = 0; i < 512; i++)
		sum += h[i];
	snprintf((char *)h + 148, 8, "%06o", sum + (bad_sum ? 1 : 0));
	h[155] = ' ';
	put(a, h, 512);
}

static void file(arc *a, const char *name, const char *data)
{
	hdr_ex(a, name, NULL, '0', strlen(data), NULL, 0, 0, 0);
	put(a, data, strlen(data));
	pad(a);
}

static void ent(arc *a, const char *name, int type, const char *link)
{
	hdr_ex(a, name, NULL, type, 0, link, 0, 0, 0);
}

static void longrec(arc *a, int type, const char *text, size_t n)
{
	hdr_ex(a, "././@LongLink", NULL, type, n, NULL, 1, 0, 0);
	put(a, text, n);
	pad(a);
}

static void end(arc *a)
{
	static const unsigned char z[1024];
	put(a, z, 1024);
}

/* ---- a recording consumer ---- */

typedef struct {
	char log[8192];
	int skip_all, stop_at;
	int entries;
} rec;

static int r_entry(void *ud, const tar_entry *e)
{
	rec *r = ud;
	size_t l = strlen(r->log);
	static const char tc[] = "fdsho";
	snprintf(r->log + l, sizeof r->log - l, "%c:%s%s%s:%llu:%o|", tc[e->type], e->path,
			e->link[0] ? "->" : "", e->link, (unsigned long long)e->size, e->mode);
	if (++r->entries == r->stop_at)
		return -1;
	return r->skip_all ? 1 : 0;
}

static int r_data(void *ud, const uint8_t *p, size_t n)
{
	rec *r = ud;
	size_t l = strlen(r->log);
	snprintf(r->log + l, sizeof r->log - l, "%.*s", (int)n, (const char *)p);
	return 0;
}

static int r_end(void *ud, const tar_entry *e)
{
	rec *r = ud;
	size_t l = strlen(r->log);
	snprintf(r->log + l, sizeof r->log - l, "$|");
	return 0;
}

static const tar_ops ops = {r_entry, r_data, r_end};
static tar_t t;

/* Feeds a whole, then byte by byte, then in 511-byte pieces; all three
 * must agree. Returns the feed+finish result, log in r. */
static int parse(const arc *a, rec *r, int finish)
{
	static const size_t steps[] = {0, 1, 511, 1024};
	char first[8192] = "";
	int first_rc = 0;
	for (size_t s = 0; s < sizeof steps / sizeof steps[0]; s++) {
		rec cur = *r;
		int rc = 0;
		tar_init(&t, &ops, &cur);
		size_t step = steps[s] ? steps[s] : a->n;
		for (size_t off = 0; off < a->n && rc == 0; off += step)
			rc = tar_feed(&t, a->p + off, a->n - off < step ? a->n - off : step);
		if (rc == 0 && finish)
			rc = tar_finish(&t);
		if (s == 0) {
			memcpy(first, cur.log, sizeof first);
			first_rc = rc;
		} else {
			CHECK_STR(cur.log, first);
			CHECK_INT(rc, first_rc);
		}
	}
	memcpy(r->log, first, sizeof first);
	/* leave t in the state of a whole-buffer parse, for err checks */
	rec again = *r;
	again.log[0] = 0;
	tar_init(&t, &ops, &again);
	if (tar_feed(&t, a->p, a->n) == 0 && finish)
		tar_finish(&t);
	return first_rc;
}

static void check_archive(arc *a, int want_rc, const char *want_log, const char *want_err)
{
	rec r;
	memset(&r, 0, sizeof r);
	CHECK_INT(parse(a, &r, 1), want_rc);
	CHECK_STR(r.log, want_log);
	if (want_err)
		CHECK(strstr(t.err, want_err) != NULL);
	if (want_err && !strstr(t.err, want_err))
		fprintf(stderr, "  err was: %s\n", t.err);
	free(a->p);
	memset(a, 0, sizeof *a);
}

static void paths(void)
{
	char out[64];
	CHECK_INT(tar_clean_path("a/b", 3, out, sizeof out), 3);
	CHECK_STR(out, "a/b");
	CHECK_INT(tar_clean_path("./a/./b//c/", 11, out, sizeof out), 5);
	CHECK_STR(out, "a/b/c");
	CHECK_INT(tar_clean_path("./", 2, out, sizeof out), 0);
	CHECK_INT(tar_clean_path("", 0, out, sizeof out), -1);
	CHECK_INT(tar_clean_path("/etc/passwd", 11, out, sizeof out), -1);
	CHECK_INT(tar_clean_path("../x", 4, out, sizeof out), -1);
	CHECK_INT(tar_clean_path("a/../b", 6, out, sizeof out), -1);
	CHECK_INT(tar_clean_path("a/..", 4, out, sizeof out), -1);
	CHECK_INT(tar_clean_path("a/..b/c", 7, out, sizeof out), 7); /* "..b" is a name */
	CHECK_INT(tar_clean_path("a\0b", 3, out, sizeof out), -1);
	CHECK_INT(tar_clean_path("abcdef", 6, out, 6), -1);        /* no room for the NUL */
	CHECK_INT(tar_clean_path("abcde", 5, out, 6), 5);

	CHECK(tar_link_inside("a/link", "b"));
	CHECK(tar_link_inside("a/link", "../b"));
	CHECK(!tar_link_inside("a/link", "../../b"));
	CHECK(!tar_link_inside("link", "../x"));
	CHECK(tar_link_inside("link", "x/../y"));
	CHECK(!tar_link_inside("link", "x/../../y"));
	CHECK(!tar_link_inside("a/link", "/etc/passwd"));
	CHECK(!tar_link_inside("a/link", ""));
	CHECK(tar_link_inside("a/b/link", "./.././c"));
}

int main(void)
{
	arc a = {0};
	char longname[300];

	paths();

	/* basics: files, a directory, data and padding, end blocks */
	ent(&a, "package/", '5', NULL);
	file(&a, "package/a.txt", "hello");
	file(&a, "package/empty", "");
	file(&a, "./package//bin/./tool", "0123456789");
	end(&a);
	check_archive(&a, 0, "d:package:0:755|f:package/a.txt:5:755|hello$|"
			"f:package/empty:0:755|$|f:package/bin/tool:10:755|0123456789$|", NULL);

	/* no end-of-archive blocks is fine; trailing record padding too */
	file(&a, "x", "1");
	check_archive(&a, 0, "f:x:1:755|1$|", NULL);
	file(&a, "x", "1");
	end(&a);
	end(&a);
	end(&a);
	check_archive(&a, 0, "f:x:1:755|1$|", NULL);

	/* ustar prefix, V7 (no magic) directory by trailing slash */
	hdr_ex(&a, "name.txt", "some/prefix", '0', 2, NULL, 0, 0, 0);
	put(&a, "ok", 2);
	pad(&a);
	hdr_ex(&a, "olddir/", NULL, 0, 0, NULL, 2, 0, 0);
	end(&a);
	check_archive(&a, 0, "f:some/prefix/name.txt:2:755|ok$|d:olddir:0:755|", NULL);

	/* GNU long name and long link; base-256 size */
	memset(longname, 'n', sizeof longname);
	memcpy(longname, "deep/", 5);
	longrec(&a, 'L', longname, 250);
	hdr_ex(&a, "truncated-name", NULL, '0', 3, NULL, 1, 1, 0);
	put(&a, "abc", 3);
	pad(&a);
	longrec(&a, 'K', "target/inside", 14); /* with its NUL */
	ent(&a, "deep/sym", '2', "ignored");
	end(&a);
	{
		char want[1024];
		snprintf(want, sizeof want, "f:%.250s:3:755|abc$|s:deep/sym->target/inside:0:755|",
				longname);
		check_archive(&a, 0, want, NULL);
	}

	/* pax: path, linkpath and size override the header; 'g' is ignored */
	{
		const char *g = "20 comment=ignored!\n";
		hdr_ex(&a, "pax_global", NULL, 'g', strlen(g), NULL, 0, 0, 0);
		put(&a, g, strlen(g));
		pad(&a);
		const char *x = "27 path=pax/very/long.name\n10 size=4\n";
		hdr_ex(&a, "PaxHeaders/x", NULL, 'x', strlen(x), NULL, 0, 0, 0);
		put(&a, x, strlen(x));
		pad(&a);
		hdr_ex(&a, "short", NULL, '0', 0, NULL, 0, 0, 0); /* size from pax: 4 */
		put(&a, "data", 4);
		pad(&a);
		file(&a, "after", "z"); /* the override applied to one entry only */
		end(&a);
		check_archive(&a, 0, "f:pax/very/long.name:4:755|data$|f:after:1:755|z$|", NULL);
	}

	/* hard link inside, devices skipped (reported as other) */
	file(&a, "a", "1");
	ent(&a, "b", '1', "a");
	ent(&a, "fifo", '6', NULL);
	end(&a);
	check_archive(&a, 0, "f:a:1:755|1$|h:b->a:0:755|o:fifo:0:755|", NULL);

	/* ---- refusals ---- */
	file(&a, "ok", "1");
	file(&a, "../evil", "x");
	end(&a);
	check_archive(&a, -1, "f:ok:1:755|1$|", "unsafe path in archive: ../evil");
	file(&a, "/etc/cron.d/x", "x");
	check_archive(&a, -1, "", "unsafe path");
	file(&a, "a/../../x", "x");
	check_archive(&a, -1, "", "unsafe path");
	ent(&a, "lnk", '2', "../outside");
	check_archive(&a, -1, "", "points outside");
	ent(&a, "dir/lnk", '2', "/etc");
	check_archive(&a, -1, "", "points outside");
	ent(&a, "hl", '1', "../x");
	check_archive(&a, -1, "", "hard link");
	ent(&a, "hl", '1', "/etc/shadow");
	check_archive(&a, -1, "", "hard link");
	longrec(&a, 'L', "../../escape", 12);
	hdr_ex(&a, "innocent", NULL, '0', 0, NULL, 1, 0, 0);
	check_archive(&a, -1, "", "unsafe path");
	{
		const char *x = "21 path=/abs/olute/p\n";
		hdr_ex(&a, "PaxHeaders/x", NULL, 'x', strlen(x), NULL, 0, 0, 0);
		put(&a, x, strlen(x));
		pad(&a);
		file(&a, "fine", "1");
		check_archive(&a, -1, "", "unsafe path");
	}
	/* malformed pax, bad checksum, oversized metadata, truncation */
	hdr_ex(&a, "PaxHeaders/x", NULL, 'x', 9, NULL, 0, 0, 0);
	put(&a, "9 path=x ", 9);
	pad(&a);
	check_archive(&a, -1, "", "malformed pax");
	hdr_ex(&a, "x", NULL, '0', 0, NULL, 0, 0, 1);
	check_archive(&a, -1, "", "checksum");
	hdr_ex(&a, "big", NULL, 'x', TAR_META_MAX + 1, NULL, 0, 0, 0);
	check_archive(&a, -1, "", "too large");
	file(&a, "x", "abcdef");
	a.n -= 512 - 3; /* cut inside the data */
	check_archive(&a, -1, "f:x:6:755|abc", "truncated");
	file(&a, "x", "1");
	file(&a, "y", "2");
	a.n -= 512 + 100; /* cut inside the second header */
	check_archive(&a, -1, "f:x:1:755|1$|", "truncated");
	check_archive(&a, -1, "", "empty");

	/* consumer control: skip data, stop */
	{
		rec r;
		memset(&r, 0, sizeof r);
		r.skip_all = 1;
		file(&a, "a", "aaa");
		file(&a, "b", "bbb");
		end(&a);
		CHECK_INT(parse(&a, &r, 1), 0);
		CHECK_STR(r.log, "f:a:3:755|f:b:3:755|");
		memset(&r, 0, sizeof r);
		r.stop_at = 1;
		CHECK_INT(parse(&a, &r, 1), -1);
		CHECK_STR(t.err, "stopped");
		free(a.p);
	}
	return t_done("tar");
}
