/**
 * Service accounts (machine identities): the list and a form to create one; one account's API
 * keys, a form to create one (the key is shown once, in the answer that creates it), revoking a
 * key, and disabling the account.
 */

import { useEffect, useState } from 'preact/hooks';
import type { ApiKeyRow, ServiceAccountRow } from '../../../src/rows.ts';
import { api } from '../api.ts';
import { commaList, messageOf, useActions, useForm, usePageTitle, utc, when } from './common.ts';
import { Confirmed, Field, Status, Table } from './components.tsx';

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
  const { status: created, act, version } = useActions();
  const { accounts, status } = useAccounts(version);
  const { form, field, reset } = useForm({ name: '', roles: '' }, 'sa');
  const create = (event: Event) => {
    event.preventDefault();
    const name = form.name.trim();
    void act(`Service account ${name} created.`, async () => {
      await api.post(BASE, { name, roles: commaList(form.roles) });
      reset();
    });
  };
  return (
    <>
      <h1>Service accounts</h1>
      <Status {...status} />
      {accounts && accounts.length === 0 && <p>No service accounts.</p>}
      {accounts && accounts.length > 0 && (
        <Table
          caption="Service accounts"
          columns={['Name', 'Roles', 'Created', 'State', 'Live API keys']}
        >
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
        </Table>
      )}
      <section aria-labelledby="create-service-account">
        <h2 id="create-service-account">Create a service account</h2>
        <form class="grid" onSubmit={create}>
          <Field
            label="Account name"
            {...field('name')}
            required
            autocomplete="off"
            pattern="[a-z][a-z0-9_.\-]*"
            maxLength={63}
            aria-describedby="sa-name-hint"
          />
          <p id="sa-name-hint" class="hint">
            Lower-case letters, digits, _ . and -, starting with a letter.
          </p>
          <Field label="Roles (comma-separated)" {...field('roles')} autocomplete="off" />
          <button type="submit">Create service account</button>
        </form>
        <Status {...created} />
      </section>
    </>
  );
}

export function ServiceAccountDetail(props: { name: string }) {
  usePageTitle(`Service account ${props.name}`);
  const { status, setStatus, act, version } = useActions();
  const { accounts, status: listStatus } = useAccounts(version);
  const account = accounts?.find((s) => s.name === props.name);
  const [keys, setKeys] = useState<ApiKey[]>([]);
  const { form, field, reset } = useForm({ name: '', expires: '' }, 'key');
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
  }, [base, version]);

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
      reset();
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
          <Field
            label={`API key ${newKey.name}`}
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
          <Table
            caption={`API keys of ${props.name}`}
            columns={['Name', 'Created', 'Expires', 'Last used', 'State', 'Action']}
          >
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
          </Table>
        )}
        {account && !account.disabled_at && (
          <form class="grid" onSubmit={createKey}>
            <Field label="Key name" {...field('name')} required maxLength={64} autocomplete="off" />
            <Field label="Expires (UTC, optional)" {...field('expires')} type="datetime-local" />
            <button type="submit">Create API key</button>
          </form>
        )}
      </section>
    </>
  );
}
