#!/usr/bin/env bash
# A throwaway PostgreSQL cluster in a folder, on a free port, for tests and CI.
#   cluster.sh install          install Debian's postgresql package where missing
#   cluster.sh start DIR [PORT] init (if needed) and start; prints `export KORDON_TEST_DATABASE_URL=...`
#   cluster.sh start-idle DIR [PORT]  the same, the server in the caller's session at SCHED_IDLE
#                               (benchmarks: it takes only the spare time of the load side's core)
#   cluster.sh stop DIR [MODE]  stop (MODE: fast, immediate)
#   cluster.sh url DIR          print the connection URL of a started cluster
# initdb refuses to run as root, so as root the cluster is run by the `postgres` user.
set -euo pipefail

pg_bindir() {
  local d
  for d in $(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V -r); do
    [ -x "$d/initdb" ] && { echo "$d"; return 0; }
  done
  if command -v pg_config >/dev/null 2>&1 && [ -x "$(pg_config --bindir)/initdb" ]; then
    pg_config --bindir; return 0
  fi
  return 1
}

as_owner() {
  if [ "$(id -u)" = "0" ]; then runuser -u postgres -- "$@"; else "$@"; fi
}

free_port() {
  node -e 'const s=require("net").createServer();s.listen(0,"127.0.0.1",()=>{console.log(s.address().port);s.close()})'
}

cmd=${1:-}
case "$cmd" in
  install)
    if pg_bindir >/dev/null; then exit 0; fi
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq >&2
    apt-get install -y -qq postgresql >&2
    pg_bindir >/dev/null
    ;;
  start|start-idle)
    dir=$(realpath -m "${2:?data folder}")
    port=${3:-$(free_port)}
    bin=$(pg_bindir) || { echo "PostgreSQL server binaries not found (run: $0 install)" >&2; exit 1; }
    mkdir -p "$dir"
    if [ "$(id -u)" = "0" ]; then
      chown postgres "$dir"
      # the postgres user must be able to reach the folder
      p=$(dirname "$dir"); while [ "$p" != "/" ]; do chmod o+x "$p" 2>/dev/null || true; p=$(dirname "$p"); done
    fi
    if [ ! -f "$dir/data/PG_VERSION" ]; then
      as_owner "$bin/initdb" -D "$dir/data" -U kordon --auth=trust -E UTF8 --no-locale >"$dir/initdb.log" 2>&1 \
        || { cat "$dir/initdb.log" >&2; exit 1; }
    fi
    echo "$port" > "$dir/port"
    [ "$(id -u)" = "0" ] && chown postgres "$dir/port"
    options="-p $port -k $dir -c listen_addresses=127.0.0.1 -c fsync=on -c max_connections=200"
    if [ "$cmd" = start ]; then
      as_owner "$bin/pg_ctl" -D "$dir/data" -l "$dir/server.log" -w -t 60 -o "$options" start >&2 \
        || { cat "$dir/server.log" >&2; exit 1; }
    else
      # Not through pg_ctl, which puts the server in a session of its own: a session is an
      # autogroup, and the scheduler weighs autogroups against each other before their tasks,
      # so there even a SCHED_IDLE server runs a whole batch insert while the load generator
      # waits. The postmaster stays in the caller's session at SCHED_IDLE; its children inherit
      # the policy, but each calls setsid() and so has an autogroup of its own, which the
      # caller must weigh down too (bench:gateway sets them to nice 19). docs/benchmarks.md,
      # stops 48 and 56.
      # shellcheck disable=SC2086 # options are words
      as_owner chrt -i 0 "$bin/postgres" -D "$dir/data" $options </dev/null >>"$dir/server.log" 2>&1 &
      server=$!
      for _ in $(seq 600); do
        "$bin/pg_isready" -q -h 127.0.0.1 -p "$port" && break
        kill -0 "$server" 2>/dev/null || { cat "$dir/server.log" >&2; exit 1; }
        sleep 0.1
      done
      "$bin/pg_isready" -q -h 127.0.0.1 -p "$port" || { cat "$dir/server.log" >&2; exit 1; }
    fi
    echo "export KORDON_TEST_DATABASE_URL=postgres://kordon@127.0.0.1:$port/postgres"
    ;;
  stop)
    dir=$(realpath -m "${2:?data folder}")
    bin=$(pg_bindir)
    [ -f "$dir/data/postmaster.pid" ] || exit 0
    as_owner "$bin/pg_ctl" -D "$dir/data" -m "${3:-fast}" -w stop >&2 || true
    ;;
  url)
    dir=$(realpath -m "${2:?data folder}")
    echo "postgres://kordon@127.0.0.1:$(cat "$dir/port")/postgres"
    ;;
  *)
    sed -n '2,7p' "$0" >&2; exit 2 ;;
esac
