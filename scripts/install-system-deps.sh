#!/usr/bin/env bash
# Installs the Debian packages legate's tests and benchmarks run against, when missing.
# Used by .ci/run; run it yourself (as root, or with sudo) on a fresh Debian or Ubuntu machine.
set -euo pipefail

# program → package that provides it
declare -A NEEDED=(
  [redis-server]=redis-server
  [redis-cli]=redis-tools
  [redis-benchmark]=redis-tools
  [nutcracker]=nutcracker
  [tmux]=tmux
  # observability tests: `promtool check metrics` on /metrics
  [promtool]=prometheus
  # scripts/debian13-root.sh: a Debian 13 root for the uWebSockets.js tests where glibc < 2.38
  [debootstrap]=debootstrap
)

missing=()
for program in "${!NEEDED[@]}"; do
  command -v "$program" >/dev/null 2>&1 || [ -x "/usr/sbin/$program" ] || missing+=("${NEEDED[$program]}")
done
if [ ${#missing[@]} -eq 0 ]; then
  echo "system packages: all present"
  exit 0
fi
mapfile -t missing < <(printf '%s\n' "${missing[@]}" | sort -u)
echo "system packages: installing ${missing[*]}"
SUDO=""
[ "$(id -u)" -eq 0 ] || SUDO="sudo"
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -q
$SUDO apt-get install -y -q --no-install-recommends "${missing[@]}"
# Debian's packages start their own daemons where systemd runs; legate's tests start their own.
for service in redis-server nutcracker prometheus; do
  $SUDO systemctl disable --now "$service" >/dev/null 2>&1 || true
done
