#!/bin/sh
# Checks a pgauth access token with psql alone (Debian: postgresql-client).
#
# Usage: validate.sh [DATABASE_URL [TOKEN]]   (or the environment variables DATABASE_URL, PGAUTH_TOKEN)
#
# Prints the session as one line of JSON and exits 0; prints "invalid" and exits 1 when the token
# is not valid; exits 2 or 3 on an error (psql's codes for a connection and an SQL error).
# psql quotes the variable as a literal (:'token'), so any token, quotes included, is just data.
set -eu
url=${1:-${DATABASE_URL:-}}
token=${2:-${PGAUTH_TOKEN:-}}
if [ -z "$url" ] || [ -z "$token" ]; then
  echo "usage: validate.sh DATABASE_URL TOKEN (or DATABASE_URL, PGAUTH_TOKEN in the environment)" >&2
  exit 2
fi
session=$(psql "$url" -XAt -v ON_ERROR_STOP=1 -v token="$token" <<'SQL'
select row_to_json(v) from (select user_id, username, roles, expires_at from pgauth.validate(:'token')) v
SQL
)
if [ -z "$session" ]; then
  echo invalid
  exit 1
fi
echo "$session"
