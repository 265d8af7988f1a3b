# Sourced by .ci/run: start a private PostgreSQL cluster for this run and stop it on exit.
# Installs the server from Debian packages when it is not on the machine.
pg_bin=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n1 || true)
if [[ -z "$pg_bin" || ! -x "$pg_bin/initdb" ]]; then
  echo "ci: installing PostgreSQL from Debian packages" >&2
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq postgresql >/dev/null
  pg_bin=$(ls -d /usr/lib/postgresql/*/bin | sort -V | tail -n1)
fi
pg_port="${DASHTAM_CI_PG_PORT:-55432}"
pg_dir=$(mktemp -d /tmp/dashtam-ci-pg.XXXXXX)
pg_user=postgres
id -u "$pg_user" >/dev/null 2>&1 || useradd --system --no-create-home "$pg_user"
chown "$pg_user" "$pg_dir"
as_pg() { if [[ $(id -u) == 0 ]]; then runuser -u "$pg_user" -- "$@"; else "$@"; fi; }
as_pg "$pg_bin/initdb" -D "$pg_dir/data" -A trust -U postgres --no-sync >/dev/null
as_pg "$pg_bin/pg_ctl" -D "$pg_dir/data" -l "$pg_dir/server.log" -w \
  -o "-p $pg_port -k $pg_dir -c listen_addresses=127.0.0.1 -c fsync=off" start >/dev/null
stop_throwaway_pg() {
  as_pg "$pg_bin/pg_ctl" -D "$pg_dir/data" -m immediate stop >/dev/null 2>&1 || true
  rm -rf "$pg_dir"
}
trap stop_throwaway_pg EXIT
as_pg "$pg_bin/createdb" -h 127.0.0.1 -p "$pg_port" -U postgres test
export DASHTAM_TEST_POSTGRES_URL="postgresql+psycopg://postgres@127.0.0.1:${pg_port}/test"
