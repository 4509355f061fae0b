/** The audit log: filters (event, user, time range) and keyset pages, newest first. */

import { useEffect, useState } from 'preact/hooks';
import type { AuditRow } from '../../../src/rows.ts';
import { api } from '../api.ts';
import { messageOf, type User, useForm, usePageTitle, utc, when } from './common.ts';
import { Field, Status, Table } from './components.tsx';
import { Pager, useKeysetPages } from './paging.tsx';

const PAGE = 50;

const EVENTS = [
  'login_success',
  'login_failure',
  'lockout',
  'logout',
  'refresh',
  'refresh_reuse',
  'register',
  'password_changed',
  'role_granted',
  'role_revoked',
  'sessions_revoked',
  'user_created',
  'user_deleted',
  'user_locked',
  'user_unlocked',
  'settings_changed',
  'audit_purged',
];

type AuditEvent = AuditRow & { id: number };

type Filters = { event: string; username: string; since: string; until: string };

async function query(filters: Filters, after: string): Promise<URLSearchParams> {
  const params = new URLSearchParams({ limit: String(PAGE) });
  if (filters.event) params.set('event', filters.event);
  const since = utc(filters.since);
  const until = utc(filters.until);
  if (since) params.set('since', since);
  if (until) params.set('until', until);
  if (filters.username) {
    // The API filters by user id: the exact username is looked up first.
    const found = await api.get<{ users: User[] }>(
      `/v1/admin/users?${new URLSearchParams({ q: filters.username, limit: '1' })}`,
    );
    const user = found.users.find(
      (u) => u.username.toLowerCase() === filters.username.toLowerCase(),
    );
    if (!user) throw { status: 404, error: 'user_not_found', message: 'No such user.' };
    params.set('user_id', user.id);
  }
  if (after) params.set('after', after);
  return params;
}

export function Audit() {
  usePageTitle('Audit log');
  const empty: Filters = { event: '', username: '', since: '', until: '' };
  const { form: draft, field } = useForm(empty, 'audit');
  const [filters, setFilters] = useState<Filters>(empty);
  const pages = useKeysetPages();
  const [events, setEvents] = useState<AuditEvent[]>([]);
  const [next, setNext] = useState<string | null>(null);
  const [status, setStatus] = useState({ text: '', error: false });

  useEffect(() => {
    let live = true;
    query(filters, pages.cursor)
      .then((params) =>
        api.get<{ events: AuditEvent[]; next: string | null }>(`/v1/admin/audit?${params}`),
      )
      .then(
        (page) => {
          if (!live) return;
          setEvents(page.events);
          setNext(page.next);
          setStatus({
            text: page.events.length ? `${page.events.length} events shown.` : 'No events.',
            error: false,
          });
        },
        (err) => {
          if (!live) return;
          setEvents([]);
          setNext(null);
          setStatus({ text: messageOf(err), error: true });
        },
      );
    return () => {
      live = false;
    };
  }, [filters, pages.cursor]);

  return (
    <>
      <h1>Audit log</h1>
      <form
        class="filters"
        onSubmit={(e) => {
          e.preventDefault();
          pages.reset();
          setFilters({ ...draft, username: draft.username.trim() });
        }}
      >
        <label for="audit-event">Event</label>
        <select {...field('event')}>
          <option value="">any</option>
          {EVENTS.map((e) => (
            <option key={e} value={e}>
              {e}
            </option>
          ))}
        </select>
        <Field label="Username" {...field('username')} />
        <Field label="From (UTC)" {...field('since')} type="datetime-local" />
        <Field label="To (UTC)" {...field('until')} type="datetime-local" />
        <button type="submit">Apply filters</button>
      </form>
      <Status {...status} />
      {events.length > 0 && (
        <Table
          caption="Audit events, newest first"
          columns={['Time', 'Event', 'User', 'Client IP', 'Detail']}
        >
          {events.map((e) => (
            <tr key={e.id}>
              <td>{when(e.at)}</td>
              <td>{e.event}</td>
              <td>
                {e.user_id ? <a href={`#/users/${e.user_id}`}>{e.user_id.slice(0, 8)}</a> : '—'}
              </td>
              <td>{e.client_ip ?? '—'}</td>
              <td>
                <code>{JSON.stringify(e.detail)}</code>
              </td>
            </tr>
          ))}
        </Table>
      )}
      <Pager label="Audit pages" pages={pages} next={next} />
    </>
  );
}
