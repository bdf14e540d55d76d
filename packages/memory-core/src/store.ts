// The durable truth of the memory core: SQLite in WAL mode (better-sqlite3).
// Every write runs in one transaction together with its entry in the change log (`changes`), whose
// monotonically increasing `seq` drives index catch-up, the change feed and the standby.
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import type { EmotionResult } from './emotion.ts';
import type { Sql } from './filter.ts';

export interface SurpriseEvent {
  reason: string;
  delta: number;
  previous: number;
  new: number;
  at: number;
}

export interface MemoryRecord {
  key: number;
  id: string;
  content: string;
  embedding: Float32Array;
  embeddingModel: string;
  metadata: Record<string, unknown>;
  tags: string[];
  userId: string | null;
  sessionId: string | null;
  importance: number | null;
  quickrecal: number;
  quickrecalFactors: Record<string, number>;
  emotion: EmotionResult;
  createdAt: number;
  updatedAt: number;
  eventTime: number | null;
  accessCount: number;
  lastAccess: number | null;
  seq: number;
}

export interface AssemblyRecord {
  key: number;
  id: string;
  name: string;
  composite: Float32Array;
  keywordCounts: Record<string, number>;
  memberCount: number;
  activationCount: number;
  lastActivated: number | null;
  createdAt: number;
  updatedAt: number;
  seq: number;
}

export interface Change {
  seq: number;
  kind: 'memory' | 'assembly';
  op: 'upsert' | 'delete';
  ref: string;
  key: number;
  at: number;
}

const schema = `
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS memories (
  key INTEGER PRIMARY KEY AUTOINCREMENT,
  id TEXT NOT NULL UNIQUE,
  content TEXT NOT NULL,
  embedding BLOB NOT NULL,
  embedding_model TEXT NOT NULL,
  metadata TEXT NOT NULL DEFAULT '{}',
  user_id TEXT,
  session_id TEXT,
  importance REAL,
  quickrecal REAL NOT NULL,
  quickrecal_factors TEXT NOT NULL DEFAULT '{}',
  emotion TEXT NOT NULL,
  created_at INTEGER NOT NULL,
  updated_at INTEGER NOT NULL,
  event_time INTEGER,
  access_count INTEGER NOT NULL DEFAULT 0,
  last_access INTEGER,
  seq INTEGER NOT NULL
);
CREATE INDEX IF NOT EXISTS memories_user ON memories(user_id, created_at);
CREATE INDEX IF NOT EXISTS memories_session ON memories(session_id, created_at);
CREATE INDEX IF NOT EXISTS memories_created ON memories(created_at);
CREATE INDEX IF NOT EXISTS memories_event ON memories(event_time);
CREATE TABLE IF NOT EXISTS memory_tags (
  tag TEXT NOT NULL,
  memory_key INTEGER NOT NULL REFERENCES memories(key) ON DELETE CASCADE,
  PRIMARY KEY (tag, memory_key)
) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS memory_tags_key ON memory_tags(memory_key);
CREATE TABLE IF NOT EXISTS surprise_events (
  memory_key INTEGER NOT NULL REFERENCES memories(key) ON DELETE CASCADE,
  at INTEGER NOT NULL,
  delta REAL NOT NULL,
  previous REAL NOT NULL,
  new REAL NOT NULL,
  reason TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS surprise_events_key ON surprise_events(memory_key, at);
CREATE TABLE IF NOT EXISTS changes (
  seq INTEGER PRIMARY KEY AUTOINCREMENT,
  kind TEXT NOT NULL,
  op TEXT NOT NULL,
  ref TEXT NOT NULL,
  key INTEGER NOT NULL,
  at INTEGER NOT NULL
);
CREATE TABLE IF NOT EXISTS assemblies (
  key INTEGER PRIMARY KEY AUTOINCREMENT,
  id TEXT NOT NULL UNIQUE,
  name TEXT NOT NULL,
  composite BLOB NOT NULL,
  keyword_counts TEXT NOT NULL DEFAULT '{}',
  member_count INTEGER NOT NULL DEFAULT 0,
  activation_count INTEGER NOT NULL DEFAULT 0,
  last_activated INTEGER,
  created_at INTEGER NOT NULL,
  updated_at INTEGER NOT NULL,
  seq INTEGER NOT NULL
);
CREATE TABLE IF NOT EXISTS assembly_members (
  assembly_key INTEGER NOT NULL REFERENCES assemblies(key) ON DELETE CASCADE,
  memory_key INTEGER NOT NULL REFERENCES memories(key) ON DELETE CASCADE,
  added_at INTEGER NOT NULL,
  PRIMARY KEY (assembly_key, memory_key)
) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS assembly_members_memory ON assembly_members(memory_key);
CREATE VIRTUAL TABLE IF NOT EXISTS memories_fts USING fts5(
  content, content='memories', content_rowid='key', tokenize='porter unicode61 remove_diacritics 2'
);
CREATE TRIGGER IF NOT EXISTS memories_fts_insert AFTER INSERT ON memories BEGIN
  INSERT INTO memories_fts(rowid, content) VALUES (new.key, new.content);
END;
CREATE TRIGGER IF NOT EXISTS memories_fts_delete AFTER DELETE ON memories BEGIN
  INSERT INTO memories_fts(memories_fts, rowid, content) VALUES ('delete', old.key, old.content);
END;
CREATE TRIGGER IF NOT EXISTS memories_fts_update AFTER UPDATE OF content ON memories BEGIN
  INSERT INTO memories_fts(memories_fts, rowid, content) VALUES ('delete', old.key, old.content);
  INSERT INTO memories_fts(rowid, content) VALUES (new.key, new.content);
END;
`;

type Row = Record<string, unknown>;

export const toBlob = (v: Float32Array) => Buffer.from(v.buffer, v.byteOffset, v.byteLength);
export const fromBlob = (b: Buffer) => {
  // Copy: the Buffer may be a view into memory SQLite reuses, and may not be 4-byte aligned.
  const out = new Float32Array(b.byteLength / 4);
  new Uint8Array(out.buffer).set(b);
  return out;
};

export class MemoryStore {
  readonly db: Database.Database;
  private readonly stmts;

  constructor(
    readonly dir: string,
    options: { sync: 'full' | 'normal' } = { sync: 'full' },
  ) {
    mkdirSync(dir, { recursive: true });
    this.db = new Database(join(dir, 'memory.db'));
    this.db.pragma('journal_mode = WAL');
    this.db.pragma(`synchronous = ${options.sync === 'full' ? 'FULL' : 'NORMAL'}`);
    this.db.pragma('foreign_keys = ON');
    this.db.pragma('busy_timeout = 5000');
    this.db.pragma('cache_size = -65536');
    this.db.exec(schema);
    const db = this.db;
    this.stmts = {
      insert:
        db.prepare(`INSERT INTO memories (key, id, content, embedding, embedding_model, metadata, user_id,
        session_id, importance, quickrecal, quickrecal_factors, emotion, created_at, updated_at, event_time,
        access_count, last_access, seq) VALUES (@key, @id, @content, @embedding, @embeddingModel, @metadata, @userId,
        @sessionId, @importance, @quickrecal, @quickrecalFactors, @emotion, @createdAt, @updatedAt, @eventTime,
        @accessCount, @lastAccess, @seq)`),
      update:
        db.prepare(`UPDATE memories SET content=@content, embedding=@embedding, embedding_model=@embeddingModel,
        metadata=@metadata, user_id=@userId, session_id=@sessionId, importance=@importance, quickrecal=@quickrecal,
        quickrecal_factors=@quickrecalFactors, emotion=@emotion, updated_at=@updatedAt, event_time=@eventTime,
        access_count=@accessCount, last_access=@lastAccess, seq=@seq WHERE key=@key`),
      byId: db.prepare('SELECT * FROM memories WHERE id = ?'),
      byKey: db.prepare('SELECT * FROM memories WHERE key = ?'),
      keyById: db.prepare('SELECT key FROM memories WHERE id = ?').pluck(),
      deleteByKey: db.prepare('DELETE FROM memories WHERE key = ?'),
      tagsOf: db.prepare('SELECT tag FROM memory_tags WHERE memory_key = ? ORDER BY tag').pluck(),
      clearTags: db.prepare('DELETE FROM memory_tags WHERE memory_key = ?'),
      addTag: db.prepare('INSERT OR IGNORE INTO memory_tags (tag, memory_key) VALUES (?, ?)'),
      change: db.prepare('INSERT INTO changes (kind, op, ref, key, at) VALUES (?, ?, ?, ?, ?)'),
      setSeq: db.prepare('UPDATE memories SET seq = ? WHERE key = ?'),
      head: db.prepare("SELECT seq FROM sqlite_sequence WHERE name = 'changes'").pluck(),
      changesSince: db.prepare('SELECT * FROM changes WHERE seq > ? ORDER BY seq LIMIT ?'),
      maxKey: db.prepare("SELECT seq FROM sqlite_sequence WHERE name = 'memories'").pluck(),
      count: db.prepare('SELECT count(*) FROM memories').pluck(),
      metaGet: db.prepare('SELECT value FROM meta WHERE key = ?').pluck(),
      metaSet: db.prepare(
        'INSERT INTO meta (key, value) VALUES (?, ?) ON CONFLICT(key) DO UPDATE SET value = excluded.value',
      ),
      addSurprise: db.prepare(
        'INSERT INTO surprise_events (memory_key, at, delta, previous, new, reason) VALUES (?, ?, ?, ?, ?, ?)',
      ),
      surprises: db.prepare(
        'SELECT at, delta, previous, new, reason FROM surprise_events WHERE memory_key = ? ORDER BY at, rowid',
      ),
      bumpAccess: db.prepare(
        'UPDATE memories SET access_count = access_count + ?, last_access = max(coalesce(last_access, 0), ?) WHERE key = ?',
      ),
      allEmbeddings: db.prepare('SELECT key, embedding FROM memories ORDER BY key'),
      assemblyById: db.prepare('SELECT * FROM assemblies WHERE id = ?'),
      assemblyByKey: db.prepare('SELECT * FROM assemblies WHERE key = ?'),
      allAssemblies: db.prepare('SELECT * FROM assemblies ORDER BY key'),
      insertAssembly:
        db.prepare(`INSERT INTO assemblies (id, name, composite, keyword_counts, member_count, activation_count,
        last_activated, created_at, updated_at, seq) VALUES (@id, @name, @composite, @keywordCounts, @memberCount,
        @activationCount, @lastActivated, @createdAt, @updatedAt, @seq)`),
      updateAssembly:
        db.prepare(`UPDATE assemblies SET name=@name, composite=@composite, keyword_counts=@keywordCounts,
        member_count=@memberCount, activation_count=@activationCount, last_activated=@lastActivated,
        updated_at=@updatedAt, seq=@seq WHERE key=@key`),
      deleteAssembly: db.prepare('DELETE FROM assemblies WHERE key = ?'),
      addMember: db.prepare(
        'INSERT OR IGNORE INTO assembly_members (assembly_key, memory_key, added_at) VALUES (?, ?, ?)',
      ),
      removeMember: db.prepare('DELETE FROM assembly_members WHERE assembly_key = ? AND memory_key = ?'),
      membersOf: db
        .prepare(
          'SELECT memory_key FROM assembly_members WHERE assembly_key = ? ORDER BY added_at, memory_key',
        )
        .pluck(),
      memberIdsOf: db
        .prepare(
          `SELECT m.id FROM assembly_members a JOIN memories m ON m.key = a.memory_key
        WHERE a.assembly_key = ? ORDER BY a.added_at, a.memory_key`,
        )
        .pluck(),
      assembliesOf: db.prepare('SELECT assembly_key FROM assembly_members WHERE memory_key = ?').pluck(),
      activate: db.prepare(
        'UPDATE assemblies SET activation_count = activation_count + ?, last_activated = ? WHERE key = ?',
      ),
    };
  }

  transaction<T>(fn: () => T): T {
    return this.db.transaction(fn)();
  }

  close(): void {
    if (this.db.open) {
      this.db.pragma('wal_checkpoint(TRUNCATE)');
      this.db.close();
    }
  }

  // ---- memories -------------------------------------------------------------------------------------------

  /** The next free memory key (single writer: the caller inserts it before asking again). */
  nextKey(): number {
    return ((this.stmts.maxKey.get() as number | undefined) ?? 0) + 1;
  }

  count(): number {
    return this.stmts.count.get() as number;
  }

  insert(record: MemoryRecord): void {
    this.stmts.insert.run(this.toRow(record));
    this.setTags(record.key, record.tags);
  }

  update(record: MemoryRecord): void {
    this.stmts.update.run(this.toRow(record));
    this.setTags(record.key, record.tags);
  }

  /** Inserts or replaces by id (used by the standby); returns the local key. */
  upsertReplica(record: Omit<MemoryRecord, 'key'>, surprises: SurpriseEvent[], newKey: () => number): number {
    const existing = this.stmts.keyById.get(record.id) as number | undefined;
    const key = existing ?? newKey();
    const full = { ...record, key };
    if (existing === undefined) this.insert(full);
    else this.update(full);
    this.db.prepare('DELETE FROM surprise_events WHERE memory_key = ?').run(key);
    for (const e of surprises) this.stmts.addSurprise.run(key, e.at, e.delta, e.previous, e.new, e.reason);
    return key;
  }

  private setTags(key: number, tags: string[]): void {
    this.stmts.clearTags.run(key);
    for (const tag of tags) this.stmts.addTag.run(tag, key);
  }

  private toRow(r: MemoryRecord) {
    return {
      key: r.key,
      id: r.id,
      content: r.content,
      embedding: toBlob(r.embedding),
      embeddingModel: r.embeddingModel,
      metadata: JSON.stringify(r.metadata),
      userId: r.userId,
      sessionId: r.sessionId,
      importance: r.importance,
      quickrecal: r.quickrecal,
      quickrecalFactors: JSON.stringify(r.quickrecalFactors),
      emotion: JSON.stringify(r.emotion),
      createdAt: r.createdAt,
      updatedAt: r.updatedAt,
      eventTime: r.eventTime,
      accessCount: r.accessCount,
      lastAccess: r.lastAccess,
      seq: r.seq,
    };
  }

  fromRow(row: Row, withTags = true): MemoryRecord {
    const key = row.key as number;
    return {
      key,
      id: row.id as string,
      content: row.content as string,
      embedding: fromBlob(row.embedding as Buffer),
      embeddingModel: row.embedding_model as string,
      metadata: JSON.parse(row.metadata as string) as Record<string, unknown>,
      tags: withTags ? (this.stmts.tagsOf.all(key) as string[]) : [],
      userId: (row.user_id as string | null) ?? null,
      sessionId: (row.session_id as string | null) ?? null,
      importance: (row.importance as number | null) ?? null,
      quickrecal: row.quickrecal as number,
      quickrecalFactors: JSON.parse(row.quickrecal_factors as string) as Record<string, number>,
      emotion: JSON.parse(row.emotion as string) as EmotionResult,
      createdAt: row.created_at as number,
      updatedAt: row.updated_at as number,
      eventTime: (row.event_time as number | null) ?? null,
      accessCount: row.access_count as number,
      lastAccess: (row.last_access as number | null) ?? null,
      seq: row.seq as number,
    };
  }

  getById(id: string): MemoryRecord | undefined {
    const row = this.stmts.byId.get(id) as Row | undefined;
    return row && this.fromRow(row);
  }

  getByKey(key: number): MemoryRecord | undefined {
    const row = this.stmts.byKey.get(key) as Row | undefined;
    return row && this.fromRow(row);
  }

  keyOf(id: string): number | undefined {
    return this.stmts.keyById.get(id) as number | undefined;
  }

  getManyByKeys(keys: number[]): Map<number, MemoryRecord> {
    const out = new Map<number, MemoryRecord>();
    for (let i = 0; i < keys.length; i += 500) {
      const chunk = keys.slice(i, i + 500);
      const rows = this.db
        .prepare(`SELECT * FROM memories WHERE key IN (${chunk.map(() => '?').join(',')})`)
        .all(...chunk) as Row[];
      for (const row of rows) out.set(row.key as number, this.fromRow(row));
    }
    return out;
  }

  embeddingsOf(keys: number[]): Map<number, Float32Array> {
    const out = new Map<number, Float32Array>();
    if (keys.length === 0) return out;
    const rows = this.db
      .prepare(`SELECT key, embedding FROM memories WHERE key IN (${keys.map(() => '?').join(',')})`)
      .all(...keys) as { key: number; embedding: Buffer }[];
    for (const r of rows) out.set(r.key, fromBlob(r.embedding));
    return out;
  }

  *allEmbeddings(): Generator<{ key: number; embedding: Float32Array }> {
    for (const row of this.stmts.allEmbeddings.iterate() as Iterable<{ key: number; embedding: Buffer }>) {
      yield { key: row.key, embedding: fromBlob(row.embedding) };
    }
  }

  deleteByKey(key: number): void {
    this.stmts.deleteByKey.run(key);
  }

  /** Keys and embeddings of the memories matching a compiled filter, at most `limit` (for exact search). */
  embeddingsWhere(filter: Sql, limit: number): { key: number; embedding: Float32Array }[] {
    const rows = this.db
      .prepare(`SELECT m.key, m.embedding FROM memories m WHERE ${filter.sql} LIMIT ?`)
      .all(...filter.params, limit) as { key: number; embedding: Buffer }[];
    return rows.map((r) => ({ key: r.key, embedding: fromBlob(r.embedding) }));
  }

  countWhere(filter: Sql, limit: number): number {
    return this.db
      .prepare(`SELECT count(*) FROM (SELECT 1 FROM memories m WHERE ${filter.sql} LIMIT ?)`)
      .pluck()
      .get(...filter.params, limit) as number;
  }

  /** Which of `keys` match the filter. */
  keysMatching(keys: number[], filter: Sql): Set<number> {
    if (keys.length === 0) return new Set();
    const rows = this.db
      .prepare(
        `SELECT m.key FROM memories m WHERE m.key IN (${keys.map(() => '?').join(',')}) AND ${filter.sql}`,
      )
      .pluck()
      .all(...keys, ...filter.params) as number[];
    return new Set(rows);
  }

  /** BM25 over FTS5 (higher is better), restricted by the filter. */
  lexical(match: string, filter: Sql, limit: number): { key: number; score: number }[] {
    // Without a filter FTS5 ranks on its own (no join); `rank` is bm25 here.
    const sql =
      filter.sql === '1'
        ? `SELECT rowid AS key, -rank AS score FROM memories_fts WHERE memories_fts MATCH ? ORDER BY rank LIMIT ?`
        : `SELECT f.rowid AS key, -bm25(memories_fts) AS score FROM memories_fts f
      JOIN memories m ON m.key = f.rowid
      WHERE memories_fts MATCH ? AND ${filter.sql}
      ORDER BY bm25(memories_fts) LIMIT ?`;
    const params = filter.sql === '1' ? [match, limit] : [match, ...filter.params, limit];
    return this.db.prepare(sql).all(...params) as { key: number; score: number }[];
  }

  list(filter: Sql, afterKey: number, limit: number, order: 'asc' | 'desc'): MemoryRecord[] {
    const cmp = order === 'asc' ? '>' : '<';
    const rows = this.db
      .prepare(
        `SELECT * FROM memories m WHERE m.key ${cmp} ? AND ${filter.sql} ORDER BY m.key ${order} LIMIT ?`,
      )
      .all(afterKey, ...filter.params, limit) as Row[];
    return rows.map((r) => this.fromRow(r));
  }

  *iterate(filter: Sql): Generator<MemoryRecord> {
    const stmt = this.db.prepare(`SELECT * FROM memories m WHERE ${filter.sql} ORDER BY m.key`);
    for (const row of stmt.iterate(...filter.params) as Iterable<Row>) yield this.fromRow(row);
  }

  addSurprise(key: number, event: SurpriseEvent): void {
    this.stmts.addSurprise.run(key, event.at, event.delta, event.previous, event.new, event.reason);
  }

  surprises(key: number): SurpriseEvent[] {
    return this.stmts.surprises.all(key) as SurpriseEvent[];
  }

  /** Access statistics are batched in memory and written here periodically (they are not in the change log). */
  bumpAccess(updates: Map<number, { count: number; last: number }>): void {
    this.transaction(() => {
      for (const [key, u] of updates) this.stmts.bumpAccess.run(u.count, u.last, key);
    });
  }

  // ---- change log -----------------------------------------------------------------------------------------

  logChange(kind: Change['kind'], op: Change['op'], ref: string, key: number, at: number): number {
    return Number(this.stmts.change.run(kind, op, ref, key, at).lastInsertRowid);
  }

  setMemorySeq(key: number, seq: number): void {
    this.stmts.setSeq.run(seq, key);
  }

  headSeq(): number {
    return (this.stmts.head.get() as number | undefined) ?? 0;
  }

  changesSince(seq: number, limit: number): Change[] {
    return this.stmts.changesSince.all(seq, limit) as Change[];
  }

  getMeta(key: string): string | undefined {
    return this.stmts.metaGet.get(key) as string | undefined;
  }

  setMeta(key: string, value: string): void {
    this.stmts.metaSet.run(key, value);
  }

  // ---- assemblies -----------------------------------------------------------------------------------------

  private assemblyFromRow(row: Row): AssemblyRecord {
    return {
      key: row.key as number,
      id: row.id as string,
      name: row.name as string,
      composite: fromBlob(row.composite as Buffer),
      keywordCounts: JSON.parse(row.keyword_counts as string) as Record<string, number>,
      memberCount: row.member_count as number,
      activationCount: row.activation_count as number,
      lastActivated: (row.last_activated as number | null) ?? null,
      createdAt: row.created_at as number,
      updatedAt: row.updated_at as number,
      seq: row.seq as number,
    };
  }

  allAssemblies(): AssemblyRecord[] {
    return (this.stmts.allAssemblies.all() as Row[]).map((r) => this.assemblyFromRow(r));
  }

  assemblyById(id: string): AssemblyRecord | undefined {
    const row = this.stmts.assemblyById.get(id) as Row | undefined;
    return row && this.assemblyFromRow(row);
  }

  insertAssembly(a: Omit<AssemblyRecord, 'key'>): number {
    return Number(this.stmts.insertAssembly.run(this.assemblyRow(a)).lastInsertRowid);
  }

  updateAssembly(a: AssemblyRecord): void {
    this.stmts.updateAssembly.run({ ...this.assemblyRow(a), key: a.key });
  }

  private assemblyRow(a: Omit<AssemblyRecord, 'key'>) {
    return {
      id: a.id,
      name: a.name,
      composite: toBlob(a.composite),
      keywordCounts: JSON.stringify(a.keywordCounts),
      memberCount: a.memberCount,
      activationCount: a.activationCount,
      lastActivated: a.lastActivated,
      createdAt: a.createdAt,
      updatedAt: a.updatedAt,
      seq: a.seq,
    };
  }

  deleteAssembly(key: number): void {
    this.stmts.deleteAssembly.run(key);
  }

  addMember(assemblyKey: number, memoryKey: number, at: number): void {
    this.stmts.addMember.run(assemblyKey, memoryKey, at);
  }

  removeMember(assemblyKey: number, memoryKey: number): void {
    this.stmts.removeMember.run(assemblyKey, memoryKey);
  }

  membersOf(assemblyKey: number): number[] {
    return this.stmts.membersOf.all(assemblyKey) as number[];
  }

  memberIdsOf(assemblyKey: number): string[] {
    return this.stmts.memberIdsOf.all(assemblyKey) as string[];
  }

  assembliesOf(memoryKey: number): number[] {
    return this.stmts.assembliesOf.all(memoryKey) as number[];
  }

  /** assembly memberships of many memories: memory key → assembly keys. */
  membershipsOf(keys: number[]): Map<number, number[]> {
    const out = new Map<number, number[]>();
    if (keys.length === 0) return out;
    const rows = this.db
      .prepare(
        `SELECT memory_key, assembly_key FROM assembly_members WHERE memory_key IN (${keys.map(() => '?').join(',')})`,
      )
      .all(...keys) as { memory_key: number; assembly_key: number }[];
    for (const r of rows) {
      const list = out.get(r.memory_key) ?? [];
      list.push(r.assembly_key);
      out.set(r.memory_key, list);
    }
    return out;
  }

  activateAssemblies(counts: Map<number, number>, at: number): void {
    this.transaction(() => {
      for (const [key, n] of counts) this.stmts.activate.run(n, at, key);
    });
  }
}
