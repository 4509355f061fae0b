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
comment on function pgauth.refresh(text, inet, text) is
  'Rotates a refresh token: one row with a new access/refresh pair (the old pair stops working), or no row. The same token again within settings.refresh_reuse_grace of the rotation (measured at the time of the statement) returns the same new pair, and with a window of 0 never; after it, the session is revoked (audit refresh_reuse). Never extends past the session''s absolute expiry.';

