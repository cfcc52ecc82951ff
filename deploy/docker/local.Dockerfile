# The same image as ../../Dockerfile, built where no image registry is reachable (our CI):
# scripts/docker-images.sh imports a debootstrap'd Debian 13 root as BASE and stages the
# context (legate's sources and the dist/ built from them, production node_modules from npm's
# cache, the pinned Node 24).
ARG BASE
FROM ${BASE}
COPY node /usr/local/bin/node
WORKDIR /opt/legate
COPY app/ ./
COPY config/ ./config/
RUN useradd --system --uid 10001 --no-create-home --shell /usr/sbin/nologin legate
ENV LEGATE_CONFIG_PATHS=/etc/legate/legate.yml:/etc/nutcracker/nutcracker.yml:/etc/nutcracker/nutcracker.yaml:/usr/local/etc/haproxy/haproxy.cfg:/etc/nginx/conf.d/nginx.conf:/etc/nginx/conf.d/default.conf:/etc/envoy/envoy.yaml \
    LEGATE_ADMIN=127.0.0.1:9909
# See ../../Dockerfile: memory comes back to the system after loads with large values.
ENV MALLOC_MMAP_THRESHOLD_=131072
USER legate
HEALTHCHECK --interval=10s --timeout=2s --start-period=5s --retries=3 \
  CMD ["node", "-e", "fetch('http://127.0.0.1:9909/healthz').then((r) => process.exit(r.ok ? 0 : 1), () => process.exit(1))"]
ENTRYPOINT ["node", "bin/legate.js"]
