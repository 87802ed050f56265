#!/usr/bin/env bash
# Build popsyncd and run every test three times: a plain build, a build
# with AddressSanitizer, UndefinedBehaviorSanitizer and -Werror, and a
# ThreadSanitizer build; then replay the fuzz corpora through libFuzzer
# and run make distcheck.  Each suite's make check also replays every fuzz
# corpus (tests/fuzz).  Exits non-zero if any test failed, errored or was
# skipped (a skip is not a pass), if ThreadSanitizer reported anything, or
# if the fuzz replay or distcheck failed.
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/lib-deps.sh
deps_install
# t_oauth2_oidc.sh installs oidc-provider with npm.  Debian's npm conflicts
# with a NodeSource nodejs, so it comes from Debian only where none is.
command -v npm >/dev/null 2>&1 || deps_install nodejs npm

jobs=$(nproc 2>/dev/null || echo 2)
autoreconf -fi

total_pass=0
total_fail=0

# run_suite DIR CONFIGURE-ARGS...: configure in DIR, build, make check,
# and add the counts of DIR/tests/test-suite.log to the totals.
# Set check_wrap to a command that make check runs under.
run_suite() {
	local dir=$1 log pass fail skip xfail xpass error
	shift
	echo "=== build in $dir: ./configure $*"
	rm -rf "$dir"
	mkdir -p "$dir"
	(cd "$dir" && ../configure -q "$@" && make -s -j"$jobs")
	echo "=== make check in $dir"
	(cd "$dir" && ${check_wrap:-} make -s -j"$jobs" check) || true
	log=$dir/tests/test-suite.log
	if [ ! -f "$log" ]; then
		echo "no test log in $dir: make check stopped early" >&2
		# Still show what did run and fail.
		grep -l '^:test-result: \(FAIL\|ERROR\)' \
		    $(find "$dir/tests" -name '*.trs') 2>/dev/null |
		    while read -r t; do
			echo "----- ${t%.trs}.log"
			tail -n 40 "${t%.trs}.log"
		done
		total_fail=$((total_fail + 1))
		return
	fi
	count() { sed -n "s/^# $1: *\([0-9]*\)$/\1/p" "$log"; }
	pass=$(count PASS); fail=$(count FAIL); skip=$(count SKIP)
	xfail=$(count XFAIL); xpass=$(count XPASS); error=$(count ERROR)
	echo "$dir: $pass passed, $fail failed, $skip skipped, $error errors"
	if [ $((fail + skip + xfail + xpass + error)) -ne 0 ]; then
		# Show why, so CI output is enough to act on.
		sed -n '/^\(FAIL\|SKIP\|ERROR\|XPASS\):/p' "$log"
		for t in $(sed -n 's/^\(FAIL\|SKIP\|ERROR\|XPASS\): \(.*\)$/\2/p' "$log"); do
			echo "----- $dir/tests/$t.log"
			tail -n 40 "$dir/tests/$t.log" 2>/dev/null || true
		done
	fi
	total_pass=$((total_pass + pass))
	total_fail=$((total_fail + fail + skip + xfail + xpass + error))
}

run_suite build
run_suite build-san --enable-sanitizers --enable-werror

# ThreadSanitizer: every instrumented process, daemons that the tests kill
# included, writes its reports to build-tsan-reports/report.PID, and any
# report fails the run even when the test passed.  tests/tsan.supp lists
# what is suppressed and why.  TSan needs the address layout it knows;
# where the kernel allows, ASLR is turned off for the suite (setarch -R).
tsan_dir=$PWD/build-tsan-reports
rm -rf "$tsan_dir"
mkdir -p "$tsan_dir"
export TSAN_OPTIONS="suppressions=$PWD/tests/tsan.supp log_path=$tsan_dir/report second_deadlock_stack=1"
check_wrap=
if setarch "$(uname -m)" -R true 2>/dev/null; then
	check_wrap="setarch $(uname -m) -R"
fi
run_suite build-tsan --enable-tsan
check_wrap=
unset TSAN_OPTIONS
reports=$(find "$tsan_dir" -type f 2>/dev/null | sort)
if [ -n "$reports" ]; then
	echo "build-tsan: ThreadSanitizer reports:" >&2
	for r in $reports; do
		echo "----- $r"
		grep -v '^ *#[4-9]' "$r" | head -n 40
	done
	total_fail=$((total_fail + $(echo "$reports" | wc -l)))
else
	echo "build-tsan: no ThreadSanitizer report"
fi

# The same targets linked with libFuzzer (clang, ASan, UBSan), each run
# once over its corpus (-runs=0): what scripts/fuzz.sh fuzzes still builds
# and passes its seeds.
echo "=== fuzz replay with libFuzzer in build-fuzz"
if bash scripts/fuzz.sh --replay; then
	total_pass=$((total_pass + 1))
else
	echo "build-fuzz: libFuzzer replay FAILED" >&2
	total_fail=$((total_fail + 1))
fi

# make distcheck: the tarball must hold every file, build out of tree,
# pass its tests, install (units under its own prefix) and uninstall
# cleanly.  The full suite already ran three times above, so the tarball
# runs only the unit tests and one integration test.  TESTS is expanded in
# tests/Makefile, where UNIT_TESTS is the list of unit tests.
echo "=== make distcheck in build"
if (cd build && make -s -j"$jobs" distcheck \
    TESTS='$(UNIT_TESTS) integration/t_config_errors.sh'); then
	echo "build: distcheck passed"
	total_pass=$((total_pass + 1))
else
	echo "build: distcheck FAILED" >&2
	total_fail=$((total_fail + 1))
fi

echo "total: $total_pass passed, $total_fail failed"
[ "$total_fail" -eq 0 ]
