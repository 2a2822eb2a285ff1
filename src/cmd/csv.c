/* SPDX-License-Identifier: MIT */
/*
 * csv: `tessera csv EXPR [FILE...]` — one pandas-like expression over CSV
 * files or stdin, for quick looks from the shell. It writes the two-node
 * spec a user would write (df = read_csv(FILE), or read_csv([FILE, ...])
 * for several, result = EXPR) and runs it
 * like `run`; errors inside EXPR point into EXPR itself.
 */
#include "cmd/cmd.h"
#include "util/buf.h"
#include "util/text.h"
#include "util/xalloc.h"

#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char usage_csv[] =
	"usage: tessera csv EXPR [FILE...] [options]\n"
	"\n"
	"Evaluates EXPR, a pandas-like expression over the frame `df` read from FILE\n"
	"(CSV; gzip and zstd are detected; - or no FILE: stdin), and writes the result\n"
	"to stdout: a frame as CSV with a header, a single value bare. Several FILEs,\n"
	"or a quoted glob such as 'data/*.csv', are read one after the other as one frame.\n"
	"\n"
	"      --sep C             the field separator (default ,)\n"
	"      --no-header         the first line is data (columns are named 0, 1, ...)\n"
	"      --blocksize SIZE    bytes per partition (default 64MiB, less under -m)\n"
	"  -o, --output PATH       write to PATH instead of stdout (atomically)\n"
	"      --output-format F   csv, tsv or jsonl (default: by PATH's extension, else csv)\n"
	"  -j, --jobs N            worker threads (default: $TESSERA_JOBS, else the number of cores)\n"
	"  -m, --memory-limit SIZE bytes of results held in memory (default: half the physical memory)\n"
	"      --spill-dir DIR     where stdin, decompressed input and spilled results go\n"
	"  -q, --quiet             no progress bar\n"
	"  -v, --verbose           one line per finished task on stderr\n"
	"  -h, --help              this text\n"
	"\n"
	"  tessera csv 'df[df.delay > 15].groupby(\"origin\").delay.mean()' < flights.csv\n"
	"  tessera csv 'len(df)' big.csv.zst\n"
	"  tessera csv 'df.groupby(\"station\").t.max()' 'data/*.csv.gz'\n";

const char *cmd_csv_usage(void)
{
	return usage_csv;
}

enum { OPT_SEP = 256, OPT_NO_HEADER, OPT_BLOCKSIZE, OPT_SPILL, OPT_OUT_FORMAT };

/* The expression is on this line of the generated spec, after this many columns ("  result: '"). */
#define EXPR_LINE 4
#define EXPR_INDENT 11

static void put_yaml_single(struct buf *b, const char *s)
{
	for (; *s; s++) {
		if (*s == '\'')
			buf_putc(b, '\'');
		buf_putc(b, *s);
	}
}

int cmd_csv(int argc, char **argv, struct err *e)
{
	static const struct option longs[] = {
		{ "sep", required_argument, NULL, OPT_SEP },
		{ "no-header", no_argument, NULL, OPT_NO_HEADER },
		{ "blocksize", required_argument, NULL, OPT_BLOCKSIZE },
		{ "output", required_argument, NULL, 'o' },
		{ "output-format", required_argument, NULL, OPT_OUT_FORMAT },
		{ "jobs", required_argument, NULL, 'j' },
		{ "memory-limit", required_argument, NULL, 'm' },
		{ "spill-dir", required_argument, NULL, OPT_SPILL },
		{ "quiet", no_argument, NULL, 'q' },
		{ "verbose", no_argument, NULL, 'v' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	int rc = -1;
	const char *sep = NULL, *blocksize = NULL, *output = "-", *expr = NULL;
	bool header = true;
	char **run_argv = xcalloc((size_t)argc * 2 + 8, sizeof *run_argv);
	int run_argc = 0;
	run_argv[run_argc++] = (char *)"run";
	struct spec_args a;
	memset(&a, 0, sizeof a);
	struct spec spec;
	bool have_spec = false;
	struct loaded l = { 0 };
	struct buf t, df;
	buf_init(&t);
	buf_init(&df);
	optind = 1;
	opterr = 0;
	int c;
	while ((c = getopt_long(argc, argv, ":o:j:m:qvh", longs, NULL)) != -1) {
		switch (c) {
		case OPT_SEP: sep = optarg; break;
		case OPT_NO_HEADER: header = false; break;
		case OPT_BLOCKSIZE: blocksize = optarg; break;
		case 'o': output = optarg; break;
		case OPT_OUT_FORMAT: run_argv[run_argc++] = (char *)"--output-format"; run_argv[run_argc++] = optarg; break;
		case 'j': run_argv[run_argc++] = (char *)"-j"; run_argv[run_argc++] = optarg; break;
		case 'm': run_argv[run_argc++] = (char *)"-m"; run_argv[run_argc++] = optarg; break;
		case OPT_SPILL: run_argv[run_argc++] = (char *)"--spill-dir"; run_argv[run_argc++] = optarg; break;
		case 'q': run_argv[run_argc++] = (char *)"-q"; break;
		case 'v': run_argv[run_argc++] = (char *)"-v"; break;
		case 'h':
			fputs(usage_csv, stdout);
			rc = 0;
			goto out;
		case ':':
			err_usage(e, "csv: option '%s' needs a value", argv[optind - 1]);
			goto out;
		default:
			err_usage(e, "csv: unknown option '%s' (see tessera csv --help)", argv[optind - 1]);
			goto out;
		}
	}
	if (optind >= argc) {
		err_usage(e, "csv: missing EXPR, e.g. 'df.groupby(\"k\").x.mean()' (see tessera csv --help)");
		goto out;
	}
	expr = argv[optind++];
	char **files = argv + optind;
	int n_files = argc - optind;
	if (strchr(expr, '\n')) {
		err_usage(e, "csv: EXPR must be one line");
		goto out;
	}
	uint64_t bs;
	if (blocksize && (!parse_size(blocksize, &bs) || !bs)) {
		err_usage(e, "csv: bad --blocksize '%s': expected a size like 64MiB", blocksize);
		goto out;
	}
	if (sep && strlen(sep) != 1 && strcmp(sep, "\\t")) {
		err_usage(e, "csv: --sep takes one character");
		goto out;
	}
	run_argv[run_argc++] = (char *)"<csv>";
	if (cmd_parse("run", run_argc, run_argv, &a, e) < 0)
		goto out;
	/* df = read_csv(FILE, ...) */
	buf_puts(&df, "read_csv(");
	if (n_files > 1)
		buf_putc(&df, '[');
	for (int i = 0; i < n_files; i++) {
		if (i)
			buf_puts(&df, ", ");
		buf_put_pystr(&df, files[i]);
	}
	if (n_files > 1)
		buf_putc(&df, ']');
	if (n_files == 0)
		buf_put_pystr(&df, "-");
	if (sep) {
		buf_puts(&df, ", sep=");
		buf_put_pystr(&df, !strcmp(sep, "\\t") ? "\t" : sep);
	}
	if (!header)
		buf_puts(&df, ", header=False");
	if (blocksize) {
		buf_puts(&df, ", blocksize=");
		buf_put_pystr(&df, blocksize);
	}
	buf_putc(&df, ')');
	/* Single-quoted YAML scalars: an offset into EXPR maps to a column of its line. */
	buf_puts(&t, "tessera: 1\nnodes:\n  df: '");
	put_yaml_single(&t, df.data);
	buf_puts(&t, "'\n  result: '");
	put_yaml_single(&t, expr);
	buf_puts(&t, "'\noutputs:\n  result: '");
	put_yaml_single(&t, output);
	buf_puts(&t, "'\n");
	if (spec_parse_text(&spec, "<csv>", t.data, t.len, NULL, 0, e) < 0)
		goto out;
	have_spec = true;
	struct graph_opts go = { .mem_limit = a.run.mem_limit, .spill_dir = a.run.spill_dir, .jobs = a.run.jobs,
				 .out_format = a.out_format };
	if (!(l.g = graph_build(&spec, &go, e)))
		goto out;
	if (plan_make(&l.plan, l.g, NULL, 0, e) < 0)
		goto out;
	l.have_plan = true;
	rc = sched_run(l.g, &l.plan, &a.run, NULL, NULL, e);
out:
	if (rc < 0 && !strcmp(e->file, "<csv>")) {
		/* a place in the generated spec: inside EXPR it becomes a column of EXPR */
		if (e->loc.line == EXPR_LINE && e->loc.col > EXPR_INDENT) {
			snprintf(e->file, sizeof e->file, "expression");
			e->loc.line = 1;
			e->loc.col -= EXPR_INDENT;
		} else {
			e->loc.line = 0;
			e->file[0] = '\0';
		}
	}
	if (l.have_plan)
		plan_release(&l.plan);
	graph_free(l.g);
	if (have_spec)
		spec_release(&spec);
	buf_release(&t);
	buf_release(&df);
	spec_args_release(&a);
	free(run_argv);
	return rc;
}
