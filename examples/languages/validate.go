// validate checks a pgauth access token with one SQL call: no SDK, only database/sql and lib/pq.
//
// Usage: validate [DATABASE_URL [TOKEN]]   (or the environment variables DATABASE_URL, PGAUTH_TOKEN)
//
// Prints the session as one line of JSON and exits 0; prints "invalid" and exits 1 when the token
// is not valid (garbage, expired, revoked); exits 2 on an error (usage, connection, SQL).
// lib/pq's default sslmode is "require": add ?sslmode=disable for a server without TLS.
// Through PgBouncer in transaction mode add binary_parameters=yes (parse, bind and execute in one
// round trip, so that a call never spans two server connections), and PgBouncer needs
// ignore_startup_parameters = extra_float_digits (lib/pq always sends it): docs/languages.md.
package main

import (
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"time"

	"github.com/lib/pq"
)

type session struct {
	UserID    string    `json:"user_id"`
	Username  string    `json:"username"`
	Roles     []string  `json:"roles"`
	ExpiresAt time.Time `json:"expires_at"`
}

func arg(i int, env string) string {
	if len(os.Args) > i && os.Args[i] != "" {
		return os.Args[i]
	}
	return os.Getenv(env)
}

func fail(err error) {
	fmt.Fprintln(os.Stderr, "validate:", err)
	os.Exit(2)
}

func main() {
	url, token := arg(1, "DATABASE_URL"), arg(2, "PGAUTH_TOKEN")
	if url == "" || token == "" {
		fail(errors.New("usage: validate DATABASE_URL TOKEN (or DATABASE_URL, PGAUTH_TOKEN in the environment)"))
	}
	db, err := sql.Open("postgres", url)
	if err != nil {
		fail(err)
	}
	defer db.Close()

	// The token travels as a bound parameter ($1), never inside the SQL text.
	var s session
	err = db.QueryRow(
		"select user_id, username, roles, expires_at from pgauth.validate($1)", token,
	).Scan(&s.UserID, &s.Username, pq.Array(&s.Roles), &s.ExpiresAt)
	if errors.Is(err, sql.ErrNoRows) {
		fmt.Println("invalid")
		os.Exit(1)
	}
	if err != nil {
		fail(err)
	}
	if s.Roles == nil {
		s.Roles = []string{}
	}
	out, err := json.Marshal(s)
	if err != nil {
		fail(err)
	}
	fmt.Println(string(out))
}
