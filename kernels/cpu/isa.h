/* SPDX-License-Identifier: MIT */
/*
 * isa: code for one instruction set inside a file built for the baseline,
 * spelled for both compilers. GCC takes target and optimize pragmas over a
 * region (push and pop) and an optimize attribute; clang takes a target
 * attribute applied to every function of a region and has no optimize, so
 * those parts are empty there (clang vectorizes at -O2 already). gcc is the
 * project's compiler and the one its performance notes are about; with
 * clang the kernels build, dispatch the same way and pass the same tests.
 */
#ifndef TESSERA_KERNELS_ISA_H
#define TESSERA_KERNELS_ISA_H

#define K_PRAGMA(...) _Pragma(#__VA_ARGS__)

#if defined(__clang__)
#define K_ISA_BEGIN(isa) K_PRAGMA(clang attribute push(__attribute__((target(isa))), apply_to = function))
#define K_ISA_END K_PRAGMA(clang attribute pop)
#define K_REGION_OPT(...)
#define K_OPT_BEGIN(...)
#define K_OPT_END
#define K_ATTR_OPT(...)
#else
/* a region of functions for @isa (a target string) */
#define K_ISA_BEGIN(isa) K_PRAGMA(GCC push_options) K_PRAGMA(GCC target(isa))
#define K_ISA_END K_PRAGMA(GCC pop_options)
/* optimize options for the rest of a K_ISA_BEGIN region */
#define K_REGION_OPT(...) K_PRAGMA(GCC optimize(__VA_ARGS__))
/* a region with optimize options alone */
#define K_OPT_BEGIN(...) K_PRAGMA(GCC push_options) K_PRAGMA(GCC optimize(__VA_ARGS__))
#define K_OPT_END K_PRAGMA(GCC pop_options)
/* inside __attribute__((target("...") K_ATTR_OPT("O3"))) */
#define K_ATTR_OPT(...) , optimize(__VA_ARGS__)
#endif

#endif
