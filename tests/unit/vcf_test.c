/* SPDX-License-Identifier: MIT */
/*
 * Unit tests for io/vcf: counts of every fixture in tests/data/vcf and of
 * examples/data/1kg.vcf.gz; genotypes read by hand from the files' text
 * (written here as literals, with where they came from); the same boxes
 * from plain VCF, bgzipped VCF, BCF and uncompressed BCF; boxes at any
 * offset (crossing marks, one variant, the last, a sample or allele subset,
 * in any order, on one reader or several at once) against the slices of a
 * whole read; and each malformed file's one-line message.
 *
 * Paths are relative to the repository root, where the unit tests run.
 * Files that are easier to make than to keep (a plain copy of many.vcf.gz,
 * truncated copies, VCF text with one thing wrong) are written into a
 * temporary folder.
 */
#include "test.h"
/* htslib's vcf.h first: io/vcf.h takes back the names vcf_open and vcf_close, which htslib defines
 * as macros */
#include <htslib/bgzf.h>
#include <htslib/vcf.h>

#include "io/vcf.h"
#include "util/cleanup.h"
#include "util/err.h"
#include "util/xalloc.h"

#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define DIR "tests/data/vcf/"
#define KG "examples/data/1kg.vcf.gz"

/* ---- helpers ---- */

static char *tmpdir_new(void)
{
	const char *t = getenv("TMPDIR");
	char *d = xasprintf("%s/tessera-vcf-XXXXXX", t && *t ? t : "/tmp");
	if (!mkdtemp(d)) {
		perror("mkdtemp");
		abort();
	}
	return d;
}

static void file_put(const char *path, const char *text)
{
	FILE *f = fopen(path, "wb");
	CHECK(f != NULL);
	if (!f)
		return;
	CHECK(fwrite(text, 1, strlen(text), f) == strlen(text));
	CHECK(fclose(f) == 0);
}

/* Copies the first @n bytes of @src (all if n < 0) to @dst. */
static void file_copy(const char *src, const char *dst, long n)
{
	FILE *in = fopen(src, "rb"), *out = fopen(dst, "wb");
	CHECK(in && out);
	if (in && out) {
		char buf[4096];
		size_t r;
		long left = n;
		while ((n < 0 || left > 0) && (r = fread(buf, 1, n < 0 || left > (long)sizeof buf ? sizeof buf : (size_t)left, in)) > 0) {
			CHECK(fwrite(buf, 1, r, out) == r);
			left -= (long)r;
		}
	}
	if (in)
		fclose(in);
	if (out)
		CHECK(fclose(out) == 0);
}

static long file_size(const char *path)
{
	FILE *f = fopen(path, "rb");
	if (!f)
		return -1;
	fseek(f, 0, SEEK_END);
	long n = ftell(f);
	fclose(f);
	return n;
}

/* Decompresses the bgzipped @src into @dst (plain VCF) with htslib's BGZF reader. */
static void bgzf_unzip(const char *src, const char *dst)
{
	BGZF *in = bgzf_open(src, "r");
	FILE *out = fopen(dst, "wb");
	CHECK(in && out);
	if (in && out) {
		char buf[1 << 16];
		ssize_t r;
		while ((r = bgzf_read(in, buf, sizeof buf)) > 0)
			CHECK(fwrite(buf, 1, (size_t)r, out) == (size_t)r);
		CHECK(r == 0);
	}
	if (in)
		bgzf_close(in);
	if (out)
		CHECK(fclose(out) == 0);
}

/* Writes the VCF @src as BCF @dst with htslib's own writer (which checks nothing about GT). */
static void to_bcf(const char *src, const char *dst)
{
	htsFile *in = hts_open(src, "r"), *out = hts_open(dst, "wb");
	bcf_hdr_t *h = in ? bcf_hdr_read(in) : NULL;
	bcf1_t *rec = bcf_init();
	CHECK(in && out && h);
	if (in && out && h) {
		CHECK(bcf_hdr_write(out, h) == 0);
		while (bcf_read(in, h, rec) == 0)
			CHECK(bcf_write(out, h, rec) == 0);
	}
	bcf_destroy(rec);
	if (h)
		bcf_hdr_destroy(h);
	if (in)
		hts_close(in);
	if (out)
		CHECK(hts_close(out) == 0);
}

/* Scans @path, which must work. */
static int scan(const char *path, struct arena *a, struct vcf_info *in)
{
	struct err e;
	err_init(&e);
	int rc = vcf_scan(path, a, in, &e);
	if (rc < 0)
		fprintf(stderr, "vcf_scan(%s): %s\n", path, e.msg);
	CHECK(rc == 0);
	return rc;
}

/* The whole file's calls (variants × samples × ploidy) and alt counts (samples × variants). */
static void read_all(const char *path, const struct vcf_info *in, int8_t **calls, int8_t **alt)
{
	size_t nc = (size_t)(in->n_variants * in->n_samples * in->ploidy), na = (size_t)(in->n_variants * in->n_samples);
	*calls = xmalloc(nc);
	*alt = xmalloc(na);
	memset(*calls, 99, nc);
	memset(*alt, 99, na);
	struct err e;
	err_init(&e);
	struct vcf_reader *r = vcf_open(path, in, &e);
	CHECK(r != NULL);
	if (!r) {
		fprintf(stderr, "vcf_open(%s): %s\n", path, e.msg);
		return;
	}
	CHECK(vcf_read_calls(r, 0, in->n_variants, 0, in->n_samples, 0, in->ploidy, *calls, &e) == 0);
	CHECK(vcf_read_alt(r, 0, in->n_variants, 0, in->n_samples, *alt, &e) == 0);
	if (err_set(&e))
		fprintf(stderr, "%s: %s\n", path, e.msg);
	vcf_close(r);
}

struct box {
	int64_t v0, nv, s0, ns;
	int p0, np;
};

/* Reads @b from @r and compares it, both layouts, with the slice of the whole read. 0 if equal. */
static int check_box(struct vcf_reader *r, const struct vcf_info *in, const int8_t *calls, const int8_t *alt,
		     struct box b)
{
	int8_t *oc = xmalloc((size_t)(b.nv * b.ns * b.np) + 1), *oa = xmalloc((size_t)(b.nv * b.ns) + 1);
	struct err e;
	err_init(&e);
	int bad = 0;
	if (vcf_read_calls(r, b.v0, b.nv, b.s0, b.ns, b.p0, b.np, oc, &e) < 0 ||
	    vcf_read_alt(r, b.v0, b.nv, b.s0, b.ns, oa, &e) < 0) {
		fprintf(stderr, "box [%lld +%lld, %lld +%lld]: %s\n", (long long)b.v0, (long long)b.nv,
			(long long)b.s0, (long long)b.ns, e.msg);
		bad = 1;
	}
	for (int64_t j = 0; !bad && j < b.nv; j++)
		for (int64_t i = 0; i < b.ns; i++) {
			int64_t v = b.v0 + j, s = b.s0 + i;
			bad |= oa[i * b.nv + j] != alt[s * in->n_variants + v];
			for (int p = 0; p < b.np; p++)
				bad |= oc[(j * b.ns + i) * b.np + p] != calls[(v * in->n_samples + s) * in->ploidy + b.p0 + p];
		}
	if (bad)
		fprintf(stderr, "box [%lld +%lld, %lld +%lld, %d +%d] differs from the whole read\n", (long long)b.v0,
			(long long)b.nv, (long long)b.s0, (long long)b.ns, b.p0, b.np);
	free(oc);
	free(oa);
	return bad;
}

/* An error from scanning @path: -1, and a message that starts with @want (exactly, if @exact). */
static void check_scan_err(const char *path, const char *want, bool exact)
{
	struct arena a;
	arena_init(&a);
	struct vcf_info in;
	struct err e;
	err_init(&e);
	CHECK(vcf_scan(path, &a, &in, &e) == -1);
	CHECK(e.code == ERR_RUN);
	CHECK(e.loc.line == 0);
	CHECK(strstr(e.msg, path) != NULL);
	CHECK(strchr(e.msg, '\n') == NULL);
	if (exact)
		CHECK_STR(e.msg, want);
	else if (strncmp(e.msg, want, strlen(want)) != 0) {
		fprintf(stderr, "%s: '%s' does not start with '%s'\n", path, e.msg, want);
		CHECK(!"message");
	}
	arena_release(&a);
}

/* ---- small.vcf and its copies ---- */

static const char *const small_files[] = { DIR "small.vcf", DIR "small.vcf.gz", DIR "small.bcf", DIR "small-u.bcf" };

/* tests/data/vcf/small.vcf, lines 9-18, read by eye: variants × samples (S1..S4) × 3 alleles. */
static const int8_t small_calls[10][4][3] = {
	{ { 0, 0, -2 }, { 0, 1, -2 }, { 1, 1, -2 }, { -1, -1, -2 } },   /* 1:100  0/0 0/1 1/1 ./. */
	{ { 0, 1, -2 }, { 1, 0, -2 }, { 0, 0, -2 }, { 1, 1, -2 } },     /* 1:200  0|1 1|0 0|0 1|1 */
	{ { 1, 2, -2 }, { 0, 2, -2 }, { 2, 2, -2 }, { -1, 1, -2 } },    /* 1:300  1/2 0/2 2/2 ./1 */
	{ { 0, -1, -2 }, { -1, -1, -2 }, { -1, -2, -2 }, { 0, 1, -2 } }, /* 1:400  0/. ./. . 0/1 */
	{ { -1, 1, -2 }, { 1, 1, -2 }, { 0, 0, -2 }, { 0, 0, -2 } },    /* 1:500  .|1 1|1 0|0 0/0 */
	{ { 0, -2, -2 }, { 1, -2, -2 }, { -1, -2, -2 }, { 1, -2, -2 } }, /* 2:600  0 1 . 1 (haploid) */
	{ { 0, 1, -2 }, { 1, -2, -2 }, { 0, 0, 1 }, { -1, -2, -2 } },   /* 2:700  0/1 1 0|0|1 . */
	{ { -1, -1, -1 }, { -1, -1, -1 }, { -1, -1, -1 }, { -1, -1, -1 } }, /* 2:800  FORMAT DP: no GT */
	{ { 3, 3, -2 }, { 0, 3, -2 }, { 2, 1, -2 }, { 0, 0, -2 } },     /* 2:900  3/3 0/3 2|1 0/0 */
	{ { 1, 1, -2 }, { 0, 0, -2 }, { -1, -2, -2 }, { 0, 1, -2 } },   /* 2:1000 1/1 0/0 . 0|1 */
};

/* The same, as alt counts: samples × variants. */
static const int8_t small_alt[4][10] = {
	{ 0, 1, 2, -1, -1, 0, 1, -1, 2, 2 },
	{ 1, 1, 1, -1, 2, 1, 1, -1, 1, 0 },
	{ 2, 0, 2, -1, 0, -1, 1, -1, 2, -1 },
	{ -1, 2, -1, 1, 0, 1, -1, -1, 0, 1 },
};

static void test_vcf_small(void)
{
	for (size_t f = 0; f < sizeof small_files / sizeof small_files[0]; f++) {
		struct arena a;
		arena_init(&a);
		struct vcf_info in;
		if (scan(small_files[f], &a, &in) == 0) {
			CHECK(in.n_samples == 4);
			CHECK(in.n_variants == 10);
			CHECK(in.ploidy == 3); /* S3's 0|0|1 at 2:700 */
			CHECK(in.n_marks == 1);
			int8_t *calls, *alt;
			read_all(small_files[f], &in, &calls, &alt);
			if (memcmp(calls, small_calls, sizeof small_calls) != 0 || memcmp(alt, small_alt, sizeof small_alt) != 0) {
				fprintf(stderr, "%s: genotypes differ from the hand-read ones\n", small_files[f]);
				CHECK(!"small genotypes");
			}
			free(calls);
			free(alt);
		}
		arena_release(&a);
	}
}

/* Every box of small: all four files agree with the literals, alleles and samples cut any way. */
static void test_vcf_small_boxes(void)
{
	for (size_t f = 0; f < sizeof small_files / sizeof small_files[0]; f++) {
		struct arena a;
		arena_init(&a);
		struct vcf_info in;
		struct err e;
		err_init(&e);
		struct vcf_reader *r = scan(small_files[f], &a, &in) == 0 ? vcf_open(small_files[f], &in, &e) : NULL;
		CHECK(r != NULL);
		int bad = 0;
		for (int64_t v0 = 0; r && v0 < 10; v0 += 3)
			for (int64_t nv = 1; v0 + nv <= 10; nv += 4)
				for (int64_t s0 = 0; s0 < 4; s0++)
					for (int64_t ns = 1; s0 + ns <= 4; ns += 2)
						for (int p0 = 0; p0 < 3; p0++)
							for (int np = 1; p0 + np <= 3; np++)
								bad |= check_box(r, &in, &small_calls[0][0][0], &small_alt[0][0],
										 (struct box){ v0, nv, s0, ns, p0, np });
		CHECK(!bad);
		vcf_close(r);
		arena_release(&a);
	}
}

/* ---- many.vcf.gz: marks and seeking ---- */

/* many.vcf.gz's alt counts, counted from its text by
 *   zcat many.vcf.gz | grep -v '^#' | awk -F'\t' '{for(i=10;i<=NF;i++){split($i,a,":"); g=a[1];
 *     if ($9=="DP"||g ~ /\./) {h["-1"]++; continue}; n=split(g,al,/[\/|]/); c=0;
 *     for(k=1;k<=n;k++) if (al[k]!="0") c++; h[c]++}} END{for(k in h) print k, h[k]}'
 * as -1, 0, 1, 2. */
static const int64_t many_hist[4] = { 5702, 7847, 12212, 10239 };

static void histogram(const int8_t *alt, int64_t n, int64_t *h /* [4]: -1, 0, 1, 2 */)
{
	memset(h, 0, 4 * sizeof *h);
	for (int64_t i = 0; i < n; i++)
		if (alt[i] >= -1 && alt[i] <= 2)
			h[alt[i] + 1]++;
}

/* The three formats of many (the plain one unzipped into @dir); @plain is the caller's buffer. */
static void many_files(const char *dir, char *plain, size_t plain_len, const char *files[3])
{
	snprintf(plain, plain_len, "%s/many.vcf", dir);
	bgzf_unzip(DIR "many.vcf.gz", plain);
	files[0] = plain;
	files[1] = DIR "many.vcf.gz";
	files[2] = DIR "many.bcf";
}

static void test_vcf_many(void)
{
	char *dir = tmpdir_new(), plain[512];
	const char *files[3];
	many_files(dir, plain, sizeof plain, files);
	int8_t *calls0 = NULL, *alt0 = NULL;
	for (int f = 0; f < 3; f++) {
		struct arena a;
		arena_init(&a);
		struct vcf_info in;
		if (scan(files[f], &a, &in) < 0) {
			arena_release(&a);
			continue;
		}
		CHECK(in.n_samples == 24);
		CHECK(in.n_variants == 1500);
		CHECK(in.ploidy == 2);
		CHECK(in.n_marks == 6); /* ceil(1500 / 256) */
		for (int64_t k = 1; k < in.n_marks; k++)
			CHECK(in.marks[k] > in.marks[k - 1]);
		/* bgzipped: the marks past the first land in later BGZF blocks (1500 lines span 6 blocks) */
		if (f > 0)
			CHECK((in.marks[in.n_marks - 1] >> 16) > 0);
		int8_t *calls, *alt;
		read_all(files[f], &in, &calls, &alt);
		int64_t h[4];
		histogram(alt, 1500 * 24, h);
		CHECK(memcmp(h, many_hist, sizeof h) == 0);
		/* read by eye from `zcat many.vcf.gz | grep -v '^#' | cut -f2,10,11,15,33`:
		 * 1:1000 (variant 0): S0 0|0, S1 0/1, S5 ./., S23 1|1;
		 * 2:39887 (variant 1051): S0 1|1, S1 1/1, S5 0/1, S23 1 (haploid);
		 * 2:56463 (variant 1499, the last): S0 0/1, S5 0/0, S23 1;
		 * 1:2850 (variant 50): FORMAT DP only. */
		CHECK(alt[0 * 1500 + 0] == 0 && alt[1 * 1500 + 0] == 1 && alt[5 * 1500 + 0] == -1 && alt[23 * 1500 + 0] == 2);
		CHECK(alt[0 * 1500 + 1051] == 2 && alt[1 * 1500 + 1051] == 2 && alt[5 * 1500 + 1051] == 1);
		CHECK(alt[23 * 1500 + 1051] == 1 && alt[0 * 1500 + 1499] == 1 && alt[5 * 1500 + 1499] == 0);
		CHECK(alt[23 * 1500 + 1499] == 1 && alt[7 * 1500 + 50] == -1);
		CHECK(calls[(1051 * 24 + 23) * 2] == 1 && calls[(1051 * 24 + 23) * 2 + 1] == -2);
		CHECK(calls[(50 * 24 + 3) * 2] == -1 && calls[(50 * 24 + 3) * 2 + 1] == -1);
		CHECK(calls[(0 * 24 + 5) * 2] == -1 && calls[(0 * 24 + 5) * 2 + 1] == -1);
		if (!calls0) {
			calls0 = calls;
			alt0 = alt;
		} else {
			CHECK(memcmp(calls, calls0, 1500 * 24 * 2) == 0);
			CHECK(memcmp(alt, alt0, 1500 * 24) == 0);
			free(calls);
			free(alt);
		}
		arena_release(&a);
	}
	free(calls0);
	free(alt0);
	rm_rf(dir);
	free(dir);
}

/* Boxes at awkward places, read in an awkward order, on one reader and on fresh ones. */
static const struct box many_boxes[] = {
	{ 1499, 1, 0, 24, 0, 2 },  /* the last variant */
	{ 0, 1, 0, 24, 0, 2 },     /* back to the first */
	{ 255, 2, 0, 24, 0, 2 },   /* across the first mark */
	{ 256, 1, 3, 4, 1, 1 },    /* just the mark; second alleles only */
	{ 1000, 300, 0, 24, 0, 2 }, /* across two marks */
	{ 511, 514, 5, 3, 0, 1 },  /* from one short of a mark to a mark and a bit, a sample subset */
	{ 3, 10, 23, 1, 0, 2 },    /* behind: seek back; the last sample */
	{ 13, 20, 0, 24, 0, 2 },   /* straight on from where the last box ended */
	{ 40, 216, 0, 24, 0, 2 },  /* ahead, same mark: no seek */
	{ 700, 100, 23, 1, 1, 1 }, /* the haploid sample's padding */
	{ 1280, 220, 10, 14, 0, 2 }, /* the last mark to the end */
	{ 0, 1500, 0, 24, 0, 2 },  /* everything */
	{ 767, 2, 0, 1, 0, 2 },    /* across the third mark, one sample */
	{ 1499, 1, 12, 1, 1, 1 },  /* one call, one allele */
};

static void test_vcf_many_boxes(void)
{
	char *dir = tmpdir_new(), plain[512];
	const char *files[3];
	many_files(dir, plain, sizeof plain, files);
	for (int f = 0; f < 3; f++) {
		struct arena a;
		arena_init(&a);
		struct vcf_info in;
		if (scan(files[f], &a, &in) == 0) {
			int8_t *calls, *alt;
			read_all(files[f], &in, &calls, &alt);
			struct err e;
			err_init(&e);
			struct vcf_reader *r = vcf_open(files[f], &in, &e);
			CHECK(r != NULL);
			int bad = 0;
			for (size_t b = 0; r && b < sizeof many_boxes / sizeof many_boxes[0]; b++) {
				bad |= check_box(r, &in, calls, alt, many_boxes[b]);
				struct vcf_reader *fresh = vcf_open(files[f], &in, &e);
				bad |= check_box(fresh, &in, calls, alt, many_boxes[b]);
				vcf_close(fresh);
			}
			/* every variant alone, backwards: a seek for each */
			for (int64_t v = 1499; r && v >= 0; v -= 7)
				bad |= check_box(r, &in, calls, alt, (struct box){ v, 1, 0, 24, 0, 2 });
			/* every mark-sized chunk in order, as a chunked reader would */
			for (int64_t v = 0; r && v < 1500; v += 100)
				bad |= check_box(r, &in, calls, alt, (struct box){ v, v + 100 > 1500 ? 1500 - v : 100, 0, 24, 0, 2 });
			CHECK(!bad);
			vcf_close(r);
			free(calls);
			free(alt);
		}
		arena_release(&a);
	}
	rm_rf(dir);
	free(dir);
}

/* Empty boxes read nothing; boxes outside the file are refused, naming it. */
static void test_vcf_box_bounds(void)
{
	struct arena a;
	arena_init(&a);
	struct vcf_info in;
	if (scan(DIR "many.bcf", &a, &in) == 0) {
		struct err e;
		err_init(&e);
		struct vcf_reader *r = vcf_open(DIR "many.bcf", &in, &e);
		int8_t out[8] = { 7, 7, 7, 7, 7, 7, 7, 7 };
		CHECK(vcf_read_alt(r, 1500, 0, 0, 24, out, &e) == 0);  /* empty, at the very end */
		CHECK(vcf_read_calls(r, 0, 4, 0, 0, 0, 2, out, &e) == 0);
		CHECK(vcf_read_calls(r, 0, 1, 0, 1, 0, 0, out, &e) == 0);
		CHECK(out[0] == 7);
		CHECK(!err_set(&e));
		const struct box bad[] = {
			{ 1500, 1, 0, 1, 0, 1 }, { -1, 1, 0, 1, 0, 1 }, { 1499, 2, 0, 1, 0, 1 },
			{ 0, 1, 24, 1, 0, 1 },   { 0, 1, 20, 5, 0, 1 }, { 0, 1, 0, 1, 2, 1 },
			{ 0, 1, 0, 1, 1, 2 },    { 0, 1, 0, 1, -1, 1 }, { 0, -1, 0, 1, 0, 1 },
		};
		for (size_t i = 0; r && i < sizeof bad / sizeof bad[0]; i++) {
			err_init(&e);
			CHECK(vcf_read_calls(r, bad[i].v0, bad[i].nv, bad[i].s0, bad[i].ns, bad[i].p0, bad[i].np, out, &e) == -1);
			CHECK(strstr(e.msg, "many.bcf") != NULL);
		}
		/* and the reader still works after refusing */
		err_init(&e);
		CHECK(r && vcf_read_alt(r, 1051, 1, 23, 1, out, &e) == 0 && out[0] == 1);
		vcf_close(r);
	}
	vcf_close(NULL);
	arena_release(&a);
}

/* ---- several readers at once ---- */

struct job {
	const char *path;
	const struct vcf_info *in;
	const int8_t *calls, *alt;
	int seed, bad;
};

static void *reader_thread(void *arg)
{
	struct job *j = arg;
	struct err e;
	err_init(&e);
	struct vcf_reader *r = vcf_open(j->path, j->in, &e);
	if (!r) {
		j->bad = 1;
		return NULL;
	}
	uint32_t x = (uint32_t)j->seed * 2654435761u + 1;
	for (int k = 0; k < 40; k++) {
		x = x * 1664525u + 1013904223u;
		int64_t v0 = (x >> 8) % 1500, nv = 1 + (x >> 3) % 300;
		if (v0 + nv > 1500)
			nv = 1500 - v0;
		int64_t s0 = (x >> 20) % 24, ns = 1 + (x >> 13) % (24 - s0);
		j->bad |= check_box(r, j->in, j->calls, j->alt, (struct box){ v0, nv, s0, ns, 0, 2 });
	}
	vcf_close(r);
	return NULL;
}

static void test_vcf_threads(void)
{
	const char *files[2] = { DIR "many.vcf.gz", DIR "many.bcf" };
	for (int f = 0; f < 2; f++) {
		struct arena a;
		arena_init(&a);
		struct vcf_info in;
		if (scan(files[f], &a, &in) == 0) {
			int8_t *calls, *alt;
			read_all(files[f], &in, &calls, &alt);
			enum { N = 4 };
			pthread_t t[N];
			struct job jobs[N];
			for (int i = 0; i < N; i++) {
				jobs[i] = (struct job){ files[f], &in, calls, alt, i + 10 * f, 0 };
				CHECK(pthread_create(&t[i], NULL, reader_thread, &jobs[i]) == 0);
			}
			for (int i = 0; i < N; i++) {
				pthread_join(t[i], NULL);
				CHECK(!jobs[i].bad);
			}
			free(calls);
			free(alt);
		}
		arena_release(&a);
	}
}

/* ---- examples/data/1kg.vcf.gz (plain gzip: no seeking) ---- */

static void test_vcf_1kg(void)
{
	struct arena a;
	arena_init(&a);
	struct vcf_info in;
	if (scan(KG, &a, &in) == 0) {
		CHECK(in.n_samples == 629);
		CHECK(in.n_variants == 381);
		CHECK(in.ploidy == 2);
		CHECK(in.n_marks == 2);
		CHECK(in.marks[0] == -1 && in.marks[1] == -1); /* plain gzip: not seekable */
		int8_t *calls, *alt;
		read_all(KG, &in, &calls, &alt);
		/* counted from the text by the awk of many_hist: 106257 ./. (44%), 118553 0|0,
		 * 10578 0|1 or 1|0, 4261 1|1 */
		int64_t h[4];
		histogram(alt, 381 * 629, h);
		CHECK(h[0] == 106257 && h[1] == 118553 && h[2] == 10578 && h[3] == 4261);
		/* read by eye from `zcat 1kg.vcf.gz | grep -v '^#' | cut -f2,10,11,60,436-440`: */
		CHECK(alt[0 * 381 + 0] == -1);   /* HG00098 (sample 0), 2:10038 (variant 0): ./. */
		CHECK(alt[0 * 381 + 4] == 0);    /* HG00098, 2:10205 (variant 4): 0|0 */
		CHECK(alt[1 * 381 + 7] == 1);    /* HG00100 (sample 1), 2:10437 (variant 7): 1|0 */
		CHECK(calls[(7 * 629 + 1) * 2] == 1 && calls[(7 * 629 + 1) * 2 + 1] == 0);
		CHECK(alt[50 * 381 + 5] == 2);   /* HG00239 (sample 50), 2:10297 (variant 5): 1|1 */
		CHECK(alt[426 * 381 + 200] == 1); /* NA19236 (sample 426), 2:26094 (variant 200): 0|1 */
		CHECK(calls[(200 * 629 + 426) * 2] == 0 && calls[(200 * 629 + 426) * 2 + 1] == 1);
		for (int s = 427; s <= 430; s++)
			CHECK(alt[s * 381 + 200] == 0); /* samples 427-430 at 2:26094: 0|0 */
		CHECK(alt[628 * 381 + 380] == -1); /* NA20828 (the last), 2:40424 (the last): ./. */
		/* boxes: forwards is one pass, backwards opens the file again */
		struct err e;
		err_init(&e);
		struct vcf_reader *r = vcf_open(KG, &in, &e);
		const struct box boxes[] = { { 0, 10, 0, 629, 0, 2 }, { 250, 10, 100, 50, 0, 2 }, { 255, 3, 0, 629, 1, 1 },
					     { 380, 1, 628, 1, 0, 2 }, { 5, 1, 50, 1, 0, 2 }, { 200, 181, 426, 5, 0, 2 } };
		int bad = 0;
		for (size_t b = 0; r && b < sizeof boxes / sizeof boxes[0]; b++)
			bad |= check_box(r, &in, calls, alt, boxes[b]);
		CHECK(r && !bad);
		vcf_close(r);
		free(calls);
		free(alt);
	}
	arena_release(&a);
}

/* ---- GT-less files ---- */

static void test_vcf_no_gt(void)
{
	struct arena a;
	arena_init(&a);
	struct vcf_info in;
	/* no FORMAT/GT in the header: every call missing, ploidy 1 */
	if (scan(DIR "no-gt.vcf", &a, &in) == 0) {
		CHECK(in.n_samples == 2 && in.n_variants == 3 && in.ploidy == 1);
		int8_t *calls, *alt;
		read_all(DIR "no-gt.vcf", &in, &calls, &alt);
		for (int i = 0; i < 6; i++)
			CHECK(calls[i] == -1 && alt[i] == -1);
		free(calls);
		free(alt);
	}
	/* records 2 and 4 have no FORMAT and no sample columns: missing */
	if (scan(DIR "no-format.vcf", &a, &in) == 0) {
		CHECK(in.n_samples == 2 && in.n_variants == 4 && in.ploidy == 2);
		int8_t *calls, *alt;
		read_all(DIR "no-format.vcf", &in, &calls, &alt);
		static const int8_t want_calls[] = { 0, 1, 1, 1, -1, -1, -1, -1, 2, 1, -1, -1, -1, -1, -1, -1 };
		static const int8_t want_alt[] = { 1, -1, 2, -1, 2, -1, -1, -1 };
		CHECK(memcmp(calls, want_calls, sizeof want_calls) == 0);
		CHECK(memcmp(alt, want_alt, sizeof want_alt) == 0);
		free(calls);
		free(alt);
	}
	arena_release(&a);
}

/* ---- malformed files ---- */

static void test_vcf_bad_fixtures(void)
{
	check_scan_err(DIR "bad-gt.vcf", DIR "bad-gt.vcf:10: bad GT '0/x' of sample 'S3'", true);
	check_scan_err(DIR "not-a-vcf.txt", "'" DIR "not-a-vcf.txt' is not a VCF or BCF file (htslib sees ", false);
	check_scan_err(DIR "no-samples.vcf", "'" DIR "no-samples.vcf' has no samples", true);
	check_scan_err(DIR "truncated.vcf.gz", DIR "truncated.vcf.gz: the file is truncated", false);
	/* the second BGZF block is damaged: the line that runs into it is where reading stops */
	check_scan_err(DIR "corrupt.vcf.gz", DIR "corrupt.vcf.gz:286: cannot decompress: the file is truncated or corrupt",
		       true);
	check_scan_err(DIR "no-such-file.vcf", "cannot read '" DIR "no-such-file.vcf': No such file or directory", true);
	/* a reader past the damage fails too, naming the file; before it, it reads */
	struct arena a;
	arena_init(&a);
	struct vcf_info in;
	if (scan(DIR "many.vcf.gz", &a, &in) == 0) {
		struct err e;
		err_init(&e);
		int8_t out[24];
		struct vcf_reader *r = vcf_open(DIR "truncated.vcf.gz", &in, &e);
		CHECK(r != NULL);
		CHECK(r && vcf_read_alt(r, 10, 1, 0, 24, out, &e) == 0);
		CHECK(r && vcf_read_alt(r, 1499, 1, 0, 24, out, &e) == -1);
		CHECK(strstr(e.msg, "truncated.vcf.gz") != NULL);
		vcf_close(r);
		err_init(&e);
		r = vcf_open(DIR "corrupt.vcf.gz", &in, &e);
		CHECK(r && vcf_read_alt(r, 276, 1, 0, 24, out, &e) == 0); /* line 285 */
		CHECK(r && vcf_read_alt(r, 277, 1, 0, 24, out, &e) == -1);
		CHECK_STR(e.msg, DIR "corrupt.vcf.gz:286: cannot decompress: the file is truncated or corrupt");
		vcf_close(r);
		/* a reader on a different file */
		err_init(&e);
		CHECK(vcf_open(DIR "small.vcf", &in, &e) == NULL);
		CHECK_STR(e.msg, "'" DIR "small.vcf' has 4 samples, 24 when it was scanned: the file changed");
		err_init(&e);
		CHECK(vcf_open(DIR "nope.bcf", &in, &e) == NULL);
		CHECK_STR(e.msg, "cannot read '" DIR "nope.bcf': No such file or directory");
	}
	arena_release(&a);
}

#define HDR                                                                  \
	"##fileformat=VCFv4.2\n"                                             \
	"##contig=<ID=1,length=1000000>\n"                                   \
	"##FORMAT=<ID=GT,Number=1,Type=String,Description=\"Genotype\">\n"   \
	"#CHROM\tPOS\tID\tREF\tALT\tQUAL\tFILTER\tINFO\tFORMAT\tS1\tS2\n"
#define REC(pos, alt, a, b) "1\t" #pos "\t.\tA\t" alt "\t.\tPASS\t.\tGT\t" a "\t" b "\n"

/* Malformed text written here: each gives -1 and exactly this message (with the file's path first). */
static void test_vcf_bad_text(void)
{
	char *dir = tmpdir_new();
	/* 130 ALT alleles, so allele 128 exists but does not fit int8 */
	char alts[130 * 6 + 1];
	size_t n = 0;
	for (int i = 0; i < 130; i++)
		n += (size_t)snprintf(alts + n, sizeof alts - n, "%sC%c%c%c%c", i ? "," : "", "ACGT"[i & 3],
				       "ACGT"[i >> 2 & 3], "ACGT"[i >> 4 & 3], "ACGT"[i >> 6 & 3]);
	char *big = xasprintf(HDR REC(100, "C", "0/1", "1/1") "1\t200\t.\tA\t%s\t.\tPASS\t.\tGT\t0/127\t128/0\n", alts);
	static const struct {
		const char *name, *text, *msg; /* msg: after "DIR/name" */
	} cases[] = {
		{ "allele.vcf", HDR REC(100, "C", "0/1", "1/1") REC(200, "C", "0/1", "0/2"),
		  ":6: sample 'S2': allele 2, but the record has 2 alleles" },
		{ "columns.vcf", HDR REC(100, "C", "0/1", "1/1") "1\t200\t.\tA\tC\t.\tPASS\t.\tGT\t0/1\n",
		  ":6: 10 columns, the header has 11 (9 + 2 samples)" },
		{ "short.vcf", HDR REC(100, "C", "0/1", "1/1") "1\t200\t.\tA\n", ":6: 4 columns, a record has at least 8" },
		{ "empty-line.vcf", HDR REC(100, "C", "0/1", "1/1") "\n" REC(200, "C", "0/1", "0/0"), ":6: empty line" },
		{ "gt-sep.vcf", HDR REC(100, "C", "0/1", "1/1") REC(200, "C", "0-1", "0/0"), ":6: bad GT '0-1' of sample 'S1'" },
		{ "gt-int.vcf",
		  "##fileformat=VCFv4.2\n##FORMAT=<ID=GT,Number=1,Type=Integer,Description=\"x\">\n"
		  "#CHROM\tPOS\tID\tREF\tALT\tQUAL\tFILTER\tINFO\tFORMAT\tS1\n1\t1\t.\tA\tC\t.\t.\t.\tGT\t0\n",
		  ": the header declares FORMAT/GT with a Type other than String" },
		{ "no-chrom.vcf", "##fileformat=VCFv4.2\n1\t100\t.\tA\tC\t.\tPASS\t.\tGT\t0/1\n",
		  ":2: a record before the #CHROM header line" },
		{ "no-variants.vcf", HDR, "' has no variants" },
		{ "empty.vcf", "", "' is empty, not a VCF or BCF file" },
		{ "header-only.vcf", "##fileformat=VCFv4.2\n", ": cannot read the VCF header (malformed, truncated or corrupt)" },
	};
	for (size_t i = 0; i < sizeof cases / sizeof cases[0] + 1; i++) {
		bool last = i == sizeof cases / sizeof cases[0];
		char *path = xasprintf("%s/%s", dir, last ? "big-allele.vcf" : cases[i].name);
		file_put(path, last ? big : cases[i].text);
		char *want = last ? xasprintf("%s:6: sample 'S2': allele index 128 does not fit int8 (at most 127)", path)
			   : cases[i].msg[0] == '\'' ? xasprintf("'%s%s", path, cases[i].msg)
						     : xasprintf("%s%s", path, cases[i].msg);
		check_scan_err(path, want, true);
		free(want);
		free(path);
	}
	/* the GT checks of htslib's BCF records, which name records, not lines */
	static const struct {
		const char *vcf, *bcf, *msg;
	} bcf_cases[] = {
		{ "allele.vcf", "allele.bcf", ": record 2 (1:200): sample 'S2': allele 2, but the record has 2 alleles" },
		{ "big-allele.vcf", "big-allele.bcf",
		  ": record 2 (1:200): sample 'S2': allele index 128 does not fit int8 (at most 127)" },
	};
	for (size_t i = 0; i < sizeof bcf_cases / sizeof bcf_cases[0]; i++) {
		char *vcf = xasprintf("%s/%s", dir, bcf_cases[i].vcf), *bcf = xasprintf("%s/%s", dir, bcf_cases[i].bcf);
		to_bcf(vcf, bcf);
		char *want = xasprintf("%s%s", bcf, bcf_cases[i].msg);
		check_scan_err(bcf, want, true);
		free(want);
		free(vcf);
		free(bcf);
	}
	free(big);
	rm_rf(dir);
	free(dir);
}

/* Text that is odd but fine. */
static void test_vcf_odd_text(void)
{
	char *dir = tmpdir_new();
	struct arena a;
	arena_init(&a);
	struct vcf_info in;
	/* empty lines at the end are not variants */
	char *p = xasprintf("%s/trailing.vcf", dir);
	file_put(p, HDR REC(100, "C", "0/1", "1/1") REC(200, "C", "0|0", "./1") "\n\n");
	if (scan(p, &a, &in) == 0)
		CHECK(in.n_variants == 2 && in.n_samples == 2 && in.ploidy == 2);
	free(p);
	/* GT used but not declared: htslib adds the definition, and the calls are read */
	p = xasprintf("%s/undeclared.vcf", dir);
	file_put(p, "##fileformat=VCFv4.2\n#CHROM\tPOS\tID\tREF\tALT\tQUAL\tFILTER\tINFO\tFORMAT\tS1\n"
		    "1\t100\t.\tA\tC\t.\t.\t.\tGT\t1|1\n1\t200\t.\tA\tC\t.\t.\t.\tGT\t0/1\n");
	if (scan(p, &a, &in) == 0) {
		CHECK(in.n_variants == 2 && in.ploidy == 2);
		int8_t *calls, *alt;
		read_all(p, &in, &calls, &alt);
		CHECK(alt[0] == 2 && alt[1] == 1);
		/* from a reader that starts at the second record (htslib meets GT there first) */
		struct err e;
		err_init(&e);
		struct vcf_reader *r = vcf_open(p, &in, &e);
		int8_t out[2];
		CHECK(r && vcf_read_calls(r, 1, 1, 0, 1, 0, 2, out, &e) == 0 && out[0] == 0 && out[1] == 1);
		vcf_close(r);
		free(calls);
		free(alt);
	}
	free(p);
	/* CRLF line ends */
	p = xasprintf("%s/crlf.vcf", dir);
	file_put(p, "##fileformat=VCFv4.2\r\n##FORMAT=<ID=GT,Number=1,Type=String,Description=\"x\">\r\n"
		    "#CHROM\tPOS\tID\tREF\tALT\tQUAL\tFILTER\tINFO\tFORMAT\tS1\r\n1\t100\t.\tA\tC\t.\t.\t.\tGT\t0/1\r\n");
	if (scan(p, &a, &in) == 0) {
		int8_t *calls, *alt;
		read_all(p, &in, &calls, &alt);
		CHECK(alt[0] == 1);
		free(calls);
		free(alt);
	}
	free(p);
	/* truncated BCF and truncated plain gzip */
	p = xasprintf("%s/cut.bcf", dir);
	file_copy(DIR "many.bcf", p, file_size(DIR "many.bcf") / 2);
	char *want = xasprintf("%s: the file is truncated (it lacks the BGZF end-of-file block)", p);
	check_scan_err(p, want, true);
	free(want);
	free(p);
	p = xasprintf("%s/cut.vcf.gz", dir);
	file_copy(KG, p, file_size(KG) / 2);
	struct err e;
	err_init(&e);
	CHECK(vcf_scan(p, &a, &in, &e) == -1);
	CHECK(strstr(e.msg, p) == e.msg && strstr(e.msg, "cannot decompress") != NULL);
	free(p);
	arena_release(&a);
	rm_rf(dir);
	free(dir);
}

const struct test vcf_tests[] = {
	{ "vcf_small", test_vcf_small },
	{ "vcf_small_boxes", test_vcf_small_boxes },
	{ "vcf_many", test_vcf_many },
	{ "vcf_many_boxes", test_vcf_many_boxes },
	{ "vcf_box_bounds", test_vcf_box_bounds },
	{ "vcf_threads", test_vcf_threads },
	{ "vcf_1kg", test_vcf_1kg },
	{ "vcf_no_gt", test_vcf_no_gt },
	{ "vcf_bad_fixtures", test_vcf_bad_fixtures },
	{ "vcf_bad_text", test_vcf_bad_text },
	{ "vcf_odd_text", test_vcf_odd_text },
	{ NULL, NULL },
};
