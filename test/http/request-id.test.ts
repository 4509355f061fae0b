/**
 * X-Request-Id: the client's id is echoed and put in every log line of the request, so only a
 * bounded, plain one is taken; anything else gets a fresh id and never reaches a log line.
 */
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { call, rawExchange, startApp, type TestApp } from './helpers.ts';

let a: TestApp;
before(async () => {
  a = await startApp();
});
after(() => a.close());

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/;

/** One request written byte for byte, so that the header may hold what fetch would refuse. */
function rawGet(url: string, headerLine: Buffer): Promise<string> {
  return rawExchange(
    url,
    Buffer.concat([
      Buffer.from('GET /healthz HTTP/1.1\r\nHost: x\r\n'),
      headerLine,
      Buffer.from('\r\nConnection: close\r\n\r\n'),
    ]),
  );
}

test('an X-Request-Id of up to 128 plain characters is kept and logged', async () => {
  for (const id of [
    'trace-me-42',
    '4bf92f3577b34da6a3ce929d0e0e4736',
    '00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01',
    'Root=1-5759e988-bd862e3fe1be46a994272793',
    'x'.repeat(128),
  ]) {
    const r = await call(a, 'GET', '/healthz', { headers: { 'x-request-id': id } });
    assert.equal(r.headers.get('x-request-id'), id);
    assert.ok(a.logs.join('').includes(`"reqId":"${id}"`), id);
  }
});

test('any other X-Request-Id (too long, spaces, quotes, control or non-ASCII bytes) is replaced by a fresh id and never logged', async () => {
  const bad = [
    'x'.repeat(129),
    'y'.repeat(4000),
    'two words',
    '","level":60,"msg":"forged',
    '<script>alert(1)</script>',
    '',
  ];
  for (const id of bad) {
    const r = await call(a, 'GET', '/healthz', { headers: { 'x-request-id': id } });
    assert.equal(r.status, 200);
    assert.match(r.headers.get('x-request-id') ?? '', UUID, JSON.stringify(id));
  }
  for (const line of [
    Buffer.from('X-Request-Id: caf\xe9-latin1', 'latin1'),
    Buffer.from('X-Request-Id: esc\x1b[31mred', 'latin1'),
  ]) {
    const text = await rawGet(a.url, line);
    if (!text.startsWith('HTTP/1.1 200')) {
      // Node's parser refused the header itself: nothing of it was logged either.
      assert.match(text, /^HTTP\/1\.1 400/);
      continue;
    }
    const id = /\r\nx-request-id: ([^\r]*)\r\n/i.exec(text)?.[1] ?? '';
    assert.match(id, UUID, line.toString('latin1'));
  }
  const logs = a.logs.join('');
  // Markers with a letter outside hex: a logged UUID or token hash can hold "caf" by chance.
  for (const id of ['x'.repeat(129), 'two words', 'forged', 'alert(1)', 'latin1', 'esc']) {
    assert.equal(logs.includes(id), false, `a log line holds ${id.slice(0, 20)}`);
  }
});
