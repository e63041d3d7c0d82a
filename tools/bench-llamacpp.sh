#!/usr/bin/env bash
# Side by side: llama.cpp's llama-bench and `automix bench` on the same GGUF, the same threads and
# the same prompt and decode lengths, run in interleaved pairs so that a change in machine load
# hits both engines alike. Prints one JSON object (docs/benchmarks.md). Not part of `make test`:
# it downloads and builds llama.cpp (15 to 25 minutes per build on 2 cores, cached afterwards).
#
#   --model PATH     the GGUF (default: the chat model `automix models` installed)
#   --automix PATH   the automix binary (default target/release/automix, built if absent)
#   --threads N      threads for both engines (default 2)
#   --prompt N       prompt tokens (default 512)
#   --decode N       decoded tokens (default 128)
#   --pairs N        interleaved pairs (default 3)
#   --avx2           llama.cpp built for AVX2 only, against AUTOMIX_CPU_KERNELS=avx2 automix
#   --build-only     build llama-bench (both flavours) and stop
#
# llama.cpp comes from the sources vendored in the llama-cpp-python sdist on PyPI, cached with its
# builds under target/llamacpp/ (LLAMACPP_CACHE to move it).
set -euo pipefail
# Failures inside $(…) end the script too (the functions below run in command substitutions).
shopt -s inherit_errexit

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
tool_name=bench-llamacpp
# shellcheck source=tools/llamacpp.sh
source "$root/tools/llamacpp.sh"

model='' automix=$root/target/release/automix threads=2 prompt=512 decode=128 pairs=3
flavour=native build_only=false
while (($#)); do
	case $1 in
	--model) model=${2:?--model needs a path}; shift 2 ;;
	--automix) automix=${2:?--automix needs a path}; shift 2 ;;
	--threads) threads=${2:?--threads needs a number}; shift 2 ;;
	--prompt) prompt=${2:?--prompt needs a number}; shift 2 ;;
	--decode) decode=${2:?--decode needs a number}; shift 2 ;;
	--pairs) pairs=${2:?--pairs needs a number}; shift 2 ;;
	--avx2) flavour=avx2; shift ;;
	--build-only) build_only=true; shift ;;
	-h | --help) sed -n '2,/^set -e/p' "$0" | sed '$d; s/^# \{0,1\}//'; exit 0 ;;
	*) die "unknown option $1 (--help lists them)" ;;
	esac
done
for n in "$threads" "$prompt" "$decode" "$pairs"; do
	[[ $n =~ ^[1-9][0-9]*$ ]] || die "--threads, --prompt, --decode and --pairs take positive whole numbers, not \"$n\""
done

if $build_only; then
	llamacpp_tool native llama-bench
	llamacpp_tool avx2 llama-bench
	exit 0
fi

if [[ -z $model ]]; then
	models=${AUTOMIX_HOME:-$HOME/.local/share/automix}/models
	model=$(find "$models" -name '*.gguf' -print -quit 2>/dev/null || true)
	[[ -n $model ]] || die "no GGUF model under $models: run \`automix models pull smollm2-135m-instruct\`, or pass --model PATH"
fi
[[ -f $model ]] || die "model $model does not exist"

if [[ ! -x $automix ]]; then
	[[ $automix == "$root/target/release/automix" ]] || die "automix binary $automix does not exist"
	echo "bench-llamacpp: building $automix" >&2
	(cd "$root" && CARGO_TARGET_DIR=$root/target nice -n 19 cargo build --release -p automix-cli >&2) ||
		die "building automix (cargo build --release -p automix-cli) failed"
fi

automix_env=(RAYON_NUM_THREADS="$threads")
if [[ $flavour == avx2 ]]; then
	# An automix that never reads the variable would run its best kernels against an AVX2-only
	# llama.cpp; the variable's name is in every binary that reads it.
	grep -qa AUTOMIX_CPU_KERNELS "$automix" ||
		die "$automix does not read AUTOMIX_CPU_KERNELS (built before the AVX2 kernel path?), so --avx2 cannot hold it to AVX2"
	automix_env+=(AUTOMIX_CPU_KERNELS=avx2)
fi
bench=$(llamacpp_tool "$flavour" llama-bench) || exit

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
for ((i = 1; i <= pairs; i++)); do
	echo "bench-llamacpp: pair $i of $pairs" >&2
	cut -d' ' -f1-3 /proc/loadavg >"$work/load-$i"
	# llama.cpp's threads spin at a barrier after each operation: on a busy machine one
	# descheduled thread stalls the others, and its figures collapse rather than just slow down.
	read -r load1 _ <"$work/load-$i"
	awk -v l="$load1" -v n="$(nproc)" 'BEGIN { exit !(l >= n / 2) }' &&
		echo "bench-llamacpp: warning: load $load1 on $(nproc) CPUs; the figures of this pair are not those of an idle machine" >&2
	# One repetition per pair: the pairs are the repetitions, interleaved with automix's.
	"$bench" -m "$model" -t "$threads" -p "$prompt" -n "$decode" -r 1 -o json \
		>"$work/llama-$i.json" 2>"$work/llama-$i.log" ||
		die "llama-bench failed: $(tail -n 3 "$work/llama-$i.log" | tr '\n' ' ')"
	env "${automix_env[@]}" "$automix" bench --model "$model" --tokens "$prompt" --decode "$decode" --repeats 1 \
		>"$work/automix-$i.json" 2>"$work/automix-$i.log" ||
		die "automix bench failed: $(tail -n 3 "$work/automix-$i.log" | tr '\n' ' ')"
done

# A virtual machine may name its CPU no better than "AMD EPYC": the family and model tell which.
cpu_field() { sed -n "s/^$1[[:space:]]*: //p" /proc/cpuinfo | head -n 1; }
cpu="$(cpu_field 'model name') (family $(cpu_field 'cpu family'), model $(cpu_field model), $(nproc) CPUs)"
python3 - "$work" "$pairs" "$flavour" "$model" "$threads" "$prompt" "$decode" "$cpu" "$version" <<'EOF'
import json, statistics, sys
work, pairs, flavour, model, threads, prompt, decode, cpu, version = sys.argv[1:]
rows = []
for i in range(1, int(pairs) + 1):
    llama = json.load(open(f"{work}/llama-{i}.json"))
    # llama-bench reports one entry per test: n_prompt>0 is prefill (pp), n_gen>0 is decode (tg).
    pp = next(t["avg_ts"] for t in llama if t["n_prompt"] > 0)
    tg = next(t["avg_ts"] for t in llama if t["n_gen"] > 0)
    report = json.load(open(f"{work}/automix-{i}.json"))
    if report["threads"] != int(threads):
        sys.exit(f"bench-llamacpp: automix ran {report['threads']} threads, not {threads}")
    if flavour == "avx2" and report.get("cpu_kernels") != "avx2":
        sys.exit(f"bench-llamacpp: automix ran its {report.get('cpu_kernels', 'unreported')} kernels, not avx2")
    automix_kernels = report.get("cpu_kernels", "unreported")
    ours = report["automix"]
    load = open(f"{work}/load-{i}").read().split()
    rows.append({
        "pair": i,
        "loadavg": [float(x) for x in load],
        "llama_cpp": {"prefill_tokens_per_sec": pp, "decode_tokens_per_sec": tg},
        "automix": {"prefill_tokens_per_sec": ours["prefill_tokens_per_sec"],
                    "decode_tokens_per_sec": ours["decode_tokens_per_sec"]},
        "prefill_ratio": ours["prefill_tokens_per_sec"] / pp,
        "decode_ratio": ours["decode_tokens_per_sec"] / tg,
    })
med = lambda engine, key: statistics.median(r[engine][key] for r in rows)
print(json.dumps({
    "cpu": cpu,
    "kernels": flavour,
    "automix_kernels": automix_kernels,
    "llama_cpp": f"vendored in the llama-cpp-python {version} sdist",
    "model": model,
    "threads": int(threads),
    "prompt_tokens": int(prompt),
    "decode_tokens": int(decode),
    "pairs": rows,
    "median": {
        engine: {key: med(engine, key) for key in ("prefill_tokens_per_sec", "decode_tokens_per_sec")}
        for engine in ("llama_cpp", "automix")
    },
    "prefill_ratio": statistics.median(r["prefill_ratio"] for r in rows),
    "decode_ratio": statistics.median(r["decode_ratio"] for r in rows),
}, indent=2))
EOF
