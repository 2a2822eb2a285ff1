/* SPDX-License-Identifier: MIT */
/* text: number, size and duration parsing; edit distance. */
#include "util/text.h"
#include "util/xalloc.h"

#include <ctype.h>
#include <errno.h>
#include <locale.h>
#include <math.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <wctype.h>

bool parse_int(const char *s, int64_t *out)
{
	if (!s || !*s || isspace((unsigned char)*s))
		return false;
	char *end;
	errno = 0;
	long long v = strtoll(s, &end, 10);
	if (errno || *end)
		return false;
	*out = v;
	return true;
}

bool parse_double(const char *s, double *out)
{
	if (!s || !*s || isspace((unsigned char)*s))
		return false;
	char *end;
	errno = 0;
	double v = strtod(s, &end);
	if (*end || (errno == ERANGE && v != 0))
		return false;
	*out = v;
	return true;
}

bool parse_size(const char *s, uint64_t *out)
{
	if (!s || !isdigit((unsigned char)*s))
		return false;
	char *end;
	double v = strtod(s, &end);
	while (*end == ' ')
		end++;
	double mul = 1;
	switch (toupper((unsigned char)*end)) {
	case 'K': mul = 1024.0; end++; break;
	case 'M': mul = 1024.0 * 1024; end++; break;
	case 'G': mul = 1024.0 * 1024 * 1024; end++; break;
	case 'T': mul = 1024.0 * 1024 * 1024 * 1024; end++; break;
	default: break;
	}
	if (mul > 1 && (*end == 'i' || *end == 'I'))
		end++;
	if (*end == 'B' || *end == 'b')
		end++;
	if (*end || !isfinite(v) || v * mul >= 1.8e19)
		return false;
	*out = (uint64_t)(v * mul);
	return true;
}

bool parse_duration(const char *s, double *out)
{
	if (!s || !(isdigit((unsigned char)*s) || *s == '.'))
		return false;
	char *end;
	double v = strtod(s, &end);
	double mul = 1;
	if (strcmp(end, "ms") == 0)
		mul = 0.001;
	else if (strcmp(end, "s") == 0 || *end == '\0')
		mul = 1;
	else if (strcmp(end, "m") == 0 || strcmp(end, "min") == 0)
		mul = 60;
	else if (strcmp(end, "h") == 0)
		mul = 3600;
	else
		return false;
	if (!isfinite(v) || v < 0)
		return false;
	*out = v * mul;
	return true;
}

void format_size(uint64_t bytes, char *out, size_t out_len)
{
	static const char *units[] = { "B", "KiB", "MiB", "GiB", "TiB" };
	double v = (double)bytes;
	int u = 0;
	while (v >= 1024 && u < 4)
		v /= 1024, u++;
	if (u == 0)
		snprintf(out, out_len, "%llu B", (unsigned long long)bytes);
	else
		snprintf(out, out_len, "%.1f %s", v, units[u]);
}

/* Optimal string alignment distance: Levenshtein plus adjacent transpositions,
 * so "rnu" is one edit from "run", as a typist would count it. */
size_t edit_distance(const char *a, const char *b)
{
	size_t la = strlen(a), lb = strlen(b), w = lb + 1;
	size_t *d = xmalloc((la + 1) * w * sizeof *d);
	for (size_t i = 0; i <= la; i++)
		d[i * w] = i;
	for (size_t j = 0; j <= lb; j++)
		d[j] = j;
	for (size_t i = 1; i <= la; i++) {
		for (size_t j = 1; j <= lb; j++) {
			size_t best = d[(i - 1) * w + j - 1] + (a[i - 1] != b[j - 1]);
			if (d[(i - 1) * w + j] + 1 < best)
				best = d[(i - 1) * w + j] + 1;
			if (d[i * w + j - 1] + 1 < best)
				best = d[i * w + j - 1] + 1;
			if (i > 1 && j > 1 && a[i - 1] == b[j - 2] && a[i - 2] == b[j - 1] &&
			    d[(i - 2) * w + j - 2] + 1 < best)
				best = d[(i - 2) * w + j - 2] + 1;
			d[i * w + j] = best;
		}
	}
	size_t r = d[la * w + lb];
	free(d);
	return r;
}

const char *did_you_mean(const char *word, const char *const *names, size_t n_names)
{
	const char *best = NULL;
	size_t best_d = (size_t)-1;
	for (size_t i = 0; i < n_names; i++) {
		size_t d = edit_distance(word, names[i]);
		if (d < best_d)
			best_d = d, best = names[i];
	}
	/* Close enough: at most a third of the word, and at least one edit allowed. */
	size_t len = strlen(word);
	size_t limit = len / 3 > 1 ? len / 3 : 1;
	if (len >= 3 && limit < 2)
		limit = 2;
	return best && best_d <= limit && best_d < len ? best : NULL;
}

/* ---- case mapping ---- */

/* The code point at @s (@n bytes left) and its length in *len, or -1 when the bytes there are not a
 * well-formed UTF-8 character (overlong forms and surrogates included). */
static int32_t utf8_get(const unsigned char *s, size_t n, size_t *len)
{
	unsigned c = s[0];
	int k = c < 0x80 ? 1 : (c & 0xe0) == 0xc0 ? 2 : (c & 0xf0) == 0xe0 ? 3 : (c & 0xf8) == 0xf0 ? 4 : 0;
	if (!k || (size_t)k > n)
		return -1;
	int32_t cp = k == 1 ? (int32_t)c : (int32_t)(c & (0x7f >> k));
	for (int i = 1; i < k; i++) {
		if ((s[i] & 0xc0) != 0x80)
			return -1;
		cp = cp << 6 | (s[i] & 0x3f);
	}
	static const int32_t min_of[5] = { 0, 0, 0x80, 0x800, 0x10000 };
	if (cp < min_of[k] || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff))
		return -1;
	*len = (size_t)k;
	return cp;
}

static size_t utf8_put(int32_t cp, char *out)
{
	if (cp < 0x80) {
		out[0] = (char)cp;
		return 1;
	}
	if (cp < 0x800) {
		out[0] = (char)(0xc0 | cp >> 6);
		out[1] = (char)(0x80 | (cp & 0x3f));
		return 2;
	}
	if (cp < 0x10000) {
		out[0] = (char)(0xe0 | cp >> 12);
		out[1] = (char)(0x80 | (cp >> 6 & 0x3f));
		out[2] = (char)(0x80 | (cp & 0x3f));
		return 3;
	}
	out[0] = (char)(0xf0 | cp >> 18);
	out[1] = (char)(0x80 | (cp >> 12 & 0x3f));
	out[2] = (char)(0x80 | (cp >> 6 & 0x3f));
	out[3] = (char)(0x80 | (cp & 0x3f));
	return 4;
}

/* C.UTF-8's character classes, made once; (locale_t)0 where the C library lacks it (ASCII only then). */
static locale_t utf8_loc;
static pthread_once_t utf8_once = PTHREAD_ONCE_INIT;

static void utf8_loc_init(void)
{
	utf8_loc = newlocale(LC_CTYPE_MASK, "C.UTF-8", (locale_t)0);
}

size_t text_case(const char *s, size_t n, bool upper, char *out)
{
	pthread_once(&utf8_once, utf8_loc_init);
	const unsigned char *u = (const unsigned char *)s;
	size_t o = 0;
	bool prev_alpha = false;
	for (size_t i = 0; i < n;) {
		unsigned c = u[i];
		if (c < 0x80) {
			out[o++] = (char)(upper ? (c >= 'a' && c <= 'z' ? c - 32 : c) : (c >= 'A' && c <= 'Z' ? c + 32 : c));
			prev_alpha = (c | 32) >= 'a' && (c | 32) <= 'z';
			i++;
			continue;
		}
		size_t len;
		int32_t cp = utf8_get(u + i, n - i, &len);
		if (cp < 0 || !utf8_loc) {
			out[o++] = (char)c; /* not UTF-8 (or no table): the byte as it is */
			prev_alpha = false;
			i++;
			continue;
		}
		i += len;
		bool alpha = iswalpha_l((wint_t)cp, utf8_loc);
		if (upper && cp == 0xdf) { /* sharp s */
			out[o++] = 'S';
			out[o++] = 'S';
		} else if (!upper && cp == 0x130) { /* capital I with dot above */
			out[o++] = 'i';
			o += utf8_put(0x307, out + o);
		} else if (!upper && cp == 0x3a3) { /* capital sigma: final form after a letter, before none */
			size_t l2;
			int32_t next = i < n ? utf8_get(u + i, n - i, &l2) : -1;
			bool next_alpha = next >= 0 && iswalpha_l((wint_t)next, utf8_loc);
			o += utf8_put(prev_alpha && !next_alpha ? 0x3c2 : 0x3c3, out + o);
		} else {
			o += utf8_put((int32_t)(upper ? towupper_l((wint_t)cp, utf8_loc) : towlower_l((wint_t)cp, utf8_loc)),
				      out + o);
		}
		prev_alpha = alpha;
	}
	return o;
}
