# libcriu-rs: a Rust libcriu.so.2.
#
#   make demo    build everything (CRIU too, if missing), then checkpoint and
#                restore a demo process through our library
#   make test    every test: Rust tests, header freshness, the differential
#                test against upstream libcriu, the upstream libcriu suite,
#                the examples
#   make install PREFIX=/usr/local
#
# Build products go to build/; the CRIU used by the tests is described by
# build/criu-env (CRIU_BIN, CRIU_SRC), written by scripts/install-criu.

PREFIX     ?= /usr/local
LIBDIR     ?= $(PREFIX)/lib
INCLUDEDIR ?= $(PREFIX)/include
CARGO      ?= cargo
VERSION    := 4.1.1

BUILD   := build
LIB     := $(BUILD)/lib/libcriu.so.2
HEADER  := include/criu.h
RUST_SRC := $(shell find src proto -type f) Cargo.toml Cargo.lock build.rs

.PHONY: all lib criu demo test test-rust test-header test-diff test-upstream test-examples \
        header install clean

all: lib

$(BUILD)/criu-env: scripts/install-criu
	@mkdir -p $(BUILD)
	scripts/install-criu > $@.tmp && mv $@.tmp $@

criu: $(BUILD)/criu-env
	@cat $<

target/release/libcriu.so: $(RUST_SRC)
	$(CARGO) build --release --locked

$(LIB): target/release/libcriu.so
	@mkdir -p $(dir $@)
	cp $< $@
	ln -sf libcriu.so.2 $(BUILD)/lib/libcriu.so

lib: $(LIB)

header:
	UPDATE_HEADER=1 $(CARGO) test --locked --test header

demo: lib $(BUILD)/criu-env
	scripts/demo $(BUILD)/criu-env

test: test-rust test-header test-diff test-upstream test-examples

test-rust: $(BUILD)/criu-env
	. ./$(BUILD)/criu-env && CRIU_BIN=$$CRIU_BIN $(CARGO) test --locked --lib --tests

test-header:
	$(CARGO) test --locked --test header

test-diff: lib $(BUILD)/criu-env
	tests/differential/run $(BUILD)/criu-env

test-upstream: lib $(BUILD)/criu-env
	tests/upstream/run $(BUILD)/criu-env

test-examples: lib $(BUILD)/criu-env
	tests/examples/run $(BUILD)/criu-env

$(BUILD)/criu.pc: criu.pc.in
	@mkdir -p $(BUILD)
	sed -e 's|@PREFIX@|$(PREFIX)|; s|@LIBDIR@|$(LIBDIR)|; s|@INCLUDEDIR@|$(INCLUDEDIR)|; s|@VERSION@|$(VERSION)|' $< > $@

install: lib $(BUILD)/criu.pc
	install -D -m 0755 $(LIB) $(DESTDIR)$(LIBDIR)/libcriu.so.2
	ln -sf libcriu.so.2 $(DESTDIR)$(LIBDIR)/libcriu.so
	install -D -m 0644 $(HEADER) $(DESTDIR)$(INCLUDEDIR)/criu/criu.h
	install -D -m 0644 $(BUILD)/criu.pc $(DESTDIR)$(LIBDIR)/pkgconfig/criu.pc

clean:
	rm -rf $(BUILD)
	$(CARGO) clean
