#!/usr/bin/env node
// The README's first command, as a new user runs it: `npm start` on a clean checkout must bring
// the gateway up on the embedded database until GET /readyz answers 200, then stop cleanly on
// SIGTERM. Uses a temporary data folder and a free port; fails after 120 s.
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

const dataDir = mkdtempSync(join(tmpdir(), 'pgauth-start-'));
const child = spawn('npm', ['start', '--silent'], {
  env: { ...process.env, PORT: '0', PGAUTH_DATA_DIR: dataDir },
  stdio: ['ignore', 'pipe', 'inherit'],
  detached: true,
});
let output = '';
const deadline = Date.now() + 120_000;

function finish(code, message) {
  console.log(message);
  try {
    process.kill(-child.pid, 'SIGTERM');
  } catch {}
  rmSync(dataDir, { recursive: true, force: true });
  process.exit(code);
}

child.stdout.on('data', (chunk) => {
  output += chunk;
});
child.on('exit', (code) => finish(1, `npm start exited early (${code}):\n${output}`));

for (;;) {
  if (Date.now() > deadline) finish(1, `no /readyz 200 within 120 s:\n${output}`);
  const url = /listening on (http:\/\/\S+)/.exec(output)?.[1];
  if (url) {
    const res = await fetch(`${url}/readyz`).catch(() => null);
    if (res?.status === 200) {
      child.removeAllListeners('exit');
      process.kill(-child.pid, 'SIGTERM');
      // npm passes the signal on to the server and may itself end by it: either way is clean.
      const [code, signal] = await new Promise((resolve) =>
        child.on('exit', (c, s) => resolve([c, s])),
      );
      rmSync(dataDir, { recursive: true, force: true });
      console.log(`npm start: ${url}/readyz answered 200; stopped (exit ${code ?? signal})`);
      process.exit(code === 0 || signal === 'SIGTERM' ? 0 : 1);
    }
  }
  await new Promise((r) => setTimeout(r, 500));
}
