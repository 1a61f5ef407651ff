#!/bin/sh
# Run by the postgres image once, when its data volume is empty: create the databases listed in
# POSTGRES_EXTRA_DATABASES (comma-separated) beside POSTGRES_DB (Airflow's metadata database).
set -eu
for db in $(echo "${POSTGRES_EXTRA_DATABASES:-}" | tr ',' ' '); do
    echo "creating database ${db}"
    psql -v ON_ERROR_STOP=1 --username "${POSTGRES_USER}" --dbname "${POSTGRES_DB}" \
        -c "CREATE DATABASE \"${db}\" OWNER \"${POSTGRES_USER}\""
done
