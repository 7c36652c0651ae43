#!/usr/bin/env bash
# Starts (or stops) the services the test suite and a local cluster use: RabbitMQ, PostgreSQL
# and a real Apache Pulsar broker in standalone mode. Idempotent: a service that already answers
# is used as it is, and started only when it does not.
#
#   deploy/dev/services.sh start [rabbitmq|postgres|pulsar|mariadb ...]   (default: all four)
#   deploy/dev/services.sh stop  [...]
#   deploy/dev/services.sh status
#   deploy/dev/services.sh restart pulsar|rabbitmq               (the broker-restart tests)
#
# RabbitMQ, PostgreSQL and MariaDB come from Debian's packages, installed when missing and the user is
# root. Pulsar's jars come from Maven Central (deploy/dev/pulsar/pom.xml) into a cache outside
# the repository; the first fetch takes about 30 s. Settings (environment):
#   SILOBRIDGE_CACHE_DIR         cache and data folder (default ~/.cache/silobridge)
#   SILOBRIDGE_PULSAR_PORT       broker port (6650)     SILOBRIDGE_PULSAR_HTTP_PORT  admin port (8080)
#   SILOBRIDGE_PULSAR_VERSION    org.apache.pulsar:pulsar-broker version (the pom's default)
#   SILOBRIDGE_PULSAR_HEAP       JVM heap for the broker (768m)
# Exit status: 0 when every service asked for answers, 1 otherwise (the line above says why).
set -uo pipefail

HERE="$(cd "$(dirname "$0")" && pwd)"
CACHE="${SILOBRIDGE_CACHE_DIR:-${XDG_CACHE_HOME:-$HOME/.cache}/silobridge}"
PULSAR_PORT="${SILOBRIDGE_PULSAR_PORT:-6650}"
PULSAR_HTTP_PORT="${SILOBRIDGE_PULSAR_HTTP_PORT:-8080}"
PULSAR_VERSION="${SILOBRIDGE_PULSAR_VERSION:-$(sed -n 's:.*<pulsar.version>\(.*\)</pulsar.version>.*:\1:p' "$HERE/pulsar/pom.xml")}"
PULSAR_HOME="$CACHE/pulsar-$PULSAR_VERSION"
PULSAR_DATA="$CACHE/pulsar-data"
PULSAR_PID="$PULSAR_DATA/broker.pid"

say() { echo "services: $*"; }

listening() { # host port
  (exec 3<>"/dev/tcp/$1/$2") 2>/dev/null
}

wait_for() { # seconds description command...
  local secs=$1 what=$2; shift 2
  for _ in $(seq "$secs"); do
    if "$@" >/dev/null 2>&1; then return 0; fi
    sleep 1
  done
  say "$what did not come up within ${secs}s"
  return 1
}

apt_install() { # package...
  if [ "$(id -u)" != 0 ] || ! command -v apt-get >/dev/null; then
    say "missing $*: install it (sudo apt-get install -y $*) or point the tests at an existing server"
    return 1
  fi
  say "installing $* from Debian's packages"
  DEBIAN_FRONTEND=noninteractive apt-get install -y -q "$@" >/dev/null 2>"$CACHE/apt.log" || {
    apt-get update -q >/dev/null 2>&1 &&
      DEBIAN_FRONTEND=noninteractive apt-get install -y -q "$@" >/dev/null 2>"$CACHE/apt.log"
  } || { say "apt-get install $* failed: see $CACHE/apt.log"; return 1; }
}

# ----- RabbitMQ -------------------------------------------------------------------------------
rabbitmq_start() {
  if listening 127.0.0.1 5672; then say "rabbitmq: already listening on 5672"; return 0; fi
  command -v rabbitmq-server >/dev/null || apt_install rabbitmq-server || return 1
  # The Debian wrapper drops to the rabbitmq user; guest/guest is allowed on loopback by default.
  rabbitmq-server -detached >/dev/null 2>&1 || true
  wait_for 90 rabbitmq rabbitmqctl -q await_startup --timeout 5 || return 1
  wait_for 30 "rabbitmq port 5672" listening 127.0.0.1 5672 || return 1
  say "rabbitmq: up on 5672 (guest/guest)"
}

rabbitmq_stop() {
  command -v rabbitmqctl >/dev/null && rabbitmqctl -q stop >/dev/null 2>&1
  say "rabbitmq: stopped"
}

# ----- PostgreSQL -----------------------------------------------------------------------------
pg_cluster() { pg_lsclusters -h 2>/dev/null | awk 'NR==1 {print $1" "$2}'; }

postgres_start() {
  if ! command -v pg_lsclusters >/dev/null || [ -z "$(pg_cluster)" ]; then
    if listening 127.0.0.1 5432; then say "postgres: a server listens on 5432 (not managed here)"; return 0; fi
    apt_install postgresql || return 1
  fi
  read -r ver name <<<"$(pg_cluster)"
  local hba="/etc/postgresql/$ver/$name/pg_hba.conf"
  # What the tests expect: user postgres without a password on loopback, and a database "test".
  if [ -w "$hba" ] && ! grep -q "silobridge-dev" "$hba"; then
    { echo "# silobridge-dev: trust on loopback (tests only)"
      echo "host all all 127.0.0.1/32 trust"
      echo "host all all ::1/128 trust"
      cat "$hba"; } >"$hba.new" && cat "$hba.new" >"$hba" && rm -f "$hba.new"
    pg_ctlcluster "$ver" "$name" reload >/dev/null 2>&1 || true
  fi
  if ! pg_lsclusters -h | awk 'NR==1 {exit $4 == "online" ? 0 : 1}'; then
    pg_ctlcluster "$ver" "$name" start || { say "postgres: pg_ctlcluster $ver $name start failed"; return 1; }
  fi
  wait_for 30 postgres listening 127.0.0.1 5432 || return 1
  if ! psql -h 127.0.0.1 -U postgres -tAc "SELECT 1 FROM pg_database WHERE datname='test'" | grep -q 1; then
    psql -h 127.0.0.1 -U postgres -qc "CREATE DATABASE test" || { say "postgres: cannot create database test"; return 1; }
  fi
  say "postgres: up on 5432 (postgres@127.0.0.1/test, trust)"
}

postgres_stop() {
  read -r ver name <<<"$(pg_cluster)"
  [ -n "${ver:-}" ] && pg_ctlcluster "$ver" "$name" stop >/dev/null 2>&1
  say "postgres: stopped"
}

# ----- Pulsar ---------------------------------------------------------------------------------
pulsar_fetch() {
  [ -f "$PULSAR_HOME/.complete" ] && return 0
  command -v java >/dev/null || { say "pulsar: needs Java 17 (apt-get install openjdk-17-jre-headless)"; return 1; }
  command -v mvn >/dev/null || apt_install maven || return 1
  say "pulsar: fetching org.apache.pulsar:pulsar-broker:$PULSAR_VERSION from Maven Central (once; about 30 s)"
  rm -rf "$PULSAR_HOME" && mkdir -p "$PULSAR_HOME"
  (cd "$HERE/pulsar" && mvn -q -B -s settings.xml -Dpulsar.version="$PULSAR_VERSION" \
    dependency:copy-dependencies -DincludeScope=runtime -DoutputDirectory="$PULSAR_HOME/lib") \
    >"$PULSAR_HOME/fetch.log" 2>&1 || { say "pulsar: mvn failed, see $PULSAR_HOME/fetch.log:"; grep ERROR "$PULSAR_HOME/fetch.log" | head -3; return 1; }
  touch "$PULSAR_HOME/.complete"
}

pulsar_healthy() {
  curl -sf "http://127.0.0.1:$PULSAR_HTTP_PORT/admin/v2/brokers/health" | grep -q ok
}

pulsar_policies() { # the policies silobridge.bus.pulsar documents, on public/default
  local ns="http://127.0.0.1:$PULSAR_HTTP_PORT/admin/v2/namespaces/public/default"
  curl -sf -X POST -H 'Content-Type: application/json' -d false "$ns/deduplication" &&
    [ "$(curl -sf "$ns/deduplication")" = false ]
}

pulsar_start() {
  if pulsar_healthy; then say "pulsar: already up on $PULSAR_PORT"; pulsar_policies; return; fi
  if listening 127.0.0.1 "$PULSAR_PORT"; then say "pulsar: port $PULSAR_PORT is taken by something else"; return 1; fi
  pulsar_fetch || return 1
  mkdir -p "$PULSAR_DATA"
  # The committed configuration plus this machine's ports.
  { cat "$HERE/pulsar/standalone.conf"
    echo "brokerServicePort=$PULSAR_PORT"
    echo "webServicePort=$PULSAR_HTTP_PORT"; } >"$PULSAR_DATA/standalone.conf"
  local opens=""
  for m in java.base/jdk.internal.platform java.management/sun.management java.base/sun.net \
    java.base/java.lang java.base/java.io java.base/java.util.zip jdk.management/com.sun.management.internal; do
    opens="$opens --add-opens $m=ALL-UNNAMED"
  done
  # shellcheck disable=SC2086
  nohup java -Xms128m -Xmx"${SILOBRIDGE_PULSAR_HEAP:-768m}" -XX:MaxDirectMemorySize=512m $opens \
    -Dio.netty.tryReflectionSetAccessible=true \
    -Dpulsar.log.file="$PULSAR_DATA/broker.log" -Dlog4j.configurationFile="$HERE/pulsar/log4j2.xml" \
    -cp "$PULSAR_HOME/lib/*" org.apache.pulsar.PulsarStandaloneStarter \
    --config "$PULSAR_DATA/standalone.conf" --no-functions-worker --no-stream-storage \
    --metadata-dir "$PULSAR_DATA/metadata" --bookkeeper-dir "$PULSAR_DATA/bookkeeper" \
    >"$PULSAR_DATA/stdout.log" 2>&1 </dev/null &
  echo $! >"$PULSAR_PID"
  wait_for 120 "pulsar (log: $PULSAR_DATA/broker.log)" pulsar_healthy || return 1
  pulsar_policies || { say "pulsar: could not set the namespace policies"; return 1; }
  say "pulsar: up on $PULSAR_PORT (admin http://127.0.0.1:$PULSAR_HTTP_PORT), deduplication off"
}

pulsar_stop() {
  if [ -f "$PULSAR_PID" ] && kill -0 "$(cat "$PULSAR_PID")" 2>/dev/null; then
    local pid; pid=$(cat "$PULSAR_PID")
    kill "$pid"
    for _ in $(seq 60); do kill -0 "$pid" 2>/dev/null || break; sleep 0.5; done
    kill -9 "$pid" 2>/dev/null || true
  fi
  rm -f "$PULSAR_PID"
  say "pulsar: stopped"
}

# ----- MariaDB (the MySQL/MariaDB bound-table tests) -----------------------------------------
MARIADB_DATA="$CACHE/mariadb-data"

mariadb_start() {
  if listening 127.0.0.1 3306; then say "mariadb: already listening on 3306"; return 0; fi
  command -v mariadbd >/dev/null || apt_install mariadb-server || return 1
  if [ ! -d "$MARIADB_DATA/mysql" ]; then
    mkdir -p "$MARIADB_DATA"
    mariadb-install-db --datadir="$MARIADB_DATA" --user="$(id -un)" --skip-test-db \
      >"$CACHE/mariadb-install.log" 2>&1 || { say "mariadb: install-db failed, see $CACHE/mariadb-install.log"; return 1; }
  fi
  nohup mariadbd --datadir="$MARIADB_DATA" --user="$(id -un)" --port=3306 --bind-address=127.0.0.1 \
    --socket="$MARIADB_DATA/mariadb.sock" --pid-file="$MARIADB_DATA/mariadb.pid" --skip-name-resolve \
    >"$CACHE/mariadb.log" 2>&1 </dev/null &
  wait_for 30 "mariadb (log: $CACHE/mariadb.log)" listening 127.0.0.1 3306 || return 1
  # What the tests expect: user silobridge, password silobridge, on loopback, and a database "test".
  mariadb --socket="$MARIADB_DATA/mariadb.sock" -uroot -e "CREATE DATABASE IF NOT EXISTS test;
    CREATE USER IF NOT EXISTS 'silobridge'@'127.0.0.1' IDENTIFIED BY 'silobridge';
    GRANT ALL ON test.* TO 'silobridge'@'127.0.0.1';" || { say "mariadb: cannot create user and database"; return 1; }
  say "mariadb: up on 3306 (silobridge:silobridge@127.0.0.1/test)"
}

mariadb_stop() {
  if [ -f "$MARIADB_DATA/mariadb.pid" ]; then
    local pid; pid=$(cat "$MARIADB_DATA/mariadb.pid")
    kill "$pid" 2>/dev/null
    for _ in $(seq 60); do kill -0 "$pid" 2>/dev/null || break; sleep 0.5; done
  fi
  say "mariadb: stopped"
}

# ----- main -----------------------------------------------------------------------------------
status() {
  listening 127.0.0.1 5672 && echo "rabbitmq: up" || echo "rabbitmq: down"
  listening 127.0.0.1 5432 && echo "postgres: up" || echo "postgres: down"
  pulsar_healthy && echo "pulsar: up" || echo "pulsar: down"
  listening 127.0.0.1 3306 && echo "mariadb: up" || echo "mariadb: down"
}

verb="${1:-start}"; shift || true
targets=("$@"); [ ${#targets[@]} -eq 0 ] && targets=(rabbitmq postgres pulsar mariadb)
mkdir -p "$CACHE"
rc=0
case "$verb" in
  start) for t in "${targets[@]}"; do "${t}_start" || rc=1; done ;;
  stop) for t in "${targets[@]}"; do "${t}_stop" || rc=1; done ;;
  restart) for t in "${targets[@]}"; do "${t}_stop"; "${t}_start" || rc=1; done ;;
  status) status ;;
  *) echo "usage: $0 start|stop|restart|status [rabbitmq|postgres|pulsar|mariadb ...]" >&2; exit 2 ;;
esac
exit $rc
