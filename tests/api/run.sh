#!/usr/bin/env bash
# The local API (`automix serve`) against clients no one here wrote: curl, then the official
# `openai` Python package (tests/api/clients.py: each model streamed and not, usage, errors, and 8
# concurrent clients for AUTOMIX_API_LOAD_SECONDS, 120 by default). The remote model is the test
# provider (tests/remote-server); everything runs in a fresh AUTOMIX_HOME whose models/ links to
# the installed ones. Transcripts go to target/api-test/.
#
# Usage: tests/api/run.sh   (after `make build models`; `make test` runs it)
set -euo pipefail
REPO="$(cd "$(dirname "$0")/../.." && pwd)"
TARGET="${CARGO_TARGET_DIR:-$REPO/target}"
AUTOMIX="$TARGET/release/automix"
REMOTE_BIN="$TARGET/release/automix-test-remote"
MODELS="${AUTOMIX_MODELS_DIR:-${AUTOMIX_HOME:-$HOME/.local/share/automix}/models}"
OUT="$TARGET/api-test"
VENV="$TARGET/api-venv"
LOAD_SECONDS="${AUTOMIX_API_LOAD_SECONDS:-120}"
BUDGET=0.002
say() { echo "api: $*" >&2; }
die() { say "$*"; exit 1; }

[ -x "$AUTOMIX" ] || die "$AUTOMIX is missing: run make build"
[ -x "$REMOTE_BIN" ] || (cd "$REPO" && cargo build --release -p automix-test-remote)
if ! "$VENV/bin/python" -c "import openai" 2>/dev/null; then
  say "installing the openai package into $VENV"
  python3 -m venv "$VENV"
  "$VENV/bin/pip" install --quiet -r "$REPO/tests/api/requirements.txt"
fi

WORK="$(mktemp -d /tmp/automix-api.XXXXXX)"
PIDS=()
cleanup() {
  status=$?
  for pid in "${PIDS[@]}"; do kill "$pid" 2>/dev/null || true; done
  wait 2>/dev/null || true
  if [ "$status" = 0 ]; then rm -rf "$WORK"; else say "kept $WORK (home, server output) for inspection"; fi
}
trap cleanup EXIT
export AUTOMIX_HOME="$WORK/home"
mkdir -p "$AUTOMIX_HOME" "$OUT"
ln -s "$MODELS" "$AUTOMIX_HOME/models"

"$REMOTE_BIN" --port 0 >"$WORK/remote.out" 2>"$WORK/remote.err" &
PIDS+=($!)
for _ in $(seq 100); do [ -s "$WORK/remote.out" ] && break; sleep 0.1; done
REMOTE="$(head -n1 "$WORK/remote.out")"
[ -n "$REMOTE" ] || { cat "$WORK/remote.err" >&2; die "the test remote server printed no URL"; }

"$AUTOMIX" settings set remote.model gpt-4o-mini >/dev/null
"$AUTOMIX" settings set remote.endpoint "$REMOTE" >/dev/null
"$AUTOMIX" settings set ask_before_sending never >/dev/null
"$AUTOMIX" budget set --monthly "$BUDGET" >/dev/null
printf '# Museum hours\n\nThe Brindlewood museum opens at 9 am and closes at 5 pm on weekdays. Entry costs 12 euros.\n' >"$WORK/museum.md"
"$AUTOMIX" docs add "$WORK/museum.md" >/dev/null

TOKEN="amx-api-test-$RANDOM$RANDOM$RANDOM"
"$AUTOMIX" serve --port 0 --token "$TOKEN" >"$WORK/serve.out" 2>"$WORK/serve.err" &
PIDS+=($!)
for _ in $(seq 600); do grep -q '^base URL:' "$WORK/serve.out" 2>/dev/null && break; sleep 0.1; done
BASE="$(sed -n 's/^base URL: *//p' "$WORK/serve.out")"
[ -n "$BASE" ] || { cat "$WORK/serve.err" >&2; die "automix serve printed no base URL"; }
say "automix serve at $BASE"

# ---- curl
CURL="$OUT/curl.txt"
: >"$CURL"
call() { # title, then curl arguments; appends the exchange to the transcript, prints the body
  local title="$1"; shift
  { echo "## $title"; echo "\$ curl $*" | sed "s/$TOKEN/\$TOKEN/g"; } >>"$CURL"
  curl -sS -i "$@" | tee -a "$CURL"
  echo >>"$CURL"
}
body='{"model":"automix-local","user":"curl","messages":[{"role":"system","content":"The Brindlewood museum opens at 9 am."},{"role":"user","content":"When does the museum open?"}]}'
call "models" "$BASE/models" -H "Authorization: Bearer $TOKEN" | grep -q '"automix-docs"' || die "curl: /models does not list automix-docs"
call "a completion" "$BASE/chat/completions" -H "Authorization: Bearer $TOKEN" -d "$body" | grep -q '^x-automix-decision: stay_local' || die "curl: no decision header"
call "a streamed completion" -N "$BASE/chat/completions" -H "Authorization: Bearer $TOKEN" -d "${body/\"user\":\"curl\"/\"stream\":true,\"user\":\"curl\"}" | grep -q '^data: \[DONE\]' || die "curl: the stream did not end with [DONE]"
call "no token" "$BASE/chat/completions" -d "$body" | grep -q '^HTTP/1.1 401' || die "curl: a request without the token was not refused"
call "malformed JSON" "$BASE/chat/completions" -H "Authorization: Bearer $TOKEN" -d '{"model":' | grep -q '"code":"invalid_json"' || die "curl: malformed JSON was not refused in OpenAI's shape"

# ---- the openai package
"$VENV/bin/python" "$REPO/tests/api/clients.py" "$BASE" "$TOKEN" "$AUTOMIX_HOME/history.sqlite" "$BUDGET" "$LOAD_SECONDS" "$OUT/openai-transcript.md"
say "transcripts in $OUT"
