# llama.cpp from the sources vendored in the llama-cpp-python sdist on PyPI, built and cached under
# target/llamacpp/ (LLAMACPP_CACHE to move it). Sourced by tools/bench-llamacpp.sh and
# tools/llama-server.sh, which set `root` (the repository) and `tool_name` (for messages) first.
#
#   llamacpp_tool FLAVOUR TARGET   prints the path of TARGET (llama-bench, llama-server) built
#                                  for FLAVOUR (native, or avx2: no AVX-512), building it if absent

version=0.3.36
cache=${LLAMACPP_CACHE:-$root/target/llamacpp}

die() {
	echo "$tool_name: $*" >&2
	exit 1
}

# Both flavours' cmake flags: they name the build directory (a hash of them), so a build is reused
# only with the same library flags. The AVX2 one keeps llama.cpp off AVX-512 as
# AUTOMIX_CPU_KERNELS=avx2 keeps automix (AVX2 and FMA; llama.cpp also uses F16C, BMI2 and SSE4.2,
# which AVX2 CPUs have). Tests, examples and HTTPS are off.
common_flags=(-DCMAKE_BUILD_TYPE=Release -DBUILD_SHARED_LIBS=OFF -DLLAMA_OPENSSL=OFF
	-DLLAMA_BUILD_TESTS=OFF -DLLAMA_BUILD_EXAMPLES=OFF -DLLAMA_BUILD_SERVER=OFF)
native_flags=(-DGGML_NATIVE=ON)
avx2_flags=(-DGGML_NATIVE=OFF -DGGML_AVX2=ON -DGGML_AVX512=OFF -DGGML_FMA=ON -DGGML_F16C=ON)
# Turned on after the flags above (the last -D wins) and left out of the directory's hash: the
# server target changes no library object, so llama-bench and llama-server share one build and
# a cache from before the server was built is reused, not rebuilt.
server_flags=(-DLLAMA_BUILD_SERVER=ON)

sources() {
	local src=$cache/src-$version
	if [[ ! -f $src/.complete ]]; then
		python3 -m pip --version >/dev/null 2>&1 || die "pip is missing (python3 -m pip): install python3-pip"
		mkdir -p "$cache/download"
		# `pip download` of an sdist prepares its metadata, which needs the build backend
		# (scikit-build-core): pip installs it in an isolated environment; nothing is compiled.
		python3 -m pip download --quiet --no-deps --no-binary llama-cpp-python \
			-d "$cache/download" "llama-cpp-python==$version" >"$cache/download/pip.log" 2>&1 ||
			die "downloading the llama-cpp-python $version sdist from PyPI failed (log: $cache/download/pip.log)"
		rm -rf "$src" && mkdir -p "$src"
		tar -xzf "$cache/download/llama_cpp_python-$version.tar.gz" -C "$src" --strip-components=3 \
			"llama_cpp_python-$version/vendor/llama.cpp" ||
			die "unpacking llama.cpp from $cache/download/llama_cpp_python-$version.tar.gz failed"
		touch "$src/.complete"
	fi
	echo "$src"
}

ensure_cmake() {
	command -v cmake >/dev/null && return
	local sudo=''
	((EUID == 0)) || sudo=sudo
	echo "$tool_name: installing cmake (apt-get)" >&2
	$sudo apt-get install -y -q cmake >&2 || die "cmake is missing and apt-get could not install it"
}

llamacpp_tool() {
	local flavour=$1 target=$2 flags
	if [[ $flavour == avx2 ]]; then flags=("${common_flags[@]}" "${avx2_flags[@]}"); else flags=("${common_flags[@]}" "${native_flags[@]}"); fi
	local key
	key=$(printf '%s\n' "$version" "${flags[@]}" | sha256sum | cut -c1-12)
	local dir=$cache/$version-$flavour-$key
	local bin=$dir/bin/$target
	if [[ ! -x $bin ]]; then
		ensure_cmake
		mkdir -p "$cache"
		local src
		src=$(sources) || exit
		echo "$tool_name: building $target ($flavour) in $dir, 15 to 25 minutes on 2 cores (minutes when the library is already built)" >&2
		{
			nice -n 19 cmake -S "$src" -B "$dir" "${flags[@]}" "${server_flags[@]}" &&
				nice -n 19 cmake --build "$dir" --target "$target" -j "$(nproc)"
		} >"$dir.log" 2>&1 || die "building $target ($flavour) failed (log: $dir.log)"
		[[ -x $bin ]] || die "the $flavour build finished without $bin (log: $dir.log)"
	fi
	echo "$bin"
}
