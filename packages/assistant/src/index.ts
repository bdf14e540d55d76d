// @synthians/assistant: the coordinator, the task router, the health monitor, skills and the LLM client.
export * from './health/index.ts';
export * from './router/index.ts';
export * from './coordinator/index.ts';
export * from './skills/index.ts';
export * from './llm/index.ts';
export * from './audio/index.ts';
