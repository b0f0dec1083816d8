#!/usr/bin/env bash
# A throwaway PostgreSQL 15 cluster for the store tests, on 127.0.0.1, in a temporary folder,
# run as the `postgres` user (initdb refuses root). It has a role `nasr` with a password, so
# that the tests see password authentication (and that it is never printed), and TLS with a
# self-signed certificate (openssl), so that `sslmode=require` can be tested; plain connections
# are accepted too.
#
#   eval "$(scripts/pg_test_server.sh start DIR [PORT])"   # exports NASR_TEST_POSTGRES
#   scripts/pg_test_server.sh stop DIR
set -euo pipefail
BIN=/usr/lib/postgresql/15/bin
command="${1:?start or stop}"
dir="${2:?a folder for the cluster}"
port="${3:-54329}"
as_postgres() {
  if [ "$(id -un)" = postgres ]; then "$@"; else su postgres -s /bin/sh -c "$(printf '%q ' "$@")"; fi
}
case "$command" in
  start)
    if [ ! -x "$BIN/initdb" ]; then
      echo "PostgreSQL 15 is not installed: apt-get install -y postgresql" >&2
      exit 1
    fi
    mkdir -p "$dir"
    chown postgres "$dir" 2>/dev/null || true
    password="nasr-test-$(od -An -N6 -tx1 /dev/urandom | tr -d ' \n')"
    as_postgres "$BIN/initdb" -D "$dir/data" -U postgres --auth-local=trust \
      --auth-host=scram-sha-256 >"$dir/initdb.log"
    openssl req -new -x509 -days 2 -nodes -subj "/CN=127.0.0.1" -keyout "$dir/data/server.key" \
      -out "$dir/data/server.crt" >/dev/null 2>&1
    chmod 600 "$dir/data/server.key"
    chown postgres "$dir/data/server.key" "$dir/data/server.crt" 2>/dev/null || true
    as_postgres "$BIN/pg_ctl" -D "$dir/data" -l "$dir/server.log" -w \
      -o "-c listen_addresses=127.0.0.1 -c port=$port -c unix_socket_directories=$dir -c max_connections=50 -c ssl=on" start >/dev/null
    as_postgres "$BIN/psql" -h "$dir" -p "$port" -U postgres -q \
      -c "CREATE ROLE nasr LOGIN PASSWORD '$password'" -c "CREATE DATABASE nasr OWNER nasr" >/dev/null
    echo "export NASR_TEST_POSTGRES='postgresql://nasr:$password@127.0.0.1:$port/nasr'"
    ;;
  stop)
    as_postgres "$BIN/pg_ctl" -D "$dir/data" -m fast stop >/dev/null
    ;;
  *)
    echo "usage: $0 start|stop DIR [PORT]" >&2
    exit 2
    ;;
esac
