// The Health view: live service status (Server-Sent Events), the last turns' latency waterfall, and memory charts.
import { useEffect, useRef, useState } from 'preact/hooks';
import { api, errorMessage, formatDate, type MemoryView, type Timings } from './api.ts';
import { TimeChart, type Point } from './charts.tsx';
import { turnStore, useStore, type TurnRecord } from './store.ts';

interface ServiceRow {
  name: string;
  url?: string;
  status: string;
  critical?: boolean;
  latency_ms?: number | null;
  last_change?: string | null;
  last_check?: string | null;
  last_error?: string | null;
  error?: string | null;
  uptime_ratio?: number | null;
}

interface Snapshot {
  status: string;
  services: ServiceRow[];
  error?: { code: string; message: string };
}

const STATUS_CLASS: Record<string, string> = {
  healthy: 'ok',
  up: 'ok',
  degraded: 'warn',
  unhealthy: 'bad',
  down: 'bad',
  unknown: 'unknown',
};
const statusClass = (s: string) => `badge badge-${STATUS_CLASS[s] ?? 'unknown'}`;
const STATUS_ICON: Record<string, string> = { ok: '●', warn: '▲', bad: '■', unknown: '○' };
/** What a person reads: a healthy service is up, an unhealthy one (stopped, failing) is down. */
const STATUS_LABEL: Record<string, string> = { healthy: 'up', unhealthy: 'down' };
const statusLabel = (s: string) => STATUS_LABEL[s] ?? s;

export function HealthPage() {
  return (
    <div class="health">
      <Services />
      <Waterfall />
      <MemoryCharts />
    </div>
  );
}

function Services() {
  const [snap, setSnap] = useState<Snapshot | null>(null);
  const [down, setDown] = useState(false);
  /** When each service was first seen in its current status (when the server gives no last_change). */
  const since = useRef(new Map<string, { status: string; at: string }>());

  useEffect(() => {
    let es: EventSource | null = null;
    let retry: ReturnType<typeof setTimeout> | null = null;
    const onSnapshot = (e: MessageEvent<string>) => {
      try {
        const data = JSON.parse(e.data) as Snapshot;
        const now = new Date().toISOString();
        for (const s of data.services ?? []) {
          const prev = since.current.get(s.name);
          if (!prev || prev.status !== s.status) since.current.set(s.name, { status: s.status, at: now });
        }
        setSnap(data);
        setDown(false);
      } catch {
        // ignore a malformed event
      }
    };
    const connect = () => {
      const source = new EventSource('/api/health/stream');
      es = source;
      source.addEventListener('snapshot', onSnapshot as EventListener);
      source.onmessage = onSnapshot;
      source.onopen = () => setDown(false);
      source.onerror = () => {
        setDown(true);
        // EventSource retries by itself after a network error, but gives up on an HTTP error status.
        if (source.readyState === EventSource.CLOSED && retry === null) {
          retry = setTimeout(() => {
            retry = null;
            connect();
          }, 5000);
        }
      };
    };
    connect();
    return () => {
      if (retry) clearTimeout(retry);
      es?.close();
    };
  }, []);

  const overall = snap?.status ?? 'unknown';
  const unreachable = down || snap?.error !== undefined;
  return (
    <section class="panel" aria-labelledby="svc-title">
      <div class="panel-head">
        <h2 id="svc-title">Services</h2>
        <p class="overall">
          Overall:{' '}
          <span class={statusClass(overall)} aria-label={`Overall status ${overall}`}>
            <span aria-hidden="true">{STATUS_ICON[STATUS_CLASS[overall] ?? 'unknown']} </span>
            {overall}
          </span>
        </p>
      </div>
      {unreachable && (
        <p class="alert" role="alert">
          Health monitor unreachable
          {snap?.error?.message && !down ? `: ${snap.error.message}` : ''}
          {down ? ' — reconnecting…' : ''}
        </p>
      )}
      <div class="table-wrap">
        <table class="services" aria-label="Services">
          <thead>
            <tr>
              <th scope="col">Service</th>
              <th scope="col">Status</th>
              <th scope="col">Latency</th>
              <th scope="col">Since</th>
              <th scope="col" class="hide-sm">
                Uptime
              </th>
            </tr>
          </thead>
          <tbody>
            {!snap && (
              <tr>
                <td colSpan={5} class="muted">
                  Waiting for the first snapshot…
                </td>
              </tr>
            )}
            {snap?.services?.length === 0 && (
              <tr>
                <td colSpan={5} class="muted">
                  No services monitored.
                </td>
              </tr>
            )}
            {snap?.services?.map((s) => {
              const cls = STATUS_CLASS[s.status] ?? 'unknown';
              const err = s.error ?? s.last_error;
              const at = s.last_change ?? since.current.get(s.name)?.at;
              return (
                <tr key={s.name}>
                  <th scope="row">
                    {s.name}
                    {s.critical && <span class="muted small"> (critical)</span>}
                    {s.url && <span class="muted small block hide-sm">{s.url}</span>}
                  </th>
                  <td>
                    <span class={statusClass(s.status)}>
                      <span aria-hidden="true">{STATUS_ICON[cls]} </span>
                      <span class="status-text" title={s.status}>
                        {statusLabel(s.status)}
                      </span>
                    </span>
                    {err && s.status !== 'healthy' && <span class="muted small block">{err}</span>}
                  </td>
                  <td>{typeof s.latency_ms === 'number' ? `${Math.round(s.latency_ms)} ms` : '—'}</td>
                  <td>{formatDate(at)}</td>
                  <td class="hide-sm">
                    {typeof s.uptime_ratio === 'number' ? `${(s.uptime_ratio * 100).toFixed(1)} %` : '—'}
                  </td>
                </tr>
              );
            })}
          </tbody>
        </table>
      </div>
    </section>
  );
}

// ---- Latency waterfall ----

interface Bar {
  name: string;
  start: number;
  ms: number;
  kind: string;
}

const n = (v: unknown): number | undefined => (typeof v === 'number' && Number.isFinite(v) ? v : undefined);

/** Lays a turn's timings out in time: 0 = the end of speech (voice) or the request (text). */
export function stagesOf(t: Timings): Bar[] {
  const bars: Bar[] = [];
  const voiceEngine =
    typeof t.engine === 'object' && t.engine !== null ? (t.engine as Record<string, number>) : null;
  const eng: Record<string, unknown> = voiceEngine ?? t;
  let cursor = 0;
  const vad = n(t.vad_end_delay_ms);
  if (vad !== undefined) {
    bars.push({ name: 'VAD end', start: 0, ms: vad, kind: 'vad' });
    cursor = vad;
  }
  const stt = n(t.stt_ms);
  if (stt !== undefined) {
    bars.push({ name: 'STT', start: cursor, ms: stt, kind: 'stt' });
    cursor += stt;
  }
  const engineStart = cursor;
  const seq = (key: string, name: string) => {
    const v = n(eng[key]);
    if (v === undefined) return;
    bars.push({ name, start: cursor, ms: v, kind: key });
    cursor += v;
  };
  seq('session', 'Session');
  seq('notices', 'Notices');
  seq('match', 'Skill match');
  seq('skill', 'Skill');
  const recall = n(eng.recall);
  const context = n(eng.context);
  if (recall !== undefined) bars.push({ name: 'Recall', start: cursor, ms: recall, kind: 'recall' });
  if (context !== undefined) bars.push({ name: 'Context', start: cursor, ms: context, kind: 'context' });
  cursor += Math.max(recall ?? 0, context ?? 0);
  const llmStart = cursor;
  seq('llm', 'LLM');
  const firstToken = n(eng.llm_first_token);
  if (firstToken !== undefined)
    bars.push({ name: 'LLM first token', start: llmStart, ms: firstToken, kind: 'llm_first' });
  const firstSentence = n(t.engine_first_sentence_ms);
  if (firstSentence !== undefined)
    bars.push({ name: 'First sentence', start: engineStart, ms: firstSentence, kind: 'sentence' });
  const tts = n(t.tts_first_audio_ms);
  if (tts !== undefined)
    bars.push({ name: 'First TTS audio', start: engineStart + (firstSentence ?? 0), ms: tts, kind: 'tts' });
  seq('store', 'Store');
  const total = n(voiceEngine ? t.engine_ms : eng.total);
  if (total !== undefined)
    bars.push({ name: voiceEngine ? 'Engine total' : 'Total', start: engineStart, ms: total, kind: 'total' });
  return bars;
}

function Waterfall() {
  const turns = useStore(turnStore);
  const shown = [...turns].reverse().slice(0, 8);
  return (
    <section class="panel" aria-label="Turn timings">
      <h2>Turn timings</h2>
      {shown.length === 0 ? (
        <p class="muted empty">
          No turns yet: talk or type on the Talk view and the latency of each turn appears here.
        </p>
      ) : (
        <ol class="waterfall">
          {shown.map((t) => (
            <TurnBars key={t.key} turn={t} />
          ))}
        </ol>
      )}
    </section>
  );
}

function TurnBars({ turn }: { turn: TurnRecord }) {
  const bars = stagesOf(turn.timings);
  const end = Math.max(1, ...bars.map((b) => b.start + b.ms));
  const e2e = n(turn.timings.speech_end_to_first_audio_ms);
  return (
    <li class="turn">
      <p class="turn-head">
        <span class="tag">{turn.source}</span> <q>{turn.text || '…'}</q>{' '}
        <span class="muted small">
          {new Date(turn.at).toLocaleTimeString()}
          {e2e !== undefined ? ` · speech end → first audio ${Math.round(e2e)} ms` : ''}
        </span>
      </p>
      {bars.length === 0 && <p class="muted small">No timings in this turn.</p>}
      <ul class="bars">
        {bars.map((b, i) => (
          <li key={i} class="bar-row">
            <span class="bar-name">{b.name}</span>
            <span class="bar-track" aria-hidden="true">
              <span
                class={`bar bar-${b.kind}`}
                style={{ left: `${(b.start / end) * 100}%`, width: `${Math.max(0.5, (b.ms / end) * 100)}%` }}
              />
            </span>
            <span class="bar-ms">{b.ms < 10 ? b.ms.toFixed(1) : Math.round(b.ms)} ms</span>
          </li>
        ))}
      </ul>
    </li>
  );
}

// ---- Memory charts ----

function MemoryCharts() {
  const [qr, setQr] = useState<Point[]>([]);
  const [surprise, setSurprise] = useState<Point[]>([]);
  const [error, setError] = useState('');
  const [updated, setUpdated] = useState<string>('');

  useEffect(() => {
    let live = true;
    const load = async () => {
      try {
        const r = await api<{ items: MemoryView[] }>('/api/memory/memories?limit=200&order=desc');
        const items = r.items ?? [];
        const recent = items.slice(0, 20);
        const details = await Promise.all(
          recent.map((m) =>
            api<MemoryView>(`/api/memory/memories/${encodeURIComponent(m.id)}`).catch(() => null),
          ),
        );
        if (!live) return;
        setQr(items.map((m) => ({ x: Date.parse(m.created_at), y: m.quickrecal_score })));
        const pts: Point[] = [];
        for (const d of details)
          for (const e of d?.surprise_events ?? []) pts.push({ x: Date.parse(e.at), y: e.delta });
        setSurprise(pts);
        setError('');
        setUpdated(new Date().toLocaleTimeString());
      } catch (err) {
        if (live) setError(errorMessage(err));
      }
    };
    void load();
    const timer = setInterval(() => void load(), 10_000);
    return () => {
      live = false;
      clearInterval(timer);
    };
  }, []);

  return (
    <section class="panel charts" aria-labelledby="charts-title">
      <div class="panel-head">
        <h2 id="charts-title">Memory</h2>
        <p class="muted small">{updated ? `Updated ${updated} · every 10 s` : 'Loading…'}</p>
      </div>
      {error && (
        <p class="alert" role="alert">
          {error}
        </p>
      )}
      <div class="chart-grid">
        <figure>
          <figcaption>QuickRecal over time (latest 200 memories)</figcaption>
          <TimeChart label="QuickRecal over time" points={qr} yMin={0} yMax={1} emptyText="No memories yet" />
        </figure>
        <figure>
          <figcaption>Surprise over time (boosts of the 20 most recent memories)</figcaption>
          <TimeChart
            label="Surprise over time"
            points={surprise}
            kind="stems"
            emptyText="No surprise boosts yet"
          />
        </figure>
      </div>
    </section>
  );
}
