/* SPDX-License-Identifier: MIT */
/*
 * sink: a task's result as it is produced. Small results stay in one
 * malloc'ed buffer the store then takes; past spill_at bytes the sink moves
 * to a file in the spill folder, so a result larger than the memory limit is
 * streamed to disk rather than refused.
 */
#include "ops/op.h"
#include "util/xalloc.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

void op_sink_init(struct op_sink *s, size_t spill_at, char *(*tmp_path)(void *), void *arg)
{
	memset(s, 0, sizeof *s);
	s->fd = -1;
	s->spill_at = spill_at;
	s->tmp_path = tmp_path;
	s->tmp_arg = arg;
}

static int write_all(int fd, const void *p, size_t n)
{
	const char *c = p;
	while (n) {
		ssize_t w = write(fd, c, n);
		if (w < 0) {
			if (errno == EINTR)
				continue;
			return -1;
		}
		c += w;
		n -= (size_t)w;
	}
	return 0;
}

int op_sink_to_file(struct op_sink *s, struct err *e)
{
	if (s->fd >= 0)
		return 0;
	if (!s->tmp_path)
		return err_run(e, NULL, "result too large and no spill folder");
	s->path = s->tmp_path(s->tmp_arg);
	s->fd = open(s->path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	if (s->fd < 0)
		return err_sys(e, NULL, "cannot create '%s'", s->path);
	if (s->len && write_all(s->fd, s->data, s->len) < 0)
		return err_sys(e, NULL, "cannot write '%s'", s->path);
	s->file_len = s->len;
	free(s->data);
	s->data = NULL;
	s->len = s->cap = 0;
	return 0;
}

int op_sink_write(struct op_sink *s, const void *p, size_t n, struct err *e)
{
	if (!n)
		return 0;
	if (s->fd < 0 && s->spill_at && s->len + n > s->spill_at && op_sink_to_file(s, e) < 0)
		return -1;
	if (s->fd >= 0) {
		if (write_all(s->fd, p, n) < 0)
			return err_sys(e, NULL, "cannot write '%s'", s->path);
		s->file_len += n;
		return 0;
	}
	if (s->len + n > s->cap) {
		size_t c = s->cap ? s->cap : 256;
		while (c < s->len + n)
			c *= 2;
		s->data = xrealloc(s->data, c);
		s->cap = c;
	}
	memcpy(s->data + s->len, p, n);
	s->len += n;
	return 0;
}

int op_sink_give(struct op_sink *s, void *p, size_t n, struct err *e)
{
	if (s->fd < 0 && !s->len && (!s->spill_at || n <= s->spill_at)) {
		/* The whole result at once: the buffer becomes the sink's, with
		 * no copy into a second one of the same size. */
		free(s->data);
		s->data = p;
		s->len = s->cap = n;
		return 0;
	}
	int rc = op_sink_write(s, p, n, e);
	free(p);
	return rc;
}

int op_sink_close(struct op_sink *s, struct err *e)
{
	if (s->fd < 0)
		return 0;
	int rc = close(s->fd);
	s->fd = -1;
	if (rc < 0)
		return err_sys(e, NULL, "cannot write '%s'", s->path);
	return 0;
}

void op_sink_release(struct op_sink *s)
{
	if (s->fd >= 0)
		close(s->fd);
	if (s->path)
		unlink(s->path);
	free(s->path);
	free(s->data);
	s->fd = -1;
	s->path = NULL;
	s->data = NULL;
	s->len = s->cap = s->file_len = 0;
}
