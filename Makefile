# libcriu-rs: a Rust libcriu.so.2.
#
#   make demo    build everything (CRIU too, if missing), then checkpoint and
#                restore a demo process through our library
#   make test    every test: fmt and clippy, Rust tests, header freshness
#                and names, no criu_* export outside the C library, the differential
#                test against upstream libcriu, the upstream libcriu suite,
#                the examples, the C tests, hostile input/faults/threads,
#                the Python module (from its wheel), its pycriu face
#                beside upstream pycriu (differential), CRIU's zdtm suite
#                through libcriu.pycriu, every CRIU image against upstream crit,
#                rust-criu 0.6.1's own tests against compat/rust-criu
#   make test-youki  youki 0.7.0 built on compat/rust-criu checkpoints a
#                busybox container (slow: two youki builds; not in make test)
#   make wheel   the Python module as an abi3 manylinux wheel (build/wheels/)
#   make bench   ours beside upstream libcriu, interleaved, as ratios
#                (bench/results/; never part of make test; needs root)
#   make install PREFIX=/usr/local
#
# Build products go to build/; the CRIU used by the tests is described by
# build/criu-env (CRIU_BIN, CRIU_SRC, CRIU_OLD_BIN, CRIU_OLD_SRC), written by
# scripts/install-criu.

PREFIX     ?= /usr/local
LIBDIR     ?= $(PREFIX)/lib
INCLUDEDIR ?= $(PREFIX)/include
LIBEXECDIR ?= $(PREFIX)/libexec
BINDIR     ?= $(PREFIX)/bin
CARGO      ?= cargo

BUILD   := build
LIB     := $(BUILD)/lib/libcriu.so.2
HEADER  := include/criu.h
# The libcriu release we provide, as the generated header announces it.
VERSION := $(shell sed -n 's/^\#define CRIU_VERSION "\(.*\)"$$/\1/p' $(HEADER))
# The core (crates/criu, with its schemas in proto/) and the C ABI
# (crates/libcriu), members of the workspace of Cargo.toml.
RUST_SRC := $(shell find crates -type f) Cargo.toml Cargo.lock

.PHONY: FORCE all deps lib criu demo test test-lint test-rust test-header test-exports test-diff test-upstream test-install test-examples test-c test-python test-pycriu-diff test-hostile test-images test-rust-criu test-youki fuzz \
        header install clean bench wheel test-zdtm

all: lib

# Nothing installed or cached is taken on trust: both scripts run at every
# make, check what is there (packages, CRIU trees) and install or rebuild
# what is missing or unfinished, quickly when all is in place. The files
# they leave change only when their content does, so nothing that depends
# on them is remade for nothing.
FORCE:

# Debian packages the build needs (protoc-c, protobuf-c, gcc, tini).
$(BUILD)/.deps: FORCE
	@mkdir -p $(BUILD)
	@scripts/install-deps
	@[ -f $@ ] || touch $@

deps: $(BUILD)/.deps

# The CRIU trees in the cache (CRIU_CACHE, by default ~/.cache/libcriu-rs).
$(BUILD)/criu-env: FORCE
	@mkdir -p $(BUILD)
	@scripts/install-criu > $@.tmp
	@if cmp -s $@.tmp $@; then rm $@.tmp; else mv $@.tmp $@; fi

criu: $(BUILD)/criu-env
	@cat $<

# libcriu.so and libcriu.a (crates/libcriu), and the tools of crates/criu
# (criu-image, criu-externals, criu-tmpfiles-hook).
target/release/libcriu.so: $(RUST_SRC) $(BUILD)/.deps
	$(CARGO) build --release --locked -p libcriu -p criu --features libcriu/protobuf-c

$(LIB): target/release/libcriu.so
	@mkdir -p $(dir $@)
	cp $< $@
	ln -sf libcriu.so.2 $(BUILD)/lib/libcriu.so

lib: $(LIB)

header:
	UPDATE_HEADER=1 $(CARGO) test --locked -p libcriu --test header header_is_fresh

demo: lib $(BUILD)/criu-env
	scripts/demo $(BUILD)/criu-env

test: test-lint test-rust test-header test-exports test-diff test-upstream test-install test-examples test-c test-hostile test-python test-pycriu-diff test-zdtm test-images test-rust-criu

# Fails when a test file ran no test; lists every test that skipped itself, with why.
test-rust: $(BUILD)/criu-env
	CARGO=$(CARGO) tests/rust/run $(BUILD)/criu-env
	$(CARGO) test --locked -p criu --doc

# Formatting and clippy over every crate of the workspace, warnings denied;
# the core's API docs build without a warning (no broken intra-doc link).
test-lint: $(BUILD)/.deps
	$(CARGO) fmt --all --check
	$(CARGO) clippy --locked --workspace --all-targets -- -D warnings
	RUSTDOCFLAGS="-D warnings" $(CARGO) doc --locked --no-deps -p criu

# Freshness of criu.h, and no name in it that upstream's criu.h (from the
# CRIU tree) lacks, unless prefixed criu_/CRIU_.
test-header: $(BUILD)/.deps $(BUILD)/criu-env
	$(CARGO) test --locked -p libcriu --test header

# Only the C library exports criu_* symbols: a Rust cdylib built on the core
# (examples/rust-cdylib) exports none. (The Python module is checked the
# same way by bindings/python/build-wheel.)
test-exports:
	tests/exports/run

test-diff: lib $(BUILD)/criu-env
	tests/differential/run $(BUILD)/criu-env

# CRIU 4.2.1's libcriu suite against our installed tree, driving criu 4.2.1
# and then an older criu 4.1.1.
test-upstream: lib $(BUILD)/criu-env
	tests/upstream/run $(BUILD)/criu-env
	tests/upstream/run $(BUILD)/criu-env --old-criu

# `make install` into a fresh prefix; a program builds with pkg-config alone.
test-install: lib $(BUILD)/criu-env
	tests/install/run $(BUILD)/criu-env

test-examples: lib $(BUILD)/criu-env
	tests/examples/run $(BUILD)/criu-env

test-c: lib $(BUILD)/criu-env
	tests/c/run $(BUILD)/criu-env

# Hostile arguments to every function (each in a forked child), faults on
# criu's side, threads, fd/child hygiene, all also under valgrind memcheck.
test-hostile: lib $(BUILD)/criu-env
	tests/hostile/run $(BUILD)/criu-env
	tests/faults/run $(BUILD)/criu-env
	tests/threads/run $(BUILD)/criu-env

# Every image file of real dumps decoded by criu-image and by upstream crit
# (built from CRIU_SRC into a scratch directory), compared byte for byte;
# byte-exact round trips.
test-images: $(BUILD)/criu-env
	tests/images/run $(BUILD)/criu-env

# compat/rust-criu: its own tests (a failed call names criu's cause and
# leaves no zombie, no fd, no consumed option), then rust-criu 0.6.1's
# integration tests, taken from its package at test time, against ours and
# against rust-criu 0.6.1 itself, side by side.
test-rust-criu: $(BUILD)/criu-env
	. ./$(BUILD)/criu-env && CRIU_BIN=$$CRIU_BIN $(CARGO) test --locked -p rust-criu
	tests/rust-criu/run $(BUILD)/criu-env

# youki 0.7.0 from its package, built with compat/rust-criu patched in and
# as shipped, checkpoints a busybox container; criu-image shows the images.
test-youki: $(BUILD)/criu-env
	tests/youki/run $(BUILD)/criu-env

# Each cargo-fuzz target for FUZZ_SECONDS (make test replays the corpora).
FUZZ_SECONDS ?= 60
fuzz:
	fuzz/run $(FUZZ_SECONDS)

# The wheel, installed into a fresh venv without Rust on PATH, pytest
# against the real criu (and libcriu.pycriu beside upstream pycriu).
test-python: $(BUILD)/criu-env $(BUILD)/.deps
	bindings/python/run-tests $(BUILD)/criu-env

# Upstream pycriu 4.2.1 and libcriu.pycriu (from the wheel) in front of the
# recording fake criu: the same requests, byte for byte, and the same
# answers and exceptions, but for docs/pycriu-differences.md.
test-pycriu-diff: $(BUILD)/criu-env $(BUILD)/.deps
	tests/pycriu-differential/run $(BUILD)/criu-env

# The abi3 manylinux wheel of the Python module, into build/wheels.
wheel: $(BUILD)/.deps
	bindings/python/build-wheel

# CRIU's own test suite (zdtm.py run --rpc) driving criu through
# libcriu.pycriu, beside the same list through upstream pycriu.
test-zdtm: $(BUILD)/criu-env $(BUILD)/.deps
	tests/zdtm/run $(BUILD)/criu-env

bench: lib $(BUILD)/criu-env
	bench/run $(BUILD)/criu-env

# What upstream installs beside criu.h: version.h (the release macros),
# rpc.proto and protoc-c's rpc.pb-c.h for it (the message functions the
# library exports).
UAPI := $(BUILD)/include/version.h $(BUILD)/include/rpc.proto $(BUILD)/include/rpc.pb-c.h

$(BUILD)/include/version.h: $(HEADER)
	@mkdir -p $(dir $@)
	{ echo '/* The CRIU release whose libcriu API libcriu-rs provides. */'; \
	  echo '#ifndef __CR_VERSION_H__'; echo '#define __CR_VERSION_H__'; \
	  grep -E '^#define CRIU_(VERSION|VERSION_MAJOR|VERSION_MINOR|VERSION_SUBLEVEL|GITID) ' $<; \
	  echo '#endif /* __CR_VERSION_H__ */'; } > $@

# criu's RPC schema, kept in the core crate (the one its types come from).
RPC_PROTO := crates/criu/proto/rpc.proto

$(BUILD)/include/rpc.proto: $(RPC_PROTO)
	@mkdir -p $(dir $@)
	cp $< $@

$(BUILD)/include/rpc.pb-c.h: $(RPC_PROTO) $(BUILD)/.deps
	@mkdir -p $(BUILD)/protoc-c
	protoc-c --proto_path=$(dir $(RPC_PROTO)) --c_out=$(BUILD)/protoc-c $(RPC_PROTO)
	cp $(BUILD)/protoc-c/rpc.pb-c.h $@

# The same places and names as upstream's `make install`.
# Plus our tools: the tmp-file action script criu runs (libexec), the
# images listing (bin).
# criu.pc names the install's directories, so it is written at each install.
install: lib $(UAPI)
	sed -e 's|@LIBDIR@|$(LIBDIR)|; s|@INCLUDEDIR@|$(INCLUDEDIR)/criu|; s|@VERSION@|$(VERSION)|' \
	  criu.pc.in > $(BUILD)/criu.pc
	install -D -m 0755 $(LIB) $(DESTDIR)$(LIBDIR)/libcriu.so.2.0
	ln -sfn libcriu.so.2.0 $(DESTDIR)$(LIBDIR)/libcriu.so.2
	ln -sfn libcriu.so.2.0 $(DESTDIR)$(LIBDIR)/libcriu.so
	install -D -m 0644 target/release/libcriu.a $(DESTDIR)$(LIBDIR)/libcriu.a
	install -D -m 0644 $(HEADER) $(DESTDIR)$(INCLUDEDIR)/criu/criu.h
	install -m 0644 $(UAPI) $(DESTDIR)$(INCLUDEDIR)/criu/
	install -D -m 0644 $(BUILD)/criu.pc $(DESTDIR)$(LIBDIR)/pkgconfig/criu.pc
	install -D -m 0755 target/release/criu-tmpfiles-hook $(DESTDIR)$(LIBEXECDIR)/criu-tmpfiles-hook
	install -D -m 0755 target/release/criu-externals $(DESTDIR)$(BINDIR)/criu-externals
	install -D -m 0755 target/release/criu-image $(DESTDIR)$(BINDIR)/criu-image

clean:
	rm -rf $(BUILD)
	$(CARGO) clean
