# A thin wrapper over meson; every target installs what is missing first.
BUILD ?= build
SKED_DATA ?= var
MESON_OPTS ?=

.PHONY: all build run test bench clean deps test-deps

all: build

deps:
	@scripts/install-deps

test-deps:
	@scripts/install-deps --test

$(BUILD)/build.ninja:
	meson setup $(BUILD) $(MESON_OPTS)

build: deps $(BUILD)/build.ninja
	ninja -C $(BUILD)

run: build
	$(BUILD)/sked serve --data-dir $(SKED_DATA) --demo

test: test-deps $(BUILD)/build.ninja
	@scripts/test $(BUILD)

bench: build
	bench/run $(BENCH_ARGS)

clean:
	rm -rf $(BUILD) build-*
