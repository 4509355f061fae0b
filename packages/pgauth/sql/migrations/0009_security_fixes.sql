-- Why: fixes from the security review of issue 14, each in its own section below with the threat
-- it answers: purge_audit's cut-off, the refresh grace window's clock and stored salt, re-locking
-- after a lockout, password checks that a rollback could erase (and change_password hashing for
-- locked accounts), a validator role for services that only check tokens, and a much larger list
-- of common passwords with a rule for their decorated forms.

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
