# A thin wrapper over meson; every target installs what is missing first.
#   make run    builds the server alone (no test-only packages) and starts it with a demo
#   make test   installs the test packages, builds everything and runs every test
#               (the fuzz targets' corpora replayed, the unit tests under valgrind too)
#   make fuzz   installs clang and libFuzzer, builds the fuzz targets in build-fuzz and
#               runs each for FUZZ_SECONDS (60); FUZZ_TARGETS="rrule cron" picks some,
#               FUZZ_MERGE=1 adds new inputs to tests/fuzz/corpus (docs/internals.md)
#   make install  builds with the man pages and installs (meson install) under $(prefix),
#               into $(DESTDIR) when set: make install DESTDIR=/tmp/stage prefix=/usr
BUILD ?= build
prefix ?= /usr/local
DESTDIR ?=
SKED_DATA ?= var
SKED_LISTEN ?= 127.0.0.1:8080
MESON_OPTS ?=

.PHONY: all build run test install bench clean deps test-deps install-deps fuzz fuzz-deps

all: build

deps:
	@scripts/install-deps

test-deps:
	@scripts/install-deps --test

install-deps:
	@scripts/install-deps --install

fuzz-deps:
	@scripts/install-deps --fuzz

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
	@meson configure $(BUILD) -Dtests=enabled -Dman=enabled >/dev/null
	@scripts/test $(BUILD)

# The man pages need scdoc (install-deps --install); a build directory `make run`
# configured is configured again with them and the prefix.
install: install-deps $(BUILD)/build.ninja
	@meson configure $(BUILD) -Dman=enabled -Dprefix=$(prefix) >/dev/null
	ninja -C $(BUILD)
	DESTDIR="$(DESTDIR)" meson install -C $(BUILD) --no-rebuild

# its own build directory (clang, -fsanitize=fuzzer,address,undefined): scripts/fuzz
fuzz: fuzz-deps
	@scripts/fuzz

bench: deps $(BUILD)/build.ninja
	bench/run $(BENCH_ARGS)

clean:
	rm -rf $(BUILD) build-*
