/* SPDX-License-Identifier: MIT */
/*
 * spill: the store's files. Writing a chunk out (raw, or one zstd frame when
 * a 64 KiB sample shows compression pays), reading it back whole, and
 * streaming it to a descriptor in fixed blocks.
 *
 * DESIGN: no state of its own and no locks; callers (store.c) hand in the
 * buffer and path and guarantee that nobody frees or removes them meanwhile.
 * zstd level 1 is the only level used: spilling is on the critical path and
 * level 1 already gets most of the gain on the text-like chunks that
 * compress at all (CONVENTIONS §12); random float data does not compress,
 * which the sample detects for the price of compressing 64 KiB.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include "store/store_int.h"
#include "util/xalloc.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/types.h>
#include <unistd.h>
#include <zstd.h>

#define ZSTD_LEVEL 1

void spill_io_init(struct spill_io *io)
{
	memset(io, 0, sizeof *io);
}

void spill_io_release(struct spill_io *io)
{
	ZSTD_freeCCtx(io->cctx);
	free(io->sample);
	free(io->out);
	spill_io_init(io);
}

int spill_write_all(int fd, const void *p, size_t n)
{
	const char *q = p;
	while (n > 0) {
		/* Linux writes at most ~2 GiB per call; ask for less than that. */
		size_t want = n > ((size_t)1 << 30) ? (size_t)1 << 30 : n;
		ssize_t w = write(fd, q, want);
		if (w < 0) {
			if (errno == EINTR)
				continue;
			return -1;
		}
		if (w == 0) { /* no progress and no errno: never loop forever */
			errno = EIO;
			return -1;
		}
		q += w;
		n -= (size_t)w;
	}
	return 0;
}

/* read_full() : reads until @n bytes or end of file. @return bytes read, or -1 and errno. */
static ssize_t read_full(int fd, void *p, size_t n)
{
	char *q = p;
	size_t got = 0;
	while (got < n) {
		ssize_t r = read(fd, q + got, n - got);
		if (r < 0) {
			if (errno == EINTR)
				continue;
			return -1;
		}
		if (r == 0)
			break;
		got += (size_t)r;
	}
	return (ssize_t)got;
}

/* sample_pays() : does a level-1 compression of the chunk's first 64 KiB save 20%? */
static bool sample_pays(struct spill_io *io, const void *data, size_t len)
{
	size_t n = len < SPILL_SAMPLE ? len : SPILL_SAMPLE;
	if (!io->sample) {
		io->sample_cap = ZSTD_compressBound(SPILL_SAMPLE);
		io->sample = xmalloc(io->sample_cap);
	}
	size_t c = ZSTD_compressCCtx(io->cctx, io->sample, io->sample_cap, data, n, ZSTD_LEVEL);
	if (ZSTD_isError(c))
		return false;
	return (uint64_t)c * 5 < (uint64_t)n * 4;
}

/* compress_to() : one zstd frame of the whole chunk, written block by block so
 * the compressed copy never needs a buffer the size of the chunk. */
static int compress_to(struct spill_io *io, int fd, const char *path, const void *data,
		       size_t len, uint64_t *disk_bytes, struct err *e)
{
	ZSTD_CCtx *cctx = io->cctx;
	if (!io->out) {
		io->out_cap = ZSTD_CStreamOutSize();
		io->out = xmalloc(io->out_cap);
	}
	ZSTD_CCtx_reset(cctx, ZSTD_reset_session_and_parameters);
	ZSTD_CCtx_setParameter(cctx, ZSTD_c_compressionLevel, ZSTD_LEVEL);
	/* The frame then records its content size, which readers check. */
	ZSTD_CCtx_setPledgedSrcSize(cctx, len);
	ZSTD_inBuffer in = { data, len, 0 };
	uint64_t total = 0;
	for (;;) {
		ZSTD_outBuffer out = { io->out, io->out_cap, 0 };
		size_t rem = ZSTD_compressStream2(cctx, &out, &in, ZSTD_e_end);
		if (ZSTD_isError(rem))
			return err_run(e, NULL, "cannot compress spill file '%s': %s", path,
				       ZSTD_getErrorName(rem));
		if (out.pos > 0 && spill_write_all(fd, io->out, out.pos) != 0)
			return err_sys(e, NULL, "cannot write spill file '%s'", path);
		total += out.pos;
		if (rem == 0)
			break;
	}
	*disk_bytes = total;
	return 0;
}

int spill_write(struct spill_io *io, const char *base, const void *data, size_t len,
		int fault_errno, struct spill_file *out, struct err *e)
{
	int fd = -1, rc = -1;
	bool compress = false;
	char *path = NULL;
	uint64_t disk = len;

	if (len >= SPILL_MIN_COMPRESS) {
		if (!io->cctx) {
			io->cctx = ZSTD_createCCtx();
			if (!io->cctx) {
				errno = ENOMEM;
				err_sys(e, NULL, "cannot make a zstd context for '%s'", base);
				goto done;
			}
		}
		compress = sample_pays(io, data, len);
	}
	path = compress ? xasprintf("%s.zst", base) : xstrdup(base);
	fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	if (fd < 0) {
		err_sys(e, NULL, "cannot write spill file '%s'", path);
		goto done;
	}
	if (fault_errno) {
		errno = fault_errno;
		err_sys(e, NULL, "cannot write spill file '%s'", path);
		goto done;
	}
	if (compress) {
		if (compress_to(io, fd, path, data, len, &disk, e) != 0)
			goto done;
	} else if (spill_write_all(fd, data, len) != 0) {
		err_sys(e, NULL, "cannot write spill file '%s'", path);
		goto done;
	}
	int cr = close(fd);
	fd = -1;
	if (cr != 0) { /* NFS and full disks may report the failure only here */
		err_sys(e, NULL, "cannot write spill file '%s'", path);
		goto done;
	}
	out->path = path;
	out->disk_bytes = disk;
	out->compressed = compress;
	path = NULL;
	rc = 0;
done:
	if (fd >= 0)
		close(fd);
	if (path) {
		unlink(path);
		free(path);
	}
	return rc;
}

int spill_write_raw(const char *path, const void *data, size_t len, struct err *e)
{
	int rc = -1;
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	if (fd < 0) {
		err_sys(e, NULL, "cannot write spill file '%s'", path);
		goto done;
	}
	if (spill_write_all(fd, data, len) != 0) {
		err_sys(e, NULL, "cannot write spill file '%s'", path);
		goto done;
	}
	int cr = close(fd);
	fd = -1;
	if (cr != 0) {
		err_sys(e, NULL, "cannot write spill file '%s'", path);
		goto done;
	}
	rc = 0;
done:
	if (fd >= 0)
		close(fd);
	if (rc != 0)
		unlink(path);
	return rc;
}

/* decompress_into() : the whole frame into @dst, which is exactly the chunk's size. */
static int decompress_into(int fd, const char *path, void *dst, size_t len, struct err *e)
{
	int rc = -1;
	ZSTD_DCtx *dctx = ZSTD_createDCtx();
	size_t in_cap = ZSTD_DStreamInSize();
	void *in_buf = xmalloc(in_cap);
	ZSTD_outBuffer out = { dst, len, 0 };
	size_t ret = 1; /* 0 once a frame has ended */

	if (!dctx) {
		errno = ENOMEM;
		err_sys(e, NULL, "cannot read spill file '%s'", path);
		goto done;
	}
	for (;;) {
		ssize_t n = read_full(fd, in_buf, in_cap);
		if (n < 0) {
			err_sys(e, NULL, "cannot read spill file '%s'", path);
			goto done;
		}
		if (n == 0)
			break;
		ZSTD_inBuffer in = { in_buf, (size_t)n, 0 };
		while (in.pos < in.size) {
			size_t in_before = in.pos, out_before = out.pos;
			ret = ZSTD_decompressStream(dctx, &out, &in);
			if (ZSTD_isError(ret)) {
				err_run(e, NULL, "cannot read spill file '%s': %s", path,
					ZSTD_getErrorName(ret));
				goto done;
			}
			/* With @dst full, zstd stalls only if the frame holds more
			 * than the chunk. */
			if (in.pos == in_before && out.pos == out_before) {
				err_run(e, NULL, "cannot read spill file '%s': it holds more than the chunk's %zu bytes",
					path, len);
				goto done;
			}
		}
	}
	if (ret != 0 || out.pos != len) {
		err_run(e, NULL, "cannot read spill file '%s': truncated (%zu of %zu bytes)", path,
			out.pos, len);
		goto done;
	}
	rc = 0;
done:
	ZSTD_freeDCtx(dctx);
	free(in_buf);
	return rc;
}

int spill_read(const char *path, bool compressed, void *dst, size_t len, struct err *e)
{
	int rc = -1;
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0) {
		err_sys(e, NULL, "cannot read spill file '%s'", path);
		goto done;
	}
	if (compressed) {
		rc = decompress_into(fd, path, dst, len, e);
		goto done;
	}
	ssize_t n = read_full(fd, dst, len);
	if (n < 0) {
		err_sys(e, NULL, "cannot read spill file '%s'", path);
		goto done;
	}
	if ((size_t)n != len) {
		err_run(e, NULL, "cannot read spill file '%s': truncated (%zd of %zu bytes)", path, n,
			len);
		goto done;
	}
	rc = 0;
done:
	if (fd >= 0)
		close(fd);
	return rc;
}

/* stream_zst() : decompresses block by block into a 1 MiB buffer written to @out_fd. */
static int stream_zst(int in_fd, const char *in_path, uint64_t len, int out_fd,
		      const char *out_what, struct err *e)
{
	int rc = -1;
	ZSTD_DCtx *dctx = ZSTD_createDCtx();
	size_t in_cap = ZSTD_DStreamInSize();
	void *in_buf = xmalloc(in_cap);
	void *out_buf = xmalloc(SPILL_BLOCK);
	uint64_t total = 0;
	size_t ret = 1;

	if (!dctx) {
		errno = ENOMEM;
		err_sys(e, NULL, "cannot read spill file '%s'", in_path);
		goto done;
	}
	for (;;) {
		ssize_t n = read_full(in_fd, in_buf, in_cap);
		if (n < 0) {
			err_sys(e, NULL, "cannot read spill file '%s'", in_path);
			goto done;
		}
		if (n == 0)
			break;
		ZSTD_inBuffer in = { in_buf, (size_t)n, 0 };
		bool out_full = false;
		/* A full output block may leave data inside zstd: call again
		 * until a block comes back short, even with no input left, but
		 * not past the frame's end (that would start a new frame). */
		while (in.pos < in.size || (out_full && ret != 0)) {
			ZSTD_outBuffer out = { out_buf, SPILL_BLOCK, 0 };
			ret = ZSTD_decompressStream(dctx, &out, &in);
			if (ZSTD_isError(ret)) {
				err_run(e, NULL, "cannot read spill file '%s': %s", in_path,
					ZSTD_getErrorName(ret));
				goto done;
			}
			total += out.pos;
			if (total > len) {
				err_run(e, NULL, "cannot read spill file '%s': it holds more than the chunk's %llu bytes",
					in_path, (unsigned long long)len);
				goto done;
			}
			if (out.pos > 0 && spill_write_all(out_fd, out_buf, out.pos) != 0) {
				err_sys(e, NULL, "cannot write %s", out_what);
				goto done;
			}
			out_full = out.pos == out.size;
		}
	}
	if (ret != 0 || total != len) {
		err_run(e, NULL, "cannot read spill file '%s': truncated (%llu of %llu bytes)", in_path,
			(unsigned long long)total, (unsigned long long)len);
		goto done;
	}
	rc = 0;
done:
	ZSTD_freeDCtx(dctx);
	free(in_buf);
	free(out_buf);
	return rc;
}

int spill_stream(int in_fd, const char *in_path, bool compressed, uint64_t len, int out_fd,
		 const char *out_what, struct err *e)
{
	int rc = -1;
	void *buf = NULL;
	uint64_t total = 0;

	if (compressed)
		return stream_zst(in_fd, in_path, len, out_fd, out_what, e);
	buf = xmalloc(SPILL_BLOCK);
	while (total < len) {
		size_t want = len - total < SPILL_BLOCK ? (size_t)(len - total) : SPILL_BLOCK;
		ssize_t n = read_full(in_fd, buf, want);
		if (n < 0) {
			err_sys(e, NULL, "cannot read spill file '%s'", in_path);
			goto done;
		}
		if (n == 0) {
			err_run(e, NULL, "cannot read spill file '%s': truncated (%llu of %llu bytes)",
				in_path, (unsigned long long)total, (unsigned long long)len);
			goto done;
		}
		if (spill_write_all(out_fd, buf, (size_t)n) != 0) {
			err_sys(e, NULL, "cannot write %s", out_what);
			goto done;
		}
		total += (uint64_t)n;
	}
	rc = 0;
done:
	free(buf);
	return rc;
}

int spill_unzst(const char *zst_path, const char *raw_path, uint64_t len, struct err *e)
{
	int rc = -1, in_fd = -1, out_fd = -1;
	char *what = xasprintf("spill file '%s'", raw_path);

	in_fd = open(zst_path, O_RDONLY | O_CLOEXEC);
	if (in_fd < 0) {
		err_sys(e, NULL, "cannot read spill file '%s'", zst_path);
		goto done;
	}
	out_fd = open(raw_path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	if (out_fd < 0) {
		err_sys(e, NULL, "cannot write %s", what);
		goto done;
	}
	if (stream_zst(in_fd, zst_path, len, out_fd, what, e) != 0)
		goto done;
	int cr = close(out_fd);
	out_fd = -1;
	if (cr != 0) {
		err_sys(e, NULL, "cannot write %s", what);
		goto done;
	}
	rc = 0;
done:
	if (in_fd >= 0)
		close(in_fd);
	if (out_fd >= 0)
		close(out_fd);
	if (rc != 0)
		unlink(raw_path);
	free(what);
	return rc;
}
