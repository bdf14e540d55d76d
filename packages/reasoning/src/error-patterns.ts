// Error-pattern memory: regular expressions that recognise an error message, each with its known solution, and how
// often and when last it was seen. Kept in session memory's agent state (PostgreSQL or PGlite), one entry per
// pattern, so the counts survive restarts.
//
// Regular expressions come from clients, so they are checked before they are stored: at most 500 characters, they
// must compile, and shapes that backtrack catastrophically in V8 are refused — a quantified group that contains a
// quantifier ("(a+)+", "(\w*\s?)*"), a quantified group whose alternatives can start with the same character
// ("(a|ab)*"), and back-references. Matching then runs on at most MATCH_INPUT_CHARS characters of the message.
import { randomUUID } from 'node:crypto';
import { AppError, badRequest, conflict, notFound } from '@synthians/kit';
import type { SessionStore } from '@synthians/session-memory';

export const AGENT = 'memory-reasoning';
const PREFIX = 'error-pattern:';
export const MAX_PATTERN_CHARS = 500;

export interface ErrorPattern {
  id: string;
  pattern: string;
  flags: string;
  solution: string;
  tags: string[];
  occurrences: number;
  last_seen: string | null;
  created_at: string;
}

/** Why a pattern is refused, or undefined when it is acceptable. */
export function patternProblem(pattern: string, flags = 'i'): string | undefined {
  if (pattern.length === 0) return 'the pattern is empty';
  if (pattern.length > MAX_PATTERN_CHARS) return `the pattern is longer than ${MAX_PATTERN_CHARS} characters`;
  if (!/^[imsu]*$/.test(flags) || new Set(flags).size !== flags.length)
    return 'flags must be a subset of "imsu"';
  try {
    new RegExp(pattern, flags);
  } catch (err) {
    return `it does not compile: ${(err as Error).message}`;
  }
  if (/\\[1-9]|\\k</.test(pattern)) return 'back-references are not allowed';
  for (const group of quantifiedGroups(pattern)) {
    if (
      /(?<!\\)(?:[*+?]|\{\d+,?\d*\})/.test(
        stripClasses(group).replace(/^\?(?::|=|!|<=|<!|<[A-Za-z]\w*>)/, ''),
      )
    )
      return `nested quantifier in "(${group})" followed by a quantifier: catastrophic backtracking`;
    const alternatives = splitTopLevel(group);
    if (alternatives.length > 1) {
      const firsts = alternatives.map(firstAtom);
      for (let i = 0; i < firsts.length; i++) {
        for (let j = i + 1; j < firsts.length; j++) {
          if (mayOverlap(firsts[i]!, firsts[j]!))
            return `alternatives of the quantified group "(${group})" can start alike: catastrophic backtracking`;
        }
      }
    }
  }
  return undefined;
}

/** The bodies of groups followed by *, +, or {n,} / {n,m} with m > 1. */
function quantifiedGroups(pattern: string): string[] {
  const out: string[] = [];
  const stack: number[] = [];
  let inClass = false;
  for (let i = 0; i < pattern.length; i++) {
    const ch = pattern[i]!;
    if (ch === '\\') {
      i++;
      continue;
    }
    if (inClass) {
      if (ch === ']') inClass = false;
      continue;
    }
    if (ch === '[') inClass = true;
    else if (ch === '(') stack.push(i);
    else if (ch === ')') {
      const start = stack.pop();
      if (start === undefined) continue;
      const rest = pattern.slice(i + 1);
      const q = rest.match(/^(?:[*+]|\{(\d+)(,(\d*))?\})/);
      if (q && (q[0] === '*' || q[0] === '+' || (q[2] !== undefined && (q[3] === '' || Number(q[3]) > 1))))
        out.push(pattern.slice(start + 1, i));
    }
  }
  return out;
}

/** Character classes replaced by a placeholder, so a "+" inside [..] is not taken for a quantifier. */
const stripClasses = (s: string) => s.replace(/\[(?:\\.|[^\]\\])*\]/g, 'C');

function splitTopLevel(group: string): string[] {
  const body = group.replace(/^\?(?::|=|!|<=|<!|<[A-Za-z]\w*>)/, '');
  const parts: string[] = [];
  let depth = 0;
  let inClass = false;
  let start = 0;
  for (let i = 0; i < body.length; i++) {
    const ch = body[i]!;
    if (ch === '\\') {
      i++;
      continue;
    }
    if (inClass) {
      if (ch === ']') inClass = false;
      continue;
    }
    if (ch === '[') inClass = true;
    else if (ch === '(') depth++;
    else if (ch === ')') depth--;
    else if (ch === '|' && depth === 0) {
      parts.push(body.slice(start, i));
      start = i + 1;
    }
  }
  parts.push(body.slice(start));
  return parts;
}

/** The first atom of an alternative: a literal character, or "*" for anything broader (a class, a dot, a group). */
function firstAtom(alt: string): string {
  if (alt === '') return '';
  const ch = alt[0]!;
  if (ch === '\\') {
    const next = alt[1] ?? '';
    return /[dDwWsSbB]/.test(next) ? '*' : next.toLowerCase();
  }
  if (/[[.(]/.test(ch)) return '*';
  return ch.toLowerCase();
}

const mayOverlap = (a: string, b: string) => a === '' || b === '' || a === '*' || b === '*' || a === b;

export interface ErrorPatternStoreOptions {
  /** Largest number of stored patterns (409 too_many_patterns above). */
  maxPatterns: number;
  /** Characters of a message that patterns are matched against. */
  matchInputChars: number;
  clock?: () => Date;
}

/** The patterns over agent state, with compiled expressions cached and counter updates serialised in-process. */
export class ErrorPatternStore {
  private readonly compiled = new Map<string, RegExp>();
  private queue: Promise<unknown> = Promise.resolve();
  private readonly clock: () => Date;

  constructor(
    private readonly store: SessionStore,
    private readonly options: ErrorPatternStoreOptions,
  ) {
    this.clock = options.clock ?? (() => new Date());
  }

  /** Runs `fn` after every earlier write of this process (read-modify-write of the counters). */
  private serial<T>(fn: () => Promise<T>): Promise<T> {
    const run = this.queue.then(fn, fn);
    this.queue = run.catch(() => undefined);
    return run;
  }

  async create(input: {
    pattern: string;
    flags?: string;
    solution: string;
    tags?: string[];
  }): Promise<ErrorPattern> {
    const flags = input.flags ?? 'i';
    const problem = patternProblem(input.pattern, flags);
    if (problem) throw badRequest('invalid_pattern', `Invalid pattern: ${problem}`);
    return this.serial(async () => {
      const existing = await this.list();
      if (existing.length >= this.options.maxPatterns) {
        throw conflict(
          'too_many_patterns',
          `At most ${this.options.maxPatterns} error patterns can be stored`,
        );
      }
      const entry: ErrorPattern = {
        id: randomUUID(),
        pattern: input.pattern,
        flags,
        solution: input.solution,
        tags: [...new Set(input.tags ?? [])],
        occurrences: 0,
        last_seen: null,
        created_at: this.clock().toISOString(),
      };
      await this.store.setAgentState(AGENT, PREFIX + entry.id, { ...entry });
      return entry;
    });
  }

  async list(): Promise<ErrorPattern[]> {
    const entries = await this.store.listAgentState(AGENT, { prefix: PREFIX, limit: 1000 });
    return entries
      .map((e) => e.value as unknown as ErrorPattern)
      .sort((a, b) =>
        a.created_at < b.created_at ? -1 : a.created_at > b.created_at ? 1 : a.id < b.id ? -1 : 1,
      );
  }

  async get(id: string): Promise<ErrorPattern> {
    const e = await this.store.getAgentState(AGENT, PREFIX + id);
    if (!e) throw notFound(`Unknown error pattern ${id}`, { id });
    return e.value as unknown as ErrorPattern;
  }

  async delete(id: string): Promise<void> {
    const gone = await this.serial(() => this.store.deleteAgentState(AGENT, PREFIX + id));
    if (!gone) throw notFound(`Unknown error pattern ${id}`, { id });
    for (const key of this.compiled.keys()) if (key.startsWith(`${id}\u0000`)) this.compiled.delete(key);
  }

  /** The patterns matching `message`; each match's occurrences and last_seen are updated durably. */
  async lookup(message: string): Promise<ErrorPattern[]> {
    const text = message.slice(0, this.options.matchInputChars);
    return this.serial(async () => {
      const now = this.clock().toISOString();
      const matches: ErrorPattern[] = [];
      for (const p of await this.list()) {
        if (!this.regex(p).test(text)) continue;
        const next = { ...p, occurrences: p.occurrences + 1, last_seen: now };
        await this.store.setAgentState(AGENT, PREFIX + p.id, next);
        matches.push(next);
      }
      return matches.sort((a, b) => b.occurrences - a.occurrences || (a.id < b.id ? -1 : 1));
    });
  }

  private regex(p: ErrorPattern): RegExp {
    const key = `${p.id}\u0000${p.flags}\u0000${p.pattern}`;
    let re = this.compiled.get(key);
    if (!re) {
      try {
        re = new RegExp(p.pattern, p.flags.replace(/g|y/g, ''));
      } catch {
        throw new AppError(500, 'corrupt_pattern', `Stored pattern ${p.id} no longer compiles`);
      }
      this.compiled.set(key, re);
    }
    return re;
  }
}
