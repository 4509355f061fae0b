-- pgauth 0010: revocation notifications name nothing but opaque cache keys, and TRUNCATE of the
-- sessions sends "flush everything".
--
-- Why. TRUNCATE pgauth.sessions, which the docs recommend after a restore, fired no trigger: every
-- cache went on serving sessions that no longer existed. And every message told any listener who
-- (user id, session ids) and what (logout, password_changed, user_locked …) although PostgreSQL
-- has no privilege for LISTEN or NOTIFY: every role that may connect to the database hears
-- pgauth_revocations, and may send on it.
--
-- Threat model. A notification is a hint to evict, never a verdict: every consumer (the SDK's and
-- the gateway's caches, the gateway's event stream) only forgets what it names and asks the
-- database again, so a forged message costs cache misses and nothing else. A listener learns only
-- when sessions change and the cache key of each access token concerned: the first 8 bytes of the
-- token's SHA-256 (of access_token_hash), in hex. A cache holds the token and computes the same
-- key; anybody else gets a random-looking 64-bit value that names no user and no session and
-- changes at every rotation. Validation is untouched: still one lookup by access_token_hash.
--
-- The messages on pgauth_revocations from now on:
--   {"keys" : ["<16 hex digits>", …]}  one to 100 keys; a statement sends as many as it needs
--   {"flush" : true}                   the sessions were truncated: forget every cached validation
-- A consumer that cannot read a message must treat it as a flush.

set local role pgauth_owner;

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
  -- one query each.)
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
    from old_rows o where o.revoked_at is null;
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
comment on function pgauth.tg_sessions__notify() is
  'Trigger of sessions: NOTIFYs pgauth_revocations with the cache keys (first 8 bytes of access_token_hash, hex) of the access tokens a statement made stale, at most 100 a message, or {"flush" : true} on TRUNCATE. Keys only: no user, session or reason.';
-- A trigger function: no role calls it, so EXECUTE goes to nobody.
revoke all on function pgauth.tg_sessions__notify() from public;

create trigger sessions_notify_truncate after truncate on pgauth.sessions
  for each statement execute function pgauth.tg_sessions__notify();
