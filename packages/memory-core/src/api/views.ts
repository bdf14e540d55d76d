// How memories and assemblies look on the wire (v1 and the Synthians-compatible API), and input conversion.
import { badRequest } from '@synthians/kit';
import type { MemoryCore, NewMemory, SearchHit } from '../memory-core.ts';
import type { AssemblyRecord, MemoryRecord } from '../store.ts';
import { readEmbedding } from '../embeddings.ts';
import type { UserEmotion } from '../relevance.ts';

const iso = (ms: number | null) => (ms === null ? null : new Date(ms).toISOString());

export interface ViewOptions {
  embedding?: boolean;
  surprises?: boolean;
}

export function memoryView(
  core: MemoryCore,
  r: MemoryRecord,
  opts: ViewOptions = {},
): Record<string, unknown> {
  const access = core.accessOf(r);
  const view: Record<string, unknown> = {
    id: r.id,
    content: r.content,
    metadata: r.metadata,
    tags: r.tags,
    user_id: r.userId,
    session_id: r.sessionId,
    importance: r.importance,
    quickrecal_score: core.effectiveScore(r),
    quickrecal_stored: r.quickrecal,
    quickrecal_factors: r.quickrecalFactors,
    emotion: r.emotion,
    embedding_model: r.embeddingModel,
    created_at: iso(r.createdAt),
    updated_at: iso(r.updatedAt),
    event_time: iso(r.eventTime),
    access_count: access.count,
    last_access: iso(access.last),
    assemblies: core.assemblyIdsOf(r),
  };
  if (opts.surprises) view.surprise_events = core.surprises(r).map((e) => ({ ...e, at: iso(e.at) }));
  if (opts.embedding) view.embedding = Array.from(r.embedding);
  return view;
}

export function hitView(core: MemoryCore, h: SearchHit, opts: ViewOptions = {}): Record<string, unknown> {
  const view = memoryView(core, h.memory, opts);
  view.similarity = h.similarity;
  view.relevance_score = h.relevance;
  if (h.explain) view.explain = h.explain;
  return view;
}

/** The original service's memory shape: timestamps in seconds, `timestamp` = event time or creation. */
export function compatView(
  core: MemoryCore,
  r: MemoryRecord,
  withEmbedding: boolean,
): Record<string, unknown> {
  const view: Record<string, unknown> = {
    id: r.id,
    content: r.content,
    metadata: r.metadata,
    quickrecal_score: core.effectiveScore(r),
    timestamp: (r.eventTime ?? r.createdAt) / 1000,
    created_at: r.createdAt / 1000,
    access_count: core.accessOf(r).count,
    emotion: r.emotion,
    dominant_emotion: r.emotion.dominant,
    assemblies: core.assemblyIdsOf(r),
    surprise_events: core.surprises(r).map((e) => ({ ...e, at: e.at / 1000 })),
  };
  if (withEmbedding) view.embedding = Array.from(r.embedding);
  return view;
}

export function assemblyView(
  core: MemoryCore,
  a: AssemblyRecord,
  withMembers: boolean,
): Record<string, unknown> {
  const view: Record<string, unknown> = {
    id: a.id,
    assembly_id: a.id,
    name: a.name,
    keywords: core.assemblyKeywords(a),
    member_count: a.memberCount,
    memory_count: a.memberCount,
    activation_count: a.activationCount,
    last_activated: iso(a.lastActivated),
    created_at: iso(a.createdAt),
    updated_at: iso(a.updatedAt),
  };
  if (withMembers) {
    view.members = core.store.memberIdsOf(a.key);
    view.composite_embedding = Array.from(a.composite);
  }
  return view;
}

/** Event times: ISO 8601 strings, or numbers — epoch milliseconds, or seconds when below 1e11. */
export function parseTime(value: unknown, field: string): number | null {
  if (value === undefined || value === null) return null;
  if (typeof value === 'number') {
    if (!Number.isFinite(value)) throw badRequest('invalid_time', `${field} must be finite`);
    return Math.round(value < 1e11 ? value * 1000 : value);
  }
  if (typeof value === 'string') {
    const ms = Date.parse(value);
    if (Number.isNaN(ms)) throw badRequest('invalid_time', `${field} is not an ISO 8601 date: ${value}`);
    return ms;
  }
  throw badRequest('invalid_time', `${field} must be an ISO 8601 string or epoch milliseconds`);
}

export interface MemoryInputBody {
  id?: string;
  content?: string;
  embedding?: unknown;
  embedding_b64?: string;
  metadata?: Record<string, unknown>;
  tags?: string[];
  user_id?: string;
  session_id?: string;
  event_time?: string | number;
  importance?: number;
}

export function toNewMemory(body: MemoryInputBody, dim: number, field = 'body'): NewMemory {
  const content = body.content ?? '';
  const embedding = readEmbedding(body, dim, field);
  if (content.trim() === '' && embedding === undefined) {
    throw badRequest('missing_content', `${field}: a memory needs content or an embedding`);
  }
  const metadata = body.metadata ?? {};
  const importance = body.importance ?? importanceFromMetadata(metadata);
  return {
    id: body.id,
    content,
    embedding,
    metadata,
    tags: body.tags ?? [],
    userId: body.user_id ?? stringOrNull(metadata.user_id),
    sessionId: body.session_id ?? stringOrNull(metadata.session_id),
    eventTime: parseTime(body.event_time ?? metadata.event_time ?? metadata.timestamp, `${field}.event_time`),
    importance,
  };
}

function importanceFromMetadata(metadata: Record<string, unknown>): number | null {
  const v = metadata.importance;
  return typeof v === 'number' && Number.isFinite(v) && v >= 0 && v <= 1 ? v : null;
}

const stringOrNull = (v: unknown) => (typeof v === 'string' && v !== '' ? v : null);

/** user_emotion: a label, {dominant|dominant_emotion, valence}, or the analyser's own output. */
export function parseUserEmotion(value: unknown): UserEmotion | undefined {
  if (value === undefined || value === null) return undefined;
  if (typeof value === 'string') return { dominant: value.toLowerCase() };
  if (typeof value === 'object' && !Array.isArray(value)) {
    const v = value as Record<string, unknown>;
    const dominant = v.dominant ?? v.dominant_emotion ?? v.label;
    const valence = v.valence;
    if (dominant !== undefined && typeof dominant !== 'string') {
      throw badRequest('invalid_user_emotion', 'user_emotion.dominant must be a string');
    }
    if (
      valence !== undefined &&
      (typeof valence !== 'number' || !Number.isFinite(valence) || valence < -1 || valence > 1)
    ) {
      throw badRequest('invalid_user_emotion', 'user_emotion.valence must be a number in [-1, 1]');
    }
    return { dominant: dominant?.toLowerCase(), valence: valence as number | undefined };
  }
  throw badRequest('invalid_user_emotion', 'user_emotion must be a label or an object {dominant, valence}');
}
