// Context assembly for the language model: profile facts, recalled memories and recent session turns, greedily within
// a token budget. Tokens are estimated with session memory's `estimateTokens` — ceil(code points / 4) + 4 per part,
// the 4 covering the framing — and every section heading is charged the same way, so `tokens_used` bounds the
// whole `context` string (≈ 4 characters per token).
import { estimateTokens } from '@synthians/session-memory';
import { contentWords, normalise } from './language.ts';

export type PartKind = 'turn' | 'memory' | 'fact';

export interface ContextTurn {
  id: string;
  role: string;
  content: string;
}
export interface ContextMemory {
  id: string;
  content: string;
  /** Shown as a YYYY-MM-DD prefix when given. */
  at?: string | null;
}
export interface ContextFact {
  id: string;
  key: string;
  value: string;
  confidence: number;
}

export interface ContextPart {
  kind: PartKind;
  text: string;
  id: string;
  tokens: number;
}

export interface AssembledContext {
  context: string;
  parts: ContextPart[];
  tokens_used: number;
  max_tokens: number;
  /** Candidates of each kind left out for lack of budget. */
  dropped: Record<PartKind, number>;
}

/** First-pass shares of the budget; whatever a kind leaves unused goes to the others in a second pass. */
export const SHARES: Record<PartKind, number> = { turn: 0.4, memory: 0.4, fact: 0.2 };
export const HEADINGS: Record<PartKind, string> = {
  fact: 'Known facts about the user:',
  memory: 'Relevant memories:',
  turn: 'Recent conversation:',
};
const ORDER: PartKind[] = ['turn', 'memory', 'fact'];
const RENDER_ORDER: PartKind[] = ['fact', 'memory', 'turn'];

/**
 * Assembles the context. `turns` are the session's turns newest first; `memories` are in recall order; `facts` are
 * ranked here by word overlap with the query, then confidence. Turns are taken newest first without gaps (the first
 * that does not fit stops them); memories and facts skip what does not fit. A memory whose text equals a chosen turn
 * is left out. Rendered as facts, memories, then the conversation in chronological order.
 */
export function assembleContext(input: {
  query: string;
  maxTokens: number;
  turns: ContextTurn[];
  memories: ContextMemory[];
  facts: ContextFact[];
}): AssembledContext {
  const queryWords = new Set(contentWords(input.query));
  const facts = [...input.facts]
    .map((f) => ({
      f,
      hits: contentWords(`${f.key.replace(/[._:]/g, ' ')} ${f.value}`).filter((w) => queryWords.has(w))
        .length,
    }))
    .sort((a, b) => b.hits - a.hits || b.f.confidence - a.f.confidence || (a.f.key < b.f.key ? -1 : 1))
    .map(({ f }) => ({ kind: 'fact' as const, id: f.id, text: `${f.key}: ${f.value}` }));
  const turnTexts = new Set(input.turns.map((t) => normalise(t.content)));
  const memories = input.memories
    .filter((m) => !turnTexts.has(normalise(m.content)))
    .map((m) => ({
      kind: 'memory' as const,
      id: m.id,
      text: m.at && Number.isFinite(Date.parse(m.at)) ? `[${m.at.slice(0, 10)}] ${m.content}` : m.content,
    }));
  const turns = input.turns.map((t) => ({
    kind: 'turn' as const,
    id: t.id,
    text: `${t.role}: ${t.content}`,
  }));
  const queues: Record<PartKind, { kind: PartKind; id: string; text: string }[]> = {
    turn: turns,
    memory: memories,
    fact: facts,
  };
  const next: Record<PartKind, number> = { turn: 0, memory: 0, fact: 0 };
  const chosen: Record<PartKind, ContextPart[]> = { turn: [], memory: [], fact: [] };
  const spent: Record<PartKind, number> = { turn: 0, memory: 0, fact: 0 };
  let used = 0;

  const fill = (kind: PartKind, budget: number) => {
    const queue = queues[kind];
    while (next[kind] < queue.length) {
      const item = queue[next[kind]]!;
      const tokens = estimateTokens(item.text);
      const heading = chosen[kind].length === 0 ? estimateTokens(HEADINGS[kind]) : 0;
      if (spent[kind] + tokens + heading > budget || used + tokens + heading > input.maxTokens) {
        // Turns stay contiguous (no older turn after a gap); the others try their next candidate.
        if (kind === 'turn') return;
        next[kind]++;
        continue;
      }
      chosen[kind].push({ kind, id: item.id, text: item.text, tokens });
      spent[kind] += tokens + heading;
      used += tokens + heading;
      next[kind]++;
    }
  };
  for (const kind of ORDER) fill(kind, Math.floor(input.maxTokens * SHARES[kind]));
  // Second pass: what a kind left unused goes to the others. Skipped memories and facts get another chance.
  for (const kind of ORDER) {
    if (kind !== 'turn') {
      const taken = new Set(chosen[kind].map((p) => p.id));
      queues[kind] = queues[kind].filter((q) => !taken.has(q.id));
      next[kind] = 0;
    }
    fill(kind, Infinity);
  }
  chosen.turn.reverse();

  const sections: string[] = [];
  const parts: ContextPart[] = [];
  for (const kind of RENDER_ORDER) {
    if (chosen[kind].length === 0) continue;
    sections.push([HEADINGS[kind], ...chosen[kind].map((p) => `- ${p.text}`)].join('\n'));
    parts.push(...chosen[kind]);
  }
  const dropped: Record<PartKind, number> = {
    turn: turns.length - chosen.turn.length,
    memory: memories.length - chosen.memory.length,
    fact: facts.length - chosen.fact.length,
  };
  return { context: sections.join('\n\n'), parts, tokens_used: used, max_tokens: input.maxTokens, dropped };
}
