#!/usr/bin/env bash
# A real Apache Kafka broker (KRaft, one combined broker+controller) on loopback, without Docker.
#
#   kafka.sh start [DIR]   format fresh KRaft storage in DIR, start the broker on a free port,
#                          wait until it serves, print its bootstrap address (host:port)
#   kafka.sh stop  [DIR]   stop the broker started in DIR and wait for it to exit
#   kafka.sh restart DIR   stop the broker of DIR and start it again on its data and ports
#   kafka.sh version       print the Kafka version the pom pins
#
# Jars come from Maven Central through pom.xml and are cached in ./lib (git-ignored).
# Needs: Java 17+ and Maven. DIR defaults to a new temporary folder.
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
lib="$here/lib"

die() { echo "kafka.sh: $*" >&2; exit 1; }

kafka_version() { sed -n 's:.*<kafka.version>\(.*\)</kafka.version>.*:\1:p' "$here/pom.xml"; }

ensure_jars() {
  local v; v=$(kafka_version)
  [ -f "$lib/kafka_2.13-$v.jar" ] && return 0
  command -v java >/dev/null || die "java not found: install a JDK 17+ (apt-get install openjdk-17-jre-headless)"
  command -v mvn >/dev/null || die "mvn not found: install Maven (apt-get install maven)"
  echo "kafka.sh: fetching Apache Kafka $v jars from Maven Central into $lib ..." >&2
  rm -rf "$lib"
  mvn -q -B -f "$here/pom.xml" dependency:copy-dependencies \
    -DoutputDirectory="$lib" -DincludeScope=runtime >&2 || die "Maven could not resolve kafka_2.13:$v"
}

free_port() {
  # Ask the kernel for a free loopback port (bind to 0), then release it.
  python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1]); s.close()' 2>/dev/null \
    || node -e 'const s=require("net").createServer().listen(0,"127.0.0.1",()=>{console.log(s.address().port);s.close()})'
}

start() {
  local dir=${1:-$(mktemp -d -t aispm-kafka-XXXXXX)}
  mkdir -p "$dir"
  dir=$(cd "$dir" && pwd)
  [ -f "$dir/broker.pid" ] && kill -0 "$(cat "$dir/broker.pid")" 2>/dev/null && die "a broker already runs in $dir"
  ensure_jars
  rm -rf "$dir/data"
  local port cport
  port=$(free_port); cport=$(free_port)
  while [ "$cport" = "$port" ]; do cport=$(free_port); done
  cat > "$dir/server.properties" <<PROPS
process.roles=broker,controller
node.id=1
controller.quorum.voters=1@127.0.0.1:$cport
listeners=PLAINTEXT://127.0.0.1:$port,CONTROLLER://127.0.0.1:$cport
advertised.listeners=PLAINTEXT://127.0.0.1:$port
controller.listener.names=CONTROLLER
listener.security.protocol.map=PLAINTEXT:PLAINTEXT,CONTROLLER:PLAINTEXT
inter.broker.listener.name=PLAINTEXT
log.dirs=$dir/data
num.partitions=1
offsets.topic.replication.factor=1
offsets.topic.num.partitions=4
transaction.state.log.replication.factor=1
transaction.state.log.min.isr=1
share.coordinator.state.topic.replication.factor=1
share.coordinator.state.topic.min.isr=1
group.initial.rebalance.delay.ms=0
auto.create.topics.enable=true
PROPS
  local cluster
  cluster=$(java -cp "$lib/*" "${jvm[@]}" kafka.tools.StorageTool random-uuid | tail -n 1)
  java -cp "$lib/*" "${jvm[@]}" kafka.tools.StorageTool format -t "$cluster" -c "$dir/server.properties" \
    > "$dir/format.log" 2>&1 || { cat "$dir/format.log" >&2; die "formatting KRaft storage failed"; }
  echo "127.0.0.1:$port" > "$dir/bootstrap"
  launch "$dir"
}

jvm=(-Xms256m -Xmx768m -XX:+UseG1GC -Djava.awt.headless=true -Dlog4j2.configurationFile="$here/log4j2.yaml")

# Runs the broker of DIR (formatted, with server.properties) and waits until it serves.
launch() {
  local dir=$1
  # The marker below is looked for in this start's log only.
  [ -f "$dir/broker.log" ] && mv -f "$dir/broker.log" "$dir/broker.log.1"
  nohup java -cp "$lib/*" "${jvm[@]}" -Daispm.kafka.dir="$dir" kafka.Kafka "$dir/server.properties" \
    > "$dir/stdout.log" 2>&1 &
  echo $! > "$dir/broker.pid"
  local deadline=$((SECONDS + ${KAFKA_START_TIMEOUT:-90}))
  until grep -q "Kafka Server started" "$dir/broker.log" 2>/dev/null; do
    kill -0 "$(cat "$dir/broker.pid")" 2>/dev/null || { tail -n 30 "$dir/stdout.log" >&2; die "the broker exited while starting (logs in $dir)"; }
    [ $SECONDS -lt $deadline ] || { stop "$dir"; die "the broker did not start within ${KAFKA_START_TIMEOUT:-90}s (logs in $dir)"; }
    sleep 0.2
  done
  cat "$dir/bootstrap"
}

restart() {
  local dir=${1:?restart needs the broker folder}
  [ -f "$dir/server.properties" ] && [ -f "$dir/bootstrap" ] || die "no broker was started in $dir (run: kafka.sh start $dir)"
  ensure_jars
  stop "$dir"
  launch "$dir"
}

stop() {
  local dir=${1:?stop needs the broker folder}
  [ -f "$dir/broker.pid" ] || return 0
  local pid; pid=$(cat "$dir/broker.pid")
  if kill -0 "$pid" 2>/dev/null; then
    kill -TERM "$pid"
    for _ in $(seq 1 150); do kill -0 "$pid" 2>/dev/null || break; sleep 0.2; done
    kill -0 "$pid" 2>/dev/null && kill -KILL "$pid"
  fi
  rm -f "$dir/broker.pid"
}

case "${1:-}" in
  start) start "${2:-}" ;;
  stop) stop "${2:-}" ;;
  restart) restart "${2:-}" ;;
  version) kafka_version ;;
  fetch) ensure_jars ;;
  -h|--help|help|"") sed -n '2,11p' "$0" | sed 's/^# \{0,1\}//' ;;
  *) die "unknown command '$1' (try: start, stop, restart, version, fetch)" ;;
esac
