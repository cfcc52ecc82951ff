# legate on Node 24, Debian 13 (trixie): glibc 2.41, so uWebSockets.js loads.
# One image for every role: it finds its config where the seed's pods mount each anchor's
# (LEGATE_CONFIG_PATHS), or where LEGATE_CONFIG / -c says. Runs as a non-root user, writes
# nothing to its filesystem (a read-only root works), answers HEALTHCHECK on /healthz, and
# drains on SIGTERM. deploy/docker/local.Dockerfile is the same image built with no registry.
FROM node:24-trixie-slim
WORKDIR /opt/legate
COPY package.json package-lock.json ./
# The image's own Node is 24, so the pinned node@24 devDependency is not needed here.
RUN npm ci --omit=dev --ignore-scripts --no-audit --no-fund && npm cache clean --force
COPY bin ./bin
COPY engine ./engine
COPY workers ./workers
COPY config ./config
ENV LEGATE_CONFIG_PATHS=/etc/legate/legate.yml:/etc/nutcracker/nutcracker.yml:/etc/nutcracker/nutcracker.yaml:/usr/local/etc/haproxy/haproxy.cfg:/etc/nginx/conf.d/nginx.conf:/etc/nginx/conf.d/default.conf:/etc/envoy/envoy.yaml \
    LEGATE_ADMIN=127.0.0.1:9909
RUN useradd --system --uid 10001 --no-create-home --shell /usr/sbin/nologin legate
USER legate
HEALTHCHECK --interval=10s --timeout=2s --start-period=5s --retries=3 \
  CMD ["node", "-e", "fetch('http://127.0.0.1:9909/healthz').then((r) => process.exit(r.ok ? 0 : 1), () => process.exit(1))"]
ENTRYPOINT ["node", "bin/legate.js"]
