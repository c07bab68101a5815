/* skills.h - installing the skills of a session (spec 5.7). */
#ifndef AGENTS_SKILLS_H
#define AGENTS_SKILLS_H
#include <stddef.h>

/* js: the SkillsConfig object; cwd: the session's working directory.
 * Returns 0, or -1 with a message for a 400 invalid_request. */
int skills_install(const char *js, const char *cwd, char *err, size_t cap);

#endif
