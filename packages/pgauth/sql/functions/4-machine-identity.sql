-- pgauth functions: service accounts, API keys, client-credentials tokens and signing keys.
--
-- Current text, applied by every migrate after the migrations (create or replace, in file name
-- order) when these files changed. Edit a function here; a migration is only for what is applied
-- once (tables, rows, the drop of a function whose result type, parameter names or defaults
-- change); migrate itself drops a function or trigger taken out of these files, and the old
-- signature of a function whose argument types change. See "Migrations" in README.md.

set local role pgauth_owner;

-- NOTIFYs the cache keys (first 8 bytes, hex) of token hashes, at most 100 a message (0010).
create or replace function pgauth._notify_cache_keys(p_hashes bytea[]) returns void
  language plpgsql volatile set search_path = pg_catalog, pgauth, pg_temp
  as $$
declare
  v_keys text[];
begin
  for v_keys in
    with keyed as (
      select pg_catalog.encode(pg_catalog.substr(h.hash, 1, 8), 'hex') as key
      from pg_catalog.unnest(p_hashes) as h(hash)
    ), numbered as (
      select key, (row_number() over (order by key) - 1) / 100 as chunk from keyed
    )
    select array_agg(key order by key) from numbered group by chunk order by chunk
  loop
    perform pg_catalog.pg_notify('pgauth_revocations',
      pg_catalog.json_build_object('keys', v_keys)::text);
  end loop;
end
$$;
revoke all on function pgauth._notify_cache_keys(bytea[]) from public;

create or replace function pgauth.tg_api_keys__notify() returns trigger
  language plpgsql volatile security definer set search_path = pg_catalog, pgauth, pg_temp
  as $$
declare
  v_hashes bytea[];
begin
  if tg_op = 'TRUNCATE' then
    perform pg_catalog.pg_notify('pgauth_revocations',
      pg_catalog.json_build_object('flush', true)::text);
    return null;
  end if;
  if tg_op = 'UPDATE' then
    select array_agg(o.key_hash) into v_hashes
    from old_rows o join new_rows n on n.id = o.id
    where o.revoked_at is null and o.disabled_at is null
      and (n.revoked_at is not null or n.disabled_at is not null
        or o.key_hash is distinct from n.key_hash
        or o.account_name is distinct from n.account_name or o.roles is distinct from n.roles
        or coalesce(n.expires_at, 'infinity') < coalesce(o.expires_at, 'infinity'));
  else
    -- A row that expired is in no cache: deleting it (pgauth.purge_service_tokens) says nothing.
    select array_agg(o.key_hash) into v_hashes
    from old_rows o where o.revoked_at is null and o.disabled_at is null
      and (o.expires_at is null or o.expires_at > pgauth.clock());
  end if;
  perform pgauth._notify_cache_keys(v_hashes);
  return null;
end
$$;
comment on function pgauth.tg_api_keys__notify() is
  'Trigger of api_keys: NOTIFYs pgauth_revocations with the cache keys of the keys and tokens a statement made stale (revoked, disabled, roles or name changed), or {"flush" : true} on TRUNCATE.';
revoke all on function pgauth.tg_api_keys__notify() from public;

-- A revoked key takes the access tokens issued for it along.
create or replace function pgauth.tg_api_keys__revoke_tokens() returns trigger
  language plpgsql volatile security definer set search_path = pg_catalog, pgauth, pg_temp
  as $$
declare
  v_ids uuid[];
begin
  -- A statement trigger fires for an UPDATE of no row too: update only when a key was revoked,
  -- or the update below would fire this trigger again without end.
  select array_agg(n.id) into v_ids
  from new_rows n join old_rows o on o.id = n.id
  where n.kind = 'api_key' and n.revoked_at is not null and o.revoked_at is null;
  if v_ids is null then
    return null;
  end if;
  update pgauth.api_keys t set revoked_at = n.revoked_at
  from new_rows n
  where n.id = any (v_ids) and t.parent_id = n.id and t.revoked_at is null;
  return null;
end
$$;
revoke all on function pgauth.tg_api_keys__revoke_tokens() from public;

-- Roles, name and disabled_at of an account are copied into its keys and tokens (an access
-- token keeps only the roles of its scope the account still holds).
create or replace function pgauth.tg_service_accounts__sync_keys() returns trigger
  language plpgsql volatile security definer set search_path = pg_catalog, pgauth, pg_temp
  as $$
begin
  update pgauth.api_keys k
  set account_name = n.name,
      disabled_at = n.disabled_at,
      roles = case when k.kind = 'api_key' then n.roles
                   else array(select r from pg_catalog.unnest(k.roles) r
                              where r = any (n.roles) order by r) end
  from new_rows n join old_rows o on o.id = n.id
  where k.service_account_id = n.id
    and (o.name is distinct from n.name or o.roles is distinct from n.roles
      or o.disabled_at is distinct from n.disabled_at);
  return null;
end
$$;
revoke all on function pgauth.tg_service_accounts__sync_keys() from public;

create or replace function pgauth._service_account(p_name text) returns pgauth.service_accounts
  language plpgsql stable security definer set search_path = pg_catalog, pgauth, pg_temp
  as $$
declare
  v_account pgauth.service_accounts;
begin
  select a.* into v_account from pgauth.service_accounts a where a.name = p_name;
  if not found then
    raise exception using errcode = 'NOSVC', message = 'service_account_not_found';
  end if;
  return v_account;
end
$$;
revoke all on function pgauth._service_account(text) from public;

-- Sorted, distinct, each in the format of pgauth.roles, which gets the new ones.
create or replace function pgauth._role_list(p_roles text[]) returns text[]
  language plpgsql volatile set search_path = pg_catalog, pgauth, pg_temp
  as $$
declare
  v_roles text[];
begin
  if p_roles is null or pg_catalog.cardinality(p_roles) > 50 or exists (
      select 1 from pg_catalog.unnest(p_roles) r where r is null or r !~ '^[a-z][a-z0-9_.:-]{0,62}$') then
    perform pgauth._invalid('at most 50 roles, each 1 to 63 characters: a-z first, then a-z 0-9 _ . : -');
  end if;
  v_roles := array(select distinct r from pg_catalog.unnest(p_roles) r order by r);
  insert into pgauth.roles (name) select r from pg_catalog.unnest(v_roles) r on conflict do nothing;
  return v_roles;
end
$$;
revoke all on function pgauth._role_list(text[]) from public;

-- last_used_at, at most once a minute; a row another validation is writing is skipped.
create or replace function pgauth._touch_api_key(p_id uuid, p_now timestamptz) returns void
  language plpgsql volatile security definer set search_path = pg_catalog, pgauth, pg_temp
  as $$
begin
  update pgauth.api_keys k set last_used_at = p_now
  where k.id = (select x.id from pgauth.api_keys x
                where x.id = p_id
                  and (x.last_used_at is null or x.last_used_at < p_now - interval '1 minute')
                for update skip locked);
end
$$;
revoke all on function pgauth._touch_api_key(uuid, timestamptz) from public;

-- Whether the JWT access token with this jti is still live (a verifier without a subscribed
-- cache asks this after checking the signature): the same one lookup as validate.
create or replace function pgauth.validate_jti(p_jti uuid)
  returns table (
    user_id uuid, session_id uuid, username text, roles text[], expires_at timestamptz,
    aal smallint, subject_type text
  )
  language plpgsql stable security definer set search_path = pg_catalog, pgauth, pg_temp
  as $$
begin
  return query
    select k.service_account_id, k.parent_id, k.account_name, k.roles, k.expires_at,
      1::smallint, 'service_account'::text
    from pgauth.api_keys k
    where k.key_hash = pgauth._token_hash('pgj_' || p_jti::text)
      and k.revoked_at is null and k.disabled_at is null and k.expires_at > pgauth.clock();
end
$$;
comment on function pgauth.validate_jti(uuid) is
  'For a JWT access token whose signature the caller checked: one row as pgauth.validate answers (session_id is the API key the token was issued for) while the token with this jti is live, no row once it expired or was revoked.';
revoke all on function pgauth.validate_jti(uuid) from public;
grant execute on function pgauth.validate_jti(uuid) to pgauth_admin, pgauth_validator;

create or replace function pgauth.create_service_account(p_name text, p_roles text[] default '{}')
  returns uuid
  language plpgsql volatile security definer set search_path = pg_catalog, pgauth, pg_temp
  as $$
declare
  v_id uuid;
  v_roles text[];
begin
  if p_name is null or p_name !~ '^[a-z][a-z0-9_.-]{0,62}$' then
    perform pgauth._invalid('service account names are 1 to 63 characters: a-z first, then a-z 0-9 _ . -');
  end if;
  v_roles := pgauth._role_list(coalesce(p_roles, '{}'));
  insert into pgauth.service_accounts (name, roles) values (p_name, v_roles)
  on conflict do nothing
  returning id into v_id;
  if v_id is null then
    raise exception using errcode = 'TAKEN', message = 'name_taken';
  end if;
  perform pgauth._audit('service_account_created', null, null, null, null,
    pg_catalog.jsonb_build_object('service_account_id', v_id, 'name', p_name, 'roles', v_roles));
  return v_id;
end
$$;
comment on function pgauth.create_service_account(text, text[]) is
  'Admin: creates a service account holding roles (created when new); returns its id. TAKEN name_taken, BADIN.';
revoke all on function pgauth.create_service_account(text, text[]) from public;
grant execute on function pgauth.create_service_account(text, text[]) to pgauth_admin;

create or replace function pgauth.list_service_accounts()
  returns table (
    id uuid, name text, roles text[], access_token_format text, created_at timestamptz,
    disabled_at timestamptz, live_api_keys bigint
  )
  language plpgsql stable security definer set search_path = pg_catalog, pgauth, pg_temp
  as $$
declare
  v_now timestamptz := pgauth.clock();
begin
  return query
    select a.id, a.name, a.roles, a.access_token_format, a.created_at, a.disabled_at,
      (select count(*) from pgauth.api_keys k
       where k.service_account_id = a.id and k.kind = 'api_key' and k.revoked_at is null
         and (k.expires_at is null or k.expires_at > v_now))
    from pgauth.service_accounts a order by a.name;
end
$$;
comment on function pgauth.list_service_accounts() is
  'Admin: every service account by name, with how many API keys are live.';
revoke all on function pgauth.list_service_accounts() from public;
grant execute on function pgauth.list_service_accounts() to pgauth_admin;

create or replace function pgauth.disable_service_account(p_name text) returns void
  language plpgsql volatile security definer set search_path = pg_catalog, pgauth, pg_temp
  as $$
declare
  v_account pgauth.service_accounts := pgauth._service_account(p_name);
begin
  if v_account.disabled_at is not null then
    return;
  end if;
  update pgauth.service_accounts set disabled_at = pgauth.clock() where id = v_account.id;
  perform pgauth._audit('service_account_disabled', null, null, null, null,
    pg_catalog.jsonb_build_object('service_account_id', v_account.id, 'name', v_account.name));
end
$$;
comment on function pgauth.disable_service_account(text) is
  'Admin: disables a service account: none of its keys or tokens validates from now on, and the caches are told. NOSVC.';
revoke all on function pgauth.disable_service_account(text) from public;
grant execute on function pgauth.disable_service_account(text) to pgauth_admin;

create or replace function pgauth.set_service_account_token_format(p_name text, p_format text) returns void
  language plpgsql volatile security definer set search_path = pg_catalog, pgauth, pg_temp
  as $$
declare
  v_account pgauth.service_accounts := pgauth._service_account(p_name);
begin
  if p_format is not null and p_format not in ('opaque', 'jwt') then
    perform pgauth._invalid('the access token format is opaque, jwt, or null (the setting)');
  end if;
  update pgauth.service_accounts set access_token_format = p_format where id = v_account.id;
end
$$;
comment on function pgauth.set_service_account_token_format(text, text) is
  'Admin: the access token format of one service account (opaque or jwt), or null to follow settings.access_token_format. NOSVC, BADIN.';
revoke all on function pgauth.set_service_account_token_format(text, text) from public;
grant execute on function pgauth.set_service_account_token_format(text, text) to pgauth_admin;

create or replace function pgauth.create_api_key(p_service_account text, p_name text,
    p_expires_at timestamptz default null)
  returns table (id uuid, key text)
  language plpgsql volatile security definer set search_path = pg_catalog, pgauth, pg_temp
  as $$
declare
  v_account pgauth.service_accounts := pgauth._service_account(p_service_account);
begin
  if p_name is null or char_length(p_name) not between 1 and 64 then
    perform pgauth._invalid('an API key needs a name of 1 to 64 characters');
  end if;
  if p_expires_at is not null and p_expires_at <= pgauth.clock() then
    perform pgauth._invalid('expires_at must be in the future');
  end if;
  if v_account.disabled_at is not null then
    raise exception using errcode = 'SVCOF', message = 'service_account_disabled';
  end if;
  key := pgauth._new_token('pgk_');
  insert into pgauth.api_keys as k (kind, service_account_id, name, key_hash, account_name, roles,
    expires_at)
  values ('api_key', v_account.id, p_name, pgauth._token_hash(key), v_account.name,
    v_account.roles, p_expires_at)
  returning k.id into id;
  perform pgauth._audit('api_key_created', null, null, null, null,
    pg_catalog.jsonb_build_object('service_account_id', v_account.id, 'api_key_id', id,
      'name', p_name));
  return next;
end
$$;
comment on function pgauth.create_api_key(text, text, timestamptz) is
  'Admin: a new API key (pgk_…, 256 random bits) of a service account, optionally expiring; returns its id and the key, the only time the key is shown (only its SHA-256 is stored). NOSVC, SVCOF, BADIN.';
revoke all on function pgauth.create_api_key(text, text, timestamptz) from public;
grant execute on function pgauth.create_api_key(text, text, timestamptz) to pgauth_admin;

create or replace function pgauth.list_api_keys(p_service_account text)
  returns table (
    id uuid, name text, created_at timestamptz, expires_at timestamptz,
    last_used_at timestamptz, revoked_at timestamptz
  )
  language plpgsql stable security definer set search_path = pg_catalog, pgauth, pg_temp
  as $$
declare
  v_account pgauth.service_accounts := pgauth._service_account(p_service_account);
begin
  return query
    select k.id, k.name, k.created_at, k.expires_at, k.last_used_at, k.revoked_at
    from pgauth.api_keys k
    where k.service_account_id = v_account.id and k.kind = 'api_key'
    order by k.created_at desc, k.id;
end
$$;
comment on function pgauth.list_api_keys(text) is
  'Admin: the API keys of a service account, newest first, revoked ones too; never a key itself. NOSVC.';
revoke all on function pgauth.list_api_keys(text) from public;
grant execute on function pgauth.list_api_keys(text) to pgauth_admin;

create or replace function pgauth.revoke_api_key(p_id uuid) returns boolean
  language plpgsql volatile security definer set search_path = pg_catalog, pgauth, pg_temp
  as $$
declare
  v_key pgauth.api_keys;
begin
  select k.* into v_key from pgauth.api_keys k where k.id = p_id and k.kind = 'api_key';
  if not found then
    raise exception using errcode = 'NOKEY', message = 'api_key_not_found';
  end if;
  if v_key.revoked_at is not null then
    return false;
  end if;
  update pgauth.api_keys set revoked_at = pgauth.clock() where id = p_id;
  perform pgauth._audit('api_key_revoked', null, null, null, null,
    pg_catalog.jsonb_build_object('service_account_id', v_key.service_account_id,
      'api_key_id', p_id));
  return true;
end
$$;
comment on function pgauth.revoke_api_key(uuid) is
  'Admin: revokes an API key and every access token issued for it; true when it was not revoked yet. The caches are told. NOKEY.';
revoke all on function pgauth.revoke_api_key(uuid) from public;
grant execute on function pgauth.revoke_api_key(uuid) to pgauth_admin;

-- p_client_id is the service account's name, p_client_secret one of its API keys. No row when
-- the client does not authenticate (unknown, wrong or revoked key, disabled account): the audit
-- row commits, and the caller answers invalid_client. SCOPE invalid_scope when the scope asks
-- for a role the client does not hold (checked only once the client has authenticated). Without
-- a scope the token carries every role of the account.
create or replace function pgauth.client_credentials(p_client_id text, p_client_secret text,
    p_scope text[] default null, p_client_ip inet default null)
  returns table (
    service_account_id uuid, api_key_id uuid, token_id uuid, access_token text,
    token_format text, roles text[], expires_at timestamptz
  )
  language plpgsql volatile security definer set search_path = pg_catalog, pgauth, pg_temp
  as $$
declare
  v_now timestamptz := pgauth.clock();
  v_key pgauth.api_keys;
  v_account pgauth.service_accounts;
  v_settings pgauth.settings := pgauth._settings();
  v_roles text[];
  v_hash bytea;
begin
  if char_length(p_client_id) > 200 or char_length(p_client_secret) > 200
     or pg_catalog.cardinality(p_scope) > 50 then
    perform pgauth._invalid('client_id and client_secret of at most 200 characters, at most 50 scopes');
  end if;
  if pg_catalog.left(p_client_secret, 4) = 'pgk_' then
    select k.* into v_key from pgauth.api_keys k
    where k.key_hash = pgauth._token_hash(p_client_secret) and k.kind = 'api_key';
  end if;
  if v_key.id is null or v_key.account_name is distinct from p_client_id
     or v_key.revoked_at is not null or v_key.disabled_at is not null
     or v_key.expires_at <= v_now then
    perform pgauth._audit('client_authentication_failed', null, null, p_client_ip, null,
      pg_catalog.jsonb_build_object('client_id', pg_catalog.left(p_client_id, 64)));
    return;
  end if;
  select a.* into v_account from pgauth.service_accounts a where a.id = v_key.service_account_id;
  if p_scope is null then
    v_roles := v_key.roles;
  elsif exists (select 1 from pg_catalog.unnest(p_scope) s where not (s = any (v_key.roles))) then
    raise exception using errcode = 'SCOPE', message = 'invalid_scope';
  else
    v_roles := array(select distinct s from pg_catalog.unnest(p_scope) s order by s);
  end if;
  perform pgauth._touch_api_key(v_key.id, v_now);
  service_account_id := v_account.id;
  api_key_id := v_key.id;
  token_id := gen_random_uuid();
  token_format := coalesce(v_account.access_token_format, v_settings.access_token_format);
  roles := v_roles;
  expires_at := v_now + v_settings.service_token_ttl;
  if v_key.expires_at is not null then
    expires_at := least(expires_at, v_key.expires_at);
  end if;
  if token_format = 'jwt' then
    v_hash := pgauth._token_hash('pgj_' || token_id::text);
  else
    access_token := pgauth._new_token('pgs_');
    v_hash := pgauth._token_hash(access_token);
  end if;
  insert into pgauth.api_keys (id, kind, service_account_id, parent_id, key_hash, account_name,
    roles, expires_at, created_at)
  values (token_id, 'access_token', v_account.id, v_key.id, v_hash, v_account.name, v_roles,
    expires_at, v_now);
  perform pgauth._audit('client_credentials_granted', null, null, p_client_ip, null,
    pg_catalog.jsonb_build_object('service_account_id', v_account.id, 'api_key_id', v_key.id,
      'token_id', token_id, 'scope', v_roles));
  return next;
end
$$;
comment on function pgauth.client_credentials(text, text, text[], inet) is
  'OAuth 2 client credentials: client_id is a service account name, client_secret one of its API keys. One row with a new access token (opaque pgs_…, or, when the format is jwt, no token: the caller signs a JWT with jti = token_id), its roles (the scope) and expiry; no row when the client does not authenticate (audited). SCOPE invalid_scope, BADIN.';
revoke all on function pgauth.client_credentials(text, text, text[], inet) from public;
grant execute on function pgauth.client_credentials(text, text, text[], inet) to pgauth_service, pgauth_admin;

-- Every client-credentials grant writes a row; they are worth nothing once expired.
create or replace function pgauth.purge_service_tokens(p_older_than interval default '1 day') returns integer
  language plpgsql volatile security definer set search_path = pg_catalog, pgauth, pg_temp
  as $$
declare
  v_count integer;
begin
  if p_older_than is null or p_older_than < interval '0' then
    perform pgauth._invalid('p_older_than must be an interval of at least 0');
  end if;
  delete from pgauth.api_keys k
  where k.kind = 'access_token' and k.expires_at < pgauth.clock() - p_older_than;
  get diagnostics v_count = row_count;
  return v_count;
end
$$;
comment on function pgauth.purge_service_tokens(interval) is
  'Admin: deletes the client-credentials access token rows that expired more than p_older_than ago (default 1 day); returns how many. BADIN.';
revoke all on function pgauth.purge_service_tokens(interval) from public;
grant execute on function pgauth.purge_service_tokens(interval) to pgauth_admin;

-- The newest key becomes the one that signs; the one it replaces stays published (see
-- published_signing_keys) until every token it signed has expired.
create or replace function pgauth.add_signing_key(p_kid text, p_alg text, p_public_jwk jsonb,
    p_private_key_encrypted text) returns void
  language plpgsql volatile security definer set search_path = pg_catalog, pgauth, pg_temp
  as $$
begin
  if p_kid is null or p_alg is null or p_public_jwk is null or p_private_key_encrypted is null
     or pg_catalog.jsonb_typeof(p_public_jwk) <> 'object' or p_public_jwk ? 'd' then
    perform pgauth._invalid('a kid, an algorithm, a public JWK (no private part) and the encrypted private key');
  end if;
  update pgauth.signing_keys set retired_at = pgauth.clock() where retired_at is null;
  insert into pgauth.signing_keys (kid, alg, public_jwk, private_key_encrypted)
  values (p_kid, p_alg, p_public_jwk, p_private_key_encrypted);
  perform pgauth._audit('signing_key_added', null, null, null, null,
    pg_catalog.jsonb_build_object('kid', p_kid, 'alg', p_alg));
end
$$;
comment on function pgauth.add_signing_key(text, text, jsonb, text) is
  'Admin (the gateway and pgauth keys rotate): stores a new signing key, which signs from now on, and retires the active one. The private key arrives encrypted; never in clear. BADIN.';
revoke all on function pgauth.add_signing_key(text, text, jsonb, text) from public;
grant execute on function pgauth.add_signing_key(text, text, jsonb, text) to pgauth_admin;

create or replace function pgauth.active_signing_key()
  returns table (kid text, alg text, private_key_encrypted text)
  language plpgsql stable security definer set search_path = pg_catalog, pgauth, pg_temp
  as $$
begin
  return query
    select k.kid, k.alg, k.private_key_encrypted from pgauth.signing_keys k
    where k.retired_at is null;
end
$$;
comment on function pgauth.active_signing_key() is
  'The key that signs access tokens, its private part encrypted (only the gateway holding the key-encryption key can use it); no row when there is none yet.';
revoke all on function pgauth.active_signing_key() from public;
grant execute on function pgauth.active_signing_key() to pgauth_service, pgauth_admin;

-- A retired key is published while an access token issued before it retired may still be live.
create or replace function pgauth.published_signing_keys() returns table (kid text, alg text, public_jwk jsonb)
  language plpgsql stable security definer set search_path = pg_catalog, pgauth, pg_temp
  as $$
declare
  v_now timestamptz := pgauth.clock();
begin
  return query
    select k.kid, k.alg, k.public_jwk from pgauth.signing_keys k
    where k.retired_at is null
       or exists (select 1 from pgauth.api_keys t
                  where t.kind = 'access_token' and t.expires_at > v_now
                    and t.created_at <= k.retired_at)
    order by k.retired_at is not null, k.created_at desc;
end
$$;
comment on function pgauth.published_signing_keys() is
  'The public keys of the JWKS: the active ones, and each retired one until the last token it signed has expired.';
revoke all on function pgauth.published_signing_keys() from public;
grant execute on function pgauth.published_signing_keys() to pgauth_service, pgauth_admin, pgauth_validator;

create or replace trigger api_keys_notify_update after update on pgauth.api_keys
  referencing old table as old_rows new table as new_rows
  for each statement execute function pgauth.tg_api_keys__notify();

create or replace trigger api_keys_notify_delete after delete on pgauth.api_keys
  referencing old table as old_rows
  for each statement execute function pgauth.tg_api_keys__notify();

create or replace trigger api_keys_notify_truncate after truncate on pgauth.api_keys
  for each statement execute function pgauth.tg_api_keys__notify();

create or replace trigger api_keys_revoke_tokens after update on pgauth.api_keys
  referencing old table as old_rows new table as new_rows
  for each statement execute function pgauth.tg_api_keys__revoke_tokens();

create or replace trigger service_accounts_sync_keys after update on pgauth.service_accounts
  referencing old table as old_rows new table as new_rows
  for each statement execute function pgauth.tg_service_accounts__sync_keys();
