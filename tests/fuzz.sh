#!/bin/sh
# fuzz.sh SECONDS BIN... - runs each fuzz target for SECONDS, keeping the
# grown corpus under build/corpus/<target> and printing its statistics.
secs=$1; shift
top=$(cd "$(dirname "$0")/.." && pwd)
cd "$top" || exit 1
rc=0
for f in "$@"; do
	name=$(basename "$f")
	mkdir -p "build/corpus/$name" "build/artifacts/$name"
	seeds=""
	[ -d "fuzz/corpus/$name" ] && seeds="fuzz/corpus/$name"
	echo "== $name ($secs s)"
	"./$f" -max_total_time="$secs" -timeout=10 -rss_limit_mb=2048 -print_final_stats=1 \
		-artifact_prefix="build/artifacts/$name/" "build/corpus/$name" $seeds 2>&1 |
		grep -E '^(#[0-9]+.*DONE|stat::number_of_executed_units|stat::average_exec_per_sec|Done|==[0-9]+==ERROR|SUMMARY)|cov:' | tail -n 5
	[ -n "$(ls "build/artifacts/$name" 2>/dev/null)" ] && { echo "FINDING in $name"; rc=1; }
done
exit $rc
