// Long-term memory by voice: "remember that my sister is called Ana" (stored through the orchestrator, confirmed),
// "what do you remember about my sister" (a search scoped to the user; the answer lists what it found), "forget my
// sister" (finds the matching memories and asks; the next turn's "yes" deletes them, "no" keeps them). The pending
// question lives in agent state (agent "coordinator.confirm", key = user id) with an expiry.
import { normalize, toSecondPerson, trimPunctuation } from './parse.ts';
import type {
  AgentStatePort,
  LongTermMemoryPort,
  RecalledMemory,
  Skill,
  SkillContext,
  SkillResult,
} from './types.ts';

export const CONFIRM_AGENT = 'coordinator.confirm';

export interface PendingForget {
  action: 'forget';
  topic: string;
  ids: string[];
  contents: string[];
  session_id: string;
  expires_at: number;
}

export interface MemorySkillOptions {
  memory: LongTermMemoryPort;
  state: AgentStatePort;
  /** How long a "should I forget …?" question waits for its answer. Default 2 minutes. */
  confirmTtlMs?: number;
  /** Most memories listed or deleted at once. Default 10. */
  maxResults?: number;
}

/** The memory service failed; the answer says so instead of pretending. */
const unavailable = (what: string): SkillResult => ({
  reply: `Sorry, I can't ${what} right now: my long-term memory isn't answering. Please try again in a moment.`,
  conversational: false,
  data: { degraded: ['long_term_memory'] },
});

const REMEMBER =
  /^(?:(?:ok(?:ay)?|hey|so|and|also|please)\s+)*(?:(?:can|could|would|will) you\s+)?(?:please\s+)?(?:remember|note|memorize|keep in mind|don'?t forget)\s+(?:that\s+)?(.+?)(?:\s+please)?$/;
const REMEMBER_ORIGINAL =
  /(?:remember|note|memori[sz]e|keep in mind|don['’]?t forget)\s*[,:]?\s+(?:that\s+)?([\s\S]+)$/i;

const RECALL =
  /^(?:(?:so|and|hey|ok(?:ay)?)\s+)?(?:what (?:do|did) you (?:remember|know|recall)|what have i told you|do you (?:remember|recall) anything|tell me what you (?:remember|know)|what(?: is|s) in your memory)(?:\s+(?:about|of|regarding|on)\s+(.+?))?(?:\s+please)?$/;

const FORGET =
  /^(?:(?:please|ok(?:ay)?|and)\s+)?(?:(?:can|could|would) you\s+)?(?:please\s+)?(?:forget|erase|delete|remove)\s+(?:(?:everything|anything|all|what i told you|what you know|the memor(?:y|ies)|memor(?:y|ies)|that)\s+)?(?:(?:about|of|regarding|on)\s+)?(.+?)(?:\s+please)?$/;

const YES =
  /^(?:yes|yeah|yep|yup|sure|ok|okay|do it|go ahead|confirm|confirmed|please do|yes please|correct|right|absolutely|delete (?:it|them)|forget (?:it|them)|yes forget (?:it|them)|yes delete (?:it|them))(?: please)?$/;
const NO =
  /^(?:no|nope|nah|cancel|don'?t|do not|never ?mind|stop|keep (?:it|them)|no thanks?|no thank you|no don'?t|don'?t forget|leave it)$/;

/** "your sister is called Ana"; "your sister is called Ana and your brother is Tom" */
const spoken = (m: RecalledMemory) => trimPunctuation(toSecondPerson(m.content.replace(/\s+/g, ' ').trim()));

function listed(memories: RecalledMemory[]): string {
  const items = memories.map((m) => `"${spoken(m)}"`);
  if (items.length <= 1) return items.join('');
  return `${items.slice(0, -1).join('; ')}; and ${items.at(-1)}`;
}

export function rememberSkill(o: MemorySkillOptions): Skill<{ content: string }> {
  return {
    name: 'remember',
    help: 'remember things you tell me, tell you what I remember and forget what you ask me to',
    match(ctx) {
      if (/^(?:do|did) you remember\b/.test(ctx.norm)) return null;
      const m = REMEMBER.exec(ctx.norm);
      if (!m) return null;
      const original = REMEMBER_ORIGINAL.exec(ctx.text);
      const content = trimPunctuation(original?.[1] ?? (m[1] as string));
      if (content === '' || normalize(content) === '') return null;
      return { content };
    },
    async run({ content }, ctx) {
      let stored: { id: string };
      try {
        stored = await o.memory.remember(content, {
          user_id: ctx.userId,
          session_id: ctx.sessionId,
          role: 'user',
          source: 'remember',
        });
      } catch {
        return unavailable('save that');
      }
      return {
        reply: `Okay, I'll remember that ${trimPunctuation(toSecondPerson(content))}.`,
        conversational: false,
        memories: [{ id: stored.id, content, score: 1 }],
        data: { memory_id: stored.id },
      };
    },
  };
}

export function recallSkill(o: MemorySkillOptions): Skill<{ topic: string | null; original: string | null }> {
  const max = o.maxResults ?? 10;
  return {
    name: 'recall',
    match(ctx) {
      const m = RECALL.exec(ctx.norm);
      if (!m) return null;
      const topic = m[1] ? trimPunctuation(m[1]) : null;
      const original = topic
        ? (/(?:about|of|regarding|on)\s+([\s\S]+)$/i.exec(ctx.text)?.[1] ?? topic)
        : null;
      return { topic, original: original ? trimPunctuation(original) : null };
    },
    async run({ topic, original }, ctx) {
      const aboutMe = !topic || /^(?:me|myself|us|anything|everything|all|it)$/.test(topic);
      let found: RecalledMemory[];
      try {
        found = aboutMe
          ? await o.memory.recent(ctx.userId, { limit: max })
          : await o.memory.find(ctx.userId, topic, { topK: max });
      } catch {
        return unavailable('look into my memory');
      }
      const about = aboutMe ? 'you' : toSecondPerson(original ?? topic);
      if (found.length === 0)
        return { reply: `I don't remember anything about ${about}.`, conversational: false, memories: [] };
      const n = found.length;
      return {
        reply:
          n === 1
            ? `Here's what I remember about ${about}: ${spoken(found[0] as RecalledMemory)}.`
            : `I remember ${n} things about ${about}: ${listed(found)}.`,
        conversational: false,
        memories: found,
      };
    },
  };
}

export function forgetSkill(o: MemorySkillOptions): Skill<{ topic: string; original: string }> {
  const ttl = o.confirmTtlMs ?? 120_000;
  const max = o.maxResults ?? 10;
  return {
    name: 'forget',
    match(ctx) {
      const m = FORGET.exec(ctx.norm);
      if (!m) return null;
      const topic = trimPunctuation(m[1] as string);
      if (/^(?:it|that|this)$/.test(topic)) return null; // "forget it": small talk, not a memory command
      const original =
        /(?:forget|erase|delete|remove)\s+(?:(?:everything|anything|all|what i told you|what you know|the memor(?:y|ies)|memor(?:y|ies)|that)\s+)?(?:(?:about|of|regarding|on)\s+)?([\s\S]+)$/i.exec(
          ctx.text,
        )?.[1] ?? topic;
      return { topic, original: trimPunctuation(original) };
    },
    async run({ topic, original }, ctx) {
      let found: RecalledMemory[];
      try {
        found = await o.memory.find(ctx.userId, topic, { topK: max });
      } catch {
        return unavailable('look into my memory');
      }
      const about = toSecondPerson(original);
      if (found.length === 0)
        return { reply: `I don't remember anything about ${about}.`, conversational: false, memories: [] };
      const pending: PendingForget = {
        action: 'forget',
        topic,
        ids: found.map((m) => m.id),
        contents: found.map((m) => m.content),
        session_id: ctx.sessionId,
        expires_at: ctx.now + ttl,
      };
      await o.state.set(CONFIRM_AGENT, ctx.userId, pending, { expiresAt: new Date(ctx.now + ttl) });
      const n = found.length;
      return {
        reply:
          `I found ${n === 1 ? 'one memory' : `${n} memories`} about ${about}: ${listed(found)}. ` +
          `Should I forget ${n === 1 ? 'it' : 'them'}? Say yes or no.`,
        conversational: false,
        memories: found,
        data: { pending: { action: 'forget', ids: pending.ids, expires_at: pending.expires_at } },
      };
    },
  };
}

/** The answer to a pending "should I forget …?" question. Any other text drops the question. */
export function confirmSkill(o: MemorySkillOptions): Skill<{ yes: boolean; pending: PendingForget }> {
  return {
    name: 'confirm',
    async match(ctx: SkillContext) {
      const pending = await o.state.get<PendingForget>(CONFIRM_AGENT, ctx.userId);
      if (!pending || pending.action !== 'forget') return null;
      if (pending.expires_at <= ctx.now) {
        await o.state.delete(CONFIRM_AGENT, ctx.userId);
        return null;
      }
      const yes = YES.test(ctx.norm);
      if (!yes && !NO.test(ctx.norm)) {
        await o.state.delete(CONFIRM_AGENT, ctx.userId);
        return null;
      }
      return { yes, pending };
    },
    async run({ yes, pending }, ctx) {
      await o.state.delete(CONFIRM_AGENT, ctx.userId);
      if (!yes) return { reply: "Okay, I won't forget anything.", conversational: false };
      let deleted = 0;
      const failed: string[] = [];
      for (const id of pending.ids) {
        try {
          if (await o.memory.delete(id)) deleted++;
        } catch {
          failed.push(id);
        }
      }
      if (failed.length > 0) {
        return {
          reply: `I forgot ${deleted} of ${pending.ids.length}, but my long-term memory didn't answer for the rest. Please ask me again later.`,
          conversational: false,
          data: { deleted, failed, degraded: ['long_term_memory'] },
        };
      }
      return {
        reply: `Done. I've forgotten ${pending.ids.length === 1 ? 'it' : `those ${pending.ids.length} memories`}.`,
        conversational: false,
        data: { deleted: pending.ids },
      };
    },
  };
}
