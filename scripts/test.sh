#!/usr/bin/env bash
# Build popsyncd and run every test twice: a plain build, then a build with
# AddressSanitizer, UndefinedBehaviorSanitizer and -Werror; then make
# distcheck.  Exits non-zero if any test failed, errored or was skipped (a
# skip is not a pass), or if distcheck failed.
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
run_suite() {
	local dir=$1 log pass fail skip xfail xpass error
	shift
	echo "=== build in $dir: ./configure $*"
	rm -rf "$dir"
	mkdir -p "$dir"
	(cd "$dir" && ../configure -q "$@" && make -s -j"$jobs")
	echo "=== make check in $dir"
	(cd "$dir" && make -s -j"$jobs" check) || true
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

# make distcheck: the tarball must hold every file, build out of tree,
# pass its tests, install (units under its own prefix) and uninstall
# cleanly.  The full suite already ran twice above, so the tarball runs
# only the unit tests and one integration test.  TESTS is expanded in
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
