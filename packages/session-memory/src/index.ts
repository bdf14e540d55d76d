// @synthians/session-memory: session and short-term memory on PostgreSQL (or PGlite in-process).
export { sessionMemoryService, memoryOrchestratorService, openConfiguredDb } from './service.ts';
export * from './store.ts';
export {
  openDb,
  waitForPostgres,
  redactUrl,
  mapDbError,
  openPgliteDatabases,
  type Db,
  type OpenDbOptions,
  type QueryResult,
  type Row,
  type WaitOptions,
} from './db.ts';
export {
  migrate,
  migrations,
  migrationStatus,
  runDbMigrate,
  defaultDbPath,
  checksum,
  type Migration,
  type MigrateResult,
  type DbMigrateOptions,
} from './migrations.ts';
export { estimateTokens, extractiveSummary } from './text.ts';
export {
  sessionMemorySchema,
  memoryOrchestratorSchema,
  loadSessionMemoryConfig,
  loadMemoryOrchestratorConfig,
  type SessionMemoryConfig,
  type MemoryOrchestratorConfig,
  sessionDatabaseVariables,
} from './config.ts';
