#!/usr/bin/env bash
# Runs one command in the Debian 13 root (scripts/debian13-root.sh) with this clone mounted at
# /legate and the working directory there: `npm run bench -- http` runs the uWebSockets.js
# engine this way on hosts whose glibc is older than 2.38. The network is the host's, so
# servers inside listen on the host's loopback. Needs root; holds the root's lock while it runs.
set -euo pipefail
cd "$(dirname "$0")/.."
REPO="$PWD"
export PATH="$PATH:/usr/local/sbin:/usr/sbin:/sbin"
ROOT="${LEGATE_TRIXIE_ROOT:-/var/cache/legate/trixie-root}"
MNT=/legate
[ "$(id -u)" -eq 0 ] || { echo "debian13-run: needs root (chroot)" >&2; exit 1; }
LEGATE_TRIXIE_LOCKED=1 bash scripts/debian13-root.sh >&2
exec 9>"$ROOT.lock"
flock -w 1800 9 || { echo "debian13-run: waited 30 min for $ROOT.lock" >&2; exit 1; }
# node_modules may be a link out of the clone (a git worktree's): mount where it points too.
MODULES="$(readlink -f "$REPO/node_modules")"
MOUNTS=()
cleanup() {
  local m
  for ((i = ${#MOUNTS[@]} - 1; i >= 0; i--)); do
    m="${MOUNTS[i]}"
    umount "$m" 2>/dev/null || umount -l "$m" 2>/dev/null || true
  done
}
trap cleanup EXIT
trap 'exit 143' TERM
trap 'exit 130' INT
mount -t proc proc "$ROOT/proc" && MOUNTS+=("$ROOT/proc")
if ! { [ -c "$ROOT/dev/null" ] && [ -c "$ROOT/dev/urandom" ]; }; then
  mount --bind /dev "$ROOT/dev" && MOUNTS+=("$ROOT/dev")
fi
mount -t tmpfs -o mode=1777,size=512m legate-tmp "$ROOT/tmp" && MOUNTS+=("$ROOT/tmp")
mkdir -p "$ROOT$MNT"
mount --bind "$REPO" "$ROOT$MNT" && MOUNTS+=("$ROOT$MNT")
if [ "$MODULES" != "$REPO/node_modules" ]; then
  mkdir -p "$ROOT$MODULES"
  mount --bind "$MODULES" "$ROOT$MODULES" && MOUNTS+=("$ROOT$MODULES")
fi
# Not exec: the trap must unmount when the command ends.
chroot "$ROOT" /usr/bin/env -i \
  PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin \
  HOME=/root LANG=C.UTF-8 TMPDIR=/tmp \
  /bin/sh -c 'cd "$0" && exec "$@"' "$MNT" "$@" &
child=$!
trap 'kill -TERM $child 2>/dev/null; wait $child; exit 143' TERM
wait $child
