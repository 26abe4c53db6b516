#!/usr/bin/env bash
# Throwaway PostgreSQL clusters for Spindle development and tests (never the system service).
#   scripts/pg.sh start DIR [PORT]   init (if needed) and start a cluster in DIR, print its URL
#   scripts/pg.sh stop DIR           fast shutdown, if running
#   scripts/pg.sh url DIR            print the saved URL
# Layout: DIR/data (PGDATA), DIR/postgres.log, DIR/url, unix socket in DIR.
# Trust auth, 127.0.0.1 only, durable (fsync on). Without PORT a free port from 54320 up is
# used. As root, the server runs as the `postgres` OS user and DIR is chowned to it.
# Only the URL goes to stdout; everything else goes to stderr.
set -euo pipefail

die() { echo "pg.sh: $*" >&2; exit 1; }
[[ $# -ge 2 && $# -le 3 ]] || die "usage: pg.sh start DIR [PORT] | stop DIR | url DIR"
cmd=$1 dir=$2 port=${3:-}
[[ -z $port || $port =~ ^[0-9]+$ ]] || die "invalid port: $port"

# postgres refuses to run as root: drop to the postgres user (from / so cwd is readable).
as_pg() {
  if [[ $EUID -eq 0 ]]; then (cd / && runuser -u postgres -- "$@"); else "$@"; fi
}

# Binaries of the highest installed PostgreSQL major version.
bin=$(printf '%s\n' /usr/lib/postgresql/*/bin | sort -V | tail -n1)
[[ -x $bin/pg_ctl ]] || die "no PostgreSQL server found under /usr/lib/postgresql (run scripts/deps.sh --test)"

url_for() { echo "postgresql://postgres@127.0.0.1:$1/postgres"; }
running() { [[ -f $data/PG_VERSION ]] && as_pg "$bin/pg_ctl" status -D "$data" >/dev/null 2>&1; }

# A port is busy if something listens on it (ss, or a test connect where ss is missing).
port_busy() {
  if command -v ss >/dev/null 2>&1; then
    ss -Hltn "sport = :$1" | grep -q .
  else
    (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null
  fi
}
next_free() {
  local p=$1
  while port_busy "$p"; do
    p=$((p + 1))
    ((p <= 65535)) || die "no free TCP port found"
  done
  echo "$p"
}

# (Re)write our settings block at the end of postgresql.conf.
write_conf() {
  local conf=$data/postgresql.conf
  {
    sed '/^# >>> spindle pg.sh/,$d' "$conf"
    cat <<CONF
# >>> spindle pg.sh settings (rewritten on every start)
listen_addresses = '127.0.0.1'
port = $1
unix_socket_directories = '${dir//\'/\'\'}'
max_connections = 300
shared_buffers = 256MB
fsync = on
synchronous_commit = on
logging_collector = off
CONF
  } | as_pg tee "$conf.tmp" >/dev/null
  as_pg mv "$conf.tmp" "$conf"
}

case $cmd in
start)
  mkdir -p "$dir"
  dir=$(cd "$dir" && pwd -P)
  # unix socket paths are limited to ~107 bytes ("$dir/.s.PGSQL.NNNNN").
  ((${#dir} <= 90)) || die "directory path too long for a unix socket: $dir"
  if [[ $EUID -eq 0 ]]; then
    id postgres >/dev/null 2>&1 || die "no 'postgres' OS user (run scripts/deps.sh --test)"
    runuser -u postgres -- test -x "$(dirname "$dir")" ||
      die "user postgres cannot reach $dir (make its parent directories world-executable, or use a directory under /tmp)"
    [[ $(stat -c %U "$dir") == postgres ]] || chown -R postgres:postgres "$dir"
    runuser -u postgres -- test -w "$dir" || die "user postgres cannot write to $dir"
  fi
  data=$dir/data log=$dir/postgres.log

  if running; then
    # Reuse the running server; its port is line 4 of postmaster.pid.
    running_port=$(sed -n 4p "$data/postmaster.pid")
    [[ -z $port || $port == "$running_port" ]] ||
      echo "pg.sh: already running on port $running_port (ignoring $port)" >&2
    port=$running_port
  else
    if [[ ! -f $data/PG_VERSION ]]; then
      echo "pg.sh: initdb $data" >&2
      as_pg "$bin/initdb" -D "$data" --auth=trust -U postgres --encoding=UTF8 --no-locale >&2
    fi
    auto=0
    if [[ -z $port ]]; then
      # Prefer the port this cluster used last time, else scan upward from 54320.
      auto=1
      prev=$(sed -n 's/^port = \([0-9][0-9]*\)$/\1/p' "$data/postgresql.conf" | tail -n1)
      port=$(next_free "${prev:-54320}")
    fi
    for attempt in {1..20}; do
      write_conf "$port"
      offset=$(($(stat -c %s "$log" 2>/dev/null || echo 0) + 1))
      if as_pg "$bin/pg_ctl" start -D "$data" -l "$log" -w -t 60 >&2; then
        break
      fi
      # A concurrent start may have taken an auto-picked port: retry with the next free one.
      if ((auto && attempt < 20)) && tail -c +"$offset" "$log" | grep -q 'could not bind\|could not create any TCP/IP sockets'; then
        port=$(next_free $((port + 1)))
        continue
      fi
      tail -c +"$offset" "$log" | tail -n 20 >&2 || true
      die "could not start PostgreSQL in $dir (log: $log)"
    done
  fi
  url=$(url_for "$port")
  echo "$url" | as_pg tee "$dir/url" >/dev/null
  echo "$url"
  ;;
stop)
  [[ -d $dir ]] || die "no such directory: $dir"
  dir=$(cd "$dir" && pwd -P) data=$dir/data
  if running; then
    as_pg "$bin/pg_ctl" stop -D "$data" -m fast -w -t 60 >&2
  else
    echo "pg.sh: not running: $dir" >&2
  fi
  ;;
url)
  [[ -f $dir/url ]] || die "no URL saved in $dir (start the cluster first)"
  cat "$dir/url"
  ;;
*)
  die "unknown command: $cmd (expected start, stop or url)"
  ;;
esac
