/* SPDX-License-Identifier: MIT */
/*
 * vcf: genotype calls from VCF and BCF files (plain, bgzipped or BCF, all
 * through htslib), read by boxes of variants. A scan before anything runs
 * counts samples and variants, finds the largest ploidy, and remembers where
 * every VCF_STEP-th variant record starts (an htslib virtual offset), so a
 * box of variants is read by seeking near it and decoding only its records.
 *
 * Two layouts of the GT field:
 *  - alt counts: int8 samples × variants, the number of non-reference
 *    alleles in each call; -1 when any allele of the call is missing.
 *  - calls (sgkit's call_genotype): int8 variants × samples × ploidy, the
 *    allele indices; -1 for a missing allele, -2 to pad a call with fewer
 *    alleles than the file's largest ploidy.
 * Allele indices above 127 are an error (int8), and so is an index the
 * record has no allele for (0/2 where ALT has one allele).
 *
 * What counts as missing: a record without GT (FORMAT lacks it, the record
 * has no FORMAT column, or the header declares no GT at all) has every call
 * missing, -1 in every allele slot of the calls layout; a call with no
 * allele ('.' or an empty field in a diploid file) is one missing allele,
 * then padding ([-1, -2]). A header without FORMAT/GT is not an error: the
 * file reads as all missing with ploidy 1 (unless its records use GT
 * anyway, which htslib then accepts and this reads).
 *
 * Errors are ERR_RUN, one line, without a spec location: "FILE:LINE: msg"
 * for a bad record in text VCF, "FILE: record N (CHROM:POS): msg" in BCF
 * (N counts from 1), "cannot read 'FILE': strerror", "'FILE' is not a VCF
 * or BCF file (...)", "'FILE' has no samples", "'FILE' has no variants".
 * htslib's own logging is turned off for the process (it would print).
 *
 * Threads: vcf_scan() and vcf_open() may run on any thread; a reader is
 * used by one thread at a time; readers of the same file on different
 * threads are independent (each has its own htsFile and header).
 */
#ifndef TESSERA_IO_VCF_H
#define TESSERA_IO_VCF_H

#include "util/arena.h"
#include "util/err.h"

#include <stdint.h>

/* htslib's <htslib/vcf.h> defines vcf_open() and vcf_close() as macros (for hts_open() and
 * hts_close()); a file that includes it before this header gets ours instead. */
#undef vcf_open
#undef vcf_close

#define VCF_STEP 256

struct vcf_info {
	int64_t n_samples, n_variants;
	int ploidy;             /* the largest number of alleles in any GT call (at least 1) */
	int64_t n_marks;
	int64_t *marks;         /* virtual offset of variant k * VCF_STEP (arena memory): bgzf_tell() for BCF
				 * and bgzipped VCF, htell() (a byte offset) for plain VCF; -1 for VCF
				 * compressed with plain gzip, which cannot seek: a reader then reads on, or
				 * starts again from the top for a box behind it (slow for big files) */
};

/* vcf_scan() : reads @path once, checking every record's GT field. 0, or -1
 * and *e (ERR_RUN, a message naming the file and, where htslib or the check
 * knows it, the line or variant, without a spec location). A file without
 * samples or without variants is an error. */
int vcf_scan(const char *path, struct arena *a, struct vcf_info *info, struct err *e);

struct vcf_reader;

/* vcf_open() : a reader of @path for boxes (its own htsFile and header). @info, from vcf_scan() of
 * the same file, is borrowed and must outlive the reader; @path is copied. NULL and *e on failure. */
struct vcf_reader *vcf_open(const char *path, const struct vcf_info *info, struct err *e);
void vcf_close(struct vcf_reader *r);

/* vcf_read_alt() : alt counts of samples [s0, s0 + ns) at variants [v0, v0 + nv)
 * into @out, ns × nv row-major (out[i * nv + j] = sample s0 + i, variant v0 + j).
 * 0, or -1 and *e (also for a box outside the file). The reader goes on from where
 * the last box ended when it can, else seeks to the mark at or before v0. */
int vcf_read_alt(struct vcf_reader *r, int64_t v0, int64_t nv, int64_t s0, int64_t ns, int8_t *out, struct err *e);

/* vcf_read_calls() : allele indices of variants [v0, v0 + nv), samples [s0, s0 + ns),
 * alleles [p0, p0 + np) into @out, nv × ns × np row-major; p0 + np <= ploidy.
 * 0, or -1 and *e. */
int vcf_read_calls(struct vcf_reader *r, int64_t v0, int64_t nv, int64_t s0, int64_t ns, int p0, int np,
		   int8_t *out, struct err *e);

#endif
