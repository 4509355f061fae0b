/** Logins, failed logins and lockouts per minute over the last 24 hours. */

import { useEffect, useState } from 'preact/hooks';
import type { LoginMinute } from '../../../src/rows.ts';
import { api } from '../api.ts';
import { LineChart, type Series } from '../Chart.tsx';
import { messageOf, usePageTitle } from './common.ts';
import { Status } from './components.tsx';

const MINUTES = 24 * 60;

export function Activity() {
  usePageTitle('Activity');
  const [data, setData] = useState<{ start: number; series: Series[] } | null>(null);
  const [status, setStatus] = useState({ text: '', error: false });
  useEffect(() => {
    let live = true;
    api.get<{ minutes: LoginMinute[] }>('/v1/admin/stats/logins?hours=24').then(
      ({ minutes }) => {
        if (!live) return;
        // Every minute of the last 24 h, the ones without events at zero.
        const end = Math.floor(Date.now() / 60_000) * 60_000;
        const start = end - (MINUTES - 1) * 60_000;
        const logins = new Array<number>(MINUTES).fill(0);
        const failures = new Array<number>(MINUTES).fill(0);
        const lockouts = new Array<number>(MINUTES).fill(0);
        for (const m of minutes) {
          const i = Math.round((Date.parse(m.minute) - start) / 60_000);
          if (i < 0 || i >= MINUTES) continue;
          logins[i] = m.logins;
          failures[i] = m.failures;
          lockouts[i] = m.lockouts;
        }
        setData({
          start,
          series: [
            { name: 'Logins', className: 'logins', values: logins },
            { name: 'Failed logins', className: 'failures', values: failures },
            { name: 'Lockouts', className: 'lockouts', values: lockouts },
          ],
        });
        setStatus({ text: '', error: false });
      },
      (err) => live && setStatus({ text: messageOf(err), error: true }),
    );
    return () => {
      live = false;
    };
  }, []);
  const total = (name: string) =>
    data?.series.find((s) => s.name === name)?.values.reduce((a, b) => a + b, 0) ?? 0;
  return (
    <>
      <h1>Activity</h1>
      <Status {...status} />
      {data && (
        <figure>
          <LineChart
            start={data.start}
            series={data.series}
            title="Logins, failed logins and lockouts per minute, last 24 hours (UTC)"
          />
          <figcaption>
            <ul class="legend">
              {data.series.map((s) => (
                <li key={s.name}>
                  <span class={`swatch ${s.className}`} aria-hidden="true" />
                  {s.name}: {total(s.name)} in the last 24 hours
                </li>
              ))}
            </ul>
          </figcaption>
        </figure>
      )}
    </>
  );
}
