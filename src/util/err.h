/* SPDX-License-Identifier: MIT */
/*
 * err: the one error type. A function that can fail returns -1 (or NULL) and
 * fills the `struct err *` that is its last parameter; the first error wins,
 * so callers may propagate without checking whether one was already set.
 * Only main.c prints errors (err_format gives the one-line GNU form).
 */
#ifndef TESSERA_UTIL_ERR_H
#define TESSERA_UTIL_ERR_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Exit statuses are the codes' values, so main() can return e.code. */
enum err_code {
	ERR_OK = 0,
	ERR_RUN = 1,   /* a task failed, or I/O at run time */
	ERR_USAGE = 2, /* bad command line */
	ERR_SPEC = 3,  /* invalid spec, found before anything ran */
	ERR_INTR = 130 /* interrupted by SIGINT (128 + N for other signals) */
};

/* A place in a spec file; 1-based, line 0 means "no location". */
struct loc {
	const char *file; /* borrowed: lives as long as the spec */
	uint32_t line, col;
};

struct err {
	enum err_code code;
	struct loc loc;  /* line and col; loc.file may die before the error is shown: */
	char file[256];  /* so the file name is copied here, and printed from here */
	char task[128];  /* "" or the task's display name, e.g. "load[17]" */
	int64_t chunk;   /* -1: none */
	int sys_errno;   /* 0 or the errno behind the failure */
	char msg[512];
};

void err_init(struct err *e);
bool err_set(const struct err *e);

/* err_at() : a spec error (ERR_SPEC) at @loc. @return -1. */
int err_at(struct err *e, struct loc loc, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
/* err_usage() : a command-line error (ERR_USAGE). @return -1. */
int err_usage(struct err *e, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* err_run() : a run-time failure (ERR_RUN), optionally of task @task (may be NULL). @return -1. */
int err_run(struct err *e, const char *task, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
/* err_sys() : like err_run() with ": strerror(errno)" appended; reads errno first. */
int err_sys(struct err *e, const char *task, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
/* err_code_at() : general form. @return -1. */
int err_code_at(struct err *e, enum err_code code, struct loc loc, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));

/* err_set_loc() : (re)places the error at @loc, copying the file name. */
void err_set_loc(struct err *e, struct loc loc);

/* err_format() : "tessera: FILE:LINE:COL: msg" or "tessera: task 'x' (FILE:LINE:COL): msg". */
void err_format(const struct err *e, char *out, size_t out_len);

#endif
