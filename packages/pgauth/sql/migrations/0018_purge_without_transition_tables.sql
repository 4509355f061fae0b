-- pgauth 0018: a DELETE of sessions no longer copies every deleted row into a transition table,
-- so the purge writes no temporary file and runs no trigger body.
--
-- Why. EXPLAIN (ANALYZE, BUFFERS) of the purge's DELETE (1,000,000 ended sessions among 100,000
-- live, PostgreSQL 15): both AFTER DELETE statement triggers of sessions (sessions_notify_delete,
-- sessions_forget_rotated) declared REFERENCING OLD TABLE, so PostgreSQL copied each deleted row
-- (its whole width) into one tuplestore: 210 MB, past work_mem, written to 26,855 temporary blocks
-- and read back by the revocation trigger (0.13 s) only to find no live token in it. The purge
-- took 1.24 s, 1.09 s of it backend CPU (medians of five, no load); with no DELETE trigger at
-- all, 0.84 s, 0.71 s of it CPU.
--
-- What changes.
-- * sessions_notify_delete is a row trigger, WHEN the deleted session was not revoked and its
--   access token has not expired by pgauth.clock(): the very rows the statement trigger named.
--   PostgreSQL evaluates the WHEN of an AFTER trigger as the row is deleted and queues nothing when
--   it is false; every session the purge deletes fails it (0016: its access token expired before
--   the session ended), so the purge queues nothing and keeps nothing. A DELETE of live sessions
--   sends one {"keys": [key]} message a session (the format of 0010) instead of up to 100 keys a
--   message; no pgauth function deletes a live session, only a raw DELETE by the owner (of the
--   session, or of its user). What a row trigger still costs the purge, a second read of each
--   deleted row and the WHEN, is 0.2 s of CPU a million: the purge takes 1.06 s, 0.90 s of it
--   CPU, and writes no temporary file.
-- * sessions_forget_rotated is a row trigger, WHEN the session had rotated (refresh_generation > 0)
--   and the DELETE is not the purge's: the purge deletes the rotated refresh tokens of the
--   sessions it deletes itself, in the same statement (a data-modifying WITH joined on
--   session_id, which the planner drives from either side: from an empty rotated_refresh_tokens
--   it costs nothing), and marks its DELETE with pgauth.purging_sessions = on, as purge_audit
--   marks its own with pgauth.purging_audit.
-- * tg_sessions__notify keeps UPDATE and TRUNCATE, unchanged; its DELETE branch, left as it was
--   rather than restated without it, no longer fires. TRUNCATE is unchanged (a flush, and the
--   rotated refresh tokens truncated).
--
-- Threat model. Unchanged: every deleted session whose access token a cache can still hold as
-- valid is announced on pgauth_revocations with the cache key clients parse; the condition is the
-- one of 0016, evaluated per row at the time of the DELETE instead of at the end of the statement,
-- with the same clock (now() of the transaction shifted by settings.clock_offset). A revoked
-- session was announced when it was revoked. validate() is untouched (one lookup by
-- access_token_hash); the purge takes no lock validate() waits for. The WHEN reads
-- pgauth.clock(), which the owner, the only role that may delete sessions, executes. Any role may
-- set pgauth.purging_sessions, but only the owner's DELETE can heed it, and then it leaves rotated
-- refresh tokens behind, which 0016 found harmless: reuse detection pointed at a session that no
-- longer exists revokes nothing and grants nothing.

set local role pgauth_owner;
set local lock_timeout = '10s';

-- A deleted session that a cache may still hold as valid: its key, one message.
create function pgauth.tg_sessions__notify_deleted() returns trigger
  language plpgsql volatile security definer set search_path = pg_catalog, pgauth, pg_temp
  as $$
begin
  perform pg_catalog.pg_notify('pgauth_revocations', pg_catalog.json_build_object('keys',
    array[pg_catalog.encode(pg_catalog.substr(old.access_token_hash, 1, 8), 'hex')])::text);
  return null;
end
$$;
revoke all on function pgauth.tg_sessions__notify_deleted() from public;
comment on function pgauth.tg_sessions__notify_deleted() is
  'Row trigger of sessions (sessions_notify_delete, WHEN the deleted session was not revoked and its access token had not expired): NOTIFYs pgauth_revocations with {"keys": [<first 8 bytes of access_token_hash, hex>]}. Keys only: no user, session or reason.';

drop trigger sessions_notify_delete on pgauth.sessions;
create trigger sessions_notify_delete after delete on pgauth.sessions
  for each row
  when (old.revoked_at is null and old.access_expires_at > pgauth.clock())
  execute function pgauth.tg_sessions__notify_deleted();

comment on function pgauth.tg_sessions__notify() is
  'Trigger of sessions (UPDATE, TRUNCATE): NOTIFYs pgauth_revocations with the cache keys (first 8 bytes of access_token_hash, hex) of the access tokens an UPDATE made stale, at most 100 a message, or {"flush" : true} on TRUNCATE. Keys only: no user, session or reason. Its DELETE branch has fired for nothing since 0018: a DELETE is tg_sessions__notify_deleted''s, row by row.';

create or replace function pgauth.tg_sessions__forget_rotated() returns trigger
  language plpgsql volatile security definer set search_path = pg_catalog, pgauth, pg_temp
  as $$
begin
  if tg_op = 'TRUNCATE' then
    truncate pgauth.rotated_refresh_tokens;
  else
    delete from pgauth.rotated_refresh_tokens r where r.session_id = old.id;
  end if;
  return null;
end
$$;

drop trigger sessions_forget_rotated on pgauth.sessions;
create trigger sessions_forget_rotated after delete on pgauth.sessions
  for each row
  when (old.refresh_generation > 0
        and pg_catalog.current_setting('pgauth.purging_sessions', true) is distinct from 'on')
  execute function pgauth.tg_sessions__forget_rotated();

-- The purge's DELETE, with the rotated refresh tokens of the sessions it deletes, in one
-- statement; enable_seqscan = off as in 0016 (the BRIN index on the session's end).
create or replace function pgauth._purge_sessions(p_cutoff timestamptz) returns integer
  language plpgsql volatile security definer
  set search_path = pg_catalog, pgauth, pg_temp set enable_seqscan = off
  as $$
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
