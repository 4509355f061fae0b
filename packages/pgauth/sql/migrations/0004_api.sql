-- Why: the SQL API of pgauth — the functions every caller (gateway, SDK, any service, psql) uses.
--
-- Conventions. Every function is SECURITY DEFINER with search_path pinned to
-- pg_catalog, pgauth, pg_temp; EXECUTE is revoked from PUBLIC right after it is created and granted
-- per role at the end of this file. An error a caller can cause raises a five-character SQLSTATE
-- whose message is the stable error code of the registry (src/errors.ts):
--   BADIN invalid_input · WEAKP password_too_short | password_too_long | password_common |
--   password_is_username · TAKEN username_taken · NOUSR user_not_found · REGOF registration_closed
-- An expected failure that must leave a committed trace (a failed login, a reused refresh token)
-- is not an error: the function returns no row, so that the counter and audit row it wrote commit.
set local role pgauth_owner;

-- ---------------------------------------------------------------------------------------------
-- Internal helpers (not granted to anybody; called by the functions below as the owner).
-- ---------------------------------------------------------------------------------------------

-- Tokens are 256 random bits, base64url, with a prefix secret scanners can match:
-- pga_ for access tokens, pgr_ for refresh tokens. Only their SHA-256 is ever stored.
create function pgauth._new_token(p_prefix text) returns text
  language sql volatile strict security definer set search_path = pg_catalog, pgauth, pg_temp
  as $$
    select p_prefix || pg_catalog.rtrim(pg_catalog.translate(
      pg_catalog.encode(pgauth._random_bytes(32), 'base64'), '+/', '-_'), '=')
  $$;
revoke all on function pgauth._new_token(text) from public;

-- Plain SQL, no SET and no SECURITY DEFINER: inlined into validate's plan.
create function pgauth._token_hash(p_token text) returns bytea
  language sql stable strict parallel safe
  as $$ select pg_catalog.sha256(pg_catalog.convert_to(p_token, 'UTF8')) $$;
revoke all on function pgauth._token_hash(text) from public;

-- bcrypt reads only the first 72 bytes of its input. Passwords are therefore pre-hashed with
-- SHA-256 (base64, 44 bytes, never a NUL) so that every byte of a long password counts.
create function pgauth._prehash(p_password text) returns text
  language sql stable strict parallel safe
  as $$ select pg_catalog.encode(pg_catalog.sha256(pg_catalog.convert_to(p_password, 'UTF8')), 'base64') $$;
revoke all on function pgauth._prehash(text) from public;

create function pgauth._hash_password(p_password text, p_cost integer) returns text
  language sql volatile strict security definer set search_path = pg_catalog, pgauth, pg_temp
  as $$ select pgauth._crypt(pgauth._prehash(p_password), pgauth._bf_salt(p_cost)) $$;
revoke all on function pgauth._hash_password(text, integer) from public;

create function pgauth._verify_password(p_password text, p_hash text) returns boolean
  language sql volatile strict security definer set search_path = pg_catalog, pgauth, pg_temp
  as $$ select pgauth._crypt(pgauth._prehash(p_password), p_hash) = p_hash $$;
revoke all on function pgauth._verify_password(text, text) from public;

create function pgauth._settings() returns pgauth.settings
  language sql stable security definer set search_path = pg_catalog, pgauth, pg_temp
  as $$ select s from pgauth.settings s $$;
revoke all on function pgauth._settings() from public;

create function pgauth._invalid(p_detail text) returns void
  language plpgsql volatile set search_path = pg_catalog, pg_temp
  as $$
begin
  raise exception using errcode = 'BADIN', message = 'invalid_input', detail = p_detail;
end
$$;
revoke all on function pgauth._invalid(text) from public;

-- Usernames: 1 to 64 characters, no control characters, no surrounding spaces, and not shaped
-- like a uuid (an admin names a user by username or id; the two must never be confused).
create function pgauth._check_username(p_username text) returns void
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

create function pgauth._check_email(p_email text) returns void
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

-- The password policy: length in code points (min a setting, max 1024), not one of the common
-- passwords, not the username. No composition rules.
create function pgauth._check_password(p_password text, p_username text, p_min_length integer)
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
  elsif exists (select 1 from pgauth.common_passwords c where c.password = lower(p_password)) then
    raise exception using errcode = 'WEAKP', message = 'password_common',
      detail = 'the password is one of the most commonly used passwords';
  elsif lower(p_password) = lower(p_username) then
    raise exception using errcode = 'WEAKP', message = 'password_is_username',
      detail = 'the password must not be the username';
  end if;
end
$$;
revoke all on function pgauth._check_password(text, text, integer) from public;

-- The user an admin function acts on: raises NOUSR when there is none (or it was deleted).
create function pgauth._user(p_user_id uuid) returns pgauth.users
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

-- Counts one failed password check, atomically, and locks the account when the count reaches
-- max_failed_logins while it is not locked already. The lock doubles with every repeated lock,
-- up to lockout_max_seconds. Failures go on counting while locked.
create function pgauth._count_failure(
  p_user_id uuid, p_settings pgauth.settings, p_client_ip inet, p_user_agent text
) returns void
  language plpgsql volatile security definer set search_path = pg_catalog, pgauth, pg_temp
  as $$
declare
  v_now timestamptz := pgauth.clock();
  v_failed integer;
  v_seconds integer;
begin
  update pgauth.users u set failed_logins = u.failed_logins + 1
  where u.id = p_user_id
  returning u.failed_logins into v_failed;

  if v_failed >= p_settings.max_failed_logins then
    update pgauth.users u
      set locked_until = v_now + make_interval(secs => least(
            p_settings.lockout_seconds::numeric * power(2::numeric, least(u.lock_count, 40)),
            p_settings.lockout_max_seconds::numeric)),
          lock_count = u.lock_count + 1,
          lock_reason = 'too_many_failures'
    where u.id = p_user_id and (u.locked_until is null or u.locked_until <= v_now)
    returning extract(epoch from u.locked_until - v_now)::integer into v_seconds;
    if found then
      perform pgauth._audit('lockout', p_user_id, null, p_client_ip, p_user_agent,
        jsonb_build_object('failed_logins', v_failed, 'seconds', v_seconds));
    end if;
  end if;
end
$$;
revoke all on function pgauth._count_failure(uuid, pgauth.settings, inet, text) from public;

-- Creates a session for a user whose row the caller has just updated (and so locked), so that a
-- concurrent role change or revocation is ordered before or after it, never lost.
create function pgauth._start_session(
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
create function pgauth._create_user(p_username text, p_password text, p_email text, p_event text)
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

create function pgauth.register(p_username text, p_password text, p_email text default null)
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

create function pgauth.create_user(
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

-- ---------------------------------------------------------------------------------------------
-- Login.
-- Threat model: password guessing and account enumeration. Every failure — unknown user, wrong
-- password, locked, disabled — returns no row, the same for the caller; the audit row keeps the
-- true reason. An unknown user costs one bcrypt hash of the current cost, like a known one.
-- A wrong password counts against the account even while it is locked.
-- ---------------------------------------------------------------------------------------------
create function pgauth.login(
  p_username text, p_password text, p_client_ip inet default null, p_user_agent text default null
) returns table (
  user_id uuid, session_id uuid, access_token text, access_expires_at timestamptz,
  refresh_token text, refresh_expires_at timestamptz
)
  language plpgsql volatile security definer set search_path = pg_catalog, pgauth, pg_temp
  as $$
declare
  v_settings pgauth.settings := pgauth._settings();
  v_now timestamptz := pgauth.clock();
  v_user pgauth.users;
  v_ok boolean;
  v_reason text;
  v_new record;
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
    perform pgauth._audit('login_failure', null, null, p_client_ip, p_user_agent,
      jsonb_build_object('reason', 'unknown_user'));
    return;
  end if;

  v_ok := pgauth._verify_password(p_password, v_user.password_hash);
  if not v_ok then
    perform pgauth._count_failure(v_user.id, v_settings, p_client_ip, p_user_agent);
  end if;

  if v_user.disabled_at is not null then
    v_reason := 'disabled';
  elsif v_user.locked_until > v_now then
    v_reason := 'locked';
  elsif not v_ok then
    v_reason := 'bad_password';
  else
    -- Lock the row and re-check that nothing changed since it was read: a password change, lock
    -- or deletion committed meanwhile wins over this login.
    update pgauth.users u
      set last_login_at = v_now, failed_logins = 0, lock_count = 0
    where u.id = v_user.id
      and u.password_hash = v_user.password_hash
      and u.deleted_at is null and u.disabled_at is null
      and (u.locked_until is null or u.locked_until <= v_now)
    returning * into v_user;
    if not found then
      v_reason := 'changed_meanwhile';
    end if;
  end if;

  if v_reason is not null then
    perform pgauth._audit('login_failure', v_user.id, null, p_client_ip, p_user_agent,
      jsonb_build_object('reason', v_reason));
    return;
  end if;

  select * into v_new from pgauth._start_session(v_user, v_settings, p_client_ip, p_user_agent);
  perform pgauth._audit('login_success', v_user.id, v_new.session_id, p_client_ip, p_user_agent, '{}');
  return query select v_new.user_id, v_new.session_id, v_new.access_token, v_new.access_expires_at,
    v_new.refresh_token, v_new.refresh_expires_at;
end
$$;
comment on function pgauth.login(text, text, inet, text) is
  'Checks a password and starts a session: one row with the user id, session id and a fresh access/refresh token pair, or no row on any failure (unknown user, wrong password, locked, disabled). Raises BADIN only on missing or over-long input.';
revoke all on function pgauth.login(text, text, inet, text) from public;

-- ---------------------------------------------------------------------------------------------
-- Validation: the hot path, called on every request of every service. One lookup by a unique
-- index on one table, no join, no write; no row for anything not valid. It never raises.
-- ---------------------------------------------------------------------------------------------
create function pgauth.validate(p_access_token text)
  returns table (user_id uuid, session_id uuid, username text, roles text[], expires_at timestamptz)
  language plpgsql stable security definer set search_path = pg_catalog, pgauth, pg_temp
  as $$
begin
  return query
    select s.user_id, s.id, s.username, s.roles, s.access_expires_at
    from pgauth.sessions s
    where s.access_token_hash = pgauth._token_hash(p_access_token)
      and s.revoked_at is null
      and s.access_expires_at > pgauth.clock();
end
$$;
comment on function pgauth.validate(text) is
  'The hot path: one row (user id, session id, username, roles, access expiry) for a valid access token, no row for anything else (garbage, NULL, expired, revoked). Never raises, never writes.';
revoke all on function pgauth.validate(text) from public;

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
create function pgauth._derive_token(p_prefix text, p_secret text, p_salt bytea, p_label text)
  returns text
  language sql stable strict parallel safe
  as $$
    select p_prefix || pg_catalog.rtrim(pg_catalog.translate(pg_catalog.encode(
      pg_catalog.sha256(p_salt || pg_catalog.convert_to(p_secret, 'UTF8')
                        || pg_catalog.convert_to(p_label, 'UTF8')), 'base64'), '+/', '-_'), '=')
  $$;
revoke all on function pgauth._derive_token(text, text, bytea, text) from public;

create function pgauth.refresh(
  p_refresh_token text, p_client_ip inet default null, p_user_agent text default null
) returns table (
  user_id uuid, session_id uuid, access_token text, access_expires_at timestamptz,
  refresh_token text, refresh_expires_at timestamptz
)
  language plpgsql volatile security definer set search_path = pg_catalog, pgauth, pg_temp
  as $$
declare
  v_settings pgauth.settings := pgauth._settings();
  v_now timestamptz := pgauth.clock();
  v_hash bytea := pgauth._token_hash(p_refresh_token);
  v_session pgauth.sessions;
  v_generation integer;
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
    select r.generation into v_generation from pgauth.rotated_refresh_tokens r
    where r.token_hash = v_hash;
    if not found then
      return;
    end if;
    select s.* into v_session from pgauth.sessions s
    where s.id = (select r.session_id from pgauth.rotated_refresh_tokens r where r.token_hash = v_hash)
    for update;
    if v_session.revoked_at is not null then
      return;
    end if;
    if v_generation = v_session.refresh_generation - 1
       and v_session.rotated_at + v_settings.refresh_reuse_grace > v_now
       and v_session.refresh_expires_at > v_now and v_session.expires_at > v_now then
      v_access := pgauth._derive_token('pga_', p_refresh_token, v_session.rotation_salt, 'access');
      v_refresh := pgauth._derive_token('pgr_', p_refresh_token, v_session.rotation_salt, 'refresh');
    end if;
    if v_access is null or pgauth._token_hash(v_access) <> v_session.access_token_hash
       or pgauth._token_hash(v_refresh) <> v_session.refresh_token_hash then
      update pgauth.sessions s set revoked_at = v_now, revoked_reason = 'refresh_reuse'
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
comment on function pgauth.refresh(text, inet, text) is
  'Rotates a refresh token: one row with a new access/refresh pair (the old pair stops working), or no row. The same token again within settings.refresh_reuse_grace returns the same new pair; after it, the session is revoked (audit refresh_reuse). Never extends past the session''s absolute expiry.';
revoke all on function pgauth.refresh(text, inet, text) from public;

-- ---------------------------------------------------------------------------------------------
-- Revocation. Every function here only UPDATEs sessions.revoked_at; the statement trigger on
-- sessions sends the pgauth_revocations notification.
-- ---------------------------------------------------------------------------------------------
create function pgauth.logout(p_access_token text) returns boolean
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

create function pgauth.revoke_token(p_token text) returns boolean
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

create function pgauth.revoke_user_sessions(p_user_id uuid, p_reason text default 'admin')
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

create function pgauth.revoke_session(p_session_id uuid) returns boolean
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

-- ---------------------------------------------------------------------------------------------
-- Passwords. Changing a password revokes every session of the user (trigger on users).
-- ---------------------------------------------------------------------------------------------
create function pgauth.change_password(
  p_user_id uuid, p_current_password text, p_new_password text
) returns boolean
  language plpgsql volatile security definer set search_path = pg_catalog, pgauth, pg_temp
  as $$
declare
  v_settings pgauth.settings := pgauth._settings();
  v_user pgauth.users := pgauth._user(p_user_id);
begin
  if p_current_password is null or char_length(p_current_password) > 1024 then
    perform pgauth._invalid('current password is required, at most 1024 characters');
  end if;
  if not pgauth._verify_password(p_current_password, v_user.password_hash) then
    perform pgauth._count_failure(v_user.id, v_settings, null, null);
    perform pgauth._audit('login_failure', v_user.id, null, null, null,
      '{"reason": "bad_password", "via": "change_password"}');
    return false;
  end if;
  if v_user.disabled_at is not null or v_user.locked_until > pgauth.clock() then
    perform pgauth._audit('login_failure', v_user.id, null, null, null,
      jsonb_build_object('reason', case when v_user.disabled_at is not null then 'disabled' else 'locked' end,
        'via', 'change_password'));
    return false;
  end if;
  perform pgauth._check_password(p_new_password, v_user.username, v_settings.password_min_length);
  update pgauth.users u
    set password_hash = pgauth._hash_password(p_new_password, v_settings.bcrypt_cost),
        failed_logins = 0
  where u.id = v_user.id;
  perform pgauth._audit('password_changed', v_user.id, null, null, null, '{"by": "user"}');
  return true;
end
$$;
comment on function pgauth.change_password(uuid, text, text) is
  'Changes a password given the current one. False when the current password is wrong (counted like a failed login) or the account is locked or disabled; WEAKP when the new one is refused. On success every session of the user is revoked.';
revoke all on function pgauth.change_password(uuid, text, text) from public;

create function pgauth.set_password(p_user_id uuid, p_new_password text) returns void
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

-- ---------------------------------------------------------------------------------------------
-- Account state.
-- ---------------------------------------------------------------------------------------------
create function pgauth.lock_user(
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

create function pgauth.unlock_user(p_user_id uuid) returns void
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

create function pgauth.delete_user(p_user_id uuid) returns void
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

-- ---------------------------------------------------------------------------------------------
-- Roles. Live sessions show a change from their next validation (trigger on user_roles).
-- ---------------------------------------------------------------------------------------------
create function pgauth.grant_role(p_user_id uuid, p_role text) returns void
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

create function pgauth.revoke_role(p_user_id uuid, p_role text) returns void
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

-- ---------------------------------------------------------------------------------------------
-- Reading, for admins. No function returns a password hash or a token hash.
-- ---------------------------------------------------------------------------------------------
create function pgauth.find_user(p_user text) returns uuid
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

create function pgauth.list_users(p_limit integer default 100, p_offset integer default 0)
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

create function pgauth.get_user(p_user_id uuid)
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

create function pgauth.list_sessions(p_user_id uuid)
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

create function pgauth.audit_events(
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

-- ---------------------------------------------------------------------------------------------
-- Housekeeping.
-- ---------------------------------------------------------------------------------------------
create function pgauth.purge_expired() returns integer
  language plpgsql volatile security definer set search_path = pg_catalog, pgauth, pg_temp
  as $$
declare
  v_settings pgauth.settings := pgauth._settings();
  v_cutoff timestamptz := pgauth.clock() - v_settings.session_retention;
  v_count integer;
begin
  delete from pgauth.sessions s
  where s.expires_at < v_cutoff
     or s.revoked_at < v_cutoff
     or (s.refresh_expires_at < v_cutoff and s.access_expires_at < v_cutoff);
  get diagnostics v_count = row_count;
  return v_count;
end
$$;
comment on function pgauth.purge_expired() is
  'Admin: deletes sessions that ended (expired or revoked) longer than settings.session_retention ago; returns how many. Safe at any time.';
revoke all on function pgauth.purge_expired() from public;

create function pgauth.purge_audit(p_older_than interval) returns integer
  language plpgsql volatile security definer set search_path = pg_catalog, pgauth, pg_temp
  as $$
declare
  v_count integer;
begin
  if p_older_than is null or p_older_than < interval '1 day' then
    perform pgauth._invalid('audit rows are kept at least one day');
  end if;
  perform set_config('pgauth.purging_audit', 'on', true);
  delete from pgauth.audit_log a where a.at < pgauth.clock() - p_older_than;
  get diagnostics v_count = row_count;
  perform set_config('pgauth.purging_audit', 'off', true);
  perform pgauth._audit('audit_purged', null, null, null, null,
    jsonb_build_object('older_than', p_older_than::text, 'count', v_count));
  return v_count;
end
$$;
comment on function pgauth.purge_audit(interval) is
  'Admin: deletes audit rows older than an interval (at least one day); the only way audit rows are ever deleted. Returns how many.';
revoke all on function pgauth.purge_audit(interval) from public;

-- ---------------------------------------------------------------------------------------------
-- Grants. pgauth_service: the calls a service makes for its users. pgauth_admin: everything.
-- ---------------------------------------------------------------------------------------------
grant execute on function
  pgauth.register(text, text, text),
  pgauth.login(text, text, inet, text),
  pgauth.validate(text),
  pgauth.refresh(text, inet, text),
  pgauth.logout(text),
  pgauth.revoke_token(text),
  pgauth.change_password(uuid, text, text)
to pgauth_service, pgauth_admin;

grant execute on function
  pgauth.create_user(text, text, text, text[]),
  pgauth.revoke_user_sessions(uuid, text),
  pgauth.revoke_session(uuid),
  pgauth.set_password(uuid, text),
  pgauth.lock_user(uuid, timestamptz, text),
  pgauth.unlock_user(uuid),
  pgauth.delete_user(uuid),
  pgauth.grant_role(uuid, text),
  pgauth.revoke_role(uuid, text),
  pgauth.find_user(text),
  pgauth.list_users(integer, integer),
  pgauth.get_user(uuid),
  pgauth.list_sessions(uuid),
  pgauth.audit_events(uuid, timestamptz, integer),
  pgauth.purge_expired(),
  pgauth.purge_audit(interval)
to pgauth_admin;
