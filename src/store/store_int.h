/* SPDX-License-Identifier: MIT */
/*
 * store_int: what store.c (chunk state, budget, eviction) needs from spill.c
 * (the spill files themselves). spill.c knows nothing of chunks, locks or
 * threads: every function here works on one file and one buffer handed to it,
 * and is called with the store's lock released.
 *
 * File forms: a raw file holds exactly the chunk's bytes (and so doubles as
 * the file store_pin_path() hands out); a ".zst" file holds one zstd frame
 * whose content size is the chunk's size.
 */
#ifndef TESSERA_STORE_STORE_INT_H
#define TESSERA_STORE_STORE_INT_H

#include "util/err.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Blocks for streaming raw files and decompressed output. */
#define SPILL_BLOCK ((size_t)1 << 20)
/* Bytes compressed to decide whether compressing a chunk pays. */
#define SPILL_SAMPLE ((size_t)64 << 10)
/* Chunks smaller than this are written raw without sampling: the sample
 * would cost more than the disk it could save. */
#define SPILL_MIN_COMPRESS ((size_t)4 << 10)

/* The zstd context and scratch buffers of one I/O thread. Never shared: a
 * ZSTD_CCtx is not thread-safe, so each I/O thread owns one. */
struct spill_io {
	void *cctx;         /* ZSTD_CCtx *, made on first use; NULL until then */
	void *sample;       /* ZSTD_compressBound(SPILL_SAMPLE) bytes, or NULL */
	size_t sample_cap;
	void *out;          /* compressed output block, or NULL */
	size_t out_cap;
};

/* What spill_write() left on disk. */
struct spill_file {
	char *path;          /* malloc'ed: base, or base + ".zst" */
	uint64_t disk_bytes; /* the file's size */
	bool compressed;
};

void spill_io_init(struct spill_io *io);
void spill_io_release(struct spill_io *io);

/*
 * spill_write() : writes the @len bytes at @data to a new file: "@base.zst"
 * when a sample of them compresses to under 80%, else "@base" (raw). A
 * non-zero @fault_errno makes the write fail with that errno (fault
 * injection). @return 0 and *out, or -1 and *e; no file is left on failure.
 */
int spill_write(struct spill_io *io, const char *base, const void *data, size_t len,
		int fault_errno, struct spill_file *out, struct err *e);
/* spill_write_raw() : writes the bytes to @path as a raw file. 0, or -1 and *e
 * (and no file). */
int spill_write_raw(const char *path, const void *data, size_t len, struct err *e);
/* spill_read() : reads the whole chunk (@len bytes) from the file @path into
 * @dst, decompressing when @compressed. 0, or -1 and *e naming the file. */
int spill_read(const char *path, bool compressed, void *dst, size_t len, struct err *e);
/*
 * spill_stream() : copies the chunk of @len bytes held by the open file @in_fd
 * (@in_path, for messages) to @out_fd, decompressing in blocks when
 * @compressed, so memory use does not grow with the chunk. Write failures are
 * reported as "cannot write @out_what: ...". 0, or -1 and *e.
 */
int spill_stream(int in_fd, const char *in_path, bool compressed, uint64_t len, int out_fd,
		 const char *out_what, struct err *e);
/* spill_unzst() : decompresses the zstd file @zst_path into the new raw file
 * @raw_path. 0, or -1 and *e (and no raw file). */
int spill_unzst(const char *zst_path, const char *raw_path, uint64_t len, struct err *e);
/* spill_write_all() : write() until done, through EINTR and short writes.
 * 0, or -1 with errno set. */
int spill_write_all(int fd, const void *p, size_t n);

#endif
