/* SPDX-License-Identifier: MIT */
/*
 * csv: RFC 4180 text cut into record-aligned blocks, split into fields and
 * converted to typed columns (see csv.h).
 *
 * DESIGN: the tokenizer walks a block 64 bytes at a time with a bitmask of
 * the structural bytes (separator, '\n', quote): AVX2 compares when the CPU
 * has them, a class table otherwise. Only the set bits are visited, so the
 * cost is per field, not per byte. A quote that opens a field is followed
 * with memchr to its closing quote and the walk resumes after it; a quote
 * inside an unquoted field is a plain byte, as pandas reads it.
 *
 * Block cuts rely on quote parity: outside quotes the count of quote bytes
 * seen since a record boundary is even (a doubled quote toggles twice), so
 * a plain file is counted in parallel ranges and every candidate cut learns
 * its state from prefix sums. Streamed input (stdin, gzip, zstd) is counted
 * the same way as it passes into the spill copy; memory stays at a few
 * fixed buffers whatever the size of the input. A stray quote in the middle
 * of an unquoted field breaks the parity argument; such files may be cut
 * inside a field and fail in the tokenizer with a located error.
 *
 * Threads: no state outside the arguments, except a C locale created once
 * (pthread_once) for strtod_l.
 */
#include "io/csv.h"
#include "util/cleanup.h"
#include "util/strmap.h"
#include "util/xalloc.h"

#include <errno.h>
#include <fcntl.h>
#include <locale.h>
#include <math.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zlib.h>
#include <zstd.h>

#if defined(__x86_64__) || defined(__i386__)
#include <immintrin.h>
#define CSV_X86 1
#else
#define CSV_X86 0
#endif

#define MIN_BLOCK ((uint64_t)64 << 10)
#define IO_BUF ((size_t)1 << 20)
#define SAMPLE_LEN ((size_t)1 << 20)

/* ---- column types ---- */

static const char *const type_names[COL_TYPE_N] = {"bool", "int64", "float64", "date", "string"};

const char *col_type_name(enum col_type t)
{
	return (unsigned)t < COL_TYPE_N ? type_names[t] : "?";
}

int col_type_parse(const char *name)
{
	static const struct {
		const char *name;
		enum col_type t;
	} alias[] = {
		{"bool", COL_BOOL},       {"boolean", COL_BOOL},       {"b1", COL_BOOL},      {"?", COL_BOOL},
		{"int64", COL_INT64},     {"int", COL_INT64},          {"i8", COL_INT64},     {"Int64", COL_INT64},
		{"float64", COL_FLOAT64}, {"float", COL_FLOAT64},      {"f8", COL_FLOAT64},   {"double", COL_FLOAT64},
		{"date", COL_DATE},       {"datetime64[D]", COL_DATE}, {"M8[D]", COL_DATE},   {"string", COL_STRING},
		{"str", COL_STRING},      {"object", COL_STRING},      {"O", COL_STRING},
	};
	for (size_t i = 0; i < sizeof alias / sizeof alias[0]; i++)
		if (!strcmp(name, alias[i].name))
			return (int)alias[i].t;
	return -1;
}

/* ---- scanning kernels ---- */

#if CSV_X86
__attribute__((target("avx2,popcnt"))) static void count_avx2(const char *p, size_t n, char quote, uint64_t *nq,
							     uint64_t *nl)
{
	const __m256i vq = _mm256_set1_epi8(quote), vn = _mm256_set1_epi8('\n');
	uint64_t q = 0, l = 0;
	size_t i = 0;
	for (; i + 64 <= n; i += 64) {
		__m256i a = _mm256_loadu_si256((const __m256i *)(p + i));
		__m256i b = _mm256_loadu_si256((const __m256i *)(p + i + 32));
		uint64_t mq = (uint32_t)_mm256_movemask_epi8(_mm256_cmpeq_epi8(a, vq)) |
			      (uint64_t)(uint32_t)_mm256_movemask_epi8(_mm256_cmpeq_epi8(b, vq)) << 32;
		uint64_t ml = (uint32_t)_mm256_movemask_epi8(_mm256_cmpeq_epi8(a, vn)) |
			      (uint64_t)(uint32_t)_mm256_movemask_epi8(_mm256_cmpeq_epi8(b, vn)) << 32;
		q += (uint64_t)__builtin_popcountll(mq);
		l += (uint64_t)__builtin_popcountll(ml);
	}
	for (; i < n; i++) {
		q += p[i] == quote;
		l += p[i] == '\n';
	}
	*nq = q;
	*nl = l;
}
#endif

static bool have_avx2(void)
{
#if CSV_X86
	return __builtin_cpu_supports("avx2") && __builtin_cpu_supports("popcnt");
#else
	return false;
#endif
}

void csv_count(const char *p, size_t n, char quote, uint64_t *n_quotes, uint64_t *n_newlines)
{
#if CSV_X86
	if (have_avx2()) {
		count_avx2(p, n, quote, n_quotes, n_newlines);
		return;
	}
#endif
	/* SWAR, 8 bytes a word: a byte equal to the target becomes 0 after the xor, and exactly the
	 * zero bytes keep their high bit clear in ((x & 0x7f..) + 0x7f..) | x */
	const uint64_t lo7 = 0x7f7f7f7f7f7f7f7fULL, ones = 0x0101010101010101ULL;
	const uint64_t vq = ones * (uint8_t)quote, vn = ones * (uint8_t)'\n';
	uint64_t q = 0, l = 0;
	size_t i = 0;
	for (; i + 8 <= n; i += 8) {
		uint64_t w;
		memcpy(&w, p + i, 8);
		uint64_t xq = w ^ vq, xn = w ^ vn;
		q += (uint64_t)__builtin_popcountll(~(((xq & lo7) + lo7) | xq) & ~lo7);
		l += (uint64_t)__builtin_popcountll(~(((xn & lo7) + lo7) | xn) & ~lo7);
	}
	for (; i < n; i++) {
		q += p[i] == quote;
		l += p[i] == '\n';
	}
	*n_quotes = q;
	*n_newlines = l;
}

size_t csv_next_record(const char *p, size_t n, char quote, bool in_quote)
{
	size_t i = 0;
	while (i < n) {
		if (in_quote) {
			const char *q = memchr(p + i, quote, n - i);
			if (!q)
				return n;
			i = (size_t)(q - p) + 1;
			in_quote = false;
			continue;
		}
		char c = p[i++];
		if (c == '\n')
			return i;
		if (c == quote)
			in_quote = true;
	}
	return n;
}

/* ---- stage 2: the tokenizer ---- */

/*
 * masks_fn: for each of @n_words 64-byte words at @p, the bits of its bytes
 * that are the separator, the quote or '\n' (bit i: byte i). The tokenizer
 * asks for up to 4 KiB at a time, so the vector code runs in a loop of its
 * own rather than one indirect call per word.
 */
typedef void (*masks_fn)(const char *p, size_t n_words, const uint8_t *cls, char sep, char quote, uint64_t *out);

#if CSV_X86
__attribute__((target("avx2"))) static void masks_avx2(const char *p, size_t n_words, const uint8_t *cls, char sep,
							char quote, uint64_t *out)
{
	(void)cls;
	const __m256i vs = _mm256_set1_epi8(sep), vq = _mm256_set1_epi8(quote), vn = _mm256_set1_epi8('\n');
	for (size_t w = 0; w < n_words; w++, p += 64) {
		__m256i a = _mm256_loadu_si256((const __m256i *)p);
		__m256i b = _mm256_loadu_si256((const __m256i *)(p + 32));
		__m256i ma = _mm256_or_si256(_mm256_or_si256(_mm256_cmpeq_epi8(a, vs), _mm256_cmpeq_epi8(a, vq)),
					     _mm256_cmpeq_epi8(a, vn));
		__m256i mb = _mm256_or_si256(_mm256_or_si256(_mm256_cmpeq_epi8(b, vs), _mm256_cmpeq_epi8(b, vq)),
					     _mm256_cmpeq_epi8(b, vn));
		out[w] = (uint32_t)_mm256_movemask_epi8(ma) | (uint64_t)(uint32_t)_mm256_movemask_epi8(mb) << 32;
	}
}
#endif

static uint64_t mask_table(const char *p, const uint8_t *cls)
{
	uint64_t m = 0;
	for (int i = 0; i < 64; i++)
		m |= (uint64_t)cls[(uint8_t)p[i]] << i;
	return m;
}

static void masks_table(const char *p, size_t n_words, const uint8_t *cls, char sep, char quote, uint64_t *out)
{
	(void)sep;
	(void)quote;
	for (size_t w = 0; w < n_words; w++)
		out[w] = mask_table(p + 64 * w, cls);
}

static void tok_grow(struct csv_tok *t, size_t *cap, size_t need)
{
	size_t c = *cap;
	while (c < need)
		c = c + c / 2 + 64;
	t->rec = xrealloc(t->rec, (c + 1) * sizeof *t->rec);
	xhuge(t->rec, (c + 1) * sizeof *t->rec);
	for (int j = 0; j < t->n_cols; j++) {
		if (!t->fstart[j])
			continue;
		t->fstart[j] = xrealloc(t->fstart[j], c * sizeof **t->fstart);
		t->flen[j] = xrealloc(t->flen[j], c * sizeof **t->flen);
		xhuge(t->fstart[j], c * sizeof **t->fstart);
		xhuge(t->flen[j], c * sizeof **t->flen);
	}
	*cap = c;
}

/* Rows a block of @n bytes likely holds, from the newlines of its first 64 KiB, with a margin. */
static size_t rows_guess(const char *p, size_t n)
{
	size_t head = n < 65536 ? n : 65536;
	uint64_t q, l;
	csv_count(p, head, '"', &q, &l);
	if (head == n)
		return (size_t)l + 1;
	if (l == 0)
		return 16;
	return (size_t)((double)n / ((double)head / (double)l) * 1.05) + 16;
}

static int tok_fail(struct csv_fail *f, uint64_t off, const char *fmt, ...) __attribute__((format(printf, 3, 4)));

static int tok_fail(struct csv_fail *f, uint64_t off, const char *fmt, ...)
{
	f->off = off;
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(f->msg, sizeof f->msg, fmt, ap);
	va_end(ap);
	return -1;
}

/* Fields in the record that starts at @start (for the "saw N" of a ragged record); *end: where it ends. */
static int record_fields(const char *p, size_t n, size_t start, char sep, char quote, size_t *end)
{
	int k = 1;
	bool inq = false, fstart = true;
	size_t i = start;
	for (; i < n; i++) {
		char c = p[i];
		if (inq) {
			if (c == quote)
				inq = false;
			continue;
		}
		if (c == quote && fstart) {
			inq = true;
			fstart = false;
		} else if (c == sep) {
			k++;
			fstart = true;
		} else if (c == '\n') {
			break;
		} else {
			fstart = false;
		}
	}
	*end = i;
	return k;
}

int csv_tokenize(const char *block, size_t n, const struct csv_dialect *d, int n_cols, const bool *want,
		 struct csv_tok *t, struct csv_fail *f)
{
	memset(t, 0, sizeof *t);
	t->n_cols = n_cols;
	t->fstart = xcalloc((size_t)n_cols, sizeof *t->fstart);
	t->flen = xcalloc((size_t)n_cols, sizeof *t->flen);
	for (int j = 0; j < n_cols; j++) {
		if (want && !want[j])
			continue;
		t->fstart[j] = xmalloc(sizeof **t->fstart);
		t->flen[j] = xmalloc(sizeof **t->flen);
	}
	size_t cap = 0;
	tok_grow(t, &cap, rows_guess(block, n));
	if (n > CSV_MAX_BLOCK)
		return tok_fail(f, 0, "block of %zu bytes, more than the %llu a block may hold", n,
				(unsigned long long)CSV_MAX_BLOCK);

	const char sep = d->sep, quote = d->quote;
	uint8_t cls[256] = {0};
	cls[(uint8_t)sep] = cls[(uint8_t)quote] = cls['\n'] = 1;
	masks_fn masks = masks_table;
#if CSV_X86
	if (have_avx2())
		masks = masks_avx2;
#endif
	uint64_t win[64];  /* the masks of the words from wbase on */
	size_t wbase = 0, wn = 0;
	/* Hot state in locals: the stores go through fs/fl, NULL for columns not wanted. */
	uint32_t **fs = t->fstart, **fl = t->flen;
	uint32_t *rec = t->rec;
	size_t row = 0;
	int col = 0;
	size_t fbeg = 0;  /* start of the current field */
	size_t rbeg = 0;  /* start of the current record */
	char tail[64];
	size_t base = 0;
	while (base <= n) {
		uint64_t m;
		size_t avail = n - base;
		if (avail >= 64) {
			if (base < wbase || base - wbase >= 64 * wn || (base - wbase) % 64) {
				wn = avail / 64 < 64 ? avail / 64 : 64;
				masks(block + base, wn, cls, sep, quote, win);
				wbase = base;
			}
			m = win[(base - wbase) / 64];
		} else {
			/* the last bytes, padded; an implicit '\n' at n ends a last record left open */
			memset(tail, 0, sizeof tail);
			memcpy(tail, block + base, avail);
			m = mask_table(tail, cls) & ((avail == 63 ? ~0ULL >> 1 : (1ULL << avail) - 1));
			m |= 1ULL << avail;
		}
		while (m) {
			size_t pos = base + (size_t)__builtin_ctzll(m);
			m &= m - 1;
			char c = pos < n ? block[pos] : '\n';
			if (c == sep) {
				if (col + 1 >= n_cols) {
					size_t end;
					int k = record_fields(block, n, rbeg, sep, quote, &end);
					return tok_fail(f, pos, "expected %d field%s, saw %d", n_cols, n_cols == 1 ? "" : "s", k);
				}
				if (fs[col]) {
					fs[col][row] = (uint32_t)fbeg;
					fl[col][row] = (uint32_t)(pos - fbeg);
				}
				col++;
				fbeg = pos + 1;
			} else if (c == '\n') {
				size_t len = pos - fbeg;
				if (len > 0 && block[pos - 1] == '\r')
					len--;
				if (col == 0 && len == 0) {
					/* a blank record (or only the implicit end of a block that ends with '\n') */
					rbeg = fbeg = pos + 1;
					if (pos >= n)
						goto done;
					continue;
				}
				if (col + 1 != n_cols)
					return tok_fail(f, pos, "expected %d field%s, saw %d", n_cols, n_cols == 1 ? "" : "s", col + 1);
				if (fs[col]) {
					fs[col][row] = (uint32_t)fbeg;
					fl[col][row] = (uint32_t)len;
				}
				rec[row] = (uint32_t)rbeg;
				if (++row >= cap) {
					tok_grow(t, &cap, row + 1);
					rec = t->rec;
				}
				col = 0;
				rbeg = fbeg = pos + 1;
				if (pos >= n)
					goto done;
			} else if (pos == fbeg) {
				/* an opening quote: jump to its closing one ("" inside is a quote) */
				size_t i = pos + 1;
				for (;;) {
					const char *q = i < n ? memchr(block + i, quote, n - i) : NULL;
					if (!q)
						return tok_fail(f, pos, "unterminated quoted field");
					i = (size_t)(q - block) + 1;
					if (i < n && block[i] == quote) {
						i++;
						continue;
					}
					break;
				}
				/* i is just past the closing quote */
				if (i - base < 64) {
					m &= ~0ULL << (i - base);
				} else {
					base = i;
					goto next_window;
				}
			}
			/* else: a quote inside an unquoted field is a plain byte */
		}
		base += 64;
next_window:;
	}
done:
	/* the end of the last record: past its '\n' and any blank lines after it */
	rec[row] = (uint32_t)(rbeg > n ? n : rbeg);
	t->n_rows = (int64_t)row;
	return 0;
}

void csv_tok_release(struct csv_tok *t)
{
	if (!t)
		return;
	for (int j = 0; j < t->n_cols && t->fstart; j++) {
		free(t->fstart[j]);
		free(t->flen[j]);
	}
	free(t->fstart);
	free(t->flen);
	free(t->rec);
	memset(t, 0, sizeof *t);
}

/* ---- stage 3: values ---- */

size_t csv_unquote(const char *s, size_t n, char quote, char *out)
{
	if (!csv_is_quoted(s, n, quote)) {
		memcpy(out, s, n);
		return n;
	}
	size_t o = 0, i = 1;
	while (i < n) {
		char c = s[i++];
		if (c != quote) {
			out[o++] = c;
		} else if (i < n && s[i] == quote) {
			out[o++] = quote;
			i++;
		} else {
			/* the closing quote; text after it is kept as written (pandas' leniency) */
			memcpy(out + o, s + i, n - i);
			return o + (n - i);
		}
	}
	return o;
}

bool csv_parse_i64(const char *s, size_t n, int64_t *out)
{
	size_t i = 0;
	bool neg = false;
	if (i < n && (s[i] == '+' || s[i] == '-'))
		neg = s[i++] == '-';
	if (i == n)
		return false;
	uint64_t v = 0;
	if (n - i <= 18) {
		/* 18 digits cannot overflow: no check in the loop */
		for (; i < n; i++) {
			unsigned dgt = (unsigned)(uint8_t)s[i] - '0';
			if (dgt > 9)
				return false;
			v = v * 10 + dgt;
		}
	} else {
		const uint64_t limit = neg ? (uint64_t)INT64_MAX + 1 : (uint64_t)INT64_MAX;
		for (; i < n; i++) {
			unsigned dgt = (unsigned)(uint8_t)s[i] - '0';
			if (dgt > 9 || v > (limit - dgt) / 10)
				return false;
			v = v * 10 + dgt;
		}
	}
	*out = neg ? (int64_t)(0 - v) : (int64_t)v;
	return true;
}

static locale_t c_locale;
static pthread_once_t c_locale_once = PTHREAD_ONCE_INIT;

static void c_locale_init(void)
{
	c_locale = newlocale(LC_ALL_MASK, "C", (locale_t)0);
}

/* strtod_l on a NUL-terminated copy of text already checked to be a decimal number. */
static double slow_strtod(const char *s, size_t n)
{
	pthread_once(&c_locale_once, c_locale_init);
	char stack[128];
	char *b = n < sizeof stack ? stack : xmalloc(n + 1);
	memcpy(b, s, n);
	b[n] = '\0';
	double v = c_locale ? strtod_l(b, NULL, c_locale) : strtod(b, NULL);
	if (b != stack)
		free(b);
	return v;
}

static bool word_ci(const char *s, size_t n, const char *w)
{
	size_t k = strlen(w);
	if (n != k)
		return false;
	for (size_t i = 0; i < n; i++) {
		char c = s[i];
		if (c >= 'A' && c <= 'Z')
			c = (char)(c - 'A' + 'a');
		if (c != w[i])
			return false;
	}
	return true;
}

bool csv_parse_f64(const char *s, size_t n, double *out)
{
	/* Exact: every power of ten up to 1e22 is a double without rounding. */
	static const double p10[] = {1e0,  1e1,  1e2,  1e3,  1e4,  1e5,  1e6,  1e7,  1e8,  1e9,  1e10, 1e11,
				     1e12, 1e13, 1e14, 1e15, 1e16, 1e17, 1e18, 1e19, 1e20, 1e21, 1e22};
	size_t i = 0;
	bool neg = false;
	if (i < n && (s[i] == '+' || s[i] == '-'))
		neg = s[i++] == '-';
	/* Digits go into mant without a check in the loop (it may wrap); nd counts those that matter
	 * (leading zeros do not), and more than 19 of them send the text to strtod. */
	uint64_t mant = 0;
	int64_t exp10 = 0;
	size_t digits = 0, nd = 0;
	size_t b = i;
	while (i < n && s[i] == '0')
		i++;
	size_t b2 = i;
	for (; i < n && (unsigned)(uint8_t)s[i] - '0' <= 9; i++)
		mant = mant * 10 + (unsigned)(uint8_t)s[i] - '0';
	nd = i - b2;
	digits = i - b;
	if (i < n && s[i] == '.') {
		i++;
		size_t f = i;
		if (mant == 0)
			while (i < n && s[i] == '0')
				i++;
		size_t f2 = i;
		for (; i < n && (unsigned)(uint8_t)s[i] - '0' <= 9; i++)
			mant = mant * 10 + (unsigned)(uint8_t)s[i] - '0';
		nd += i - f2;
		digits += i - f;
		exp10 -= (int64_t)(i - f);
	}
	bool lost = nd > 19;
	if (digits == 0) {
		size_t sk = neg || (n > 0 && s[0] == '+') ? 1 : 0;
		const char *w = s + sk;
		size_t wn = n - sk;
		if (word_ci(w, wn, "inf") || word_ci(w, wn, "infinity")) {
			*out = neg ? -INFINITY : INFINITY;
			return true;
		}
		if (word_ci(w, wn, "nan")) {
			*out = neg ? -NAN : NAN;
			return true;
		}
		return false;
	}
	if (i < n && (s[i] == 'e' || s[i] == 'E')) {
		i++;
		bool eneg = false;
		if (i < n && (s[i] == '+' || s[i] == '-'))
			eneg = s[i++] == '-';
		if (i == n)
			return false;
		int64_t ev = 0;
		for (; i < n; i++) {
			unsigned dgt = (unsigned)(uint8_t)s[i] - '0';
			if (dgt > 9)
				return false;
			if (ev < 100000)
				ev = ev * 10 + dgt;
		}
		exp10 += eneg ? -ev : ev;
	}
	if (i != n)
		return false;
	/* Clinger's fast path: an exact integer and an exact power of ten, one correctly rounded operation. */
	if (!lost && mant <= (1ULL << 53)) {
		double v = (double)mant;
		if (mant == 0) {
			*out = neg ? -0.0 : 0.0;
			return true;
		}
		if (exp10 >= 0 && exp10 <= 22) {
			*out = neg ? -(v * p10[exp10]) : v * p10[exp10];
			return true;
		}
		if (exp10 < 0 && exp10 >= -22) {
			*out = neg ? -(v / p10[-exp10]) : v / p10[-exp10];
			return true;
		}
		if (exp10 > 22 && exp10 <= 22 + 15) {
			/* move the excess power into the integer while it stays exact */
			uint64_t m2 = mant;
			int64_t k = exp10 - 22;
			while (k > 0 && m2 <= (1ULL << 53) / 10) {
				m2 *= 10;
				k--;
			}
			if (k == 0) {
				double r = (double)m2 * 1e22;
				*out = neg ? -r : r;
				return true;
			}
		}
	}
	*out = slow_strtod(s, n);
	return true;
}

bool csv_parse_bool(const char *s, size_t n, bool *out)
{
	if (n == 4 && (!memcmp(s, "True", 4) || !memcmp(s, "TRUE", 4) || !memcmp(s, "true", 4))) {
		*out = true;
		return true;
	}
	if (n == 5 && (!memcmp(s, "False", 5) || !memcmp(s, "FALSE", 5) || !memcmp(s, "false", 5))) {
		*out = false;
		return true;
	}
	return false;
}

/* Days since 1970-01-01 of a proleptic Gregorian date (Howard Hinnant's days_from_civil). */
static int64_t days_from_civil(int64_t y, unsigned m, unsigned d)
{
	y -= m <= 2;
	int64_t era = (y >= 0 ? y : y - 399) / 400;
	unsigned yoe = (unsigned)(y - era * 400);
	unsigned doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
	unsigned doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
	return era * 146097 + (int64_t)doe - 719468;
}

bool csv_parse_date(const char *s, size_t n, int32_t *days)
{
	if (n != 10 || s[4] != '-' || s[7] != '-')
		return false;
	unsigned v[8];
	static const int at[8] = {0, 1, 2, 3, 5, 6, 8, 9};
	for (int i = 0; i < 8; i++) {
		v[i] = (unsigned)(uint8_t)s[at[i]] - '0';
		if (v[i] > 9)
			return false;
	}
	unsigned y = v[0] * 1000 + v[1] * 100 + v[2] * 10 + v[3];
	unsigned m = v[4] * 10 + v[5], d = v[6] * 10 + v[7];
	static const unsigned mdays[12] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
	if (m < 1 || m > 12 || d < 1)
		return false;
	bool leap = (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
	if (d > mdays[m - 1] + (m == 2 && leap))
		return false;
	*days = (int32_t)days_from_civil(y, m, d);
	return true;
}

/* Howard Hinnant's civil_from_days. */
void csv_civil_from_days(int32_t days, int64_t *y, unsigned *m, unsigned *d)
{
	int64_t z = (int64_t)days + 719468;
	int64_t era = (z >= 0 ? z : z - 146096) / 146097;
	unsigned doe = (unsigned)(z - era * 146097);
	unsigned yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
	unsigned doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
	unsigned mp = (5 * doy + 2) / 153;
	*d = doy - (153 * mp + 2) / 5 + 1;
	*m = mp < 10 ? mp + 3 : mp - 9;
	*y = (int64_t)yoe + era * 400 + (*m <= 2);
}

int csv_format_date(int32_t days, char out[11])
{
	int64_t y;
	unsigned m, d;
	csv_civil_from_days(days, &y, &m, &d);
	unsigned yy = (unsigned)(y < 0 ? 0 : y % 10000);
	out[0] = (char)('0' + yy / 1000);
	out[1] = (char)('0' + yy / 100 % 10);
	out[2] = (char)('0' + yy / 10 % 10);
	out[3] = (char)('0' + yy % 10);
	out[4] = '-';
	out[5] = (char)('0' + m / 10);
	out[6] = (char)('0' + m % 10);
	out[7] = '-';
	out[8] = (char)('0' + d / 10);
	out[9] = (char)('0' + d % 10);
	out[10] = '\0';
	return 10;
}

bool csv_is_null(const char *s, size_t n, const struct csv_na *na)
{
	if (n == 0)
		return true;
	/* pandas' default list; every entry starts with one of "Nn-<#1", which
	 * turns away almost every field after one byte */
	if ((!na || !na->no_defaults) && n <= 8 && memchr("Nn-<#1", s[0], 6)) {
		static const struct { const char *s; size_t n; } defaults[] = {
			{"NA", 2}, {"N/A", 3}, {"n/a", 3}, {"NaN", 3}, {"nan", 3}, {"-NaN", 4}, {"-nan", 4},
			{"NULL", 4}, {"null", 4}, {"None", 4}, {"<NA>", 4}, {"#N/A", 4}, {"#NA", 3},
			{"#N/A N/A", 8}, {"-1.#IND", 7}, {"1.#IND", 6}, {"-1.#QNAN", 8}, {"1.#QNAN", 7},
		};
		for (size_t i = 0; i < sizeof defaults / sizeof defaults[0]; i++)
			if (defaults[i].n == n && !memcmp(defaults[i].s, s, n))
				return true;
	}
	if (na)
		for (size_t i = 0; i < na->n_extra; i++)
			if (strlen(na->extra[i]) == n && !memcmp(na->extra[i], s, n))
				return true;
	return false;
}

void csv_infer_init(struct csv_infer *s)
{
	s->can_bool = s->can_int = s->can_float = s->can_date = true;
	s->n_values = 0;
}

void csv_infer_add(struct csv_infer *s, const char *text, size_t n)
{
	s->n_values++;
	bool b;
	int64_t i;
	double f;
	int32_t d;
	if (s->can_bool && !csv_parse_bool(text, n, &b))
		s->can_bool = false;
	if (s->can_int && !csv_parse_i64(text, n, &i))
		s->can_int = false;
	if (s->can_float && !csv_parse_f64(text, n, &f))
		s->can_float = false;
	if (s->can_date && !csv_parse_date(text, n, &d))
		s->can_date = false;
}

enum col_type csv_infer_result(const struct csv_infer *s)
{
	if (s->n_values == 0)
		return COL_FLOAT64;
	if (s->can_bool)
		return COL_BOOL;
	if (s->can_int)
		return COL_INT64;
	if (s->can_float)
		return COL_FLOAT64;
	if (s->can_date)
		return COL_DATE;
	return COL_STRING;
}

/* One field's value text: unquoted into @tmp (grown as needed) when quoted, else borrowed from the block. */
static const char *field_text(const char *s, size_t *n, char quote, char **tmp, size_t *tmp_cap)
{
	if (!csv_is_quoted(s, *n, quote))
		return s;
	if (*tmp_cap < *n) {
		*tmp = xrealloc(*tmp, *n);
		*tmp_cap = *n;
	}
	*n = csv_unquote(s, *n, quote, *tmp);
	return *tmp;
}

int csv_column_parse(const char *block, const struct csv_tok *t, int c, enum col_type type,
		     const struct csv_na *na, char quote, void *values, uint8_t *valid, int64_t *bad_row)
{
	const uint32_t *fs = t->fstart[c], *fl = t->flen[c];
	const int64_t nr = t->n_rows;
	/* Without extra NA strings no missing-value text parses as a number, bool or date except the
	 * NaN spellings as float64, so the null test can wait until a parse fails (or gives NaN). */
	const bool nulls_first = na && na->n_extra > 0;
	char *tmp = NULL;
	size_t tmp_cap = 0;
	int rc = 0;
	for (int64_t r = 0; r < nr; r++) {
		/* a block larger than the cache streams from memory: ask for fields a few rows ahead */
		if (r + 16 < nr)
			__builtin_prefetch(block + fs[r + 16]);
		size_t n = fl[r];
		const char *s = field_text(block + fs[r], &n, quote, &tmp, &tmp_cap);
		if (nulls_first && csv_is_null(s, n, na))
			goto null;
		bool ok;
		switch (type) {
		case COL_INT64:
			ok = csv_parse_i64(s, n, (int64_t *)values + r);
			break;
		case COL_FLOAT64:
			ok = csv_parse_f64(s, n, (double *)values + r);
			if (ok && isnan(((double *)values)[r]) && csv_is_null(s, n, na))
				goto null;
			break;
		case COL_BOOL: {
			bool b = false;
			ok = csv_parse_bool(s, n, &b);
			((uint8_t *)values)[r] = b;
			break;
		}
		case COL_DATE:
			ok = csv_parse_date(s, n, (int32_t *)values + r);
			break;
		default:
			ok = false;
			break;
		}
		if (ok) {
			valid[r] = 1;
			continue;
		}
		if (nulls_first || !csv_is_null(s, n, na)) {
			*bad_row = r;
			rc = -1;
			break;
		}
null:
		valid[r] = 0;
		switch (type) {
		case COL_INT64:
			((int64_t *)values)[r] = 0;
			break;
		case COL_FLOAT64:
			((double *)values)[r] = NAN;
			break;
		case COL_BOOL:
			((uint8_t *)values)[r] = 0;
			break;
		case COL_DATE:
			((int32_t *)values)[r] = 0;
			break;
		default:
			break;
		}
	}
	free(tmp);
	return rc;
}

uint64_t csv_column_strings(const char *block, const struct csv_tok *t, int c, const struct csv_na *na,
			    char quote, char *data, uint64_t *off, uint8_t *valid)
{
	const uint32_t *fs = t->fstart[c], *fl = t->flen[c];
	uint64_t used = 0;
	for (int64_t r = 0; r < t->n_rows; r++) {
		off[r] = used;
		size_t n = csv_unquote(block + fs[r], fl[r], quote, data + used);
		if (csv_is_null(data + used, n, na)) {
			valid[r] = 0;
		} else {
			valid[r] = 1;
			used += n;
		}
	}
	off[t->n_rows] = used;
	return used;
}

/* ---- stage 1: inputs ---- */

/* The first record, found as bytes pass: a BOM and blank lines before it are skipped. */
struct head {
	bool done;
	bool in_q;
	bool content;       /* the current record has a byte other than '\r' */
	uint64_t bom;       /* 3 when the input starts with a UTF-8 BOM */
	uint64_t start;     /* the first record: [start, end) */
	uint64_t end;
	int64_t lines;      /* '\n' before the current byte */
	int64_t start_line; /* lines before start */
	int64_t open_line;  /* 1-based line of the last opening quote */
};

/* Feeds p[0..n) at input offset @pos; @return the bytes used (n, or fewer when the record ended). */
static size_t head_feed(struct head *h, const char *p, size_t n, uint64_t pos, char quote)
{
	size_t i = 0;
	if (pos == 0 && n >= 3 && !memcmp(p, "\xEF\xBB\xBF", 3)) {
		h->bom = 3;
		h->start = 3;
		i = 3;
	}
	for (; i < n; i++) {
		char c = p[i];
		if (c == quote) {
			h->in_q = !h->in_q;
			if (h->in_q)
				h->open_line = h->lines + 1;
			h->content = true;
		} else if (c == '\n') {
			h->lines++;
			if (h->in_q)
				continue;
			if (h->content) {
				h->end = pos + i + 1;
				h->done = true;
				return i + 1;
			}
			h->start = pos + i + 1;
			h->start_line = h->lines;
		} else if (c != '\r') {
			h->content = true;
		}
	}
	return n;
}

static int read_full(int fd, char *p, size_t n, uint64_t off, size_t *got)
{
	size_t k = 0;
	while (k < n) {
		ssize_t r = pread(fd, p + k, n - k, (off_t)(off + k));
		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0)
			return -1;
		if (r == 0)
			break;
		k += (size_t)r;
	}
	*got = k;
	return 0;
}

static bool utf8_valid(const unsigned char *s, size_t n)
{
	size_t i = 0;
	while (i < n) {
		unsigned c = s[i];
		if (c < 0x80) {
			i++;
			continue;
		}
		size_t k;
		uint32_t cp;
		if (c >= 0xC2 && c <= 0xDF) {
			k = 1;
			cp = c & 0x1F;
		} else if (c >= 0xE0 && c <= 0xEF) {
			k = 2;
			cp = c & 0x0F;
		} else if (c >= 0xF0 && c <= 0xF4) {
			k = 3;
			cp = c & 0x07;
		} else {
			return false;
		}
		if (i + k >= n)
			return false;
		for (size_t j = 1; j <= k; j++) {
			if ((s[i + j] & 0xC0) != 0x80)
				return false;
			cp = cp << 6 | (s[i + j] & 0x3F);
		}
		if ((k == 2 && (cp < 0x800 || (cp >= 0xD800 && cp <= 0xDFFF))) || (k == 3 && (cp < 0x10000 || cp > 0x10FFFF)))
			return false;
		i += k + 1;
	}
	return true;
}

/* Reads the first record [h->start, h->end) of @fd and fills n_cols and names. */
static int read_names(int fd, const struct head *h, const struct csv_dialect *d, bool header, struct csv_input *in,
		      struct err *e)
{
	size_t n = (size_t)(h->end - h->start), got;
	char *p = xmalloc(n + 1);
	if (read_full(fd, p, n, h->start, &got) < 0 || got != n) {
		free(p);
		return err_sys(e, NULL, "%s: cannot read", in->path);
	}
	if (n > 0 && p[n - 1] == '\n')
		n--;
	if (n > 0 && p[n - 1] == '\r')
		n--;
	if (header && !utf8_valid((const unsigned char *)p, n)) {
		free(p);
		return err_run(e, NULL, "%s:%lld: invalid UTF-8 in the header", in->path, (long long)h->start_line + 1);
	}
	/* split on separators outside quotes */
	size_t cap = 8;
	char **names = xmalloc(cap * sizeof *names);
	int k = 0;
	size_t fb = 0;
	bool inq = false;
	for (size_t i = 0; i <= n; i++) {
		if (i < n && p[i] == d->quote) {
			inq = !inq;
			continue;
		}
		if (i < n && (inq || p[i] != d->sep))
			continue;
		XGROW(names, cap, (size_t)k + 1);
		char *name = xmalloc(i - fb + 1);
		size_t len = csv_unquote(p + fb, i - fb, d->quote, name);
		name[len] = '\0';
		names[k++] = name;
		fb = i + 1;
	}
	free(p);
	in->n_cols = k;
	if (!header) {
		for (int j = 0; j < k; j++) {
			free(names[j]);
			names[j] = xasprintf("%d", j);
		}
		in->names = names;
		return 0;
	}
	/* pandas' mangling of duplicates: the second "a" is "a.1", unless that is taken too */
	struct strmap seen;
	strmap_init(&seen);
	size_t old_cap = 0, n_old = 0;
	char **old = NULL; /* names replaced by a mangled one: the map may still point at them */
	for (int j = 0; j < k; j++) {
		int64_t cnt = 0;
		strmap_get(&seen, names[j], &cnt);
		while (cnt > 0) {
			strmap_put(&seen, names[j], cnt + 1);
			char *nn = xasprintf("%s.%lld", names[j], (long long)cnt);
			XGROW(old, old_cap, n_old + 1);
			old[n_old++] = names[j];
			names[j] = nn;
			cnt = 0;
			strmap_get(&seen, nn, &cnt);
		}
		strmap_put(&seen, names[j], cnt + 1);
	}
	strmap_release(&seen);
	for (size_t i = 0; i < n_old; i++)
		free(old[i]);
	free(old);
	in->names = names;
	return 0;
}

/* Blocks as they are found: starts and line numbers. */
struct cuts {
	uint64_t *off;
	int64_t *line;
	size_t n, cap;
};

static void cuts_push(struct cuts *c, uint64_t off, int64_t line)
{
	if (c->n + 2 > c->cap) {
		c->cap = c->cap ? c->cap * 2 : 64;
		c->off = xrealloc(c->off, c->cap * sizeof *c->off);
		c->line = xrealloc(c->line, c->cap * sizeof *c->line);
	}
	c->off[c->n] = off;
	c->line[c->n] = line;
	c->n++;
}

/* The error for a quote left open in [from, size) (a record boundary before it): names the line of the
 * opening quote of the last record, read again from @fd (an error path: a block's worth of reading). */
static int unterminated(int fd, const struct csv_input *in, char quote, uint64_t from, int64_t from_line,
			struct err *e)
{
	char *buf = xmalloc(IO_BUF);
	bool inq = false;
	int64_t line = from_line, open_line = from_line;
	for (uint64_t pos = from; pos < in->size;) {
		size_t got;
		size_t want = in->size - pos < IO_BUF ? (size_t)(in->size - pos) : IO_BUF;
		if (read_full(fd, buf, want, pos, &got) < 0 || got == 0)
			break;
		for (size_t i = 0; i < got; i++) {
			if (buf[i] == quote) {
				inq = !inq;
				if (inq)
					open_line = line;
			} else if (buf[i] == '\n') {
				line++;
			}
		}
		pos += got;
	}
	free(buf);
	return err_run(e, NULL, "%s:%lld: unterminated quoted field (opened here)", in->path, (long long)open_line);
}

/* The sample: whole records from data_start, about SAMPLE_LEN bytes (more when the first record is longer). */
static int take_sample(int fd, struct csv_input *in, char quote, struct err *e)
{
	uint64_t left = in->size - in->data_start;
	size_t len = left < SAMPLE_LEN ? (size_t)left : SAMPLE_LEN;
	for (;;) {
		char *p = xmalloc(len + 1);
		size_t got;
		if (read_full(fd, p, len, in->data_start, &got) < 0 || got != len) {
			free(p);
			return err_sys(e, NULL, "%s: cannot read", in->data_path);
		}
		size_t keep = len;
		if (len < left) {
			/* cut after the last '\n' outside quotes */
			bool inq = false;
			keep = 0;
			for (size_t i = 0; i < len; i++) {
				if (p[i] == quote)
					inq = !inq;
				else if (p[i] == '\n' && !inq)
					keep = i + 1;
			}
		}
		if (keep > 0 || len == left) {
			in->sample = p;
			in->sample_len = keep;
			p[keep] = '\0';
			return 0;
		}
		free(p);
		len = len * 2 < left ? len * 2 : (size_t)left;
	}
}

/* ---- plain files: a parallel scan for quote parity ---- */

struct part {
	int fd;
	uint64_t r0, r1;      /* the byte range */
	const uint64_t *cand; /* candidate cuts in [r0, r1) */
	size_t n_cand;
	uint64_t *q_at, *nl_at; /* per candidate: quotes and newlines in [r0, cand) */
	uint64_t q, nl;         /* in the whole range */
	char quote;
	int err;                /* errno of a failed read, or 0 */
};

static void *part_scan(void *arg)
{
	struct part *pt = arg;
	char *buf = xmalloc(IO_BUF);
	uint64_t pos = pt->r0, q = 0, nl = 0;
	size_t k = 0;
	while (pos < pt->r1) {
		while (k < pt->n_cand && pt->cand[k] == pos) {
			pt->q_at[k] = q;
			pt->nl_at[k] = nl;
			k++;
		}
		uint64_t stop = pt->r1;
		if (k < pt->n_cand && pt->cand[k] < stop)
			stop = pt->cand[k];
		if (stop - pos > IO_BUF)
			stop = pos + IO_BUF;
		size_t got;
		if (read_full(pt->fd, buf, (size_t)(stop - pos), pos, &got) < 0 || got != stop - pos) {
			pt->err = errno ? errno : EIO;
			break;
		}
		uint64_t a, b;
		csv_count(buf, got, pt->quote, &a, &b);
		q += a;
		nl += b;
		pos = stop;
	}
	while (k < pt->n_cand) {
		pt->q_at[k] = q;
		pt->nl_at[k] = nl;
		k++;
	}
	pt->q = q;
	pt->nl = nl;
	free(buf);
	return NULL;
}

/* From @off in quote state @inq, the next record boundary (@size if none) and the '\n' before it. */
static int find_cut(int fd, uint64_t off, uint64_t size, bool inq, char quote, char *buf, uint64_t *cut,
		    uint64_t *nl)
{
	uint64_t lines = 0;
	while (off < size) {
		size_t want = size - off < 65536 ? (size_t)(size - off) : 65536, got;
		if (read_full(fd, buf, want, off, &got) < 0)
			return -1;
		if (got == 0)
			break;
		size_t r = csv_next_record(buf, got, quote, inq);
		uint64_t a, b;
		csv_count(buf, r, quote, &a, &b);
		lines += b;
		inq ^= a & 1;
		off += r;
		if (r < got || (r > 0 && buf[r - 1] == '\n' && !inq)) {
			*cut = off;
			*nl = lines;
			return 0;
		}
	}
	*cut = size;
	*nl = lines;
	return 0;
}

static int scan_plain(int fd, struct csv_input *in, const struct csv_dialect *d, uint64_t bs, int jobs,
		      int64_t start_lines, struct cuts *cuts, struct err *e)
{
	uint64_t lo = in->data_start, hi = in->size;
	size_t n_cand = hi - lo > bs ? (size_t)((hi - lo - 1) / bs) : 0;
	uint64_t *cand = xmalloc((n_cand + 1) * sizeof *cand);
	uint64_t *q_at = xmalloc((n_cand + 1) * sizeof *q_at), *nl_at = xmalloc((n_cand + 1) * sizeof *nl_at);
	for (size_t k = 0; k < n_cand; k++)
		cand[k] = lo + (k + 1) * bs;
	/* threads only pay on large files: a few MiB each at least */
	if (jobs < 1)
		jobs = 1;
	uint64_t min_part = (uint64_t)1 << 20;
	if ((uint64_t)jobs > (hi - lo) / min_part)
		jobs = (int)((hi - lo) / min_part) > 0 ? (int)((hi - lo) / min_part) : 1;
	struct part *pt = xcalloc((size_t)jobs, sizeof *pt);
	pthread_t *th = xcalloc((size_t)jobs, sizeof *th);
	size_t k0 = 0;
	for (int j = 0; j < jobs; j++) {
		pt[j].fd = fd;
		pt[j].quote = d->quote;
		pt[j].r0 = lo + (hi - lo) * (uint64_t)j / (uint64_t)jobs;
		pt[j].r1 = lo + (hi - lo) * (uint64_t)(j + 1) / (uint64_t)jobs;
		size_t k1 = k0;
		while (k1 < n_cand && cand[k1] < pt[j].r1)
			k1++;
		if (j == jobs - 1)
			k1 = n_cand;
		pt[j].cand = cand + k0;
		pt[j].q_at = q_at + k0;
		pt[j].nl_at = nl_at + k0;
		pt[j].n_cand = k1 - k0;
		k0 = k1;
	}
	int started = 0;
	for (int j = 1; j < jobs; j++) {
		if (pthread_create(&th[j], NULL, part_scan, &pt[j]) != 0)
			break;
		started = j;
	}
	part_scan(&pt[0]);
	for (int j = started + 1; j < jobs; j++)
		part_scan(&pt[j]); /* threads that could not start: scanned here */
	for (int j = 1; j <= started; j++)
		pthread_join(th[j], NULL);
	int rc = 0;
	uint64_t q_before = 0, nl_before = 0;
	for (int j = 0; j < jobs && rc == 0; j++) {
		if (pt[j].err) {
			errno = pt[j].err;
			rc = err_sys(e, NULL, "%s: cannot read", in->path);
			break;
		}
		for (size_t k = 0; k < pt[j].n_cand; k++) {
			pt[j].q_at[k] += q_before;
			pt[j].nl_at[k] += nl_before;
		}
		q_before += pt[j].q;
		nl_before += pt[j].nl;
	}
	char *buf = xmalloc(65536);
	cuts_push(cuts, lo, start_lines + 1);
	uint64_t prev = lo;
	for (size_t k = 0; k < n_cand && rc == 0; k++) {
		if (cand[k] < prev)
			continue; /* inside a record longer than a block */
		uint64_t cut, nl;
		if (find_cut(fd, cand[k], hi, q_at[k] & 1, d->quote, buf, &cut, &nl) < 0) {
			rc = err_sys(e, NULL, "%s: cannot read", in->path);
			break;
		}
		if (cut >= hi)
			break;
		cuts_push(cuts, cut, start_lines + 1 + (int64_t)(nl_at[k] + nl));
		prev = cut;
	}
	if (rc == 0 && (q_before & 1))
		rc = unterminated(fd, in, d->quote, cuts->off[cuts->n - 1], cuts->line[cuts->n - 1], e);
	free(buf);
	free(cand);
	free(q_at);
	free(nl_at);
	free(pt);
	free(th);
	return rc;
}

/* ---- streams: stdin, gzip, zstd, copied into the spill folder ---- */

struct stream {
	struct csv_input *in;
	const struct csv_dialect *d;
	bool header;
	uint64_t bs;
	int out_fd;
	uint64_t pos;        /* bytes of plain text so far */
	struct head h;
	bool data;           /* the data records have begun (data_start is known) */
	bool seeking;        /* past a block's size: looking for the next record boundary */
	bool in_q;
	int64_t nl;          /* '\n' before pos */
	uint64_t threshold;  /* where to start seeking the next cut */
	struct cuts *cuts;
};

static void stream_count(struct stream *s, const char *p, size_t n)
{
	uint64_t a, b;
	csv_count(p, n, s->d->quote, &a, &b);
	s->in_q ^= a & 1;
	s->nl += (int64_t)b;
}

/* Takes p[0..n) of plain text: the header, quote parity, line counts and cuts, then the spill copy. */
static int stream_take(struct stream *s, const char *p, size_t n, struct err *e)
{
	size_t i = 0;
	if (!s->h.done) {
		size_t used = head_feed(&s->h, p, n, s->pos, s->d->quote);
		if (!s->header && !s->data && s->pos == 0) {
			/* no header: the data start after a BOM */
			s->data = true;
			s->in->data_start = s->h.bom;
			i = (size_t)s->h.bom;
			s->nl = 0;
			s->threshold = s->in->data_start + s->bs;
			cuts_push(s->cuts, s->in->data_start, 1);
		}
		if (s->header && s->h.done) {
			s->data = true;
			s->in->data_start = s->h.end;
			i = used;
			s->nl = s->h.lines;
			s->threshold = s->h.end + s->bs;
			cuts_push(s->cuts, s->h.end, s->h.lines + 1);
		}
	}
	while (s->data && i < n) {
		if (!s->seeking) {
			uint64_t at = s->pos + i;
			size_t m = s->threshold > at + (n - i) ? n - i : (size_t)(s->threshold - at);
			stream_count(s, p + i, m);
			i += m;
			if (s->pos + i >= s->threshold)
				s->seeking = true;
		} else {
			size_t r = csv_next_record(p + i, n - i, s->d->quote, s->in_q);
			stream_count(s, p + i, r);
			i += r;
			if (i > 0 && p[i - 1] == '\n' && !s->in_q) {
				s->seeking = false;
				cuts_push(s->cuts, s->pos + i, s->nl + 1);
				/* the next multiple of bs from data_start, as scan_plain cuts: same input, same blocks */
				uint64_t lo = s->in->data_start, k = (s->pos + i - lo + s->bs - 1) / s->bs;
				s->threshold = lo + (k < 1 ? 1 : k) * s->bs;
			}
		}
	}
	for (size_t k = 0; k < n;) {
		ssize_t w = write(s->out_fd, p + k, n - k);
		if (w < 0 && errno == EINTR)
			continue;
		if (w < 0)
			return err_sys(e, NULL, "%s: cannot write the copy '%s'", s->in->path, s->in->data_path);
		k += (size_t)w;
	}
	s->pos += n;
	return 0;
}

static int read_some(int fd, char *p, size_t n, size_t *got)
{
	for (;;) {
		ssize_t r = read(fd, p, n);
		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0)
			return -1;
		*got = (size_t)r;
		return 0;
	}
}

/* Copies the stream on @fd (whose first @pre_n bytes are already in @raw) through the decompressor. */
static int stream_copy(struct stream *s, int fd, char *raw, size_t pre_n, struct err *e)
{
	const char *path = s->in->path;
	char *out = xmalloc(IO_BUF);
	int rc = 0;
	size_t raw_n = pre_n;
	bool eof = false;
	if (s->in->compression == CSV_PLAIN) {
		/* gather IO_BUF at a time so that the first take holds the whole BOM */
		size_t have = raw_n;
		for (;;) {
			while (have < IO_BUF && !eof) {
				size_t got;
				if (read_some(fd, raw + have, IO_BUF - have, &got) < 0) {
					rc = err_sys(e, NULL, "%s: cannot read", path);
					goto out;
				}
				eof = got == 0;
				have += got;
			}
			if (have > 0 && (rc = stream_take(s, raw, have, e)) < 0)
				goto out;
			have = 0;
			if (eof)
				break;
		}
	} else if (s->in->compression == CSV_GZIP) {
		z_stream z;
		memset(&z, 0, sizeof z);
		if (inflateInit2(&z, 15 + 32) != Z_OK) {
			rc = err_run(e, NULL, "%s: cannot start gzip decompression", path);
			goto out;
		}
		size_t have = 0;
		int zr = Z_OK;
		bool pending = false; /* the last inflate() filled the output: it may hold more */
		z.next_in = (Bytef *)raw;
		z.avail_in = (uInt)raw_n;
		for (;;) {
			if (z.avail_in == 0 && !eof && !pending) {
				size_t got;
				if (read_some(fd, raw, IO_BUF, &got) < 0) {
					rc = err_sys(e, NULL, "%s: cannot read", path);
					break;
				}
				eof = got == 0;
				z.next_in = (Bytef *)raw;
				z.avail_in = (uInt)got;
			}
			if (z.avail_in == 0 && eof && !pending) {
				if (zr != Z_STREAM_END)
					rc = err_run(e, NULL, "%s: truncated gzip stream", path);
				break;
			}
			if (zr == Z_STREAM_END && z.avail_in > 0) {
				/* another member follows */
				inflateReset(&z);
			}
			z.next_out = (Bytef *)out + have;
			z.avail_out = (uInt)(IO_BUF - have);
			zr = inflate(&z, Z_NO_FLUSH);
			if (zr != Z_OK && zr != Z_STREAM_END && !(zr == Z_BUF_ERROR && z.avail_in == 0)) {
				rc = err_run(e, NULL, "%s: corrupt gzip stream (%s)", path, z.msg ? z.msg : "inflate failed");
				break;
			}
			have = IO_BUF - z.avail_out;
			pending = have == IO_BUF;
			if (have == IO_BUF) {
				if ((rc = stream_take(s, out, have, e)) < 0)
					break;
				have = 0;
			}
		}
		if (rc == 0 && have > 0)
			rc = stream_take(s, out, have, e);
		inflateEnd(&z);
	} else {
		ZSTD_DStream *zd = ZSTD_createDStream();
		ZSTD_initDStream(zd);
		ZSTD_inBuffer zin = {raw, raw_n, 0};
		ZSTD_outBuffer zout = {out, IO_BUF, 0};
		size_t zr = 1;
		bool pending = false; /* the last call filled the output: the decoder may hold more */
		for (;;) {
			if (zin.pos == zin.size && !eof && !pending) {
				size_t got;
				if (read_some(fd, raw, IO_BUF, &got) < 0) {
					rc = err_sys(e, NULL, "%s: cannot read", path);
					break;
				}
				eof = got == 0;
				zin.size = got;
				zin.pos = 0;
			}
			if (zin.pos == zin.size && eof && !pending) {
				if (zr != 0)
					rc = err_run(e, NULL, "%s: truncated zstd stream", path);
				break;
			}
			zr = ZSTD_decompressStream(zd, &zout, &zin);
			if (ZSTD_isError(zr)) {
				rc = err_run(e, NULL, "%s: corrupt zstd stream (%s)", path, ZSTD_getErrorName(zr));
				break;
			}
			pending = zout.pos == zout.size;
			if (zout.pos == zout.size) {
				if ((rc = stream_take(s, out, zout.pos, e)) < 0)
					break;
				zout.pos = 0;
			}
		}
		if (rc == 0 && zout.pos > 0)
			rc = stream_take(s, out, zout.pos, e);
		ZSTD_freeDStream(zd);
	}
out:
	free(out);
	return rc;
}

/* ---- open ---- */

int csv_input_open(const char *path, const struct csv_dialect *d, bool header, uint64_t blocksize, int jobs,
		   const char *spill_dir, struct loc loc, struct csv_input *in, struct err *e)
{
	memset(in, 0, sizeof *in);
	in->path = xstrdup(path);
	in->header = header;
	uint64_t bs = blocksize < MIN_BLOCK ? MIN_BLOCK : blocksize > CSV_MAX_BLOCK ? CSV_MAX_BLOCK : blocksize;
	bool is_stdin = !strcmp(path, "-");
	int fd = is_stdin ? 0 : open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0) {
		int en = errno;
		err_at(e, loc, "cannot open '%s': %s", path, strerror(en));
		e->sys_errno = en;
		csv_input_release(in);
		return -1;
	}
	struct cuts cuts = {0};
	int rc = 0, data_fd = -1;
	struct stat st;
	char *raw = xmalloc(IO_BUF);
	size_t raw_n = 0;
	if (fstat(fd, &st) < 0) {
		rc = err_sys(e, NULL, "%s: cannot stat", path);
		goto out;
	}
	/* stdin redirected from a file (`< big.csv`) is that file: read it in
	 * place, through its /proc name so that tasks can open it, unless the
	 * shell has already read past its start. */
	bool regular = S_ISREG(st.st_mode);
	if (regular && is_stdin) {
		int probe = lseek(fd, 0, SEEK_CUR) == 0 ? open("/proc/self/fd/0", O_RDONLY | O_CLOEXEC) : -1;
		regular = probe >= 0;
		if (probe >= 0)
			close(probe);
	}
	/* A pipe's default 64 KiB means a wake-up per 64 KiB on both ends;
	 * 1 MiB (the unprivileged maximum) made `cat big.csv |` three times
	 * faster here. Failure leaves the pipe as it was. */
	if (S_ISFIFO(st.st_mode))
		(void)fcntl(fd, F_SETPIPE_SZ, (int)IO_BUF);
	/* the magic bytes */
	if (regular) {
		if (read_full(fd, raw, 4, 0, &raw_n) < 0) {
			rc = err_sys(e, NULL, "%s: cannot read", path);
			goto out;
		}
	} else {
		while (raw_n < 4) {
			size_t got;
			if (read_some(fd, raw + raw_n, IO_BUF - raw_n, &got) < 0) {
				rc = err_sys(e, NULL, "%s: cannot read", path);
				goto out;
			}
			if (got == 0)
				break;
			raw_n += got;
		}
	}
	const unsigned char *m = (const unsigned char *)raw;
	if (raw_n >= 2 && m[0] == 0x1f && m[1] == 0x8b)
		in->compression = CSV_GZIP;
	else if (raw_n >= 4 && m[0] == 0x28 && m[1] == 0xb5 && m[2] == 0x2f && m[3] == 0xfd)
		in->compression = CSV_ZSTD;

	struct head h;
	if (regular && in->compression == CSV_PLAIN) {
		in->data_path = xstrdup(is_stdin ? "/proc/self/fd/0" : path);
		in->size = (uint64_t)st.st_size;
		data_fd = fd;
		fd = -1;
		memset(&h, 0, sizeof h);
		for (uint64_t pos = 0; !h.done && pos < in->size;) {
			size_t got;
			if (read_full(data_fd, raw, IO_BUF, pos, &got) < 0) {
				rc = err_sys(e, NULL, "%s: cannot read", path);
				goto out;
			}
			if (got == 0)
				break;
			head_feed(&h, raw, got, pos, d->quote);
			pos += got;
		}
	} else {
		const char *dir = spill_dir && *spill_dir ? spill_dir : "/tmp";
		in->data_path = xasprintf("%s/csv-XXXXXX", dir);
		data_fd = mkstemp(in->data_path);
		if (data_fd < 0) {
			rc = err_sys(e, NULL, "%s: cannot create a copy in '%s'", path, dir);
			free(in->data_path);
			in->data_path = NULL;
			goto out;
		}
		in->is_copy = true;
		cleanup_add_file(in->data_path);
		if (regular)
			raw_n = 0; /* read from the start again (the magic was read with pread) */
		struct stream s = {.in = in, .d = d, .header = header, .bs = bs, .out_fd = data_fd, .cuts = &cuts};
		rc = stream_copy(&s, fd, raw, raw_n, e);
		if (rc < 0)
			goto out;
		in->size = s.pos;
		h = s.h;
		if (!h.done && header)
			cuts.n = 0;
		if (h.done && s.in_q && s.data) {
			rc = unterminated(data_fd, in, d->quote, cuts.off[cuts.n - 1], cuts.line[cuts.n - 1], e);
			goto out;
		}
	}
	if (!h.done) {
		if (h.in_q) {
			rc = err_run(e, NULL, "%s:%lld: unterminated quoted field (opened here)", path,
				     (long long)h.open_line);
			goto out;
		}
		if (!h.content) {
			rc = header ? err_run(e, NULL, "%s: empty input, no header line", path)
				    : err_run(e, NULL, "%s: empty input, no columns", path);
			goto out;
		}
		h.end = in->size;
		h.done = true;
	}
	if ((rc = read_names(data_fd, &h, d, header, in, e)) < 0)
		goto out;
	if (!in->is_copy) {
		in->data_start = header ? h.end : h.bom;
		int64_t start_lines = header ? h.lines : 0;
		if ((rc = scan_plain(data_fd, in, d, bs, jobs, start_lines, &cuts, e)) < 0)
			goto out;
	} else if (cuts.n == 0) {
		/* a header with no '\n' after it: no data */
		in->data_start = in->size;
		cuts_push(&cuts, in->size, h.lines + 1);
	}
	/* the last cut may sit at the very end (a final boundary found while streaming) */
	if (cuts.n > 1 && cuts.off[cuts.n - 1] >= in->size)
		cuts.n--;
	in->n_blocks = (int64_t)cuts.n;
	in->block_off = xmalloc((cuts.n + 1) * sizeof *in->block_off);
	in->block_line = xmalloc(cuts.n * sizeof *in->block_line);
	memcpy(in->block_off, cuts.off, cuts.n * sizeof *cuts.off);
	memcpy(in->block_line, cuts.line, cuts.n * sizeof *cuts.line);
	in->block_off[cuts.n] = in->size;
	for (size_t k = 0; k < cuts.n; k++) {
		if (in->block_off[k + 1] - in->block_off[k] > CSV_MAX_BLOCK) {
			rc = err_run(e, NULL, "%s:%lld: a record longer than %llu bytes", path,
				     (long long)in->block_line[k], (unsigned long long)CSV_MAX_BLOCK);
			goto out;
		}
	}
	rc = take_sample(data_fd, in, d->quote, e);
out:
	free(raw);
	free(cuts.off);
	free(cuts.line);
	if (fd > 0)
		close(fd);
	if (data_fd > 0)
		close(data_fd);
	if (rc < 0)
		csv_input_release(in);
	return rc;
}

void csv_input_release(struct csv_input *in)
{
	if (!in)
		return;
	if (in->is_copy && in->data_path) {
		unlink(in->data_path);
		cleanup_forget(in->data_path);
	}
	free(in->path);
	free(in->data_path);
	for (int j = 0; j < in->n_cols && in->names; j++)
		free(in->names[j]);
	free(in->names);
	free(in->block_off);
	free(in->block_line);
	free(in->sample);
	memset(in, 0, sizeof *in);
}

/* ---- counting records ---- */

int64_t csv_count_records(const char *p, size_t n, const struct csv_dialect *d)
{
	const char sep = d->sep, quote = d->quote;
	int64_t rows = 0;
	size_t rbeg = 0, i = 0;
	/* the next quote and the next '\n' at or after i (n: none); each searched again only once passed */
	const char *qp = memchr(p, quote, n), *np = memchr(p, '\n', n);
	size_t qnext = qp ? (size_t)(qp - p) : n, nnext = np ? (size_t)(np - p) : n;
	while (i < n) {
		if (qnext < nnext) {
			/* a quote before the newline: it opens a field only at the field's start (as csv_tokenize) */
			size_t at = qnext;
			i = at + 1;
			if (at == rbeg || p[at - 1] == sep) {
				for (;;) {
					const char *q = i < n ? memchr(p + i, quote, n - i) : NULL;
					if (!q)
						return rows; /* an open quote: the tokenizer fails here */
					i = (size_t)(q - p) + 1;
					if (i < n && p[i] == quote) {
						i++;
						continue;
					}
					break;
				}
				if (i > nnext) {
					np = i < n ? memchr(p + i, '\n', n - i) : NULL;
					nnext = np ? (size_t)(np - p) : n;
				}
			}
			qp = i < n ? memchr(p + i, quote, n - i) : NULL;
			qnext = qp ? (size_t)(qp - p) : n;
			continue;
		}
		/* a record ends at nnext (n: the last one, without '\n'); blank ones ("", "\r") are skipped */
		size_t len = nnext - rbeg;
		if (len > 1 || (len == 1 && p[rbeg] != '\r'))
			rows++;
		rbeg = i = nnext + 1;
		np = i < n ? memchr(p + i, '\n', n - i) : NULL;
		nnext = np ? (size_t)(np - p) : n;
	}
	/* a last record without '\n' that ends in a quoted field */
	if (rbeg < n && (n - rbeg > 1 || p[rbeg] != '\r'))
		rows++;
	return rows;
}

struct count_job {
	const struct csv_input *in;
	const struct csv_dialect *d;
	int fd;
	int64_t *rows;
	int64_t next;          /* the next block to count, under @mu */
	int err;               /* errno of the first failed map, under @mu */
	pthread_mutex_t mu;
};

/* Each block is mapped on its own while it is counted: at most @jobs blocks are resident, as when
 * tasks parse them. */
static void *count_worker(void *arg)
{
	struct count_job *j = arg;
	long page = sysconf(_SC_PAGESIZE);
	for (;;) {
		pthread_mutex_lock(&j->mu);
		int64_t k = j->err ? j->in->n_blocks : j->next++;
		pthread_mutex_unlock(&j->mu);
		if (k >= j->in->n_blocks)
			return NULL;
		uint64_t off = j->in->block_off[k], n = j->in->block_off[k + 1] - off;
		if (n == 0)
			continue;
		uint64_t base = off - off % (uint64_t)page, len = n + (off - base);
		char *map = mmap(NULL, (size_t)len, PROT_READ, MAP_PRIVATE, j->fd, (off_t)base);
		if (map == MAP_FAILED) {
			pthread_mutex_lock(&j->mu);
			j->err = errno ? errno : EIO;
			pthread_mutex_unlock(&j->mu);
			return NULL;
		}
		madvise(map, (size_t)len, MADV_SEQUENTIAL);
		j->rows[k] = csv_count_records(map + (off - base), (size_t)n, j->d);
		munmap(map, (size_t)len);
	}
}

int csv_input_count_rows(const struct csv_input *in, const struct csv_dialect *d, int jobs, int64_t *rows,
			 struct err *e)
{
	for (int64_t k = 0; k < in->n_blocks; k++)
		rows[k] = 0;
	if (in->size == 0 || in->n_blocks == 0)
		return 0;
	struct count_job j = { .in = in, .d = d, .rows = rows };
	j.fd = open(in->data_path, O_RDONLY | O_CLOEXEC);
	if (j.fd < 0)
		return err_sys(e, NULL, "%s: cannot read", in->path);
	pthread_mutex_init(&j.mu, NULL);
	if (jobs < 1)
		jobs = 1;
	if (jobs > in->n_blocks)
		jobs = (int)in->n_blocks;
	pthread_t *th = xcalloc((size_t)jobs, sizeof *th);
	int started = 0;
	for (int t = 1; t < jobs; t++) {
		if (pthread_create(&th[t], NULL, count_worker, &j) != 0)
			break;
		started = t;
	}
	count_worker(&j);
	for (int t = 1; t <= started; t++)
		pthread_join(th[t], NULL);
	free(th);
	pthread_mutex_destroy(&j.mu);
	close(j.fd);
	if (j.err) {
		errno = j.err;
		return err_sys(e, NULL, "%s: cannot read", in->path);
	}
	return 0;
}

void csv_locate(const struct csv_input *in, int64_t k, const char *block, uint64_t off, int64_t *line,
		int64_t *col)
{
	int64_t l = in && k >= 0 && k < in->n_blocks ? in->block_line[k] : 1;
	uint64_t last = 0;
	bool any = false;
	for (uint64_t i = 0; i < off; i++) {
		if (block[i] == '\n') {
			l++;
			last = i;
			any = true;
		}
	}
	*line = l;
	*col = (int64_t)(any ? off - last : off + 1);
}
