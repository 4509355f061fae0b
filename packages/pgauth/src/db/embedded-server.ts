import { readFile, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';

/**
 * While `pgauth serve` holds an embedded data folder, no other process may open it (PGlite is a
 * single process). The server exposes the database over the PostgreSQL wire protocol on a local
 * port and records that port in this file inside the folder; every other pgauth process that is
 * given the same folder connects there instead of opening the files.
 */
const FILE = 'pgauth-server.json';

export interface EmbeddedServerInfo {
  pid: number;
  host: string;
  port: number;
}

export async function writeServerInfo(dataDir: string, info: EmbeddedServerInfo): Promise<void> {
  await writeFile(join(dataDir, FILE), `${JSON.stringify(info)}\n`, { mode: 0o600 });
}

export async function removeServerInfo(dataDir: string): Promise<void> {
  await rm(join(dataDir, FILE), { force: true });
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/** The running server holding `dataDir`, or null when none does (a stale file is ignored). */
export async function readLiveServerInfo(dataDir: string): Promise<EmbeddedServerInfo | null> {
  let text: string;
  try {
    text = await readFile(join(dataDir, FILE), 'utf8');
  } catch {
    return null;
  }
  try {
    const info = JSON.parse(text) as EmbeddedServerInfo;
    if (typeof info.port !== 'number' || typeof info.pid !== 'number') return null;
    return info.pid !== process.pid && alive(info.pid) ? info : null;
  } catch {
    return null;
  }
}

/** The URL of the wire-protocol endpoint of an embedded server. */
export function embeddedUrl(info: EmbeddedServerInfo): string {
  return `postgres://postgres@${info.host}:${info.port}/postgres?sslmode=disable`;
}
