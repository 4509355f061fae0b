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

-- What the gateway signs into a session's JWT, for the opaque access token login or refresh just
-- answered it; the format tells whether to sign at all. No row for a token that is not live.
create function pgauth.session_token_claims(p_access_token text)
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
create function pgauth.validate_session_jwt(p_session_id uuid, p_jti uuid)
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
grant execute on function pgauth.validate_session_jwt(uuid, uuid)
  to pgauth_admin, pgauth_validator;

-- pgauth.logout for a session's JWT: the caller passes its sid and jti.
create function pgauth.logout_jwt(p_session_id uuid, p_jti uuid) returns boolean
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
