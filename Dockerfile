# legate on Node 24, Debian 13 (trixie): glibc 2.41, so uWebSockets.js loads.
FROM node:24-trixie-slim
WORKDIR /opt/legate
COPY package.json package-lock.json tsconfig.json tsconfig.build.json ./
COPY bin ./bin
COPY engine ./engine
COPY workers ./workers
# npm ci builds dist/ (the `prepare` script, TypeScript is a devDependency); the development
# dependencies go once it is built. The image runs the emitted JavaScript.
RUN npm ci --no-audit --no-fund && npm prune --omit=dev --no-audit --no-fund \
  && npm cache clean --force && test -f dist/engine/cli/main.js
COPY config /etc/legate
ENV LEGATE_CONFIG=/etc/legate/nutcracker.yml
# glibc otherwise raises its mmap threshold after the first large free, and the large buffers
# of big values then come from heaps it keeps: after a 1 MB-value load legate -w 1 held 755 MB
# 20 s later; with this, 119 MB (README, "Memory").
ENV MALLOC_MMAP_THRESHOLD_=131072
USER node
ENTRYPOINT ["node", "bin/legate.js"]
