/* SPDX-License-Identifier: MIT */
/* csvnum: numeric CSV files as arrays (see csvnum.h). */
#include "io/csvnum.h"
#include "util/xalloc.h"

#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define BLOCK (1 << 20)

/* Parses one field [p, end) as a number; NaN for empty, NA, NaN. false if it is not one. */
static bool parse_field(const char *p, const char *end, double *v)
{
	while (p < end && (*p == ' ' || *p == '\t'))
		p++;
	while (end > p && (end[-1] == ' ' || end[-1] == '\t' || end[-1] == '\r'))
		end--;
	size_t n = (size_t)(end - p);
	if (n == 0 || (n == 2 && !strncmp(p, "NA", 2)) || (n == 3 && !strncasecmp(p, "nan", 3))) {
		*v = NAN;
		return true;
	}
	char tmp[64];
	if (n >= sizeof tmp)
		return false;
	memcpy(tmp, p, n);
	tmp[n] = '\0';
	char *e;
	*v = strtod(tmp, &e);
	return *e == '\0';
}

int csvnum_scan(const char *path, int header, struct arena *a, struct csvnum *cv, struct err *e)
{
	memset(cv, 0, sizeof *cv);
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return err_sys(e, NULL, "cannot read '%s'", path);
	char *buf = xmalloc(BLOCK + 1);
	size_t marks_cap = 64;
	uint64_t *marks = xmalloc(marks_cap * sizeof *marks);
	/* The first line is looked at field by field as it streams past: its
	 * fields count the columns, and any that is not a number makes it a header. */
	char fld[64];
	size_t fld_len = 0;
	bool fld_long = false, numbers = true, first_done = false, line_start = true;
	uint64_t pos = 0;
	int64_t lines = 0;
	int rc = 0;
	cv->cols = 0;
	for (;;) {
		ssize_t r = read(fd, buf, BLOCK);
		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0) {
			rc = err_sys(e, NULL, "cannot read '%s'", path);
			break;
		}
		if (r == 0)
			break;
		for (ssize_t i = 0; i < r; i++) {
			if (line_start) {
				/* data row number: lines so far, less a header (decided on line 1) */
				int64_t row = lines - (cv->header ? 1 : 0);
				if (first_done && row >= 0 && row % CSVNUM_STEP == 0) {
					XGROW(marks, marks_cap, (size_t)(row / CSVNUM_STEP) + 1);
					marks[row / CSVNUM_STEP] = pos + (uint64_t)i;
				}
				line_start = false;
			}
			char ch = buf[i];
			if (!first_done) {
				if (ch == ',' || ch == '\n') {
					double v;
					if (fld_long || !parse_field(fld, fld + fld_len, &v))
						numbers = false;
					cv->cols++;
					fld_len = 0;
					fld_long = false;
				} else if (fld_len < sizeof fld) {
					fld[fld_len++] = ch;
				} else {
					fld_long = true;
				}
			}
			if (ch == '\n') {
				if (!first_done) {
					first_done = true;
					cv->header = header >= 0 ? header != 0 : !numbers;
					if (!cv->header)
						marks[0] = 0;
				}
				lines++;
				line_start = true;
			}
		}
		pos += (uint64_t)r;
	}
	if (rc == 0 && !line_start)
		lines++; /* a last line without a newline */
	if (rc == 0 && !first_done && lines) {
		/* one line, no newline: finish its last field as the loop would */
		double v;
		if (fld_long || !parse_field(fld, fld + fld_len, &v))
			numbers = false;
		cv->cols++;
		cv->header = header >= 0 ? header != 0 : !numbers && (cv->cols > 1 || fld_len);
		marks[0] = 0;
	}
	close(fd);
	free(buf);
	if (rc < 0) {
		free(marks);
		return -1;
	}
	cv->rows = lines - (cv->header ? 1 : 0);
	if (lines == 0 || cv->rows < 0)
		cv->rows = 0;
	cv->n_marks = cv->rows ? (cv->rows + CSVNUM_STEP - 1) / CSVNUM_STEP : 0;
	cv->marks = arena_alloc(a, (size_t)(cv->n_marks ? cv->n_marks : 1) * sizeof *cv->marks);
	if (cv->n_marks)
		memcpy(cv->marks, marks, (size_t)cv->n_marks * sizeof *marks);
	free(marks);
	if (cv->rows == 0)
		return err_run(e, NULL, "'%s' has no data rows", path);
	return 0;
}

int csvnum_read_box(int fd, const char *path, const struct csvnum *cv, int64_t r0, int64_t nr, int64_t c0,
		    int64_t nc, double *out, struct err *e)
{
	if (nr <= 0 || nc <= 0)
		return 0;
	int64_t row = (r0 / CSVNUM_STEP) * CSVNUM_STEP;
	uint64_t pos = cv->marks[r0 / CSVNUM_STEP];
	size_t cap = 1 << 16, len = 0;
	char *buf = xmalloc(cap);
	int rc = 0;
	bool eof = false;
	size_t at = 0; /* start of the current line in buf */
	while (row < r0 + nr) {
		char *nl = at < len ? memchr(buf + at, '\n', len - at) : NULL;
		if (!nl && !eof) {
			/* keep the partial line, read more */
			memmove(buf, buf + at, len - at);
			len -= at;
			at = 0;
			if (len == cap) {
				cap *= 2;
				buf = xrealloc(buf, cap);
			}
			ssize_t r = pread(fd, buf + len, cap - len, (off_t)pos);
			if (r < 0 && errno == EINTR)
				continue;
			if (r < 0) {
				rc = err_sys(e, NULL, "cannot read '%s'", path);
				break;
			}
			if (r == 0)
				eof = true;
			pos += (uint64_t)r;
			len += (size_t)r;
			continue;
		}
		char *end = nl ? nl : buf + len;
		if (!nl && at == len) {
			rc = err_run(e, NULL, "'%s' ended before data row %lld", path, (long long)row + 1);
			break;
		}
		if (row >= r0) {
			const char *p = buf + at;
			int64_t col = 0;
			double *o = out + (row - r0) * nc;
			for (const char *q = p;; q++) {
				if (q == end || *q == ',') {
					if (col >= c0 && col < c0 + nc) {
						double v;
						if (!parse_field(p, q, &v)) {
							int64_t line = row + 1 + (cv->header ? 1 : 0);
							rc = err_run(e, NULL, "%s:%lld:%lld: '%.*s' is not a number", path, (long long)line,
								     (long long)col + 1, (int)(q - p > 40 ? 40 : q - p), p);
							goto out;
						}
						o[col - c0] = v;
					}
					col++;
					if (q == end || col >= c0 + nc)
						break;
					p = q + 1;
				}
			}
			if (col < c0 + nc) {
				int64_t line = row + 1 + (cv->header ? 1 : 0);
				rc = err_run(e, NULL, "%s:%lld: %lld columns, the first line has %lld", path, (long long)line,
					     (long long)col, (long long)cv->cols);
				goto out;
			}
		}
		row++;
		at = (size_t)(end - buf) + 1;
		if (at > len)
			at = len;
	}
out:
	free(buf);
	return rc;
}
