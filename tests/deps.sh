#!/bin/sh
# deps.sh - installs what the build and the tests need and is missing.
# Debian packages only (and, for end-to-end tests, the npm registry).
need=""
have() { command -v "$1" >/dev/null 2>&1; }
have musl-gcc || need="$need musl-tools musl-dev"
have clang || need="$need clang"
[ -n "$(ls /usr/lib/llvm-*/lib/clang/*/lib/linux/libclang_rt.fuzzer-x86_64.a 2>/dev/null)" ] || need="$need libclang-rt-dev"
have wrk || need="$need wrk"
have python3 || need="$need python3"
have xz || need="$need xz-utils"
have file || need="$need file"
have openssl || need="$need openssl"
have curl || need="$need curl"
have sha256sum || need="$need coreutils"
have make || need="$need make"
have node || need="$need nodejs"
have npm || need="$need npm"
if [ -n "$need" ]; then
	echo "deps: installing$need"
	SUDO=""; [ "$(id -u)" -ne 0 ] && SUDO=sudo
	export DEBIAN_FRONTEND=noninteractive
	$SUDO apt-get update -qq >/dev/null && $SUDO apt-get install -y -qq $need >/dev/null || {
		echo "deps: apt-get install failed for:$need"; exit 1; }
fi
exit 0
