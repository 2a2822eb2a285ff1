/* SPDX-License-Identifier: MIT */
/*
 * sql: the `sql:` op, a read-only SQLite query whose result is CSV with a
 * header (RFC 4180 quoting; NULL is empty; reals in the shortest text that
 * reads back to the same double). The query is prepared once at build time,
 * so a typo is a located spec error before anything runs.
 */
#include "ops/ops_int.h"
#include "util/xalloc.h"

#include <errno.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

struct sql_data {
	const char *db;
	const char *query;
};

static int open_db(const char *path, sqlite3 **db)
{
	return sqlite3_open_v2(path, db, SQLITE_OPEN_READONLY | SQLITE_OPEN_NOMUTEX, NULL);
}

int op_sql_check(struct op_build *b, const struct doc *node, const struct doc *val, void **data,
		 struct err *e)
{
	(void)node;
	if (!val || val->kind != DOC_MAP)
		return err_at(e, val ? val->loc : (struct loc){ 0 }, "'sql' takes {db: PATH, query: SQL}");
	const struct doc *dbd = NULL, *qd = NULL;
	for (size_t i = 0; i < val->n; i++) {
		if (!strcmp(val->keys[i], "db"))
			dbd = val->items[i];
		else if (!strcmp(val->keys[i], "query"))
			qd = val->items[i];
		else
			return err_at(e, val->key_locs[i], "unknown key '%s' in sql (expected db, query)", val->keys[i]);
	}
	if (!dbd || !qd)
		return err_at(e, val->loc, "'sql' needs both 'db' and 'query'");
	struct sql_data *sd = arena_alloc(b->arena, sizeof *sd);
	if (!(sd->db = op_scalar(b, dbd, "'db'", e)) || !(sd->query = op_scalar(b, qd, "'query'", e)))
		return -1;
	struct stat st;
	if (stat(sd->db, &st) != 0)
		return err_at(e, dbd->loc, "cannot open database '%s': %s", sd->db, strerror(errno));
	sqlite3 *db = NULL;
	sqlite3_stmt *stmt = NULL;
	int rc = 0;
	if (open_db(sd->db, &db) != SQLITE_OK) {
		rc = err_at(e, dbd->loc, "cannot open database '%s': %s", sd->db, db ? sqlite3_errmsg(db) : "out of memory");
	} else if (sqlite3_prepare_v2(db, sd->query, -1, &stmt, NULL) != SQLITE_OK) {
		rc = err_at(e, qd->loc, "SQL error in '%s': %s", sd->db, sqlite3_errmsg(db));
	} else if (!stmt) {
		rc = err_at(e, qd->loc, "the SQL query is empty");
	} else if (!sqlite3_stmt_readonly(stmt)) {
		rc = err_at(e, qd->loc, "the SQL query must only read (SELECT or WITH)");
	}
	sqlite3_finalize(stmt);
	sqlite3_close(db);
	*data = sd;
	return rc;
}

static bool csv_needs_quote(const char *s, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (s[i] == ',' || s[i] == '"' || s[i] == '\n' || s[i] == '\r')
			return true;
	return false;
}

static void csv_field(struct buf *b, const char *s, size_t n)
{
	if (!csv_needs_quote(s, n)) {
		buf_append(b, s, n);
		return;
	}
	buf_putc(b, '"');
	for (size_t i = 0; i < n; i++) {
		if (s[i] == '"')
			buf_putc(b, '"');
		buf_putc(b, s[i]);
	}
	buf_putc(b, '"');
}

/* The shortest %.*g that reads back to @v. */
static void put_double(struct buf *b, double v)
{
	char tmp[40];
	for (int prec = 15; prec <= 17; prec++) {
		snprintf(tmp, sizeof tmp, "%.*g", prec, v);
		if (strtod(tmp, NULL) == v)
			break;
	}
	/* SQLite shows whole reals with ".0"; keep the type visible the same way. */
	if (!strpbrk(tmp, ".eEn"))
		strcat(tmp, ".0");
	buf_puts(b, tmp);
}

struct progress_ctx {
	struct op_task *t;
	double deadline;
	bool timed_out;
};

static int on_progress(void *arg)
{
	struct progress_ctx *pc = arg;
	if (pc->t->cancel && atomic_load(pc->t->cancel))
		return 1;
	if (pc->deadline) {
		struct timespec ts;
		clock_gettime(CLOCK_MONOTONIC, &ts);
		if ((double)ts.tv_sec + (double)ts.tv_nsec / 1e9 > pc->deadline) {
			pc->timed_out = true;
			return 1;
		}
	}
	return 0;
}

int op_sql_run(struct op_task *t, struct err *e)
{
	const struct sql_data *sd = t->node_data;
	sqlite3 *db = NULL;
	sqlite3_stmt *stmt = NULL;
	struct buf row;
	buf_init(&row);
	int rc = -1;
	struct progress_ctx pc = { t, 0, false };
	if (t->timeout > 0) {
		struct timespec ts;
		clock_gettime(CLOCK_MONOTONIC, &ts);
		pc.deadline = (double)ts.tv_sec + (double)ts.tv_nsec / 1e9 + t->timeout;
	}
	if (open_db(sd->db, &db) != SQLITE_OK) {
		err_run(e, NULL, "cannot open database '%s': %s", sd->db, db ? sqlite3_errmsg(db) : "out of memory");
		goto out;
	}
	sqlite3_progress_handler(db, 1000, on_progress, &pc);
	if (sqlite3_prepare_v2(db, sd->query, -1, &stmt, NULL) != SQLITE_OK) {
		err_run(e, NULL, "SQL error in '%s': %s", sd->db, sqlite3_errmsg(db));
		goto out;
	}
	int ncol = sqlite3_column_count(stmt);
	for (int c = 0; c < ncol; c++) {
		const char *name = sqlite3_column_name(stmt, c);
		if (c)
			buf_putc(&row, ',');
		csv_field(&row, name, strlen(name));
	}
	buf_putc(&row, '\n');
	int step;
	while ((step = sqlite3_step(stmt)) == SQLITE_ROW) {
		for (int c = 0; c < ncol; c++) {
			if (c)
				buf_putc(&row, ',');
			switch (sqlite3_column_type(stmt, c)) {
			case SQLITE_NULL:
				break;
			case SQLITE_INTEGER:
				buf_printf(&row, "%lld", (long long)sqlite3_column_int64(stmt, c));
				break;
			case SQLITE_FLOAT:
				put_double(&row, sqlite3_column_double(stmt, c));
				break;
			default: {
				const char *s = (const char *)sqlite3_column_blob(stmt, c);
				csv_field(&row, s ? s : "", (size_t)sqlite3_column_bytes(stmt, c));
				break;
			}
			}
		}
		buf_putc(&row, '\n');
		if (row.len >= 65536) {
			if (op_sink_write(t->out, row.data, row.len, e) < 0)
				goto out;
			buf_reset(&row);
		}
	}
	if (step != SQLITE_DONE) {
		if (pc.timed_out)
			err_run(e, NULL, "timed out after %gs: SQL query on '%s'", t->timeout, sd->db);
		else if (step == SQLITE_INTERRUPT)
			err_run(e, NULL, "cancelled");
		else
			err_run(e, NULL, "SQL error in '%s': %s", sd->db, sqlite3_errmsg(db));
		goto out;
	}
	if (row.len && op_sink_write(t->out, row.data, row.len, e) < 0)
		goto out;
	rc = 0;
out:
	sqlite3_finalize(stmt);
	sqlite3_close(db);
	buf_release(&row);
	return rc;
}
