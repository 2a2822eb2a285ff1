/* SPDX-License-Identifier: MIT */
/* cuda: dlopen() of libtessera-cuda.so and a probe for a device, once. */
#include "dev/cuda.h"

#include <dlfcn.h>
#include <limits.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static pthread_once_t once = PTHREAD_ONCE_INIT;
static const struct tcu_api *api;
static char reason[256];

static void *try_open(const char *path)
{
	return dlopen(path, RTLD_NOW | RTLD_LOCAL);
}

static void load(void)
{
	void *h = NULL;
	const char *env = getenv("TESSERA_CUDA_LIB");
	char exe[PATH_MAX], path[PATH_MAX + 64];
	if (env && *env) {
		if (!(h = try_open(env))) {
			snprintf(reason, sizeof reason, "TESSERA_CUDA_LIB='%s' does not load: %s", env, dlerror());
			return;
		}
	}
	ssize_t n = readlink("/proc/self/exe", exe, sizeof exe - 1);
	if (!h && n > 0) {
		exe[n] = '\0';
		char *slash = strrchr(exe, '/');
		if (slash) {
			*slash = '\0';
			snprintf(path, sizeof path, "%s/libtessera-cuda.so", exe);
			h = try_open(path);
			if (!h) {
				snprintf(path, sizeof path, "%s/../lib/tessera/libtessera-cuda.so", exe);
				h = try_open(path);
			}
		}
	}
	if (!h)
		h = try_open("libtessera-cuda.so");
	if (!h) {
		const char *d = dlerror();
		/* a library that exists but cannot load (no libcudart, say) tells more than "not found" */
		if (d && !strstr(d, "cannot open shared object file"))
			snprintf(reason, sizeof reason, "libtessera-cuda.so does not load: %s", d);
		else
			snprintf(reason, sizeof reason,
				 "libtessera-cuda.so was not found (tessera was built without nvcc, or the library is not beside it)");
		return;
	}
	const struct tcu_api *(*get)(void) = (const struct tcu_api *(*)(void))dlsym(h, "tessera_cuda_api");
	const struct tcu_api *a = get ? get() : NULL;
	if (!a || a->abi != TCU_ABI) {
		snprintf(reason, sizeof reason, "libtessera-cuda.so is from another version of tessera (ABI %d, want %d)",
			 a ? a->abi : -1, TCU_ABI);
		return;
	}
	char why[200] = "";
	if (a->probe(why, sizeof why) <= 0) {
		snprintf(reason, sizeof reason, "no usable CUDA device: %s", why[0] ? why : "none found");
		return;
	}
	api = a;
}

const struct tcu_api *dev_cuda(char *why, size_t len)
{
	pthread_once(&once, load);
	if (!api && len)
		snprintf(why, len, "%s", reason);
	return api;
}
