/* SPDX-License-Identifier: MIT */
/* text: number, size and duration parsing; edit distance. */
#include "util/text.h"
#include "util/xalloc.h"

#include <ctype.h>
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

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
