/* tar.c - streaming tar reader; see tar.h. A small state machine over
 * 512-byte blocks: a header block, then the entry's data (delivered,
 * collected as metadata, or skipped), then padding to the next block.
 * Depends on libc only. */
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "tar.h"

enum { S_HDR, S_DATA, S_META, S_SKIP, S_PAD, S_END, S_ERR };

static int fail(tar_t *t, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static int fail(tar_t *t, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(t->err, sizeof t->err, fmt, ap);
	va_end(ap);
	t->state = S_ERR;
	return -1;
}

void tar_init(tar_t *t, const tar_ops *ops, void *ud)
{
	t->state = S_HDR;
	t->ops = ops;
	t->ud = ud;
	t->blen = 0;
	t->left = 0;
	t->pad = 0;
	t->have_path = t->have_link = t->have_size = 0;
	t->entries = 0;
	t->err[0] = 0;
}

long tar_clean_path(const char *in, size_t n, char *out, size_t cap)
{
	size_t o = 0, i = 0;
	if (n == 0 || in[0] == '/')
		return -1;
	while (i < n) {
		size_t j = i;
		while (j < n && in[j] != '/') {
			if (!in[j])
				return -1;
			j++;
		}
		size_t len = j - i;
		if (len == 2 && in[i] == '.' && in[i + 1] == '.')
			return -1;
		if (len > 0 && !(len == 1 && in[i] == '.')) {
			if (o + (o > 0) + len + 1 > cap)
				return -1;
			if (o > 0)
				out[o++] = '/';
			memcpy(out + o, in + i, len);
			o += len;
		}
		i = j + 1;
	}
	if (cap)
		out[o] = 0;
	return (long)o;
}

int tar_link_inside(const char *path, const char *target)
{
	long depth = 0;
	const char *s;
	if (!*target || *target == '/')
		return 0;
	/* The link lives in dirname(path): one level per '/'. */
	for (s = path; *s; s++)
		if (*s == '/')
			depth++;
	for (s = target; *s;) {
		size_t len = strcspn(s, "/");
		if (len == 2 && s[0] == '.' && s[1] == '.') {
			if (--depth < 0)
				return 0;
		} else if (len > 0 && !(len == 1 && s[0] == '.')) {
			depth++;
		}
		s += len;
		if (*s == '/')
			s++;
	}
	return 1;
}

/* Octal (NUL/space padded) or GNU base-256 (first byte 0x80). */
static int num(const uint8_t *p, size_t n, uint64_t *out)
{
	uint64_t v = 0;
	size_t i = 0;
	if (p[0] & 0x80) {
		if (p[0] != 0x80)
			return -1; /* negative, or too large */
		for (i = 1; i < n; i++) {
			if (v >> 56)
				return -1;
			v = v << 8 | p[i];
		}
		*out = v;
		return 0;
	}
	while (i < n && (p[i] == ' ' || p[i] == 0))
		i++;
	if (i == n) {
		*out = 0;
		return 0;
	}
	for (; i < n && p[i] >= '0' && p[i] <= '7'; i++) {
		if (v >> 60)
			return -1;
		v = v << 3 | (uint64_t)(p[i] - '0');
	}
	for (; i < n; i++)
		if (p[i] != ' ' && p[i] != 0)
			return -1;
	*out = v;
	return 0;
}

static int checksum_ok(const uint8_t *b)
{
	uint64_t want;
	unsigned long u = 0;
	long s = 0;
	if (num(b + 148, 8, &want) < 0)
		return 0;
	for (int i = 0; i < 512; i++) {
		unsigned c = i >= 148 && i < 156 ? ' ' : b[i];
		u += c;
		s += (signed char)c; /* some old writers summed signed bytes */
	}
	return want == u || (long)want == s;
}

static size_t field_len(const uint8_t *p, size_t n)
{
	size_t i = 0;
	while (i < n && p[i])
		i++;
	return i;
}

/* Parses pax records "LEN key=value\n" collected in t->meta. */
static int parse_pax(tar_t *t)
{
	size_t i = 0, n = t->meta_len;
	const char *m = t->meta;
	while (i < n) {
		size_t len = 0, j = i;
		while (j < n && m[j] >= '0' && m[j] <= '9') {
			len = len * 10 + (size_t)(m[j] - '0');
			if (len > n)
				return fail(t, "malformed pax header");
			j++;
		}
		if (j == i || j >= n || m[j] != ' ' || len < j - i + 3 || len > n - i ||
				m[i + len - 1] != '\n')
			return fail(t, "malformed pax header");
		const char *kv = m + j + 1, *end = m + i + len - 1;
		const char *eq = memchr(kv, '=', (size_t)(end - kv));
		if (!eq)
			return fail(t, "malformed pax header");
		size_t klen = (size_t)(eq - kv), vlen = (size_t)(end - eq - 1);
		const char *v = eq + 1;
		if (klen == 4 && !memcmp(kv, "path", 4)) {
			if (vlen > TAR_NAME_MAX || memchr(v, 0, vlen))
				return fail(t, "pax path too long or invalid");
			memcpy(t->xpath, v, vlen);
			t->xpath[vlen] = 0;
			t->have_path = 1;
		} else if (klen == 8 && !memcmp(kv, "linkpath", 8)) {
			if (vlen > TAR_NAME_MAX || memchr(v, 0, vlen))
				return fail(t, "pax linkpath too long or invalid");
			memcpy(t->xlink, v, vlen);
			t->xlink[vlen] = 0;
			t->have_link = 1;
		} else if (klen == 4 && !memcmp(kv, "size", 4)) {
			uint64_t s = 0;
			if (vlen == 0 || vlen > 19)
				return fail(t, "malformed pax size");
			for (size_t k = 0; k < vlen; k++) {
				if (v[k] < '0' || v[k] > '9')
					return fail(t, "malformed pax size");
				s = s * 10 + (uint64_t)(v[k] - '0');
			}
			t->pax_size = s;
			t->have_size = 1;
		}
		i += len;
	}
	return 0;
}

static void after_data(tar_t *t, uint64_t size)
{
	t->pad = (unsigned)((512 - (size & 511)) & 511);
	t->state = t->pad ? S_PAD : S_HDR;
}

static int end_meta(tar_t *t)
{
	if (t->meta_kind == 'x') {
		if (parse_pax(t) < 0)
			return -1;
	} else if (t->meta_kind == 'L' || t->meta_kind == 'K') {
		size_t n = field_len((const uint8_t *)t->meta, t->meta_len);
		char *dst = t->meta_kind == 'L' ? t->xpath : t->xlink;
		if (n > TAR_NAME_MAX)
			return fail(t, "GNU long name too long");
		memcpy(dst, t->meta, n);
		dst[n] = 0;
		if (t->meta_kind == 'L')
			t->have_path = 1;
		else
			t->have_link = 1;
	}
	return 0;
}

static int header(tar_t *t)
{
	const uint8_t *b = t->blk;
	uint64_t size, mode;
	char raw[TAR_NAME_MAX + 1];
	size_t rn;
	int i, type;

	for (i = 0; i < 512 && !b[i]; i++)
		;
	if (i == 512) {
		t->state = S_END; /* the rest is end-of-archive padding */
		return 0;
	}
	if (!checksum_ok(b))
		return fail(t, "bad tar header checksum (not a tar archive?)");
	if (num(b + 124, 12, &size) < 0 || num(b + 100, 8, &mode) < 0)
		return fail(t, "bad numeric field in tar header");
	int flag = b[156];
	int ustar = !memcmp(b + 257, "ustar\0", 6);

	t->dsize = size;
	if (flag == 'x' || flag == 'g' || flag == 'L' || flag == 'K') {
		t->left = size;
		if (flag == 'g') {
			t->state = size ? S_SKIP : S_HDR;
			return 0;
		}
		if (size > TAR_META_MAX)
			return fail(t, "tar metadata record too large (%llu bytes)",
					(unsigned long long)size);
		if (flag == 'x')
			t->have_path = t->have_link = t->have_size = 0;
		t->meta_kind = flag;
		t->meta_len = 0;
		if (!size) {
			if (end_meta(t) < 0)
				return -1;
			after_data(t, 0);
		} else {
			t->state = S_META;
		}
		return 0;
	}

	/* The entry's name: pax/GNU override, else ustar prefix + name. */
	if (t->have_path) {
		rn = strlen(t->xpath);
		memcpy(raw, t->xpath, rn + 1);
	} else {
		size_t pn = ustar ? field_len(b + 345, 155) : 0, nn = field_len(b, 100);
		rn = 0;
		if (pn) {
			memcpy(raw, b + 345, pn);
			raw[pn] = '/';
			rn = pn + 1;
		}
		memcpy(raw + rn, b, nn);
		rn += nn;
		raw[rn] = 0;
	}
	if (t->have_link) {
		snprintf(t->link, sizeof t->link, "%s", t->xlink);
	} else {
		size_t ln = field_len(b + 157, 100);
		memcpy(t->link, b + 157, ln);
		t->link[ln] = 0;
	}
	if (t->have_size)
		size = t->pax_size;
	t->dsize = size;
	t->have_path = t->have_link = t->have_size = 0;

	switch (flag) {
	case '0': case 0: case '7':
		type = rn && raw[rn - 1] == '/' ? TAR_DIR : TAR_FILE;
		break;
	case '5': type = TAR_DIR; break;
	case '1': type = TAR_HARDLINK; break;
	case '2': type = TAR_SYMLINK; break;
	default: type = TAR_OTHER; break;
	}
	long pl = tar_clean_path(raw, rn, t->path, sizeof t->path);
	if (pl < 0)
		return fail(t, "unsafe path in archive: %.100s", raw);
	if (type == TAR_HARDLINK) {
		char tmp[TAR_NAME_MAX + 1];
		if (tar_clean_path(t->link, strlen(t->link), tmp, sizeof tmp) <= 0)
			return fail(t, "hard link %.60s points outside the archive: %.60s", raw, t->link);
	} else if (type == TAR_SYMLINK && (pl == 0 || !tar_link_inside(t->path, t->link))) {
		return fail(t, "symbolic link %.60s points outside the archive: %.60s", raw, t->link);
	}
	t->entries++;
	t->left = size;
	if (pl == 0) { /* "./" itself: nothing to report */
		t->skip_data = 1;
	} else {
		t->cur.type = type;
		t->cur.path = t->path;
		t->cur.link = type == TAR_SYMLINK || type == TAR_HARDLINK ? t->link : "";
		t->cur.size = type == TAR_FILE ? size : 0;
		t->cur.mode = (unsigned)(mode & 07777);
		int r = t->ops && t->ops->on_entry ? t->ops->on_entry(t->ud, &t->cur) : 1;
		if (r < 0)
			return fail(t, "stopped");
		t->skip_data = r == 1 || type != TAR_FILE;
	}
	if (size == 0) {
		if (!t->skip_data && t->ops->on_end && t->ops->on_end(t->ud, &t->cur) < 0)
			return fail(t, "stopped");
		t->state = S_HDR;
		return 0;
	}
	t->state = t->skip_data ? S_SKIP : S_DATA;
	return 0;
}

int tar_feed(tar_t *t, const uint8_t *p, size_t n)
{
	while (n > 0) {
		size_t k;
		switch (t->state) {
		case S_HDR:
			k = 512 - t->blen;
			if (k > n)
				k = n;
			memcpy(t->blk + t->blen, p, k);
			t->blen += (unsigned)k;
			p += k;
			n -= k;
			if (t->blen == 512) {
				t->blen = 0;
				if (header(t) < 0)
					return -1;
			}
			break;
		case S_DATA:
			k = t->left < n ? (size_t)t->left : n;
			if (t->ops->on_data && t->ops->on_data(t->ud, p, k) < 0)
				return fail(t, "stopped");
			p += k;
			n -= k;
			t->left -= k;
			if (!t->left) {
				if (t->ops->on_end && t->ops->on_end(t->ud, &t->cur) < 0)
					return fail(t, "stopped");
				after_data(t, t->dsize);
			}
			break;
		case S_META:
			k = t->left < n ? (size_t)t->left : n;
			memcpy(t->meta + t->meta_len, p, k);
			t->meta_len += k;
			p += k;
			n -= k;
			t->left -= k;
			if (!t->left) {
				if (end_meta(t) < 0)
					return -1;
				after_data(t, t->dsize);
			}
			break;
		case S_SKIP:
			k = t->left < n ? (size_t)t->left : n;
			p += k;
			n -= k;
			t->left -= k;
			if (!t->left)
				after_data(t, t->dsize);
			break;
		case S_PAD:
			k = t->pad < n ? t->pad : n;
			p += k;
			n -= k;
			t->pad -= (unsigned)k;
			if (!t->pad)
				t->state = S_HDR;
			break;
		case S_END:
			return 0;
		default:
			return -1;
		}
	}
	return 0;
}

int tar_finish(tar_t *t)
{
	switch (t->state) {
	case S_END:
		return 0;
	case S_HDR:
		if (t->blen == 0) {
			if (t->entries == 0)
				return fail(t, "empty tar archive");
			return 0;
		}
		return fail(t, "truncated tar archive");
	case S_ERR:
		return -1;
	default:
		return fail(t, "truncated tar archive");
	}
}
