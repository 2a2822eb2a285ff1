/* SPDX-License-Identifier: MIT */
/*
 * dev/cuda: finding the CUDA plugin (libtessera-cuda.so) and a GPU, once
 * per process. The library is looked for beside the executable, in
 * ../lib/tessera relative to it (an installed layout), in
 * $TESSERA_CUDA_LIB when set, and then by the dynamic loader's own search.
 * Nothing here links against CUDA: without the library or a device, the
 * answer is "no GPU", with the reason.
 */
#ifndef TESSERA_DEV_CUDA_H
#define TESSERA_DEV_CUDA_H

#include "cuda/tcu.h"

#include <stddef.h>

/* dev_cuda() : the plugin's table when it loaded and sees a device, else NULL
 * with the reason in @why (one line). Thread-safe; the work is done once. */
const struct tcu_api *dev_cuda(char *why, size_t len);

#endif
