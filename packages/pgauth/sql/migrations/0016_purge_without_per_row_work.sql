-- pgauth 0016: purge_expired() no longer does work for every session it deletes, and the index
-- that finds ended sessions takes kilobytes instead of 21 MiB a million sessions.
--
-- Why. EXPLAIN (ANALYZE, BUFFERS) of the purge's DELETE (200,000 ended sessions among 1,000,000
-- live) spent 48% of its time in the foreign key rotated_refresh_tokens.session_id's ON DELETE
-- CASCADE, which PostgreSQL runs as one DELETE per deleted session (200,000 calls), and 30% in the
-- revocation trigger, which aggregated, sorted and announced the access token of every deleted
-- session (one NOTIFY per 100), although every one of them had expired days before: a purged
-- session ended longer than session_retention ago, and a session that was not revoked ends no
-- earlier than its access token expires (access_expires_at <= expires_at, and
-- greatest(refresh, access) >= access), so its access token had expired too. Together 4.6 to
-- 13.7 s per million sessions (docs/benchmarks.md, scenario scale).
--
-- What changes.
-- * The cascade is one statement per DELETE: a statement trigger removes the rotated refresh
--   tokens of the deleted sessions through the transition table the revocation trigger already
--   captures (and a TRUNCATE of the sessions truncates them, as TRUNCATE … CASCADE did). The foreign key goes; its one writer, refresh(), inserts a rotated token only while
--   it holds the session's row lock (SELECT … FOR UPDATE), so no token can name a session deleted
--   before it: a DELETE waits for that lock, then the trigger's statement sees the committed token.
-- * A deleted session is announced on pgauth_revocations only while its access token is still
--   valid (access_expires_at > pgauth.clock()): the only tokens a cache can hold as valid, since
--   every cache keeps a validation at most until the session's expires_at.
-- * sessions_ended_at_idx, a B-tree read by nothing but the purge, becomes a BRIN index
--   (minmax-multi, which tolerates the few sessions refreshed or revoked out of creation order) on
--   the same expression: sessions end in about the order they were created, so the purge still
--   reads only the block ranges that hold ended sessions. The planner, which costs a BRIN scan by
--   the correlation of the whole table, can misjudge it and read the whole table instead; the
--   DELETE now runs in _purge_sessions(), where sequential scans are off.
--
-- Threat model. Unchanged: revocation still reaches every cache for every token that can still
-- validate (revoked, deleted, locked, changed); expiry is checked by validate() and by every cache
-- against the session's expiry; validate() is untouched (one lookup by access_token_hash). A
-- rotated refresh token left behind by a deleted session could only point reuse detection at a
-- session that no longer exists: it revokes nothing and grants nothing. The purge takes no lock
-- that validate() waits for.

set local role pgauth_owner;
set local lock_timeout = '10s';

create function pgauth.tg_sessions__forget_rotated() returns trigger
  language plpgsql volatile security definer set search_path = pg_catalog, pgauth, pg_temp
  as $$
begin
  if tg_op = 'TRUNCATE' then
    truncate pgauth.rotated_refresh_tokens;
  else
    delete from pgauth.rotated_refresh_tokens r using old_rows o where r.session_id = o.id;
  end if;
  return null;
end
$$;
revoke all on function pgauth.tg_sessions__forget_rotated() from public;

create trigger sessions_forget_rotated after delete on pgauth.sessions
  referencing old table as old_rows
  for each statement execute function pgauth.tg_sessions__forget_rotated();
create trigger sessions_forget_rotated_truncate after truncate on pgauth.sessions
  for each statement execute function pgauth.tg_sessions__forget_rotated();
alter table pgauth.rotated_refresh_tokens drop constraint rotated_refresh_tokens_session_id_fkey;

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

drop index pgauth.sessions_ended_at_idx;
create index sessions_ended_at_idx on pgauth.sessions using brin
  ((least(expires_at, revoked_at, greatest(refresh_expires_at, access_expires_at)))
   timestamptz_minmax_multi_ops);

-- The purge's DELETE, on its own so that enable_seqscan = off reaches it and nothing else.
create function pgauth._purge_sessions(p_cutoff timestamptz) returns integer
  language plpgsql volatile security definer
  set search_path = pg_catalog, pgauth, pg_temp set enable_seqscan = off
  as $$
declare
  v_count integer;
begin
  delete from pgauth.sessions s
  where least(s.expires_at, s.revoked_at, greatest(s.refresh_expires_at, s.access_expires_at))
        < p_cutoff;
  get diagnostics v_count = row_count;
  return v_count;
end
$$;
revoke all on function pgauth._purge_sessions(timestamptz) from public;

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
