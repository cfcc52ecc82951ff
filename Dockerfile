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
USER node
ENTRYPOINT ["node", "bin/legate.js"]
