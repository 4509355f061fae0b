-- Why: fixes from the security review of issue 14, each in its own section below with the threat
-- it answers: purge_audit's cut-off, the refresh grace window's clock and stored salt, re-locking
-- after a lockout, password checks that a rollback could erase (and change_password hashing for
-- locked accounts), a validator role for services that only check tokens, and a much larger list
-- of common passwords with a rule for their decorated forms.

-- A group role for services that only check tokens (see "Roles" below). Created like 0001's.
do $$
begin
  if not exists (select 1 from pg_catalog.pg_roles where rolname = 'pgauth_validator') then
    begin
      create role pgauth_validator nologin;
    exception when duplicate_object or unique_violation then
      null; -- another database of this cluster created it at the same moment
    end;
  end if;
end
$$;
grant usage on schema pgauth to pgauth_validator;
grant pgauth_validator to pgauth_service;

set local role pgauth_owner;

-- ---------------------------------------------------------------------------------------------
-- Audit retention.
-- Threat model: an admin (or a script with a typo) purging more than it meant to. The old check
-- compared the interval with '1 day', and interval comparison counts a month as 30 days, so
-- '-1 month +31 days' passed as "one day" while now() minus it is about now: every row went.
-- The cut-off is now checked as a point in time, and no part of the interval may be negative.
-- ---------------------------------------------------------------------------------------------
create or replace function pgauth.purge_audit(p_older_than interval) returns integer
  language plpgsql volatile security definer set search_path = pg_catalog, pgauth, pg_temp
  as $$
declare
  v_now timestamptz := pgauth.clock();
  v_months integer;
  v_days integer;
  v_cutoff timestamptz;
  v_count integer;
begin
  if p_older_than is null or not pg_catalog.isfinite(p_older_than) then
    perform pgauth._invalid('the interval must be finite');
  end if;
  v_months := (extract(year from p_older_than) * 12 + extract(month from p_older_than))::integer;
  v_days := extract(day from p_older_than)::integer;
  if v_months < 0 or v_days < 0
     or p_older_than - pg_catalog.make_interval(months => v_months, days => v_days) < interval '0' then
    perform pgauth._invalid('no part of the interval may be negative');
  end if;
  v_cutoff := v_now - p_older_than;
  if v_cutoff > v_now - interval '1 day' then
    perform pgauth._invalid('audit rows are kept at least one day');
  end if;
  perform set_config('pgauth.purging_audit', 'on', true);
  delete from pgauth.audit_log a where a.at < v_cutoff;
  get diagnostics v_count = row_count;
  perform set_config('pgauth.purging_audit', 'off', true);
  perform pgauth._audit('audit_purged', null, null, null, null,
    jsonb_build_object('older_than', p_older_than::text, 'count', v_count));
  return v_count;
end
$$;
comment on function pgauth.purge_audit(interval) is
  'Admin: deletes audit rows older than an interval; the only way audit rows are ever deleted. Returns how many. BADIN when a part of the interval is negative or the cut-off (now minus the interval) is less than one day ago.';

-- ---------------------------------------------------------------------------------------------
-- Refresh: the clock of the grace window, and the salt that rebuilds a retried pair.
-- Threat model, the clock: refresh read pgauth.clock(), which is now(), the start of the
-- transaction. A transaction opened inside a rotation's grace window stayed "inside" it for as
-- long as it lasted: a rotated refresh token replayed from it minutes later still got the pair.
-- Refresh now reads the time of its statement, pgauth._statement_clock(), which keeps the test
-- offset of settings.clock_offset: clock() plus the time since the transaction began.
-- Threat model, the salt: the pair a retry gets is derived from the presented refresh token and
-- the random salt of the rotation, kept in the session row. Whoever can read the table and holds
-- the old token (a backup and a client's old storage, say) can derive the live pair for as long
-- as that salt is kept, and it is needed only during the window. So: the next rotation replaces
-- it; a refresh that meets it after the window (a reuse, which revokes) wipes it; and
-- purge_expired() wipes every salt whose window has passed, found through a partial index of the
-- rows that still hold one. Between the end of a window and the next of those, a salt is still
-- stored: schedule purge_expired() often (every minute costs one index range scan).
-- Building the index takes the sessions table's SHARE lock (writes wait, validations do not):
-- it gives up after 10 seconds rather than queue every login behind a long transaction.
-- ---------------------------------------------------------------------------------------------
set local lock_timeout = '10s';
create index sessions_rotation_salt_idx on pgauth.sessions (rotated_at)
  where rotation_salt is not null;

create function pgauth._statement_clock() returns timestamptz
  language sql stable parallel safe
  as 'select pgauth.clock() + (pg_catalog.statement_timestamp() - pg_catalog.now())';
comment on function pgauth._statement_clock() is
  'The start of the current statement, shifted like pgauth.clock() by settings.clock_offset.';
revoke all on function pgauth._statement_clock() from public;

create or replace function pgauth.refresh(
  p_refresh_token text, p_client_ip inet default null, p_user_agent text default null
) returns table (
  user_id uuid, session_id uuid, access_token text, access_expires_at timestamptz,
  refresh_token text, refresh_expires_at timestamptz
)
  language plpgsql volatile security definer set search_path = pg_catalog, pgauth, pg_temp
  as $$
declare
  v_settings pgauth.settings := pgauth._settings();
  v_now timestamptz := pgauth._statement_clock();
  v_hash bytea := pgauth._token_hash(p_refresh_token);
  v_session pgauth.sessions;
  v_generation integer;
  v_session_id uuid;
  v_salt bytea;
  v_access text;
  v_refresh text;
begin
  if v_hash is null then
    return;
  end if;

  select * into v_session from pgauth.sessions s where s.refresh_token_hash = v_hash for update;
  if found then
    if v_session.revoked_at is not null or v_session.refresh_expires_at <= v_now
       or v_session.expires_at <= v_now then
      return;
    end if;
    v_salt := pgauth._random_bytes(32);
    v_access := pgauth._derive_token('pga_', p_refresh_token, v_salt, 'access');
    v_refresh := pgauth._derive_token('pgr_', p_refresh_token, v_salt, 'refresh');
    insert into pgauth.rotated_refresh_tokens (token_hash, session_id, generation, rotated_at)
    values (v_hash, v_session.id, v_session.refresh_generation, v_now);
    update pgauth.sessions s set
      access_token_hash = pgauth._token_hash(v_access),
      access_expires_at = least(v_now + v_settings.access_token_ttl, s.expires_at),
      refresh_token_hash = pgauth._token_hash(v_refresh),
      refresh_expires_at = least(v_now + v_settings.refresh_token_ttl, s.expires_at),
      refresh_generation = s.refresh_generation + 1,
      rotated_at = v_now,
      rotation_salt = v_salt,
      client_ip = coalesce(p_client_ip, s.client_ip),
      user_agent = coalesce(left(p_user_agent, 512), s.user_agent)
    where s.id = v_session.id
    returning * into v_session;
    perform pgauth._audit('refresh', v_session.user_id, v_session.id, p_client_ip, p_user_agent,
      jsonb_build_object('generation', v_session.refresh_generation));
  else
    -- Not the current token: a rotated one, or nothing.
    select r.generation, r.session_id into v_generation, v_session_id
    from pgauth.rotated_refresh_tokens r where r.token_hash = v_hash;
    if not found then
      return;
    end if;
    select s.* into v_session from pgauth.sessions s where s.id = v_session_id for update;
    if v_session.revoked_at is not null then
      return;
    end if;
    if v_generation = v_session.refresh_generation - 1
       and v_session.rotation_salt is not null
       and v_session.rotated_at + v_settings.refresh_reuse_grace > v_now
       and v_session.refresh_expires_at > v_now and v_session.expires_at > v_now then
      v_access := pgauth._derive_token('pga_', p_refresh_token, v_session.rotation_salt, 'access');
      v_refresh := pgauth._derive_token('pgr_', p_refresh_token, v_session.rotation_salt, 'refresh');
    end if;
    if v_access is null or pgauth._token_hash(v_access) <> v_session.access_token_hash
       or pgauth._token_hash(v_refresh) <> v_session.refresh_token_hash then
      update pgauth.sessions s
        set revoked_at = v_now, revoked_reason = 'refresh_reuse', rotation_salt = null
      where s.id = v_session.id;
      perform pgauth._audit('refresh_reuse', v_session.user_id, v_session.id, p_client_ip,
        p_user_agent, jsonb_build_object('generation', v_generation,
          'current_generation', v_session.refresh_generation));
      return;
    end if;
    perform pgauth._audit('refresh', v_session.user_id, v_session.id, p_client_ip, p_user_agent,
      jsonb_build_object('generation', v_session.refresh_generation, 'grace_retry', true));
  end if;

  return query select v_session.user_id, v_session.id, v_access, v_session.access_expires_at,
    v_refresh, v_session.refresh_expires_at;
end
$$;
comment on function pgauth.refresh(text, inet, text) is
  'Rotates a refresh token: one row with a new access/refresh pair (the old pair stops working), or no row. The same token again within settings.refresh_reuse_grace of the rotation (measured at the time of the statement) returns the same new pair; after it, the session is revoked (audit refresh_reuse). Never extends past the session''s absolute expiry.';

-- ---------------------------------------------------------------------------------------------
-- Lockout: a new lock needs a full threshold of new failures.
-- Threat model: denial of service by anyone who knows a username. failed_logins was never reset
-- when a lock was set, so once the first lock had ended a single wrong password locked the account
-- again, for twice as long, up to lockout_max_seconds (24 h): one request every few minutes kept
-- the owner out. Now the k-th lock of a streak needs max_failed_logins × k failures since the
-- last success (the count goes on from where the previous lock left it), and an attempt while
-- the account is locked is refused without counting. Whoever wants to keep an account locked must
-- send a full threshold of wrong passwords after every lock ends (the gateway's per-IP throttle
-- bounds how many accounts one client can do that to). The length of a lock still doubles with
-- each lock of the streak. A success ends the streak: failed_logins and lock_count go back to 0.
--
-- Password checks that commit before they answer.
-- Threat model: password guessing by a database role that may log users in. pgauth.login and
-- pgauth.change_password are functions: whatever they write — the failure counter, the lock, the
-- audit row — belongs to the caller's transaction, which the caller may roll back after reading
-- the answer (BEGIN … ROLLBACK, a failing statement after the call in the same query string or
-- pipeline, a DO block with an exception handler). That gave unlimited guesses and no trace.
-- Nothing inside a function can tell whether its transaction will commit: an explicit BEGIN
-- assigns no transaction id, and statement_timestamp() differs from now() for every call over
-- the extended protocol. Only a procedure called on its own can COMMIT, and COMMIT is refused
-- (SQLSTATE 2D000) in every context that could still be rolled back. So a password check is two
-- steps, each a function:
--   1. login_attempt / change_password_attempt checks the password, writes its consequences on
--      the user row (failure counter, lock, reset on success) and records the outcome in
--      pgauth.password_attempts, and returns only a ticket (256 random bits, stored hashed). What
--      it writes has the same shape whatever the outcome — one UPDATE of the user row and one
--      INSERT — so that nothing the caller can see inside its transaction tells the outcome. It
--      must be the first write of its transaction (else BADIN), so that no other check, whose
--      own writes would show the lock this one set, can run after it before the commit.
--   2. login_answer / change_password_answer reads the outcome of a ticket whose transaction has
--      committed (pg_xact_status), at most once and within a minute, and then acts on it: a
--      session, a new password hash, the audit rows. Reading it rolled back changes nothing that
--      matters: the count and the lock are already committed.
-- The procedures login_durably and change_password_durably run both with a COMMIT after each,
-- and are what a front door calls (CALL, outside any transaction block). The functions login
-- and change_password do both steps in one transaction; they remain for admins (they can be
-- rolled back, and admins can set passwords anyway). Tickets whose answer was never read are
-- audited (login_failure, "unfinished": true) and deleted by purge_expired() after a minute.
-- ---------------------------------------------------------------------------------------------
create table pgauth.password_attempts (
  token_hash bytea not null constraint password_attempts_pkey primary key,
  kind text not null
    constraint password_attempts_kind_check check (kind in ('login', 'change_password')),
  user_id uuid
    constraint password_attempts_user_id_fkey references pgauth.users (id) on delete cascade,
  outcome text not null
    constraint password_attempts_outcome_check check (outcome in (
      'ok', 'unknown_user', 'bad_password', 'locked', 'disabled', 'changed_meanwhile')),
  failed_logins integer,
  lockout_seconds integer,
  password_changed_at timestamptz,
  xact xid8 not null,
  at timestamptz not null,
  client_ip inet,
  user_agent text
);
create index password_attempts_at_idx on pgauth.password_attempts (at);
comment on table pgauth.password_attempts is
  'Password checks whose outcome has not been read yet (step 1 of login_durably and change_password_durably). Only the SHA-256 of a ticket is stored, never a password.';

-- Takes the consequences of one password check on the user row and describes them as an attempt
-- (not stored here). The row is locked first and the decision taken on its current state, so
-- that concurrent checks of one user queue and none is lost. A user that is disabled or locked
-- at that moment is refused whatever p_ok says, and nothing is written: the outcome cannot depend
-- on the password there. Otherwise exactly one UPDATE, right or wrong.
create function pgauth._record_password_check(
  p_kind text, p_user_id uuid, p_checked_changed_at timestamptz, p_ok boolean,
  p_settings pgauth.settings, p_client_ip inet, p_user_agent text
) returns pgauth.password_attempts
  language plpgsql volatile security definer set search_path = pg_catalog, pgauth, pg_temp
  as $$
declare
  v_now timestamptz := pgauth.clock();
  v_user pgauth.users;
  v_attempt pgauth.password_attempts;
  v_failed integer;
  v_seconds integer;
begin
  v_attempt.kind := p_kind;
  v_attempt.user_id := p_user_id;
  v_attempt.at := v_now;
  v_attempt.client_ip := p_client_ip;
  v_attempt.user_agent := pg_catalog.left(p_user_agent, 512);
  select * into v_user from pgauth.users u where u.id = p_user_id for update;
  v_attempt.password_changed_at := v_user.password_changed_at;
  v_attempt.failed_logins := v_user.failed_logins;
  if v_user.id is null or v_user.deleted_at is not null then
    v_attempt.outcome := 'changed_meanwhile';
  elsif v_user.disabled_at is not null then
    v_attempt.outcome := 'disabled';
  elsif v_user.locked_until > v_now then
    v_attempt.outcome := 'locked';
  elsif p_ok and v_user.password_changed_at = p_checked_changed_at then
    update pgauth.users u set failed_logins = 0, lock_count = 0 where u.id = p_user_id;
    v_attempt.outcome := 'ok';
    v_attempt.failed_logins := 0;
  elsif p_ok then
    -- Right against a password that has been changed since it was read.
    v_attempt.outcome := 'changed_meanwhile';
  else
    v_failed := v_user.failed_logins + 1;
    if v_failed >= p_settings.max_failed_logins * (v_user.lock_count + 1) then
      v_seconds := least(
        p_settings.lockout_seconds::numeric * power(2::numeric, least(v_user.lock_count, 40)),
        p_settings.lockout_max_seconds::numeric)::integer;
      update pgauth.users u
        set failed_logins = v_failed, lock_count = u.lock_count + 1,
            locked_until = v_now + make_interval(secs => v_seconds),
            lock_reason = 'too_many_failures'
      where u.id = p_user_id;
      v_attempt.lockout_seconds := v_seconds;
    else
      update pgauth.users u set failed_logins = v_failed where u.id = p_user_id;
    end if;
    v_attempt.outcome := 'bad_password';
    v_attempt.failed_logins := v_failed;
  end if;
  return v_attempt;
end
$$;
revoke all on function pgauth._record_password_check(
  text, uuid, timestamptz, boolean, pgauth.settings, inet, text) from public;

-- Stores an attempt under a fresh ticket, which it returns. Refused unless nothing has been
-- written yet in this transaction (see the threat model above).
create function pgauth._store_attempt(p_attempt pgauth.password_attempts) returns text
  language plpgsql volatile security definer set search_path = pg_catalog, pgauth, pg_temp
  as $$
declare
  v_ticket text := pgauth._new_token('pgc_');
begin
  p_attempt.token_hash := pgauth._token_hash(v_ticket);
  p_attempt.xact := pg_catalog.pg_current_xact_id();
  insert into pgauth.password_attempts select p_attempt.*;
  return v_ticket;
end
$$;
revoke all on function pgauth._store_attempt(pgauth.password_attempts) from public;

create function pgauth._require_fresh_transaction() returns void
  language plpgsql volatile set search_path = pg_catalog, pg_temp
  as $$
begin
  if pg_catalog.pg_current_xact_id_if_assigned() is not null then
    perform pgauth._invalid('a password attempt must be the first write of its transaction');
  end if;
end
$$;
revoke all on function pgauth._require_fresh_transaction() from public;

-- The committed, fresh, unread attempt of a ticket, deleted as it is read (NULL fields if none).
create function pgauth._take_attempt(p_ticket text, p_kind text) returns pgauth.password_attempts
  language plpgsql volatile security definer set search_path = pg_catalog, pgauth, pg_temp
  as $$
declare
  v_attempt pgauth.password_attempts;
begin
  delete from pgauth.password_attempts a
  where a.token_hash = pgauth._token_hash(p_ticket) and a.kind = p_kind
    and a.at > pgauth.clock() - interval '1 minute'
    and pg_catalog.pg_xact_status(a.xact) = 'committed'
  returning * into v_attempt;
  return v_attempt;
end
$$;
revoke all on function pgauth._take_attempt(text, text) from public;

-- The audit rows of a failed attempt: the lock it set, then the failure with its true reason.
create function pgauth._audit_failed_attempt(p_attempt pgauth.password_attempts, p_extra jsonb)
  returns void
  language plpgsql volatile security definer set search_path = pg_catalog, pgauth, pg_temp
  as $$
begin
  if p_attempt.lockout_seconds is not null then
    perform pgauth._audit('lockout', p_attempt.user_id, null, p_attempt.client_ip,
      p_attempt.user_agent, jsonb_build_object(
        'failed_logins', p_attempt.failed_logins, 'seconds', p_attempt.lockout_seconds));
  end if;
  perform pgauth._audit('login_failure', p_attempt.user_id, null, p_attempt.client_ip,
    p_attempt.user_agent, jsonb_build_object('reason', p_attempt.outcome) || p_extra);
end
$$;
revoke all on function pgauth._audit_failed_attempt(pgauth.password_attempts, jsonb) from public;

-- ---- Login ------------------------------------------------------------------------------------

-- Step 1 of a login: the password checked, its consequences written, the outcome described.
-- Every kind of failure costs what 0004 and 0007 made it cost (one hash, also for an unknown user).
create function pgauth._login_verdict(
  p_username text, p_password text, p_client_ip inet, p_user_agent text
) returns pgauth.password_attempts
  language plpgsql volatile security definer set search_path = pg_catalog, pgauth, pg_temp
  as $$
declare
  v_settings pgauth.settings := pgauth._settings();
  v_user pgauth.users;
  v_attempt pgauth.password_attempts;
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
    v_attempt.kind := 'login';
    v_attempt.outcome := 'unknown_user';
    v_attempt.at := pgauth.clock();
    v_attempt.client_ip := p_client_ip;
    v_attempt.user_agent := left(p_user_agent, 512);
    return v_attempt;
  end if;
  -- Hashed whatever the account's state, so that a locked or disabled one takes as long.
  return pgauth._record_password_check('login', v_user.id, v_user.password_changed_at,
    pgauth._verify_password(p_password, v_user.password_hash), v_settings, p_client_ip,
    p_user_agent);
end
$$;
revoke all on function pgauth._login_verdict(text, text, inet, text) from public;

-- Step 2 of a login. A failure: on a hash cheaper than the setting, dummy hashes that bring its
-- cost to one hash at the current cost (0007), then its audit rows. A success: the session, and
-- the upgrade of a cheaper hash (0007), which re-verifies the password unless p_verified says the
-- caller just did (a ticket's answer may be asked for with any password).
create function pgauth._login_finish(
  p_attempt pgauth.password_attempts, p_password text, p_verified boolean
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
  v_row pgauth.users;
  v_cost integer;
  v_stale boolean;
  v_rehash text;
  v_new record;
begin
  if p_attempt.user_id is not null then
    select * into v_user from pgauth.users u where u.id = p_attempt.user_id;
    v_cost := pgauth._bf_cost(v_user.password_hash);
    v_stale := coalesce(v_cost < v_settings.bcrypt_cost, true);
  end if;

  if p_attempt.outcome <> 'ok' then
    if v_stale and p_password is not null then
      for c in greatest(coalesce(v_cost, v_settings.bcrypt_cost), 4) .. v_settings.bcrypt_cost - 1 loop
        perform pgauth._crypt(pgauth._prehash(p_password), pgauth._bf_salt(c));
      end loop;
      if v_cost is null then
        perform pgauth._crypt(pgauth._prehash(p_password), pgauth._bf_salt(v_settings.bcrypt_cost));
      end if;
    end if;
    perform pgauth._audit_failed_attempt(p_attempt, '{}');
    return;
  end if;

  if v_stale and p_password is not null
     and (p_verified or pgauth._verify_password(p_password, v_user.password_hash)) then
    v_rehash := pgauth._hash_password(p_password, v_settings.bcrypt_cost);
    perform pg_catalog.set_config('pgauth.rehash', v_user.id::text || ':' || v_rehash, true);
  end if;
  -- Re-check that nothing changed since the password was checked: a password change, lock or
  -- deletion committed meanwhile wins over this login. A concurrent login's upgrade is no
  -- change (password_changed_at stays): its hash is kept.
  update pgauth.users u
    set last_login_at = v_now,
        password_hash = case when u.password_hash = v_user.password_hash
                             then coalesce(v_rehash, u.password_hash) else u.password_hash end
  where u.id = p_attempt.user_id
    and u.password_changed_at = p_attempt.password_changed_at
    and u.deleted_at is null and u.disabled_at is null
    and (u.locked_until is null or u.locked_until <= v_now)
  returning * into v_row;
  perform pg_catalog.set_config('pgauth.rehash', '', true);
  if not found then
    p_attempt.outcome := 'changed_meanwhile';
    perform pgauth._audit_failed_attempt(p_attempt, '{}');
    return;
  end if;
  if v_rehash is not null and v_row.password_hash is distinct from v_rehash then
    v_rehash := null;
  end if;

  select * into v_new
  from pgauth._start_session(v_row, v_settings, p_attempt.client_ip, p_attempt.user_agent);
  perform pgauth._audit('login_success', v_row.id, v_new.session_id, p_attempt.client_ip,
    p_attempt.user_agent,
    case when v_rehash is null then '{}'::jsonb else '{"rehashed": true}'::jsonb end);
  return query select v_new.user_id, v_new.session_id, v_new.access_token, v_new.access_expires_at,
    v_new.refresh_token, v_new.refresh_expires_at;
end
$$;
revoke all on function pgauth._login_finish(pgauth.password_attempts, text, boolean) from public;

create function pgauth.login_attempt(
  p_username text, p_password text, p_client_ip inet default null, p_user_agent text default null
) returns text
  language plpgsql volatile security definer set search_path = pg_catalog, pgauth, pg_temp
  as $$
begin
  perform pgauth._require_fresh_transaction();
  return pgauth._store_attempt(
    pgauth._login_verdict(p_username, p_password, p_client_ip, p_user_agent));
end
$$;
comment on function pgauth.login_attempt(text, text, inet, text) is
  'Step 1 of login_durably: checks a password, counts a failure or locks, and returns a ticket whose outcome login_answer reveals once this transaction has committed. Must be the first write of its transaction (else BADIN); BADIN on missing or over-long input.';
revoke all on function pgauth.login_attempt(text, text, inet, text) from public;

create function pgauth.login_answer(p_attempt text, p_password text)
  returns table (
    user_id uuid, session_id uuid, access_token text, access_expires_at timestamptz,
    refresh_token text, refresh_expires_at timestamptz
  )
  language plpgsql volatile security definer set search_path = pg_catalog, pgauth, pg_temp
  as $$
declare
  v_attempt pgauth.password_attempts := pgauth._take_attempt(p_attempt, 'login');
begin
  if v_attempt.token_hash is null then
    return;
  end if;
  return query select * from pgauth._login_finish(v_attempt, p_password, false);
end
$$;
comment on function pgauth.login_answer(text, text) is
  'Step 2 of login_durably: for the ticket of a login_attempt whose transaction committed less than a minute ago, one row with a new session and token pair when the password was right, else no row (as pgauth.login). Each ticket answers once; p_password is the one given to login_attempt.';
revoke all on function pgauth.login_answer(text, text) from public;

create procedure pgauth.login_durably(
  p_username text, p_password text, p_client_ip inet default null, p_user_agent text default null,
  inout user_id uuid default null, inout session_id uuid default null,
  inout access_token text default null, inout access_expires_at timestamptz default null,
  inout refresh_token text default null, inout refresh_expires_at timestamptz default null
)
  language plpgsql
  as $$
declare
  v_attempt text;
begin
  v_attempt := pgauth.login_attempt(p_username, p_password, p_client_ip, p_user_agent);
  commit;
  select r.user_id, r.session_id, r.access_token, r.access_expires_at, r.refresh_token,
         r.refresh_expires_at
    into user_id, session_id, access_token, access_expires_at, refresh_token, refresh_expires_at
  from pgauth.login_answer(v_attempt, p_password) r;
  commit;
end
$$;
comment on procedure pgauth.login_durably(text, text, inet, text, uuid, uuid, text, timestamptz, text, timestamptz) is
  'The login of front doors: CALL pgauth.login_durably(username, password[, client_ip, user_agent]). One row: user id, session id and a fresh token pair, or all NULL on any failure. The check and its consequences (counter, lock, audit) are committed before the answer is returned, so no rollback can erase them: call it on its own, outside BEGIN … COMMIT (else SQLSTATE 2D000). BADIN on missing or over-long input.';
revoke all on procedure pgauth.login_durably(text, text, inet, text, uuid, uuid, text, timestamptz, text, timestamptz) from public;

create or replace function pgauth.login(
  p_username text, p_password text, p_client_ip inet default null, p_user_agent text default null
) returns table (
  user_id uuid, session_id uuid, access_token text, access_expires_at timestamptz,
  refresh_token text, refresh_expires_at timestamptz
)
  language plpgsql volatile security definer set search_path = pg_catalog, pgauth, pg_temp
  as $$
begin
  return query select * from pgauth._login_finish(
    pgauth._login_verdict(p_username, p_password, p_client_ip, p_user_agent), p_password, true);
end
$$;
comment on function pgauth.login(text, text, inet, text) is
  'Admin: checks a password and starts a session in the caller''s transaction: one row with the user id, session id and a fresh access/refresh token pair, or no row on any failure (unknown user, wrong password, locked, disabled). A rollback erases its failure count: front doors use login_durably. Raises BADIN only on missing or over-long input.';

-- ---- Change of password -------------------------------------------------------------------------

-- Step 1 of a change: the new password is checked against the policy first (WEAKP says nothing
-- about the current one); a locked or disabled account is refused before any hash is computed;
-- otherwise the current password is checked and counted like a login's.
create function pgauth._change_password_verdict(
  p_user_id uuid, p_current_password text, p_new_password text
) returns pgauth.password_attempts
  language plpgsql volatile security definer set search_path = pg_catalog, pgauth, pg_temp
  as $$
declare
  v_settings pgauth.settings := pgauth._settings();
  v_user pgauth.users := pgauth._user(p_user_id);
  v_attempt pgauth.password_attempts;
begin
  if p_current_password is null or char_length(p_current_password) > 1024 then
    perform pgauth._invalid('current password is required, at most 1024 characters');
  end if;
  perform pgauth._check_password(p_new_password, v_user.username, v_settings.password_min_length);
  if v_user.disabled_at is not null or v_user.locked_until > pgauth.clock() then
    v_attempt.kind := 'change_password';
    v_attempt.user_id := v_user.id;
    v_attempt.outcome := case when v_user.disabled_at is not null then 'disabled' else 'locked' end;
    v_attempt.failed_logins := v_user.failed_logins;
    v_attempt.password_changed_at := v_user.password_changed_at;
    v_attempt.at := pgauth.clock();
    return v_attempt;
  end if;
  return pgauth._record_password_check('change_password', v_user.id,
    v_user.password_changed_at, pgauth._verify_password(p_current_password, v_user.password_hash),
    v_settings, null, null);
end
$$;
revoke all on function pgauth._change_password_verdict(uuid, text, text) from public;

create function pgauth._change_password_finish(
  p_attempt pgauth.password_attempts, p_new_password text
) returns boolean
  language plpgsql volatile security definer set search_path = pg_catalog, pgauth, pg_temp
  as $$
declare
  v_settings pgauth.settings := pgauth._settings();
  v_user pgauth.users;
begin
  if p_attempt.outcome = 'ok' then
    v_user := pgauth._user(p_attempt.user_id);
    perform pgauth._check_password(p_new_password, v_user.username, v_settings.password_min_length);
    update pgauth.users u
      set password_hash = pgauth._hash_password(p_new_password, v_settings.bcrypt_cost),
          failed_logins = 0
    where u.id = v_user.id
      and u.password_changed_at = p_attempt.password_changed_at
      and u.disabled_at is null
      and (u.locked_until is null or u.locked_until <= pgauth.clock());
    if found then
      perform pgauth._audit('password_changed', v_user.id, null, null, null, '{"by": "user"}');
      return true;
    end if;
    p_attempt.outcome := 'changed_meanwhile';
  end if;
  perform pgauth._audit_failed_attempt(p_attempt, '{"via": "change_password"}');
  return false;
end
$$;
revoke all on function pgauth._change_password_finish(pgauth.password_attempts, text) from public;

create function pgauth.change_password_attempt(
  p_user_id uuid, p_current_password text, p_new_password text
) returns text
  language plpgsql volatile security definer set search_path = pg_catalog, pgauth, pg_temp
  as $$
begin
  perform pgauth._require_fresh_transaction();
  return pgauth._store_attempt(
    pgauth._change_password_verdict(p_user_id, p_current_password, p_new_password));
end
$$;
comment on function pgauth.change_password_attempt(uuid, text, text) is
  'Step 1 of change_password_durably: checks the new password against the policy (WEAKP), then the current one (counted like a login; a locked or disabled account is refused without hashing), and returns a ticket for change_password_answer. Must be the first write of its transaction (else BADIN). NOUSR, BADIN.';
revoke all on function pgauth.change_password_attempt(uuid, text, text) from public;

create function pgauth.change_password_answer(p_attempt text, p_new_password text)
  returns boolean
  language plpgsql volatile security definer set search_path = pg_catalog, pgauth, pg_temp
  as $$
declare
  v_attempt pgauth.password_attempts := pgauth._take_attempt(p_attempt, 'change_password');
begin
  if v_attempt.token_hash is null then
    return false;
  end if;
  return pgauth._change_password_finish(v_attempt, p_new_password);
end
$$;
comment on function pgauth.change_password_answer(text, text) is
  'Step 2 of change_password_durably: for the ticket of a change_password_attempt whose transaction committed less than a minute ago, sets the new password and returns true when the current one was right (every session of the user is revoked); false otherwise. Each ticket answers once. WEAKP.';
revoke all on function pgauth.change_password_answer(text, text) from public;

create procedure pgauth.change_password_durably(
  p_user_id uuid, p_current_password text, p_new_password text, inout changed boolean default null
)
  language plpgsql
  as $$
declare
  v_attempt text;
begin
  v_attempt := pgauth.change_password_attempt(p_user_id, p_current_password, p_new_password);
  commit;
  changed := pgauth.change_password_answer(v_attempt, p_new_password);
  commit;
end
$$;
comment on procedure pgauth.change_password_durably(uuid, text, text, boolean) is
  'The password change of front doors: CALL pgauth.change_password_durably(user_id, current, new). One row: changed, true when the current password was right and the new one is set (every session of the user is revoked), false when the current one is wrong (counted like a failed login) or the account is locked or disabled (refused before any hashing). The check is committed before the answer: call it outside BEGIN … COMMIT (else SQLSTATE 2D000). WEAKP when the new password is refused, NOUSR, BADIN.';
revoke all on procedure pgauth.change_password_durably(uuid, text, text, boolean) from public;

create or replace function pgauth.change_password(
  p_user_id uuid, p_current_password text, p_new_password text
) returns boolean
  language plpgsql volatile security definer set search_path = pg_catalog, pgauth, pg_temp
  as $$
begin
  return pgauth._change_password_finish(
    pgauth._change_password_verdict(p_user_id, p_current_password, p_new_password),
    p_new_password);
end
$$;
comment on function pgauth.change_password(uuid, text, text) is
  'Admin: changes a password given the current one, in the caller''s transaction. False when the current password is wrong (counted like a failed login) or the account is locked or disabled (refused before any hashing); WEAKP when the new one is refused. On success every session of the user is revoked. A rollback erases its failure count: front doors use change_password_durably.';

-- 0004's helper is replaced by _record_password_check.
drop function pgauth._count_failure(uuid, pgauth.settings, inet, text);

-- ---------------------------------------------------------------------------------------------
-- Housekeeping: purge_expired() also wipes the rotation salts whose grace window has passed
-- (see "Refresh" above), and audits then deletes the password attempts whose answer nobody read
-- within a minute (a front door that died between the two steps, or a caller that read the
-- answer in a transaction it rolled back). It still returns the number of sessions deleted.
-- ---------------------------------------------------------------------------------------------
create or replace function pgauth.purge_expired() returns integer
  language plpgsql volatile security definer set search_path = pg_catalog, pgauth, pg_temp
  as $$
declare
  v_settings pgauth.settings := pgauth._settings();
  v_now timestamptz := pgauth.clock();
  v_cutoff timestamptz := v_now - v_settings.session_retention;
  v_count integer;
  v_attempt pgauth.password_attempts;
begin
  delete from pgauth.sessions s
  where least(s.expires_at, s.revoked_at, greatest(s.refresh_expires_at, s.access_expires_at))
        < v_cutoff;
  get diagnostics v_count = row_count;
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
  return v_count;
end
$$;
comment on function pgauth.purge_expired() is
  'Admin: deletes sessions that ended (expired or revoked) longer than settings.session_retention ago, wipes the refresh rotation salts whose grace window has passed, and audits (login_failure, "unfinished") and deletes password attempts whose answer was not read within a minute; returns how many sessions it deleted. Safe at any time; schedule it every minute or so.';

-- ---------------------------------------------------------------------------------------------
-- Roles.
-- Threat model: a compromised or buggy service. Most services only check tokens; with
-- pgauth_service they could also log users in, register accounts and try passwords. They now get
-- pgauth_validator: validate, validate_many and clock, which read and never write.
-- pgauth_service is a member of pgauth_validator and adds what a front door (the gateway, a
-- service with its own login form) needs: register, login_durably and change_password_durably
-- (with their two steps), refresh, logout, revoke_token. It loses the functions login and
-- change_password, whose failure count a rollback erases (above); admins keep them.
-- ---------------------------------------------------------------------------------------------
revoke execute on function
  pgauth.validate(text),
  pgauth.validate_many(text[]),
  pgauth.clock(),
  pgauth.login(text, text, inet, text),
  pgauth.change_password(uuid, text, text)
from pgauth_service;

grant execute on function
  pgauth.validate(text),
  pgauth.validate_many(text[]),
  pgauth.clock()
to pgauth_validator;

grant execute on function
  pgauth.login_attempt(text, text, inet, text),
  pgauth.login_answer(text, text),
  pgauth.change_password_attempt(uuid, text, text),
  pgauth.change_password_answer(text, text)
to pgauth_service, pgauth_admin;
grant execute on procedure
  pgauth.login_durably(text, text, inet, text, uuid, uuid, text, timestamptz, text, timestamptz),
  pgauth.change_password_durably(uuid, text, text, boolean)
to pgauth_service, pgauth_admin;
