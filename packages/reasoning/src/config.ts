// Configuration of the memory reasoning agent: every variable, its default and its meaning.
import { z } from 'zod';
import { env, loadConfig, type Env, serviceVariables } from '@synthians/kit';
import { sessionDatabaseVariables } from '@synthians/session-memory';

// The session database is opened exactly as the session-memory services open it, from the same variables.

export const memoryReasoningSchema = z.object({
  ...serviceVariables('memory-reasoning', 5596, 1 << 20, '; also sent to the memory core'),
  MEMORY_CORE_URL: env
    .urlList('http://127.0.0.1:5010')
    .describe('Memory core URLs, comma-separated: the primary, then standbys (reads fail over in order)'),
  MEMORY_CORE_TIMEOUT_MS: env
    .int(5000, 50, 600000)
    .describe(
      'Timeout of each request to a memory core (a timed-out core counts as down: 503 memory_core_unavailable)',
    ),
  HEALTH_TIMEOUT_MS: env.int(1000, 50, 60000).describe('Timeout of the memory-core check of /health'),
  ...sessionDatabaseVariables,
  MAX_SCAN_MEMORIES: env
    .int(5000, 10, 100000)
    .describe(
      'Most memories read from the memory core for one contradiction scan or profile extraction (newest kept)',
    ),
  CONTEXT_MEMORIES: env
    .int(20, 0, 200)
    .describe('Memories recalled (hybrid search top_k) for context assembly'),
  CONTEXT_TURNS: env.int(50, 0, 1000).describe('Most recent session turns considered for context assembly'),
  ERROR_PATTERNS_MAX: env
    .int(1000, 1, 1000)
    .describe('Most stored error patterns (409 too_many_patterns above)'),
  ERROR_MATCH_CHARS: env
    .int(4000, 100, 100000)
    .describe(
      'Characters of an error message matched against the patterns (bounds the regex work per lookup)',
    ),
});

export type MemoryReasoningConfig = z.infer<typeof memoryReasoningSchema>;

export function loadMemoryReasoningConfig(source: Env = process.env): MemoryReasoningConfig {
  return loadConfig(memoryReasoningSchema, source);
}
