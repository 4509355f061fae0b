-- pgauth 0007: a password hash made at a lower bcrypt cost than the setting is upgraded at the
-- next successful login (SECURITY.md 5, OWASP Password Storage "Upgrading the work factor").
--
-- Without it, raising settings.bcrypt_cost protected only passwords set afterwards, and it opened
-- a timing channel: an unknown user's dummy hash is made at the new cost while an existing
-- account is verified at its old one, so a failed login's duration told whether the account
-- exists. Now:
--   * a successful login whose stored hash is cheaper than the setting stores a new hash of the
--     same password at the setting's cost (audit login_success with {"rehashed": true});
--   * a failed login on such an account (wrong password, locked, disabled) adds dummy hashes of
--     costs old … new − 1, whose time (2^old + … + 2^(new−1) = 2^new − 2^old) brings the total to
--     what one hash at the new cost takes: the dummy hash of an unknown user. It runs before the
--     failure is counted, so that it never holds the user row's lock;
--   * a stored hash that is not bcrypt (crypt() also verifies md5, des and xdes hashes, should
--     one have been imported) counts as cheaper than any cost: padded by one hash at the current
--     cost, upgraded to bcrypt at the next successful login.
-- A hash dearer than the setting is kept: lowering the cost never weakens a stored hash.
--
-- The upgrade is not a password change: the users triggers revoke the user's sessions when
-- password_hash changes, except for the one new hash that login announces, as '<user id>:<hash>',
-- in the transaction-local setting pgauth.rehash just before writing it. No caller can announce
-- a hash in advance: it is salted with fresh random bytes inside login. (An operator who sets
-- pgauth.rehash by hand before a raw UPDATE gets the same pass; one can disable triggers anyway.)
-- Login re-checks password_changed_at rather than the hash before it writes, so that two
-- concurrent logins of one user during the upgrade both succeed (the second keeps the first's
-- hash) while a real password change committed meanwhile still wins.

set local role pgauth_owner;

-- The cost of a bcrypt hash ($2a$NN$…), NULL for anything else.
create function pgauth._bf_cost(p_hash text) returns integer
  language sql immutable strict parallel safe
  as $$
    select case when p_hash ~ '^\$2[abxy]\$[0-9]{2}\$' then pg_catalog.substr(p_hash, 5, 2)::integer end
  $$;
revoke all on function pgauth._bf_cost(text) from public;

-- True when this row's new password_hash is login's announced upgrade of the same password.
-- Never NULL: a setting never set reads NULL, one set and reset reads ''.
create function pgauth._is_rehash(p_user_id uuid, p_new_hash text) returns boolean
  language sql stable
  as $$
    select coalesce(p_user_id::text || ':' || p_new_hash
                    = nullif(pg_catalog.current_setting('pgauth.rehash', true), ''), false)
  $$;
revoke all on function pgauth._is_rehash(uuid, text) from public;

create or replace function pgauth.tg_users__before_update() returns trigger
  language plpgsql volatile security definer set search_path = pg_catalog, pgauth, pg_temp
  as $$
begin
  new.updated_at := pgauth.clock();
  if new.password_hash is distinct from old.password_hash
     and not pgauth._is_rehash(new.id, new.password_hash) then
    new.password_changed_at := pgauth.clock();
  end if;
  return new;
end
$$;

create or replace function pgauth.tg_users__revoke_sessions() returns trigger
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
  elsif new.password_hash is distinct from old.password_hash
        and not pgauth._is_rehash(new.id, new.password_hash) then
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

create or replace function pgauth.login(
  p_username text, p_password text, p_client_ip inet default null, p_user_agent text default null
) returns table (
  user_id uuid, session_id uuid, access_token text, access_expires_at timestamptz,
  refresh_token text, refresh_expires_at timestamptz
)
  language plpgsql volatile security definer set search_path = pg_catalog, pgauth, pg_temp
  as $$
declare
  v_settings pgauth.settings := pgauth._settings();
  v_now timestamptz := pgauth.clock();
  v_user pgauth.users;
  v_ok boolean;
  v_reason text;
  v_new record;
  v_row pgauth.users;
  v_cost integer;
  v_stale boolean;
  v_rehash text;
begin
  -- Over-long input is refused before any hashing: it says nothing about any account.
  if p_username is null or p_password is null or char_length(p_username) > 256
     or char_length(p_password) > 1024 then
    perform pgauth._invalid('username and password are required, at most 256 and 1024 characters');
  end if;

  select * into v_user from pgauth.users u
  where lower(u.username) = lower(p_username) and u.deleted_at is null;

  if not found then
    perform pgauth._crypt(pgauth._prehash(p_password), pgauth._bf_salt(v_settings.bcrypt_cost));
    perform pgauth._audit('login_failure', null, null, p_client_ip, p_user_agent,
      jsonb_build_object('reason', 'unknown_user'));
    return;
  end if;

  v_ok := pgauth._verify_password(p_password, v_user.password_hash);
  v_cost := pgauth._bf_cost(v_user.password_hash);
  v_stale := coalesce(v_cost < v_settings.bcrypt_cost, true);

  if v_user.disabled_at is not null then
    v_reason := 'disabled';
  elsif v_user.locked_until > v_now then
    v_reason := 'locked';
  elsif not v_ok then
    v_reason := 'bad_password';
  end if;

  -- A failure on a hash cheaper than the setting costs, in all, one hash at the current cost;
  -- before the failure is counted, which locks the user row until commit.
  if v_reason is not null and v_stale then
    for c in greatest(coalesce(v_cost, v_settings.bcrypt_cost), 4) .. v_settings.bcrypt_cost - 1 loop
      perform pgauth._crypt(pgauth._prehash(p_password), pgauth._bf_salt(c));
    end loop;
    if v_cost is null then
      perform pgauth._crypt(pgauth._prehash(p_password), pgauth._bf_salt(v_settings.bcrypt_cost));
    end if;
  end if;
  if not v_ok then
    perform pgauth._count_failure(v_user.id, v_settings, p_client_ip, p_user_agent);
  end if;

  if v_reason is null then
    if v_stale then
      v_rehash := pgauth._hash_password(p_password, v_settings.bcrypt_cost);
      perform pg_catalog.set_config('pgauth.rehash', v_user.id::text || ':' || v_rehash, true);
    end if;
    -- Lock the row and re-check that nothing changed since it was read: a password change, lock
    -- or deletion committed meanwhile wins over this login. A concurrent login's upgrade is no
    -- change (password_changed_at stays): its hash is kept.
    update pgauth.users u
      set last_login_at = v_now, failed_logins = 0, lock_count = 0,
          password_hash = case when u.password_hash = v_user.password_hash
                               then coalesce(v_rehash, u.password_hash) else u.password_hash end
    where u.id = v_user.id
      and u.password_changed_at = v_user.password_changed_at
      and u.deleted_at is null and u.disabled_at is null
      and (u.locked_until is null or u.locked_until <= v_now)
    returning * into v_row;
    if found then
      if v_rehash is not null and v_row.password_hash is distinct from v_rehash then
        v_rehash := null;
      end if;
      v_user := v_row;
    else
      v_reason := 'changed_meanwhile';
    end if;
    perform pg_catalog.set_config('pgauth.rehash', '', true);
  end if;

  if v_reason is not null then
    perform pgauth._audit('login_failure', v_user.id, null, p_client_ip, p_user_agent,
      jsonb_build_object('reason', v_reason));
    return;
  end if;

  select * into v_new from pgauth._start_session(v_user, v_settings, p_client_ip, p_user_agent);
  perform pgauth._audit('login_success', v_user.id, v_new.session_id, p_client_ip, p_user_agent,
    case when v_rehash is null then '{}'::jsonb else '{"rehashed": true}'::jsonb end);
  return query select v_new.user_id, v_new.session_id, v_new.access_token, v_new.access_expires_at,
    v_new.refresh_token, v_new.refresh_expires_at;
end
$$;
