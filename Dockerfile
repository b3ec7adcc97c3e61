# One image recipe for both demo services:
#   docker build --build-arg SERVICE=frontend -t tracelab/frontend .
#   docker build --build-arg SERVICE=backend  -t tracelab/backend .
# Air-gapped, the same file: a context carrying npm-offline-cache/ (build/context.ts writes one)
# installs from that cache with no network, and NODE_IMAGE names a base image the lab already has.
# No `# syntax=` line: it makes BuildKit pull its Dockerfile frontend from Docker Hub; the built-in
# frontend reads this file as it is.
# The runtime runs the TypeScript sources directly (Node 24 type stripping), with the same
# command the tests spawn (test/services/dockerfile.test.ts keeps the two equal).
# Pinned by tag; CI that can pull resolves and pins the digest (node:24.20.0-trixie-slim@sha256:…).
ARG NODE_IMAGE=node:24.20.0-trixie-slim

FROM ${NODE_IMAGE} AS build
ARG SERVICE
RUN case "$SERVICE" in frontend|backend) ;; \
      *) echo "invalid SERVICE='$SERVICE': build with --build-arg SERVICE=frontend or SERVICE=backend" >&2; exit 2 ;; esac
WORKDIR /app
COPY package.json package-lock.json ./
# The context's npm cache, when it has one. An empty wildcard match is allowed (BuildKit's
# AllowEmptyWildcard); package.json, always there, keeps the COPY from matching nothing at all.
# Outside /app: the runtime stage never gets it.
COPY package.json npm-offline-cac[h]e /tmp/npm-offline-cache/
COPY services/common/package.json services/common/
COPY services/frontend/package.json services/frontend/
COPY services/backend/package.json services/backend/
# Production dependencies of this one service (and service-kit), none of the root's tooling;
# from the offline cache when the context brought one.
RUN if [ -d /tmp/npm-offline-cache/_cacache ]; then set -- --offline --cache /tmp/npm-offline-cache; fi; \
    npm ci "$@" --omit=dev --workspace "services/$SERVICE" --include-workspace-root=false \
      --ignore-scripts --no-audit --no-fund
COPY services/common/src services/common/src
COPY services/${SERVICE}/src services/${SERVICE}/src

FROM ${NODE_IMAGE}
ARG SERVICE
ENV NODE_ENV=production
# Files stay root-owned: the service user can read them, not change them (read-only root FS).
COPY --from=build /app /app
WORKDIR /app/services/${SERVICE}
USER 10001:10001
EXPOSE 8080
CMD ["node", "--import", "@tracelab/service-kit/telemetry", "src/server.ts"]
