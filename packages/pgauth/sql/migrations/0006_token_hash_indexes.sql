-- pgauth 0006: the token-hash lookups go through hash indexes.
--
-- Validation finds a session by the SHA-256 of its access token, and refresh by the SHA-256 of
-- its refresh token: equality on uniformly distributed 32-byte keys, never a range. A B-tree
-- answers that by descending three or four levels of 32-byte keys; a hash index reads one bucket
-- page, and stores a 4-byte hash code per row instead of the key, so it is about half the size.
-- With ten million sessions the B-trees no longer fit in shared buffers and every validation
-- reads more pages than it needs to (docs/benchmarks.md, scenario scale).
--
-- A hash index cannot be UNIQUE, so uniqueness moves to an exclusion constraint with the same
-- name, which PostgreSQL enforces through the hash index itself. A duplicate is as impossible as
-- before (256 random bits) and as refused: SQLSTATE 23P01 instead of 23505.
--
-- Rebuilding takes the sessions table's ACCESS EXCLUSIVE lock for the length of two index builds
-- (about a minute per ten million sessions here): validations wait during that time, so run it
-- in a quiet moment. While it waits for that lock, every query on sessions queues behind it: it
-- gives up after 10 seconds (lock_timeout) rather than stop all validations behind a long
-- transaction; the migration then fails as a whole and can simply be run again.

set local role pgauth_owner;
set local lock_timeout = '10s';

drop index pgauth.sessions_access_token_hash_key;
alter table pgauth.sessions
  add constraint sessions_access_token_hash_key exclude using hash (access_token_hash with =);

drop index pgauth.sessions_refresh_token_hash_key;
alter table pgauth.sessions
  add constraint sessions_refresh_token_hash_key exclude using hash (refresh_token_hash with =);
