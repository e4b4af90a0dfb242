# kakeya: one Makefile, no generator. `make help` lists the targets.
#
# Flavors build into their own folders so objects never mix:
#   build/release  (default)   build/asan (`make check`)   build/fuzz (`make fuzz`, clang)
# Sources are found by folder, so adding a file needs no edit here:
#   common/*.c -> libkk_common.a      engine/*.c    -> libkk_engine.a
#   gate/*.c   -> libkk_gate.a        compare/*.c   -> libkk_compare.a
#   bench/lib/*.c -> libkk_bench.a    harness/*.c   -> libkk_harness.a
#   (gate/main.c and harness/main.c are the programs' mains)
# Each folder compiles with the include paths of the layers it may use
# (docs/architecture.md, "Layers"); `make layers` checks every include.
#   tests/<group>/test_*.c  -> one cmocka binary each, run by `make test`
#   tests/<group>/slow_*.c  -> one cmocka binary each, run by `make test-slow`
#   tests/fuzz/<group>/fuzz_*.c -> libFuzzer targets (`make fuzz`); their
#       corpus tests/fuzz/corpus/fuzz_*/ replays in `make test` without libFuzzer
# <group> picks what a test links and sees, with that layer's include
# paths: common, gate, engine, compare or harness (all but the gate: a
# harness test that needs the gate runs bin/kakeya-gate).

FLAVOR  ?= release
B       := build/$(FLAVOR)
WERROR  ?=
CC      ?= cc

OPT_release := -O2 -g
OPT_asan    := -O1 -g -fno-omit-frame-pointer -fsanitize=address,undefined -fno-sanitize-recover=all
OPT_fuzz    := -O1 -g -fno-omit-frame-pointer -fsanitize=fuzzer-no-link,address,undefined -fno-sanitize-recover=all
LDOPT_asan  := -fsanitize=address,undefined
LDOPT_fuzz  := -fsanitize=address,undefined

# Include paths per layer: a folder sees only the layers below it, so a
# wrong include fails to compile (and `make layers` catches relative ones).
INC_common  := -Icommon
INC_engine  := -Icommon -Iengine
INC_gate    := -Icommon -Igate
INC_compare := -Icommon -Icompare
INC_bench   := -Icommon -Iengine -Ibench/lib
INC_harness := -Icommon -Iengine -Icompare -Ibench/lib -Iharness
CPPFLAGS_ALL := -D_GNU_SOURCE
# The layer of a source file: its top folder (bench/lib/x.c -> bench).
layer_of = $(firstword $(subst /, ,$(1)))
CFLAGS_ALL   := -std=c11 -Wall -Wextra -Wpedantic $(WERROR) $(OPT_$(FLAVOR)) -MMD -MP $(CFLAGS)
LDFLAGS_ALL  := $(LDOPT_$(FLAVOR)) $(LDFLAGS)

LIBS_BLAS := -lopenblas
LIBS_SYS  := -lm -lpthread

COMMON_SRC  := $(sort $(wildcard common/*.c))
ENGINE_SRC  := $(sort $(wildcard engine/*.c))
GATE_SRC    := $(sort $(filter-out gate/main.c,$(wildcard gate/*.c)))
HARNESS_SRC := $(sort $(filter-out harness/main.c,$(wildcard harness/*.c)))
COMPARE_SRC := $(sort $(wildcard compare/*.c))
BENCH_SRC   := $(sort $(wildcard bench/lib/*.c))

obj = $(patsubst %.c,$(B)/obj/%.o,$(1))

LIB_COMMON  := $(B)/libkk_common.a
LIB_ENGINE  := $(B)/libkk_engine.a
LIB_GATE    := $(B)/libkk_gate.a
LIB_HARNESS := $(B)/libkk_harness.a
LIB_COMPARE := $(B)/libkk_compare.a
LIB_BENCH   := $(B)/libkk_bench.a

# What each group links (libraries in dependency order).
LINK_common  := $(LIB_COMMON) -lyaml $(LIBS_SYS)
LINK_gate    := $(LIB_GATE) $(LIB_COMMON) -lyaml $(LIBS_SYS)
LINK_engine  := $(LIB_ENGINE) $(LIB_COMMON) -lgsl $(LIBS_BLAS) $(LIBS_SYS)
LINK_compare := $(LIB_COMPARE) $(LIB_COMMON) -lyaml -lgsl $(LIBS_SYS)
LINK_harness := $(LIB_HARNESS) $(LIB_BENCH) $(LIB_COMPARE) $(LIB_ENGINE) $(LIB_COMMON) -lcjson -lyaml -lgsl $(LIBS_BLAS) $(LIBS_SYS)
DEPS_common  := $(LIB_COMMON)
DEPS_gate    := $(LIB_GATE) $(LIB_COMMON)
DEPS_engine  := $(LIB_ENGINE) $(LIB_COMMON)
DEPS_compare := $(LIB_COMPARE) $(LIB_COMMON)
DEPS_harness := $(LIB_HARNESS) $(LIB_BENCH) $(LIB_COMPARE) $(LIB_ENGINE) $(LIB_COMMON)

GROUPS := common gate engine compare harness
TEST_SRC  := $(sort $(wildcard $(foreach g,$(GROUPS),tests/$(g)/test_*.c)))
SLOW_SRC  := $(sort $(wildcard $(foreach g,$(GROUPS),tests/$(g)/slow_*.c)))
FUZZ_SRC  := $(sort $(wildcard $(foreach g,$(GROUPS),tests/fuzz/$(g)/fuzz_*.c)))
TEST_BIN  := $(patsubst tests/%.c,$(B)/tests/%,$(TEST_SRC))
SLOW_BIN  := $(patsubst tests/%.c,$(B)/tests/%,$(SLOW_SRC))
REPLAY_BIN := $(patsubst tests/fuzz/%.c,$(B)/replay/%,$(FUZZ_SRC))
FUZZ_BIN  := $(patsubst tests/fuzz/%.c,build/fuzz/fuzzers/%,$(FUZZ_SRC))

KAKEYA_FIXTURES ?= $(abspath ../shared/fixtures)
export KAKEYA_FIXTURES

# FORCE: fuzzers always re-link (the sub-make rebuilds their libraries
# incrementally), so a library change never leaves a stale fuzzer.
FORCE:
# FORCE is the first rule above: without this, a bare `make` built nothing.
.DEFAULT_GOAL := all
.PHONY: FORCE all test test-slow check fuzz fuzz-run bench deps help demo clean tests-build layers doclinks \
        cuda test-cuda cuda-build

all: bin/kakeya bin/kakeya-gate

# ---- objects and libraries ----------------------------------------------
$(B)/obj/%.o: %.c
	@mkdir -p $(dir $@)
	$(CC) $(CPPFLAGS_ALL) $(INC_$(call layer_of,$<)) $(CFLAGS_ALL) -c -o $@ $<

# `ar` with no members still writes a valid empty archive.
$(LIB_COMMON): $(call obj,$(COMMON_SRC))
	@mkdir -p $(dir $@); rm -f $@; ar rcs $@ $^
$(LIB_ENGINE): $(call obj,$(ENGINE_SRC))
	@mkdir -p $(dir $@); rm -f $@; ar rcs $@ $^
$(LIB_GATE): $(call obj,$(GATE_SRC))
	@mkdir -p $(dir $@); rm -f $@; ar rcs $@ $^
$(LIB_HARNESS): $(call obj,$(HARNESS_SRC))
	@mkdir -p $(dir $@); rm -f $@; ar rcs $@ $^
$(LIB_COMPARE): $(call obj,$(COMPARE_SRC))
	@mkdir -p $(dir $@); rm -f $@; ar rcs $@ $^
$(LIB_BENCH): $(call obj,$(BENCH_SRC))
	@mkdir -p $(dir $@); rm -f $@; ar rcs $@ $^

# ---- programs -------------------------------------------------------------
$(B)/kakeya: $(B)/obj/harness/main.o $(DEPS_harness)
	$(CC) $(LDFLAGS_ALL) -o $@ $< $(LINK_harness)
$(B)/kakeya-gate: $(B)/obj/gate/main.o $(DEPS_gate)
	$(CC) $(LDFLAGS_ALL) -o $@ $< $(LINK_gate)

bin/kakeya: $(B)/kakeya
	@mkdir -p bin; cp $< $@
bin/kakeya-gate: $(B)/kakeya-gate
	@mkdir -p bin; cp $< $@

# ---- tests ----------------------------------------------------------------
define group_rules
$(B)/tests/$(1)/%: tests/$(1)/%.c tests/test_util.h tests/test_proc.h $(DEPS_$(1))
	@mkdir -p $$(dir $$@)
	$$(CC) $$(CPPFLAGS_ALL) $$(INC_$(1)) -Itests $$(CFLAGS_ALL) $$(LDFLAGS_ALL) -o $$@ $$< $$(LINK_$(1)) -lcmocka
$(B)/replay/$(1)/%: tests/fuzz/$(1)/%.c tests/fuzz/replay_main.c $(DEPS_$(1))
	@mkdir -p $$(dir $$@)
	$$(CC) $$(CPPFLAGS_ALL) $$(INC_$(1)) -Itests $$(CFLAGS_ALL) $$(LDFLAGS_ALL) -o $$@ $$< tests/fuzz/replay_main.c $$(LINK_$(1))
build/fuzz/fuzzers/$(1)/%: tests/fuzz/$(1)/%.c FORCE
	@mkdir -p $$(dir $$@)
	$$(MAKE) --no-print-directory FLAVOR=fuzz CC=clang $$(patsubst $$(B)/%,build/fuzz/%,$$(DEPS_$(1)))
	clang $$(CPPFLAGS_ALL) $$(INC_$(1)) -Itests -std=c11 -g -O1 -fsanitize=fuzzer,address,undefined -o $$@ $$< \
	    $$(patsubst $$(B)/%,build/fuzz/%,$$(LINK_$(1)))
endef
$(foreach g,$(GROUPS),$(eval $(call group_rules,$(g))))

# Tests run the programs of their own flavor (build/<flavor>/kakeya), so
# `make check` never replaces the release binaries in bin/.
tests-build: $(TEST_BIN) $(REPLAY_BIN) $(B)/kakeya $(B)/kakeya-gate

test: layers doclinks tests-build
	@KK_BINS="$(TEST_BIN)" KK_REPLAYS="$(REPLAY_BIN)" sh tests/run.sh $(B) fast

test-slow: $(SLOW_BIN) $(B)/kakeya $(B)/kakeya-gate
	@KK_BINS="$(SLOW_BIN)" sh tests/run.sh $(B) slow

check:
	$(MAKE) --no-print-directory FLAVOR=asan test

# Every include of the layered folders stays in the layers its folder may
# use (docs/architecture.md, "Layers"); the self-test proves the check bites.
layers:
	@/usr/bin/python3 tests/layers.py --self-test
	@/usr/bin/python3 tests/layers.py

# Every relative link and anchor of README.md and docs/*.md resolves.
doclinks:
	@/usr/bin/python3 tests/doclinks.py --self-test
	@/usr/bin/python3 tests/doclinks.py

# ---- fuzzing (clang + libFuzzer) ------------------------------------------
fuzz: $(FUZZ_BIN)
	@echo "fuzzers built in build/fuzz/fuzzers/; run one with"
	@echo "  make fuzz-run NAME=fuzz_gguf SECONDS=600"

FUZZ_NAME_SRC = $(filter %/$(NAME).c,$(FUZZ_SRC))
fuzz-run: fuzz
	@test -n "$(FUZZ_NAME_SRC)" || { echo "fuzz-run: NAME must be one of: $(notdir $(basename $(FUZZ_SRC)))"; exit 3; }
	sh tests/fuzz/run.sh $(patsubst tests/fuzz/%.c,build/fuzz/fuzzers/%,$(FUZZ_NAME_SRC)) $(NAME) $(or $(SECONDS),600)

# ---- benchmarks -----------------------------------------------------------
bench: all
	@sh bench/run.sh

# ---- CUDA kernels on the CPU (no GPU needed) --------------------------------
# tests/cuda/kkcu_emu.h runs engine/cuda/kkcu_attn*.cu's kernels as fibers on
# the CPU (one per GPU thread): their indexing, barriers, shuffles and
# numerics, not their speed (docs/gpu.md). Needs g++ and
# engine/cuda/kkcu_decode.cuh; not part of `make test`.
CXX ?= g++
EMU_CXXFLAGS := -std=c++17 -O2 -g -fno-strict-aliasing -DKKCU_EMU -include tests/cuda/kkcu_emu.h \
    -Icommon -Iengine -Iengine/cuda -Itests/cuda -Wall -Wextra -Wno-unknown-pragmas $(WERROR)
EMU_CU  := engine/cuda/kkcu_attn.cu engine/cuda/kkcu_attn_ref.cu
EMU_SRC := $(EMU_CU) engine/cuda/kkcu_attn.h engine/cuda/kkcu_attn_internal.cuh \
    engine/cuda/kkcu_decode.cuh tests/cuda/kkcu_emu.h tests/cuda/kkcu_emu.cpp
build/emu/%: tests/cuda/%.cu $(EMU_SRC) $(DEPS_engine)
	@mkdir -p $(dir $@)
	$(CXX) $(EMU_CXXFLAGS) -o $@ -x c++ $(EMU_CU) $< -x none tests/cuda/kkcu_emu.cpp $(LINK_engine)
.PHONY: test-attn-emu
test-attn-emu: build/emu/test_cuda_attn
	KKCU_EMU_SMS=16 build/emu/test_cuda_attn --ctx 1,7,100,1000,4096

# ---- the reference engine ---------------------------------------------------
# llama.cpp's library from the npm package node-llama-cpp, built once into
# ${KAKEYA_CACHE:-$HOME/.cache/kakeya}/llama.cpp, and the drivers
# bench/llamacpp_{driver,logits,tokenize}.c against it (outside build/:
# `make all` never needs llama.cpp).
.PHONY: refengine
refengine:
	@sh bench/refengine.sh

# The llama.cpp driver of the engine-bench preset alone (build/bench/
# llamacpp_bench), against the refengine build; `make bench` builds it too.
.PHONY: bench-driver
bench-driver:
	@sh bench/llamacpp_bench_build.sh

# engine/unicode_data.c (committed) from npm's @unicode/unicode-15.1.0, the
# Unicode version of llama.cpp's table; bench/unicode_check.sh compares the
# two on every code point (needs make refengine).
UNICODE_PKG := $(or $(KAKEYA_CACHE),$(HOME)/.cache/kakeya)/npm/unicode-15.1.0
.PHONY: unicode-data
unicode-data:
	@mkdir -p $(UNICODE_PKG) && cd $(UNICODE_PKG) && \
	    { [ -f package/package.json ] || { npm pack --silent @unicode/unicode-15.1.0@2.0.7 >/dev/null && \
	      tar xzf unicode-unicode-15.1.0-2.0.7.tgz; }; }
	node bench/gen_unicode_data.mjs $(UNICODE_PKG)/package > engine/unicode_data.c.tmp
	mv engine/unicode_data.c.tmp engine/unicode_data.c

# ---- CUDA (`make cuda`, `make test-cuda`: never part of all or test) ----------
# engine/cuda/*.cu -> build/cuda/libkk_cuda.a (the layer engine/cuda: it
# includes engine/ and common/, nothing CPU-side includes it); the GPU tests
# tests/cuda/test_*.cu and the host tests tests/cuda/host_*.cu (kkcu's
# arithmetic on the CPU: no GPU needed), the benchmarks bench/cuda/*.cu,
# one binary each, linked with the CPU codecs they compare against.
# Exactness flags: no FMA contraction (the CPU build is C11, contraction
# off), IEEE division and square root, subnormals kept (docs/gpu.md).
# Without nvcc both targets say so and succeed (CI has no CUDA).
NVCC       ?= $(firstword $(shell command -v nvcc 2>/dev/null) $(wildcard /usr/local/cuda/bin/nvcc))
CUDA_ARCH  ?= -gencode arch=compute_90,code=sm_90 -gencode arch=compute_90,code=compute_90
NVCCFLAGS  := -O3 -std=c++17 -fmad=false -prec-div=true -prec-sqrt=true -ftz=false -lineinfo \
              $(CUDA_ARCH) -Xcompiler -Wall,-Wextra $(NVCCFLAGS_EXTRA)
CU         := build/cuda
INC_cuda   := -Icommon -Iengine -Iengine/cuda
CUDA_SRC       := $(sort $(wildcard engine/cuda/*.cu))
CUDA_TEST_SRC  := $(sort $(wildcard tests/cuda/test_*.cu))
CUDA_HOST_SRC  := $(sort $(wildcard tests/cuda/host_*.cu))
CUDA_BENCH_SRC := $(sort $(wildcard bench/cuda/*.cu))
CUDA_OBJ       := $(patsubst %.cu,$(CU)/obj/%.o,$(CUDA_SRC))
CUDA_TEST_BIN  := $(patsubst tests/cuda/%.cu,$(CU)/tests/%,$(CUDA_TEST_SRC))
CUDA_HOST_BIN  := $(patsubst tests/cuda/%.cu,$(CU)/tests/%,$(CUDA_HOST_SRC))
CUDA_BENCH_BIN := $(patsubst bench/cuda/%.cu,$(CU)/bench/%,$(CUDA_BENCH_SRC))
LIB_CUDA   := $(CU)/libkk_cuda.a
LINK_cuda  := $(LIB_CUDA) $(LIB_ENGINE) $(LIB_COMMON) -lgsl $(LIBS_BLAS) $(LIBS_SYS)
DEPS_cuda  := $(LIB_CUDA) $(LIB_ENGINE) $(LIB_COMMON)

cuda:
ifeq ($(NVCC),)
	@echo "cuda: nvcc not found (not on PATH, not /usr/local/cuda/bin/nvcc; set NVCC=): nothing built"
else
	@$(MAKE) --no-print-directory cuda-build
endif

cuda-build: $(LIB_CUDA) $(CUDA_TEST_BIN) $(CUDA_HOST_BIN) $(CUDA_BENCH_BIN) cuda-kakeya

$(CU)/obj/%.o: %.cu
	@mkdir -p $(dir $@)
	$(NVCC) $(INC_cuda) $(NVCCFLAGS) -MMD -MP -c -o $@ $<
$(LIB_CUDA): $(CUDA_OBJ)
	@mkdir -p $(dir $@); rm -f $@; ar rcs $@ $^
$(CU)/tests/%: tests/cuda/%.cu $(DEPS_cuda)
	@mkdir -p $(dir $@)
	$(NVCC) $(INC_cuda) -Itests/cuda -Itests $(NVCCFLAGS) -MMD -MP $(LDFLAGS) -o $@ $< $(LINK_cuda)
$(CU)/bench/%: bench/cuda/%.cu $(DEPS_cuda)
	@mkdir -p $(dir $@)
	$(NVCC) $(INC_cuda) $(NVCCFLAGS) -MMD -MP $(LDFLAGS) -o $@ $< $(LINK_cuda)

# bin/kakeya with the GPU commands (`codec eval --device cuda`, `codec attn`,
# the codec_gpu kind; docs/gpu.md): harness/ compiled again with -DKK_CUDA
# into build/cuda/obj/harness, linked with libkk_cuda.a and the CUDA runtime
# (static: the binary needs only the driver's libcuda.so). `make cuda` puts
# it in bin/kakeya; `make test` runs build/release/kakeya, never this one.
CUDA_HOME        ?= $(patsubst %/bin/nvcc,%,$(NVCC))
LIBS_CUDART      := -L$(CUDA_HOME)/lib64 -lcudart_static -ldl -lrt -lstdc++
HARNESS_CUDA_OBJ := $(patsubst %.c,$(CU)/obj/%.o,$(HARNESS_SRC))
.PHONY: cuda-kakeya
$(CU)/obj/harness/%.o: harness/%.c
	@mkdir -p $(dir $@)
	$(CC) $(CPPFLAGS_ALL) -DKK_CUDA $(INC_harness) $(CFLAGS_ALL) -c -o $@ $<
$(CU)/libkk_harness.a: $(HARNESS_CUDA_OBJ)
	@mkdir -p $(dir $@); rm -f $@; ar rcs $@ $^
$(CU)/kakeya: $(CU)/obj/harness/main.o $(CU)/libkk_harness.a $(LIB_BENCH) $(LIB_COMPARE) $(DEPS_cuda)
	$(CC) $(LDFLAGS_ALL) -o $@ $< $(CU)/libkk_harness.a $(LIB_BENCH) $(LIB_COMPARE) $(LIB_CUDA) \
	    $(LIB_ENGINE) $(LIB_COMMON) -lcjson -lyaml -lgsl $(LIBS_BLAS) $(LIBS_CUDART) $(LIBS_SYS)
cuda-kakeya: $(CU)/kakeya
	@mkdir -p bin; cp $< bin/kakeya; echo "cuda: bin/kakeya is $(CU)/kakeya (with CUDA)"

# The host tests run wherever nvcc is; the GPU tests where nvidia-smi sees
# a GPU (tests/cuda/run.sh says which ran).
test-cuda:
ifeq ($(NVCC),)
	@echo "test-cuda: nvcc not found: no CUDA test built or run"
else
	@$(MAKE) --no-print-directory cuda-build
	@KK_HOST_BINS="$(CUDA_HOST_BIN)" KK_GPU_BINS="$(CUDA_TEST_BIN)" sh tests/cuda/run.sh
endif

# The codec kernels' own source on the CPU (tests/cuda/emu/cuda_runtime.h:
# a thread per CUDA thread, barriers, shuffles), no nvcc or GPU needed: the
# GPU codec test at 4 Ki values a call, every spec and kernel family (a few
# minutes on 2 cores). Only the sources the emulator models are listed.
CUDA_EMU_SRC := engine/cuda/kkcu_codec.cu engine/cuda/kkcu_kernels.cu
CUDA_EMU_BIN := build/cuda-emu/test_cuda_codecs
CXX_EMU      ?= g++
$(CUDA_EMU_BIN): $(CUDA_EMU_SRC) tests/cuda/test_cuda_codecs.cu $(wildcard engine/cuda/*.cuh engine/cuda/*.h tests/cuda/*.cuh tests/cuda/emu/*.h) $(LIB_ENGINE) $(LIB_COMMON)
	@mkdir -p $(dir $@)
	$(CXX_EMU) -std=c++17 -O2 -g -Wall -Wextra -Wno-unknown-pragmas -DKKCU_EMU -DKKCU_NT=64 -DKKCU_FAST_WPB=2 \
	    -x c++ -include tests/cuda/emu/cuda_runtime.h -Itests/cuda/emu $(INC_cuda) -Itests/cuda \
	    $(CUDA_EMU_SRC) tests/cuda/test_cuda_codecs.cu -x none $(LDFLAGS) -o $@ $(LIB_ENGINE) $(LIB_COMMON) \
	    -lgsl $(LIBS_BLAS) $(LIBS_SYS)
.PHONY: test-cuda-emu
test-cuda-emu: $(CUDA_EMU_BIN)
	KKCU_TEST_QUICK=1 $(CUDA_EMU_BIN)

# ---- set-up ---------------------------------------------------------------
# Debian packages: build (openblas, cjson, gsl, yaml, cmocka), fuzzing (clang,
# libclang-rt-14-dev: only a recommendation of clang), test-only Python and
# rsvg-convert (the compare test renders its SVG to PNG).
DEB_PKGS := libopenblas-dev libcjson-dev libgsl-dev libyaml-dev libcmocka-dev \
            clang libclang-rt-14-dev python3-jsonschema python3-numpy pkg-config \
            librsvg2-bin
deps:
	@missing=""; for p in $(DEB_PKGS); do \
	    dpkg-query -W -f='$${Status}' $$p 2>/dev/null | grep -q 'ok installed' || missing="$$missing $$p"; \
	done; \
	if [ -n "$$missing" ]; then \
	    echo "deps: installing$$missing"; \
	    apt-get update && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends $$missing; \
	else echo "deps: all present"; fi

# The README's main job on the built-in default (no download).
demo: all
	@sh tests/demo.sh

clean:
	rm -rf build bin

help:
	@echo "kakeya make targets:"
	@echo "  all        build bin/kakeya and bin/kakeya-gate (default)"
	@echo "  test       build and run every fast cmocka test and the fuzz corpus replay (<10 min)"
	@echo "  test-slow  the slow tests (long contexts, llama.cpp cross-checks)"
	@echo "  layers     check that every include stays in its folder's allowed layers (make test runs it)"
	@echo "  doclinks   check the relative links of README.md and docs/*.md (make test runs it)"
	@echo "  check      the tests under ASan+UBSan (-fno-sanitize-recover=all), in build/asan"
	@echo "  fuzz       build the libFuzzer targets (clang); fuzz-run NAME=... SECONDS=..."
	@echo "  bench      benchmarks against references measured in the same run"
	@echo "  cuda       build/cuda: libkk_cuda.a, the CUDA tests and benchmarks, and bin/kakeya with"
	@echo "             the GPU commands (needs nvcc; else says so)"
	@echo "  test-cuda  the CUDA host tests, and the GPU tests where a GPU is found"
	@echo "  test-cuda-emu  the GPU codec test on the CPU emulator of CUDA (g++, no GPU; minutes)"
	@echo "  deps       apt-get install the Debian packages that are missing"
	@echo "  refengine  build llama.cpp's library (npm node-llama-cpp) and the driver, once"
	@echo "  bench-driver  build/bench/llamacpp_bench (engine-bench preset's llama.cpp side), after refengine"
	@echo "  unicode-data  regenerate engine/unicode_data.c from npm's @unicode/unicode-15.1.0"
	@echo "  test-attn-emu  engine/cuda's attention kernels on the CPU emulator (g++, no GPU)"
	@echo "  demo       the README's main job on the built-in default"
	@echo "  clean      remove build/ and bin/"
	@echo "variables: FLAVOR=release|asan|fuzz  WERROR=-Werror  KAKEYA_FIXTURES=$(KAKEYA_FIXTURES)"

# objects' and test binaries' header dependencies (a test helper header
# rebuilds the tests that include it)
-include $(shell find build/$(FLAVOR)/obj build/$(FLAVOR)/tests -name '*.d' 2>/dev/null)
-include $(shell find build/cuda -name '*.d' 2>/dev/null)
