# syntax=docker/dockerfile:1
# One image for every aispm service (the command picks the service: gateway, up,
# alerter, migrate, topics, demo), plus a Grafana image with aispm's dashboards,
# datasource and alert rules provisioned.
ARG NODE_IMAGE=node:24-bookworm-slim
ARG GRAFANA_IMAGE=grafana/grafana:12.3.0

# Build: every dependency (dev ones too), then the Grafana files from the dashboards as code.
FROM ${NODE_IMAGE} AS build
WORKDIR /src
COPY package.json package-lock.json ./
COPY services services
COPY dashboards dashboards
RUN npm ci --ignore-scripts --no-audit --no-fund
# Grafana expands $AISPM_SQL_HOST, $AISPM_SQL_USER and $AISPM_SQL_KEY from its environment.
RUN node services/cli/src/main.ts dashboards build --out /out/grafana --host '$AISPM_SQL_HOST'

# Production dependencies only: no compilers, no test or build tools.
FROM ${NODE_IMAGE} AS deps
WORKDIR /app
COPY package.json package-lock.json ./
COPY services services
RUN npm ci --omit=dev --ignore-scripts --no-audit --no-fund && npm cache clean --force

FROM ${NODE_IMAGE} AS aispm
ENV NODE_ENV=production \
    AISPM_DATA_DIR=/data \
    AISPM_GATEWAY_HOST=0.0.0.0 \
    AISPM_METRICS_HOST=0.0.0.0 \
    AISPM_SQL_HOST=0.0.0.0
WORKDIR /app
# Owned by root and read-only for the service user: only /data (a volume) and /tmp are written.
COPY --from=deps /app/node_modules node_modules
COPY package.json ./
COPY services services
COPY schemas schemas
COPY rules rules
COPY --from=build /out/grafana grafana
RUN mkdir -p /data && chown node:node /data
USER node
VOLUME ["/data"]
# The metrics listener answers /healthz (gateway, up); the alerter's compose service checks its API instead.
HEALTHCHECK --interval=15s --timeout=3s --start-period=30s --retries=3 \
  CMD ["node", "-e", "fetch('http://127.0.0.1:' + (process.env.AISPM_METRICS_PORT ?? 9464) + '/healthz').then((r) => process.exit(r.ok ? 0 : 1), () => process.exit(1))"]
ENTRYPOINT ["node", "services/cli/src/main.ts"]
CMD ["--help"]

FROM ${GRAFANA_IMAGE} AS grafana
ENV GF_INSTALL_PLUGINS=grafana-clickhouse-datasource \
    GF_PATHS_PROVISIONING=/etc/aispm/grafana/provisioning
COPY --from=build /out/grafana /etc/aispm/grafana
