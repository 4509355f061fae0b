-- pgauth functions: the clock's settings guard, users, sessions, login, refresh, validation, logout, passwords, audit, retention and the revocation notices.
--
-- Current text, applied by every migrate after the migrations (create or replace, in file name
-- order) when these files changed. Edit a function here; a migration is only for what is applied
-- once (tables, rows, the drop of a function whose result type, parameter names or defaults
-- change); migrate itself drops a function or trigger taken out of these files, and the old
-- signature of a function whose argument types change. See "Migrations" in README.md.

set local role pgauth_owner;

create or replace function pgauth.tg_settings__guard() returns trigger
  language plpgsql volatile security definer set search_path = pg_catalog, pgauth, pg_temp
  as $$
begin
  if tg_op in ('DELETE', 'TRUNCATE') then
    raise exception using errcode = 'BADIN', message = 'invalid_input',
      detail = 'the settings row cannot be deleted; update it instead';
  end if;
  if new.clock_offset is distinct from old.clock_offset then
    execute pg_catalog.format(
      'create or replace function pgauth.clock() returns timestamptz language sql stable parallel safe as %L',
      pg_catalog.format('select pg_catalog.now() + %L::interval', new.clock_offset));
  end if;
  return new;
end
$$;
revoke all on function pgauth.tg_settings__guard() from public;

create or replace function pgauth.tg_audit_log__append_only() returns trigger
  language plpgsql volatile set search_path = pg_catalog, pgauth, pg_temp
  as $$
begin
  if tg_op = 'DELETE' and pg_catalog.current_setting('pgauth.purging_audit', true) = 'on' then
    return old;
  end if;
  raise exception using errcode = 'BADIN', message = 'invalid_input',
    detail = 'pgauth.audit_log is append-only; pgauth.purge_audit() is the only way rows leave it';
end
$$;
revoke all on function pgauth.tg_audit_log__append_only() from public;

create or replace function pgauth._audit(
  p_event text, p_user_id uuid, p_session_id uuid, p_client_ip inet, p_user_agent text,
  p_detail jsonb default '{}'
) returns void
  language sql volatile security definer set search_path = pg_catalog, pgauth, pg_temp
  as $$
    insert into pgauth.audit_log (event, user_id, session_id, client_ip, user_agent, detail)
    values (p_event, p_user_id, p_session_id, p_client_ip, pg_catalog.left(p_user_agent, 512),
            coalesce(p_detail, '{}'));
  $$;
revoke all on function pgauth._audit(text, uuid, uuid, inet, text, jsonb) from public;

-- ---------------------------------------------------------------------------------------------
-- Revocation notifications. One statement-level trigger on sessions sees every change that makes
-- a cached validation stale — revoked, token rotated, snapshot changed, row deleted — however it
-- happened, and NOTIFYs pgauth_revocations once per user and reason, at most 100 session ids a
-- message (NOTIFY payloads are limited to 8000 bytes). NOTIFY is transactional: nothing is sent
-- when the transaction rolls back.
-- ---------------------------------------------------------------------------------------------
create or replace function pgauth.tg_sessions__notify() returns trigger
  language plpgsql volatile security definer set search_path = pg_catalog, pgauth, pg_temp
  as $$
declare
  v_hashes bytea[];
  v_keys text[];
begin
  if tg_op = 'TRUNCATE' then
    perform pg_catalog.pg_notify('pgauth_revocations',
      pg_catalog.json_build_object('flush', true)::text);
    perform pgauth._audit('sessions_revoked', null, null, null, null,
      pg_catalog.jsonb_build_object('reason', 'truncated'));
    return null;
  end if;
  -- The access token each changed live session had before the statement: the only one of the
  -- session a cache can hold as valid. (A DELETE is tg_sessions__notify_deleted's, row by row.)
  select array_agg(o.access_token_hash) into v_hashes
  from old_rows o join new_rows n on n.id = o.id
  where o.revoked_at is null
    and (n.revoked_at is not null
      or o.access_token_hash is distinct from n.access_token_hash
      or o.username is distinct from n.username or o.roles is distinct from n.roles
      or o.access_expires_at > n.access_expires_at);
  for v_keys in
    with keyed as (
      select pg_catalog.encode(pg_catalog.substr(h.hash, 1, 8), 'hex') as key
      from pg_catalog.unnest(v_hashes) as h(hash)
    ), numbered as (
      select key, (row_number() over (order by key) - 1) / 100 as chunk from keyed
    )
    select array_agg(key order by key) from numbered group by chunk order by chunk
  loop
    perform pg_catalog.pg_notify('pgauth_revocations',
      pg_catalog.json_build_object('keys', v_keys)::text);
  end loop;
  return null;
end
$$;
revoke all on function pgauth.tg_sessions__notify() from public;
comment on function pgauth.tg_sessions__notify() is
  'Trigger of sessions (UPDATE, TRUNCATE): NOTIFYs pgauth_revocations with the cache keys (first 8 bytes of access_token_hash, hex) of the access tokens an UPDATE made stale, at most 100 a message, or {"flush" : true} on TRUNCATE. Keys only: no user, session or reason. A DELETE is tg_sessions__notify_deleted''s, row by row.';

-- ---------------------------------------------------------------------------------------------
-- Triggers on users: whoever changes a credential — a pgauth function or an operator's raw
-- UPDATE in psql — every live session of the user is revoked in the same transaction.
-- The one exception is the automatic lockout after repeated failures (lock_reason
-- 'too_many_failures' set together with lock_count + 1): it stops password guessing but proves
-- nothing against the sessions the owner already holds, and revoking them would let anybody log a
-- user out by typing a wrong password ten times.
-- ---------------------------------------------------------------------------------------------
create or replace function pgauth.tg_users__before_update() returns trigger
  language plpgsql volatile security definer set search_path = pg_catalog, pgauth, pg_temp
  as $$
begin
  new.updated_at := pgauth.clock();
  if new.password_hash is distinct from old.password_hash
     and not pgauth._is_rehash(new.id, new.password_hash) then
    new.password_changed_at := pgauth.clock();
  end if;
  return new;
end
$$;
revoke all on function pgauth.tg_users__before_update() from public;

create or replace function pgauth.tg_users__revoke_sessions() returns trigger
  language plpgsql volatile security definer set search_path = pg_catalog, pgauth, pg_temp
  as $$
declare
  v_reason text;
  v_count integer;
begin
  if new.deleted_at is not null and old.deleted_at is null then
    v_reason := 'user_deleted';
  elsif new.disabled_at is not null and old.disabled_at is null then
    v_reason := 'user_disabled';
  elsif new.password_hash is distinct from old.password_hash
        and not pgauth._is_rehash(new.id, new.password_hash) then
    v_reason := 'password_changed';
  elsif new.locked_until is distinct from old.locked_until
        and new.locked_until > pgauth.clock()
        and not (new.lock_reason = 'too_many_failures' and new.lock_count = old.lock_count + 1) then
    v_reason := 'user_locked';
  end if;

  if v_reason is not null then
    update pgauth.sessions s set revoked_at = pgauth.clock(), revoked_reason = v_reason
    where s.user_id = new.id and s.revoked_at is null;
    get diagnostics v_count = row_count;
    if v_count > 0 then
      perform pgauth._audit('sessions_revoked', new.id, null, null, null,
        pg_catalog.jsonb_build_object('reason', v_reason, 'count', v_count));
    end if;
  elsif new.username is distinct from old.username then
    update pgauth.sessions s set username = new.username
    where s.user_id = new.id and s.revoked_at is null;
  end if;
  return null;
end
$$;
revoke all on function pgauth.tg_users__revoke_sessions() from public;

-- Role changes reach the live sessions' snapshot at once. Locking the user row first orders this
-- against a concurrent login (which updates that row before it reads the roles), so a session
-- created meanwhile cannot keep the old roles.
create or replace function pgauth.tg_user_roles__sync_sessions() returns trigger
  language plpgsql volatile security definer set search_path = pg_catalog, pgauth, pg_temp
  as $$
declare
  v_user_id uuid;
begin
  for v_user_id in
    select distinct user_id from changed_rows
  loop
    perform 1 from pgauth.users u where u.id = v_user_id for no key update;
    update pgauth.sessions s
      set roles = coalesce((select pg_catalog.array_agg(ur.role order by ur.role)
                            from pgauth.user_roles ur where ur.user_id = v_user_id), '{}')
    where s.user_id = v_user_id and s.revoked_at is null;
  end loop;
  return null;
end
$$;
revoke all on function pgauth.tg_user_roles__sync_sessions() from public;

-- Tokens are 256 random bits, base64url, with a prefix secret scanners can match:
-- pga_ for access tokens, pgr_ for refresh tokens. Only their SHA-256 is ever stored.
create or replace function pgauth._new_token(p_prefix text) returns text
  language sql volatile strict security definer set search_path = pg_catalog, pgauth, pg_temp
  as $$
    select p_prefix || pg_catalog.rtrim(pg_catalog.translate(
      pg_catalog.encode(pgauth._random_bytes(32), 'base64'), '+/', '-_'), '=')
  $$;
revoke all on function pgauth._new_token(text) from public;

-- Plain SQL, no SET and no SECURITY DEFINER: inlined into validate's plan.
create or replace function pgauth._token_hash(p_token text) returns bytea
  language sql stable strict parallel safe
  as $$ select pg_catalog.sha256(pg_catalog.convert_to(p_token, 'UTF8')) $$;
revoke all on function pgauth._token_hash(text) from public;

-- bcrypt reads only the first 72 bytes of its input. Passwords are therefore pre-hashed with
-- SHA-256 (base64, 44 bytes, never a NUL) so that every byte of a long password counts.
create or replace function pgauth._prehash(p_password text) returns text
  language sql stable strict parallel safe
  as $$ select pg_catalog.encode(pg_catalog.sha256(pg_catalog.convert_to(p_password, 'UTF8')), 'base64') $$;
revoke all on function pgauth._prehash(text) from public;

create or replace function pgauth._hash_password(p_password text, p_cost integer) returns text
  language sql volatile strict security definer set search_path = pg_catalog, pgauth, pg_temp
  as $$ select pgauth._crypt(pgauth._prehash(p_password), pgauth._bf_salt(p_cost)) $$;
revoke all on function pgauth._hash_password(text, integer) from public;

create or replace function pgauth._verify_password(p_password text, p_hash text) returns boolean
  language sql volatile strict security definer set search_path = pg_catalog, pgauth, pg_temp
  as $$ select pgauth._crypt(pgauth._prehash(p_password), p_hash) = p_hash $$;
revoke all on function pgauth._verify_password(text, text) from public;

create or replace function pgauth._settings() returns pgauth.settings
  language sql stable security definer set search_path = pg_catalog, pgauth, pg_temp
  as $$ select s from pgauth.settings s $$;
revoke all on function pgauth._settings() from public;

create or replace function pgauth._invalid(p_detail text) returns void
  language plpgsql volatile set search_path = pg_catalog, pg_temp
  as $$
begin
  raise exception using errcode = 'BADIN', message = 'invalid_input', detail = p_detail;
end
$$;
revoke all on function pgauth._invalid(text) from public;

-- Usernames: 1 to 64 characters, no control characters, no surrounding spaces, and not shaped
-- like a uuid (an admin names a user by username or id; the two must never be confused).
create or replace function pgauth._check_username(p_username text) returns void
  language plpgsql stable set search_path = pg_catalog, pg_temp
  as $$
begin
  if p_username is null or char_length(p_username) = 0 then
    perform pgauth._invalid('username is required');
  elsif char_length(p_username) > 64 then
    perform pgauth._invalid('username is longer than 64 characters');
  elsif p_username ~ '[[:cntrl:]]' then
    perform pgauth._invalid('username contains a control character');
  elsif p_username <> btrim(p_username) then
    perform pgauth._invalid('username starts or ends with a space');
  elsif p_username ~* '^[0-9a-f]{8}-?[0-9a-f]{4}-?[0-9a-f]{4}-?[0-9a-f]{4}-?[0-9a-f]{12}$' then
    perform pgauth._invalid('username must not look like a user id');
  end if;
end
$$;
revoke all on function pgauth._check_username(text) from public;

create or replace function pgauth._check_email(p_email text) returns void
  language plpgsql stable set search_path = pg_catalog, pg_temp
  as $$
begin
  if p_email is not null and (char_length(p_email) > 254
      or p_email !~ '^[^@[:space:][:cntrl:]]+@[^@[:space:][:cntrl:]]+$') then
    perform pgauth._invalid('email is not a valid address');
  end if;
end
$$;
revoke all on function pgauth._check_email(text) from public;

-- 0004's policy, with the test for common passwords above.
create or replace function pgauth._check_password(p_password text, p_username text, p_min_length integer)
  returns void
  language plpgsql stable security definer set search_path = pg_catalog, pgauth, pg_temp
  as $$
begin
  if p_password is null then
    perform pgauth._invalid('password is required');
  elsif char_length(p_password) < p_min_length then
    raise exception using errcode = 'WEAKP', message = 'password_too_short',
      detail = format('the password must have at least %s characters', p_min_length);
  elsif char_length(p_password) > 1024 then
    raise exception using errcode = 'WEAKP', message = 'password_too_long',
      detail = 'the password must have at most 1024 characters';
  elsif pgauth._is_common_password(p_password, p_min_length) then
    raise exception using errcode = 'WEAKP', message = 'password_common',
      detail = 'the password is a commonly used one, perhaps with digits or symbols added, or a repetition';
  elsif lower(p_password) = lower(p_username) then
    raise exception using errcode = 'WEAKP', message = 'password_is_username',
      detail = 'the password must not be the username';
  end if;
end
$$;
revoke all on function pgauth._check_password(text, text, integer) from public;

-- The user an admin function acts on: raises NOUSR when there is none (or it was deleted).
create or replace function pgauth._user(p_user_id uuid) returns pgauth.users
  language plpgsql stable security definer set search_path = pg_catalog, pgauth, pg_temp
  as $$
declare
  v_user pgauth.users;
begin
  select * into v_user from pgauth.users u where u.id = p_user_id and u.deleted_at is null;
  if not found then
    raise exception using errcode = 'NOUSR', message = 'user_not_found';
  end if;
  return v_user;
end
$$;
revoke all on function pgauth._user(uuid) from public;

-- Creates a session for a user whose row the caller has just updated (and so locked), so that a
-- concurrent role change or revocation is ordered before or after it, never lost.
create or replace function pgauth._start_session(
  p_user pgauth.users, p_settings pgauth.settings, p_client_ip inet, p_user_agent text,
  out user_id uuid, out session_id uuid, out access_token text, out access_expires_at timestamptz,
  out refresh_token text, out refresh_expires_at timestamptz
)
  language plpgsql volatile security definer set search_path = pg_catalog, pgauth, pg_temp
  as $$
declare
  v_now timestamptz := pgauth.clock();
  v_max timestamptz := v_now + p_settings.session_max_age;
begin
  user_id := p_user.id;
  access_token := pgauth._new_token('pga_');
  refresh_token := pgauth._new_token('pgr_');
  access_expires_at := least(v_now + p_settings.access_token_ttl, v_max);
  refresh_expires_at := least(v_now + p_settings.refresh_token_ttl, v_max);
  insert into pgauth.sessions as s (
    user_id, username, roles, access_token_hash, access_expires_at, refresh_token_hash,
    refresh_expires_at, expires_at, created_at, client_ip, user_agent)
  values (
    p_user.id, p_user.username,
    coalesce((select array_agg(ur.role order by ur.role) from pgauth.user_roles ur
              where ur.user_id = p_user.id), '{}'),
    pgauth._token_hash(access_token), access_expires_at, pgauth._token_hash(refresh_token),
    refresh_expires_at, v_max, v_now, p_client_ip, left(p_user_agent, 512))
  returning s.id into session_id;
end
$$;
revoke all on function pgauth._start_session(pgauth.users, pgauth.settings, inet, text) from public;

-- ---------------------------------------------------------------------------------------------
-- Registration.
-- Threat model: account creation is open to the service role only while allow_registration is
-- set; admins create users through create_user at any time. A taken username is reported (the
-- caller must be able to pick another), which is the one enumeration registration cannot avoid;
-- the gateway rate-limits it.
-- ---------------------------------------------------------------------------------------------
create or replace function pgauth._create_user(p_username text, p_password text, p_email text, p_event text)
  returns uuid
  language plpgsql volatile security definer set search_path = pg_catalog, pgauth, pg_temp
  as $$
declare
  v_settings pgauth.settings := pgauth._settings();
  v_id uuid;
begin
  perform pgauth._check_username(p_username);
  perform pgauth._check_email(p_email);
  perform pgauth._check_password(p_password, p_username, v_settings.password_min_length);
  if exists (select 1 from pgauth.users u where lower(u.username) = lower(p_username)
             and u.deleted_at is null) then
    raise exception using errcode = 'TAKEN', message = 'username_taken';
  end if;
  begin
    insert into pgauth.users (username, email, password_hash)
    values (p_username, p_email, pgauth._hash_password(p_password, v_settings.bcrypt_cost))
    returning id into v_id;
  exception when unique_violation then
    raise exception using errcode = 'TAKEN', message = 'username_taken';
  end;
  perform pgauth._audit(p_event, v_id, null, null, null, jsonb_build_object('username', p_username));
  return v_id;
end
$$;
revoke all on function pgauth._create_user(text, text, text, text) from public;

create or replace function pgauth.register(p_username text, p_password text, p_email text default null)
  returns uuid
  language plpgsql volatile security definer set search_path = pg_catalog, pgauth, pg_temp
  as $$
begin
  if not (pgauth._settings()).allow_registration then
    raise exception using errcode = 'REGOF', message = 'registration_closed';
  end if;
  return pgauth._create_user(p_username, p_password, p_email, 'register');
end
$$;
comment on function pgauth.register(text, text, text) is
  'Self-registration. Returns the new user id. Raises REGOF when settings.allow_registration is off, BADIN on a malformed username or email, WEAKP on a refused password (message: the reason code), TAKEN on a taken username.';
revoke all on function pgauth.register(text, text, text) from public;
grant execute on function pgauth.register(text, text, text) to pgauth_service, pgauth_admin;

create or replace function pgauth.create_user(
  p_username text, p_password text, p_email text default null, p_roles text[] default '{}'
) returns uuid
  language plpgsql volatile security definer set search_path = pg_catalog, pgauth, pg_temp
  as $$
declare
  v_id uuid := pgauth._create_user(p_username, p_password, p_email, 'user_created');
  v_role text;
begin
  foreach v_role in array coalesce(p_roles, '{}') loop
    perform pgauth.grant_role(v_id, v_role);
  end loop;
  return v_id;
end
$$;
comment on function pgauth.create_user(text, text, text, text[]) is
  'Admin: creates a user whether or not registration is open, with the given roles. Errors as register, without REGOF.';
revoke all on function pgauth.create_user(text, text, text, text[]) from public;
grant execute on function pgauth.create_user(text, text, text, text[]) to pgauth_admin;

-- ---------------------------------------------------------------------------------------------
-- Login.
-- Threat model: password guessing and account enumeration. Every failure — unknown user, wrong
-- password, locked, disabled — returns no row, the same for the caller; the audit row keeps the
-- true reason. An unknown user costs one bcrypt hash of the current cost, like a known one.
-- A wrong password counts against the account even while it is locked.
-- ---------------------------------------------------------------------------------------------
create or replace function pgauth.login(
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
grant execute on function pgauth.login(text, text, inet, text) to pgauth_admin;

-- ---------------------------------------------------------------------------------------------
-- Validation: the hot path, called on every request of every service. One lookup by a unique
-- index on one table, no join, no write; no row for anything not valid. It never raises.
-- ---------------------------------------------------------------------------------------------
create or replace function pgauth.validate(p_access_token text)
  returns table (
    user_id uuid, session_id uuid, username text, roles text[], expires_at timestamptz,
    aal smallint, subject_type text
  )
  language plpgsql stable security definer set search_path = pg_catalog, pgauth, pg_temp
  as $$
declare
  v_now timestamptz;
  v_key pgauth.api_keys;
begin
  if pg_catalog.left(p_access_token, 4) in ('pgk_', 'pgs_') then
    v_now := pgauth.clock();
    select k.* into v_key from pgauth.api_keys k
    where k.key_hash = pgauth._token_hash(p_access_token)
      and k.revoked_at is null and k.disabled_at is null
      and (k.expires_at is null or k.expires_at > v_now);
    if not found then
      return;
    end if;
    if v_key.kind = 'api_key'
       and (v_key.last_used_at is null or v_key.last_used_at < v_now - interval '1 minute')
       and pg_catalog.current_setting('transaction_read_only') = 'off' then
      perform pgauth._touch_api_key(v_key.id, v_now);
    end if;
    user_id := v_key.service_account_id;
    session_id := v_key.id;
    username := v_key.account_name;
    roles := v_key.roles;
    -- A key without expiry: a date every driver reads (year 9999), not 'infinity'.
    expires_at := coalesce(v_key.expires_at, '9999-12-31 23:59:59+00');
    aal := 1;
    subject_type := 'service_account';
    return next;
    return;
  end if;
  return query
    select s.user_id, s.id, s.username, s.roles, s.access_expires_at, s.aal, 'user'::text
    from pgauth.sessions s
    where s.access_token_hash = pgauth._token_hash(p_access_token)
      and s.revoked_at is null
      and s.access_expires_at > pgauth.clock();
end
$$;
comment on function pgauth.validate(text) is
  'The hot path: one row (subject id, session or key id, name, roles, expiry, aal: 1, or 2 for a session whose login used a second factor, subject_type user or service_account) for a valid access token or API key, no row for anything else (garbage, NULL, expired, revoked, disabled). Never raises. Writes only an API key''s last_used_at, at most once a minute, and never in a read-only transaction.';
revoke all on function pgauth.validate(text) from public;
grant execute on function pgauth.validate(text) to pgauth_admin, pgauth_validator;

-- ---------------------------------------------------------------------------------------------
-- Refresh with rotation.
-- Threat model: a stolen refresh token. Each refresh token works once: the pair it returns
-- replaces the session's pair in place (the old access token stops working too). Presenting an
-- already rotated token means two parties hold the session: it is revoked whole (audit
-- refresh_reuse). One exception keeps honest clients logged in: the token rotated last, presented
-- again within refresh_reuse_grace (a response lost on the network), gets the very pair its first
-- use produced. That pair is derived from the presented token and a random salt kept in the
-- session row, so a retry can rebuild it although no raw token is stored; concurrent calls with
-- one token queue on the session row and all receive that one pair: one rotation, one head.
-- ---------------------------------------------------------------------------------------------
create or replace function pgauth._derive_token(p_prefix text, p_secret text, p_salt bytea, p_label text)
  returns text
  language sql stable strict parallel safe
  as $$
    select p_prefix || pg_catalog.rtrim(pg_catalog.translate(pg_catalog.encode(
      pg_catalog.sha256(p_salt || pg_catalog.convert_to(p_secret, 'UTF8')
                        || pg_catalog.convert_to(p_label, 'UTF8')), 'base64'), '+/', '-_'), '=')
  $$;
revoke all on function pgauth._derive_token(text, text, bytea, text) from public;

create or replace function pgauth.refresh(
  p_refresh_token text, p_client_ip inet default null, p_user_agent text default null
) returns table (
  user_id uuid, session_id uuid, access_token text, access_expires_at timestamptz,
  refresh_token text, refresh_expires_at timestamptz
)
  language plpgsql volatile security definer set search_path = pg_catalog, pgauth, pg_temp
  as $$
declare
  v_settings pgauth.settings := pgauth._settings();
  v_now timestamptz := pgauth._statement_clock();
  v_hash bytea := pgauth._token_hash(p_refresh_token);
  v_session pgauth.sessions;
  v_generation integer;
  v_session_id uuid;
  v_salt bytea;
  v_access text;
  v_refresh text;
begin
  if v_hash is null then
    return;
  end if;

  select * into v_session from pgauth.sessions s where s.refresh_token_hash = v_hash for update;
  if found then
    if v_session.revoked_at is not null or v_session.refresh_expires_at <= v_now
       or v_session.expires_at <= v_now then
      return;
    end if;
    v_salt := pgauth._random_bytes(32);
    v_access := pgauth._derive_token('pga_', p_refresh_token, v_salt, 'access');
    v_refresh := pgauth._derive_token('pgr_', p_refresh_token, v_salt, 'refresh');
    insert into pgauth.rotated_refresh_tokens (token_hash, session_id, generation, rotated_at)
    values (v_hash, v_session.id, v_session.refresh_generation, v_now);
    update pgauth.sessions s set
      access_token_hash = pgauth._token_hash(v_access),
      access_expires_at = least(v_now + v_settings.access_token_ttl, s.expires_at),
      refresh_token_hash = pgauth._token_hash(v_refresh),
      refresh_expires_at = least(v_now + v_settings.refresh_token_ttl, s.expires_at),
      refresh_generation = s.refresh_generation + 1,
      rotated_at = v_now,
      rotation_salt = v_salt,
      client_ip = coalesce(p_client_ip, s.client_ip),
      user_agent = coalesce(left(p_user_agent, 512), s.user_agent)
    where s.id = v_session.id
    returning * into v_session;
    perform pgauth._audit('refresh', v_session.user_id, v_session.id, p_client_ip, p_user_agent,
      jsonb_build_object('generation', v_session.refresh_generation));
  else
    -- Not the current token: a rotated one, or nothing.
    select r.generation, r.session_id into v_generation, v_session_id
    from pgauth.rotated_refresh_tokens r where r.token_hash = v_hash;
    if not found then
      return;
    end if;
    select s.* into v_session from pgauth.sessions s where s.id = v_session_id for update;
    if v_session.revoked_at is not null then
      return;
    end if;
    if v_generation = v_session.refresh_generation - 1
       and v_session.rotation_salt is not null
       and v_settings.refresh_reuse_grace > interval '0'
       and v_session.rotated_at + v_settings.refresh_reuse_grace > v_now
       and v_session.refresh_expires_at > v_now and v_session.expires_at > v_now then
      v_access := pgauth._derive_token('pga_', p_refresh_token, v_session.rotation_salt, 'access');
      v_refresh := pgauth._derive_token('pgr_', p_refresh_token, v_session.rotation_salt, 'refresh');
    end if;
    if v_access is null or pgauth._token_hash(v_access) <> v_session.access_token_hash
       or pgauth._token_hash(v_refresh) <> v_session.refresh_token_hash then
      update pgauth.sessions s
        set revoked_at = v_now, revoked_reason = 'refresh_reuse', rotation_salt = null
      where s.id = v_session.id;
      perform pgauth._audit('refresh_reuse', v_session.user_id, v_session.id, p_client_ip,
        p_user_agent, jsonb_build_object('generation', v_generation,
          'current_generation', v_session.refresh_generation));
      return;
    end if;
    perform pgauth._audit('refresh', v_session.user_id, v_session.id, p_client_ip, p_user_agent,
      jsonb_build_object('generation', v_session.refresh_generation, 'grace_retry', true));
  end if;

  return query select v_session.user_id, v_session.id, v_access, v_session.access_expires_at,
    v_refresh, v_session.refresh_expires_at;
end
$$;
revoke all on function pgauth.refresh(text, inet, text) from public;
grant execute on function pgauth.refresh(text, inet, text) to pgauth_service, pgauth_admin;
comment on function pgauth.refresh(text, inet, text) is
  'Rotates a refresh token: one row with a new access/refresh pair (the old pair stops working), or no row. The same token again within settings.refresh_reuse_grace of the rotation (measured at the time of the statement) returns the same new pair, and with a window of 0 never; after it, the session is revoked (audit refresh_reuse). Never extends past the session''s absolute expiry.';

-- ---------------------------------------------------------------------------------------------
-- Revocation. Every function here only UPDATEs sessions.revoked_at; the statement trigger on
-- sessions sends the pgauth_revocations notification.
-- ---------------------------------------------------------------------------------------------
create or replace function pgauth.logout(p_access_token text) returns boolean
  language plpgsql volatile security definer set search_path = pg_catalog, pgauth, pg_temp
  as $$
declare
  v_session pgauth.sessions;
begin
  update pgauth.sessions s set revoked_at = pgauth.clock(), revoked_reason = 'logout'
  where s.access_token_hash = pgauth._token_hash(p_access_token) and s.revoked_at is null
  returning * into v_session;
  if not found then
    return false;
  end if;
  perform pgauth._audit('logout', v_session.user_id, v_session.id, null, null, '{}');
  return true;
end
$$;
comment on function pgauth.logout(text) is
  'Revokes the session of an access token (its access and refresh token both stop working). True when a live session was revoked.';
revoke all on function pgauth.logout(text) from public;
grant execute on function pgauth.logout(text) to pgauth_service, pgauth_admin;

create or replace function pgauth.revoke_token(p_token text) returns boolean
  language plpgsql volatile security definer set search_path = pg_catalog, pgauth, pg_temp
  as $$
declare
  v_hash bytea := pgauth._token_hash(p_token);
  v_session pgauth.sessions;
begin
  update pgauth.sessions s set revoked_at = pgauth.clock(), revoked_reason = 'logout'
  where (s.access_token_hash = v_hash or s.refresh_token_hash = v_hash) and s.revoked_at is null
  returning * into v_session;
  if not found then
    return false;
  end if;
  perform pgauth._audit('logout', v_session.user_id, v_session.id, null, null,
    '{"via": "revoke_token"}');
  return true;
end
$$;
comment on function pgauth.revoke_token(text) is
  'RFC 7009: revokes the session of an access or a refresh token, whichever it is. True when a live session was revoked; unknown tokens are not an error.';
revoke all on function pgauth.revoke_token(text) from public;
grant execute on function pgauth.revoke_token(text) to pgauth_service, pgauth_admin;

create or replace function pgauth.revoke_user_sessions(p_user_id uuid, p_reason text default 'admin')
  returns integer
  language plpgsql volatile security definer set search_path = pg_catalog, pgauth, pg_temp
  as $$
declare
  v_count integer;
begin
  perform pgauth._user(p_user_id);
  if p_reason is null or char_length(p_reason) not between 1 and 64 then
    perform pgauth._invalid('reason must have 1 to 64 characters');
  end if;
  update pgauth.sessions s set revoked_at = pgauth.clock(), revoked_reason = p_reason
  where s.user_id = p_user_id and s.revoked_at is null;
  get diagnostics v_count = row_count;
  perform pgauth._audit('sessions_revoked', p_user_id, null, null, null,
    jsonb_build_object('reason', p_reason, 'count', v_count));
  return v_count;
end
$$;
comment on function pgauth.revoke_user_sessions(uuid, text) is
  'Admin: revokes every live session of a user; returns how many. Raises NOUSR for an unknown user.';
revoke all on function pgauth.revoke_user_sessions(uuid, text) from public;
grant execute on function pgauth.revoke_user_sessions(uuid, text) to pgauth_admin;

create or replace function pgauth.revoke_session(p_session_id uuid) returns boolean
  language plpgsql volatile security definer set search_path = pg_catalog, pgauth, pg_temp
  as $$
declare
  v_session pgauth.sessions;
begin
  update pgauth.sessions s set revoked_at = pgauth.clock(), revoked_reason = 'admin'
  where s.id = p_session_id and s.revoked_at is null
  returning * into v_session;
  if not found then
    return false;
  end if;
  perform pgauth._audit('sessions_revoked', v_session.user_id, v_session.id, null, null,
    '{"reason": "admin", "count": 1}');
  return true;
end
$$;
comment on function pgauth.revoke_session(uuid) is
  'Admin: revokes one session by id. True when it was live.';
revoke all on function pgauth.revoke_session(uuid) from public;
grant execute on function pgauth.revoke_session(uuid) to pgauth_admin;

-- ---------------------------------------------------------------------------------------------
-- Passwords. Changing a password revokes every session of the user (trigger on users).
-- ---------------------------------------------------------------------------------------------
create or replace function pgauth.change_password(
  p_user_id uuid, p_current_password text, p_new_password text
) returns boolean
  language plpgsql volatile security definer set search_path = pg_catalog, pgauth, pg_temp
  as $$
begin
  return pgauth._change_password_finish(
    pgauth._change_password_verdict(p_user_id, p_current_password, p_new_password),
    p_new_password);
end
$$;
revoke all on function pgauth.change_password(uuid, text, text) from public;
grant execute on function pgauth.change_password(uuid, text, text) to pgauth_service, pgauth_admin;
comment on function pgauth.change_password(uuid, text, text) is
  'Admin: changes a password given the current one, in the caller''s transaction. False when the current password is wrong (counted like a failed login) or the account is locked or disabled (refused before any hashing); WEAKP when the new one is refused. On success every session of the user is revoked. A rollback erases its failure count: front doors use change_password_durably.';
revoke execute on function pgauth.change_password(uuid, text, text) from pgauth_service;

create or replace function pgauth.set_password(p_user_id uuid, p_new_password text) returns void
  language plpgsql volatile security definer set search_path = pg_catalog, pgauth, pg_temp
  as $$
declare
  v_settings pgauth.settings := pgauth._settings();
  v_user pgauth.users := pgauth._user(p_user_id);
begin
  perform pgauth._check_password(p_new_password, v_user.username, v_settings.password_min_length);
  update pgauth.users u
    set password_hash = pgauth._hash_password(p_new_password, v_settings.bcrypt_cost)
  where u.id = v_user.id;
  perform pgauth._audit('password_changed', v_user.id, null, null, null, '{"by": "admin"}');
end
$$;
comment on function pgauth.set_password(uuid, text) is
  'Admin: sets a new password without the current one (a reset). Every session of the user is revoked. NOUSR, WEAKP.';
revoke all on function pgauth.set_password(uuid, text) from public;
grant execute on function pgauth.set_password(uuid, text) to pgauth_admin;

-- ---------------------------------------------------------------------------------------------
-- Account state.
-- ---------------------------------------------------------------------------------------------
create or replace function pgauth.lock_user(
  p_user_id uuid, p_until timestamptz default 'infinity', p_reason text default null
) returns void
  language plpgsql volatile security definer set search_path = pg_catalog, pgauth, pg_temp
  as $$
begin
  perform pgauth._user(p_user_id);
  if p_until is null or p_until <= pgauth.clock() then
    perform pgauth._invalid('the lock must end in the future');
  end if;
  if char_length(p_reason) > 200 then
    perform pgauth._invalid('reason is longer than 200 characters');
  end if;
  update pgauth.users u set locked_until = p_until, lock_reason = coalesce(p_reason, 'admin')
  where u.id = p_user_id;
  perform pgauth._audit('user_locked', p_user_id, null, null, null,
    jsonb_build_object('until', p_until, 'reason', coalesce(p_reason, 'admin')));
end
$$;
comment on function pgauth.lock_user(uuid, timestamptz, text) is
  'Admin: locks an account until a time (default: until unlocked). Every session of the user is revoked. NOUSR; BADIN for a time not in the future.';
revoke all on function pgauth.lock_user(uuid, timestamptz, text) from public;
grant execute on function pgauth.lock_user(uuid, timestamptz, text) to pgauth_admin;

create or replace function pgauth.unlock_user(p_user_id uuid) returns void
  language plpgsql volatile security definer set search_path = pg_catalog, pgauth, pg_temp
  as $$
begin
  perform pgauth._user(p_user_id);
  update pgauth.users u
    set locked_until = null, lock_reason = null, failed_logins = 0, lock_count = 0
  where u.id = p_user_id;
  perform pgauth._audit('user_unlocked', p_user_id, null, null, null, '{}');
end
$$;
comment on function pgauth.unlock_user(uuid) is
  'Admin: lifts a lock and clears the failure and lock counters. NOUSR.';
revoke all on function pgauth.unlock_user(uuid) from public;
grant execute on function pgauth.unlock_user(uuid) to pgauth_admin;

create or replace function pgauth.delete_user(p_user_id uuid) returns void
  language plpgsql volatile security definer set search_path = pg_catalog, pgauth, pg_temp
  as $$
begin
  perform pgauth._user(p_user_id);
  update pgauth.users u set deleted_at = pgauth.clock() where u.id = p_user_id;
  perform pgauth._audit('user_deleted', p_user_id, null, null, null, '{}');
end
$$;
comment on function pgauth.delete_user(uuid) is
  'Admin: deletes a user. Every session is revoked, the username becomes free, the audit rows stay. NOUSR.';
revoke all on function pgauth.delete_user(uuid) from public;
grant execute on function pgauth.delete_user(uuid) to pgauth_admin;

-- ---------------------------------------------------------------------------------------------
-- Roles. Live sessions show a change from their next validation (trigger on user_roles).
-- ---------------------------------------------------------------------------------------------
create or replace function pgauth.grant_role(p_user_id uuid, p_role text) returns void
  language plpgsql volatile security definer set search_path = pg_catalog, pgauth, pg_temp
  as $$
begin
  perform pgauth._user(p_user_id);
  if p_role is null or p_role !~ '^[a-z][a-z0-9_.:-]{0,62}$' then
    perform pgauth._invalid('role names are 1 to 63 characters: a-z first, then a-z 0-9 _ . : -');
  end if;
  insert into pgauth.roles (name) values (p_role) on conflict do nothing;
  insert into pgauth.user_roles (user_id, role) values (p_user_id, p_role) on conflict do nothing;
  if found then
    perform pgauth._audit('role_granted', p_user_id, null, null, null, jsonb_build_object('role', p_role));
  end if;
end
$$;
comment on function pgauth.grant_role(uuid, text) is
  'Admin: grants a role (created when new). Live sessions carry it from their next validation. NOUSR, BADIN.';
revoke all on function pgauth.grant_role(uuid, text) from public;
grant execute on function pgauth.grant_role(uuid, text) to pgauth_admin;

create or replace function pgauth.revoke_role(p_user_id uuid, p_role text) returns void
  language plpgsql volatile security definer set search_path = pg_catalog, pgauth, pg_temp
  as $$
begin
  perform pgauth._user(p_user_id);
  delete from pgauth.user_roles ur where ur.user_id = p_user_id and ur.role = p_role;
  if found then
    perform pgauth._audit('role_revoked', p_user_id, null, null, null, jsonb_build_object('role', p_role));
  end if;
end
$$;
comment on function pgauth.revoke_role(uuid, text) is
  'Admin: takes a role away. Live sessions lose it from their next validation. NOUSR.';
revoke all on function pgauth.revoke_role(uuid, text) from public;
grant execute on function pgauth.revoke_role(uuid, text) to pgauth_admin;

-- ---------------------------------------------------------------------------------------------
-- Reading, for admins. No function returns a password hash or a token hash.
-- ---------------------------------------------------------------------------------------------
create or replace function pgauth.find_user(p_user text) returns uuid
  language plpgsql stable security definer set search_path = pg_catalog, pgauth, pg_temp
  as $$
declare
  v_id uuid;
begin
  if p_user ~* '^[0-9a-f]{8}-?[0-9a-f]{4}-?[0-9a-f]{4}-?[0-9a-f]{4}-?[0-9a-f]{12}$' then
    select u.id into v_id from pgauth.users u where u.id = p_user::uuid and u.deleted_at is null;
  else
    select u.id into v_id from pgauth.users u
    where lower(u.username) = lower(p_user) and u.deleted_at is null;
  end if;
  if v_id is null then
    raise exception using errcode = 'NOUSR', message = 'user_not_found';
  end if;
  return v_id;
end
$$;
comment on function pgauth.find_user(text) is
  'Admin: the id of a user named by username (case-insensitively) or by id. NOUSR.';
revoke all on function pgauth.find_user(text) from public;
grant execute on function pgauth.find_user(text) to pgauth_admin;

create or replace function pgauth.list_users(p_limit integer default 100, p_offset integer default 0)
  returns table (
    id uuid, username text, email text, roles text[], created_at timestamptz,
    last_login_at timestamptz, failed_logins integer, locked_until timestamptz, lock_reason text,
    disabled_at timestamptz, live_sessions bigint
  )
  language plpgsql stable security definer set search_path = pg_catalog, pgauth, pg_temp
  as $$
begin
  if p_limit is null or p_limit not between 1 and 10000 or p_offset is null or p_offset < 0 then
    perform pgauth._invalid('limit must be 1 to 10000 and offset not negative');
  end if;
  return query
    select u.id, u.username, u.email,
      coalesce((select array_agg(ur.role order by ur.role) from pgauth.user_roles ur
                where ur.user_id = u.id), '{}'),
      u.created_at, u.last_login_at, u.failed_logins, u.locked_until, u.lock_reason, u.disabled_at,
      (select count(*) from pgauth.sessions s where s.user_id = u.id and s.revoked_at is null
         and s.expires_at > pgauth.clock())
    from pgauth.users u
    where u.deleted_at is null
    order by lower(u.username)
    limit p_limit offset p_offset;
end
$$;
comment on function pgauth.list_users(integer, integer) is
  'Admin: users not deleted, by username, with their roles, lock state and count of live sessions.';
revoke all on function pgauth.list_users(integer, integer) from public;
grant execute on function pgauth.list_users(integer, integer) to pgauth_admin;

create or replace function pgauth.get_user(p_user_id uuid)
  returns table (
    id uuid, username text, email text, roles text[], created_at timestamptz,
    last_login_at timestamptz, failed_logins integer, locked_until timestamptz, lock_reason text,
    disabled_at timestamptz, live_sessions bigint
  )
  language plpgsql stable security definer set search_path = pg_catalog, pgauth, pg_temp
  as $$
begin
  perform pgauth._user(p_user_id);
  return query
    select u.id, u.username, u.email,
      coalesce((select array_agg(ur.role order by ur.role) from pgauth.user_roles ur
                where ur.user_id = u.id), '{}'),
      u.created_at, u.last_login_at, u.failed_logins, u.locked_until, u.lock_reason, u.disabled_at,
      (select count(*) from pgauth.sessions s where s.user_id = u.id and s.revoked_at is null
         and s.expires_at > pgauth.clock())
    from pgauth.users u where u.id = p_user_id;
end
$$;
comment on function pgauth.get_user(uuid) is 'Admin: one user, as list_users shows it. NOUSR.';
revoke all on function pgauth.get_user(uuid) from public;
grant execute on function pgauth.get_user(uuid) to pgauth_admin;

create or replace function pgauth.list_sessions(p_user_id uuid)
  returns table (
    id uuid, created_at timestamptz, access_expires_at timestamptz,
    refresh_expires_at timestamptz, expires_at timestamptz, refresh_generation integer,
    client_ip inet, user_agent text
  )
  language plpgsql stable security definer set search_path = pg_catalog, pgauth, pg_temp
  as $$
begin
  perform pgauth._user(p_user_id);
  return query
    select s.id, s.created_at, s.access_expires_at, s.refresh_expires_at, s.expires_at,
      s.refresh_generation, s.client_ip, s.user_agent
    from pgauth.sessions s
    where s.user_id = p_user_id and s.revoked_at is null
      and s.refresh_expires_at > pgauth.clock()
    order by s.created_at desc;
end
$$;
comment on function pgauth.list_sessions(uuid) is
  'Admin: the live sessions of a user (not revoked, refresh token not expired), newest first. NOUSR.';
revoke all on function pgauth.list_sessions(uuid) from public;
grant execute on function pgauth.list_sessions(uuid) to pgauth_admin;

create or replace function pgauth.audit_events(
  p_user_id uuid default null, p_since timestamptz default null, p_limit integer default 100
) returns table (
  at timestamptz, event text, user_id uuid, session_id uuid, client_ip inet, detail jsonb
)
  language plpgsql stable security definer set search_path = pg_catalog, pgauth, pg_temp
  as $$
begin
  if p_limit is null or p_limit not between 1 and 10000 then
    perform pgauth._invalid('limit must be 1 to 10000');
  end if;
  return query
    select a.at, a.event, a.user_id, a.session_id, a.client_ip, a.detail
    from pgauth.audit_log a
    where (p_user_id is null or a.user_id = p_user_id)
      and (p_since is null or a.at >= p_since)
    order by a.at desc, a.id desc
    limit p_limit;
end
$$;
comment on function pgauth.audit_events(uuid, timestamptz, integer) is
  'Admin: audit events, newest first, optionally of one user and since a time; at most p_limit (1 to 10000).';
revoke all on function pgauth.audit_events(uuid, timestamptz, integer) from public;
grant execute on function pgauth.audit_events(uuid, timestamptz, integer) to pgauth_admin;

-- 0009's purge_expired, with the rows above.
create or replace function pgauth.purge_expired() returns integer
  language plpgsql volatile security definer set search_path = pg_catalog, pgauth, pg_temp
  as $$
declare
  v_settings pgauth.settings := pgauth._settings();
  v_now timestamptz := pgauth.clock();
  v_count integer := pgauth._purge_sessions(v_now - v_settings.session_retention);
  v_attempt pgauth.password_attempts;
begin
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
revoke all on function pgauth.purge_expired() from public;
grant execute on function pgauth.purge_expired() to pgauth_admin;
comment on function pgauth.purge_expired() is
  'Admin: deletes sessions that ended (expired or revoked) longer than settings.session_retention ago, wipes the refresh rotation salts whose grace window has passed, audits (login_failure, "unfinished") and deletes password attempts whose answer was not read within a minute, deletes expired link tokens and login challenges and mail sent or given up longer than session_retention ago; returns how many sessions it deleted. Safe at any time; schedule it every minute or so.';

-- ---------------------------------------------------------------------------------------------
-- Audit retention.
-- Threat model: an admin (or a script with a typo) purging more than it meant to. The old check
-- compared the interval with '1 day', and interval comparison counts a month as 30 days, so
-- '-1 month +31 days' passed as "one day" while now() minus it is about now: every row went.
-- The cut-off is now checked as a point in time, and no part of the interval may be negative.
-- ---------------------------------------------------------------------------------------------
create or replace function pgauth.purge_audit(p_older_than interval) returns integer
  language plpgsql volatile security definer set search_path = pg_catalog, pgauth, pg_temp
  as $$
declare
  v_now timestamptz := pgauth.clock();
  v_months integer;
  v_days integer;
  v_cutoff timestamptz;
  v_count integer;
begin
  if p_older_than is null or not pg_catalog.isfinite(p_older_than) then
    perform pgauth._invalid('the interval must be finite');
  end if;
  v_months := (extract(year from p_older_than) * 12 + extract(month from p_older_than))::integer;
  v_days := extract(day from p_older_than)::integer;
  if v_months < 0 or v_days < 0
     or p_older_than - pg_catalog.make_interval(months => v_months, days => v_days) < interval '0' then
    perform pgauth._invalid('no part of the interval may be negative');
  end if;
  v_cutoff := v_now - p_older_than;
  if v_cutoff > v_now - interval '1 day' then
    perform pgauth._invalid('audit rows are kept at least one day');
  end if;
  perform set_config('pgauth.purging_audit', 'on', true);
  delete from pgauth.audit_log a where a.at < v_cutoff;
  get diagnostics v_count = row_count;
  perform set_config('pgauth.purging_audit', 'off', true);
  perform pgauth._audit('audit_purged', null, null, null, null,
    jsonb_build_object('older_than', p_older_than::text, 'count', v_count));
  return v_count;
end
$$;
revoke all on function pgauth.purge_audit(interval) from public;
grant execute on function pgauth.purge_audit(interval) to pgauth_admin;
comment on function pgauth.purge_audit(interval) is
  'Admin: deletes audit rows older than an interval; the only way audit rows are ever deleted. Returns how many. BADIN when a part of the interval is negative or the cut-off (now minus the interval) is less than one day ago.';

create or replace function pgauth.validate_many(p_access_tokens text[])
  returns table (
    ord integer, user_id uuid, session_id uuid, username text, roles text[], expires_at timestamptz,
    aal smallint, subject_type text
  )
  language plpgsql stable security definer set search_path = pg_catalog, pgauth, pg_temp
  as $$
begin
  if pg_catalog.cardinality(p_access_tokens) > 1000 then
    raise exception using errcode = 'BADIN', message = 'invalid_input',
      detail = 'At most 1000 tokens a call.';
  end if;
  return query
    select t.ord::integer, v.user_id, v.session_id, v.username, v.roles, v.expires_at,
      v.aal, v.subject_type
    from pg_catalog.unnest(p_access_tokens) with ordinality as t(token, ord)
    cross join lateral pgauth.validate(t.token) as v;
end
$$;
comment on function pgauth.validate_many(text[]) is
  'The hot path in batches: for each valid access token or API key of the array, one row with its 1-based position (ord) and what pgauth.validate returns; no row for the others. At most 1000 tokens.';
revoke all on function pgauth.validate_many(text[]) from public;
grant execute on function pgauth.validate_many(text[]) to pgauth_admin, pgauth_validator;

-- The cost of a bcrypt hash ($2a$NN$…), NULL for anything else.
create or replace function pgauth._bf_cost(p_hash text) returns integer
  language sql immutable strict parallel safe
  as $$
    select case when p_hash ~ '^\$2[abxy]\$[0-9]{2}\$' then pg_catalog.substr(p_hash, 5, 2)::integer end
  $$;
revoke all on function pgauth._bf_cost(text) from public;

-- True when this row's new password_hash is login's announced upgrade of the same password.
-- Never NULL: a setting never set reads NULL, one set and reset reads ''.
create or replace function pgauth._is_rehash(p_user_id uuid, p_new_hash text) returns boolean
  language sql stable
  as $$
    select coalesce(p_user_id::text || ':' || p_new_hash
                    = nullif(pg_catalog.current_setting('pgauth.rehash', true), ''), false)
  $$;
revoke all on function pgauth._is_rehash(uuid, text) from public;

create or replace function pgauth._statement_clock() returns timestamptz
  language sql stable parallel safe
  as 'select pgauth.clock() + (pg_catalog.statement_timestamp() - pg_catalog.now())';
comment on function pgauth._statement_clock() is
  'The start of the current statement, shifted like pgauth.clock() by settings.clock_offset.';
revoke all on function pgauth._statement_clock() from public;

-- Takes the consequences of one password check on the user row and describes them as an attempt
-- (not stored here). The row is locked first and the decision taken on its current state, so
-- that concurrent checks of one user queue and none is lost. A user that is disabled or locked
-- at that moment is refused whatever p_ok says, and nothing is written: the outcome cannot depend
-- on the password there. Otherwise exactly one UPDATE, right or wrong.
create or replace function pgauth._record_password_check(
  p_kind text, p_user_id uuid, p_checked_changed_at timestamptz, p_ok boolean,
  p_settings pgauth.settings, p_client_ip inet, p_user_agent text
) returns pgauth.password_attempts
  language plpgsql volatile security definer set search_path = pg_catalog, pgauth, pg_temp
  as $$
declare
  v_now timestamptz := pgauth.clock();
  v_user pgauth.users;
  v_attempt pgauth.password_attempts;
  v_failed integer;
  v_seconds integer;
begin
  v_attempt.kind := p_kind;
  v_attempt.user_id := p_user_id;
  v_attempt.at := v_now;
  v_attempt.client_ip := p_client_ip;
  v_attempt.user_agent := pg_catalog.left(p_user_agent, 512);
  select * into v_user from pgauth.users u where u.id = p_user_id for update;
  v_attempt.password_changed_at := v_user.password_changed_at;
  v_attempt.failed_logins := v_user.failed_logins;
  if v_user.id is null or v_user.deleted_at is not null then
    v_attempt.outcome := 'changed_meanwhile';
  elsif v_user.disabled_at is not null then
    v_attempt.outcome := 'disabled';
  elsif v_user.locked_until > v_now then
    v_attempt.outcome := 'locked';
  elsif p_ok and v_user.password_changed_at = p_checked_changed_at then
    update pgauth.users u set failed_logins = 0, lock_count = 0 where u.id = p_user_id;
    v_attempt.outcome := 'ok';
    v_attempt.failed_logins := 0;
  elsif p_ok then
    -- Right against a password that has been changed since it was read.
    v_attempt.outcome := 'changed_meanwhile';
  else
    v_failed := v_user.failed_logins + 1;
    if v_failed >= p_settings.max_failed_logins * (v_user.lock_count + 1) then
      v_seconds := least(
        p_settings.lockout_seconds::numeric * power(2::numeric, least(v_user.lock_count, 40)),
        p_settings.lockout_max_seconds::numeric)::integer;
      update pgauth.users u
        set failed_logins = v_failed, lock_count = u.lock_count + 1,
            locked_until = v_now + make_interval(secs => v_seconds),
            lock_reason = 'too_many_failures'
      where u.id = p_user_id;
      v_attempt.lockout_seconds := v_seconds;
    else
      update pgauth.users u set failed_logins = v_failed where u.id = p_user_id;
    end if;
    v_attempt.outcome := 'bad_password';
    v_attempt.failed_logins := v_failed;
  end if;
  return v_attempt;
end
$$;
revoke all on function pgauth._record_password_check(
  text, uuid, timestamptz, boolean, pgauth.settings, inet, text) from public;

-- Stores an attempt under a fresh ticket, which it returns, with the id of its transaction.
create or replace function pgauth._store_attempt(p_attempt pgauth.password_attempts) returns text
  language plpgsql volatile security definer set search_path = pg_catalog, pgauth, pg_temp
  as $$
declare
  v_ticket text := pgauth._new_token('pgc_');
begin
  p_attempt.token_hash := pgauth._token_hash(v_ticket);
  p_attempt.xact := pg_catalog.pg_current_xact_id();
  insert into pgauth.password_attempts select p_attempt.*;
  return v_ticket;
end
$$;
revoke all on function pgauth._store_attempt(pgauth.password_attempts) from public;

-- Refuses to go on once anything has been written in this transaction (see above).
create or replace function pgauth._require_fresh_transaction() returns void
  language plpgsql volatile set search_path = pg_catalog, pg_temp
  as $$
begin
  if pg_catalog.pg_current_xact_id_if_assigned() is not null then
    perform pgauth._invalid('a password attempt must be the first write of its transaction');
  end if;
end
$$;
revoke all on function pgauth._require_fresh_transaction() from public;

-- The committed, fresh, unread attempt of a ticket, deleted as it is read (NULL fields if none).
create or replace function pgauth._take_attempt(p_ticket text, p_kind text) returns pgauth.password_attempts
  language plpgsql volatile security definer set search_path = pg_catalog, pgauth, pg_temp
  as $$
declare
  v_attempt pgauth.password_attempts;
begin
  delete from pgauth.password_attempts a
  where a.token_hash = pgauth._token_hash(p_ticket) and a.kind = p_kind
    and a.at > pgauth.clock() - interval '1 minute'
    and pg_catalog.pg_xact_status(a.xact) = 'committed'
  returning * into v_attempt;
  return v_attempt;
end
$$;
revoke all on function pgauth._take_attempt(text, text) from public;

-- The audit rows of a failed attempt: the lock it set, then the failure with its true reason.
create or replace function pgauth._audit_failed_attempt(p_attempt pgauth.password_attempts, p_extra jsonb)
  returns void
  language plpgsql volatile security definer set search_path = pg_catalog, pgauth, pg_temp
  as $$
begin
  if p_attempt.lockout_seconds is not null then
    perform pgauth._audit('lockout', p_attempt.user_id, null, p_attempt.client_ip,
      p_attempt.user_agent, jsonb_build_object(
        'failed_logins', p_attempt.failed_logins, 'seconds', p_attempt.lockout_seconds));
  end if;
  perform pgauth._audit('login_failure', p_attempt.user_id, null, p_attempt.client_ip,
    p_attempt.user_agent, jsonb_build_object('reason', p_attempt.outcome) || p_extra);
end
$$;
revoke all on function pgauth._audit_failed_attempt(pgauth.password_attempts, jsonb) from public;

-- Step 1 of a login: the password checked, its consequences written, the outcome described.
-- Every kind of failure costs what 0004 and 0007 made it cost (one hash, also for an unknown user).
create or replace function pgauth._login_verdict(
  p_username text, p_password text, p_client_ip inet, p_user_agent text
) returns pgauth.password_attempts
  language plpgsql volatile security definer set search_path = pg_catalog, pgauth, pg_temp
  as $$
declare
  v_settings pgauth.settings := pgauth._settings();
  v_user pgauth.users;
  v_attempt pgauth.password_attempts;
begin
  -- Over-long input is refused before any hashing: it says nothing about any account.
  if p_username is null or p_password is null or char_length(p_username) > 256
     or char_length(p_password) > 1024 then
    perform pgauth._invalid('username and password are required, at most 256 and 1024 characters');
  end if;
  select * into v_user from pgauth.users u
  where lower(u.username) = lower(p_username) and u.deleted_at is null;
  if not found then
    perform pgauth._crypt(pgauth._prehash(p_password), pgauth._bf_salt(v_settings.bcrypt_cost));
    v_attempt.kind := 'login';
    v_attempt.outcome := 'unknown_user';
    v_attempt.at := pgauth.clock();
    v_attempt.client_ip := p_client_ip;
    v_attempt.user_agent := left(p_user_agent, 512);
    return v_attempt;
  end if;
  -- Hashed whatever the account's state, so that a locked or disabled one takes as long.
  return pgauth._record_password_check('login', v_user.id, v_user.password_changed_at,
    pgauth._verify_password(p_password, v_user.password_hash), v_settings, p_client_ip,
    p_user_agent);
end
$$;
revoke all on function pgauth._login_verdict(text, text, inet, text) from public;

-- Step 2 of a login. A failure: on a hash cheaper than the setting, dummy hashes that bring its
-- cost to one hash at the current cost (0007), then its audit rows. A success: the session, and
-- the upgrade of a cheaper hash (0007), which re-verifies the password unless p_verified says the
-- caller just did (a ticket's answer may be asked for with any password).
create or replace function pgauth._login_finish(
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

create or replace function pgauth.login_attempt(
  p_username text, p_password text, p_client_ip inet default null, p_user_agent text default null
) returns text
  language plpgsql volatile security definer set search_path = pg_catalog, pgauth, pg_temp
  as $$
begin
  perform pgauth._require_fresh_transaction();
  return pgauth._store_attempt(
    pgauth._login_verdict(p_username, p_password, p_client_ip, p_user_agent));
end
$$;
comment on function pgauth.login_attempt(text, text, inet, text) is
  'Step 1 of login_durably: checks a password, counts a failure or locks, and returns a ticket whose outcome login_answer reveals once this transaction has committed. Must be the first write of its transaction (else BADIN); BADIN on missing or over-long input.';
revoke all on function pgauth.login_attempt(text, text, inet, text) from public;
grant execute on function pgauth.login_attempt(text, text, inet, text) to pgauth_service, pgauth_admin;

create or replace function pgauth.login_answer(p_attempt text, p_password text)
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
grant execute on function pgauth.login_answer(text, text) to pgauth_service, pgauth_admin;

create or replace procedure pgauth.login_durably(
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
grant execute on procedure pgauth.login_durably(text, text, inet, text, uuid, uuid, text, timestamptz, text, timestamptz, text, timestamptz) to pgauth_service, pgauth_admin;

-- Step 1 of a change: the new password is checked against the policy first (WEAKP says nothing
-- about the current one); a locked or disabled account is refused before any hash is computed;
-- otherwise the current password is checked and counted like a login's.
create or replace function pgauth._change_password_verdict(
  p_user_id uuid, p_current_password text, p_new_password text
) returns pgauth.password_attempts
  language plpgsql volatile security definer set search_path = pg_catalog, pgauth, pg_temp
  as $$
declare
  v_settings pgauth.settings := pgauth._settings();
  v_user pgauth.users := pgauth._user(p_user_id);
  v_attempt pgauth.password_attempts;
begin
  if p_current_password is null or char_length(p_current_password) > 1024 then
    perform pgauth._invalid('current password is required, at most 1024 characters');
  end if;
  perform pgauth._check_password(p_new_password, v_user.username, v_settings.password_min_length);
  if v_user.disabled_at is not null or v_user.locked_until > pgauth.clock() then
    v_attempt.kind := 'change_password';
    v_attempt.user_id := v_user.id;
    v_attempt.outcome := case when v_user.disabled_at is not null then 'disabled' else 'locked' end;
    v_attempt.failed_logins := v_user.failed_logins;
    v_attempt.password_changed_at := v_user.password_changed_at;
    v_attempt.at := pgauth.clock();
    return v_attempt;
  end if;
  return pgauth._record_password_check('change_password', v_user.id,
    v_user.password_changed_at, pgauth._verify_password(p_current_password, v_user.password_hash),
    v_settings, null, null);
end
$$;
revoke all on function pgauth._change_password_verdict(uuid, text, text) from public;

create or replace function pgauth._change_password_finish(
  p_attempt pgauth.password_attempts, p_new_password text
) returns boolean
  language plpgsql volatile security definer set search_path = pg_catalog, pgauth, pg_temp
  as $$
declare
  v_settings pgauth.settings := pgauth._settings();
  v_user pgauth.users;
begin
  if p_attempt.outcome = 'ok' then
    v_user := pgauth._user(p_attempt.user_id);
    perform pgauth._check_password(p_new_password, v_user.username, v_settings.password_min_length);
    update pgauth.users u
      set password_hash = pgauth._hash_password(p_new_password, v_settings.bcrypt_cost),
          failed_logins = 0
    where u.id = v_user.id
      and u.password_changed_at = p_attempt.password_changed_at
      and u.disabled_at is null
      and (u.locked_until is null or u.locked_until <= pgauth.clock());
    if found then
      perform pgauth._audit('password_changed', v_user.id, null, null, null, '{"by": "user"}');
      return true;
    end if;
    p_attempt.outcome := 'changed_meanwhile';
  end if;
  perform pgauth._audit_failed_attempt(p_attempt, '{"via": "change_password"}');
  return false;
end
$$;
revoke all on function pgauth._change_password_finish(pgauth.password_attempts, text) from public;

create or replace function pgauth.change_password_attempt(
  p_user_id uuid, p_current_password text, p_new_password text
) returns text
  language plpgsql volatile security definer set search_path = pg_catalog, pgauth, pg_temp
  as $$
begin
  perform pgauth._require_fresh_transaction();
  return pgauth._store_attempt(
    pgauth._change_password_verdict(p_user_id, p_current_password, p_new_password));
end
$$;
comment on function pgauth.change_password_attempt(uuid, text, text) is
  'Step 1 of change_password_durably: checks the new password against the policy (WEAKP), then the current one (counted like a login; a locked or disabled account is refused without hashing), and returns a ticket for change_password_answer. Must be the first write of its transaction (else BADIN). NOUSR, BADIN.';
revoke all on function pgauth.change_password_attempt(uuid, text, text) from public;
grant execute on function pgauth.change_password_attempt(uuid, text, text) to pgauth_service, pgauth_admin;

create or replace function pgauth.change_password_answer(p_attempt text, p_new_password text)
  returns boolean
  language plpgsql volatile security definer set search_path = pg_catalog, pgauth, pg_temp
  as $$
declare
  v_attempt pgauth.password_attempts := pgauth._take_attempt(p_attempt, 'change_password');
begin
  if v_attempt.token_hash is null then
    return false;
  end if;
  return pgauth._change_password_finish(v_attempt, p_new_password);
end
$$;
comment on function pgauth.change_password_answer(text, text) is
  'Step 2 of change_password_durably: for the ticket of a change_password_attempt whose transaction committed less than a minute ago, sets the new password and returns true when the current one was right (every session of the user is revoked); false otherwise. Each ticket answers once. WEAKP.';
revoke all on function pgauth.change_password_answer(text, text) from public;
grant execute on function pgauth.change_password_answer(text, text) to pgauth_service, pgauth_admin;

create or replace procedure pgauth.change_password_durably(
  p_user_id uuid, p_current_password text, p_new_password text, inout changed boolean default null
)
  language plpgsql
  as $$
declare
  v_attempt text;
begin
  v_attempt := pgauth.change_password_attempt(p_user_id, p_current_password, p_new_password);
  commit;
  changed := pgauth.change_password_answer(v_attempt, p_new_password);
  commit;
end
$$;
comment on procedure pgauth.change_password_durably(uuid, text, text, boolean) is
  'The password change of front doors: CALL pgauth.change_password_durably(user_id, current, new). One row: changed, true when the current password was right and the new one is set (every session of the user is revoked), false when the current one is wrong (counted like a failed login) or the account is locked or disabled (refused before any hashing). The check is committed before the answer: call it outside BEGIN … COMMIT (else SQLSTATE 2D000). WEAKP when the new password is refused, NOUSR, BADIN.';
revoke all on procedure pgauth.change_password_durably(uuid, text, text, boolean) from public;
grant execute on procedure pgauth.change_password_durably(uuid, text, text, boolean) to pgauth_service, pgauth_admin;

-- ---------------------------------------------------------------------------------------------
-- Common passwords.
-- Threat model: guessing with lists of leaked passwords. 0003 held the 10,000 most frequent
-- entries of zxcvbn-ts's list, of which 25 have the minimum length of 12 characters: the list
-- refused almost nothing, and 'password1234' passed. The list now holds every entry (49,233,
-- loaded at the end of this file), and a password is refused as password_common when, in lower
-- case, it is
--   * an entry of the list;
--   * an entry of at least 4 characters with only digits, symbols and spaces (printable ASCII
--     that is not a letter) after it, before it, or both: 'password1234', '!!dragon2024!!';
--   * a repetition of a shorter unit ('abcabcabcabc', 'passwordpassword'), when that unit is
--     shorter than the minimum length or is itself refused by the two rules above.
-- The rule is in the database, so every caller gets it. It costs one strpos() for the
-- repetition and one probe of the primary key with at most 35 candidates (entries are at most 20
-- characters long): about 16 µs on PostgreSQL, 26 µs on PGlite (docs/security.md).
-- Not covered: sequences ('abcdefghijkl'), keyboard walks and leetspeak beyond the list's own
-- entries, or a password made of the username and digits.
-- ---------------------------------------------------------------------------------------------
create or replace function pgauth._is_common_password(p_password text, p_min_length integer)
  returns boolean
  language plpgsql stable security definer set search_path = pg_catalog, pgauth, pg_temp
  as $$
declare
  -- Digits, symbols and space: printable ASCII without the letters.
  v_junk constant text := '[\x20-\x40\x5b-\x60\x7b-\x7e]+';
  v_word text := pg_catalog.lower(p_password);
  v_len integer := pg_catalog.char_length(v_word);
  v_unit integer;
begin
  -- A repetition is as strong as what it repeats. The word is one when it occurs in itself
  -- doubled at an offset below its length; the first such offset is its shortest unit.
  v_unit := pg_catalog.strpos(pg_catalog.substr(v_word || v_word, 2), v_word);
  if v_unit < v_len then
    if v_unit < p_min_length then
      return true;
    end if;
    v_word := pg_catalog.left(v_word, v_unit);
  end if;
  -- The word, and for the word as it is and without what precedes its first letter, every
  -- prefix of 4 to 20 characters that leaves only digits, symbols and spaces after it.
  return exists (
    select 1 from pgauth.common_passwords c
    where c.password = any (v_word || array(
      select pg_catalog.left(f.form, n)
      from pg_catalog.unnest(array[v_word, pg_catalog.regexp_replace(v_word, '^' || v_junk, '')]) f(form)
      cross join lateral pg_catalog.generate_series(
        greatest(pg_catalog.char_length(pg_catalog.regexp_replace(f.form, v_junk || '$', '')), 4),
        least(pg_catalog.char_length(f.form), 20)) n)));
end
$$;
revoke all on function pgauth._is_common_password(text, integer) from public;

create or replace function pgauth.tg_sessions__forget_rotated() returns trigger
  language plpgsql volatile security definer set search_path = pg_catalog, pgauth, pg_temp
  as $$
begin
  if tg_op = 'TRUNCATE' then
    truncate pgauth.rotated_refresh_tokens;
  else
    delete from pgauth.rotated_refresh_tokens r where r.session_id = old.id;
  end if;
  return null;
end
$$;
revoke all on function pgauth.tg_sessions__forget_rotated() from public;

-- The purge's DELETE, with the rotated refresh tokens of the sessions it deletes, in one
-- statement; enable_seqscan = off as in 0016 (the BRIN index on the session's end).
create or replace function pgauth._purge_sessions(p_cutoff timestamptz) returns integer
  language plpgsql volatile security definer
  set search_path = pg_catalog, pgauth, pg_temp set enable_seqscan = off
  as $$
declare
  v_count integer;
begin
  perform pg_catalog.set_config('pgauth.purging_sessions', 'on', true);
  with forgotten as (
    delete from pgauth.rotated_refresh_tokens r using pgauth.sessions s
    where s.id = r.session_id and s.refresh_generation > 0
      and least(s.expires_at, s.revoked_at, greatest(s.refresh_expires_at, s.access_expires_at))
          < p_cutoff
  )
  delete from pgauth.sessions s
  where least(s.expires_at, s.revoked_at, greatest(s.refresh_expires_at, s.access_expires_at))
        < p_cutoff;
  get diagnostics v_count = row_count;
  perform pg_catalog.set_config('pgauth.purging_sessions', 'off', true);
  return v_count;
end
$$;
revoke all on function pgauth._purge_sessions(timestamptz) from public;

-- What the gateway signs into a session's JWT, for the opaque access token login or refresh just
-- answered it; the format tells whether to sign at all. No row for a token that is not live.
create or replace function pgauth.session_token_claims(p_access_token text)
  returns table (
    token_format text, jti uuid, user_id uuid, session_id uuid, username text, roles text[],
    aal smallint, expires_at timestamptz
  )
  language plpgsql stable security definer set search_path = pg_catalog, pgauth, pg_temp
  as $$
declare
  v_settings pgauth.settings := pgauth._settings();
  v_now timestamptz := pgauth.clock();
begin
  return query
    select v_settings.access_token_format,
      pg_catalog.encode(pg_catalog.substr(s.access_token_hash, 1, 16), 'hex')::uuid,
      s.user_id, s.id, s.username, s.roles, s.aal,
      least(s.access_expires_at, v_now + v_settings.service_token_ttl)
    from pgauth.sessions s
    where s.access_token_hash = pgauth._token_hash(p_access_token)
      and s.revoked_at is null and s.access_expires_at > v_now;
end
$$;
comment on function pgauth.session_token_claims(text) is
  'For the gateway, after login or refresh: settings.access_token_format and, for a live session''s access token, the claims of its JWT (jti: the first 16 bytes of access_token_hash; expires_at: the access token''s expiry, at most service_token_ttl from now). No row otherwise.';
revoke all on function pgauth.session_token_claims(text) from public;
grant execute on function pgauth.session_token_claims(text) to pgauth_service, pgauth_admin;

-- Whether a session's JWT (signature checked by the caller) is still live: one lookup by the
-- session's primary key, as validate answers.
create or replace function pgauth.validate_session_jwt(p_session_id uuid, p_jti uuid)
  returns table (
    user_id uuid, session_id uuid, username text, roles text[], expires_at timestamptz,
    aal smallint, subject_type text
  )
  language plpgsql stable security definer set search_path = pg_catalog, pgauth, pg_temp
  as $$
begin
  return query
    select s.user_id, s.id, s.username, s.roles, s.access_expires_at, s.aal, 'user'::text
    from pgauth.sessions s
    where s.id = p_session_id
      and pg_catalog.substr(s.access_token_hash, 1, 16) = pg_catalog.uuid_send(p_jti)
      and s.revoked_at is null
      and s.access_expires_at > pgauth.clock();
end
$$;
comment on function pgauth.validate_session_jwt(uuid, uuid) is
  'For a session''s JWT access token whose signature the caller checked (claims sid and jti): one row as pgauth.validate answers while it is the session''s current access token and the session is live; no row once it was rotated by a refresh, revoked or expired. Never raises.';
revoke all on function pgauth.validate_session_jwt(uuid, uuid) from public;
grant execute on function pgauth.validate_session_jwt(uuid, uuid) to pgauth_admin, pgauth_validator;

-- pgauth.logout for a session's JWT: the caller passes its sid and jti.
create or replace function pgauth.logout_jwt(p_session_id uuid, p_jti uuid) returns boolean
  language plpgsql volatile security definer set search_path = pg_catalog, pgauth, pg_temp
  as $$
declare
  v_session pgauth.sessions;
begin
  update pgauth.sessions s set revoked_at = pgauth.clock(), revoked_reason = 'logout'
  where s.id = p_session_id
    and pg_catalog.substr(s.access_token_hash, 1, 16) = pg_catalog.uuid_send(p_jti)
    and s.revoked_at is null
  returning * into v_session;
  if not found then
    return false;
  end if;
  perform pgauth._audit('logout', v_session.user_id, v_session.id, null, null, '{"via": "jwt"}');
  return true;
end
$$;
comment on function pgauth.logout_jwt(uuid, uuid) is
  'pgauth.logout for a session''s JWT access token, by its sid and jti: revokes the session while that token is its current one (its access and refresh token both stop working). True when a live session was revoked.';
revoke all on function pgauth.logout_jwt(uuid, uuid) from public;
grant execute on function pgauth.logout_jwt(uuid, uuid) to pgauth_service, pgauth_admin;

-- A deleted session that a cache may still hold as valid: its key, one message.
create or replace function pgauth.tg_sessions__notify_deleted() returns trigger
  language plpgsql volatile security definer set search_path = pg_catalog, pgauth, pg_temp
  as $$
begin
  perform pg_catalog.pg_notify('pgauth_revocations', pg_catalog.json_build_object('keys',
    array[pg_catalog.encode(pg_catalog.substr(old.access_token_hash, 1, 8), 'hex')])::text);
  return null;
end
$$;
revoke all on function pgauth.tg_sessions__notify_deleted() from public;
comment on function pgauth.tg_sessions__notify_deleted() is
  'Row trigger of sessions (sessions_notify_delete, WHEN the deleted session was not revoked and its access token had not expired): NOTIFYs pgauth_revocations with {"keys": [<first 8 bytes of access_token_hash, hex>]}. Keys only: no user, session or reason.';

create or replace trigger settings_guard before update or delete on pgauth.settings
  for each row execute function pgauth.tg_settings__guard();

create or replace trigger settings_no_truncate before truncate on pgauth.settings
  for each statement execute function pgauth.tg_settings__guard();

create or replace trigger audit_log_append_only before update or delete on pgauth.audit_log
  for each row execute function pgauth.tg_audit_log__append_only();

create or replace trigger audit_log_no_truncate before truncate on pgauth.audit_log
  for each statement execute function pgauth.tg_audit_log__append_only();

create or replace trigger sessions_notify_update after update on pgauth.sessions
  referencing old table as old_rows new table as new_rows
  for each statement execute function pgauth.tg_sessions__notify();

create or replace trigger sessions_notify_delete after delete on pgauth.sessions
  for each row
  when (old.revoked_at is null and old.access_expires_at > pgauth.clock())
  execute function pgauth.tg_sessions__notify_deleted();

create or replace trigger users_before_update before update on pgauth.users
  for each row execute function pgauth.tg_users__before_update();

create or replace trigger users_revoke_sessions after update on pgauth.users
  for each row execute function pgauth.tg_users__revoke_sessions();

create or replace trigger user_roles_sync_insert after insert on pgauth.user_roles
  referencing new table as changed_rows
  for each statement execute function pgauth.tg_user_roles__sync_sessions();

create or replace trigger user_roles_sync_delete after delete on pgauth.user_roles
  referencing old table as changed_rows
  for each statement execute function pgauth.tg_user_roles__sync_sessions();

-- A role renamed in pgauth.roles reaches user_roles by ON UPDATE CASCADE: an UPDATE, synced too.
create or replace trigger user_roles_sync_update after update on pgauth.user_roles
  referencing new table as changed_rows
  for each statement execute function pgauth.tg_user_roles__sync_sessions();

create or replace trigger sessions_notify_truncate after truncate on pgauth.sessions
  for each statement execute function pgauth.tg_sessions__notify();

create or replace trigger sessions_forget_rotated after delete on pgauth.sessions
  for each row
  when (old.refresh_generation > 0
        and pg_catalog.current_setting('pgauth.purging_sessions', true) is distinct from 'on')
  execute function pgauth.tg_sessions__forget_rotated();

create or replace trigger sessions_forget_rotated_truncate after truncate on pgauth.sessions
  for each statement execute function pgauth.tg_sessions__forget_rotated();
