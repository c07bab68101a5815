#!/bin/sh
# build.sh SRC OUT CC CFLAGS - builds libbearssl.a from SRC into OUT with
# the given compiler (musl-gcc for release, clang with sanitizers for tests).
set -eu
src=$1 out=$2 cc=$3 cflags=$4
mkdir -p "$out/obj"
objs=""
for c in $(cd "$src" && find src -name '*.c' | sort); do
	o="$out/obj/$(echo "$c" | tr '/' '_' | sed 's/\.c$/.o/')"
	objs="$objs $o"
done
# Parallel compile with make, so it uses every core.
{
	echo "all: $out/libbearssl.a"
	echo "$out/libbearssl.a:$objs"
	printf '\t@rm -f $@ && ar rcs $@ $^\n'
	for c in $(cd "$src" && find src -name '*.c' | sort); do
		o="$out/obj/$(echo "$c" | tr '/' '_' | sed 's/\.c$/.o/')"
		echo "$o: $src/$c"
		printf '\t@%s %s -w -I%s/inc -I%s/src -c $< -o $@\n' "$cc" "$cflags" "$src" "$src"
	done
} > "$out/build.mk"
make -s -j"$(nproc 2>/dev/null || echo 2)" -f "$out/build.mk"
echo "bearssl: built $out/libbearssl.a with $cc"
