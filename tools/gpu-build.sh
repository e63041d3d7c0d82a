#!/usr/bin/env bash
# `make gpu`: the `automix` CLI with candle's CUDA backend, built on a machine that has neither a
# GPU nor a CUDA toolkit, from NVIDIA's CUDA 13.0 wheels on PyPI (docs/gpu.md).
#
#   CUDA_COMPUTE_CAP   GPU architecture the kernels are compiled for (default 90: H100/H200;
#                      86 or 89 for laptop RTX 30xx/40xx, see docs/gpu.md)
#   CUDAFORGE_THREADS  parallel nvcc jobs (default: the number of CPUs)
#   AUTOMIX_GPU_CACHE  where the wheels and the unpacked toolkit are kept (default target/gpu)
#
# Output under $CARGO_TARGET_DIR/gpu-build (default target/gpu-build): the cargo build itself and
# bundle/ (automix, the GPU test binary, gpu-check.sh), also packed as automix-gpu.tar.xz.
set -euo pipefail

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
target=${CARGO_TARGET_DIR:-$root/target}
cache=${AUTOMIX_GPU_CACHE:-$target/gpu}
toolkit=$cache/cuda-13.0
build=$target/gpu-build
bundle=$build/bundle
# nvidia-smi writes 8.9 where nvcc wants 89.
compute_cap=${CUDA_COMPUTE_CAP:-90}
compute_cap=${compute_cap/./}

die() {
	echo "make gpu: $*" >&2
	exit 1
}

# Pinned to CUDA 13.0: the GPU machines this targets run driver 580 (CUDA 13.0), which rejects the
# PTX of nvcc 13.1 and later, and a CUDA 12 build would need .so.12 libraries they may not have.
# Hashes pin the exact files, so a cached wheel is as good as a fresh one.
wheels=(
	"nvidia-cuda-nvcc==13.0.88 --hash=sha256:56fe502eb77625a12f25172caa3cdddb4e4c8ba2c8c17dba44b164761b380f03"
	"nvidia-cuda-crt==13.0.88 --hash=sha256:2c8043c7c9e02492716426e9919fc78d2c5b3b2a7a768a88e952676b08aa55a4"
	"nvidia-nvvm==13.0.88 --hash=sha256:c5f41ffeb6466944a026dfa5317d7d85355c119bbec279205d22f1869d1054e0"
	"nvidia-cuda-runtime==13.0.96 --hash=sha256:7f82250d7782aa23b6cfe765ecc7db554bd3c2870c43f3d1821f1d18aebf0548"
	"nvidia-cuda-cccl==13.0.85 --hash=sha256:e0da7ad981f3a8aff08241b5bfc1af868742a63e2762f53a5171c492ef242649"
)
# Libraries the binary links but no wheel above provides: stubs with the real sonames stand in
# at link time, from the functions cudarc binds (`<module>/sys/mod.rs`). The real ones come from
# the driver (libcuda) and from a CUDA 13 install on the GPU machine.
stubs=(
	"libcuda.so.1 driver cu"
	"libcublas.so.13 cublas cublas"
	"libcublasLt.so.13 cublaslt cublasLt"
	"libcurand.so.10 curand curand"
	"libnvrtc.so.13 nvrtc nvrtc"
)

[[ $(uname -m) == x86_64 ]] || die "the CUDA wheels pinned here are for x86-64 Linux, not $(uname -m)"
[[ $compute_cap =~ ^[0-9]{2,3}[af]?$ ]] || die "CUDA_COMPUTE_CAP must look like 90, 89 or 8.6 (nvidia-smi --query-gpu=compute_cap), not \"${CUDA_COMPUTE_CAP:-}\""
python3 -m pip --version >/dev/null 2>&1 || die "pip is missing (python3 -m pip): install python3-pip (\`make deps\` does)"
for tool in gcc g++ unzip cargo xz; do
	command -v "$tool" >/dev/null || die "$tool is missing: install it (\`make deps\` installs gcc and g++; unzip and xz-utils come with apt-get)"
done

# 1. The toolkit: nvcc, its headers and libcudart, unpacked once per set of pinned wheels.
mkdir -p "$cache"
pins=$(printf '%s\n' "${wheels[@]}")
if [[ ! -f $toolkit/.pins || $(<"$toolkit/.pins") != "$pins" ]]; then
	echo "fetching the CUDA 13.0 toolkit wheels from PyPI into $cache/wheels"
	printf '%s\n' "${wheels[@]}" >"$cache/requirements.txt"
	if ! python3 -m pip download --no-deps --only-binary=:all: --require-hashes \
		--platform manylinux_2_17_x86_64 --platform manylinux_2_12_x86_64 \
		-d "$cache/wheels" -r "$cache/requirements.txt" >"$cache/pip.log" 2>&1; then
		die "downloading the CUDA wheels from PyPI failed: $(grep -m1 -E 'ERROR|Error' "$cache/pip.log" || tail -n1 "$cache/pip.log") (full log: $cache/pip.log)"
	fi
	rm -rf "$toolkit" "$toolkit.unpack"
	for pin in "${wheels[@]}"; do
		spec=${pin%% *}
		name=${spec%%==*}
		wheel=$(compgen -G "$cache/wheels/${name//-/_}-${spec##*==}-*.whl" | head -n1) || die "the wheel of $spec is missing from $cache/wheels after the download"
		unzip -q -o "$wheel" 'nvidia/cu13/*' -d "$toolkit.unpack" || die "unpacking $wheel failed: delete $cache and run make gpu again"
	done
	mv "$toolkit.unpack/nvidia/cu13" "$toolkit"
	rm -rf "$toolkit.unpack"
	# Wheels do not keep the executable bit, and the linker wants the unversioned name.
	chmod +x "$toolkit"/bin/* "$toolkit"/nvvm/bin/*
	ln -sf libcudart.so.13 "$toolkit/lib/libcudart.so"
	printf '%s\n' "$pins" >"$toolkit/.pins"
fi

# 2. Link stubs in lib/stubs, where cudarc's build script looks. Never put them on a run-time path.
cudarc=$(cd "$root" && cargo metadata --format-version 1 --locked --features automix-cli/cuda 2>"$cache/metadata.log" |
	python3 -c 'import json, sys; print(next(p["manifest_path"] for p in json.load(sys.stdin)["packages"] if p["name"] == "cudarc").rsplit("/", 1)[0])') ||
	die "cannot find cudarc's sources through cargo metadata (see $cache/metadata.log)"
mkdir -p "$toolkit/lib/stubs"
for stub in "${stubs[@]}"; do
	read -r soname module prefix <<<"$stub"
	source=$toolkit/lib/stubs/${soname%%.so*}.c
	grep -oE "^pub unsafe fn $prefix[A-Za-z0-9_]*" "$cudarc/src/$module/sys/mod.rs" | awk '{ print "int " $4 "(void) { return 100; }" }' | sort -u >"$source"
	[[ -s $source ]] || die "no functions found in $cudarc/src/$module/sys/mod.rs for the $soname stub"
	gcc -shared -fPIC -Wl,-soname,"$soname" -o "$toolkit/lib/stubs/${soname%%.so*}.so" "$source" || die "compiling the $soname link stub failed"
done

# 3. The build, in its own target folder so the CPU build's artefacts stay as they are.
export CUDA_HOME=$toolkit CUDA_ROOT=$toolkit CUDA_PATH=$toolkit PATH=$toolkit/bin:$PATH
export CUDA_COMPUTE_CAP=$compute_cap CUDAFORGE_THREADS=${CUDAFORGE_THREADS:-$(nproc)}
echo "building automix with CUDA for compute capability $compute_cap into $build (a clean build takes about 11 minutes on 2 cores)"
started=$SECONDS
# The CLI and the GPU checks (as a test binary, to run where there is no Rust toolchain) in one
# cargo run: built apart, the test's dev-dependencies unify features differently and candle and
# most of the tree would compile twice.
mkdir -p "$build"
artifacts=$build/artifacts.json
cargo build --release --locked -p automix-cli -p automix --features automix-cli/cuda --bin automix --test gpu \
	--target-dir "$build" --message-format=json-render-diagnostics >"$artifacts" ||
	die "the CUDA build failed (compiler output above)"
executable() {
	python3 -c 'import json, sys
for line in open(sys.argv[1]):
    m = json.loads(line)
    if m.get("reason") == "compiler-artifact" and m.get("executable") and m["target"]["name"] == sys.argv[2]:
        print(m["executable"])' "$artifacts" "$1" | tail -n1
}
automix=$(executable automix)
gpu_tests=$(executable gpu)
[[ -x $automix && -x $gpu_tests ]] || die "cargo did not report the automix binary and the GPU test binary (see $artifacts)"
build_secs=$((SECONDS - started))

rm -rf "$bundle"
mkdir -p "$bundle"
cp "$automix" "$bundle/automix"
cp "$gpu_tests" "$bundle/gpu-tests"
cp "$root/tools/gpu-check.sh" "$bundle/gpu-check.sh"
XZ_OPT=-T0 tar -C "$build" -cJf "$build/automix-gpu.tar.xz" bundle

size() { du -h "$1" | cut -f1; }
cat <<EOF

CUDA build done in ${build_secs}s (compute capability $compute_cap):
  $bundle/automix      $(size "$bundle/automix")
  $bundle/gpu-tests    $(size "$bundle/gpu-tests")  (GPU-against-CPU checks)
  $build/automix-gpu.tar.xz  $(size "$build/automix-gpu.tar.xz")  (all of bundle/, to copy to a GPU machine)

At run time it needs, besides an NVIDIA GPU:
  libcuda.so.1 from the NVIDIA driver (580 or newer, CUDA 13.0): without it the binary does not start;
  libcublas.so.13, libcublasLt.so.13, libcurand.so.10 and libcudart.so.13 on LD_LIBRARY_PATH, e.g.
  a PyTorch install for CUDA 13: LD_LIBRARY_PATH=\$(python3 -c 'import nvidia; print(list(nvidia.__path__)[0])')/cu13/lib
Then: automix ask --device cuda ...   or, with the model files there: bundle/gpu-check.sh (docs/gpu.md).
EOF
