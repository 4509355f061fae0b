/**
 * One user: lock, unlock, delete, reset the second factor, roles, and the live sessions, which follow the revocation
 * stream: a session revoked anywhere (another console, the CLI, SQL) leaves the table without a
 * reload.
 */

import { useEffect, useState } from 'preact/hooks';
import type { SessionRow } from '../../../src/rows.ts';
import { api, watchRevocations } from '../api.ts';
import { isLocked, messageOf, type User, useActions, usePageTitle, when } from './common.ts';
import { Confirmed, Field, Status, Table } from './components.tsx';

export function UserDetail(props: { id: string }) {
  const [user, setUser] = useState<User | null>(null);
  const [sessions, setSessions] = useState<SessionRow[]>([]);
  const { status, setStatus, act, version, reload } = useActions();
  const [role, setRole] = useState('');
  usePageTitle(user ? `User ${user.username}` : 'User');
  const base = `/v1/admin/users/${props.id}`;

  useEffect(() => {
    let live = true;
    Promise.all([
      api.get<User>(base),
      api.get<{ sessions: SessionRow[] }>(`${base}/sessions`),
    ]).then(
      ([u, s]) => {
        if (!live) return;
        setUser(u);
        setSessions(s.sessions);
      },
      (err) => live && setStatus({ text: messageOf(err), error: true }),
    );
    return () => {
      live = false;
    };
  }, [base, version]);

  // Every revocation event (and each time the stream opens) reads the sessions again.
  useEffect(() => watchRevocations(reload), []);

  if (!user) {
    return (
      <>
        <h1>User</h1>
        <Status {...status} />
      </>
    );
  }
  const locked = isLocked(user);
  return (
    <>
      <p>
        <a href="#/users">Back to users</a>
      </p>
      <h1>User {user.username}</h1>
      <dl class="facts">
        <dt>Email</dt>
        <dd>{user.email ?? '—'}</dd>
        <dt>Created</dt>
        <dd>{when(user.created_at)}</dd>
        <dt>Last login</dt>
        <dd>{when(user.last_login_at)}</dd>
        <dt>Failed logins</dt>
        <dd>{user.failed_logins}</dd>
        <dt>State</dt>
        <dd>
          {locked
            ? `locked ${when(user.locked_until)}${user.lock_reason ? ` (${user.lock_reason})` : ''}`
            : 'active'}
        </dd>
      </dl>
      <Status {...status} />
      <div class="actions">
        {locked ? (
          <button
            type="button"
            onClick={() => act('User unlocked.', () => api.post(`${base}/unlock`))}
          >
            Unlock user
          </button>
        ) : (
          <button
            type="button"
            onClick={() =>
              act('User locked: every session of theirs is revoked.', () =>
                api.post(`${base}/lock`, { reason: 'locked in the console' }),
              )
            }
          >
            Lock user
          </button>
        )}
        <Confirmed
          label="Reset second factor"
          confirm={`Confirm: reset second factor of ${user.username}`}
          keep="Keep second factor"
          onConfirm={() =>
            act(
              'Second factor reset: TOTP and recovery codes removed; the password alone signs in.',
              () => api.delete(`${base}/mfa`),
            )
          }
        />
        <Confirmed
          label="Delete user"
          confirm={`Confirm: delete ${user.username}`}
          keep="Keep user"
          onConfirm={() =>
            act('User deleted.', async () => {
              await api.delete(base);
              location.hash = '#/users';
            })
          }
        />
      </div>

      <section aria-labelledby="roles">
        <h2 id="roles">Roles</h2>
        {user.roles.length === 0 ? (
          <p>No roles.</p>
        ) : (
          <ul class="roles">
            {user.roles.map((r) => (
              <li key={r}>
                {r}{' '}
                <button
                  type="button"
                  aria-label={`Revoke role ${r}`}
                  onClick={() =>
                    act(`Role ${r} revoked.`, () =>
                      api.delete(`${base}/roles/${encodeURIComponent(r)}`),
                    )
                  }
                >
                  Revoke
                </button>
              </li>
            ))}
          </ul>
        )}
        <form
          class="inline"
          onSubmit={(e) => {
            e.preventDefault();
            const name = role.trim();
            if (!name) return;
            void act(`Role ${name} granted.`, async () => {
              await api.post(`${base}/roles/${encodeURIComponent(name)}`);
              setRole('');
            });
          }}
        >
          <Field
            label="Role to grant"
            id="grant-role"
            value={role}
            onInput={(e) => setRole(e.currentTarget.value)}
          />
          <button type="submit">Grant role</button>
        </form>
      </section>

      <section aria-labelledby="sessions">
        <h2 id="sessions">Live sessions</h2>
        <p aria-live="polite">
          {sessions.length === 0 ? 'No live sessions.' : `${sessions.length} live sessions.`}
        </p>
        {sessions.length > 0 && (
          <>
            <Table
              caption={`Live sessions of ${user.username}`}
              columns={['Session', 'Started', 'Ends', 'Client IP', 'User agent', 'Action']}
            >
              {sessions.map((s) => (
                <tr key={s.id} data-session={s.id}>
                  <td>
                    <code>{s.id.slice(0, 8)}</code>
                  </td>
                  <td>{when(s.created_at)}</td>
                  <td>{when(s.expires_at)}</td>
                  <td>{s.client_ip ?? '—'}</td>
                  <td>{s.user_agent ?? '—'}</td>
                  <td>
                    <button
                      type="button"
                      aria-label={`Revoke session ${s.id.slice(0, 8)}`}
                      onClick={() =>
                        act('Session revoked.', () => api.delete(`/v1/admin/sessions/${s.id}`))
                      }
                    >
                      Revoke
                    </button>
                  </td>
                </tr>
              ))}
            </Table>
            <button
              type="button"
              class="danger"
              onClick={() => act('Every session revoked.', () => api.delete(`${base}/sessions`))}
            >
              Revoke all sessions
            </button>
          </>
        )}
      </section>
    </>
  );
}
