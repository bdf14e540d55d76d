// A tiny observable store, and the shared record of the last turns' timings (drawn by the Health view).
import { useEffect, useState } from 'preact/hooks';
import type { Timings } from './api.ts';

export class Store<T> {
  private listeners = new Set<(value: T) => void>();
  constructor(private value: T) {}
  get(): T {
    return this.value;
  }
  set(value: T): void {
    this.value = value;
    for (const l of this.listeners) l(value);
  }
  update(fn: (value: T) => T): void {
    this.set(fn(this.value));
  }
  subscribe(listener: (value: T) => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }
}

export function useStore<T>(store: Store<T>): T {
  const [value, setValue] = useState(store.get());
  useEffect(() => {
    setValue(store.get());
    return store.subscribe(setValue);
  }, [store]);
  return value;
}

export interface TurnRecord {
  /** Unique key (turn_id, or a local counter). */
  key: string;
  source: 'voice' | 'text';
  text: string;
  at: number;
  timings: Timings;
}

export const MAX_TURNS = 20;
export const turnStore = new Store<TurnRecord[]>([]);

let seq = 0;
export function recordTurn(t: Omit<TurnRecord, 'key' | 'at'> & { turn_id?: string }): void {
  const record: TurnRecord = {
    key: t.turn_id ?? `local-${++seq}`,
    source: t.source,
    text: t.text,
    at: Date.now(),
    timings: t.timings,
  };
  turnStore.update((list) => [...list.filter((r) => r.key !== record.key), record].slice(-MAX_TURNS));
}
