-- pgauth functions: e-mail verification, password reset, TOTP second factors, and the mail outbox.
--
-- Current text, applied by every migrate after the migrations (create or replace, in file name
-- order) when these files changed. Edit a function here; a migration is only for what is applied
-- once (tables, rows, the drop of a function whose result type, parameter names or defaults
-- change); migrate itself drops a function or trigger taken out of these files, and the old
-- signature of a function whose argument types change. See "Migrations" in README.md.

set local role pgauth_owner;

create or replace function pgauth.tg_users__unverify_email() returns trigger
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

create or replace function pgauth.tg_users__drop_reset_tokens() returns trigger
  language plpgsql volatile security definer set search_path = pg_catalog, pgauth, pg_temp
  as $$
begin
  delete from pgauth.account_tokens t
  where t.user_id = new.id and t.purpose = 'password_reset';
  return null;
end
$$;
revoke all on function pgauth.tg_users__drop_reset_tokens() from public;

-- The account of a live token of a purpose (deleted as it is read), or NULL fields.
create or replace function pgauth._take_account_token(p_token text, p_purpose text)
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

create or replace function pgauth._enqueue_mail(p_kind text, p_user_id uuid, p_to text) returns void
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

create or replace function pgauth.mail_claim(p_limit integer default 10, p_lease_seconds integer default 60)
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
grant execute on function pgauth.mail_claim(integer, integer) to pgauth_mailer, pgauth_admin;

create or replace function pgauth.mail_sent(p_id bigint) returns boolean
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
grant execute on function pgauth.mail_sent(bigint) to pgauth_mailer, pgauth_admin;

create or replace function pgauth.mail_failed(p_id bigint, p_error text) returns boolean
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
grant execute on function pgauth.mail_failed(bigint, text) to pgauth_mailer, pgauth_admin;

-- ---------------------------------------------------------------------------------------------
-- Email verification.
-- ---------------------------------------------------------------------------------------------
create or replace function pgauth.request_email_verification(p_user_id uuid) returns boolean
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
grant execute on function pgauth.request_email_verification(uuid) to pgauth_service, pgauth_admin;

create or replace function pgauth.verify_email(p_token text) returns boolean
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
grant execute on function pgauth.verify_email(text) to pgauth_service, pgauth_admin;

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
create or replace function pgauth.request_password_reset(
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
grant execute on function pgauth.request_password_reset(text, inet) to pgauth_service, pgauth_admin;

create or replace function pgauth.reset_password(p_token text, p_new_password text) returns boolean
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
grant execute on function pgauth.reset_password(text, text) to pgauth_service, pgauth_admin;

-- The code of a step: HOTP (RFC 4226) of the step, dynamic truncation, p_digits digits.
create or replace function pgauth.totp_code(
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
grant execute on function pgauth.totp_code(bytea, bigint, integer, text) to pgauth_admin;

-- RFC 4648 base32, no padding: the form authenticator apps take a secret in.
create or replace function pgauth._base32(p_data bytea) returns text
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
create or replace function pgauth._uri_encode(p_text text) returns text
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
create or replace function pgauth._totp_match(p_factor pgauth.totp_factors, p_code text) returns bigint
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
create or replace function pgauth._recovery_hash(p_code text) returns bytea
  language sql immutable strict set search_path = pg_catalog, pg_temp
  as $$ select pg_catalog.sha256(pg_catalog.convert_to(
          pg_catalog.lower(pg_catalog.translate(p_code, ' -', '')), 'UTF8')) $$;
revoke all on function pgauth._recovery_hash(text) from public;

-- Checks a second factor of a user: a TOTP code or an unused recovery code. On success the step
-- is recorded (or the code deleted) and the method returned; on failure NULL and nothing written.
create or replace function pgauth._use_second_factor(p_user_id uuid, p_code text, p_recovery_code text)
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
create or replace function pgauth._second_factor_failed(
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

create or replace function pgauth.totp_enroll(p_user_id uuid)
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
grant execute on function pgauth.totp_enroll(uuid) to pgauth_service, pgauth_admin;

create or replace function pgauth.totp_confirm(p_user_id uuid, p_code text) returns text[]
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
grant execute on function pgauth.totp_confirm(uuid, text) to pgauth_service, pgauth_admin;

create or replace function pgauth.totp_remove(p_user_id uuid, p_code text) returns boolean
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
grant execute on function pgauth.totp_remove(uuid, text) to pgauth_service, pgauth_admin;

create or replace function pgauth.reset_mfa(p_user_id uuid) returns boolean
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
grant execute on function pgauth.reset_mfa(uuid) to pgauth_admin;

create or replace function pgauth.mfa_status(p_user_id uuid)
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
grant execute on function pgauth.mfa_status(uuid) to pgauth_service, pgauth_admin;

create or replace function pgauth.login_mfa_attempt(
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
grant execute on function pgauth.login_mfa_attempt(text, text, text, inet, text) to pgauth_service, pgauth_admin;

create or replace function pgauth.login_mfa_answer(p_challenge text)
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
grant execute on function pgauth.login_mfa_answer(text) to pgauth_service, pgauth_admin;

create or replace procedure pgauth.login_mfa_durably(
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
grant execute on procedure pgauth.login_mfa_durably(text, text, text, inet, text, uuid, uuid, text, timestamptz, text, timestamptz) to pgauth_service, pgauth_admin;

-- ---------------------------------------------------------------------------------------------
-- Housekeeping: purge_expired() also deletes expired link tokens and challenges, and mail sent
-- or given up longer than session_retention ago.
-- ---------------------------------------------------------------------------------------------
create or replace function pgauth._purge_lifecycle() returns void
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

create or replace trigger users_unverify_email before update of email on pgauth.users
  for each row execute function pgauth.tg_users__unverify_email();

create or replace trigger users_drop_reset_tokens after update of password_hash on pgauth.users
  for each row when (new.password_hash is distinct from old.password_hash)
  execute function pgauth.tg_users__drop_reset_tokens();
