/* SPDX-License-Identifier: MIT */
/*
 * output: how a finished member of an output is written, on the writer
 * thread. Task results are copied byte for byte; arrays go into a .npy file
 * chunk by chunk, into place (never the whole array in memory), or as text:
 * a 0-d array as the shortest repr that reads back to the same value (as
 * numpy prints it), 1-d and 2-d arrays as CSV, one row a line. Members of an
 * output arrive in chunk order, so a 2-d text output assembles one row of
 * chunks at a time.
 */
#include "kernels.h"
#include "sched/sched_int.h"
#include "util/buf.h"
#include "util/xalloc.h"

#include <errno.h>
#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static int write_all(int fd, const char *p, size_t n, struct err *e)
{
	while (n) {
		ssize_t w = write(fd, p, n);
		if (w < 0 && errno == EINTR)
			continue;
		if (w < 0)
			return err_sys(e, NULL, "cannot write output");
		p += w;
		n -= (size_t)w;
	}
	return 0;
}

static void put_value(struct buf *b, enum dtype t, const void *data, int64_t i)
{
	char tmp[64];
	switch (t) {
	case DT_FLOAT64:
		k_format_double(((const double *)data)[i], tmp, sizeof tmp);
		buf_puts(b, tmp);
		break;
	case DT_FLOAT32:
		k_format_float32(((const float *)data)[i], tmp, sizeof tmp);
		buf_puts(b, tmp);
		break;
	case DT_BOOL:
		buf_puts(b, ((const uint8_t *)data)[i] ? "True" : "False");
		break;
	case DT_INT8: buf_printf(b, "%d", ((const int8_t *)data)[i]); break;
	case DT_UINT8: buf_printf(b, "%u", ((const uint8_t *)data)[i]); break;
	case DT_INT16: buf_printf(b, "%d", ((const int16_t *)data)[i]); break;
	case DT_INT32: buf_printf(b, "%" PRId32, ((const int32_t *)data)[i]); break;
	default: buf_printf(b, "%" PRId64, ((const int64_t *)data)[i]); break;
	}
}

static int write_text(struct out_state *os, int64_t c, const void *data, struct err *e)
{
	const struct anode *a = os->o->array;
	enum dtype t = a->dtype;
	size_t isz = dtype_size(t);
	struct buf b;
	buf_init(&b);
	int rc = 0;
	if (a->ndim == 0) {
		put_value(&b, t, data, 0);
		buf_putc(&b, '\n');
	} else if (a->ndim == 1) {
		int64_t start, count;
		anode_chunk_box(a, c, &start, &count);
		for (int64_t i = 0; i < count; i++) {
			put_value(&b, t, data, i);
			buf_putc(&b, '\n');
		}
	} else {
		/* 2-d: copy this chunk's columns into the row block; print it at its last chunk. */
		int64_t start[2], count[2];
		anode_chunk_box(a, c, start, count);
		int64_t width = a->shape[1], ncol = a->chunks[1].n;
		if (!os->block_f) {
			os->block_rows = count[0];
			os->block_f = xmalloc((size_t)(count[0] * width > 0 ? count[0] * width : 1) * isz);
		}
		char *blk = (char *)os->block_f;
		for (int64_t r = 0; r < count[0]; r++)
			memcpy(blk + ((size_t)(r * width + start[1])) * isz, (const char *)data + (size_t)(r * count[1]) * isz,
			       (size_t)count[1] * isz);
		if (c % ncol == ncol - 1) {
			for (int64_t r = 0; r < count[0]; r++) {
				for (int64_t j = 0; j < width; j++) {
					if (j)
						buf_putc(&b, ',');
					put_value(&b, t, blk, r * width + j);
				}
				buf_putc(&b, '\n');
			}
			free(os->block_f);
			os->block_f = NULL;
		}
	}
	if (b.len)
		rc = write_all(os->fd, b.data, b.len, e);
	buf_release(&b);
	return rc;
}

/* Folds a chunk into the output's min / mean / max (NaN counted apart). */
/* One value into a lane of note_f64(). NaN compares false: never a minimum or a maximum. */
static inline void note_lane(double v, double *lo, double *hi, double *sum, int64_t *nan)
{
	*lo = v < *lo ? v : *lo;
	*hi = v > *hi ? v : *hi;
	*sum += v == v ? v : 0.0;
	*nan += v != v;
}

/* note_values() for float64 in four independent lanes: the one-chain loop below took 60 ms of the
 * writer thread per 128 MB chunk, about half a second for a 12000 x 12000 distance matrix. */
static void note_f64(struct out_state *os, const double *x, size_t n)
{
	double lo[4] = { INFINITY, INFINITY, INFINITY, INFINITY }, hi[4] = { -INFINITY, -INFINITY, -INFINITY, -INFINITY };
	double sum[4] = { 0, 0, 0, 0 };
	int64_t nan[4] = { 0, 0, 0, 0 };
	size_t i = 0;
	for (; i + 4 <= n; i += 4)
		for (int k = 0; k < 4; k++)
			note_lane(x[i + (size_t)k], &lo[k], &hi[k], &sum[k], &nan[k]);
	for (; i < n; i++)
		note_lane(x[i], &lo[0], &hi[0], &sum[0], &nan[0]);
	int64_t bad = nan[0] + nan[1] + nan[2] + nan[3], good = (int64_t)n - bad;
	os->v_nan += bad;
	if (!good)
		return;
	double l = fmin(fmin(lo[0], lo[1]), fmin(lo[2], lo[3])), h = fmax(fmax(hi[0], hi[1]), fmax(hi[2], hi[3]));
	if (!os->v_count || l < os->v_min)
		os->v_min = l;
	if (!os->v_count || h > os->v_max)
		os->v_max = h;
	os->v_sum += (sum[0] + sum[1]) + (sum[2] + sum[3]);
	os->v_count += good;
}

static void note_values(struct out_state *os, enum dtype t, const void *data, size_t len)
{
	size_t n = len / dtype_size(t);
	if (t == DT_FLOAT64) {
		note_f64(os, data, n);
		return;
	}
	for (size_t i = 0; i < n; i++) {
		double v;
		switch (t) {
		case DT_FLOAT64: v = ((const double *)data)[i]; break;
		case DT_FLOAT32: v = ((const float *)data)[i]; break;
		case DT_INT64: v = (double)((const int64_t *)data)[i]; break;
		case DT_INT32: v = ((const int32_t *)data)[i]; break;
		case DT_INT16: v = ((const int16_t *)data)[i]; break;
		case DT_INT8: v = ((const int8_t *)data)[i]; break;
		default: v = ((const uint8_t *)data)[i]; break;
		}
		if (v != v) {
			os->v_nan++;
			continue;
		}
		if (!os->v_count || v < os->v_min)
			os->v_min = v;
		if (!os->v_count || v > os->v_max)
			os->v_max = v;
		os->v_sum += v;
		os->v_count++;
	}
}

void output_summary(const struct out_state *os, double seconds, char *out, size_t len)
{
	const struct anode *a = os->o->array;
	char shape[96] = "(";
	for (int k = 0; k < a->ndim; k++)
		snprintf(shape + strlen(shape), sizeof shape - strlen(shape), "%s%" PRId64, k ? ", " : "", a->shape[k]);
	snprintf(shape + strlen(shape), sizeof shape - strlen(shape), a->ndim == 1 ? ",)" : ")");
	int n = snprintf(out, len, "wrote %s to %s: %s %s", os->o->node_name, os->o->path, shape, dtype_name(a->dtype));
	if (a->dtype != DT_BOOL && n > 0 && (size_t)n < len)
		n += snprintf(out + n, len - (size_t)n, ", min %.6g, mean %.6g, max %.6g", os->v_count ? os->v_min : NAN,
			      os->v_count ? os->v_sum / (double)os->v_count : NAN, os->v_count ? os->v_max : NAN);
	if (os->v_nan && n > 0 && (size_t)n < len)
		n += snprintf(out + n, len - (size_t)n, " (%" PRId64 " NaN)", os->v_nan);
	if (n > 0 && (size_t)n < len)
		n += snprintf(out + n, len - (size_t)n, "; %.2f s", seconds);
	if (a->kind == AN_PDIST && n > 0 && (size_t)n < len)
		snprintf(out + n, len - (size_t)n, " on the %s", a->device == PD_GPU ? "GPU" : "CPU");
}

int output_write(struct out_state *os, int64_t task, struct err *e)
{
	if (os->o->format == OUT_BYTES)
		return store_write_to(os->store, task, os->fd, e);
	size_t len;
	const void *data = store_pin(os->store, task, &len, e);
	if (!data)
		return -1;
	const struct anode *a = os->o->array;
	int64_t c = task - os->o->task_first;
	int rc;
	if (a->dtype != DT_BOOL)
		note_values(os, a->dtype, data, len);
	if (os->o->format == OUT_ARRAY_NPY) {
		int64_t start[AR_MAX_DIMS], count[AR_MAX_DIMS];
		anode_chunk_box(a, c, start, count);
		rc = npy_writer_put_box(os->npy, start, count, data, e);
	} else {
		rc = write_text(os, c, data, e);
	}
	store_unpin(os->store, task);
	return rc;
}

void output_release(struct out_state *os)
{
	free(os->block_f);
	os->block_f = NULL;
}
