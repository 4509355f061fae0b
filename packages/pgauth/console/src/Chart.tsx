/**
 * A line chart of counts per minute, drawn as SVG: one polyline per series on a shared scale,
 * hour ticks along the bottom. Colours come from the stylesheet (classes), so the page needs no
 * inline style; the figure's caption says in words what the lines show.
 */

export interface Series {
  name: string;
  className: string;
  values: number[];
}

const WIDTH = 960;
const HEIGHT = 280;
const PAD = { left: 44, right: 12, top: 12, bottom: 28 };

/** A round top for the scale: 1, 2, 5 × 10^n. */
function niceMax(max: number): number {
  if (max <= 1) return 1;
  const base = 10 ** Math.floor(Math.log10(max));
  for (const step of [1, 2, 5, 10]) if (step * base >= max) return step * base;
  return 10 * base;
}

export function LineChart(props: { start: number; series: Series[]; title: string }) {
  const count = props.series[0]?.values.length ?? 0;
  const top = niceMax(Math.max(0, ...props.series.flatMap((s) => s.values)));
  const plotW = WIDTH - PAD.left - PAD.right;
  const plotH = HEIGHT - PAD.top - PAD.bottom;
  const x = (i: number) => PAD.left + (count <= 1 ? 0 : (i / (count - 1)) * plotW);
  const y = (v: number) => PAD.top + plotH - (v / top) * plotH;
  // One tick per 3 hours, at whole hours (UTC).
  const ticks: { i: number; label: string }[] = [];
  for (let i = 0; i < count; i++) {
    const t = new Date(props.start + i * 60_000);
    if (t.getUTCMinutes() === 0 && t.getUTCHours() % 3 === 0) {
      ticks.push({ i, label: `${String(t.getUTCHours()).padStart(2, '0')}:00` });
    }
  }
  return (
    <svg
      class="chart"
      viewBox={`0 0 ${WIDTH} ${HEIGHT}`}
      role="img"
      aria-labelledby="chart-title"
      preserveAspectRatio="none"
    >
      <title id="chart-title">{props.title}</title>
      {[0, 0.5, 1].map((f) => (
        <g key={f}>
          <line class="grid" x1={PAD.left} x2={WIDTH - PAD.right} y1={y(top * f)} y2={y(top * f)} />
          <text class="axis" x={PAD.left - 6} y={y(top * f) + 4} text-anchor="end">
            {Math.round(top * f)}
          </text>
        </g>
      ))}
      {ticks.map((t) => (
        <text key={t.i} class="axis" x={x(t.i)} y={HEIGHT - 8} text-anchor="middle">
          {t.label}
        </text>
      ))}
      {props.series.map((s) => (
        <polyline
          key={s.name}
          class={`line ${s.className}`}
          points={s.values.map((v, i) => `${x(i).toFixed(1)},${y(v).toFixed(1)}`).join(' ')}
        />
      ))}
    </svg>
  );
}
