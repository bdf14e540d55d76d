// The task router: typed tasks → services or in-process handlers (library and service).
export { TaskRouter, validateTask, MAX_TIMEOUT_MS } from './router.ts';
export type {
  Task,
  TaskResult,
  TaskHandler,
  HandlerContext,
  RegisterOptions,
  RouteView,
  TaskRouterOptions,
} from './router.ts';
export { CircuitBreaker } from './breaker.ts';
export type { BreakerState, BreakerOptions, BreakerSnapshot, BreakerFailure } from './breaker.ts';
export { PriorityQueue, PRIORITIES, priorityLevel } from './queue.ts';
export type { PriorityName, QueueOptions, EnqueueOptions } from './queue.ts';
export { taskRouterSchema, loadTaskRouterConfig, buildRouteTable } from './config.ts';
export type { TaskRouterConfig, RouteSpec, HttpTarget, InProcessTarget, HttpMethod } from './config.ts';
export { taskRouterService, routerOptions, routerHealth } from './service.ts';
export { registerTaskRouterApi } from './api.ts';
