// Profiles in session memory's agent state (agent "memory-reasoning", key "profile:<user_id>"), so they are as
// durable as the session database. Writes of this process are serialised (read-modify-write of one JSON value).
import { notFound } from '@synthians/kit';
import type { SessionStore } from '@synthians/session-memory';
import { AGENT } from './error-patterns.ts';
import { emptyProfile, mergeFacts, setFact, type FactCandidate, type StoredProfile } from './profile.ts';

const PREFIX = 'profile:';

export class ProfileStore {
  private queue: Promise<unknown> = Promise.resolve();

  constructor(
    private readonly store: SessionStore,
    private readonly clock: () => Date = () => new Date(),
  ) {}

  private serial<T>(fn: () => Promise<T>): Promise<T> {
    const run = this.queue.then(fn, fn);
    this.queue = run.catch(() => undefined);
    return run;
  }

  async get(userId: string): Promise<StoredProfile | undefined> {
    const e = await this.store.getAgentState(AGENT, PREFIX + userId);
    return e ? (e.value as unknown as StoredProfile) : undefined;
  }

  private async save(profile: StoredProfile): Promise<void> {
    await this.store.setAgentState(AGENT, PREFIX + profile.user_id, JSON.parse(JSON.stringify(profile)));
  }

  merge(userId: string, candidates: FactCandidate[]) {
    return this.serial(async () => {
      const now = this.clock().toISOString();
      const profile = (await this.get(userId)) ?? emptyProfile(userId, now);
      const result = mergeFacts(profile, candidates, now);
      await this.save(profile);
      return result;
    });
  }

  set(userId: string, key: string, value: string) {
    return this.serial(async () => {
      const now = this.clock().toISOString();
      const profile = (await this.get(userId)) ?? emptyProfile(userId, now);
      const fact = setFact(profile, key, value, now);
      await this.save(profile);
      return fact;
    });
  }

  delete(userId: string, key: string) {
    return this.serial(async () => {
      const now = this.clock().toISOString();
      const profile = await this.get(userId);
      if (!profile?.facts[key]) throw notFound(`User ${userId} has no fact ${key}`, { user_id: userId, key });
      delete profile.facts[key];
      profile.deleted[key] = now;
      profile.updated_at = now;
      await this.save(profile);
    });
  }
}
