// The coordinator's view of session memory: `SessionPort` is the subset of @synthians/session-memory's SessionStore
// the coordinator uses (same names and shapes), so the in-process store can later be replaced by an HTTP client of
// the session-memory service. `sessionPortFromStore` adds `atomically` (several writes in one transaction), used to
// store a turn's user text and reply together or not at all.
import type { Env, Logger } from '@synthians/kit';
import { loadSessionMemoryConfig, openConfiguredDb, SessionStore, type Db } from '@synthians/session-memory';
import type { AgentStatePort } from '../skills/types.ts';
import type { OutboxPort } from './memory-writer.ts';

export interface SessionView {
  session_id: string;
  user_id: string | null;
  status: string;
  metadata: Record<string, unknown>;
  summary: string | null;
  interaction_count: number;
  created_at: string;
  last_active_at: string;
  expires_at: string;
  ended_at: string | null;
  [key: string]: unknown;
}

export interface InteractionView {
  seq: number;
  role: string;
  content: string;
  metadata: Record<string, unknown>;
  created_at: string;
  [key: string]: unknown;
}

export interface SessionPort extends OutboxPort {
  createSession(input: {
    session_id?: string;
    user_id?: string | null;
    metadata?: Record<string, unknown>;
    ttl_seconds?: number;
  }): Promise<SessionView>;
  getSession(sessionId: string): Promise<SessionView | null>;
  listSessions(options: {
    user_id?: string;
    status?: 'active' | 'ended' | 'expired' | 'archived';
    limit?: number;
    cursor?: string;
  }): Promise<{ sessions: SessionView[]; next_cursor: string | null }>;
  endSession(sessionId: string, options?: { summary?: string }): Promise<SessionView>;
  deleteSession(sessionId: string): Promise<boolean>;
  addInteraction(
    sessionId: string,
    input: {
      role: 'user' | 'assistant' | 'system' | 'tool';
      content: string;
      metadata?: Record<string, unknown>;
    },
  ): Promise<InteractionView>;
  getContext(
    sessionId: string,
    options: { max_tokens: number },
  ): Promise<{ interactions: InteractionView[]; tokens: number; truncated: boolean }>;
  listInteractions(
    sessionId: string,
    options?: { limit?: number },
  ): Promise<{ interactions: InteractionView[]; next_before: number | null }>;
  getAgentState(agent: string, key: string): Promise<{ value: unknown; expires_at: string | null } | null>;
  /** `value` must be JSON-serialisable. */
  setAgentState(
    agent: string,
    key: string,
    value: unknown,
    options?: { expires_at?: Date | string | null },
  ): Promise<unknown>;
  deleteAgentState(agent: string, key: string): Promise<boolean>;
  listAgentState(agent: string, options?: { prefix?: string }): Promise<{ key: string; value: unknown }[]>;
  /** Runs `fn` with a port whose writes commit together (or not at all). Absent: writes are independent. */
  atomically?<T>(fn: (port: SessionPort) => Promise<T>): Promise<T>;
}

/** The in-process SessionStore as a SessionPort, with transactions. */
export function sessionPortFromStore(store: SessionStore): SessionPort {
  // The store's own methods (through the prototype chain), plus transactions.
  const port = Object.create(store) as SessionPort;
  port.atomically = <T>(fn: (p: SessionPort) => Promise<T>) =>
    store.db.transaction((tx) =>
      fn(
        new SessionStore(tx, {
          clock: store.clock,
          sessionTtlSeconds: store.sessionTtlSeconds,
          memoryTtlSeconds: store.memoryTtlSeconds,
          maxContentBytes: store.maxContentBytes,
          accessLogRetentionMs: store.accessLogRetentionMs,
        }) as unknown as SessionPort,
      ),
    );
  return port;
}

/** Agent state for the skills (values unwrapped, expiry as a Date). */
export function agentStatePort(sessions: SessionPort): AgentStatePort {
  return {
    async get<T>(agent: string, key: string) {
      const e = await sessions.getAgentState(agent, key);
      return (e?.value ?? undefined) as T | undefined;
    },
    async set(agent, key, value, options) {
      await sessions.setAgentState(
        agent,
        key,
        value,
        options?.expiresAt ? { expires_at: options.expiresAt } : {},
      );
    },
    delete: (agent, key) => sessions.deleteAgentState(agent, key),
    async list<T>(agent: string, options?: { prefix?: string }) {
      const entries = await sessions.listAgentState(agent, options?.prefix ? { prefix: options.prefix } : {});
      return entries.map((e) => ({ key: e.key, value: e.value as T }));
    },
  };
}

export interface OpenedSessions {
  store: SessionStore;
  port: SessionPort;
  db: Db;
  close(): Promise<void>;
}

/**
 * Opens the session database the way the session-memory service does, from the same variables (DATABASE_URL,
 * DATABASE_SCHEMA, SESSION_DB_PATH, MIGRATE_ON_START…): PostgreSQL, else PGlite under `<dataDir>/session-db` — one
 * instance per process, shared with a session-memory service running in the same process.
 */
export async function openSessions(options: {
  env: Env;
  dataDir: string;
  logger: Logger;
  sessionTtlSeconds?: number;
  clock?: () => Date;
}): Promise<OpenedSessions> {
  const config = loadSessionMemoryConfig(options.env);
  const db = await openConfiguredDb(config, options.dataDir, options.logger);
  const store = new SessionStore(db, {
    ...(options.sessionTtlSeconds ? { sessionTtlSeconds: options.sessionTtlSeconds } : {}),
    ...(options.clock ? { clock: options.clock } : {}),
  });
  return { store, port: sessionPortFromStore(store), db, close: () => db.close() };
}
