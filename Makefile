# mlcanary: `make demo` and `make test` do all the set-up on a fresh Debian 12.
BUILD_DIR ?= build
BUILD_TYPE ?= RelWithDebInfo
JOBS ?= $(shell nproc)
# CI builds with warnings as errors.
WERROR ?= $(if $(CI),ON,OFF)
MLCANARY := $(BUILD_DIR)/apps/mlcanary/mlcanary
# Sanitizer builds, each in its own directory (ccache shares what it can).
ASAN_DIR ?= build-asan
FUZZ_DIR ?= build-fuzz
FUZZ_CXX ?= clang++-19
FUZZ_SECONDS ?= 60
# The unit tests (C++, label "unit"): not the python integration, browser or
# moto-backed tests.
ASAN_ENV := ASAN_OPTIONS=detect_leaks=1 \
            UBSAN_OPTIONS=halt_on_error=1:print_stacktrace=1

.PHONY: all deps configure build test demo bench format clean test-asan fuzz-build fuzz fuzz-ci

all: build

deps:
	@scripts/install-deps

$(BUILD_DIR)/build.ninja: CMakeLists.txt
	cmake -S . -B $(BUILD_DIR) -G Ninja -DCMAKE_BUILD_TYPE=$(BUILD_TYPE) -DMLCANARY_WERROR=$(WERROR)

configure: deps $(BUILD_DIR)/build.ninja

build: configure
	cmake --build $(BUILD_DIR) -j $(JOBS)

test: build
	ctest --test-dir $(BUILD_DIR) --output-on-failure -j $(JOBS) --timeout 600

demo: build
	@scripts/demo $(MLCANARY)

bench: build
	@scripts/bench $(BUILD_DIR)

# ASan + UBSan (gcc) build of the unit tests.
$(ASAN_DIR)/build.ninja: CMakeLists.txt
	cmake -S . -B $(ASAN_DIR) -G Ninja -DCMAKE_BUILD_TYPE=$(BUILD_TYPE) -DMLCANARY_WERROR=$(WERROR) \
	      -DMLCANARY_ASAN=ON

test-asan: deps $(ASAN_DIR)/build.ninja
	cmake --build $(ASAN_DIR) -j $(JOBS)
	$(ASAN_ENV) ctest --test-dir $(ASAN_DIR) -L unit --output-on-failure -j $(JOBS) --timeout 600

# libFuzzer targets (clang 19, ASan + UBSan), run FUZZ_SECONDS each (fuzz/README.md).
$(FUZZ_DIR)/build.ninja: CMakeLists.txt
	cmake -S . -B $(FUZZ_DIR) -G Ninja -DCMAKE_BUILD_TYPE=$(BUILD_TYPE) -DMLCANARY_WERROR=$(WERROR) \
	      -DCMAKE_CXX_COMPILER=$(FUZZ_CXX) -DMLCANARY_FUZZ=ON

fuzz-build: deps $(FUZZ_DIR)/build.ninja
	cmake --build $(FUZZ_DIR) -j $(JOBS) --target fuzz_targets

fuzz: fuzz-build
	BUILD_DIR=$(FUZZ_DIR) FUZZ_SECONDS=$(FUZZ_SECONDS) fuzz/run

# The CI's short run: 20 s a target.
fuzz-ci:
	$(MAKE) fuzz FUZZ_SECONDS=20

format:
	git ls-files '*.h' '*.cc' | xargs clang-format -i

clean:
	rm -rf $(BUILD_DIR) $(ASAN_DIR) $(FUZZ_DIR)
