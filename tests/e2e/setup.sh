#!/bin/sh
# setup.sh - installs the pinned agent CLIs (package.json / package-lock.json)
# into tests/e2e/node_modules with `npm ci`, unless they are already there
# and current. Idempotent: the sha256 of package-lock.json is kept in
# node_modules/.e2e-lock.sha256 and compared on every run. The registry is
# whatever npm's own configuration says. Needs node and npm (tests/deps.sh).
# Exit 0 when everything is installed, non-zero with a message otherwise.
here=$(cd "$(dirname "$0")" && pwd)
cd "$here" || exit 1
stamp=node_modules/.e2e-lock.sha256

if ! command -v npm >/dev/null 2>&1 || ! command -v node >/dev/null 2>&1; then
	echo "e2e setup: npm/node not found (tests/deps.sh installs them)" >&2
	exit 2
fi
want=$(sha256sum package-lock.json | cut -d' ' -f1) || exit 1

installed() { # every pinned CLI answers --version
	for b in claude codex opencode amp; do
		[ -x "node_modules/.bin/$b" ] || return 1
	done
	return 0
}

if [ -f "$stamp" ] && [ "$(cat "$stamp")" = "$want" ] && installed; then
	echo "e2e setup: node_modules up to date (lock $(echo "$want" | cut -c1-12))"
	exit 0
fi

if [ -d node_modules ]; then
	echo "e2e setup: node_modules stale or incomplete, reinstalling"
else
	echo "e2e setup: node_modules missing, installing"
fi
t0=$(date +%s)
log=$(mktemp)
if ! npm ci --no-audit --no-fund >"$log" 2>&1; then
	echo "e2e setup: npm ci failed (registry: $(npm config get registry)):" >&2
	grep -v '^npm error *$' "$log" | head -n 20 >&2
	echo "..." >&2
	tail -n 3 "$log" >&2
	rm -f "$log"
	exit 1
fi
rm -f "$log"
if ! installed; then
	echo "e2e setup: npm ci succeeded but a CLI is missing from node_modules/.bin" >&2
	exit 1
fi
for b in claude codex opencode amp; do
	v=$(timeout 60 "node_modules/.bin/$b" --version 2>&1 | head -n 1)
	if [ -z "$v" ]; then
		echo "e2e setup: $b --version printed nothing" >&2
		exit 1
	fi
	echo "e2e setup: $b $v"
done
echo "$want" >"$stamp"
echo "e2e setup: installed in $(($(date +%s) - t0))s, $(du -sh node_modules | cut -f1)"
exit 0
