/* SPDX-License-Identifier: MIT */
/*
 * Unit tests for io/npy: the writer's files read back box by box, headers
 * crafted by hand for what the writer never produces (big-endian data,
 * Fortran order, versions 2.0 and 3.0, old 16-byte padding, Python 2 longs),
 * every rejection message, and, when TESSERA_NPY_FIXTURES names a folder
 * that tests/unit/npy_numpy_check.sh filled, files written by numpy itself.
 *
 * Every check compares with a plain reference: the whole array lives in
 * memory in C order (the test's arrays are small), and a box is cut from it
 * one element at a time.
 */
#include "test.h"
#include "io/npy.h"
#include "util/cleanup.h"
#include "util/err.h"
#include "util/xalloc.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <math.h>
#include <pthread.h>
#include <signal.h>
#include <stdint.h>
#include <stdlib.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>

static const bool big_host = __BYTE_ORDER__ == __ORDER_BIG_ENDIAN__;

/* ---- helpers ---- */

static char *tmpdir_new(void)
{
	const char *t = getenv("TMPDIR");
	char *d = xasprintf("%s/tessera-npy-XXXXXX", t && *t ? t : "/tmp");
	if (!mkdtemp(d)) {
		perror("mkdtemp");
		abort();
	}
	return d;
}

static void file_put(const char *path, const void *p, size_t n)
{
	FILE *f = fopen(path, "wb");
	CHECK(f != NULL);
	if (!f)
		return;
	CHECK(fwrite(p, 1, n, f) == n);
	CHECK(fclose(f) == 0);
}

/* A .npy by hand: @dict padded with spaces so the data starts at a multiple
 * of @align (0: no padding at all), then '\n', then @data. */
static void craft(const char *path, int major, int minor, const char *dict, size_t align,
		  const void *data, size_t data_len)
{
	size_t prefix = major == 1 ? 10 : 12, dlen = strlen(dict);
	size_t pad = align ? (align - (prefix + dlen + 1) % align) % align : 0;
	size_t hlen = dlen + pad + 1, n = prefix + hlen + data_len;
	unsigned char *b = xmalloc(n);
	memcpy(b, "\x93NUMPY", 6);
	b[6] = (unsigned char)major;
	b[7] = (unsigned char)minor;
	for (size_t i = 0; i < prefix - 8; i++)
		b[8 + i] = (unsigned char)(hlen >> (8 * i));
	memcpy(b + prefix, dict, dlen);
	memset(b + prefix + dlen, ' ', pad);
	b[prefix + hlen - 1] = '\n';
	if (data_len)
		memcpy(b + prefix + hlen, data, data_len);
	file_put(path, b, n);
	free(b);
}

static int64_t prod(int ndim, const int64_t *v)
{
	int64_t n = 1;
	for (int k = 0; k < ndim; k++)
		n *= v[k];
	return n;
}

static uint64_t rng_state = 88172645463325252ull;

static uint64_t rng(void)
{
	rng_state ^= rng_state << 13;
	rng_state ^= rng_state >> 7;
	rng_state ^= rng_state << 17;
	return rng_state;
}

/* Random elements; bools stay 0 or 1 and floats stay finite numbers, so
 * every value survives a round trip through numpy as well. */
static unsigned char *random_array(enum dtype t, int64_t n)
{
	size_t isz = dtype_size(t);
	unsigned char *p = xmalloc(n ? (size_t)n * isz : 1);
	for (int64_t i = 0; i < n; i++) {
		uint64_t r = rng();
		if (t == DT_BOOL) {
			p[i] = r & 1;
		} else if (t == DT_FLOAT32) {
			float f = (float)((double)(int64_t)r / 1e12);
			memcpy(p + i * 4, &f, 4);
		} else if (t == DT_FLOAT64) {
			double d = (double)(int64_t)r / 1e9;
			memcpy(p + i * 8, &d, 8);
		} else {
			memcpy(p + i * (int64_t)isz, &r, isz);
		}
	}
	return p;
}

/* Cuts the box [start, start + count) out of the C-ordered @full. */
static void ref_box(const unsigned char *full, int ndim, const int64_t *shape, size_t isz,
		    const int64_t *start, const int64_t *count, unsigned char *out)
{
	int64_t n = prod(ndim, count), idx[NPY_MAX_DIMS] = { 0 };
	for (int64_t i = 0; i < n; i++) {
		int64_t off = 0;
		for (int k = 0; k < ndim; k++)
			off = off * shape[k] + start[k] + idx[k];
		memcpy(out + i * (int64_t)isz, full + off * (int64_t)isz, isz);
		for (int k = ndim - 1; k >= 0; k--) {
			if (++idx[k] < count[k])
				break;
			idx[k] = 0;
		}
	}
}

/* Lays the C-ordered @full out as a file would hold it. */
static void ref_layout(const unsigned char *full, int ndim, const int64_t *shape, size_t isz,
		       bool fortran, bool big, unsigned char *out)
{
	int64_t n = prod(ndim, shape), idx[NPY_MAX_DIMS] = { 0 };
	for (int64_t i = 0; i < n; i++) {
		int64_t off = i;
		if (fortran) {
			off = 0;
			for (int k = ndim - 1; k >= 0; k--)
				off = off * shape[k] + idx[k];
		}
		for (size_t b = 0; b < isz; b++)
			out[off * (int64_t)isz + (int64_t)b] =
				full[i * (int64_t)isz + (int64_t)(big != big_host ? isz - 1 - b : b)];
		for (int k = ndim - 1; k >= 0; k--) {
			if (++idx[k] < shape[k])
				break;
			idx[k] = 0;
		}
	}
}

struct box {
	int64_t start[NPY_MAX_DIMS], count[NPY_MAX_DIMS];
};

/* The boxes of a regular grid of @chunk per axis, in C order; edge boxes are
 * smaller. An empty axis gives one empty box. @return how many; free *out. */
static size_t grid(int ndim, const int64_t *shape, const int64_t *chunk, struct box **out)
{
	int64_t n_per[NPY_MAX_DIMS], idx[NPY_MAX_DIMS] = { 0 };
	size_t n = 1;
	for (int k = 0; k < ndim; k++) {
		n_per[k] = shape[k] == 0 ? 1 : (shape[k] + chunk[k] - 1) / chunk[k];
		n *= (size_t)n_per[k];
	}
	struct box *b = xcalloc(n, sizeof *b);
	for (size_t i = 0; i < n; i++) {
		for (int k = 0; k < ndim; k++) {
			b[i].start[k] = idx[k] * chunk[k];
			b[i].count[k] = shape[k] - b[i].start[k] < chunk[k] ? shape[k] - b[i].start[k]
									   : chunk[k];
		}
		for (int k = ndim - 1; k >= 0; k--) {
			if (++idx[k] < n_per[k])
				break;
			idx[k] = 0;
		}
	}
	*out = b;
	return n;
}

/* Reads @path box by box, over grids of 1, 2, 3 and whole per axis (every
 * mix, so boxes end on every kind of edge) and a few random boxes, and
 * compares each with the same box cut from @full. */
static void check_boxes(const char *path, const unsigned char *full)
{
	struct npy_info info;
	struct err e;
	err_init(&e);
	CHECK(npy_read_header(path, &info, &e) == 0);
	if (err_set(&e)) {
		fprintf(stderr, "  %s\n", e.msg);
		return;
	}
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	CHECK(fd >= 0);
	size_t isz = dtype_size(info.dtype);
	int nd = info.ndim;
	unsigned char *got = xmalloc(info.data_bytes + 1), *want = xmalloc(info.data_bytes + 1);
	/* Every mix of 4 chunk sizes is 4^ndim grids: fewer mixes for more axes. */
	int bad = 0, n_choice = nd <= 3 ? 4 : nd <= 8 ? 2 : 1;
	int64_t choice[NPY_MAX_DIMS] = { 0 };
	for (;;) {
		int64_t chunk[NPY_MAX_DIMS];
		for (int k = 0; k < nd; k++) {
			static const int64_t sizes[] = { 1, 2, 3, 0 };
			int64_t c = n_choice < 4 ? (choice[k] ? 0 : 2) : sizes[choice[k]];
			chunk[k] = c == 0 || c > info.shape[k] ? (info.shape[k] ? info.shape[k] : 1) : c;
		}
		struct box *b;
		size_t n = grid(nd, info.shape, chunk, &b);
		for (size_t i = 0; i < n; i++) {
			size_t len = (size_t)prod(nd, b[i].count) * isz;
			memset(got, 0xa5, len + 1);
			ref_box(full, nd, info.shape, isz, b[i].start, b[i].count, want);
			if (npy_read_box(fd, &info, b[i].start, b[i].count, got, &e) != 0 ||
			    memcmp(got, want, len) != 0 || got[len] != 0xa5) {
				if (!bad++)
					fprintf(stderr, "  %s: box %zu of a grid differs%s%s\n", path, i,
						e.msg[0] ? ": " : "", e.msg);
			}
		}
		free(b);
		int k = nd - 1;
		for (; k >= 0; k--) {
			if (++choice[k] < n_choice)
				break;
			choice[k] = 0;
		}
		if (k < 0)
			break;
	}
	for (int r = 0; r < 50 && info.data_bytes; r++) {
		struct box b;
		for (int k = 0; k < nd; k++) {
			b.start[k] = (int64_t)(rng() % (uint64_t)info.shape[k]);
			b.count[k] = 1 + (int64_t)(rng() % (uint64_t)(info.shape[k] - b.start[k]));
		}
		size_t len = (size_t)prod(nd, b.count) * isz;
		ref_box(full, nd, info.shape, isz, b.start, b.count, want);
		if (npy_read_box(fd, &info, b.start, b.count, got, &e) != 0 || memcmp(got, want, len) != 0)
			if (!bad++)
				fprintf(stderr, "  %s: random box %d differs\n", path, r);
	}
	CHECK(bad == 0);
	free(got);
	free(want);
	close(fd);
}

/* Writes @full to @path through a writer, by a grid of @chunk, last box first. */
static void write_by_boxes(const char *path, enum dtype t, int nd, const int64_t *shape,
			   const int64_t *chunk, const unsigned char *full)
{
	struct err e;
	err_init(&e);
	size_t isz = dtype_size(t);
	struct npy_writer *w = npy_writer_new(path, t, nd, shape, &e);
	CHECK(w != NULL);
	if (!w) {
		fprintf(stderr, "  %s\n", e.msg);
		return;
	}
	struct box *b;
	size_t n = grid(nd, shape, chunk, &b);
	unsigned char *part = xmalloc((size_t)prod(nd, shape) * isz + 1);
	for (size_t i = n; i-- > 0;) {
		ref_box(full, nd, shape, isz, b[i].start, b[i].count, part);
		CHECK(npy_writer_put_box(w, b[i].start, b[i].count, part, &e) == 0);
	}
	CHECK(npy_writer_commit(w, &e) == 0);
	CHECK(!err_set(&e));
	free(part);
	free(b);
}

static char *slurp(const char *path, size_t *len)
{
	FILE *f = fopen(path, "rb");
	if (!f)
		return NULL;
	size_t cap = 4096, n = 0;
	char *p = xmalloc(cap);
	size_t r;
	while ((r = fread(p + n, 1, cap - n, f)) > 0) {
		n += r;
		if (n == cap)
			p = xrealloc(p, cap *= 2);
	}
	fclose(f);
	*len = n;
	return p;
}

/* ---- tests ---- */

static void test_npy_dtypes(void)
{
	static const size_t sizes[DT_N] = { 1, 1, 2, 4, 8, 1, 4, 8 };
	static const char *const names[DT_N] = { "bool",  "int8",  "int16",   "int32",
						 "int64", "uint8", "float32", "float64" };
	for (int t = 0; t < DT_N; t++) {
		CHECK(dtype_size((enum dtype)t) == sizes[t]);
		CHECK_STR(dtype_name((enum dtype)t), names[t]);
	}
	CHECK(dtype_size(DT_N) == 0);
	CHECK_STR(dtype_name(DT_N), "?");
}

/* The writer's headers are numpy.save's, byte for byte (numpy 1.24): the
 * dict, spaces, '\n', to a multiple of 64 bytes. numpy leaves room for the
 * first axis to grow to 21 digits, and pads 64 spaces rather than none when
 * the rest ends on a boundary: the last two cases show both. */
static void test_npy_header_bytes(void)
{
	static const struct {
		enum dtype t;
		int nd;
		int64_t shape[14];
		size_t total; /* header bytes numpy writes */
		const char *dict;
	} cases[] = {
		{ DT_FLOAT64, 2, { 3, 4 }, 128, "{'descr': '<f8', 'fortran_order': False, 'shape': (3, 4), }" },
		{ DT_INT32, 0, { 0 }, 128, "{'descr': '<i4', 'fortran_order': False, 'shape': (), }" },
		{ DT_BOOL, 1, { 5 }, 128, "{'descr': '|b1', 'fortran_order': False, 'shape': (5,), }" },
		{ DT_INT8, 2, { 12345678901, 0 }, 128,
		  "{'descr': '|i1', 'fortran_order': False, 'shape': (12345678901, 0), }" },
		{ DT_UINT8, 1, { 0 }, 128, "{'descr': '|u1', 'fortran_order': False, 'shape': (0,), }" },
		{ DT_INT16, 12, { 0, 10, 11, 12, 13, 14, 15, 16, 17, 18, 19, 20 }, 192,
		  "{'descr': '<i2', 'fortran_order': False, 'shape': (0, 10, 11, 12, 13, 14, 15, 16, "
		  "17, 18, 19, 20), }" },
		/* 128 bytes would fit exactly, and numpy pads a whole 64 more. */
		{ DT_INT16, 14, { 0, 10, 10, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7 }, 192,
		  "{'descr': '<i2', 'fortran_order': False, 'shape': (0, 10, 10, 7, 7, 7, 7, 7, 7, 7, "
		  "7, 7, 7, 7), }" },
	};
	char *dir = tmpdir_new();
	char path[512];
	snprintf(path, sizeof path, "%s/h.npy", dir);
	for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		struct err e;
		err_init(&e);
		struct npy_writer *w = npy_writer_new(path, cases[i].t, cases[i].nd, cases[i].shape, &e);
		CHECK(w != NULL);
		if (!w)
			continue;
		int64_t n = prod(cases[i].nd, cases[i].shape);
		unsigned char *zeros = xcalloc((size_t)n + 1, dtype_size(cases[i].t));
		int64_t start[14] = { 0 };
		CHECK(npy_writer_put_box(w, start, cases[i].shape, zeros, &e) == 0);
		CHECK(npy_writer_commit(w, &e) == 0);
		free(zeros);

		size_t total = cases[i].total;
		char want[192];
		memcpy(want, "\x93NUMPY\x01\x00", 8);
		want[8] = (char)(total - 10);
		want[9] = 0;
		memset(want + 10, ' ', total - 10);
		memcpy(want + 10, cases[i].dict, strlen(cases[i].dict));
		want[total - 1] = '\n';
		size_t len = 0;
		char *got = slurp(path, &len);
		CHECK(got && len == total + (size_t)n * dtype_size(cases[i].t));
		CHECK(got && len >= total && memcmp(got, want, total) == 0);
		free(got);
	}
	rm_rf(dir);
	free(dir);
}

/* The most axes there may be, written a box of one element at a time. (The
 * writer's v2.0 branch stays untested: it needs a header over 65535 bytes,
 * and 32 extents of at most 19 digits come nowhere near.) */
static void test_npy_many_axes(void)
{
	char *dir = tmpdir_new();
	char path[512];
	snprintf(path, sizeof path, "%s/m.npy", dir);
	int64_t shape[NPY_MAX_DIMS];
	for (int k = 0; k < NPY_MAX_DIMS; k++)
		shape[k] = k % 5 == 0 ? 2 : 1;
	unsigned char *full = random_array(DT_INT16, prod(NPY_MAX_DIMS, shape));
	int64_t chunk[NPY_MAX_DIMS];
	for (int k = 0; k < NPY_MAX_DIMS; k++)
		chunk[k] = 1;
	write_by_boxes(path, DT_INT16, NPY_MAX_DIMS, shape, chunk, full);
	struct npy_info info;
	struct err e;
	err_init(&e);
	CHECK(npy_read_header(path, &info, &e) == 0);
	CHECK(info.ndim == NPY_MAX_DIMS && info.data_offset % 64 == 0);
	CHECK(info.data_bytes == 2 * 128);
	check_boxes(path, full);
	free(full);
	rm_rf(dir);
	free(dir);
}

/* Writer → reader, every dtype, odd shapes, written by one grid and read by many. */
static void test_npy_roundtrip(void)
{
	static const struct {
		int nd;
		int64_t shape[4], chunk[4];
	} shapes[] = {
		{ 0, { 0 }, { 0 } },
		{ 1, { 1 }, { 1 } },
		{ 1, { 13 }, { 5 } },
		{ 2, { 7, 5 }, { 3, 2 } },
		{ 2, { 0, 4 }, { 1, 2 } },
		{ 3, { 3, 4, 5 }, { 2, 3, 2 } },
		{ 3, { 5, 1, 9 }, { 2, 1, 4 } },
		{ 4, { 2, 3, 1, 4 }, { 1, 2, 1, 3 } },
	};
	char *dir = tmpdir_new();
	char path[512];
	for (int t = 0; t < DT_N; t++) {
		for (size_t s = 0; s < sizeof shapes / sizeof shapes[0]; s++) {
			int nd = shapes[s].nd;
			const int64_t *shape = shapes[s].shape;
			snprintf(path, sizeof path, "%s/%s_%zu.npy", dir, dtype_name((enum dtype)t), s);
			unsigned char *full = random_array((enum dtype)t, prod(nd, shape));
			write_by_boxes(path, (enum dtype)t, nd, shape, shapes[s].chunk, full);

			struct npy_info info;
			struct err e;
			err_init(&e);
			CHECK(npy_read_header(path, &info, &e) == 0);
			CHECK(info.dtype == (enum dtype)t && info.ndim == nd);
			CHECK(!info.fortran_order && !info.big_endian);
			CHECK(info.data_offset == 128);
			CHECK(info.data_bytes == (uint64_t)prod(nd, shape) * dtype_size((enum dtype)t));
			for (int k = 0; k < nd; k++)
				CHECK(info.shape[k] == shape[k]);
			check_boxes(path, full);
			free(full);
		}
	}
	rm_rf(dir);
	free(dir);
}

/* Big-endian and Fortran-order files, laid out by hand, every supported type. */
static void test_npy_byte_order_and_fortran(void)
{
	static const struct {
		const char *descr;
		enum dtype t;
		bool big;
	} types[] = {
		{ ">f8", DT_FLOAT64, true }, { ">i4", DT_INT32, true },	 { ">i2", DT_INT16, true },
		{ ">i8", DT_INT64, true },   { ">f4", DT_FLOAT32, true }, { "<f8", DT_FLOAT64, false },
		{ "<i2", DT_INT16, false },  { "|u1", DT_UINT8, false },  { "|b1", DT_BOOL, false },
		{ "|i1", DT_INT8, false },   { "<i1", DT_INT8, false },	 { ">u1", DT_UINT8, false },
	};
	static const struct {
		int nd;
		int64_t shape[3];
		const char *text;
	} shapes[] = {
		{ 2, { 4, 5 }, "(4, 5)" },
		{ 3, { 3, 4, 2 }, "(3, 4, 2)" },
		{ 1, { 6 }, "(6,)" },
		{ 0, { 0 }, "()" },
		{ 3, { 2, 1, 5 }, "(2, 1, 5)" },
	};
	char *dir = tmpdir_new();
	char path[512], dict[256];
	for (size_t i = 0; i < sizeof types / sizeof types[0]; i++) {
		for (size_t s = 0; s < sizeof shapes / sizeof shapes[0]; s++) {
			for (int f = 0; f < 2; f++) {
				int nd = shapes[s].nd;
				int64_t n = prod(nd, shapes[s].shape);
				size_t isz = dtype_size(types[i].t);
				unsigned char *full = random_array(types[i].t, n);
				unsigned char *data = xmalloc((size_t)n * isz);
				ref_layout(full, nd, shapes[s].shape, isz, f, types[i].big, data);
				snprintf(dict, sizeof dict,
					 "{'descr': '%s', 'fortran_order': %s, 'shape': %s, }",
					 types[i].descr, f ? "True" : "False", shapes[s].text);
				snprintf(path, sizeof path, "%s/t%zu_%zu_%d.npy", dir, i, s, f);
				craft(path, 1, 0, dict, 64, data, (size_t)n * isz);

				struct npy_info info;
				struct err e;
				err_init(&e);
				CHECK(npy_read_header(path, &info, &e) == 0);
				CHECK(info.dtype == types[i].t);
				CHECK(info.big_endian == types[i].big);
				CHECK(info.fortran_order == (f == 1));
				check_boxes(path, full);
				free(full);
				free(data);
			}
		}
	}
	rm_rf(dir);
	free(dir);
}

/* A Fortran-order file larger than the 4 MiB scratch: reordering goes by
 * pieces that end in the middle of columns. Also a large big-endian C file. */
static void test_npy_large(void)
{
	char *dir = tmpdir_new();
	char path[512];
	int64_t shape[2] = { 1000, 600 }, n = 600000;
	unsigned char *full = random_array(DT_FLOAT64, n), *data = xmalloc((size_t)n * 8);
	unsigned char *got = xmalloc((size_t)n * 8), *want = xmalloc((size_t)n * 8);
	for (int f = 0; f < 2; f++) {
		ref_layout(full, 2, shape, 8, f, !f, data);
		snprintf(path, sizeof path, "%s/l%d.npy", dir, f);
		craft(path, 1, 0,
		      f ? "{'descr': '<f8', 'fortran_order': True, 'shape': (1000, 600), }"
			: "{'descr': '>f8', 'fortran_order': False, 'shape': (1000, 600), }",
		      64, data, (size_t)n * 8);
		struct npy_info info;
		struct err e;
		err_init(&e);
		CHECK(npy_read_header(path, &info, &e) == 0);
		int fd = open(path, O_RDONLY | O_CLOEXEC);
		static const int64_t boxes[][4] = {
			{ 0, 0, 1000, 600 }, { 0, 17, 1000, 550 }, { 1, 2, 998, 597 }, { 999, 0, 1, 600 },
			{ 0, 599, 1000, 1 }, { 300, 100, 500, 400 },
		};
		for (size_t b = 0; b < sizeof boxes / sizeof boxes[0]; b++) {
			const int64_t *start = boxes[b], *count = boxes[b] + 2;
			ref_box(full, 2, shape, 8, start, count, want);
			CHECK(npy_read_box(fd, &info, start, count, got, &e) == 0);
			CHECK(memcmp(got, want, (size_t)(count[0] * count[1]) * 8) == 0);
		}
		close(fd);
	}
	free(full);
	free(data);
	free(got);
	free(want);
	rm_rf(dir);
	free(dir);
}

/* This thread's read system calls so far (other threads of the test binary
 * may read meanwhile); -1 where the kernel does not count them. */
static long long read_calls(void)
{
	char line[128];
	long long n = -1;
	FILE *f = fopen("/proc/thread-self/io", "r");
	if (!f)
		return -1;
	while (fgets(line, sizeof line, f))
		if (sscanf(line, "syscr: %lld", &n) == 1)
			break;
	fclose(f);
	return n;
}

/* Boxes of whole rows (C order) or whole columns (Fortran order) are one
 * pread; a box one column wide in a C file is one per row. Counted with the
 * kernel's tally of this thread's read calls. */
static void test_npy_coalescing(void)
{
	if (read_calls() < 0) {
		printf("note: npy_coalescing skipped: no /proc/thread-self/io\n");
		return;
	}
	static const struct {
		bool fortran;
		int64_t start[3], count[3];
		long long preads;
	} cases[] = {
		{ false, { 0, 0, 0 }, { 40, 30, 20 }, 1 },   /* the whole array */
		{ false, { 5, 0, 0 }, { 20, 30, 20 }, 1 },   /* whole planes */
		{ false, { 5, 7, 0 }, { 1, 11, 20 }, 1 },    /* whole rows in one plane */
		{ false, { 5, 7, 0 }, { 3, 11, 20 }, 3 },    /* whole rows in three planes */
		{ false, { 0, 0, 4 }, { 40, 30, 1 }, 1200 }, /* a column: one element per row */
		{ true, { 0, 0, 0 }, { 40, 30, 20 }, 1 },
		{ true, { 0, 0, 3 }, { 40, 30, 9 }, 1 },     /* whole Fortran "planes" */
		{ true, { 0, 4, 3 }, { 40, 5, 9 }, 9 },
		{ true, { 2, 4, 3 }, { 30, 5, 9 }, 45 },
	};
	char *dir = tmpdir_new();
	char path[512];
	int64_t shape[3] = { 40, 30, 20 }, n = 40 * 30 * 20;
	unsigned char *full = random_array(DT_FLOAT32, n), *data = xmalloc((size_t)n * 4);
	unsigned char *got = xmalloc((size_t)n * 4), *want = xmalloc((size_t)n * 4);
	for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		ref_layout(full, 3, shape, 4, cases[i].fortran, false, data);
		snprintf(path, sizeof path, "%s/c.npy", dir);
		craft(path, 1, 0,
		      cases[i].fortran ? "{'descr': '<f4', 'fortran_order': True, 'shape': (40, 30, 20), }"
				       : "{'descr': '<f4', 'fortran_order': False, 'shape': (40, 30, 20), }",
		      64, data, (size_t)n * 4);
		struct npy_info info;
		struct err e;
		err_init(&e);
		CHECK(npy_read_header(path, &info, &e) == 0);
		int fd = open(path, O_RDONLY | O_CLOEXEC);
		long long before = read_calls();
		CHECK(npy_read_box(fd, &info, cases[i].start, cases[i].count, got, &e) == 0);
		/* One more for reading the tally itself. */
		long long calls = read_calls() - before - 1;
		if (calls != cases[i].preads)
			fprintf(stderr, "  case %zu: %lld preads, %lld expected\n", i, calls,
				cases[i].preads);
		CHECK(calls == cases[i].preads);
		ref_box(full, 3, shape, 4, cases[i].start, cases[i].count, want);
		CHECK(memcmp(got, want, (size_t)prod(3, cases[i].count) * 4) == 0);
		close(fd);
	}
	free(full);
	free(data);
	free(got);
	free(want);
	rm_rf(dir);
	free(dir);
}

/* Header variants numpy reads: versions 2.0 and 3.0, 16-byte padding of old
 * files, no padding at all, other key orders and quotes, Python 2 longs. */
static void test_npy_header_variants(void)
{
	static const struct {
		int major;
		size_t align;
		const char *dict;
		enum dtype t;
		bool fortran;
		int nd;
		int64_t shape[3];
	} cases[] = {
		{ 2, 64, "{'descr': '<i4', 'fortran_order': False, 'shape': (3, 2), }", DT_INT32, false, 2, { 3, 2 } },
		{ 3, 64, "{'descr': '>f4', 'fortran_order': True, 'shape': (3, 2), }", DT_FLOAT32, true, 2, { 3, 2 } },
		{ 1, 16, "{'descr': '<f8', 'fortran_order': False, 'shape': (5,), }", DT_FLOAT64, false, 1, { 5 } },
		{ 1, 0, "{'descr': '<i8', 'fortran_order': False, 'shape': (2, 2)}", DT_INT64, false, 2, { 2, 2 } },
		{ 1, 16, "{\"shape\": (2L, 3L), \"fortran_order\": True, \"descr\": \"<i2\"}", DT_INT16, true, 2, { 2, 3 } },
		{ 1, 64, "{ 'shape' : ( 4 , ) ,\n 'descr' :'|b1',\t'fortran_order':False }", DT_BOOL, false, 1, { 4 } },
		{ 2, 16, "{'descr': 'f8', 'fortran_order': False, 'shape': (), }", DT_FLOAT64, false, 0, { 0 } },
		{ 1, 64, "{'descr': '=i4', 'fortran_order': False, 'shape': (1, 2, 3,), }", DT_INT32, false, 3, { 1, 2, 3 } },
		{ 1, 64, "{'descr': '<f4', 'fortran_order': False, 'shape': (0, 3), }", DT_FLOAT32, false, 2, { 0, 3 } },
	};
	char *dir = tmpdir_new();
	char path[512];
	for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		int nd = cases[i].nd;
		int64_t n = prod(nd, cases[i].shape);
		size_t isz = dtype_size(cases[i].t);
		bool big = strchr(cases[i].dict, '>') != NULL;
		unsigned char *full = random_array(cases[i].t, n), *data = xmalloc((size_t)n * isz + 1);
		ref_layout(full, nd, cases[i].shape, isz, cases[i].fortran, big, data);
		snprintf(path, sizeof path, "%s/v%zu.npy", dir, i);
		craft(path, cases[i].major, 0, cases[i].dict, cases[i].align, data, (size_t)n * isz);
		struct npy_info info;
		struct err e;
		err_init(&e);
		CHECK(npy_read_header(path, &info, &e) == 0);
		if (err_set(&e))
			fprintf(stderr, "  case %zu: %s\n", i, e.msg);
		CHECK(info.dtype == cases[i].t && info.ndim == nd);
		CHECK(info.fortran_order == cases[i].fortran && info.big_endian == big);
		size_t unpadded = (cases[i].major == 1 ? 10 : 12) + strlen(cases[i].dict) + 1;
		size_t align = cases[i].align;
		CHECK(info.data_offset == (align ? (unpadded + align - 1) / align * align : unpadded));
		for (int k = 0; k < nd; k++)
			CHECK(info.shape[k] == cases[i].shape[k]);
		check_boxes(path, full);
		free(full);
		free(data);
	}
	rm_rf(dir);
	free(dir);
}

/* Every rejection, with its whole message. */
static void test_npy_rejects(void)
{
	static const struct {
		int major, minor;
		const char *dict;
		size_t data_len;
		const char *msg;   /* after "PATH: "; %zu is where @at first occurs in the dict,
				    * or with @at "$", the header's end */
		const char *at;
	} cases[] = {
		{ 4, 0, "{'descr': '<f8', 'fortran_order': False, 'shape': (2,), }", 16,
		  "unsupported .npy version 4.0 (tessera reads 1.0, 2.0 and 3.0)", NULL },
		{ 1, 1, "{'descr': '<f8', 'fortran_order': False, 'shape': (2,), }", 16,
		  "unsupported .npy version 1.1 (tessera reads 1.0, 2.0 and 3.0)", NULL },
		{ 1, 0, "{'descr': '<c16', 'fortran_order': False, 'shape': (2,), }", 32,
		  "unsupported dtype '<c16' (tessera reads bool, int8..int64, uint8, float32, float64)", NULL },
		{ 1, 0, "{'descr': '|O', 'fortran_order': False, 'shape': (2,), }", 16,
		  "unsupported dtype '|O' (tessera reads bool, int8..int64, uint8, float32, float64)", NULL },
		{ 1, 0, "{'descr': '<U3', 'fortran_order': False, 'shape': (2,), }", 24,
		  "unsupported dtype '<U3' (tessera reads bool, int8..int64, uint8, float32, float64)", NULL },
		{ 1, 0, "{'descr': '<u4', 'fortran_order': False, 'shape': (2,), }", 8,
		  "unsupported dtype '<u4' (tessera reads bool, int8..int64, uint8, float32, float64)", NULL },
		{ 1, 0, "{'descr': '<f2', 'fortran_order': False, 'shape': (2,), }", 4,
		  "unsupported dtype '<f2' (tessera reads bool, int8..int64, uint8, float32, float64)", NULL },
		{ 1, 0, "{'descr': '<M8[ns]', 'fortran_order': False, 'shape': (2,), }", 16,
		  "unsupported dtype '<M8[ns]' (tessera reads bool, int8..int64, uint8, float32, float64)", NULL },
		{ 1, 0, "{'descr': [('a', '<i4'), ('b', '<f8')], 'fortran_order': False, 'shape': (2,), }", 24,
		  "unsupported dtype [('a', '<i4'), ('b', '<f8')] (tessera reads bool, int8..int64, uint8, float32, float64)", NULL },
		{ 1, 0, "['descr', '<f8']", 0, "malformed header: expected '{' opening the header dict at byte 0", NULL },
		{ 1, 0, "{'descr': '<f8', 'fortran_order': False}", 0, "malformed header: missing key 'shape'", NULL },
		{ 1, 0, "{'fortran_order': False, 'shape': (1,)}", 8, "malformed header: missing key 'descr'", NULL },
		{ 1, 0, "{'descr': '<f8', 'order': False, 'shape': (2,), }", 16,
		  "malformed header: unknown key 'order' at byte %zu", "'order'" },
		{ 1, 0, "{'descr': '<f8', 'shape': (2,), 'fortran_order': False, 'shape': (2,), }", 16,
		  "malformed header: duplicate key 'shape' at byte %zu", "'shape': (2,), }" },
		{ 1, 0, "{'descr': '<f8', 'fortran_order': 0, 'shape': (2,), }", 16,
		  "malformed header: 'fortran_order' is not True or False at byte %zu", "0," },
		{ 1, 0, "{'descr': '<f8', 'fortran_order': Trueish, 'shape': (2,), }", 16,
		  "malformed header: 'fortran_order' is not True or False at byte %zu", "Trueish" },
		{ 1, 0, "{'descr': '<f8', 'fortran_order': False, 'shape': (5), }", 40,
		  "malformed header: 'shape' is (5), not a tuple (write (5,))", NULL },
		{ 1, 0, "{'descr': '<f8', 'fortran_order': False, 'shape': (3, -1), }", 0,
		  "malformed header: negative dimension in 'shape' at byte %zu", "-1" },
		{ 1, 0, "{'descr': '<f8', 'fortran_order': False, 'shape': [3, 4], }", 0,
		  "malformed header: expected '(' opening the value of 'shape' at byte %zu", "[3" },
		{ 1, 0, "{'descr': '<f8', 'fortran_order': False, 'shape': (3 4), }", 0,
		  "malformed header: expected ',' or ')' in 'shape' at byte %zu", "4)" },
		{ 1, 0, "{'descr': '<f8', 'fortran_order': False, 'shape': (,), }", 0,
		  "malformed header: expected a dimension or ')' in 'shape' at byte %zu", ",)" },
		{ 1, 0, "{'descr': '<f8', 'fortran_order': False, 'shape': (99999999999999999999,), }", 0,
		  "malformed header: dimension 0 of 'shape' is too large", NULL },
		{ 1, 0, "{'descr': '<f8', 'fortran_order': False, 'shape': (3,)", 0,
		  "malformed header: expected ',' or '}' at byte %zu", "$" },
		{ 1, 0, "{'descr': '<f8' 'fortran_order': False, 'shape': (3,)}", 0,
		  "malformed header: expected ',' or '}' at byte %zu", "'fortran" },
		{ 1, 0, "{'descr': '<f8', 'fortran_order': False, 'shape': (3,)} x", 0,
		  "malformed header: unexpected text after the dict at byte %zu", "x" },
		{ 1, 0, "{'descr': '<f8', 'fortran_order': False, 'shape': (3,)}#", 0,
		  "malformed header: unexpected text after the dict at byte %zu", "#" },
		{ 1, 0, "{'descr': '<f8, 'fortran_order': False, 'shape': (3,)}", 0,
		  "malformed header: expected ',' or '}' at byte %zu", "fortran_order'" },
		{ 1, 0, "{'descr' '<f8', 'fortran_order': False, 'shape': (3,)}", 0,
		  "malformed header: expected ':' after a key at byte %zu", "'<f8'" },
		{ 1, 0, "{'descr': '<f8}", 0, "malformed header: unterminated string", NULL },
		{ 1, 0, "{descr: '<f8'}", 0, "malformed header: expected a quoted key or '}' at byte 1", NULL },
		{ 1, 0, "{'descr': f8, 'fortran_order': False, 'shape': (3,)}", 0,
		  "malformed header: expected a quoted dtype for 'descr' at byte 10", NULL },
		{ 1, 0, "{'descr': [('a', '<i4'), 'fortran_order': False, 'shape': (3,)}", 0,
		  "malformed header: unbalanced brackets in 'descr'", NULL },
		{ 1, 0, "{'descr': [('a', '<i4'), ('b', '<f8'), 'fortran_order': False", 0,
		  "malformed header: unbalanced brackets in 'descr'", NULL },
		{ 1, 0, "{'descr': '<f8', 'fortran_order': False, 'shape': (1, 1, 1, 1, 1, 1, 1, 1, 1, 1, "
			"1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1), }", 8,
		  "33 dimensions (tessera reads at most 32)", NULL },
		{ 1, 0, "{'descr': '<f8', 'fortran_order': False, 'shape': (10, 10), }", 640,
		  "truncated: 800 bytes of data expected, 640 present", NULL },
		{ 1, 0, "{'descr': '<i4', 'fortran_order': True, 'shape': (), }", 0,
		  "truncated: 4 bytes of data expected, 0 present", NULL },
		{ 1, 0, "{'descr': '<f8', 'fortran_order': False, 'shape': (1099511627776, 1099511627776), }", 0,
		  "array too large (its shape overflows 63 bits)", NULL },
	};
	/* Files too short or too odd for a dict; sizeof - 1, as some hold NULs. */
#define RAW(s) s, sizeof s - 1
	static const struct {
		const char *bytes;
		size_t len;
		const char *msg;
	} raws[] = {
		{ RAW("hello, world\n"), "not a .npy file (bad magic)" },
		{ RAW(""), "not a .npy file (bad magic)" },
		{ RAW("\x93NUMP"), "not a .npy file (bad magic)" },
		{ RAW("\x93NUMPY\x01"), "not a .npy file (bad magic)" },
		{ RAW("\x93NUMPY\x01\x00\x76"), "truncated header (10 bytes expected, 9 present)" },
		{ RAW("\x93NUMPY\x02\x00\x76\x00\x00"), "truncated header (12 bytes expected, 11 present)" },
		{ RAW("\x93NUMPY\x01\x00\x76\x00{'descr'"), "truncated header (128 bytes expected, 18 present)" },
		{ RAW("\x93NUMPY\x02\x00\x00\x00\x00\x01"), "header of 16777216 bytes is too large (at most 1048576)" },
		{ RAW("\x93NUMPY\x03\x00\x00\x00\x00\x00"), "malformed header: expected '{' opening the header dict at byte 0" },
	};
#undef RAW
	char *dir = tmpdir_new();
	char path[512], want[1100], msg[512];
	struct npy_info info;
	struct err e;
	for (size_t i = 0; i < sizeof raws / sizeof raws[0]; i++) {
		snprintf(path, sizeof path, "%s/raw%zu.npy", dir, i);
		file_put(path, raws[i].bytes, raws[i].len);
		snprintf(want, sizeof want, "%s: %s", path, raws[i].msg);
		err_init(&e);
		CHECK(npy_read_header(path, &info, &e) == -1);
		CHECK_STR(e.msg, want);
	}

	unsigned char *zeros = xcalloc(1, 1024);
	for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		snprintf(path, sizeof path, "%s/bad%zu.npy", dir, i);
		craft(path, cases[i].major, cases[i].minor, cases[i].dict, 64, zeros, cases[i].data_len);
		size_t at = 0;
		if (cases[i].at && !strcmp(cases[i].at, "$"))
			at = strlen(cases[i].dict) + 1 + (64 - (10 + strlen(cases[i].dict) + 1) % 64) % 64;
		else if (cases[i].at)
			at = (size_t)(strstr(cases[i].dict, cases[i].at) - cases[i].dict);
		snprintf(msg, sizeof msg, cases[i].msg, at);
		snprintf(want, sizeof want, "%s: %s", path, msg);
		err_init(&e);
		CHECK(npy_read_header(path, &info, &e) == -1);
		CHECK(e.code == ERR_RUN);
		if (strcmp(e.msg, want) != 0)
			fprintf(stderr, "  case %zu:\n", i);
		CHECK_STR(e.msg, want);
	}
	snprintf(path, sizeof path, "%s/absent.npy", dir);
	err_init(&e);
	CHECK(npy_read_header(path, &info, &e) == -1);
	snprintf(want, sizeof want, "cannot read '%s': No such file or directory", path);
	CHECK_STR(e.msg, want);
	CHECK(e.sys_errno == ENOENT);

	/* A folder opens but cannot be read. */
	err_init(&e);
	CHECK(npy_read_header(dir, &info, &e) == -1);
	snprintf(want, sizeof want, "cannot read '%s': Is a directory", dir);
	CHECK_STR(e.msg, want);
	free(zeros);
	rm_rf(dir);
	free(dir);
}

/* Boxes outside the shape, empty boxes, and a file that shrank after its header was read. */
static void test_npy_box_errors(void)
{
	char *dir = tmpdir_new();
	char path[512];
	snprintf(path, sizeof path, "%s/b.npy", dir);
	int64_t shape[2] = { 4, 5 }, chunk[2] = { 4, 5 };
	unsigned char *full = random_array(DT_INT32, 20);
	write_by_boxes(path, DT_INT32, 2, shape, chunk, full);
	struct npy_info info;
	struct err e;
	err_init(&e);
	CHECK(npy_read_header(path, &info, &e) == 0);
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	int32_t out[20];

	int64_t s1[2] = { 0, 3 }, c1[2] = { 4, 3 };
	CHECK(npy_read_box(fd, &info, s1, c1, out, &e) == -1);
	CHECK_STR(e.msg, "box [3, 6) on axis 1 is outside the array's extent 5");
	int64_t s2[2] = { -1, 0 }, c2[2] = { 1, 1 };
	err_init(&e);
	CHECK(npy_read_box(fd, &info, s2, c2, out, &e) == -1);
	CHECK_STR(e.msg, "box [-1, 0) on axis 0 is outside the array's extent 4");
	int64_t s3[2] = { 4, 5 }, c3[2] = { 0, 0 };
	err_init(&e);
	CHECK(npy_read_box(fd, &info, s3, c3, out, &e) == 0); /* empty, at the far corner */
	CHECK(!err_set(&e));

	struct npy_writer *w = npy_writer_new(path, DT_INT32, 2, shape, &e);
	CHECK(w != NULL);
	CHECK(npy_writer_put_box(w, s1, c1, full, &e) == -1);
	CHECK_STR(e.msg, "box [3, 6) on axis 1 is outside the array's extent 5");
	npy_writer_abort(w);

	/* The file shrinks under a reader that already has its header. */
	CHECK(truncate(path, 128 + 40) == 0);
	int64_t s4[2] = { 0, 0 }, c4[2] = { 4, 5 };
	err_init(&e);
	CHECK(npy_read_box(fd, &info, s4, c4, out, &e) == -1);
	CHECK_STR(e.msg, "unexpected end of .npy data at byte 168 (the file shrank after its header was read)");
	close(fd);

	/* A Fortran file shrinks too: the reordering path reports the same. */
	snprintf(path, sizeof path, "%s/f.npy", dir);
	craft(path, 1, 0, "{'descr': '<i4', 'fortran_order': True, 'shape': (4, 5), }", 64, full, 80);
	err_init(&e);
	CHECK(npy_read_header(path, &info, &e) == 0);
	CHECK(truncate(path, 128 + 40) == 0);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	CHECK(npy_read_box(fd, &info, s4, c4, out, &e) == -1);
	CHECK_STR(e.msg, "unexpected end of .npy data at byte 168 (the file shrank after its header was read)");
	close(fd);

	/* A descriptor that cannot be read. */
	err_init(&e);
	CHECK(npy_read_box(-1, &info, s4, c4, out, &e) == -1);
	CHECK_STR(e.msg, "cannot read .npy data at byte 128: Bad file descriptor");
	free(full);
	rm_rf(dir);
	free(dir);
}

static size_t count_entries(const char *dir)
{
	size_t n = 0;
	DIR *d = opendir(dir);
	if (!d)
		return (size_t)-1;
	for (struct dirent *de; (de = readdir(d));)
		n += strcmp(de->d_name, ".") && strcmp(de->d_name, "..");
	closedir(d);
	return n;
}

/* The writer's file life: hidden while written, gone on abort, renamed with
 * the umask's mode on commit, replacing what was there; creation errors. */
static void test_npy_writer_life(void)
{
	char *dir = tmpdir_new();
	char path[512], want[600];
	struct err e;
	err_init(&e);
	snprintf(path, sizeof path, "%s/out.npy", dir);
	int64_t shape[1] = { 3 }, start[1] = { 0 };
	double v[3] = { 1.5, -2, 1e300 };

	struct npy_writer *w = npy_writer_new(path, DT_FLOAT64, 1, shape, &e);
	CHECK(w != NULL);
	CHECK(count_entries(dir) == 1);
	CHECK(access(path, F_OK) != 0);
	npy_writer_abort(w);
	CHECK(count_entries(dir) == 0);
	npy_writer_abort(NULL);

	file_put(path, "old", 3);
	mode_t mask = umask(027);
	w = npy_writer_new(path, DT_FLOAT64, 1, shape, &e);
	CHECK(npy_writer_put_box(w, start, shape, v, &e) == 0);
	CHECK(npy_writer_commit(w, &e) == 0);
	umask(mask);
	struct stat st;
	CHECK(stat(path, &st) == 0 && (st.st_mode & 0777) == 0640);
	CHECK(st.st_size == 128 + 24);
	CHECK(count_entries(dir) == 1);
	struct npy_info info;
	CHECK(npy_read_header(path, &info, &e) == 0);
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	double got[3];
	CHECK(npy_read_box(fd, &info, start, shape, got, &e) == 0);
	CHECK(memcmp(got, v, sizeof v) == 0);
	close(fd);

	/* A box never put reads as zeros. */
	w = npy_writer_new(path, DT_FLOAT64, 1, shape, &e);
	int64_t one[1] = { 1 };
	CHECK(npy_writer_put_box(w, one, one, &v[1], &e) == 0);
	CHECK(npy_writer_commit(w, &e) == 0);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	CHECK(npy_read_box(fd, &info, start, shape, got, &e) == 0);
	CHECK(got[0] == 0 && got[1] == -2 && got[2] == 0);
	close(fd);
	CHECK(!err_set(&e));

	snprintf(path, sizeof path, "%s/missing/out.npy", dir);
	CHECK(npy_writer_new(path, DT_INT8, 1, shape, &e) == NULL);
	snprintf(want, sizeof want, "cannot write '%s': No such file or directory", path);
	CHECK_STR(e.msg, want);
	CHECK(count_entries(dir) == 1);

	snprintf(path, sizeof path, "%s/x.npy", dir);
	int64_t neg[2] = { 2, -1 };
	err_init(&e);
	CHECK(npy_writer_new(path, DT_INT8, 2, neg, &e) == NULL);
	snprintf(want, sizeof want, "cannot write '%s': negative extent -1 on axis 1", path);
	CHECK_STR(e.msg, want);
	err_init(&e);
	CHECK(npy_writer_new(path, DT_INT8, 33, neg, &e) == NULL);
	snprintf(want, sizeof want, "cannot write '%s': 33 dimensions (at most 32)", path);
	CHECK_STR(e.msg, want);
	err_init(&e);
	CHECK(npy_writer_new(path, DT_N, 1, shape, &e) == NULL);
	snprintf(want, sizeof want, "cannot write '%s': unknown dtype 8", path);
	CHECK_STR(e.msg, want);
	int64_t huge[2] = { INT64_MAX / 4, 16 };
	err_init(&e);
	CHECK(npy_writer_new(path, DT_INT8, 2, huge, &e) == NULL);
	snprintf(want, sizeof want, "cannot write '%s': array too large", path);
	CHECK_STR(e.msg, want);
	CHECK(count_entries(dir) == 1);

	/* Commit fails when the folder went away: the error names the target. */
	char sub[400];
	snprintf(sub, sizeof sub, "%s/sub", dir);
	CHECK(mkdir(sub, 0777) == 0);
	snprintf(path, sizeof path, "%s/y.npy", sub);
	err_init(&e);
	w = npy_writer_new(path, DT_INT8, 1, shape, &e);
	CHECK(w != NULL);
	rm_rf(sub);
	CHECK(npy_writer_commit(w, &e) == -1);
	snprintf(want, sizeof want, "cannot rename output into '%s': No such file or directory", path);
	CHECK_STR(e.msg, want);
	rm_rf(dir);
	free(dir);
}

/* Writes past the file size limit fail with EFBIG (SIGXFSZ ignored meanwhile):
 * a writer that cannot size its file, and a put that cannot write. */
static void test_npy_write_errors(void)
{
	char *dir = tmpdir_new();
	char path[512], want[600];
	snprintf(path, sizeof path, "%s/big.npy", dir);
	struct rlimit old, low;
	CHECK(getrlimit(RLIMIT_FSIZE, &old) == 0);
	low = old;
	low.rlim_cur = 1000;
	void (*old_handler)(int) = signal(SIGXFSZ, SIG_IGN);
	int64_t shape[1] = { 2000 }, small[1] = { 500 }, start[1] = { 0 }, at[1] = { 1400 };
	unsigned char *data = xcalloc(1, 2000);
	struct err e;

	CHECK(setrlimit(RLIMIT_FSIZE, &low) == 0);
	err_init(&e);
	CHECK(npy_writer_new(path, DT_UINT8, 1, shape, &e) == NULL);
	CHECK(setrlimit(RLIMIT_FSIZE, &old) == 0);
	snprintf(want, sizeof want, "cannot write '%s': File too large", path);
	CHECK_STR(e.msg, want);
	CHECK(e.sys_errno == EFBIG);
	CHECK(count_entries(dir) == 0);

	err_init(&e);
	struct npy_writer *w = npy_writer_new(path, DT_UINT8, 1, shape, &e);
	CHECK(w != NULL);
	CHECK(setrlimit(RLIMIT_FSIZE, &low) == 0);
	CHECK(npy_writer_put_box(w, start, small, data, &e) == 0); /* below the limit */
	CHECK(npy_writer_put_box(w, at, small, data, &e) == -1);
	CHECK(setrlimit(RLIMIT_FSIZE, &old) == 0);
	CHECK_STR(e.msg, want);
	npy_writer_abort(w);
	CHECK(count_entries(dir) == 0);
	signal(SIGXFSZ, old_handler);
	free(data);
	rm_rf(dir);
	free(dir);
}

struct put_job {
	struct npy_writer *w;
	const int64_t *full; /* the whole array, (64, 33) */
	int part, n_parts;
	int failures;
};

static void *put_rows(void *arg)
{
	struct put_job *j = arg;
	struct err e;
	err_init(&e);
	for (int64_t r = j->part; r < 64; r += j->n_parts) {
		int64_t start[2] = { r, 0 }, count[2] = { 1, 33 };
		if (npy_writer_put_box(j->w, start, count, j->full + r * 33, &e) != 0)
			j->failures++;
	}
	return NULL;
}

/* Several threads put disjoint boxes at once. */
static void test_npy_writer_threads(void)
{
	char *dir = tmpdir_new();
	char path[512];
	snprintf(path, sizeof path, "%s/t.npy", dir);
	int64_t shape[2] = { 64, 33 };
	int64_t *full = (int64_t *)random_array(DT_INT64, 64 * 33);
	struct err e;
	err_init(&e);
	struct npy_writer *w = npy_writer_new(path, DT_INT64, 2, shape, &e);
	CHECK(w != NULL);
	pthread_t th[4];
	struct put_job jobs[4];
	for (int i = 0; i < 4; i++) {
		jobs[i] = (struct put_job){ w, full, i, 4, 0 };
		CHECK(pthread_create(&th[i], NULL, put_rows, &jobs[i]) == 0);
	}
	for (int i = 0; i < 4; i++) {
		pthread_join(th[i], NULL);
		CHECK(jobs[i].failures == 0);
	}
	CHECK(npy_writer_commit(w, &e) == 0);
	check_boxes(path, (const unsigned char *)full);
	free(full);
	rm_rf(dir);
	free(dir);
}

/* ---- files numpy wrote (tests/unit/npy_numpy_check.sh) ---- */

static int dtype_by_name(const char *name)
{
	for (int t = 0; t < DT_N; t++)
		if (!strcmp(dtype_name((enum dtype)t), name))
			return t;
	return -1;
}

/* Parses one value of numpy's dump (ints in decimal, floats by float.hex()). */
static bool parse_value(enum dtype t, const char *s, unsigned char *out)
{
	char *end;
	errno = 0;
	if (t == DT_FLOAT32 || t == DT_FLOAT64) {
		double d = strtod(s, &end);
		if (t == DT_FLOAT32) {
			float f = (float)d;
			memcpy(out, &f, 4);
		} else {
			memcpy(out, &d, 8);
		}
	} else {
		long long v = strtoll(s, &end, 10);
		int8_t i8 = (int8_t)v;
		int16_t i16 = (int16_t)v;
		int32_t i32 = (int32_t)v;
		int64_t i64 = v;
		uint8_t u8 = (uint8_t)v;
		switch (t) {
		case DT_BOOL:
		case DT_UINT8: memcpy(out, &u8, 1); break;
		case DT_INT8: memcpy(out, &i8, 1); break;
		case DT_INT16: memcpy(out, &i16, 2); break;
		case DT_INT32: memcpy(out, &i32, 4); break;
		default: memcpy(out, &i64, 8); break;
		}
	}
	return errno == 0 && end != s && (*end == '\n' || *end == '\0');
}

/* Equal element by element, NaN equal to NaN (its payload may differ). */
static bool same_values(enum dtype t, const unsigned char *a, const unsigned char *b, int64_t n)
{
	size_t isz = dtype_size(t);
	for (int64_t i = 0; i < n; i++) {
		const unsigned char *x = a + i * (int64_t)isz, *y = b + i * (int64_t)isz;
		if (memcmp(x, y, isz) == 0)
			continue;
		if (t == DT_FLOAT64) {
			double p, q;
			memcpy(&p, x, 8);
			memcpy(&q, y, 8);
			if (isnan(p) && isnan(q))
				continue;
		} else if (t == DT_FLOAT32) {
			float p, q;
			memcpy(&p, x, 4);
			memcpy(&q, y, 4);
			if (isnan(p) && isnan(q))
				continue;
		}
		return false;
	}
	return true;
}

/* One fixture: "NAME.npy" and its dump "NAME.txt" (line 1: dtype name,
 * big-endian 0/1, Fortran 0/1, ndim, extents; then the values in C order).
 * Checks the header and every box of a 2-per-axis grid and the whole, then
 * writes the values to "NAME.out.npy" for the script to give to numpy. */
static void check_fixture(const char *dir, const char *name)
{
	char path[1024], line[256];
	snprintf(path, sizeof path, "%s/%s.txt", dir, name);
	FILE *f = fopen(path, "r");
	CHECK(f != NULL);
	if (!f)
		return;
	char dname[32];
	int big, fortran, nd, off = 0, used;
	int64_t shape[NPY_MAX_DIMS];
	bool ok = fgets(line, sizeof line, f) &&
		  sscanf(line, "%31s %d %d %d%n", dname, &big, &fortran, &nd, &off) == 4 &&
		  nd >= 0 && nd <= NPY_MAX_DIMS && dtype_by_name(dname) >= 0;
	for (int k = 0; ok && k < nd; k++, off += used)
		ok = sscanf(line + off, "%" SCNd64 "%n", &shape[k], &used) == 1;
	CHECK(ok);
	if (!ok) {
		fclose(f);
		return;
	}
	enum dtype t = (enum dtype)dtype_by_name(dname);
	size_t isz = dtype_size(t);
	int64_t n = prod(nd, shape);
	unsigned char *want = xmalloc((size_t)n * isz + 1), *got = xmalloc((size_t)n * isz + 1);
	for (int64_t i = 0; ok && i < n; i++)
		ok = fgets(line, sizeof line, f) && parse_value(t, line, want + i * (int64_t)isz);
	fclose(f);
	CHECK(ok);

	struct npy_info info;
	struct err e;
	err_init(&e);
	snprintf(path, sizeof path, "%s/%s.npy", dir, name);
	CHECK(npy_read_header(path, &info, &e) == 0);
	if (err_set(&e))
		fprintf(stderr, "  %s\n", e.msg);
	CHECK(info.dtype == t && info.ndim == nd);
	CHECK(info.big_endian == (big == 1) && info.fortran_order == (fortran == 1));
	for (int k = 0; k < nd && k < info.ndim; k++)
		CHECK(info.shape[k] == shape[k]);
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	int64_t zero[NPY_MAX_DIMS] = { 0 }, half[NPY_MAX_DIMS];
	CHECK(npy_read_box(fd, &info, zero, shape, got, &e) == 0);
	if (!same_values(t, got, want, n))
		fprintf(stderr, "  %s: whole array differs from numpy's dump\n", name);
	CHECK(same_values(t, got, want, n));
	for (int k = 0; k < nd; k++)
		half[k] = shape[k] > 1 ? (shape[k] + 1) / 2 : 1;
	struct box *b;
	size_t nb = grid(nd, shape, half, &b);
	unsigned char *part = xmalloc((size_t)n * isz + 1);
	for (size_t i = 0; i < nb; i++) {
		int64_t m = prod(nd, b[i].count);
		ref_box(want, nd, shape, isz, b[i].start, b[i].count, part);
		CHECK(npy_read_box(fd, &info, b[i].start, b[i].count, got, &e) == 0);
		CHECK(same_values(t, got, part, m));
	}
	close(fd);
	CHECK(!err_set(&e));

	snprintf(path, sizeof path, "%s/%s.out.npy", dir, name);
	write_by_boxes(path, t, nd, shape, half, want);
	free(b);
	free(part);
	free(want);
	free(got);
}

static void test_npy_numpy_fixtures(void)
{
	const char *dir = getenv("TESSERA_NPY_FIXTURES");
	if (!dir || !*dir) {
		printf("note: npy_numpy_fixtures skipped: TESSERA_NPY_FIXTURES is unset "
		       "(tests/unit/npy_numpy_check.sh sets it)\n");
		return;
	}
	char path[1024], name[256];
	snprintf(path, sizeof path, "%s/MANIFEST", dir);
	FILE *f = fopen(path, "r");
	CHECK(f != NULL);
	if (!f)
		return;
	int n = 0;
	while (fscanf(f, "%255s", name) == 1) {
		check_fixture(dir, name);
		n++;
	}
	fclose(f);
	CHECK(n > 0);
	printf("note: npy_numpy_fixtures checked %d files numpy wrote\n", n);
}

const struct test npy_tests[] = {
	{ "npy_dtypes", test_npy_dtypes },
	{ "npy_header_bytes", test_npy_header_bytes },
	{ "npy_many_axes", test_npy_many_axes },
	{ "npy_roundtrip", test_npy_roundtrip },
	{ "npy_byte_order_and_fortran", test_npy_byte_order_and_fortran },
	{ "npy_large", test_npy_large },
	{ "npy_coalescing", test_npy_coalescing },
	{ "npy_header_variants", test_npy_header_variants },
	{ "npy_rejects", test_npy_rejects },
	{ "npy_box_errors", test_npy_box_errors },
	{ "npy_writer_life", test_npy_writer_life },
	{ "npy_write_errors", test_npy_write_errors },
	{ "npy_writer_threads", test_npy_writer_threads },
	{ "npy_numpy_fixtures", test_npy_numpy_fixtures },
	{ NULL, NULL },
};
