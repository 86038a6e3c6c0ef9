# aigw: the two commands of the README.
#   make demo  - build, start the mock gateway on loopback, run the CLI and examples through it
#   make test  - install missing tools into project-local folders and run every test suite
SHELL := /bin/bash
CARGO ?= cargo

.PHONY: demo test test-rust build

build:
	$(CARGO) build --release --workspace --bins

demo: build
	./scripts/demo.sh

test-rust:
	$(CARGO) test --workspace

test: test-rust
