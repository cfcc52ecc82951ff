#!/usr/bin/env bash
# Makes, once, the Debian 13 (trixie) root that scripts/uws-lane.sh runs the uWebSockets.js tests
# in: uWS's binaries need glibc >= 2.38 and Debian 12 has 2.36 (DESIGN.md). The root is cached
# outside the clone, so every clone and every CI run on the machine shares it; a marker written
# last says it is complete, and a root without one (an interrupted run) is made again.
#
#   LEGATE_TRIXIE_ROOT     where the root lives (default /var/cache/legate/trixie-root)
#   LEGATE_DEBIAN_MIRROR   the mirror debootstrap and the root's apt use (default deb.debian.org)
#   LEGATE_TRIXIE_PACKAGES what to install in it (default redis-server); another list belongs in
#                          another LEGATE_TRIXIE_ROOT (scripts/docker-images.sh makes one that way)
#
# Needs root. 30 to 60 s (the mirror sets the pace) and about 140 MB the first time; then instant.
set -euo pipefail

ROOT="${LEGATE_TRIXIE_ROOT:-/var/cache/legate/trixie-root}"
MIRROR="${LEGATE_DEBIAN_MIRROR:-http://deb.debian.org/debian}"
# Changing what goes into the root must change this line, so roots made the old way are remade.
PACKAGES="${LEGATE_TRIXIE_PACKAGES:-redis-server}"
RECIPE="debootstrap --variant=minbase trixie + $PACKAGES (recipe 1)"
MARKER="$ROOT/.legate-root-complete"
REPO="$(cd "$(dirname "$0")/.." && pwd)"
# debootstrap and chroot live in sbin, which a non-login root shell may lack.
export PATH="$PATH:/usr/local/sbin:/usr/sbin:/sbin"

die() {
  echo "debian13-root: $*" >&2
  exit 1
}

[ "$(id -u)" -eq 0 ] || die "needs root (debootstrap and chroot); run it as root or with sudo"
case "$ROOT" in
  /*) ;;
  *) die "LEGATE_TRIXIE_ROOT must be an absolute path, not '$ROOT'" ;;
esac
case "$ROOT/" in
  "$REPO/"*) die "LEGATE_TRIXIE_ROOT ($ROOT) is inside the clone; put it outside, so git and the linters never walk it" ;;
esac

mkdir -p "$(dirname "$ROOT")"
# Two clones testing at once must not both build (or one rebuild under the other's feet);
# uws-lane.sh holds this lock itself for its whole run and says so.
if [ "${LEGATE_TRIXIE_LOCKED:-}" != 1 ]; then
  exec 9>"$ROOT.lock"
  flock -w 1800 9 || die "waited 30 min for $ROOT.lock"
fi

if [ -f "$MARKER" ] && [ "$(cat "$MARKER")" = "$RECIPE" ]; then
  echo "debian13-root: reusing $ROOT"
  exit 0
fi

started=$SECONDS
if [ -e "$ROOT" ]; then
  # rm -rf through a bind-mounted /dev or project would delete the host's files.
  mounts="$(findmnt -rn -o TARGET | grep -E "^$ROOT(/|$)" || true)"
  [ -z "$mounts" ] || die "$ROOT is incomplete or outdated but has mounts under it; unmount them first:
$mounts"
  echo "debian13-root: $ROOT is incomplete or from an older recipe; making it again"
  rm -rf --one-file-system "$ROOT"
fi

if ! command -v debootstrap >/dev/null; then
  echo "debian13-root: installing debootstrap"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -q
  apt-get install -y -q --no-install-recommends debootstrap
fi

echo "debian13-root: debootstrap --variant=minbase trixie $ROOT $MIRROR"
if ! debootstrap --variant=minbase trixie "$ROOT" "$MIRROR"; then
  log="$ROOT/debootstrap/debootstrap.log"
  [ -f "$log" ] && tail -n 30 "$log" >&2
  die "debootstrap failed (full log: $log); is $MIRROR reachable? apt's own source is in /etc/apt/sources.list.d/"
fi

# The legate tests start their own redis-server shards; they need the binary, not the service.
# policy-rc.d stops the package starting a daemon (in the host's network namespace) on install.
printf '#!/bin/sh\nexit 101\n' >"$ROOT/usr/sbin/policy-rc.d"
chmod 755 "$ROOT/usr/sbin/policy-rc.d"
# The chroot shares the host's network, but resolves names through its own /etc.
cp -L /etc/resolv.conf /etc/hosts "$ROOT/etc/"
mount -t proc proc "$ROOT/proc"
trap 'umount "$ROOT/proc"' EXIT
chroot "$ROOT" /usr/bin/env DEBIAN_FRONTEND=noninteractive apt-get update -q
# No /dev/pts in the chroot: without Use-Pty=0 dpkg's terminal log fails with a harmless "E:".
chroot "$ROOT" /usr/bin/env DEBIAN_FRONTEND=noninteractive \
  apt-get install -y -q --no-install-recommends -o Dpkg::Use-Pty=0 $PACKAGES
chroot "$ROOT" apt-get clean
rm -rf "$ROOT"/var/lib/apt/lists/*
umount "$ROOT/proc"
trap - EXIT

chroot "$ROOT" redis-server --version >/dev/null || die "redis-server does not run in $ROOT"
glibc="$(chroot "$ROOT" ldd --version | sed -n 1p)" # sed reads it all: head would SIGPIPE ldd under pipefail

printf '%s\n' "$RECIPE" >"$MARKER.tmp"
mv "$MARKER.tmp" "$MARKER"
echo "debian13-root: made $ROOT in $((SECONDS - started)) s, $(du -sh --one-file-system "$ROOT" | cut -f1), ${glibc##* } glibc"
