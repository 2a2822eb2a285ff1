/* SPDX-License-Identifier: MIT */
/*
 * text: small parsers and helpers shared by every layer: sizes ("64MiB"),
 * durations ("30s"), integers, edit distance for "did you mean".
 */
#ifndef TESSERA_UTIL_TEXT_H
#define TESSERA_UTIL_TEXT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* parse_size() : "1048576", "64MiB", "2G", "1.5GB", "512k" (K/M/G/T, with or
 * without "iB"/"B", all powers of 1024). @return false on anything else. */
bool parse_size(const char *s, uint64_t *out);
/* parse_duration() : "30", "30s", "1.5s", "250ms", "2m", "1h". Seconds out. */
bool parse_duration(const char *s, double *out);
/* parse_int() : a whole decimal int64 with optional sign, nothing else. */
bool parse_int(const char *s, int64_t *out);
/* parse_double() : a whole finite-or-not decimal number, nothing else. */
bool parse_double(const char *s, double *out);

/* format_size() : "1.5 GiB" style, into @out. */
void format_size(uint64_t bytes, char *out, size_t out_len);

size_t edit_distance(const char *a, const char *b);
/* did_you_mean() : the closest of @names to @word if close enough, else NULL. */
const char *did_you_mean(const char *word, const char *const *names, size_t n_names);

#endif
