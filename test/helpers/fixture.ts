/**
 * A resource one test file shares between its tests (a database, an app, a CLI target): opened
 * by one before() hook, closed by one after() hook. On Node 20 the root before() hooks of a file
 * are not run one after the other, so each fixture does its whole setup in its one hook.
 */
import assert from 'node:assert/strict';
import { after, before } from 'node:test';

/**
 * Opens the resource with `open` before the file's first test and closes it with `close` after
 * its last. The object returned stands for the resource at once: reading any of its members
 * (inside a test or a hook) reads the resource's own.
 */
export function useFileFixture<T extends object>(
  what: string,
  open: () => Promise<T>,
  close: (resource: T) => Promise<void>,
): T {
  let resource: T | undefined;
  before(async () => {
    resource = await open();
  });
  after(async () => {
    if (resource) await close(resource);
  });
  const current = (): T => {
    assert.ok(resource, `${what} is opened by a before() hook`);
    return resource;
  };
  return new Proxy({} as T, {
    get(_, key) {
      const value = Reflect.get(current(), key);
      return typeof value === 'function' ? value.bind(current()) : value;
    },
    has: (_, key) => Reflect.has(current(), key),
    ownKeys: () => Reflect.ownKeys(current()),
    getOwnPropertyDescriptor: (_, key) => {
      const d = Reflect.getOwnPropertyDescriptor(current(), key);
      return d && { ...d, configurable: true };
    },
  });
}
