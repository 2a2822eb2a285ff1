/* SPDX-License-Identifier: MIT */
/*
 * Unit tests for the CUDA plugin's arithmetic without a GPU. The plugin's
 * kernels are written as host/device functions (kernels/cuda/dist_tile.h,
 * kernels/cuda/dist_gemm.h); here they run on the CPU:
 *  - the tiled kernel over an emulated grid: every block, every thread of a
 *    block, phase by phase (init, then load / accumulate per chunk of
 *    features, then store), shared memory a host array poisoned with NaN
 *    before every load, so a read of something no thread loaded shows;
 *  - the GEMM engines through the same dg_piece() the plugin runs, with its
 *    element launches as loops and its cuBLAS calls as CBLAS calls of the
 *    same column-major signature, so the row-major translation is checked;
 *  - a job fed piece by piece as the plugin feeds it (dg_pack into a staging
 *    buffer, then dg_piece), the diagonal tile's mirror last.
 * Every metric, float64 and int8, with and without missing values and
 * weights, diagonal and off-diagonal tiles, on odd sizes (rows not a
 * multiple of the block's, one row, a piece of one feature, no features),
 * against k_dist_map + k_dist_finalize to 1e-12 relative (1e-12 absolute
 * near 0); the tiled kernel also against K_DIST_ISA_SCALAR's statistics bit
 * for bit, since both take features one at a time in the same order.
 */
#include "test.h"
#include "distance.h"
#include "dist_math.h"
#include "cuda/dist_gemm.h"
#include "../gpu/emu_ops.h"

#include <cblas.h>
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

/* ---- Data ---- */

static uint64_t lcg_next(uint64_t *s)
{
	*s = *s * 6364136223846793005ull + 1442695040888963407ull;
	return *s >> 11;
}

static double lcg_unit(uint64_t *s)
{
	return (double)lcg_next(s) / 9007199254740992.0;
}

static int lcg_int(uint64_t *s, int n)
{
	return (int)(lcg_unit(s) * n);
}

/* Rows as float64 (NaN missing) and as int8 (-1 missing). */
struct rows {
	long long n, nf;
	double *d;
	int8_t *i;
};

static struct rows rows_new(long long n, long long nf)
{
	struct rows r = { n, nf, calloc((size_t)(n * nf + 1), sizeof(double)), calloc((size_t)(n * nf + 1), 1) };
	return r;
}

static void rows_free(struct rows *r)
{
	free(r->d);
	free(r->i);
}

static struct k_dist_rows kd_rows(const struct rows *r, bool i8)
{
	struct k_dist_rows k = { i8 ? K_DIST_I8 : K_DIST_F64, i8 ? (const void *)r->i : (const void *)r->d, r->n,
				 r->nf };
	return k;
}

/*
 * Random rows for metric @m: reals in [-1, 1] (some 0), small integers for
 * the boolean metrics and hamming, non-negative values for jensenshannon;
 * int8 0..3. Row 1 repeats row 0, row 2 is all zeros, row 3 constant (when
 * there are that many rows): duplicates, zero and constant rows. Features
 * [@m0, @m1) are missing with probability 0.15; @off is added to reals.
 */
static void rows_fill(struct rows *r, int m, uint64_t *st, long long m0, long long m1, double off)
{
	for (long long q = 0; q < r->n; q++)
		for (long long f = 0; f < r->nf; f++) {
			long long k = q * r->nf + f;
			double u = lcg_unit(st), v;
			int iv = lcg_int(st, 4);
			if (kdm_is_bool(m) || m == K_DIST_HAMMING) {
				iv = lcg_int(st, 3);
				v = iv;
			} else if (m == K_DIST_JENSENSHANNON) {
				v = u < 0.2 ? 0.0 : u;
			} else {
				v = (u < 0.05 ? 0.0 : 2 * u - 1) + off;
			}
			if (q == 1) {
				v = r->d[f];
				iv = r->i[f];
			} else if (q == 2) {
				v = 0;
				iv = 0;
			} else if (q == 3) {
				v = 0.5 + off;
				iv = 2;
			}
			if (f >= m0 && f < m1 && lcg_unit(st) < 0.15) {
				v = NAN;
				iv = -1;
			}
			r->d[k] = v;
			r->i[k] = (int8_t)iv;
		}
}

static double *weights_new(long long nf, uint64_t *st)
{
	double *w = malloc((size_t)(nf + 1) * sizeof *w);
	for (long long f = 0; f < nf; f++) {
		double u = lcg_unit(st);
		w[f] = u < 0.05 ? 0.0 : 0.25 + 2 * u;
	}
	return w;
}

/* ---- The emulated device: tests/gpu/emu_ops.h ---- */

/* Buffers sized exactly as dg_sizes_of says, so that ASan sees any overrun. */
static double *dbuf(long long n)
{
	return n > 0 ? malloc((size_t)n * sizeof(double)) : NULL;
}

/*
 * The statistics of a whole tile as the plugin computes them: a job of engine
 * @fam (-1: the metric's own), features fed in pieces of @P (the first piece
 * @first features when > 0, as a feed that does not start on a piece
 * boundary), each staged with dg_pack and run by dg_piece, then dg_end.
 * @return the statistics (malloc'ed); *launches / *gemms / *tiles what ran.
 */
static double *emu_stats(const struct k_dist_opts *o, int fam, const struct k_dist_rows *a,
			 const struct k_dist_rows *b, long long nf, const double *w, bool same, long long P,
			 long long first, struct emu *e)
{
	struct dg_job J;
	memset(&J, 0, sizeof J);
	J.metric = (int)o->metric;
	J.fam = fam >= 0 ? fam : dg_family(J.metric, o->p);
	J.p = o->p;
	J.na = a->rows;
	J.nb = b->rows;
	J.np = J.na * J.nb;
	J.P = P;
	J.same = same && J.na == J.nb;
	J.weighted = o->weighted && w;
	int ns = kdm_n_stats(J.metric);
	J.st = calloc((size_t)(J.np * ns + 1), sizeof(double));
	struct dg_sizes z = dg_sizes_of(J.fam, J.na, J.nb, P);
	J.acc = dbuf(z.acc);
	J.opa = dbuf(z.opa);
	J.opb = dbuf(z.opb);
	J.col = dbuf(z.col);
	J.ra = dbuf(z.ra);
	J.rb = dbuf(z.rb);
	memset(e, 0, sizeof *e);
	e->th = malloc(sizeof(struct dt_thread) * DT_TX * DT_TY);
	for (long long f0 = 0; f0 < nf;) {
		long long n = nf - f0 < P ? nf - f0 : P;
		if (f0 == 0 && first > 0 && first < n)
			n = first;
		struct dg_layout L = dg_layout_of(J.na, J.nb, n, a->type == K_DIST_I8, b->type == K_DIST_I8, J.same,
						  J.weighted);
		CHECK(L.bytes <= dg_stage_bytes(J.na, J.nb, P, J.same));
		void *buf = malloc(L.bytes ? L.bytes : 1);
		struct dg_piece pc;
		dg_pack(a, b, J.same, J.weighted ? w : NULL, f0, n, L, buf, buf, &pc);
		CHECK(dg_piece(&emu_ops, e, &J, &pc) == 0);
		free(buf);
		f0 += n;
	}
	CHECK(dg_end(&emu_ops, e, &J) == 0);
	free(e->th);
	e->th = NULL;
	free(J.acc);
	free(J.opa);
	free(J.opb);
	free(J.col);
	free(J.ra);
	free(J.rb);
	return J.st;
}

/* The CPU's statistics of the whole tile in one k_dist_map. */
static double *cpu_stats(const struct k_dist_opts *o, const struct k_dist_rows *a, const struct k_dist_rows *b,
			 long long nf, const double *w, bool same)
{
	long long np = a->rows * b->rows;
	double *st = malloc((size_t)(np * k_dist_info_of(o->metric)->n_stats + 1) * sizeof(double));
	k_dist_init(o, st, np);
	size_t n = k_dist_scratch_size(o, a->rows, b->rows, nf);
	void *scr = NULL;
	if (posix_memalign(&scr, 64, n ? n : 1) != 0)
		abort();
	k_dist_map(o, a, b, nf, w, same, st, scr);
	free(scr);
	return st;
}

static int close_to(double x, double y, double rel, double abs)
{
	if (isnan(x) || isnan(y))
		return isnan(x) && isnan(y);
	if (isinf(x) || isinf(y))
		return x == y;
	return fabs(x - y) <= abs + rel * fmax(fabs(x), fabs(y));
}

static int same_bits(double x, double y)
{
	return (isnan(x) && isnan(y)) || memcmp(&x, &y, sizeof x) == 0;
}

/* Value (r, f) of a row block as a double, NaN if missing. */
static double kd_at(const struct k_dist_rows *x, long long r, long long f)
{
	if (x->type == K_DIST_I8) {
		int8_t v = ((const int8_t *)x->data)[r * x->ld + f];
		return v < 0 ? NAN : v;
	}
	return ((const double *)x->data)[r * x->ld + f];
}

/* Whether pair @k's correlation is rounding noise: fewer than 3 shared features of positive weight, or a
 * row constant over them without being exactly so in floating point (1 - 0/0 or 1 - tiny/tiny; the CPU's
 * own engines disagree there too). */
static bool corr_degenerate(const struct k_dist_opts *o, const struct k_dist_rows *a, const struct k_dist_rows *b,
			    const double *w, long long k)
{
	if (o->metric != K_DIST_CORRELATION)
		return false;
	long long r = k / b->rows, s = k % b->rows, n = 0;
	double a0 = NAN, b0 = NAN;
	bool aconst = true, bconst = true;
	for (long long f = 0; f < a->ld; f++) {
		double x = kd_at(a, r, f), y = kd_at(b, s, f);
		if (isnan(x) || isnan(y) || (w && !(w[f] > 0)))
			continue;
		if (n++ == 0) {
			a0 = x;
			b0 = y;
		}
		aconst &= x == a0;
		bconst &= y == b0;
	}
	return n < 3 || aconst || bconst;
}

/* One case's description, for messages. */
struct ecase {
	const char *what;
	int fam;
	bool i8, same, weighted;
	long long na, nb, nf, P, first, m0, m1;
	double off, rel;
};

/* Pairs where k_dist_map and its scalar engine disagreed (reported once). */
static int cpu_split;

/* Runs one case: the emulated plugin against the CPU. @return mismatches. */
static int run_case(const struct k_dist_opts *o0, const struct ecase *c, uint64_t seed)
{
	struct k_dist_opts o = *o0;
	int m = (int)o.metric;
	uint64_t st = seed;
	struct rows A = rows_new(c->na, c->nf), B = rows_new(c->nb, c->nf);
	rows_fill(&A, m, &st, c->m0, c->m1, c->off);
	rows_fill(&B, m, &st, c->m0, c->m1, c->off);
	if (c->nb > 0 && c->na > 0) /* a pair of identical rows across the tiles */
		for (long long f = 0; f < c->nf; f++) {
			B.d[f] = A.d[f];
			B.i[f] = A.i[f];
		}
	double *w = c->weighted ? weights_new(c->nf, &st) : NULL;
	if (m == K_DIST_SEUCLIDEAN && w) /* 1 / V: positive */
		for (long long f = 0; f < c->nf; f++)
			w[f] += 0.5;
	o.weighted = w != NULL;
	struct k_dist_rows ra = kd_rows(&A, c->i8), rb = kd_rows(c->same ? &A : &B, c->i8);
	struct emu e;
	double *ge = emu_stats(&o, c->fam, &ra, &rb, c->nf, w, c->same, c->P, c->first, &e);
	double *cp = cpu_stats(&o, &ra, &rb, c->nf, w, c->same);
	struct k_dist_opts os = o;
	os.isa = K_DIST_ISA_SCALAR;
	double *sc = cpu_stats(&os, &ra, &rb, c->nf, w, c->same);
	long long np = ra.rows * rb.rows;
	int ns = kdm_n_stats(m), bad = 0;
	double *dg = malloc((size_t)(np + 1) * sizeof(double)), *dc = malloc((size_t)(np + 1) * sizeof(double)),
	       *ds = malloc((size_t)(np + 1) * sizeof(double));
	k_dist_finalize(&o, ge, np, dg);
	k_dist_finalize(&o, cp, np, dc);
	k_dist_finalize(&o, sc, np, ds);
	for (long long k = 0; k < np; k++) {
		if (corr_degenerate(&o, &ra, &rb, w, k))
			continue;
		double want = dc[k];
		if (!close_to(dc[k], ds[k], c->rel, 1e-12)) {
			/* the CPU's own engines disagree (k_dist_map's weighted boolean tiles subtract a row sum
			 * and a tile sum summed in different orders: yule's ntf * nft = 0 test then fails when
			 * one row is all true); the scalar engine is the definition */
			want = ds[k];
			if (cpu_split++ == 0)
				fprintf(stderr, "  note: k_dist_map and its scalar engine disagree: %s w=%d i8=%d pair "
						"(%lld,%lld): %.17g vs %.17g; compared with the scalar engine\n",
					k_dist_info_of(o.metric)->name, c->weighted, c->i8, k / rb.rows, k % rb.rows,
					dc[k], ds[k]);
		}
		if (!close_to(dg[k], want, c->rel, 1e-12) && bad++ < 3)
			fprintf(stderr, "  %s: %s p=%g fam=%d i8=%d same=%d w=%d %lldx%lldx%lld P=%lld pair (%lld,%lld): "
					"emulated %.17g, CPU %.17g\n",
				c->what, k_dist_info_of(o.metric)->name, o.p, c->fam, c->i8, c->same, c->weighted, c->na,
				c->nb, c->nf, c->P, k / rb.rows, k % rb.rows, dg[k], want);
	}
	/* the tiled kernel takes features one by one in order: the scalar engine's statistics, bit for bit */
	if (c->fam == DG_TILED || (c->fam < 0 && dg_family(m, o.p) == DG_TILED))
		for (long long k = 0; k < np * ns; k++)
			if (!same_bits(ge[k], sc[k]) && bad++ < 3)
				fprintf(stderr, "  %s: %s tiled stat %lld of pair %lld: %.17g, scalar engine %.17g\n", c->what,
					k_dist_info_of(o.metric)->name, k / (np ? np : 1), k % (np ? np : 1), ge[k], sc[k]);
	free(sc);
	free(ds);
	/* a diagonal tile is exactly symmetric */
	if (c->same)
		for (long long r = 0; r < ra.rows; r++)
			for (long long s = 0; s < r; s++)
				if (!same_bits(dg[r * rb.rows + s], dg[s * rb.rows + r]) && bad++ < 3)
					fprintf(stderr, "  %s: %s not symmetric at (%lld,%lld)\n", c->what,
						k_dist_info_of(o.metric)->name, r, s);
	free(dg);
	free(dc);
	free(ge);
	free(cp);
	free(w);
	rows_free(&A);
	rows_free(&B);
	return bad;
}

/* The metrics, minkowski with several p. */
struct mcase {
	enum k_dist_metric m;
	double p;
};

static const struct mcase metrics[] = {
	{ K_DIST_BRAYCURTIS, 0 }, { K_DIST_CANBERRA, 0 },    { K_DIST_CHEBYSHEV, 0 },	   { K_DIST_CITYBLOCK, 0 },
	{ K_DIST_CORRELATION, 0 }, { K_DIST_COSINE, 0 },     { K_DIST_DICE, 0 },	   { K_DIST_EUCLIDEAN, 0 },
	{ K_DIST_HAMMING, 0 },	  { K_DIST_JACCARD, 0 },    { K_DIST_JENSENSHANNON, 0 },  { K_DIST_MINKOWSKI, 1 },
	{ K_DIST_MINKOWSKI, 2 },  { K_DIST_MINKOWSKI, 3 },  { K_DIST_MINKOWSKI, 0.5 },    { K_DIST_MINKOWSKI, INFINITY },
	{ K_DIST_ROGERSTANIMOTO, 0 }, { K_DIST_RUSSELLRAO, 0 }, { K_DIST_SEUCLIDEAN, 0 }, { K_DIST_SOKALSNEATH, 0 },
	{ K_DIST_SQEUCLIDEAN, 0 }, { K_DIST_YULE, 0 },
};
#define N_METRICS (sizeof metrics / sizeof metrics[0])

static bool takes_w(enum k_dist_metric m)
{
	return (k_dist_info_of(m)->flags & (K_DISTF_W | K_DISTF_V)) != 0;
}

/* Every metric through engine @fam (-1: its own) in every variant of type, missing values, weights and tile. */
static void sweep(int fam, const char *what)
{
	int bad = 0, runs = 0;
	uint64_t seed = 11;
	for (size_t mi = 0; mi < N_METRICS; mi++) {
		struct k_dist_opts o = { .metric = metrics[mi].m, .p = metrics[mi].p };
		if (fam < 0 && dg_family((int)o.metric, o.p) == DG_TILED)
			continue; /* the tiled sweep has it */
		for (int v = 0; v < 16; v++) {
			bool i8 = v & 1, miss = v & 2, weighted = v & 4, same = v & 8;
			if (o.metric == K_DIST_SEUCLIDEAN)
				weighted = true; /* it always has w = 1 / V */
			else if (weighted && !takes_w(o.metric))
				continue;
			/* 75 features in pieces of 35: 35 + 35 + 5 (the tiled kernel: chunks 32 + 3, 32 + 3, 5);
			 * missing values only in the second piece, so pieces with and without them meet */
			struct ecase c = { what, fam, i8, same, weighted, 37, same ? 37 : 70, 75, 35, 0,
					   miss ? 35 : 0, miss ? 70 : 0, 0.0, 1e-12 };
			if (same)
				c.na = c.nb = 70;
			bad += run_case(&o, &c, seed++);
			runs++;
		}
	}
	CHECK(runs > 0);
	CHECK(bad == 0);
}

static void test_tiled_every_metric(void)
{
	sweep(DG_TILED, "tiled");
}

static void test_gemm_engines(void)
{
	sweep(-1, "gemm");
}

/* Odd shapes for every metric and both engines: one row, one feature a piece, no features, a feed
 * not starting on a piece boundary, rows not a multiple of the block (and more than one block). */
static void test_odd_shapes(void)
{
	static const struct {
		long long na, nb, nf, P, first;
		bool same;
	} shapes[] = {
		{ 1, 1, 1, 32, 0, false },  { 1, 1, 5, 32, 0, true },	{ 1, 6, 7, 1, 0, false }, { 5, 4, 0, 32, 0, false },
		{ 3, 3, 0, 32, 0, true },   { 67, 2, 40, 64, 1, false }, { 2, 129, 33, 32, 0, false },
		{ 65, 65, 9, 4, 3, true },  { 300, 3, 20, 16, 0, false }, /* more rows than place the centres */
	};
	int bad = 0;
	uint64_t seed = 101;
	for (size_t si = 0; si < sizeof shapes / sizeof shapes[0]; si++)
		for (size_t mi = 0; mi < N_METRICS; mi++)
			for (int v = 0; v < 4; v++) {
				struct k_dist_opts o = { .metric = metrics[mi].m, .p = metrics[mi].p };
				bool tiled = v & 1, i8 = v & 2;
				int fam = tiled ? DG_TILED : -1;
				if (!tiled && dg_family((int)o.metric, o.p) == DG_TILED)
					continue;
				bool weighted = takes_w(o.metric) && (si & 1);
				struct ecase c = { "odd", fam, i8, shapes[si].same, weighted, shapes[si].na, shapes[si].nb,
						   shapes[si].nf, shapes[si].P, shapes[si].first, 0, shapes[si].nf / 2 + 1,
						   0.0, 1e-12 };
				bad += run_case(&o, &c, seed++);
			}
	CHECK(bad == 0);
}

/* Rows near 1e6: the centred euclidean and correlation forms keep their digits, as the CPU's do. */
static void test_offset(void)
{
	static const enum k_dist_metric ms[] = { K_DIST_EUCLIDEAN, K_DIST_SQEUCLIDEAN, K_DIST_CORRELATION,
						 K_DIST_COSINE, K_DIST_CITYBLOCK };
	int bad = 0;
	for (size_t i = 0; i < sizeof ms / sizeof ms[0]; i++)
		for (int v = 0; v < 4; v++) {
			struct k_dist_opts o = { .metric = ms[i] };
			bool miss = v & 1, same = v & 2;
			struct ecase c = { "offset", -1, false, same, false, 20, same ? 20 : 30, 100, 64, 0,
					   miss ? 10 : 0, miss ? 90 : 0, 1e6, 1e-9 };
			bad += run_case(&o, &c, 777 + (uint64_t)v);
		}
	CHECK(bad == 0);
}

/* Identical rows are exactly 0 apart for the euclidean family (the recheck), as on the CPU. */
static void test_duplicates_zero(void)
{
	struct rows A = rows_new(4, 50);
	uint64_t st = 5;
	rows_fill(&A, K_DIST_EUCLIDEAN, &st, 20, 30, 3.0);
	for (int i8 = 0; i8 < 2; i8++)
		for (int same = 0; same < 2; same++) {
			struct k_dist_opts o = { .metric = K_DIST_EUCLIDEAN };
			struct k_dist_rows r = kd_rows(&A, i8);
			struct emu e;
			double *ge = emu_stats(&o, -1, &r, &r, 50, NULL, same, 32, 0, &e);
			CHECK(ge[0 * 4 + 1] == 0.0 && ge[1 * 4 + 0] == 0.0); /* rows 0 and 1 are the same */
			CHECK(ge[0] == 0.0 && ge[3 * 4 + 3] == 0.0);
			CHECK(e.gemms > 0);
			free(ge);
		}
	rows_free(&A);
}

/* The row-major GEMM and SYRK translations against a plain triple loop. */
static void test_gemm_translation(void)
{
	enum { M = 5, N = 7, K = 3 };
	double a[M * K], b[N * K], c[M * N], want[M * N], s[M * M];
	uint64_t st = 3;
	for (int i = 0; i < M * K; i++)
		a[i] = lcg_unit(&st) - 0.5;
	for (int i = 0; i < N * K; i++)
		b[i] = lcg_unit(&st) - 0.5;
	for (int i = 0; i < M * N; i++)
		c[i] = want[i] = i;
	for (int i = 0; i < M; i++)
		for (int j = 0; j < N; j++) {
			double t = 0;
			for (int k = 0; k < K; k++)
				t += a[i * K + k] * b[j * K + k];
			want[i * N + j] = 2.0 * t + 0.5 * want[i * N + j];
		}
	struct emu e = { 0 };
	CHECK(dg_gemm_rm(&emu_ops, &e, M, N, K, 2.0, a, K, b, K, 0.5, c, N) == 0);
	for (int i = 0; i < M * N; i++)
		CHECK(fabs(c[i] - want[i]) < 1e-14);
	for (int i = 0; i < M * M; i++)
		s[i] = -1;
	CHECK(dg_syrk_rm(&emu_ops, &e, M, K, 1.0, a, K, 0.0, s, M) == 0);
	for (int i = 0; i < M; i++)
		for (int j = 0; j < M; j++) {
			double t = 0;
			for (int k = 0; k < K; k++)
				t += a[i * K + k] * a[j * K + k];
			CHECK(j >= i ? fabs(s[i * M + j] - t) < 1e-14 : s[i * M + j] == -1); /* upper only */
		}
	CHECK(e.gemms == 2);
}

/* Sizes and layouts the plugin allocates by. */
static void test_sizes(void)
{
	CHECK(dg_piece_len(2048, 2048, false, 0) == 1024);
	CHECK(dg_piece_len(2048, 2048, true, 0) == 2048);
	CHECK(dg_piece_len(1, 1, false, 0) == 8192);
	CHECK(dg_piece_len(1 << 20, 1 << 20, false, 0) == 32);
	/* a smaller staging budget (a tight --memory-limit): shorter pieces, never under 32 features */
	CHECK(dg_piece_len(2048, 2048, false, 4u << 20) == 128);
	CHECK(dg_piece_len(2048, 2048, false, 1024) == 32);
	for (long long na = 1; na < 5000; na += 777) {
		long long P = dg_piece_len(na, na + 3, false, 0);
		CHECK(P % 32 == 0 && P >= 32 && P <= 8192);
		struct dg_layout L = dg_layout_of(na, na + 3, P, 1, 0, false, 1);
		CHECK(L.a == 0 && L.b % 256 == 0 && L.w % 256 == 0 && L.b >= (size_t)(na * P) && L.w >= L.b);
		CHECK(L.bytes <= dg_stage_bytes(na, na + 3, P, false));
	}
	struct dg_sizes z = dg_sizes_of(DG_CORR, 10, 20, 64);
	CHECK(z.acc == 6 * 224 && z.opa == 3 * 10 * 64 && z.opb == 3 * 20 * 64 && z.col == 0);
	z = dg_sizes_of(DG_TILED, 10, 20, 64);
	CHECK(z.acc == 0 && z.opa == 0 && z.ra == 0);
	CHECK(dg_family(K_DIST_MINKOWSKI, 2.0) == DG_EU && dg_family(K_DIST_MINKOWSKI, 3.0) == DG_TILED);
	CHECK(dg_family(K_DIST_YULE, 0) == DG_BOOL && dg_family(K_DIST_HAMMING, 0) == DG_TILED);
	/* a block below a diagonal tile's diagonal has nothing to do; one across it has */
	struct dt_args t;
	memset(&t, 0, sizeof t);
	t.na = t.nb = 200;
	t.same = 1;
	CHECK(!dt_block_live(&t, (struct dt_ix){ 0, 1 }) && dt_block_live(&t, (struct dt_ix){ 1, 1 }) &&
	      dt_block_live(&t, (struct dt_ix){ 2, 1 }));
	struct dt_ix g = dt_grid(&t);
	CHECK(g.x == 4 && g.y == 4);
}

const struct test cuda_emu_tests[] = {
	{ "cuda_emu: tiled kernel, every metric and variant, vs CPU and scalar engine", test_tiled_every_metric },
	{ "cuda_emu: GEMM engines (euclidean, cosine, correlation, booleans) vs CPU", test_gemm_engines },
	{ "cuda_emu: odd shapes (one row, one feature, none, partial blocks)", test_odd_shapes },
	{ "cuda_emu: rows near 1e6", test_offset },
	{ "cuda_emu: identical rows are exactly 0 apart", test_duplicates_zero },
	{ "cuda_emu: row-major GEMM/SYRK through cuBLAS's column-major signature", test_gemm_translation },
	{ "cuda_emu: piece lengths, staging layouts, buffer sizes, grid", test_sizes },
	{ NULL, NULL },
};
