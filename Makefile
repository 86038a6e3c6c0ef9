# aigw: the two commands of the README.
#   make demo  - build, start the mock gateway on loopback, run the CLI and the C, Python and Node
#                examples through it, stop the mock
#   make test  - install missing tools into project-local folders (.tools/) and run every suite:
#                Rust (+ C programs driven from cargo), C under valgrind, Python, Node
SHELL := /bin/bash
CARGO ?= cargo

.PHONY: demo test test-rust test-c test-python test-node

demo:
	./scripts/demo.sh

test: test-rust test-c test-python test-node

test-rust:
	$(CARGO) test --workspace --exclude aigw-python --exclude aigw-node

test-c:
	@if [ -x scripts/test-c.sh ]; then ./scripts/test-c.sh; else echo "test-c: no C suite yet"; fi

test-python:
	@if [ -x scripts/test-python.sh ]; then ./scripts/test-python.sh; else echo "test-python: no Python suite yet"; fi

test-node:
	@if [ -x scripts/test-node.sh ]; then ./scripts/test-node.sh; else echo "test-node: no Node suite yet"; fi
