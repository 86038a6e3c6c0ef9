# aigw: the two commands of the README.
#   make demo  - build, start the mock gateway on loopback, run the CLI and the C, Python and Node
#                examples through it, stop the mock
#   make test  - install missing tools into project-local folders (.tools/) and run every suite:
#                Rust (+ C programs driven from cargo), C under valgrind, Python, Node, and the
#                release artefacts installed as a user does (test-dist)
# Packaging (docs/install.md):
#   make dist                  - dist/: abi3 manylinux wheel + sdist, npm tarballs (aigw and
#                                aigw-linux-x64-gnu), libaigw-<version>-x86_64-linux-gnu.tar.gz
#   make install PREFIX=/opt/x - the C library: include/aigw.h, lib/libaigw.so.<major> (+ .so),
#                                lib/libaigw.a, lib/pkgconfig/aigw.pc (DESTDIR, LIBDIR, INCLUDEDIR too)
SHELL := /bin/bash
CARGO ?= cargo
PREFIX ?= /usr/local

.PHONY: demo test test-rust test-c test-python test-node test-dist dist install

demo:
	./scripts/demo.sh

test: test-rust test-c test-python test-node test-dist

test-rust:
	$(CARGO) test --workspace --exclude aigw-python --exclude aigw-node

test-c:
	@if [ -x scripts/test-c.sh ]; then ./scripts/test-c.sh; else echo "test-c: no C suite yet"; fi

test-python:
	@if [ -x scripts/test-python.sh ]; then ./scripts/test-python.sh; else echo "test-python: no Python suite yet"; fi

test-node:
	@if [ -x scripts/test-node.sh ]; then ./scripts/test-node.sh; else echo "test-node: no Node suite yet"; fi

test-dist:
	./scripts/test-dist.sh

dist:
	./scripts/dist.sh

install:
	PREFIX="$(PREFIX)" DESTDIR="$(DESTDIR)" LIBDIR="$(LIBDIR)" INCLUDEDIR="$(INCLUDEDIR)" ./scripts/dist.sh install
