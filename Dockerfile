# syntax=docker/dockerfile:1
# The delegation token service: a build stage compiles TypeScript; the runtime stage (the default target) holds only
# production dependencies and dist/, runs as the unprivileged `node` user with node as PID 1, and keeps keys and
# secrets out of the image (mount /app/keys, or pass secrets through env). `--target examples` builds the example
# MCP tool servers and agent (development dependencies, TypeScript through tsx).

ARG NODE_IMAGE=node:22-bookworm-slim

FROM ${NODE_IMAGE} AS deps
WORKDIR /app
COPY package.json package-lock.json ./
COPY packages/verify/package.json packages/verify/
RUN npm ci --no-audit --no-fund --ignore-scripts

FROM deps AS build
COPY tsconfig.json tsconfig.build.json ./
COPY packages/verify packages/verify
COPY src src
RUN npm run build \
 && npm prune --omit=dev --no-audit --no-fund --ignore-scripts

FROM deps AS examples
COPY . .
USER node
CMD ["node", "--conditions=source", "--import", "tsx", "examples/agent.ts"]

FROM ${NODE_IMAGE} AS runtime
# No PORT here: an image-wide PORT would beat every `port:` in a config file, the gateway's (4100) included. The
# service's port is its config's (`port`, default 3000) unless the container's own env sets PORT.
ENV NODE_ENV=production
WORKDIR /app
COPY --from=build /app/package.json /app/package-lock.json ./
COPY --from=build /app/node_modules node_modules
COPY --from=build /app/dist dist
COPY --from=build /app/packages/verify/package.json packages/verify/package.json
COPY --from=build /app/packages/verify/dist packages/verify/dist
COPY bin bin
COPY config config
# keys/ is a mount point: the signing keys and secrets are the operator's, never part of the image.
RUN mkdir -m 0700 keys && chown node:node keys
USER node
EXPOSE 3000 9000
# Liveness, not readiness: /healthz answers while the process serves. /readyz also fails while Redis is down, and a
# restart (Swarm, autoheal) cannot fix Redis: every replica would be restarted at once, and a restarted one exits 2 until
# Redis is back. The check finds the server process in the container (the service, or `dts gateway`) and probes the
# port its own config file and environment resolve to (src/healthcheck.ts); compose gates start order on /readyz.
HEALTHCHECK --interval=10s --timeout=3s --start-period=10s --retries=3 \
  CMD ["node", "dist/src/healthcheck.js", "/healthz"]
# exec form: node is PID 1 and receives SIGTERM itself (compose adds `init: true` for zombie reaping as well).
ENTRYPOINT ["node", "dist/src/main.js"]
