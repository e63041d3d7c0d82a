#!/usr/bin/env bash
# A real OpenAI-compatible server for a GGUF model: llama.cpp's llama-server, built from the
# llama-cpp-python sdist on PyPI (tools/llamacpp.sh; 15 to 25 minutes the first time on 2 cores,
# cached under target/llamacpp/). It runs in the foreground until stopped; its API is at
# http://HOST:PORT/v1, the endpoint the app's remote settings and `automix collect
# --remote-endpoint` take. Used to record a stronger model's answers for the routing evaluation
# (docs/evaluation.md) and by the app's tests against a real server.
#
#   --model PATH     the GGUF to serve (required)
#   --alias ID       the model id the server reports (default: the file name without .gguf)
#   --port N         port on 127.0.0.1 (default 8080)
#   --threads N      threads (default: all CPUs)
#   --ctx N          context tokens (default 4096)
#   --parallel N     requests served at once (default 1)
#   --build-only     build llama-server, print its path and stop
set -euo pipefail
shopt -s inherit_errexit

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
tool_name=llama-server
# shellcheck source=tools/llamacpp.sh
source "$root/tools/llamacpp.sh"

model='' alias='' port=8080 threads=$(nproc) ctx=4096 parallel=1 build_only=false
while (($#)); do
	case $1 in
	--model) model=${2:?--model needs a path}; shift 2 ;;
	--alias) alias=${2:?--alias needs an id}; shift 2 ;;
	--port) port=${2:?--port needs a number}; shift 2 ;;
	--threads) threads=${2:?--threads needs a number}; shift 2 ;;
	--ctx) ctx=${2:?--ctx needs a number}; shift 2 ;;
	--parallel) parallel=${2:?--parallel needs a number}; shift 2 ;;
	--build-only) build_only=true; shift ;;
	-h | --help) sed -n '2,/^set -e/p' "$0" | sed '$d; s/^# \{0,1\}//'; exit 0 ;;
	*) die "unknown option $1 (--help lists them)" ;;
	esac
done
for n in "$port" "$threads" "$ctx" "$parallel"; do
	[[ $n =~ ^[1-9][0-9]*$ ]] || die "--port, --threads, --ctx and --parallel take positive whole numbers, not \"$n\""
done

server=$(llamacpp_tool native llama-server) || exit
if $build_only; then
	echo "$server"
	exit 0
fi
[[ -n $model ]] || die "--model PATH is required (a GGUF file, e.g. one \`automix models pull\` installed)"
[[ -f $model ]] || die "model $model does not exist"
[[ -n $alias ]] || alias=$(basename "$model" .gguf)
# --jinja: the chat template inside the GGUF formats the messages, as the model was trained.
exec "$server" --model "$model" --alias "$alias" --host 127.0.0.1 --port "$port" \
	--threads "$threads" --ctx-size "$ctx" --parallel "$parallel" --jinja --no-webui
