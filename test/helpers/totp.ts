/**
 * TOTP codes computed in the test process (RFC 6238 with node:crypto), independently of the SQL
 * that verifies them, and the RFC 4648 base32 decoding of the secrets pgauth hands out.
 */
import { createHmac } from 'node:crypto';

const ALPHABET = 'ABCDEFGHIJKLMNOPQRSTUVWXYZ234567';

export function base32Decode(text: string): Buffer {
  let buffer = 0;
  let bits = 0;
  const out: number[] = [];
  for (const ch of text.replace(/=+$/, '').toUpperCase()) {
    const v = ALPHABET.indexOf(ch);
    if (v < 0) throw new Error(`not base32: ${ch}`);
    buffer = (buffer << 5) | v;
    bits += 5;
    if (bits >= 8) {
      bits -= 8;
      out.push((buffer >> bits) & 0xff);
    }
  }
  return Buffer.from(out);
}

/** The time step of a moment: Unix seconds / 30. */
export function stepAt(ms: number = Date.now()): number {
  return Math.floor(ms / 30_000);
}

/** The 6-digit code of `step` for a base32 secret. */
export function totpCode(secret: string, step: number = stepAt()): string {
  const msg = Buffer.alloc(8);
  msg.writeBigUInt64BE(BigInt(step));
  const mac = createHmac('sha1', base32Decode(secret)).update(msg).digest();
  const off = (mac[mac.length - 1] as number) & 15;
  const bin = mac.readUInt32BE(off) & 0x7fffffff;
  return String(bin % 1_000_000).padStart(6, '0');
}
