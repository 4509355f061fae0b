/** Users: search by the start of a username or email, keyset pages, and a form to create one. */
import { useEffect, useState } from 'preact/hooks';
import { api } from '../api.ts';
import { commaList, isLocked, messageOf, type User, useForm, usePageTitle } from './common.ts';
import { Field, Status, Table } from './components.tsx';
import { Pager, useKeysetPages } from './paging.tsx';

const PAGE = 25;

interface UserPage {
  users: User[];
  next: string | null;
}

export function Users() {
  usePageTitle('Users');
  const [query, setQuery] = useState('');
  const [submitted, setSubmitted] = useState('');
  const pages = useKeysetPages();
  const [page, setPage] = useState<UserPage | null>(null);
  const [status, setStatus] = useState({ text: '', error: false });
  const [reload, setReload] = useState(0);

  useEffect(() => {
    let live = true;
    const params = new URLSearchParams({ q: submitted, limit: String(PAGE) });
    if (pages.cursor) params.set('after', pages.cursor);
    api.get<UserPage>(`/v1/admin/users?${params}`).then(
      (p) => {
        if (!live) return;
        setPage(p);
        setStatus({
          text: p.users.length ? `${p.users.length} users shown.` : 'No user matches.',
          error: false,
        });
      },
      (err) => live && setStatus({ text: messageOf(err), error: true }),
    );
    return () => {
      live = false;
    };
  }, [submitted, pages.cursor, reload]);

  const search = (event: Event) => {
    event.preventDefault();
    pages.reset();
    setSubmitted(query.trim());
  };

  return (
    <>
      <h1>Users</h1>
      <form class="inline" onSubmit={search}>
        <Field
          label="Search users"
          id="user-search"
          type="search"
          placeholder="start of a username, or of an email"
          value={query}
          onInput={(e) => setQuery(e.currentTarget.value)}
        />
        <button type="submit">Search</button>
      </form>
      <Status {...status} />
      {page && page.users.length > 0 && (
        <Table caption="Users" columns={['Username', 'Email', 'Roles', 'State', 'Live sessions']}>
          {page.users.map((u) => (
            <tr key={u.id}>
              <td>
                <a href={`#/users/${u.id}`}>{u.username}</a>
              </td>
              <td>{u.email ?? '—'}</td>
              <td>{u.roles.join(', ') || '—'}</td>
              <td>{isLocked(u) ? 'locked' : 'active'}</td>
              <td>{u.live_sessions}</td>
            </tr>
          ))}
        </Table>
      )}
      <Pager label="User pages" pages={pages} next={page?.next} />
      <CreateUser onCreated={() => setReload((n) => n + 1)} />
    </>
  );
}

function CreateUser(props: { onCreated: () => void }) {
  const { form, field, reset } = useForm(
    { username: '', email: '', password: '', roles: '' },
    'new',
  );
  const [status, setStatus] = useState({ text: '', error: false });
  const submit = async (event: Event) => {
    event.preventDefault();
    try {
      const roles = commaList(form.roles);
      await api.post('/v1/admin/users', {
        username: form.username,
        password: form.password,
        ...(form.email ? { email: form.email } : {}),
        roles,
      });
      setStatus({ text: `User ${form.username} created.`, error: false });
      reset();
      props.onCreated();
    } catch (err) {
      setStatus({ text: messageOf(err), error: true });
    }
  };
  return (
    <section aria-labelledby="create-user">
      <h2 id="create-user">Create a user</h2>
      <form class="grid" onSubmit={submit}>
        <Field label="New username" {...field('username')} required autocomplete="off" />
        <Field label="Email (optional)" {...field('email')} type="email" autocomplete="off" />
        <Field
          label="Initial password"
          {...field('password')}
          type="password"
          required
          autocomplete="new-password"
        />
        <Field label="Roles (comma-separated)" {...field('roles')} autocomplete="off" />
        <button type="submit">Create user</button>
      </form>
      <Status {...status} />
    </section>
  );
}
