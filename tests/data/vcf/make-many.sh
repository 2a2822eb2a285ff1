#!/bin/sh
# SPDX-License-Identifier: MIT
# Regenerates many.vcf.gz and many.bcf (1500 variants × 24 samples, enough
# bgzip blocks and VCF_STEP marks to exercise seeking), and the broken
# copies made from them: truncated.vcf.gz (cut in the middle of a block) and
# corrupt.vcf.gz (bytes of the second block overwritten). The genotypes come
# from a fixed linear congruential generator, so every run writes the same
# text; bgzip's and bcftools' output depends on their versions (made with
# htslib/bcftools 1.16). Needs awk, bgzip, bcftools and dd; the tests never
# run it, they read its committed output.
#
#   tests/data/vcf/make-many.sh        (from anywhere)
set -eu
cd "$(dirname "$0")"

awk 'BEGIN {
	OFS = "\t"
	ns = 24; nv = 1500
	seed = 12345
	print "##fileformat=VCFv4.2"
	print "##source=tessera tests/data/vcf/make-many.sh"
	print "##contig=<ID=1,length=10000000>"
	print "##contig=<ID=2,length=10000000>"
	print "##INFO=<ID=NOTE,Number=1,Type=String,Description=\"Filler, so the file spans several bgzip blocks\">"
	print "##FORMAT=<ID=GT,Number=1,Type=String,Description=\"Genotype\">"
	print "##FORMAT=<ID=DP,Number=1,Type=Integer,Description=\"Read depth\">"
	line = "#CHROM\tPOS\tID\tREF\tALT\tQUAL\tFILTER\tINFO\tFORMAT"
	for (s = 0; s < ns; s++)
		line = line "\tS" s
	print line
	for (v = 0; v < nv; v++) {
		chrom = v < 1000 ? 1 : 2
		pos = 1000 + 37 * v
		# every 97th variant has no GT; every 5th is multi-allelic (3 ALT alleles)
		nalt = v % 5 == 3 ? 3 : 1
		alt = nalt == 3 ? "C,G,T" : "C"
		fmt = v % 97 == 50 ? "DP" : "GT:DP"
		line = chrom "\t" pos "\tv" v "\tA\t" alt "\t.\tPASS\tNOTE=filler" v "-abcdefghijklmnopqrstuvwxyz\t" fmt
		for (s = 0; s < ns; s++) {
			seed = (seed * 1103515245 + 12345) % 2147483648
			r = int(seed / 65536) % 1000
			dp = r % 50
			if (fmt == "DP") {
				line = line "\t" dp
				continue
			}
			# sample S23 is haploid on chromosome 2
			if (s == 23 && chrom == 2) {
				gt = r < 150 ? "." : (r % (nalt + 1))
			} else if (r < 120) {
				gt = "./."
			} else if (r < 150) {
				gt = (r % 2) "/."
			} else {
				sep = r % 3 == 0 ? "|" : "/"
				gt = (r % (nalt + 1)) sep (int(r / 7) % (nalt + 1))
			}
			line = line "\t" gt ":" dp
		}
		print line
	}
}' > many.vcf
bgzip -f many.vcf
bcftools view --no-version -Ob -o many.bcf many.vcf.gz

size=$(wc -c < many.vcf.gz)
head -c $((size / 2)) many.vcf.gz > truncated.vcf.gz
# the second block starts at the first block's size: BSIZE (bytes 16-17, little-endian) + 1
b2=$(($(od -An -tu2 -j16 -N2 many.vcf.gz | tr -d ' ') + 1))
cp many.vcf.gz corrupt.vcf.gz
printf 'XXXXXXXXXXXXXXXX' | dd of=corrupt.vcf.gz bs=1 seek=$((b2 + 200)) conv=notrunc 2>/dev/null
