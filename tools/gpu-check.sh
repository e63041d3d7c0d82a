#!/usr/bin/env bash
# The GPU checks, on a machine with an NVIDIA GPU and its driver but no Rust toolchain: runs the
# GPU-against-CPU tests and `automix bench` on the GPU (against candle's stock models, and the
# CPU for reference), and prints one JSON object with every figure on stdout.
#
#   gpu-check.sh [CUDA_LIB_DIR]
#
# It runs from the bundle `make gpu` writes (target/gpu-build/bundle: automix, gpu-tests and this
# script; copy that folder, or automix-gpu.tar.xz, to the GPU machine). CUDA_LIB_DIR holds
# libcublas.so.13, libcublasLt.so.13, libcurand.so.10 and libcudart.so.13; without it the script
# looks for a PyTorch install for CUDA 13 (its nvidia/cu13/lib), then a CUDA 13 toolkit.
# The models are found where `automix models pull` puts them: $AUTOMIX_HOME/models (default
# ~/.local/share/automix/models); without them the tests that need them fail (AUTOMIX_REQUIRE_GPU=1).
#
#   AUTOMIX_CHECK_TIMEOUT  seconds each step may take (default 300)
set -uo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
automix=$here/automix
gpu_tests=$here/gpu-tests
step_timeout=${AUTOMIX_CHECK_TIMEOUT:-300}
needed=(libcublas.so.13 libcublasLt.so.13 libcurand.so.10 libcudart.so.13)
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

say() { echo "gpu-check: $*" >&2; }

# A JSON string of its argument (control characters other than newline and tab dropped).
json_string() {
	local s
	s=$(printf '%s' "$1" | tr -d '\000-\010\013-\037')
	s=${s//\\/\\\\}
	s=${s//\"/\\\"}
	s=${s//$'\n'/\\n}
	s=${s//$'\t'/\\t}
	printf '"%s"' "$s"
}

# The whole result as {"error": ...} when the checks cannot start.
fail() {
	printf '{"error": %s}\n' "$(json_string "$1")"
	say "$1"
	exit 1
}

has_libraries() {
	local lib
	for lib in "${needed[@]}"; do [[ -e $1/$lib ]] || return 1; done
}

find_libraries() {
	local dir python
	for python in python3 "${VIRTUAL_ENV:-/nonexistent}/bin/python" "${CONDA_PREFIX:-/nonexistent}/bin/python"; do
		command -v "$python" >/dev/null 2>&1 || continue
		while read -r dir; do
			has_libraries "$dir" && { echo "$dir"; return; }
		done < <("$python" -c 'import nvidia; print("\n".join(p + "/cu13/lib" for p in nvidia.__path__))' 2>/dev/null)
	done
	for dir in "$HOME"/.local/lib/python3*/site-packages/nvidia/cu13/lib /usr/local/lib/python3*/dist-packages/nvidia/cu13/lib \
		/usr/lib/python3/dist-packages/nvidia/cu13/lib /opt/conda/lib/python3*/site-packages/nvidia/cu13/lib \
		/usr/local/cuda/lib64 /usr/local/cuda-13*/lib64; do
		has_libraries "$dir" && { echo "$dir"; return; }
	done
}

[[ -x $automix && -x $gpu_tests ]] || fail "automix and gpu-tests must be next to this script (target/gpu-build/bundle from make gpu)"
if [[ $# -ge 1 ]]; then
	libraries=$1
	has_libraries "$libraries" || fail "$libraries lacks one of ${needed[*]}"
else
	libraries=$(find_libraries)
	[[ -n $libraries ]] || fail "no CUDA 13 libraries found (${needed[*]}): install PyTorch for CUDA 13 (pip install torch --index-url https://download.pytorch.org/whl/cu130) or pass their folder"
fi
export LD_LIBRARY_PATH=$libraries${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}
say "CUDA libraries from $libraries"

# Without libcuda.so.1 (the driver) the binaries do not start at all; say which library is missing.
linkage=$(ldd "$automix" 2>&1) || fail "the CUDA build cannot start: $linkage"
missing=$(awk '/not found/ { print $1 }' <<<"$linkage" | tr '\n' ' ')
[[ -z $missing ]] || fail "the CUDA build cannot start, missing: ${missing% } (libcuda.so.1 comes with the NVIDIA driver, the others with CUDA 13)"
gpu=$(nvidia-smi --query-gpu=name,driver_version,compute_cap,memory.total --format=csv,noheader 2>/dev/null | head -n1)
gpu=${gpu:-unknown (nvidia-smi is missing or failed)}

# Runs a step with a time limit; its stdout goes to $work/$1.out, its stderr to $work/$1.err.
step() {
	local name=$1
	shift
	say "running $name"
	timeout "$step_timeout" "$@" >"$work/$name.out" 2>"$work/$name.err"
}

# A step's JSON output, or {"error": ...} with the end of its stderr.
step_json() {
	if [[ $2 -eq 0 && $(head -c1 "$work/$1.out") == "{" ]]; then
		cat "$work/$1.out"
	else
		printf '{"error": %s, "exit_code": %d}' "$(json_string "$(tail -n 5 "$work/$1.err")")" "$2"
	fi
}

mkdir -p "$work/figures"
# A test that cannot run here (no GPU seen, model files missing) fails rather than passing unrun.
AUTOMIX_REQUIRE_GPU=1 AUTOMIX_GPU_REPORT=$work/figures step tests "$gpu_tests" --test-threads=1
tests_rc=$?
step bench_cuda "$automix" bench --device cuda --compare
bench_cuda_rc=$?
step bench_cuda_embedder "$automix" bench --embedder --device cuda --compare
bench_cuda_embedder_rc=$?
step bench_cpu "$automix" bench --device cpu
bench_cpu_rc=$?

figures=""
for file in "$work"/figures/*.json; do
	[[ -e $file ]] || continue
	figures+="${figures:+, }$(json_string "$(basename "$file" .json)"): $(cat "$file")"
done
summary=$(grep -h "test result:" "$work/tests.out" | tail -n1)
failures=$(grep -hE "^test .* FAILED$|panicked at|assertion" "$work/tests.out" "$work/tests.err" | head -n 20)

cat <<EOF
{
  "gpu": $(json_string "$gpu"),
  "cuda_libraries": $(json_string "$libraries"),
  "tests": {"exit_code": $tests_rc, "summary": $(json_string "$summary"), "failures": $(json_string "$failures"), "figures": {$figures}},
  "bench_cuda": $(step_json bench_cuda $bench_cuda_rc),
  "bench_cuda_embedder": $(step_json bench_cuda_embedder $bench_cuda_embedder_rc),
  "bench_cpu": $(step_json bench_cpu $bench_cpu_rc)
}
EOF
[[ $tests_rc -eq 0 && $bench_cuda_rc -eq 0 && $bench_cuda_embedder_rc -eq 0 && $bench_cpu_rc -eq 0 ]]
