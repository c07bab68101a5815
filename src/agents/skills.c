/* skills.c - skills on session create (spec 5.7): resolve each source
 * to a directory, discover skill directories (those holding SKILL.md),
 * filter by name, and link them into the agents' skill folders under the
 * session's working directory. Local sources only: remote sources
 * (github, git) need a download and are refused with a clear error. */
#include "skills.h"

#include <errno.h>
#include <dirent.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "../base/buf.h"
#include "../json/json.h"

#define SKILLS_MAX 256
#define SKILL_TOKENS 2048

static const char *const link_roots[] = {".agents/skills", ".claude/skills", ".opencode/skill"};

typedef struct {
	char *paths[SKILLS_MAX]; /* canonical skill directories */
	int n;
} found;

/* out = a + "/" + b (b may be NULL: out = a); false if too long. */
static bool join(char out[PATH_MAX], const char *a, const char *b)
{
	size_t la = strlen(a), lb = b ? strlen(b) : 0;
	if (la + lb + 2 > PATH_MAX)
		return false;
	memcpy(out, a, la);
	if (b) {
		out[la] = '/';
		memcpy(out + la + 1, b, lb);
		out[la + 1 + lb] = 0;
	} else {
		out[la] = 0;
	}
	return true;
}

static bool is_dir(const char *p)
{
	struct stat st;
	return stat(p, &st) == 0 && S_ISDIR(st.st_mode);
}

static bool has_skill_md(const char *dir)
{
	char p[PATH_MAX];
	struct stat st;
	return join(p, dir, "SKILL.md") && stat(p, &st) == 0 && S_ISREG(st.st_mode);
}

static const char *base_name(const char *p)
{
	const char *s = strrchr(p, '/');
	return s ? s + 1 : p;
}

static void add(found *f, const char *dir)
{
	char real[PATH_MAX];
	if (!realpath(dir, real) || f->n >= SKILLS_MAX)
		return;
	for (int i = 0; i < f->n; i++)
		if (!strcmp(f->paths[i], real))
			return;
	f->paths[f->n++] = xstrdup(real);
}

/* Immediate child directories of dir holding SKILL.md. */
static void scan_children(found *f, const char *dir)
{
	DIR *d = opendir(dir);
	struct dirent *e;
	while (d && (e = readdir(d))) {
		if (e->d_name[0] == '.')
			continue;
		char p[PATH_MAX];
		if (join(p, dir, e->d_name) && is_dir(p) && has_skill_md(p))
			add(f, p);
	}
	if (d)
		closedir(d);
}

static bool in_filter(const char *name, const char *js, const json_tok *t, int filter)
{
	if (filter < 0)
		return true;
	for (int i = json_first(t, filter); i >= 0; i = json_next(t, i))
		if (json_str_eq(js, t, i, name))
			return true;
	return false;
}

/* Links one skill into one root. Returns 0, or -1 with err. */
static int link_skill(const char *cwd, const char *root, const char *skill, char *err, size_t cap)
{
	char dir[PATH_MAX], dest[PATH_MAX];
	if (!join(dir, cwd, root) || !join(dest, dir, base_name(skill))) {
		snprintf(err, cap, "skill path too long");
		return -1;
	}
	/* mkdir -p */
	for (char *p = dir + strlen(cwd) + 1; *p; p++) {
		if (*p == '/') {
			*p = 0;
			mkdir(dir, 0755);
			*p = '/';
		}
	}
	mkdir(dir, 0755);
	struct stat lst;
	if (lstat(dest, &lst) == 0) {
		if (S_ISLNK(lst.st_mode)) {
			char target[PATH_MAX];
			if (realpath(dest, target) && !strcmp(target, skill))
				return 0;
			struct stat st;
			if (stat(dest, &st) != 0) { /* dangling: replace */
				unlink(dest);
			} else {
				snprintf(err, cap, "skill path conflict: %s already exists", dest);
				return -1;
			}
		} else if (S_ISDIR(lst.st_mode) && has_skill_md(dest)) {
			return 0;
		} else {
			snprintf(err, cap, "skill path conflict: %s already exists", dest);
			return -1;
		}
	}
	if (symlink(skill, dest) != 0) {
		snprintf(err, cap, "cannot link skill %s: %s", dest, strerror(errno));
		return -1;
	}
	return 0;
}

int skills_install(const char *js, const char *cwd, char *err, size_t cap)
{
	json_tok *t = xmalloc(SKILL_TOKENS * sizeof *t);
	found f = {0};
	int rc = -1;
	int n = json_parse(js, strlen(js), t, SKILL_TOKENS);
	int sources = n > 0 ? json_obj_get(js, t, 0, "sources") : -1;
	if (n <= 0 || t[0].type != JSON_OBJECT || (sources >= 0 && t[sources].type != JSON_ARRAY)) {
		snprintf(err, cap, "skills must be an object with a sources array");
		goto out;
	}
	for (int s = sources >= 0 ? json_first(t, sources) : -1; s >= 0; s = json_next(t, s)) {
		int ti = json_obj_get_type(js, t, s, "type", JSON_STRING);
		int si = json_obj_get_type(js, t, s, "source", JSON_STRING);
		int sub = json_obj_get_type(js, t, s, "subpath", JSON_STRING);
		int filter = json_obj_get_type(js, t, s, "skills", JSON_ARRAY);
		if (ti < 0 || si < 0) {
			snprintf(err, cap, "each skill source needs a type and a source");
			goto out;
		}
		char type[32], src[PATH_MAX], path[PATH_MAX], search[PATH_MAX];
		if (json_str_decode(js, t, ti, type, sizeof type) < 0 ||
				json_str_decode(js, t, si, src, sizeof src) < 0) {
			snprintf(err, cap, "invalid skill source");
			goto out;
		}
		if (strcmp(type, "local")) {
			if (!strcmp(type, "github") || !strcmp(type, "git"))
				snprintf(err, cap, "unsupported skill source type: %s (only local sources "
					"are supported by this build)", type);
			else
				snprintf(err, cap, "unsupported skill source type: %s", type);
			goto out;
		}
		if (!(src[0] == '/' ? join(path, src, NULL) : join(path, cwd, src)) || !is_dir(path)) {
			snprintf(err, cap, "local skill directory not found: %s", src);
			goto out;
		}
		join(search, path, NULL);
		if (sub >= 0) {
			char sp[PATH_MAX];
			if (json_str_decode(js, t, sub, sp, sizeof sp) < 0)
				sp[0] = 0;
			if (!join(search, path, sp) || !is_dir(search)) {
				snprintf(err, cap, "skill search directory not found: %s", search);
				goto out;
			}
		}
		found here = {0};
		if (has_skill_md(search))
			add(&here, search);
		char skills_dir[PATH_MAX];
		if (join(skills_dir, search, "skills") && is_dir(skills_dir))
			scan_children(&here, skills_dir);
		scan_children(&here, search);
		int kept = 0;
		for (int i = 0; i < here.n; i++) {
			if (in_filter(base_name(here.paths[i]), js, t, filter)) {
				add(&f, here.paths[i]);
				kept++;
			}
			free(here.paths[i]);
		}
		if (!kept) {
			buf_t m;
			buf_init(&m);
			buf_printf(&m, "no skills found in %s (%s)", src, type);
			if (filter >= 0) {
				buf_puts(&m, " (filter: ");
				int k = 0;
				for (int i = json_first(t, filter); i >= 0; i = json_next(t, i)) {
					char name[256];
					if (json_str_decode(js, t, i, name, sizeof name) < 0)
						continue;
					buf_printf(&m, "%s%s", k++ ? ", " : "", name);
				}
				buf_putc(&m, ')');
			}
			snprintf(err, cap, "%s", buf_cstr(&m));
			buf_free(&m);
			goto out;
		}
	}
	for (int i = 0; i < f.n; i++)
		for (size_t r = 0; r < sizeof link_roots / sizeof link_roots[0]; r++)
			if (link_skill(cwd, link_roots[r], f.paths[i], err, cap) != 0)
				goto out;
	rc = 0;
out:
	for (int i = 0; i < f.n; i++)
		free(f.paths[i]);
	free(t);
	return rc;
}
