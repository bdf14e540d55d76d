// The assistant's language-model side: a streaming OpenAI-compatible chat client, the SSE parser and the prompt.
export * from './sse.ts';
export * from './openai.ts';
export * from './prompt.ts';
