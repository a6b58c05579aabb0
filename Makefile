# Thin wrapper over CMake. `make run` and `make test` install what is missing first.
BUILD ?= build
PORT ?= 3000
FUZZ_RUNS ?= 50000
CMAKE_FLAGS ?=

.PHONY: all deps build run test asan fuzz clean

all: build

deps:
	@scripts/install-deps.sh

build: deps
	@cmake -S . -B $(BUILD) -G Ninja $(CMAKE_FLAGS) >/dev/null
	@cmake --build $(BUILD)

run: build
	./$(BUILD)/flowrun serve flows/chat.yaml --port $(PORT)

test: build
	ctest --test-dir $(BUILD) --output-on-failure -j2

asan:
	@$(MAKE) test BUILD=build-asan CMAKE_FLAGS="-DFLOWRUN_SANITIZE=ON -DCMAKE_BUILD_TYPE=Debug"

# libFuzzer targets (fuzz/) built with clang, each run FUZZ_RUNS times over a copy of its corpus.
fuzz:
	@scripts/install-deps.sh fuzz
	@CC=clang CXX=clang++ cmake -S . -B build-fuzz -G Ninja -DFLOWRUN_FUZZ=ON >/dev/null
	@cmake --build build-fuzz
	@fuzz/run-fuzzers.sh build-fuzz $(FUZZ_RUNS)

clean:
	rm -rf build build-asan build-fuzz

# Benchmark harness (bench/README.md): builds flowrun and the bench tools, runs
# every scenario, prints the table and writes bench/results/latest.json.
.PHONY: bench
bench: build
	@cmake -S bench -B $(BUILD)/bench -G Ninja -DCMAKE_BUILD_TYPE=Release >/dev/null
	@cmake --build $(BUILD)/bench -j 2
	@bench/run.sh $(BUILD)

# Browser and scale-out tests (tests/e2e/README.md): the playground in Debian's headless
# Chromium via playwright-core, and nginx (examples/nginx/flowrun.conf) in front of two replicas.
.PHONY: e2e
e2e: build
	@scripts/install-e2e-deps.sh
	@tests/e2e/run.sh $(BUILD)
