#!/usr/bin/env bash
# Fuzz every parser of server input and the config loader for real:
#
#   scripts/fuzz.sh [SECONDS] [TARGET...]
#   scripts/fuzz.sh --replay
#
# builds the targets of tests/fuzz with clang and libFuzzer (ASan and UBSan
# on) in build-fuzz/, then runs each TARGET (default: all) for SECONDS
# (default 60).  Inputs that find new code go to build-fuzz/corpus/TARGET;
# the committed seeds in tests/fuzz/corpus/TARGET are only read.  A crash or
# a broken invariant leaves its input in build-fuzz/crashes/ and makes the
# script exit 1; copy it into tests/fuzz/corpus/TARGET once fixed, so that
# `make check` replays it from then on.  FUZZ_JOBS=N runs N targets at a
# time (default 1); FUZZ_NICE sets their niceness (default 10).
#
# --replay only runs each target once over its committed corpus (libFuzzer's
# -runs=0), as scripts/test.sh does to keep this build working.
set -euo pipefail
cd "$(dirname "$0")/.."

replay=false
if [ "${1:-}" = --replay ]; then
	replay=true
	shift
	set -- 0
fi
secs=${1:-60}
[ $# -gt 0 ] && shift
# libFuzzer reads -max_total_time=0 as "forever".
case $secs in
*[!0-9]* | '') echo "usage: $0 [SECONDS] [TARGET...]" >&2; exit 2 ;;
esac
if ! $replay && [ "$secs" -eq 0 ]; then
	echo "$0: SECONDS must be at least 1" >&2
	exit 2
fi
all="status capa listing body apop sasl config session"
targets=${*:-$all}
dir=build-fuzz

. scripts/lib-deps.sh
deps_install clang-14 libclang-rt-14-dev
if [ ! -f "$dir/Makefile" ]; then
	[ -x configure ] || autoreconf -fi
	mkdir -p "$dir"
	cc=clang-14
	command -v "$cc" >/dev/null || cc=clang
	(cd "$dir" && ../configure -q CC="$cc" --enable-fuzzing)
fi
progs=
for t in $targets; do
	case " $all " in
	*" $t "*) progs="$progs fuzz/fuzz_$t" ;;
	*) echo "$0: no target $t (have: $all)" >&2; exit 2 ;;
	esac
done
make -s -C "$dir/src" -j"$(nproc)" libpopsync.a >/dev/null
# shellcheck disable=SC2086
make -s -C "$dir/tests" -j"$(nproc)" $progs >/dev/null

# fuzz_one TARGET: run it for $secs seconds; its log goes to
# $dir/logs/TARGET.log and its exit status to $dir/logs/TARGET.rc.
fuzz_one() {
	local t=$1 rc=0
	mkdir -p "$dir/corpus/$t" "$dir/crashes" "$dir/logs"
	nice -n "${FUZZ_NICE:-10}" "$dir/tests/fuzz/fuzz_$t" \
	    -max_total_time="$secs" -timeout=10 -rss_limit_mb=1024 \
	    -max_len=4096 -print_final_stats=1 \
	    -artifact_prefix="$dir/crashes/$t-" \
	    "$dir/corpus/$t" "tests/fuzz/corpus/$t" \
	    >"$dir/logs/$t.log" 2>&1 || rc=$?
	echo "$rc" >"$dir/logs/$t.rc"
}

# Leaks inside libraries (see the file) are not ours to find.
export LSAN_OPTIONS="suppressions=$PWD/tests/lsan.supp ${LSAN_OPTIONS-}"
if $replay; then
	failed=
	for t in $targets; do
		if "$dir/tests/fuzz/fuzz_$t" -runs=0 "tests/fuzz/corpus/$t" \
		    >"$dir/fuzz_$t.replay.log" 2>&1; then
			echo "$t: corpus replayed with libFuzzer"
		else
			tail -n 30 "$dir/fuzz_$t.replay.log" >&2
			echo "$t: corpus replay FAILED" >&2
			failed="$failed $t"
		fi
	done
	[ -z "$failed" ]
	exit
fi

failed=
running=0
for t in $targets; do
	fuzz_one "$t" &
	running=$((running + 1))
	if [ "$running" -ge "${FUZZ_JOBS:-1}" ]; then
		wait -n || true
		running=$((running - 1))
	fi
done
wait

for t in $targets; do
	execs=$(sed -n 's/^stat::number_of_executed_units: *//p' \
	    "$dir/logs/$t.log")
	cov=$(grep -o 'cov: [0-9]*' "$dir/logs/$t.log" | tail -n 1)
	if [ "$(cat "$dir/logs/$t.rc")" != 0 ]; then
		failed="$failed $t"
		echo "$t: ${execs:-?} runs in ${secs}s, $cov: FAILED, see" \
		    "$dir/logs/$t.log and $dir/crashes/$t-*"
	else
		echo "$t: ${execs:-?} runs in ${secs}s, $cov, nothing found"
	fi
done
[ -z "$failed" ]
