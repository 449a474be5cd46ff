#!/usr/bin/env bash
# Starts or stops the throwaway PostgreSQL cluster the integration tests share (ctest fixture).
# Usage: test_postgres.sh start|stop|halt|resume DIR. Unix socket in DIR only, no TCP port.
# halt stops the server (pg_ctl -m fast) and keeps its data; resume starts it again: for
# tests that take the database away from a running parley (db_fault_test.cpp).
set -euo pipefail
action=$1 dir=$2
bin=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n 1)
[ -x "$bin/initdb" ] || { echo "PostgreSQL server binaries not found under /usr/lib/postgresql" >&2; exit 1; }
as_pg() { if [ "$(id -u)" = 0 ]; then runuser -u postgres -- "$@"; else "$@"; fi; }
# fsync off: this cluster is thrown away after the run; durability is not under test here.
pg_start() {
  as_pg "$bin/pg_ctl" -D "$dir/data" -l "$dir/postgres.log" -w -t 60 \
    -o "-c listen_addresses='' -c unix_socket_directories='$dir' -c fsync=off -c max_connections=200" start >/dev/null ||
    { cat "$dir/postgres.log" >&2; exit 1; }
}

case $action in
start)
  if [ -f "$dir/data/postmaster.pid" ] && as_pg "$bin/pg_ctl" -D "$dir/data" status >/dev/null 2>&1; then
    as_pg "$bin/pg_ctl" -D "$dir/data" -m immediate -w stop >/dev/null
  fi
  rm -rf "$dir"
  mkdir -p "$dir" && chmod 700 "$dir"
  [ "$(id -u)" = 0 ] && chown postgres: "$dir"
  cd "$dir"
  as_pg "$bin/initdb" -D "$dir/data" -U postgres -A trust -N >"$dir/initdb.log" 2>&1 ||
    { cat "$dir/initdb.log" >&2; exit 1; }
  pg_start
  echo "test PostgreSQL running in $dir"
  ;;
halt)
  cd "$dir"
  as_pg "$bin/pg_ctl" -D "$dir/data" -m fast -w stop >/dev/null
  ;;
resume)
  cd "$dir"
  pg_start
  ;;
stop)
  if [ -d "$dir/data" ]; then
    as_pg "$bin/pg_ctl" -D "$dir/data" -m fast -w stop >/dev/null 2>&1 || true
  fi
  rm -rf "$dir"
  ;;
*) echo "usage: $0 start|stop|halt|resume DIR" >&2; exit 2 ;;
esac
