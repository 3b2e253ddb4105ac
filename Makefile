# A thin wrapper over meson; every target installs what is missing first.
#   make run    builds the server alone (no test-only packages) and starts it with a demo
#   make test   installs the test packages, builds everything and runs every test
BUILD ?= build
SKED_DATA ?= var
SKED_LISTEN ?= 127.0.0.1:8080
MESON_OPTS ?=

.PHONY: all build run test bench clean deps test-deps

all: build

deps:
	@scripts/install-deps

test-deps:
	@scripts/install-deps --test

# Configured with -Dtests=auto: the unit tests are built once cmocka is there.
$(BUILD)/build.ninja:
	meson setup $(BUILD) $(MESON_OPTS)

build: deps $(BUILD)/build.ninja
	ninja -C $(BUILD)

run: deps $(BUILD)/build.ninja
	ninja -C $(BUILD) sked
	$(BUILD)/sked serve --data-dir $(SKED_DATA) --listen $(SKED_LISTEN) --demo

# A build directory that `make run` configured before cmocka was installed is
# configured again with the unit tests required.
test: test-deps $(BUILD)/build.ninja
	@meson configure $(BUILD) -Dtests=enabled >/dev/null
	@scripts/test $(BUILD)

bench: deps $(BUILD)/build.ninja
	bench/run $(BENCH_ARGS)

clean:
	rm -rf $(BUILD) build-*
