/* tar.h - streaming tar reader (ustar, GNU long names and base-256
 * sizes, pax extended headers), fed in pieces of any size, reporting
 * entries through callbacks. Safety is part of parsing: an entry whose
 * name is absolute or has a ".." component, a hard link whose target is
 * not such a safe name, or a symbolic link whose target would resolve
 * outside the archive root stops the whole archive with an error, so a
 * consumer cannot forget the check. Names are handed out normalized
 * (no "./", no duplicate or trailing '/'). Metadata is bounded by
 * TAR_NAME_MAX and TAR_META_MAX. Depends on libc only. */
#ifndef BASE_TAR_H
#define BASE_TAR_H
#include <stddef.h>
#include <stdint.h>

#define TAR_NAME_MAX 4095          /* bytes of a path or link target */
#define TAR_META_MAX (64 * 1024)   /* pax header or GNU long-name record */

enum { TAR_FILE = 0, TAR_DIR, TAR_SYMLINK, TAR_HARDLINK, TAR_OTHER };

typedef struct {
	int type;          /* TAR_* */
	const char *path;  /* normalized, relative, never empty */
	const char *link;  /* link target as stored ("" for non-links) */
	uint64_t size;     /* data bytes that follow (regular files) */
	unsigned mode;     /* permission bits */
} tar_entry;

/* Each callback returns 0 to go on or -1 to stop (tar_feed then
 * returns -1 with err "stopped"). on_entry may return 1 to skip the
 * entry's data. on_data only comes for TAR_FILE entries. */
typedef struct {
	int (*on_entry)(void *ud, const tar_entry *e);
	int (*on_data)(void *ud, const uint8_t *p, size_t n);
	int (*on_end)(void *ud, const tar_entry *e); /* after the last data byte */
} tar_ops;

typedef struct {
	int state;
	const tar_ops *ops;
	void *ud;
	uint8_t blk[512];
	unsigned blen;
	uint64_t left;      /* data bytes of the current entry still to come */
	uint64_t dsize;     /* stored data size of the current record */
	unsigned pad;       /* padding after it */
	int meta_kind;      /* 'x', 'L', 'K' while collecting metadata */
	size_t meta_len;
	int skip_data;
	tar_entry cur;
	/* overrides for the next entry, from pax or GNU records */
	int have_path, have_link, have_size;
	uint64_t pax_size;
	char path[TAR_NAME_MAX + 1];
	char link[TAR_NAME_MAX + 1];
	char xpath[TAR_NAME_MAX + 1];
	char xlink[TAR_NAME_MAX + 1];
	char meta[TAR_META_MAX];
	uint64_t entries;
	char err[160];
} tar_t;

void tar_init(tar_t *t, const tar_ops *ops, void *ud);
/* Returns 0, or -1 with t->err set (sticky). */
int tar_feed(tar_t *t, const uint8_t *p, size_t n);
/* At the end of the input: 0 if the archive ended on an entry boundary
 * (end-of-archive blocks are optional), else -1 with t->err set. */
int tar_finish(tar_t *t);

/* Normalizes a member name into out (cap bytes): drops "." components,
 * repeated and trailing '/'. Returns the length, 0 for a name that is
 * only the root ("./"), or -1 if it is absolute, has a ".." component,
 * contains a NUL or does not fit. */
long tar_clean_path(const char *in, size_t n, char *out, size_t cap);
/* True if a symlink at path (normalized) pointing to target stays
 * inside the root. */
int tar_link_inside(const char *path, const char *target);

#endif
