-- pgauth functions: the login, registration and refresh limits every gateway shares.
--
-- Current text, applied by every migrate after the migrations (create or replace, in file name
-- order) when these files changed. Edit a function here; a migration is only for what is applied
-- once (tables, rows, the drop of a function whose result type, parameter names or defaults
-- change); migrate itself drops a function or trigger taken out of these files, and the old
-- signature of a function whose argument types change. See "Migrations" in README.md.

set local role pgauth_owner;

-- One count: the attempt is counted; the seconds until the window ends when it is past p_max.
create or replace function pgauth._throttle_hit(p_bucket text, p_key text, p_max integer, p_window interval,
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

create or replace function pgauth.throttle(p_scope text, p_ip text, p_ip_max integer, p_username text,
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
grant execute on function pgauth.throttle(text, text, integer, text, integer, integer) to pgauth_service, pgauth_admin;
