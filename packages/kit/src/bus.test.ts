import { test } from 'node:test';
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import {
  assertSubject,
  createBus,
  MemoryBus,
  NatsBus,
  subjectMatches,
  type Bus,
  type BusMessage,
} from './bus.ts';

const NATS_URL = process.env.NATS_URL ?? 'nats://127.0.0.1:4222';

test('subject matching follows NATS wildcards', () => {
  assert.ok(subjectMatches('voice.*.vad', 'voice.s1.vad'), '* matches one token');
  assert.ok(!subjectMatches('voice.*.vad', 'voice.s1.x.vad'), '* does not match two tokens');
  assert.ok(subjectMatches('voice.>', 'voice.s1.audio'), '> matches the rest');
  assert.ok(!subjectMatches('voice.>', 'voice'), '> needs at least one token');
  assert.ok(subjectMatches('a.b', 'a.b') && !subjectMatches('a.b', 'a.b.c'), 'exact match only');
  assert.throws(() => assertSubject('voice..vad'), RangeError, 'empty token rejected');
  assert.throws(() => assertSubject('voice.*'), RangeError, 'wildcard rejected when publishing');
  assert.throws(() => assertSubject('a.>.b', true), RangeError, '> must be last');
  assertSubject('voice.*.>', true);
});

async function exercise(bus: Bus, prefix: string): Promise<void> {
  const got: BusMessage[] = [];
  const all: string[] = [];
  const unsub = bus.subscribe(`${prefix}.*.vad`, (m) => {
    got.push(m);
  });
  const unsubAll = bus.subscribe(`${prefix}.>`, (m) => {
    all.push(m.subject);
  });
  // A failing subscriber does not stop delivery to the others.
  const unsubBad = bus.subscribe(`${prefix}.>`, () => {
    throw new Error('subscriber bug');
  });
  bus.publish(`${prefix}.s1.vad`, { type: 'speech_start', timestamp_ms: 10 });
  bus.publish(`${prefix}.s1.audio`, Uint8Array.from([1, 2, 3]));
  bus.publish(`${prefix}.s2.vad`, { type: 'speech_end', timestamp_ms: 20 });
  await bus.flush();
  // NATS delivers asynchronously after flush; wait until the messages are in.
  for (let i = 0; i < 100 && (got.length < 2 || all.length < 3); i++)
    await new Promise((r) => setTimeout(r, 10));
  assert.deepEqual(
    got.map((m) => [m.subject, m.json()]),
    [
      [`${prefix}.s1.vad`, { type: 'speech_start', timestamp_ms: 10 }],
      [`${prefix}.s2.vad`, { type: 'speech_end', timestamp_ms: 20 }],
    ],
    'wildcard subscriber gets the VAD events as JSON, in order',
  );
  assert.deepEqual(
    all,
    [`${prefix}.s1.vad`, `${prefix}.s1.audio`, `${prefix}.s2.vad`],
    '> subscriber gets everything',
  );
  unsub();
  unsubAll();
  unsubBad();
  bus.publish(`${prefix}.s3.vad`, { after: 'unsubscribe' });
  await bus.flush();
  await new Promise((r) => setTimeout(r, 50));
  assert.equal(got.length, 2, 'nothing after unsubscribe');
}

test('in-process bus: wildcards, JSON and bytes, ordering, unsubscribe', async () => {
  const bus = await createBus();
  assert.ok(bus instanceof MemoryBus, 'no NATS URL → in-process bus');
  await exercise(bus, 'voice');
  await bus.close();
});

test('NATS bus against the real server', async (t) => {
  let bus: Bus;
  try {
    bus = await createBus({ natsUrl: NATS_URL, name: 'bus-test' });
  } catch (err) {
    if (process.env.CI) throw err;
    t.skip(`no NATS server at ${NATS_URL} (${String(err)})`);
    return;
  }
  assert.ok(bus instanceof NatsBus, 'NATS URL → NATS bus');
  // A unique prefix so parallel runs do not see each other's messages.
  await exercise(bus, `test-${randomUUID().slice(0, 8)}`);
  await bus.close();
  bus.publish('after.close', { x: 1 });
});
