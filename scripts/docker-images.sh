#!/usr/bin/env bash
# Builds, with no image registry (none is reachable from our machines), the images the pods test
# (test/docker/) runs, from a Debian 13 root made by debootstrap from Debian's packages:
#
#   legate-local/trixie:RECIPE  the root, imported: redis-server, PostgreSQL, redis-cli, psql, curl
#                               (the shards, the database and the apps' tools of the seed's pods)
#   legate:local                legate itself (deploy/docker/local.Dockerfile), on that base
#
# Needs root and a running Docker daemon. The root is cached (scripts/debian13-root.sh), the base
# image is remade only when the root's recipe changes; legate:local is rebuilt every time (seconds,
# after `npm run build`).
set -euo pipefail
cd "$(dirname "$0")/.."
export PATH="$PATH:/usr/local/sbin:/usr/sbin:/sbin"

export LEGATE_TRIXIE_ROOT="${LEGATE_IMAGE_ROOT:-/var/cache/legate/trixie-image-root}"
export LEGATE_TRIXIE_PACKAGES="redis-server redis-tools postgresql postgresql-client curl ca-certificates"
bash scripts/debian13-root.sh >&2

recipe="$(cat "$LEGATE_TRIXIE_ROOT/.legate-root-complete")"
base="legate-local/trixie:$(printf '%s' "$recipe" | sha256sum | cut -c1-12)"
if ! docker image inspect "$base" >/dev/null 2>&1; then
  echo "docker-images: importing $LEGATE_TRIXIE_ROOT as $base" >&2
  # The root's /proc, /dev and /tmp may hold mounts of a running lane; an image needs none of them.
  tar -C "$LEGATE_TRIXIE_ROOT" --one-file-system --exclude=./proc/* --exclude=./dev/* \
    --exclude=./tmp/* --exclude=./.legate-root-complete -c . |
    docker import --change 'CMD ["/bin/bash"]' - "$base" >/dev/null
fi

# The image runs the JavaScript in dist/, built here (TypeScript is a devDependency, installed on
# the host; the image gets production dependencies only).
npm run build >&2
stage="$(mktemp -d)"
trap 'rm -rf "$stage"' EXIT
mkdir -p "$stage/app"
# -p keeps the times: bin/legate.js runs the sources instead if one looks newer than dist/.
cp -rp bin engine workers dist package.json package-lock.json "$stage/app/"
cp -r config "$stage/config"
# Production dependencies only, from npm's cache: the registry is not needed again.
(cd "$stage/app" && npm ci --omit=dev --ignore-scripts --offline --no-audit --no-fund >&2)
cp -L node_modules/node/bin/node "$stage/node"
docker build -q -t legate:local --build-arg "BASE=$base" -f deploy/docker/local.Dockerfile "$stage" >&2
echo "$base"
