/* SPDX-License-Identifier: MIT */
/*
 * main: argv -> the subcommand, through one table. The only place that
 * prints errors and chooses the exit status.
 */
#include "cmd/cmd.h"
#include "util/blas.h"
#include "util/cleanup.h"
#include "util/text.h"

#include <errno.h>
#include <malloc.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>

static const struct cmd cmds[] = {
	{ "check", cmd_check, "validate a spec and print its graph's shape" },
	{ "csv", cmd_csv, "one pandas-like expression over a CSV file or stdin" },
	{ "distance", cmd_distance, "pairwise distances between the rows of a CSV matrix" },
	{ "graph", cmd_graph, "print the task graph as dot or JSON" },
	{ "help", cmd_help, "show help" },
	{ "ops", cmd_ops, "list the op registry" },
	{ "run", cmd_run, "run a pipeline" },
	{ "version", cmd_version, "print the version" },
};
#define N_CMDS (sizeof cmds / sizeof cmds[0])

int main(int argc, char **argv)
{
	blas_init(); /* before any thread exists */
	/* Chunk buffers come and go by the megabyte on every worker: give them
	 * back to the system when freed, instead of letting glibc raise its
	 * mmap threshold and keep them in per-thread heaps (that doubled the
	 * resident size of out-of-core runs). */
	mallopt(M_MMAP_THRESHOLD, 256 * 1024);
	sig_start();
	struct err e;
	err_init(&e);
	if (argc < 2) {
		char *help[] = { "help", NULL };
		cmd_help(1, help, &e);
		return 2;
	}
	const char *name = argv[1];
	if (!strcmp(name, "--help") || !strcmp(name, "-h"))
		name = "help";
	else if (!strcmp(name, "--version"))
		name = "version";
	const struct cmd *c = NULL;
	for (size_t i = 0; i < N_CMDS; i++)
		if (!strcmp(cmds[i].name, name))
			c = &cmds[i];
	if (!c) {
		const char *names[N_CMDS];
		for (size_t i = 0; i < N_CMDS; i++)
			names[i] = cmds[i].name;
		const char *dym = did_you_mean(name, names, N_CMDS);
		if (dym)
			fprintf(stderr, "tessera: unknown command '%s' (did you mean '%s'?)\n", name, dym);
		else
			fprintf(stderr, "tessera: unknown command '%s' (see tessera help)\n", name);
		return 2;
	}
	int rc = c->fn(argc - 1, argv + 1, &e);
	int flush_errno = rc == 0 && fflush(stdout) != 0 ? errno : 0;
	if ((rc != 0 && e.sys_errno == EPIPE) || flush_errno == EPIPE) {
		/* The reader went away (`| head`): stop as the shell's own tools do, silently by SIGPIPE,
		 * after the spill files are gone. */
		cleanup_run();
		signal(SIGPIPE, SIG_DFL);
		raise(SIGPIPE);
		return 128 + SIGPIPE;
	}
	if (flush_errno) {
		fprintf(stderr, "tessera: cannot write to stdout\n");
		cleanup_run();
		return 1;
	}
	if (rc == 0)
		return 0;
	char line[2048];
	err_format(&e, line, sizeof line);
	fprintf(stderr, "%s\n", line);
	cleanup_run();
	return e.code ? (int)e.code : 1;
}
