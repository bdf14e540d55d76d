// Spoken turns on the coordinator: the GET /v1/audio WebSocket (protocol.ts), its per-connection state machine and
// a client helper for the CLI (`talk`).
export * from './config.ts';
export * from './protocol.ts';
export * from './engines.ts';
export * from './speaker.ts';
export * from './session.ts';
export * from './route.ts';
export * from './client.ts';
export * from './pc2.ts';
