/* SPDX-License-Identifier: MIT */
/*
 * registry: THE table of ops, sorted by name (a unit test checks it). A new
 * op is one function pair (or, for an array function, one case in array/)
 * and one row here. Task ops (run, sql, load, value, concat) are node keys;
 * array ops are called in expressions, x.name(...) as well when OP_METHOD,
 * and can be written as a mapping {name: first_argument, option: value}.
 */
#include "array/array.h"
#include "ops/ops_int.h"

#include <pthread.h>
#include <string.h>

static const struct op op_table[] = {
	{ .name = "abs", .synopsis = "abs(x)", .help = "elementwise abs", .flags = OP_ARRAY,
	  .afn = AFN_EW, .sub = EW_ABS, .args = (const char *const[]){ "!x", NULL } },
	{ .name = "all", .synopsis = "all(a, axis=None, keepdims=False, split_every=8)", .help = "whether all are true over axes, as a tree over chunks", .flags = OP_ARRAY | OP_METHOD,
	  .afn = AFN_REDUCE, .sub = RED_ALL, .args = (const char *const[]){ "!a", "axis", "keepdims", "split_every", NULL } },
	{ .name = "any", .synopsis = "any(a, axis=None, keepdims=False, split_every=8)", .help = "whether any is true over axes, as a tree over chunks", .flags = OP_ARRAY | OP_METHOD,
	  .afn = AFN_REDUCE, .sub = RED_ANY, .args = (const char *const[]){ "!a", "axis", "keepdims", "split_every", NULL } },
	{ .name = "arange", .synopsis = "arange(start, stop=None, step=1, dtype=None, chunks=\"auto\")", .help = "evenly spaced values in [start, stop)", .flags = OP_ARRAY,
	  .afn = AFN_CREATE, .sub = CR_ARANGE, .args = (const char *const[]){ "!start", "stop", "step", "dtype", "chunks", NULL } },
	{ .name = "arccos", .synopsis = "arccos(x)", .help = "elementwise arccos", .flags = OP_ARRAY,
	  .afn = AFN_EW, .sub = EW_ARCCOS, .args = (const char *const[]){ "!x", NULL } },
	{ .name = "arcsin", .synopsis = "arcsin(x)", .help = "elementwise arcsin", .flags = OP_ARRAY,
	  .afn = AFN_EW, .sub = EW_ARCSIN, .args = (const char *const[]){ "!x", NULL } },
	{ .name = "arctan", .synopsis = "arctan(x)", .help = "elementwise arctan", .flags = OP_ARRAY,
	  .afn = AFN_EW, .sub = EW_ARCTAN, .args = (const char *const[]){ "!x", NULL } },
	{ .name = "arctan2", .synopsis = "arctan2(x1, x2)", .help = "elementwise arctan(x1/x2) by quadrant", .flags = OP_ARRAY,
	  .afn = AFN_EW, .sub = EW_ARCTAN2, .args = (const char *const[]){ "!x1", "!x2", NULL } },
	{ .name = "argmax", .synopsis = "argmax(a, axis=None, split_every=8)", .help = "index of the first maximum (flat when axis is None)", .flags = OP_ARRAY | OP_METHOD,
	  .afn = AFN_REDUCE, .sub = RED_ARGMAX, .args = (const char *const[]){ "!a", "axis", "split_every", NULL } },
	{ .name = "argmin", .synopsis = "argmin(a, axis=None, split_every=8)", .help = "index of the first minimum (flat when axis is None)", .flags = OP_ARRAY | OP_METHOD,
	  .afn = AFN_REDUCE, .sub = RED_ARGMIN, .args = (const char *const[]){ "!a", "axis", "split_every", NULL } },
	{ .name = "astype", .synopsis = "astype(a, dtype)", .help = "a converted to dtype", .flags = OP_ARRAY | OP_METHOD,
	  .afn = AFN_ASTYPE, .sub = 0, .args = (const char *const[]){ "!a", "!dtype", NULL } },
	{ .name = "cdist", .synopsis = "cdist(XA, XB, metric=\"euclidean\", device=\"auto\", p=2, w=None, V=None, VI=None, missing=\"auto\")",
	  .help = "distances between the rows of two 2-d arrays, as a map-reduce over feature chunks", .flags = OP_ARRAY,
	  .afn = AFN_PDIST, .sub = 1,
	  .args = (const char *const[]){ "!XA", "!XB", "metric", "device", "p", "w", "V", "VI", "missing", NULL } },
	{ .name = "ceil", .synopsis = "ceil(x)", .help = "elementwise ceil", .flags = OP_ARRAY,
	  .afn = AFN_EW, .sub = EW_CEIL, .args = (const char *const[]){ "!x", NULL } },
	{ .name = "clip", .synopsis = "clip(a, a_min, a_max)", .help = "a limited to [a_min, a_max]", .flags = OP_ARRAY | OP_METHOD,
	  .afn = AFN_EW, .sub = EW_CLIP, .args = (const char *const[]){ "!a", "!a_min", "!a_max", NULL } },
	{
		.name = "concat",
		.synopsis = "reduce: FAMILY   (or in: [...] with no other op)",
		.help = "concatenates the inputs' bytes in input order",
		.flags = OP_STREAM_IN,
		.check = op_concat_check,
		.run = op_concat_run,
	},
	{ .name = "concatenate", .synopsis = "concatenate((a, b, ...), axis=0)", .help = "arrays joined along an existing axis", .flags = OP_ARRAY,
	  .afn = AFN_CONCAT, .sub = 0, .args = (const char *const[]){ "!arrays", "axis", NULL } },
	{ .name = "cos", .synopsis = "cos(x)", .help = "elementwise cos", .flags = OP_ARRAY,
	  .afn = AFN_EW, .sub = EW_COS, .args = (const char *const[]){ "!x", NULL } },
	{ .name = "cosh", .synopsis = "cosh(x)", .help = "elementwise cosh", .flags = OP_ARRAY,
	  .afn = AFN_EW, .sub = EW_COSH, .args = (const char *const[]){ "!x", NULL } },
	{ .name = "count_nonzero", .synopsis = "count_nonzero(a, axis=None, keepdims=False, split_every=8)", .help = "how many are not zero", .flags = OP_ARRAY,
	  .afn = AFN_REDUCE, .sub = RED_COUNT_NONZERO, .args = (const char *const[]){ "!a", "axis", "keepdims", "split_every", NULL } },
	{ .name = "dot", .synopsis = "dot(a, b)", .help = "the matrix product of 2-d arrays (as matmul)", .flags = OP_ARRAY | OP_METHOD,
	  .afn = AFN_MATMUL, .args = (const char *const[]){ "!a", "!b", NULL } },
	{ .name = "exp", .synopsis = "exp(x)", .help = "elementwise exp", .flags = OP_ARRAY,
	  .afn = AFN_EW, .sub = EW_EXP, .args = (const char *const[]){ "!x", NULL } },
	{ .name = "expm1", .synopsis = "expm1(x)", .help = "elementwise expm1", .flags = OP_ARRAY,
	  .afn = AFN_EW, .sub = EW_EXPM1, .args = (const char *const[]){ "!x", NULL } },
	{ .name = "eye", .synopsis = "eye(N, M=None, k=0, dtype=\"float64\", chunks=\"auto\")", .help = "ones on a diagonal", .flags = OP_ARRAY,
	  .afn = AFN_CREATE, .sub = CR_EYE, .args = (const char *const[]){ "!N", "M", "k", "dtype", "chunks", NULL } },
	{ .name = "floor", .synopsis = "floor(x)", .help = "elementwise floor", .flags = OP_ARRAY,
	  .afn = AFN_EW, .sub = EW_FLOOR, .args = (const char *const[]){ "!x", NULL } },
	{ .name = "full", .synopsis = "full(shape, fill_value, dtype=None, chunks=\"auto\")", .help = "an array of one value", .flags = OP_ARRAY,
	  .afn = AFN_CREATE, .sub = CR_FULL, .args = (const char *const[]){ "!shape", "!fill_value", "dtype", "chunks", NULL } },
	{ .name = "isfinite", .synopsis = "isfinite(x)", .help = "elementwise isfinite", .flags = OP_ARRAY,
	  .afn = AFN_EW, .sub = EW_ISFINITE, .args = (const char *const[]){ "!x", NULL } },
	{ .name = "isnan", .synopsis = "isnan(x)", .help = "elementwise isnan", .flags = OP_ARRAY,
	  .afn = AFN_EW, .sub = EW_ISNAN, .args = (const char *const[]){ "!x", NULL } },
	{ .name = "linalg.cholesky", .synopsis = "linalg.cholesky(a)", .help = "the lower Cholesky factor L of a symmetric positive-definite matrix (a = L @ L.T), in one chunk", .flags = OP_ARRAY,
	  .afn = AFN_CHOLESKY, .args = (const char *const[]){ "!a", NULL } },
	{ .name = "linspace", .synopsis = "linspace(start, stop, num=50, endpoint=True, dtype=None, chunks=\"auto\")", .help = "num evenly spaced values from start to stop", .flags = OP_ARRAY,
	  .afn = AFN_CREATE, .sub = CR_LINSPACE, .args = (const char *const[]){ "!start", "!stop", "num", "endpoint", "dtype", "chunks", NULL } },
	{
		.name = "load",
		.synopsis = "load: PATH   or, in an expression, load(path, chunks=\"auto\", header=None)",
		.help = "a file's bytes ({VAR}, {index} expand per task); in an expression, a .npy file as a chunked array",
		.flags = OP_SOURCE,
		.check = op_load_check,
		.run = op_load_run,
		.afn = AFN_LOAD,
		.args = (const char *const[]){ "!path", "chunks", "header", NULL },
	},
	{ .name = "load_vcf", .synopsis = "load_vcf(path, field=\"GT\", form=\"alt\", chunks=\"auto\")",
	  .help = "genotypes of a VCF/BCF file: int8 samples x variants alt-allele counts (form=\"calls\": variants x samples x ploidy)",
	  .flags = OP_ARRAY, .afn = AFN_LOAD_VCF, .args = (const char *const[]){ "!path", "field", "form", "chunks", NULL } },
	{ .name = "log", .synopsis = "log(x)", .help = "elementwise log", .flags = OP_ARRAY,
	  .afn = AFN_EW, .sub = EW_LOG, .args = (const char *const[]){ "!x", NULL } },
	{ .name = "log1p", .synopsis = "log1p(x)", .help = "elementwise log1p", .flags = OP_ARRAY,
	  .afn = AFN_EW, .sub = EW_LOG1P, .args = (const char *const[]){ "!x", NULL } },
	{ .name = "matmul", .synopsis = "matmul(x1, x2)   (also x1 @ x2)", .help = "the matrix product of 2-d arrays: BLAS block products, summed as a tree", .flags = OP_ARRAY,
	  .afn = AFN_MATMUL, .args = (const char *const[]){ "!x1", "!x2", NULL } },
	{ .name = "max", .synopsis = "max(a, axis=None, keepdims=False, split_every=8)", .help = "maximum (NaN wins) over axes, as a tree over chunks", .flags = OP_ARRAY | OP_METHOD,
	  .afn = AFN_REDUCE, .sub = RED_MAX, .args = (const char *const[]){ "!a", "axis", "keepdims", "split_every", NULL } },
	{ .name = "maximum", .synopsis = "maximum(x1, x2)", .help = "elementwise maximum (NaN wins)", .flags = OP_ARRAY,
	  .afn = AFN_EW, .sub = EW_MAXIMUM, .args = (const char *const[]){ "!x1", "!x2", NULL } },
	{ .name = "mean", .synopsis = "mean(a, axis=None, keepdims=False, split_every=8)", .help = "mean over axes, as a tree over chunks", .flags = OP_ARRAY | OP_METHOD,
	  .afn = AFN_REDUCE, .sub = RED_MEAN, .args = (const char *const[]){ "!a", "axis", "keepdims", "split_every", NULL } },
	{ .name = "min", .synopsis = "min(a, axis=None, keepdims=False, split_every=8)", .help = "minimum (NaN wins) over axes, as a tree over chunks", .flags = OP_ARRAY | OP_METHOD,
	  .afn = AFN_REDUCE, .sub = RED_MIN, .args = (const char *const[]){ "!a", "axis", "keepdims", "split_every", NULL } },
	{ .name = "minimum", .synopsis = "minimum(x1, x2)", .help = "elementwise minimum (NaN wins)", .flags = OP_ARRAY,
	  .afn = AFN_EW, .sub = EW_MINIMUM, .args = (const char *const[]){ "!x1", "!x2", NULL } },
	{ .name = "nanmax", .synopsis = "nanmax(a, axis=None, keepdims=False, split_every=8)", .help = "maximum ignoring NaN over axes, as a tree over chunks", .flags = OP_ARRAY | OP_METHOD,
	  .afn = AFN_REDUCE, .sub = RED_NANMAX, .args = (const char *const[]){ "!a", "axis", "keepdims", "split_every", NULL } },
	{ .name = "nanmean", .synopsis = "nanmean(a, axis=None, keepdims=False, split_every=8)", .help = "mean ignoring NaN over axes, as a tree over chunks", .flags = OP_ARRAY | OP_METHOD,
	  .afn = AFN_REDUCE, .sub = RED_NANMEAN, .args = (const char *const[]){ "!a", "axis", "keepdims", "split_every", NULL } },
	{ .name = "nanmin", .synopsis = "nanmin(a, axis=None, keepdims=False, split_every=8)", .help = "minimum ignoring NaN over axes, as a tree over chunks", .flags = OP_ARRAY | OP_METHOD,
	  .afn = AFN_REDUCE, .sub = RED_NANMIN, .args = (const char *const[]){ "!a", "axis", "keepdims", "split_every", NULL } },
	{ .name = "nanstd", .synopsis = "nanstd(a, axis=None, ddof=0, keepdims=False, split_every=8)", .help = "standard deviation ignoring NaN (Welford/Chan), as a tree over chunks", .flags = OP_ARRAY | OP_METHOD,
	  .afn = AFN_REDUCE, .sub = RED_NANSTD, .args = (const char *const[]){ "!a", "axis", "ddof", "keepdims", "split_every", NULL } },
	{ .name = "nansum", .synopsis = "nansum(a, axis=None, keepdims=False, split_every=8)", .help = "sum ignoring NaN over axes, as a tree over chunks", .flags = OP_ARRAY | OP_METHOD,
	  .afn = AFN_REDUCE, .sub = RED_NANSUM, .args = (const char *const[]){ "!a", "axis", "keepdims", "split_every", NULL } },
	{ .name = "nanvar", .synopsis = "nanvar(a, axis=None, ddof=0, keepdims=False, split_every=8)", .help = "variance ignoring NaN (Welford/Chan), as a tree over chunks", .flags = OP_ARRAY | OP_METHOD,
	  .afn = AFN_REDUCE, .sub = RED_NANVAR, .args = (const char *const[]){ "!a", "axis", "ddof", "keepdims", "split_every", NULL } },
	{ .name = "ones", .synopsis = "ones(shape, dtype=\"float64\", chunks=\"auto\")", .help = "an array of 1", .flags = OP_ARRAY,
	  .afn = AFN_CREATE, .sub = CR_ONES, .args = (const char *const[]){ "!shape", "dtype", "chunks", NULL } },
	{ .name = "pairwise_distance", .synopsis = "pairwise_distance(x, metric=\"euclidean\", device=\"auto\", output=\"square\", p=2, w=None, V=None, VI=None, missing=\"auto\")",
	  .help = "distances between every pair of rows of a 2-d array (scipy's pdist metrics), as a map-reduce over feature chunks", .flags = OP_ARRAY,
	  .afn = AFN_PDIST, .sub = 0,
	  .args = (const char *const[]){ "!x", "metric", "device", "output", "p", "w", "V", "VI", "missing", NULL } },
	{ .name = "prod", .synopsis = "prod(a, axis=None, keepdims=False, split_every=8)", .help = "product over axes, as a tree over chunks", .flags = OP_ARRAY | OP_METHOD,
	  .afn = AFN_REDUCE, .sub = RED_PROD, .args = (const char *const[]){ "!a", "axis", "keepdims", "split_every", NULL } },
	{ .name = "random.integers", .synopsis = "random.integers(low, high=None, size=None, dtype=\"int64\", chunks=\"auto\", seed=0)", .help = "integers in [low, high)", .flags = OP_ARRAY,
	  .afn = AFN_CREATE, .sub = CR_INTEGERS, .args = (const char *const[]){ "!low", "high", "!size", "dtype", "chunks", "seed", NULL } },
	{ .name = "random.normal", .synopsis = "random.normal(loc=0.0, scale=1.0, size=None, chunks=\"auto\", seed=0)", .help = "normal (Gaussian)", .flags = OP_ARRAY,
	  .afn = AFN_CREATE, .sub = CR_NORMAL, .args = (const char *const[]){ "loc", "scale", "!size", "chunks", "seed", NULL } },
	{ .name = "random.random", .synopsis = "random.random(size, chunks=\"auto\", seed=0)", .help = "uniform in [0, 1), the same whatever the chunks", .flags = OP_ARRAY,
	  .afn = AFN_CREATE, .sub = CR_RANDOM, .args = (const char *const[]){ "!size", "chunks", "seed", NULL } },
	{ .name = "random.uniform", .synopsis = "random.uniform(low=0.0, high=1.0, size=None, chunks=\"auto\", seed=0)", .help = "uniform in [low, high)", .flags = OP_ARRAY,
	  .afn = AFN_CREATE, .sub = CR_UNIFORM, .args = (const char *const[]){ "low", "high", "!size", "chunks", "seed", NULL } },
	{ .name = "rechunk", .synopsis = "rechunk(x, chunks)", .help = "x with another chunk grid (tasks gather from the old chunks)", .flags = OP_ARRAY | OP_METHOD,
	  .afn = AFN_RECHUNK, .args = (const char *const[]){ "!x", "!chunks", NULL } },
	{ .name = "reshape", .synopsis = "reshape(a, shape)", .help = "the same elements in C order under another shape (one -1 is inferred)", .flags = OP_ARRAY | OP_METHOD,
	  .afn = AFN_RESHAPE, .args = (const char *const[]){ "!a", "!shape", NULL } },
	{ .name = "round", .synopsis = "round(a, decimals=0)", .help = "round half to even, to decimals places", .flags = OP_ARRAY | OP_METHOD,
	  .afn = AFN_EW, .sub = EW_ROUND, .args = (const char *const[]){ "!a", "decimals", NULL } },
	{
		.name = "run",
		.synopsis = "run: COMMAND",
		.help = "a /bin/sh command; inputs as files ({in}, {in[K]}; one input also on stdin), stdout is the result",
		.flags = OP_INPUT_PATHS,
		.check = op_run_check,
		.run = op_run_run,
	},
	{ .name = "sin", .synopsis = "sin(x)", .help = "elementwise sin", .flags = OP_ARRAY,
	  .afn = AFN_EW, .sub = EW_SIN, .args = (const char *const[]){ "!x", NULL } },
	{ .name = "sinh", .synopsis = "sinh(x)", .help = "elementwise sinh", .flags = OP_ARRAY,
	  .afn = AFN_EW, .sub = EW_SINH, .args = (const char *const[]){ "!x", NULL } },
	{
		.name = "sql",
		.synopsis = "sql: {db: PATH, query: SQL}",
		.help = "a read-only SQLite query; the result is CSV with a header",
		.flags = OP_SOURCE,
		.check = op_sql_check,
		.run = op_sql_run,
	},
	{ .name = "sqrt", .synopsis = "sqrt(x)", .help = "elementwise sqrt", .flags = OP_ARRAY,
	  .afn = AFN_EW, .sub = EW_SQRT, .args = (const char *const[]){ "!x", NULL } },
	{ .name = "stack", .synopsis = "stack((a, b, ...), axis=0)", .help = "arrays of one shape joined along a new axis", .flags = OP_ARRAY,
	  .afn = AFN_CONCAT, .sub = 1, .args = (const char *const[]){ "!arrays", "axis", NULL } },
	{ .name = "std", .synopsis = "std(a, axis=None, ddof=0, keepdims=False, split_every=8)", .help = "standard deviation (Welford/Chan), as a tree over chunks", .flags = OP_ARRAY | OP_METHOD,
	  .afn = AFN_REDUCE, .sub = RED_STD, .args = (const char *const[]){ "!a", "axis", "ddof", "keepdims", "split_every", NULL } },
	{ .name = "sum", .synopsis = "sum(a, axis=None, keepdims=False, split_every=8)", .help = "sum over axes, as a tree over chunks", .flags = OP_ARRAY | OP_METHOD,
	  .afn = AFN_REDUCE, .sub = RED_SUM, .args = (const char *const[]){ "!a", "axis", "keepdims", "split_every", NULL } },
	{ .name = "swapaxes", .synopsis = "swapaxes(a, axis1, axis2)", .help = "a with two axes exchanged (a view)", .flags = OP_ARRAY | OP_METHOD,
	  .afn = AFN_TRANSPOSE, .sub = 1, .args = (const char *const[]){ "!a", "!axis1", "!axis2", NULL } },
	{ .name = "tan", .synopsis = "tan(x)", .help = "elementwise tan", .flags = OP_ARRAY,
	  .afn = AFN_EW, .sub = EW_TAN, .args = (const char *const[]){ "!x", NULL } },
	{ .name = "tanh", .synopsis = "tanh(x)", .help = "elementwise tanh", .flags = OP_ARRAY,
	  .afn = AFN_EW, .sub = EW_TANH, .args = (const char *const[]){ "!x", NULL } },
	{ .name = "tensordot", .synopsis = "tensordot(a, b, axes=2)", .help = "sums of products over axes (an int N: a's last N with b's first N; or two tuples)", .flags = OP_ARRAY,
	  .afn = AFN_TENSORDOT, .args = (const char *const[]){ "!a", "!b", "axes", NULL } },
	{ .name = "transpose", .synopsis = "transpose(a, axes=None)", .help = "a with its axes reversed or permuted (a view; also x.T)", .flags = OP_ARRAY | OP_METHOD,
	  .afn = AFN_TRANSPOSE, .sub = 0, .args = (const char *const[]){ "!a", "axes", NULL } },
	{
		.name = "value",
		.synopsis = "value: X",
		.help = "a literal number or string ({VAR}, {index} expand per task), with a final newline",
		.flags = OP_SOURCE | OP_CHEAP,
		.check = op_value_check,
		.run = op_value_run,
	},
	{ .name = "var", .synopsis = "var(a, axis=None, ddof=0, keepdims=False, split_every=8)", .help = "variance (Welford/Chan), as a tree over chunks", .flags = OP_ARRAY | OP_METHOD,
	  .afn = AFN_REDUCE, .sub = RED_VAR, .args = (const char *const[]){ "!a", "axis", "ddof", "keepdims", "split_every", NULL } },
	{ .name = "where", .synopsis = "where(condition, x, y)", .help = "x where condition, else y", .flags = OP_ARRAY,
	  .afn = AFN_EW, .sub = EW_WHERE, .args = (const char *const[]){ "!condition", "!x", "!y", NULL } },
	{ .name = "zeros", .synopsis = "zeros(shape, dtype=\"float64\", chunks=\"auto\")", .help = "an array of 0", .flags = OP_ARRAY,
	  .afn = AFN_CREATE, .sub = CR_ZEROS, .args = (const char *const[]){ "!shape", "dtype", "chunks", NULL } },
};

#define N_OPS (sizeof op_table / sizeof op_table[0])

static const char *op_name_list[N_OPS];
static pthread_once_t names_once = PTHREAD_ONCE_INIT;

static void fill_names(void)
{
	for (size_t i = 0; i < N_OPS; i++)
		op_name_list[i] = op_table[i].name;
}

const struct op *op_find(const char *name)
{
	/* Sorted: binary search. */
	size_t lo = 0, hi = N_OPS;
	while (lo < hi) {
		size_t mid = (lo + hi) / 2;
		int c = strcmp(op_table[mid].name, name);
		if (c == 0)
			return &op_table[mid];
		if (c < 0)
			lo = mid + 1;
		else
			hi = mid;
	}
	return NULL;
}

const struct op *op_table_get(size_t *n)
{
	*n = N_OPS;
	return op_table;
}

const char *const *op_names(size_t *n)
{
	pthread_once(&names_once, fill_names);
	*n = N_OPS;
	return op_name_list;
}
