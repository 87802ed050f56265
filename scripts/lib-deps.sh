# Sourced by scripts/test.sh, scripts/demo.sh and bench/run.sh: install the
# packages given (by default what scripts/deps.txt lists) that the machine
# lacks.  As root it runs apt-get; otherwise it prints the exact apt-get
# line and exits 2.

deps_install() {
	local list missing p
	if [ $# -gt 0 ]; then
		list="$*"
	else
		list=$(grep -v '^#' "$(dirname "${BASH_SOURCE[0]}")/deps.txt")
	fi
	missing=""
	for p in $list; do
		dpkg-query -W -f='${Status}' "$p" 2>/dev/null |
		    grep -q 'install ok installed' || missing="$missing $p"
	done
	[ -z "$missing" ] && return 0
	if [ "$(id -u)" -ne 0 ]; then
		echo "missing packages; run: sudo apt-get install$missing" >&2
		exit 2
	fi
	echo "installing:$missing"
	export DEBIAN_FRONTEND=noninteractive
	apt-get update -q
	# shellcheck disable=SC2086
	apt-get install -y -q --no-install-recommends $missing
}
