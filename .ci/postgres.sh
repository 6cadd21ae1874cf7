# Functions shared by .ci/run and .ci/perf: a throwaway PostgreSQL as the
# postgres user, installed from Debian's packages when missing.
# start_postgres PORT [EXTRA SERVER OPTIONS] sets PG_BIN, PG_TMP and
# SHORTCODE_TEST_POSTGRES; stop_postgres removes it all.

pg_bindir() {
  ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n 1
}

start_postgres() {
  local bin port
  bin=$(pg_bindir)
  if [ -z "$bin" ] || [ ! -x "$bin/initdb" ]; then
    echo ".ci/run: installing PostgreSQL from Debian's packages"
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends postgresql >/dev/null
    bin=$(pg_bindir)
  fi
  if ! id postgres >/dev/null 2>&1; then
    useradd --system --user-group --home-dir /var/lib/postgresql --shell /bin/bash postgres
  fi
  port=$1
  shift

  PG_BIN=$bin
  PG_TMP=$(mktemp -d /tmp/shortcode-pg.XXXXXX)
  mkdir -p "$PG_TMP/data" "$PG_TMP/sock"
  chown -R postgres: "$PG_TMP"
  chmod 700 "$PG_TMP"

  runuser -u postgres -- "$bin/initdb" -D "$PG_TMP/data" --auth=trust --username=postgres \
    --encoding=UTF8 --no-sync >"$PG_TMP/initdb.log" 2>&1 || { cat "$PG_TMP/initdb.log"; exit 1; }
  # fsync off: a test server's data need not survive a crash.
  runuser -u postgres -- "$bin/pg_ctl" -D "$PG_TMP/data" -l "$PG_TMP/server.log" -w -t 60 \
    -o "-k $PG_TMP/sock -p $port -c listen_addresses=127.0.0.1 -c max_connections=300 -c fsync=off -c synchronous_commit=off -c full_page_writes=off $*" \
    start >/dev/null || { cat "$PG_TMP/server.log"; exit 1; }
  for _ in $(seq 1 60); do
    if "$bin/pg_isready" -q -h 127.0.0.1 -p "$port" -U postgres; then
      break
    fi
    sleep 0.5
  done
  "$bin/pg_isready" -h 127.0.0.1 -p "$port" -U postgres
  export SHORTCODE_TEST_POSTGRES="postgres://postgres@127.0.0.1:$port/postgres?sslmode=disable"
}

stop_postgres() {
  if [ -n "${PG_TMP:-}" ]; then
    runuser -u postgres -- "$PG_BIN/pg_ctl" -D "$PG_TMP/data" -m immediate -w stop >/dev/null 2>&1 || true
    rm -rf "$PG_TMP"
  fi
}

