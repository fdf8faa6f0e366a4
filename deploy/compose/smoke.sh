#!/usr/bin/env bash
# Smoke run of docker-compose.yml on a Docker host:
#   deploy/compose/smoke.sh [--keep]
# builds the images, starts the demo profile under a project of its own, waits until
# Grafana serves the provisioned dashboards and datasources, and the store holds the
# fleet's events, findings and posture rows as the dashboards' read-only user sees
# them; prints what it saw, then takes the project down with its volumes (--keep
# leaves it running). Needs Docker with Compose v2 and curl; ports 3000 and 4318 free.
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
cd "$here/../.."
die() { echo "smoke: $*" >&2; exit 1; }
case "${1:-}" in
  -h|--help) sed -n '2,8p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
  --keep|"") ;;
  *) die "unknown option '$1' (try --help)" ;;
esac
command -v docker >/dev/null || die "docker not found: install Docker Engine with the Compose plugin"
docker info >/dev/null 2>&1 || die "no Docker engine answers \`docker info\`: start it"
command -v curl >/dev/null || die "curl not found"

project=aispm-smoke
compose=(docker compose -p "$project" --profile demo)
read_key=${AISPM_SQL_KEY:-acme-demo-read-key}
if [ "${1:-}" != --keep ]; then
  trap '"${compose[@]}" down -v --remove-orphans >/dev/null 2>&1 || true' EXIT
fi

echo "smoke: building and starting the demo profile (the first build takes minutes)"
"${compose[@]}" up -d --build

# Waits up to $1 seconds for the command after it to succeed, saying what it waits for.
wait_for() {
  local limit=$1 what=$2; shift 2
  local start=$SECONDS
  until "$@" >/dev/null 2>&1; do
    [ $((SECONDS - start)) -lt "$limit" ] || { "${compose[@]}" ps >&2; die "$what: not within ${limit} s"; }
    sleep 5
  done
  echo "smoke: $what ($((SECONDS - start)) s)"
}

# A count from the store, read as the dashboards' tenant reader.
count() {
  "${compose[@]}" exec -T clickhouse clickhouse-client --user acme --password "$read_key" \
    --database aispm --query "SELECT count() FROM $1" 2>/dev/null
}
positive() { local n; n=$(count "$1") && [ "${n:-0}" -gt 0 ]; }
grafana() { curl -sf -u admin:admin "http://localhost:3000$1"; }

wait_for 300 "Grafana answers" grafana /api/health
wait_for 120 "the posture dashboard is provisioned" grafana /api/dashboards/uid/aispm-posture
wait_for 120 "the tenant datasource reaches ClickHouse" grafana /api/datasources/uid/aispm-clickhouse/health
wait_for 120 "the operator datasource reaches ClickHouse" grafana /api/datasources/uid/aispm-operator/health
wait_for 300 "the fleet's events are stored" positive events
wait_for 300 "findings are stored" positive findings
wait_for 300 "posture rows are stored" positive posture

dashboards=$(grafana '/api/search?type=dash-db' | grep -o '"uid":"aispm-[^"]*"' | wc -l)
[ "$dashboards" -ge 8 ] || die "Grafana lists $dashboards aispm dashboards; expected 8 or more"
echo "smoke: ok: $dashboards dashboards; events $(count events), findings $(count findings), posture $(count posture)"
echo "smoke: open http://localhost:3000 (admin / admin) to look at them${1:+; the project keeps running: docker compose -p $project down -v}"
