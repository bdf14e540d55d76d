// The prompt of a turn: the system prompt, the recalled long-term memories, the session's recent context (oldest
// dropped first) and the user's text, within a token budget.
//
// Token estimate (no tokenizer is bundled, and the model is unknown): ceil(characters / 4) + 4 per message, the
// usual rule of thumb for English with BPE tokenizers (GPT, Llama, Mistral); it overestimates slightly for plain
// English and underestimates for code or non-Latin scripts, so keep LLM_CONTEXT_TOKENS below the model's window.
import type { ChatMessage } from './openai.ts';

export const MESSAGE_OVERHEAD_TOKENS = 4;

/** Estimated tokens of a text (see the file comment). */
export function estimateTokens(text: string): number {
  return Math.ceil(text.length / 4);
}

export const estimateMessageTokens = (m: ChatMessage) => estimateTokens(m.content) + MESSAGE_OVERHEAD_TOKENS;

export interface PromptMemory {
  content: string;
  score?: number;
}

export interface PromptInput {
  system: string;
  /** Long-term memories recalled for this turn, most relevant first. */
  memories: PromptMemory[];
  /** The session's earlier turns, oldest first. */
  history: { role: string; content: string }[];
  user: string;
  /** Budget for the whole prompt (LLM_CONTEXT_TOKENS). */
  maxTokens: number;
  /** The current date and time, told to the model. */
  now?: string;
}

export interface Prompt {
  messages: ChatMessage[];
  tokens: number;
  memories_used: number;
  history_used: number;
  truncated: boolean;
}

/**
 * Builds the messages. Order of precedence when the budget is short: the system prompt and the user's text always;
 * then memories (most relevant first, at most half of what is left); then history, newest first.
 */
export function buildPrompt(input: PromptInput): Prompt {
  let system = input.system;
  if (input.now) system += `\nCurrent date and time: ${input.now}.`;
  const user: ChatMessage = { role: 'user', content: input.user };
  let used = estimateTokens(system) + MESSAGE_OVERHEAD_TOKENS + estimateMessageTokens(user);
  let truncated = false;

  const memoryLines: string[] = [];
  const header = '\n\nWhat you remember about the user (long-term memory; use it when relevant):';
  let memoryBudget = Math.max(0, Math.floor((input.maxTokens - used) / 2));
  if (input.memories.length > 0) memoryBudget -= estimateTokens(header);
  for (const m of input.memories) {
    const line = `\n- ${m.content.replace(/\s+/g, ' ').trim()}`;
    const cost = estimateTokens(line);
    if (cost > memoryBudget) {
      truncated = true;
      break;
    }
    memoryBudget -= cost;
    memoryLines.push(line);
  }
  if (memoryLines.length > 0) {
    system += header + memoryLines.join('');
    used = estimateTokens(system) + MESSAGE_OVERHEAD_TOKENS + estimateMessageTokens(user);
  }

  const history: ChatMessage[] = [];
  for (let i = input.history.length - 1; i >= 0; i--) {
    const h = input.history[i];
    if (!h) continue;
    const role = h.role === 'assistant' ? 'assistant' : h.role === 'user' ? 'user' : undefined;
    if (!role) continue;
    const msg: ChatMessage = { role, content: h.content };
    const cost = estimateMessageTokens(msg);
    if (used + cost > input.maxTokens) {
      truncated = true;
      break;
    }
    used += cost;
    history.unshift(msg);
  }
  // A history that starts with an assistant message confuses some chat templates: drop it.
  while (history[0]?.role === 'assistant') {
    const dropped = history.shift() as ChatMessage;
    used -= estimateMessageTokens(dropped);
  }
  return {
    messages: [{ role: 'system', content: system }, ...history, user],
    tokens: used,
    memories_used: memoryLines.length,
    history_used: history.length,
    truncated,
  };
}

export const DEFAULT_SYSTEM_PROMPT = `You are Synthians, a friendly local voice assistant. Your answers are spoken aloud: \
answer in one to three short sentences of plain text, without lists, markdown, emoji or URLs. \
If you do not know something, say so briefly.`;
