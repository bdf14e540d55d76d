// The conversation core: one turn = session → pending notices → skill or (recalled memories + session context →
// language model, streamed sentence by sentence) → the user text and the reply stored together → long-term memory in
// the background. Text turns (POST /v1/turns) and, later, voice turns (the audio WebSocket) both run through `run`.
import { EventEmitter } from 'node:events';
import { randomUUID } from 'node:crypto';
import { AppError, badRequest, conflict, notFound, type Logger } from '@synthians/kit';
import { SentenceSplitter, splitSentences } from '@synthians/voice';
import { buildPrompt, DEFAULT_SYSTEM_PROMPT, LlmError, type ChatModel } from '../llm/index.ts';
import {
  fallbackReply,
  matchSkill,
  normalize,
  type RecalledMemory,
  type Skill,
  type SkillContext,
} from '../skills/index.ts';
import type { TimerFired } from '../skills/timers.ts';
import type { LongTermMemory } from './memory.ts';
import type { MemoryWriter } from './memory-writer.ts';
import type { SessionPort, SessionView } from './sessions.ts';

export const NOTICE_AGENT = 'coordinator.notices';
export const USER_ID_PATTERN = /^[A-Za-z0-9_.:@-]{1,128}$/;

export interface Turn {
  text: string;
  session_id?: string;
  user_id?: string;
  /** Where the turn came from ('text', 'voice'); stored with the interactions. */
  channel?: string;
}

export interface TurnHooks {
  /** Aborts the turn (barge-in): the language model stops; what was already said is stored, marked interrupted. */
  signal?: AbortSignal;
  /** Every piece of reply text as it is produced (language-model tokens; a skill's whole reply at once). */
  onToken?: (delta: string) => void;
  /** Every complete sentence of the reply, in order, as soon as it is complete (for text to speech). */
  onSentence?: (sentence: string, index: number) => void;
}

export interface Notice {
  type: 'timer.fired';
  message: string;
  timer_id: string;
  kind: string;
  fired_at: number;
}

export interface TurnResult {
  turn_id: string;
  session_id: string;
  user_id: string;
  reply: string;
  /** The skill that answered, 'llm', or 'fallback' (no language model configured). */
  skill: string;
  memories: { id: string; content: string; score: number }[];
  /** Timer and reminder notices delivered with this turn (also spoken first in `reply`). */
  notices: Notice[];
  /** Milliseconds per stage: session, notices, skill | recall + context + llm, store, total. */
  timings: Record<string, number>;
  /** Parts that did not work: 'long_term_memory', 'llm'. Empty when everything answered. */
  degraded: string[];
  /** Whether the user text and the reply were stored in the session. */
  stored: boolean;
  /**
   * 'queued': the turn's long-term memories were committed with it to the durable outbox (they survive a crash)
   * and reach the memory core in the background; 'none': nothing to remember (skills, apologies, interruptions).
   */
  long_term_memory: 'queued' | 'none';
  interrupted: boolean;
  error?: { code: string; message: string };
  data?: Record<string, unknown>;
}

/** What the engine needs of long-term memory (LongTermMemory, or a double). */
export type LongTermMemoryLike = Pick<
  LongTermMemory,
  'process' | 'recall' | 'find' | 'recent' | 'delete' | 'remember'
>;

export interface TurnEngineOptions {
  sessions: SessionPort;
  memory: LongTermMemoryLike;
  skills: Skill[];
  llm?: ChatModel;
  timeZone: string;
  defaultUserId: string;
  maxTurnChars: number;
  recallTopK: number;
  contextTokens: number;
  sessionTtlSeconds?: number;
  systemPrompt?: string;
  now?: () => number;
  logger?: Logger;
  /** Moves the outbox's writes to long-term memory (absent: turns are not remembered). */
  writer?: MemoryWriter;
  /** Turns at once, and how many may wait how long for a slot (absent: no limit). */
  admission?: { concurrency: number; queue: number; queueTimeoutMs: number };
}

const busy = (message: string) => new AppError(503, 'busy', message, { retry_after_ms: 1000 });

/** The apology of a failed language-model answer (the session stays usable; nothing is stored). */
export const LLM_APOLOGY: Record<string, string> = {
  timeout: "Sorry, I'm taking too long to think of an answer. Please try again.",
  default: "Sorry, I couldn't come up with an answer just now. Please try again.",
};

const round = (ms: number) => Math.round(ms * 100) / 100;

export class TurnEngine {
  /** 'notice' (Notice & {session_id, user_id}) for live clients; 'turn' (TurnResult & {channel}) after each turn. */
  readonly events = new EventEmitter();
  private readonly locks = new Map<string, Promise<unknown>>();
  private readonly now: () => number;
  private readonly inFlight = new Set<Promise<unknown>>();
  private active = 0;
  private readonly waiting: (() => void)[] = [];

  constructor(private readonly o: TurnEngineOptions) {
    this.now = o.now ?? Date.now;
  }

  get writer(): MemoryWriter | undefined {
    return this.o.writer;
  }

  get hasLlm(): boolean {
    return this.o.llm !== undefined;
  }

  /** Runs one turn. Bad input: AppError 400; unknown session 404; ended session 409. */
  /**
   * A slot to run a turn in (release it when done): at once while fewer than `concurrency` run, else after the
   * turns before it, up to `queueTimeoutMs`; 503 busy when the queue is full or the wait too long.
   */
  private async acquire(): Promise<() => void> {
    const a = this.o.admission;
    const release = () => {
      const next = this.waiting.shift();
      if (next) next();
      else this.active--;
    };
    if (!a || this.active < a.concurrency) {
      this.active++;
      return release;
    }
    if (this.waiting.length >= a.queue)
      throw busy(`${this.active} turns are running and ${this.waiting.length} waiting; retry shortly`);
    await new Promise<void>((resolve, reject) => {
      const go = () => {
        clearTimeout(timer);
        resolve();
      };
      const timer = setTimeout(() => {
        const i = this.waiting.indexOf(go);
        if (i >= 0) this.waiting.splice(i, 1);
        reject(busy(`No turn slot within ${a.queueTimeoutMs} ms; retry shortly`));
      }, a.queueTimeoutMs);
      this.waiting.push(go);
    });
    // The slot of the turn that finished passes to this one (active stays the same).
    return release;
  }

  /** Throws 503 memory_backlog (with retry_after_ms) while long-term memory is too far behind to take a turn. */
  admit(): void {
    const writer = this.o.writer;
    if (writer?.overloaded)
      throw new AppError(
        503,
        'memory_backlog',
        `Long-term memory is ${writer.size} writes behind; new turns are refused until it catches up`,
        { retry_after_ms: writer.retryAfterMs, backlog: writer.size },
      );
  }

  async run(turn: Turn, hooks: TurnHooks = {}): Promise<TurnResult> {
    this.admit();
    const release = await this.acquire();
    const p = this.runInner(turn, hooks);
    this.inFlight.add(p);
    try {
      return await p;
    } finally {
      this.inFlight.delete(p);
      release();
    }
  }

  /** Resolves when every turn in progress has finished. */
  async turnsDone(): Promise<void> {
    while (this.inFlight.size > 0) await Promise.allSettled([...this.inFlight]);
  }

  /** Resolves when every turn in progress has finished and their long-term memories are written (or must wait). */
  async idle(): Promise<void> {
    await this.turnsDone();
    await this.o.writer?.idle();
  }

  /** A timer fired: keep a notice for the session's next turn and tell live clients now. */
  async deliver(event: TimerFired): Promise<void> {
    const notice: Notice = {
      type: 'timer.fired',
      message: event.message,
      timer_id: event.timer.id,
      kind: event.timer.kind,
      fired_at: event.fired_at,
    };
    await this.o.sessions.setAgentState(NOTICE_AGENT, `${event.timer.session_id}:${event.timer.id}`, notice, {
      expires_at: new Date(event.fired_at + 86_400_000),
    });
    this.events.emit('notice', {
      ...notice,
      session_id: event.timer.session_id,
      user_id: event.timer.user_id,
    });
  }

  private validate(turn: Turn): { text: string; userId?: string } {
    if (typeof turn?.text !== 'string') throw badRequest('validation_error', 'text must be a string');
    // Control characters (other than tab and newline) would be rejected by the session store.
    // eslint-disable-next-line no-control-regex
    const text = turn.text.replace(/[\u0000-\u0008\u000b-\u001f\u007f]/g, ' ').trim();
    if (text === '') throw badRequest('empty_text', 'text is empty');
    if (text.length > this.o.maxTurnChars)
      throw badRequest('text_too_long', `text is longer than ${this.o.maxTurnChars} characters`, {
        max_chars: this.o.maxTurnChars,
        length: text.length,
      });
    if (
      turn.user_id !== undefined &&
      (typeof turn.user_id !== 'string' || !USER_ID_PATTERN.test(turn.user_id))
    )
      throw badRequest('invalid_user_id', 'user_id must be 1-128 letters, digits or _ . : @ -');
    if (turn.session_id !== undefined && (typeof turn.session_id !== 'string' || turn.session_id === ''))
      throw badRequest('invalid_session_id', 'session_id must be a non-empty string');
    return { text, userId: turn.user_id };
  }

  private async session(turn: Turn, userId: string | undefined): Promise<SessionView> {
    const s = this.o.sessions;
    if (turn.session_id === undefined) {
      return s.createSession({
        user_id: userId ?? this.o.defaultUserId,
        metadata: { created_by: 'coordinator', ...(turn.channel ? { channel: turn.channel } : {}) },
        ...(this.o.sessionTtlSeconds ? { ttl_seconds: this.o.sessionTtlSeconds } : {}),
      });
    }
    const session = await s.getSession(turn.session_id);
    if (!session) throw notFound(`Unknown session ${turn.session_id}`, { session_id: turn.session_id });
    if (session.status !== 'active')
      throw conflict('session_not_active', `Session ${turn.session_id} is ${session.status}`, {
        session_id: turn.session_id,
        status: session.status,
      });
    if (userId !== undefined && session.user_id !== null && session.user_id !== userId)
      throw conflict('session_user_mismatch', `Session ${turn.session_id} belongs to another user`);
    return session;
  }

  /** Turns of one session run one at a time, in order. */
  private async locked<T>(sessionId: string, fn: () => Promise<T>): Promise<T> {
    const prev = this.locks.get(sessionId) ?? Promise.resolve();
    const next = prev.then(fn, fn);
    const tail = next.catch(() => {});
    this.locks.set(sessionId, tail);
    try {
      return await next;
    } finally {
      if (this.locks.get(sessionId) === tail) this.locks.delete(sessionId);
    }
  }

  private async runInner(turn: Turn, hooks: TurnHooks): Promise<TurnResult> {
    const t0 = performance.now();
    const timings: Record<string, number> = {};
    const stage = async <T>(name: string, fn: () => Promise<T>): Promise<T> => {
      const started = performance.now();
      try {
        return await fn();
      } finally {
        timings[name] = round((timings[name] ?? 0) + performance.now() - started);
      }
    };
    const { text, userId: givenUser } = this.validate(turn);
    const session = await stage('session', () => this.session(turn, givenUser));
    const sessionId = session.session_id;
    const userId = session.user_id ?? givenUser ?? this.o.defaultUserId;

    return this.locked(sessionId, async () => {
      const turnId = randomUUID();
      const degraded = new Set<string>();
      const now = this.now();
      const notices = await stage('notices', () => this.takeNotices(sessionId));

      let sentenceIndex = 0;
      const spoken: string[] = [];
      const say = (sentence: string) => {
        spoken.push(sentence);
        hooks.onSentence?.(sentence, sentenceIndex++);
      };
      const sayAll = (reply: string) => {
        hooks.onToken?.(reply);
        for (const s of splitSentences(reply)) say(s);
      };
      const prefix = notices.map((n) => n.message).join(' ');
      if (prefix) sayAll(prefix);

      const ctx: SkillContext = {
        text,
        norm: normalize(text),
        userId,
        sessionId,
        now,
        timeZone: this.o.timeZone,
      };
      let reply: string;
      let skillName: string;
      let memories: RecalledMemory[] = [];
      let conversational = true;
      let store = true;
      let interrupted = false;
      let error: TurnResult['error'];
      let data: Record<string, unknown> | undefined;

      const matched = await stage('match', () => matchSkill(this.o.skills, ctx));
      if (matched) {
        skillName = matched.skill.name;
        const result = await stage('skill', () => matched.skill.run(matched.match, ctx));
        reply = result.reply;
        memories = result.memories ?? [];
        conversational = result.conversational ?? true;
        data = result.data;
        for (const d of (result.data?.degraded as string[] | undefined) ?? []) degraded.add(d);
        sayAll(reply);
      } else if (this.o.llm) {
        skillName = 'llm';
        const llm = this.o.llm;
        const [recalled, context] = await Promise.all([
          stage('recall', async () => {
            try {
              return await this.o.memory.recall(userId, text, this.o.recallTopK);
            } catch (err) {
              degraded.add('long_term_memory');
              this.o.logger?.warn({ err: String(err) }, 'recall failed; answering without long-term memory');
              return [];
            }
          }),
          stage('context', () => this.o.sessions.getContext(sessionId, { max_tokens: this.o.contextTokens })),
        ]);
        memories = recalled;
        const prompt = buildPrompt({
          system: this.o.systemPrompt ?? DEFAULT_SYSTEM_PROMPT,
          memories: recalled,
          history: context.interactions,
          user: text,
          maxTokens: this.o.contextTokens,
          now: new Intl.DateTimeFormat('en-US', {
            timeZone: this.o.timeZone,
            dateStyle: 'full',
            timeStyle: 'short',
          }).format(now),
        });
        const splitter = new SentenceSplitter();
        try {
          const result = await stage('llm', () =>
            llm.stream(prompt.messages, {
              signal: hooks.signal,
              onToken: (delta) => {
                hooks.onToken?.(delta);
                for (const s of splitter.push(delta)) say(s);
              },
            }),
          );
          for (const s of splitter.flush()) say(s);
          reply = result.text.trim();
          if (result.first_token_ms !== null) timings.llm_first_token = result.first_token_ms;
          data = {
            model: result.model,
            prompt_tokens_estimate: prompt.tokens,
            finish_reason: result.finish_reason,
          };
        } catch (err) {
          if (!(err instanceof LlmError)) throw err;
          if (err.kind === 'aborted') {
            // Barge-in: keep what was already said (complete sentences), marked interrupted.
            interrupted = true;
            reply = spoken.slice(notices.length > 0 ? splitSentences(prefix).length : 0).join(' ');
            store = reply !== '';
          } else {
            degraded.add('llm');
            this.o.logger?.warn({ kind: err.kind, error: err.message }, 'language model failed');
            error = { code: `llm_${err.kind}`, message: err.message };
            reply = LLM_APOLOGY[err.kind] ?? (LLM_APOLOGY.default as string);
            // The apology is not an answer: nothing is stored, the session is as before.
            store = false;
            conversational = false;
            if (!hooks.signal?.aborted) {
              splitter.flush();
              sayAll(reply);
            }
          }
        }
      } else {
        skillName = 'fallback';
        reply = fallbackReply(this.o.skills);
        conversational = false;
        sayAll(reply);
      }

      const fullReply = prefix ? `${prefix} ${reply}`.trim() : reply;
      let stored = false;
      const writes =
        conversational && !interrupted && this.o.writer
          ? this.memoryWrites(text, reply, { userId, sessionId, turnId, skill: skillName })
          : [];
      if (store) {
        await stage('store', async () => {
          const write = async (s: SessionPort) => {
            await s.addInteraction(sessionId, {
              role: 'user',
              content: text,
              metadata: { turn_id: turnId, ...(turn.channel ? { channel: turn.channel } : {}) },
            });
            await s.addInteraction(sessionId, {
              role: 'assistant',
              content: reply || '…',
              metadata: {
                turn_id: turnId,
                skill: skillName,
                ...(interrupted ? { interrupted: true } : {}),
                ...(notices.length ? { notices: notices.map((n) => n.message) } : {}),
              },
            });
            // Committed with the turn: acknowledged means durable (the writer moves them on in the background).
            if (writes.length) await s.enqueueMemoryWrites(writes);
          };
          const sessions = this.o.sessions;
          if (sessions.atomically) await sessions.atomically(write);
          else await write(sessions);
        });
        stored = true;
      }

      const queued = stored && writes.length > 0;
      if (queued) this.o.writer?.queued(writes.length);

      timings.total = round(performance.now() - t0);
      const result: TurnResult = {
        turn_id: turnId,
        session_id: sessionId,
        user_id: userId,
        reply: fullReply,
        skill: skillName,
        memories: memories.map((m) => ({ id: m.id, content: m.content, score: m.score })),
        notices,
        timings,
        degraded: [...degraded],
        stored,
        long_term_memory: queued ? 'queued' : 'none',
        interrupted,
      };
      if (error) result.error = error;
      if (data) result.data = data;
      this.events.emit('turn', { ...result, channel: turn.channel ?? 'text' });
      return result;
    });
  }

  /** The turn's long-term memories: the user text, then the reply marked as the assistant's (ids from the turn). */
  private memoryWrites(
    text: string,
    reply: string,
    t: { userId: string; sessionId: string; turnId: string; skill: string },
  ): { memory_id: string; content: string; metadata: Record<string, string> }[] {
    const meta = (role: string) => ({
      user_id: t.userId,
      session_id: t.sessionId,
      role,
      source: 'conversation',
      turn_id: t.turnId,
      skill: t.skill,
    });
    const writes = [{ memory_id: `turn.${t.turnId}.user`, content: text, metadata: meta('user') }];
    if (reply.trim() !== '')
      writes.push({ memory_id: `turn.${t.turnId}.assistant`, content: reply, metadata: meta('assistant') });
    return writes;
  }

  /**
   * Takes one pending notice for a live client that delivers it itself (speaks it now): it is then not repeated
   * at the start of the session's next turn. Undefined when a turn already delivered it.
   */
  async claimNotice(sessionId: string, timerId: string): Promise<Notice | undefined> {
    const key = `${sessionId}:${timerId}`;
    const entry = (await this.o.sessions.listAgentState(NOTICE_AGENT, { prefix: key })).find(
      (e) => e.key === key,
    );
    if (!entry) return undefined;
    return (await this.o.sessions.deleteAgentState(NOTICE_AGENT, key)) ? (entry.value as Notice) : undefined;
  }

  private async takeNotices(sessionId: string): Promise<Notice[]> {
    const entries = await this.o.sessions.listAgentState(NOTICE_AGENT, { prefix: `${sessionId}:` });
    const notices: Notice[] = [];
    for (const e of entries) {
      if (await this.o.sessions.deleteAgentState(NOTICE_AGENT, e.key)) notices.push(e.value as Notice);
    }
    return notices.sort((a, b) => a.fired_at - b.fired_at);
  }
}
