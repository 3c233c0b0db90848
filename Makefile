# tocsin front door. The two commands that matter: `make demo` and `make test`.
# Everything below installs what is missing on a Debian machine, then builds with CMake.

JOBS      ?= $(shell nproc 2>/dev/null || echo 2)
BUILD     ?= build
ASAN      ?= build-asan
SUDO      := $(shell [ "$$(id -u)" = 0 ] || echo sudo)

# Debian packages the build, the tests and the demo need.
DEB_PKGS := build-essential cmake pkg-config \
	liblua5.4-dev lua5.4 libuv1-dev libhiredis-dev libjansson-dev libcurl4-openssl-dev \
	libssl-dev libhttp-parser-dev libcmocka-dev zlib1g-dev \
	redis-server redis-tools curl python3 clang lua-check

FUZZ      ?= build-fuzz
FUZZ_SECONDS ?= 10

.PHONY: all deps test-deps browser-deps bench-deps build build-asan fuzz lint bench test test-fast demo clean format help

all: build

help:
	@echo "make demo    install what is missing, build, run a real incident end to end"
	@echo "make test    install what is missing, build (plain + ASan/UBSan), run every test"
	@echo "make deps    install missing Debian packages"
	@echo "make browser-deps  Chromium, Node.js and tests/browser's npm packages (the web page's test)"
	@echo "make test-deps     Debian's prometheus, for promtool (the metrics and dashboard checks)"
	@echo "make build   build ./$(BUILD)/tocsin"
	@echo "make bench   run the benchmarks (figures beside their references)"
	@echo "make format  clang-format the C sources"

deps:
	@missing=""; for p in $(DEB_PKGS); do \
	  dpkg-query -W -f='$${Status}' $$p 2>/dev/null | grep -q "install ok installed" || missing="$$missing $$p"; \
	done; \
	if [ -n "$$missing" ]; then \
	  echo "deps: installing$$missing"; \
	  $(SUDO) env DEBIAN_FRONTEND=noninteractive apt-get update -qq && \
	  $(SUDO) env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends $$missing; \
	else echo "deps: all $(words $(DEB_PKGS)) packages present"; fi

# What only the tests need: promtool (Debian's prometheus) checks /metrics and the Grafana
# dashboard's queries (tests/integration/test_metrics_grafana.sh). Not needed by make demo.
TEST_PKGS := prometheus

test-deps:
	@missing=""; for p in $(TEST_PKGS); do \
	  dpkg-query -W -f='$${Status}' $$p 2>/dev/null | grep -q "install ok installed" || missing="$$missing $$p"; \
	done; \
	if [ -n "$$missing" ]; then \
	  echo "test-deps: installing$$missing"; \
	  $(SUDO) env DEBIAN_FRONTEND=noninteractive apt-get update -qq && \
	  $(SUDO) env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends $$missing; \
	fi

# The web page's browser test (tests/integration/test_web.sh): Debian's chromium, Node.js and npm
# (a node that already has npm is kept), then the pinned playwright-core from tests/browser's lock
# file, installed again when the lock file is newer than node_modules. Not needed by make demo.
BROWSER_DIR := tests/browser

browser-deps: $(BROWSER_DIR)/node_modules/.package-lock.json

$(BROWSER_DIR)/node_modules/.package-lock.json: $(BROWSER_DIR)/package-lock.json $(BROWSER_DIR)/package.json
	@missing=""; \
	dpkg-query -W -f='$${Status}' chromium 2>/dev/null | grep -q "install ok installed" || missing="chromium"; \
	command -v node >/dev/null 2>&1 || missing="$$missing nodejs"; \
	command -v npm >/dev/null 2>&1 || missing="$$missing npm"; \
	if [ -n "$$missing" ]; then \
	  echo "browser-deps: installing$$missing"; \
	  $(SUDO) env DEBIAN_FRONTEND=noninteractive apt-get update -qq && \
	  $(SUDO) env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends $$missing; \
	fi
	npm ci --prefix $(BROWSER_DIR) --no-audit --no-fund
	@touch $@

$(BUILD)/Makefile:
	cmake -S . -B $(BUILD) -DCMAKE_BUILD_TYPE=RelWithDebInfo

$(ASAN)/Makefile:
	cmake -S . -B $(ASAN) -DCMAKE_BUILD_TYPE=Debug -DTN_SANITIZE=ON

build: deps $(BUILD)/Makefile
	cmake --build $(BUILD) -j $(JOBS)

build-asan: deps $(ASAN)/Makefile
	cmake --build $(ASAN) -j $(JOBS)

# Plain build first, then the same tests under AddressSanitizer + UndefinedBehaviorSanitizer,
# then each libFuzzer target for FUZZ_SECONDS when clang is present. The browser test
# (test_web.sh) needs browser-deps.
test: build build-asan lint test-deps browser-deps
	cd $(BUILD) && ctest --output-on-failure -j $(JOBS)
	cd $(ASAN) && ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 \
	  UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 ctest --output-on-failure -j $(JOBS)
	@$(MAKE) --no-print-directory fuzz

# Lua scripts: luacheck; C sources: clang-format (config in .clang-format) must have nothing to change.
lint: deps
	luacheck --no-color --quiet rules runbooks chatops $$(ls lua/*.lua lua/*/*.lua 2>/dev/null)
	clang-format --dry-run -Werror src/*/*.c src/*/*.h tests/unit/*/*.c tests/unit/*.h tests/fuzz/*.c

fuzz: deps
	@if command -v clang >/dev/null 2>&1; then \
	  cmake -S . -B $(FUZZ) -DCMAKE_C_COMPILER=clang -DCMAKE_BUILD_TYPE=Debug -DTN_FUZZ=ON \
	    -DTN_FUZZ_SECONDS=$(FUZZ_SECONDS) >/dev/null && \
	  cmake --build $(FUZZ) -j $(JOBS) && \
	  cd $(FUZZ) && ctest --output-on-failure -j $(JOBS); \
	else echo "fuzz: clang not found, fuzz targets skipped"; fi

test-fast: build
	cd $(BUILD) && ctest --output-on-failure -j $(JOBS)

# Benchmarks print their figures beside a reference measured in the same run.
# The references the benchmarks compare with (numpy's rolling z-score); not needed by make test.
BENCH_PKGS := python3-numpy

bench-deps:
	@missing=""; for p in $(BENCH_PKGS); do \
	  dpkg-query -W -f='$${Status}' $$p 2>/dev/null | grep -q "install ok installed" || missing="$$missing $$p"; \
	done; \
	if [ -n "$$missing" ]; then \
	  echo "bench-deps: installing$$missing"; \
	  $(SUDO) env DEBIAN_FRONTEND=noninteractive apt-get update -qq && \
	  $(SUDO) env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends $$missing; \
	fi

bench: build bench-deps
	$(BUILD)/tests/bench_rules
	python3 tests/bench/bench_reload.py --tocsin $(BUILD)/tocsin
	python3 tests/bench/bench_first_path.py --tocsin $(BUILD)/tocsin
	$(BUILD)/tests/bench_parse
	python3 tests/bench/bench_ingest.py --tocsin $(BUILD)/tocsin
	$(BUILD)/tests/bench_detect
	$(BUILD)/tests/bench_iforest

demo: build
	bash examples/demo/run.sh $(BUILD)/tocsin

format:
	clang-format -i src/*/*.c src/*/*.h tests/unit/*/*.c tests/unit/*.h tests/fuzz/*.c

clean:
	rm -rf $(BUILD) $(ASAN) $(FUZZ)
