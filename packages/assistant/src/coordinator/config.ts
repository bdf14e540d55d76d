// Configuration of the coordinator (conversation core, port 8080): every variable, its default and its meaning.
import { z } from 'zod';
import { env, loadConfig, serviceVariables, type Env } from '@synthians/kit';
import { isTimeZone } from '../skills/parse.ts';
import { audioTurnVariables } from '../audio/config.ts';
import { sessionDatabaseVariables } from '@synthians/session-memory';

const singleUrl = (def: string) =>
  z
    .url()
    .default(def)
    .transform((u) => u.replace(/\/+$/, ''));

export const coordinatorSchema = z.object({
  ...serviceVariables(
    'coordinator',
    8080,
    1024 * 1024,
    '; also sent to the memory core and the orchestrator',
  ),
  MEMORY_CORE_URL: env
    .urlList('http://127.0.0.1:5010')
    .describe(
      'Memory core URL(s), comma-separated: the first one is searched and deleted from (recall, "forget …")',
    ),
  ORCHESTRATOR_URL: singleUrl('http://127.0.0.1:8002').describe(
    'Orchestrator URL: conversational turns are stored through its /process_memories (in batches, from the durable outbox), "remember that …" through /process_memory',
  ),
  MEMORY_TIMEOUT_MS: env
    .int(3000, 50, 120000)
    .describe(
      'Timeout of each request to the memory core or the orchestrator (the turn answers without memory)',
    ),
  MEMORY_WRITE_BATCH: env
    .int(100, 1, 1000)
    .describe('Long-term memory writes sent to the orchestrator per request (one memory-core transaction)'),
  MEMORY_QUEUE_MAX: env
    .int(5000, 10, 10_000_000)
    .describe(
      'Long-term memory writes that may wait in the durable outbox; above it new turns get 503 memory_backlog with Retry-After',
    ),
  // The session database, located and opened as session-memory does (unset DATABASE_URL: PGlite in-process under
  // <SYNTHIANS_DATA_DIR>/session-db, shared with session-memory in one process).
  ...sessionDatabaseVariables,
  SESSION_TTL_SECONDS: env
    .int(86400, 60, 365 * 86400)
    .describe('Lifetime of a new session without activity (seconds)'),
  DEFAULT_USER_ID: env
    .string('default')
    .describe('User of a turn or session that names none (long-term memories are scoped per user)'),
  MAX_TURN_CHARS: env.int(4000, 1, 100000).describe('Longest accepted text of one turn (400 text_too_long)'),
  TURN_CONCURRENCY: env
    .int(16, 1, 10_000)
    .describe('Turns processed at once; more wait in a queue (TURN_QUEUE) in arrival order'),
  TURN_QUEUE: env
    .int(128, 0, 100_000)
    .describe('Turns that may wait for a slot; above it a turn gets 503 busy with Retry-After at once'),
  TURN_QUEUE_TIMEOUT_MS: env
    .int(3000, 0, 600_000)
    .describe(
      'Longest wait for a slot; then 503 busy with Retry-After (overload is said, not left to time out)',
    ),
  RECALL_TOP_K: env
    .int(5, 0, 50)
    .describe('Long-term memories recalled for a language-model answer (0 = no recall)'),
  HISTORY_TURNS: env.int(10, 1, 200).describe('Recent interactions returned by GET /v1/sessions/:id'),
  TZ: z
    .string()
    .min(1)
    .default('UTC')
    .refine(isTimeZone, 'not an IANA time zone (e.g. Europe/Berlin)')
    .describe('Time zone of the time/date skill and of reminder times (IANA name, e.g. Europe/Berlin)'),
  LLM_BASE_URL: env
    .url()
    .describe(
      'OpenAI-compatible chat server for answers the skills do not cover, e.g. http://127.0.0.1:11434/v1 (Ollama); unset: a plain answer says what the assistant can do',
    ),
  LLM_MODEL: env.string('llama3.2').describe('Model name sent to LLM_BASE_URL'),
  LLM_API_KEY: env.optionalString().describe('API key for LLM_BASE_URL, if the server needs one'),
  LLM_TIMEOUT_MS: env
    .int(60000, 100, 600000)
    .describe('Longest time for a whole language-model reply (then the turn apologises)'),
  LLM_FIRST_TOKEN_TIMEOUT_MS: env
    .int(20000, 100, 600000)
    .describe('Longest wait for the first token of a reply (then the turn apologises)'),
  LLM_CONTEXT_TOKENS: env
    .int(3000, 256, 1_000_000)
    .describe(
      'Prompt budget in estimated tokens (ceil(chars/4) + 4 per message): system prompt, recalled memories, recent session context',
    ),
  LLM_MAX_TOKENS: env.int(300, 1, 100000).describe('max_tokens of one reply'),
  LLM_TEMPERATURE: env.number(0.7, 0, 2).describe('Sampling temperature sent to the model'),
  LLM_SYSTEM_PROMPT: env
    .optionalString()
    .describe('Replaces the built-in system prompt (a short, spoken-style assistant)'),
  CONFIRM_TTL_SECONDS: env
    .int(120, 5, 86400)
    .describe('How long a "should I forget …?" question waits for yes or no'),
  CONSOLE_ENABLED: env
    .bool(true)
    .describe(
      'Serve the web console at / with its proxies /api/memory/* (memory core) and /api/health (health monitor); `npm start` builds it when needed',
    ),
  HEALTH_MONITOR_URL: singleUrl('http://127.0.0.1:5584').describe(
    "Health monitor URL: the console's live service status (/api/health/stream)",
  ),
  CONSOLE_HEALTH_PUSH_MS: env
    .int(1000, 100, 60000)
    .describe(
      'While a console watches /api/health/stream, the monitor is re-read this often (and on every health.changes bus message); changes are pushed',
    ),
  ...audioTurnVariables,
});

export type CoordinatorConfig = z.infer<typeof coordinatorSchema>;

export function loadCoordinatorConfig(source: Env = process.env): CoordinatorConfig {
  return loadConfig(coordinatorSchema, source);
}
