# Tessera — one non-recursive GNU Makefile. Knobs:
#   CC CFLAGS PREFIX DESTDIR V=1 WITH_CUDA=auto|yes|no NVCC WERROR=1
CC       ?= cc
PREFIX   ?= /usr/local
DESTDIR  ?=
NVCC     ?= $(shell command -v nvcc 2>/dev/null || ls /usr/local/cuda/bin/nvcc 2>/dev/null)
WITH_CUDA ?= auto
# gcc is the compiler the kernels are tuned for; clang builds them too (kernels/cpu/isa.h)
CC_IS_CLANG := $(shell $(CC) --version 2>/dev/null | grep -q clang && echo 1)
OPT      ?= -O2 -g $(if $(CC_IS_CLANG),,-fvect-cost-model=cheap)
WARN     := -Wall -Wextra -Wshadow -Wstrict-prototypes -Wmissing-prototypes -Wformat=2 \
            -Wno-format-nonliteral
ifeq ($(WERROR),1)
WARN     += -Werror
endif

# Libraries, found by pkg-config; each missing one is named with its Debian package.
PKGS     := yaml-0.1:libyaml-dev libcjson:libcjson-dev libzstd:libzstd-dev sqlite3:libsqlite3-dev \
            openblas:libopenblas-dev htslib:libhts-dev zlib:zlib1g-dev
DEB_PKGS := $(foreach p,$(PKGS),$(word 2,$(subst :, ,$(p))))
MISSING  := $(strip $(foreach p,$(PKGS),$(if $(shell pkg-config --exists $(word 1,$(subst :, ,$(p))) && echo y),,$(word 2,$(subst :, ,$(p))))))
PKG_NAMES := $(foreach p,$(PKGS),$(word 1,$(subst :, ,$(p))))
ifeq ($(MISSING),)
PKG_CFLAGS := $(shell pkg-config --cflags $(PKG_NAMES))
# OpenBLAS is not linked: src/util/blas.c loads it at run time (see blas.h for why);
# only the test stand-in for the CUDA plugin links it.
BLAS_LIBS  := $(shell pkg-config --libs openblas)
PKG_LIBS   := $(filter-out $(BLAS_LIBS),$(shell pkg-config --libs $(PKG_NAMES)))
endif

comma    := ,
CPPFLAGS += -Isrc -Ikernels -D_GNU_SOURCE
# -ffp-contract=off: kernels promise the same bits on every instruction set
# (each product rounded before a sum); GCC's ISO mode already keeps it, Clang's
# default would fuse a * b + c where FMA is available.
BASE_CFLAGS := -std=c11 -ffp-contract=off $(OPT) $(WARN) -pthread -MMD -MP $(PKG_CFLAGS)
LDLIBS   += $(PKG_LIBS) -pthread -lm -ldl
# The pthread flavour of Debian's OpenBLAS, which src/util/blas.c loads first.
BLAS_DIR := /usr/lib/$(shell $(CC) -print-multiarch 2>/dev/null)/openblas-pthread
$(BUILD)/src/util/blas.o: CPPFLAGS += -DTESSERA_BLAS_DIR='"$(BLAS_DIR)"'

SRC      := $(shell find src kernels/cpu -name '*.c' 2>/dev/null | LC_ALL=C sort)
LIB_SRC  := $(filter-out src/main.c,$(SRC))
TEST_SRC := $(wildcard tests/unit/*.c)

ifeq ($(V),1)
Q :=
else
Q := @
endif

BUILD ?= build
SAN_FLAGS :=
ifeq ($(BUILD),build-asan)
SAN_FLAGS := -fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=undefined
endif
ifeq ($(BUILD),build-tsan)
SAN_FLAGS := -fsanitize=thread -fno-omit-frame-pointer
endif
ALL_CFLAGS = $(BASE_CFLAGS) $(SAN_FLAGS) $(CFLAGS)

OBJ      := $(patsubst %.c,$(BUILD)/%.o,$(SRC))
LIB_OBJ  := $(patsubst %.c,$(BUILD)/%.o,$(LIB_SRC))
TEST_OBJ := $(patsubst %.c,$(BUILD)/%.o,$(TEST_SRC))

BIN      := $(if $(filter build,$(BUILD)),tessera,$(BUILD)/tessera)
EMU_LIB  := $(BUILD)/libtessera-cuda-emu.so
# Kernels never read errno, and with it sqrt cannot be vectorized.
$(BUILD)/kernels/%.o: ALL_CFLAGS += -fno-math-errno

.PHONY: all deps-check test test-unit test-cli check-asan check-tsan check-clang test-gpu bench bench-sched bench-array bench-distance bench-csv \
        install uninstall clean help demo deps lint-man

all: deps-check $(BIN) $(BUILD)/unit-tests $(EMU_LIB)

deps-check:
ifneq ($(MISSING),)
	@echo "tessera: missing libraries; install them with: sudo apt-get install $(MISSING)   (or: make deps)" >&2; exit 1
endif

# Rebuild everything when the flags change (git's GIT-CFLAGS).
$(BUILD)/FLAGS: FORCE
	@mkdir -p $(BUILD)
	@echo '$(CC) $(CPPFLAGS) $(ALL_CFLAGS) $(LDLIBS)' | cmp -s - $@ || echo '$(CC) $(CPPFLAGS) $(ALL_CFLAGS) $(LDLIBS)' > $@
FORCE:

$(BUILD)/%.o: %.c $(BUILD)/FLAGS
	@mkdir -p $(dir $@)
	@$(if $(Q),echo "  CC      $<")
	$(Q)$(CC) $(CPPFLAGS) $(ALL_CFLAGS) -c -o $@ $<

$(BIN): $(OBJ)
	@$(if $(Q),echo "  LINK    $@")
	$(Q)$(CC) $(ALL_CFLAGS) -o $@ $(OBJ) $(LDLIBS)

$(BUILD)/unit-tests: $(LIB_OBJ) $(TEST_OBJ)
	@$(if $(Q),echo "  LINK    $@")
	$(Q)$(CC) $(ALL_CFLAGS) -o $@ $(LIB_OBJ) $(TEST_OBJ) $(LDLIBS)

-include $(OBJ:.o=.d) $(TEST_OBJ:.o=.d)

# The optional CUDA plugin: libtessera-cuda.so beside ./tessera (src/dev/cuda.c looks there), from
# kernels/cuda/*.cu, when nvcc is found (WITH_CUDA=auto) or demanded (WITH_CUDA=yes). One build for
# every BUILD (the plugin is not sanitized), in build/cuda/. cudart is linked statically (nvcc's
# default) and libcublas is dlopen()ed by the plugin at run time, so the library has no CUDA
# load-time dependency: it loads on a machine without CUDA and reports why there is no device.
# The tessera binary never links CUDA.
CUDA_LIB  := libtessera-cuda.so
CUDA_DIR  := build/cuda
CUDA_SRC  := $(wildcard kernels/cuda/*.cu)
CUDA_OBJ  := $(patsubst %.cu,$(CUDA_DIR)/%.o,$(CUDA_SRC))
CUDA_ARCH := -gencode arch=compute_80,code=sm_80 -gencode arch=compute_90,code=sm_90 \
             -gencode arch=compute_90,code=compute_90
NVCCFLAGS := -std=c++17 -O3 $(CUDA_ARCH) -Ikernels -Xcompiler -fPIC,-fvisibility=hidden,-Wall,-Wextra \
             -DTCU_CUDA_LIBDIR='"$(abspath $(dir $(NVCC))../lib64)"'
ifeq ($(WITH_CUDA),no)
CUDA_BUILD :=
else ifneq ($(NVCC),)
CUDA_BUILD := y
else ifeq ($(WITH_CUDA),yes)
$(error WITH_CUDA=yes but nvcc was not found: set NVCC=/path/to/nvcc)
endif

ifeq ($(CUDA_BUILD),y)
all: $(CUDA_LIB)
else ifneq ($(WITH_CUDA),no)
all: cuda-none
endif
.PHONY: cuda-none
cuda-none:
	@echo "cuda: nvcc not found, libtessera-cuda.so not built"

$(CUDA_DIR)/FLAGS: FORCE
	@mkdir -p $(CUDA_DIR)
	@echo '$(NVCC) $(NVCCFLAGS)' | cmp -s - $@ || echo '$(NVCC) $(NVCCFLAGS)' > $@

$(CUDA_DIR)/%.o: %.cu $(CUDA_DIR)/FLAGS
	@mkdir -p $(dir $@)
	@$(if $(Q),echo "  NVCC    $<")
	$(Q)$(NVCC) $(NVCCFLAGS) -MMD -MP -MF $(@:.o=.d) -c -o $@ $<

$(CUDA_LIB): $(CUDA_OBJ) kernels/cuda/tcu.map
	@$(if $(Q),echo "  NVLINK  $@")
	$(Q)$(NVCC) -shared $(CUDA_ARCH) -cudart static -Xlinker --version-script=kernels/cuda/tcu.map \
	  -Xlinker -z,defs -o $@ $(CUDA_OBJ) -ldl -lpthread

-include $(CUDA_OBJ:.o=.d)

# A stand-in for the CUDA plugin that runs its engines on the CPU (tests/gpu/emu_plugin.c), so the
# tests exercise device="gpu" end to end on machines without a GPU (TESSERA_CUDA_LIB=...).
$(EMU_LIB): tests/gpu/emu_plugin.c $(BUILD)/FLAGS
	@$(if $(Q),echo "  LINK    $@")
	$(Q)$(CC) $(CPPFLAGS) $(ALL_CFLAGS) -fPIC -shared -o $@ $< $(LDLIBS) $(BLAS_LIBS)

-include $(BUILD)/libtessera-cuda-emu.d

deps:
	@if [ -n "$(MISSING)" ] || ! command -v bats >/dev/null || ! command -v groff >/dev/null; then \
	  echo "installing: $(MISSING) bats bats-assert bats-support sqlite3 groff-base python3"; \
	  $(if $(shell [ `id -u` = 0 ] || echo sudo),sudo) apt-get update -qq && \
	  $(if $(shell [ `id -u` = 0 ] || echo sudo),sudo) apt-get install -y -qq $(DEB_PKGS) bats bats-assert bats-support sqlite3 groff-base python3 python3-numpy python3-scipy python3-pandas zstd pkg-config libopenblas0-pthread; \
	fi

test-unit: all
	./$(BUILD)/unit-tests
	tests/unit/npy_numpy_check.sh ./$(BUILD)/unit-tests

test-cli: all
	TESSERA=$(abspath $(BIN)) bats tests/cli

# The suite: unit tests and CLI tests, then both again under ASan+UBSan.
test: test-unit test-cli lint-man check-asan

check-asan:
	$(MAKE) BUILD=build-asan OPT='-O1 -g' all
	ASAN_OPTIONS=detect_leaks=1:abort_on_error=0 UBSAN_OPTIONS=print_stacktrace=1 ./build-asan/unit-tests
	ASAN_OPTIONS=detect_leaks=1 UBSAN_OPTIONS=print_stacktrace=1 TESSERA_SANITIZED=1 TESSERA=$(abspath build-asan/tessera) bats tests/cli

check-tsan:
	$(MAKE) BUILD=build-tsan OPT='-O1 -g' all
	TSAN_OPTIONS=halt_on_error=1 ./build-tsan/unit-tests
	TSAN_OPTIONS=halt_on_error=1 TESSERA_SANITIZED=1 TESSERA=$(abspath build-tsan/tessera) bats tests/cli/run.bats tests/cli/store.bats

# The same sources under clang (warnings are errors), its unit tests and the array and distance
# CLI tests: gcc is the compiler, but nothing should depend on it.
check-clang:
	$(MAKE) BUILD=build-clang CC=clang WERROR=1 WITH_CUDA=no all
	./build-clang/unit-tests
	TESSERA=$(abspath build-clang/tessera) bats tests/cli/array.bats tests/cli/distance.bats

demo: deps
	$(MAKE) all
	./tessera run graphs/pairwise.yaml

# GPU against CPU for every metric; "skipped: no GPU" (exit 0) without one.
test-gpu: all
	tests/gpu/run.sh

bench: bench-sched bench-array bench-distance bench-csv
bench-sched: all
	bench/sched/run.sh
bench-array: all
	bench/array/run.sh
bench-distance: all
	bench/distance/run.sh
bench-csv: all
	bench/csv/run.sh

install: all
	install -d $(DESTDIR)$(PREFIX)/bin $(DESTDIR)$(PREFIX)/share/man/man1 $(DESTDIR)$(PREFIX)/share/man/man5
	install -m 755 tessera $(DESTDIR)$(PREFIX)/bin/tessera
	install -m 644 man/tessera.1 $(DESTDIR)$(PREFIX)/share/man/man1/tessera.1
	install -m 644 man/tessera-spec.5 $(DESTDIR)$(PREFIX)/share/man/man5/tessera-spec.5
	$(if $(CUDA_BUILD),install -D -m 755 $(CUDA_LIB) $(DESTDIR)$(PREFIX)/lib/tessera/$(CUDA_LIB))

uninstall:
	rm -f $(DESTDIR)$(PREFIX)/bin/tessera $(DESTDIR)$(PREFIX)/share/man/man1/tessera.1 \
	      $(DESTDIR)$(PREFIX)/share/man/man5/tessera-spec.5 $(DESTDIR)$(PREFIX)/lib/tessera/$(CUDA_LIB)

lint-man:
	@command -v groff >/dev/null || { echo "lint-man: groff is not installed (apt-get install groff-base)" >&2; exit 1; }
	@for m in man/*.[0-9]; do out=$$(groff -man -ww -z $$m 2>&1); \
	  if [ -n "$$out" ]; then echo "$$m: $$out"; exit 1; fi; done

clean:
	rm -rf build build-asan build-tsan build-clang tessera $(CUDA_LIB)

help:
	@echo "targets: all test test-unit test-cli check-asan check-tsan check-clang test-gpu bench bench-sched bench-array bench-distance bench-csv demo deps install uninstall clean"
	@echo "knobs:   CC CFLAGS PREFIX DESTDIR V=1 WERROR=1 WITH_CUDA=auto|yes|no NVCC"
