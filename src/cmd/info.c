/* SPDX-License-Identifier: MIT */
/* info: `tessera ops`, `tessera version`, `tessera help`. */
#include "cmd/cmd.h"
#include "ops/op.h"

#include <stdio.h>
#include <string.h>

#ifndef TESSERA_VERSION
#define TESSERA_VERSION "0.1.0"
#endif

static const char usage_ops[] =
	"usage: tessera ops\n\nLists the op registry: each op's key, synopsis and options.\n";
static const char usage_version[] = "usage: tessera version\n";

int cmd_ops(int argc, char **argv, struct err *e)
{
	if (argc > 1 && (!strcmp(argv[1], "--help") || !strcmp(argv[1], "-h"))) {
		fputs(usage_ops, stdout);
		return 0;
	}
	if (argc > 1)
		return err_usage(e, "ops: unexpected argument '%s'", argv[1]);
	size_t n;
	const struct op *ops = op_table_get(&n);
	for (size_t i = 0; i < n; i++) {
		printf("%-8s %s\n         %s\n", ops[i].name, ops[i].synopsis, ops[i].help);
		for (const struct op_param *p = ops[i].params; p && p->name; p++)
			printf("         %s: %s\n", p->name, p->help);
	}
	puts("\nEvery node also takes: in: [INPUT...], retries: N, timeout: DURATION, and one");
	puts("generator: foreach: {VAR: A..B | [..] | GLOB}, window: {over, size, step},");
	puts("pairs: {from, count: N|all, seed}, reduce: FAMILY (split_every: K).");
	return 0;
}

int cmd_version(int argc, char **argv, struct err *e)
{
	if (argc > 1 && (!strcmp(argv[1], "--help") || !strcmp(argv[1], "-h"))) {
		fputs(usage_version, stdout);
		return 0;
	}
	if (argc > 1)
		return err_usage(e, "version: unexpected argument '%s'", argv[1]);
	printf("tessera %s\n", TESSERA_VERSION);
	return 0;
}

static const char usage_main[] =
	"usage: tessera COMMAND [options]\n"
	"\n"
	"Runs pipelines of tasks from a YAML or JSON spec, in parallel, within a memory budget.\n"
	"\n"
	"commands:\n"
	"  run SPEC [TARGET...]    run the pipeline and write its outputs\n"
	"  check SPEC              validate the spec; print tasks, edges, depth, outputs\n"
	"  graph SPEC              print the task graph (--format dot|json)\n"
	"  csv EXPR [FILE...]      one pandas-like expression over CSV files or stdin\n"
	"  distance [FILE]         pairwise distances between the rows of a CSV matrix\n"
	"  ops                     list the ops a node can use\n"
	"  version                 print the version\n"
	"  help [COMMAND]          this text, or a command's\n"
	"\n"
	"exit status: 0 success, 1 a task failed, 2 usage error, 3 invalid spec,\n"
	"128+N after signal N (130 for SIGINT).\n"
	"environment: TESSERA_JOBS, TESSERA_MEMORY_LIMIT, TESSERA_SPILL_DIR.\n"
	"See tessera(1) and tessera-spec(5).\n";

int cmd_help(int argc, char **argv, struct err *e)
{
	if (argc < 2 || !strcmp(argv[1], "--help") || !strcmp(argv[1], "-h")) {
		fputs(usage_main, stdout);
		return 0;
	}
	const char *u = cmd_usage(argv[1]);
	if (u)
		fputs(u, stdout);
	else if (!strcmp(argv[1], "ops"))
		fputs(usage_ops, stdout);
	else if (!strcmp(argv[1], "version"))
		fputs(usage_version, stdout);
	else if (!strcmp(argv[1], "help"))
		fputs(usage_main, stdout);
	else
		return err_usage(e, "help: no command '%s'", argv[1]);
	return 0;
}
