#!/usr/bin/env bash
# Runs once, when the postgres service initialises an empty data volume (/docker-entrypoint-initdb.d):
# one role and one database for Airflow (metadata and Celery results), one for MLflow (backend store).
# Names and passwords come from the service's environment (docker/.env).
set -euo pipefail

psql -v ON_ERROR_STOP=1 --username "$POSTGRES_USER" --dbname "$POSTGRES_DB" \
  -v airflow_user="$AIRFLOW_DB_USER" -v airflow_password="$AIRFLOW_DB_PASSWORD" -v airflow_db="$AIRFLOW_DB_NAME" \
  -v mlflow_user="$MLFLOW_DB_USER" -v mlflow_password="$MLFLOW_DB_PASSWORD" -v mlflow_db="$MLFLOW_DB_NAME" <<'SQL'
CREATE ROLE :"airflow_user" LOGIN PASSWORD :'airflow_password';
CREATE DATABASE :"airflow_db" OWNER :"airflow_user";
CREATE ROLE :"mlflow_user" LOGIN PASSWORD :'mlflow_password';
CREATE DATABASE :"mlflow_db" OWNER :"mlflow_user";
SQL
