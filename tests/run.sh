#!/bin/sh
# run.sh MODE BIN "UNIT_BINS" "FUZZ_BINS" SMOKE_SECONDS
# Runs every suite against BIN and ends with one line "N passed, N failed".
# Each suite prints its own "<suite>: N passed, N failed" line; a suite
# that dies without one counts as one failure.
mode=$1 bin=$2 units=$3 fuzzes=$4 smoke=${5:-5}
top=$(cd "$(dirname "$0")/.." && pwd)
cd "$top" || exit 1
P=0 F=0
tally() { # $1 = name, $2 = output file
	line=$(grep -E '[0-9]+ passed, [0-9]+ failed' "$2" | tail -n 1)
	if [ -z "$line" ]; then
		echo "$1: no summary (crashed?)"; tail -n 20 "$2"; F=$((F + 1)); return
	fi
	p=$(echo "$line" | awk '{for (i = 2; i <= NF; i++) if ($i == "passed,") print $(i - 1)}')
	f=$(echo "$line" | awk '{for (i = 2; i <= NF; i++) if ($i == "failed") print $(i - 1)}')
	P=$((P + p)); F=$((F + f))
}
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

for t in $units; do
	name=$(basename "$t")
	"./$t" > "$tmp/$name.out" 2>&1
	rc=$?
	grep -v '^unit ' "$tmp/$name.out" | head -n 40
	grep '^unit ' "$tmp/$name.out"
	tally "$name" "$tmp/$name.out"
	if [ $rc -ne 0 ] && ! grep -qE ' [1-9][0-9]* failed' "$tmp/$name.out"; then F=$((F + 1)); echo "$name: exit $rc"; fi
done

for suite in integration e2e; do
	[ -f "tests/$suite/run.py" ] || continue
	SANDBOX_AGENT_BIN="$top/$bin" SANDBOX_AGENT_TEST_MODE=$mode \
		python3 "tests/$suite/run.py" > "$tmp/$suite.out" 2>&1
	grep -vE '^(ok|\.)$' "$tmp/$suite.out" | tail -n 60
	tally "$suite" "$tmp/$suite.out"
done

fp=0 ff=0
for f in $fuzzes; do
	name=$(basename "$f")
	mkdir -p "$tmp/corpus-$name"
	seeds=""
	[ -d "fuzz/corpus/$name" ] && seeds="fuzz/corpus/$name"
	if "./$f" -max_total_time="$smoke" -timeout=10 -rss_limit_mb=1024 \
		-artifact_prefix="$tmp/" "$tmp/corpus-$name" $seeds > "$tmp/$name.fuzz" 2>&1; then
		fp=$((fp + 1))
		echo "fuzz $name: ok ($(grep -o 'Done [0-9]* runs' "$tmp/$name.fuzz" | tail -n 1))"
	else
		ff=$((ff + 1)); echo "fuzz $name: FAILED"; tail -n 30 "$tmp/$name.fuzz"
	fi
done
[ -n "$fuzzes" ] && echo "fuzz: $fp passed, $ff failed"
P=$((P + fp)); F=$((F + ff))

echo "$P passed, $F failed"
[ "$F" -eq 0 ]
