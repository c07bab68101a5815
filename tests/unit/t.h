/* t.h - the unit-test harness: CHECK macros that count, and a summary
 * line "unit <name>: N passed, N failed" that tests/run.sh sums. */
#ifndef TESTS_T_H
#define TESTS_T_H
#include <stdio.h>
#include <string.h>

static int t_pass, t_fail;

#define CHECK(cond) do { \
	if (cond) t_pass++; \
	else { t_fail++; fprintf(stderr, "%s:%d: CHECK failed: %s\n", __FILE__, __LINE__, #cond); } \
} while (0)
#define CHECK_INT(a, b) do { \
	long long t_a_ = (long long)(a), t_b_ = (long long)(b); \
	if (t_a_ == t_b_) t_pass++; \
	else { t_fail++; fprintf(stderr, "%s:%d: %s == %lld, expected %lld\n", __FILE__, __LINE__, #a, t_a_, t_b_); } \
} while (0)
#define CHECK_STR(a, b) do { \
	const char *t_a_ = (a), *t_b_ = (b); \
	if (t_a_ && t_b_ && strcmp(t_a_, t_b_) == 0) t_pass++; \
	else { t_fail++; fprintf(stderr, "%s:%d: %s == \"%s\", expected \"%s\"\n", __FILE__, __LINE__, #a, t_a_ ? t_a_ : "(null)", t_b_ ? t_b_ : "(null)"); } \
} while (0)
#define CHECK_MEM(p, n, s) do { \
	const char *t_s_ = (s); size_t t_n_ = (size_t)(n); \
	if (t_n_ == strlen(t_s_) && memcmp((p), t_s_, t_n_) == 0) t_pass++; \
	else { t_fail++; fprintf(stderr, "%s:%d: %s == \"%.*s\", expected \"%s\"\n", __FILE__, __LINE__, #p, (int)t_n_, (const char *)(p), t_s_); } \
} while (0)

static inline int t_done(const char *name)
{
	printf("unit %s: %d passed, %d failed\n", name, t_pass, t_fail);
	return t_fail ? 1 : 0;
}

#endif
