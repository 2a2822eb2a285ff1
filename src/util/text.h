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

/* TEXT_CASE_MAX : the most bytes text_case() writes per byte it reads. */
#define TEXT_CASE_MAX 3
/*
 * text_case() : @s (@n bytes of UTF-8) in upper or lower case into @out
 * (room for TEXT_CASE_MAX * n bytes) as Python's str.upper()/lower() give:
 * Unicode's case mapping of every character (through the C.UTF-8 locale),
 * with the full mappings Python applies that matter most in data (upper
 * "ß" is "SS"; lower "İ" is "i" and a combining dot; a final capital sigma
 * lowers to "ς"); the other multi-character mappings of SpecialCasing.txt
 * (ligatures, a few Greek and Armenian letters) are mapped one to one.
 * Bytes that are not UTF-8 pass unchanged. @return the bytes written.
 */
size_t text_case(const char *s, size_t n, bool upper, char *out);

size_t edit_distance(const char *a, const char *b);
/* did_you_mean() : the closest of @names to @word if close enough, else NULL. */
const char *did_you_mean(const char *word, const char *const *names, size_t n_names);

#endif
