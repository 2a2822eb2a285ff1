/* SPDX-License-Identifier: MIT */
/*
 * vcf: genotype calls from VCF and BCF files through htslib (see vcf.h).
 *
 * DESIGN: one `struct src` is one open file: an htsFile, its own header,
 * one record and the buffers to decode it. vcf_scan() reads a src from the
 * first record to the last; a reader is a src that seeks. Both read records
 * one at a time (bcf_read for BCF; for text VCF hts_getline then vcf_parse,
 * which is what bcf_read does, done by hand so the raw line is at hand to
 * explain a parse failure), so memory is one record's worth, whatever the
 * size of the file.
 *
 * Offsets: BCF (compressed or not) and bgzipped VCF are read through BGZF,
 * whose virtual offsets (compressed block address << 16 | offset in the
 * block) bgzf_tell() gives and bgzf_seek() goes back to; plain VCF is read
 * through an hFILE, whose byte offsets htell() gives and hseek() goes back
 * to (htell counts what the reader consumed, not what the buffer holds, so
 * the offset is exactly the line's). A mark is taken just before reading
 * variant k * VCF_STEP; the first mark is where the header ends. Plain gzip
 * (not bgzip, as PyVCF's 1kg.vcf.gz) cannot seek: bgzf_seek refuses it. Its
 * marks are -1, and a reader goes on from where it is when the box lies
 * ahead, or opens the file again and reads from the top when it does not;
 * fine for small files and for boxes read in order, quadratic otherwise
 * (bgzip the file).
 *
 * Line numbers: htslib counts the lines hts_getline() gives (htsFile's
 * lineno), header lines included, so after the header it holds the number
 * of header lines h; a record line never spans lines and empty lines are
 * refused (only trailing ones are allowed), so variant v is on line
 * h + v + 1, also after a seek.
 *
 * Threads: no state is shared between srcs; htslib's own logging is turned
 * off once (pthread_once), as nothing but main.c may print.
 */
#include "io/vcf.h"
#include "util/xalloc.h"

#include <errno.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <htslib/bgzf.h>
#include <htslib/hfile.h>
#include <htslib/hts.h>
#include <htslib/hts_log.h>
#include <htslib/kstring.h>
#include <htslib/vcf.h>

/* htslib's vcf.h defines vcf_open() and vcf_close() as macros for hts_open() and hts_close();
 * here they are ours (io/vcf.h), and htslib's are spelt hts_open() and hts_close(). */
#undef vcf_open
#undef vcf_close

struct src {
	const char *path;     /* borrowed */
	htsFile *fp;
	bcf_hdr_t *hdr;
	bcf1_t *rec;
	bool text;            /* VCF text: errors name lines, not records */
	bool seekable;        /* false for plain gzip: BGZF cannot seek in it */
	int64_t hdr_lines;    /* lines up to and including #CHROM (text) */
	int64_t n_samples;
	kstring_t line, raw;  /* text: the line being parsed, and a copy htslib does not touch */
	int32_t *gt;          /* bcf_get_genotypes' buffer (htslib reallocs it) */
	int gt_cap;
	int8_t *al;           /* the decoded calls: n_samples × width */
	size_t al_cap;
	int width;            /* alleles per call in the current record; 0: it has no GT */
};

static pthread_once_t quiet_once = PTHREAD_ONCE_INIT;

static void quiet_init(void)
{
	hts_set_log_level(HTS_LOG_OFF);
}

/* ---- errors ---- */

/* An error about variant @v: "FILE:LINE: msg" for text VCF, "FILE: record N (CHROM:POS): msg" for
 * BCF, where N = v + 1; @pos_known says whether the record got as far as its CHROM and POS. */
static int rec_err(const struct src *s, int64_t v, bool pos_known, struct err *e, const char *fmt, ...)
	__attribute__((format(printf, 5, 6)));

static int rec_err(const struct src *s, int64_t v, bool pos_known, struct err *e, const char *fmt, ...)
{
	char msg[400];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof msg, fmt, ap);
	va_end(ap);
	if (s->text)
		return err_run(e, NULL, "%s:%lld: %s", s->path, (long long)(s->hdr_lines + v + 1), msg);
	if (pos_known)
		return err_run(e, NULL, "%s: record %lld (%s:%lld): %s", s->path, (long long)v + 1,
			       bcf_seqname_safe(s->hdr, s->rec), (long long)s->rec->pos + 1, msg);
	return err_run(e, NULL, "%s: record %lld: %s", s->path, (long long)v + 1, msg);
}

static const char *sample_name(const struct src *s, int64_t i)
{
	return s->hdr->samples[i];
}

/* Whether [p, end) is a GT value htslib's parser takes: alleles (digits or '.') joined by '/' or '|'. */
static bool gt_syntax_ok(const char *p, const char *end)
{
	if (p == end)
		return true; /* empty: missing */
	for (;;) {
		if (p < end && *p == '.')
			p++;
		else if (p < end && *p >= '0' && *p <= '9')
			while (p < end && *p >= '0' && *p <= '9')
				p++;
		else
			return false;
		if (p == end)
			return true;
		if (*p != '/' && *p != '|')
			return false;
		p++;
	}
}

/* Why htslib refused the text line in s->raw: the column count, a GT value, or htslib's error code. */
static void explain(const struct src *s, char *why, size_t n)
{
	const char *line = s->raw.s ? s->raw.s : "", *end = line + s->raw.l;
	const char *col[10]; /* starts of the first 10 columns */
	int64_t n_cols = 0;
	for (const char *p = line;; p++) {
		if (p == line || p[-1] == '\t') {
			if (n_cols < 10)
				col[n_cols] = p;
			n_cols++;
		}
		if (p == end)
			break;
	}
	if (n_cols < 8) {
		snprintf(why, n, "%lld columns, a record has at least 8", (long long)n_cols);
		return;
	}
	if (n_cols > 8 && n_cols != 9 + s->n_samples) {
		snprintf(why, n, "%lld columns, the header has %lld (9 + %lld samples)", (long long)n_cols,
			 (long long)(9 + s->n_samples), (long long)s->n_samples);
		return;
	}
	if (n_cols > 9) {
		/* which FORMAT field is GT */
		int gt = -1, k = 0;
		for (const char *p = col[8], *f = p;; p++) {
			if (*p == ':' || *p == '\t' || p == end) {
				if (p - f == 2 && !strncmp(f, "GT", 2))
					gt = k;
				if (*p != ':')
					break;
				k++;
				f = p + 1;
			}
		}
		const char *p = col[9];
		for (int64_t i = 0; gt >= 0 && i < s->n_samples; i++) {
			const char *q = p;
			for (int f = 0; f < gt && q < end && *q != '\t'; q++)
				if (*q == ':')
					f++;
			const char *g = q;
			while (q < end && *q != ':' && *q != '\t')
				q++;
			bool present = g == p || g[-1] == ':';
			if (present && !gt_syntax_ok(g, q)) {
				snprintf(why, n, "bad GT '%.*s' of sample '%s'", (int)(q - g > 40 ? 40 : q - g), g,
					 sample_name(s, i));
				return;
			}
			while (p < end && *p != '\t')
				p++;
			p++;
		}
	}
	int c = s->rec->errcode;
	snprintf(why, n, "htslib cannot parse the record%s%s%s%s%s%s%s",
		 c & BCF_ERR_NCOLS ? " (wrong number of columns)" : "",
		 c & BCF_ERR_LIMITS ? " (a value out of range)" : "",
		 c & BCF_ERR_CHAR ? " (an invalid character)" : "",
		 c & BCF_ERR_CTG_INVALID ? " (an invalid contig)" : "",
		 c & BCF_ERR_TAG_INVALID ? " (an invalid INFO or FORMAT tag)" : "",
		 c & BCF_ERR_CTG_UNDEF ? " (a contig not in the header)" : "",
		 c & BCF_ERR_TAG_UNDEF ? " (a tag not in the header)" : "");
}

/* ---- the open file ---- */

static int64_t src_tell(const struct src *s)
{
	return s->fp->is_bgzf ? bgzf_tell(s->fp->fp.bgzf) : (int64_t)htell(s->fp->fp.hfile);
}

static int src_seek(struct src *s, int64_t off)
{
	if (s->fp->is_bgzf)
		return bgzf_seek(s->fp->fp.bgzf, off, SEEK_SET) < 0 ? -1 : 0;
	return hseek(s->fp->fp.hfile, (off_t)off, SEEK_SET) < 0 ? -1 : 0;
}

static void src_release(struct src *s)
{
	if (s->rec)
		bcf_destroy(s->rec);
	if (s->hdr)
		bcf_hdr_destroy(s->hdr);
	if (s->fp)
		hts_close(s->fp);
	free(s->line.s);
	free(s->raw.s);
	free(s->gt);
	free(s->al);
	memset(s, 0, sizeof *s);
}

/* Opens @path, checks it is VCF or BCF with samples, reads its header. 0, or -1 and *e. */
static int src_init(struct src *s, const char *path, struct err *e)
{
	pthread_once(&quiet_once, quiet_init);
	memset(s, 0, sizeof *s);
	s->path = path;
	errno = 0;
	s->fp = hts_open(path, "r");
	if (!s->fp)
		return errno ? err_sys(e, NULL, "cannot read '%s'", path) : err_run(e, NULL, "cannot read '%s'", path);
	const htsFormat *f = hts_get_format(s->fp);
	if (f->format == empty_format) {
		err_run(e, NULL, "'%s' is empty, not a VCF or BCF file", path);
		goto fail;
	}
	if (f->format != vcf && f->format != bcf) {
		char *d = hts_format_description(f);
		err_run(e, NULL, "'%s' is not a VCF or BCF file (htslib sees %s)", path, d ? d : "an unknown format");
		free(d);
		goto fail;
	}
	if (f->compression != no_compression && f->compression != bgzf && f->compression != gzip) {
		char *d = hts_format_description(f);
		err_run(e, NULL, "'%s' is compressed in a way htslib cannot read (htslib sees %s)", path,
			d ? d : "an unknown format");
		free(d);
		goto fail;
	}
	s->seekable = f->compression != gzip;
	s->text = f->format == vcf;
	s->hdr = bcf_hdr_read(s->fp);
	if (!s->hdr) {
		if (s->text && s->fp->line.l && s->fp->line.s[0] != '#')
			err_run(e, NULL, "%s:%lld: a record before the #CHROM header line", path,
				(long long)s->fp->lineno);
		else
			err_run(e, NULL, "%s: cannot read the VCF header (malformed, truncated or corrupt)", path);
		goto fail;
	}
	s->hdr_lines = s->fp->lineno;
	s->n_samples = bcf_hdr_nsamples(s->hdr);
	if (s->n_samples == 0) {
		err_run(e, NULL, "'%s' has no samples", path);
		goto fail;
	}
	int id = bcf_hdr_id2int(s->hdr, BCF_DT_ID, "GT");
	if (bcf_hdr_idinfo_exists(s->hdr, BCF_HL_FMT, id) && bcf_hdr_id2type(s->hdr, BCF_HL_FMT, id) != BCF_HT_STR) {
		err_run(e, NULL, "%s: the header declares FORMAT/GT with a Type other than String", path);
		goto fail;
	}
	s->rec = bcf_init();
	return 0;
fail:
	src_release(s);
	return -1;
}

/* Why reading failed at the I/O or compression layer, or NULL if it did not. */
static const char *io_failure(const struct src *s)
{
	if (s->fp->is_bgzf) {
		int c = s->fp->fp.bgzf->errcode;
		if (c & (BGZF_ERR_ZLIB | BGZF_ERR_HEADER | BGZF_ERR_CRC))
			return "cannot decompress: the file is truncated or corrupt";
		if (c & BGZF_ERR_IO)
			return "cannot read: the file is truncated or an I/O error occurred";
		if (c)
			return "cannot read: BGZF error";
	} else if (herrno(s->fp->fp.hfile)) {
		return strerror(herrno(s->fp->fp.hfile));
	}
	return NULL;
}

/* Whether the line [p, p + n) has the 8 columns every record has (the first 7 tabs). */
static bool eight_columns(const char *p, size_t n)
{
	const char *end = p + n;
	for (int tabs = 0; tabs < 7; tabs++) {
		p = memchr(p, '\t', (size_t)(end - p));
		if (!p)
			return false;
		p++;
	}
	return true;
}

/* Reads variant @v into s->rec (@v says where we are, for messages). 1, 0 at the end, -1 and *e. */
static int src_next(struct src *s, int64_t v, struct err *e)
{
	int r;
	if (s->text) {
		r = hts_getline(s->fp, '\n', &s->line);
		if (r >= 0 && io_failure(s)) /* bgzf_getline returns a line cut short by a bad block as a line */
			r = -2;
		if (r >= 0) {
			s->raw.l = 0;
			kputsn(s->line.s, s->line.l, &s->raw);
			if (s->line.l == 0) /* the caller decides about empty lines */
				return 1;
			r = vcf_parse(&s->line, s->hdr, s->rec);
			/* htslib takes a line cut short for a record without the columns it lacks */
			if (r < 0 || s->rec->n_allele == 0 || !eight_columns(s->raw.s, s->raw.l)) {
				char why[300];
				explain(s, why, sizeof why);
				return rec_err(s, v, false, e, "%s", why);
			}
			return 1;
		}
	} else {
		r = bcf_read(s->fp, s->hdr, s->rec);
		if (r == 0)
			return 1;
	}
	const char *io = io_failure(s);
	if (r == -1 && !io)
		return 0;
	if (io)
		return rec_err(s, v, false, e, "%s", io);
	return rec_err(s, v, false, e, "malformed or truncated BCF record (htslib error code %d)", s->rec->errcode);
}

/* Skips variant @v without decoding it (text: the line is not parsed). 1, 0 at the end, -1 and *e. */
static int src_skip(struct src *s, int64_t v, struct err *e)
{
	if (!s->text)
		return src_next(s, v, e);
	int r = hts_getline(s->fp, '\n', &s->line);
	const char *io = io_failure(s);
	if (r >= 0 && !io)
		return 1;
	if (r == -1 && !io)
		return 0;
	return rec_err(s, v, false, e, "%s", io ? io : "cannot read");
}

/* Decodes the GT of the record in s->rec (variant @v) for samples [s0, s0 + ns) into s->al,
 * ns × s->width: allele indices, -1 missing, -2 padding; a call with no allele at all reads as
 * one missing allele. s->width = 0 when the record has no GT. 0, or -1 and *e. */
static int gt_decode(struct src *s, int64_t v, int64_t s0, int64_t ns, struct err *e)
{
	/* htslib checks this for text; in BCF a short record would have it read past the record */
	if (s->rec->n_fmt && s->rec->n_sample != s->n_samples)
		return rec_err(s, v, true, e, "%u samples, the header has %lld", (unsigned)s->rec->n_sample,
			       (long long)s->n_samples);
	int n = bcf_get_genotypes(s->hdr, s->rec, &s->gt, &s->gt_cap);
	if (n == -1 || n == -3) { /* GT not in the header / not in this record */
		s->width = 0;
		return 0;
	}
	if (n < 0)
		return rec_err(s, v, true, e, "cannot read GT (htslib error %d)", n);
	if (n % s->n_samples)
		return rec_err(s, v, true, e, "%d GT values for %lld samples", n, (long long)s->n_samples);
	int w = (int)(n / s->n_samples);
	s->width = w;
	XGROW(s->al, s->al_cap, (size_t)(ns * w));
	int n_allele = s->rec->n_allele;
	for (int64_t i = 0; i < ns; i++) {
		const int32_t *g = s->gt + (s0 + i) * w;
		int8_t *a = s->al + i * w;
		bool end = false;
		for (int k = 0; k < w; k++) {
			int32_t x = g[k];
			if (end || x == bcf_int32_vector_end) {
				end = true;
				a[k] = -2;
			} else if (x == bcf_int32_missing || bcf_gt_is_missing(x)) {
				a[k] = -1;
			} else if (x < 0) {
				return rec_err(s, v, true, e, "sample '%s': bad GT value %d", sample_name(s, s0 + i), (int)x);
			} else {
				int al = bcf_gt_allele(x);
				if (al >= n_allele)
					return rec_err(s, v, true, e, "sample '%s': allele %d, but the record has %d alleles",
						       sample_name(s, s0 + i), al, n_allele);
				if (al > 127)
					return rec_err(s, v, true, e,
						       "sample '%s': allele index %d does not fit int8 (at most 127)",
						       sample_name(s, s0 + i), al);
				a[k] = (int8_t)al;
			}
		}
		if (w && a[0] == -2)
			a[0] = -1;
	}
	return 0;
}

/* The number of alleles of call @i of the decoded record (padding not counted). */
static int call_len(const struct src *s, int64_t i)
{
	const int8_t *a = s->al + i * s->width;
	int k = 0;
	while (k < s->width && a[k] != -2)
		k++;
	return k;
}

/* ---- scan ---- */

int vcf_scan(const char *path, struct arena *a, struct vcf_info *info, struct err *e)
{
	memset(info, 0, sizeof *info);
	struct src s;
	if (src_init(&s, path, e) < 0)
		return -1;
	int rc = -1;
	size_t marks_cap = 16;
	int64_t *marks = xmalloc(marks_cap * sizeof *marks);
	if (hts_get_format(s.fp)->compression == bgzf && hts_check_EOF(s.fp) == 0) {
		err_run(e, NULL, "%s: the file is truncated (it lacks the BGZF end-of-file block)", path);
		goto out;
	}
	int64_t v = 0, empty_line = 0; /* the line of a pending empty line (text); 0: none */
	int ploidy = 1;
	for (;;) {
		int64_t off = src_tell(&s);
		int r = src_next(&s, v, e);
		if (r < 0)
			goto out;
		if (r == 0)
			break;
		if (s.text && s.line.l == 0) {
			if (!empty_line)
				empty_line = s.hdr_lines + v + 1;
			continue;
		}
		if (empty_line) {
			err_run(e, NULL, "%s:%lld: empty line", path, (long long)empty_line);
			goto out;
		}
		if (v % VCF_STEP == 0) {
			XGROW(marks, marks_cap, (size_t)(v / VCF_STEP) + 1);
			marks[v / VCF_STEP] = s.seekable ? off : -1;
		}
		if (gt_decode(&s, v, 0, s.n_samples, e) < 0)
			goto out;
		for (int64_t i = 0; s.width > ploidy && i < s.n_samples; i++) {
			int k = call_len(&s, i);
			if (k > ploidy)
				ploidy = k;
		}
		v++;
	}
	if (v == 0) {
		err_run(e, NULL, "'%s' has no variants", path);
		goto out;
	}
	info->n_samples = s.n_samples;
	info->n_variants = v;
	info->ploidy = ploidy;
	info->n_marks = (v + VCF_STEP - 1) / VCF_STEP;
	info->marks = arena_alloc(a, (size_t)info->n_marks * sizeof *info->marks);
	memcpy(info->marks, marks, (size_t)info->n_marks * sizeof *marks);
	rc = 0;
out:
	free(marks);
	src_release(&s);
	return rc;
}

/* ---- readers ---- */

struct vcf_reader {
	struct src s;
	char *path;
	const struct vcf_info *info; /* borrowed: outlives the reader */
	int64_t next;                /* the variant the file is positioned at; -1: unknown */
};

struct vcf_reader *vcf_open(const char *path, const struct vcf_info *info, struct err *e)
{
	struct vcf_reader *r = xcalloc(1, sizeof *r);
	r->path = xstrdup(path);
	if (src_init(&r->s, r->path, e) < 0) {
		free(r->path);
		free(r);
		return NULL;
	}
	if (r->s.n_samples != info->n_samples) {
		err_run(e, NULL, "'%s' has %lld samples, %lld when it was scanned: the file changed", path,
			(long long)r->s.n_samples, (long long)info->n_samples);
		vcf_close(r);
		return NULL;
	}
	r->info = info;
	r->next = 0; /* just after the header: variant 0 */
	return r;
}

void vcf_close(struct vcf_reader *r)
{
	if (!r)
		return;
	src_release(&r->s);
	free(r->path);
	free(r);
}

/* Checks the box and positions @r at variant @v0: straight on if it is already at or before v0 and
 * no earlier than v0's mark, else by seeking to the mark (plain gzip: by opening the file again);
 * then skips to v0. 0; 1 if the box is empty (nothing to read); -1 and *e. */
static int reader_goto(struct vcf_reader *r, int64_t v0, int64_t nv, int64_t s0, int64_t ns, struct err *e)
{
	const struct vcf_info *in = r->info;
	if (v0 < 0 || nv < 0 || v0 > in->n_variants - nv || s0 < 0 || ns < 0 || s0 > in->n_samples - ns)
		return err_run(e, NULL,
			       "%s: a box of %lld variants from %lld and %lld samples from %lld does not fit in "
			       "%lld variants and %lld samples",
			       r->s.path, (long long)nv, (long long)v0, (long long)ns, (long long)s0,
			       (long long)in->n_variants, (long long)in->n_samples);
	if (nv == 0 || ns == 0)
		return 1; /* nothing to read */
	int64_t m = v0 / VCF_STEP;
	if (!r->s.seekable && (r->next < 0 || r->next > v0)) {
		/* plain gzip: start again from the top */
		r->next = -1;
		src_release(&r->s);
		if (src_init(&r->s, r->path, e) < 0)
			return -1;
		r->next = 0;
	} else if (r->s.seekable && (r->next < m * VCF_STEP || r->next > v0)) {
		r->next = -1;
		if (src_seek(&r->s, in->marks[m]) < 0)
			return err_run(e, NULL, "%s: cannot seek to variant %lld", r->s.path, (long long)m * VCF_STEP);
		r->next = m * VCF_STEP;
	}
	while (r->next < v0) {
		int rc = src_skip(&r->s, r->next, e);
		if (rc <= 0) {
			if (rc == 0)
				err_run(e, NULL, "%s: ended at variant %lld, the scan counted %lld: the file changed",
					r->s.path, (long long)r->next, (long long)in->n_variants);
			r->next = -1;
			return -1;
		}
		r->next++;
	}
	return 0;
}

/* Reads and decodes variant r->next for samples [s0, s0 + ns). 0, or -1 and *e. */
static int reader_next(struct vcf_reader *r, int64_t s0, int64_t ns, struct err *e)
{
	int64_t v = r->next;
	r->next = -1; /* until it is known to have worked */
	int rc = src_next(&r->s, v, e);
	if (rc == 0)
		return err_run(e, NULL, "%s: ended at variant %lld, the scan counted %lld: the file changed",
			       r->s.path, (long long)v, (long long)r->info->n_variants);
	if (rc < 0)
		return -1;
	if (r->s.text && r->s.line.l == 0)
		return rec_err(&r->s, v, false, e, "empty line");
	if (gt_decode(&r->s, v, s0, ns, e) < 0)
		return -1;
	for (int64_t i = 0; r->s.width > r->info->ploidy && i < ns; i++)
		if (call_len(&r->s, i) > r->info->ploidy)
			return rec_err(&r->s, v, true, e, "sample '%s' has %d alleles, the scan found at most %d: the file changed",
				       sample_name(&r->s, s0 + i), call_len(&r->s, i), r->info->ploidy);
	r->next = v + 1;
	return 0;
}

int vcf_read_alt(struct vcf_reader *r, int64_t v0, int64_t nv, int64_t s0, int64_t ns, int8_t *out, struct err *e)
{
	int g = reader_goto(r, v0, nv, s0, ns, e);
	if (g != 0)
		return g < 0 ? -1 : 0;
	for (int64_t j = 0; j < nv; j++) {
		if (reader_next(r, s0, ns, e) < 0)
			return -1;
		int w = r->s.width;
		for (int64_t i = 0; i < ns; i++) {
			const int8_t *a = r->s.al + i * w;
			int n = w ? 0 : -1;
			for (int k = 0; k < w && a[k] != -2; k++) {
				if (a[k] == -1) {
					n = -1;
					break;
				}
				n += a[k] != 0;
			}
			out[i * nv + j] = (int8_t)n;
		}
	}
	return 0;
}

int vcf_read_calls(struct vcf_reader *r, int64_t v0, int64_t nv, int64_t s0, int64_t ns, int p0, int np,
		   int8_t *out, struct err *e)
{
	if (p0 < 0 || np < 0 || p0 > r->info->ploidy - np)
		return err_run(e, NULL, "%s: a box of %d alleles from %d does not fit in ploidy %d", r->s.path, np, p0,
			       r->info->ploidy);
	int g = reader_goto(r, v0, nv, s0, ns, e);
	if (g != 0)
		return g < 0 ? -1 : 0;
	for (int64_t j = 0; j < nv; j++) {
		if (reader_next(r, s0, ns, e) < 0)
			return -1;
		int w = r->s.width;
		int8_t *o = out + j * ns * np;
		for (int64_t i = 0; i < ns; i++) {
			const int8_t *a = r->s.al + i * w;
			for (int p = p0; p < p0 + np; p++)
				*o++ = w == 0 ? -1 : p < w ? a[p] : -2;
		}
	}
	return 0;
}
