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
  # the broker's tests: PostgreSQL 15 servers (postgres, initdb, pg_ctl) with psql and pgbench,
  # and the real HAProxy beside legate on the same haproxy.cfg
  [psql]=postgresql-client
  [pgbench]=postgresql
  [pg_ctl]=postgresql
  [haproxy]=haproxy
  [openssl]=openssl
  # the HTTP roles' tests and benchmarks: the real nginx beside legate, and wrk as the client
  [nginx]=nginx
  [wrk]=wrk
  # the pods test: docker compose over locally built images
  [dockerd]=docker.io
  [docker-compose]=docker-compose
)

missing=()
# PostgreSQL's server programs live in a versioned directory, not on the PATH.
pg_bin=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n 1)
for program in "${!NEEDED[@]}"; do
  command -v "$program" >/dev/null 2>&1 || [ -x "/usr/sbin/$program" ] ||
    { [ -n "$pg_bin" ] && [ -x "$pg_bin/$program" ]; } || missing+=("${NEEDED[$program]}")
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
# Without systemd, invoke-rc.d may have started them through /etc/init.d: stop those too, so
# that nginx does not hold port 80 nor PostgreSQL 5432 (the ports `legate demo` serves).
for service in redis-server nutcracker prometheus postgresql nginx haproxy; do
  $SUDO systemctl disable --now "$service" >/dev/null 2>&1 || true
  $SUDO service "$service" stop >/dev/null 2>&1 || true
done
