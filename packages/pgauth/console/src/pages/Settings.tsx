/**
 * The policy settings: each field checked here against the range the database keeps (the
 * browser says which is wrong before anything is sent), and again by the gateway and the
 * database, whose message is shown when it refuses.
 */
import { useEffect, useState } from 'preact/hooks';
import { api } from '../api.ts';
import { messageOf, usePageTitle } from './common.ts';
import { Field, Status } from './components.tsx';

type SettingsRow = Record<string, number | boolean | string>;

interface NumberSetting {
  name: string;
  label: string;
  min: number;
  max: number;
}

/** The largest int4: the only bound of a setting that has no narrower one. */
const INT4_MAX = 2_147_483_647;

/** The number settings: name, label, and the range the database keeps each in. */
const FIELDS: NumberSetting[] = (
  [
    ['password_min_length', 'Minimum password length', 8, 1024],
    ['bcrypt_cost', 'bcrypt cost', 4, 16],
    ['max_failed_logins', 'Failed logins before a lockout', 1, 100],
    ['lockout_seconds', 'First lockout (seconds)', 1, INT4_MAX],
    ['lockout_max_seconds', 'Longest lockout (seconds)', 1, INT4_MAX],
    ['access_token_ttl_seconds', 'Access token lifetime (seconds)', 1, INT4_MAX],
    ['refresh_token_ttl_seconds', 'Refresh token lifetime (seconds)', 1, INT4_MAX],
    ['session_max_age_seconds', 'Longest session (seconds)', 1, INT4_MAX],
    ['refresh_reuse_grace_seconds', 'Refresh retry grace (seconds)', 0, 300],
    ['session_retention_seconds', 'Ended sessions kept (seconds)', 0, INT4_MAX],
    ['email_verification_ttl_seconds', 'Email verification link lifetime (seconds)', 1, INT4_MAX],
    ['password_reset_ttl_seconds', 'Password reset link lifetime (seconds)', 60, 86_400],
    ['password_reset_per_address', 'Password reset requests per address', 1, INT4_MAX],
    ['password_reset_per_ip', 'Password reset requests per network', 1, INT4_MAX],
    ['mfa_challenge_ttl_seconds', 'Second-factor challenge lifetime (seconds)', 30, 1800],
    ['mail_max_attempts', 'Mail delivery attempts', 1, 100],
    ['service_token_ttl_seconds', 'Service access token lifetime (seconds)', 1, 86_400],
  ] as const
).map(([name, label, min, max]) => ({ name, label, min, max }));

/** The switches: each a checkbox. */
const SWITCHES = [
  { name: 'allow_registration', label: 'Open registration' },
  { name: 'require_verified_email', label: 'Require a verified email to sign in' },
];

/** The first thing wrong with the form, or ''. */
function problem(values: Record<string, string>): string {
  for (const f of FIELDS) {
    const text = values[f.name] ?? '';
    const n = Number(text);
    if (text.trim() === '' || !Number.isInteger(n) || n < f.min || n > f.max) {
      return `${f.label} must be a whole number from ${f.min} to ${f.max}.`;
    }
  }
  if (Number(values.lockout_max_seconds) < Number(values.lockout_seconds)) {
    return 'Longest lockout must be at least the first lockout.';
  }
  return '';
}

export function Settings() {
  usePageTitle('Settings');
  const [saved, setSaved] = useState<SettingsRow | null>(null);
  const [values, setValues] = useState<Record<string, string>>({});
  const [switches, setSwitches] = useState<Record<string, boolean>>({});
  const [issuer, setIssuer] = useState('');
  const [format, setFormat] = useState('opaque');
  const [status, setStatus] = useState({ text: '', error: false });

  const show = (row: SettingsRow) => {
    setSaved(row);
    setValues(Object.fromEntries(FIELDS.map((f) => [f.name, String(row[f.name])])));
    setSwitches(Object.fromEntries(SWITCHES.map((w) => [w.name, row[w.name] === true])));
    setIssuer(String(row.totp_issuer ?? ''));
    setFormat(String(row.access_token_format ?? 'opaque'));
  };
  useEffect(() => {
    api
      .get<SettingsRow>('/v1/admin/settings')
      .then(show, (err) => setStatus({ text: messageOf(err), error: true }));
  }, []);

  const submit = async (event: Event) => {
    event.preventDefault();
    const wrong =
      problem(values) ||
      (issuer.trim().length < 1 || issuer.length > 64
        ? 'Authenticator app label must be 1 to 64 characters.'
        : '');
    if (wrong) {
      setStatus({ text: wrong, error: true });
      return;
    }
    const changes: SettingsRow = {};
    for (const f of FIELDS) {
      const n = Number(values[f.name]);
      if (saved?.[f.name] !== n) changes[f.name] = n;
    }
    for (const w of SWITCHES) {
      if (saved?.[w.name] !== switches[w.name]) changes[w.name] = switches[w.name] === true;
    }
    if (saved?.totp_issuer !== issuer) changes.totp_issuer = issuer;
    if (saved?.access_token_format !== format) changes.access_token_format = format;
    if (Object.keys(changes).length === 0) {
      setStatus({ text: 'Nothing changed.', error: false });
      return;
    }
    try {
      show(await api.patch<SettingsRow>('/v1/admin/settings', changes));
      setStatus({ text: 'Settings saved.', error: false });
    } catch (err) {
      setStatus({ text: messageOf(err), error: true });
    }
  };

  return (
    <>
      <h1>Settings</h1>
      {saved && (
        <form class="grid settings" onSubmit={submit} noValidate>
          {FIELDS.map((f) => (
            <Field
              key={f.name}
              label={f.label}
              id={f.name}
              type="number"
              inputMode="numeric"
              min={f.min}
              max={f.max}
              step={1}
              required
              value={values[f.name] ?? ''}
              onInput={(e) => setValues({ ...values, [f.name]: e.currentTarget.value })}
            />
          ))}
          <Field
            label="Authenticator app label"
            id="totp_issuer"
            type="text"
            maxLength={64}
            required
            value={issuer}
            onInput={(e) => setIssuer(e.currentTarget.value)}
          />
          <label for="access_token_format">Service access token format</label>
          <select
            id="access_token_format"
            value={format}
            onChange={(e) => setFormat(e.currentTarget.value)}
          >
            <option value="opaque">opaque</option>
            <option value="jwt">jwt</option>
          </select>
          {SWITCHES.map((w) => (
            <Field
              key={w.name}
              label={w.label}
              id={w.name}
              type="checkbox"
              checked={switches[w.name] === true}
              onChange={(e) => setSwitches({ ...switches, [w.name]: e.currentTarget.checked })}
            />
          ))}
          <button type="submit">Save settings</button>
        </form>
      )}
      <Status {...status} />
    </>
  );
}
