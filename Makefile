# Thin wrapper over CMake. `make run` and `make test` install what is missing first.
BUILD ?= build
PORT ?= 3000
FUZZ_RUNS ?= 50000
CMAKE_FLAGS ?=

.PHONY: all deps build run test asan tsan fuzz clean

all: build

deps:
	@scripts/install-deps.sh

build: deps
	@cmake -S . -B $(BUILD) -G Ninja $(CMAKE_FLAGS) >/dev/null
	@cmake --build $(BUILD)

run: build
	./$(BUILD)/flowrun serve flows --port $(PORT)

test: build
	ctest --test-dir $(BUILD) --output-on-failure -j2

asan:
	@$(MAKE) test BUILD=build-asan CMAKE_FLAGS="-DFLOWRUN_SANITIZE=ON -DCMAKE_BUILD_TYPE=Debug"

# ThreadSanitizer. Every process the tests start writes its reports to
# build-tsan/tsan-reports (tests/CMakeLists.txt sets TSAN_OPTIONS, with
# tests/tsan.supp); any report there fails the run, after it is printed.
tsan:
	@$(MAKE) build BUILD=build-tsan CMAKE_FLAGS="-DFLOWRUN_TSAN=ON"
	@rm -rf build-tsan/tsan-reports && mkdir -p build-tsan/tsan-reports
	@ctest --test-dir build-tsan --output-on-failure -j2; status=$$?; \
	  reports=$$(ls build-tsan/tsan-reports); \
	  if [ -n "$$reports" ]; then \
	    for report in $$reports; do echo "== build-tsan/tsan-reports/$$report"; cat build-tsan/tsan-reports/$$report; done; \
	    echo "ThreadSanitizer: $$(echo $$reports | wc -w) process(es) reported, see above"; exit 1; \
	  fi; \
	  exit $$status

# libFuzzer targets (fuzz/) built with clang, each run FUZZ_RUNS times over a copy of its corpus.
fuzz:
	@scripts/install-deps.sh fuzz
	@CC=clang CXX=clang++ cmake -S . -B build-fuzz -G Ninja -DFLOWRUN_FUZZ=ON >/dev/null
	@cmake --build build-fuzz
	@fuzz/run-fuzzers.sh build-fuzz $(FUZZ_RUNS)

clean:
	rm -rf build build-asan build-tsan build-fuzz

# Benchmark harness (bench/README.md): builds flowrun and the bench tools, runs
# every scenario, prints the table and writes bench/results/latest.json.
.PHONY: bench
bench: build
	@cmake --build $(BUILD) --target flowrun_runner_bench -j 2
	@cmake -S bench -B $(BUILD)/bench -G Ninja -DCMAKE_BUILD_TYPE=Release >/dev/null
	@cmake --build $(BUILD)/bench -j 2
	@bench/run.sh $(BUILD)

# Browser, scale-out and SDK tests (tests/e2e/README.md): the playground in Debian's headless
# Chromium via playwright-core, nginx (examples/nginx/flowrun.conf) in front of two replicas,
# and the official openai npm SDK against /v1.
.PHONY: e2e
e2e: build
	@scripts/install-e2e-deps.sh
	@tests/e2e/run.sh $(BUILD)
