/* SPDX-License-Identifier: MIT */
/*
 * distance: `tessera distance [FILE]` — pairwise distances between the rows
 * of a numeric CSV matrix, as a shell filter. It writes the two-node spec a
 * user would write (load, then pairwise_distance) and runs it like `run`,
 * so the one-liner gets the same tiling, memory limit and spilling. Stdin is
 * copied to a file in the spill folder first: the CSV loader reads rows by
 * seeking, which a pipe cannot do.
 */
#include "cmd/cmd.h"
#include "util/buf.h"
#include "util/cleanup.h"
#include "util/text.h"
#include "util/xalloc.h"

#include <cjson/cJSON.h>
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static const char usage_distance[] =
	"usage: tessera distance [FILE] [options]\n"
	"\n"
	"Distances between every pair of rows of a numeric CSV matrix (FILE, or stdin;\n"
	"one row a vector), written as CSV to stdout: the square matrix, or scipy's\n"
	"condensed vector (one value a line) with --condensed.\n"
	"\n"
	"      --metric NAME       one of scipy's pdist metrics (default euclidean): braycurtis,\n"
	"                          canberra, chebyshev, cityblock, correlation, cosine, dice,\n"
	"                          euclidean, hamming, jaccard, jensenshannon, mahalanobis,\n"
	"                          minkowski, rogerstanimoto, russellrao, seuclidean, sokalsneath,\n"
	"                          sqeuclidean, yule\n"
	"  -p, --p P               minkowski's p (default 2; inf allowed)\n"
	"      --w FILE            per-feature weights (.npy, or CSV with one value a field)\n"
	"      --V FILE            seuclidean's variances (default: the columns' variances, ddof=1)\n"
	"      --VI FILE           mahalanobis's inverse covariance (default: from the rows)\n"
	"      --condensed         scipy's condensed order instead of the square matrix\n"
	"      --header            the first line is a header (default: guessed)\n"
	"      --no-header         the first line is data\n"
	"      --device D          auto (default), cpu or gpu\n"
	"      --missing M         auto (default: NaN and empty fields are missing) or nan\n"
	"  -o, --output PATH       write to PATH (.npy, else CSV) instead of stdout\n"
	"  -j, --jobs N            worker threads (default: $TESSERA_JOBS, else the number of cores)\n"
	"  -m, --memory-limit SIZE bytes of results held in memory (default: half the physical memory)\n"
	"      --spill-dir DIR     where results over the limit go (default: $TMPDIR, else /tmp)\n"
	"      --chunk-size SIZE   target size of the input's chunks (default 128MiB)\n"
	"  -q, --quiet             no progress bar, no \"wrote NAME to PATH\" summary lines\n"
	"  -v, --verbose           one line per finished task on stderr\n"
	"  -h, --help              this text\n"
	"\n"
	"  tessera distance --metric cityblock < points.csv > distances.csv\n";

const char *cmd_distance_usage(void)
{
	return usage_distance;
}

/* A Python string literal of @s, for the generated expression. */
/* Copies stdin to a fresh file in @dir; the path (malloc'ed) is removed at exit. */
static char *stdin_to_file(const char *dir, struct err *e)
{
	size_t len = strlen(dir) + 40;
	char *path = xmalloc(len);
	snprintf(path, len, "%s/tessera-stdin-XXXXXX", dir);
	int fd = mkstemp(path);
	if (fd < 0) {
		err_sys(e, NULL, "cannot create a file in '%s' for stdin", dir);
		free(path);
		return NULL;
	}
	cleanup_add_file(path);
	char buf[1 << 16];
	for (;;) {
		ssize_t r = read(STDIN_FILENO, buf, sizeof buf);
		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0) {
			err_sys(e, NULL, "cannot read stdin");
			break;
		}
		if (r == 0) {
			if (close(fd) < 0) {
				err_sys(e, NULL, "cannot write '%s'", path);
				fd = -1;
				break;
			}
			return path;
		}
		for (ssize_t off = 0; off < r;) {
			ssize_t w = write(fd, buf + off, (size_t)(r - off));
			if (w < 0 && errno == EINTR)
				continue;
			if (w < 0) {
				err_sys(e, NULL, "cannot write '%s'", path);
				goto fail;
			}
			off += w;
		}
	}
fail:
	if (fd >= 0)
		close(fd);
	unlink(path);
	cleanup_forget(path);
	free(path);
	return NULL;
}

enum { OPT_METRIC = 256, OPT_W, OPT_V, OPT_VI, OPT_CONDENSED, OPT_HEADER, OPT_NO_HEADER, OPT_DEVICE, OPT_MISSING,
       OPT_SPILL, OPT_CHUNK };

int cmd_distance(int argc, char **argv, struct err *e)
{
	static const struct option longs[] = {
		{ "metric", required_argument, NULL, OPT_METRIC },
		{ "p", required_argument, NULL, 'p' },
		{ "w", required_argument, NULL, OPT_W },
		{ "V", required_argument, NULL, OPT_V },
		{ "VI", required_argument, NULL, OPT_VI },
		{ "condensed", no_argument, NULL, OPT_CONDENSED },
		{ "header", no_argument, NULL, OPT_HEADER },
		{ "no-header", no_argument, NULL, OPT_NO_HEADER },
		{ "device", required_argument, NULL, OPT_DEVICE },
		{ "missing", required_argument, NULL, OPT_MISSING },
		{ "output", required_argument, NULL, 'o' },
		{ "jobs", required_argument, NULL, 'j' },
		{ "memory-limit", required_argument, NULL, 'm' },
		{ "spill-dir", required_argument, NULL, OPT_SPILL },
		{ "chunk-size", required_argument, NULL, OPT_CHUNK },
		{ "quiet", no_argument, NULL, 'q' },
		{ "verbose", no_argument, NULL, 'v' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	/* The options shared with `run` are parsed by cmd_parse: collect them into their own argv. */
	char **run_argv = xcalloc((size_t)argc + 3, sizeof *run_argv);
	int run_argc = 0;
	run_argv[run_argc++] = "run";
	const char *metric = NULL, *p = NULL, *w = NULL, *v = NULL, *vi = NULL, *device = NULL, *missing = NULL;
	const char *output = "-", *file = NULL;
	int header = -1;
	bool condensed = false;
	struct spec_args a;
	memset(&a, 0, sizeof a);
	struct spec spec;
	memset(&spec, 0, sizeof spec);
	bool have_spec = false;
	struct loaded l = { 0 };
	char *tmp = NULL, *text = NULL;
	struct buf expr;
	buf_init(&expr);
	int rc = -1, c;
	optind = 1;
	opterr = 0;
	while ((c = getopt_long(argc, argv, ":p:o:j:m:qvh", longs, NULL)) != -1) {
		switch (c) {
		case OPT_METRIC: metric = optarg; break;
		case 'p': p = optarg; break;
		case OPT_W: w = optarg; break;
		case OPT_V: v = optarg; break;
		case OPT_VI: vi = optarg; break;
		case OPT_CONDENSED: condensed = true; break;
		case OPT_HEADER: header = 1; break;
		case OPT_NO_HEADER: header = 0; break;
		case OPT_DEVICE: device = optarg; break;
		case OPT_MISSING: missing = optarg; break;
		case 'o': output = optarg; break;
		case 'j': run_argv[run_argc++] = "-j"; run_argv[run_argc++] = optarg; break;
		case 'm': run_argv[run_argc++] = "-m"; run_argv[run_argc++] = optarg; break;
		case OPT_SPILL: run_argv[run_argc++] = "--spill-dir"; run_argv[run_argc++] = optarg; break;
		case OPT_CHUNK: run_argv[run_argc++] = "--chunk-size"; run_argv[run_argc++] = optarg; break;
		case 'q': run_argv[run_argc++] = "-q"; break;
		case 'v': run_argv[run_argc++] = "-v"; break;
		case 'h':
			fputs(usage_distance, stdout);
			rc = 0;
			goto out;
		case ':':
			err_usage(e, "distance: option '%s' needs a value", argv[optind - 1]);
			goto out;
		default:
			err_usage(e, "distance: unknown option '%s' (see tessera distance --help)", argv[optind - 1]);
			goto out;
		}
	}
	if (optind < argc)
		file = argv[optind++];
	if (optind < argc) {
		err_usage(e, "distance: one input FILE at most, not '%s' too", argv[optind]);
		goto out;
	}
	run_argv[run_argc++] = "<distance>";
	if (cmd_parse("run", run_argc, run_argv, &a, e) < 0)
		goto out;
	if (!file || !strcmp(file, "-")) {
		if (!(tmp = stdin_to_file(a.run.spill_dir, e)))
			goto out;
		file = tmp;
	}
	/* the spec: x = load(FILE), d = pairwise_distance(x, ...), output d */
	buf_puts(&expr, "load(");
	buf_put_pystr(&expr, file);
	if (header >= 0)
		buf_puts(&expr, header ? ", header=True" : ", header=False");
	buf_puts(&expr, ")");
	char *load_text = buf_detach(&expr, NULL);
	buf_puts(&expr, "pairwise_distance(x");
	const struct { const char *name, *val; bool str; } kw[] = {
		{ "metric", metric, true }, { "device", device, true }, { "missing", missing, true }, { "p", p, false },
	};
	for (size_t i = 0; i < sizeof kw / sizeof kw[0]; i++) {
		if (!kw[i].val)
			continue;
		buf_printf(&expr, ", %s=", kw[i].name);
		if (kw[i].str) {
			buf_put_pystr(&expr, kw[i].val);
		} else {
			double d;
			if (strcmp(kw[i].val, "inf") && !parse_double(kw[i].val, &d)) {
				free(load_text);
				err_usage(e, "distance: bad --%s '%s': expected a number", kw[i].name, kw[i].val);
				goto out;
			}
			buf_puts(&expr, kw[i].val);
		}
	}
	const struct { const char *name, *path; bool vec; } files[] = { { "w", w, true }, { "V", v, true }, { "VI", vi, false } };
	for (size_t i = 0; i < 3; i++) {
		if (!files[i].path)
			continue;
		buf_printf(&expr, ", %s=load(", files[i].name);
		buf_put_pystr(&expr, files[i].path);
		buf_puts(&expr, files[i].vec ? ").reshape(-1)" : ")");
	}
	if (condensed)
		buf_puts(&expr, ", output=\"condensed\"");
	buf_puts(&expr, ")");
	char *dist_text = buf_detach(&expr, NULL);
	cJSON *root = cJSON_CreateObject(), *nodes = cJSON_AddObjectToObject(root, "nodes");
	cJSON_AddNumberToObject(root, "tessera", 1);
	cJSON_AddStringToObject(nodes, "x", load_text);
	cJSON_AddStringToObject(nodes, "distances", dist_text);
	cJSON_AddStringToObject(cJSON_AddObjectToObject(root, "outputs"), "distances", output);
	text = cJSON_PrintUnformatted(root);
	cJSON_Delete(root);
	free(load_text);
	free(dist_text);
	if (spec_parse_text(&spec, "<distance>", text, strlen(text), NULL, 0, e) < 0)
		goto out;
	have_spec = true;
	struct graph_opts go = { .chunk_bytes = a.chunk_bytes, .mem_limit = a.run.mem_limit,
				 .spill_dir = a.run.spill_dir, .jobs = a.run.jobs, .out_format = -1 };
	if (!(l.g = graph_build(&spec, &go, e)))
		goto out;
	for (size_t i = 0; i < l.g->n_notes; i++) /* a place in the generated spec means nothing to the user */
		if (!strncmp(l.g->notes[i], "<distance>:", 11) && strstr(l.g->notes[i], ": "))
			l.g->notes[i] = strstr(l.g->notes[i], ": ") + 2;
	if (plan_make(&l.plan, l.g, NULL, 0, e) < 0)
		goto out;
	l.have_plan = true;
	rc = sched_run(l.g, &l.plan, &a.run, NULL, NULL, e);
out:
	if (rc < 0 && !strcmp(e->file, "<distance>")) {
		e->loc.line = 0;
		e->file[0] = '\0';
	}
	if (l.have_plan)
		plan_release(&l.plan);
	graph_free(l.g);
	if (have_spec)
		spec_release(&spec);
	if (tmp) {
		unlink(tmp);
		cleanup_forget(tmp);
		free(tmp);
	}
	free(text);
	buf_release(&expr);
	spec_args_release(&a);
	free(run_argv);
	return rc < 0 ? -1 : 0;
}
