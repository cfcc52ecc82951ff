#!/usr/bin/env bash
# Starts a Docker daemon for the pods test (test/docker/) when none answers and this is root on a
# machine that has dockerd (Debian's docker.io); .ci/run calls it. Where it cannot, it says why and
# exits 0: the pods test then skips, saying so.
set -uo pipefail
export PATH="$PATH:/usr/local/sbin:/usr/sbin:/sbin"
docker info >/dev/null 2>&1 && { echo "docker: a daemon is running"; exit 0; }
command -v dockerd >/dev/null || { echo "docker: no dockerd here (apt-get install docker.io); the pods test will skip"; exit 0; }
[ "$(id -u)" -eq 0 ] || { echo "docker: starting dockerd needs root; the pods test will skip"; exit 0; }
log=/var/log/legate-dockerd.log
echo "docker: starting dockerd (log: $log)"
nohup dockerd >"$log" 2>&1 &
for _ in $(seq 1 60); do
  docker info >/dev/null 2>&1 && { echo "docker: daemon up"; exit 0; }
  sleep 0.5
done
echo "docker: dockerd did not answer in 30 s (see $log); the pods test will skip"
tail -n 5 "$log"
exit 0
