/* SPDX-License-Identifier: MIT */
/* cleanup: tracked temporary paths and the signal thread. */
#include "util/cleanup.h"
#include "util/xalloc.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

struct tracked {
	char *path;
	bool dir;
};

static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static struct tracked *paths;
static size_t n_paths, cap_paths;
static atomic_int got_signal;
static sig_wake_fn wake_fn;
static void *wake_arg;
static bool atexit_done;

static void at_exit(void)
{
	cleanup_run();
}

static void add(const char *path, bool dir)
{
	pthread_mutex_lock(&lock);
	if (!atexit_done) {
		atexit(at_exit);
		atexit_done = true;
	}
	XGROW(paths, cap_paths, n_paths + 1);
	paths[n_paths].path = xstrdup(path);
	paths[n_paths].dir = dir;
	n_paths++;
	pthread_mutex_unlock(&lock);
}

void cleanup_add_file(const char *path)
{
	add(path, false);
}

void cleanup_add_dir(const char *path)
{
	add(path, true);
}

void cleanup_forget(const char *path)
{
	pthread_mutex_lock(&lock);
	for (size_t i = n_paths; i-- > 0;) {
		if (strcmp(paths[i].path, path) == 0) {
			free(paths[i].path);
			paths[i] = paths[--n_paths];
			break;
		}
	}
	pthread_mutex_unlock(&lock);
}

void rm_rf(const char *path)
{
	struct stat st;
	if (lstat(path, &st) != 0)
		return;
	if (S_ISDIR(st.st_mode)) {
		DIR *d = opendir(path);
		if (d) {
			struct dirent *de;
			while ((de = readdir(d))) {
				if (!strcmp(de->d_name, ".") || !strcmp(de->d_name, ".."))
					continue;
				char *sub = xasprintf("%s/%s", path, de->d_name);
				rm_rf(sub);
				free(sub);
			}
			closedir(d);
		}
		rmdir(path);
	} else {
		unlink(path);
	}
}

void cleanup_run(void)
{
	pthread_mutex_lock(&lock);
	for (size_t i = 0; i < n_paths; i++) {
		if (paths[i].dir)
			rm_rf(paths[i].path);
		else
			unlink(paths[i].path);
		free(paths[i].path);
	}
	n_paths = 0;
	free(paths);
	paths = NULL;
	cap_paths = 0;
	pthread_mutex_unlock(&lock);
}

/*
 * Signals arrive through a handler that only records them and writes one
 * byte to a pipe; the signal thread reads the pipe and does the rest. (A
 * sigwait() design needs the signals blocked in every thread, and libraries
 * such as OpenBLAS start threads of their own before main() runs.)
 */
static int sig_pipe[2] = { -1, -1 };

static void on_signal(int signo)
{
	int saved = errno;
	unsigned char b = (unsigned char)signo;
	ssize_t w = write(sig_pipe[1], &b, 1);
	(void)w;
	errno = saved;
}

static void *sig_thread(void *arg)
{
	(void)arg;
	for (;;) {
		unsigned char b;
		ssize_t r = read(sig_pipe[0], &b, 1);
		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0)
			return NULL;
		int signo = b;
		int expected = 0;
		if (atomic_compare_exchange_strong(&got_signal, &expected, signo)) {
			pthread_mutex_lock(&lock);
			sig_wake_fn fn = wake_fn;
			void *fa = wake_arg;
			pthread_mutex_unlock(&lock);
			if (fn)
				fn(fa);
			else {
				cleanup_run();
				_exit(128 + signo);
			}
		} else {
			/* A second signal: the user insists. */
			cleanup_run();
			_exit(128 + signo);
		}
	}
	return NULL;
}

void sig_start(void)
{
	/* A closed stdout pipe is reported as EPIPE on write, not a silent death. */
	signal(SIGPIPE, SIG_IGN);
	if (pipe2(sig_pipe, O_CLOEXEC) != 0)
		return;
	pthread_t t;
	if (pthread_create(&t, NULL, sig_thread, NULL) != 0)
		return;
	pthread_detach(t);
	struct sigaction sa;
	memset(&sa, 0, sizeof sa);
	sa.sa_handler = on_signal;
	sigemptyset(&sa.sa_mask);
	sa.sa_flags = SA_RESTART;
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGHUP, &sa, NULL);
}

void sig_set_wake(sig_wake_fn fn, void *arg)
{
	pthread_mutex_lock(&lock);
	wake_fn = fn;
	wake_arg = arg;
	pthread_mutex_unlock(&lock);
}

int sig_received(void)
{
	return atomic_load(&got_signal);
}
