#!/usr/bin/env bash
# Starts a throwaway PostgreSQL cluster for the test suite and exports
# IMMUNIS_TEST_PG (a key=value connection string). Source it; call pg_start.
# Uses Debian's binaries under /usr/lib/postgresql/*/bin. initdb refuses to run
# as root, so as root the cluster runs as the `postgres` system user.

pg_bin_dir() {
    local d
    for d in /usr/lib/postgresql/15/bin /usr/lib/postgresql/*/bin; do
        if [ -x "$d/initdb" ] && [ -x "$d/pg_ctl" ]; then echo "$d"; return 0; fi
    done
    return 1
}

pg_start() {
    local bin
    if ! bin="$(pg_bin_dir)"; then
        echo "!!!! PostgreSQL binaries not found under /usr/lib/postgresql: PostgreSQL tests will be SKIPPED !!!!" >&2
        return 0
    fi
    PG_TMP="$(mktemp -d /tmp/immunis-pg.XXXXXX)"
    local port=$(( 20000 + RANDOM % 20000 ))
    local as=()
    if [ "$(id -u)" = 0 ]; then
        id postgres >/dev/null 2>&1 || useradd --system --no-create-home postgres
        chown postgres "$PG_TMP"
        as=(runuser -u postgres --)
    fi
    "${as[@]}" "$bin/initdb" -D "$PG_TMP/data" -U postgres -A trust --no-sync >"$PG_TMP/initdb.log" 2>&1 \
        || { cat "$PG_TMP/initdb.log" >&2; return 1; }
    "${as[@]}" "$bin/pg_ctl" -D "$PG_TMP/data" -l "$PG_TMP/server.log" -w \
        -o "-c listen_addresses='' -c unix_socket_directories='$PG_TMP' -p $port -c max_connections=200 -c shared_buffers=256MB" start >/dev/null \
        || { cat "$PG_TMP/server.log" >&2; return 1; }
    export IMMUNIS_TEST_PG="host=$PG_TMP port=$port user=postgres"
    export IMMUNIS_PG_BIN="$bin"
    PG_AS="${as[*]:-}"
    echo "PostgreSQL $("$bin/postgres" --version | awk '{print $3}') started for tests at $PG_TMP (port $port)" >&2
}

pg_stop() {
    if [ -n "${PG_TMP:-}" ] && [ -d "$PG_TMP/data" ]; then
        ${PG_AS:-} "$IMMUNIS_PG_BIN/pg_ctl" -D "$PG_TMP/data" -m immediate stop >/dev/null 2>&1 || true
        rm -rf "$PG_TMP"
    fi
}
