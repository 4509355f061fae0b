-- pgauth functions: the admin console's user listing, audit queries and settings.
--
-- Current text, applied by every migrate after the migrations (create or replace, in file name
-- order) when these files changed. Edit a function here; a migration is only for what is applied
-- once (tables, rows, the drop of a function whose result type, parameter names or defaults
-- change); migrate itself drops a function or trigger taken out of these files, and the old
-- signature of a function whose argument types change. See "Migrations" in README.md.

set local role pgauth_owner;

-- The first string after every string that starts with p_prefix, in byte order (C collation):
-- a prefix search is the range [p_prefix, _prefix_end(p_prefix)).
create or replace function pgauth._prefix_end(p_prefix text) returns text
  language sql immutable parallel safe set search_path = pg_catalog, pg_temp
  as $$ select p_prefix || chr(1114111) $$;
revoke all on function pgauth._prefix_end(text) from public;

create or replace function pgauth.search_users(p_query text default '', p_after_key text default null,
    p_after_id uuid default null, p_limit integer default 50)
  returns table(id uuid, username text, email text, roles text[], created_at timestamptz,
    last_login_at timestamptz, failed_logins integer, locked_until timestamptz, lock_reason text,
    disabled_at timestamptz, live_sessions bigint, sort_key text)
  language plpgsql stable security definer set search_path = pg_catalog, pgauth, pg_temp
  as $$
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
comment on function pgauth.search_users(text, text, uuid, integer) is
  'Admin: users not deleted whose username (or, when the query holds an @, email) starts with p_query, case-insensitively, in byte order of the lower-cased key; the page after (p_after_key, p_after_id), the sort_key and id of the last row of the page before. At most p_limit (1 to 10000).';
revoke all on function pgauth.search_users(text, text, uuid, integer) from public;
grant execute on function pgauth.search_users(text, text, uuid, integer) to pgauth_admin;

create or replace function pgauth.search_audit(p_event text default null, p_user_id uuid default null,
    p_from timestamptz default null, p_to timestamptz default null,
    p_before_at timestamptz default null, p_before_id bigint default null,
    p_limit integer default 100)
  returns table(id bigint, at timestamptz, event text, user_id uuid, session_id uuid,
    client_ip inet, detail jsonb)
  language plpgsql stable security definer set search_path = pg_catalog, pgauth, pg_temp
  as $$
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
$$;
comment on function pgauth.search_audit(text, uuid, timestamptz, timestamptz, timestamptz, bigint, integer) is
  'Admin: audit events newest first, optionally of one event, of one user, at or after p_from and before p_to; the page after (p_before_at, p_before_id), the at and id of the last row of the page before. At most p_limit (1 to 10000).';
revoke all on function pgauth.search_audit(text, uuid, timestamptz, timestamptz, timestamptz, bigint, integer) from public;
grant execute on function pgauth.search_audit(text, uuid, timestamptz, timestamptz, timestamptz, bigint, integer) to pgauth_admin;

create or replace function pgauth.login_stats(p_from timestamptz, p_to timestamptz)
  returns table(minute timestamptz, logins bigint, failures bigint, lockouts bigint)
  language plpgsql stable security definer set search_path = pg_catalog, pgauth, pg_temp
  as $$
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
comment on function pgauth.login_stats(timestamptz, timestamptz) is
  'Admin: successful logins, failed logins and lockouts per minute in [p_from, p_to) (at most 7 days), minutes without any left out.';
revoke all on function pgauth.login_stats(timestamptz, timestamptz) from public;
grant execute on function pgauth.login_stats(timestamptz, timestamptz) to pgauth_admin;

create or replace function pgauth.get_settings()
  returns table(bcrypt_cost integer, password_min_length integer, max_failed_logins integer,
    lockout_seconds integer, lockout_max_seconds integer, access_token_ttl_seconds integer,
    refresh_token_ttl_seconds integer, session_max_age_seconds integer,
    refresh_reuse_grace_seconds integer, session_retention_seconds integer,
    allow_registration boolean, require_verified_email boolean,
    email_verification_ttl_seconds integer, password_reset_ttl_seconds integer,
    password_reset_per_address integer, password_reset_per_ip integer,
    mfa_challenge_ttl_seconds integer, totp_issuer text, mail_max_attempts integer,
    access_token_format text, service_token_ttl_seconds integer)
  language plpgsql stable security definer set search_path = pg_catalog, pgauth, pg_temp
  as $$
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
comment on function pgauth.get_settings() is
  'Admin: the policy settings, durations in seconds (clock_offset, for tests, is not shown).';
revoke all on function pgauth.get_settings() from public;
grant execute on function pgauth.get_settings() to pgauth_admin;

create or replace function pgauth.update_settings(p_changes jsonb) returns void
  language plpgsql volatile security definer set search_path = pg_catalog, pgauth, pg_temp
  as $$
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
comment on function pgauth.update_settings(jsonb) is
  'Admin: changes the named policy settings (the names get_settings returns, durations in seconds); each must keep the table''s rules, else BADIN naming the rule. One audit row settings_changed with the names of the fields.';
revoke all on function pgauth.update_settings(jsonb) from public;
grant execute on function pgauth.update_settings(jsonb) to pgauth_admin;
