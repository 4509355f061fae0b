/**
 * Service accounts (machine identities): the list and a form to create one; one account's API
 * keys, a form to create one (the key is shown once, in the answer that creates it), revoking a
 * key, and disabling the account.
 */

import { useEffect, useState } from 'preact/hooks';
import type { ApiKeyRow, ServiceAccountRow } from '../../../src/rows.ts';
import { api } from '../api.ts';
import { Confirmed, commaList, messageOf, Status, usePageTitle, utc, when } from './common.tsx';

type ServiceAccount = ServiceAccountRow;
type ApiKey = ApiKeyRow;

const BASE = '/v1/admin/service-accounts';

function useAccounts(reload: number) {
  const [accounts, setAccounts] = useState<ServiceAccount[] | null>(null);
  const [status, setStatus] = useState({ text: '', error: false });
  useEffect(() => {
    let live = true;
    api.get<{ service_accounts: ServiceAccount[] }>(BASE).then(
      (r) => live && setAccounts(r.service_accounts),
      (err) => live && setStatus({ text: messageOf(err), error: true }),
    );
    return () => {
      live = false;
    };
  }, [reload]);
  return { accounts, status, setStatus };
}

export function ServiceAccounts() {
  usePageTitle('Service accounts');
  const [reload, setReload] = useState(0);
  const { accounts, status } = useAccounts(reload);
  const [form, setForm] = useState({ name: '', roles: '' });
  const [created, setCreated] = useState({ text: '', error: false });
  const create = async (event: Event) => {
    event.preventDefault();
    try {
      await api.post(BASE, { name: form.name.trim(), roles: commaList(form.roles) });
      setCreated({ text: `Service account ${form.name.trim()} created.`, error: false });
      setForm({ name: '', roles: '' });
      setReload((n) => n + 1);
    } catch (err) {
      setCreated({ text: messageOf(err), error: true });
    }
  };
  return (
    <>
      <h1>Service accounts</h1>
      <Status {...status} />
      {accounts && accounts.length === 0 && <p>No service accounts.</p>}
      {accounts && accounts.length > 0 && (
        <table>
          <caption class="visually-hidden">Service accounts</caption>
          <thead>
            <tr>
              <th scope="col">Name</th>
              <th scope="col">Roles</th>
              <th scope="col">Created</th>
              <th scope="col">State</th>
              <th scope="col">Live API keys</th>
            </tr>
          </thead>
          <tbody>
            {accounts.map((s) => (
              <tr key={s.id}>
                <td>
                  <a href={`#/service-accounts/${s.name}`}>{s.name}</a>
                </td>
                <td>{s.roles.join(', ') || '—'}</td>
                <td>{when(s.created_at)}</td>
                <td>{s.disabled_at ? `disabled ${when(s.disabled_at)}` : 'active'}</td>
                <td>{s.live_api_keys}</td>
              </tr>
            ))}
          </tbody>
        </table>
      )}
      <section aria-labelledby="create-service-account">
        <h2 id="create-service-account">Create a service account</h2>
        <form class="grid" onSubmit={create}>
          <label for="sa-name">Account name</label>
          <input
            id="sa-name"
            required
            autocomplete="off"
            pattern="[a-z][a-z0-9_.\-]*"
            maxLength={63}
            aria-describedby="sa-name-hint"
            value={form.name}
            onInput={(e) => setForm({ ...form, name: e.currentTarget.value })}
          />
          <p id="sa-name-hint" class="hint">
            Lower-case letters, digits, _ . and -, starting with a letter.
          </p>
          <label for="sa-roles">Roles (comma-separated)</label>
          <input
            id="sa-roles"
            autocomplete="off"
            value={form.roles}
            onInput={(e) => setForm({ ...form, roles: e.currentTarget.value })}
          />
          <button type="submit">Create service account</button>
        </form>
        <Status {...created} />
      </section>
    </>
  );
}

export function ServiceAccountDetail(props: { name: string }) {
  usePageTitle(`Service account ${props.name}`);
  const [reload, setReload] = useState(0);
  const { accounts, status: listStatus } = useAccounts(reload);
  const account = accounts?.find((s) => s.name === props.name);
  const [keys, setKeys] = useState<ApiKey[]>([]);
  const [status, setStatus] = useState({ text: '', error: false });
  const [form, setForm] = useState({ name: '', expires: '' });
  const [newKey, setNewKey] = useState<{ name: string; key: string } | null>(null);
  const base = `${BASE}/${encodeURIComponent(props.name)}`;

  useEffect(() => {
    let live = true;
    api.get<{ api_keys: ApiKey[] }>(`${base}/api-keys`).then(
      (r) => live && setKeys(r.api_keys),
      (err) => live && setStatus({ text: messageOf(err), error: true }),
    );
    return () => {
      live = false;
    };
  }, [base, reload]);

  const act = async (done: string, call: () => Promise<unknown>) => {
    try {
      await call();
      setStatus({ text: done, error: false });
      setReload((n) => n + 1);
    } catch (err) {
      setStatus({ text: messageOf(err), error: true });
    }
  };
  const createKey = (event: Event) => {
    event.preventDefault();
    const name = form.name.trim();
    const expires = utc(form.expires);
    void act(`API key ${name} created.`, async () => {
      const r = await api.post<{ id: string; key: string }>(`${base}/api-keys`, {
        name,
        ...(expires ? { expires_at: expires } : {}),
      });
      setNewKey({ name, key: r.key });
      setForm({ name: '', expires: '' });
    });
  };

  return (
    <>
      <p>
        <a href="#/service-accounts">Back to service accounts</a>
      </p>
      <h1>Service account {props.name}</h1>
      <Status {...listStatus} />
      {account && (
        <dl class="facts">
          <dt>Roles</dt>
          <dd>{account.roles.join(', ') || '—'}</dd>
          <dt>Created</dt>
          <dd>{when(account.created_at)}</dd>
          <dt>State</dt>
          <dd>{account.disabled_at ? `disabled ${when(account.disabled_at)}` : 'active'}</dd>
        </dl>
      )}
      <Status {...status} />
      {account && !account.disabled_at && (
        <div class="actions">
          <Confirmed
            label="Disable service account"
            confirm={`Confirm: disable ${props.name}`}
            keep="Keep service account"
            onConfirm={() =>
              act('Service account disabled: its keys and tokens no longer validate.', () =>
                api.post(`${base}/disable`),
              )
            }
          />
        </div>
      )}

      {newKey && (
        <section aria-labelledby="new-key" class="notice">
          <h2 id="new-key">New API key</h2>
          <p id="new-key-hint">Copy it now, it is not shown again: pgauth keeps only its hash.</p>
          <label for="new-key-value">API key {newKey.name}</label>
          <input
            id="new-key-value"
            readOnly
            class="secret"
            aria-describedby="new-key-hint"
            value={newKey.key}
            onFocus={(e) => e.currentTarget.select()}
          />
          <button type="button" onClick={() => setNewKey(null)}>
            I have copied it
          </button>
        </section>
      )}

      <section aria-labelledby="api-keys">
        <h2 id="api-keys">API keys</h2>
        {keys.length === 0 ? (
          <p>No API keys.</p>
        ) : (
          <table>
            <caption class="visually-hidden">API keys of {props.name}</caption>
            <thead>
              <tr>
                <th scope="col">Name</th>
                <th scope="col">Created</th>
                <th scope="col">Expires</th>
                <th scope="col">Last used</th>
                <th scope="col">State</th>
                <th scope="col">Action</th>
              </tr>
            </thead>
            <tbody>
              {keys.map((k) => (
                <tr key={k.id} data-key={k.id}>
                  <td>{k.name}</td>
                  <td>{when(k.created_at)}</td>
                  <td>{k.expires_at ? when(k.expires_at) : 'never'}</td>
                  <td>{when(k.last_used_at)}</td>
                  <td>{k.revoked_at ? `revoked ${when(k.revoked_at)}` : 'live'}</td>
                  <td>
                    {!k.revoked_at && (
                      <button
                        type="button"
                        aria-label={`Revoke API key ${k.name}`}
                        onClick={() =>
                          act(`API key ${k.name} revoked.`, () =>
                            api.delete(`/v1/admin/api-keys/${k.id}`),
                          )
                        }
                      >
                        Revoke
                      </button>
                    )}
                  </td>
                </tr>
              ))}
            </tbody>
          </table>
        )}
        {account && !account.disabled_at && (
          <form class="grid" onSubmit={createKey}>
            <label for="key-name">Key name</label>
            <input
              id="key-name"
              required
              maxLength={64}
              autocomplete="off"
              value={form.name}
              onInput={(e) => setForm({ ...form, name: e.currentTarget.value })}
            />
            <label for="key-expires">Expires (UTC, optional)</label>
            <input
              id="key-expires"
              type="datetime-local"
              value={form.expires}
              onInput={(e) => setForm({ ...form, expires: e.currentTarget.value })}
            />
            <button type="submit">Create API key</button>
          </form>
        )}
      </section>
    </>
  );
}
