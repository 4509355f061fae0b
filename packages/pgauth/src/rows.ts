/**
 * The rows pgauth's SQL functions answer, as the gateway sends them and the CLI prints them. Types
 * only, with no import: the admin console (a browser bundle) reads them from here too, so that the
 * server and the console cannot describe one row two ways.
 */

/** A user as pgauth.list_users and pgauth.get_user return it. */
export interface UserRow {
  id: string;
  username: string;
  email: string | null;
  roles: string[];
  created_at: string;
  last_login_at: string | null;
  failed_logins: number;
  locked_until: string | null;
  lock_reason: string | null;
  disabled_at: string | null;
  live_sessions: number;
  /** Whether locked_until is still ahead of pgauth.clock(). */
  locked: boolean;
}

/** A live session as pgauth.list_sessions returns it. */
export interface SessionRow {
  id: string;
  created_at: string;
  access_expires_at: string;
  refresh_expires_at: string;
  expires_at: string;
  refresh_generation: number;
  client_ip: string | null;
  user_agent: string | null;
}

/** An audit event as pgauth.audit_events returns it. */
export interface AuditRow {
  at: string;
  event: string;
  user_id: string | null;
  session_id: string | null;
  client_ip: string | null;
  detail: Record<string, unknown>;
}

/** A service account as pgauth.list_service_accounts returns it. */
export interface ServiceAccountRow {
  id: string;
  name: string;
  roles: string[];
  access_token_format: 'opaque' | 'jwt' | null;
  created_at: string;
  disabled_at: string | null;
  live_api_keys: number;
}

/** An API key as pgauth.list_api_keys returns it (never the key itself). */
export interface ApiKeyRow {
  id: string;
  name: string;
  created_at: string;
  expires_at: string | null;
  last_used_at: string | null;
  revoked_at: string | null;
}

/** A new API key: the only time the key is seen. */
export interface NewApiKey {
  id: string;
  key: string;
}

/** Login outcomes in one minute (pgauth.login_stats). */
export interface LoginMinute {
  minute: string;
  logins: number;
  failures: number;
  lockouts: number;
}
