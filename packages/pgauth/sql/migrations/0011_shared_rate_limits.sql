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

-- One count: the attempt is counted; the seconds until the window ends when it is past p_max.
create function pgauth._throttle_hit(p_bucket text, p_key text, p_max integer, p_window interval,
    p_now timestamptz) returns integer
  language plpgsql volatile set search_path = pg_catalog, pgauth, pg_temp
  as $$
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
revoke all on function pgauth._throttle_hit(text, text, integer, interval, timestamptz) from public;

create function pgauth.throttle(p_scope text, p_ip text, p_ip_max integer, p_username text,
    p_user_max integer, p_window_ms integer) returns integer
  language plpgsql volatile security definer set search_path = pg_catalog, pgauth, pg_temp
  as $$
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
$$;
comment on function pgauth.throttle(text, text, integer, text, integer, integer) is
  'Counts one attempt of a scope (login, register, refresh) under the client network p_ip and the username (folded by lower(), as pgauth.users compares usernames), in fixed windows of p_window_ms shared by every caller. Returns 0 to go on, or the seconds until the window that is over its limit ends. Either key may be null (not counted). BADIN on bad arguments.';
revoke all on function pgauth.throttle(text, text, integer, text, integer, integer) from public;
grant execute on function pgauth.throttle(text, text, integer, text, integer, integer)
  to pgauth_service, pgauth_admin;
