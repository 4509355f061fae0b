-- GENERATED FILE: do not edit, and never apply it. npm run schema writes it.
--
-- Schema pgauth as it stands after every migration of sql/migrations/, for reading: later
-- migrations replace functions of earlier ones, and this file shows what is current. The
-- migrations are what creates and upgrades a database; this file is not.
--
-- Made by pg_dump 15 --schema-only --schema=pgauth of a freshly migrated database,
-- without version lines and SET preamble: no rows (no settings, roles or common passwords),
-- and no extension (pgcrypto, which 0001 installs in pgauth, is not listed).
-- After adding a migration: npm run schema. CI runs npm run schema -- --check.

--
-- Name: pgauth; Type: SCHEMA; Schema: -; Owner: pgauth_owner
--

CREATE SCHEMA pgauth;

ALTER SCHEMA pgauth OWNER TO pgauth_owner;

--
-- Name: _audit(text, uuid, uuid, inet, text, jsonb); Type: FUNCTION; Schema: pgauth; Owner: pgauth_owner
--

CREATE FUNCTION pgauth._audit(p_event text, p_user_id uuid, p_session_id uuid, p_client_ip inet, p_user_agent text, p_detail jsonb DEFAULT '{}'::jsonb) RETURNS void
    LANGUAGE sql SECURITY DEFINER
    SET search_path TO 'pg_catalog', 'pgauth', 'pg_temp'
    AS $$
    insert into pgauth.audit_log (event, user_id, session_id, client_ip, user_agent, detail)
    values (p_event, p_user_id, p_session_id, p_client_ip, pg_catalog.left(p_user_agent, 512),
            coalesce(p_detail, '{}'));
  $$;

ALTER FUNCTION pgauth._audit(p_event text, p_user_id uuid, p_session_id uuid, p_client_ip inet, p_user_agent text, p_detail jsonb) OWNER TO pgauth_owner;

--
-- Name: password_attempts; Type: TABLE; Schema: pgauth; Owner: pgauth_owner
--

CREATE TABLE pgauth.password_attempts (
    token_hash bytea NOT NULL,
    kind text NOT NULL,
    user_id uuid,
    outcome text NOT NULL,
    failed_logins integer,
    lockout_seconds integer,
    password_changed_at timestamp with time zone,
    xact xid8 NOT NULL,
    at timestamp with time zone NOT NULL,
    client_ip inet,
    user_agent text,
    CONSTRAINT password_attempts_kind_check CHECK ((kind = ANY (ARRAY['login'::text, 'change_password'::text]))),
    CONSTRAINT password_attempts_outcome_check CHECK ((outcome = ANY (ARRAY['ok'::text, 'unknown_user'::text, 'bad_password'::text, 'locked'::text, 'disabled'::text, 'changed_meanwhile'::text])))
);

ALTER TABLE pgauth.password_attempts OWNER TO pgauth_owner;

--
-- Name: TABLE password_attempts; Type: COMMENT; Schema: pgauth; Owner: pgauth_owner
--

COMMENT ON TABLE pgauth.password_attempts IS 'Password checks whose outcome has not been read yet (step 1 of login_durably and change_password_durably). Only the SHA-256 of a ticket is stored, never a password.';

--
-- Name: _audit_failed_attempt(pgauth.password_attempts, jsonb); Type: FUNCTION; Schema: pgauth; Owner: pgauth_owner
--

CREATE FUNCTION pgauth._audit_failed_attempt(p_attempt pgauth.password_attempts, p_extra jsonb) RETURNS void
    LANGUAGE plpgsql SECURITY DEFINER
    SET search_path TO 'pg_catalog', 'pgauth', 'pg_temp'
    AS $$
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

ALTER FUNCTION pgauth._audit_failed_attempt(p_attempt pgauth.password_attempts, p_extra jsonb) OWNER TO pgauth_owner;

--
-- Name: _base32(bytea); Type: FUNCTION; Schema: pgauth; Owner: pgauth_owner
--

CREATE FUNCTION pgauth._base32(p_data bytea) RETURNS text
    LANGUAGE plpgsql IMMUTABLE STRICT
    SET search_path TO 'pg_catalog', 'pg_temp'
    AS $$
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

ALTER FUNCTION pgauth._base32(p_data bytea) OWNER TO pgauth_owner;

--
-- Name: _bf_cost(text); Type: FUNCTION; Schema: pgauth; Owner: pgauth_owner
--

CREATE FUNCTION pgauth._bf_cost(p_hash text) RETURNS integer
    LANGUAGE sql IMMUTABLE STRICT PARALLEL SAFE
    AS $_$
    select case when p_hash ~ '^\$2[abxy]\$[0-9]{2}\$' then pg_catalog.substr(p_hash, 5, 2)::integer end
  $_$;

ALTER FUNCTION pgauth._bf_cost(p_hash text) OWNER TO pgauth_owner;

--
-- Name: _bf_salt(integer); Type: FUNCTION; Schema: pgauth; Owner: pgauth_owner
--

CREATE FUNCTION pgauth._bf_salt(p_cost integer) RETURNS text
    LANGUAGE sql STRICT
    SET search_path TO 'pg_catalog', 'pg_temp'
    AS $$select pgauth.gen_salt('bf', p_cost)$$;

ALTER FUNCTION pgauth._bf_salt(p_cost integer) OWNER TO pgauth_owner;

--
-- Name: _change_password_finish(pgauth.password_attempts, text); Type: FUNCTION; Schema: pgauth; Owner: pgauth_owner
--

CREATE FUNCTION pgauth._change_password_finish(p_attempt pgauth.password_attempts, p_new_password text) RETURNS boolean
    LANGUAGE plpgsql SECURITY DEFINER
    SET search_path TO 'pg_catalog', 'pgauth', 'pg_temp'
    AS $$
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

ALTER FUNCTION pgauth._change_password_finish(p_attempt pgauth.password_attempts, p_new_password text) OWNER TO pgauth_owner;

--
-- Name: _change_password_verdict(uuid, text, text); Type: FUNCTION; Schema: pgauth; Owner: pgauth_owner
--

CREATE FUNCTION pgauth._change_password_verdict(p_user_id uuid, p_current_password text, p_new_password text) RETURNS pgauth.password_attempts
    LANGUAGE plpgsql SECURITY DEFINER
    SET search_path TO 'pg_catalog', 'pgauth', 'pg_temp'
    AS $$
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

ALTER FUNCTION pgauth._change_password_verdict(p_user_id uuid, p_current_password text, p_new_password text) OWNER TO pgauth_owner;

--
-- Name: _check_email(text); Type: FUNCTION; Schema: pgauth; Owner: pgauth_owner
--

CREATE FUNCTION pgauth._check_email(p_email text) RETURNS void
    LANGUAGE plpgsql STABLE
    SET search_path TO 'pg_catalog', 'pg_temp'
    AS $_$
begin
  if p_email is not null and (char_length(p_email) > 254
      or p_email !~ '^[^@[:space:][:cntrl:]]+@[^@[:space:][:cntrl:]]+$') then
    perform pgauth._invalid('email is not a valid address');
  end if;
end
$_$;

ALTER FUNCTION pgauth._check_email(p_email text) OWNER TO pgauth_owner;

--
-- Name: _check_password(text, text, integer); Type: FUNCTION; Schema: pgauth; Owner: pgauth_owner
--

CREATE FUNCTION pgauth._check_password(p_password text, p_username text, p_min_length integer) RETURNS void
    LANGUAGE plpgsql STABLE SECURITY DEFINER
    SET search_path TO 'pg_catalog', 'pgauth', 'pg_temp'
    AS $$
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

ALTER FUNCTION pgauth._check_password(p_password text, p_username text, p_min_length integer) OWNER TO pgauth_owner;

--
-- Name: _check_username(text); Type: FUNCTION; Schema: pgauth; Owner: pgauth_owner
--

CREATE FUNCTION pgauth._check_username(p_username text) RETURNS void
    LANGUAGE plpgsql STABLE
    SET search_path TO 'pg_catalog', 'pg_temp'
    AS $_$
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
$_$;

ALTER FUNCTION pgauth._check_username(p_username text) OWNER TO pgauth_owner;

--
-- Name: _create_user(text, text, text, text); Type: FUNCTION; Schema: pgauth; Owner: pgauth_owner
--

CREATE FUNCTION pgauth._create_user(p_username text, p_password text, p_email text, p_event text) RETURNS uuid
    LANGUAGE plpgsql SECURITY DEFINER
    SET search_path TO 'pg_catalog', 'pgauth', 'pg_temp'
    AS $$
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

ALTER FUNCTION pgauth._create_user(p_username text, p_password text, p_email text, p_event text) OWNER TO pgauth_owner;

--
-- Name: _crypt(text, text); Type: FUNCTION; Schema: pgauth; Owner: pgauth_owner
--

CREATE FUNCTION pgauth._crypt(p_password text, p_salt text) RETURNS text
    LANGUAGE sql STRICT
    SET search_path TO 'pg_catalog', 'pg_temp'
    AS $$select pgauth.crypt(p_password, p_salt)$$;

ALTER FUNCTION pgauth._crypt(p_password text, p_salt text) OWNER TO pgauth_owner;

--
-- Name: _derive_token(text, text, bytea, text); Type: FUNCTION; Schema: pgauth; Owner: pgauth_owner
--

CREATE FUNCTION pgauth._derive_token(p_prefix text, p_secret text, p_salt bytea, p_label text) RETURNS text
    LANGUAGE sql STABLE STRICT PARALLEL SAFE
    AS $$
    select p_prefix || pg_catalog.rtrim(pg_catalog.translate(pg_catalog.encode(
      pg_catalog.sha256(p_salt || pg_catalog.convert_to(p_secret, 'UTF8')
                        || pg_catalog.convert_to(p_label, 'UTF8')), 'base64'), '+/', '-_'), '=')
  $$;

ALTER FUNCTION pgauth._derive_token(p_prefix text, p_secret text, p_salt bytea, p_label text) OWNER TO pgauth_owner;

--
-- Name: _enqueue_mail(text, uuid, text); Type: FUNCTION; Schema: pgauth; Owner: pgauth_owner
--

CREATE FUNCTION pgauth._enqueue_mail(p_kind text, p_user_id uuid, p_to text) RETURNS void
    LANGUAGE plpgsql SECURITY DEFINER
    SET search_path TO 'pg_catalog', 'pgauth', 'pg_temp'
    AS $$
declare
  v_now timestamptz := pgauth.clock();
begin
  insert into pgauth.mail_outbox (kind, user_id, to_address, created_at, next_attempt_at)
  values (p_kind, p_user_id, p_to, v_now, v_now);
  perform pg_catalog.pg_notify('pgauth_mail', '');
end
$$;

ALTER FUNCTION pgauth._enqueue_mail(p_kind text, p_user_id uuid, p_to text) OWNER TO pgauth_owner;

--
-- Name: _hash_password(text, integer); Type: FUNCTION; Schema: pgauth; Owner: pgauth_owner
--

CREATE FUNCTION pgauth._hash_password(p_password text, p_cost integer) RETURNS text
    LANGUAGE sql STRICT SECURITY DEFINER
    SET search_path TO 'pg_catalog', 'pgauth', 'pg_temp'
    AS $$ select pgauth._crypt(pgauth._prehash(p_password), pgauth._bf_salt(p_cost)) $$;

ALTER FUNCTION pgauth._hash_password(p_password text, p_cost integer) OWNER TO pgauth_owner;

--
-- Name: _hmac(bytea, bytea, text); Type: FUNCTION; Schema: pgauth; Owner: pgauth_owner
--

CREATE FUNCTION pgauth._hmac(p_data bytea, p_key bytea, p_type text) RETURNS bytea
    LANGUAGE sql IMMUTABLE STRICT
    SET search_path TO 'pg_catalog', 'pg_temp'
    AS $$select pgauth.hmac(p_data, p_key, p_type)$$;

ALTER FUNCTION pgauth._hmac(p_data bytea, p_key bytea, p_type text) OWNER TO pgauth_owner;

--
-- Name: _invalid(text); Type: FUNCTION; Schema: pgauth; Owner: pgauth_owner
--

CREATE FUNCTION pgauth._invalid(p_detail text) RETURNS void
    LANGUAGE plpgsql
    SET search_path TO 'pg_catalog', 'pg_temp'
    AS $$
begin
  raise exception using errcode = 'BADIN', message = 'invalid_input', detail = p_detail;
end
$$;

ALTER FUNCTION pgauth._invalid(p_detail text) OWNER TO pgauth_owner;

--
-- Name: _is_common_password(text, integer); Type: FUNCTION; Schema: pgauth; Owner: pgauth_owner
--

CREATE FUNCTION pgauth._is_common_password(p_password text, p_min_length integer) RETURNS boolean
    LANGUAGE plpgsql STABLE SECURITY DEFINER
    SET search_path TO 'pg_catalog', 'pgauth', 'pg_temp'
    AS $_$
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
$_$;

ALTER FUNCTION pgauth._is_common_password(p_password text, p_min_length integer) OWNER TO pgauth_owner;

--
-- Name: _is_rehash(uuid, text); Type: FUNCTION; Schema: pgauth; Owner: pgauth_owner
--

CREATE FUNCTION pgauth._is_rehash(p_user_id uuid, p_new_hash text) RETURNS boolean
    LANGUAGE sql STABLE
    AS $$
    select coalesce(p_user_id::text || ':' || p_new_hash
                    = nullif(pg_catalog.current_setting('pgauth.rehash', true), ''), false)
  $$;

ALTER FUNCTION pgauth._is_rehash(p_user_id uuid, p_new_hash text) OWNER TO pgauth_owner;

--
-- Name: _login_finish(pgauth.password_attempts, text, boolean); Type: FUNCTION; Schema: pgauth; Owner: pgauth_owner
--

CREATE FUNCTION pgauth._login_finish(p_attempt pgauth.password_attempts, p_password text, p_verified boolean) RETURNS TABLE(user_id uuid, session_id uuid, access_token text, access_expires_at timestamp with time zone, refresh_token text, refresh_expires_at timestamp with time zone, status text, mfa_challenge text, mfa_expires_at timestamp with time zone)
    LANGUAGE plpgsql SECURITY DEFINER
    SET search_path TO 'pg_catalog', 'pgauth', 'pg_temp'
    AS $$
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

ALTER FUNCTION pgauth._login_finish(p_attempt pgauth.password_attempts, p_password text, p_verified boolean) OWNER TO pgauth_owner;

--
-- Name: _login_verdict(text, text, inet, text); Type: FUNCTION; Schema: pgauth; Owner: pgauth_owner
--

CREATE FUNCTION pgauth._login_verdict(p_username text, p_password text, p_client_ip inet, p_user_agent text) RETURNS pgauth.password_attempts
    LANGUAGE plpgsql SECURITY DEFINER
    SET search_path TO 'pg_catalog', 'pgauth', 'pg_temp'
    AS $$
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

ALTER FUNCTION pgauth._login_verdict(p_username text, p_password text, p_client_ip inet, p_user_agent text) OWNER TO pgauth_owner;

--
-- Name: _new_token(text); Type: FUNCTION; Schema: pgauth; Owner: pgauth_owner
--

CREATE FUNCTION pgauth._new_token(p_prefix text) RETURNS text
    LANGUAGE sql STRICT SECURITY DEFINER
    SET search_path TO 'pg_catalog', 'pgauth', 'pg_temp'
    AS $$
    select p_prefix || pg_catalog.rtrim(pg_catalog.translate(
      pg_catalog.encode(pgauth._random_bytes(32), 'base64'), '+/', '-_'), '=')
  $$;

ALTER FUNCTION pgauth._new_token(p_prefix text) OWNER TO pgauth_owner;

--
-- Name: _notify_cache_keys(bytea[]); Type: FUNCTION; Schema: pgauth; Owner: pgauth_owner
--

CREATE FUNCTION pgauth._notify_cache_keys(p_hashes bytea[]) RETURNS void
    LANGUAGE plpgsql
    SET search_path TO 'pg_catalog', 'pgauth', 'pg_temp'
    AS $$
declare
  v_keys text[];
begin
  for v_keys in
    with keyed as (
      select pg_catalog.encode(pg_catalog.substr(h.hash, 1, 8), 'hex') as key
      from pg_catalog.unnest(p_hashes) as h(hash)
    ), numbered as (
      select key, (row_number() over (order by key) - 1) / 100 as chunk from keyed
    )
    select array_agg(key order by key) from numbered group by chunk order by chunk
  loop
    perform pg_catalog.pg_notify('pgauth_revocations',
      pg_catalog.json_build_object('keys', v_keys)::text);
  end loop;
end
$$;

ALTER FUNCTION pgauth._notify_cache_keys(p_hashes bytea[]) OWNER TO pgauth_owner;

--
-- Name: _prefix_end(text); Type: FUNCTION; Schema: pgauth; Owner: pgauth_owner
--

CREATE FUNCTION pgauth._prefix_end(p_prefix text) RETURNS text
    LANGUAGE sql IMMUTABLE PARALLEL SAFE
    SET search_path TO 'pg_catalog', 'pg_temp'
    AS $$ select p_prefix || chr(1114111) $$;

ALTER FUNCTION pgauth._prefix_end(p_prefix text) OWNER TO pgauth_owner;

--
-- Name: _prehash(text); Type: FUNCTION; Schema: pgauth; Owner: pgauth_owner
--

CREATE FUNCTION pgauth._prehash(p_password text) RETURNS text
    LANGUAGE sql STABLE STRICT PARALLEL SAFE
    AS $$ select pg_catalog.encode(pg_catalog.sha256(pg_catalog.convert_to(p_password, 'UTF8')), 'base64') $$;

ALTER FUNCTION pgauth._prehash(p_password text) OWNER TO pgauth_owner;

--
-- Name: _purge_lifecycle(); Type: FUNCTION; Schema: pgauth; Owner: pgauth_owner
--

CREATE FUNCTION pgauth._purge_lifecycle() RETURNS void
    LANGUAGE plpgsql SECURITY DEFINER
    SET search_path TO 'pg_catalog', 'pgauth', 'pg_temp'
    AS $$
declare
  v_now timestamptz := pgauth.clock();
begin
  delete from pgauth.account_tokens t where t.expires_at <= v_now;
  delete from pgauth.mfa_challenges c where c.expires_at <= v_now;
  delete from pgauth.mail_outbox o
  where coalesce(o.sent_at, o.failed_at) < v_now - (pgauth._settings()).session_retention;
end
$$;

ALTER FUNCTION pgauth._purge_lifecycle() OWNER TO pgauth_owner;

--
-- Name: _purge_sessions(timestamp with time zone); Type: FUNCTION; Schema: pgauth; Owner: pgauth_owner
--

CREATE FUNCTION pgauth._purge_sessions(p_cutoff timestamp with time zone) RETURNS integer
    LANGUAGE plpgsql SECURITY DEFINER
    SET search_path TO 'pg_catalog', 'pgauth', 'pg_temp'
    SET enable_seqscan TO 'off'
    AS $$
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

ALTER FUNCTION pgauth._purge_sessions(p_cutoff timestamp with time zone) OWNER TO pgauth_owner;

--
-- Name: _random_bytes(integer); Type: FUNCTION; Schema: pgauth; Owner: pgauth_owner
--

CREATE FUNCTION pgauth._random_bytes(p_count integer) RETURNS bytea
    LANGUAGE sql STRICT
    SET search_path TO 'pg_catalog', 'pg_temp'
    AS $$select pgauth.gen_random_bytes(p_count)$$;

ALTER FUNCTION pgauth._random_bytes(p_count integer) OWNER TO pgauth_owner;

--
-- Name: settings; Type: TABLE; Schema: pgauth; Owner: pgauth_owner
--

CREATE TABLE pgauth.settings (
    id boolean DEFAULT true NOT NULL,
    bcrypt_cost integer DEFAULT 11 NOT NULL,
    password_min_length integer DEFAULT 12 NOT NULL,
    max_failed_logins integer DEFAULT 10 NOT NULL,
    lockout_seconds integer DEFAULT 300 NOT NULL,
    lockout_max_seconds integer DEFAULT 86400 NOT NULL,
    access_token_ttl interval DEFAULT '00:15:00'::interval NOT NULL,
    refresh_token_ttl interval DEFAULT '14 days'::interval NOT NULL,
    session_max_age interval DEFAULT '30 days'::interval NOT NULL,
    refresh_reuse_grace interval DEFAULT '00:00:10'::interval NOT NULL,
    allow_registration boolean DEFAULT true NOT NULL,
    session_retention interval DEFAULT '7 days'::interval NOT NULL,
    clock_offset interval DEFAULT '00:00:00'::interval NOT NULL,
    require_verified_email boolean DEFAULT false NOT NULL,
    email_verification_ttl interval DEFAULT '24:00:00'::interval NOT NULL,
    password_reset_ttl interval DEFAULT '00:15:00'::interval NOT NULL,
    password_reset_per_address integer DEFAULT 3 NOT NULL,
    password_reset_per_ip integer DEFAULT 20 NOT NULL,
    mfa_challenge_ttl interval DEFAULT '00:05:00'::interval NOT NULL,
    totp_issuer text DEFAULT 'pgauth'::text NOT NULL,
    mail_max_attempts integer DEFAULT 8 NOT NULL,
    access_token_format text DEFAULT 'opaque'::text NOT NULL,
    service_token_ttl interval DEFAULT '00:05:00'::interval NOT NULL,
    CONSTRAINT settings_access_token_format_check CHECK ((access_token_format = ANY (ARRAY['opaque'::text, 'jwt'::text]))),
    CONSTRAINT settings_access_token_ttl_positive CHECK ((access_token_ttl > '00:00:00'::interval)),
    CONSTRAINT settings_bcrypt_cost_range CHECK (((bcrypt_cost >= 4) AND (bcrypt_cost <= 16))),
    CONSTRAINT settings_email_verification_ttl_positive CHECK ((email_verification_ttl > '00:00:00'::interval)),
    CONSTRAINT settings_lockout_max_seconds_range CHECK ((lockout_max_seconds >= lockout_seconds)),
    CONSTRAINT settings_lockout_seconds_positive CHECK ((lockout_seconds > 0)),
    CONSTRAINT settings_mail_max_attempts_range CHECK (((mail_max_attempts >= 1) AND (mail_max_attempts <= 100))),
    CONSTRAINT settings_max_failed_logins_range CHECK (((max_failed_logins >= 1) AND (max_failed_logins <= 100))),
    CONSTRAINT settings_mfa_challenge_ttl_range CHECK (((mfa_challenge_ttl >= '00:00:30'::interval) AND (mfa_challenge_ttl <= '00:30:00'::interval))),
    CONSTRAINT settings_password_min_length_range CHECK (((password_min_length >= 8) AND (password_min_length <= 1024))),
    CONSTRAINT settings_password_reset_per_address_positive CHECK ((password_reset_per_address > 0)),
    CONSTRAINT settings_password_reset_per_ip_positive CHECK ((password_reset_per_ip > 0)),
    CONSTRAINT settings_password_reset_ttl_range CHECK (((password_reset_ttl >= '00:01:00'::interval) AND (password_reset_ttl <= '24:00:00'::interval))),
    CONSTRAINT settings_refresh_reuse_grace_range CHECK (((refresh_reuse_grace >= '00:00:00'::interval) AND (refresh_reuse_grace <= '00:05:00'::interval))),
    CONSTRAINT settings_refresh_token_ttl_positive CHECK ((refresh_token_ttl > '00:00:00'::interval)),
    CONSTRAINT settings_service_token_ttl_range CHECK (((service_token_ttl > '00:00:00'::interval) AND (service_token_ttl <= '1 day'::interval))),
    CONSTRAINT settings_session_max_age_positive CHECK ((session_max_age > '00:00:00'::interval)),
    CONSTRAINT settings_session_retention_range CHECK ((session_retention >= '00:00:00'::interval)),
    CONSTRAINT settings_single_row CHECK (id),
    CONSTRAINT settings_totp_issuer_length CHECK (((char_length(totp_issuer) >= 1) AND (char_length(totp_issuer) <= 64)))
);

ALTER TABLE pgauth.settings OWNER TO pgauth_owner;

--
-- Name: TABLE settings; Type: COMMENT; Schema: pgauth; Owner: pgauth_owner
--

COMMENT ON TABLE pgauth.settings IS 'pgauth policy, one row. Change it with UPDATE as the owner; every function reads it at its next call. clock_offset shifts pgauth.clock() (tests only).';

--
-- Name: COLUMN settings.access_token_format; Type: COMMENT; Schema: pgauth; Owner: pgauth_owner
--

COMMENT ON COLUMN pgauth.settings.access_token_format IS 'Format of the access tokens the gateway answers: opaque (pga_… for sessions, pgs_… for client credentials, validated by the database) or jwt (signed by the gateway: POST /v1/login, /v1/login/mfa, /v1/refresh and /oauth2/token). A service account may override it.';

--
-- Name: COLUMN settings.service_token_ttl; Type: COMMENT; Schema: pgauth; Owner: pgauth_owner
--

COMMENT ON COLUMN pgauth.settings.service_token_ttl IS 'Lifetime of a client-credentials access token (default 5 minutes), and the longest a JWT access token of a session lives.';

--
-- Name: _record_password_check(text, uuid, timestamp with time zone, boolean, pgauth.settings, inet, text); Type: FUNCTION; Schema: pgauth; Owner: pgauth_owner
--

CREATE FUNCTION pgauth._record_password_check(p_kind text, p_user_id uuid, p_checked_changed_at timestamp with time zone, p_ok boolean, p_settings pgauth.settings, p_client_ip inet, p_user_agent text) RETURNS pgauth.password_attempts
    LANGUAGE plpgsql SECURITY DEFINER
    SET search_path TO 'pg_catalog', 'pgauth', 'pg_temp'
    AS $$
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

ALTER FUNCTION pgauth._record_password_check(p_kind text, p_user_id uuid, p_checked_changed_at timestamp with time zone, p_ok boolean, p_settings pgauth.settings, p_client_ip inet, p_user_agent text) OWNER TO pgauth_owner;

--
-- Name: _recovery_hash(text); Type: FUNCTION; Schema: pgauth; Owner: pgauth_owner
--

CREATE FUNCTION pgauth._recovery_hash(p_code text) RETURNS bytea
    LANGUAGE sql IMMUTABLE STRICT
    SET search_path TO 'pg_catalog', 'pg_temp'
    AS $$ select pg_catalog.sha256(pg_catalog.convert_to(
          pg_catalog.lower(pg_catalog.translate(p_code, ' -', '')), 'UTF8')) $$;

ALTER FUNCTION pgauth._recovery_hash(p_code text) OWNER TO pgauth_owner;

--
-- Name: _require_fresh_transaction(); Type: FUNCTION; Schema: pgauth; Owner: pgauth_owner
--

CREATE FUNCTION pgauth._require_fresh_transaction() RETURNS void
    LANGUAGE plpgsql
    SET search_path TO 'pg_catalog', 'pg_temp'
    AS $$
begin
  if pg_catalog.pg_current_xact_id_if_assigned() is not null then
    perform pgauth._invalid('a password attempt must be the first write of its transaction');
  end if;
end
$$;

ALTER FUNCTION pgauth._require_fresh_transaction() OWNER TO pgauth_owner;

--
-- Name: _role_list(text[]); Type: FUNCTION; Schema: pgauth; Owner: pgauth_owner
--

CREATE FUNCTION pgauth._role_list(p_roles text[]) RETURNS text[]
    LANGUAGE plpgsql
    SET search_path TO 'pg_catalog', 'pgauth', 'pg_temp'
    AS $_$
declare
  v_roles text[];
begin
  if p_roles is null or pg_catalog.cardinality(p_roles) > 50 or exists (
      select 1 from pg_catalog.unnest(p_roles) r where r is null or r !~ '^[a-z][a-z0-9_.:-]{0,62}$') then
    perform pgauth._invalid('at most 50 roles, each 1 to 63 characters: a-z first, then a-z 0-9 _ . : -');
  end if;
  v_roles := array(select distinct r from pg_catalog.unnest(p_roles) r order by r);
  insert into pgauth.roles (name) select r from pg_catalog.unnest(v_roles) r on conflict do nothing;
  return v_roles;
end
$_$;

ALTER FUNCTION pgauth._role_list(p_roles text[]) OWNER TO pgauth_owner;

--
-- Name: clock(); Type: FUNCTION; Schema: pgauth; Owner: pgauth_owner
--

CREATE FUNCTION pgauth.clock() RETURNS timestamp with time zone
    LANGUAGE sql STABLE PARALLEL SAFE
    AS $$select pg_catalog.now()$$;

ALTER FUNCTION pgauth.clock() OWNER TO pgauth_owner;

--
-- Name: FUNCTION clock(); Type: COMMENT; Schema: pgauth; Owner: pgauth_owner
--

COMMENT ON FUNCTION pgauth.clock() IS 'The time pgauth reads: now() shifted by settings.clock_offset (zero outside tests).';

--
-- Name: users; Type: TABLE; Schema: pgauth; Owner: pgauth_owner
--

CREATE TABLE pgauth.users (
    id uuid DEFAULT gen_random_uuid() NOT NULL,
    username text NOT NULL,
    email text,
    password_hash text NOT NULL,
    created_at timestamp with time zone DEFAULT pgauth.clock() NOT NULL,
    updated_at timestamp with time zone DEFAULT pgauth.clock() NOT NULL,
    password_changed_at timestamp with time zone DEFAULT pgauth.clock() NOT NULL,
    last_login_at timestamp with time zone,
    failed_logins integer DEFAULT 0 NOT NULL,
    locked_until timestamp with time zone,
    lock_count integer DEFAULT 0 NOT NULL,
    lock_reason text,
    disabled_at timestamp with time zone,
    deleted_at timestamp with time zone,
    email_verified_at timestamp with time zone,
    CONSTRAINT users_email_length CHECK (((char_length(email) >= 3) AND (char_length(email) <= 254))),
    CONSTRAINT users_failed_logins_nonnegative CHECK ((failed_logins >= 0)),
    CONSTRAINT users_lock_count_nonnegative CHECK ((lock_count >= 0)),
    CONSTRAINT users_username_length CHECK (((char_length(username) >= 1) AND (char_length(username) <= 64)))
);

ALTER TABLE pgauth.users OWNER TO pgauth_owner;

--
-- Name: TABLE users; Type: COMMENT; Schema: pgauth; Owner: pgauth_owner
--

COMMENT ON TABLE pgauth.users IS 'Accounts. A raw UPDATE of password_hash, locked_until, disabled_at or deleted_at revokes every session of the user (trigger users_revoke_sessions).';

--
-- Name: _second_factor_failed(pgauth.users, text, inet, text); Type: FUNCTION; Schema: pgauth; Owner: pgauth_owner
--

CREATE FUNCTION pgauth._second_factor_failed(p_user pgauth.users, p_via text, p_client_ip inet, p_user_agent text) RETURNS void
    LANGUAGE plpgsql SECURITY DEFINER
    SET search_path TO 'pg_catalog', 'pgauth', 'pg_temp'
    AS $$
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

ALTER FUNCTION pgauth._second_factor_failed(p_user pgauth.users, p_via text, p_client_ip inet, p_user_agent text) OWNER TO pgauth_owner;

--
-- Name: service_accounts; Type: TABLE; Schema: pgauth; Owner: pgauth_owner
--

CREATE TABLE pgauth.service_accounts (
    id uuid DEFAULT gen_random_uuid() NOT NULL,
    name text NOT NULL,
    roles text[] DEFAULT '{}'::text[] NOT NULL,
    access_token_format text,
    created_at timestamp with time zone DEFAULT pgauth.clock() NOT NULL,
    disabled_at timestamp with time zone,
    CONSTRAINT service_accounts_access_token_format_check CHECK ((access_token_format = ANY (ARRAY['opaque'::text, 'jwt'::text]))),
    CONSTRAINT service_accounts_name_format CHECK ((name ~ '^[a-z][a-z0-9_.-]{0,62}$'::text))
);

ALTER TABLE pgauth.service_accounts OWNER TO pgauth_owner;

--
-- Name: TABLE service_accounts; Type: COMMENT; Schema: pgauth; Owner: pgauth_owner
--

COMMENT ON TABLE pgauth.service_accounts IS 'Machine identities. A raw UPDATE of roles, name or disabled_at reaches every key and token of the account (trigger service_accounts_sync_keys), and NOTIFYs the caches.';

--
-- Name: _service_account(text); Type: FUNCTION; Schema: pgauth; Owner: pgauth_owner
--

CREATE FUNCTION pgauth._service_account(p_name text) RETURNS pgauth.service_accounts
    LANGUAGE plpgsql STABLE SECURITY DEFINER
    SET search_path TO 'pg_catalog', 'pgauth', 'pg_temp'
    AS $$
declare
  v_account pgauth.service_accounts;
begin
  select a.* into v_account from pgauth.service_accounts a where a.name = p_name;
  if not found then
    raise exception using errcode = 'NOSVC', message = 'service_account_not_found';
  end if;
  return v_account;
end
$$;

ALTER FUNCTION pgauth._service_account(p_name text) OWNER TO pgauth_owner;

--
-- Name: _settings(); Type: FUNCTION; Schema: pgauth; Owner: pgauth_owner
--

CREATE FUNCTION pgauth._settings() RETURNS pgauth.settings
    LANGUAGE sql STABLE SECURITY DEFINER
    SET search_path TO 'pg_catalog', 'pgauth', 'pg_temp'
    AS $$ select s from pgauth.settings s $$;

ALTER FUNCTION pgauth._settings() OWNER TO pgauth_owner;

--
-- Name: _start_session(pgauth.users, pgauth.settings, inet, text); Type: FUNCTION; Schema: pgauth; Owner: pgauth_owner
--

CREATE FUNCTION pgauth._start_session(p_user pgauth.users, p_settings pgauth.settings, p_client_ip inet, p_user_agent text, OUT user_id uuid, OUT session_id uuid, OUT access_token text, OUT access_expires_at timestamp with time zone, OUT refresh_token text, OUT refresh_expires_at timestamp with time zone) RETURNS record
    LANGUAGE plpgsql SECURITY DEFINER
    SET search_path TO 'pg_catalog', 'pgauth', 'pg_temp'
    AS $$
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

ALTER FUNCTION pgauth._start_session(p_user pgauth.users, p_settings pgauth.settings, p_client_ip inet, p_user_agent text, OUT user_id uuid, OUT session_id uuid, OUT access_token text, OUT access_expires_at timestamp with time zone, OUT refresh_token text, OUT refresh_expires_at timestamp with time zone) OWNER TO pgauth_owner;

--
-- Name: _statement_clock(); Type: FUNCTION; Schema: pgauth; Owner: pgauth_owner
--

CREATE FUNCTION pgauth._statement_clock() RETURNS timestamp with time zone
    LANGUAGE sql STABLE PARALLEL SAFE
    AS $$select pgauth.clock() + (pg_catalog.statement_timestamp() - pg_catalog.now())$$;

ALTER FUNCTION pgauth._statement_clock() OWNER TO pgauth_owner;

--
-- Name: FUNCTION _statement_clock(); Type: COMMENT; Schema: pgauth; Owner: pgauth_owner
--

COMMENT ON FUNCTION pgauth._statement_clock() IS 'The start of the current statement, shifted like pgauth.clock() by settings.clock_offset.';

--
-- Name: _store_attempt(pgauth.password_attempts); Type: FUNCTION; Schema: pgauth; Owner: pgauth_owner
--

CREATE FUNCTION pgauth._store_attempt(p_attempt pgauth.password_attempts) RETURNS text
    LANGUAGE plpgsql SECURITY DEFINER
    SET search_path TO 'pg_catalog', 'pgauth', 'pg_temp'
    AS $$
declare
  v_ticket text := pgauth._new_token('pgc_');
begin
  p_attempt.token_hash := pgauth._token_hash(v_ticket);
  p_attempt.xact := pg_catalog.pg_current_xact_id();
  insert into pgauth.password_attempts select p_attempt.*;
  return v_ticket;
end
$$;

ALTER FUNCTION pgauth._store_attempt(p_attempt pgauth.password_attempts) OWNER TO pgauth_owner;

--
-- Name: account_tokens; Type: TABLE; Schema: pgauth; Owner: pgauth_owner
--

CREATE TABLE pgauth.account_tokens (
    token_hash bytea NOT NULL,
    user_id uuid NOT NULL,
    purpose text NOT NULL,
    email text,
    created_at timestamp with time zone NOT NULL,
    expires_at timestamp with time zone NOT NULL,
    CONSTRAINT account_tokens_purpose_check CHECK ((purpose = ANY (ARRAY['verify_email'::text, 'password_reset'::text])))
);

ALTER TABLE pgauth.account_tokens OWNER TO pgauth_owner;

--
-- Name: TABLE account_tokens; Type: COMMENT; Schema: pgauth; Owner: pgauth_owner
--

COMMENT ON TABLE pgauth.account_tokens IS 'Live link tokens of email verification and password reset: SHA-256 only, single use.';

--
-- Name: _take_account_token(text, text); Type: FUNCTION; Schema: pgauth; Owner: pgauth_owner
--

CREATE FUNCTION pgauth._take_account_token(p_token text, p_purpose text) RETURNS pgauth.account_tokens
    LANGUAGE plpgsql SECURITY DEFINER
    SET search_path TO 'pg_catalog', 'pgauth', 'pg_temp'
    AS $$
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

ALTER FUNCTION pgauth._take_account_token(p_token text, p_purpose text) OWNER TO pgauth_owner;

--
-- Name: _take_attempt(text, text); Type: FUNCTION; Schema: pgauth; Owner: pgauth_owner
--

CREATE FUNCTION pgauth._take_attempt(p_ticket text, p_kind text) RETURNS pgauth.password_attempts
    LANGUAGE plpgsql SECURITY DEFINER
    SET search_path TO 'pg_catalog', 'pgauth', 'pg_temp'
    AS $$
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

ALTER FUNCTION pgauth._take_attempt(p_ticket text, p_kind text) OWNER TO pgauth_owner;

--
-- Name: _throttle_hit(text, text, integer, interval, timestamp with time zone); Type: FUNCTION; Schema: pgauth; Owner: pgauth_owner
--

CREATE FUNCTION pgauth._throttle_hit(p_bucket text, p_key text, p_max integer, p_window interval, p_now timestamp with time zone) RETURNS integer
    LANGUAGE plpgsql
    SET search_path TO 'pg_catalog', 'pgauth', 'pg_temp'
    AS $$
declare
  v_hits integer;
  v_end timestamptz;
begin
  insert into pgauth.rate_limits as r (bucket, key, window_end, hits)
  values (p_bucket, p_key, p_now + p_window, 1)
  on conflict on constraint rate_limits_pkey do update
    set hits = case when r.window_end <= p_now then 1 else r.hits + 1 end,
        window_end = case when r.window_end <= p_now then p_now + p_window else r.window_end end
  returning r.hits, r.window_end into v_hits, v_end;
  if v_hits <= p_max then
    return 0;
  end if;
  return greatest(1, ceil(extract(epoch from v_end - p_now))::integer);
end
$$;

ALTER FUNCTION pgauth._throttle_hit(p_bucket text, p_key text, p_max integer, p_window interval, p_now timestamp with time zone) OWNER TO pgauth_owner;

--
-- Name: _token_hash(text); Type: FUNCTION; Schema: pgauth; Owner: pgauth_owner
--

CREATE FUNCTION pgauth._token_hash(p_token text) RETURNS bytea
    LANGUAGE sql STABLE STRICT PARALLEL SAFE
    AS $$ select pg_catalog.sha256(pg_catalog.convert_to(p_token, 'UTF8')) $$;

ALTER FUNCTION pgauth._token_hash(p_token text) OWNER TO pgauth_owner;

--
-- Name: totp_factors; Type: TABLE; Schema: pgauth; Owner: pgauth_owner
--

CREATE TABLE pgauth.totp_factors (
    user_id uuid NOT NULL,
    secret bytea NOT NULL,
    created_at timestamp with time zone NOT NULL,
    confirmed_at timestamp with time zone,
    last_step bigint
);

ALTER TABLE pgauth.totp_factors OWNER TO pgauth_owner;

--
-- Name: TABLE totp_factors; Type: COMMENT; Schema: pgauth; Owner: pgauth_owner
--

COMMENT ON TABLE pgauth.totp_factors IS 'One TOTP factor per account: pending until confirmed_at. last_step: the newest time step accepted (no replay).';

--
-- Name: _totp_match(pgauth.totp_factors, text); Type: FUNCTION; Schema: pgauth; Owner: pgauth_owner
--

CREATE FUNCTION pgauth._totp_match(p_factor pgauth.totp_factors, p_code text) RETURNS bigint
    LANGUAGE plpgsql STABLE SECURITY DEFINER
    SET search_path TO 'pg_catalog', 'pgauth', 'pg_temp'
    AS $_$
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
$_$;

ALTER FUNCTION pgauth._totp_match(p_factor pgauth.totp_factors, p_code text) OWNER TO pgauth_owner;

--
-- Name: _touch_api_key(uuid, timestamp with time zone); Type: FUNCTION; Schema: pgauth; Owner: pgauth_owner
--

CREATE FUNCTION pgauth._touch_api_key(p_id uuid, p_now timestamp with time zone) RETURNS void
    LANGUAGE plpgsql SECURITY DEFINER
    SET search_path TO 'pg_catalog', 'pgauth', 'pg_temp'
    AS $$
begin
  update pgauth.api_keys k set last_used_at = p_now
  where k.id = (select x.id from pgauth.api_keys x
                where x.id = p_id
                  and (x.last_used_at is null or x.last_used_at < p_now - interval '1 minute')
                for update skip locked);
end
$$;

ALTER FUNCTION pgauth._touch_api_key(p_id uuid, p_now timestamp with time zone) OWNER TO pgauth_owner;

--
-- Name: _uri_encode(text); Type: FUNCTION; Schema: pgauth; Owner: pgauth_owner
--

CREATE FUNCTION pgauth._uri_encode(p_text text) RETURNS text
    LANGUAGE sql IMMUTABLE STRICT
    SET search_path TO 'pg_catalog', 'pg_temp'
    AS $$
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

ALTER FUNCTION pgauth._uri_encode(p_text text) OWNER TO pgauth_owner;

--
-- Name: _use_second_factor(uuid, text, text); Type: FUNCTION; Schema: pgauth; Owner: pgauth_owner
--

CREATE FUNCTION pgauth._use_second_factor(p_user_id uuid, p_code text, p_recovery_code text) RETURNS text
    LANGUAGE plpgsql SECURITY DEFINER
    SET search_path TO 'pg_catalog', 'pgauth', 'pg_temp'
    AS $$
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

ALTER FUNCTION pgauth._use_second_factor(p_user_id uuid, p_code text, p_recovery_code text) OWNER TO pgauth_owner;

--
-- Name: _user(uuid); Type: FUNCTION; Schema: pgauth; Owner: pgauth_owner
--

CREATE FUNCTION pgauth._user(p_user_id uuid) RETURNS pgauth.users
    LANGUAGE plpgsql STABLE SECURITY DEFINER
    SET search_path TO 'pg_catalog', 'pgauth', 'pg_temp'
    AS $$
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

ALTER FUNCTION pgauth._user(p_user_id uuid) OWNER TO pgauth_owner;

--
-- Name: _verify_password(text, text); Type: FUNCTION; Schema: pgauth; Owner: pgauth_owner
--

CREATE FUNCTION pgauth._verify_password(p_password text, p_hash text) RETURNS boolean
    LANGUAGE sql STRICT SECURITY DEFINER
    SET search_path TO 'pg_catalog', 'pgauth', 'pg_temp'
    AS $$ select pgauth._crypt(pgauth._prehash(p_password), p_hash) = p_hash $$;

ALTER FUNCTION pgauth._verify_password(p_password text, p_hash text) OWNER TO pgauth_owner;

--
-- Name: active_signing_key(); Type: FUNCTION; Schema: pgauth; Owner: pgauth_owner
--

CREATE FUNCTION pgauth.active_signing_key() RETURNS TABLE(kid text, alg text, private_key_encrypted text)
    LANGUAGE plpgsql STABLE SECURITY DEFINER
    SET search_path TO 'pg_catalog', 'pgauth', 'pg_temp'
    AS $$
begin
  return query
    select k.kid, k.alg, k.private_key_encrypted from pgauth.signing_keys k
    where k.retired_at is null;
end
$$;

ALTER FUNCTION pgauth.active_signing_key() OWNER TO pgauth_owner;

--
-- Name: FUNCTION active_signing_key(); Type: COMMENT; Schema: pgauth; Owner: pgauth_owner
--

COMMENT ON FUNCTION pgauth.active_signing_key() IS 'The key that signs access tokens, its private part encrypted (only the gateway holding the key-encryption key can use it); no row when there is none yet.';

--
-- Name: add_signing_key(text, text, jsonb, text); Type: FUNCTION; Schema: pgauth; Owner: pgauth_owner
--

CREATE FUNCTION pgauth.add_signing_key(p_kid text, p_alg text, p_public_jwk jsonb, p_private_key_encrypted text) RETURNS void
    LANGUAGE plpgsql SECURITY DEFINER
    SET search_path TO 'pg_catalog', 'pgauth', 'pg_temp'
    AS $$
begin
  if p_kid is null or p_alg is null or p_public_jwk is null or p_private_key_encrypted is null
     or pg_catalog.jsonb_typeof(p_public_jwk) <> 'object' or p_public_jwk ? 'd' then
    perform pgauth._invalid('a kid, an algorithm, a public JWK (no private part) and the encrypted private key');
  end if;
  update pgauth.signing_keys set retired_at = pgauth.clock() where retired_at is null;
  insert into pgauth.signing_keys (kid, alg, public_jwk, private_key_encrypted)
  values (p_kid, p_alg, p_public_jwk, p_private_key_encrypted);
  perform pgauth._audit('signing_key_added', null, null, null, null,
    pg_catalog.jsonb_build_object('kid', p_kid, 'alg', p_alg));
end
$$;

ALTER FUNCTION pgauth.add_signing_key(p_kid text, p_alg text, p_public_jwk jsonb, p_private_key_encrypted text) OWNER TO pgauth_owner;

--
-- Name: FUNCTION add_signing_key(p_kid text, p_alg text, p_public_jwk jsonb, p_private_key_encrypted text); Type: COMMENT; Schema: pgauth; Owner: pgauth_owner
--

COMMENT ON FUNCTION pgauth.add_signing_key(p_kid text, p_alg text, p_public_jwk jsonb, p_private_key_encrypted text) IS 'Admin (the gateway and pgauth keys rotate): stores a new signing key, which signs from now on, and retires the active one. The private key arrives encrypted; never in clear. BADIN.';

--
-- Name: audit_events(uuid, timestamp with time zone, integer); Type: FUNCTION; Schema: pgauth; Owner: pgauth_owner
--

CREATE FUNCTION pgauth.audit_events(p_user_id uuid DEFAULT NULL::uuid, p_since timestamp with time zone DEFAULT NULL::timestamp with time zone, p_limit integer DEFAULT 100) RETURNS TABLE(at timestamp with time zone, event text, user_id uuid, session_id uuid, client_ip inet, detail jsonb)
    LANGUAGE plpgsql STABLE SECURITY DEFINER
    SET search_path TO 'pg_catalog', 'pgauth', 'pg_temp'
    AS $$
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

ALTER FUNCTION pgauth.audit_events(p_user_id uuid, p_since timestamp with time zone, p_limit integer) OWNER TO pgauth_owner;

--
-- Name: FUNCTION audit_events(p_user_id uuid, p_since timestamp with time zone, p_limit integer); Type: COMMENT; Schema: pgauth; Owner: pgauth_owner
--

COMMENT ON FUNCTION pgauth.audit_events(p_user_id uuid, p_since timestamp with time zone, p_limit integer) IS 'Admin: audit events, newest first, optionally of one user and since a time; at most p_limit (1 to 10000).';

--
-- Name: change_password(uuid, text, text); Type: FUNCTION; Schema: pgauth; Owner: pgauth_owner
--

CREATE FUNCTION pgauth.change_password(p_user_id uuid, p_current_password text, p_new_password text) RETURNS boolean
    LANGUAGE plpgsql SECURITY DEFINER
    SET search_path TO 'pg_catalog', 'pgauth', 'pg_temp'
    AS $$
begin
  return pgauth._change_password_finish(
    pgauth._change_password_verdict(p_user_id, p_current_password, p_new_password),
    p_new_password);
end
$$;

ALTER FUNCTION pgauth.change_password(p_user_id uuid, p_current_password text, p_new_password text) OWNER TO pgauth_owner;

--
-- Name: FUNCTION change_password(p_user_id uuid, p_current_password text, p_new_password text); Type: COMMENT; Schema: pgauth; Owner: pgauth_owner
--

COMMENT ON FUNCTION pgauth.change_password(p_user_id uuid, p_current_password text, p_new_password text) IS 'Admin: changes a password given the current one, in the caller''s transaction. False when the current password is wrong (counted like a failed login) or the account is locked or disabled (refused before any hashing); WEAKP when the new one is refused. On success every session of the user is revoked. A rollback erases its failure count: front doors use change_password_durably.';

--
-- Name: change_password_answer(text, text); Type: FUNCTION; Schema: pgauth; Owner: pgauth_owner
--

CREATE FUNCTION pgauth.change_password_answer(p_attempt text, p_new_password text) RETURNS boolean
    LANGUAGE plpgsql SECURITY DEFINER
    SET search_path TO 'pg_catalog', 'pgauth', 'pg_temp'
    AS $$
declare
  v_attempt pgauth.password_attempts := pgauth._take_attempt(p_attempt, 'change_password');
begin
  if v_attempt.token_hash is null then
    return false;
  end if;
  return pgauth._change_password_finish(v_attempt, p_new_password);
end
$$;

ALTER FUNCTION pgauth.change_password_answer(p_attempt text, p_new_password text) OWNER TO pgauth_owner;

--
-- Name: FUNCTION change_password_answer(p_attempt text, p_new_password text); Type: COMMENT; Schema: pgauth; Owner: pgauth_owner
--

COMMENT ON FUNCTION pgauth.change_password_answer(p_attempt text, p_new_password text) IS 'Step 2 of change_password_durably: for the ticket of a change_password_attempt whose transaction committed less than a minute ago, sets the new password and returns true when the current one was right (every session of the user is revoked); false otherwise. Each ticket answers once. WEAKP.';

--
-- Name: change_password_attempt(uuid, text, text); Type: FUNCTION; Schema: pgauth; Owner: pgauth_owner
--

CREATE FUNCTION pgauth.change_password_attempt(p_user_id uuid, p_current_password text, p_new_password text) RETURNS text
    LANGUAGE plpgsql SECURITY DEFINER
    SET search_path TO 'pg_catalog', 'pgauth', 'pg_temp'
    AS $$
begin
  perform pgauth._require_fresh_transaction();
  return pgauth._store_attempt(
    pgauth._change_password_verdict(p_user_id, p_current_password, p_new_password));
end
$$;

ALTER FUNCTION pgauth.change_password_attempt(p_user_id uuid, p_current_password text, p_new_password text) OWNER TO pgauth_owner;

--
-- Name: FUNCTION change_password_attempt(p_user_id uuid, p_current_password text, p_new_password text); Type: COMMENT; Schema: pgauth; Owner: pgauth_owner
--

COMMENT ON FUNCTION pgauth.change_password_attempt(p_user_id uuid, p_current_password text, p_new_password text) IS 'Step 1 of change_password_durably: checks the new password against the policy (WEAKP), then the current one (counted like a login; a locked or disabled account is refused without hashing), and returns a ticket for change_password_answer. Must be the first write of its transaction (else BADIN). NOUSR, BADIN.';

--
-- Name: change_password_durably(uuid, text, text, boolean); Type: PROCEDURE; Schema: pgauth; Owner: pgauth_owner
--

CREATE PROCEDURE pgauth.change_password_durably(IN p_user_id uuid, IN p_current_password text, IN p_new_password text, INOUT changed boolean DEFAULT NULL::boolean)
    LANGUAGE plpgsql
    AS $$
declare
  v_attempt text;
begin
  v_attempt := pgauth.change_password_attempt(p_user_id, p_current_password, p_new_password);
  commit;
  changed := pgauth.change_password_answer(v_attempt, p_new_password);
  commit;
end
$$;

ALTER PROCEDURE pgauth.change_password_durably(IN p_user_id uuid, IN p_current_password text, IN p_new_password text, INOUT changed boolean) OWNER TO pgauth_owner;

--
-- Name: PROCEDURE change_password_durably(IN p_user_id uuid, IN p_current_password text, IN p_new_password text, INOUT changed boolean); Type: COMMENT; Schema: pgauth; Owner: pgauth_owner
--

COMMENT ON PROCEDURE pgauth.change_password_durably(IN p_user_id uuid, IN p_current_password text, IN p_new_password text, INOUT changed boolean) IS 'The password change of front doors: CALL pgauth.change_password_durably(user_id, current, new). One row: changed, true when the current password was right and the new one is set (every session of the user is revoked), false when the current one is wrong (counted like a failed login) or the account is locked or disabled (refused before any hashing). The check is committed before the answer: call it outside BEGIN … COMMIT (else SQLSTATE 2D000). WEAKP when the new password is refused, NOUSR, BADIN.';

--
-- Name: client_credentials(text, text, text[], inet); Type: FUNCTION; Schema: pgauth; Owner: pgauth_owner
--

CREATE FUNCTION pgauth.client_credentials(p_client_id text, p_client_secret text, p_scope text[] DEFAULT NULL::text[], p_client_ip inet DEFAULT NULL::inet) RETURNS TABLE(service_account_id uuid, api_key_id uuid, token_id uuid, access_token text, token_format text, roles text[], expires_at timestamp with time zone)
    LANGUAGE plpgsql SECURITY DEFINER
    SET search_path TO 'pg_catalog', 'pgauth', 'pg_temp'
    AS $$
declare
  v_now timestamptz := pgauth.clock();
  v_key pgauth.api_keys;
  v_account pgauth.service_accounts;
  v_settings pgauth.settings := pgauth._settings();
  v_roles text[];
  v_hash bytea;
begin
  if char_length(p_client_id) > 200 or char_length(p_client_secret) > 200
     or pg_catalog.cardinality(p_scope) > 50 then
    perform pgauth._invalid('client_id and client_secret of at most 200 characters, at most 50 scopes');
  end if;
  if pg_catalog.left(p_client_secret, 4) = 'pgk_' then
    select k.* into v_key from pgauth.api_keys k
    where k.key_hash = pgauth._token_hash(p_client_secret) and k.kind = 'api_key';
  end if;
  if v_key.id is null or v_key.account_name is distinct from p_client_id
     or v_key.revoked_at is not null or v_key.disabled_at is not null
     or v_key.expires_at <= v_now then
    perform pgauth._audit('client_authentication_failed', null, null, p_client_ip, null,
      pg_catalog.jsonb_build_object('client_id', pg_catalog.left(p_client_id, 64)));
    return;
  end if;
  select a.* into v_account from pgauth.service_accounts a where a.id = v_key.service_account_id;
  if p_scope is null then
    v_roles := v_key.roles;
  elsif exists (select 1 from pg_catalog.unnest(p_scope) s where not (s = any (v_key.roles))) then
    raise exception using errcode = 'SCOPE', message = 'invalid_scope';
  else
    v_roles := array(select distinct s from pg_catalog.unnest(p_scope) s order by s);
  end if;
  perform pgauth._touch_api_key(v_key.id, v_now);
  service_account_id := v_account.id;
  api_key_id := v_key.id;
  token_id := gen_random_uuid();
  token_format := coalesce(v_account.access_token_format, v_settings.access_token_format);
  roles := v_roles;
  expires_at := v_now + v_settings.service_token_ttl;
  if v_key.expires_at is not null then
    expires_at := least(expires_at, v_key.expires_at);
  end if;
  if token_format = 'jwt' then
    v_hash := pgauth._token_hash('pgj_' || token_id::text);
  else
    access_token := pgauth._new_token('pgs_');
    v_hash := pgauth._token_hash(access_token);
  end if;
  insert into pgauth.api_keys (id, kind, service_account_id, parent_id, key_hash, account_name,
    roles, expires_at, created_at)
  values (token_id, 'access_token', v_account.id, v_key.id, v_hash, v_account.name, v_roles,
    expires_at, v_now);
  perform pgauth._audit('client_credentials_granted', null, null, p_client_ip, null,
    pg_catalog.jsonb_build_object('service_account_id', v_account.id, 'api_key_id', v_key.id,
      'token_id', token_id, 'scope', v_roles));
  return next;
end
$$;

ALTER FUNCTION pgauth.client_credentials(p_client_id text, p_client_secret text, p_scope text[], p_client_ip inet) OWNER TO pgauth_owner;

--
-- Name: FUNCTION client_credentials(p_client_id text, p_client_secret text, p_scope text[], p_client_ip inet); Type: COMMENT; Schema: pgauth; Owner: pgauth_owner
--

COMMENT ON FUNCTION pgauth.client_credentials(p_client_id text, p_client_secret text, p_scope text[], p_client_ip inet) IS 'OAuth 2 client credentials: client_id is a service account name, client_secret one of its API keys. One row with a new access token (opaque pgs_…, or, when the format is jwt, no token: the caller signs a JWT with jti = token_id), its roles (the scope) and expiry; no row when the client does not authenticate (audited). SCOPE invalid_scope, BADIN.';

--
-- Name: create_api_key(text, text, timestamp with time zone); Type: FUNCTION; Schema: pgauth; Owner: pgauth_owner
--

CREATE FUNCTION pgauth.create_api_key(p_service_account text, p_name text, p_expires_at timestamp with time zone DEFAULT NULL::timestamp with time zone) RETURNS TABLE(id uuid, key text)
    LANGUAGE plpgsql SECURITY DEFINER
    SET search_path TO 'pg_catalog', 'pgauth', 'pg_temp'
    AS $$
declare
  v_account pgauth.service_accounts := pgauth._service_account(p_service_account);
begin
  if p_name is null or char_length(p_name) not between 1 and 64 then
    perform pgauth._invalid('an API key needs a name of 1 to 64 characters');
  end if;
  if p_expires_at is not null and p_expires_at <= pgauth.clock() then
    perform pgauth._invalid('expires_at must be in the future');
  end if;
  if v_account.disabled_at is not null then
    raise exception using errcode = 'SVCOF', message = 'service_account_disabled';
  end if;
  key := pgauth._new_token('pgk_');
  insert into pgauth.api_keys as k (kind, service_account_id, name, key_hash, account_name, roles,
    expires_at)
  values ('api_key', v_account.id, p_name, pgauth._token_hash(key), v_account.name,
    v_account.roles, p_expires_at)
  returning k.id into id;
  perform pgauth._audit('api_key_created', null, null, null, null,
    pg_catalog.jsonb_build_object('service_account_id', v_account.id, 'api_key_id', id,
      'name', p_name));
  return next;
end
$$;

ALTER FUNCTION pgauth.create_api_key(p_service_account text, p_name text, p_expires_at timestamp with time zone) OWNER TO pgauth_owner;

--
-- Name: FUNCTION create_api_key(p_service_account text, p_name text, p_expires_at timestamp with time zone); Type: COMMENT; Schema: pgauth; Owner: pgauth_owner
--

COMMENT ON FUNCTION pgauth.create_api_key(p_service_account text, p_name text, p_expires_at timestamp with time zone) IS 'Admin: a new API key (pgk_…, 256 random bits) of a service account, optionally expiring; returns its id and the key, the only time the key is shown (only its SHA-256 is stored). NOSVC, SVCOF, BADIN.';

--
-- Name: create_service_account(text, text[]); Type: FUNCTION; Schema: pgauth; Owner: pgauth_owner
--

CREATE FUNCTION pgauth.create_service_account(p_name text, p_roles text[] DEFAULT '{}'::text[]) RETURNS uuid
    LANGUAGE plpgsql SECURITY DEFINER
    SET search_path TO 'pg_catalog', 'pgauth', 'pg_temp'
    AS $_$
declare
  v_id uuid;
  v_roles text[];
begin
  if p_name is null or p_name !~ '^[a-z][a-z0-9_.-]{0,62}$' then
    perform pgauth._invalid('service account names are 1 to 63 characters: a-z first, then a-z 0-9 _ . -');
  end if;
  v_roles := pgauth._role_list(coalesce(p_roles, '{}'));
  insert into pgauth.service_accounts (name, roles) values (p_name, v_roles)
  on conflict do nothing
  returning id into v_id;
  if v_id is null then
    raise exception using errcode = 'TAKEN', message = 'name_taken';
  end if;
  perform pgauth._audit('service_account_created', null, null, null, null,
    pg_catalog.jsonb_build_object('service_account_id', v_id, 'name', p_name, 'roles', v_roles));
  return v_id;
end
$_$;

ALTER FUNCTION pgauth.create_service_account(p_name text, p_roles text[]) OWNER TO pgauth_owner;

--
-- Name: FUNCTION create_service_account(p_name text, p_roles text[]); Type: COMMENT; Schema: pgauth; Owner: pgauth_owner
--

COMMENT ON FUNCTION pgauth.create_service_account(p_name text, p_roles text[]) IS 'Admin: creates a service account holding roles (created when new); returns its id. TAKEN name_taken, BADIN.';

--
-- Name: create_user(text, text, text, text[]); Type: FUNCTION; Schema: pgauth; Owner: pgauth_owner
--

CREATE FUNCTION pgauth.create_user(p_username text, p_password text, p_email text DEFAULT NULL::text, p_roles text[] DEFAULT '{}'::text[]) RETURNS uuid
    LANGUAGE plpgsql SECURITY DEFINER
    SET search_path TO 'pg_catalog', 'pgauth', 'pg_temp'
    AS $$
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

ALTER FUNCTION pgauth.create_user(p_username text, p_password text, p_email text, p_roles text[]) OWNER TO pgauth_owner;

--
-- Name: FUNCTION create_user(p_username text, p_password text, p_email text, p_roles text[]); Type: COMMENT; Schema: pgauth; Owner: pgauth_owner
--

COMMENT ON FUNCTION pgauth.create_user(p_username text, p_password text, p_email text, p_roles text[]) IS 'Admin: creates a user whether or not registration is open, with the given roles. Errors as register, without REGOF.';

--
-- Name: delete_user(uuid); Type: FUNCTION; Schema: pgauth; Owner: pgauth_owner
--

CREATE FUNCTION pgauth.delete_user(p_user_id uuid) RETURNS void
    LANGUAGE plpgsql SECURITY DEFINER
    SET search_path TO 'pg_catalog', 'pgauth', 'pg_temp'
    AS $$
begin
  perform pgauth._user(p_user_id);
  update pgauth.users u set deleted_at = pgauth.clock() where u.id = p_user_id;
  perform pgauth._audit('user_deleted', p_user_id, null, null, null, '{}');
end
$$;

ALTER FUNCTION pgauth.delete_user(p_user_id uuid) OWNER TO pgauth_owner;

--
-- Name: FUNCTION delete_user(p_user_id uuid); Type: COMMENT; Schema: pgauth; Owner: pgauth_owner
--

COMMENT ON FUNCTION pgauth.delete_user(p_user_id uuid) IS 'Admin: deletes a user. Every session is revoked, the username becomes free, the audit rows stay. NOUSR.';

--
-- Name: disable_service_account(text); Type: FUNCTION; Schema: pgauth; Owner: pgauth_owner
--

CREATE FUNCTION pgauth.disable_service_account(p_name text) RETURNS void
    LANGUAGE plpgsql SECURITY DEFINER
    SET search_path TO 'pg_catalog', 'pgauth', 'pg_temp'
    AS $$
declare
  v_account pgauth.service_accounts := pgauth._service_account(p_name);
begin
  if v_account.disabled_at is not null then
    return;
  end if;
  update pgauth.service_accounts set disabled_at = pgauth.clock() where id = v_account.id;
  perform pgauth._audit('service_account_disabled', null, null, null, null,
    pg_catalog.jsonb_build_object('service_account_id', v_account.id, 'name', v_account.name));
end
$$;

ALTER FUNCTION pgauth.disable_service_account(p_name text) OWNER TO pgauth_owner;

--
-- Name: FUNCTION disable_service_account(p_name text); Type: COMMENT; Schema: pgauth; Owner: pgauth_owner
--

COMMENT ON FUNCTION pgauth.disable_service_account(p_name text) IS 'Admin: disables a service account: none of its keys or tokens validates from now on, and the caches are told. NOSVC.';

--
-- Name: find_user(text); Type: FUNCTION; Schema: pgauth; Owner: pgauth_owner
--

CREATE FUNCTION pgauth.find_user(p_user text) RETURNS uuid
    LANGUAGE plpgsql STABLE SECURITY DEFINER
    SET search_path TO 'pg_catalog', 'pgauth', 'pg_temp'
    AS $_$
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
$_$;

ALTER FUNCTION pgauth.find_user(p_user text) OWNER TO pgauth_owner;

--
-- Name: FUNCTION find_user(p_user text); Type: COMMENT; Schema: pgauth; Owner: pgauth_owner
--

COMMENT ON FUNCTION pgauth.find_user(p_user text) IS 'Admin: the id of a user named by username (case-insensitively) or by id. NOUSR.';

--
-- Name: get_settings(); Type: FUNCTION; Schema: pgauth; Owner: pgauth_owner
--

CREATE FUNCTION pgauth.get_settings() RETURNS TABLE(bcrypt_cost integer, password_min_length integer, max_failed_logins integer, lockout_seconds integer, lockout_max_seconds integer, access_token_ttl_seconds integer, refresh_token_ttl_seconds integer, session_max_age_seconds integer, refresh_reuse_grace_seconds integer, session_retention_seconds integer, allow_registration boolean, require_verified_email boolean, email_verification_ttl_seconds integer, password_reset_ttl_seconds integer, password_reset_per_address integer, password_reset_per_ip integer, mfa_challenge_ttl_seconds integer, totp_issuer text, mail_max_attempts integer, access_token_format text, service_token_ttl_seconds integer)
    LANGUAGE plpgsql STABLE SECURITY DEFINER
    SET search_path TO 'pg_catalog', 'pgauth', 'pg_temp'
    AS $$
begin
  return query
    select s.bcrypt_cost, s.password_min_length, s.max_failed_logins, s.lockout_seconds,
      s.lockout_max_seconds,
      extract(epoch from s.access_token_ttl)::integer,
      extract(epoch from s.refresh_token_ttl)::integer,
      extract(epoch from s.session_max_age)::integer,
      extract(epoch from s.refresh_reuse_grace)::integer,
      extract(epoch from s.session_retention)::integer,
      s.allow_registration, s.require_verified_email,
      extract(epoch from s.email_verification_ttl)::integer,
      extract(epoch from s.password_reset_ttl)::integer,
      s.password_reset_per_address, s.password_reset_per_ip,
      extract(epoch from s.mfa_challenge_ttl)::integer,
      s.totp_issuer, s.mail_max_attempts, s.access_token_format,
      extract(epoch from s.service_token_ttl)::integer
    from pgauth.settings s;
end
$$;

ALTER FUNCTION pgauth.get_settings() OWNER TO pgauth_owner;

--
-- Name: FUNCTION get_settings(); Type: COMMENT; Schema: pgauth; Owner: pgauth_owner
--

COMMENT ON FUNCTION pgauth.get_settings() IS 'Admin: the policy settings, durations in seconds (clock_offset, for tests, is not shown).';

--
-- Name: get_user(uuid); Type: FUNCTION; Schema: pgauth; Owner: pgauth_owner
--

CREATE FUNCTION pgauth.get_user(p_user_id uuid) RETURNS TABLE(id uuid, username text, email text, roles text[], created_at timestamp with time zone, last_login_at timestamp with time zone, failed_logins integer, locked_until timestamp with time zone, lock_reason text, disabled_at timestamp with time zone, live_sessions bigint)
    LANGUAGE plpgsql STABLE SECURITY DEFINER
    SET search_path TO 'pg_catalog', 'pgauth', 'pg_temp'
    AS $$
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

ALTER FUNCTION pgauth.get_user(p_user_id uuid) OWNER TO pgauth_owner;

--
-- Name: FUNCTION get_user(p_user_id uuid); Type: COMMENT; Schema: pgauth; Owner: pgauth_owner
--

COMMENT ON FUNCTION pgauth.get_user(p_user_id uuid) IS 'Admin: one user, as list_users shows it. NOUSR.';

--
-- Name: grant_role(uuid, text); Type: FUNCTION; Schema: pgauth; Owner: pgauth_owner
--

CREATE FUNCTION pgauth.grant_role(p_user_id uuid, p_role text) RETURNS void
    LANGUAGE plpgsql SECURITY DEFINER
    SET search_path TO 'pg_catalog', 'pgauth', 'pg_temp'
    AS $_$
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
$_$;

ALTER FUNCTION pgauth.grant_role(p_user_id uuid, p_role text) OWNER TO pgauth_owner;

--
-- Name: FUNCTION grant_role(p_user_id uuid, p_role text); Type: COMMENT; Schema: pgauth; Owner: pgauth_owner
--

COMMENT ON FUNCTION pgauth.grant_role(p_user_id uuid, p_role text) IS 'Admin: grants a role (created when new). Live sessions carry it from their next validation. NOUSR, BADIN.';

--
-- Name: list_api_keys(text); Type: FUNCTION; Schema: pgauth; Owner: pgauth_owner
--

CREATE FUNCTION pgauth.list_api_keys(p_service_account text) RETURNS TABLE(id uuid, name text, created_at timestamp with time zone, expires_at timestamp with time zone, last_used_at timestamp with time zone, revoked_at timestamp with time zone)
    LANGUAGE plpgsql STABLE SECURITY DEFINER
    SET search_path TO 'pg_catalog', 'pgauth', 'pg_temp'
    AS $$
declare
  v_account pgauth.service_accounts := pgauth._service_account(p_service_account);
begin
  return query
    select k.id, k.name, k.created_at, k.expires_at, k.last_used_at, k.revoked_at
    from pgauth.api_keys k
    where k.service_account_id = v_account.id and k.kind = 'api_key'
    order by k.created_at desc, k.id;
end
$$;

ALTER FUNCTION pgauth.list_api_keys(p_service_account text) OWNER TO pgauth_owner;

--
-- Name: FUNCTION list_api_keys(p_service_account text); Type: COMMENT; Schema: pgauth; Owner: pgauth_owner
--

COMMENT ON FUNCTION pgauth.list_api_keys(p_service_account text) IS 'Admin: the API keys of a service account, newest first, revoked ones too; never a key itself. NOSVC.';

--
-- Name: list_service_accounts(); Type: FUNCTION; Schema: pgauth; Owner: pgauth_owner
--

CREATE FUNCTION pgauth.list_service_accounts() RETURNS TABLE(id uuid, name text, roles text[], access_token_format text, created_at timestamp with time zone, disabled_at timestamp with time zone, live_api_keys bigint)
    LANGUAGE plpgsql STABLE SECURITY DEFINER
    SET search_path TO 'pg_catalog', 'pgauth', 'pg_temp'
    AS $$
declare
  v_now timestamptz := pgauth.clock();
begin
  return query
    select a.id, a.name, a.roles, a.access_token_format, a.created_at, a.disabled_at,
      (select count(*) from pgauth.api_keys k
       where k.service_account_id = a.id and k.kind = 'api_key' and k.revoked_at is null
         and (k.expires_at is null or k.expires_at > v_now))
    from pgauth.service_accounts a order by a.name;
end
$$;

ALTER FUNCTION pgauth.list_service_accounts() OWNER TO pgauth_owner;

--
-- Name: FUNCTION list_service_accounts(); Type: COMMENT; Schema: pgauth; Owner: pgauth_owner
--

COMMENT ON FUNCTION pgauth.list_service_accounts() IS 'Admin: every service account by name, with how many API keys are live.';

--
-- Name: list_sessions(uuid); Type: FUNCTION; Schema: pgauth; Owner: pgauth_owner
--

CREATE FUNCTION pgauth.list_sessions(p_user_id uuid) RETURNS TABLE(id uuid, created_at timestamp with time zone, access_expires_at timestamp with time zone, refresh_expires_at timestamp with time zone, expires_at timestamp with time zone, refresh_generation integer, client_ip inet, user_agent text)
    LANGUAGE plpgsql STABLE SECURITY DEFINER
    SET search_path TO 'pg_catalog', 'pgauth', 'pg_temp'
    AS $$
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

ALTER FUNCTION pgauth.list_sessions(p_user_id uuid) OWNER TO pgauth_owner;

--
-- Name: FUNCTION list_sessions(p_user_id uuid); Type: COMMENT; Schema: pgauth; Owner: pgauth_owner
--

COMMENT ON FUNCTION pgauth.list_sessions(p_user_id uuid) IS 'Admin: the live sessions of a user (not revoked, refresh token not expired), newest first. NOUSR.';

--
-- Name: list_users(integer, integer); Type: FUNCTION; Schema: pgauth; Owner: pgauth_owner
--

CREATE FUNCTION pgauth.list_users(p_limit integer DEFAULT 100, p_offset integer DEFAULT 0) RETURNS TABLE(id uuid, username text, email text, roles text[], created_at timestamp with time zone, last_login_at timestamp with time zone, failed_logins integer, locked_until timestamp with time zone, lock_reason text, disabled_at timestamp with time zone, live_sessions bigint)
    LANGUAGE plpgsql STABLE SECURITY DEFINER
    SET search_path TO 'pg_catalog', 'pgauth', 'pg_temp'
    AS $$
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

ALTER FUNCTION pgauth.list_users(p_limit integer, p_offset integer) OWNER TO pgauth_owner;

--
-- Name: FUNCTION list_users(p_limit integer, p_offset integer); Type: COMMENT; Schema: pgauth; Owner: pgauth_owner
--

COMMENT ON FUNCTION pgauth.list_users(p_limit integer, p_offset integer) IS 'Admin: users not deleted, by username, with their roles, lock state and count of live sessions.';

--
-- Name: lock_user(uuid, timestamp with time zone, text); Type: FUNCTION; Schema: pgauth; Owner: pgauth_owner
--

CREATE FUNCTION pgauth.lock_user(p_user_id uuid, p_until timestamp with time zone DEFAULT 'infinity'::timestamp with time zone, p_reason text DEFAULT NULL::text) RETURNS void
    LANGUAGE plpgsql SECURITY DEFINER
    SET search_path TO 'pg_catalog', 'pgauth', 'pg_temp'
    AS $$
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

ALTER FUNCTION pgauth.lock_user(p_user_id uuid, p_until timestamp with time zone, p_reason text) OWNER TO pgauth_owner;

--
-- Name: FUNCTION lock_user(p_user_id uuid, p_until timestamp with time zone, p_reason text); Type: COMMENT; Schema: pgauth; Owner: pgauth_owner
--

COMMENT ON FUNCTION pgauth.lock_user(p_user_id uuid, p_until timestamp with time zone, p_reason text) IS 'Admin: locks an account until a time (default: until unlocked). Every session of the user is revoked. NOUSR; BADIN for a time not in the future.';

--
-- Name: login(text, text, inet, text); Type: FUNCTION; Schema: pgauth; Owner: pgauth_owner
--

CREATE FUNCTION pgauth.login(p_username text, p_password text, p_client_ip inet DEFAULT NULL::inet, p_user_agent text DEFAULT NULL::text) RETURNS TABLE(user_id uuid, session_id uuid, access_token text, access_expires_at timestamp with time zone, refresh_token text, refresh_expires_at timestamp with time zone)
    LANGUAGE plpgsql SECURITY DEFINER
    SET search_path TO 'pg_catalog', 'pgauth', 'pg_temp'
    AS $$
begin
  return query select f.user_id, f.session_id, f.access_token, f.access_expires_at,
      f.refresh_token, f.refresh_expires_at
    from pgauth._login_finish(
      pgauth._login_verdict(p_username, p_password, p_client_ip, p_user_agent), p_password, true) f
    where f.status = 'ok';
end
$$;

ALTER FUNCTION pgauth.login(p_username text, p_password text, p_client_ip inet, p_user_agent text) OWNER TO pgauth_owner;

--
-- Name: FUNCTION login(p_username text, p_password text, p_client_ip inet, p_user_agent text); Type: COMMENT; Schema: pgauth; Owner: pgauth_owner
--

COMMENT ON FUNCTION pgauth.login(p_username text, p_password text, p_client_ip inet, p_user_agent text) IS 'Admin: checks a password and starts a session in the caller''s transaction: one row with the user id, session id and a fresh access/refresh token pair, or no row on any failure (unknown user, wrong password, locked, disabled) and for an account that needs a second factor or a verified address (front doors use login_durably). A rollback erases its failure count. Raises BADIN only on missing or over-long input.';

--
-- Name: login_answer(text, text); Type: FUNCTION; Schema: pgauth; Owner: pgauth_owner
--

CREATE FUNCTION pgauth.login_answer(p_attempt text, p_password text) RETURNS TABLE(user_id uuid, session_id uuid, access_token text, access_expires_at timestamp with time zone, refresh_token text, refresh_expires_at timestamp with time zone, status text, mfa_challenge text, mfa_expires_at timestamp with time zone)
    LANGUAGE plpgsql SECURITY DEFINER
    SET search_path TO 'pg_catalog', 'pgauth', 'pg_temp'
    AS $$
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

ALTER FUNCTION pgauth.login_answer(p_attempt text, p_password text) OWNER TO pgauth_owner;

--
-- Name: FUNCTION login_answer(p_attempt text, p_password text); Type: COMMENT; Schema: pgauth; Owner: pgauth_owner
--

COMMENT ON FUNCTION pgauth.login_answer(p_attempt text, p_password text) IS 'Step 2 of login_durably: for the ticket of a login_attempt whose transaction committed less than a minute ago, one row when the password was right, else no row. status ok: a new session and token pair; mfa_required: no tokens, a challenge for login_mfa_durably (mfa_challenge, mfa_expires_at); email_not_verified: no tokens (settings.require_verified_email). Each ticket answers once; p_password is the one given to login_attempt.';

--
-- Name: login_attempt(text, text, inet, text); Type: FUNCTION; Schema: pgauth; Owner: pgauth_owner
--

CREATE FUNCTION pgauth.login_attempt(p_username text, p_password text, p_client_ip inet DEFAULT NULL::inet, p_user_agent text DEFAULT NULL::text) RETURNS text
    LANGUAGE plpgsql SECURITY DEFINER
    SET search_path TO 'pg_catalog', 'pgauth', 'pg_temp'
    AS $$
begin
  perform pgauth._require_fresh_transaction();
  return pgauth._store_attempt(
    pgauth._login_verdict(p_username, p_password, p_client_ip, p_user_agent));
end
$$;

ALTER FUNCTION pgauth.login_attempt(p_username text, p_password text, p_client_ip inet, p_user_agent text) OWNER TO pgauth_owner;

--
-- Name: FUNCTION login_attempt(p_username text, p_password text, p_client_ip inet, p_user_agent text); Type: COMMENT; Schema: pgauth; Owner: pgauth_owner
--

COMMENT ON FUNCTION pgauth.login_attempt(p_username text, p_password text, p_client_ip inet, p_user_agent text) IS 'Step 1 of login_durably: checks a password, counts a failure or locks, and returns a ticket whose outcome login_answer reveals once this transaction has committed. Must be the first write of its transaction (else BADIN); BADIN on missing or over-long input.';

--
-- Name: login_durably(text, text, inet, text, uuid, uuid, text, timestamp with time zone, text, timestamp with time zone, text, timestamp with time zone); Type: PROCEDURE; Schema: pgauth; Owner: pgauth_owner
--

CREATE PROCEDURE pgauth.login_durably(IN p_username text, IN p_password text, IN p_client_ip inet DEFAULT NULL::inet, IN p_user_agent text DEFAULT NULL::text, INOUT user_id uuid DEFAULT NULL::uuid, INOUT session_id uuid DEFAULT NULL::uuid, INOUT access_token text DEFAULT NULL::text, INOUT access_expires_at timestamp with time zone DEFAULT NULL::timestamp with time zone, INOUT refresh_token text DEFAULT NULL::text, INOUT refresh_expires_at timestamp with time zone DEFAULT NULL::timestamp with time zone, INOUT mfa_challenge text DEFAULT NULL::text, INOUT mfa_expires_at timestamp with time zone DEFAULT NULL::timestamp with time zone)
    LANGUAGE plpgsql
    AS $$
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

ALTER PROCEDURE pgauth.login_durably(IN p_username text, IN p_password text, IN p_client_ip inet, IN p_user_agent text, INOUT user_id uuid, INOUT session_id uuid, INOUT access_token text, INOUT access_expires_at timestamp with time zone, INOUT refresh_token text, INOUT refresh_expires_at timestamp with time zone, INOUT mfa_challenge text, INOUT mfa_expires_at timestamp with time zone) OWNER TO pgauth_owner;

--
-- Name: PROCEDURE login_durably(IN p_username text, IN p_password text, IN p_client_ip inet, IN p_user_agent text, INOUT user_id uuid, INOUT session_id uuid, INOUT access_token text, INOUT access_expires_at timestamp with time zone, INOUT refresh_token text, INOUT refresh_expires_at timestamp with time zone, INOUT mfa_challenge text, INOUT mfa_expires_at timestamp with time zone); Type: COMMENT; Schema: pgauth; Owner: pgauth_owner
--

COMMENT ON PROCEDURE pgauth.login_durably(IN p_username text, IN p_password text, IN p_client_ip inet, IN p_user_agent text, INOUT user_id uuid, INOUT session_id uuid, INOUT access_token text, INOUT access_expires_at timestamp with time zone, INOUT refresh_token text, INOUT refresh_expires_at timestamp with time zone, INOUT mfa_challenge text, INOUT mfa_expires_at timestamp with time zone) IS 'The login of front doors: CALL pgauth.login_durably(username, password[, client_ip, user_agent]). One row: user id, session id and a fresh token pair; or, for an account with a second factor, NULL tokens and mfa_challenge / mfa_expires_at (finish with login_mfa_durably); all NULL on any failure. NOVER (after the refusal is committed) when the password is right but settings.require_verified_email holds and the address is not verified. The check and its consequences are committed before the answer: call it outside BEGIN … COMMIT (else SQLSTATE 2D000). BADIN on missing or over-long input.';

--
-- Name: login_mfa_answer(text); Type: FUNCTION; Schema: pgauth; Owner: pgauth_owner
--

CREATE FUNCTION pgauth.login_mfa_answer(p_challenge text) RETURNS TABLE(user_id uuid, session_id uuid, access_token text, access_expires_at timestamp with time zone, refresh_token text, refresh_expires_at timestamp with time zone)
    LANGUAGE plpgsql SECURITY DEFINER
    SET search_path TO 'pg_catalog', 'pgauth', 'pg_temp'
    AS $$
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

ALTER FUNCTION pgauth.login_mfa_answer(p_challenge text) OWNER TO pgauth_owner;

--
-- Name: FUNCTION login_mfa_answer(p_challenge text); Type: COMMENT; Schema: pgauth; Owner: pgauth_owner
--

COMMENT ON FUNCTION pgauth.login_mfa_answer(p_challenge text) IS 'Step 2 of login_mfa_durably: for a challenge verified by a committed login_mfa_attempt, one row with a new session of aal 2 and its token pair (once); no row otherwise.';

--
-- Name: login_mfa_attempt(text, text, text, inet, text); Type: FUNCTION; Schema: pgauth; Owner: pgauth_owner
--

CREATE FUNCTION pgauth.login_mfa_attempt(p_challenge text, p_code text, p_recovery_code text DEFAULT NULL::text, p_client_ip inet DEFAULT NULL::inet, p_user_agent text DEFAULT NULL::text) RETURNS void
    LANGUAGE plpgsql SECURITY DEFINER
    SET search_path TO 'pg_catalog', 'pgauth', 'pg_temp'
    AS $$
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

ALTER FUNCTION pgauth.login_mfa_attempt(p_challenge text, p_code text, p_recovery_code text, p_client_ip inet, p_user_agent text) OWNER TO pgauth_owner;

--
-- Name: FUNCTION login_mfa_attempt(p_challenge text, p_code text, p_recovery_code text, p_client_ip inet, p_user_agent text); Type: COMMENT; Schema: pgauth; Owner: pgauth_owner
--

COMMENT ON FUNCTION pgauth.login_mfa_attempt(p_challenge text, p_code text, p_recovery_code text, p_client_ip inet, p_user_agent text) IS 'Step 1 of login_mfa_durably: checks a TOTP code (p_code) or a recovery code against a login challenge. A wrong one counts as a failed login (same lock); a challenge dies after 5. Answers nothing: login_mfa_answer tells, once this transaction has committed. Must be the first write of its transaction; BADIN unless exactly one of the codes is given.';

--
-- Name: login_mfa_durably(text, text, text, inet, text, uuid, uuid, text, timestamp with time zone, text, timestamp with time zone); Type: PROCEDURE; Schema: pgauth; Owner: pgauth_owner
--

CREATE PROCEDURE pgauth.login_mfa_durably(IN p_challenge text, IN p_code text, IN p_recovery_code text DEFAULT NULL::text, IN p_client_ip inet DEFAULT NULL::inet, IN p_user_agent text DEFAULT NULL::text, INOUT user_id uuid DEFAULT NULL::uuid, INOUT session_id uuid DEFAULT NULL::uuid, INOUT access_token text DEFAULT NULL::text, INOUT access_expires_at timestamp with time zone DEFAULT NULL::timestamp with time zone, INOUT refresh_token text DEFAULT NULL::text, INOUT refresh_expires_at timestamp with time zone DEFAULT NULL::timestamp with time zone)
    LANGUAGE plpgsql
    AS $$
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

ALTER PROCEDURE pgauth.login_mfa_durably(IN p_challenge text, IN p_code text, IN p_recovery_code text, IN p_client_ip inet, IN p_user_agent text, INOUT user_id uuid, INOUT session_id uuid, INOUT access_token text, INOUT access_expires_at timestamp with time zone, INOUT refresh_token text, INOUT refresh_expires_at timestamp with time zone) OWNER TO pgauth_owner;

--
-- Name: PROCEDURE login_mfa_durably(IN p_challenge text, IN p_code text, IN p_recovery_code text, IN p_client_ip inet, IN p_user_agent text, INOUT user_id uuid, INOUT session_id uuid, INOUT access_token text, INOUT access_expires_at timestamp with time zone, INOUT refresh_token text, INOUT refresh_expires_at timestamp with time zone); Type: COMMENT; Schema: pgauth; Owner: pgauth_owner
--

COMMENT ON PROCEDURE pgauth.login_mfa_durably(IN p_challenge text, IN p_code text, IN p_recovery_code text, IN p_client_ip inet, IN p_user_agent text, INOUT user_id uuid, INOUT session_id uuid, INOUT access_token text, INOUT access_expires_at timestamp with time zone, INOUT refresh_token text, INOUT refresh_expires_at timestamp with time zone) IS 'The second step of a login with a second factor: CALL pgauth.login_mfa_durably(challenge, code[, recovery_code, client_ip, user_agent]) with a code, or (challenge, NULL, recovery_code). One row: a new session of aal 2 and its token pair, or all NULL (wrong code, used or expired challenge: the failure is committed first). Outside BEGIN … COMMIT (else 2D000). BADIN unless exactly one code is given.';

--
-- Name: login_stats(timestamp with time zone, timestamp with time zone); Type: FUNCTION; Schema: pgauth; Owner: pgauth_owner
--

CREATE FUNCTION pgauth.login_stats(p_from timestamp with time zone, p_to timestamp with time zone) RETURNS TABLE(minute timestamp with time zone, logins bigint, failures bigint, lockouts bigint)
    LANGUAGE plpgsql STABLE SECURITY DEFINER
    SET search_path TO 'pg_catalog', 'pgauth', 'pg_temp'
    AS $$
begin
  if p_from is null or p_to is null or p_to <= p_from or p_to - p_from > interval '7 days' then
    perform pgauth._invalid('the range must be from before to, at most 7 days');
  end if;
  return query
    select date_trunc('minute', a.at),
      count(*) filter (where a.event = 'login_success'),
      count(*) filter (where a.event = 'login_failure'),
      count(*) filter (where a.event = 'lockout')
    from pgauth.audit_log a
    where a.at >= p_from and a.at < p_to
      and a.event in ('login_success', 'login_failure', 'lockout')
    group by 1
    order by 1;
end
$$;

ALTER FUNCTION pgauth.login_stats(p_from timestamp with time zone, p_to timestamp with time zone) OWNER TO pgauth_owner;

--
-- Name: FUNCTION login_stats(p_from timestamp with time zone, p_to timestamp with time zone); Type: COMMENT; Schema: pgauth; Owner: pgauth_owner
--

COMMENT ON FUNCTION pgauth.login_stats(p_from timestamp with time zone, p_to timestamp with time zone) IS 'Admin: successful logins, failed logins and lockouts per minute in [p_from, p_to) (at most 7 days), minutes without any left out.';

--
-- Name: logout(text); Type: FUNCTION; Schema: pgauth; Owner: pgauth_owner
--

CREATE FUNCTION pgauth.logout(p_access_token text) RETURNS boolean
    LANGUAGE plpgsql SECURITY DEFINER
    SET search_path TO 'pg_catalog', 'pgauth', 'pg_temp'
    AS $$
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

ALTER FUNCTION pgauth.logout(p_access_token text) OWNER TO pgauth_owner;

--
-- Name: FUNCTION logout(p_access_token text); Type: COMMENT; Schema: pgauth; Owner: pgauth_owner
--

COMMENT ON FUNCTION pgauth.logout(p_access_token text) IS 'Revokes the session of an access token (its access and refresh token both stop working). True when a live session was revoked.';

--
-- Name: logout_jwt(uuid, uuid); Type: FUNCTION; Schema: pgauth; Owner: pgauth_owner
--

CREATE FUNCTION pgauth.logout_jwt(p_session_id uuid, p_jti uuid) RETURNS boolean
    LANGUAGE plpgsql SECURITY DEFINER
    SET search_path TO 'pg_catalog', 'pgauth', 'pg_temp'
    AS $$
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

ALTER FUNCTION pgauth.logout_jwt(p_session_id uuid, p_jti uuid) OWNER TO pgauth_owner;

--
-- Name: FUNCTION logout_jwt(p_session_id uuid, p_jti uuid); Type: COMMENT; Schema: pgauth; Owner: pgauth_owner
--

COMMENT ON FUNCTION pgauth.logout_jwt(p_session_id uuid, p_jti uuid) IS 'pgauth.logout for a session''s JWT access token, by its sid and jti: revokes the session while that token is its current one (its access and refresh token both stop working). True when a live session was revoked.';

--
-- Name: mail_claim(integer, integer); Type: FUNCTION; Schema: pgauth; Owner: pgauth_owner
--

CREATE FUNCTION pgauth.mail_claim(p_limit integer DEFAULT 10, p_lease_seconds integer DEFAULT 60) RETURNS TABLE(id bigint, kind text, to_address text, username text, token text, expires_at timestamp with time zone, attempt integer)
    LANGUAGE plpgsql SECURITY DEFINER
    SET search_path TO 'pg_catalog', 'pgauth', 'pg_temp'
    AS $$
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

ALTER FUNCTION pgauth.mail_claim(p_limit integer, p_lease_seconds integer) OWNER TO pgauth_owner;

--
-- Name: FUNCTION mail_claim(p_limit integer, p_lease_seconds integer); Type: COMMENT; Schema: pgauth; Owner: pgauth_owner
--

COMMENT ON FUNCTION pgauth.mail_claim(p_limit integer, p_lease_seconds integer) IS 'Mailer: claims up to p_limit due messages for p_lease_seconds (FOR UPDATE SKIP LOCKED: concurrent senders never get one row twice) and makes the link token of each (only its SHA-256 is stored; older tokens of the account and purpose die). Report each with mail_sent or mail_failed. BADIN on bad arguments.';

--
-- Name: mail_failed(bigint, text); Type: FUNCTION; Schema: pgauth; Owner: pgauth_owner
--

CREATE FUNCTION pgauth.mail_failed(p_id bigint, p_error text) RETURNS boolean
    LANGUAGE plpgsql SECURITY DEFINER
    SET search_path TO 'pg_catalog', 'pgauth', 'pg_temp'
    AS $$
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

ALTER FUNCTION pgauth.mail_failed(p_id bigint, p_error text) OWNER TO pgauth_owner;

--
-- Name: FUNCTION mail_failed(p_id bigint, p_error text); Type: COMMENT; Schema: pgauth; Owner: pgauth_owner
--

COMMENT ON FUNCTION pgauth.mail_failed(p_id bigint, p_error text) IS 'Mailer: a claimed message could not be delivered (p_error, at most 200 characters, must not hold the message text): retried after 30 s, doubling up to 1 h, given up after settings.mail_max_attempts (audit mail_failed). False when it was not pending.';

--
-- Name: mail_sent(bigint); Type: FUNCTION; Schema: pgauth; Owner: pgauth_owner
--

CREATE FUNCTION pgauth.mail_sent(p_id bigint) RETURNS boolean
    LANGUAGE plpgsql SECURITY DEFINER
    SET search_path TO 'pg_catalog', 'pgauth', 'pg_temp'
    AS $$
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

ALTER FUNCTION pgauth.mail_sent(p_id bigint) OWNER TO pgauth_owner;

--
-- Name: FUNCTION mail_sent(p_id bigint); Type: COMMENT; Schema: pgauth; Owner: pgauth_owner
--

COMMENT ON FUNCTION pgauth.mail_sent(p_id bigint) IS 'Mailer: marks a claimed message sent (audit mail_sent). False when it was not pending.';

--
-- Name: mfa_status(uuid); Type: FUNCTION; Schema: pgauth; Owner: pgauth_owner
--

CREATE FUNCTION pgauth.mfa_status(p_user_id uuid) RETURNS TABLE(totp boolean, totp_pending boolean, recovery_codes_left integer)
    LANGUAGE plpgsql STABLE SECURITY DEFINER
    SET search_path TO 'pg_catalog', 'pgauth', 'pg_temp'
    AS $$
begin
  perform pgauth._user(p_user_id);
  return query select
    exists (select 1 from pgauth.totp_factors f where f.user_id = p_user_id and f.confirmed_at is not null),
    exists (select 1 from pgauth.totp_factors f where f.user_id = p_user_id and f.confirmed_at is null),
    (select count(*)::integer from pgauth.recovery_codes r where r.user_id = p_user_id);
end
$$;

ALTER FUNCTION pgauth.mfa_status(p_user_id uuid) OWNER TO pgauth_owner;

--
-- Name: FUNCTION mfa_status(p_user_id uuid); Type: COMMENT; Schema: pgauth; Owner: pgauth_owner
--

COMMENT ON FUNCTION pgauth.mfa_status(p_user_id uuid) IS 'The second factors of a user: TOTP on, an enrolment pending, recovery codes left. NOUSR.';

--
-- Name: published_signing_keys(); Type: FUNCTION; Schema: pgauth; Owner: pgauth_owner
--

CREATE FUNCTION pgauth.published_signing_keys() RETURNS TABLE(kid text, alg text, public_jwk jsonb)
    LANGUAGE plpgsql STABLE SECURITY DEFINER
    SET search_path TO 'pg_catalog', 'pgauth', 'pg_temp'
    AS $$
declare
  v_now timestamptz := pgauth.clock();
begin
  return query
    select k.kid, k.alg, k.public_jwk from pgauth.signing_keys k
    where k.retired_at is null
       or exists (select 1 from pgauth.api_keys t
                  where t.kind = 'access_token' and t.expires_at > v_now
                    and t.created_at <= k.retired_at)
    order by k.retired_at is not null, k.created_at desc;
end
$$;

ALTER FUNCTION pgauth.published_signing_keys() OWNER TO pgauth_owner;

--
-- Name: FUNCTION published_signing_keys(); Type: COMMENT; Schema: pgauth; Owner: pgauth_owner
--

COMMENT ON FUNCTION pgauth.published_signing_keys() IS 'The public keys of the JWKS: the active ones, and each retired one until the last token it signed has expired.';

--
-- Name: purge_audit(interval); Type: FUNCTION; Schema: pgauth; Owner: pgauth_owner
--

CREATE FUNCTION pgauth.purge_audit(p_older_than interval) RETURNS integer
    LANGUAGE plpgsql SECURITY DEFINER
    SET search_path TO 'pg_catalog', 'pgauth', 'pg_temp'
    AS $$
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

ALTER FUNCTION pgauth.purge_audit(p_older_than interval) OWNER TO pgauth_owner;

--
-- Name: FUNCTION purge_audit(p_older_than interval); Type: COMMENT; Schema: pgauth; Owner: pgauth_owner
--

COMMENT ON FUNCTION pgauth.purge_audit(p_older_than interval) IS 'Admin: deletes audit rows older than an interval; the only way audit rows are ever deleted. Returns how many. BADIN when a part of the interval is negative or the cut-off (now minus the interval) is less than one day ago.';

--
-- Name: purge_expired(); Type: FUNCTION; Schema: pgauth; Owner: pgauth_owner
--

CREATE FUNCTION pgauth.purge_expired() RETURNS integer
    LANGUAGE plpgsql SECURITY DEFINER
    SET search_path TO 'pg_catalog', 'pgauth', 'pg_temp'
    AS $$
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

ALTER FUNCTION pgauth.purge_expired() OWNER TO pgauth_owner;

--
-- Name: FUNCTION purge_expired(); Type: COMMENT; Schema: pgauth; Owner: pgauth_owner
--

COMMENT ON FUNCTION pgauth.purge_expired() IS 'Admin: deletes sessions that ended (expired or revoked) longer than settings.session_retention ago, wipes the refresh rotation salts whose grace window has passed, audits (login_failure, "unfinished") and deletes password attempts whose answer was not read within a minute, deletes expired link tokens and login challenges and mail sent or given up longer than session_retention ago; returns how many sessions it deleted. Safe at any time; schedule it every minute or so.';

--
-- Name: purge_service_tokens(interval); Type: FUNCTION; Schema: pgauth; Owner: pgauth_owner
--

CREATE FUNCTION pgauth.purge_service_tokens(p_older_than interval DEFAULT '1 day'::interval) RETURNS integer
    LANGUAGE plpgsql SECURITY DEFINER
    SET search_path TO 'pg_catalog', 'pgauth', 'pg_temp'
    AS $$
declare
  v_count integer;
begin
  if p_older_than is null or p_older_than < interval '0' then
    perform pgauth._invalid('p_older_than must be an interval of at least 0');
  end if;
  delete from pgauth.api_keys k
  where k.kind = 'access_token' and k.expires_at < pgauth.clock() - p_older_than;
  get diagnostics v_count = row_count;
  return v_count;
end
$$;

ALTER FUNCTION pgauth.purge_service_tokens(p_older_than interval) OWNER TO pgauth_owner;

--
-- Name: FUNCTION purge_service_tokens(p_older_than interval); Type: COMMENT; Schema: pgauth; Owner: pgauth_owner
--

COMMENT ON FUNCTION pgauth.purge_service_tokens(p_older_than interval) IS 'Admin: deletes the client-credentials access token rows that expired more than p_older_than ago (default 1 day); returns how many. BADIN.';

--
-- Name: refresh(text, inet, text); Type: FUNCTION; Schema: pgauth; Owner: pgauth_owner
--

CREATE FUNCTION pgauth.refresh(p_refresh_token text, p_client_ip inet DEFAULT NULL::inet, p_user_agent text DEFAULT NULL::text) RETURNS TABLE(user_id uuid, session_id uuid, access_token text, access_expires_at timestamp with time zone, refresh_token text, refresh_expires_at timestamp with time zone)
    LANGUAGE plpgsql SECURITY DEFINER
    SET search_path TO 'pg_catalog', 'pgauth', 'pg_temp'
    AS $$
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

ALTER FUNCTION pgauth.refresh(p_refresh_token text, p_client_ip inet, p_user_agent text) OWNER TO pgauth_owner;

--
-- Name: FUNCTION refresh(p_refresh_token text, p_client_ip inet, p_user_agent text); Type: COMMENT; Schema: pgauth; Owner: pgauth_owner
--

COMMENT ON FUNCTION pgauth.refresh(p_refresh_token text, p_client_ip inet, p_user_agent text) IS 'Rotates a refresh token: one row with a new access/refresh pair (the old pair stops working), or no row. The same token again within settings.refresh_reuse_grace of the rotation (measured at the time of the statement) returns the same new pair, and with a window of 0 never; after it, the session is revoked (audit refresh_reuse). Never extends past the session''s absolute expiry.';

--
-- Name: register(text, text, text); Type: FUNCTION; Schema: pgauth; Owner: pgauth_owner
--

CREATE FUNCTION pgauth.register(p_username text, p_password text, p_email text DEFAULT NULL::text) RETURNS uuid
    LANGUAGE plpgsql SECURITY DEFINER
    SET search_path TO 'pg_catalog', 'pgauth', 'pg_temp'
    AS $$
begin
  if not (pgauth._settings()).allow_registration then
    raise exception using errcode = 'REGOF', message = 'registration_closed';
  end if;
  return pgauth._create_user(p_username, p_password, p_email, 'register');
end
$$;

ALTER FUNCTION pgauth.register(p_username text, p_password text, p_email text) OWNER TO pgauth_owner;

--
-- Name: FUNCTION register(p_username text, p_password text, p_email text); Type: COMMENT; Schema: pgauth; Owner: pgauth_owner
--

COMMENT ON FUNCTION pgauth.register(p_username text, p_password text, p_email text) IS 'Self-registration. Returns the new user id. Raises REGOF when settings.allow_registration is off, BADIN on a malformed username or email, WEAKP on a refused password (message: the reason code), TAKEN on a taken username.';

--
-- Name: request_email_verification(uuid); Type: FUNCTION; Schema: pgauth; Owner: pgauth_owner
--

CREATE FUNCTION pgauth.request_email_verification(p_user_id uuid) RETURNS boolean
    LANGUAGE plpgsql SECURITY DEFINER
    SET search_path TO 'pg_catalog', 'pgauth', 'pg_temp'
    AS $$
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

ALTER FUNCTION pgauth.request_email_verification(p_user_id uuid) OWNER TO pgauth_owner;

--
-- Name: FUNCTION request_email_verification(p_user_id uuid); Type: COMMENT; Schema: pgauth; Owner: pgauth_owner
--

COMMENT ON FUNCTION pgauth.request_email_verification(p_user_id uuid) IS 'Queues a verification mail to the user''s current address: true when queued, false when the address is verified already or the account asked 5 times this hour. NOUSR; BADIN when the account has no address.';

--
-- Name: request_password_reset(text, inet); Type: FUNCTION; Schema: pgauth; Owner: pgauth_owner
--

CREATE FUNCTION pgauth.request_password_reset(p_email_or_username text, p_client_ip inet DEFAULT NULL::inet) RETURNS void
    LANGUAGE plpgsql SECURITY DEFINER
    SET search_path TO 'pg_catalog', 'pgauth', 'pg_temp'
    AS $$
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

ALTER FUNCTION pgauth.request_password_reset(p_email_or_username text, p_client_ip inet) OWNER TO pgauth_owner;

--
-- Name: FUNCTION request_password_reset(p_email_or_username text, p_client_ip inet); Type: COMMENT; Schema: pgauth; Owner: pgauth_owner
--

COMMENT ON FUNCTION pgauth.request_password_reset(p_email_or_username text, p_client_ip inet) IS 'Queues a password-reset mail to each account whose username or email (case-insensitively) is p_email_or_username and that has an address. Answers nothing, whether or not an account matched; limited per address and per client network (settings.password_reset_per_address, password_reset_per_ip, an hour each). BADIN on missing or over-long input.';

--
-- Name: reset_mfa(uuid); Type: FUNCTION; Schema: pgauth; Owner: pgauth_owner
--

CREATE FUNCTION pgauth.reset_mfa(p_user_id uuid) RETURNS boolean
    LANGUAGE plpgsql SECURITY DEFINER
    SET search_path TO 'pg_catalog', 'pgauth', 'pg_temp'
    AS $$
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

ALTER FUNCTION pgauth.reset_mfa(p_user_id uuid) OWNER TO pgauth_owner;

--
-- Name: FUNCTION reset_mfa(p_user_id uuid); Type: COMMENT; Schema: pgauth; Owner: pgauth_owner
--

COMMENT ON FUNCTION pgauth.reset_mfa(p_user_id uuid) IS 'Admin: removes every second factor of a user (TOTP, recovery codes, pending challenges); true when there was one. Audited (mfa_reset). NOUSR.';

--
-- Name: reset_password(text, text); Type: FUNCTION; Schema: pgauth; Owner: pgauth_owner
--

CREATE FUNCTION pgauth.reset_password(p_token text, p_new_password text) RETURNS boolean
    LANGUAGE plpgsql SECURITY DEFINER
    SET search_path TO 'pg_catalog', 'pgauth', 'pg_temp'
    AS $$
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

ALTER FUNCTION pgauth.reset_password(p_token text, p_new_password text) OWNER TO pgauth_owner;

--
-- Name: FUNCTION reset_password(p_token text, p_new_password text); Type: COMMENT; Schema: pgauth; Owner: pgauth_owner
--

COMMENT ON FUNCTION pgauth.reset_password(p_token text, p_new_password text) IS 'Sets a new password with a reset token: true, once; false for an unknown, used or expired token. Every session of the user is revoked, a lock of too many failures is lifted, every reset token of the account dies. WEAKP (the token stays usable), BADIN.';

--
-- Name: revoke_api_key(uuid); Type: FUNCTION; Schema: pgauth; Owner: pgauth_owner
--

CREATE FUNCTION pgauth.revoke_api_key(p_id uuid) RETURNS boolean
    LANGUAGE plpgsql SECURITY DEFINER
    SET search_path TO 'pg_catalog', 'pgauth', 'pg_temp'
    AS $$
declare
  v_key pgauth.api_keys;
begin
  select k.* into v_key from pgauth.api_keys k where k.id = p_id and k.kind = 'api_key';
  if not found then
    raise exception using errcode = 'NOKEY', message = 'api_key_not_found';
  end if;
  if v_key.revoked_at is not null then
    return false;
  end if;
  update pgauth.api_keys set revoked_at = pgauth.clock() where id = p_id;
  perform pgauth._audit('api_key_revoked', null, null, null, null,
    pg_catalog.jsonb_build_object('service_account_id', v_key.service_account_id,
      'api_key_id', p_id));
  return true;
end
$$;

ALTER FUNCTION pgauth.revoke_api_key(p_id uuid) OWNER TO pgauth_owner;

--
-- Name: FUNCTION revoke_api_key(p_id uuid); Type: COMMENT; Schema: pgauth; Owner: pgauth_owner
--

COMMENT ON FUNCTION pgauth.revoke_api_key(p_id uuid) IS 'Admin: revokes an API key and every access token issued for it; true when it was not revoked yet. The caches are told. NOKEY.';

--
-- Name: revoke_role(uuid, text); Type: FUNCTION; Schema: pgauth; Owner: pgauth_owner
--

CREATE FUNCTION pgauth.revoke_role(p_user_id uuid, p_role text) RETURNS void
    LANGUAGE plpgsql SECURITY DEFINER
    SET search_path TO 'pg_catalog', 'pgauth', 'pg_temp'
    AS $$
begin
  perform pgauth._user(p_user_id);
  delete from pgauth.user_roles ur where ur.user_id = p_user_id and ur.role = p_role;
  if found then
    perform pgauth._audit('role_revoked', p_user_id, null, null, null, jsonb_build_object('role', p_role));
  end if;
end
$$;

ALTER FUNCTION pgauth.revoke_role(p_user_id uuid, p_role text) OWNER TO pgauth_owner;

--
-- Name: FUNCTION revoke_role(p_user_id uuid, p_role text); Type: COMMENT; Schema: pgauth; Owner: pgauth_owner
--

COMMENT ON FUNCTION pgauth.revoke_role(p_user_id uuid, p_role text) IS 'Admin: takes a role away. Live sessions lose it from their next validation. NOUSR.';

--
-- Name: revoke_session(uuid); Type: FUNCTION; Schema: pgauth; Owner: pgauth_owner
--

CREATE FUNCTION pgauth.revoke_session(p_session_id uuid) RETURNS boolean
    LANGUAGE plpgsql SECURITY DEFINER
    SET search_path TO 'pg_catalog', 'pgauth', 'pg_temp'
    AS $$
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

ALTER FUNCTION pgauth.revoke_session(p_session_id uuid) OWNER TO pgauth_owner;

--
-- Name: FUNCTION revoke_session(p_session_id uuid); Type: COMMENT; Schema: pgauth; Owner: pgauth_owner
--

COMMENT ON FUNCTION pgauth.revoke_session(p_session_id uuid) IS 'Admin: revokes one session by id. True when it was live.';

--
-- Name: revoke_token(text); Type: FUNCTION; Schema: pgauth; Owner: pgauth_owner
--

CREATE FUNCTION pgauth.revoke_token(p_token text) RETURNS boolean
    LANGUAGE plpgsql SECURITY DEFINER
    SET search_path TO 'pg_catalog', 'pgauth', 'pg_temp'
    AS $$
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

ALTER FUNCTION pgauth.revoke_token(p_token text) OWNER TO pgauth_owner;

--
-- Name: FUNCTION revoke_token(p_token text); Type: COMMENT; Schema: pgauth; Owner: pgauth_owner
--

COMMENT ON FUNCTION pgauth.revoke_token(p_token text) IS 'RFC 7009: revokes the session of an access or a refresh token, whichever it is. True when a live session was revoked; unknown tokens are not an error.';

--
-- Name: revoke_user_sessions(uuid, text); Type: FUNCTION; Schema: pgauth; Owner: pgauth_owner
--

CREATE FUNCTION pgauth.revoke_user_sessions(p_user_id uuid, p_reason text DEFAULT 'admin'::text) RETURNS integer
    LANGUAGE plpgsql SECURITY DEFINER
    SET search_path TO 'pg_catalog', 'pgauth', 'pg_temp'
    AS $$
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

ALTER FUNCTION pgauth.revoke_user_sessions(p_user_id uuid, p_reason text) OWNER TO pgauth_owner;

--
-- Name: FUNCTION revoke_user_sessions(p_user_id uuid, p_reason text); Type: COMMENT; Schema: pgauth; Owner: pgauth_owner
--

COMMENT ON FUNCTION pgauth.revoke_user_sessions(p_user_id uuid, p_reason text) IS 'Admin: revokes every live session of a user; returns how many. Raises NOUSR for an unknown user.';

--
-- Name: search_audit(text, uuid, timestamp with time zone, timestamp with time zone, timestamp with time zone, bigint, integer); Type: FUNCTION; Schema: pgauth; Owner: pgauth_owner
--

CREATE FUNCTION pgauth.search_audit(p_event text DEFAULT NULL::text, p_user_id uuid DEFAULT NULL::uuid, p_from timestamp with time zone DEFAULT NULL::timestamp with time zone, p_to timestamp with time zone DEFAULT NULL::timestamp with time zone, p_before_at timestamp with time zone DEFAULT NULL::timestamp with time zone, p_before_id bigint DEFAULT NULL::bigint, p_limit integer DEFAULT 100) RETURNS TABLE(id bigint, at timestamp with time zone, event text, user_id uuid, session_id uuid, client_ip inet, detail jsonb)
    LANGUAGE plpgsql STABLE SECURITY DEFINER
    SET search_path TO 'pg_catalog', 'pgauth', 'pg_temp'
    AS $_$
declare
  -- Every bound is a plain comparison (no "is null or"), so that each of the three queries below
  -- walks its index from the newest row of the page to the oldest and stops after p_limit rows.
  -- The filtered ones are planned at each call with their values (EXECUTE of a constant text,
  -- parameters bound by USING, nothing concatenated): a plan cached for every event would walk
  -- the whole log by time looking for a rare one, where its own index has them in order.
  v_at timestamptz := least(coalesce(p_before_at, 'infinity'), coalesce(p_to, 'infinity'));
  v_id bigint := case
    when p_to is not null and (p_before_at is null or p_to <= p_before_at)
      then -9223372036854775808 -- before p_to: every row at p_to is out
    when p_before_at is null then 9223372036854775807
    else p_before_id end;
  v_from timestamptz := coalesce(p_from, '-infinity');
begin
  if p_limit is null or p_limit not between 1 and 10000 then
    perform pgauth._invalid('limit must be 1 to 10000');
  end if;
  if (p_before_at is null) <> (p_before_id is null) then
    perform pgauth._invalid('before_at and before_id go together');
  end if;
  if p_user_id is not null then
    return query execute
      'select a.id, a.at, a.event, a.user_id, a.session_id, a.client_ip, a.detail
       from pgauth.audit_log a
       where a.user_id = $1 and ($2::text is null or a.event = $2)
         and a.at >= $3 and (a.at, a.id) < ($4, $5)
       order by a.at desc, a.id desc
       limit $6'
      using p_user_id, p_event, v_from, v_at, v_id, p_limit;
  elsif p_event is not null then
    return query execute
      'select a.id, a.at, a.event, a.user_id, a.session_id, a.client_ip, a.detail
       from pgauth.audit_log a
       where a.event = $1 and a.at >= $2 and (a.at, a.id) < ($3, $4)
       order by a.at desc, a.id desc
       limit $5'
      using p_event, v_from, v_at, v_id, p_limit;
  else
    return query
      select a.id, a.at, a.event, a.user_id, a.session_id, a.client_ip, a.detail
      from pgauth.audit_log a
      where a.at >= v_from and (a.at, a.id) < (v_at, v_id)
      order by a.at desc, a.id desc
      limit p_limit;
  end if;
end
$_$;

ALTER FUNCTION pgauth.search_audit(p_event text, p_user_id uuid, p_from timestamp with time zone, p_to timestamp with time zone, p_before_at timestamp with time zone, p_before_id bigint, p_limit integer) OWNER TO pgauth_owner;

--
-- Name: FUNCTION search_audit(p_event text, p_user_id uuid, p_from timestamp with time zone, p_to timestamp with time zone, p_before_at timestamp with time zone, p_before_id bigint, p_limit integer); Type: COMMENT; Schema: pgauth; Owner: pgauth_owner
--

COMMENT ON FUNCTION pgauth.search_audit(p_event text, p_user_id uuid, p_from timestamp with time zone, p_to timestamp with time zone, p_before_at timestamp with time zone, p_before_id bigint, p_limit integer) IS 'Admin: audit events newest first, optionally of one event, of one user, at or after p_from and before p_to; the page after (p_before_at, p_before_id), the at and id of the last row of the page before. At most p_limit (1 to 10000).';

--
-- Name: search_users(text, text, uuid, integer); Type: FUNCTION; Schema: pgauth; Owner: pgauth_owner
--

CREATE FUNCTION pgauth.search_users(p_query text DEFAULT ''::text, p_after_key text DEFAULT NULL::text, p_after_id uuid DEFAULT NULL::uuid, p_limit integer DEFAULT 50) RETURNS TABLE(id uuid, username text, email text, roles text[], created_at timestamp with time zone, last_login_at timestamp with time zone, failed_logins integer, locked_until timestamp with time zone, lock_reason text, disabled_at timestamp with time zone, live_sessions bigint, sort_key text)
    LANGUAGE plpgsql STABLE SECURITY DEFINER
    SET search_path TO 'pg_catalog', 'pgauth', 'pg_temp'
    AS $$
declare
  v_query text := lower(coalesce(p_query, ''));
  v_email boolean := strpos(coalesce(p_query, ''), '@') > 0;
  v_end text;
  -- The scan starts after (v_key, v_id): the row before the page, or the query itself. One row
  -- comparison, so that the index scan starts there (a second lower bound beside it may not).
  v_key text;
  v_id uuid;
begin
  if p_limit is null or p_limit not between 1 and 10000 then
    perform pgauth._invalid('limit must be 1 to 10000');
  end if;
  if char_length(v_query) > 254 then
    perform pgauth._invalid('query must be at most 254 characters');
  end if;
  if (p_after_key is null) <> (p_after_id is null) then
    perform pgauth._invalid('after_key and after_id go together');
  end if;
  v_end := pgauth._prefix_end(v_query);
  if p_after_key is null or p_after_key collate "C" < v_query collate "C" then
    v_key := v_query;
    v_id := '00000000-0000-0000-0000-000000000000';
  else
    v_key := p_after_key;
    v_id := p_after_id;
  end if;
  return query
    with page as (
      select u.*, lower(u.username) collate "C" as k
      from pgauth.users u
      where not v_email and u.deleted_at is null
        and (lower(u.username) collate "C", u.id) > (v_key collate "C", v_id)
        and lower(u.username) collate "C" < v_end collate "C"
      order by lower(u.username) collate "C", u.id
      limit p_limit
    ), email_page as (
      select u.*, lower(u.email) collate "C" as k
      from pgauth.users u
      where v_email and u.deleted_at is null and u.email is not null
        and (lower(u.email) collate "C", u.id) > (v_key collate "C", v_id)
        and lower(u.email) collate "C" < v_end collate "C"
      order by lower(u.email) collate "C", u.id
      limit p_limit
    ), found as (
      select * from page union all select * from email_page
    )
    select f.id, f.username, f.email,
      coalesce((select array_agg(ur.role order by ur.role) from pgauth.user_roles ur
                where ur.user_id = f.id), '{}'),
      f.created_at, f.last_login_at, f.failed_logins, f.locked_until, f.lock_reason,
      f.disabled_at,
      (select count(*) from pgauth.sessions s where s.user_id = f.id and s.revoked_at is null
         and s.expires_at > pgauth.clock()),
      f.k::text
    from found f
    order by f.k collate "C", f.id;
end
$$;

ALTER FUNCTION pgauth.search_users(p_query text, p_after_key text, p_after_id uuid, p_limit integer) OWNER TO pgauth_owner;

--
-- Name: FUNCTION search_users(p_query text, p_after_key text, p_after_id uuid, p_limit integer); Type: COMMENT; Schema: pgauth; Owner: pgauth_owner
--

COMMENT ON FUNCTION pgauth.search_users(p_query text, p_after_key text, p_after_id uuid, p_limit integer) IS 'Admin: users not deleted whose username (or, when the query holds an @, email) starts with p_query, case-insensitively, in byte order of the lower-cased key; the page after (p_after_key, p_after_id), the sort_key and id of the last row of the page before. At most p_limit (1 to 10000).';

--
-- Name: session_token_claims(text); Type: FUNCTION; Schema: pgauth; Owner: pgauth_owner
--

CREATE FUNCTION pgauth.session_token_claims(p_access_token text) RETURNS TABLE(token_format text, jti uuid, user_id uuid, session_id uuid, username text, roles text[], aal smallint, expires_at timestamp with time zone)
    LANGUAGE plpgsql STABLE SECURITY DEFINER
    SET search_path TO 'pg_catalog', 'pgauth', 'pg_temp'
    AS $$
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

ALTER FUNCTION pgauth.session_token_claims(p_access_token text) OWNER TO pgauth_owner;

--
-- Name: FUNCTION session_token_claims(p_access_token text); Type: COMMENT; Schema: pgauth; Owner: pgauth_owner
--

COMMENT ON FUNCTION pgauth.session_token_claims(p_access_token text) IS 'For the gateway, after login or refresh: settings.access_token_format and, for a live session''s access token, the claims of its JWT (jti: the first 16 bytes of access_token_hash; expires_at: the access token''s expiry, at most service_token_ttl from now). No row otherwise.';

--
-- Name: set_password(uuid, text); Type: FUNCTION; Schema: pgauth; Owner: pgauth_owner
--

CREATE FUNCTION pgauth.set_password(p_user_id uuid, p_new_password text) RETURNS void
    LANGUAGE plpgsql SECURITY DEFINER
    SET search_path TO 'pg_catalog', 'pgauth', 'pg_temp'
    AS $$
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

ALTER FUNCTION pgauth.set_password(p_user_id uuid, p_new_password text) OWNER TO pgauth_owner;

--
-- Name: FUNCTION set_password(p_user_id uuid, p_new_password text); Type: COMMENT; Schema: pgauth; Owner: pgauth_owner
--

COMMENT ON FUNCTION pgauth.set_password(p_user_id uuid, p_new_password text) IS 'Admin: sets a new password without the current one (a reset). Every session of the user is revoked. NOUSR, WEAKP.';

--
-- Name: set_service_account_token_format(text, text); Type: FUNCTION; Schema: pgauth; Owner: pgauth_owner
--

CREATE FUNCTION pgauth.set_service_account_token_format(p_name text, p_format text) RETURNS void
    LANGUAGE plpgsql SECURITY DEFINER
    SET search_path TO 'pg_catalog', 'pgauth', 'pg_temp'
    AS $$
declare
  v_account pgauth.service_accounts := pgauth._service_account(p_name);
begin
  if p_format is not null and p_format not in ('opaque', 'jwt') then
    perform pgauth._invalid('the access token format is opaque, jwt, or null (the setting)');
  end if;
  update pgauth.service_accounts set access_token_format = p_format where id = v_account.id;
end
$$;

ALTER FUNCTION pgauth.set_service_account_token_format(p_name text, p_format text) OWNER TO pgauth_owner;

--
-- Name: FUNCTION set_service_account_token_format(p_name text, p_format text); Type: COMMENT; Schema: pgauth; Owner: pgauth_owner
--

COMMENT ON FUNCTION pgauth.set_service_account_token_format(p_name text, p_format text) IS 'Admin: the access token format of one service account (opaque or jwt), or null to follow settings.access_token_format. NOSVC, BADIN.';

--
-- Name: tg_api_keys__notify(); Type: FUNCTION; Schema: pgauth; Owner: pgauth_owner
--

CREATE FUNCTION pgauth.tg_api_keys__notify() RETURNS trigger
    LANGUAGE plpgsql SECURITY DEFINER
    SET search_path TO 'pg_catalog', 'pgauth', 'pg_temp'
    AS $$
declare
  v_hashes bytea[];
begin
  if tg_op = 'TRUNCATE' then
    perform pg_catalog.pg_notify('pgauth_revocations',
      pg_catalog.json_build_object('flush', true)::text);
    return null;
  end if;
  if tg_op = 'UPDATE' then
    select array_agg(o.key_hash) into v_hashes
    from old_rows o join new_rows n on n.id = o.id
    where o.revoked_at is null and o.disabled_at is null
      and (n.revoked_at is not null or n.disabled_at is not null
        or o.key_hash is distinct from n.key_hash
        or o.account_name is distinct from n.account_name or o.roles is distinct from n.roles
        or coalesce(n.expires_at, 'infinity') < coalesce(o.expires_at, 'infinity'));
  else
    -- A row that expired is in no cache: deleting it (pgauth.purge_service_tokens) says nothing.
    select array_agg(o.key_hash) into v_hashes
    from old_rows o where o.revoked_at is null and o.disabled_at is null
      and (o.expires_at is null or o.expires_at > pgauth.clock());
  end if;
  perform pgauth._notify_cache_keys(v_hashes);
  return null;
end
$$;

ALTER FUNCTION pgauth.tg_api_keys__notify() OWNER TO pgauth_owner;

--
-- Name: FUNCTION tg_api_keys__notify(); Type: COMMENT; Schema: pgauth; Owner: pgauth_owner
--

COMMENT ON FUNCTION pgauth.tg_api_keys__notify() IS 'Trigger of api_keys: NOTIFYs pgauth_revocations with the cache keys of the keys and tokens a statement made stale (revoked, disabled, roles or name changed), or {"flush" : true} on TRUNCATE.';

--
-- Name: tg_api_keys__revoke_tokens(); Type: FUNCTION; Schema: pgauth; Owner: pgauth_owner
--

CREATE FUNCTION pgauth.tg_api_keys__revoke_tokens() RETURNS trigger
    LANGUAGE plpgsql SECURITY DEFINER
    SET search_path TO 'pg_catalog', 'pgauth', 'pg_temp'
    AS $$
declare
  v_ids uuid[];
begin
  -- A statement trigger fires for an UPDATE of no row too: update only when a key was revoked,
  -- or the update below would fire this trigger again without end.
  select array_agg(n.id) into v_ids
  from new_rows n join old_rows o on o.id = n.id
  where n.kind = 'api_key' and n.revoked_at is not null and o.revoked_at is null;
  if v_ids is null then
    return null;
  end if;
  update pgauth.api_keys t set revoked_at = n.revoked_at
  from new_rows n
  where n.id = any (v_ids) and t.parent_id = n.id and t.revoked_at is null;
  return null;
end
$$;

ALTER FUNCTION pgauth.tg_api_keys__revoke_tokens() OWNER TO pgauth_owner;

--
-- Name: tg_audit_log__append_only(); Type: FUNCTION; Schema: pgauth; Owner: pgauth_owner
--

CREATE FUNCTION pgauth.tg_audit_log__append_only() RETURNS trigger
    LANGUAGE plpgsql
    SET search_path TO 'pg_catalog', 'pgauth', 'pg_temp'
    AS $$
begin
  if tg_op = 'DELETE' and pg_catalog.current_setting('pgauth.purging_audit', true) = 'on' then
    return old;
  end if;
  raise exception using errcode = 'BADIN', message = 'invalid_input',
    detail = 'pgauth.audit_log is append-only; pgauth.purge_audit() is the only way rows leave it';
end
$$;

ALTER FUNCTION pgauth.tg_audit_log__append_only() OWNER TO pgauth_owner;

--
-- Name: tg_service_accounts__sync_keys(); Type: FUNCTION; Schema: pgauth; Owner: pgauth_owner
--

CREATE FUNCTION pgauth.tg_service_accounts__sync_keys() RETURNS trigger
    LANGUAGE plpgsql SECURITY DEFINER
    SET search_path TO 'pg_catalog', 'pgauth', 'pg_temp'
    AS $$
begin
  update pgauth.api_keys k
  set account_name = n.name,
      disabled_at = n.disabled_at,
      roles = case when k.kind = 'api_key' then n.roles
                   else array(select r from pg_catalog.unnest(k.roles) r
                              where r = any (n.roles) order by r) end
  from new_rows n join old_rows o on o.id = n.id
  where k.service_account_id = n.id
    and (o.name is distinct from n.name or o.roles is distinct from n.roles
      or o.disabled_at is distinct from n.disabled_at);
  return null;
end
$$;

ALTER FUNCTION pgauth.tg_service_accounts__sync_keys() OWNER TO pgauth_owner;

--
-- Name: tg_sessions__forget_rotated(); Type: FUNCTION; Schema: pgauth; Owner: pgauth_owner
--

CREATE FUNCTION pgauth.tg_sessions__forget_rotated() RETURNS trigger
    LANGUAGE plpgsql SECURITY DEFINER
    SET search_path TO 'pg_catalog', 'pgauth', 'pg_temp'
    AS $$
begin
  if tg_op = 'TRUNCATE' then
    truncate pgauth.rotated_refresh_tokens;
  else
    delete from pgauth.rotated_refresh_tokens r where r.session_id = old.id;
  end if;
  return null;
end
$$;

ALTER FUNCTION pgauth.tg_sessions__forget_rotated() OWNER TO pgauth_owner;

--
-- Name: tg_sessions__notify(); Type: FUNCTION; Schema: pgauth; Owner: pgauth_owner
--

CREATE FUNCTION pgauth.tg_sessions__notify() RETURNS trigger
    LANGUAGE plpgsql SECURITY DEFINER
    SET search_path TO 'pg_catalog', 'pgauth', 'pg_temp'
    AS $$
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
  -- session a cache can hold as valid. (UPDATE and DELETE have different transition tables, so
  -- one query each.) A deleted session whose access token has expired is in no cache: the purge
  -- deletes only those, and announces nothing.
  if tg_op = 'UPDATE' then
    select array_agg(o.access_token_hash) into v_hashes
    from old_rows o join new_rows n on n.id = o.id
    where o.revoked_at is null
      and (n.revoked_at is not null
        or o.access_token_hash is distinct from n.access_token_hash
        or o.username is distinct from n.username or o.roles is distinct from n.roles
        or o.access_expires_at > n.access_expires_at);
  else
    select array_agg(o.access_token_hash) into v_hashes
    from old_rows o where o.revoked_at is null and o.access_expires_at > pgauth.clock();
  end if;
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

ALTER FUNCTION pgauth.tg_sessions__notify() OWNER TO pgauth_owner;

--
-- Name: FUNCTION tg_sessions__notify(); Type: COMMENT; Schema: pgauth; Owner: pgauth_owner
--

COMMENT ON FUNCTION pgauth.tg_sessions__notify() IS 'Trigger of sessions (UPDATE, TRUNCATE): NOTIFYs pgauth_revocations with the cache keys (first 8 bytes of access_token_hash, hex) of the access tokens an UPDATE made stale, at most 100 a message, or {"flush" : true} on TRUNCATE. Keys only: no user, session or reason. Its DELETE branch has fired for nothing since 0018: a DELETE is tg_sessions__notify_deleted''s, row by row.';

--
-- Name: tg_sessions__notify_deleted(); Type: FUNCTION; Schema: pgauth; Owner: pgauth_owner
--

CREATE FUNCTION pgauth.tg_sessions__notify_deleted() RETURNS trigger
    LANGUAGE plpgsql SECURITY DEFINER
    SET search_path TO 'pg_catalog', 'pgauth', 'pg_temp'
    AS $$
begin
  perform pg_catalog.pg_notify('pgauth_revocations', pg_catalog.json_build_object('keys',
    array[pg_catalog.encode(pg_catalog.substr(old.access_token_hash, 1, 8), 'hex')])::text);
  return null;
end
$$;

ALTER FUNCTION pgauth.tg_sessions__notify_deleted() OWNER TO pgauth_owner;

--
-- Name: FUNCTION tg_sessions__notify_deleted(); Type: COMMENT; Schema: pgauth; Owner: pgauth_owner
--

COMMENT ON FUNCTION pgauth.tg_sessions__notify_deleted() IS 'Row trigger of sessions (sessions_notify_delete, WHEN the deleted session was not revoked and its access token had not expired): NOTIFYs pgauth_revocations with {"keys": [<first 8 bytes of access_token_hash, hex>]}. Keys only: no user, session or reason.';

--
-- Name: tg_settings__guard(); Type: FUNCTION; Schema: pgauth; Owner: pgauth_owner
--

CREATE FUNCTION pgauth.tg_settings__guard() RETURNS trigger
    LANGUAGE plpgsql SECURITY DEFINER
    SET search_path TO 'pg_catalog', 'pgauth', 'pg_temp'
    AS $$
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

ALTER FUNCTION pgauth.tg_settings__guard() OWNER TO pgauth_owner;

--
-- Name: tg_user_roles__sync_sessions(); Type: FUNCTION; Schema: pgauth; Owner: pgauth_owner
--

CREATE FUNCTION pgauth.tg_user_roles__sync_sessions() RETURNS trigger
    LANGUAGE plpgsql SECURITY DEFINER
    SET search_path TO 'pg_catalog', 'pgauth', 'pg_temp'
    AS $$
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

ALTER FUNCTION pgauth.tg_user_roles__sync_sessions() OWNER TO pgauth_owner;

--
-- Name: tg_users__before_update(); Type: FUNCTION; Schema: pgauth; Owner: pgauth_owner
--

CREATE FUNCTION pgauth.tg_users__before_update() RETURNS trigger
    LANGUAGE plpgsql SECURITY DEFINER
    SET search_path TO 'pg_catalog', 'pgauth', 'pg_temp'
    AS $$
begin
  new.updated_at := pgauth.clock();
  if new.password_hash is distinct from old.password_hash
     and not pgauth._is_rehash(new.id, new.password_hash) then
    new.password_changed_at := pgauth.clock();
  end if;
  return new;
end
$$;

ALTER FUNCTION pgauth.tg_users__before_update() OWNER TO pgauth_owner;

--
-- Name: tg_users__drop_reset_tokens(); Type: FUNCTION; Schema: pgauth; Owner: pgauth_owner
--

CREATE FUNCTION pgauth.tg_users__drop_reset_tokens() RETURNS trigger
    LANGUAGE plpgsql SECURITY DEFINER
    SET search_path TO 'pg_catalog', 'pgauth', 'pg_temp'
    AS $$
begin
  delete from pgauth.account_tokens t
  where t.user_id = new.id and t.purpose = 'password_reset';
  return null;
end
$$;

ALTER FUNCTION pgauth.tg_users__drop_reset_tokens() OWNER TO pgauth_owner;

--
-- Name: tg_users__revoke_sessions(); Type: FUNCTION; Schema: pgauth; Owner: pgauth_owner
--

CREATE FUNCTION pgauth.tg_users__revoke_sessions() RETURNS trigger
    LANGUAGE plpgsql SECURITY DEFINER
    SET search_path TO 'pg_catalog', 'pgauth', 'pg_temp'
    AS $$
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

ALTER FUNCTION pgauth.tg_users__revoke_sessions() OWNER TO pgauth_owner;

--
-- Name: tg_users__unverify_email(); Type: FUNCTION; Schema: pgauth; Owner: pgauth_owner
--

CREATE FUNCTION pgauth.tg_users__unverify_email() RETURNS trigger
    LANGUAGE plpgsql SECURITY DEFINER
    SET search_path TO 'pg_catalog', 'pgauth', 'pg_temp'
    AS $$
begin
  if new.email is distinct from old.email then
    new.email_verified_at := null;
  end if;
  return new;
end
$$;

ALTER FUNCTION pgauth.tg_users__unverify_email() OWNER TO pgauth_owner;

--
-- Name: throttle(text, text, integer, text, integer, integer); Type: FUNCTION; Schema: pgauth; Owner: pgauth_owner
--

CREATE FUNCTION pgauth.throttle(p_scope text, p_ip text, p_ip_max integer, p_username text, p_user_max integer, p_window_ms integer) RETURNS integer
    LANGUAGE plpgsql SECURITY DEFINER
    SET search_path TO 'pg_catalog', 'pgauth', 'pg_temp'
    AS $_$
declare
  v_now timestamptz := pgauth.clock();
  v_window interval;
  v_wait integer := 0;
begin
  if p_scope is null or p_scope !~ '^[a-z_]{1,32}$' or p_window_ms is null or p_window_ms < 1
     or coalesce(p_ip_max, 1) < 1 or coalesce(p_user_max, 1) < 1
     or char_length(p_ip) > 100 or char_length(p_username) > 256
     or (p_ip is not null and p_ip_max is null)
     or (p_username is not null and p_user_max is null) then
    perform pgauth._invalid('a scope (a-z, _), a window ≥ 1 ms, and a limit ≥ 1 for each key given; keys of at most 100 (ip) and 256 (username) characters');
  end if;
  v_window := p_window_ms * interval '1 millisecond';
  if p_ip is not null then
    v_wait := pgauth._throttle_hit(p_scope || ':ip', p_ip, p_ip_max, v_window, v_now);
  end if;
  -- An attempt its network may not make does not count against the username: one network over
  -- its limit cannot spend the budget of the accounts it names (and lock out their owners).
  if p_username is not null and v_wait = 0 then
    v_wait := greatest(v_wait,
      pgauth._throttle_hit(p_scope || ':user', lower(p_username), p_user_max, v_window, v_now));
  end if;
  -- Windows that ended, a few at a time: the table holds about one row per active key.
  delete from pgauth.rate_limits r
  where r.ctid = any (array(select x.ctid from pgauth.rate_limits x
                            where x.window_end < v_now limit 10));
  return v_wait;
end
$_$;

ALTER FUNCTION pgauth.throttle(p_scope text, p_ip text, p_ip_max integer, p_username text, p_user_max integer, p_window_ms integer) OWNER TO pgauth_owner;

--
-- Name: FUNCTION throttle(p_scope text, p_ip text, p_ip_max integer, p_username text, p_user_max integer, p_window_ms integer); Type: COMMENT; Schema: pgauth; Owner: pgauth_owner
--

COMMENT ON FUNCTION pgauth.throttle(p_scope text, p_ip text, p_ip_max integer, p_username text, p_user_max integer, p_window_ms integer) IS 'Counts one attempt of a scope (login, register, refresh) under the client network p_ip and the username (folded by lower(), as pgauth.users compares usernames), in fixed windows of p_window_ms shared by every caller. Returns 0 to go on, or the seconds until the window that is over its limit ends. Either key may be null (not counted). BADIN on bad arguments.';

--
-- Name: totp_code(bytea, bigint, integer, text); Type: FUNCTION; Schema: pgauth; Owner: pgauth_owner
--

CREATE FUNCTION pgauth.totp_code(p_secret bytea, p_step bigint, p_digits integer DEFAULT 6, p_algorithm text DEFAULT 'sha1'::text) RETURNS text
    LANGUAGE plpgsql IMMUTABLE STRICT SECURITY DEFINER
    SET search_path TO 'pg_catalog', 'pgauth', 'pg_temp'
    AS $$
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

ALTER FUNCTION pgauth.totp_code(p_secret bytea, p_step bigint, p_digits integer, p_algorithm text) OWNER TO pgauth_owner;

--
-- Name: FUNCTION totp_code(p_secret bytea, p_step bigint, p_digits integer, p_algorithm text); Type: COMMENT; Schema: pgauth; Owner: pgauth_owner
--

COMMENT ON FUNCTION pgauth.totp_code(p_secret bytea, p_step bigint, p_digits integer, p_algorithm text) IS 'RFC 6238: the code of time step p_step (Unix time / 30) for a secret, HMAC with p_algorithm (sha1, sha256, sha512), p_digits digits. Pure; for tests and tools.';

--
-- Name: totp_confirm(uuid, text); Type: FUNCTION; Schema: pgauth; Owner: pgauth_owner
--

CREATE FUNCTION pgauth.totp_confirm(p_user_id uuid, p_code text) RETURNS text[]
    LANGUAGE plpgsql SECURITY DEFINER
    SET search_path TO 'pg_catalog', 'pgauth', 'pg_temp'
    AS $$
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

ALTER FUNCTION pgauth.totp_confirm(p_user_id uuid, p_code text) OWNER TO pgauth_owner;

--
-- Name: FUNCTION totp_confirm(p_user_id uuid, p_code text); Type: COMMENT; Schema: pgauth; Owner: pgauth_owner
--

COMMENT ON FUNCTION pgauth.totp_confirm(p_user_id uuid, p_code text) IS 'Confirms TOTP enrolment with a current code: returns the ten recovery codes (once; stored hashed). NULL for a wrong code (counted as a failed login). MFAOF when no enrolment was started, MFAON when already confirmed; NOUSR.';

--
-- Name: totp_enroll(uuid); Type: FUNCTION; Schema: pgauth; Owner: pgauth_owner
--

CREATE FUNCTION pgauth.totp_enroll(p_user_id uuid) RETURNS TABLE(secret text, otpauth_uri text)
    LANGUAGE plpgsql SECURITY DEFINER
    SET search_path TO 'pg_catalog', 'pgauth', 'pg_temp'
    AS $$
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

ALTER FUNCTION pgauth.totp_enroll(p_user_id uuid) OWNER TO pgauth_owner;

--
-- Name: FUNCTION totp_enroll(p_user_id uuid); Type: COMMENT; Schema: pgauth; Owner: pgauth_owner
--

COMMENT ON FUNCTION pgauth.totp_enroll(p_user_id uuid) IS 'Starts (or restarts) TOTP enrolment: a new secret, returned once in base32 and as an otpauth:// URI; the factor is off until totp_confirm. MFAON when a confirmed factor exists; NOUSR.';

--
-- Name: totp_remove(uuid, text); Type: FUNCTION; Schema: pgauth; Owner: pgauth_owner
--

CREATE FUNCTION pgauth.totp_remove(p_user_id uuid, p_code text) RETURNS boolean
    LANGUAGE plpgsql SECURITY DEFINER
    SET search_path TO 'pg_catalog', 'pgauth', 'pg_temp'
    AS $$
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

ALTER FUNCTION pgauth.totp_remove(p_user_id uuid, p_code text) OWNER TO pgauth_owner;

--
-- Name: FUNCTION totp_remove(p_user_id uuid, p_code text); Type: COMMENT; Schema: pgauth; Owner: pgauth_owner
--

COMMENT ON FUNCTION pgauth.totp_remove(p_user_id uuid, p_code text) IS 'Turns TOTP off given a current code or a recovery code: true; false for a wrong code (counted as a failed login). MFAOF when TOTP is not on; NOUSR.';

--
-- Name: unlock_user(uuid); Type: FUNCTION; Schema: pgauth; Owner: pgauth_owner
--

CREATE FUNCTION pgauth.unlock_user(p_user_id uuid) RETURNS void
    LANGUAGE plpgsql SECURITY DEFINER
    SET search_path TO 'pg_catalog', 'pgauth', 'pg_temp'
    AS $$
begin
  perform pgauth._user(p_user_id);
  update pgauth.users u
    set locked_until = null, lock_reason = null, failed_logins = 0, lock_count = 0
  where u.id = p_user_id;
  perform pgauth._audit('user_unlocked', p_user_id, null, null, null, '{}');
end
$$;

ALTER FUNCTION pgauth.unlock_user(p_user_id uuid) OWNER TO pgauth_owner;

--
-- Name: FUNCTION unlock_user(p_user_id uuid); Type: COMMENT; Schema: pgauth; Owner: pgauth_owner
--

COMMENT ON FUNCTION pgauth.unlock_user(p_user_id uuid) IS 'Admin: lifts a lock and clears the failure and lock counters. NOUSR.';

--
-- Name: update_settings(jsonb); Type: FUNCTION; Schema: pgauth; Owner: pgauth_owner
--

CREATE FUNCTION pgauth.update_settings(p_changes jsonb) RETURNS void
    LANGUAGE plpgsql SECURITY DEFINER
    SET search_path TO 'pg_catalog', 'pgauth', 'pg_temp'
    AS $$
declare
  v_known constant text[] := array['bcrypt_cost', 'password_min_length', 'max_failed_logins',
    'lockout_seconds', 'lockout_max_seconds', 'access_token_ttl_seconds',
    'refresh_token_ttl_seconds', 'session_max_age_seconds', 'refresh_reuse_grace_seconds',
    'session_retention_seconds', 'allow_registration', 'require_verified_email',
    'email_verification_ttl_seconds', 'password_reset_ttl_seconds', 'password_reset_per_address',
    'password_reset_per_ip', 'mfa_challenge_ttl_seconds', 'totp_issuer', 'mail_max_attempts',
    'access_token_format', 'service_token_ttl_seconds'];
  v_key text;
  v_constraint text;
begin
  if p_changes is null or jsonb_typeof(p_changes) <> 'object' or p_changes = '{}' then
    perform pgauth._invalid('the changes must be a non-empty object');
  end if;
  for v_key in select k from jsonb_object_keys(p_changes) k loop
    if not v_key = any (v_known) then
      perform pgauth._invalid(format('%s is not a setting', v_key));
    end if;
    if v_key in ('allow_registration', 'require_verified_email') then
      if jsonb_typeof(p_changes -> v_key) <> 'boolean' then
        perform pgauth._invalid(format('%s must be true or false', v_key));
      end if;
    elsif v_key in ('totp_issuer', 'access_token_format') then
      if jsonb_typeof(p_changes -> v_key) <> 'string' then
        perform pgauth._invalid(format('%s must be a string', v_key));
      end if;
    elsif jsonb_typeof(p_changes -> v_key) <> 'number'
        or (p_changes ->> v_key)::numeric <> trunc((p_changes ->> v_key)::numeric)
        or (p_changes ->> v_key)::numeric not between 0 and 2147483647 then
      perform pgauth._invalid(format('%s must be a whole number from 0 to 2147483647', v_key));
    end if;
  end loop;
  begin
    update pgauth.settings s set
      bcrypt_cost = coalesce((p_changes ->> 'bcrypt_cost')::integer, s.bcrypt_cost),
      password_min_length = coalesce((p_changes ->> 'password_min_length')::integer,
        s.password_min_length),
      max_failed_logins = coalesce((p_changes ->> 'max_failed_logins')::integer,
        s.max_failed_logins),
      lockout_seconds = coalesce((p_changes ->> 'lockout_seconds')::integer, s.lockout_seconds),
      lockout_max_seconds = coalesce((p_changes ->> 'lockout_max_seconds')::integer,
        s.lockout_max_seconds),
      access_token_ttl = coalesce(make_interval(
        secs => (p_changes ->> 'access_token_ttl_seconds')::integer), s.access_token_ttl),
      refresh_token_ttl = coalesce(make_interval(
        secs => (p_changes ->> 'refresh_token_ttl_seconds')::integer), s.refresh_token_ttl),
      session_max_age = coalesce(make_interval(
        secs => (p_changes ->> 'session_max_age_seconds')::integer), s.session_max_age),
      refresh_reuse_grace = coalesce(make_interval(
        secs => (p_changes ->> 'refresh_reuse_grace_seconds')::integer), s.refresh_reuse_grace),
      session_retention = coalesce(make_interval(
        secs => (p_changes ->> 'session_retention_seconds')::integer), s.session_retention),
      allow_registration = coalesce((p_changes ->> 'allow_registration')::boolean,
        s.allow_registration),
      require_verified_email = coalesce((p_changes ->> 'require_verified_email')::boolean,
        s.require_verified_email),
      email_verification_ttl = coalesce(make_interval(
        secs => (p_changes ->> 'email_verification_ttl_seconds')::integer),
        s.email_verification_ttl),
      password_reset_ttl = coalesce(make_interval(
        secs => (p_changes ->> 'password_reset_ttl_seconds')::integer), s.password_reset_ttl),
      password_reset_per_address = coalesce((p_changes ->> 'password_reset_per_address')::integer,
        s.password_reset_per_address),
      password_reset_per_ip = coalesce((p_changes ->> 'password_reset_per_ip')::integer,
        s.password_reset_per_ip),
      mfa_challenge_ttl = coalesce(make_interval(
        secs => (p_changes ->> 'mfa_challenge_ttl_seconds')::integer), s.mfa_challenge_ttl),
      totp_issuer = coalesce(p_changes ->> 'totp_issuer', s.totp_issuer),
      mail_max_attempts = coalesce((p_changes ->> 'mail_max_attempts')::integer,
        s.mail_max_attempts),
      access_token_format = coalesce(p_changes ->> 'access_token_format', s.access_token_format),
      service_token_ttl = coalesce(make_interval(
        secs => (p_changes ->> 'service_token_ttl_seconds')::integer), s.service_token_ttl);
  exception when check_violation then
    get stacked diagnostics v_constraint = constraint_name;
    perform pgauth._invalid(format('the settings break the rule %s',
      replace(v_constraint, 'settings_', '')));
  end;
  perform pgauth._audit('settings_changed', null, null, null, null,
    jsonb_build_object('fields', (select jsonb_agg(k order by k) from jsonb_object_keys(p_changes) k)));
end
$$;

ALTER FUNCTION pgauth.update_settings(p_changes jsonb) OWNER TO pgauth_owner;

--
-- Name: FUNCTION update_settings(p_changes jsonb); Type: COMMENT; Schema: pgauth; Owner: pgauth_owner
--

COMMENT ON FUNCTION pgauth.update_settings(p_changes jsonb) IS 'Admin: changes the named policy settings (the names get_settings returns, durations in seconds); each must keep the table''s rules, else BADIN naming the rule. One audit row settings_changed with the names of the fields.';

--
-- Name: validate(text); Type: FUNCTION; Schema: pgauth; Owner: pgauth_owner
--

CREATE FUNCTION pgauth.validate(p_access_token text) RETURNS TABLE(user_id uuid, session_id uuid, username text, roles text[], expires_at timestamp with time zone, aal smallint, subject_type text)
    LANGUAGE plpgsql STABLE SECURITY DEFINER
    SET search_path TO 'pg_catalog', 'pgauth', 'pg_temp'
    AS $$
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

ALTER FUNCTION pgauth.validate(p_access_token text) OWNER TO pgauth_owner;

--
-- Name: FUNCTION validate(p_access_token text); Type: COMMENT; Schema: pgauth; Owner: pgauth_owner
--

COMMENT ON FUNCTION pgauth.validate(p_access_token text) IS 'The hot path: one row (subject id, session or key id, name, roles, expiry, aal: 1, or 2 for a session whose login used a second factor, subject_type user or service_account) for a valid access token or API key, no row for anything else (garbage, NULL, expired, revoked, disabled). Never raises. Writes only an API key''s last_used_at, at most once a minute, and never in a read-only transaction.';

--
-- Name: validate_jti(uuid); Type: FUNCTION; Schema: pgauth; Owner: pgauth_owner
--

CREATE FUNCTION pgauth.validate_jti(p_jti uuid) RETURNS TABLE(user_id uuid, session_id uuid, username text, roles text[], expires_at timestamp with time zone, aal smallint, subject_type text)
    LANGUAGE plpgsql STABLE SECURITY DEFINER
    SET search_path TO 'pg_catalog', 'pgauth', 'pg_temp'
    AS $$
begin
  return query
    select k.service_account_id, k.parent_id, k.account_name, k.roles, k.expires_at,
      1::smallint, 'service_account'::text
    from pgauth.api_keys k
    where k.key_hash = pgauth._token_hash('pgj_' || p_jti::text)
      and k.revoked_at is null and k.disabled_at is null and k.expires_at > pgauth.clock();
end
$$;

ALTER FUNCTION pgauth.validate_jti(p_jti uuid) OWNER TO pgauth_owner;

--
-- Name: FUNCTION validate_jti(p_jti uuid); Type: COMMENT; Schema: pgauth; Owner: pgauth_owner
--

COMMENT ON FUNCTION pgauth.validate_jti(p_jti uuid) IS 'For a JWT access token whose signature the caller checked: one row as pgauth.validate answers (session_id is the API key the token was issued for) while the token with this jti is live, no row once it expired or was revoked.';

--
-- Name: validate_many(text[]); Type: FUNCTION; Schema: pgauth; Owner: pgauth_owner
--

CREATE FUNCTION pgauth.validate_many(p_access_tokens text[]) RETURNS TABLE(ord integer, user_id uuid, session_id uuid, username text, roles text[], expires_at timestamp with time zone, aal smallint, subject_type text)
    LANGUAGE plpgsql STABLE SECURITY DEFINER
    SET search_path TO 'pg_catalog', 'pgauth', 'pg_temp'
    AS $$
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

ALTER FUNCTION pgauth.validate_many(p_access_tokens text[]) OWNER TO pgauth_owner;

--
-- Name: FUNCTION validate_many(p_access_tokens text[]); Type: COMMENT; Schema: pgauth; Owner: pgauth_owner
--

COMMENT ON FUNCTION pgauth.validate_many(p_access_tokens text[]) IS 'The hot path in batches: for each valid access token or API key of the array, one row with its 1-based position (ord) and what pgauth.validate returns; no row for the others. At most 1000 tokens.';

--
-- Name: validate_session_jwt(uuid, uuid); Type: FUNCTION; Schema: pgauth; Owner: pgauth_owner
--

CREATE FUNCTION pgauth.validate_session_jwt(p_session_id uuid, p_jti uuid) RETURNS TABLE(user_id uuid, session_id uuid, username text, roles text[], expires_at timestamp with time zone, aal smallint, subject_type text)
    LANGUAGE plpgsql STABLE SECURITY DEFINER
    SET search_path TO 'pg_catalog', 'pgauth', 'pg_temp'
    AS $$
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

ALTER FUNCTION pgauth.validate_session_jwt(p_session_id uuid, p_jti uuid) OWNER TO pgauth_owner;

--
-- Name: FUNCTION validate_session_jwt(p_session_id uuid, p_jti uuid); Type: COMMENT; Schema: pgauth; Owner: pgauth_owner
--

COMMENT ON FUNCTION pgauth.validate_session_jwt(p_session_id uuid, p_jti uuid) IS 'For a session''s JWT access token whose signature the caller checked (claims sid and jti): one row as pgauth.validate answers while it is the session''s current access token and the session is live; no row once it was rotated by a refresh, revoked or expired. Never raises.';

--
-- Name: verify_email(text); Type: FUNCTION; Schema: pgauth; Owner: pgauth_owner
--

CREATE FUNCTION pgauth.verify_email(p_token text) RETURNS boolean
    LANGUAGE plpgsql SECURITY DEFINER
    SET search_path TO 'pg_catalog', 'pgauth', 'pg_temp'
    AS $$
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

ALTER FUNCTION pgauth.verify_email(p_token text) OWNER TO pgauth_owner;

--
-- Name: FUNCTION verify_email(p_token text); Type: COMMENT; Schema: pgauth; Owner: pgauth_owner
--

COMMENT ON FUNCTION pgauth.verify_email(p_token text) IS 'Marks the address a verification token was mailed to as verified: true, once; false for an unknown, used or expired token, or when the address has changed since.';

--
-- Name: api_keys; Type: TABLE; Schema: pgauth; Owner: pgauth_owner
--

CREATE TABLE pgauth.api_keys (
    id uuid DEFAULT gen_random_uuid() NOT NULL,
    kind text NOT NULL,
    service_account_id uuid NOT NULL,
    parent_id uuid,
    name text,
    key_hash bytea NOT NULL,
    account_name text NOT NULL,
    roles text[] NOT NULL,
    expires_at timestamp with time zone,
    created_at timestamp with time zone DEFAULT pgauth.clock() NOT NULL,
    last_used_at timestamp with time zone,
    revoked_at timestamp with time zone,
    disabled_at timestamp with time zone,
    CONSTRAINT api_keys_kind_check CHECK ((kind = ANY (ARRAY['api_key'::text, 'access_token'::text]))),
    CONSTRAINT api_keys_name_length CHECK ((((kind = 'api_key'::text) AND ((char_length(name) >= 1) AND (char_length(name) <= 64))) OR ((kind = 'access_token'::text) AND (name IS NULL)))),
    CONSTRAINT api_keys_parent CHECK (((kind = 'access_token'::text) = (parent_id IS NOT NULL)))
);

ALTER TABLE pgauth.api_keys OWNER TO pgauth_owner;

--
-- Name: TABLE api_keys; Type: COMMENT; Schema: pgauth; Owner: pgauth_owner
--

COMMENT ON TABLE pgauth.api_keys IS 'API keys of service accounts and the access tokens issued for them; only SHA-256 of a secret is stored. A raw UPDATE of revoked_at revokes the tokens of a key and NOTIFYs the caches.';

--
-- Name: COLUMN api_keys.last_used_at; Type: COMMENT; Schema: pgauth; Owner: pgauth_owner
--

COMMENT ON COLUMN pgauth.api_keys.last_used_at IS 'Last successful validation or client authentication, written at most once a minute.';

--
-- Name: audit_log; Type: TABLE; Schema: pgauth; Owner: pgauth_owner
--

CREATE TABLE pgauth.audit_log (
    id bigint NOT NULL,
    at timestamp with time zone DEFAULT pgauth.clock() NOT NULL,
    event text NOT NULL,
    user_id uuid,
    session_id uuid,
    client_ip inet,
    user_agent text,
    detail jsonb DEFAULT '{}'::jsonb NOT NULL
);

ALTER TABLE pgauth.audit_log OWNER TO pgauth_owner;

--
-- Name: audit_log_id_seq; Type: SEQUENCE; Schema: pgauth; Owner: pgauth_owner
--

ALTER TABLE pgauth.audit_log ALTER COLUMN id ADD GENERATED ALWAYS AS IDENTITY (
    SEQUENCE NAME pgauth.audit_log_id_seq
    START WITH 1
    INCREMENT BY 1
    NO MINVALUE
    NO MAXVALUE
    CACHE 1
);

--
-- Name: common_passwords; Type: TABLE; Schema: pgauth; Owner: pgauth_owner
--

CREATE TABLE pgauth.common_passwords (
    password text NOT NULL
);

ALTER TABLE pgauth.common_passwords OWNER TO pgauth_owner;

--
-- Name: mail_outbox; Type: TABLE; Schema: pgauth; Owner: pgauth_owner
--

CREATE TABLE pgauth.mail_outbox (
    id bigint NOT NULL,
    kind text NOT NULL,
    user_id uuid NOT NULL,
    to_address text NOT NULL,
    created_at timestamp with time zone NOT NULL,
    next_attempt_at timestamp with time zone NOT NULL,
    claimed_until timestamp with time zone,
    attempts integer DEFAULT 0 NOT NULL,
    sent_at timestamp with time zone,
    failed_at timestamp with time zone,
    last_error text,
    CONSTRAINT mail_outbox_kind_check CHECK ((kind = ANY (ARRAY['verify_email'::text, 'password_reset'::text])))
);

ALTER TABLE pgauth.mail_outbox OWNER TO pgauth_owner;

--
-- Name: TABLE mail_outbox; Type: COMMENT; Schema: pgauth; Owner: pgauth_owner
--

COMMENT ON TABLE pgauth.mail_outbox IS 'Mail to send: the kind and the address, never the text or a token. Drained by pgauth.mail_claim / mail_sent / mail_failed.';

--
-- Name: mail_outbox_id_seq; Type: SEQUENCE; Schema: pgauth; Owner: pgauth_owner
--

ALTER TABLE pgauth.mail_outbox ALTER COLUMN id ADD GENERATED ALWAYS AS IDENTITY (
    SEQUENCE NAME pgauth.mail_outbox_id_seq
    START WITH 1
    INCREMENT BY 1
    NO MINVALUE
    NO MAXVALUE
    CACHE 1
);

--
-- Name: mfa_challenges; Type: TABLE; Schema: pgauth; Owner: pgauth_owner
--

CREATE TABLE pgauth.mfa_challenges (
    token_hash bytea NOT NULL,
    user_id uuid NOT NULL,
    password_changed_at timestamp with time zone NOT NULL,
    expires_at timestamp with time zone NOT NULL,
    failures integer DEFAULT 0 NOT NULL,
    verified_by text,
    verified_xact xid8,
    client_ip inet,
    user_agent text,
    CONSTRAINT mfa_challenges_verified_by_check CHECK ((verified_by = ANY (ARRAY['totp'::text, 'recovery_code'::text])))
);

ALTER TABLE pgauth.mfa_challenges OWNER TO pgauth_owner;

--
-- Name: TABLE mfa_challenges; Type: COMMENT; Schema: pgauth; Owner: pgauth_owner
--

COMMENT ON TABLE pgauth.mfa_challenges IS 'Logins waiting for their second factor: SHA-256 of the challenge only.';

--
-- Name: migrations; Type: TABLE; Schema: pgauth; Owner: pgauth_owner
--

CREATE TABLE pgauth.migrations (
    name text NOT NULL,
    checksum text NOT NULL,
    applied_at timestamp with time zone DEFAULT now() NOT NULL
);

ALTER TABLE pgauth.migrations OWNER TO pgauth_owner;

--
-- Name: rate_limits; Type: TABLE; Schema: pgauth; Owner: pgauth_owner
--

CREATE UNLOGGED TABLE pgauth.rate_limits (
    bucket text NOT NULL,
    key text NOT NULL,
    window_end timestamp with time zone NOT NULL,
    hits integer NOT NULL,
    CONSTRAINT rate_limits_bucket_length CHECK (((char_length(bucket) >= 1) AND (char_length(bucket) <= 64))),
    CONSTRAINT rate_limits_key_length CHECK (((char_length(key) >= 1) AND (char_length(key) <= 512)))
);

ALTER TABLE pgauth.rate_limits OWNER TO pgauth_owner;

--
-- Name: TABLE rate_limits; Type: COMMENT; Schema: pgauth; Owner: pgauth_owner
--

COMMENT ON TABLE pgauth.rate_limits IS 'Attempts per (bucket, key) in the current fixed window: pgauth.throttle() counts, every gateway shares. UNLOGGED: emptied by a crash or a failover.';

--
-- Name: recovery_codes; Type: TABLE; Schema: pgauth; Owner: pgauth_owner
--

CREATE TABLE pgauth.recovery_codes (
    user_id uuid NOT NULL,
    code_hash bytea NOT NULL,
    created_at timestamp with time zone NOT NULL
);

ALTER TABLE pgauth.recovery_codes OWNER TO pgauth_owner;

--
-- Name: TABLE recovery_codes; Type: COMMENT; Schema: pgauth; Owner: pgauth_owner
--

COMMENT ON TABLE pgauth.recovery_codes IS 'Unused recovery codes, SHA-256 only; a used one is deleted.';

--
-- Name: roles; Type: TABLE; Schema: pgauth; Owner: pgauth_owner
--

CREATE TABLE pgauth.roles (
    name text NOT NULL,
    created_at timestamp with time zone DEFAULT pgauth.clock() NOT NULL,
    CONSTRAINT roles_name_format CHECK ((name ~ '^[a-z][a-z0-9_.:-]{0,62}$'::text))
);

ALTER TABLE pgauth.roles OWNER TO pgauth_owner;

--
-- Name: rotated_refresh_tokens; Type: TABLE; Schema: pgauth; Owner: pgauth_owner
--

CREATE TABLE pgauth.rotated_refresh_tokens (
    token_hash bytea NOT NULL,
    session_id uuid NOT NULL,
    generation integer NOT NULL,
    rotated_at timestamp with time zone NOT NULL
);

ALTER TABLE pgauth.rotated_refresh_tokens OWNER TO pgauth_owner;

--
-- Name: sessions; Type: TABLE; Schema: pgauth; Owner: pgauth_owner
--

CREATE TABLE pgauth.sessions (
    id uuid DEFAULT gen_random_uuid() NOT NULL,
    user_id uuid NOT NULL,
    username text NOT NULL,
    roles text[] DEFAULT '{}'::text[] NOT NULL,
    access_token_hash bytea NOT NULL,
    access_expires_at timestamp with time zone NOT NULL,
    refresh_token_hash bytea NOT NULL,
    refresh_expires_at timestamp with time zone NOT NULL,
    refresh_generation integer DEFAULT 0 NOT NULL,
    rotated_at timestamp with time zone,
    rotation_salt bytea,
    expires_at timestamp with time zone NOT NULL,
    created_at timestamp with time zone DEFAULT pgauth.clock() NOT NULL,
    client_ip inet,
    user_agent text,
    revoked_at timestamp with time zone,
    revoked_reason text,
    aal smallint DEFAULT 1 NOT NULL,
    CONSTRAINT sessions_aal_check CHECK ((aal = ANY (ARRAY[1, 2]))),
    CONSTRAINT sessions_access_within_absolute CHECK ((access_expires_at <= expires_at)),
    CONSTRAINT sessions_refresh_within_absolute CHECK ((refresh_expires_at <= expires_at)),
    CONSTRAINT sessions_revoked_reason CHECK (((revoked_at IS NULL) = (revoked_reason IS NULL)))
);

ALTER TABLE pgauth.sessions OWNER TO pgauth_owner;

--
-- Name: COLUMN sessions.expires_at; Type: COMMENT; Schema: pgauth; Owner: pgauth_owner
--

COMMENT ON COLUMN pgauth.sessions.expires_at IS 'Absolute expiry: no refresh extends a session past it.';

--
-- Name: signing_keys; Type: TABLE; Schema: pgauth; Owner: pgauth_owner
--

CREATE TABLE pgauth.signing_keys (
    kid text NOT NULL,
    alg text NOT NULL,
    public_jwk jsonb NOT NULL,
    private_key_encrypted text NOT NULL,
    created_at timestamp with time zone DEFAULT pgauth.clock() NOT NULL,
    retired_at timestamp with time zone,
    CONSTRAINT signing_keys_alg_check CHECK ((alg = ANY (ARRAY['EdDSA'::text, 'ES256'::text, 'RS256'::text]))),
    CONSTRAINT signing_keys_kid_format CHECK ((kid ~ '^[A-Za-z0-9_-]{8,64}$'::text)),
    CONSTRAINT signing_keys_private_key_encrypted_format CHECK ((private_key_encrypted ~ '^v1\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+$'::text))
);

ALTER TABLE pgauth.signing_keys OWNER TO pgauth_owner;

--
-- Name: TABLE signing_keys; Type: COMMENT; Schema: pgauth; Owner: pgauth_owner
--

COMMENT ON TABLE pgauth.signing_keys IS 'JWT signing keys: the public JWK, and the private key encrypted by the gateway (AES-256-GCM under its key-encryption key; never in clear here). One active key (retired_at null) signs.';

--
-- Name: user_roles; Type: TABLE; Schema: pgauth; Owner: pgauth_owner
--

CREATE TABLE pgauth.user_roles (
    user_id uuid NOT NULL,
    role text NOT NULL,
    granted_at timestamp with time zone DEFAULT pgauth.clock() NOT NULL
);

ALTER TABLE pgauth.user_roles OWNER TO pgauth_owner;

--
-- Name: account_tokens account_tokens_pkey; Type: CONSTRAINT; Schema: pgauth; Owner: pgauth_owner
--

ALTER TABLE ONLY pgauth.account_tokens
    ADD CONSTRAINT account_tokens_pkey PRIMARY KEY (token_hash);

--
-- Name: api_keys api_keys_pkey; Type: CONSTRAINT; Schema: pgauth; Owner: pgauth_owner
--

ALTER TABLE ONLY pgauth.api_keys
    ADD CONSTRAINT api_keys_pkey PRIMARY KEY (id);

--
-- Name: audit_log audit_log_pkey; Type: CONSTRAINT; Schema: pgauth; Owner: pgauth_owner
--

ALTER TABLE ONLY pgauth.audit_log
    ADD CONSTRAINT audit_log_pkey PRIMARY KEY (id);

--
-- Name: common_passwords common_passwords_pkey; Type: CONSTRAINT; Schema: pgauth; Owner: pgauth_owner
--

ALTER TABLE ONLY pgauth.common_passwords
    ADD CONSTRAINT common_passwords_pkey PRIMARY KEY (password);

--
-- Name: mail_outbox mail_outbox_pkey; Type: CONSTRAINT; Schema: pgauth; Owner: pgauth_owner
--

ALTER TABLE ONLY pgauth.mail_outbox
    ADD CONSTRAINT mail_outbox_pkey PRIMARY KEY (id);

--
-- Name: mfa_challenges mfa_challenges_pkey; Type: CONSTRAINT; Schema: pgauth; Owner: pgauth_owner
--

ALTER TABLE ONLY pgauth.mfa_challenges
    ADD CONSTRAINT mfa_challenges_pkey PRIMARY KEY (token_hash);

--
-- Name: migrations migrations_pkey; Type: CONSTRAINT; Schema: pgauth; Owner: pgauth_owner
--

ALTER TABLE ONLY pgauth.migrations
    ADD CONSTRAINT migrations_pkey PRIMARY KEY (name);

--
-- Name: password_attempts password_attempts_pkey; Type: CONSTRAINT; Schema: pgauth; Owner: pgauth_owner
--

ALTER TABLE ONLY pgauth.password_attempts
    ADD CONSTRAINT password_attempts_pkey PRIMARY KEY (token_hash);

--
-- Name: rate_limits rate_limits_pkey; Type: CONSTRAINT; Schema: pgauth; Owner: pgauth_owner
--

ALTER TABLE ONLY pgauth.rate_limits
    ADD CONSTRAINT rate_limits_pkey PRIMARY KEY (bucket, key);

--
-- Name: recovery_codes recovery_codes_pkey; Type: CONSTRAINT; Schema: pgauth; Owner: pgauth_owner
--

ALTER TABLE ONLY pgauth.recovery_codes
    ADD CONSTRAINT recovery_codes_pkey PRIMARY KEY (user_id, code_hash);

--
-- Name: roles roles_pkey; Type: CONSTRAINT; Schema: pgauth; Owner: pgauth_owner
--

ALTER TABLE ONLY pgauth.roles
    ADD CONSTRAINT roles_pkey PRIMARY KEY (name);

--
-- Name: rotated_refresh_tokens rotated_refresh_tokens_pkey; Type: CONSTRAINT; Schema: pgauth; Owner: pgauth_owner
--

ALTER TABLE ONLY pgauth.rotated_refresh_tokens
    ADD CONSTRAINT rotated_refresh_tokens_pkey PRIMARY KEY (token_hash);

--
-- Name: service_accounts service_accounts_pkey; Type: CONSTRAINT; Schema: pgauth; Owner: pgauth_owner
--

ALTER TABLE ONLY pgauth.service_accounts
    ADD CONSTRAINT service_accounts_pkey PRIMARY KEY (id);

--
-- Name: sessions sessions_access_token_hash_key; Type: CONSTRAINT; Schema: pgauth; Owner: pgauth_owner
--

ALTER TABLE ONLY pgauth.sessions
    ADD CONSTRAINT sessions_access_token_hash_key EXCLUDE USING hash (access_token_hash WITH =);

--
-- Name: sessions sessions_pkey; Type: CONSTRAINT; Schema: pgauth; Owner: pgauth_owner
--

ALTER TABLE ONLY pgauth.sessions
    ADD CONSTRAINT sessions_pkey PRIMARY KEY (id);

--
-- Name: sessions sessions_refresh_token_hash_key; Type: CONSTRAINT; Schema: pgauth; Owner: pgauth_owner
--

ALTER TABLE ONLY pgauth.sessions
    ADD CONSTRAINT sessions_refresh_token_hash_key EXCLUDE USING hash (refresh_token_hash WITH =);

--
-- Name: settings settings_pkey; Type: CONSTRAINT; Schema: pgauth; Owner: pgauth_owner
--

ALTER TABLE ONLY pgauth.settings
    ADD CONSTRAINT settings_pkey PRIMARY KEY (id);

--
-- Name: signing_keys signing_keys_pkey; Type: CONSTRAINT; Schema: pgauth; Owner: pgauth_owner
--

ALTER TABLE ONLY pgauth.signing_keys
    ADD CONSTRAINT signing_keys_pkey PRIMARY KEY (kid);

--
-- Name: totp_factors totp_factors_pkey; Type: CONSTRAINT; Schema: pgauth; Owner: pgauth_owner
--

ALTER TABLE ONLY pgauth.totp_factors
    ADD CONSTRAINT totp_factors_pkey PRIMARY KEY (user_id);

--
-- Name: user_roles user_roles_pkey; Type: CONSTRAINT; Schema: pgauth; Owner: pgauth_owner
--

ALTER TABLE ONLY pgauth.user_roles
    ADD CONSTRAINT user_roles_pkey PRIMARY KEY (user_id, role);

--
-- Name: users users_pkey; Type: CONSTRAINT; Schema: pgauth; Owner: pgauth_owner
--

ALTER TABLE ONLY pgauth.users
    ADD CONSTRAINT users_pkey PRIMARY KEY (id);

--
-- Name: account_tokens_expires_at_idx; Type: INDEX; Schema: pgauth; Owner: pgauth_owner
--

CREATE INDEX account_tokens_expires_at_idx ON pgauth.account_tokens USING btree (expires_at);

--
-- Name: account_tokens_user_id_idx; Type: INDEX; Schema: pgauth; Owner: pgauth_owner
--

CREATE INDEX account_tokens_user_id_idx ON pgauth.account_tokens USING btree (user_id, purpose);

--
-- Name: api_keys_expires_at_idx; Type: INDEX; Schema: pgauth; Owner: pgauth_owner
--

CREATE INDEX api_keys_expires_at_idx ON pgauth.api_keys USING btree (expires_at) WHERE (kind = 'access_token'::text);

--
-- Name: api_keys_key_hash_key; Type: INDEX; Schema: pgauth; Owner: pgauth_owner
--

CREATE UNIQUE INDEX api_keys_key_hash_key ON pgauth.api_keys USING btree (key_hash);

--
-- Name: api_keys_parent_id_idx; Type: INDEX; Schema: pgauth; Owner: pgauth_owner
--

CREATE INDEX api_keys_parent_id_idx ON pgauth.api_keys USING btree (parent_id) WHERE (parent_id IS NOT NULL);

--
-- Name: api_keys_service_account_id_idx; Type: INDEX; Schema: pgauth; Owner: pgauth_owner
--

CREATE INDEX api_keys_service_account_id_idx ON pgauth.api_keys USING btree (service_account_id);

--
-- Name: audit_log_at_id_idx; Type: INDEX; Schema: pgauth; Owner: pgauth_owner
--

CREATE INDEX audit_log_at_id_idx ON pgauth.audit_log USING btree (at DESC, id DESC);

--
-- Name: audit_log_event_at_id_idx; Type: INDEX; Schema: pgauth; Owner: pgauth_owner
--

CREATE INDEX audit_log_event_at_id_idx ON pgauth.audit_log USING btree (event, at DESC, id DESC);

--
-- Name: audit_log_user_id_at_idx; Type: INDEX; Schema: pgauth; Owner: pgauth_owner
--

CREATE INDEX audit_log_user_id_at_idx ON pgauth.audit_log USING btree (user_id, at DESC);

--
-- Name: mail_outbox_pending_idx; Type: INDEX; Schema: pgauth; Owner: pgauth_owner
--

CREATE INDEX mail_outbox_pending_idx ON pgauth.mail_outbox USING btree (next_attempt_at) WHERE ((sent_at IS NULL) AND (failed_at IS NULL));

--
-- Name: mfa_challenges_expires_at_idx; Type: INDEX; Schema: pgauth; Owner: pgauth_owner
--

CREATE INDEX mfa_challenges_expires_at_idx ON pgauth.mfa_challenges USING btree (expires_at);

--
-- Name: password_attempts_at_idx; Type: INDEX; Schema: pgauth; Owner: pgauth_owner
--

CREATE INDEX password_attempts_at_idx ON pgauth.password_attempts USING btree (at);

--
-- Name: rate_limits_window_end; Type: INDEX; Schema: pgauth; Owner: pgauth_owner
--

CREATE INDEX rate_limits_window_end ON pgauth.rate_limits USING btree (window_end);

--
-- Name: rotated_refresh_tokens_session_id_idx; Type: INDEX; Schema: pgauth; Owner: pgauth_owner
--

CREATE INDEX rotated_refresh_tokens_session_id_idx ON pgauth.rotated_refresh_tokens USING btree (session_id);

--
-- Name: service_accounts_name_key; Type: INDEX; Schema: pgauth; Owner: pgauth_owner
--

CREATE UNIQUE INDEX service_accounts_name_key ON pgauth.service_accounts USING btree (name);

--
-- Name: sessions_ended_at_idx; Type: INDEX; Schema: pgauth; Owner: pgauth_owner
--

CREATE INDEX sessions_ended_at_idx ON pgauth.sessions USING brin (LEAST(expires_at, revoked_at, GREATEST(refresh_expires_at, access_expires_at)) timestamptz_minmax_multi_ops);

--
-- Name: sessions_rotation_salt_idx; Type: INDEX; Schema: pgauth; Owner: pgauth_owner
--

CREATE INDEX sessions_rotation_salt_idx ON pgauth.sessions USING btree (rotated_at) WHERE (rotation_salt IS NOT NULL);

--
-- Name: sessions_user_id_idx; Type: INDEX; Schema: pgauth; Owner: pgauth_owner
--

CREATE INDEX sessions_user_id_idx ON pgauth.sessions USING btree (user_id) WHERE (revoked_at IS NULL);

--
-- Name: signing_keys_active_key; Type: INDEX; Schema: pgauth; Owner: pgauth_owner
--

CREATE UNIQUE INDEX signing_keys_active_key ON pgauth.signing_keys USING btree ((true)) WHERE (retired_at IS NULL);

--
-- Name: user_roles_role_idx; Type: INDEX; Schema: pgauth; Owner: pgauth_owner
--

CREATE INDEX user_roles_role_idx ON pgauth.user_roles USING btree (role);

--
-- Name: users_search_email_idx; Type: INDEX; Schema: pgauth; Owner: pgauth_owner
--

CREATE INDEX users_search_email_idx ON pgauth.users USING btree (lower(email) COLLATE "C", id) WHERE ((deleted_at IS NULL) AND (email IS NOT NULL));

--
-- Name: users_search_username_idx; Type: INDEX; Schema: pgauth; Owner: pgauth_owner
--

CREATE INDEX users_search_username_idx ON pgauth.users USING btree (lower(username) COLLATE "C", id) WHERE (deleted_at IS NULL);

--
-- Name: users_username_key; Type: INDEX; Schema: pgauth; Owner: pgauth_owner
--

CREATE UNIQUE INDEX users_username_key ON pgauth.users USING btree (lower(username)) WHERE (deleted_at IS NULL);

--
-- Name: api_keys api_keys_notify_delete; Type: TRIGGER; Schema: pgauth; Owner: pgauth_owner
--

CREATE TRIGGER api_keys_notify_delete AFTER DELETE ON pgauth.api_keys REFERENCING OLD TABLE AS old_rows FOR EACH STATEMENT EXECUTE FUNCTION pgauth.tg_api_keys__notify();

--
-- Name: api_keys api_keys_notify_truncate; Type: TRIGGER; Schema: pgauth; Owner: pgauth_owner
--

CREATE TRIGGER api_keys_notify_truncate AFTER TRUNCATE ON pgauth.api_keys FOR EACH STATEMENT EXECUTE FUNCTION pgauth.tg_api_keys__notify();

--
-- Name: api_keys api_keys_notify_update; Type: TRIGGER; Schema: pgauth; Owner: pgauth_owner
--

CREATE TRIGGER api_keys_notify_update AFTER UPDATE ON pgauth.api_keys REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION pgauth.tg_api_keys__notify();

--
-- Name: api_keys api_keys_revoke_tokens; Type: TRIGGER; Schema: pgauth; Owner: pgauth_owner
--

CREATE TRIGGER api_keys_revoke_tokens AFTER UPDATE ON pgauth.api_keys REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION pgauth.tg_api_keys__revoke_tokens();

--
-- Name: audit_log audit_log_append_only; Type: TRIGGER; Schema: pgauth; Owner: pgauth_owner
--

CREATE TRIGGER audit_log_append_only BEFORE DELETE OR UPDATE ON pgauth.audit_log FOR EACH ROW EXECUTE FUNCTION pgauth.tg_audit_log__append_only();

--
-- Name: audit_log audit_log_no_truncate; Type: TRIGGER; Schema: pgauth; Owner: pgauth_owner
--

CREATE TRIGGER audit_log_no_truncate BEFORE TRUNCATE ON pgauth.audit_log FOR EACH STATEMENT EXECUTE FUNCTION pgauth.tg_audit_log__append_only();

--
-- Name: service_accounts service_accounts_sync_keys; Type: TRIGGER; Schema: pgauth; Owner: pgauth_owner
--

CREATE TRIGGER service_accounts_sync_keys AFTER UPDATE ON pgauth.service_accounts REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION pgauth.tg_service_accounts__sync_keys();

--
-- Name: sessions sessions_forget_rotated; Type: TRIGGER; Schema: pgauth; Owner: pgauth_owner
--

CREATE TRIGGER sessions_forget_rotated AFTER DELETE ON pgauth.sessions FOR EACH ROW WHEN (((old.refresh_generation > 0) AND (current_setting('pgauth.purging_sessions'::text, true) IS DISTINCT FROM 'on'::text))) EXECUTE FUNCTION pgauth.tg_sessions__forget_rotated();

--
-- Name: sessions sessions_forget_rotated_truncate; Type: TRIGGER; Schema: pgauth; Owner: pgauth_owner
--

CREATE TRIGGER sessions_forget_rotated_truncate AFTER TRUNCATE ON pgauth.sessions FOR EACH STATEMENT EXECUTE FUNCTION pgauth.tg_sessions__forget_rotated();

--
-- Name: sessions sessions_notify_delete; Type: TRIGGER; Schema: pgauth; Owner: pgauth_owner
--

CREATE TRIGGER sessions_notify_delete AFTER DELETE ON pgauth.sessions FOR EACH ROW WHEN (((old.revoked_at IS NULL) AND (old.access_expires_at > pgauth.clock()))) EXECUTE FUNCTION pgauth.tg_sessions__notify_deleted();

--
-- Name: sessions sessions_notify_truncate; Type: TRIGGER; Schema: pgauth; Owner: pgauth_owner
--

CREATE TRIGGER sessions_notify_truncate AFTER TRUNCATE ON pgauth.sessions FOR EACH STATEMENT EXECUTE FUNCTION pgauth.tg_sessions__notify();

--
-- Name: sessions sessions_notify_update; Type: TRIGGER; Schema: pgauth; Owner: pgauth_owner
--

CREATE TRIGGER sessions_notify_update AFTER UPDATE ON pgauth.sessions REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION pgauth.tg_sessions__notify();

--
-- Name: settings settings_guard; Type: TRIGGER; Schema: pgauth; Owner: pgauth_owner
--

CREATE TRIGGER settings_guard BEFORE DELETE OR UPDATE ON pgauth.settings FOR EACH ROW EXECUTE FUNCTION pgauth.tg_settings__guard();

--
-- Name: settings settings_no_truncate; Type: TRIGGER; Schema: pgauth; Owner: pgauth_owner
--

CREATE TRIGGER settings_no_truncate BEFORE TRUNCATE ON pgauth.settings FOR EACH STATEMENT EXECUTE FUNCTION pgauth.tg_settings__guard();

--
-- Name: user_roles user_roles_sync_delete; Type: TRIGGER; Schema: pgauth; Owner: pgauth_owner
--

CREATE TRIGGER user_roles_sync_delete AFTER DELETE ON pgauth.user_roles REFERENCING OLD TABLE AS changed_rows FOR EACH STATEMENT EXECUTE FUNCTION pgauth.tg_user_roles__sync_sessions();

--
-- Name: user_roles user_roles_sync_insert; Type: TRIGGER; Schema: pgauth; Owner: pgauth_owner
--

CREATE TRIGGER user_roles_sync_insert AFTER INSERT ON pgauth.user_roles REFERENCING NEW TABLE AS changed_rows FOR EACH STATEMENT EXECUTE FUNCTION pgauth.tg_user_roles__sync_sessions();

--
-- Name: user_roles user_roles_sync_update; Type: TRIGGER; Schema: pgauth; Owner: pgauth_owner
--

CREATE TRIGGER user_roles_sync_update AFTER UPDATE ON pgauth.user_roles REFERENCING NEW TABLE AS changed_rows FOR EACH STATEMENT EXECUTE FUNCTION pgauth.tg_user_roles__sync_sessions();

--
-- Name: users users_before_update; Type: TRIGGER; Schema: pgauth; Owner: pgauth_owner
--

CREATE TRIGGER users_before_update BEFORE UPDATE ON pgauth.users FOR EACH ROW EXECUTE FUNCTION pgauth.tg_users__before_update();

--
-- Name: users users_drop_reset_tokens; Type: TRIGGER; Schema: pgauth; Owner: pgauth_owner
--

CREATE TRIGGER users_drop_reset_tokens AFTER UPDATE OF password_hash ON pgauth.users FOR EACH ROW WHEN ((new.password_hash IS DISTINCT FROM old.password_hash)) EXECUTE FUNCTION pgauth.tg_users__drop_reset_tokens();

--
-- Name: users users_revoke_sessions; Type: TRIGGER; Schema: pgauth; Owner: pgauth_owner
--

CREATE TRIGGER users_revoke_sessions AFTER UPDATE ON pgauth.users FOR EACH ROW EXECUTE FUNCTION pgauth.tg_users__revoke_sessions();

--
-- Name: users users_unverify_email; Type: TRIGGER; Schema: pgauth; Owner: pgauth_owner
--

CREATE TRIGGER users_unverify_email BEFORE UPDATE OF email ON pgauth.users FOR EACH ROW EXECUTE FUNCTION pgauth.tg_users__unverify_email();

--
-- Name: account_tokens account_tokens_user_id_fkey; Type: FK CONSTRAINT; Schema: pgauth; Owner: pgauth_owner
--

ALTER TABLE ONLY pgauth.account_tokens
    ADD CONSTRAINT account_tokens_user_id_fkey FOREIGN KEY (user_id) REFERENCES pgauth.users(id) ON DELETE CASCADE;

--
-- Name: api_keys api_keys_parent_id_fkey; Type: FK CONSTRAINT; Schema: pgauth; Owner: pgauth_owner
--

ALTER TABLE ONLY pgauth.api_keys
    ADD CONSTRAINT api_keys_parent_id_fkey FOREIGN KEY (parent_id) REFERENCES pgauth.api_keys(id) ON DELETE CASCADE;

--
-- Name: api_keys api_keys_service_account_id_fkey; Type: FK CONSTRAINT; Schema: pgauth; Owner: pgauth_owner
--

ALTER TABLE ONLY pgauth.api_keys
    ADD CONSTRAINT api_keys_service_account_id_fkey FOREIGN KEY (service_account_id) REFERENCES pgauth.service_accounts(id) ON DELETE CASCADE;

--
-- Name: mail_outbox mail_outbox_user_id_fkey; Type: FK CONSTRAINT; Schema: pgauth; Owner: pgauth_owner
--

ALTER TABLE ONLY pgauth.mail_outbox
    ADD CONSTRAINT mail_outbox_user_id_fkey FOREIGN KEY (user_id) REFERENCES pgauth.users(id) ON DELETE CASCADE;

--
-- Name: mfa_challenges mfa_challenges_user_id_fkey; Type: FK CONSTRAINT; Schema: pgauth; Owner: pgauth_owner
--

ALTER TABLE ONLY pgauth.mfa_challenges
    ADD CONSTRAINT mfa_challenges_user_id_fkey FOREIGN KEY (user_id) REFERENCES pgauth.users(id) ON DELETE CASCADE;

--
-- Name: password_attempts password_attempts_user_id_fkey; Type: FK CONSTRAINT; Schema: pgauth; Owner: pgauth_owner
--

ALTER TABLE ONLY pgauth.password_attempts
    ADD CONSTRAINT password_attempts_user_id_fkey FOREIGN KEY (user_id) REFERENCES pgauth.users(id) ON DELETE CASCADE;

--
-- Name: recovery_codes recovery_codes_user_id_fkey; Type: FK CONSTRAINT; Schema: pgauth; Owner: pgauth_owner
--

ALTER TABLE ONLY pgauth.recovery_codes
    ADD CONSTRAINT recovery_codes_user_id_fkey FOREIGN KEY (user_id) REFERENCES pgauth.users(id) ON DELETE CASCADE;

--
-- Name: sessions sessions_user_id_fkey; Type: FK CONSTRAINT; Schema: pgauth; Owner: pgauth_owner
--

ALTER TABLE ONLY pgauth.sessions
    ADD CONSTRAINT sessions_user_id_fkey FOREIGN KEY (user_id) REFERENCES pgauth.users(id) ON DELETE CASCADE;

--
-- Name: totp_factors totp_factors_user_id_fkey; Type: FK CONSTRAINT; Schema: pgauth; Owner: pgauth_owner
--

ALTER TABLE ONLY pgauth.totp_factors
    ADD CONSTRAINT totp_factors_user_id_fkey FOREIGN KEY (user_id) REFERENCES pgauth.users(id) ON DELETE CASCADE;

--
-- Name: user_roles user_roles_role_fkey; Type: FK CONSTRAINT; Schema: pgauth; Owner: pgauth_owner
--

ALTER TABLE ONLY pgauth.user_roles
    ADD CONSTRAINT user_roles_role_fkey FOREIGN KEY (role) REFERENCES pgauth.roles(name) ON UPDATE CASCADE ON DELETE CASCADE;

--
-- Name: user_roles user_roles_user_id_fkey; Type: FK CONSTRAINT; Schema: pgauth; Owner: pgauth_owner
--

ALTER TABLE ONLY pgauth.user_roles
    ADD CONSTRAINT user_roles_user_id_fkey FOREIGN KEY (user_id) REFERENCES pgauth.users(id) ON DELETE CASCADE;

--
-- Name: SCHEMA pgauth; Type: ACL; Schema: -; Owner: pgauth_owner
--

GRANT USAGE ON SCHEMA pgauth TO pgauth_service;
GRANT USAGE ON SCHEMA pgauth TO pgauth_admin;
GRANT USAGE ON SCHEMA pgauth TO pgauth_validator;
GRANT USAGE ON SCHEMA pgauth TO pgauth_mailer;

--
-- Name: FUNCTION _audit(p_event text, p_user_id uuid, p_session_id uuid, p_client_ip inet, p_user_agent text, p_detail jsonb); Type: ACL; Schema: pgauth; Owner: pgauth_owner
--

REVOKE ALL ON FUNCTION pgauth._audit(p_event text, p_user_id uuid, p_session_id uuid, p_client_ip inet, p_user_agent text, p_detail jsonb) FROM PUBLIC;

--
-- Name: FUNCTION _audit_failed_attempt(p_attempt pgauth.password_attempts, p_extra jsonb); Type: ACL; Schema: pgauth; Owner: pgauth_owner
--

REVOKE ALL ON FUNCTION pgauth._audit_failed_attempt(p_attempt pgauth.password_attempts, p_extra jsonb) FROM PUBLIC;

--
-- Name: FUNCTION _base32(p_data bytea); Type: ACL; Schema: pgauth; Owner: pgauth_owner
--

REVOKE ALL ON FUNCTION pgauth._base32(p_data bytea) FROM PUBLIC;

--
-- Name: FUNCTION _bf_cost(p_hash text); Type: ACL; Schema: pgauth; Owner: pgauth_owner
--

REVOKE ALL ON FUNCTION pgauth._bf_cost(p_hash text) FROM PUBLIC;

--
-- Name: FUNCTION _bf_salt(p_cost integer); Type: ACL; Schema: pgauth; Owner: pgauth_owner
--

REVOKE ALL ON FUNCTION pgauth._bf_salt(p_cost integer) FROM PUBLIC;

--
-- Name: FUNCTION _change_password_finish(p_attempt pgauth.password_attempts, p_new_password text); Type: ACL; Schema: pgauth; Owner: pgauth_owner
--

REVOKE ALL ON FUNCTION pgauth._change_password_finish(p_attempt pgauth.password_attempts, p_new_password text) FROM PUBLIC;

--
-- Name: FUNCTION _change_password_verdict(p_user_id uuid, p_current_password text, p_new_password text); Type: ACL; Schema: pgauth; Owner: pgauth_owner
--

REVOKE ALL ON FUNCTION pgauth._change_password_verdict(p_user_id uuid, p_current_password text, p_new_password text) FROM PUBLIC;

--
-- Name: FUNCTION _check_email(p_email text); Type: ACL; Schema: pgauth; Owner: pgauth_owner
--

REVOKE ALL ON FUNCTION pgauth._check_email(p_email text) FROM PUBLIC;

--
-- Name: FUNCTION _check_password(p_password text, p_username text, p_min_length integer); Type: ACL; Schema: pgauth; Owner: pgauth_owner
--

REVOKE ALL ON FUNCTION pgauth._check_password(p_password text, p_username text, p_min_length integer) FROM PUBLIC;

--
-- Name: FUNCTION _check_username(p_username text); Type: ACL; Schema: pgauth; Owner: pgauth_owner
--

REVOKE ALL ON FUNCTION pgauth._check_username(p_username text) FROM PUBLIC;

--
-- Name: FUNCTION _create_user(p_username text, p_password text, p_email text, p_event text); Type: ACL; Schema: pgauth; Owner: pgauth_owner
--

REVOKE ALL ON FUNCTION pgauth._create_user(p_username text, p_password text, p_email text, p_event text) FROM PUBLIC;

--
-- Name: FUNCTION _crypt(p_password text, p_salt text); Type: ACL; Schema: pgauth; Owner: pgauth_owner
--

REVOKE ALL ON FUNCTION pgauth._crypt(p_password text, p_salt text) FROM PUBLIC;

--
-- Name: FUNCTION _derive_token(p_prefix text, p_secret text, p_salt bytea, p_label text); Type: ACL; Schema: pgauth; Owner: pgauth_owner
--

REVOKE ALL ON FUNCTION pgauth._derive_token(p_prefix text, p_secret text, p_salt bytea, p_label text) FROM PUBLIC;

--
-- Name: FUNCTION _enqueue_mail(p_kind text, p_user_id uuid, p_to text); Type: ACL; Schema: pgauth; Owner: pgauth_owner
--

REVOKE ALL ON FUNCTION pgauth._enqueue_mail(p_kind text, p_user_id uuid, p_to text) FROM PUBLIC;

--
-- Name: FUNCTION _hash_password(p_password text, p_cost integer); Type: ACL; Schema: pgauth; Owner: pgauth_owner
--

REVOKE ALL ON FUNCTION pgauth._hash_password(p_password text, p_cost integer) FROM PUBLIC;

--
-- Name: FUNCTION _hmac(p_data bytea, p_key bytea, p_type text); Type: ACL; Schema: pgauth; Owner: pgauth_owner
--

REVOKE ALL ON FUNCTION pgauth._hmac(p_data bytea, p_key bytea, p_type text) FROM PUBLIC;

--
-- Name: FUNCTION _invalid(p_detail text); Type: ACL; Schema: pgauth; Owner: pgauth_owner
--

REVOKE ALL ON FUNCTION pgauth._invalid(p_detail text) FROM PUBLIC;

--
-- Name: FUNCTION _is_common_password(p_password text, p_min_length integer); Type: ACL; Schema: pgauth; Owner: pgauth_owner
--

REVOKE ALL ON FUNCTION pgauth._is_common_password(p_password text, p_min_length integer) FROM PUBLIC;

--
-- Name: FUNCTION _is_rehash(p_user_id uuid, p_new_hash text); Type: ACL; Schema: pgauth; Owner: pgauth_owner
--

REVOKE ALL ON FUNCTION pgauth._is_rehash(p_user_id uuid, p_new_hash text) FROM PUBLIC;

--
-- Name: FUNCTION _login_finish(p_attempt pgauth.password_attempts, p_password text, p_verified boolean); Type: ACL; Schema: pgauth; Owner: pgauth_owner
--

REVOKE ALL ON FUNCTION pgauth._login_finish(p_attempt pgauth.password_attempts, p_password text, p_verified boolean) FROM PUBLIC;

--
-- Name: FUNCTION _login_verdict(p_username text, p_password text, p_client_ip inet, p_user_agent text); Type: ACL; Schema: pgauth; Owner: pgauth_owner
--

REVOKE ALL ON FUNCTION pgauth._login_verdict(p_username text, p_password text, p_client_ip inet, p_user_agent text) FROM PUBLIC;

--
-- Name: FUNCTION _new_token(p_prefix text); Type: ACL; Schema: pgauth; Owner: pgauth_owner
--

REVOKE ALL ON FUNCTION pgauth._new_token(p_prefix text) FROM PUBLIC;

--
-- Name: FUNCTION _notify_cache_keys(p_hashes bytea[]); Type: ACL; Schema: pgauth; Owner: pgauth_owner
--

REVOKE ALL ON FUNCTION pgauth._notify_cache_keys(p_hashes bytea[]) FROM PUBLIC;

--
-- Name: FUNCTION _prefix_end(p_prefix text); Type: ACL; Schema: pgauth; Owner: pgauth_owner
--

REVOKE ALL ON FUNCTION pgauth._prefix_end(p_prefix text) FROM PUBLIC;

--
-- Name: FUNCTION _prehash(p_password text); Type: ACL; Schema: pgauth; Owner: pgauth_owner
--

REVOKE ALL ON FUNCTION pgauth._prehash(p_password text) FROM PUBLIC;

--
-- Name: FUNCTION _purge_lifecycle(); Type: ACL; Schema: pgauth; Owner: pgauth_owner
--

REVOKE ALL ON FUNCTION pgauth._purge_lifecycle() FROM PUBLIC;

--
-- Name: FUNCTION _purge_sessions(p_cutoff timestamp with time zone); Type: ACL; Schema: pgauth; Owner: pgauth_owner
--

REVOKE ALL ON FUNCTION pgauth._purge_sessions(p_cutoff timestamp with time zone) FROM PUBLIC;

--
-- Name: FUNCTION _random_bytes(p_count integer); Type: ACL; Schema: pgauth; Owner: pgauth_owner
--

REVOKE ALL ON FUNCTION pgauth._random_bytes(p_count integer) FROM PUBLIC;

--
-- Name: FUNCTION _record_password_check(p_kind text, p_user_id uuid, p_checked_changed_at timestamp with time zone, p_ok boolean, p_settings pgauth.settings, p_client_ip inet, p_user_agent text); Type: ACL; Schema: pgauth; Owner: pgauth_owner
--

REVOKE ALL ON FUNCTION pgauth._record_password_check(p_kind text, p_user_id uuid, p_checked_changed_at timestamp with time zone, p_ok boolean, p_settings pgauth.settings, p_client_ip inet, p_user_agent text) FROM PUBLIC;

--
-- Name: FUNCTION _recovery_hash(p_code text); Type: ACL; Schema: pgauth; Owner: pgauth_owner
--

REVOKE ALL ON FUNCTION pgauth._recovery_hash(p_code text) FROM PUBLIC;

--
-- Name: FUNCTION _require_fresh_transaction(); Type: ACL; Schema: pgauth; Owner: pgauth_owner
--

REVOKE ALL ON FUNCTION pgauth._require_fresh_transaction() FROM PUBLIC;

--
-- Name: FUNCTION _role_list(p_roles text[]); Type: ACL; Schema: pgauth; Owner: pgauth_owner
--

REVOKE ALL ON FUNCTION pgauth._role_list(p_roles text[]) FROM PUBLIC;

--
-- Name: FUNCTION clock(); Type: ACL; Schema: pgauth; Owner: pgauth_owner
--

REVOKE ALL ON FUNCTION pgauth.clock() FROM PUBLIC;
GRANT ALL ON FUNCTION pgauth.clock() TO pgauth_admin;
GRANT ALL ON FUNCTION pgauth.clock() TO pgauth_validator;

--
-- Name: FUNCTION _second_factor_failed(p_user pgauth.users, p_via text, p_client_ip inet, p_user_agent text); Type: ACL; Schema: pgauth; Owner: pgauth_owner
--

REVOKE ALL ON FUNCTION pgauth._second_factor_failed(p_user pgauth.users, p_via text, p_client_ip inet, p_user_agent text) FROM PUBLIC;

--
-- Name: FUNCTION _service_account(p_name text); Type: ACL; Schema: pgauth; Owner: pgauth_owner
--

REVOKE ALL ON FUNCTION pgauth._service_account(p_name text) FROM PUBLIC;

--
-- Name: FUNCTION _settings(); Type: ACL; Schema: pgauth; Owner: pgauth_owner
--

REVOKE ALL ON FUNCTION pgauth._settings() FROM PUBLIC;

--
-- Name: FUNCTION _start_session(p_user pgauth.users, p_settings pgauth.settings, p_client_ip inet, p_user_agent text, OUT user_id uuid, OUT session_id uuid, OUT access_token text, OUT access_expires_at timestamp with time zone, OUT refresh_token text, OUT refresh_expires_at timestamp with time zone); Type: ACL; Schema: pgauth; Owner: pgauth_owner
--

REVOKE ALL ON FUNCTION pgauth._start_session(p_user pgauth.users, p_settings pgauth.settings, p_client_ip inet, p_user_agent text, OUT user_id uuid, OUT session_id uuid, OUT access_token text, OUT access_expires_at timestamp with time zone, OUT refresh_token text, OUT refresh_expires_at timestamp with time zone) FROM PUBLIC;

--
-- Name: FUNCTION _statement_clock(); Type: ACL; Schema: pgauth; Owner: pgauth_owner
--

REVOKE ALL ON FUNCTION pgauth._statement_clock() FROM PUBLIC;

--
-- Name: FUNCTION _store_attempt(p_attempt pgauth.password_attempts); Type: ACL; Schema: pgauth; Owner: pgauth_owner
--

REVOKE ALL ON FUNCTION pgauth._store_attempt(p_attempt pgauth.password_attempts) FROM PUBLIC;

--
-- Name: FUNCTION _take_account_token(p_token text, p_purpose text); Type: ACL; Schema: pgauth; Owner: pgauth_owner
--

REVOKE ALL ON FUNCTION pgauth._take_account_token(p_token text, p_purpose text) FROM PUBLIC;

--
-- Name: FUNCTION _take_attempt(p_ticket text, p_kind text); Type: ACL; Schema: pgauth; Owner: pgauth_owner
--

REVOKE ALL ON FUNCTION pgauth._take_attempt(p_ticket text, p_kind text) FROM PUBLIC;

--
-- Name: FUNCTION _throttle_hit(p_bucket text, p_key text, p_max integer, p_window interval, p_now timestamp with time zone); Type: ACL; Schema: pgauth; Owner: pgauth_owner
--

REVOKE ALL ON FUNCTION pgauth._throttle_hit(p_bucket text, p_key text, p_max integer, p_window interval, p_now timestamp with time zone) FROM PUBLIC;

--
-- Name: FUNCTION _token_hash(p_token text); Type: ACL; Schema: pgauth; Owner: pgauth_owner
--

REVOKE ALL ON FUNCTION pgauth._token_hash(p_token text) FROM PUBLIC;

--
-- Name: FUNCTION _totp_match(p_factor pgauth.totp_factors, p_code text); Type: ACL; Schema: pgauth; Owner: pgauth_owner
--

REVOKE ALL ON FUNCTION pgauth._totp_match(p_factor pgauth.totp_factors, p_code text) FROM PUBLIC;

--
-- Name: FUNCTION _touch_api_key(p_id uuid, p_now timestamp with time zone); Type: ACL; Schema: pgauth; Owner: pgauth_owner
--

REVOKE ALL ON FUNCTION pgauth._touch_api_key(p_id uuid, p_now timestamp with time zone) FROM PUBLIC;

--
-- Name: FUNCTION _uri_encode(p_text text); Type: ACL; Schema: pgauth; Owner: pgauth_owner
--

REVOKE ALL ON FUNCTION pgauth._uri_encode(p_text text) FROM PUBLIC;

--
-- Name: FUNCTION _use_second_factor(p_user_id uuid, p_code text, p_recovery_code text); Type: ACL; Schema: pgauth; Owner: pgauth_owner
--

REVOKE ALL ON FUNCTION pgauth._use_second_factor(p_user_id uuid, p_code text, p_recovery_code text) FROM PUBLIC;

--
-- Name: FUNCTION _user(p_user_id uuid); Type: ACL; Schema: pgauth; Owner: pgauth_owner
--

REVOKE ALL ON FUNCTION pgauth._user(p_user_id uuid) FROM PUBLIC;

--
-- Name: FUNCTION _verify_password(p_password text, p_hash text); Type: ACL; Schema: pgauth; Owner: pgauth_owner
--

REVOKE ALL ON FUNCTION pgauth._verify_password(p_password text, p_hash text) FROM PUBLIC;

--
-- Name: FUNCTION active_signing_key(); Type: ACL; Schema: pgauth; Owner: pgauth_owner
--

REVOKE ALL ON FUNCTION pgauth.active_signing_key() FROM PUBLIC;
GRANT ALL ON FUNCTION pgauth.active_signing_key() TO pgauth_service;
GRANT ALL ON FUNCTION pgauth.active_signing_key() TO pgauth_admin;

--
-- Name: FUNCTION add_signing_key(p_kid text, p_alg text, p_public_jwk jsonb, p_private_key_encrypted text); Type: ACL; Schema: pgauth; Owner: pgauth_owner
--

REVOKE ALL ON FUNCTION pgauth.add_signing_key(p_kid text, p_alg text, p_public_jwk jsonb, p_private_key_encrypted text) FROM PUBLIC;
GRANT ALL ON FUNCTION pgauth.add_signing_key(p_kid text, p_alg text, p_public_jwk jsonb, p_private_key_encrypted text) TO pgauth_admin;

--
-- Name: FUNCTION audit_events(p_user_id uuid, p_since timestamp with time zone, p_limit integer); Type: ACL; Schema: pgauth; Owner: pgauth_owner
--

REVOKE ALL ON FUNCTION pgauth.audit_events(p_user_id uuid, p_since timestamp with time zone, p_limit integer) FROM PUBLIC;
GRANT ALL ON FUNCTION pgauth.audit_events(p_user_id uuid, p_since timestamp with time zone, p_limit integer) TO pgauth_admin;

--
-- Name: FUNCTION change_password(p_user_id uuid, p_current_password text, p_new_password text); Type: ACL; Schema: pgauth; Owner: pgauth_owner
--

REVOKE ALL ON FUNCTION pgauth.change_password(p_user_id uuid, p_current_password text, p_new_password text) FROM PUBLIC;
GRANT ALL ON FUNCTION pgauth.change_password(p_user_id uuid, p_current_password text, p_new_password text) TO pgauth_admin;

--
-- Name: FUNCTION change_password_answer(p_attempt text, p_new_password text); Type: ACL; Schema: pgauth; Owner: pgauth_owner
--

REVOKE ALL ON FUNCTION pgauth.change_password_answer(p_attempt text, p_new_password text) FROM PUBLIC;
GRANT ALL ON FUNCTION pgauth.change_password_answer(p_attempt text, p_new_password text) TO pgauth_service;
GRANT ALL ON FUNCTION pgauth.change_password_answer(p_attempt text, p_new_password text) TO pgauth_admin;

--
-- Name: FUNCTION change_password_attempt(p_user_id uuid, p_current_password text, p_new_password text); Type: ACL; Schema: pgauth; Owner: pgauth_owner
--

REVOKE ALL ON FUNCTION pgauth.change_password_attempt(p_user_id uuid, p_current_password text, p_new_password text) FROM PUBLIC;
GRANT ALL ON FUNCTION pgauth.change_password_attempt(p_user_id uuid, p_current_password text, p_new_password text) TO pgauth_service;
GRANT ALL ON FUNCTION pgauth.change_password_attempt(p_user_id uuid, p_current_password text, p_new_password text) TO pgauth_admin;

--
-- Name: PROCEDURE change_password_durably(IN p_user_id uuid, IN p_current_password text, IN p_new_password text, INOUT changed boolean); Type: ACL; Schema: pgauth; Owner: pgauth_owner
--

REVOKE ALL ON PROCEDURE pgauth.change_password_durably(IN p_user_id uuid, IN p_current_password text, IN p_new_password text, INOUT changed boolean) FROM PUBLIC;
GRANT ALL ON PROCEDURE pgauth.change_password_durably(IN p_user_id uuid, IN p_current_password text, IN p_new_password text, INOUT changed boolean) TO pgauth_service;
GRANT ALL ON PROCEDURE pgauth.change_password_durably(IN p_user_id uuid, IN p_current_password text, IN p_new_password text, INOUT changed boolean) TO pgauth_admin;

--
-- Name: FUNCTION client_credentials(p_client_id text, p_client_secret text, p_scope text[], p_client_ip inet); Type: ACL; Schema: pgauth; Owner: pgauth_owner
--

REVOKE ALL ON FUNCTION pgauth.client_credentials(p_client_id text, p_client_secret text, p_scope text[], p_client_ip inet) FROM PUBLIC;
GRANT ALL ON FUNCTION pgauth.client_credentials(p_client_id text, p_client_secret text, p_scope text[], p_client_ip inet) TO pgauth_service;
GRANT ALL ON FUNCTION pgauth.client_credentials(p_client_id text, p_client_secret text, p_scope text[], p_client_ip inet) TO pgauth_admin;

--
-- Name: FUNCTION create_api_key(p_service_account text, p_name text, p_expires_at timestamp with time zone); Type: ACL; Schema: pgauth; Owner: pgauth_owner
--

REVOKE ALL ON FUNCTION pgauth.create_api_key(p_service_account text, p_name text, p_expires_at timestamp with time zone) FROM PUBLIC;
GRANT ALL ON FUNCTION pgauth.create_api_key(p_service_account text, p_name text, p_expires_at timestamp with time zone) TO pgauth_admin;

--
-- Name: FUNCTION create_service_account(p_name text, p_roles text[]); Type: ACL; Schema: pgauth; Owner: pgauth_owner
--

REVOKE ALL ON FUNCTION pgauth.create_service_account(p_name text, p_roles text[]) FROM PUBLIC;
GRANT ALL ON FUNCTION pgauth.create_service_account(p_name text, p_roles text[]) TO pgauth_admin;

--
-- Name: FUNCTION create_user(p_username text, p_password text, p_email text, p_roles text[]); Type: ACL; Schema: pgauth; Owner: pgauth_owner
--

REVOKE ALL ON FUNCTION pgauth.create_user(p_username text, p_password text, p_email text, p_roles text[]) FROM PUBLIC;
GRANT ALL ON FUNCTION pgauth.create_user(p_username text, p_password text, p_email text, p_roles text[]) TO pgauth_admin;

--
-- Name: FUNCTION delete_user(p_user_id uuid); Type: ACL; Schema: pgauth; Owner: pgauth_owner
--

REVOKE ALL ON FUNCTION pgauth.delete_user(p_user_id uuid) FROM PUBLIC;
GRANT ALL ON FUNCTION pgauth.delete_user(p_user_id uuid) TO pgauth_admin;

--
-- Name: FUNCTION disable_service_account(p_name text); Type: ACL; Schema: pgauth; Owner: pgauth_owner
--

REVOKE ALL ON FUNCTION pgauth.disable_service_account(p_name text) FROM PUBLIC;
GRANT ALL ON FUNCTION pgauth.disable_service_account(p_name text) TO pgauth_admin;

--
-- Name: FUNCTION find_user(p_user text); Type: ACL; Schema: pgauth; Owner: pgauth_owner
--

REVOKE ALL ON FUNCTION pgauth.find_user(p_user text) FROM PUBLIC;
GRANT ALL ON FUNCTION pgauth.find_user(p_user text) TO pgauth_admin;

--
-- Name: FUNCTION get_settings(); Type: ACL; Schema: pgauth; Owner: pgauth_owner
--

REVOKE ALL ON FUNCTION pgauth.get_settings() FROM PUBLIC;
GRANT ALL ON FUNCTION pgauth.get_settings() TO pgauth_admin;

--
-- Name: FUNCTION get_user(p_user_id uuid); Type: ACL; Schema: pgauth; Owner: pgauth_owner
--

REVOKE ALL ON FUNCTION pgauth.get_user(p_user_id uuid) FROM PUBLIC;
GRANT ALL ON FUNCTION pgauth.get_user(p_user_id uuid) TO pgauth_admin;

--
-- Name: FUNCTION grant_role(p_user_id uuid, p_role text); Type: ACL; Schema: pgauth; Owner: pgauth_owner
--

REVOKE ALL ON FUNCTION pgauth.grant_role(p_user_id uuid, p_role text) FROM PUBLIC;
GRANT ALL ON FUNCTION pgauth.grant_role(p_user_id uuid, p_role text) TO pgauth_admin;

--
-- Name: FUNCTION list_api_keys(p_service_account text); Type: ACL; Schema: pgauth; Owner: pgauth_owner
--

REVOKE ALL ON FUNCTION pgauth.list_api_keys(p_service_account text) FROM PUBLIC;
GRANT ALL ON FUNCTION pgauth.list_api_keys(p_service_account text) TO pgauth_admin;

--
-- Name: FUNCTION list_service_accounts(); Type: ACL; Schema: pgauth; Owner: pgauth_owner
--

REVOKE ALL ON FUNCTION pgauth.list_service_accounts() FROM PUBLIC;
GRANT ALL ON FUNCTION pgauth.list_service_accounts() TO pgauth_admin;

--
-- Name: FUNCTION list_sessions(p_user_id uuid); Type: ACL; Schema: pgauth; Owner: pgauth_owner
--

REVOKE ALL ON FUNCTION pgauth.list_sessions(p_user_id uuid) FROM PUBLIC;
GRANT ALL ON FUNCTION pgauth.list_sessions(p_user_id uuid) TO pgauth_admin;

--
-- Name: FUNCTION list_users(p_limit integer, p_offset integer); Type: ACL; Schema: pgauth; Owner: pgauth_owner
--

REVOKE ALL ON FUNCTION pgauth.list_users(p_limit integer, p_offset integer) FROM PUBLIC;
GRANT ALL ON FUNCTION pgauth.list_users(p_limit integer, p_offset integer) TO pgauth_admin;

--
-- Name: FUNCTION lock_user(p_user_id uuid, p_until timestamp with time zone, p_reason text); Type: ACL; Schema: pgauth; Owner: pgauth_owner
--

REVOKE ALL ON FUNCTION pgauth.lock_user(p_user_id uuid, p_until timestamp with time zone, p_reason text) FROM PUBLIC;
GRANT ALL ON FUNCTION pgauth.lock_user(p_user_id uuid, p_until timestamp with time zone, p_reason text) TO pgauth_admin;

--
-- Name: FUNCTION login(p_username text, p_password text, p_client_ip inet, p_user_agent text); Type: ACL; Schema: pgauth; Owner: pgauth_owner
--

REVOKE ALL ON FUNCTION pgauth.login(p_username text, p_password text, p_client_ip inet, p_user_agent text) FROM PUBLIC;
GRANT ALL ON FUNCTION pgauth.login(p_username text, p_password text, p_client_ip inet, p_user_agent text) TO pgauth_admin;

--
-- Name: FUNCTION login_answer(p_attempt text, p_password text); Type: ACL; Schema: pgauth; Owner: pgauth_owner
--

REVOKE ALL ON FUNCTION pgauth.login_answer(p_attempt text, p_password text) FROM PUBLIC;
GRANT ALL ON FUNCTION pgauth.login_answer(p_attempt text, p_password text) TO pgauth_service;
GRANT ALL ON FUNCTION pgauth.login_answer(p_attempt text, p_password text) TO pgauth_admin;

--
-- Name: FUNCTION login_attempt(p_username text, p_password text, p_client_ip inet, p_user_agent text); Type: ACL; Schema: pgauth; Owner: pgauth_owner
--

REVOKE ALL ON FUNCTION pgauth.login_attempt(p_username text, p_password text, p_client_ip inet, p_user_agent text) FROM PUBLIC;
GRANT ALL ON FUNCTION pgauth.login_attempt(p_username text, p_password text, p_client_ip inet, p_user_agent text) TO pgauth_service;
GRANT ALL ON FUNCTION pgauth.login_attempt(p_username text, p_password text, p_client_ip inet, p_user_agent text) TO pgauth_admin;

--
-- Name: PROCEDURE login_durably(IN p_username text, IN p_password text, IN p_client_ip inet, IN p_user_agent text, INOUT user_id uuid, INOUT session_id uuid, INOUT access_token text, INOUT access_expires_at timestamp with time zone, INOUT refresh_token text, INOUT refresh_expires_at timestamp with time zone, INOUT mfa_challenge text, INOUT mfa_expires_at timestamp with time zone); Type: ACL; Schema: pgauth; Owner: pgauth_owner
--

REVOKE ALL ON PROCEDURE pgauth.login_durably(IN p_username text, IN p_password text, IN p_client_ip inet, IN p_user_agent text, INOUT user_id uuid, INOUT session_id uuid, INOUT access_token text, INOUT access_expires_at timestamp with time zone, INOUT refresh_token text, INOUT refresh_expires_at timestamp with time zone, INOUT mfa_challenge text, INOUT mfa_expires_at timestamp with time zone) FROM PUBLIC;
GRANT ALL ON PROCEDURE pgauth.login_durably(IN p_username text, IN p_password text, IN p_client_ip inet, IN p_user_agent text, INOUT user_id uuid, INOUT session_id uuid, INOUT access_token text, INOUT access_expires_at timestamp with time zone, INOUT refresh_token text, INOUT refresh_expires_at timestamp with time zone, INOUT mfa_challenge text, INOUT mfa_expires_at timestamp with time zone) TO pgauth_service;
GRANT ALL ON PROCEDURE pgauth.login_durably(IN p_username text, IN p_password text, IN p_client_ip inet, IN p_user_agent text, INOUT user_id uuid, INOUT session_id uuid, INOUT access_token text, INOUT access_expires_at timestamp with time zone, INOUT refresh_token text, INOUT refresh_expires_at timestamp with time zone, INOUT mfa_challenge text, INOUT mfa_expires_at timestamp with time zone) TO pgauth_admin;

--
-- Name: FUNCTION login_mfa_answer(p_challenge text); Type: ACL; Schema: pgauth; Owner: pgauth_owner
--

REVOKE ALL ON FUNCTION pgauth.login_mfa_answer(p_challenge text) FROM PUBLIC;
GRANT ALL ON FUNCTION pgauth.login_mfa_answer(p_challenge text) TO pgauth_service;
GRANT ALL ON FUNCTION pgauth.login_mfa_answer(p_challenge text) TO pgauth_admin;

--
-- Name: FUNCTION login_mfa_attempt(p_challenge text, p_code text, p_recovery_code text, p_client_ip inet, p_user_agent text); Type: ACL; Schema: pgauth; Owner: pgauth_owner
--

REVOKE ALL ON FUNCTION pgauth.login_mfa_attempt(p_challenge text, p_code text, p_recovery_code text, p_client_ip inet, p_user_agent text) FROM PUBLIC;
GRANT ALL ON FUNCTION pgauth.login_mfa_attempt(p_challenge text, p_code text, p_recovery_code text, p_client_ip inet, p_user_agent text) TO pgauth_service;
GRANT ALL ON FUNCTION pgauth.login_mfa_attempt(p_challenge text, p_code text, p_recovery_code text, p_client_ip inet, p_user_agent text) TO pgauth_admin;

--
-- Name: PROCEDURE login_mfa_durably(IN p_challenge text, IN p_code text, IN p_recovery_code text, IN p_client_ip inet, IN p_user_agent text, INOUT user_id uuid, INOUT session_id uuid, INOUT access_token text, INOUT access_expires_at timestamp with time zone, INOUT refresh_token text, INOUT refresh_expires_at timestamp with time zone); Type: ACL; Schema: pgauth; Owner: pgauth_owner
--

REVOKE ALL ON PROCEDURE pgauth.login_mfa_durably(IN p_challenge text, IN p_code text, IN p_recovery_code text, IN p_client_ip inet, IN p_user_agent text, INOUT user_id uuid, INOUT session_id uuid, INOUT access_token text, INOUT access_expires_at timestamp with time zone, INOUT refresh_token text, INOUT refresh_expires_at timestamp with time zone) FROM PUBLIC;
GRANT ALL ON PROCEDURE pgauth.login_mfa_durably(IN p_challenge text, IN p_code text, IN p_recovery_code text, IN p_client_ip inet, IN p_user_agent text, INOUT user_id uuid, INOUT session_id uuid, INOUT access_token text, INOUT access_expires_at timestamp with time zone, INOUT refresh_token text, INOUT refresh_expires_at timestamp with time zone) TO pgauth_service;
GRANT ALL ON PROCEDURE pgauth.login_mfa_durably(IN p_challenge text, IN p_code text, IN p_recovery_code text, IN p_client_ip inet, IN p_user_agent text, INOUT user_id uuid, INOUT session_id uuid, INOUT access_token text, INOUT access_expires_at timestamp with time zone, INOUT refresh_token text, INOUT refresh_expires_at timestamp with time zone) TO pgauth_admin;

--
-- Name: FUNCTION login_stats(p_from timestamp with time zone, p_to timestamp with time zone); Type: ACL; Schema: pgauth; Owner: pgauth_owner
--

REVOKE ALL ON FUNCTION pgauth.login_stats(p_from timestamp with time zone, p_to timestamp with time zone) FROM PUBLIC;
GRANT ALL ON FUNCTION pgauth.login_stats(p_from timestamp with time zone, p_to timestamp with time zone) TO pgauth_admin;

--
-- Name: FUNCTION logout(p_access_token text); Type: ACL; Schema: pgauth; Owner: pgauth_owner
--

REVOKE ALL ON FUNCTION pgauth.logout(p_access_token text) FROM PUBLIC;
GRANT ALL ON FUNCTION pgauth.logout(p_access_token text) TO pgauth_service;
GRANT ALL ON FUNCTION pgauth.logout(p_access_token text) TO pgauth_admin;

--
-- Name: FUNCTION logout_jwt(p_session_id uuid, p_jti uuid); Type: ACL; Schema: pgauth; Owner: pgauth_owner
--

REVOKE ALL ON FUNCTION pgauth.logout_jwt(p_session_id uuid, p_jti uuid) FROM PUBLIC;
GRANT ALL ON FUNCTION pgauth.logout_jwt(p_session_id uuid, p_jti uuid) TO pgauth_service;
GRANT ALL ON FUNCTION pgauth.logout_jwt(p_session_id uuid, p_jti uuid) TO pgauth_admin;

--
-- Name: FUNCTION mail_claim(p_limit integer, p_lease_seconds integer); Type: ACL; Schema: pgauth; Owner: pgauth_owner
--

REVOKE ALL ON FUNCTION pgauth.mail_claim(p_limit integer, p_lease_seconds integer) FROM PUBLIC;
GRANT ALL ON FUNCTION pgauth.mail_claim(p_limit integer, p_lease_seconds integer) TO pgauth_mailer;
GRANT ALL ON FUNCTION pgauth.mail_claim(p_limit integer, p_lease_seconds integer) TO pgauth_admin;

--
-- Name: FUNCTION mail_failed(p_id bigint, p_error text); Type: ACL; Schema: pgauth; Owner: pgauth_owner
--

REVOKE ALL ON FUNCTION pgauth.mail_failed(p_id bigint, p_error text) FROM PUBLIC;
GRANT ALL ON FUNCTION pgauth.mail_failed(p_id bigint, p_error text) TO pgauth_mailer;
GRANT ALL ON FUNCTION pgauth.mail_failed(p_id bigint, p_error text) TO pgauth_admin;

--
-- Name: FUNCTION mail_sent(p_id bigint); Type: ACL; Schema: pgauth; Owner: pgauth_owner
--

REVOKE ALL ON FUNCTION pgauth.mail_sent(p_id bigint) FROM PUBLIC;
GRANT ALL ON FUNCTION pgauth.mail_sent(p_id bigint) TO pgauth_mailer;
GRANT ALL ON FUNCTION pgauth.mail_sent(p_id bigint) TO pgauth_admin;

--
-- Name: FUNCTION mfa_status(p_user_id uuid); Type: ACL; Schema: pgauth; Owner: pgauth_owner
--

REVOKE ALL ON FUNCTION pgauth.mfa_status(p_user_id uuid) FROM PUBLIC;
GRANT ALL ON FUNCTION pgauth.mfa_status(p_user_id uuid) TO pgauth_service;
GRANT ALL ON FUNCTION pgauth.mfa_status(p_user_id uuid) TO pgauth_admin;

--
-- Name: FUNCTION published_signing_keys(); Type: ACL; Schema: pgauth; Owner: pgauth_owner
--

REVOKE ALL ON FUNCTION pgauth.published_signing_keys() FROM PUBLIC;
GRANT ALL ON FUNCTION pgauth.published_signing_keys() TO pgauth_service;
GRANT ALL ON FUNCTION pgauth.published_signing_keys() TO pgauth_admin;
GRANT ALL ON FUNCTION pgauth.published_signing_keys() TO pgauth_validator;

--
-- Name: FUNCTION purge_audit(p_older_than interval); Type: ACL; Schema: pgauth; Owner: pgauth_owner
--

REVOKE ALL ON FUNCTION pgauth.purge_audit(p_older_than interval) FROM PUBLIC;
GRANT ALL ON FUNCTION pgauth.purge_audit(p_older_than interval) TO pgauth_admin;

--
-- Name: FUNCTION purge_expired(); Type: ACL; Schema: pgauth; Owner: pgauth_owner
--

REVOKE ALL ON FUNCTION pgauth.purge_expired() FROM PUBLIC;
GRANT ALL ON FUNCTION pgauth.purge_expired() TO pgauth_admin;

--
-- Name: FUNCTION purge_service_tokens(p_older_than interval); Type: ACL; Schema: pgauth; Owner: pgauth_owner
--

REVOKE ALL ON FUNCTION pgauth.purge_service_tokens(p_older_than interval) FROM PUBLIC;
GRANT ALL ON FUNCTION pgauth.purge_service_tokens(p_older_than interval) TO pgauth_admin;

--
-- Name: FUNCTION refresh(p_refresh_token text, p_client_ip inet, p_user_agent text); Type: ACL; Schema: pgauth; Owner: pgauth_owner
--

REVOKE ALL ON FUNCTION pgauth.refresh(p_refresh_token text, p_client_ip inet, p_user_agent text) FROM PUBLIC;
GRANT ALL ON FUNCTION pgauth.refresh(p_refresh_token text, p_client_ip inet, p_user_agent text) TO pgauth_service;
GRANT ALL ON FUNCTION pgauth.refresh(p_refresh_token text, p_client_ip inet, p_user_agent text) TO pgauth_admin;

--
-- Name: FUNCTION register(p_username text, p_password text, p_email text); Type: ACL; Schema: pgauth; Owner: pgauth_owner
--

REVOKE ALL ON FUNCTION pgauth.register(p_username text, p_password text, p_email text) FROM PUBLIC;
GRANT ALL ON FUNCTION pgauth.register(p_username text, p_password text, p_email text) TO pgauth_service;
GRANT ALL ON FUNCTION pgauth.register(p_username text, p_password text, p_email text) TO pgauth_admin;

--
-- Name: FUNCTION request_email_verification(p_user_id uuid); Type: ACL; Schema: pgauth; Owner: pgauth_owner
--

REVOKE ALL ON FUNCTION pgauth.request_email_verification(p_user_id uuid) FROM PUBLIC;
GRANT ALL ON FUNCTION pgauth.request_email_verification(p_user_id uuid) TO pgauth_service;
GRANT ALL ON FUNCTION pgauth.request_email_verification(p_user_id uuid) TO pgauth_admin;

--
-- Name: FUNCTION request_password_reset(p_email_or_username text, p_client_ip inet); Type: ACL; Schema: pgauth; Owner: pgauth_owner
--

REVOKE ALL ON FUNCTION pgauth.request_password_reset(p_email_or_username text, p_client_ip inet) FROM PUBLIC;
GRANT ALL ON FUNCTION pgauth.request_password_reset(p_email_or_username text, p_client_ip inet) TO pgauth_service;
GRANT ALL ON FUNCTION pgauth.request_password_reset(p_email_or_username text, p_client_ip inet) TO pgauth_admin;

--
-- Name: FUNCTION reset_mfa(p_user_id uuid); Type: ACL; Schema: pgauth; Owner: pgauth_owner
--

REVOKE ALL ON FUNCTION pgauth.reset_mfa(p_user_id uuid) FROM PUBLIC;
GRANT ALL ON FUNCTION pgauth.reset_mfa(p_user_id uuid) TO pgauth_admin;

--
-- Name: FUNCTION reset_password(p_token text, p_new_password text); Type: ACL; Schema: pgauth; Owner: pgauth_owner
--

REVOKE ALL ON FUNCTION pgauth.reset_password(p_token text, p_new_password text) FROM PUBLIC;
GRANT ALL ON FUNCTION pgauth.reset_password(p_token text, p_new_password text) TO pgauth_service;
GRANT ALL ON FUNCTION pgauth.reset_password(p_token text, p_new_password text) TO pgauth_admin;

--
-- Name: FUNCTION revoke_api_key(p_id uuid); Type: ACL; Schema: pgauth; Owner: pgauth_owner
--

REVOKE ALL ON FUNCTION pgauth.revoke_api_key(p_id uuid) FROM PUBLIC;
GRANT ALL ON FUNCTION pgauth.revoke_api_key(p_id uuid) TO pgauth_admin;

--
-- Name: FUNCTION revoke_role(p_user_id uuid, p_role text); Type: ACL; Schema: pgauth; Owner: pgauth_owner
--

REVOKE ALL ON FUNCTION pgauth.revoke_role(p_user_id uuid, p_role text) FROM PUBLIC;
GRANT ALL ON FUNCTION pgauth.revoke_role(p_user_id uuid, p_role text) TO pgauth_admin;

--
-- Name: FUNCTION revoke_session(p_session_id uuid); Type: ACL; Schema: pgauth; Owner: pgauth_owner
--

REVOKE ALL ON FUNCTION pgauth.revoke_session(p_session_id uuid) FROM PUBLIC;
GRANT ALL ON FUNCTION pgauth.revoke_session(p_session_id uuid) TO pgauth_admin;

--
-- Name: FUNCTION revoke_token(p_token text); Type: ACL; Schema: pgauth; Owner: pgauth_owner
--

REVOKE ALL ON FUNCTION pgauth.revoke_token(p_token text) FROM PUBLIC;
GRANT ALL ON FUNCTION pgauth.revoke_token(p_token text) TO pgauth_service;
GRANT ALL ON FUNCTION pgauth.revoke_token(p_token text) TO pgauth_admin;

--
-- Name: FUNCTION revoke_user_sessions(p_user_id uuid, p_reason text); Type: ACL; Schema: pgauth; Owner: pgauth_owner
--

REVOKE ALL ON FUNCTION pgauth.revoke_user_sessions(p_user_id uuid, p_reason text) FROM PUBLIC;
GRANT ALL ON FUNCTION pgauth.revoke_user_sessions(p_user_id uuid, p_reason text) TO pgauth_admin;

--
-- Name: FUNCTION search_audit(p_event text, p_user_id uuid, p_from timestamp with time zone, p_to timestamp with time zone, p_before_at timestamp with time zone, p_before_id bigint, p_limit integer); Type: ACL; Schema: pgauth; Owner: pgauth_owner
--

REVOKE ALL ON FUNCTION pgauth.search_audit(p_event text, p_user_id uuid, p_from timestamp with time zone, p_to timestamp with time zone, p_before_at timestamp with time zone, p_before_id bigint, p_limit integer) FROM PUBLIC;
GRANT ALL ON FUNCTION pgauth.search_audit(p_event text, p_user_id uuid, p_from timestamp with time zone, p_to timestamp with time zone, p_before_at timestamp with time zone, p_before_id bigint, p_limit integer) TO pgauth_admin;

--
-- Name: FUNCTION search_users(p_query text, p_after_key text, p_after_id uuid, p_limit integer); Type: ACL; Schema: pgauth; Owner: pgauth_owner
--

REVOKE ALL ON FUNCTION pgauth.search_users(p_query text, p_after_key text, p_after_id uuid, p_limit integer) FROM PUBLIC;
GRANT ALL ON FUNCTION pgauth.search_users(p_query text, p_after_key text, p_after_id uuid, p_limit integer) TO pgauth_admin;

--
-- Name: FUNCTION session_token_claims(p_access_token text); Type: ACL; Schema: pgauth; Owner: pgauth_owner
--

REVOKE ALL ON FUNCTION pgauth.session_token_claims(p_access_token text) FROM PUBLIC;
GRANT ALL ON FUNCTION pgauth.session_token_claims(p_access_token text) TO pgauth_service;
GRANT ALL ON FUNCTION pgauth.session_token_claims(p_access_token text) TO pgauth_admin;

--
-- Name: FUNCTION set_password(p_user_id uuid, p_new_password text); Type: ACL; Schema: pgauth; Owner: pgauth_owner
--

REVOKE ALL ON FUNCTION pgauth.set_password(p_user_id uuid, p_new_password text) FROM PUBLIC;
GRANT ALL ON FUNCTION pgauth.set_password(p_user_id uuid, p_new_password text) TO pgauth_admin;

--
-- Name: FUNCTION set_service_account_token_format(p_name text, p_format text); Type: ACL; Schema: pgauth; Owner: pgauth_owner
--

REVOKE ALL ON FUNCTION pgauth.set_service_account_token_format(p_name text, p_format text) FROM PUBLIC;
GRANT ALL ON FUNCTION pgauth.set_service_account_token_format(p_name text, p_format text) TO pgauth_admin;

--
-- Name: FUNCTION tg_api_keys__notify(); Type: ACL; Schema: pgauth; Owner: pgauth_owner
--

REVOKE ALL ON FUNCTION pgauth.tg_api_keys__notify() FROM PUBLIC;

--
-- Name: FUNCTION tg_api_keys__revoke_tokens(); Type: ACL; Schema: pgauth; Owner: pgauth_owner
--

REVOKE ALL ON FUNCTION pgauth.tg_api_keys__revoke_tokens() FROM PUBLIC;

--
-- Name: FUNCTION tg_audit_log__append_only(); Type: ACL; Schema: pgauth; Owner: pgauth_owner
--

REVOKE ALL ON FUNCTION pgauth.tg_audit_log__append_only() FROM PUBLIC;

--
-- Name: FUNCTION tg_service_accounts__sync_keys(); Type: ACL; Schema: pgauth; Owner: pgauth_owner
--

REVOKE ALL ON FUNCTION pgauth.tg_service_accounts__sync_keys() FROM PUBLIC;

--
-- Name: FUNCTION tg_sessions__forget_rotated(); Type: ACL; Schema: pgauth; Owner: pgauth_owner
--

REVOKE ALL ON FUNCTION pgauth.tg_sessions__forget_rotated() FROM PUBLIC;

--
-- Name: FUNCTION tg_sessions__notify(); Type: ACL; Schema: pgauth; Owner: pgauth_owner
--

REVOKE ALL ON FUNCTION pgauth.tg_sessions__notify() FROM PUBLIC;

--
-- Name: FUNCTION tg_sessions__notify_deleted(); Type: ACL; Schema: pgauth; Owner: pgauth_owner
--

REVOKE ALL ON FUNCTION pgauth.tg_sessions__notify_deleted() FROM PUBLIC;

--
-- Name: FUNCTION tg_settings__guard(); Type: ACL; Schema: pgauth; Owner: pgauth_owner
--

REVOKE ALL ON FUNCTION pgauth.tg_settings__guard() FROM PUBLIC;

--
-- Name: FUNCTION tg_user_roles__sync_sessions(); Type: ACL; Schema: pgauth; Owner: pgauth_owner
--

REVOKE ALL ON FUNCTION pgauth.tg_user_roles__sync_sessions() FROM PUBLIC;

--
-- Name: FUNCTION tg_users__before_update(); Type: ACL; Schema: pgauth; Owner: pgauth_owner
--

REVOKE ALL ON FUNCTION pgauth.tg_users__before_update() FROM PUBLIC;

--
-- Name: FUNCTION tg_users__drop_reset_tokens(); Type: ACL; Schema: pgauth; Owner: pgauth_owner
--

REVOKE ALL ON FUNCTION pgauth.tg_users__drop_reset_tokens() FROM PUBLIC;

--
-- Name: FUNCTION tg_users__revoke_sessions(); Type: ACL; Schema: pgauth; Owner: pgauth_owner
--

REVOKE ALL ON FUNCTION pgauth.tg_users__revoke_sessions() FROM PUBLIC;

--
-- Name: FUNCTION tg_users__unverify_email(); Type: ACL; Schema: pgauth; Owner: pgauth_owner
--

REVOKE ALL ON FUNCTION pgauth.tg_users__unverify_email() FROM PUBLIC;

--
-- Name: FUNCTION throttle(p_scope text, p_ip text, p_ip_max integer, p_username text, p_user_max integer, p_window_ms integer); Type: ACL; Schema: pgauth; Owner: pgauth_owner
--

REVOKE ALL ON FUNCTION pgauth.throttle(p_scope text, p_ip text, p_ip_max integer, p_username text, p_user_max integer, p_window_ms integer) FROM PUBLIC;
GRANT ALL ON FUNCTION pgauth.throttle(p_scope text, p_ip text, p_ip_max integer, p_username text, p_user_max integer, p_window_ms integer) TO pgauth_service;
GRANT ALL ON FUNCTION pgauth.throttle(p_scope text, p_ip text, p_ip_max integer, p_username text, p_user_max integer, p_window_ms integer) TO pgauth_admin;

--
-- Name: FUNCTION totp_code(p_secret bytea, p_step bigint, p_digits integer, p_algorithm text); Type: ACL; Schema: pgauth; Owner: pgauth_owner
--

REVOKE ALL ON FUNCTION pgauth.totp_code(p_secret bytea, p_step bigint, p_digits integer, p_algorithm text) FROM PUBLIC;
GRANT ALL ON FUNCTION pgauth.totp_code(p_secret bytea, p_step bigint, p_digits integer, p_algorithm text) TO pgauth_admin;

--
-- Name: FUNCTION totp_confirm(p_user_id uuid, p_code text); Type: ACL; Schema: pgauth; Owner: pgauth_owner
--

REVOKE ALL ON FUNCTION pgauth.totp_confirm(p_user_id uuid, p_code text) FROM PUBLIC;
GRANT ALL ON FUNCTION pgauth.totp_confirm(p_user_id uuid, p_code text) TO pgauth_service;
GRANT ALL ON FUNCTION pgauth.totp_confirm(p_user_id uuid, p_code text) TO pgauth_admin;

--
-- Name: FUNCTION totp_enroll(p_user_id uuid); Type: ACL; Schema: pgauth; Owner: pgauth_owner
--

REVOKE ALL ON FUNCTION pgauth.totp_enroll(p_user_id uuid) FROM PUBLIC;
GRANT ALL ON FUNCTION pgauth.totp_enroll(p_user_id uuid) TO pgauth_service;
GRANT ALL ON FUNCTION pgauth.totp_enroll(p_user_id uuid) TO pgauth_admin;

--
-- Name: FUNCTION totp_remove(p_user_id uuid, p_code text); Type: ACL; Schema: pgauth; Owner: pgauth_owner
--

REVOKE ALL ON FUNCTION pgauth.totp_remove(p_user_id uuid, p_code text) FROM PUBLIC;
GRANT ALL ON FUNCTION pgauth.totp_remove(p_user_id uuid, p_code text) TO pgauth_service;
GRANT ALL ON FUNCTION pgauth.totp_remove(p_user_id uuid, p_code text) TO pgauth_admin;

--
-- Name: FUNCTION unlock_user(p_user_id uuid); Type: ACL; Schema: pgauth; Owner: pgauth_owner
--

REVOKE ALL ON FUNCTION pgauth.unlock_user(p_user_id uuid) FROM PUBLIC;
GRANT ALL ON FUNCTION pgauth.unlock_user(p_user_id uuid) TO pgauth_admin;

--
-- Name: FUNCTION update_settings(p_changes jsonb); Type: ACL; Schema: pgauth; Owner: pgauth_owner
--

REVOKE ALL ON FUNCTION pgauth.update_settings(p_changes jsonb) FROM PUBLIC;
GRANT ALL ON FUNCTION pgauth.update_settings(p_changes jsonb) TO pgauth_admin;

--
-- Name: FUNCTION validate(p_access_token text); Type: ACL; Schema: pgauth; Owner: pgauth_owner
--

REVOKE ALL ON FUNCTION pgauth.validate(p_access_token text) FROM PUBLIC;
GRANT ALL ON FUNCTION pgauth.validate(p_access_token text) TO pgauth_admin;
GRANT ALL ON FUNCTION pgauth.validate(p_access_token text) TO pgauth_validator;

--
-- Name: FUNCTION validate_jti(p_jti uuid); Type: ACL; Schema: pgauth; Owner: pgauth_owner
--

REVOKE ALL ON FUNCTION pgauth.validate_jti(p_jti uuid) FROM PUBLIC;
GRANT ALL ON FUNCTION pgauth.validate_jti(p_jti uuid) TO pgauth_admin;
GRANT ALL ON FUNCTION pgauth.validate_jti(p_jti uuid) TO pgauth_validator;

--
-- Name: FUNCTION validate_many(p_access_tokens text[]); Type: ACL; Schema: pgauth; Owner: pgauth_owner
--

REVOKE ALL ON FUNCTION pgauth.validate_many(p_access_tokens text[]) FROM PUBLIC;
GRANT ALL ON FUNCTION pgauth.validate_many(p_access_tokens text[]) TO pgauth_admin;
GRANT ALL ON FUNCTION pgauth.validate_many(p_access_tokens text[]) TO pgauth_validator;

--
-- Name: FUNCTION validate_session_jwt(p_session_id uuid, p_jti uuid); Type: ACL; Schema: pgauth; Owner: pgauth_owner
--

REVOKE ALL ON FUNCTION pgauth.validate_session_jwt(p_session_id uuid, p_jti uuid) FROM PUBLIC;
GRANT ALL ON FUNCTION pgauth.validate_session_jwt(p_session_id uuid, p_jti uuid) TO pgauth_admin;
GRANT ALL ON FUNCTION pgauth.validate_session_jwt(p_session_id uuid, p_jti uuid) TO pgauth_validator;

--
-- Name: FUNCTION verify_email(p_token text); Type: ACL; Schema: pgauth; Owner: pgauth_owner
--

REVOKE ALL ON FUNCTION pgauth.verify_email(p_token text) FROM PUBLIC;
GRANT ALL ON FUNCTION pgauth.verify_email(p_token text) TO pgauth_service;
GRANT ALL ON FUNCTION pgauth.verify_email(p_token text) TO pgauth_admin;
