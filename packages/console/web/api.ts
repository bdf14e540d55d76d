// Same-origin JSON calls to the coordinator; errors ({error:{code,message}}) become ApiError.

export class ApiError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
  ) {
    super(message);
  }
}

export async function api<T>(path: string, init: { method?: string; body?: unknown } = {}): Promise<T> {
  const headers: Record<string, string> = { accept: 'application/json' };
  const req: RequestInit = { method: init.method ?? 'GET', headers };
  if (init.body !== undefined) {
    headers['content-type'] = 'application/json';
    req.body = JSON.stringify(init.body);
  }
  let res: Response;
  try {
    res = await fetch(path, req);
  } catch (err) {
    throw new ApiError(0, 'network_error', `Cannot reach the server (${(err as Error).message})`);
  }
  if (res.status === 204) return undefined as T;
  const text = await res.text();
  let data: unknown = undefined;
  if (text !== '') {
    try {
      data = JSON.parse(text);
    } catch {
      data = undefined;
    }
  }
  if (!res.ok) {
    const e = (data as { error?: { code?: string; message?: string } } | undefined)?.error;
    throw new ApiError(
      res.status,
      e?.code ?? 'http_error',
      e?.message ?? `${req.method} ${path} failed: HTTP ${res.status}`,
    );
  }
  return data as T;
}

export const errorMessage = (err: unknown): string =>
  err instanceof Error ? err.message : typeof err === 'string' ? err : 'Something went wrong';

// ---- Shapes (the parts the console reads) ----

export type Timings = Record<string, number | Record<string, number>>;

export interface TurnResponse {
  turn_id: string;
  session_id: string;
  reply: string;
  skill: string;
  memories: { id: string; content: string; score: number }[];
  notices: unknown[];
  timings: Record<string, number>;
  degraded?: string[];
}

export interface SessionView {
  session_id: string;
  user_id: string | null;
  status: string;
  summary?: string | null;
  interaction_count?: number;
  created_at: string;
  last_active_at?: string;
}

export interface SessionDetail extends SessionView {
  turns: { seq?: number; role: string; content: string; created_at: string }[];
}

export interface EmotionView {
  dominant: string;
  valence: number;
  intensity: number;
  scores: Record<string, number>;
}

export interface SurpriseEvent {
  at: string;
  delta: number;
  previous: number;
  new: number;
  reason: string;
}

export interface MemoryView {
  id: string;
  content: string;
  metadata: Record<string, unknown>;
  tags: string[];
  user_id: string | null;
  session_id: string | null;
  importance: number | null;
  quickrecal_score: number;
  quickrecal_stored?: number;
  quickrecal_factors: Record<string, number>;
  emotion: EmotionView;
  embedding_model?: string;
  created_at: string;
  updated_at: string;
  event_time: string | null;
  access_count: number;
  last_access: string | null;
  assemblies: string[];
  surprise_events?: SurpriseEvent[];
  similarity?: number;
  relevance_score?: number;
}

export interface AssemblyView {
  id: string;
  name: string | null;
  keywords: string[];
  member_count: number;
  activation_count: number;
  last_activated: string | null;
  created_at: string;
  members?: string[];
}

/** The memory core's emotion labels (GoEmotions, neutral last): the memory core's own list. */
export { EMOTION_LABELS } from '../../memory-core/src/emotion-labels.ts';

export function formatDate(iso: string | null | undefined): string {
  if (!iso) return '—';
  const d = new Date(iso);
  if (Number.isNaN(d.getTime())) return iso;
  return d.toLocaleString(undefined, { dateStyle: 'medium', timeStyle: 'short' });
}

export const fmt2 = (n: number | null | undefined): string =>
  typeof n === 'number' && Number.isFinite(n) ? n.toFixed(2) : '—';
