/* SPDX-License-Identifier: MIT */
/*
 * csvnum: a numeric CSV file as a 2-d float64 array, read by boxes. A scan
 * before anything runs counts the rows and columns, tells a header line
 * from data, and remembers where every CSVNUM_STEP-th row starts, so a box
 * of rows is read by seeking near it and parsing only its lines. Empty
 * fields and NA/NaN are NaN; anything else that is not a number is an error
 * naming the file, line and column.
 */
#ifndef TESSERA_IO_CSVNUM_H
#define TESSERA_IO_CSVNUM_H

#include "util/arena.h"
#include "util/err.h"

#include <stdbool.h>
#include <stdint.h>

#define CSVNUM_STEP 1024

struct csvnum {
	int64_t rows, cols;     /* data rows (the header not counted) */
	bool header;            /* the first line names the columns */
	int64_t n_marks;
	uint64_t *marks;        /* byte offset of data row k * CSVNUM_STEP (arena memory) */
};

/* csvnum_scan() : reads @path once; @header: 1 the first line is a header,
 * 0 it is data, -1 guess (a header when any field is not a number).
 * 0, or -1 and *e (a message without a location). */
int csvnum_scan(const char *path, int header, struct arena *a, struct csvnum *cv, struct err *e);
/* csvnum_read_box() : rows [r0, r0 + nr) and columns [c0, c0 + nc) into @out, C order. */
int csvnum_read_box(int fd, const char *path, const struct csvnum *cv, int64_t r0, int64_t nr, int64_t c0,
		    int64_t nc, double *out, struct err *e);

#endif
