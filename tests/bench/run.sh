#!/bin/sh
# run.sh - `make bench`: fetches and caches the reference binary, then runs
# the benchmark driver against it and against ours.
# Usage: sh tests/bench/run.sh build/sandbox-agent
# The reference is the npm package @sandbox-agent/cli-linux-x64@0.4.2,
# fetched with `npm pack` from npm's configured registry into build/bench/.
# Without npm or the registry the benchmarks still run, ours only.
set -u
ours=${1:-build/sandbox-agent}
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
out="$root/build/bench"
pkg="@sandbox-agent/cli-linux-x64@0.4.2"
ref="$out/ref-0.4.2/sandbox-agent"
mkdir -p "$out"

[ -x "$ours" ] || { echo "bench: $ours is not built"; exit 1; }
command -v wrk >/dev/null 2>&1 && command -v python3 >/dev/null 2>&1 || sh "$root/tests/deps.sh"

fetch_ref() {
	[ -x "$ref" ] && "$ref" --version 2>/dev/null | grep -q '^sandbox-agent 0\.4\.2$' && return 0
	command -v npm >/dev/null 2>&1 || { why="npm not installed"; return 1; }
	tmp=$(mktemp -d "$out/fetch.XXXXXX") || return 1
	if ! (cd "$tmp" && npm pack --silent "$pkg" >/dev/null 2>npm.err); then
		why="npm pack failed: $(tail -n 1 "$tmp/npm.err" 2>/dev/null)"
		rm -rf "$tmp"
		return 1
	fi
	mkdir -p "$tmp/x" && tar -xzf "$tmp"/*.tgz -C "$tmp/x" || { why="cannot unpack"; rm -rf "$tmp"; return 1; }
	mkdir -p "$(dirname "$ref")"
	mv "$tmp"/*.tgz "$out/" 2>/dev/null
	mv "$tmp/x/package/bin/sandbox-agent" "$ref" && chmod 755 "$ref"
	rm -rf "$tmp"
	"$ref" --version 2>/dev/null | grep -q '^sandbox-agent 0\.4\.2$' || { why="unexpected binary"; return 1; }
}

why=""
if fetch_ref; then
	exec python3 "$here/bench.py" "$ours" "$ref" --out "$out/results.txt"
fi
echo "bench: reference unavailable ($why); measuring ours only"
exec python3 "$here/bench.py" "$ours" --out "$out/results.txt" --ref-note "($why)"
