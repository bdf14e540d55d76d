// The contract between the turn engine and the offline skills.

/** A long-term memory as the skills and the prompt see it. */
export interface RecalledMemory {
  id: string;
  content: string;
  score: number;
  metadata?: Record<string, unknown>;
}

/** Long-term memory operations the skills need (the coordinator implements them over the orchestrator and core). */
export interface LongTermMemoryPort {
  /** Stores an explicit fact through the orchestrator's memory cycle; returns the memory id. */
  remember(content: string, metadata: Record<string, unknown>): Promise<{ id: string }>;
  /** Memories of one user matching `query` (lexical: every content word of the query is a search term). */
  find(userId: string, query: string, options?: { topK?: number }): Promise<RecalledMemory[]>;
  /** The user's most recent memories (for "what do you remember about me"). */
  recent(userId: string, options?: { limit?: number }): Promise<RecalledMemory[]>;
  /** Deletes one memory; false when it was already gone. */
  delete(id: string): Promise<boolean>;
}

/** Per-agent key/value state with optional expiry (the session memory's agent state). */
export interface AgentStatePort {
  get<T = unknown>(agent: string, key: string): Promise<T | undefined>;
  set(agent: string, key: string, value: unknown, options?: { expiresAt?: Date }): Promise<void>;
  delete(agent: string, key: string): Promise<boolean>;
  list<T = unknown>(agent: string, options?: { prefix?: string }): Promise<{ key: string; value: T }[]>;
}

export interface SkillContext {
  /** The user's text as given. */
  text: string;
  /** `normalize(text)`. */
  norm: string;
  userId: string;
  sessionId: string;
  /** Epoch ms of the turn (the engine's clock). */
  now: number;
  timeZone: string;
}

export interface SkillResult {
  reply: string;
  /** Long-term memories the answer used (listed in the turn's response). */
  memories?: RecalledMemory[];
  /**
   * Whether the turn is passed to long-term memory as conversation (default true). The memory commands say false:
   * "remember that …" stores the fact itself, and "forget …" must not be remembered.
   */
  conversational?: boolean;
  /** Structured details for clients (e.g. the timer that was set). */
  data?: Record<string, unknown>;
}

export interface Skill<M = unknown> {
  readonly name: string;
  /** A phrase for the help answer ("tell you the time and date"). */
  readonly help?: string;
  /** The intent's parameters when the text is for this skill, else null. May read state (confirmations). */
  match(ctx: SkillContext): M | null | Promise<M | null>;
  run(match: M, ctx: SkillContext): Promise<SkillResult>;
}
