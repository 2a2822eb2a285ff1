/* SPDX-License-Identifier: MIT */
/*
 * cleanup: temporary paths that must not outlive the process, and the
 * signal thread that turns SIGINT/SIGTERM into an orderly stop.
 *
 * DESIGN: this is the one module with process-wide state, because atexit()
 * and signals are process-wide. Paths are registered under a mutex. The
 * handler for SIGINT, SIGTERM and SIGHUP only writes the signal's number to
 * a pipe; the signal thread reads it, records it and calls the scheduler's
 * wake-up hook, so no real work is done in an asynchronous handler, on
 * whichever thread (ours or a library's) the kernel picked. A second signal
 * removes the paths and exits at once with 128+N.
 */
#ifndef TESSERA_UTIL_CLEANUP_H
#define TESSERA_UTIL_CLEANUP_H

#include <stdbool.h>

/* cleanup_add_file() / cleanup_add_dir() : remove @path at exit (a dir recursively). */
void cleanup_add_file(const char *path);
void cleanup_add_dir(const char *path);
/* cleanup_forget() : stop tracking @path (it was renamed into place or removed). */
void cleanup_forget(const char *path);
/* cleanup_run() : remove every tracked path now; safe to call twice. */
void cleanup_run(void);

typedef void (*sig_wake_fn)(void *arg);
/* sig_start() : installs the handlers for SIGINT/SIGTERM/SIGHUP and starts the
 * signal thread. Call first thing in main(). */
void sig_start(void);
/* sig_set_wake() : @fn(arg) is called from the signal thread on the first signal. */
void sig_set_wake(sig_wake_fn fn, void *arg);
/* sig_received() : 0 or the number of the first signal received. */
int sig_received(void);

/* rm_rf() : remove a path and everything under it; errors are ignored. */
void rm_rf(const char *path);

#endif
