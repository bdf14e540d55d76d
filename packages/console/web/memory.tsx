// The Memory view: search and browse the memory core (through the coordinator's /api/memory proxy), a memory's
// detail with its surprise boosts, edit, forget, export, and the assemblies.
import { useEffect, useRef, useState } from 'preact/hooks';
import {
  api,
  EMOTION_LABELS,
  errorMessage,
  fmt2,
  formatDate,
  type AssemblyView,
  type MemoryView,
} from './api.ts';
import { TimeChart, type Point } from './charts.tsx';

const M = '/api/memory';

interface Filters {
  query: string;
  from: string;
  to: string;
  tag: string;
  emotion: string;
  qmin: string;
  qmax: string;
}

const emptyFilters: Filters = { query: '', from: '', to: '', tag: '', emotion: '', qmin: '', qmax: '' };

/** A local date (yyyy-mm-dd) as the ISO instant of its start; `end`: the start of the next day. */
function dayBound(value: string, end: boolean): string | undefined {
  if (!value) return undefined;
  const d = new Date(`${value}T00:00:00`);
  if (Number.isNaN(d.getTime())) return undefined;
  if (end) d.setDate(d.getDate() + 1);
  return d.toISOString();
}

const parseScore = (v: string): number | undefined => {
  if (v.trim() === '') return undefined;
  const n = Number(v);
  return Number.isFinite(n) ? n : undefined;
};

async function fetchMemories(f: Filters): Promise<MemoryView[]> {
  const since = dayBound(f.from, false);
  const until = dayBound(f.to, true);
  const tag = f.tag.trim();
  const filter: Record<string, unknown> = {};
  if (f.emotion) filter['emotion.dominant'] = f.emotion;
  let items: MemoryView[];
  if (f.query.trim()) {
    const r = await api<{ results: MemoryView[] }>(`${M}/search`, {
      method: 'POST',
      body: {
        query: f.query.trim(),
        mode: 'hybrid',
        top_k: 20,
        ...(since ? { since } : {}),
        ...(until ? { until } : {}),
        ...(tag ? { tags: [tag] } : {}),
        ...(Object.keys(filter).length ? { filter } : {}),
      },
    });
    items = r.results ?? [];
  } else {
    const q = new URLSearchParams({ limit: '50', order: 'desc' });
    if (since) q.set('since', since);
    if (until) q.set('until', until);
    if (tag) q.set('tag', tag);
    if (Object.keys(filter).length) q.set('filter', JSON.stringify(filter));
    const r = await api<{ items: MemoryView[] }>(`${M}/memories?${q}`);
    items = r.items ?? [];
  }
  // QuickRecal bounds on the score shown (the effective one), client-side.
  const lo = parseScore(f.qmin);
  const hi = parseScore(f.qmax);
  return items.filter(
    (m) => (lo === undefined || m.quickrecal_score >= lo) && (hi === undefined || m.quickrecal_score <= hi),
  );
}

function downloadJson(name: string, value: unknown): void {
  const blob = new Blob([JSON.stringify(value, null, 2)], { type: 'application/json' });
  const url = URL.createObjectURL(blob);
  const a = document.createElement('a');
  a.href = url;
  a.download = name;
  document.body.append(a);
  a.click();
  a.remove();
  setTimeout(() => URL.revokeObjectURL(url), 1000);
}

export function MemoryPage() {
  const [filters, setFilters] = useState<Filters>(emptyFilters);
  const [items, setItems] = useState<MemoryView[]>([]);
  const [loading, setLoading] = useState(false);
  const [error, setError] = useState('');
  const [selected, setSelected] = useState<string | null>(null);
  const [searched, setSearched] = useState('');

  const run = async (f: Filters) => {
    setLoading(true);
    setError('');
    try {
      setItems(await fetchMemories(f));
      setSearched(f.query.trim());
    } catch (err) {
      setError(errorMessage(err));
    } finally {
      setLoading(false);
    }
  };

  useEffect(() => {
    void run(emptyFilters);
  }, []);

  const set = (k: keyof Filters) => (e: Event) =>
    setFilters((f) => ({ ...f, [k]: (e.currentTarget as HTMLInputElement).value }));

  return (
    <div class="memory">
      <section class="panel" aria-labelledby="mem-title">
        <div class="panel-head">
          <h2 id="mem-title">Memories</h2>
          <a class="btn" href={`${M}/export`} download="memories.jsonl">
            Export all
          </a>
        </div>
        <form
          class="search"
          role="search"
          onSubmit={(e) => {
            e.preventDefault();
            void run(filters);
          }}
        >
          <div class="search-row">
            <label for="mem-q" class="sr-only">
              Search memories
            </label>
            <input
              id="mem-q"
              type="search"
              placeholder="Search memories (meaning and words)…"
              value={filters.query}
              onInput={set('query')}
            />
            <button type="submit" class="btn primary">
              Search
            </button>
          </div>
          <fieldset class="filters">
            <legend class="sr-only">Filters</legend>
            <label>
              From
              <input type="date" value={filters.from} onInput={set('from')} />
            </label>
            <label>
              To
              <input type="date" value={filters.to} onInput={set('to')} />
            </label>
            <label>
              Tag
              <input type="text" value={filters.tag} onInput={set('tag')} autoComplete="off" />
            </label>
            <label>
              Emotion
              <select value={filters.emotion} onChange={set('emotion')}>
                <option value="">any</option>
                {EMOTION_LABELS.map((l) => (
                  <option key={l} value={l}>
                    {l}
                  </option>
                ))}
              </select>
            </label>
            <label>
              QuickRecal min
              <input type="number" min={0} max={1} step={0.05} value={filters.qmin} onInput={set('qmin')} />
            </label>
            <label>
              QuickRecal max
              <input type="number" min={0} max={1} step={0.05} value={filters.qmax} onInput={set('qmax')} />
            </label>
            <button
              type="button"
              class="btn"
              onClick={() => {
                setFilters(emptyFilters);
                void run(emptyFilters);
              }}
            >
              Reset
            </button>
          </fieldset>
        </form>
        {error && (
          <p class="alert" role="alert">
            {error}
          </p>
        )}
        <p class="muted small" aria-live="polite">
          {loading
            ? 'Loading…'
            : `${items.length} ${items.length === 1 ? 'memory' : 'memories'}${searched ? ` for “${searched}”` : ''}`}
        </p>
        <ul class="mem-list" aria-label="Memories">
          {items.map((m) => (
            <li key={m.id}>
              <button
                type="button"
                class="mem-item"
                aria-current={m.id === selected ? 'true' : undefined}
                onClick={() => setSelected(m.id)}
              >
                <span class="mem-content">{m.content || <em>(no content)</em>}</span>
                <span class="mem-meta small">
                  <span>{formatDate(m.created_at)}</span>
                  <span>QuickRecal {fmt2(m.quickrecal_score)}</span>
                  <span>{m.emotion?.dominant ?? 'neutral'}</span>
                  {typeof m.relevance_score === 'number' && <span>relevance {fmt2(m.relevance_score)}</span>}
                  {m.tags?.length > 0 && <span>#{m.tags.join(' #')}</span>}
                </span>
              </button>
            </li>
          ))}
        </ul>
      </section>

      <div class="side">
        {selected && (
          <MemoryDetail
            key={selected}
            id={selected}
            onClose={() => setSelected(null)}
            onChanged={(m) => setItems((list) => list.map((x) => (x.id === m.id ? { ...x, ...m } : x)))}
            onDeleted={(id) => {
              setItems((list) => list.filter((x) => x.id !== id));
              setSelected(null);
            }}
          />
        )}
        <Assemblies onOpen={setSelected} />
      </div>
    </div>
  );
}

function MemoryDetail(props: {
  id: string;
  onClose: () => void;
  onChanged: (m: MemoryView) => void;
  onDeleted: (id: string) => void;
}) {
  const [m, setM] = useState<MemoryView | null>(null);
  const [error, setError] = useState('');
  const [editing, setEditing] = useState(false);
  const [draft, setDraft] = useState('');
  const [draftTags, setDraftTags] = useState('');
  const [busy, setBusy] = useState(false);
  const dialog = useRef<HTMLDialogElement>(null);
  const region = useRef<HTMLElement>(null);

  useEffect(() => {
    let live = true;
    api<MemoryView>(`${M}/memories/${encodeURIComponent(props.id)}`)
      .then((v) => live && setM(v))
      .catch((err: unknown) => live && setError(errorMessage(err)));
    region.current?.focus();
    return () => {
      live = false;
    };
  }, [props.id]);

  const save = async () => {
    if (!m) return;
    setBusy(true);
    setError('');
    try {
      const tags = draftTags
        .split(',')
        .map((t) => t.trim())
        .filter(Boolean);
      const body: Record<string, unknown> = {};
      if (draft.trim() && draft !== m.content) body.content = draft;
      if (tags.join(',') !== (m.tags ?? []).join(',')) body.tags = tags;
      if (Object.keys(body).length) {
        const v = await api<MemoryView>(`${M}/memories/${encodeURIComponent(m.id)}`, {
          method: 'PATCH',
          body,
        });
        setM(v);
        props.onChanged(v);
      }
      setEditing(false);
    } catch (err) {
      setError(errorMessage(err));
    } finally {
      setBusy(false);
    }
  };

  const forget = async () => {
    if (!m) return;
    setBusy(true);
    try {
      await api<void>(`${M}/memories/${encodeURIComponent(m.id)}`, { method: 'DELETE' });
      dialog.current?.close();
      props.onDeleted(m.id);
    } catch (err) {
      dialog.current?.close();
      setError(errorMessage(err));
    } finally {
      setBusy(false);
    }
  };

  const events = m?.surprise_events ?? [];
  const steps: Point[] = [];
  if (events.length) {
    const first = events[0]!;
    steps.push({ x: Date.parse(m!.created_at), y: first.previous });
    for (const e of events) steps.push({ x: Date.parse(e.at), y: e.new });
  }
  const emotionTop = m
    ? Object.entries(m.emotion?.scores ?? {})
        .sort((a, b) => b[1] - a[1])
        .slice(0, 3)
    : [];

  return (
    <section class="panel detail" role="region" aria-label="Memory detail" tabIndex={-1} ref={region}>
      <div class="panel-head">
        <h2>Memory</h2>
        <button type="button" class="btn" onClick={props.onClose}>
          Close
        </button>
      </div>
      {error && (
        <p class="alert" role="alert">
          {error}
        </p>
      )}
      {!m && !error && <p class="muted">Loading…</p>}
      {m && (
        <>
          {editing ? (
            <div class="edit">
              <label for="mem-edit">Content</label>
              <textarea
                id="mem-edit"
                rows={5}
                value={draft}
                onInput={(e) => setDraft((e.currentTarget as HTMLTextAreaElement).value)}
              />
              <label for="mem-tags">Tags (comma-separated)</label>
              <input
                id="mem-tags"
                type="text"
                value={draftTags}
                onInput={(e) => setDraftTags((e.currentTarget as HTMLInputElement).value)}
              />
              <div class="row">
                <button type="button" class="btn primary" disabled={busy} onClick={() => void save()}>
                  Save
                </button>
                <button type="button" class="btn" onClick={() => setEditing(false)}>
                  Cancel
                </button>
              </div>
            </div>
          ) : (
            <p class="detail-content">{m.content}</p>
          )}
          {!editing && (
            <div class="row">
              <button
                type="button"
                class="btn"
                onClick={() => {
                  setDraft(m.content);
                  setDraftTags((m.tags ?? []).join(', '));
                  setEditing(true);
                }}
              >
                Edit
              </button>
              <button type="button" class="btn danger" onClick={() => dialog.current?.showModal()}>
                Forget
              </button>
              <button type="button" class="btn" onClick={() => downloadJson(`memory-${m.id}.json`, m)}>
                Export
              </button>
            </div>
          )}
          <dl class="fields">
            <dt>ID</dt>
            <dd>
              <code>{m.id}</code>
            </dd>
            <dt>Created</dt>
            <dd>{formatDate(m.created_at)}</dd>
            <dt>Updated</dt>
            <dd>{formatDate(m.updated_at)}</dd>
            {m.event_time && (
              <>
                <dt>Event time</dt>
                <dd>{formatDate(m.event_time)}</dd>
              </>
            )}
            <dt>QuickRecal</dt>
            <dd>
              {fmt2(m.quickrecal_score)}
              {typeof m.quickrecal_stored === 'number' && ` (stored ${fmt2(m.quickrecal_stored)})`}
            </dd>
            <dt>Emotion</dt>
            <dd>
              {m.emotion?.dominant ?? '—'} · valence {fmt2(m.emotion?.valence)} · intensity{' '}
              {fmt2(m.emotion?.intensity)}
              {emotionTop.length > 1 && (
                <span class="muted small"> ({emotionTop.map(([k, v]) => `${k} ${fmt2(v)}`).join(', ')})</span>
              )}
            </dd>
            <dt>Tags</dt>
            <dd>{m.tags?.length ? m.tags.join(', ') : '—'}</dd>
            <dt>User / session</dt>
            <dd>
              {m.user_id ?? '—'} / {m.session_id ?? '—'}
            </dd>
            <dt>Importance</dt>
            <dd>{fmt2(m.importance)}</dd>
            <dt>Accessed</dt>
            <dd>
              {m.access_count} × {m.last_access ? `(last ${formatDate(m.last_access)})` : ''}
            </dd>
            <dt>Assemblies</dt>
            <dd>{m.assemblies?.length ? m.assemblies.join(', ') : '—'}</dd>
          </dl>
          <details>
            <summary>QuickRecal factors</summary>
            <table class="kv">
              <tbody>
                {Object.entries(m.quickrecal_factors ?? {}).map(([k, v]) => (
                  <tr key={k}>
                    <th scope="row">{k}</th>
                    <td>{fmt2(v)}</td>
                  </tr>
                ))}
              </tbody>
            </table>
          </details>
          <details>
            <summary>Metadata</summary>
            <pre>{JSON.stringify(m.metadata ?? {}, null, 2)}</pre>
          </details>
          <h3>Surprise boosts</h3>
          <TimeChart
            label="Surprise boosts"
            points={steps}
            kind="step"
            yMin={0}
            yMax={1}
            height={170}
            emptyText="No surprise boosts"
            summary={
              events.length
                ? `${events.length} boosts: ${events.map((e) => `${formatDate(e.at)} ${e.delta >= 0 ? '+' : ''}${fmt2(e.delta)} (${e.reason})`).join('; ')}`
                : 'No surprise boosts.'
            }
          />
          {events.length > 0 && (
            <ul class="small boosts">
              {events.map((e, i) => (
                <li key={i}>
                  {formatDate(e.at)}: {e.delta >= 0 ? '+' : ''}
                  {fmt2(e.delta)} → {fmt2(e.new)} <span class="muted">({e.reason})</span>
                </li>
              ))}
            </ul>
          )}
        </>
      )}
      <dialog ref={dialog} aria-label="Forget memory?" class="confirm">
        <h2>Forget memory?</h2>
        <p>It is deleted from the store, the index and its assemblies. This cannot be undone.</p>
        <div class="row">
          <button type="button" class="btn danger" disabled={busy} onClick={() => void forget()}>
            Forget
          </button>
          <button type="button" class="btn" autoFocus onClick={() => dialog.current?.close()}>
            Cancel
          </button>
        </div>
      </dialog>
    </section>
  );
}

function Assemblies({ onOpen }: { onOpen: (id: string) => void }) {
  const [items, setItems] = useState<AssemblyView[] | null>(null);
  const [error, setError] = useState('');
  const [members, setMembers] = useState<Record<string, MemoryView[] | 'loading' | string>>({});

  useEffect(() => {
    api<{ items: AssemblyView[] }>(`${M}/assemblies`)
      .then((r) => setItems(r.items ?? []))
      .catch((err: unknown) => setError(errorMessage(err)));
  }, []);

  const load = async (id: string) => {
    if (members[id]) return;
    setMembers((x) => ({ ...x, [id]: 'loading' }));
    try {
      const a = await api<AssemblyView>(`${M}/assemblies/${encodeURIComponent(id)}`);
      const ids = (a.members ?? []).slice(0, 100);
      let views: MemoryView[] = [];
      if (ids.length) {
        const q = new URLSearchParams({
          limit: String(ids.length),
          filter: JSON.stringify({ id: { $in: ids } }),
        });
        views = (await api<{ items: MemoryView[] }>(`${M}/memories?${q}`)).items ?? [];
      }
      setMembers((x) => ({ ...x, [id]: views }));
    } catch (err) {
      setMembers((x) => ({ ...x, [id]: errorMessage(err) }));
    }
  };

  return (
    <section class="panel" aria-label="Assemblies">
      <h2>Assemblies</h2>
      {error && (
        <p class="alert" role="alert">
          {error}
        </p>
      )}
      {items === null && !error && <p class="muted">Loading…</p>}
      {items?.length === 0 && (
        <p class="muted">No assemblies yet: related memories group as they accumulate.</p>
      )}
      <ul class="assemblies">
        {items?.map((a) => {
          const mem = members[a.id];
          return (
            <li key={a.id}>
              <details
                onToggle={(e) => {
                  if ((e.currentTarget as HTMLDetailsElement).open) void load(a.id);
                }}
              >
                <summary>
                  <strong>{a.name || a.keywords.slice(0, 3).join(', ') || a.id}</strong>{' '}
                  <span class="muted small">
                    {a.member_count} members · activated {a.activation_count}×
                  </span>
                </summary>
                {a.keywords.length > 0 && <p class="small muted">Keywords: {a.keywords.join(', ')}</p>}
                {mem === 'loading' && <p class="muted small">Loading…</p>}
                {typeof mem === 'string' && mem !== 'loading' && <p class="alert">{mem}</p>}
                {Array.isArray(mem) && (
                  <ul class="members">
                    {mem.map((x) => (
                      <li key={x.id}>
                        <button type="button" class="btn-link" onClick={() => onOpen(x.id)}>
                          {x.content || x.id}
                        </button>
                      </li>
                    ))}
                  </ul>
                )}
              </details>
            </li>
          );
        })}
      </ul>
    </section>
  );
}
