/**
 * JWT access tokens: the gateway signs them with the active key of pgauth.signing_keys
 * (signing-keys.ts makes and decrypts them). JOSE is `jose`.
 */
import type { KeyObject } from 'node:crypto';
import type { ClientGrant, ServiceOperations, SessionTokenClaims } from '@pgauth/client/internal';
import { SignJWT } from 'jose';
import type { AdminOperations } from '../operations.ts';
import { decryptPrivateKey, rotateSigningKey } from './signing-keys.ts';

export interface Signer {
  /** A JWT access token for a client-credentials grant, issued by `issuer`. */
  sign(grant: ClientGrant, issuer: string): Promise<string>;
  /**
   * A JWT access token for a user's session, standing for its current opaque access token (the
   * claims of pgauth.session_token_claims), issued by `issuer`.
   */
  signSession(claims: SessionTokenClaims, issuer: string): Promise<string>;
}

/** How long the signer trusts its copy of the active key before reading it again. */
const ACTIVE_KEY_MS = 30_000;

/**
 * Signs with the active key, read at most every 30 s (a rotation elsewhere is picked up within
 * that); creates the first key when there is none.
 */
export function createSigner(ops: ServiceOperations, admin: AdminOperations, kek: Buffer): Signer {
  let active: { kid: string; alg: string; key: KeyObject; at: number } | null = null;
  const current = async (): Promise<{ kid: string; alg: string; key: KeyObject }> => {
    if (active && Date.now() - active.at < ACTIVE_KEY_MS) return active;
    let row = await ops.activeSigningKey();
    if (!row) {
      await rotateSigningKey(admin, kek).catch(() => undefined);
      row = await ops.activeSigningKey();
      if (!row) throw new Error('no signing key could be created');
    }
    const key = decryptPrivateKey(kek, row.kid, row.private_key_encrypted);
    active = { kid: row.kid, alg: row.alg, key, at: Date.now() };
    return active;
  };
  /** A JWT access token of `payload` and the registered claims, signed with the active key. */
  const signed = async (
    payload: Record<string, unknown>,
    claims: { sub: string; jti: string; expiresAt: Date },
    issuer: string,
  ): Promise<string> => {
    const { kid, alg, key } = await current();
    return new SignJWT(payload)
      .setProtectedHeader({ alg, kid, typ: 'at+jwt' })
      .setIssuer(issuer)
      .setSubject(claims.sub)
      .setAudience(issuer)
      .setJti(claims.jti)
      .setIssuedAt()
      .setExpirationTime(Math.floor(claims.expiresAt.getTime() / 1000))
      .sign(key);
  };
  return {
    sign: (grant, issuer) =>
      signed(
        {
          client_id: grant.clientId,
          scope: grant.roles.join(' '),
          sid: grant.apiKeyId,
          subject_type: 'service_account',
        },
        { sub: grant.serviceAccountId, jti: grant.tokenId, expiresAt: grant.expiresAt },
        issuer,
      ),
    signSession: (claims, issuer) =>
      signed(
        {
          sid: claims.sessionId,
          scope: claims.roles.join(' '),
          roles: claims.roles,
          aal: claims.aal,
          subject_type: 'user',
        },
        { sub: claims.userId, jti: claims.jti, expiresAt: claims.expiresAt },
        issuer,
      ),
  };
}
