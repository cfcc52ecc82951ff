# legate on Node 24, Debian 13 (trixie): glibc 2.41, so uWebSockets.js loads.
# One image for every role: it finds its config where the seed's pods mount each anchor's
# (LEGATE_CONFIG_PATHS), or where LEGATE_CONFIG / -c says. Runs as a non-root user, writes
# nothing to its filesystem (a read-only root works), answers HEALTHCHECK on /healthz, and
# drains on SIGTERM. deploy/docker/local.Dockerfile is the same image built with no registry.
FROM node:24-trixie-slim
WORKDIR /opt/legate
COPY package.json package-lock.json tsconfig.json tsconfig.build.json ./
COPY bin ./bin
COPY engine ./engine
COPY workers ./workers
# The image runs the JavaScript built into dist/ (bin/legate.js takes it; no type stripper in any
# thread). TypeScript is a devDependency: all are installed, dist/ is built, the development ones
# go, in one layer. Scripts stay off: the image's own Node is 24, so the pinned node@24
# devDependency (whose install script fetches a Node binary) is not needed.
RUN npm ci --ignore-scripts --no-audit --no-fund \
  && node node_modules/typescript/bin/tsc -p tsconfig.build.json \
  && test -f dist/engine/cli/main.js \
  && npm prune --omit=dev --ignore-scripts --no-audit --no-fund \
  && npm cache clean --force
COPY config ./config
ENV LEGATE_CONFIG_PATHS=/etc/legate/legate.yml:/etc/nutcracker/nutcracker.yml:/etc/nutcracker/nutcracker.yaml:/usr/local/etc/haproxy/haproxy.cfg:/etc/nginx/conf.d/nginx.conf:/etc/nginx/conf.d/default.conf:/etc/envoy/envoy.yaml \
    LEGATE_ADMIN=127.0.0.1:9909
# glibc otherwise raises its mmap threshold after the first large free, and the large buffers
# of big values then come from heaps it keeps: after a 1 MB-value load legate -w 1 held 755 MB
# 20 s later; with this, 119 MB (README, "Memory and start-up").
ENV MALLOC_MMAP_THRESHOLD_=131072
RUN useradd --system --uid 10001 --no-create-home --shell /usr/sbin/nologin legate
USER legate
HEALTHCHECK --interval=10s --timeout=2s --start-period=5s --retries=3 \
  CMD ["node", "-e", "fetch('http://127.0.0.1:9909/healthz').then((r) => process.exit(r.ok ? 0 : 1), () => process.exit(1))"]
ENTRYPOINT ["node", "bin/legate.js"]
