/* SPDX-License-Identifier: MIT */
/*
 * shell: the `run:` op. The command runs under /bin/sh -c in its own process
 * group (so a stop can kill everything it started) with the inputs as files;
 * its stdout is the result and its stderr is shown line by line, prefixed
 * with the task's name, while the last lines are kept for the error message.
 */
#include "ops/ops_int.h"
#include "util/xalloc.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

extern char **environ;

#define TAIL_LINES 3

struct run_data {
	const char *command; /* after ${} substitution */
};

int op_run_check(struct op_build *b, const struct doc *node, const struct doc *val, void **data,
		 struct err *e)
{
	(void)node;
	const char *cmd = op_scalar(b, val, "'run'", e);
	if (!cmd)
		return -1;
	if (!*cmd)
		return err_at(e, val->loc, "'run' is an empty command");
	struct run_data *rd = arena_alloc(b->arena, sizeof *rd);
	rd->command = cmd;
	*data = rd;
	return 0;
}

static double now(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* The last TAIL_LINES lines of stderr, for the failure message. */
struct tail {
	char *lines[TAIL_LINES];
	int next;
};

static void tail_push(struct tail *t, const char *line)
{
	free(t->lines[t->next]);
	t->lines[t->next] = xstrdup(line);
	t->next = (t->next + 1) % TAIL_LINES;
}

static void tail_format(struct tail *t, struct buf *out)
{
	bool first = true;
	for (int i = 0; i < TAIL_LINES; i++) {
		char *l = t->lines[(t->next + i) % TAIL_LINES];
		if (!l)
			continue;
		buf_puts(out, first ? "" : " | ");
		buf_puts(out, l);
		first = false;
	}
}

static void tail_release(struct tail *t)
{
	for (int i = 0; i < TAIL_LINES; i++)
		free(t->lines[i]);
}

/* Splits @buf into lines, showing each complete one; keeps the rest. */
static void flush_lines(struct op_task *t, struct buf *pending, struct tail *tail, bool all)
{
	char *start = pending->data;
	char *nl;
	while (start && (nl = memchr(start, '\n', pending->len - (size_t)(start - pending->data)))) {
		*nl = '\0';
		if (nl > start && nl[-1] == '\r')
			nl[-1] = '\0';
		if (t->log_line)
			t->log_line(t->log_arg, t->name, start);
		tail_push(tail, start);
		start = nl + 1;
	}
	size_t rest = start ? pending->len - (size_t)(start - pending->data) : 0;
	if (all && rest) {
		char *line = xstrndup(start, rest);
		if (t->log_line)
			t->log_line(t->log_arg, t->name, line);
		tail_push(tail, line);
		free(line);
		rest = 0;
	}
	if (start && start != pending->data)
		memmove(pending->data, start, rest);
	pending->len = rest;
	if (pending->data)
		pending->data[rest] = '\0';
}

static int spawn(const char *cmd, int in_fd, int out_fd, int err_fd, pid_t *pid, struct err *e)
{
	posix_spawn_file_actions_t fa;
	posix_spawnattr_t attr;
	posix_spawn_file_actions_init(&fa);
	posix_spawnattr_init(&attr);
	posix_spawn_file_actions_adddup2(&fa, in_fd, 0);
	posix_spawn_file_actions_adddup2(&fa, out_fd, 1);
	posix_spawn_file_actions_adddup2(&fa, err_fd, 2);
	/* The child gets a clean signal state: tessera blocks and ignores some. */
	sigset_t none, dfl;
	sigemptyset(&none);
	sigemptyset(&dfl);
	sigaddset(&dfl, SIGINT);
	sigaddset(&dfl, SIGTERM);
	sigaddset(&dfl, SIGHUP);
	sigaddset(&dfl, SIGPIPE);
	posix_spawnattr_setsigmask(&attr, &none);
	posix_spawnattr_setsigdefault(&attr, &dfl);
	posix_spawnattr_setpgroup(&attr, 0);
	posix_spawnattr_setflags(&attr, POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF | POSIX_SPAWN_SETPGROUP);
	char *argv[] = { "sh", "-c", (char *)cmd, NULL };
	int rc = posix_spawn(pid, "/bin/sh", &fa, &attr, argv, environ);
	posix_spawn_file_actions_destroy(&fa);
	posix_spawnattr_destroy(&attr);
	if (rc != 0) {
		errno = rc;
		return err_sys(e, NULL, "cannot start /bin/sh");
	}
	return 0;
}

int op_run_run(struct op_task *t, struct err *e)
{
	const struct run_data *rd = t->node_data;
	struct buf cmd, pending, msg;
	buf_init(&cmd);
	buf_init(&pending);
	buf_init(&msg);
	struct tail tail = { 0 };
	int in_fd = -1, out_p[2] = { -1, -1 }, err_p[2] = { -1, -1 };
	pid_t pid = -1;
	int rc = -1, status = 0;
	bool timed_out = false, cancelled = false;

	if (op_expand(t, rd->command, true, &cmd, e) < 0)
		goto out;
	in_fd = open(t->n_in == 1 && t->in[0].path ? t->in[0].path : "/dev/null", O_RDONLY | O_CLOEXEC);
	if (in_fd < 0) {
		err_sys(e, NULL, "cannot open the task's input");
		goto out;
	}
	if (pipe2(out_p, O_CLOEXEC) < 0 || pipe2(err_p, O_CLOEXEC) < 0) {
		err_sys(e, NULL, "cannot make a pipe");
		goto out;
	}
	if (spawn(cmd.data, in_fd, out_p[1], err_p[1], &pid, e) < 0)
		goto out;
	close(out_p[1]);
	close(err_p[1]);
	out_p[1] = err_p[1] = -1;

	double deadline = t->timeout > 0 ? now() + t->timeout : 0, kill_at = 0;
	char block[65536];
	struct pollfd pf[2] = { { out_p[0], POLLIN, 0 }, { err_p[0], POLLIN, 0 } };
	int open_fds = 2;
	bool write_failed = false;
	while (open_fds) {
		int n = poll(pf, 2, 100);
		if (n < 0 && errno != EINTR) {
			err_sys(e, NULL, "poll");
			break;
		}
		for (int i = 0; i < 2; i++) {
			if (pf[i].fd < 0 || !(pf[i].revents & (POLLIN | POLLHUP | POLLERR)))
				continue;
			ssize_t r = read(pf[i].fd, block, sizeof block);
			if (r < 0 && errno == EINTR)
				continue;
			if (r <= 0) {
				close(pf[i].fd);
				if (i == 0)
					out_p[0] = -1;
				else
					err_p[0] = -1;
				pf[i].fd = -1;
				open_fds--;
				continue;
			}
			if (i == 0) {
				if (!write_failed && op_sink_write(t->out, block, (size_t)r, e) < 0)
					write_failed = true;
			} else {
				buf_append(&pending, block, (size_t)r);
				flush_lines(t, &pending, &tail, false);
			}
		}
		/* Stop the whole process group on cancel or timeout; insist after 2 s. */
		double tn = now();
		if (!kill_at && ((t->cancel && atomic_load(t->cancel)) || (deadline && tn > deadline) || write_failed)) {
			if (deadline && tn > deadline)
				timed_out = true;
			else if (!write_failed)
				cancelled = true;
			kill(-pid, SIGTERM);
			kill_at = tn + 2;
		} else if (kill_at && tn > kill_at) {
			kill(-pid, SIGKILL);
			kill_at = tn + 3600;
		}
	}
	flush_lines(t, &pending, &tail, true);
	while (waitpid(pid, &status, 0) < 0 && errno == EINTR)
		;
	pid = -1;
	if (write_failed)
		goto out;
	if (cancelled) {
		err_run(e, NULL, "cancelled");
		goto out;
	}
	if (timed_out) {
		buf_printf(&msg, "timed out after %gs: %s", t->timeout, cmd.data);
	} else if (WIFEXITED(status) && WEXITSTATUS(status) == 0) {
		rc = 0;
		goto out;
	} else if (WIFEXITED(status)) {
		buf_printf(&msg, "command failed with exit status %d: %s", WEXITSTATUS(status), cmd.data);
	} else {
		buf_printf(&msg, "command killed by signal %d (%s): %s", WTERMSIG(status),
			   strsignal(WTERMSIG(status)), cmd.data);
	}
	if (tail.lines[(tail.next + TAIL_LINES - 1) % TAIL_LINES]) {
		buf_puts(&msg, " -- stderr: ");
		tail_format(&tail, &msg);
	}
	err_run(e, NULL, "%s", msg.data);
out:
	if (pid > 0) {
		kill(-pid, SIGKILL);
		waitpid(pid, &status, 0);
	}
	if (in_fd >= 0)
		close(in_fd);
	for (int i = 0; i < 2; i++) {
		if (out_p[i] >= 0)
			close(out_p[i]);
		if (err_p[i] >= 0)
			close(err_p[i]);
	}
	tail_release(&tail);
	buf_release(&cmd);
	buf_release(&pending);
	buf_release(&msg);
	return rc;
}
