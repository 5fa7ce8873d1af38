# Shared by scripts/test and scripts/with-postgres (sourced, not run): installing Debian
# packages when missing, and a throwaway PostgreSQL on 127.0.0.1 and a free port.
# start_postgres exports FERRY_TEST_POSTGRES_URL (and FERRY_TEST_PG_CTL) and stops the
# server when the calling script exits.

is_root() { [ "$(id -u)" = 0 ]; }
apt_updated=""
apt_install() {
  is_root && command -v apt-get >/dev/null || return 1
  if [ -z "$apt_updated" ]; then apt-get update -qq; apt_updated=1; fi
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "$@" >/dev/null
}

# GRDB links the system's SQLite; make sure its headers are there.
if ! [ -e /usr/include/sqlite3.h ]; then
  apt_install libsqlite3-dev || { echo "scripts/test: libsqlite3-dev is missing" >&2; exit 1; }
fi

# A throwaway PostgreSQL on 127.0.0.1 and a free port, stopped when this script ends.
pg_bin() { ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n 1; }
start_postgres() {
  local bin
  bin=$(pg_bin)
  if [ -z "$bin" ] || ! [ -x "$bin/initdb" ]; then
    apt_install postgresql || return 1
    bin=$(pg_bin)
  fi
  [ -n "$bin" ] && [ -x "$bin/initdb" ] || return 1
  PG_ROOT=$(mktemp -d /tmp/ferry-pg.XXXXXX)
  local as=()
  if is_root; then
    id postgres >/dev/null 2>&1 || useradd --system --no-create-home postgres
    chown postgres "$PG_ROOT"
    as=(runuser -u postgres --)
  fi
  local port
  port=$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
  "${as[@]}" "$bin/initdb" -D "$PG_ROOT/data" -A trust -U postgres --no-sync >/dev/null
  cat >> "$PG_ROOT/data/postgresql.conf" <<CONF
listen_addresses = '127.0.0.1'
port = $port
unix_socket_directories = '$PG_ROOT'
max_connections = 400
# Bulk benchmarks write gigabytes of WAL: with the default 1 GB, checkpoints come every few
# seconds and stall commits on a small disk.
max_wal_size = 4GB
CONF
  "${as[@]}" "$bin/pg_ctl" -D "$PG_ROOT/data" -l "$PG_ROOT/server.log" -w start >/dev/null
  PG_CTL="${as[*]} $bin/pg_ctl -D $PG_ROOT/data -l $PG_ROOT/server.log -w"
  trap 'stop_postgres' EXIT
  export FERRY_TEST_POSTGRES_URL="postgresql://postgres@127.0.0.1:$port/postgres"
  export FERRY_TEST_PG_CTL="$PG_CTL"
  echo "$(basename "$0"): PostgreSQL $("$bin/postgres" --version | awk '{print $3}') on 127.0.0.1:$port"
}
stop_postgres() {
  if [ -n "${PG_CTL:-}" ]; then $PG_CTL -m fast stop >/dev/null 2>&1 || true; fi
  [ -n "${PG_ROOT:-}" ] && rm -rf "$PG_ROOT"
}

