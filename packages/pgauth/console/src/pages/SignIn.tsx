/** The sign-in form. The second factor is not asked here yet. */
import { useState } from 'preact/hooks';
import { isApiError, type Me, signIn } from '../api.ts';

export function SignIn(props: { notice: string; onSignedIn: (me: Me) => void }) {
  const [username, setUsername] = useState('');
  const [password, setPassword] = useState('');
  const [error, setError] = useState('');
  const [busy, setBusy] = useState(false);
  const submit = async (event: Event) => {
    event.preventDefault();
    setBusy(true);
    setError('');
    try {
      const me = await signIn(username, password);
      setPassword('');
      props.onSignedIn(me);
    } catch (err) {
      setError(isApiError(err) ? err.message : 'Sign-in failed.');
    } finally {
      setBusy(false);
    }
  };
  return (
    <main id="main" class="signin" tabIndex={-1}>
      <h1>pgauth console</h1>
      {props.notice && <p class="notice">{props.notice}</p>}
      <form onSubmit={submit} aria-describedby={error ? 'signin-error' : undefined}>
        <label for="username">Username</label>
        <input
          id="username"
          name="username"
          autocomplete="username"
          required
          value={username}
          onInput={(e) => setUsername(e.currentTarget.value)}
        />
        <label for="password">Password</label>
        <input
          id="password"
          name="password"
          type="password"
          autocomplete="current-password"
          required
          value={password}
          onInput={(e) => setPassword(e.currentTarget.value)}
        />
        {error && (
          <p id="signin-error" class="error" role="alert">
            {error}
          </p>
        )}
        <button type="submit" disabled={busy}>
          Sign in
        </button>
      </form>
    </main>
  );
}
