/* SPDX-License-Identifier: MIT */
/*
 * dtype: numpy's type promotion for the eight dtypes Tessera has. The
 * table is numpy's result_type for two arrays; Python literals are "weak"
 * (NEP 50, numpy 2's rule): they take the array's dtype within their kind.
 */
#include "array/array.h"

#include <string.h>

bool dtype_is_float(enum dtype t)
{
	return t == DT_FLOAT32 || t == DT_FLOAT64;
}

bool dtype_is_int(enum dtype t)
{
	return t == DT_INT8 || t == DT_INT16 || t == DT_INT32 || t == DT_INT64 || t == DT_UINT8;
}

/* Bits of a signed integer type; uint8 counts as needing 9. */
static int int_bits(enum dtype t)
{
	switch (t) {
	case DT_INT8: return 8;
	case DT_UINT8: return 9;
	case DT_INT16: return 16;
	case DT_INT32: return 32;
	default: return 64;
	}
}

static enum dtype int_of_bits(int bits)
{
	return bits <= 8 ? DT_INT8 : bits <= 16 ? DT_INT16 : bits <= 32 ? DT_INT32 : DT_INT64;
}

enum dtype dtype_promote(enum dtype a, enum dtype b)
{
	if (a == b)
		return a;
	if (a == DT_BOOL)
		return b;
	if (b == DT_BOOL)
		return a;
	if (dtype_is_float(a) || dtype_is_float(b)) {
		if (a == DT_FLOAT64 || b == DT_FLOAT64)
			return DT_FLOAT64;
		/* float32 with an integer: float32 holds int8/uint8/int16 exactly, not wider ones. */
		enum dtype other = a == DT_FLOAT32 ? b : a;
		if (other == DT_FLOAT32)
			return DT_FLOAT32;
		return int_bits(other) <= 16 ? DT_FLOAT32 : DT_FLOAT64;
	}
	if (a == DT_UINT8 && b == DT_UINT8)
		return DT_UINT8;
	int bits = int_bits(a) > int_bits(b) ? int_bits(a) : int_bits(b);
	return int_of_bits(bits);
}

static const struct {
	const char *name;
	enum dtype t;
} dtype_names[] = {
	{ "bool", DT_BOOL }, { "bool_", DT_BOOL }, { "?", DT_BOOL },
	{ "int8", DT_INT8 }, { "i1", DT_INT8 },
	{ "int16", DT_INT16 }, { "i2", DT_INT16 },
	{ "int32", DT_INT32 }, { "i4", DT_INT32 },
	{ "int64", DT_INT64 }, { "i8", DT_INT64 }, { "int", DT_INT64 },
	{ "uint8", DT_UINT8 }, { "u1", DT_UINT8 },
	{ "float32", DT_FLOAT32 }, { "f4", DT_FLOAT32 },
	{ "float64", DT_FLOAT64 }, { "f8", DT_FLOAT64 }, { "float", DT_FLOAT64 }, { "double", DT_FLOAT64 },
};

int dtype_parse(const char *name)
{
	for (size_t i = 0; i < sizeof dtype_names / sizeof dtype_names[0]; i++)
		if (!strcmp(dtype_names[i].name, name))
			return (int)dtype_names[i].t;
	return -1;
}
