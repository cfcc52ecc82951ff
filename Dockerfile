# legate on Node 24, Debian 13 (trixie): glibc 2.41, so uWebSockets.js loads.
FROM node:24-trixie-slim
WORKDIR /opt/legate
COPY package.json package-lock.json ./
# The image's own Node is 24, so the pinned node@24 devDependency is not needed here.
RUN npm ci --omit=dev --no-audit --no-fund && npm cache clean --force
COPY bin ./bin
COPY engine ./engine
COPY workers ./workers
COPY config /etc/legate
ENV LEGATE_CONFIG=/etc/legate/nutcracker.yml
USER node
ENTRYPOINT ["node", "bin/legate.js"]
