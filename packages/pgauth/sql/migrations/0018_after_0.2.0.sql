-- pgauth 0018: what the eight migrations after 0.2.0 (0011 to 0018) applied once: tables, indexes,
-- grants on tables, rows, and the drops of functions whose signature changed, in the one file that
-- replaces them. Their functions and triggers are in sql/functions/ (see 0010).
--
-- A database that had all eight applied, with these checksums, gets this file recorded in their
-- place; one that has some of them only is refused.
-- replaces 0011_shared_rate_limits.sql ac78c545af75babc4863eff23e58effd99f6a76a459bbf7fc8f55c23bca304dc
-- replaces 0012_account_lifecycle.sql 3ab7a9a8354886272f48a2b54af7d3183e449e194a24131178f41d299324bf5d
-- replaces 0013_machine_identity.sql 019d96fac9e07fb6a778026915d31bec2a2aa21419db62a476aab5fd5694f96e
-- replaces 0014_console.sql e93ee5bdd28ac05a64feb5b32db3a7e18cc594def174013e85f60a7de9a1df70
-- replaces 0015_refresh_grace_zero.sql 86ed61e669e6648abac1abd7ac227ec6d53ba16572905fcedcbbd90bb0af59f0
-- replaces 0016_purge_without_per_row_work.sql c427c24f52e0d9a342821bed67a5d046435d94c6df61f583166af519ee5c7559
-- replaces 0017_session_jwt.sql 732d14de4b7702c3126c05f2cef92b9c317126e13e69fccddb64a65ae021e414
-- replaces 0018_purge_without_transition_tables.sql 40e381ddb690ad811b4cfaaeebb0b90a9f66bbab2d82ef1a621aa64ccee42141

-- ---------------------------------------- from 0011_shared_rate_limits.sql
reset role; -- as each migration began: the migrating user
-- pgauth 0011: login, registration and refresh limits kept in the database, shared by every gateway.
--
-- Why. The gateway counted attempts in its own memory: N gateways on one database allowed N times
-- each limit, and a restart forgot every count. Now a gateway asks pgauth.throttle() before it
-- lets a login (or registration, or refresh) hash anything: one statement that counts the attempt
-- under the client's network and the username, and answers how long to wait (0: go on).
--
-- Threat model. The counts guard against password spraying (per network) and guessing against one
-- account (per username), and keep a flood from reaching the hashing: a refused attempt costs one
-- upsert, no hash. The username is folded with lower(), as pgauth.users compares usernames, so
-- "Alice" and "alice" share one budget. The counts are a rate limit, not an audit: the table is
-- UNLOGGED (no WAL, not replicated: a failover or a crash starts every window afresh, which only
-- ever lets attempts through, never locks anyone out), and a row whose window ended is deleted by
-- the next calls. Validation never writes here: it stays one lookup.
--
-- Any caller holding pgauth_service may count attempts, as it may call pgauth.login (which counts
-- failures and locks accounts) already; keys are bounded in length so that the table stays small.
set local role pgauth_owner;

create unlogged table pgauth.rate_limits (
  bucket text not null,
  key text not null,
  window_end timestamptz not null,
  hits integer not null,
  constraint rate_limits_pkey primary key (bucket, key),
  constraint rate_limits_bucket_length check (char_length(bucket) between 1 and 64),
  constraint rate_limits_key_length check (char_length(key) between 1 and 512)
);
create index rate_limits_window_end on pgauth.rate_limits (window_end);
comment on table pgauth.rate_limits is
  'Attempts per (bucket, key) in the current fixed window: pgauth.throttle() counts, every gateway shares. UNLOGGED: emptied by a crash or a failover.';
revoke all on table pgauth.rate_limits from public;

-- ---------------------------------------- from 0012_account_lifecycle.sql
reset role; -- as each migration began: the migrating user
-- Why: the account life cycle every user expects: verifying an email address, resetting a
-- forgotten password, and a second factor (TOTP, RFC 6238) with recovery codes. The rules and the
-- state are here, so that a service on a plain SQL connection gets the same behaviour as the
-- gateway; mail leaves the database through an outbox that gateways and cron drain.
--
-- Error codes added to the registry (src/errors.ts):
--   NOVER email_not_verified · MFAON mfa_already_enabled · MFAOF mfa_not_enabled
-- A group role for the mail sender (see "Outbox" below), created like 0009's validator role.
do $$
begin
  if not exists (select 1 from pg_catalog.pg_roles where rolname = 'pgauth_mailer') then
    begin
      create role pgauth_mailer nologin;
    exception when duplicate_object or unique_violation then
      null; -- another database of this cluster created it at the same moment
    end;
  end if;
end
$$;
grant usage on schema pgauth to pgauth_mailer;

-- pgcrypto's hmac, bound to the schema pgcrypto lives in, as 0001 binds its other functions.
do $$
declare
  v_schema name := (
    select n.nspname from pg_catalog.pg_extension e
    join pg_catalog.pg_namespace n on n.oid = e.extnamespace
    where e.extname = 'pgcrypto'
  );
begin
  execute pg_catalog.format($f$
    create function pgauth._hmac(p_data bytea, p_key bytea, p_type text) returns bytea
      language sql immutable strict set search_path = pg_catalog, pg_temp
      as 'select %1$I.hmac(p_data, p_key, p_type)';
    alter function pgauth._hmac(bytea, bytea, text) owner to pgauth_owner;
    revoke all on function pgauth._hmac(bytea, bytea, text) from public;
  $f$, v_schema);
end
$$;

set local role pgauth_owner;

-- ---------------------------------------------------------------------------------------------
-- Settings of the life cycle.
-- ---------------------------------------------------------------------------------------------
alter table pgauth.settings
  add column require_verified_email boolean not null default false,
  add column email_verification_ttl interval not null default '24 hours'
    constraint settings_email_verification_ttl_positive check (email_verification_ttl > interval '0'),
  add column password_reset_ttl interval not null default '15 minutes'
    constraint settings_password_reset_ttl_range
      check (password_reset_ttl between interval '1 minute' and interval '24 hours'),
  add column password_reset_per_address integer not null default 3
    constraint settings_password_reset_per_address_positive check (password_reset_per_address > 0),
  add column password_reset_per_ip integer not null default 20
    constraint settings_password_reset_per_ip_positive check (password_reset_per_ip > 0),
  add column mfa_challenge_ttl interval not null default '5 minutes'
    constraint settings_mfa_challenge_ttl_range
      check (mfa_challenge_ttl between interval '30 seconds' and interval '30 minutes'),
  add column totp_issuer text not null default 'pgauth'
    constraint settings_totp_issuer_length check (char_length(totp_issuer) between 1 and 64),
  add column mail_max_attempts integer not null default 8
    constraint settings_mail_max_attempts_range check (mail_max_attempts between 1 and 100);

-- ---------------------------------------------------------------------------------------------
-- Verified email addresses.
-- Threat model: a verification that outlives the address it verified. Whoever changes the email
-- (a pgauth function or a raw UPDATE) unverifies it in the same statement (trigger), and a
-- verification link names the address it was sent to: it cannot verify the next one.
-- ---------------------------------------------------------------------------------------------
alter table pgauth.users add column email_verified_at timestamptz;

-- ---------------------------------------------------------------------------------------------
-- Link tokens (email verification, password reset).
-- Threat model: a copy of the database, or of a mail log, used to take over an account. A token
-- is 256 random bits; only its SHA-256 is stored. It is made when the sender claims the message
-- (mail_claim), so it exists in clear only in the sender's memory and in the mail itself, never
-- in a table. A new token of a purpose kills the older ones of the same account; a token works
-- once; a password change (by any path) kills every reset token of the account (trigger).
-- ---------------------------------------------------------------------------------------------
create table pgauth.account_tokens (
  token_hash bytea not null constraint account_tokens_pkey primary key,
  user_id uuid not null
    constraint account_tokens_user_id_fkey references pgauth.users (id) on delete cascade,
  purpose text not null
    constraint account_tokens_purpose_check check (purpose in ('verify_email', 'password_reset')),
  email text,
  created_at timestamptz not null,
  expires_at timestamptz not null
);
create index account_tokens_user_id_idx on pgauth.account_tokens (user_id, purpose);
create index account_tokens_expires_at_idx on pgauth.account_tokens (expires_at);
comment on table pgauth.account_tokens is
  'Live link tokens of email verification and password reset: SHA-256 only, single use.';

-- ---------------------------------------------------------------------------------------------
-- Outbox.
-- Threat model: mail that is lost, sent twice, or read where it should not be. A function that
-- needs a mail writes a row here in its own transaction (so the mail exists exactly when what
-- asked for it committed) and NOTIFYs pgauth_mail. Senders (every gateway with --smtp-url, and
-- `pgauth mail send-pending`) claim rows with FOR UPDATE SKIP LOCKED and a lease: two senders
-- never hold one row; a sender that dies leaves its row to the next after the lease. A failed
-- delivery is retried with exponential backoff, up to settings.mail_max_attempts. A row holds
-- the address and the kind of message, never its text or a token. Claiming, which hands out the
-- token, is reserved to pgauth_mailer and pgauth_admin: a service that may ask for a reset must
-- not also be able to read the link.
-- ---------------------------------------------------------------------------------------------
create table pgauth.mail_outbox (
  id bigint generated always as identity constraint mail_outbox_pkey primary key,
  kind text not null
    constraint mail_outbox_kind_check check (kind in ('verify_email', 'password_reset')),
  user_id uuid not null
    constraint mail_outbox_user_id_fkey references pgauth.users (id) on delete cascade,
  to_address text not null,
  created_at timestamptz not null,
  next_attempt_at timestamptz not null,
  claimed_until timestamptz,
  attempts integer not null default 0,
  sent_at timestamptz,
  failed_at timestamptz,
  last_error text
);
create index mail_outbox_pending_idx on pgauth.mail_outbox (next_attempt_at)
  where sent_at is null and failed_at is null;
comment on table pgauth.mail_outbox is
  'Mail to send: the kind and the address, never the text or a token. Drained by pgauth.mail_claim / mail_sent / mail_failed.';

-- ---------------------------------------------------------------------------------------------
-- TOTP (RFC 6238, HMAC-SHA-1, 6 digits, 30 s steps) and recovery codes.
-- Threat model: a stolen password. With a confirmed factor, a right password gives a challenge,
-- not a session; the challenge and a code (or an unused recovery code) give a session of
-- aal 2. A code is accepted for the step before, the current one and the one after, and each
-- step once only (last_step: a code seen on the wire cannot be replayed). Wrong codes count as
-- failed logins of the account (same lock), and a challenge dies after 5 wrong codes. The shared
-- secret must be readable to verify a code, so it is stored as it is (anyone who can read this
-- table can compute codes: keep backups as secret as the database); recovery codes are stored as
-- SHA-256 and used once. The secret and the codes are returned once, when made.
-- ---------------------------------------------------------------------------------------------
create table pgauth.totp_factors (
  user_id uuid not null constraint totp_factors_pkey primary key
    constraint totp_factors_user_id_fkey references pgauth.users (id) on delete cascade,
  secret bytea not null,
  created_at timestamptz not null,
  confirmed_at timestamptz,
  last_step bigint
);
comment on table pgauth.totp_factors is
  'One TOTP factor per account: pending until confirmed_at. last_step: the newest time step accepted (no replay).';

create table pgauth.recovery_codes (
  user_id uuid not null
    constraint recovery_codes_user_id_fkey references pgauth.users (id) on delete cascade,
  code_hash bytea not null,
  created_at timestamptz not null,
  constraint recovery_codes_pkey primary key (user_id, code_hash)
);
comment on table pgauth.recovery_codes is 'Unused recovery codes, SHA-256 only; a used one is deleted.';

create table pgauth.mfa_challenges (
  token_hash bytea not null constraint mfa_challenges_pkey primary key,
  user_id uuid not null
    constraint mfa_challenges_user_id_fkey references pgauth.users (id) on delete cascade,
  password_changed_at timestamptz not null,
  expires_at timestamptz not null,
  failures integer not null default 0,
  verified_by text
    constraint mfa_challenges_verified_by_check check (verified_by in ('totp', 'recovery_code')),
  verified_xact xid8,
  client_ip inet,
  user_agent text
);
create index mfa_challenges_expires_at_idx on pgauth.mfa_challenges (expires_at);
comment on table pgauth.mfa_challenges is
  'Logins waiting for their second factor: SHA-256 of the challenge only.';

-- Sessions carry the assurance level of their login, read by validate without a join.
alter table pgauth.sessions add column aal smallint not null default 1
  constraint sessions_aal_check check (aal in (1, 2));

-- ---------------------------------------------------------------------------------------------
-- Login with the life cycle: a right password on an unverified account (when
-- settings.require_verified_email) is refused with NOVER by login_durably, after the refusal is
-- committed and audited; on an account with a confirmed TOTP factor it yields a challenge
-- (mfa_challenge, mfa_expires_at) and no tokens. Both only ever follow a right password: they
-- reveal nothing to who does not know it. The admin function pgauth.login returns no row for
-- either. login_answer and login_durably gain the columns status, mfa_challenge, mfa_expires_at
-- (the procedure: mfa_challenge, mfa_expires_at); existing callers that read the token pair see
-- NULLs, as for any failure.
-- ---------------------------------------------------------------------------------------------
drop procedure if exists pgauth.login_durably(text, text, inet, text, uuid, uuid, text, timestamptz, text, timestamptz);
drop function if exists pgauth.login_answer(text, text);
drop function if exists pgauth.login(text, text, inet, text);
drop function if exists pgauth._login_finish(pgauth.password_attempts, text, boolean);

-- ---- The second step of a login with a second factor ----------------------------------------
-- Like a password check (0009), a code check must commit its failure count before it answers:
-- login_mfa_attempt checks and writes (the failure, or the step used and the challenge marked
-- verified by this transaction), and must be the first write of its transaction;
-- login_mfa_answer, once that transaction has committed, turns a verified challenge into a
-- session of aal 2, once. login_mfa_durably runs both with a COMMIT after each.

-- ---------------------------------------------------------------------------------------------
-- Validation returns aal: still one lookup on one table.
-- ---------------------------------------------------------------------------------------------
drop function if exists pgauth.validate_many(text[]);
drop function if exists pgauth.validate(text);

-- ---------------------------------------- from 0013_machine_identity.sql
reset role; -- as each migration began: the migrating user
-- pgauth 0013: machine identity — service accounts, API keys, client-credentials access tokens
-- and the signing keys of JWT access tokens.
--
-- Why. In a fleet most callers are services. They authenticated as users with passwords; now a
-- service is a service account holding roles, and authenticates with an API key (pgk_…), or
-- exchanges one for a short-lived access token (OAuth 2 client credentials): opaque (pgs_…) or a
-- JWT any language can verify offline against the JWKS.
--
-- Threat model.
-- * An API key is 256 random bits, shown once; only its SHA-256 is stored (key_hash), as for
--   session tokens. The prefix lets secret scanners spot a leaked key.
-- * Validation stays one lookup: the prefix of the token picks the table (pgk_ and pgs_:
--   pgauth.api_keys, anything else: pgauth.sessions), and what a validation answers (account
--   name, roles, whether the account is disabled) is copied into each api_keys row by triggers,
--   as for sessions. last_used_at is written at most once a minute per key, by a statement that
--   skips a locked row and never runs in a read-only transaction (a replica), so validations do
--   not queue behind one another.
-- * Revoking a key, revoking or disabling its account, or changing the account's roles NOTIFYs
--   pgauth_revocations with the cache keys of the tokens made stale, in the format of 0010: the
--   first 8 bytes of key_hash, hex. A JWT access token is stored as a row too (kind access_token,
--   key_hash = SHA-256 of 'pgj_' || its jti, a value no validation accepts), so a verifier holding
--   the JWT computes its cache key from the jti and drops it on the same message.
-- * Private signing keys are never stored in clear: the gateway encrypts them (AES-256-GCM under
--   the key-encryption key it is given, which the database never sees) before it stores them. A
--   retired key stays published until the last token it signed has expired.
-- * A failed client authentication returns no row (the audit row commits) and says nothing about
--   why; the gateway also counts failures per client and network (pgauth.throttle).
set local role pgauth_owner;

alter table pgauth.settings
  add column access_token_format text not null default 'opaque'
    constraint settings_access_token_format_check check (access_token_format in ('opaque', 'jwt')),
  add column service_token_ttl interval not null default '5 minutes'
    constraint settings_service_token_ttl_range
      check (service_token_ttl > interval '0' and service_token_ttl <= interval '1 day');
comment on column pgauth.settings.access_token_format is
  'Format of the access tokens pgauth.client_credentials issues: opaque (pgs_…, validated by the database) or jwt (signed by the gateway). A service account may override it.';
comment on column pgauth.settings.service_token_ttl is
  'Lifetime of a client-credentials access token (default 5 minutes).';

-- ---------------------------------------------------------------------------------------------
-- Tables
-- ---------------------------------------------------------------------------------------------
create table pgauth.service_accounts (
  id uuid not null default gen_random_uuid(),
  name text not null,
  roles text[] not null default '{}',
  access_token_format text,
  created_at timestamptz not null default pgauth.clock(),
  disabled_at timestamptz,
  constraint service_accounts_pkey primary key (id),
  constraint service_accounts_name_format check (name ~ '^[a-z][a-z0-9_.-]{0,62}$'),
  constraint service_accounts_access_token_format_check
    check (access_token_format in ('opaque', 'jwt'))
);
create unique index service_accounts_name_key on pgauth.service_accounts (name);
comment on table pgauth.service_accounts is
  'Machine identities. A raw UPDATE of roles, name or disabled_at reaches every key and token of the account (trigger service_accounts_sync_keys), and NOTIFYs the caches.';
revoke all on table pgauth.service_accounts from public;

-- API keys (kind api_key) and the access tokens issued for them (kind access_token, parent_id the
-- key): one table, so that one lookup validates both and one trigger notifies for both.
create table pgauth.api_keys (
  id uuid not null default gen_random_uuid(),
  kind text not null,
  service_account_id uuid not null,
  parent_id uuid,
  name text,
  key_hash bytea not null,
  account_name text not null,
  roles text[] not null,
  expires_at timestamptz,
  created_at timestamptz not null default pgauth.clock(),
  last_used_at timestamptz,
  revoked_at timestamptz,
  disabled_at timestamptz,
  constraint api_keys_pkey primary key (id),
  constraint api_keys_kind_check check (kind in ('api_key', 'access_token')),
  constraint api_keys_name_length check (
    (kind = 'api_key' and char_length(name) between 1 and 64)
    or (kind = 'access_token' and name is null)),
  constraint api_keys_parent check ((kind = 'access_token') = (parent_id is not null)),
  constraint api_keys_service_account_id_fkey foreign key (service_account_id)
    references pgauth.service_accounts (id) on delete cascade,
  constraint api_keys_parent_id_fkey foreign key (parent_id)
    references pgauth.api_keys (id) on delete cascade
);
create unique index api_keys_key_hash_key on pgauth.api_keys (key_hash);
create index api_keys_service_account_id_idx on pgauth.api_keys (service_account_id);
create index api_keys_parent_id_idx on pgauth.api_keys (parent_id) where parent_id is not null;
create index api_keys_expires_at_idx on pgauth.api_keys (expires_at) where kind = 'access_token';
comment on table pgauth.api_keys is
  'API keys of service accounts and the access tokens issued for them; only SHA-256 of a secret is stored. A raw UPDATE of revoked_at revokes the tokens of a key and NOTIFYs the caches.';
comment on column pgauth.api_keys.last_used_at is
  'Last successful validation or client authentication, written at most once a minute.';
revoke all on table pgauth.api_keys from public;

create table pgauth.signing_keys (
  kid text not null,
  alg text not null,
  public_jwk jsonb not null,
  private_key_encrypted text not null,
  created_at timestamptz not null default pgauth.clock(),
  retired_at timestamptz,
  constraint signing_keys_pkey primary key (kid),
  constraint signing_keys_alg_check check (alg in ('EdDSA', 'ES256', 'RS256')),
  constraint signing_keys_kid_format check (kid ~ '^[A-Za-z0-9_-]{8,64}$'),
  constraint signing_keys_private_key_encrypted_format
    check (private_key_encrypted ~ '^v1\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+$')
);
create unique index signing_keys_active_key on pgauth.signing_keys ((true)) where retired_at is null;
comment on table pgauth.signing_keys is
  'JWT signing keys: the public JWK, and the private key encrypted by the gateway (AES-256-GCM under its key-encryption key; never in clear here). One active key (retired_at null) signs.';
revoke all on table pgauth.signing_keys from public;

-- ---------------------------------------- from 0014_console.sql
reset role; -- as each migration began: the migrating user
-- pgauth 0014: what the admin console reads: user search and audit pages by keyset, logins per minute, the policy settings.
--
-- Why. list_users and audit_events page with OFFSET: page n reads the n-1 pages before it, which
-- at a million users is a scan per click. search_users and search_audit continue after the last
-- row shown (keyset) along an index, so every page costs its own rows only. login_stats counts the
-- login outcomes of a time range per minute for the console's chart. get_settings and
-- update_settings let an administrator read and change the policy row without UPDATE on the table.
--
-- Threat model. Everything here is for pgauth_admin only, as every other admin function. A search
-- string is data, compared with `=`, `>=` and `<` on lower-case keys: no LIKE pattern a caller can
-- turn into a scan of the table, and no dynamic SQL. update_settings takes only the named fields,
-- each checked by the table's own constraints, and writes one audit row naming the fields changed.
set local role pgauth_owner;

-- Keyset paths: users by lower-case username or email (byte order, so that a prefix is a range),
-- audit rows newest first, of one event or all.
create index users_search_username_idx on pgauth.users ((lower(username) collate "C"), id)
  where deleted_at is null;
create index users_search_email_idx on pgauth.users ((lower(email) collate "C"), id)
  where deleted_at is null and email is not null;
create index audit_log_at_id_idx on pgauth.audit_log (at desc, id desc);
create index audit_log_event_at_id_idx on pgauth.audit_log (event, at desc, id desc);
-- The index above serves what audit_log_at_idx served (newest first, purge by age).
drop index pgauth.audit_log_at_idx;

-- ---------------------------------------- from 0015_refresh_grace_zero.sql
reset role; -- as each migration began: the migrating user
-- pgauth 0015: a refresh_reuse_grace of 0 serves no retry, even to a request queued behind the rotation.
--
-- Why. refresh measures the grace window from the start of the calling statement (0009), so that a
-- retry that was already waiting on the session's row lock when the rotation committed gets the
-- same pair. With the window at 0 that rule still let such a queued duplicate through: its
-- statement began before the rotation's, so `rotated_at + 0 > now` held and two concurrent
-- refreshes of one token both answered 200 with the same pair. A window of 0 is documented as "any
-- second use is reuse": now it is, and the duplicate revokes the session (audit refresh_reuse).
--
-- Threat model. An attacker holding a copy of a refresh token who races the owner's refresh: with
-- grace 0 an operator asked for zero tolerance, and exactly one of the two may succeed.

-- ---------------------------------------- from 0016_purge_without_per_row_work.sql
reset role; -- as each migration began: the migrating user
-- pgauth 0016: purge_expired() no longer does work for every session it deletes, and the index
-- that finds ended sessions takes kilobytes instead of 21 MiB a million sessions.
--
-- Why. EXPLAIN (ANALYZE, BUFFERS) of the purge's DELETE (200,000 ended sessions among 1,000,000
-- live) spent 48% of its time in the foreign key rotated_refresh_tokens.session_id's ON DELETE
-- CASCADE, which PostgreSQL runs as one DELETE per deleted session (200,000 calls), and 30% in the
-- revocation trigger, which aggregated, sorted and announced the access token of every deleted
-- session (one NOTIFY per 100), although every one of them had expired days before: a purged
-- session ended longer than session_retention ago, and a session that was not revoked ends no
-- earlier than its access token expires (access_expires_at <= expires_at, and
-- greatest(refresh, access) >= access), so its access token had expired too. Together 4.6 to
-- 13.7 s per million sessions (docs/benchmarks.md, scenario scale).
--
-- What changes.
-- * The cascade is one statement per DELETE: a statement trigger removes the rotated refresh
--   tokens of the deleted sessions through the transition table the revocation trigger already
--   captures (and a TRUNCATE of the sessions truncates them, as TRUNCATE … CASCADE did). The foreign key goes; its one writer, refresh(), inserts a rotated token only while
--   it holds the session's row lock (SELECT … FOR UPDATE), so no token can name a session deleted
--   before it: a DELETE waits for that lock, then the trigger's statement sees the committed token.
-- * A deleted session is announced on pgauth_revocations only while its access token is still
--   valid (access_expires_at > pgauth.clock()): the only tokens a cache can hold as valid, since
--   every cache keeps a validation at most until the session's expires_at.
-- * sessions_ended_at_idx, a B-tree read by nothing but the purge, becomes a BRIN index
--   (minmax-multi, which tolerates the few sessions refreshed or revoked out of creation order) on
--   the same expression: sessions end in about the order they were created, so the purge still
--   reads only the block ranges that hold ended sessions. The planner, which costs a BRIN scan by
--   the correlation of the whole table, can misjudge it and read the whole table instead; the
--   DELETE now runs in _purge_sessions(), where sequential scans are off.
--
-- Threat model. Unchanged: revocation still reaches every cache for every token that can still
-- validate (revoked, deleted, locked, changed); expiry is checked by validate() and by every cache
-- against the session's expiry; validate() is untouched (one lookup by access_token_hash). A
-- rotated refresh token left behind by a deleted session could only point reuse detection at a
-- session that no longer exists: it revokes nothing and grants nothing. The purge takes no lock
-- that validate() waits for.
set local role pgauth_owner;
set local lock_timeout = '10s';

alter table pgauth.rotated_refresh_tokens drop constraint rotated_refresh_tokens_session_id_fkey;

drop index pgauth.sessions_ended_at_idx;
create index sessions_ended_at_idx on pgauth.sessions using brin
  ((least(expires_at, revoked_at, greatest(refresh_expires_at, access_expires_at)))
   timestamptz_minmax_multi_ops);

-- ---------------------------------------- from 0017_session_jwt.sql
reset role; -- as each migration began: the migrating user
-- pgauth 0017: JWT access tokens for user sessions (POST /v1/login, /v1/login/mfa, /v1/refresh),
-- when settings.access_token_format is jwt.
--
-- Why. access_token_format chose the format of client-credentials tokens only; a user logging in
-- still got an opaque pga_… token that nothing but pgauth can check. Now the gateway answers a
-- signed JWT for a session too, and keeps the refresh token opaque.
--
-- How. The session row is unchanged: login and refresh still store the SHA-256 of an opaque access
-- token, which the gateway receives, never hands out, and replaces by a JWT whose jti is the first
-- 16 bytes of that hash (as a uuid) and whose sid is the session id. So
-- * validating the JWT stays one lookup: the session by its primary key, live while the jti is the
--   prefix of its current access_token_hash (pgauth.validate_session_jwt);
-- * a refresh rotates the hash and so kills the previous JWT for pgauth's verifiers, as it kills an
--   opaque token; a retry within refresh_reuse_grace rebuilds the same opaque token, hence the
--   same jti;
-- * the notifications of 0010 already name the JWT: their cache key is the first 8 bytes of the
--   old access_token_hash, i.e. the first 16 hex digits of the jti. A verifier keeps its answer for
--   a session JWT under that key, and a logout, lock, password change or refresh reuse reaches it
--   on the same message, as fast as for an opaque token. No trigger changes.
--
-- Threat model. The jti reveals 128 bits of the SHA-256 of an opaque token that nobody holds: no
-- preimage, and validate accepts no hash. Logging out with a JWT (pgauth.logout_jwt) needs the sid
-- and that 128-bit prefix, which only a holder of the token knows (the notifications carry 64 of
-- those bits): like logout with an opaque token, it needs no signature, and a forged JWT naming
-- another session ends nothing. Accepting one as valid is another matter: pgauth's verifiers check
-- the signature before they call validate_session_jwt. A third-party verifier checks only the
-- signature and exp, so it learns a revocation only at expiry: the JWT lives at most
-- settings.service_token_ttl (5 minutes by default), or the session's access token lifetime when
-- that is shorter.
set local role pgauth_owner;

comment on column pgauth.settings.access_token_format is
  'Format of the access tokens the gateway answers: opaque (pga_… for sessions, pgs_… for client credentials, validated by the database) or jwt (signed by the gateway: POST /v1/login, /v1/login/mfa, /v1/refresh and /oauth2/token). A service account may override it.';
comment on column pgauth.settings.service_token_ttl is
  'Lifetime of a client-credentials access token (default 5 minutes), and the longest a JWT access token of a session lives.';

-- ---------------------------------------- from 0018_purge_without_transition_tables.sql
reset role; -- as each migration began: the migrating user
-- pgauth 0018: a DELETE of sessions no longer copies every deleted row into a transition table,
-- so the purge writes no temporary file and runs no trigger body.
--
-- Why. EXPLAIN (ANALYZE, BUFFERS) of the purge's DELETE (1,000,000 ended sessions among 100,000
-- live, PostgreSQL 15): both AFTER DELETE statement triggers of sessions (sessions_notify_delete,
-- sessions_forget_rotated) declared REFERENCING OLD TABLE, so PostgreSQL copied each deleted row
-- (its whole width) into one tuplestore: 210 MB, past work_mem, written to 26,855 temporary blocks
-- and read back by the revocation trigger (0.13 s) only to find no live token in it. The purge
-- took 1.24 s, 1.09 s of it backend CPU (medians of five, no load); with no DELETE trigger at
-- all, 0.84 s, 0.71 s of it CPU.
--
-- What changes.
-- * sessions_notify_delete is a row trigger, WHEN the deleted session was not revoked and its
--   access token has not expired by pgauth.clock(): the very rows the statement trigger named.
--   PostgreSQL evaluates the WHEN of an AFTER trigger as the row is deleted and queues nothing when
--   it is false; every session the purge deletes fails it (0016: its access token expired before
--   the session ended), so the purge queues nothing and keeps nothing. A DELETE of live sessions
--   sends one {"keys": [key]} message a session (the format of 0010) instead of up to 100 keys a
--   message; no pgauth function deletes a live session, only a raw DELETE by the owner (of the
--   session, or of its user). What a row trigger still costs the purge, a second read of each
--   deleted row and the WHEN, is 0.2 s of CPU a million: the purge takes 1.06 s, 0.90 s of it
--   CPU, and writes no temporary file.
-- * sessions_forget_rotated is a row trigger, WHEN the session had rotated (refresh_generation > 0)
--   and the DELETE is not the purge's: the purge deletes the rotated refresh tokens of the
--   sessions it deletes itself, in the same statement (a data-modifying WITH joined on
--   session_id, which the planner drives from either side: from an empty rotated_refresh_tokens
--   it costs nothing), and marks its DELETE with pgauth.purging_sessions = on, as purge_audit
--   marks its own with pgauth.purging_audit.
-- * tg_sessions__notify keeps UPDATE and TRUNCATE, unchanged; its DELETE branch, left as it was
--   rather than restated without it, no longer fires. TRUNCATE is unchanged (a flush, and the
--   rotated refresh tokens truncated).
--
-- Threat model. Unchanged: every deleted session whose access token a cache can still hold as
-- valid is announced on pgauth_revocations with the cache key clients parse; the condition is the
-- one of 0016, evaluated per row at the time of the DELETE instead of at the end of the statement,
-- with the same clock (now() of the transaction shifted by settings.clock_offset). A revoked
-- session was announced when it was revoked. validate() is untouched (one lookup by
-- access_token_hash); the purge takes no lock validate() waits for. The WHEN reads
-- pgauth.clock(), which the owner, the only role that may delete sessions, executes. Any role may
-- set pgauth.purging_sessions, but only the owner's DELETE can heed it, and then it leaves rotated
-- refresh tokens behind, which 0016 found harmless: reuse detection pointed at a session that no
-- longer exists revokes nothing and grants nothing.
set local role pgauth_owner;
set local lock_timeout = '10s';

