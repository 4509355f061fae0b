/** The shell: sign-in until signed in, then the navigation and the page the URL hash names. */
import { useEffect, useState } from 'preact/hooks';
import { type Me, onSignedOut, signOut } from './api.ts';
import { Activity } from './pages/Activity.tsx';
import { Audit } from './pages/Audit.tsx';
import { ServiceAccountDetail, ServiceAccounts } from './pages/ServiceAccounts.tsx';
import { Settings } from './pages/Settings.tsx';
import { SignIn } from './pages/SignIn.tsx';
import { UserDetail } from './pages/UserDetail.tsx';
import { Users } from './pages/Users.tsx';

function useHash(): string {
  const [hash, setHash] = useState(location.hash || '#/users');
  useEffect(() => {
    const update = () => setHash(location.hash || '#/users');
    addEventListener('hashchange', update);
    return () => removeEventListener('hashchange', update);
  }, []);
  return hash;
}

const PAGES = [
  { href: '#/users', label: 'Users' },
  { href: '#/service-accounts', label: 'Service accounts' },
  { href: '#/audit', label: 'Audit log' },
  { href: '#/activity', label: 'Activity' },
  { href: '#/settings', label: 'Settings' },
];

export function App() {
  const [me, setMe] = useState<Me | null>(null);
  const [notice, setNotice] = useState('');
  const hash = useHash();
  useEffect(
    () =>
      onSignedOut((reason) => {
        setMe(null);
        setNotice(reason);
      }),
    [],
  );
  // Each page names itself in the title; focus moves to its heading (main) on navigation.
  useEffect(() => {
    document.getElementById('main')?.focus();
  }, [hash, me]);

  if (!me) {
    return (
      <SignIn
        notice={notice}
        onSignedIn={(who) => {
          setNotice('');
          setMe(who);
        }}
      />
    );
  }
  const path = hash.slice(1);
  const userMatch = /^\/users\/([0-9a-f-]{36})$/.exec(path);
  const accountMatch = /^\/service-accounts\/([a-z][a-z0-9_.-]{0,62})$/.exec(path);
  let page = <Users />;
  if (userMatch?.[1]) page = <UserDetail id={userMatch[1]} />;
  else if (accountMatch?.[1]) page = <ServiceAccountDetail name={accountMatch[1]} />;
  else if (path === '/service-accounts') page = <ServiceAccounts />;
  else if (path === '/audit') page = <Audit />;
  else if (path === '/activity') page = <Activity />;
  else if (path === '/settings') page = <Settings />;
  const current = `#${path.split('/').slice(0, 2).join('/')}`;
  return (
    <>
      <a class="skip" href="#main">
        Skip to content
      </a>
      <header class="top">
        <span class="brand">pgauth console</span>
        <nav aria-label="Sections">
          <ul>
            {PAGES.map((p) => (
              <li key={p.href}>
                <a href={p.href} aria-current={current === p.href ? 'page' : undefined}>
                  {p.label}
                </a>
              </li>
            ))}
          </ul>
        </nav>
        <span class="who">
          Signed in as <strong>{me.username}</strong>
        </span>
        <button type="button" onClick={() => void signOut()}>
          Sign out
        </button>
      </header>
      <main id="main" tabIndex={-1}>
        {page}
      </main>
    </>
  );
}
