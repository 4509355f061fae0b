-- pgauth 0005: validate_many, the batched form of the hot path.
--
-- A gateway or SDK under load has many validations waiting at once; sending them in one call
-- saves a round trip, a parse and a plan per token. Same answer per token as pgauth.validate,
-- which each element goes through: a batch can never disagree with a single call.

set local role pgauth_owner;

create function pgauth.validate_many(p_access_tokens text[])
  returns table (
    ord integer, user_id uuid, session_id uuid, username text, roles text[], expires_at timestamptz
  )
  language plpgsql stable security definer set search_path = pg_catalog, pgauth, pg_temp
  as $$
begin
  if pg_catalog.cardinality(p_access_tokens) > 1000 then
    raise exception using errcode = 'BADIN', message = 'invalid_input',
      detail = 'At most 1000 tokens a call.';
  end if;
  return query
    select t.ord::integer, v.user_id, v.session_id, v.username, v.roles, v.expires_at
    from pg_catalog.unnest(p_access_tokens) with ordinality as t(token, ord)
    cross join lateral pgauth.validate(t.token) as v;
end
$$;
comment on function pgauth.validate_many(text[]) is
  'The hot path in batches: for each valid access token of the array, one row with its 1-based position (ord) and what pgauth.validate returns; no row for the others. At most 1000 tokens. Never writes.';
revoke all on function pgauth.validate_many(text[]) from public;
grant execute on function pgauth.validate_many(text[]) to pgauth_service, pgauth_admin;
