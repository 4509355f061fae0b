/**
 * The sign-in form: username and password, then, for an account with a second factor, an
 * authentication code from the app or one of the recovery codes.
 */
import { useEffect, useRef, useState } from 'preact/hooks';
import { finishSignIn, isApiError, type Me, type MfaChallenge, signIn } from '../api.ts';
import { useForm } from './common.ts';
import { Field } from './components.tsx';

export function SignIn(props: { notice: string; onSignedIn: (me: Me) => void }) {
  const { form, field, set } = useForm({ username: '', password: '' });
  const [challenge, setChallenge] = useState<MfaChallenge | null>(null);
  const [code, setCode] = useState('');
  const [useRecovery, setUseRecovery] = useState(false);
  const [error, setError] = useState('');
  const [busy, setBusy] = useState(false);
  const codeField = useRef<HTMLInputElement>(null);
  // The code field takes focus when it appears and when the kind of code changes.
  useEffect(() => {
    if (challenge) codeField.current?.focus();
  }, [challenge, useRecovery]);

  const attempt = async (step: () => Promise<Me | MfaChallenge>) => {
    setBusy(true);
    setError('');
    try {
      const answer = await step();
      set('password', '');
      if ('mfa_required' in answer) {
        setChallenge(answer);
        return;
      }
      setCode('');
      setChallenge(null);
      props.onSignedIn(answer);
    } catch (err) {
      setError(isApiError(err) ? err.message : 'Sign-in failed.');
    } finally {
      setBusy(false);
    }
  };
  const submit = (event: Event) => {
    event.preventDefault();
    void attempt(() => signIn(form.username, form.password));
  };
  const submitCode = (event: Event) => {
    event.preventDefault();
    if (!challenge) return;
    const value = code.trim();
    void attempt(() =>
      finishSignIn(challenge.challenge, useRecovery ? { recovery_code: value } : { code: value }),
    );
  };
  const startAgain = () => {
    setChallenge(null);
    setCode('');
    setUseRecovery(false);
    setError('');
  };
  const errorText = error && (
    <p id="signin-error" class="error" role="alert">
      {error}
    </p>
  );

  return (
    <main id="main" class="signin" tabIndex={-1}>
      <h1>pgauth console</h1>
      {props.notice && <p class="notice">{props.notice}</p>}
      {challenge ? (
        <form onSubmit={submitCode} aria-describedby={error ? 'signin-error' : 'code-hint'}>
          <p id="code-hint">
            {useRecovery
              ? 'Enter one of your recovery codes. Each works once.'
              : 'Enter the 6-digit code from your authenticator app.'}
          </p>
          <label for="mfa-code">{useRecovery ? 'Recovery code' : 'Authentication code'}</label>
          {/* A new field for each kind of code: no pattern or length is carried over. */}
          <input
            key={useRecovery ? 'recovery' : 'code'}
            ref={codeField}
            id="mfa-code"
            name={useRecovery ? 'recovery_code' : 'code'}
            autocomplete={useRecovery ? 'off' : 'one-time-code'}
            inputMode={useRecovery ? 'text' : 'numeric'}
            pattern={useRecovery ? undefined : '[0-9]{6}'}
            maxLength={useRecovery ? 64 : 6}
            required
            value={code}
            onInput={(e) => setCode(e.currentTarget.value)}
          />
          {errorText}
          <button type="submit" disabled={busy}>
            Verify
          </button>
          <button
            type="button"
            onClick={() => {
              setUseRecovery(!useRecovery);
              setCode('');
              setError('');
            }}
          >
            {useRecovery ? 'Use an authentication code' : 'Use a recovery code'}
          </button>
          <button type="button" onClick={startAgain}>
            Start again
          </button>
        </form>
      ) : (
        <form onSubmit={submit} aria-describedby={error ? 'signin-error' : undefined}>
          <Field
            label="Username"
            {...field('username')}
            name="username"
            autocomplete="username"
            required
          />
          <Field
            label="Password"
            {...field('password')}
            name="password"
            type="password"
            autocomplete="current-password"
            required
          />
          {errorText}
          <button type="submit" disabled={busy}>
            Sign in
          </button>
        </form>
      )}
    </main>
  );
}
