/** Temporary folders that a test owns: removed when that test ends, whatever its outcome. */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { TestContext } from 'node:test';

/** A new empty folder under the system's temporary folder, removed after the test `t`. */
export async function tempFolder(t: TestContext, prefix: string): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), `${prefix}-`));
  t.after(() => rm(dir, { recursive: true, force: true }));
  return dir;
}
