/**
 * The JWT signing keys of pgauth.signing_keys: made here, their private part stored only
 * encrypted (AES-256-GCM from node:crypto, under the key-encryption key given to the gateway with
 * --key-encryption-key; the key id is the additional data, so a ciphertext cannot be moved to
 * another key's row). Apart from the signer (signing.ts), so that the CLI (`pgauth keys rotate`,
 * the settings) has them without loading JOSE.
 *
 * Threat model: whoever reads the database (a backup, a replica, a DBA) gets public keys and
 * ciphertexts; signing needs the key-encryption key too, which never reaches the database, a log
 * line or an error message.
 */
import {
  createCipheriv,
  createDecipheriv,
  createPrivateKey,
  generateKeyPairSync,
  type KeyObject,
  randomBytes,
} from 'node:crypto';
import type { AdminOperations } from '../operations.ts';

export type SigningAlg = 'EdDSA' | 'ES256' | 'RS256';
export const SIGNING_ALGS: readonly SigningAlg[] = ['EdDSA', 'ES256', 'RS256'];
/** The algorithm of the first key and of `pgauth keys rotate` without --alg. */
export const DEFAULT_ALG: SigningAlg = 'ES256';

/**
 * The key-encryption key: 32 bytes as 64 hex digits or base64/base64url (43 or 44 characters).
 * Throws with a message that never repeats the value.
 */
export function parseKeyEncryptionKey(value: string): Buffer {
  const v = value.trim();
  let key: Buffer | null = null;
  if (/^[0-9a-fA-F]{64}$/.test(v)) key = Buffer.from(v, 'hex');
  else if (/^[A-Za-z0-9+/_-]{43}=?$/.test(v)) key = Buffer.from(v, 'base64url');
  if (key?.length !== 32) {
    throw new Error(
      'the key-encryption key must be 32 random bytes, as 64 hex digits or base64 (e.g. openssl rand -base64 32)',
    );
  }
  return key;
}

/** v1.<iv>.<ciphertext>.<tag>, base64url: the PKCS#8 DER of a private key under AES-256-GCM. */
export function encryptPrivateKey(kek: Buffer, kid: string, key: KeyObject): string {
  const iv = randomBytes(12);
  const cipher = createCipheriv('aes-256-gcm', kek, iv);
  cipher.setAAD(Buffer.from(kid, 'utf8'));
  const der = key.export({ format: 'der', type: 'pkcs8' });
  const body = Buffer.concat([cipher.update(der), cipher.final()]);
  return ['v1', iv, body, cipher.getAuthTag()]
    .map((p) => (typeof p === 'string' ? p : p.toString('base64url')))
    .join('.');
}

/** The private key of encryptPrivateKey; throws when the key-encryption key is not the one used. */
export function decryptPrivateKey(kek: Buffer, kid: string, text: string): KeyObject {
  const [version, iv, body, tag] = text.split('.');
  if (version !== 'v1' || !iv || !body || !tag)
    throw new Error(`signing key ${kid}: unknown format`);
  const decipher = createDecipheriv('aes-256-gcm', kek, Buffer.from(iv, 'base64url'));
  decipher.setAAD(Buffer.from(kid, 'utf8'));
  decipher.setAuthTag(Buffer.from(tag, 'base64url'));
  let der: Buffer;
  try {
    der = Buffer.concat([decipher.update(Buffer.from(body, 'base64url')), decipher.final()]);
  } catch {
    throw new Error(
      `signing key ${kid} does not decrypt: the key-encryption key is not the one it was stored under`,
    );
  }
  return createPrivateKey({ key: der, format: 'der', type: 'pkcs8' });
}

export interface NewSigningKey {
  kid: string;
  alg: SigningAlg;
  publicJwk: Record<string, unknown>;
  privateKeyEncrypted: string;
}

/** A fresh key pair of `alg`, its private part encrypted, ready for pgauth.add_signing_key. */
export function newSigningKey(kek: Buffer, alg: SigningAlg = DEFAULT_ALG): NewSigningKey {
  const pair =
    alg === 'EdDSA'
      ? generateKeyPairSync('ed25519')
      : alg === 'ES256'
        ? generateKeyPairSync('ec', { namedCurve: 'P-256' })
        : generateKeyPairSync('rsa', { modulusLength: 2048 });
  const kid = randomBytes(12).toString('base64url');
  const jwk = pair.publicKey.export({ format: 'jwk' }) as Record<string, unknown>;
  return {
    kid,
    alg,
    publicJwk: { ...jwk, kid, alg, use: 'sig' },
    privateKeyEncrypted: encryptPrivateKey(kek, kid, pair.privateKey),
  };
}

/** Generates a key and makes it the one that signs; the previous one stays published. */
export async function rotateSigningKey(
  admin: AdminOperations,
  kek: Buffer,
  alg: SigningAlg = DEFAULT_ALG,
): Promise<NewSigningKey> {
  const key = newSigningKey(kek, alg);
  await admin.addSigningKey(key);
  return key;
}
