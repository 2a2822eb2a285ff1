/* SPDX-License-Identifier: MIT */
/* test: the unit tests' tiny harness. Each group file exports a NULL-ended table. */
#ifndef TESSERA_TEST_H
#define TESSERA_TEST_H

#include <stdio.h>
#include <string.h>

struct test {
	const char *name;
	void (*fn)(void);
};

extern int test_failed_checks;

#define CHECK(cond)                                                                 \
	do {                                                                        \
		if (!(cond)) {                                                      \
			fprintf(stderr, "%s:%d: CHECK failed: %s\n", __FILE__, __LINE__, #cond); \
			test_failed_checks++;                                       \
		}                                                                   \
	} while (0)

#define CHECK_STR(a, b)                                                             \
	do {                                                                        \
		const char *a_ = (a), *b_ = (b);                                    \
		if (!a_ || !b_ || strcmp(a_, b_) != 0) {                            \
			fprintf(stderr, "%s:%d: CHECK_STR failed: '%s' != '%s'\n", __FILE__, __LINE__, \
				a_ ? a_ : "(null)", b_ ? b_ : "(null)");            \
			test_failed_checks++;                                       \
		}                                                                   \
	} while (0)

/* Weak, so one module's tests can be linked alone while the others are being written. */
#define TEST_GROUP extern const struct test __attribute__((weak))
TEST_GROUP util_tests[];
TEST_GROUP spec_tests[];
TEST_GROUP graph_tests[];
TEST_GROUP store_tests[];
TEST_GROUP sched_tests[];
TEST_GROUP expr_tests[];
TEST_GROUP npy_tests[];
TEST_GROUP kernels_tests[];
TEST_GROUP array_tests[];
TEST_GROUP distance_tests[];
TEST_GROUP vcf_tests[];
TEST_GROUP cuda_emu_tests[];
TEST_GROUP csv_tests[];
TEST_GROUP table_tests[];
TEST_GROUP frame_tests[];

#endif
