#!/usr/bin/python3
"""Checks a pgauth access token with one SQL call: no SDK, only psycopg 3 (Debian: python3-psycopg,
elsewhere: pip install "psycopg[binary]").

Usage: validate.py [DATABASE_URL [TOKEN]]   (or the environment variables DATABASE_URL, PGAUTH_TOKEN)

Prints the session as one line of JSON and exits 0; prints "invalid" and exits 1 when the token is
not valid (garbage, expired, revoked); exits 2 on an error (usage, connection, SQL).
"""

import json
import os
import sys

import psycopg


def arg(i, env):
    return sys.argv[i] if len(sys.argv) > i and sys.argv[i] else os.environ.get(env, "")


def main():
    url, token = arg(1, "DATABASE_URL"), arg(2, "PGAUTH_TOKEN")
    if not url or not token:
        print("usage: validate.py DATABASE_URL TOKEN (or DATABASE_URL, PGAUTH_TOKEN in the environment)",
              file=sys.stderr)
        return 2
    try:
        # prepare_threshold=None: no named prepared statements, which a transaction pooler
        # (PgBouncer in transaction mode) cannot keep: the next call may run on another server
        # connection. A direct connection loses nothing by it (one plan per call, PL/pgSQL
        # caches its own).
        with psycopg.connect(url, prepare_threshold=None) as conn:
            # psycopg 3 sends the token as a bound parameter ($1), never inside the SQL text.
            row = conn.execute(
                "select user_id, username, roles, expires_at from pgauth.validate(%s)", (token,)
            ).fetchone()
    except psycopg.Error as err:
        print(f"validate.py: {err}".strip(), file=sys.stderr)
        return 2
    if row is None:
        print("invalid")
        return 1
    user_id, username, roles, expires_at = row
    print(json.dumps({
        "user_id": str(user_id),
        "username": username,
        "roles": roles,
        "expires_at": expires_at.isoformat(),
    }))
    return 0


if __name__ == "__main__":
    sys.exit(main())
