-- pgauth 0008: purge_expired() finds ended sessions through an index instead of reading the
-- whole table.
--
-- A session has ended at the earliest of its absolute expiry, its revocation, and the later of
-- its refresh and access expiries. purge_expired() deleted by the three conditions joined with
-- OR, one of them on the unindexed revoked_at, so every call read every session: with
-- 10,000,000 live sessions that was most of its time (docs/benchmarks.md, scenario scale). The
-- end is now one expression, indexed, and the purge a range scan of that index. The index
-- replaces the one on expires_at, which served only the purge.
--
-- least() and greatest() skip NULLs: a session never revoked ends at least(expires_at,
-- greatest(refresh_expires_at, access_expires_at)). The purge writes the very expression of the
-- index, so that the planner matches the two.

set local role pgauth_owner;
set local lock_timeout = '10s';

drop index pgauth.sessions_expires_at_idx;
create index sessions_ended_at_idx on pgauth.sessions
  ((least(expires_at, revoked_at, greatest(refresh_expires_at, access_expires_at))));

create or replace function pgauth.purge_expired() returns integer
  language plpgsql volatile security definer set search_path = pg_catalog, pgauth, pg_temp
  as $$
declare
  v_settings pgauth.settings := pgauth._settings();
  v_cutoff timestamptz := pgauth.clock() - v_settings.session_retention;
  v_count integer;
begin
  delete from pgauth.sessions s
  where least(s.expires_at, s.revoked_at, greatest(s.refresh_expires_at, s.access_expires_at))
        < v_cutoff;
  get diagnostics v_count = row_count;
  return v_count;
end
$$;
