// Small inline-SVG charts (no chart library): a time series as a line, steps or stems.

export interface Point {
  /** Epoch ms. */
  x: number;
  y: number;
}

interface Props {
  label: string;
  points: Point[];
  kind?: 'line' | 'step' | 'stems';
  yMin?: number;
  yMax?: number;
  emptyText?: string;
  /** Extra sentence for screen readers. */
  summary?: string;
  height?: number;
}

const W = 640;
const PAD = { l: 44, r: 14, t: 12, b: 30 };

const shortDate = (ms: number, span: number) =>
  new Date(ms).toLocaleString(
    undefined,
    span < 36 * 3600_000 ? { hour: '2-digit', minute: '2-digit' } : { month: 'short', day: 'numeric' },
  );

const num = (v: number) =>
  Math.abs(v) >= 10 ? v.toFixed(0) : Math.abs(v) >= 1 ? v.toFixed(1) : v.toFixed(2);

export function TimeChart({
  label,
  points,
  kind = 'line',
  yMin,
  yMax,
  emptyText,
  summary,
  height = 200,
}: Props) {
  const H = height;
  const pts = [...points]
    .filter((p) => Number.isFinite(p.x) && Number.isFinite(p.y))
    .sort((a, b) => a.x - b.x);
  const iw = W - PAD.l - PAD.r;
  const ih = H - PAD.t - PAD.b;
  let x0 = pts[0]?.x ?? Date.now() - 3600_000;
  let x1 = pts.at(-1)?.x ?? Date.now();
  if (x1 - x0 < 60_000) {
    x0 -= 30_000;
    x1 += 30_000;
  }
  let lo = yMin ?? Math.min(0, ...pts.map((p) => p.y));
  let hi = yMax ?? Math.max(...pts.map((p) => p.y), lo + 0.1);
  if (hi - lo < 1e-9) {
    hi = lo + 1;
  }
  if (yMin === undefined) lo = Math.min(lo, 0);
  const sx = (x: number) => PAD.l + ((x - x0) / (x1 - x0)) * iw;
  const sy = (y: number) => PAD.t + (1 - (y - lo) / (hi - lo)) * ih;
  const ticks = [lo, (lo + hi) / 2, hi];

  let path = '';
  if (kind === 'line')
    path = pts.map((p, i) => `${i ? 'L' : 'M'}${sx(p.x).toFixed(1)},${sy(p.y).toFixed(1)}`).join('');
  if (kind === 'step')
    path = pts
      .map((p, i) => {
        const x = sx(p.x).toFixed(1);
        const y = sy(p.y).toFixed(1);
        if (i === 0) return `M${x},${y}`;
        return `H${x}V${y}`;
      })
      .join('');
  if (kind === 'step' && pts.length) path += `H${(PAD.l + iw).toFixed(1)}`;

  const desc =
    summary ??
    (pts.length
      ? `${pts.length} points from ${new Date(x0).toLocaleString()} to ${new Date(x1).toLocaleString()}, values ${num(Math.min(...pts.map((p) => p.y)))} to ${num(Math.max(...pts.map((p) => p.y)))}.`
      : (emptyText ?? 'No data yet.'));

  return (
    <svg
      class="chart"
      role="img"
      aria-label={label}
      viewBox={`0 0 ${W} ${H}`}
      preserveAspectRatio="xMidYMid meet"
    >
      <title>{label}</title>
      <desc>{desc}</desc>
      <g class="axis">
        {ticks.map((t) => (
          <g key={t}>
            <line x1={PAD.l} x2={PAD.l + iw} y1={sy(t)} y2={sy(t)} class="grid" />
            <text x={PAD.l - 6} y={sy(t) + 4} text-anchor="end">
              {num(t)}
            </text>
          </g>
        ))}
        {pts.length > 0 && (
          <>
            <text x={PAD.l} y={H - 8}>
              {shortDate(x0, x1 - x0)}
            </text>
            <text x={PAD.l + iw} y={H - 8} text-anchor="end">
              {shortDate(x1, x1 - x0)}
            </text>
          </>
        )}
      </g>
      {pts.length === 0 && (
        <text x={W / 2} y={PAD.t + ih / 2} text-anchor="middle" class="chart-empty">
          {emptyText ?? 'No data yet'}
        </text>
      )}
      {path && <path d={path} class="series" />}
      {kind === 'stems' &&
        pts.map((p, i) => (
          <line
            key={i}
            x1={sx(p.x)}
            x2={sx(p.x)}
            y1={sy(0)}
            y2={sy(p.y)}
            class={p.y >= 0 ? 'stem' : 'stem neg'}
          />
        ))}
      {pts.length <= 60 &&
        pts.map((p, i) => (
          <circle key={`c${i}`} cx={sx(p.x)} cy={sy(p.y)} r={3.5} class="dot">
            <title>{`${new Date(p.x).toLocaleString()}: ${num(p.y)}`}</title>
          </circle>
        ))}
    </svg>
  );
}
