// Timers and reminders: "set a timer for five minutes", "remind me to call Ana at 5 pm", "in 10 minutes remind me to
// stretch", "what timers do I have", "cancel the timer". Timers live in agent state (agent "timers", key
// "<user_id>:<timer_id>"), so they survive a restart: at start every stored timer is scheduled again, and one that
// fell due while the process was down fires at once (late_ms says by how much).
import { randomUUID } from 'node:crypto';
import {
  formatDuration,
  normalize,
  parseClockTime,
  parseDuration,
  speakTime,
  toSecondPerson,
} from './parse.ts';
import type { AgentStatePort, Skill, SkillContext, SkillResult } from './types.ts';

export const TIMER_AGENT = 'timers';
/** Longest timer or reminder accepted. */
export const MAX_TIMER_MS = 30 * 86_400_000;
/** Pending timers per user. */
export const MAX_TIMERS_PER_USER = 50;
/** setTimeout's limit; longer waits are re-armed. */
const MAX_DELAY = 2 ** 31 - 1;

export interface TimerRecord {
  id: string;
  kind: 'timer' | 'reminder';
  user_id: string;
  session_id: string;
  /** "5 minute timer", or what to be reminded of ("call Ana"). */
  label: string;
  duration_ms: number | null;
  created_at: number;
  due_at: number;
}

export interface TimerFired {
  type: 'timer.fired';
  timer: TimerRecord;
  fired_at: number;
  /** How late it fired (e.g. it fell due while the process was down). */
  late_ms: number;
  /** What to say: "Your 5 minute timer is done." */
  message: string;
}

export interface TimerServiceOptions {
  state: AgentStatePort;
  onFire: (event: TimerFired) => void | Promise<void>;
  now?: () => number;
  onError?: (err: unknown, timer: TimerRecord) => void;
}

export function firedMessage(t: TimerRecord): string {
  return t.kind === 'timer' ? `Your ${t.label} is done.` : `Reminder: ${toSecondPerson(t.label)}.`;
}

export class TimerService {
  private readonly handles = new Map<string, NodeJS.Timeout>();
  private readonly firing = new Set<Promise<void>>();
  private readonly now: () => number;
  private stopped = false;

  constructor(private readonly o: TimerServiceOptions) {
    this.now = o.now ?? Date.now;
  }

  /** Schedules every stored timer (after a restart). Returns how many were loaded. */
  async start(): Promise<number> {
    const all = await this.o.state.list<TimerRecord>(TIMER_AGENT);
    for (const { value } of all) if (isTimer(value)) this.schedule(value);
    return all.length;
  }

  async add(input: Omit<TimerRecord, 'id' | 'created_at'>): Promise<TimerRecord> {
    const timer: TimerRecord = { id: randomUUID(), created_at: this.now(), ...input };
    await this.o.state.set(TIMER_AGENT, key(timer), timer);
    this.schedule(timer);
    return timer;
  }

  /** A user's pending timers and reminders, soonest first. */
  async list(userId: string): Promise<TimerRecord[]> {
    const all = await this.o.state.list<TimerRecord>(TIMER_AGENT, { prefix: `${userId}:` });
    return all
      .map((e) => e.value)
      .filter(isTimer)
      .filter((t) => t.user_id === userId)
      .sort((a, b) => a.due_at - b.due_at);
  }

  async cancel(userId: string, id: string): Promise<boolean> {
    const h = this.handles.get(id);
    if (h) clearTimeout(h);
    this.handles.delete(id);
    return this.o.state.delete(TIMER_AGENT, `${userId}:${id}`);
  }

  /** Resolves when no timer is being fired (tests). */
  async idle(): Promise<void> {
    while (this.firing.size > 0) await Promise.all([...this.firing]);
  }

  /** Stops scheduling (the stored timers stay for the next start). */
  async stop(): Promise<void> {
    this.stopped = true;
    for (const h of this.handles.values()) clearTimeout(h);
    this.handles.clear();
    await this.idle();
  }

  private schedule(timer: TimerRecord): void {
    if (this.stopped) return;
    const old = this.handles.get(timer.id);
    if (old) clearTimeout(old);
    const delay = Math.max(0, timer.due_at - this.now());
    const h = setTimeout(
      () => {
        this.handles.delete(timer.id);
        if (timer.due_at - this.now() > 0) return this.schedule(timer); // re-armed long wait
        const p = this.fire(timer).finally(() => this.firing.delete(p));
        this.firing.add(p);
      },
      Math.min(delay, MAX_DELAY),
    );
    h.unref?.();
    this.handles.set(timer.id, h);
  }

  private async fire(timer: TimerRecord): Promise<void> {
    try {
      // Still pending? (cancelled from another process, or fired already)
      const stored = await this.o.state.get<TimerRecord>(TIMER_AGENT, key(timer));
      if (!stored) return;
      const firedAt = this.now();
      await this.o.onFire({
        type: 'timer.fired',
        timer,
        fired_at: firedAt,
        late_ms: Math.max(0, firedAt - timer.due_at),
        message: firedMessage(timer),
      });
      await this.o.state.delete(TIMER_AGENT, key(timer));
    } catch (err) {
      this.o.onError?.(err, timer);
    }
  }
}

const key = (t: TimerRecord) => `${t.user_id}:${t.id}`;

function isTimer(v: unknown): v is TimerRecord {
  const t = v as TimerRecord | null;
  return (
    typeof t === 'object' &&
    t !== null &&
    typeof t.id === 'string' &&
    typeof t.user_id === 'string' &&
    typeof t.due_at === 'number'
  );
}

// ---- The skill ----------------------------------------------------------------------------------------------

type TimerIntent =
  | { op: 'timer'; ms?: number }
  | { op: 'reminder'; task: string; ms?: number; at?: number }
  | { op: 'list'; kind?: 'timer' | 'reminder' }
  | { op: 'cancel'; kind?: 'timer' | 'reminder'; all: boolean; ms?: number };

const KIND = /\b(timers?|reminders?|alarms?)\b/;
const CANCEL = /\b(?:cancel|stop|delete|remove|clear|turn off|dismiss|forget|get rid of|kill)\b/;
const LIST =
  /\b(?:what|which|list|show|any|tell me|do i have|how much time|how long|left|remaining|pending|my timers|my reminders)\b/;

const kindOf = (norm: string): 'timer' | 'reminder' | undefined => {
  const m = KIND.exec(norm);
  if (!m) return undefined;
  if (/\btimers?\b|\balarms?\b/.test(norm) && /\breminders?\b/.test(norm)) return undefined;
  return (m[1] as string).startsWith('remind') ? 'reminder' : 'timer';
};

/** Copies the casing of the original text back onto normalised words ("call ana" → "call Ana"). */
function restoreCase(norm: string, original: string): string {
  const forms = new Map<string, string>();
  for (const w of original.match(/[\p{L}\p{N}'’]+/gu) ?? []) {
    const lower = normalize(w);
    if (!forms.has(lower)) forms.set(lower, w.replace(/’/g, "'"));
  }
  return norm
    .split(' ')
    .map((w) => forms.get(w) ?? w)
    .join(' ');
}

export function timerSkill(timers: TimerService): Skill<TimerIntent> {
  return {
    name: 'timers',
    help: 'set timers and reminders',
    match(ctx: SkillContext): TimerIntent | null {
      const n = ctx.norm;
      const remind = /\bremind me\b/.test(n);
      const kind = kindOf(n);
      if (!remind && !KIND.test(n)) return null;
      const duration = parseDuration(n);
      if (KIND.test(n) && CANCEL.test(n)) {
        return { op: 'cancel', kind, all: /\b(?:all|every|everything)\b/.test(n), ms: duration?.ms };
      }
      if (remind) {
        const clock = parseClockTime(n, ctx.now, ctx.timeZone);
        let task = n.slice(n.indexOf('remind me') + 'remind me'.length);
        task = task
          .replace(
            /\b(?:in|after)\s+(?:\S+\s+){0,6}?(?:seconds?|secs?|minutes?|mins?|hours?|hrs?|days?)(?:\s+and a half)?\b/,
            ' ',
          )
          .replace(
            /\b(?:(?:tomorrow|today|tonight)\s+)?at\s+(?:noon|midnight|\S+(?:\s+(?:oh\s+)?\S+)?)(?:\s*(?:am|pm|o'?clock|in the (?:morning|afternoon|evening)))?(?:\s+(?:tomorrow|today|tonight))?/,
            ' ',
          )
          .replace(/^\s*(?:to|about|that|of)\s+/, '')
          .replace(/\s+(?:please)\s*$/, '')
          .replace(/\s+/g, ' ')
          .trim();
        if (!clock && !duration) {
          // "remind me at" without a time we understand, or "what are my reminders"
          if (LIST.test(n) && !task) return { op: 'list', kind: 'reminder' };
        }
        return {
          op: 'reminder',
          task: restoreCase(task, ctx.text),
          ...(duration ? { ms: duration.ms } : clock ? { at: clock.epochMs } : {}),
        };
      }
      if (kind === 'timer' && /\b(?:set|start|create|make|new|put|give me|add)\b/.test(n)) {
        return { op: 'timer', ms: duration?.ms };
      }
      if (kind === 'timer' && duration && /\btimer (?:for|of)\b|\b(?:second|minute|hour) timer\b/.test(n)) {
        return { op: 'timer', ms: duration.ms };
      }
      if (LIST.test(n)) return { op: 'list', kind };
      return null;
    },

    async run(intent, ctx): Promise<SkillResult> {
      switch (intent.op) {
        case 'timer': {
          if (intent.ms === undefined)
            return { reply: 'For how long? Say, for example, "set a timer for five minutes".' };
          const invalid = checkLength(intent.ms);
          if (invalid) return { reply: invalid };
          if ((await timers.list(ctx.userId)).length >= MAX_TIMERS_PER_USER)
            return {
              reply: `You already have ${MAX_TIMERS_PER_USER} timers and reminders; cancel some first.`,
            };
          const timer = await timers.add({
            kind: 'timer',
            user_id: ctx.userId,
            session_id: ctx.sessionId,
            label: timerLabel(intent.ms),
            duration_ms: intent.ms,
            due_at: ctx.now + intent.ms,
          });
          return {
            reply: `Timer set for ${formatDuration(intent.ms)}.`,
            data: { timer },
          };
        }
        case 'reminder': {
          if (!intent.task)
            return {
              reply: 'What should I remind you of? Say, for example, "remind me to call Ana at 5 pm".',
            };
          const due = intent.at ?? (intent.ms !== undefined ? ctx.now + intent.ms : undefined);
          if (due === undefined)
            return {
              reply: `When should I remind you to ${toSecondPerson(intent.task)}? Say, for example, "remind me to ${intent.task} in 10 minutes" or "at 5 pm".`,
            };
          const invalid = checkLength(due - ctx.now);
          if (invalid) return { reply: invalid };
          if ((await timers.list(ctx.userId)).length >= MAX_TIMERS_PER_USER)
            return {
              reply: `You already have ${MAX_TIMERS_PER_USER} timers and reminders; cancel some first.`,
            };
          const timer = await timers.add({
            kind: 'reminder',
            user_id: ctx.userId,
            session_id: ctx.sessionId,
            label: intent.task,
            duration_ms: intent.ms ?? null,
            due_at: due,
          });
          const when =
            intent.ms !== undefined
              ? `in ${formatDuration(intent.ms)}`
              : `at ${speakTime(due, ctx.now, ctx.timeZone)}`;
          return {
            reply: `Okay, I'll remind you to ${toSecondPerson(intent.task)} ${when.replace(/^at on /, 'on ').replace(/^at tomorrow/, 'tomorrow')}.`,
            data: { timer },
          };
        }
        case 'list': {
          const all = (await timers.list(ctx.userId)).filter((t) => !intent.kind || t.kind === intent.kind);
          const what = intent.kind ? `${intent.kind}s` : 'timers or reminders';
          if (all.length === 0) return { reply: `You have no ${what}.`, data: { timers: [] } };
          const items = all.map((t) => describeTimer(t, ctx));
          return {
            reply: `You have ${all.length === 1 ? 'one' : all.length}: ${joinAnd(items)}.`,
            data: { timers: all },
          };
        }
        case 'cancel': {
          const all = (await timers.list(ctx.userId)).filter((t) => !intent.kind || t.kind === intent.kind);
          const what = intent.kind ?? 'timer';
          if (all.length === 0) return { reply: `You have no ${what}s to cancel.`, data: { cancelled: [] } };
          let chosen = all;
          if (!intent.all && all.length > 1) {
            const byDuration = intent.ms !== undefined ? all.filter((t) => t.duration_ms === intent.ms) : [];
            const words = ctx.norm.split(' ').filter((w) => w.length > 3 && !KIND.test(w) && !CANCEL.test(w));
            const byWords = all.filter((t) => words.some((w) => normalize(t.label).split(' ').includes(w)));
            chosen = byDuration.length > 0 ? byDuration : byWords.length > 0 ? byWords : [];
            if (chosen.length !== 1) {
              return {
                reply: `You have ${all.length} ${what}s: ${joinAnd(all.map((t) => describeTimer(t, ctx)))}. Which one? Or say "cancel all ${what}s".`,
                data: { timers: all },
              };
            }
          }
          for (const t of chosen) await timers.cancel(ctx.userId, t.id);
          return {
            reply:
              chosen.length === 1
                ? `Cancelled ${describeTimer(chosen[0] as TimerRecord, ctx).replace(/ with .* left$/, '')}.`
                : `Cancelled ${chosen.length} ${what}s.`,
            data: { cancelled: chosen.map((t) => t.id) },
          };
        }
      }
    },
  };
}

function checkLength(ms: number): string | undefined {
  if (ms < 1000) return 'That is too short for a timer.';
  if (ms > MAX_TIMER_MS) return 'I can only set timers and reminders up to 30 days ahead.';
  return undefined;
}

/** "5 minute timer", "1 hour and 30 minute timer" */
function timerLabel(ms: number): string {
  return `${formatDuration(ms).replace(/(\d+) (second|minute|hour|day)s\b/g, '$1 $2')} timer`;
}

function describeTimer(t: TimerRecord, ctx: SkillContext): string {
  if (t.kind === 'timer') return `a ${t.label} with ${formatDuration(Math.max(0, t.due_at - ctx.now))} left`;
  return `a reminder to ${toSecondPerson(t.label)} ${speakTime(t.due_at, ctx.now, ctx.timeZone).replace(/^(\d)/, 'at $1')}`;
}

function joinAnd(items: string[]): string {
  if (items.length <= 1) return items.join('');
  return `${items.slice(0, -1).join(', ')} and ${items.at(-1)}`;
}
