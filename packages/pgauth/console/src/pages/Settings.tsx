/**
 * The policy settings: each field checked here against the range the database keeps (the
 * browser says which is wrong before anything is sent), and again by the gateway and the
 * database, whose message is shown when it refuses.
 */
import { Fragment } from 'preact';
import { useEffect, useState } from 'preact/hooks';
import { api } from '../api.ts';
import { messageOf, Status, usePageTitle } from './common.tsx';

type SettingsRow = Record<string, number | boolean>;

interface Field {
  name: string;
  label: string;
  min: number;
  max: number;
}

const FIELDS: Field[] = [
  { name: 'password_min_length', label: 'Minimum password length', min: 8, max: 1024 },
  { name: 'bcrypt_cost', label: 'bcrypt cost', min: 4, max: 16 },
  { name: 'max_failed_logins', label: 'Failed logins before a lockout', min: 1, max: 100 },
  { name: 'lockout_seconds', label: 'First lockout (seconds)', min: 1, max: 2147483647 },
  { name: 'lockout_max_seconds', label: 'Longest lockout (seconds)', min: 1, max: 2147483647 },
  {
    name: 'access_token_ttl_seconds',
    label: 'Access token lifetime (seconds)',
    min: 1,
    max: 2147483647,
  },
  {
    name: 'refresh_token_ttl_seconds',
    label: 'Refresh token lifetime (seconds)',
    min: 1,
    max: 2147483647,
  },
  { name: 'session_max_age_seconds', label: 'Longest session (seconds)', min: 1, max: 2147483647 },
  { name: 'refresh_reuse_grace_seconds', label: 'Refresh retry grace (seconds)', min: 0, max: 300 },
  {
    name: 'session_retention_seconds',
    label: 'Ended sessions kept (seconds)',
    min: 0,
    max: 2147483647,
  },
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
  const [registration, setRegistration] = useState(false);
  const [status, setStatus] = useState({ text: '', error: false });

  const show = (row: SettingsRow) => {
    setSaved(row);
    setValues(Object.fromEntries(FIELDS.map((f) => [f.name, String(row[f.name])])));
    setRegistration(row.allow_registration === true);
  };
  useEffect(() => {
    api
      .get<SettingsRow>('/v1/admin/settings')
      .then(show, (err) => setStatus({ text: messageOf(err), error: true }));
  }, []);

  const submit = async (event: Event) => {
    event.preventDefault();
    const wrong = problem(values);
    if (wrong) {
      setStatus({ text: wrong, error: true });
      return;
    }
    const changes: SettingsRow = {};
    for (const f of FIELDS) {
      const n = Number(values[f.name]);
      if (saved?.[f.name] !== n) changes[f.name] = n;
    }
    if (saved?.allow_registration !== registration) changes.allow_registration = registration;
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
            <Fragment key={f.name}>
              <label for={f.name}>{f.label}</label>
              <input
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
            </Fragment>
          ))}
          <label for="allow_registration">Open registration</label>
          <input
            id="allow_registration"
            type="checkbox"
            checked={registration}
            onChange={(e) => setRegistration(e.currentTarget.checked)}
          />
          <button type="submit">Save settings</button>
        </form>
      )}
      <Status {...status} />
    </>
  );
}
