/* SPDX-License-Identifier: MIT */
/* basic: the small ops — `load:` a file, `value:` a literal, `concat` inputs. */
#include "ops/ops_int.h"
#include "util/xalloc.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

struct text_data {
	const char *text;
	bool per_task; /* has {VAR}/{index}/{task} to expand */
};

int op_load_check(struct op_build *b, const struct doc *node, const struct doc *val, void **data,
		  struct err *e)
{
	const struct doc *fe = doc_get(node, "foreach");
	const char *var = fe && fe->kind == DOC_MAP && fe->n == 1 ? fe->keys[0] : NULL;
	const char *path = op_scalar(b, val, "'load'", e);
	if (!path)
		return -1;
	struct text_data *td = arena_alloc(b->arena, sizeof *td);
	td->text = path;
	td->per_task = op_has_placeholder(path, var);
	if (!td->per_task) {
		struct stat st;
		if (stat(path, &st) != 0)
			return err_at(e, val->loc, "cannot read '%s': %s", path, strerror(errno));
		if (S_ISDIR(st.st_mode))
			return err_at(e, val->loc, "cannot read '%s': Is a directory", path);
	}
	*data = td;
	return 0;
}

int op_load_run(struct op_task *t, struct err *e)
{
	const struct text_data *td = t->node_data;
	struct buf path;
	buf_init(&path);
	int fd = -1, rc = -1;
	if (op_expand(t, td->text, false, &path, e) < 0)
		goto out;
	fd = open(path.data, O_RDONLY | O_CLOEXEC);
	if (fd < 0) {
		err_sys(e, NULL, "cannot read '%s'", path.data);
		goto out;
	}
	char *block = xmalloc(1 << 20);
	for (;;) {
		ssize_t r = read(fd, block, 1 << 20);
		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0) {
			err_sys(e, NULL, "cannot read '%s'", path.data);
			break;
		}
		if (r == 0) {
			rc = 0;
			break;
		}
		if (op_sink_write(t->out, block, (size_t)r, e) < 0)
			break;
		if (t->cancel && atomic_load(t->cancel)) {
			err_run(e, NULL, "cancelled");
			break;
		}
	}
	free(block);
out:
	if (fd >= 0)
		close(fd);
	buf_release(&path);
	return rc;
}

int op_value_check(struct op_build *b, const struct doc *node, const struct doc *val, void **data,
		   struct err *e)
{
	const struct doc *fe = doc_get(node, "foreach");
	const char *var = fe && fe->kind == DOC_MAP && fe->n == 1 ? fe->keys[0] : NULL;
	const char *text = op_scalar(b, val, "'value'", e);
	if (!text)
		return -1;
	struct text_data *td = arena_alloc(b->arena, sizeof *td);
	td->per_task = op_has_placeholder(text, var);
	td->text = td->per_task ? text : arena_printf(b->arena, "%s\n", text);
	*data = td;
	return 0;
}

int op_value_run(struct op_task *t, struct err *e)
{
	const struct text_data *td = t->node_data;
	if (!td->per_task)
		return op_sink_write(t->out, td->text, strlen(td->text), e);
	struct buf text;
	buf_init(&text);
	int rc = op_expand(t, td->text, false, &text, e);
	if (rc == 0) {
		buf_putc(&text, '\n');
		rc = op_sink_write(t->out, text.data, text.len, e);
	}
	buf_release(&text);
	return rc;
}

int op_concat_check(struct op_build *b, const struct doc *node, const struct doc *val, void **data,
		    struct err *e)
{
	(void)b, (void)node, (void)val, (void)e;
	*data = NULL;
	return 0;
}

int op_concat_run(struct op_task *t, struct err *e)
{
	size_t total = 0;
	for (size_t k = 0; k < t->n_in; k++)
		total += t->in[k].len;
	/* A result bigger than the sink's threshold streams file to file. */
	if (t->out->spill_at && total > t->out->spill_at) {
		if (op_sink_to_file(t->out, e) < 0)
			return -1;
		for (size_t k = 0; k < t->n_in; k++) {
			if (t->copy_input(t->input_arg, k, t->out->fd, e) < 0)
				return -1;
			t->out->file_len += t->in[k].len;
		}
		return 0;
	}
	for (size_t k = 0; k < t->n_in; k++) {
		size_t len;
		const void *p = t->pin_input(t->input_arg, k, &len, e);
		if (!p)
			return -1;
		int rc = op_sink_write(t->out, p, len, e);
		t->unpin_input(t->input_arg, k);
		if (rc < 0)
			return -1;
	}
	return 0;
}
