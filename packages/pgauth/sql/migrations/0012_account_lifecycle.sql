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

create function pgauth.tg_users__unverify_email() returns trigger
  language plpgsql volatile security definer set search_path = pg_catalog, pgauth, pg_temp
  as $$
begin
  if new.email is distinct from old.email then
    new.email_verified_at := null;
  end if;
  return new;
end
$$;
revoke all on function pgauth.tg_users__unverify_email() from public;
create trigger users_unverify_email before update of email on pgauth.users
  for each row execute function pgauth.tg_users__unverify_email();

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

create function pgauth.tg_users__drop_reset_tokens() returns trigger
  language plpgsql volatile security definer set search_path = pg_catalog, pgauth, pg_temp
  as $$
begin
  delete from pgauth.account_tokens t
  where t.user_id = new.id and t.purpose = 'password_reset';
  return null;
end
$$;
revoke all on function pgauth.tg_users__drop_reset_tokens() from public;
create trigger users_drop_reset_tokens after update of password_hash on pgauth.users
  for each row when (new.password_hash is distinct from old.password_hash)
  execute function pgauth.tg_users__drop_reset_tokens();

-- The account of a live token of a purpose (deleted as it is read), or NULL fields.
create function pgauth._take_account_token(p_token text, p_purpose text)
  returns pgauth.account_tokens
  language plpgsql volatile security definer set search_path = pg_catalog, pgauth, pg_temp
  as $$
declare
  v_token pgauth.account_tokens;
begin
  if p_token is null or char_length(p_token) > 256 then
    return v_token;
  end if;
  delete from pgauth.account_tokens t
  where t.token_hash = pgauth._token_hash(p_token) and t.purpose = p_purpose
    and t.expires_at > pgauth.clock()
  returning * into v_token;
  return v_token;
end
$$;
revoke all on function pgauth._take_account_token(text, text) from public;

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

create function pgauth._enqueue_mail(p_kind text, p_user_id uuid, p_to text) returns void
  language plpgsql volatile security definer set search_path = pg_catalog, pgauth, pg_temp
  as $$
declare
  v_now timestamptz := pgauth.clock();
begin
  insert into pgauth.mail_outbox (kind, user_id, to_address, created_at, next_attempt_at)
  values (p_kind, p_user_id, p_to, v_now, v_now);
  perform pg_catalog.pg_notify('pgauth_mail', '');
end
$$;
revoke all on function pgauth._enqueue_mail(text, uuid, text) from public;

create function pgauth.mail_claim(p_limit integer default 10, p_lease_seconds integer default 60)
  returns table (id bigint, kind text, to_address text, username text, token text,
                 expires_at timestamptz, attempt integer)
  language plpgsql volatile security definer set search_path = pg_catalog, pgauth, pg_temp
  as $$
declare
  v_settings pgauth.settings := pgauth._settings();
  v_now timestamptz := pgauth.clock();
  v_ids bigint[];
  v_row pgauth.mail_outbox;
  v_user pgauth.users;
  v_token text;
  v_expires timestamptz;
begin
  if p_limit is null or p_limit not between 1 and 1000
     or p_lease_seconds is null or p_lease_seconds not between 1 and 3600 then
    perform pgauth._invalid('limit must be 1 to 1000 and the lease 1 to 3600 seconds');
  end if;
  -- Claimed in one statement, then handed out oldest first (RETURNING keeps no order).
  with claimed as (
    update pgauth.mail_outbox o
      set claimed_until = v_now + pg_catalog.make_interval(secs => p_lease_seconds),
          attempts = o.attempts + 1
    where o.id in (
      select x.id from pgauth.mail_outbox x
      where x.sent_at is null and x.failed_at is null and x.next_attempt_at <= v_now
        and (x.claimed_until is null or x.claimed_until <= v_now)
      order by x.next_attempt_at, x.id
      limit p_limit
      for update skip locked)
    returning o.id
  )
  select pg_catalog.array_agg(c.id) into v_ids from claimed c;
  for v_row in
    select * from pgauth.mail_outbox o where o.id = any (v_ids) order by o.next_attempt_at, o.id
  loop
    select * into v_user from pgauth.users u where u.id = v_row.user_id;
    -- Nothing to send any more: the account went, or its address changed, or it was verified.
    if v_user.deleted_at is not null or v_user.disabled_at is not null
       or v_user.email is distinct from v_row.to_address
       or (v_row.kind = 'verify_email' and v_user.email_verified_at is not null) then
      update pgauth.mail_outbox o set failed_at = v_now, claimed_until = null,
        last_error = 'obsolete'
      where o.id = v_row.id;
      continue;
    end if;
    v_token := pgauth._new_token(case v_row.kind when 'verify_email' then 'pgv_' else 'pgp_' end);
    v_expires := v_now + case v_row.kind when 'verify_email' then v_settings.email_verification_ttl
                                         else v_settings.password_reset_ttl end;
    -- A new token of a purpose kills the older ones.
    delete from pgauth.account_tokens t where t.user_id = v_user.id and t.purpose = v_row.kind;
    insert into pgauth.account_tokens (token_hash, user_id, purpose, email, created_at, expires_at)
    values (pgauth._token_hash(v_token), v_user.id, v_row.kind, v_user.email, v_now, v_expires);
    return query select v_row.id, v_row.kind, v_row.to_address, v_user.username, v_token,
      v_expires, v_row.attempts;
  end loop;
end
$$;
comment on function pgauth.mail_claim(integer, integer) is
  'Mailer: claims up to p_limit due messages for p_lease_seconds (FOR UPDATE SKIP LOCKED: concurrent senders never get one row twice) and makes the link token of each (only its SHA-256 is stored; older tokens of the account and purpose die). Report each with mail_sent or mail_failed. BADIN on bad arguments.';
revoke all on function pgauth.mail_claim(integer, integer) from public;

create function pgauth.mail_sent(p_id bigint) returns boolean
  language plpgsql volatile security definer set search_path = pg_catalog, pgauth, pg_temp
  as $$
declare
  v_row pgauth.mail_outbox;
begin
  update pgauth.mail_outbox o set sent_at = pgauth.clock(), claimed_until = null, last_error = null
  where o.id = p_id and o.sent_at is null and o.failed_at is null
  returning * into v_row;
  if not found then
    return false;
  end if;
  perform pgauth._audit('mail_sent', v_row.user_id, null, null, null,
    jsonb_build_object('kind', v_row.kind, 'mail_id', v_row.id, 'attempts', v_row.attempts));
  return true;
end
$$;
comment on function pgauth.mail_sent(bigint) is
  'Mailer: marks a claimed message sent (audit mail_sent). False when it was not pending.';
revoke all on function pgauth.mail_sent(bigint) from public;

create function pgauth.mail_failed(p_id bigint, p_error text) returns boolean
  language plpgsql volatile security definer set search_path = pg_catalog, pgauth, pg_temp
  as $$
declare
  v_settings pgauth.settings := pgauth._settings();
  v_now timestamptz := pgauth.clock();
  v_row pgauth.mail_outbox;
begin
  -- Backoff: 30 s, 1 min, 2 min … at most 1 h; gives up after mail_max_attempts.
  update pgauth.mail_outbox o set
    claimed_until = null,
    last_error = pg_catalog.left(coalesce(p_error, 'error'), 200),
    next_attempt_at = v_now + pg_catalog.make_interval(secs =>
      least(30 * power(2::numeric, least(o.attempts - 1, 20)), 3600)::double precision),
    failed_at = case when o.attempts >= v_settings.mail_max_attempts then v_now end
  where o.id = p_id and o.sent_at is null and o.failed_at is null
  returning * into v_row;
  if not found then
    return false;
  end if;
  perform pgauth._audit('mail_failed', v_row.user_id, null, null, null,
    jsonb_build_object('kind', v_row.kind, 'mail_id', v_row.id, 'attempts', v_row.attempts,
      'final', v_row.failed_at is not null, 'error', v_row.last_error));
  return true;
end
$$;
comment on function pgauth.mail_failed(bigint, text) is
  'Mailer: a claimed message could not be delivered (p_error, at most 200 characters, must not hold the message text): retried after 30 s, doubling up to 1 h, given up after settings.mail_max_attempts (audit mail_failed). False when it was not pending.';
revoke all on function pgauth.mail_failed(bigint, text) from public;

-- ---------------------------------------------------------------------------------------------
-- Email verification.
-- ---------------------------------------------------------------------------------------------
create function pgauth.request_email_verification(p_user_id uuid) returns boolean
  language plpgsql volatile security definer set search_path = pg_catalog, pgauth, pg_temp
  as $$
declare
  v_user pgauth.users := pgauth._user(p_user_id);
begin
  if v_user.email is null then
    perform pgauth._invalid('the account has no email address');
  end if;
  if v_user.email_verified_at is not null then
    return false;
  end if;
  -- At most 5 an hour per account: a signed-in client cannot make pgauth mail-bomb its address.
  if pgauth._throttle_hit('verify_email:user', v_user.id::text, 5, interval '1 hour',
       pgauth.clock()) > 0 then
    return false;
  end if;
  perform pgauth._enqueue_mail('verify_email', v_user.id, v_user.email);
  perform pgauth._audit('email_verification_requested', v_user.id, null, null, null, '{}');
  return true;
end
$$;
comment on function pgauth.request_email_verification(uuid) is
  'Queues a verification mail to the user''s current address: true when queued, false when the address is verified already or the account asked 5 times this hour. NOUSR; BADIN when the account has no address.';
revoke all on function pgauth.request_email_verification(uuid) from public;

create function pgauth.verify_email(p_token text) returns boolean
  language plpgsql volatile security definer set search_path = pg_catalog, pgauth, pg_temp
  as $$
declare
  v_token pgauth.account_tokens := pgauth._take_account_token(p_token, 'verify_email');
begin
  if v_token.user_id is null then
    return false;
  end if;
  update pgauth.users u set email_verified_at = pgauth.clock()
  where u.id = v_token.user_id and u.deleted_at is null and u.email = v_token.email;
  if not found then
    return false;
  end if;
  perform pgauth._audit('email_verified', v_token.user_id, null, null, null, '{}');
  return true;
end
$$;
comment on function pgauth.verify_email(text) is
  'Marks the address a verification token was mailed to as verified: true, once; false for an unknown, used or expired token, or when the address has changed since.';
revoke all on function pgauth.verify_email(text) from public;

-- ---------------------------------------------------------------------------------------------
-- Password reset.
-- Threat model: account enumeration, mail bombing and takeover. The request answers nothing
-- (void) and does the same statements whether or not an account matches, except the outbox row;
-- it is limited per address (settings.password_reset_per_address an hour) and per client
-- network (password_reset_per_ip an hour), silently. A reset sets the password (policy checked
-- first: a refused password changes nothing and the token still works), revokes every session
-- (trigger users_revoke_sessions), lifts a lock of too many failures, and kills every reset
-- token of the account (trigger users_drop_reset_tokens).
-- ---------------------------------------------------------------------------------------------
create function pgauth.request_password_reset(
  p_email_or_username text, p_client_ip inet default null
) returns void
  language plpgsql volatile security definer set search_path = pg_catalog, pgauth, pg_temp
  as $$
declare
  v_settings pgauth.settings := pgauth._settings();
  v_now timestamptz := pgauth.clock();
  v_key text;
  v_user pgauth.users;
  v_blocked boolean;
  v_matched boolean := false;
begin
  if p_email_or_username is null or char_length(p_email_or_username) not between 1 and 256 then
    perform pgauth._invalid('an email address or a username of 1 to 256 characters is required');
  end if;
  v_key := pg_catalog.lower(p_email_or_username);
  v_blocked := pgauth._throttle_hit('password_reset:address', v_key,
    v_settings.password_reset_per_address, interval '1 hour', v_now) > 0;
  if p_client_ip is not null then
    v_blocked := pgauth._throttle_hit('password_reset:ip', pg_catalog.host(p_client_ip),
      v_settings.password_reset_per_ip, interval '1 hour', v_now) > 0 or v_blocked;
  end if;
  for v_user in
    select * from pgauth.users u
    where u.deleted_at is null and u.disabled_at is null and u.email is not null
      and (pg_catalog.lower(u.username) = v_key or pg_catalog.lower(u.email) = v_key)
    order by u.created_at
    limit 10
  loop
    v_matched := true;
    if v_blocked then
      perform pgauth._audit('password_reset_requested', v_user.id, null, p_client_ip, null,
        '{"limited": true}');
    else
      perform pgauth._enqueue_mail('password_reset', v_user.id, v_user.email);
      perform pgauth._audit('password_reset_requested', v_user.id, null, p_client_ip, null, '{}');
    end if;
  end loop;
  -- Nobody matched: the same kind of writes (an audit row, a notification at commit), so that
  -- the answer takes about as long (the notification's commit is most of the cost).
  if not v_matched then
    perform pgauth._audit('password_reset_requested', null, null, p_client_ip, null,
      '{"matched": false}');
    perform pg_catalog.pg_notify('pgauth_mail', '');
  end if;
end
$$;
comment on function pgauth.request_password_reset(text, inet) is
  'Queues a password-reset mail to each account whose username or email (case-insensitively) is p_email_or_username and that has an address. Answers nothing, whether or not an account matched; limited per address and per client network (settings.password_reset_per_address, password_reset_per_ip, an hour each). BADIN on missing or over-long input.';
revoke all on function pgauth.request_password_reset(text, inet) from public;

create function pgauth.reset_password(p_token text, p_new_password text) returns boolean
  language plpgsql volatile security definer set search_path = pg_catalog, pgauth, pg_temp
  as $$
declare
  v_settings pgauth.settings := pgauth._settings();
  v_token pgauth.account_tokens;
  v_user pgauth.users;
begin
  if p_new_password is null then
    perform pgauth._invalid('password is required');
  end if;
  v_token := pgauth._take_account_token(p_token, 'password_reset');
  if v_token.user_id is null then
    return false;
  end if;
  select * into v_user from pgauth.users u
  where u.id = v_token.user_id and u.deleted_at is null and u.disabled_at is null
  for update;
  if not found then
    return false;
  end if;
  -- WEAKP rolls this back whole: the token is not spent by a refused password.
  perform pgauth._check_password(p_new_password, v_user.username, v_settings.password_min_length);
  update pgauth.users u set
    password_hash = pgauth._hash_password(p_new_password, v_settings.bcrypt_cost),
    failed_logins = 0, lock_count = 0,
    locked_until = case when u.lock_reason = 'too_many_failures' then null else u.locked_until end,
    lock_reason = case when u.lock_reason = 'too_many_failures' then null else u.lock_reason end
  where u.id = v_user.id;
  perform pgauth._audit('password_reset', v_user.id, null, null, null, '{}');
  return true;
end
$$;
comment on function pgauth.reset_password(text, text) is
  'Sets a new password with a reset token: true, once; false for an unknown, used or expired token. Every session of the user is revoked, a lock of too many failures is lifted, every reset token of the account dies. WEAKP (the token stays usable), BADIN.';
revoke all on function pgauth.reset_password(text, text) from public;

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

-- The code of a step: HOTP (RFC 4226) of the step, dynamic truncation, p_digits digits.
create function pgauth.totp_code(
  p_secret bytea, p_step bigint, p_digits integer default 6, p_algorithm text default 'sha1'
) returns text
  language plpgsql immutable strict security definer set search_path = pg_catalog, pgauth, pg_temp
  as $$
declare
  v_mac bytea := pgauth._hmac(pg_catalog.int8send(p_step), p_secret, p_algorithm);
  v_off integer := pg_catalog.get_byte(v_mac, pg_catalog.length(v_mac) - 1) & 15;
  v_bin bigint;
begin
  if p_digits not between 6 and 10 then
    perform pgauth._invalid('digits must be 6 to 10');
  end if;
  v_bin := ((pg_catalog.get_byte(v_mac, v_off) & 127)::bigint << 24)
         | (pg_catalog.get_byte(v_mac, v_off + 1)::bigint << 16)
         | (pg_catalog.get_byte(v_mac, v_off + 2)::bigint << 8)
         | pg_catalog.get_byte(v_mac, v_off + 3)::bigint;
  return pg_catalog.lpad((v_bin % (10::bigint ^ p_digits)::bigint)::text, p_digits, '0');
end
$$;
comment on function pgauth.totp_code(bytea, bigint, integer, text) is
  'RFC 6238: the code of time step p_step (Unix time / 30) for a secret, HMAC with p_algorithm (sha1, sha256, sha512), p_digits digits. Pure; for tests and tools.';
revoke all on function pgauth.totp_code(bytea, bigint, integer, text) from public;

-- RFC 4648 base32, no padding: the form authenticator apps take a secret in.
create function pgauth._base32(p_data bytea) returns text
  language plpgsql immutable strict set search_path = pg_catalog, pg_temp
  as $$
declare
  v_alphabet constant text := 'ABCDEFGHIJKLMNOPQRSTUVWXYZ234567';
  v_out text := '';
  v_buffer bigint := 0;
  v_bits integer := 0;
begin
  for i in 0 .. pg_catalog.length(p_data) - 1 loop
    v_buffer := (v_buffer << 8) | pg_catalog.get_byte(p_data, i);
    v_bits := v_bits + 8;
    while v_bits >= 5 loop
      v_bits := v_bits - 5;
      v_out := v_out || pg_catalog.substr(v_alphabet, ((v_buffer >> v_bits) & 31)::integer + 1, 1);
    end loop;
    v_buffer := v_buffer & ((1::bigint << v_bits) - 1);
  end loop;
  if v_bits > 0 then
    v_out := v_out || pg_catalog.substr(v_alphabet, ((v_buffer << (5 - v_bits)) & 31)::integer + 1, 1);
  end if;
  return v_out;
end
$$;
revoke all on function pgauth._base32(bytea) from public;

-- Percent-encoding of everything but RFC 3986's unreserved characters (for the otpauth URI).
create function pgauth._uri_encode(p_text text) returns text
  language sql immutable strict set search_path = pg_catalog, pg_temp
  as $$
    select coalesce(pg_catalog.string_agg(
      case when b.byte between 48 and 57 or b.byte between 65 and 90 or b.byte between 97 and 122
                or b.byte in (45, 46, 95, 126)
           then pg_catalog.chr(b.byte)
           else '%' || pg_catalog.upper(pg_catalog.lpad(pg_catalog.to_hex(b.byte), 2, '0')) end,
      '' order by b.i), '')
    from (select i, pg_catalog.get_byte(pg_catalog.convert_to(p_text, 'UTF8'), i) as byte
          from pg_catalog.generate_series(0,
            pg_catalog.length(pg_catalog.convert_to(p_text, 'UTF8')) - 1) i) b
  $$;
revoke all on function pgauth._uri_encode(text) from public;

-- The step a code matches within ±1 of now and after last_step, or NULL.
create function pgauth._totp_match(p_factor pgauth.totp_factors, p_code text) returns bigint
  language plpgsql stable security definer set search_path = pg_catalog, pgauth, pg_temp
  as $$
declare
  v_now bigint := pg_catalog.floor(extract(epoch from pgauth.clock()) / 30)::bigint;
  v_match bigint;
begin
  if p_code is null or p_code !~ '^[0-9]{6}$' or p_factor.secret is null then
    return null;
  end if;
  for v_step in v_now - 1 .. v_now + 1 loop
    if pgauth.totp_code(p_factor.secret, v_step) = p_code then
      v_match := v_step;
    end if;
  end loop;
  if v_match is null or v_match <= coalesce(p_factor.last_step, -1) then
    return null;
  end if;
  return v_match;
end
$$;
revoke all on function pgauth._totp_match(pgauth.totp_factors, text) from public;

-- A recovery code as stored: lower case, without spaces and dashes, SHA-256.
create function pgauth._recovery_hash(p_code text) returns bytea
  language sql immutable strict set search_path = pg_catalog, pg_temp
  as $$ select pg_catalog.sha256(pg_catalog.convert_to(
          pg_catalog.lower(pg_catalog.translate(p_code, ' -', '')), 'UTF8')) $$;
revoke all on function pgauth._recovery_hash(text) from public;

-- Checks a second factor of a user: a TOTP code or an unused recovery code. On success the step
-- is recorded (or the code deleted) and the method returned; on failure NULL and nothing written.
create function pgauth._use_second_factor(p_user_id uuid, p_code text, p_recovery_code text)
  returns text
  language plpgsql volatile security definer set search_path = pg_catalog, pgauth, pg_temp
  as $$
declare
  v_factor pgauth.totp_factors;
  v_step bigint;
  v_left integer;
begin
  select * into v_factor from pgauth.totp_factors f
  where f.user_id = p_user_id and f.confirmed_at is not null for update;
  if not found then
    return null;
  end if;
  if p_code is not null then
    v_step := pgauth._totp_match(v_factor, p_code);
    if v_step is null then
      return null;
    end if;
    update pgauth.totp_factors f set last_step = v_step where f.user_id = p_user_id;
    return 'totp';
  end if;
  if p_recovery_code is null or char_length(p_recovery_code) > 64 then
    return null;
  end if;
  delete from pgauth.recovery_codes r
  where r.user_id = p_user_id and r.code_hash = pgauth._recovery_hash(p_recovery_code);
  if not found then
    return null;
  end if;
  select count(*) into v_left from pgauth.recovery_codes r where r.user_id = p_user_id;
  perform pgauth._audit('recovery_code_used', p_user_id, null, null, null,
    jsonb_build_object('remaining', v_left));
  return 'recovery_code';
end
$$;
revoke all on function pgauth._use_second_factor(uuid, text, text) from public;

-- A wrong second factor: counted as a failed login of the account (the same lock), audited.
create function pgauth._second_factor_failed(
  p_user pgauth.users, p_via text, p_client_ip inet, p_user_agent text
) returns void
  language plpgsql volatile security definer set search_path = pg_catalog, pgauth, pg_temp
  as $$
declare
  v_attempt pgauth.password_attempts;
begin
  v_attempt := pgauth._record_password_check('login', p_user.id, p_user.password_changed_at, false,
    pgauth._settings(), p_client_ip, p_user_agent);
  if v_attempt.outcome = 'bad_password' then
    v_attempt.outcome := 'bad_code';
  end if;
  perform pgauth._audit_failed_attempt(v_attempt, jsonb_build_object('via', p_via));
end
$$;
revoke all on function pgauth._second_factor_failed(pgauth.users, text, inet, text) from public;

create function pgauth.totp_enroll(p_user_id uuid)
  returns table (secret text, otpauth_uri text)
  language plpgsql volatile security definer set search_path = pg_catalog, pgauth, pg_temp
  as $$
declare
  v_settings pgauth.settings := pgauth._settings();
  v_user pgauth.users := pgauth._user(p_user_id);
  v_secret bytea := pgauth._random_bytes(20);
  v_b32 text := pgauth._base32(v_secret);
begin
  if exists (select 1 from pgauth.totp_factors f
             where f.user_id = v_user.id and f.confirmed_at is not null) then
    raise exception using errcode = 'MFAON', message = 'mfa_already_enabled';
  end if;
  insert into pgauth.totp_factors as f (user_id, secret, created_at)
  values (v_user.id, v_secret, pgauth.clock())
  on conflict on constraint totp_factors_pkey do update
    set secret = excluded.secret, created_at = excluded.created_at, last_step = null;
  perform pgauth._audit('totp_enrolment_started', v_user.id, null, null, null, '{}');
  return query select v_b32,
    'otpauth://totp/' || pgauth._uri_encode(v_settings.totp_issuer) || ':'
      || pgauth._uri_encode(v_user.username) || '?secret=' || v_b32
      || '&issuer=' || pgauth._uri_encode(v_settings.totp_issuer)
      || '&algorithm=SHA1&digits=6&period=30';
end
$$;
comment on function pgauth.totp_enroll(uuid) is
  'Starts (or restarts) TOTP enrolment: a new secret, returned once in base32 and as an otpauth:// URI; the factor is off until totp_confirm. MFAON when a confirmed factor exists; NOUSR.';
revoke all on function pgauth.totp_enroll(uuid) from public;

create function pgauth.totp_confirm(p_user_id uuid, p_code text) returns text[]
  language plpgsql volatile security definer set search_path = pg_catalog, pgauth, pg_temp
  as $$
declare
  v_user pgauth.users := pgauth._user(p_user_id);
  v_factor pgauth.totp_factors;
  v_step bigint;
  v_codes text[] := '{}';
  v_code text;
begin
  select * into v_factor from pgauth.totp_factors f where f.user_id = v_user.id for update;
  if not found then
    raise exception using errcode = 'MFAOF', message = 'mfa_not_enabled',
      detail = 'no TOTP enrolment was started';
  elsif v_factor.confirmed_at is not null then
    raise exception using errcode = 'MFAON', message = 'mfa_already_enabled';
  end if;
  v_step := pgauth._totp_match(v_factor, p_code);
  if v_step is null then
    perform pgauth._second_factor_failed(v_user, 'totp_confirm', null, null);
    return null;
  end if;
  update pgauth.totp_factors f set confirmed_at = pgauth.clock(), last_step = v_step
  where f.user_id = v_user.id;
  delete from pgauth.recovery_codes r where r.user_id = v_user.id;
  for i in 1 .. 10 loop
    v_code := pg_catalog.lower(pgauth._base32(pgauth._random_bytes(7)));
    v_code := pg_catalog.substr(v_code, 1, 5) || '-' || pg_catalog.substr(v_code, 6, 5)
      || '-' || pg_catalog.substr(v_code, 11, 2);
    insert into pgauth.recovery_codes (user_id, code_hash, created_at)
    values (v_user.id, pgauth._recovery_hash(v_code), pgauth.clock());
    v_codes := v_codes || v_code;
  end loop;
  perform pgauth._audit('totp_enabled', v_user.id, null, null, null, '{}');
  return v_codes;
end
$$;
comment on function pgauth.totp_confirm(uuid, text) is
  'Confirms TOTP enrolment with a current code: returns the ten recovery codes (once; stored hashed). NULL for a wrong code (counted as a failed login). MFAOF when no enrolment was started, MFAON when already confirmed; NOUSR.';
revoke all on function pgauth.totp_confirm(uuid, text) from public;

create function pgauth.totp_remove(p_user_id uuid, p_code text) returns boolean
  language plpgsql volatile security definer set search_path = pg_catalog, pgauth, pg_temp
  as $$
declare
  v_user pgauth.users := pgauth._user(p_user_id);
begin
  if not exists (select 1 from pgauth.totp_factors f
                 where f.user_id = v_user.id and f.confirmed_at is not null) then
    raise exception using errcode = 'MFAOF', message = 'mfa_not_enabled';
  end if;
  if pgauth._use_second_factor(v_user.id, p_code, null) is null
     and pgauth._use_second_factor(v_user.id, null, p_code) is null then
    perform pgauth._second_factor_failed(v_user, 'totp_remove', null, null);
    return false;
  end if;
  delete from pgauth.totp_factors f where f.user_id = v_user.id;
  delete from pgauth.recovery_codes r where r.user_id = v_user.id;
  perform pgauth._audit('totp_removed', v_user.id, null, null, null, '{"by": "user"}');
  return true;
end
$$;
comment on function pgauth.totp_remove(uuid, text) is
  'Turns TOTP off given a current code or a recovery code: true; false for a wrong code (counted as a failed login). MFAOF when TOTP is not on; NOUSR.';
revoke all on function pgauth.totp_remove(uuid, text) from public;

create function pgauth.reset_mfa(p_user_id uuid) returns boolean
  language plpgsql volatile security definer set search_path = pg_catalog, pgauth, pg_temp
  as $$
declare
  v_user pgauth.users := pgauth._user(p_user_id);
  v_had boolean;
begin
  delete from pgauth.totp_factors f where f.user_id = v_user.id;
  v_had := found;
  delete from pgauth.recovery_codes r where r.user_id = v_user.id;
  delete from pgauth.mfa_challenges c where c.user_id = v_user.id;
  perform pgauth._audit('mfa_reset', v_user.id, null, null, null,
    jsonb_build_object('had_factor', v_had));
  return v_had;
end
$$;
comment on function pgauth.reset_mfa(uuid) is
  'Admin: removes every second factor of a user (TOTP, recovery codes, pending challenges); true when there was one. Audited (mfa_reset). NOUSR.';
revoke all on function pgauth.reset_mfa(uuid) from public;

create function pgauth.mfa_status(p_user_id uuid)
  returns table (totp boolean, totp_pending boolean, recovery_codes_left integer)
  language plpgsql stable security definer set search_path = pg_catalog, pgauth, pg_temp
  as $$
begin
  perform pgauth._user(p_user_id);
  return query select
    exists (select 1 from pgauth.totp_factors f where f.user_id = p_user_id and f.confirmed_at is not null),
    exists (select 1 from pgauth.totp_factors f where f.user_id = p_user_id and f.confirmed_at is null),
    (select count(*)::integer from pgauth.recovery_codes r where r.user_id = p_user_id);
end
$$;
comment on function pgauth.mfa_status(uuid) is
  'The second factors of a user: TOTP on, an enrolment pending, recovery codes left. NOUSR.';
revoke all on function pgauth.mfa_status(uuid) from public;

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
drop procedure pgauth.login_durably(text, text, inet, text, uuid, uuid, text, timestamptz, text, timestamptz);
drop function pgauth.login_answer(text, text);
drop function pgauth.login(text, text, inet, text);
drop function pgauth._login_finish(pgauth.password_attempts, text, boolean);

create function pgauth._login_finish(
  p_attempt pgauth.password_attempts, p_password text, p_verified boolean
) returns table (
  user_id uuid, session_id uuid, access_token text, access_expires_at timestamptz,
  refresh_token text, refresh_expires_at timestamptz, status text, mfa_challenge text,
  mfa_expires_at timestamptz
)
  language plpgsql volatile security definer set search_path = pg_catalog, pgauth, pg_temp
  as $$
declare
  v_settings pgauth.settings := pgauth._settings();
  v_now timestamptz := pgauth.clock();
  v_user pgauth.users;
  v_row pgauth.users;
  v_cost integer;
  v_stale boolean;
  v_rehash text;
  v_new record;
  v_challenge text;
  v_expires timestamptz;
begin
  if p_attempt.user_id is not null then
    select * into v_user from pgauth.users u where u.id = p_attempt.user_id;
    v_cost := pgauth._bf_cost(v_user.password_hash);
    v_stale := coalesce(v_cost < v_settings.bcrypt_cost, true);
  end if;

  if p_attempt.outcome <> 'ok' then
    if v_stale and p_password is not null then
      for c in greatest(coalesce(v_cost, v_settings.bcrypt_cost), 4) .. v_settings.bcrypt_cost - 1 loop
        perform pgauth._crypt(pgauth._prehash(p_password), pgauth._bf_salt(c));
      end loop;
      if v_cost is null then
        perform pgauth._crypt(pgauth._prehash(p_password), pgauth._bf_salt(v_settings.bcrypt_cost));
      end if;
    end if;
    perform pgauth._audit_failed_attempt(p_attempt, '{}');
    return query select null::uuid, null::uuid, null::text, null::timestamptz, null::text,
      null::timestamptz, 'failed'::text, null::text, null::timestamptz;
    return;
  end if;

  if v_stale and p_password is not null
     and (p_verified or pgauth._verify_password(p_password, v_user.password_hash)) then
    v_rehash := pgauth._hash_password(p_password, v_settings.bcrypt_cost);
    perform pg_catalog.set_config('pgauth.rehash', v_user.id::text || ':' || v_rehash, true);
  end if;
  -- Re-check that nothing changed since the password was checked (0009).
  update pgauth.users u
    set last_login_at = v_now,
        password_hash = case when u.password_hash = v_user.password_hash
                             then coalesce(v_rehash, u.password_hash) else u.password_hash end
  where u.id = p_attempt.user_id
    and u.password_changed_at = p_attempt.password_changed_at
    and u.deleted_at is null and u.disabled_at is null
    and (u.locked_until is null or u.locked_until <= v_now)
  returning * into v_row;
  perform pg_catalog.set_config('pgauth.rehash', '', true);
  if not found then
    p_attempt.outcome := 'changed_meanwhile';
    perform pgauth._audit_failed_attempt(p_attempt, '{}');
    return query select null::uuid, null::uuid, null::text, null::timestamptz, null::text,
      null::timestamptz, 'failed'::text, null::text, null::timestamptz;
    return;
  end if;
  if v_rehash is not null and v_row.password_hash is distinct from v_rehash then
    v_rehash := null;
  end if;

  if v_settings.require_verified_email and v_row.email_verified_at is null then
    p_attempt.outcome := 'email_not_verified';
    perform pgauth._audit_failed_attempt(p_attempt, '{}');
    return query select null::uuid, null::uuid, null::text, null::timestamptz, null::text,
      null::timestamptz, 'email_not_verified'::text, null::text, null::timestamptz;
    return;
  end if;

  if exists (select 1 from pgauth.totp_factors f
             where f.user_id = v_row.id and f.confirmed_at is not null) then
    v_challenge := pgauth._new_token('pgm_');
    v_expires := v_now + v_settings.mfa_challenge_ttl;
    insert into pgauth.mfa_challenges (token_hash, user_id, password_changed_at, expires_at,
      client_ip, user_agent)
    values (pgauth._token_hash(v_challenge), v_row.id, v_row.password_changed_at, v_expires,
      p_attempt.client_ip, pg_catalog.left(p_attempt.user_agent, 512));
    perform pgauth._audit('mfa_challenge', v_row.id, null, p_attempt.client_ip,
      p_attempt.user_agent,
      case when v_rehash is null then '{}'::jsonb else '{"rehashed": true}'::jsonb end);
    return query select null::uuid, null::uuid, null::text, null::timestamptz, null::text,
      null::timestamptz, 'mfa_required'::text, v_challenge, v_expires;
    return;
  end if;

  select * into v_new
  from pgauth._start_session(v_row, v_settings, p_attempt.client_ip, p_attempt.user_agent);
  perform pgauth._audit('login_success', v_row.id, v_new.session_id, p_attempt.client_ip,
    p_attempt.user_agent,
    case when v_rehash is null then '{}'::jsonb else '{"rehashed": true}'::jsonb end);
  return query select v_new.user_id, v_new.session_id, v_new.access_token, v_new.access_expires_at,
    v_new.refresh_token, v_new.refresh_expires_at, 'ok'::text, null::text, null::timestamptz;
end
$$;
revoke all on function pgauth._login_finish(pgauth.password_attempts, text, boolean) from public;

create function pgauth.login_answer(p_attempt text, p_password text)
  returns table (
    user_id uuid, session_id uuid, access_token text, access_expires_at timestamptz,
    refresh_token text, refresh_expires_at timestamptz, status text, mfa_challenge text,
    mfa_expires_at timestamptz
  )
  language plpgsql volatile security definer set search_path = pg_catalog, pgauth, pg_temp
  as $$
declare
  v_attempt pgauth.password_attempts := pgauth._take_attempt(p_attempt, 'login');
begin
  if v_attempt.token_hash is null then
    return;
  end if;
  return query select * from pgauth._login_finish(v_attempt, p_password, false) f
    where f.status <> 'failed';
end
$$;
comment on function pgauth.login_answer(text, text) is
  'Step 2 of login_durably: for the ticket of a login_attempt whose transaction committed less than a minute ago, one row when the password was right, else no row. status ok: a new session and token pair; mfa_required: no tokens, a challenge for login_mfa_durably (mfa_challenge, mfa_expires_at); email_not_verified: no tokens (settings.require_verified_email). Each ticket answers once; p_password is the one given to login_attempt.';
revoke all on function pgauth.login_answer(text, text) from public;

create procedure pgauth.login_durably(
  p_username text, p_password text, p_client_ip inet default null, p_user_agent text default null,
  inout user_id uuid default null, inout session_id uuid default null,
  inout access_token text default null, inout access_expires_at timestamptz default null,
  inout refresh_token text default null, inout refresh_expires_at timestamptz default null,
  inout mfa_challenge text default null, inout mfa_expires_at timestamptz default null
)
  language plpgsql
  as $$
declare
  v_attempt text;
  v_status text;
begin
  v_attempt := pgauth.login_attempt(p_username, p_password, p_client_ip, p_user_agent);
  commit;
  select r.user_id, r.session_id, r.access_token, r.access_expires_at, r.refresh_token,
         r.refresh_expires_at, r.status, r.mfa_challenge, r.mfa_expires_at
    into user_id, session_id, access_token, access_expires_at, refresh_token, refresh_expires_at,
         v_status, mfa_challenge, mfa_expires_at
  from pgauth.login_answer(v_attempt, p_password) r;
  commit;
  if v_status = 'email_not_verified' then
    raise exception using errcode = 'NOVER', message = 'email_not_verified';
  end if;
end
$$;
comment on procedure pgauth.login_durably(text, text, inet, text, uuid, uuid, text, timestamptz, text, timestamptz, text, timestamptz) is
  'The login of front doors: CALL pgauth.login_durably(username, password[, client_ip, user_agent]). One row: user id, session id and a fresh token pair; or, for an account with a second factor, NULL tokens and mfa_challenge / mfa_expires_at (finish with login_mfa_durably); all NULL on any failure. NOVER (after the refusal is committed) when the password is right but settings.require_verified_email holds and the address is not verified. The check and its consequences are committed before the answer: call it outside BEGIN … COMMIT (else SQLSTATE 2D000). BADIN on missing or over-long input.';
revoke all on procedure pgauth.login_durably(text, text, inet, text, uuid, uuid, text, timestamptz, text, timestamptz, text, timestamptz) from public;

create function pgauth.login(
  p_username text, p_password text, p_client_ip inet default null, p_user_agent text default null
) returns table (
  user_id uuid, session_id uuid, access_token text, access_expires_at timestamptz,
  refresh_token text, refresh_expires_at timestamptz
)
  language plpgsql volatile security definer set search_path = pg_catalog, pgauth, pg_temp
  as $$
begin
  return query select f.user_id, f.session_id, f.access_token, f.access_expires_at,
      f.refresh_token, f.refresh_expires_at
    from pgauth._login_finish(
      pgauth._login_verdict(p_username, p_password, p_client_ip, p_user_agent), p_password, true) f
    where f.status = 'ok';
end
$$;
comment on function pgauth.login(text, text, inet, text) is
  'Admin: checks a password and starts a session in the caller''s transaction: one row with the user id, session id and a fresh access/refresh token pair, or no row on any failure (unknown user, wrong password, locked, disabled) and for an account that needs a second factor or a verified address (front doors use login_durably). A rollback erases its failure count. Raises BADIN only on missing or over-long input.';
revoke all on function pgauth.login(text, text, inet, text) from public;

-- ---- The second step of a login with a second factor ----------------------------------------
-- Like a password check (0009), a code check must commit its failure count before it answers:
-- login_mfa_attempt checks and writes (the failure, or the step used and the challenge marked
-- verified by this transaction), and must be the first write of its transaction;
-- login_mfa_answer, once that transaction has committed, turns a verified challenge into a
-- session of aal 2, once. login_mfa_durably runs both with a COMMIT after each.

create function pgauth.login_mfa_attempt(
  p_challenge text, p_code text, p_recovery_code text default null,
  p_client_ip inet default null, p_user_agent text default null
) returns void
  language plpgsql volatile security definer set search_path = pg_catalog, pgauth, pg_temp
  as $$
declare
  v_challenge pgauth.mfa_challenges;
  v_user pgauth.users;
  v_via text;
begin
  perform pgauth._require_fresh_transaction();
  if p_challenge is null or char_length(p_challenge) > 256 or char_length(p_code) > 64
     or char_length(p_recovery_code) > 64 or (p_code is null) = (p_recovery_code is null) then
    perform pgauth._invalid('a challenge and either a code or a recovery code are required');
  end if;
  select * into v_challenge from pgauth.mfa_challenges c
  where c.token_hash = pgauth._token_hash(p_challenge) and c.expires_at > pgauth.clock()
    and c.verified_xact is null
  for update;
  if not found then
    return;
  end if;
  select * into v_user from pgauth.users u where u.id = v_challenge.user_id;
  if v_user.locked_until > pgauth.clock() or v_user.disabled_at is not null
     or v_user.deleted_at is not null then
    perform pgauth._second_factor_failed(v_user, 'login_mfa', p_client_ip, p_user_agent);
    return;
  end if;
  v_via := pgauth._use_second_factor(v_user.id, p_code, p_recovery_code);
  if v_via is null then
    perform pgauth._second_factor_failed(v_user, 'login_mfa', p_client_ip, p_user_agent);
    if v_challenge.failures + 1 >= 5 then
      delete from pgauth.mfa_challenges c where c.token_hash = v_challenge.token_hash;
    else
      update pgauth.mfa_challenges c set failures = c.failures + 1
      where c.token_hash = v_challenge.token_hash;
    end if;
    return;
  end if;
  update pgauth.mfa_challenges c
    set verified_by = v_via, verified_xact = pg_catalog.pg_current_xact_id(),
        client_ip = coalesce(p_client_ip, c.client_ip),
        user_agent = coalesce(pg_catalog.left(p_user_agent, 512), c.user_agent)
  where c.token_hash = v_challenge.token_hash;
end
$$;
comment on function pgauth.login_mfa_attempt(text, text, text, inet, text) is
  'Step 1 of login_mfa_durably: checks a TOTP code (p_code) or a recovery code against a login challenge. A wrong one counts as a failed login (same lock); a challenge dies after 5. Answers nothing: login_mfa_answer tells, once this transaction has committed. Must be the first write of its transaction; BADIN unless exactly one of the codes is given.';
revoke all on function pgauth.login_mfa_attempt(text, text, text, inet, text) from public;

create function pgauth.login_mfa_answer(p_challenge text)
  returns table (
    user_id uuid, session_id uuid, access_token text, access_expires_at timestamptz,
    refresh_token text, refresh_expires_at timestamptz
  )
  language plpgsql volatile security definer set search_path = pg_catalog, pgauth, pg_temp
  as $$
declare
  v_settings pgauth.settings := pgauth._settings();
  v_now timestamptz := pgauth.clock();
  v_challenge pgauth.mfa_challenges;
  v_row pgauth.users;
  v_new record;
begin
  if p_challenge is null or char_length(p_challenge) > 256 then
    return;
  end if;
  delete from pgauth.mfa_challenges c
  where c.token_hash = pgauth._token_hash(p_challenge) and c.expires_at > v_now
    and c.verified_xact is not null
    and pg_catalog.pg_xact_status(c.verified_xact) = 'committed'
  returning * into v_challenge;
  if not found then
    return;
  end if;
  -- A password change, lock or deletion since the password was checked wins.
  update pgauth.users u set last_login_at = v_now
  where u.id = v_challenge.user_id and u.password_changed_at = v_challenge.password_changed_at
    and u.deleted_at is null and u.disabled_at is null
    and (u.locked_until is null or u.locked_until <= v_now)
  returning * into v_row;
  if not found then
    perform pgauth._audit('login_failure', v_challenge.user_id, null, v_challenge.client_ip,
      v_challenge.user_agent, '{"reason": "changed_meanwhile", "via": "login_mfa"}');
    return;
  end if;
  select * into v_new
  from pgauth._start_session(v_row, v_settings, v_challenge.client_ip, v_challenge.user_agent);
  update pgauth.sessions s set aal = 2 where s.id = v_new.session_id;
  perform pgauth._audit('login_success', v_row.id, v_new.session_id, v_challenge.client_ip,
    v_challenge.user_agent, jsonb_build_object('aal', 2, 'via', v_challenge.verified_by));
  return query select v_new.user_id, v_new.session_id, v_new.access_token, v_new.access_expires_at,
    v_new.refresh_token, v_new.refresh_expires_at;
end
$$;
comment on function pgauth.login_mfa_answer(text) is
  'Step 2 of login_mfa_durably: for a challenge verified by a committed login_mfa_attempt, one row with a new session of aal 2 and its token pair (once); no row otherwise.';
revoke all on function pgauth.login_mfa_answer(text) from public;

create procedure pgauth.login_mfa_durably(
  p_challenge text, p_code text, p_recovery_code text default null,
  p_client_ip inet default null, p_user_agent text default null,
  inout user_id uuid default null, inout session_id uuid default null,
  inout access_token text default null, inout access_expires_at timestamptz default null,
  inout refresh_token text default null, inout refresh_expires_at timestamptz default null
)
  language plpgsql
  as $$
begin
  perform pgauth.login_mfa_attempt(p_challenge, p_code, p_recovery_code, p_client_ip, p_user_agent);
  commit;
  select r.user_id, r.session_id, r.access_token, r.access_expires_at, r.refresh_token,
         r.refresh_expires_at
    into user_id, session_id, access_token, access_expires_at, refresh_token, refresh_expires_at
  from pgauth.login_mfa_answer(p_challenge) r;
  commit;
end
$$;
comment on procedure pgauth.login_mfa_durably(text, text, text, inet, text, uuid, uuid, text, timestamptz, text, timestamptz) is
  'The second step of a login with a second factor: CALL pgauth.login_mfa_durably(challenge, code[, recovery_code, client_ip, user_agent]) with a code, or (challenge, NULL, recovery_code). One row: a new session of aal 2 and its token pair, or all NULL (wrong code, used or expired challenge: the failure is committed first). Outside BEGIN … COMMIT (else 2D000). BADIN unless exactly one code is given.';
revoke all on procedure pgauth.login_mfa_durably(text, text, text, inet, text, uuid, uuid, text, timestamptz, text, timestamptz) from public;

-- ---------------------------------------------------------------------------------------------
-- Validation returns aal: still one lookup on one table.
-- ---------------------------------------------------------------------------------------------
drop function pgauth.validate_many(text[]);
drop function pgauth.validate(text);

create function pgauth.validate(p_access_token text)
  returns table (user_id uuid, session_id uuid, username text, roles text[], expires_at timestamptz,
                 aal smallint)
  language plpgsql stable security definer set search_path = pg_catalog, pgauth, pg_temp
  as $$
begin
  return query
    select s.user_id, s.id, s.username, s.roles, s.access_expires_at, s.aal
    from pgauth.sessions s
    where s.access_token_hash = pgauth._token_hash(p_access_token)
      and s.revoked_at is null
      and s.access_expires_at > pgauth.clock();
end
$$;
comment on function pgauth.validate(text) is
  'The hot path: one row (user id, session id, username, roles, access expiry, aal: 1 for a password login, 2 with a second factor) for a valid access token, no row for anything else (garbage, NULL, expired, revoked). Never raises, never writes.';
revoke all on function pgauth.validate(text) from public;

create function pgauth.validate_many(p_access_tokens text[])
  returns table (
    ord integer, user_id uuid, session_id uuid, username text, roles text[], expires_at timestamptz,
    aal smallint
  )
  language plpgsql stable security definer set search_path = pg_catalog, pgauth, pg_temp
  as $$
begin
  if pg_catalog.cardinality(p_access_tokens) > 1000 then
    raise exception using errcode = 'BADIN', message = 'invalid_input',
      detail = 'At most 1000 tokens a call.';
  end if;
  return query
    select t.ord::integer, v.user_id, v.session_id, v.username, v.roles, v.expires_at, v.aal
    from pg_catalog.unnest(p_access_tokens) with ordinality as t(token, ord)
    cross join lateral pgauth.validate(t.token) as v;
end
$$;
comment on function pgauth.validate_many(text[]) is
  'The hot path in batches: for each valid access token of the array, one row with its 1-based position (ord) and what pgauth.validate returns; no row for the others. At most 1000 tokens. Never writes.';
revoke all on function pgauth.validate_many(text[]) from public;

-- ---------------------------------------------------------------------------------------------
-- Housekeeping: purge_expired() also deletes expired link tokens and challenges, and mail sent
-- or given up longer than session_retention ago.
-- ---------------------------------------------------------------------------------------------
create function pgauth._purge_lifecycle() returns void
  language plpgsql volatile security definer set search_path = pg_catalog, pgauth, pg_temp
  as $$
declare
  v_now timestamptz := pgauth.clock();
begin
  delete from pgauth.account_tokens t where t.expires_at <= v_now;
  delete from pgauth.mfa_challenges c where c.expires_at <= v_now;
  delete from pgauth.mail_outbox o
  where coalesce(o.sent_at, o.failed_at) < v_now - (pgauth._settings()).session_retention;
end
$$;
revoke all on function pgauth._purge_lifecycle() from public;

-- 0009's purge_expired, with the rows above.
create or replace function pgauth.purge_expired() returns integer
  language plpgsql volatile security definer set search_path = pg_catalog, pgauth, pg_temp
  as $$
declare
  v_settings pgauth.settings := pgauth._settings();
  v_now timestamptz := pgauth.clock();
  v_cutoff timestamptz := v_now - v_settings.session_retention;
  v_count integer;
  v_attempt pgauth.password_attempts;
begin
  delete from pgauth.sessions s
  where least(s.expires_at, s.revoked_at, greatest(s.refresh_expires_at, s.access_expires_at))
        < v_cutoff;
  get diagnostics v_count = row_count;
  update pgauth.sessions s set rotation_salt = null
  where s.rotation_salt is not null and s.rotated_at <= v_now - v_settings.refresh_reuse_grace;
  for v_attempt in
    delete from pgauth.password_attempts a where a.at <= v_now - interval '1 minute'
    returning *
  loop
    if v_attempt.outcome = 'ok' then
      v_attempt.outcome := 'unfinished';
    end if;
    perform pgauth._audit_failed_attempt(v_attempt, jsonb_build_object('unfinished', true)
      || case when v_attempt.kind = 'change_password'
              then '{"via": "change_password"}'::jsonb else '{}'::jsonb end);
  end loop;
  perform pgauth._purge_lifecycle();
  return v_count;
end
$$;
comment on function pgauth.purge_expired() is
  'Admin: deletes sessions that ended (expired or revoked) longer than settings.session_retention ago, wipes the refresh rotation salts whose grace window has passed, audits (login_failure, "unfinished") and deletes password attempts whose answer was not read within a minute, deletes expired link tokens and login challenges and mail sent or given up longer than session_retention ago; returns how many sessions it deleted. Safe at any time; schedule it every minute or so.';

-- ---------------------------------------------------------------------------------------------
-- Grants.
-- ---------------------------------------------------------------------------------------------
grant execute on function
  pgauth.validate(text),
  pgauth.validate_many(text[])
to pgauth_validator, pgauth_admin;

grant execute on function
  pgauth.login_answer(text, text),
  pgauth.login_mfa_attempt(text, text, text, inet, text),
  pgauth.login_mfa_answer(text),
  pgauth.request_email_verification(uuid),
  pgauth.verify_email(text),
  pgauth.request_password_reset(text, inet),
  pgauth.reset_password(text, text),
  pgauth.totp_enroll(uuid),
  pgauth.totp_confirm(uuid, text),
  pgauth.totp_remove(uuid, text),
  pgauth.mfa_status(uuid)
to pgauth_service, pgauth_admin;
grant execute on procedure
  pgauth.login_durably(text, text, inet, text, uuid, uuid, text, timestamptz, text, timestamptz, text, timestamptz),
  pgauth.login_mfa_durably(text, text, text, inet, text, uuid, uuid, text, timestamptz, text, timestamptz)
to pgauth_service, pgauth_admin;

grant execute on function pgauth.login(text, text, inet, text) to pgauth_admin;

grant execute on function
  pgauth.mail_claim(integer, integer),
  pgauth.mail_sent(bigint),
  pgauth.mail_failed(bigint, text)
to pgauth_mailer, pgauth_admin;

grant execute on function
  pgauth.reset_mfa(uuid),
  pgauth.totp_code(bytea, bigint, integer, text)
to pgauth_admin;
