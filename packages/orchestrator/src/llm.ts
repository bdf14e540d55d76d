// Optional variant advice from an OpenAI-compatible chat model (POST {base}/chat/completions). The answer is parsed
// defensively; any failure (network, timeout, status, malformed JSON, unknown variant) returns an error and the
// caller keeps the policy's choice.
import { safeParseJson } from '@synthians/kit';
import { VARIANTS, type Variant } from './config.ts';
import type { Trend, VariantChoice } from './policy.ts';

export interface LlmOptions {
  baseUrl: string;
  model: string;
  apiKey?: string;
  timeoutMs: number;
}

export interface AdviceInput {
  content: string;
  taskType?: unknown;
  trend: Trend;
  current?: Variant;
  policy: VariantChoice;
}

export type Advice = { ok: true; variant: Variant; reason: string } | { ok: false; error: string };

const SYSTEM = `You choose the Titans neural-memory variant for the next memory of an assistant's user.
NONE: plain associative memory. MAC (memory as context): recall-heavy work, questions about the past.
MAG (memory as gate): conversation and novel, surprising material. MAL (memory as layer): sequences, plans, routines.
Answer with one JSON object only: {"variant": "NONE"|"MAC"|"MAG"|"MAL", "reason": "<at most 20 words>"}.`;

const MAX_CONTENT = 2000;

export async function adviseVariant(input: AdviceInput, options: LlmOptions): Promise<Advice> {
  const user = JSON.stringify({
    content: input.content.slice(0, MAX_CONTENT),
    task_type: typeof input.taskType === 'string' ? input.taskType : null,
    current_variant: input.current ?? null,
    surprise_trend: {
      samples: input.trend.n,
      recent_mean: Number.isFinite(input.trend.recent) ? round(input.trend.recent) : null,
      direction: input.trend.direction,
    },
    policy_suggestion: { variant: input.policy.variant, reason: input.policy.reason },
  });
  const headers: Record<string, string> = { 'content-type': 'application/json', accept: 'application/json' };
  if (options.apiKey) headers.authorization = `Bearer ${options.apiKey}`;
  let text: string;
  let status: number;
  try {
    const res = await fetch(`${options.baseUrl.replace(/\/+$/, '')}/chat/completions`, {
      method: 'POST',
      headers,
      body: JSON.stringify({
        model: options.model,
        temperature: 0,
        max_tokens: 100,
        messages: [
          { role: 'system', content: SYSTEM },
          { role: 'user', content: user },
        ],
      }),
      signal: AbortSignal.timeout(options.timeoutMs),
    });
    status = res.status;
    text = await res.text();
  } catch (err) {
    const e = err as Error;
    return {
      ok: false,
      error: e.name === 'TimeoutError' ? `timeout after ${options.timeoutMs} ms` : e.message,
    };
  }
  if (status !== 200) return { ok: false, error: `HTTP ${status}` };
  return parseAdvice(text);
}

/** Parses a chat-completions response body whose first choice's message holds {"variant", "reason"}. */
export function parseAdvice(body: string): Advice {
  const outer = safeParseJson<{ choices?: { message?: { content?: unknown } }[] }>(body);
  if (!outer.ok) return { ok: false, error: 'response is not JSON' };
  const content = outer.value?.choices?.[0]?.message?.content;
  if (typeof content !== 'string') return { ok: false, error: 'no choices[0].message.content' };
  const start = content.indexOf('{');
  const end = content.lastIndexOf('}');
  if (start < 0 || end <= start) return { ok: false, error: 'no JSON object in the answer' };
  const inner = safeParseJson<{ variant?: unknown; reason?: unknown }>(content.slice(start, end + 1));
  if (!inner.ok || typeof inner.value !== 'object' || inner.value === null)
    return { ok: false, error: 'malformed JSON in the answer' };
  const v = typeof inner.value.variant === 'string' ? inner.value.variant.trim().toUpperCase() : '';
  if (!(VARIANTS as readonly string[]).includes(v))
    return { ok: false, error: `unknown variant ${JSON.stringify(inner.value.variant)}` };
  const reason = typeof inner.value.reason === 'string' ? inner.value.reason.slice(0, 200) : '';
  return { ok: true, variant: v as Variant, reason };
}

const round = (x: number) => Math.round(x * 1000) / 1000;
