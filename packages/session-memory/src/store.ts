// SessionStore: the typed library API over a Db (PostgreSQL or PGlite) — sessions and their interactions, the
// context window, idle expiry, extractive summaries, agent state, user profiles, and short-term memories with
// full-text search, relationships and an access log. The services are thin HTTP layers over it; in one-process
// mode the coordinator calls it directly.
//
// Conventions: getters return `null` for an unknown id; operations on an unknown id throw a 404 AppError, on a
// session that is not active a 409, on bad input a 400 (the kit's envelope over HTTP). Every multi-statement write
// runs in one transaction. Time comes from the injected clock (or an explicit `now`), never from the database.
import { randomUUID } from 'node:crypto';
import { badRequest, conflict, notFound } from '@synthians/kit';
import { mapDbError, type Db, type Row } from './db.ts';
import { estimateTokens, extractiveSummary, type SummarySentence } from './text.ts';

export type SessionStatus = 'active' | 'ended' | 'expired' | 'archived';
export const SESSION_STATUSES: readonly SessionStatus[] = ['active', 'ended', 'expired', 'archived'];
export type Role = 'user' | 'assistant' | 'system' | 'tool';
export const ROLES: readonly Role[] = ['user', 'assistant', 'system', 'tool'];
export type Json = null | boolean | number | string | Json[] | { [key: string]: Json };
export type Metadata = Record<string, unknown>;

export interface Session {
  session_id: string;
  user_id: string | null;
  /** 'expired' also when the idle TTL has passed but the sweep has not run yet. */
  status: SessionStatus;
  metadata: Metadata;
  summary: string | null;
  ttl_seconds: number;
  interaction_count: number;
  created_at: string;
  updated_at: string;
  last_active_at: string;
  /** last_active_at + ttl_seconds: the session expires when idle until then. */
  expires_at: string;
  ended_at: string | null;
}

export interface Interaction {
  session_id: string;
  /** 1, 2, 3… within the session. */
  seq: number;
  role: Role;
  content: string;
  metadata: Metadata;
  tags: string[];
  created_at: string;
}

export interface Memory {
  id: string;
  session_id: string | null;
  user_id: string | null;
  type: string;
  content: string;
  metadata: Metadata;
  tags: string[];
  created_at: string;
  updated_at: string;
  expires_at: string | null;
  access_count: number;
  last_accessed_at: string | null;
}

export interface SearchHit extends Memory {
  /** ts_rank of the memory's tsvector against the query. */
  rank: number;
}

/** A long-term memory write for the outbox: `memory_id` is the memory's id in the memory core (idempotency). */
export interface MemoryWrite {
  memory_id: string;
  content: string;
  metadata?: Record<string, Json>;
}

export interface QueuedMemoryWrite extends Required<MemoryWrite> {
  /** Order in the outbox. */
  seq: number;
  attempts: number;
  created_at: string;
}

export interface AgentStateEntry {
  agent: string;
  key: string;
  value: Json;
  expires_at: string | null;
  created_at: string;
  updated_at: string;
}

export interface UserProfile {
  user_id: string;
  profile: Metadata;
  created_at: string;
  updated_at: string;
}

export interface Relationship {
  source_id: string;
  target_id: string;
  type: string;
  strength: number;
  created_at: string;
}

export interface RelatedMemory {
  memory: Memory;
  type: string;
  strength: number;
  /** 'outgoing': relate(id, other); 'incoming': relate(other, id). */
  direction: 'outgoing' | 'incoming';
}

export interface AccessLogEntry {
  memory_id: string;
  operation: 'get' | 'batch_get' | 'search' | 'related';
  accessed_at: string;
}

export interface SessionStoreOptions {
  /** The time source of everything time-dependent (tests inject one). */
  clock?: () => Date;
  /** TTL of a session without `ttl_seconds` (idle time until it expires). Default 1800. */
  sessionTtlSeconds?: number;
  /** TTL of a memory without `ttl_seconds`; null → memories never expire unless asked. Default null. */
  memoryTtlSeconds?: number | null;
  /** Largest content (interaction, memory, summary) in UTF-8 bytes; also the largest metadata JSON. Default 65536. */
  maxContentBytes?: number;
  /** Access-log entries older than this are pruned by `sweep`. Default 30 days. */
  accessLogRetentionMs?: number;
}

export interface CreateSessionInput {
  session_id?: string;
  user_id?: string | null;
  metadata?: Metadata;
  ttl_seconds?: number;
}

export interface AddInteractionInput {
  role: Role;
  content: string;
  metadata?: Metadata;
  tags?: string[];
}

export interface CreateMemoryInput {
  content: string;
  session_id?: string | null;
  user_id?: string | null;
  type?: string;
  metadata?: Metadata;
  tags?: string[];
  /** Seconds until the memory expires; null → never; unset → the store's default. */
  ttl_seconds?: number | null;
}

export interface UpdateMemoryInput {
  content?: string;
  user_id?: string | null;
  type?: string;
  /** Replaces the metadata object. */
  metadata?: Metadata;
  /** Replaces the tag set. */
  tags?: string[];
  /** From now; null → never expires. */
  ttl_seconds?: number | null;
}

export interface MemoryFilter {
  user_id?: string;
  session_id?: string;
  /** Memories carrying every one of these tags. */
  tags?: string[];
  type?: string;
  /** Memories created before this instant. */
  older_than?: Date | string;
}

export interface SearchInput {
  /** websearch_to_tsquery syntax: words, "quoted phrases", OR, -excluded. */
  query: string;
  user_id?: string;
  session_id?: string;
  tags?: string[];
  type?: string;
  limit?: number;
}

export interface ContextWindow {
  session_id: string;
  /** The most recent interactions that fit the budget, oldest first. */
  interactions: Interaction[];
  /** Estimated tokens of `interactions` (see `estimateTokens`: ceil(code points / 4) + 4 per message). */
  tokens: number;
  max_tokens: number;
  /** True when older interactions were left out. */
  truncated: boolean;
}

export interface SessionSummary {
  session_id: string;
  summary: string;
  sentences: SummarySentence[];
  max_chars: number;
}

export interface SweepResult {
  sessions_expired: number;
  memories_expired: number;
  agent_state_expired: number;
  access_log_pruned: number;
}

const MAX_LIMIT = 1000;
const MAX_TAGS = 32;
const MAX_TTL_SECONDS = 10 * 365 * 24 * 3600;
const MAX_CONTEXT_TOKENS = 1_000_000;
const SUMMARY_SOURCE_LIMIT = 2000;
const idPattern = /^[A-Za-z0-9_.:@-]{1,128}$/;
// eslint-disable-next-line no-control-regex
const controlChars = /[\u0000-\u001f\u007f]/;
/** A NUL as JSON.stringify escapes it: \u0000 after an even number of backslashes (each pair is one backslash). */
const escapedNul = /(?<!\\)(?:\\\\)*\\u0000/;

const SESSION_COLUMNS = `session_id, user_id, status, metadata, summary, ttl_seconds, interaction_count, created_at,
  updated_at, last_active_at, expires_at, ended_at`;
const INTERACTION_COLUMNS = `i.session_id, i.seq, i.role, i.content, i.metadata, i.created_at,
  ARRAY(SELECT t.tag FROM interaction_tags t WHERE t.session_id = i.session_id AND t.seq = i.seq ORDER BY t.tag) AS tags`;
const MEMORY_COLUMNS = `m.id, m.session_id, m.user_id, m.type, m.content, m.metadata, m.created_at, m.updated_at,
  m.expires_at, m.access_count, m.last_accessed_at,
  ARRAY(SELECT t.tag FROM memory_tags t WHERE t.memory_id = m.id ORDER BY t.tag) AS tags`;
/** Effective status: an active session past its expiry is reported 'expired' before the sweep marks it. */
const effectiveStatus = (nowParam: string) =>
  `CASE WHEN status = 'active' AND expires_at <= ${nowParam}::timestamptz THEN 'expired' ELSE status END`;

export class SessionStore {
  readonly clock: () => Date;
  readonly sessionTtlSeconds: number;
  readonly memoryTtlSeconds: number | null;
  readonly maxContentBytes: number;
  readonly accessLogRetentionMs: number;

  constructor(
    readonly db: Db,
    options: SessionStoreOptions = {},
  ) {
    this.clock = options.clock ?? (() => new Date());
    this.sessionTtlSeconds = options.sessionTtlSeconds ?? 1800;
    this.memoryTtlSeconds = options.memoryTtlSeconds ?? null;
    this.maxContentBytes = options.maxContentBytes ?? 65536;
    this.accessLogRetentionMs = options.accessLogRetentionMs ?? 30 * 24 * 3600 * 1000;
  }

  private now(): string {
    return this.clock().toISOString();
  }

  /** Runs `fn`, turning database errors a client caused into 4xx AppErrors. */
  private async run<T>(fn: () => Promise<T>): Promise<T> {
    try {
      return await fn();
    } catch (err) {
      throw mapDbError(err);
    }
  }

  // -------------------------------------------------------------------------------------------------------------
  // Sessions

  async createSession(input: CreateSessionInput = {}): Promise<Session> {
    const id = input.session_id === undefined ? randomUUID() : checkId(input.session_id, 'session_id');
    const userId = optionalUserId(input.user_id);
    const metadata = this.checkMetadata(input.metadata);
    const ttl = input.ttl_seconds === undefined ? this.sessionTtlSeconds : checkTtl(input.ttl_seconds);
    const now = this.now();
    return this.run(async () => {
      try {
        const { rows } = await this.db.query(
          `INSERT INTO sessions (session_id, user_id, metadata, ttl_seconds, created_at, updated_at, last_active_at,
             expires_at)
           VALUES ($1, $2, $3::jsonb, $4::int, $5, $5, $5, $5::timestamptz + $4::int * interval '1 second')
           RETURNING ${SESSION_COLUMNS}`,
          [id, userId, metadata, ttl, now],
        );
        return toSession(rows[0]!, now);
      } catch (err) {
        if ((err as { code?: string }).code === '23505') {
          throw conflict('session_exists', `Session ${id} already exists`);
        }
        throw err;
      }
    });
  }

  async getSession(sessionId: string): Promise<Session | null> {
    if (!idPattern.test(sessionId)) return null;
    const now = this.now();
    const { rows } = await this.run(() =>
      this.db.query(`SELECT ${SESSION_COLUMNS} FROM sessions WHERE session_id = $1`, [sessionId]),
    );
    return rows[0] ? toSession(rows[0], now) : null;
  }

  /** Newest first; `next_cursor` continues the listing (null at the end). */
  async listSessions(
    options: { user_id?: string; status?: SessionStatus; limit?: number; cursor?: string } = {},
  ): Promise<{ sessions: Session[]; next_cursor: string | null }> {
    const limit = checkLimit(options.limit, 50);
    if (options.status !== undefined && !SESSION_STATUSES.includes(options.status)) {
      throw badRequest('invalid_status', `status must be one of ${SESSION_STATUSES.join(', ')}`);
    }
    const cursor = options.cursor === undefined ? undefined : decodeCursor(options.cursor);
    const now = this.now();
    const { rows } = await this.run(() =>
      this.db.query(
        `SELECT ${SESSION_COLUMNS} FROM sessions
         WHERE ($2::text IS NULL OR user_id = $2)
           AND ($3::text IS NULL OR ${effectiveStatus('$1')} = $3)
           AND ($4::timestamptz IS NULL OR (created_at, session_id) < ($4::timestamptz, $5::text))
         ORDER BY created_at DESC, session_id DESC
         LIMIT $6`,
        [
          now,
          options.user_id ?? null,
          options.status ?? null,
          cursor?.[0] ?? null,
          cursor?.[1] ?? null,
          limit + 1,
        ],
      ),
    );
    const sessions = rows.slice(0, limit).map((r) => toSession(r, now));
    const last = sessions.at(-1);
    return {
      sessions,
      next_cursor: rows.length > limit && last ? encodeCursor([last.created_at, last.session_id]) : null,
    };
  }

  /** Ends an active session, with a given summary or (summarize: true) an extractive one. */
  async endSession(
    sessionId: string,
    options: { summary?: string; summarize?: boolean; max_chars?: number } = {},
  ): Promise<Session> {
    const given = options.summary === undefined ? undefined : this.checkText(options.summary, 'summary');
    const maxChars = checkMaxChars(options.max_chars);
    const now = this.now();
    return this.run(() =>
      this.db.transaction(async (tx) => {
        await this.lockActive(tx, sessionId, now);
        let summary = given ?? null;
        if (summary === null && options.summarize) {
          summary = (await this.summaryOf(tx, sessionId, maxChars)).summary || null;
        }
        const { rows } = await tx.query(
          `UPDATE sessions SET status = 'ended', ended_at = $2, updated_at = $2, summary = coalesce($3, summary)
           WHERE session_id = $1 RETURNING ${SESSION_COLUMNS}`,
          [sessionId, now, summary],
        );
        return toSession(rows[0]!, now);
      }),
    );
  }

  /** Archives a session in any state (idempotent); archived sessions take no interactions. */
  async archiveSession(sessionId: string): Promise<Session> {
    const now = this.now();
    const { rows } = await this.run(() =>
      this.db.query(
        `UPDATE sessions SET status = 'archived', ended_at = coalesce(ended_at, $2), updated_at = $2
         WHERE session_id = $1 RETURNING ${SESSION_COLUMNS}`,
        [sessionId, now],
      ),
    );
    if (!rows[0]) throw notFound(`Unknown session ${sessionId}`);
    return toSession(rows[0], now);
  }

  /** Deletes a session with its interactions and memories; false when there was none. */
  async deleteSession(sessionId: string): Promise<boolean> {
    const { rowCount } = await this.run(() =>
      this.db.query('DELETE FROM sessions WHERE session_id = $1', [sessionId]),
    );
    return rowCount > 0;
  }

  /** Marks an active session as used now (its idle expiry restarts). */
  async touchSession(sessionId: string): Promise<Session> {
    const now = this.now();
    return this.run(() =>
      this.db.transaction(async (tx) => {
        await this.lockActive(tx, sessionId, now);
        const { rows } = await tx.query(
          `UPDATE sessions SET last_active_at = $2, updated_at = $2,
             expires_at = $2::timestamptz + ttl_seconds * interval '1 second'
           WHERE session_id = $1 RETURNING ${SESSION_COLUMNS}`,
          [sessionId, now],
        );
        return toSession(rows[0]!, now);
      }),
    );
  }

  /** Locks the session row; 404 when unknown, 409 when not active (or idle past its TTL). */
  private async lockActive(tx: Db, sessionId: string, now: string): Promise<void> {
    const { rows } = await tx.query<{ status: SessionStatus }>(
      `SELECT ${effectiveStatus('$2')} AS status FROM sessions WHERE session_id = $1 FOR UPDATE`,
      [sessionId, now],
    );
    const status = rows[0]?.status;
    if (!status) throw notFound(`Unknown session ${sessionId}`, { session_id: sessionId });
    if (status !== 'active') {
      throw conflict('session_not_active', `Session ${sessionId} is ${status}`, {
        session_id: sessionId,
        status,
      });
    }
  }

  /** Sessions idle past their TTL become 'expired'; returns their ids. */
  async expireIdle(now: Date = this.clock()): Promise<string[]> {
    const at = now.toISOString();
    const { rows } = await this.run(() =>
      this.db.query<{ session_id: string }>(
        `UPDATE sessions SET status = 'expired', ended_at = expires_at, updated_at = $1
         WHERE status = 'active' AND expires_at <= $1 RETURNING session_id`,
        [at],
      ),
    );
    return rows.map((r) => r.session_id);
  }

  // -------------------------------------------------------------------------------------------------------------
  // Interactions and context

  async addInteraction(sessionId: string, input: AddInteractionInput): Promise<Interaction> {
    if (!ROLES.includes(input?.role))
      throw badRequest('invalid_role', `role must be one of ${ROLES.join(', ')}`);
    const content = this.checkText(input.content, 'content');
    const metadata = this.checkMetadata(input.metadata);
    const tags = checkTags(input.tags);
    const now = this.now();
    return this.run(() =>
      this.db.transaction(async (tx) => {
        const bumped = await tx.query<{ interaction_count: number }>(
          `UPDATE sessions SET interaction_count = interaction_count + 1, last_active_at = $2, updated_at = $2,
             expires_at = $2::timestamptz + ttl_seconds * interval '1 second'
           WHERE session_id = $1 AND status = 'active' AND expires_at > $2
           RETURNING interaction_count`,
          [sessionId, now],
        );
        const seq = bumped.rows[0]?.interaction_count;
        if (seq === undefined) {
          await this.lockActive(tx, sessionId, now);
          throw new Error('unreachable: session is active but was not updated');
        }
        await tx.query(
          `INSERT INTO interactions (session_id, seq, role, content, metadata, created_at)
           VALUES ($1, $2, $3, $4, $5::jsonb, $6)`,
          [sessionId, seq, input.role, content, metadata, now],
        );
        if (tags.length > 0) {
          await tx.query(
            `INSERT INTO interaction_tags (session_id, seq, tag) SELECT $1, $2, unnest($3::text[])`,
            [sessionId, seq, tags],
          );
        }
        return {
          session_id: sessionId,
          seq,
          role: input.role,
          content,
          metadata: JSON.parse(metadata) as Metadata,
          tags: [...tags].sort(),
          created_at: now,
        };
      }),
    );
  }

  /** The `limit` latest interactions before `before` (a seq), oldest first; `next_before` pages further back. */
  async listInteractions(
    sessionId: string,
    options: { limit?: number; before?: number } = {},
  ): Promise<{ interactions: Interaction[]; next_before: number | null }> {
    const limit = checkLimit(options.limit, 50);
    if (options.before !== undefined && (!Number.isInteger(options.before) || options.before < 1)) {
      throw badRequest('invalid_before', 'before must be a positive integer (an interaction seq)');
    }
    await this.requireSession(sessionId);
    const { rows } = await this.run(() =>
      this.db.query(
        `SELECT ${INTERACTION_COLUMNS} FROM interactions i
         WHERE i.session_id = $1 AND ($2::int IS NULL OR i.seq < $2)
         ORDER BY i.seq DESC LIMIT $3`,
        [sessionId, options.before ?? null, limit + 1],
      ),
    );
    const page = rows.slice(0, limit).map(toInteraction).reverse();
    return { interactions: page, next_before: rows.length > limit && page[0] ? page[0].seq : null };
  }

  /**
   * The most recent interactions whose estimated tokens (ceil(code points / 4) + 4 each) add up to at most
   * `max_tokens`, oldest first. Stops at the first message that does not fit (never skips one to fit an older).
   */
  async getContext(sessionId: string, options: { max_tokens: number }): Promise<ContextWindow> {
    const max = options?.max_tokens;
    if (!Number.isInteger(max) || max < 1 || max > MAX_CONTEXT_TOKENS) {
      throw badRequest('invalid_max_tokens', `max_tokens must be an integer from 1 to ${MAX_CONTEXT_TOKENS}`);
    }
    const session = await this.requireSession(sessionId);
    const { rows } = await this.run(() =>
      this.db.query(
        `SELECT * FROM (
           SELECT ${INTERACTION_COLUMNS},
             sum(ceil(length(i.content) / 4.0) + 4) OVER (ORDER BY i.seq DESC)::int AS running
           FROM interactions i WHERE i.session_id = $1
         ) w WHERE running <= $2 ORDER BY seq`,
        [sessionId, max],
      ),
    );
    const interactions = rows.map(toInteraction);
    const tokens = interactions.reduce((sum, i) => sum + estimateTokens(i.content), 0);
    return {
      session_id: sessionId,
      interactions,
      tokens,
      max_tokens: max,
      truncated: interactions.length < session.interaction_count,
    };
  }

  /** An extractive summary of the session (see `extractiveSummary`); `store` saves it as the session's summary. */
  async summarize(
    sessionId: string,
    options: { max_chars?: number; store?: boolean } = {},
  ): Promise<SessionSummary> {
    const maxChars = checkMaxChars(options.max_chars);
    const now = this.now();
    return this.run(() =>
      this.db.transaction(async (tx) => {
        const exists = await tx.query('SELECT 1 FROM sessions WHERE session_id = $1 FOR UPDATE', [sessionId]);
        if (exists.rows.length === 0)
          throw notFound(`Unknown session ${sessionId}`, { session_id: sessionId });
        const result = await this.summaryOf(tx, sessionId, maxChars);
        if (options.store) {
          await tx.query('UPDATE sessions SET summary = $2, updated_at = $3 WHERE session_id = $1', [
            sessionId,
            result.summary || null,
            now,
          ]);
        }
        return { session_id: sessionId, ...result, max_chars: maxChars };
      }),
    );
  }

  private async summaryOf(tx: Db, sessionId: string, maxChars: number) {
    const { rows } = await tx.query<{ seq: number; role: string; content: string }>(
      `SELECT seq, role, content FROM (
         SELECT seq, role, content FROM interactions
         WHERE session_id = $1 AND role IN ('user', 'assistant') ORDER BY seq DESC LIMIT $2
       ) r ORDER BY seq`,
      [sessionId, SUMMARY_SOURCE_LIMIT],
    );
    return extractiveSummary(rows, maxChars);
  }

  private async requireSession(sessionId: string): Promise<Session> {
    const session = await this.getSession(sessionId);
    if (!session) throw notFound(`Unknown session ${sessionId}`, { session_id: sessionId });
    return session;
  }

  // -------------------------------------------------------------------------------------------------------------
  // Agent state (key → JSON value, optional expiry): the coordinator's timers and reminders.

  async getAgentState(agent: string, key: string): Promise<AgentStateEntry | null> {
    checkName(agent, 'agent', 128);
    checkName(key, 'key', 512);
    const { rows } = await this.run(() =>
      this.db.query(
        `SELECT agent, key, value, expires_at, created_at, updated_at FROM agent_state
         WHERE agent = $1 AND key = $2 AND (expires_at IS NULL OR expires_at > $3)`,
        [agent, key, this.now()],
      ),
    );
    return rows[0] ? toAgentState(rows[0]) : null;
  }

  async setAgentState(
    agent: string,
    key: string,
    value: Json,
    options: { expires_at?: Date | string | null } = {},
  ): Promise<AgentStateEntry> {
    checkName(agent, 'agent', 128);
    checkName(key, 'key', 512);
    if (value === undefined) throw badRequest('invalid_value', 'value must be JSON (null is allowed)');
    const json = this.checkJson(value, 'value');
    const expires = options.expires_at == null ? null : checkInstant(options.expires_at, 'expires_at');
    const now = this.now();
    const { rows } = await this.run(() =>
      this.db.query(
        `INSERT INTO agent_state (agent, key, value, expires_at, created_at, updated_at)
         VALUES ($1, $2, $3::jsonb, $4, $5, $5)
         ON CONFLICT (agent, key) DO UPDATE SET value = EXCLUDED.value, expires_at = EXCLUDED.expires_at,
           updated_at = EXCLUDED.updated_at,
           created_at = CASE WHEN agent_state.expires_at IS NOT NULL AND agent_state.expires_at <= EXCLUDED.updated_at
                             THEN EXCLUDED.created_at ELSE agent_state.created_at END
         RETURNING agent, key, value, expires_at, created_at, updated_at`,
        [agent, key, json, expires, now],
      ),
    );
    return toAgentState(rows[0]!);
  }

  async deleteAgentState(agent: string, key: string): Promise<boolean> {
    const { rowCount } = await this.run(() =>
      this.db.query('DELETE FROM agent_state WHERE agent = $1 AND key = $2', [agent, key]),
    );
    return rowCount > 0;
  }

  /** The agent's live entries, by key; `prefix` narrows to keys starting with it. */
  async listAgentState(
    agent: string,
    options: { prefix?: string; limit?: number } = {},
  ): Promise<AgentStateEntry[]> {
    checkName(agent, 'agent', 128);
    const limit = checkLimit(options.limit, MAX_LIMIT);
    const { rows } = await this.run(() =>
      this.db.query(
        `SELECT agent, key, value, expires_at, created_at, updated_at FROM agent_state
         WHERE agent = $1 AND ($2::text IS NULL OR starts_with(key, $2)) AND (expires_at IS NULL OR expires_at > $3)
         ORDER BY key LIMIT $4`,
        [agent, options.prefix ?? null, this.now(), limit],
      ),
    );
    return rows.map(toAgentState);
  }

  // -------------------------------------------------------------------------------------------------------------
  // Memory outbox: long-term memory writes waiting for the memory core (written in the turn's transaction).

  /** Queues writes; an id already queued is kept as it is (a retried turn queues nothing twice). */
  async enqueueMemoryWrites(items: MemoryWrite[]): Promise<number> {
    if (items.length === 0) return 0;
    for (const item of items) {
      checkName(item.memory_id, 'memory_id', 256);
      if (typeof item.content !== 'string' || item.content === '')
        throw badRequest('invalid_content', 'content must be a non-empty string');
    }
    const { rowCount } = await this.run(() =>
      this.db.query(
        `INSERT INTO memory_outbox (memory_id, content, metadata, created_at)
         SELECT x.memory_id, x.content, x.metadata, $2
         FROM jsonb_to_recordset($1::jsonb) AS x(memory_id text, content text, metadata jsonb)
         ON CONFLICT (memory_id) DO NOTHING`,
        [
          this.checkJson(
            items.map((i) => ({ memory_id: i.memory_id, content: i.content, metadata: i.metadata ?? {} })),
            'items',
          ),
          this.now(),
        ],
      ),
    );
    return rowCount;
  }

  /** The oldest queued writes, in order. */
  async pendingMemoryWrites(limit: number): Promise<QueuedMemoryWrite[]> {
    const { rows } = await this.run(() =>
      this.db.query(
        `SELECT id, memory_id, content, metadata, attempts, created_at FROM memory_outbox ORDER BY id LIMIT $1`,
        [Math.max(1, Math.min(limit, 10_000))],
      ),
    );
    return rows.map((r) => ({
      seq: Number(r.id),
      memory_id: r.memory_id as string,
      content: r.content as string,
      metadata: r.metadata as Record<string, Json>,
      attempts: Number(r.attempts),
      created_at: iso(r.created_at)!,
    }));
  }

  /** Removes writes the memory core now holds (or that can never be stored). */
  async completeMemoryWrites(seqs: number[]): Promise<number> {
    if (seqs.length === 0) return 0;
    const { rowCount } = await this.run(() =>
      this.db.query('DELETE FROM memory_outbox WHERE id = ANY($1::bigint[])', [seqs]),
    );
    return rowCount;
  }

  /** Counts a failed attempt for each write. */
  async failMemoryWrites(seqs: number[]): Promise<void> {
    if (seqs.length === 0) return;
    await this.run(() =>
      this.db.query('UPDATE memory_outbox SET attempts = attempts + 1 WHERE id = ANY($1::bigint[])', [seqs]),
    );
  }

  async memoryOutboxSize(): Promise<number> {
    const { rows } = await this.run(() => this.db.query('SELECT count(*)::int AS n FROM memory_outbox', []));
    return Number(rows[0]?.n ?? 0);
  }

  // -------------------------------------------------------------------------------------------------------------
  // User profiles

  async getProfile(userId: string): Promise<UserProfile | null> {
    const { rows } = await this.run(() =>
      this.db.query('SELECT user_id, profile, created_at, updated_at FROM user_profiles WHERE user_id = $1', [
        userId,
      ]),
    );
    return rows[0] ? toProfile(rows[0]) : null;
  }

  /** Shallow merge of `patch` into the profile (created when missing); a null value removes its key. */
  async upsertProfile(userId: string, patch: Metadata): Promise<UserProfile> {
    const id = optionalUserId(userId);
    if (id === null) throw badRequest('invalid_user_id', 'user_id is required');
    const json = this.checkMetadata(patch);
    const now = this.now();
    const { rows } = await this.run(() =>
      this.db.query(
        `INSERT INTO user_profiles (user_id, profile, created_at, updated_at)
         VALUES ($1, jsonb_strip_nulls($2::jsonb), $3, $3)
         ON CONFLICT (user_id) DO UPDATE SET
           profile = (user_profiles.profile || $2::jsonb)
                     - ARRAY(SELECT e.key FROM jsonb_each($2::jsonb) e WHERE e.value = 'null'::jsonb),
           updated_at = EXCLUDED.updated_at
         RETURNING user_id, profile, created_at, updated_at`,
        [id, json, now],
      ),
    );
    return toProfile(rows[0]!);
  }

  // -------------------------------------------------------------------------------------------------------------
  // Short-term memories

  async createMemory(input: CreateMemoryInput): Promise<Memory> {
    const content = this.checkText(input?.content, 'content');
    const sessionId = input.session_id == null ? null : checkId(input.session_id, 'session_id');
    const userId = optionalUserId(input.user_id);
    const type = input.type === undefined ? 'note' : checkName(input.type, 'type', 64);
    const metadata = this.checkMetadata(input.metadata);
    const tags = checkTags(input.tags);
    const ttl = input.ttl_seconds === undefined ? this.memoryTtlSeconds : input.ttl_seconds;
    if (ttl !== null) checkTtl(ttl);
    const id = randomUUID();
    const now = this.now();
    return this.run(() =>
      this.db.transaction(async (tx) => {
        try {
          await tx.query(
            `INSERT INTO memories (id, session_id, user_id, type, content, metadata, created_at, updated_at, expires_at)
             VALUES ($1, $2, $3, $4, $5, $6::jsonb, $7, $7,
               CASE WHEN $8::int IS NULL THEN NULL ELSE $7::timestamptz + $8::int * interval '1 second' END)`,
            [id, sessionId, userId, type, content, metadata, now, ttl],
          );
        } catch (err) {
          if ((err as { code?: string }).code === '23503') {
            throw notFound(`Unknown session ${sessionId}`, { session_id: sessionId });
          }
          throw err;
        }
        if (tags.length > 0) {
          await tx.query('INSERT INTO memory_tags (memory_id, tag) SELECT $1, unnest($2::text[])', [
            id,
            tags,
          ]);
        }
        const { rows } = await tx.query(`SELECT ${MEMORY_COLUMNS} FROM memories m WHERE m.id = $1`, [id]);
        return toMemory(rows[0]!);
      }),
    );
  }

  /** A live memory (null when unknown or expired); the read is logged and counted. */
  async getMemory(id: string): Promise<Memory | null> {
    if (typeof id !== 'string' || id.length === 0 || id.length > 128) return null;
    return (await this.readMemories([id], 'get'))[0] ?? null;
  }

  /** The live memories among `ids`, in the order asked (unknown or expired ids left out). */
  async getMemories(ids: string[]): Promise<Memory[]> {
    if (!Array.isArray(ids) || ids.length > MAX_LIMIT || ids.some((i) => typeof i !== 'string')) {
      throw badRequest('invalid_ids', `ids must be an array of at most ${MAX_LIMIT} strings`);
    }
    const unique = [...new Set(ids)];
    if (unique.length === 0) return [];
    const found = new Map((await this.readMemories(unique, 'batch_get')).map((m) => [m.id, m]));
    return unique.flatMap((id) => found.get(id) ?? []);
  }

  private async readMemories(ids: string[], operation: AccessLogEntry['operation']): Promise<Memory[]> {
    const now = this.now();
    const { rows } = await this.run(() =>
      this.db.query(
        `WITH hit AS (
           UPDATE memories SET access_count = access_count + 1, last_accessed_at = $2
           WHERE id = ANY($1::text[]) AND (expires_at IS NULL OR expires_at > $2) RETURNING *
         ), logged AS (
           INSERT INTO access_log (memory_id, operation, accessed_at) SELECT id, $3, $2 FROM hit
         )
         SELECT ${MEMORY_COLUMNS} FROM hit m`,
        [ids, now, operation],
      ),
    );
    return rows.map(toMemory);
  }

  async updateMemory(id: string, patch: UpdateMemoryInput): Promise<Memory> {
    const content = patch.content === undefined ? undefined : this.checkText(patch.content, 'content');
    const userId = patch.user_id === undefined ? undefined : optionalUserId(patch.user_id);
    const type = patch.type === undefined ? undefined : checkName(patch.type, 'type', 64);
    const metadata = patch.metadata === undefined ? undefined : this.checkMetadata(patch.metadata);
    const tags = patch.tags === undefined ? undefined : checkTags(patch.tags);
    if (patch.ttl_seconds != null) checkTtl(patch.ttl_seconds);
    const now = this.now();
    return this.run(() =>
      this.db.transaction(async (tx) => {
        const { rows } = await tx.query(
          `UPDATE memories SET
             content = coalesce($2, content),
             user_id = CASE WHEN $3::boolean THEN $4 ELSE user_id END,
             type = coalesce($5, type),
             metadata = coalesce($6::jsonb, metadata),
             expires_at = CASE WHEN NOT $7::boolean THEN expires_at
                               WHEN $8::int IS NULL THEN NULL
                               ELSE $9::timestamptz + $8::int * interval '1 second' END,
             updated_at = $9
           WHERE id = $1 AND (expires_at IS NULL OR expires_at > $9)
           RETURNING id`,
          [
            id,
            content ?? null,
            userId !== undefined,
            userId ?? null,
            type ?? null,
            metadata ?? null,
            patch.ttl_seconds !== undefined,
            patch.ttl_seconds ?? null,
            now,
          ],
        );
        if (rows.length === 0) throw notFound(`Unknown memory ${id}`, { id });
        if (tags !== undefined) {
          await tx.query('DELETE FROM memory_tags WHERE memory_id = $1', [id]);
          if (tags.length > 0) {
            await tx.query('INSERT INTO memory_tags (memory_id, tag) SELECT $1, unnest($2::text[])', [
              id,
              tags,
            ]);
          }
        }
        const read = await tx.query(`SELECT ${MEMORY_COLUMNS} FROM memories m WHERE m.id = $1`, [id]);
        return toMemory(read.rows[0]!);
      }),
    );
  }

  async deleteMemory(id: string): Promise<boolean> {
    const { rowCount } = await this.run(() => this.db.query('DELETE FROM memories WHERE id = $1', [id]));
    return rowCount > 0;
  }

  /** Full-text search (websearch_to_tsquery, english), best ts_rank first; hits are logged and counted. */
  async searchMemories(input: SearchInput): Promise<SearchHit[]> {
    const query = input?.query;
    if (typeof query !== 'string' || query.trim() === '') throw badRequest('empty_query', 'query is empty');
    if (query.length > 1000) throw badRequest('query_too_long', 'query is longer than 1000 characters');
    if (controlChars.test(query.replace(/[\t\n\r]/g, ' '))) {
      throw badRequest('invalid_query', 'query contains control characters');
    }
    const limit = checkLimit(input.limit, 10);
    const tags = checkTags(input.tags);
    const now = this.now();
    const { rows } = await this.run(() =>
      this.db.query(
        `WITH q AS (SELECT websearch_to_tsquery('english', $1) AS q),
         hits AS (
           SELECT m.id, ts_rank(m.search, q.q) AS rank, m.created_at
           FROM memories m, q
           WHERE m.search @@ q.q AND (m.expires_at IS NULL OR m.expires_at > $2)
             AND ($3::text IS NULL OR m.user_id = $3)
             AND ($4::text IS NULL OR m.session_id = $4)
             AND ($5::text IS NULL OR m.type = $5)
             AND (cardinality($6::text[]) = 0 OR (SELECT count(*) FROM memory_tags t
                    WHERE t.memory_id = m.id AND t.tag = ANY($6::text[])) = cardinality($6::text[]))
           ORDER BY rank DESC, m.created_at DESC, m.id
           LIMIT $7
         ), touched AS (
           UPDATE memories u SET access_count = u.access_count + 1, last_accessed_at = $2
           FROM hits WHERE u.id = hits.id RETURNING u.*
         ), logged AS (
           INSERT INTO access_log (memory_id, operation, accessed_at) SELECT id, 'search', $2 FROM hits
         )
         SELECT ${MEMORY_COLUMNS}, hits.rank
         FROM touched m JOIN hits ON hits.id = m.id
         ORDER BY hits.rank DESC, m.created_at DESC, m.id`,
        [query, now, input.user_id ?? null, input.session_id ?? null, input.type ?? null, tags, limit],
      ),
    );
    return rows.map((r) => ({ ...toMemory(r), rank: Number(r.rank) }));
  }

  /** Deletes the memories matching every given criterion; refuses an empty filter. Returns how many. */
  async bulkDelete(filter: MemoryFilter): Promise<number> {
    const f = filter ?? {};
    const tags = checkTags(f.tags);
    const olderThan = f.older_than === undefined ? null : checkInstant(f.older_than, 'older_than');
    const any =
      f.user_id !== undefined ||
      f.session_id !== undefined ||
      f.type !== undefined ||
      tags.length > 0 ||
      olderThan;
    if (!any) {
      throw badRequest(
        'empty_filter',
        'bulk delete needs at least one of user_id, session_id, tags, type, older_than',
      );
    }
    const { rowCount } = await this.run(() =>
      this.db.query(
        `DELETE FROM memories m
         WHERE ($1::text IS NULL OR m.user_id = $1)
           AND ($2::text IS NULL OR m.session_id = $2)
           AND ($3::text IS NULL OR m.type = $3)
           AND ($4::timestamptz IS NULL OR m.created_at < $4)
           AND (cardinality($5::text[]) = 0 OR (SELECT count(*) FROM memory_tags t
                  WHERE t.memory_id = m.id AND t.tag = ANY($5::text[])) = cardinality($5::text[]))`,
        [f.user_id ?? null, f.session_id ?? null, f.type ?? null, olderThan, tags],
      ),
    );
    return rowCount;
  }

  /** Deletes memories past their expiry; returns how many. */
  async expireMemories(now: Date = this.clock()): Promise<number> {
    const { rowCount } = await this.run(() =>
      this.db.query('DELETE FROM memories WHERE expires_at <= $1', [now.toISOString()]),
    );
    return rowCount;
  }

  /** Relates memory `a` to `b` (upsert: the strength of an existing relationship is replaced). */
  async relate(a: string, b: string, type = 'related', strength = 1): Promise<Relationship> {
    checkName(type, 'type', 64);
    if (a === b) throw badRequest('self_relationship', 'A memory cannot be related to itself');
    if (typeof strength !== 'number' || !(strength >= 0 && strength <= 1)) {
      throw badRequest('invalid_strength', 'strength must be a number from 0 to 1');
    }
    const now = this.now();
    return this.run(async () => {
      try {
        const { rows } = await this.db.query(
          `INSERT INTO memory_relationships (source_id, target_id, type, strength, created_at)
           VALUES ($1, $2, $3, $4, $5)
           ON CONFLICT (source_id, target_id, type) DO UPDATE SET strength = EXCLUDED.strength
           RETURNING source_id, target_id, type, strength, created_at`,
          [a, b, type, strength, now],
        );
        const r = rows[0]!;
        return {
          source_id: String(r.source_id),
          target_id: String(r.target_id),
          type: String(r.type),
          strength: Number(r.strength),
          created_at: iso(r.created_at)!,
        };
      } catch (err) {
        if ((err as { code?: string }).code === '23503') {
          throw notFound(`Unknown memory ${a} or ${b}`, { source_id: a, target_id: b });
        }
        throw err;
      }
    });
  }

  /** The live memories related to `id` either way, strongest first; 404 when `id` is unknown. */
  async related(id: string, options: { limit?: number } = {}): Promise<RelatedMemory[]> {
    const limit = checkLimit(options.limit, 50);
    const now = this.now();
    return this.run(() =>
      this.db.transaction(async (tx) => {
        const exists = await tx.query(
          'SELECT 1 FROM memories WHERE id = $1 AND (expires_at IS NULL OR expires_at > $2)',
          [id, now],
        );
        if (exists.rows.length === 0) throw notFound(`Unknown memory ${id}`, { id });
        const { rows } = await tx.query<{ other: string; type: string; strength: number; direction: string }>(
          `SELECT r.other, r.type, r.strength, r.direction FROM (
             SELECT target_id AS other, type, strength, 'outgoing' AS direction FROM memory_relationships
             WHERE source_id = $1
             UNION ALL
             SELECT source_id, type, strength, 'incoming' FROM memory_relationships WHERE target_id = $1
           ) r JOIN memories m ON m.id = r.other AND (m.expires_at IS NULL OR m.expires_at > $2)
           ORDER BY r.strength DESC, r.other, r.type LIMIT $3`,
          [id, now, limit],
        );
        if (rows.length === 0) return [];
        const read = await tx.query(
          `WITH hit AS (
             UPDATE memories SET access_count = access_count + 1, last_accessed_at = $2
             WHERE id = ANY($1::text[]) RETURNING *
           ), logged AS (
             INSERT INTO access_log (memory_id, operation, accessed_at) SELECT id, 'related', $2 FROM hit
           )
           SELECT ${MEMORY_COLUMNS} FROM hit m`,
          [[...new Set(rows.map((r) => r.other))], now],
        );
        const byId = new Map(read.rows.map((r) => [String(r.id), toMemory(r)]));
        return rows.flatMap((r) => {
          const memory = byId.get(r.other);
          return memory
            ? [
                {
                  memory,
                  type: r.type,
                  strength: Number(r.strength),
                  direction: r.direction as RelatedMemory['direction'],
                },
              ]
            : [];
        });
      }),
    );
  }

  /** The reads of a memory, newest first. */
  async accessLog(memoryId: string, options: { limit?: number } = {}): Promise<AccessLogEntry[]> {
    const { rows } = await this.run(() =>
      this.db.query(
        `SELECT memory_id, operation, accessed_at FROM access_log WHERE memory_id = $1
         ORDER BY accessed_at DESC, id DESC LIMIT $2`,
        [memoryId, checkLimit(options.limit, 100)],
      ),
    );
    return rows.map((r) => ({
      memory_id: String(r.memory_id),
      operation: r.operation as AccessLogEntry['operation'],
      accessed_at: iso(r.accessed_at)!,
    }));
  }

  /** The background sweep: idle sessions → expired, expired memories and agent state deleted, old access log pruned. */
  async sweep(now: Date = this.clock()): Promise<SweepResult> {
    const sessions = await this.expireIdle(now);
    const memories = await this.expireMemories(now);
    const at = now.toISOString();
    const state = await this.run(() => this.db.query('DELETE FROM agent_state WHERE expires_at <= $1', [at]));
    const log = await this.run(() =>
      this.db.query('DELETE FROM access_log WHERE accessed_at < $1', [
        new Date(now.getTime() - this.accessLogRetentionMs).toISOString(),
      ]),
    );
    return {
      sessions_expired: sessions.length,
      memories_expired: memories,
      agent_state_expired: state.rowCount,
      access_log_pruned: log.rowCount,
    };
  }

  // -------------------------------------------------------------------------------------------------------------
  // Validation

  private checkText(value: unknown, what: string): string {
    if (typeof value !== 'string') throw badRequest(`invalid_${what}`, `${what} must be a string`);
    if (value.trim() === '') throw badRequest(`empty_${what}`, `${what} is empty`);
    if (value.includes('\u0000')) throw badRequest(`invalid_${what}`, `${what} contains a NUL character`);
    const bytes = Buffer.byteLength(value, 'utf8');
    if (bytes > this.maxContentBytes) {
      throw badRequest(
        `${what}_too_large`,
        `${what} is ${bytes} bytes; the limit is ${this.maxContentBytes} bytes (UTF-8)`,
      );
    }
    return value;
  }

  private checkJson(value: unknown, what: string): string {
    let json: string | undefined;
    try {
      json = JSON.stringify(value);
    } catch (err) {
      throw badRequest(`invalid_${what}`, `${what} is not JSON-serialisable: ${(err as Error).message}`);
    }
    if (json === undefined) throw badRequest(`invalid_${what}`, `${what} is not JSON`);
    // JSON.stringify writes NUL as \u0000; the text "\u0000" (a backslash, then u0000) is written \\u0000 and is fine.
    if (escapedNul.test(json)) throw badRequest(`invalid_${what}`, `${what} contains a NUL character`);
    if (Buffer.byteLength(json, 'utf8') > this.maxContentBytes) {
      throw badRequest(`${what}_too_large`, `${what} is larger than ${this.maxContentBytes} bytes as JSON`);
    }
    return json;
  }

  private checkMetadata(value: unknown): string {
    if (value === undefined || value === null) return '{}';
    if (typeof value !== 'object' || Array.isArray(value)) {
      throw badRequest('invalid_metadata', 'metadata must be a JSON object');
    }
    return this.checkJson(value, 'metadata');
  }
}

// ---------------------------------------------------------------------------------------------------------------
// Helpers

function checkId(value: unknown, what: string): string {
  if (typeof value !== 'string' || !idPattern.test(value)) {
    throw badRequest(`invalid_${what}`, `${what} must be 1–128 characters of A–Z a–z 0–9 _ . : @ -`);
  }
  return value;
}

function optionalUserId(value: unknown): string | null {
  if (value === undefined || value === null) return null;
  return checkName(value, 'user_id', 128);
}

function checkName(value: unknown, what: string, max: number): string {
  if (typeof value !== 'string' || value.length === 0 || value.length > max || controlChars.test(value)) {
    throw badRequest(
      `invalid_${what}`,
      `${what} must be a string of 1–${max} characters without control characters`,
    );
  }
  return value;
}

function checkTags(value: unknown): string[] {
  if (value === undefined || value === null) return [];
  if (!Array.isArray(value) || value.length > MAX_TAGS) {
    throw badRequest('invalid_tags', `tags must be an array of at most ${MAX_TAGS} strings`);
  }
  for (const tag of value) checkName(tag, 'tag', 64);
  return [...new Set(value as string[])];
}

function checkTtl(value: unknown): number {
  if (typeof value !== 'number' || !Number.isInteger(value) || value < 1 || value > MAX_TTL_SECONDS) {
    throw badRequest('invalid_ttl', `ttl_seconds must be an integer from 1 to ${MAX_TTL_SECONDS}`);
  }
  return value;
}

function checkLimit(value: unknown, def: number): number {
  if (value === undefined) return def;
  if (typeof value !== 'number' || !Number.isInteger(value) || value < 1 || value > MAX_LIMIT) {
    throw badRequest('invalid_limit', `limit must be an integer from 1 to ${MAX_LIMIT}`);
  }
  return value;
}

function checkMaxChars(value: unknown): number {
  if (value === undefined) return 1000;
  if (typeof value !== 'number' || !Number.isInteger(value) || value < 1 || value > 65536) {
    throw badRequest('invalid_max_chars', 'max_chars must be an integer from 1 to 65536');
  }
  return value;
}

function checkInstant(value: unknown, what: string): string {
  const date = value instanceof Date ? value : typeof value === 'string' ? new Date(value) : undefined;
  if (!date || Number.isNaN(date.getTime())) {
    throw badRequest(`invalid_${what}`, `${what} must be an ISO 8601 timestamp`);
  }
  return date.toISOString();
}

function encodeCursor(value: [string, string]): string {
  return Buffer.from(JSON.stringify(value)).toString('base64url');
}

function decodeCursor(cursor: string): [string, string] {
  try {
    const value = JSON.parse(Buffer.from(cursor, 'base64url').toString('utf8')) as unknown;
    if (
      Array.isArray(value) &&
      value.length === 2 &&
      typeof value[0] === 'string' &&
      typeof value[1] === 'string' &&
      !Number.isNaN(new Date(value[0]).getTime())
    ) {
      return [value[0], value[1]];
    }
  } catch {
    /* fall through */
  }
  throw badRequest('invalid_cursor', 'cursor is not one this API returned');
}

function iso(value: unknown): string | null {
  if (value === null || value === undefined) return null;
  return (value instanceof Date ? value : new Date(String(value))).toISOString();
}

function toSession(r: Row, now: string): Session {
  const expires = iso(r.expires_at)!;
  const status = r.status === 'active' && expires <= now ? 'expired' : (r.status as SessionStatus);
  return {
    session_id: String(r.session_id),
    user_id: (r.user_id as string | null) ?? null,
    status,
    metadata: (r.metadata as Metadata) ?? {},
    summary: (r.summary as string | null) ?? null,
    ttl_seconds: Number(r.ttl_seconds),
    interaction_count: Number(r.interaction_count),
    created_at: iso(r.created_at)!,
    updated_at: iso(r.updated_at)!,
    last_active_at: iso(r.last_active_at)!,
    expires_at: expires,
    ended_at: iso(r.ended_at),
  };
}

function toInteraction(r: Row): Interaction {
  return {
    session_id: String(r.session_id),
    seq: Number(r.seq),
    role: r.role as Role,
    content: String(r.content),
    metadata: (r.metadata as Metadata) ?? {},
    tags: (r.tags as string[]) ?? [],
    created_at: iso(r.created_at)!,
  };
}

function toMemory(r: Row): Memory {
  return {
    id: String(r.id),
    session_id: (r.session_id as string | null) ?? null,
    user_id: (r.user_id as string | null) ?? null,
    type: String(r.type),
    content: String(r.content),
    metadata: (r.metadata as Metadata) ?? {},
    tags: (r.tags as string[]) ?? [],
    created_at: iso(r.created_at)!,
    updated_at: iso(r.updated_at)!,
    expires_at: iso(r.expires_at),
    access_count: Number(r.access_count),
    last_accessed_at: iso(r.last_accessed_at),
  };
}

function toAgentState(r: Row): AgentStateEntry {
  return {
    agent: String(r.agent),
    key: String(r.key),
    value: r.value as Json,
    expires_at: iso(r.expires_at),
    created_at: iso(r.created_at)!,
    updated_at: iso(r.updated_at)!,
  };
}

function toProfile(r: Row): UserProfile {
  return {
    user_id: String(r.user_id),
    profile: (r.profile as Metadata) ?? {},
    created_at: iso(r.created_at)!,
    updated_at: iso(r.updated_at)!,
  };
}
