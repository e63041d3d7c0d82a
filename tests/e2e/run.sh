#!/usr/bin/env bash
# End-to-end tests of the desktop app in its real WebKitGTK webview (what `make e2e` runs).
#
#   tests/e2e/run.sh [APP_BINARY]     default: $CARGO_TARGET_DIR/release/automix-app
#   tests/e2e/run.sh --llama-server GGUF [APP_BINARY]
#                                     instead: the suite in tests/e2e/llama-server/, with llama.cpp's
#                                     llama-server serving GGUF as the app's remote model
#                                     (tools/llama-server.sh; `make e2e-llama-server`)
#
# Starts Xvfb unless $DISPLAY works, makes a fresh AUTOMIX_HOME whose models/ are hard links to
# (or a copy of) the pulled models in ${AUTOMIX_MODELS_DIR:-~/.local/share/automix/models},
# starts the test remote server, and runs `node --test` on tests/e2e/*.test.mjs.
# Screenshots, metrics.json and logs land in $CARGO_TARGET_DIR/e2e/. Exit code: the tests'.
# Needs: /usr/bin/WebKitWebDriver (webkit2gtk-driver), Xvfb (xvfb), Node ≥ 20.
set -euo pipefail

REPO="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
LLAMA_GGUF=""
if [ "${1:-}" = "--llama-server" ]; then
  LLAMA_GGUF="$(realpath -m "${2:?--llama-server needs a GGUF file}")"
  shift 2
fi
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$REPO/target}"
APP="$(realpath -m "${1:-$CARGO_TARGET_DIR/release/automix-app}")"
REMOTE_BIN="${AUTOMIX_TEST_REMOTE_BIN:-$CARGO_TARGET_DIR/release/automix-test-remote}"
MODELS_SRC="${AUTOMIX_MODELS_DIR:-$HOME/.local/share/automix/models}"
export E2E_OUT="$CARGO_TARGET_DIR/e2e"

say() { echo "e2e: $*" >&2; }
die() { say "$*"; exit 2; }

[ -x "$APP" ] || die "no app binary at $APP (build it: cargo build --release -p automix-app)"
[ -x /usr/bin/WebKitWebDriver ] || [ -n "${WEBKIT_WEBDRIVER:-}" ] || die "WebKitWebDriver missing (apt-get install webkit2gtk-driver)"
command -v node >/dev/null || die "node missing"
[ -d "$MODELS_SRC" ] && [ -n "$(ls -A "$MODELS_SRC" 2>/dev/null)" ] ||
  die "no pulled models in $MODELS_SRC (run: automix models pull smollm2-135m-instruct && automix models pull all-minilm-l6-v2)"
if [ ! -x "$REMOTE_BIN" ]; then
  say "building the test remote server"
  (cd "$REPO" && cargo build --release -p automix-test-remote)
fi

mkdir -p "$E2E_OUT"
rm -f "$E2E_OUT"/*.png "$E2E_OUT"/*.log "$E2E_OUT"/metrics.json "$E2E_OUT"/state.json

PIDS=()
WORK="$(mktemp -d "${TMPDIR:-/tmp}/automix-e2e.XXXXXX")"
status=1
cleanup() {
  local pid
  for pid in "${PIDS[@]}"; do kill -TERM "$pid" 2>/dev/null || true; done
  for pid in "${PIDS[@]}"; do
    for _ in $(seq 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
    kill -0 "$pid" 2>/dev/null && kill -KILL "$pid" 2>/dev/null || true
  done
  if [ "$status" = 0 ]; then rm -rf "$WORK"; else say "kept $WORK (AUTOMIX_HOME and logs) for inspection"; fi
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

# ---- display
display_works() {
  [ -n "${DISPLAY:-}" ] || return 1
  if command -v xdpyinfo >/dev/null; then xdpyinfo >/dev/null 2>&1; return; fi
  local d="${DISPLAY#*:}"
  [ "${DISPLAY%%:*}" = "" ] && [ -S "/tmp/.X11-unix/X${d%%.*}" ]
}
if ! display_works; then
  n=99
  while [ -e "/tmp/.X11-unix/X$n" ] || [ -e "/tmp/.X$n-lock" ]; do n=$((n + 1)); done
  Xvfb ":$n" -screen 0 1280x800x24 -nolisten tcp >"$WORK/xvfb.log" 2>&1 &
  PIDS+=($!)
  for _ in $(seq 100); do [ -S "/tmp/.X11-unix/X$n" ] && break; sleep 0.1; done
  [ -S "/tmp/.X11-unix/X$n" ] || { cat "$WORK/xvfb.log" >&2; die "Xvfb :$n did not start"; }
  export DISPLAY=":$n"
  say "started Xvfb on $DISPLAY"
fi

# ---- a fresh AUTOMIX_HOME with the already-pulled models
export AUTOMIX_HOME="$WORK/home"
export AUTOMIX_EXPORT_DIR="$WORK/exports"
mkdir -p "$AUTOMIX_HOME"
cp -al "$MODELS_SRC" "$AUTOMIX_HOME/models" 2>/dev/null || { rm -rf "$AUTOMIX_HOME/models"; cp -r "$MODELS_SRC" "$AUTOMIX_HOME/models"; }
say "AUTOMIX_HOME=$AUTOMIX_HOME (models from $MODELS_SRC)"

# ---- the test remote server
"$REMOTE_BIN" --port 0 >"$WORK/remote.out" 2>"$WORK/remote.err" &
PIDS+=($!)
for _ in $(seq 100); do [ -s "$WORK/remote.out" ] && break; sleep 0.1; done
AUTOMIX_E2E_REMOTE="$(head -n1 "$WORK/remote.out")"
[ -n "$AUTOMIX_E2E_REMOTE" ] || { cat "$WORK/remote.err" >&2; die "the test remote server printed no URL"; }
export AUTOMIX_E2E_REMOTE APP E2E_WORK="$WORK"
say "test remote server at $AUTOMIX_E2E_REMOTE"

# ---- llama-server as the remote model (--llama-server)
# E2E_SUITE picks suites (a glob), for running one while investigating it.
SUITE=(${E2E_SUITE:-tests/e2e/*.test.mjs})
if [ -n "$LLAMA_GGUF" ]; then
  [ -f "$LLAMA_GGUF" ] || die "no GGUF file at $LLAMA_GGUF"
  LLAMA_PORT="$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')"
  # The model id the server reports: the file name without its quantisation (as the catalog names it).
  LLAMA_MODEL="$(basename "$LLAMA_GGUF" .gguf | sed -E 's/-(q[0-9].*|f16|f32)$//')"
  "$REPO/tools/llama-server.sh" --model "$LLAMA_GGUF" --alias "$LLAMA_MODEL" --port "$LLAMA_PORT" >"$WORK/llama-server.log" 2>&1 &
  PIDS+=($!)
  for _ in $(seq 1200); do
    curl -sf "http://127.0.0.1:$LLAMA_PORT/health" >/dev/null 2>&1 && break
    kill -0 "${PIDS[-1]}" 2>/dev/null || { tail -n 20 "$WORK/llama-server.log" >&2; die "llama-server exited"; }
    sleep 0.5
  done
  curl -sf "http://127.0.0.1:$LLAMA_PORT/health" >/dev/null || { tail -n 20 "$WORK/llama-server.log" >&2; die "llama-server did not become ready"; }
  export AUTOMIX_E2E_LLAMA_SERVER="http://127.0.0.1:$LLAMA_PORT/v1" AUTOMIX_E2E_LLAMA_MODEL="$LLAMA_MODEL"
  say "llama-server at $AUTOMIX_E2E_LLAMA_SERVER serving $LLAMA_MODEL"
  SUITE=(tests/e2e/llama-server/*.test.mjs)
fi

# ---- the tests
if [ ! -d "$REPO/tests/e2e/node_modules" ]; then
  (cd "$REPO/tests/e2e" && npm ci --prefer-offline --no-audit --no-fund)
fi
cd "$REPO"
set +e
node --test --test-concurrency=1 --test-reporter=spec "${SUITE[@]}"
status=$?
set -e
cp "$WORK/remote.err" "$E2E_OUT/remote-server.log" 2>/dev/null || true
[ -z "$LLAMA_GGUF" ] || cp "$WORK/llama-server.log" "$E2E_OUT/llama-server.log" 2>/dev/null || true
# The measurements as one JSON line (also in target/e2e/metrics.json).
[ -f "$E2E_OUT/metrics.json" ] && node -e 'console.log(JSON.stringify(JSON.parse(require("fs").readFileSync(process.argv[1], "utf8"))))' "$E2E_OUT/metrics.json"
say "screenshots in $E2E_OUT"
exit "$status"
