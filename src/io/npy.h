/* SPDX-License-Identifier: MIT */
/*
 * npy: NumPy's .npy files, read and written by boxes (hyper-rectangles), so
 * an array larger than memory streams through chunk by chunk and is never
 * held whole.
 *
 * A .npy file is the magic "\x93NUMPY", a version byte pair (1.0: the header
 * length is a little-endian u16; 2.0 and 3.0: a u32; 3.0 allows UTF-8), then
 * a Python dict literal such as
 *   {'descr': '<f8', 'fortran_order': False, 'shape': (3, 4), }
 * padded with spaces and ended by '\n' so the data starts on a 64-byte (16 in
 * old files) boundary, then the elements, raw, in C or Fortran order.
 *
 * DESIGN: no hidden state. Readers share one read-only descriptor and use
 * pread, which keeps no file position, so any number of threads may read
 * boxes of the same file at once. A writer owns a temporary file beside its
 * target (so the final rename is atomic) that is registered with
 * util/cleanup; workers fill disjoint boxes with pwrite and need no lock.
 * Regions never put read back as zeros (the file is sized up front).
 */
#ifndef TESSERA_IO_NPY_H
#define TESSERA_IO_NPY_H

#include "util/err.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* The element types tessera computes with. Guarded so that a future
 * array/dtype.h can own the one definition and this header still compiles. */
#ifndef TESSERA_DTYPE_ENUM
#define TESSERA_DTYPE_ENUM
enum dtype {
	DT_BOOL, DT_INT8, DT_INT16, DT_INT32, DT_INT64, DT_UINT8, DT_FLOAT32, DT_FLOAT64,
	DT_N /* the count, not a type */
};
#endif

/* dtype_size() : bytes per element; 0 for a value outside the enum. */
size_t dtype_size(enum dtype t);
/* dtype_name() : numpy's name ("bool", "int8", ..., "float64"); "?" outside the enum. */
const char *dtype_name(enum dtype t);

#define NPY_MAX_DIMS 32

/* What a header says, plus where the data lies. */
struct npy_info {
	enum dtype dtype;
	bool big_endian;           /* the data's byte order ('>' in descr); '|' and '=' mean native */
	bool fortran_order;
	int ndim;                  /* 0 ..= NPY_MAX_DIMS; 0 is a scalar of one element */
	int64_t shape[NPY_MAX_DIMS]; /* >= 0 each; only the first ndim are used */
	uint64_t data_offset;      /* bytes: where the array data starts in the file */
	uint64_t data_bytes;       /* product(shape) * itemsize */
};

/* npy_read_header() : parses the header of the .npy file @path into @info.
 * Accepts versions 1.0, 2.0 and 3.0; descr '<', '>', '|' or '=' with b1, i1,
 * i2, i4, i8, u1, f4, f8; keys in any order with either quote style; shapes
 * (), (n,) and (n, m, ...). Rejects, with a message naming @path: a bad
 * magic, another version, any other dtype (structured, object, strings,
 * complex...), a malformed dict, more than NPY_MAX_DIMS axes, and a file too
 * short for its data ("truncated: 800 bytes of data expected, 640 present").
 * A file longer than its data is accepted (numpy ignores the rest too).
 * @return 0, or -1 and an ERR_RUN in *e. Any thread. */
int npy_read_header(const char *path, struct npy_info *info, struct err *e);

/* npy_read_box() : reads the box [start, start + count) (per axis, in the
 * array's logical axis order) into @out as C-ordered, native-endian elements:
 * product(count) * dtype_size() bytes, which the caller provides. @fd is the
 * file opened read-only by the caller, once: it may be shared by every
 * thread, as only pread is used. The box is read in runs contiguous in the
 * file; axes the box covers whole are merged into the run, so a box of whole
 * rows (C order) or whole columns (Fortran order) costs few large preads.
 * C-order files are read straight into @out; Fortran-order ones through a
 * scratch of at most one run (capped at 4 MiB) and scattered. @info is from
 * npy_read_header() on the same file. Messages do not name the file: the
 * caller knows it. @return 0, or -1 and *e (a box outside the shape, an I/O
 * error, or a file that shrank after its header was read). */
int npy_read_box(int fd, const struct npy_info *info, const int64_t *start, const int64_t *count,
		 void *out, struct err *e);

/* A .npy being written: C order, little-endian, into a temporary file. */
struct npy_writer;

/* npy_writer_new() : creates ".NAME.tessera-XXXXXX" beside @path (registered
 * with cleanup_add_file, so an interrupted run leaves nothing), writes the
 * header as numpy.save would byte for byte (v1.0; v2.0 if it needed more than
 * 65535 bytes) and sizes the file. NULL and *e when the file cannot be
 * created or @ndim/@shape are out of range. Owned by the caller until
 * npy_writer_commit() or npy_writer_abort(). */
struct npy_writer *npy_writer_new(const char *path, enum dtype t, int ndim, const int64_t *shape,
				  struct err *e);
/* npy_writer_put_box() : writes @data (C-ordered native-endian elements of
 * the box [start, start + count)) into place. Several threads may put
 * disjoint boxes at once. @return 0, or -1 and *e. */
int npy_writer_put_box(struct npy_writer *w, const int64_t *start, const int64_t *count,
		       const void *data, struct err *e);
/* npy_writer_commit() : fsync, give the file the mode a plain create would
 * (0666 & ~umask), rename it onto @path. Frees @w whatever happens; on
 * failure the temporary file is removed. @return 0, or -1 and *e. Call once
 * every put has returned. */
int npy_writer_commit(struct npy_writer *w, struct err *e);
/* npy_writer_abort() : removes the temporary file and frees @w; NULL is fine. */
void npy_writer_abort(struct npy_writer *w);

#endif
