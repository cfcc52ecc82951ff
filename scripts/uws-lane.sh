#!/usr/bin/env bash
# The uWebSockets.js lane (`npm run test:uws`): runs test/uws where uWS loads. Its binaries need
# glibc >= 2.38 (DESIGN.md). Where the host has that, the tests run on the host. Elsewhere (Debian
# 12) they run on the host first, which checks that `engine: uws` is refused clearly, then again
# inside the cached Debian 13 root from scripts/debian13-root.sh, where the project is bind-mounted
# and run by its own Node 24 binary. That needs root (CI runs as root).
set -euo pipefail
cd "$(dirname "$0")/.."
REPO="$(pwd -P)"
# node_modules/.bin/node links here; the chroot cannot follow a link that leaves the mount.
NODE=node_modules/node/bin/node
# A git worktree's node_modules is a link out of it (to the main checkout's): the root gets it
# mounted at the same path. A clone's own (CI's, after npm ci) comes in with the clone.
MODULES="$(readlink -f node_modules)"
# Arguments: the test files to run (default: all of test/uws).
if [ "$#" -gt 0 ]; then TESTS=("$@"); else TESTS=(test/uws/*.test.ts); fi
export PATH="$PATH:/usr/local/sbin:/usr/sbin:/sbin"

die() {
  echo "uws lane: $*" >&2
  exit 1
}

[ -x "$NODE" ] || die "no $NODE; run npm ci first"
run_tests() {
  # A hung test fails, named, after 10 minutes instead of holding CI.
  "$NODE" --test --test-concurrency=1 --test-timeout=600000 "${TESTS[@]}"
}

if "$NODE" -e "require('uWebSockets.js')" 2>/dev/null; then
  echo "uws lane: uWebSockets.js loads on this host; running ${TESTS[*]} here"
  LEGATE_UWS_REQUIRED=1 run_tests
  exit 0
fi

glibc="$("$NODE" -e "require('uWebSockets.js')" 2>&1 | grep -o 'GLIBC_[0-9.]*' | head -n 1 || true)"
echo "uws lane: uWebSockets.js does not load here (${glibc:+its binary needs $glibc; }$NODE -e \"require('uWebSockets.js')\" says why); the host checks the refusal, a Debian 13 root runs the uws engine"
# Before the host tests, so a missing root fails in a second rather than after them.
[ "$(id -u)" -eq 0 ] || die "running the uws engine's tests on this host needs root: they run in a
Debian 13 chroot made by debootstrap. Run 'sudo npm run test:uws' (or as root); CI runs as root."

run_tests

export LEGATE_TRIXIE_ROOT="${LEGATE_TRIXIE_ROOT:-/var/cache/legate/trixie-root}"
ROOT="$LEGATE_TRIXIE_ROOT"
MNT=/legate
mkdir -p "$(dirname "$ROOT")"
# One lane at a time per root: its mounts, /tmp and processes are this run's alone, so any found
# in the root before this run starts were left by a lane that was killed.
exec 9>"$ROOT.lock"
flock -w 1800 9 || die "waited 30 min for $ROOT.lock"
release_root() {
  local p m
  # A process left in the root (a shard a failed test left) would keep its mounts busy.
  for p in /proc/[0-9]*; do
    if [ "$(readlink "$p/root" 2>/dev/null)" = "$ROOT" ]; then kill -KILL "${p#/proc/}" 2>/dev/null || true; fi
  done
  # Deepest first.
  { findmnt -rn -o TARGET | grep -E "^$ROOT/" || true; } | sort -r | while read -r m; do
    umount "$m" 2>/dev/null || umount -l "$m"
  done
  rmdir "$ROOT$MNT" 2>/dev/null || true
  [ "$MODULES" = "$REPO/node_modules" ] || rmdir -p "$ROOT$MODULES" 2>/dev/null || true
}
release_root

LEGATE_TRIXIE_LOCKED=1 bash scripts/debian13-root.sh

cleanup() {
  local code=$?
  release_root
  exit "$code"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

mount -t proc proc "$ROOT/proc"
# Node needs /dev/null and /dev/urandom. debootstrap makes them where it may use mknod; where it
# may not, the root's /dev is bare and the host's stands in.
[ -c "$ROOT/dev/null" ] && [ -c "$ROOT/dev/urandom" ] || mount --bind /dev "$ROOT/dev"
mount -t tmpfs -o mode=1777,size=512m legate-tmp "$ROOT/tmp"
mkdir -p "$ROOT$MNT"
mount --bind "$REPO" "$ROOT$MNT"
if [ "$MODULES" != "$REPO/node_modules" ]; then
  mkdir -p "$ROOT$MODULES"
  mount --bind "$MODULES" "$ROOT$MODULES"
fi

in_root() {
  chroot "$ROOT" /usr/bin/env -i \
    PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin \
    HOME=/root LANG=C.UTF-8 TMPDIR=/tmp CI="${CI:-}" LEGATE_UWS_REQUIRED=1 \
    /bin/sh -c 'cd "$0" && exec "$@"' "$MNT" "$@"
}

in_root "$MNT/$NODE" -e "require('uWebSockets.js')" ||
  die "uWebSockets.js does not load with Node $("$NODE" -v) in the Debian 13 root $ROOT either"
echo "uws lane: running ${TESTS[*]} in $ROOT ($(in_root ldd --version | head -n 1 | grep -o '[0-9.]*$') glibc, Node $(in_root "$MNT/$NODE" -v))"
in_root "$MNT/$NODE" --test --test-concurrency=1 --test-timeout=600000 "${TESTS[@]}"
