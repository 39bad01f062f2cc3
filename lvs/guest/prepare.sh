#!/usr/bin/env bash
# Prepares what lvs/guest needs to boot Debian's own kernel (which has IPVS,
# unlike the host's) under qemu: the host tools, and the kernel package
# unpacked into a cache with its modules.dep. Idempotent: when everything is
# there it only checks (well under 2 s) and changes nothing. Prints the kernel
# version on its last line.
#
#   LVS_GUEST_CACHE  where the kernel goes (default: <repo>/out/guest/kernel)
set -euo pipefail

die() { echo "prepare.sh: $*" >&2; exit 1; }

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
root=$(cd "$here/../.." && pwd)
cache=${LVS_GUEST_CACHE:-$root/out/guest/kernel}

export DEBIAN_FRONTEND=noninteractive
updated=
apt_update() {
	# Once per run at most, and only when something has to be fetched.
	[ -n "$updated" ] && return 0
	[ "$(id -u)" = 0 ] || die "need root to run apt-get (or install the packages yourself)"
	echo "prepare.sh: apt-get update" >&2
	apt-get update -qq || die "apt-get update failed"
	updated=1
}

# 1. Host packages. busybox-static, not busybox: the initramfs has no libc
# for it. kmod gives depmod; iproute2 and ipvsadm are copied into the guest,
# and keepalived, the peer the keepalived importer is compared with.
pkgs=(qemu-system-x86 busybox-static cpio kmod ipvsadm iproute2 keepalived)
missing=()
for p in "${pkgs[@]}"; do
	st=$(dpkg-query -W -f='${db:Status-Status}' "$p" 2>/dev/null || true)
	[ "$st" = installed ] || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
	apt_update
	echo "prepare.sh: installing ${missing[*]}" >&2
	# --no-install-recommends keeps qemu small; the guest needs no firmware
	# beyond SeaBIOS (a hard dependency) since it boots with -kernel.
	apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null ||
		die "apt-get install ${missing[*]} failed"
fi
for f in /usr/bin/qemu-system-x86_64 /bin/busybox /usr/sbin/depmod /usr/sbin/ipvsadm /usr/bin/cpio; do
	[ -x "$f" ] || die "$f is missing after installing ${pkgs[*]}"
done
# Also /sbin/ip: Debian's ip lives in /usr/bin or /usr/sbin depending on release.
command -v ip >/dev/null || [ -x /sbin/ip ] || die "iproute2's ip is missing"

# 2. Which kernel: the package linux-image-amd64 currently depends on.
# awk reads to the end (no early exit): a SIGPIPE in apt-cache would
# otherwise fail the pipeline under pipefail.
kpkg_of() {
	apt-cache depends linux-image-amd64 2>/dev/null |
		awk '$1 == "Depends:" && $2 ~ /^linux-image-/ && !found { print $2; found = 1 }' || true
}
kpkg=$(kpkg_of)
if [ -z "$kpkg" ]; then
	apt_update
	kpkg=$(kpkg_of)
fi
[ -n "$kpkg" ] || die "cannot resolve the kernel package: 'apt-cache depends linux-image-amd64' names no linux-image-* package"
kver=${kpkg#linux-image-}

# 3. Already unpacked? VERSION is written last, so its presence means done.
ready() {
	[ "$(cat "$cache/VERSION" 2>/dev/null)" = "$kver" ] &&
		[ -f "$cache/$kver/boot/vmlinuz-$kver" ] &&
		[ -s "$cache/$kver/lib/modules/$kver/modules.dep" ]
}
if ! ready; then
	if [ ! -f "$cache/$kver/boot/vmlinuz-$kver" ] || [ ! -s "$cache/$kver/lib/modules/$kver/modules.dep" ]; then
		mkdir -p "$cache"
		tmp=$(mktemp -d "$cache/.fetch.XXXXXX")
		trap 'rm -rf "$tmp"' EXIT
		# apt drops privileges to _apt for downloads; let it write here.
		chmod 755 "$tmp"
		chown _apt "$tmp" 2>/dev/null || true
		echo "prepare.sh: downloading $kpkg" >&2
		(cd "$tmp" && apt-get download -qq "$kpkg") || {
			apt_update
			(cd "$tmp" && apt-get download -qq "$kpkg") || die "apt-get download $kpkg failed"
		}
		deb=$(ls "$tmp"/*.deb)
		dpkg-deb -x "$deb" "$tmp/root" || die "dpkg-deb -x $deb failed"
		[ -f "$tmp/root/boot/vmlinuz-$kver" ] || die "$kpkg has no boot/vmlinuz-$kver"
		[ -d "$tmp/root/lib/modules/$kver" ] || die "$kpkg has no lib/modules/$kver"
		# The package ships no modules.dep; the guest's modprobe and the
		# harness's load order both need it.
		depmod -b "$tmp/root" "$kver" || die "depmod -b failed"
		rm -rf "${cache:?}/$kver"
		mv "$tmp/root" "$cache/$kver"
		rm -rf "$tmp"
		trap - EXIT
	fi
	echo "$kver" >"$cache/VERSION.tmp"
	mv "$cache/VERSION.tmp" "$cache/VERSION"
fi
echo "$kver"
