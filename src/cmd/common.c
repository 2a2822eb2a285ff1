/* SPDX-License-Identifier: MIT */
/* common: option parsing and spec loading shared by run, check and graph. */
#include "cmd/cmd.h"
#include "util/text.h"
#include "util/xalloc.h"

#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static const char usage_run[] =
	"usage: tessera run SPEC [TARGET...] [options]\n"
	"\n"
	"Runs the pipeline in SPEC (YAML or JSON; - for stdin) and writes its outputs.\n"
	"With TARGETs (NAME or NAME[K]) only what they need runs; a target with no\n"
	"output in the spec is written to stdout (an array as text, as an output \"-\").\n"
	"\n"
	"  -j, --jobs N            worker threads (default: $TESSERA_JOBS, else the number of cores)\n"
	"  -m, --memory-limit SIZE bytes of results held in memory, e.g. 512M, 4GiB (default:\n"
	"                          $TESSERA_MEMORY_LIMIT, else half the physical memory)\n"
	"      --spill-dir DIR     where results over the limit go (default: $TESSERA_SPILL_DIR,\n"
	"                          else $TMPDIR, else /tmp)\n"
	"  -s, --set NAME=VALUE    override a parameter of the spec (repeatable)\n"
	"  -o, --output NAME=PATH  write output NAME to PATH (- is stdout; repeatable)\n"
	"  -q, --quiet             no progress bar, no \"wrote NAME to PATH\" summary lines\n"
	"  -v, --verbose           one line per finished task on stderr\n"
	"      --report FILE.json  write every task's timing and sizes, and spill events\n"
	"      --chunk-size SIZE   target size of \"auto\" array chunks (default 128MiB)\n"
	"      --output-format F   frame outputs as csv, tsv or jsonl (default: by the output's\n"
	"                          extension, .tsv or .jsonl, else csv)\n"
	"  -h, --help              this text\n";

static const char usage_check[] =
	"usage: tessera check SPEC [TARGET...] [-s NAME=VALUE]... [-o NAME=PATH]... [--chunk-size SIZE]\n"
	"\n"
	"Validates SPEC without running anything and prints its tasks, edges, depth\n"
	"and outputs (after culling to the TARGETs or outputs). Exit 3 when invalid.\n";

static const char usage_graph[] =
	"usage: tessera graph SPEC [TARGET...] [--format dot|json] [-s NAME=VALUE]... [--chunk-size SIZE]\n"
	"\n"
	"Prints the task graph (after culling) as Graphviz dot (default) or JSON.\n"
	"  tessera graph graphs/etl.yaml | dot -Tsvg > etl.svg\n";

const char *cmd_usage(const char *name)
{
	if (!strcmp(name, "run"))
		return usage_run;
	if (!strcmp(name, "check"))
		return usage_check;
	if (!strcmp(name, "graph"))
		return usage_graph;
	if (!strcmp(name, "distance"))
		return cmd_distance_usage();
	if (!strcmp(name, "csv"))
		return cmd_csv_usage();
	return NULL;
}

static void push(const char ***v, size_t *n, const char *s)
{
	*v = xrealloc(*v, (*n + 1) * sizeof **v);
	(*v)[(*n)++] = s;
}

static int env_defaults(struct sched_opts *o, struct err *e)
{
	long cores = sysconf(_SC_NPROCESSORS_ONLN);
	o->jobs = cores > 0 ? (int)cores : 1;
	long pages = sysconf(_SC_PHYS_PAGES), psize = sysconf(_SC_PAGESIZE);
	o->mem_limit = pages > 0 && psize > 0 ? (uint64_t)pages * (uint64_t)psize / 2 : (1ull << 30);
	const char *v;
	if ((v = getenv("TESSERA_JOBS")) && *v) {
		int64_t j;
		if (!parse_int(v, &j) || j < 1 || j > 4096)
			return err_usage(e, "bad TESSERA_JOBS '%s': expected a number of workers", v);
		o->jobs = (int)j;
	}
	if ((v = getenv("TESSERA_MEMORY_LIMIT")) && *v) {
		if (!parse_size(v, &o->mem_limit) || !o->mem_limit)
			return err_usage(e, "bad TESSERA_MEMORY_LIMIT '%s': expected a size like 512M or 4GiB", v);
	}
	o->spill_dir = getenv("TESSERA_SPILL_DIR");
	if (!o->spill_dir || !*o->spill_dir)
		o->spill_dir = getenv("TMPDIR");
	if (!o->spill_dir || !*o->spill_dir)
		o->spill_dir = "/tmp";
	return 0;
}

enum { OPT_SPILL = 256, OPT_REPORT, OPT_FORMAT, OPT_CHUNK_SIZE, OPT_OUT_FORMAT };

/* parse_out_format() : "csv", "tsv", "jsonl" -> enum table_format; -1 when unknown. */
int cmd_parse_out_format(const char *s)
{
	if (!strcmp(s, "csv"))
		return TF_CSV;
	if (!strcmp(s, "tsv"))
		return TF_TSV;
	if (!strcmp(s, "jsonl") || !strcmp(s, "ndjson") || !strcmp(s, "json"))
		return TF_JSONL;
	return -1;
}

int cmd_parse(const char *name, int argc, char **argv, struct spec_args *a, struct err *e)
{
	memset(a, 0, sizeof *a);
	a->out_format = -1;
	if (env_defaults(&a->run, e) < 0)
		return -1;
	bool is_run = !strcmp(name, "run"), is_graph = !strcmp(name, "graph");
	static const struct option longs[] = {
		{ "jobs", required_argument, NULL, 'j' },
		{ "memory-limit", required_argument, NULL, 'm' },
		{ "spill-dir", required_argument, NULL, OPT_SPILL },
		{ "set", required_argument, NULL, 's' },
		{ "output", required_argument, NULL, 'o' },
		{ "quiet", no_argument, NULL, 'q' },
		{ "verbose", no_argument, NULL, 'v' },
		{ "report", required_argument, NULL, OPT_REPORT },
		{ "format", required_argument, NULL, OPT_FORMAT },
		{ "chunk-size", required_argument, NULL, OPT_CHUNK_SIZE },
		{ "output-format", required_argument, NULL, OPT_OUT_FORMAT },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	optind = 1;
	opterr = 0;
	int c;
	/* '+' would stop at the first operand; we want options anywhere, as git does. */
	while ((c = getopt_long(argc, argv, ":j:m:s:o:qvh", longs, NULL)) != -1) {
		bool run_only = c == 'j' || c == 'm' || c == OPT_SPILL || c == 'q' || c == 'v' || c == OPT_REPORT;
		if ((run_only && !is_run) || (c == OPT_FORMAT && !is_graph)) {
			const char *opt = "?";
			for (const struct option *lo = longs; lo->name; lo++)
				if (lo->val == c)
					opt = lo->name;
			if (c < 256)
				return err_usage(e, "%s: option '-%c' is not for this command (see tessera %s --help)",
						 name, c, name);
			return err_usage(e, "%s: option '--%s' is not for this command (see tessera %s --help)", name,
					 opt, name);
		}
		switch (c) {
		case 'j': {
			int64_t j;
			if (!parse_int(optarg, &j) || j < 1 || j > 4096)
				return err_usage(e, "bad --jobs '%s': expected a number from 1 to 4096", optarg);
			a->run.jobs = (int)j;
			break;
		}
		case 'm':
			if (!parse_size(optarg, &a->run.mem_limit) || !a->run.mem_limit)
				return err_usage(e, "bad --memory-limit '%s': expected a size like 512M or 4GiB", optarg);
			break;
		case OPT_SPILL:
			a->run.spill_dir = optarg;
			break;
		case 's':
			push(&a->sets, &a->n_sets, optarg);
			break;
		case 'o':
			push(&a->outs, &a->n_outs, optarg);
			break;
		case 'q':
			a->run.quiet = true;
			break;
		case 'v':
			a->run.verbose = true;
			break;
		case OPT_REPORT:
			a->run.report_path = optarg;
			break;
		case OPT_CHUNK_SIZE:
			if (!parse_size(optarg, &a->chunk_bytes) || a->chunk_bytes < 1024)
				return err_usage(e, "bad --chunk-size '%s': expected a size of at least 1KiB, like 64M", optarg);
			break;
		case OPT_OUT_FORMAT:
			if ((a->out_format = cmd_parse_out_format(optarg)) < 0)
				return err_usage(e, "bad --output-format '%s': expected csv, tsv or jsonl", optarg);
			break;
		case OPT_FORMAT:
			if (strcmp(optarg, "dot") && strcmp(optarg, "json"))
				return err_usage(e, "bad --format '%s': expected dot or json", optarg);
			a->format = optarg;
			break;
		case 'h':
			a->help = true;
			fputs(cmd_usage(name), stdout);
			return 1;
		case ':':
			return err_usage(e, "%s: option '%s' needs a value", name, argv[optind - 1]);
		default:
			return err_usage(e, "%s: unknown option '%s' (see tessera %s --help)", name, argv[optind - 1], name);
		}
	}
	if (optind >= argc)
		return err_usage(e, "%s: missing SPEC (see tessera %s --help)", name, name);
	a->spec_path = argv[optind++];
	for (; optind < argc; optind++)
		push(&a->targets, &a->n_targets, argv[optind]);
	if (!a->format)
		a->format = "dot";
	a->run.progress = is_run && !a->run.quiet && isatty(STDERR_FILENO);
	return 0;
}

int cmd_load(const struct spec_args *a, struct loaded *l, struct err *e)
{
	memset(l, 0, sizeof *l);
	if (spec_load(&l->spec, a->spec_path, a->sets, a->n_sets, e) < 0)
		return -1;
	struct graph_opts go = { .o_overrides = a->outs, .n_overrides = a->n_outs, .chunk_bytes = a->chunk_bytes,
				 .mem_limit = a->run.mem_limit, .spill_dir = a->run.spill_dir, .jobs = a->run.jobs,
				 .out_format = a->out_format, .targets = (const char *const *)a->targets,
				 .n_targets = a->n_targets };
	if (!(l->g = graph_build(&l->spec, &go, e)))
		return -1;
	if (plan_make(&l->plan, l->g, a->targets, a->n_targets, e) < 0)
		return -1;
	l->have_plan = true;
	return 0;
}

void loaded_release(struct loaded *l)
{
	if (l->have_plan)
		plan_release(&l->plan);
	graph_free(l->g);
	spec_release(&l->spec);
	memset(l, 0, sizeof *l);
}

void spec_args_release(struct spec_args *a)
{
	free(a->sets);
	free(a->outs);
	free(a->targets);
}
