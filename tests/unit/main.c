/* SPDX-License-Identifier: MIT */
/* The unit-test runner: every group's table, one line per test, then "N passed, N failed". */
#include "test.h"
#include "util/blas.h"

#include <stdlib.h>

int test_failed_checks;

static const struct test *const groups[] = { util_tests, spec_tests, graph_tests, store_tests,
					     sched_tests, expr_tests, npy_tests,
					     kernels_tests, array_tests, vcf_tests, distance_tests,
					     cuda_emu_tests, csv_tests, table_tests, frame_tests };

int main(int argc, char **argv)
{
	blas_init();
	const char *only = argc > 1 ? argv[1] : NULL;
	int passed = 0, failed = 0;
	for (size_t g = 0; g < sizeof groups / sizeof groups[0]; g++) {
		if (!groups[g])
			continue;
		for (const struct test *t = groups[g]; t->name; t++) {
			if (only && !strstr(t->name, only))
				continue;
			int before = test_failed_checks;
			t->fn();
			if (test_failed_checks == before) {
				passed++;
				printf("ok   %s\n", t->name);
			} else {
				failed++;
				printf("FAIL %s\n", t->name);
			}
		}
	}
	printf("%d passed, %d failed\n", passed, failed);
	return failed ? 1 : 0;
}
