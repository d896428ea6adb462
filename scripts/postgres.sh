#!/usr/bin/env bash
# A throwaway PostgreSQL server for tests and CI (CONTRACT §11), on 127.0.0.1 only.
#   bash scripts/postgres.sh start [DIR]   fresh cluster in DIR (default: a new temp dir); prints one
#                                          line on stdout: postgres://codex:PASSWORD@127.0.0.1:PORT/codex
#   bash scripts/postgres.sh stop DIR      stops that server and removes DIR
# Works as root (the server then runs as the `postgres` user), as postgres, or as any other user.
# Everything but the URL goes to stderr or DIR/server.log.
set -Eeuo pipefail

die() { echo "postgres.sh: $*" >&2; exit 1; }

bindir() {
  local d
  if d=$(command -v initdb 2>/dev/null); then dirname "$(readlink -f "$d")"; return; fi
  if d=$(pg_config --bindir 2>/dev/null) && [ -x "$d/initdb" ]; then echo "$d"; return; fi
  for d in $(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -rV); do
    if [ -x "$d/initdb" ]; then echo "$d"; return; fi
  done
  return 1
}

# PostgreSQL refuses to run as root: then its programs run as `postgres`.
as_pg() {
  if [ "$(id -u)" -ne 0 ]; then "$@"
  elif command -v runuser >/dev/null; then runuser -u postgres -- "$@"
  else su -s /bin/bash -c '"$0" "$@"' postgres -- "$@"
  fi
}

start() {
  local port="" password url
  bin="" dir="" created=0 # globals: the EXIT trap below reads them after this function has unwound
  bin=$(bindir) || { echo "postgres.sh: initdb not found; install PostgreSQL: apt-get install -y postgresql" >&2; exit 1; }
  if [ "$(id -u)" -eq 0 ] && ! id postgres >/dev/null 2>&1; then die "running as root needs a 'postgres' user"; fi
  if [ -n "${1:-}" ]; then
    dir=$1
    mkdir -p "$dir"
    [ -z "$(ls -A "$dir")" ] || die "$dir is not empty"
  else
    dir=$(mktemp -d "${TMPDIR:-/tmp}/codex-pg.XXXXXX") && created=1
  fi
  dir=$(cd "$dir" && pwd)
  # On any failure from here: stop what was started, remove what was made, show the logs.
  trap 'rc=$?; trap - EXIT; if [ $rc != 0 ]; then tail -n 20 "$dir/initdb.log" "$dir/server.log" >&2 2>/dev/null || true; as_pg "$bin/pg_ctl" stop -D "$dir/data" -m immediate >/dev/null 2>&1 || true; if [ $created = 1 ]; then rm -rf "$dir"; else find "$dir" -mindepth 1 -delete; fi; fi; exit $rc' EXIT
  touch "$dir/.codex-postgres"
  [ "$(id -u)" -ne 0 ] || chown -R postgres: "$dir"
  chmod 700 "$dir"
  as_pg test -w "$dir" || die "the postgres user cannot write $dir (are its parents searchable?)"
  cd "$dir" # programs run as postgres may not be able to read the caller's directory

  as_pg "$bin/initdb" -D "$dir/data" -U postgres -E UTF8 --locale=C \
    --auth-local=trust --auth-host=scram-sha-256 >"$dir/initdb.log" 2>&1
  cat >>"$dir/data/postgresql.conf" <<EOF
listen_addresses = '127.0.0.1'
unix_socket_directories = '$dir'
fsync = off
synchronous_commit = off
full_page_writes = off
EOF

  # A free port: skip ports that answer, and try again when another process took it meanwhile.
  local try started=0
  for try in $(seq 1 20); do
    port=$((20000 + RANDOM % 12000))
    (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null && continue
    rm -f "$dir/server.log"
    if as_pg "$bin/pg_ctl" start -D "$dir/data" -w -t 60 -o "-p $port" -l "$dir/server.log" >/dev/null; then started=1; break; fi
    grep -q "could not bind\|could not create any TCP/IP sockets" "$dir/server.log" || false
  done
  [ $started = 1 ] || die "no free port found"
  local i
  for i in $(seq 1 100); do
    "$bin/pg_isready" -q -h 127.0.0.1 -p "$port" && break
    [ "$i" -lt 100 ] || false
    sleep 0.1
  done

  password=$(od -An -tx1 -N16 /dev/urandom | tr -d ' \n')
  "$bin/psql" -q -X -v ON_ERROR_STOP=1 -h "$dir" -p "$port" -U postgres -d postgres >&2 <<EOF
create role codex login createdb password '$password';
create database codex owner codex;
EOF
  trap - EXIT
  url="postgres://codex:$password@127.0.0.1:$port/codex"
  echo "postgres.sh: server in $dir; stop it with: bash scripts/postgres.sh stop $dir" >&2
  echo "$url"
}

stop() {
  local bin dir=${1:?usage: postgres.sh stop DIR}
  [ -e "$dir" ] || return 0
  [ -f "$dir/.codex-postgres" ] || die "$dir was not made by postgres.sh start; not removing it"
  if [ -f "$dir/data/postmaster.pid" ]; then
    bin=$(bindir) || die "initdb not found"
    # A server that is already gone (killed, stale pid file) is fine; one still running is not.
    (cd "$dir" && as_pg "$bin/pg_ctl" stop -D "$dir/data" -m fast -w -t 60 >/dev/null 2>&1) ||
      ! (cd "$dir" && as_pg "$bin/pg_ctl" status -D "$dir/data" >/dev/null 2>&1) ||
      die "could not stop the server in $dir"
  fi
  rm -rf "$dir"
}

case "${1:-}" in
  start) shift; start "$@" ;;
  stop) shift; stop "$@" ;;
  *) echo "usage: bash scripts/postgres.sh start [DIR] | stop DIR" >&2; exit 2 ;;
esac
