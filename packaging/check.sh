#!/bin/sh
# check.sh DEB EXPOSURE_MAX: the checks of the built package (make
# package-check): lintian with no error or warning; systemd-analyze verify
# of its unit with no complaint (it exits 0 on many, e.g. an unknown key:
# any output fails); the unit's exposure (systemd-analyze security) at
# most EXPOSURE_MAX.
set -eu
deb=$1 max=$2
fail() { echo "package-check: $*" >&2; exit 1; }

echo "package-check: lintian $deb"
lintian --fail-on error,warning --display-info "$deb" 2>&1 | grep -v 'running with root privileges' || true
lintian --fail-on error,warning "$deb" >/dev/null 2>&1 || fail "lintian reports errors or warnings (above)"

# systemd is not PID 1 here: verify in a root holding the host's units
# (sysinit.target and the like) and the package's files, so that the
# unit's ExecStart binary is the packaged one. No generators, no man.
root=$(mktemp -d)
trap 'rm -rf "$root"' EXIT
mkdir -p "$root/lib/systemd"
cp -a /lib/systemd/system "$root/lib/systemd/"
dpkg-deb -x "$deb" "$root"
unit=/lib/systemd/system/lvsconsole.service
[ -f "$root$unit" ] || fail "$deb has no $unit"
echo "package-check: systemd-analyze verify $unit"
if ! out=$(systemd-analyze verify --man=no --generators=no --root="$root" "$unit" 2>&1) || [ -n "$out" ]; then
	printf '%s\n' "$out" >&2
	fail "systemd-analyze verify: $unit is not clean"
fi

# The threshold is the exposure times ten.
threshold=$(awk -v m="$max" 'BEGIN { printf "%d", m * 10 + 0.5 }')
out=$(systemd-analyze security --offline=true --threshold="$threshold" "$root$unit" 2>&1) && rc=0 || rc=$?
score=$(printf '%s\n' "$out" | sed -n 's/.*Overall exposure level for [^:]*: \([0-9.]*\).*/\1/p')
[ -n "$score" ] || { printf '%s\n' "$out" >&2; fail "systemd-analyze security printed no exposure level"; }
echo "package-check: exposure of lvsconsole.service: $score (at most $max)"
[ "$rc" = 0 ] || { printf '%s\n' "$out" | grep '✗' >&2; fail "exposure $score is above $max"; }
echo "package-check: ok"
