/* SPDX-License-Identifier: MIT */
/*
 * cmd: the subcommands, one file each, and what they share: parsing the
 * options common to every command that reads a spec, and loading the spec
 * into a graph and a plan. A subcommand returns 0 or -1 with *e set; only
 * main.c prints errors.
 */
#ifndef TESSERA_CMD_CMD_H
#define TESSERA_CMD_CMD_H

#include "graph/graph.h"
#include "sched/sched.h"
#include "spec/spec.h"
#include "util/err.h"

typedef int (*cmd_fn)(int argc, char **argv, struct err *e);

struct cmd {
	const char *name;
	cmd_fn fn;
	const char *synopsis;
};

int cmd_run(int argc, char **argv, struct err *e);
int cmd_check(int argc, char **argv, struct err *e);
int cmd_graph(int argc, char **argv, struct err *e);
int cmd_ops(int argc, char **argv, struct err *e);
int cmd_version(int argc, char **argv, struct err *e);
int cmd_distance(int argc, char **argv, struct err *e);
const char *cmd_distance_usage(void);
int cmd_csv(int argc, char **argv, struct err *e);
const char *cmd_csv_usage(void);
int cmd_help(int argc, char **argv, struct err *e);

/* Everything a spec-reading command was told on its command line. */
struct spec_args {
	const char *spec_path;
	const char **sets;    size_t n_sets;
	const char **outs;    size_t n_outs;   /* -o NAME=PATH */
	const char **targets; size_t n_targets;
	const char *format;   /* graph --format */
	uint64_t chunk_bytes; /* --chunk-size; 0: the default */
	int out_format;       /* --output-format: enum table_format, -1 by extension */
	struct sched_opts run;
	bool help;
};

/* Loaded state: release with loaded_release() whatever cmd_load() returned. */
struct loaded {
	struct spec spec;
	struct graph *g;
	struct plan plan;
	bool have_plan;
};

/*
 * cmd_parse() : parses the options of command @name (which decides the
 * accepted set). 0, 1 when --help was given (usage printed), -1 and *e.
 */
int cmd_parse(const char *name, int argc, char **argv, struct spec_args *a, struct err *e);
int cmd_load(const struct spec_args *a, struct loaded *l, struct err *e);
void loaded_release(struct loaded *l);
void spec_args_release(struct spec_args *a);
/* cmd_parse_out_format() : "csv", "tsv", "jsonl" -> enum table_format; -1 when unknown. */
int cmd_parse_out_format(const char *s);
/* cmd_usage() : the usage text of @name, for --help and help NAME. */
const char *cmd_usage(const char *name);

#endif
