#!/bin/sh
# PostgreSQL in the pods test's offline images: what the postgres image does with POSTGRES_USER,
# POSTGRES_PASSWORD and POSTGRES_DB (app/app/app), with Debian's PostgreSQL in the local base.
set -e
bin=$(ls -d /usr/lib/postgresql/*/bin | sort -V | tail -n 1)
data=/tmp/pgdata
mkdir -p "$data"
printf 'app\n' >/tmp/pwfile
chown postgres "$data" /tmp/pwfile
as_postgres() { su postgres -s /bin/sh -c "$*"; }
as_postgres "$bin/initdb -D $data -U app --pwfile=/tmp/pwfile --auth-host=scram-sha-256 --auth-local=trust" >/dev/null
echo 'host all all 0.0.0.0/0 scram-sha-256' >>"$data/pg_hba.conf"
echo 'CREATE DATABASE app' | as_postgres "$bin/postgres --single -D $data postgres" >/dev/null
exec su postgres -s /bin/sh -c "exec $bin/postgres -D $data -c listen_addresses='*' -k /tmp"
