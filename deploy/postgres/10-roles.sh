#!/bin/sh
# Run once by the postgres image when the data directory is created (docker-entrypoint-initdb.d).
# Three roles, so that the application cannot rewrite its own audit trail (ketatrial/db_roles.py):
# - postgres (POSTGRES_USER): the superuser, for administration only; no service connects as it;
# - ketatrial_owner: owns the database and its tables; only the `migrate` and `backup` services
#   connect as it;
# - ketatrial_app: web, worker and beat; owns nothing, so it cannot TRUNCATE, ALTER or disable a
#   trigger; after every migrate the owner grants it read/insert on the append-only tables and
#   read/write elsewhere (no delete of allocation slots).
set -eu
psql -v ON_ERROR_STOP=1 --username "$POSTGRES_USER" --dbname "$POSTGRES_DB" \
  -v owner_password="$OWNER_DB_PASSWORD" -v app_password="$APP_DB_PASSWORD" <<'SQL'
CREATE ROLE ketatrial_owner LOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE PASSWORD :'owner_password';
CREATE ROLE ketatrial_app LOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE NOINHERIT PASSWORD :'app_password';
CREATE DATABASE ketatrial OWNER ketatrial_owner;
REVOKE ALL ON DATABASE ketatrial FROM PUBLIC;
GRANT CONNECT ON DATABASE ketatrial TO ketatrial_owner, ketatrial_app;
\connect ketatrial
ALTER SCHEMA public OWNER TO ketatrial_owner;
REVOKE CREATE ON SCHEMA public FROM PUBLIC;
GRANT USAGE ON SCHEMA public TO ketatrial_app;
SQL
