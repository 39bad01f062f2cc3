#!/usr/bin/env bash
# Runs `go test` as an ordinary user, as a developer without root would:
# the tests that need root, namespaces, chromium or the qemu guest are
# skipped and say so (internal/testenv), and everything else must pass.
# `make test-user` runs it; `make test` too, after the root run.
#
#   bash internal/testenv/testuser.sh [go test arguments]   (default: -count=1 ./...)
#
# Run as root, it runs them as $LVSCONSOLE_TEST_USER (nobody), with
# setpriv, on a copy of this checkout (which may be where that user cannot
# read, under /root say) and of root's Go module cache (no network needed):
# both under $LVSCONSOLE_TEST_USER_DIR (/var/tmp/lvsconsole-test-user),
# where the user's build cache stays between runs. Run as anyone else, it
# is plain `go test`.
set -euo pipefail
cd "$(dirname "$0")/../.."
[ $# -gt 0 ] || set -- -count=1 ./...

go=$(command -v go) || { echo "testuser: go is not in PATH" >&2; exit 1; }
if [ "$(id -u)" != 0 ]; then
	exec "$go" test "$@"
fi

user=${LVSCONSOLE_TEST_USER:-nobody}
uid=$(id -u "$user") && gid=$(id -g "$user") || { echo "testuser: no user $user" >&2; exit 1; }
[ "$uid" != 0 ] || { echo "testuser: $user is root" >&2; exit 1; }
command -v setpriv >/dev/null || { echo "testuser: setpriv is missing (apt-get install util-linux)" >&2; exit 1; }

# The base is root's and no one else's: root writes the copies there, so
# another user must not own it or anything on the way (a symbolic link
# swapped in would have root write elsewhere).
base=${LVSCONSOLE_TEST_USER_DIR:-/var/tmp/lvsconsole-test-user}
mkdir -p -m 0755 "$base"
if [ -L "$base" ] || [ "$(stat -c %u "$base")" != 0 ] || [ $(( 0$(stat -c %a "$base") & 022 )) != 0 ]; then
	echo "testuser: $base must be a directory of root's that only root can write" >&2
	exit 1
fi
chmod 0755 "$base"

# The user's own: home, build cache, module cache.
home=$base/home-$uid
if [ ! -e "$home" ]; then
	mkdir -m 0700 "$home"
	chown "$uid:$gid" "$home"
fi
if [ -L "$home" ] || [ "$(stat -c %u "$home")" != "$uid" ]; then
	echo "testuser: $home must be $user's directory" >&2
	exit 1
fi

# The modules, as a read-only proxy made from root's module cache.
"$go" mod download
mkdir -p -m 0755 "$base/proxy"
cp -a "$("$go" env GOMODCACHE)/cache/download/." "$base/proxy/"

# The checkout's files (tracked and new, not ignored ones), read-only to
# the user: a test that writes outside its temporary directories fails.
src=$base/src-$(pwd | cksum | cut -d' ' -f1)
rm -rf "$src"
mkdir -m 0755 "$src"
if git rev-parse --is-inside-work-tree >/dev/null 2>&1; then
	git ls-files -z --cached --others --exclude-standard |
		while IFS= read -r -d '' f; do [ -e "$f" ] && printf '%s\0' "$f"; done |
		tar --null -T - -cf - | tar -xf - -C "$src" --no-same-owner
else
	tar --exclude=./out --exclude=./data --exclude=./bin -cf - . | tar -xf - -C "$src" --no-same-owner
fi
chmod -R go-w,a+rX "$src"

# The packages' summaries of what they did not run, written by the user,
# are read back as the user too.
summary=$home/skipped
asuser() {
	setpriv --reuid="$uid" --regid="$gid" --clear-groups \
		env -i PATH="$(dirname "$go"):/usr/local/bin:/usr/bin:/bin:/usr/sbin:/sbin" \
		HOME="$home" GOCACHE="$home/cache" GOMODCACHE="$home/mod" \
		GOPROXY="file://$base/proxy" GOSUMDB=off GOFLAGS=-buildvcs=false GOTOOLCHAIN=local \
		CGO_ENABLED=1 LANG=C.UTF-8 LVSCONSOLE_TEST_SUMMARY="$summary" \
		"$@"
}

cd "$src"
echo "testuser: go test $* as $user (uid $uid) in $src"
asuser rm -f "$summary"
status=0
asuser "$go" test "$@" || status=$?
if asuser test -s "$summary"; then
	echo "testuser: not run as $user (make test runs them as root):"
	asuser sort "$summary"
fi
exit $status
