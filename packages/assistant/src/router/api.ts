// The task router's HTTP API: POST /v1/tasks (run one task) and GET /v1/routes (the table, breakers, queues).
import { AppError, type App } from '@synthians/kit';
import { MAX_PRIORITY, MIN_PRIORITY, PRIORITIES } from './queue.ts';
import { MAX_TIMEOUT_MS, type Task, type TaskRouter } from './router.ts';

const taskBody = {
  type: 'object',
  required: ['type', 'payload'],
  additionalProperties: false,
  properties: {
    type: {
      type: 'string',
      minLength: 1,
      maxLength: 100,
      pattern: '^[a-z][a-z0-9_-]*(\\.[a-z0-9_-]+)*$',
      description:
        'Task type: stt, tts, llm, embed, skill, memory.store, memory.search, memory.get, memory.delete, pc2.<task>, …',
    },
    payload: {
      type: 'object',
      additionalProperties: true,
      description:
        'Forwarded to the target (the JSON body of an HTTP target; the argument of an in-process handler)',
    },
    priority: {
      anyOf: [
        { type: 'string', enum: Object.keys(PRIORITIES) },
        { type: 'integer', minimum: MIN_PRIORITY, maximum: MAX_PRIORITY },
      ],
      description: `high (${PRIORITIES.high}), normal (${PRIORITIES.normal}, the default), low (${PRIORITIES.low}) or ${MIN_PRIORITY}–${MAX_PRIORITY}, ${MAX_PRIORITY} served first; FIFO within a priority`,
    },
    timeout_ms: {
      type: 'integer',
      minimum: 1,
      maximum: MAX_TIMEOUT_MS,
      description:
        'Budget of the whole task (queue wait, attempts, backoff); default: the route timeout per attempt and ROUTER_QUEUE_WAIT_MS in the queue',
    },
    idempotency_key: {
      type: 'string',
      minLength: 1,
      maxLength: 200,
      description:
        'Repeats with the same key, type and payload join the task in flight or replay its result (header x-idempotent-replay: true)',
    },
  },
} as const;

export function registerTaskRouterApi(app: App, router: TaskRouter): void {
  const tags = ['tasks'];
  app.post(
    '/v1/tasks',
    {
      schema: {
        tags,
        summary: 'Route one task to its handler or service',
        description:
          'Runs the task through its route’s priority queue, circuit breaker, timeout and (idempotent routes only) retries. Answers {type, target, result, attempts, duration_ms}. Errors: 400 unknown_task_type / validation_error, the target’s own 4xx, 429 queue_full and 503 circuit_open (both with Retry-After), 502 target_error, 503 target_unavailable / handler_unavailable, 504 target_timeout / queue_timeout.',
        body: taskBody,
      },
    },
    async (req, reply) => {
      try {
        const result = await router.route(req.body as Task);
        if (result.replayed) reply.header('x-idempotent-replay', 'true');
        const { replayed: _replayed, ...body } = result;
        return body;
      } catch (err) {
        if (AppError.isInstance(err)) {
          const retryAfter = (err.details as { retry_after?: unknown } | undefined)?.retry_after;
          if (typeof retryAfter === 'number') reply.header('retry-after', String(retryAfter));
        }
        throw err;
      }
    },
  );

  app.get(
    '/v1/routes',
    {
      schema: {
        tags,
        summary:
          'Every route: its target, breaker state (closed/open/half_open), failure counts, last error, queue',
      },
    },
    async () => ({ routes: router.routes() }),
  );
}
