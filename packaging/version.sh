#!/bin/sh
# version.sh prints the Debian version of the package from git describe
# (the Makefile's VERSION): a tag vX.Y.Z becomes X.Y.Z, N commits after it
# X.Y.Z+N.gHASH; with no tag, 0~gitDATE.HASH (DATE the commit's, UTC, so
# that versions of later commits sort after); a dirty tree adds +dirty.
# Debian versions must start with a digit and use [0-9A-Za-z.+~] only.
set -eu
d=$(git describe --tags --always --dirty 2>/dev/null || echo devel)
dirty=
case $d in *-dirty) dirty=+dirty; d=${d%-dirty} ;; esac
case $d in
v[0-9]*-[0-9]*-g[0-9a-f]*)
	# v1.2.3-4-gabcdef0
	hash=${d##*-g}; rest=${d%-g*}; n=${rest##*-}; tag=${rest%-*}
	v=${tag#v}+$n.g$hash ;;
v[0-9]*) v=${d#v} ;;
*)
	date=$(TZ=UTC git log -1 --format=%cd --date=format-local:%Y%m%d%H%M%S 2>/dev/null || echo 0)
	v=0~git$date.$d ;;
esac
# Anything else a tag may hold that Debian does not allow becomes "+".
printf '%s%s\n' "$v" "$dirty" | tr -c '0-9A-Za-z.+~\n' '+'
