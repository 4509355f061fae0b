-- Why: the foundation every later migration stands on: the group roles, the schema and its owner,
-- the crypto primitives, the one settings row and the clock.
--
-- Threat model. Callers connect with their own login roles, each a member of one of two NOLOGIN
-- group roles: pgauth_service (the service API) or pgauth_admin (everything). Neither can read or
-- write a table: tables are reached only through SECURITY DEFINER functions owned by
-- pgauth_owner, which pin search_path so that no caller-created object can shadow what they call.
-- Nothing in the schema is granted to PUBLIC.

do $$
declare
  v_role text;
begin
  foreach v_role in array array['pgauth_owner', 'pgauth_service', 'pgauth_admin'] loop
    if not exists (select 1 from pg_catalog.pg_roles where rolname = v_role) then
      begin
        execute pg_catalog.format('create role %I nologin', v_role);
      exception when duplicate_object or unique_violation then
        null; -- another database of this cluster created it at the same moment
      end;
    end if;
  end loop;
  -- A migrator that is not a superuser (a managed service's admin role with CREATEROLE) must be a
  -- member of the owner role to hand objects to it.
  if not (select rolsuper from pg_catalog.pg_roles where rolname = current_user) then
    execute pg_catalog.format('grant pgauth_owner to %I', current_user);
  end if;
end
$$;

-- pgcrypto is trusted: a database owner may create it. It lands in pgauth unless the database
-- already has it elsewhere; the wrappers below find it wherever it is.
create extension if not exists pgcrypto with schema pgauth;
-- Its functions are no business of PUBLIC either; only the owner role calls them (both no-ops
-- when it lives elsewhere).
revoke execute on all functions in schema pgauth from public;
grant execute on all functions in schema pgauth to pgauth_owner;

alter schema pgauth owner to pgauth_owner;
alter table pgauth.migrations owner to pgauth_owner;
revoke all on schema pgauth from public;
grant usage on schema pgauth to pgauth_service, pgauth_admin;

alter default privileges for role pgauth_owner revoke execute on functions from public;
alter default privileges for role pgauth_owner in schema pgauth revoke all on tables from public;

-- Thin wrappers over pgcrypto, bound to the schema it was installed in, so that every function can
-- keep search_path pinned to pg_catalog, pgauth, pg_temp.
do $$
declare
  v_schema name := (
    select n.nspname from pg_catalog.pg_extension e
    join pg_catalog.pg_namespace n on n.oid = e.extnamespace
    where e.extname = 'pgcrypto'
  );
begin
  execute pg_catalog.format($f$
    create function pgauth._random_bytes(p_count integer) returns bytea
      language sql volatile strict set search_path = pg_catalog, pg_temp
      as 'select %1$I.gen_random_bytes(p_count)';
    create function pgauth._crypt(p_password text, p_salt text) returns text
      language sql volatile strict set search_path = pg_catalog, pg_temp
      as 'select %1$I.crypt(p_password, p_salt)';
    create function pgauth._bf_salt(p_cost integer) returns text
      language sql volatile strict set search_path = pg_catalog, pg_temp
      as 'select %1$I.gen_salt(''bf'', p_cost)';
    alter function pgauth._random_bytes(integer) owner to pgauth_owner;
    alter function pgauth._crypt(text, text) owner to pgauth_owner;
    alter function pgauth._bf_salt(integer) owner to pgauth_owner;
    revoke all on function pgauth._random_bytes(integer) from public;
    revoke all on function pgauth._crypt(text, text) from public;
    revoke all on function pgauth._bf_salt(integer) from public;
  $f$, v_schema);
end
$$;

-- Everything below is created by, and so owned by, the owner role.
set local role pgauth_owner;

-- ---------------------------------------------------------------------------------------------
-- Settings: one row, read by the functions, so that every gateway replica and every direct-SQL
-- caller enforces the same policy. Only the owner (an operator in psql) changes it.
-- ---------------------------------------------------------------------------------------------
create table pgauth.settings (
  id boolean not null default true
    constraint settings_pkey primary key
    constraint settings_single_row check (id),
  bcrypt_cost integer not null default 11
    constraint settings_bcrypt_cost_range check (bcrypt_cost between 4 and 16),
  password_min_length integer not null default 12
    constraint settings_password_min_length_range check (password_min_length between 8 and 1024),
  max_failed_logins integer not null default 10
    constraint settings_max_failed_logins_range check (max_failed_logins between 1 and 100),
  lockout_seconds integer not null default 300
    constraint settings_lockout_seconds_positive check (lockout_seconds > 0),
  lockout_max_seconds integer not null default 86400
    constraint settings_lockout_max_seconds_range check (lockout_max_seconds >= lockout_seconds),
  access_token_ttl interval not null default '15 minutes'
    constraint settings_access_token_ttl_positive check (access_token_ttl > interval '0'),
  refresh_token_ttl interval not null default '14 days'
    constraint settings_refresh_token_ttl_positive check (refresh_token_ttl > interval '0'),
  session_max_age interval not null default '30 days'
    constraint settings_session_max_age_positive check (session_max_age > interval '0'),
  refresh_reuse_grace interval not null default '10 seconds'
    constraint settings_refresh_reuse_grace_range check (refresh_reuse_grace between interval '0' and interval '5 minutes'),
  allow_registration boolean not null default true,
  session_retention interval not null default '7 days'
    constraint settings_session_retention_range check (session_retention >= interval '0'),
  clock_offset interval not null default '0'
);
comment on table pgauth.settings is
  'pgauth policy, one row. Change it with UPDATE as the owner; every function reads it at its next call. clock_offset shifts pgauth.clock() (tests only).';

insert into pgauth.settings default values;

-- The clock every function reads. Its body is regenerated whenever settings.clock_offset changes,
-- so that it stays a plain inlinable SQL expression: the hot path pays nothing for the testability.
create function pgauth.clock() returns timestamptz
  language sql stable parallel safe
  as 'select pg_catalog.now()';
comment on function pgauth.clock() is
  'The time pgauth reads: now() shifted by settings.clock_offset (zero outside tests).';
revoke all on function pgauth.clock() from public;
grant execute on function pgauth.clock() to pgauth_service, pgauth_admin;

create function pgauth.tg_settings__guard() returns trigger
  language plpgsql volatile security definer set search_path = pg_catalog, pgauth, pg_temp
  as $$
begin
  if tg_op in ('DELETE', 'TRUNCATE') then
    raise exception using errcode = 'BADIN', message = 'invalid_input',
      detail = 'the settings row cannot be deleted; update it instead';
  end if;
  if new.clock_offset is distinct from old.clock_offset then
    execute pg_catalog.format(
      'create or replace function pgauth.clock() returns timestamptz language sql stable parallel safe as %L',
      pg_catalog.format('select pg_catalog.now() + %L::interval', new.clock_offset));
  end if;
  return new;
end
$$;
revoke all on function pgauth.tg_settings__guard() from public;

create trigger settings_guard before update or delete on pgauth.settings
  for each row execute function pgauth.tg_settings__guard();
create trigger settings_no_truncate before truncate on pgauth.settings
  for each statement execute function pgauth.tg_settings__guard();
