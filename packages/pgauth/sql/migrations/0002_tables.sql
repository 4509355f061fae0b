-- Why: the tables of users, roles, sessions and the audit log, with the triggers that keep the
-- sessions' validation snapshot true and revoke sessions the moment a credential changes.
set local role pgauth_owner;

-- ---------------------------------------------------------------------------------------------
-- Users.
-- Threat model: the password hash is the most sensitive column; it is never returned by any
-- function. Usernames are unique case-insensitively among users not deleted, so that "Alice" and
-- "alice" cannot be two accounts. A deleted user keeps its row (and its audit trail) but can never
-- log in again; its username becomes free.
-- ---------------------------------------------------------------------------------------------
create table pgauth.users (
  id uuid not null default gen_random_uuid() constraint users_pkey primary key,
  username text not null
    constraint users_username_length check (char_length(username) between 1 and 64),
  email text
    constraint users_email_length check (char_length(email) between 3 and 254),
  password_hash text not null,
  created_at timestamptz not null default pgauth.clock(),
  updated_at timestamptz not null default pgauth.clock(),
  password_changed_at timestamptz not null default pgauth.clock(),
  last_login_at timestamptz,
  failed_logins integer not null default 0
    constraint users_failed_logins_nonnegative check (failed_logins >= 0),
  locked_until timestamptz,
  lock_count integer not null default 0
    constraint users_lock_count_nonnegative check (lock_count >= 0),
  lock_reason text,
  disabled_at timestamptz,
  deleted_at timestamptz
);
create unique index users_username_key on pgauth.users (lower(username)) where deleted_at is null;
comment on table pgauth.users is
  'Accounts. A raw UPDATE of password_hash, locked_until, disabled_at or deleted_at revokes every session of the user (trigger users_revoke_sessions).';

-- ---------------------------------------------------------------------------------------------
-- Roles. Names are short identifiers; two are built in: admin (the gateway's admin API) and
-- introspect (RFC 7662 introspection and the revocation stream).
-- ---------------------------------------------------------------------------------------------
create table pgauth.roles (
  name text not null constraint roles_pkey primary key
    constraint roles_name_format check (name ~ '^[a-z][a-z0-9_.:-]{0,62}$'),
  created_at timestamptz not null default pgauth.clock()
);
insert into pgauth.roles (name) values ('admin'), ('introspect');

create table pgauth.user_roles (
  user_id uuid not null
    constraint user_roles_user_id_fkey references pgauth.users (id) on delete cascade,
  role text not null
    constraint user_roles_role_fkey references pgauth.roles (name) on update cascade on delete cascade,
  granted_at timestamptz not null default pgauth.clock(),
  constraint user_roles_pkey primary key (user_id, role)
);
create index user_roles_role_idx on pgauth.user_roles (role);

-- ---------------------------------------------------------------------------------------------
-- Sessions: one row per login, which is also the refresh family (the session id is the family
-- id). Rotation replaces the row's token pair in place and bumps refresh_generation; the hashes
-- of rotated refresh tokens go to rotated_refresh_tokens so that their reuse is recognised.
-- Threat model: only SHA-256 hashes of tokens are stored, so a copy of this table logs nobody in.
-- username and roles are a snapshot of what validation returns, kept true by triggers, so that
-- validation reads this one row by one unique index and joins nothing.
-- ---------------------------------------------------------------------------------------------
create table pgauth.sessions (
  id uuid not null default gen_random_uuid() constraint sessions_pkey primary key,
  user_id uuid not null
    constraint sessions_user_id_fkey references pgauth.users (id) on delete cascade,
  username text not null,
  roles text[] not null default '{}',
  access_token_hash bytea not null,
  access_expires_at timestamptz not null,
  refresh_token_hash bytea not null,
  refresh_expires_at timestamptz not null,
  refresh_generation integer not null default 0,
  rotated_at timestamptz,
  -- random salt of the last rotation: rebuilds its pair for a retry inside the grace window
  rotation_salt bytea,
  expires_at timestamptz not null,
  created_at timestamptz not null default pgauth.clock(),
  client_ip inet,
  user_agent text,
  revoked_at timestamptz,
  revoked_reason text,
  constraint sessions_access_within_absolute check (access_expires_at <= expires_at),
  constraint sessions_refresh_within_absolute check (refresh_expires_at <= expires_at),
  constraint sessions_revoked_reason check ((revoked_at is null) = (revoked_reason is null))
);
create unique index sessions_access_token_hash_key on pgauth.sessions (access_token_hash);
create unique index sessions_refresh_token_hash_key on pgauth.sessions (refresh_token_hash);
create index sessions_user_id_idx on pgauth.sessions (user_id) where revoked_at is null;
create index sessions_expires_at_idx on pgauth.sessions (expires_at);
comment on column pgauth.sessions.expires_at is 'Absolute expiry: no refresh extends a session past it.';

create table pgauth.rotated_refresh_tokens (
  token_hash bytea not null constraint rotated_refresh_tokens_pkey primary key,
  session_id uuid not null
    constraint rotated_refresh_tokens_session_id_fkey references pgauth.sessions (id) on delete cascade,
  generation integer not null,
  rotated_at timestamptz not null
);
create index rotated_refresh_tokens_session_id_idx on pgauth.rotated_refresh_tokens (session_id);

-- ---------------------------------------------------------------------------------------------
-- Audit log: one row per event. Append-only for everybody: a trigger refuses UPDATE, DELETE and
-- TRUNCATE, except the DELETE that pgauth.purge_audit() runs. It never holds a password or a raw
-- token: functions write only ids, reasons, counts and the client's address.
-- ---------------------------------------------------------------------------------------------
create table pgauth.audit_log (
  id bigint generated always as identity constraint audit_log_pkey primary key,
  at timestamptz not null default pgauth.clock(),
  event text not null,
  user_id uuid,
  session_id uuid,
  client_ip inet,
  user_agent text,
  detail jsonb not null default '{}'
);
create index audit_log_user_id_at_idx on pgauth.audit_log (user_id, at desc);
create index audit_log_at_idx on pgauth.audit_log (at desc);

create function pgauth.tg_audit_log__append_only() returns trigger
  language plpgsql volatile set search_path = pg_catalog, pgauth, pg_temp
  as $$
begin
  if tg_op = 'DELETE' and pg_catalog.current_setting('pgauth.purging_audit', true) = 'on' then
    return old;
  end if;
  raise exception using errcode = 'BADIN', message = 'invalid_input',
    detail = 'pgauth.audit_log is append-only; pgauth.purge_audit() is the only way rows leave it';
end
$$;
revoke all on function pgauth.tg_audit_log__append_only() from public;
create trigger audit_log_append_only before update or delete on pgauth.audit_log
  for each row execute function pgauth.tg_audit_log__append_only();
create trigger audit_log_no_truncate before truncate on pgauth.audit_log
  for each statement execute function pgauth.tg_audit_log__append_only();

create function pgauth._audit(
  p_event text, p_user_id uuid, p_session_id uuid, p_client_ip inet, p_user_agent text,
  p_detail jsonb default '{}'
) returns void
  language sql volatile security definer set search_path = pg_catalog, pgauth, pg_temp
  as $$
    insert into pgauth.audit_log (event, user_id, session_id, client_ip, user_agent, detail)
    values (p_event, p_user_id, p_session_id, p_client_ip, pg_catalog.left(p_user_agent, 512),
            coalesce(p_detail, '{}'));
  $$;
revoke all on function pgauth._audit(text, uuid, uuid, inet, text, jsonb) from public;

-- ---------------------------------------------------------------------------------------------
-- Revocation notifications. One statement-level trigger on sessions sees every change that makes
-- a cached validation stale — revoked, token rotated, snapshot changed, row deleted — however it
-- happened, and NOTIFYs pgauth_revocations once per user and reason, at most 100 session ids a
-- message (NOTIFY payloads are limited to 8000 bytes). NOTIFY is transactional: nothing is sent
-- when the transaction rolls back.
-- ---------------------------------------------------------------------------------------------
create function pgauth.tg_sessions__notify() returns trigger
  language plpgsql volatile security definer set search_path = pg_catalog, pgauth, pg_temp
  as $$
declare
  v_msg record;
begin
  if tg_op = 'UPDATE' then
    for v_msg in
      with changed as (
        select n.user_id, n.id,
          case
            when o.revoked_at is null and n.revoked_at is not null then n.revoked_reason
            when o.access_token_hash is distinct from n.access_token_hash then 'rotated'
            else 'snapshot'
          end as reason
        from old_rows o join new_rows n on n.id = o.id
        where (o.revoked_at is null and n.revoked_at is not null)
           or (o.revoked_at is null and (o.access_token_hash is distinct from n.access_token_hash
              or o.username is distinct from n.username or o.roles is distinct from n.roles
              or o.access_expires_at > n.access_expires_at))
      ), numbered as (
        select user_id, id, reason,
          (row_number() over (partition by user_id, reason order by id) - 1) / 100 as chunk
        from changed
      )
      select user_id, reason, array_agg(id order by id) as ids
      from numbered group by user_id, reason, chunk
    loop
      perform pg_catalog.pg_notify('pgauth_revocations', pg_catalog.json_build_object(
        'user_id', v_msg.user_id, 'session_ids', v_msg.ids, 'reason', v_msg.reason)::text);
    end loop;
  else
    for v_msg in
      with numbered as (
        select user_id, id, (row_number() over (partition by user_id order by id) - 1) / 100 as chunk
        from old_rows where revoked_at is null
      )
      select user_id, array_agg(id order by id) as ids from numbered group by user_id, chunk
    loop
      perform pg_catalog.pg_notify('pgauth_revocations', pg_catalog.json_build_object(
        'user_id', v_msg.user_id, 'session_ids', v_msg.ids, 'reason', 'deleted')::text);
    end loop;
  end if;
  return null;
end
$$;
revoke all on function pgauth.tg_sessions__notify() from public;
create trigger sessions_notify_update after update on pgauth.sessions
  referencing old table as old_rows new table as new_rows
  for each statement execute function pgauth.tg_sessions__notify();
create trigger sessions_notify_delete after delete on pgauth.sessions
  referencing old table as old_rows
  for each statement execute function pgauth.tg_sessions__notify();

-- ---------------------------------------------------------------------------------------------
-- Triggers on users: whoever changes a credential — a pgauth function or an operator's raw
-- UPDATE in psql — every live session of the user is revoked in the same transaction.
-- The one exception is the automatic lockout after repeated failures (lock_reason
-- 'too_many_failures' set together with lock_count + 1): it stops password guessing but proves
-- nothing against the sessions the owner already holds, and revoking them would let anybody log a
-- user out by typing a wrong password ten times.
-- ---------------------------------------------------------------------------------------------
create function pgauth.tg_users__before_update() returns trigger
  language plpgsql volatile security definer set search_path = pg_catalog, pgauth, pg_temp
  as $$
begin
  new.updated_at := pgauth.clock();
  if new.password_hash is distinct from old.password_hash then
    new.password_changed_at := pgauth.clock();
  end if;
  return new;
end
$$;
revoke all on function pgauth.tg_users__before_update() from public;
create trigger users_before_update before update on pgauth.users
  for each row execute function pgauth.tg_users__before_update();

create function pgauth.tg_users__revoke_sessions() returns trigger
  language plpgsql volatile security definer set search_path = pg_catalog, pgauth, pg_temp
  as $$
declare
  v_reason text;
  v_count integer;
begin
  if new.deleted_at is not null and old.deleted_at is null then
    v_reason := 'user_deleted';
  elsif new.disabled_at is not null and old.disabled_at is null then
    v_reason := 'user_disabled';
  elsif new.password_hash is distinct from old.password_hash then
    v_reason := 'password_changed';
  elsif new.locked_until is distinct from old.locked_until
        and new.locked_until > pgauth.clock()
        and not (new.lock_reason = 'too_many_failures' and new.lock_count = old.lock_count + 1) then
    v_reason := 'user_locked';
  end if;

  if v_reason is not null then
    update pgauth.sessions s set revoked_at = pgauth.clock(), revoked_reason = v_reason
    where s.user_id = new.id and s.revoked_at is null;
    get diagnostics v_count = row_count;
    if v_count > 0 then
      perform pgauth._audit('sessions_revoked', new.id, null, null, null,
        pg_catalog.jsonb_build_object('reason', v_reason, 'count', v_count));
    end if;
  elsif new.username is distinct from old.username then
    update pgauth.sessions s set username = new.username
    where s.user_id = new.id and s.revoked_at is null;
  end if;
  return null;
end
$$;
revoke all on function pgauth.tg_users__revoke_sessions() from public;
create trigger users_revoke_sessions after update on pgauth.users
  for each row execute function pgauth.tg_users__revoke_sessions();

-- Role changes reach the live sessions' snapshot at once. Locking the user row first orders this
-- against a concurrent login (which updates that row before it reads the roles), so a session
-- created meanwhile cannot keep the old roles.
create function pgauth.tg_user_roles__sync_sessions() returns trigger
  language plpgsql volatile security definer set search_path = pg_catalog, pgauth, pg_temp
  as $$
declare
  v_user_id uuid;
begin
  for v_user_id in
    select distinct user_id from changed_rows
  loop
    perform 1 from pgauth.users u where u.id = v_user_id for no key update;
    update pgauth.sessions s
      set roles = coalesce((select pg_catalog.array_agg(ur.role order by ur.role)
                            from pgauth.user_roles ur where ur.user_id = v_user_id), '{}')
    where s.user_id = v_user_id and s.revoked_at is null;
  end loop;
  return null;
end
$$;
revoke all on function pgauth.tg_user_roles__sync_sessions() from public;
create trigger user_roles_sync_insert after insert on pgauth.user_roles
  referencing new table as changed_rows
  for each statement execute function pgauth.tg_user_roles__sync_sessions();
create trigger user_roles_sync_delete after delete on pgauth.user_roles
  referencing old table as changed_rows
  for each statement execute function pgauth.tg_user_roles__sync_sessions();
-- A role renamed in pgauth.roles reaches user_roles by ON UPDATE CASCADE: an UPDATE, synced too.
create trigger user_roles_sync_update after update on pgauth.user_roles
  referencing new table as changed_rows
  for each statement execute function pgauth.tg_user_roles__sync_sessions();

-- ---------------------------------------------------------------------------------------------
-- Common passwords, refused at register and at every password change (filled by 0003).
-- ---------------------------------------------------------------------------------------------
create table pgauth.common_passwords (
  password text not null constraint common_passwords_pkey primary key
);
