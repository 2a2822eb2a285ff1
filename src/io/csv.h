/* SPDX-License-Identifier: MIT */
/*
 * csv: delimited text as RFC 4180 reads it, cut into partitions and split
 * into fields fast enough to feed every worker. Quoted fields may hold the
 * separator, doubled quotes and newlines; a record ends at a '\n' outside
 * quotes (a '\r' just before it is dropped, so CRLF files read the same).
 * Blank records are skipped, as pandas does.
 *
 * The reading of one input is split in three:
 *   1. csv_input_open() (at graph build time) finds the header, and cuts the
 *      input into blocks of about @blocksize bytes that start and end at
 *      record boundaries. A plain file is scanned in parallel for quote
 *      parity (so a cut never falls inside a quoted newline) and line
 *      counts; stdin and gzip/zstd input (detected by their magic bytes,
 *      whatever the name) are read once, as they stream, into one file in
 *      the spill folder, cut into blocks on the way.
 *   2. csv_tokenize() (in a task) splits one block into records and the
 *      fields of the columns the task wants, as byte offsets into the block.
 *   3. csv_parse_*() / csv_column_parse() convert fields to typed values.
 *
 * DESIGN: nothing here allocates behind the caller's back except where a
 * function says so (csv_tok and csv_input own malloc'ed arrays released by
 * their _release()). Offsets inside a block are uint32_t, so a block is at
 * most CSV_MAX_BLOCK bytes. Every function may run on any thread at once.
 * Errors inside a block are reported as a byte offset (struct csv_fail);
 * the caller turns it into FILE:LINE:COL with csv_locate().
 */
#ifndef TESSERA_IO_CSV_H
#define TESSERA_IO_CSV_H

#include "util/err.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define CSV_MAX_BLOCK ((uint64_t)1 << 31)

/* Column types, in the order type inference widens them (bool < int64 <
 * float64 < string; date only when every value is a date). */
enum col_type { COL_BOOL, COL_INT64, COL_FLOAT64, COL_DATE, COL_STRING, COL_TYPE_N };

/* col_type_name() : "bool", "int64", "float64", "date", "string". */
const char *col_type_name(enum col_type t);
/* col_type_parse() : the inverse, also accepting numpy/pandas spellings
 * ("int", "i8", "float", "f8", "str", "object", "datetime64[D]"); -1 if unknown. */
int col_type_parse(const char *name);

struct csv_dialect {
	char sep;    /* ',' (or '\t', ';', '|') */
	char quote;  /* '"' */
};

/* Which field texts are missing values. Always: the empty field. By
 * default also pandas' list: NA N/A n/a NaN nan -NaN -nan NULL null None
 * <NA> #N/A #NA #N/A N/A -1.#IND 1.#IND -1.#QNAN 1.#QNAN. @extra adds more
 * (na_values=); @no_defaults keeps only the empty field and @extra. */
struct csv_na {
	bool no_defaults;
	size_t n_extra;
	const char *const *extra; /* NUL-terminated, borrowed */
};

/* A failure inside a block: where (byte offset into the block) and what. */
struct csv_fail {
	uint64_t off;
	char msg[200];
};

/* ---- scanning (kernels of stage 1, exposed for tests) ---- */

/* csv_count() : how many @quote bytes and '\n' bytes p[0..n) holds (SIMD). */
void csv_count(const char *p, size_t n, char quote, uint64_t *n_quotes, uint64_t *n_newlines);
/* csv_next_record() : with p[0] in quote state @in_quote, the offset just
 * past the first '\n' outside quotes; @n when there is none. */
size_t csv_next_record(const char *p, size_t n, char quote, bool in_quote);

/* ---- stage 1: inputs ---- */

enum csv_compression { CSV_PLAIN, CSV_GZIP, CSV_ZSTD };

struct csv_input {
	char *path;               /* as the user wrote it ("-": stdin) */
	char *data_path;          /* the plain text tasks read: @path, or the copy in the spill folder */
	bool is_copy;             /* @data_path is ours: csv_input_release() removes it */
	enum csv_compression compression;
	uint64_t size;            /* bytes of plain text */
	int n_cols;               /* fields of the first record */
	char **names;             /* n_cols column names (unquoted; "0", "1", ... without a header) */
	bool header;
	uint64_t data_start;      /* offset of the first data record (past the header) */
	int64_t n_blocks;         /* >= 1, even for an input with no data record */
	uint64_t *block_off;      /* n_blocks + 1: block k is [block_off[k], block_off[k + 1]), record-aligned;
				     block_off[0] = data_start, block_off[n_blocks] = size */
	int64_t *block_line;      /* n_blocks: the 1-based line number of block k's first byte */
	char *sample;             /* the first records (header excluded), up to about 1 MiB, whole records only;
				     the caller may free it (and set it NULL) once it has no more use for it */
	size_t sample_len;
};

/*
 * csv_input_open() : opens @path (a file, or "-" for stdin) and cuts it into
 * blocks of about @blocksize bytes (at most CSV_MAX_BLOCK). @spill_dir takes
 * the copy of stdin or of decompressed input. @jobs threads scan a plain
 * file. @header: the first record names the columns. Errors (ERR_RUN, or
 * ERR_SPEC located at @loc for a file that cannot be opened): no such file,
 * an unterminated quote at the end of the input (named by its line), an
 * empty input (no header record when one is expected), invalid UTF-8 in the
 * header, a corrupt gzip/zstd stream.
 */
int csv_input_open(const char *path, const struct csv_dialect *d, bool header, uint64_t blocksize, int jobs,
		   const char *spill_dir, struct loc loc, struct csv_input *in, struct err *e);
void csv_input_release(struct csv_input *in);

/*
 * csv_input_count_rows() : the records of each block (rows[0 .. n_blocks)),
 * as csv_tokenize() would split them (blank records skipped, a quote only
 * opening a field at its start), without splitting fields: a walk from
 * newline to newline that follows quoted fields, @jobs threads over the
 * blocks of a memory-mapped copy of the text. An extra read of the input,
 * for callers that must size things by rows before any task runs. A block
 * the tokenizer would reject (an open quote) counts the records before the
 * fault; its task reports the error. -1 and *e (ERR_RUN) if the text cannot
 * be read.
 */
int csv_input_count_rows(const struct csv_input *in, const struct csv_dialect *d, int jobs, int64_t *rows,
			 struct err *e);
/* csv_count_records() : the records of @p[0..n) (whole records), as above; exposed for tests. */
int64_t csv_count_records(const char *p, size_t n, const struct csv_dialect *d);

/* csv_locate() : the 1-based line and column of byte @off of block @k
 * (counting '\n' from the block's start: slow, for error messages only). */
void csv_locate(const struct csv_input *in, int64_t k, const char *block, uint64_t off, int64_t *line,
		int64_t *col);

/* ---- stage 2: fields ---- */

/* One block split into records and fields. Field (r, c) of a wanted column
 * is block[fstart[c][r] .. + flen[c][r]) as written: quotes and doubled
 * quotes included (csv_unquote() removes them), a record's trailing '\r'
 * excluded. Record r is block[rec[r] .. rec[r + 1]), line terminator included. */
struct csv_tok {
	int64_t n_rows;
	int n_cols;
	uint32_t *rec;       /* n_rows + 1 */
	uint32_t **fstart;   /* n_cols pointers; NULL for a column not wanted */
	uint32_t **flen;
};

/*
 * csv_tokenize() : splits @block (@n bytes of whole records) into records of
 * exactly @n_cols fields, keeping the fields of columns with @want[c] (NULL:
 * all). A record with another field count ("expected 7 fields, saw 8") or a
 * quote left open fails with *f at the offending byte. Text after a closing
 * quote and before the separator is kept as part of the field (pandas'
 * leniency). 0, or -1 and *f; @t is initialized either way.
 */
int csv_tokenize(const char *block, size_t n, const struct csv_dialect *d, int n_cols, const bool *want,
		 struct csv_tok *t, struct csv_fail *f);
void csv_tok_release(struct csv_tok *t);

/* ---- stage 3: values ---- */

/* csv_unquote() : the text of a field as written -> its value: a quoted
 * field loses its quotes and "" becomes ". Writes at most @n bytes to @out
 * and returns the length; an unquoted field is copied as is. */
size_t csv_unquote(const char *s, size_t n, char quote, char *out);
/* csv_is_quoted() : whether the field as written starts with @quote. */
static inline bool csv_is_quoted(const char *s, size_t n, char quote) { return n > 0 && s[0] == quote; }

/* Parsers of unquoted text; false when the text is not of the type.
 * int64: [+-]?digits, no spaces, overflow fails. float64: correctly rounded
 * decimal ([+-]? digits [. digits] [e [+-] digits], ".5" and "5." too),
 * inf/infinity/nan in any case with a sign. bool: True False TRUE FALSE
 * true false. date: YYYY-MM-DD, a real calendar date, as days since
 * 1970-01-01. */
bool csv_parse_i64(const char *s, size_t n, int64_t *out);
bool csv_parse_f64(const char *s, size_t n, double *out);
bool csv_parse_bool(const char *s, size_t n, bool *out);
bool csv_parse_date(const char *s, size_t n, int32_t *days);
/* csv_civil_from_days() : the proleptic Gregorian year, month (1-12) and day (1-31) of @days. */
void csv_civil_from_days(int32_t days, int64_t *y, unsigned *m, unsigned *d);
/* csv_format_date() : "YYYY-MM-DD" (NUL-terminated) into @out; returns 10. */
int csv_format_date(int32_t days, char out[11]);
/* csv_is_null() : whether unquoted text @s is a missing value under @na. */
bool csv_is_null(const char *s, size_t n, const struct csv_na *na);

/* Type inference: feed the non-null values of a column; the result is the
 * narrowest type all of them parse as (bool < int64 < float64 < string,
 * date when all are dates); a column with no value at all is float64. */
struct csv_infer {
	bool can_bool, can_int, can_float, can_date;
	int64_t n_values;
};
void csv_infer_init(struct csv_infer *s);
void csv_infer_add(struct csv_infer *s, const char *text, size_t n);
enum col_type csv_infer_result(const struct csv_infer *s);

/*
 * csv_column_parse() : converts wanted column @c of a tokenized block to
 * @type: values[r] (int64_t, double, uint8_t 0/1 for bool, int32_t days)
 * and valid[r] (1 a value, 0 missing under @na). COL_STRING is not parsed
 * here (see csv_column_strings). A field that is neither missing nor of
 * the type stops it: -1 with *bad_row = r. Quoted fields are unquoted first.
 */
int csv_column_parse(const char *block, const struct csv_tok *t, int c, enum col_type type,
		     const struct csv_na *na, char quote, void *values, uint8_t *valid, int64_t *bad_row);
/*
 * csv_column_strings() : the unquoted text of column @c for every row,
 * concatenated into @data (caller-allocated, at least the sum of the flen
 * of the column) with off[r] .. off[r + 1] (off has n_rows + 1 entries);
 * valid[r] = 0 for missing values (their text is empty). Returns the bytes used.
 */
uint64_t csv_column_strings(const char *block, const struct csv_tok *t, int c, const struct csv_na *na,
			    char quote, char *data, uint64_t *off, uint8_t *valid);

#endif
