// The durable history of what DreamWorld published: every insight, cycle summary and simulation result (SQLite in
// WAL mode under <data dir>/dreamworld), and every dream cycle with its changes.
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import Database from 'better-sqlite3';

export const TOPICS = ['dream.insight', 'dream.cycle', 'dream.simulation'] as const;
export type Topic = (typeof TOPICS)[number];

export interface HistoryEvent {
  seq: number;
  topic: Topic;
  id: string;
  at: string;
  payload: unknown;
}

export class History {
  private readonly db: Database.Database;
  private readonly insertEvent: Database.Statement;
  private readonly insertCycle: Database.Statement;

  constructor(dir: string) {
    mkdirSync(dir, { recursive: true });
    this.db = new Database(join(dir, 'dreamworld.sqlite'));
    this.db.pragma('journal_mode = WAL');
    this.db.pragma('synchronous = NORMAL');
    this.db.exec(`
      CREATE TABLE IF NOT EXISTS events (
        seq INTEGER PRIMARY KEY AUTOINCREMENT,
        topic TEXT NOT NULL,
        id TEXT NOT NULL UNIQUE,
        at INTEGER NOT NULL,
        payload TEXT NOT NULL
      );
      CREATE INDEX IF NOT EXISTS events_at ON events (at);
      CREATE TABLE IF NOT EXISTS cycles (
        cycle_id TEXT PRIMARY KEY,
        started_at INTEGER NOT NULL,
        finished_at INTEGER NOT NULL,
        status TEXT NOT NULL,
        payload TEXT NOT NULL
      );
    `);
    this.insertEvent = this.db.prepare(
      'INSERT OR IGNORE INTO events (topic, id, at, payload) VALUES (?, ?, ?, ?)',
    );
    this.insertCycle = this.db.prepare(
      'INSERT OR REPLACE INTO cycles (cycle_id, started_at, finished_at, status, payload) VALUES (?, ?, ?, ?, ?)',
    );
  }

  /** Records an event; false when one with this id exists already. */
  record(topic: Topic, id: string, at: number, payload: unknown): boolean {
    return this.insertEvent.run(topic, id, at, JSON.stringify(payload)).changes > 0;
  }

  has(id: string): boolean {
    return this.db.prepare('SELECT 1 FROM events WHERE id = ?').get(id) !== undefined;
  }

  saveCycle(cycle: { cycle_id: string; started_at: string; finished_at: string; status: string }): void {
    this.insertCycle.run(
      cycle.cycle_id,
      Date.parse(cycle.started_at),
      Date.parse(cycle.finished_at),
      cycle.status,
      JSON.stringify(cycle),
    );
  }

  cycle(id: string): unknown {
    const row = this.db.prepare('SELECT payload FROM cycles WHERE cycle_id = ?').get(id) as
      { payload: string } | undefined;
    return row ? JSON.parse(row.payload) : undefined;
  }

  /** Events after `sinceMs` (exclusive), oldest first. */
  events(options: { sinceMs?: number; limit: number; topic?: Topic }): HistoryEvent[] {
    const rows = this.db
      .prepare(
        `SELECT seq, topic, id, at, payload FROM events WHERE at > ? ${options.topic ? 'AND topic = ?' : ''} ORDER BY at, seq LIMIT ?`,
      )
      .all(...[options.sinceMs ?? -1, ...(options.topic ? [options.topic] : []), options.limit]) as {
      seq: number;
      topic: Topic;
      id: string;
      at: number;
      payload: string;
    }[];
    return rows.map((r) => ({
      seq: r.seq,
      topic: r.topic,
      id: r.id,
      at: new Date(r.at).toISOString(),
      payload: JSON.parse(r.payload) as unknown,
    }));
  }

  eventById(id: string): HistoryEvent[] {
    const row = this.db.prepare('SELECT seq, topic, id, at, payload FROM events WHERE id = ?').get(id) as
      { seq: number; topic: Topic; id: string; at: number; payload: string } | undefined;
    if (!row) return [];
    return [{ ...row, at: new Date(row.at).toISOString(), payload: JSON.parse(row.payload) as unknown }];
  }

  close(): void {
    this.db.close();
  }
}
