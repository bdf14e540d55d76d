// The memory reasoning agent: contradiction precision/recall/F1 on a deterministic planted set (templated facts about
// many subjects, planted conflicts of each kind, many non-conflicting near-duplicates), and the latency of
// contradiction detection, context assembly and profile extraction over HTTP with a real memory core and PGlite.
// Prints one JSON object; progress on stderr.
//
//   node --import tsx bench/reasoning.ts [--subjects 60] [--repeats 20]
//   node --import tsx bench/reasoning.ts --errors    # only the detector on the planted set: missed and unplanted pairs
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { jsonClient, startTestService } from '@synthians/kit';
import { startCore } from '../packages/memory-core/src/test-support.ts';
import {
  findContradictions,
  memoryReasoningService,
  type MemoryText,
} from '../packages/reasoning/src/index.ts';
import { emit, intFlag, log, machine, round } from './lib/util.ts';

const SUBJECTS = intFlag('subjects', 60);
const REPEATS = intFlag('repeats', 20);

const NAMES = [
  'Ana',
  'Maria',
  'Tom',
  'Lena',
  'Omar',
  'Yuki',
  'Pavel',
  'Ines',
  'Kofi',
  'Sara',
  'Ravi',
  'Mila',
];
const CITIES = ['Oslo', 'Bergen', 'Paris', 'Lyon', 'Rome', 'Madrid', 'Porto', 'Berlin', 'Vienna', 'Prague'];
const FOODS = ['coffee', 'tea', 'olives', 'mushrooms', 'sushi', 'chocolate', 'cheese', 'jazz', 'football'];
const RELATIVES = [
  'sister',
  'brother',
  'cousin',
  'aunt',
  'uncle',
  'neighbour',
  'boss',
  'friend',
  'nephew',
  'niece',
];
const PETS = ['cats', 'dogs', 'rabbits', 'fish', 'horses', 'plants', 'bikes', 'guitars'];
const EVENTS = ['meeting', 'dentist appointment', 'concert', 'exam', 'party', 'review', 'flight', 'wedding'];
const MONTHS = ['January', 'March', 'May', 'June', 'September', 'October'];

/** A word that names subject n (digits in a subject would read as a number that changed). */
const WORDS = [
  'alder',
  'birch',
  'cedar',
  'dune',
  'elm',
  'fjord',
  'grove',
  'heath',
  'isle',
  'juniper',
  'kestrel',
  'larch',
  'moor',
];
const tag = (n: number): string =>
  n < WORDS.length ? WORDS[n]! : `${WORDS[n % WORDS.length]!}-${tag(Math.floor(n / WORDS.length) - 1)}`;

type Kind = 'conflicting_value' | 'negation' | 'changed_number' | 'changed_date';

/** Deterministic memories: for subject i, a conflicting pair of kind i % 4 (on a person, a preference, a count or a date)
 *  and, for every subject, distractors that share words or slots but do not contradict. */
function plantedSet(subjects: number) {
  const memories: (MemoryText & { user: string })[] = [];
  const truth = new Set<string>();
  let t = Date.UTC(2024, 0, 1);
  const add = (user: string, content: string) => {
    const id = `m${memories.length}`;
    memories.push({ id, content, user, created_at: new Date((t += 3_600_000)).toISOString() });
    return id;
  };
  for (let i = 0; i < subjects; i++) {
    const user = `u${i % 5}`;
    const rel = `${RELATIVES[i % RELATIVES.length]}${i >= RELATIVES.length ? ` ${tag(Math.floor(i / RELATIVES.length))}` : ''}`;
    const pet = PETS[i % PETS.length]!;
    const food = FOODS[i % FOODS.length]!;
    const event = `${EVENTS[i % EVENTS.length]} ${tag(i)}`;
    const city = CITIES[i % CITIES.length]!;
    const kind: Kind = (['conflicting_value', 'negation', 'changed_number', 'changed_date'] as const)[i % 4]!;
    let a: string;
    let b: string;
    switch (kind) {
      case 'conflicting_value':
        a = add(
          user,
          i % 8 === 0
            ? `${NAMES[i % 12]} ${tag(i)} lives in ${city}.`
            : `My ${rel} is called ${NAMES[i % 12]}.`,
        );
        add(user, `My ${rel} likes ${food}.`); // same subject, other relation
        b = add(
          user,
          i % 8 === 0
            ? `${NAMES[i % 12]} ${tag(i)} lives in ${CITIES[(i + 3) % CITIES.length]} now.`
            : `My ${rel}'s name is ${NAMES[(i + 5) % 12]}.`,
        );
        break;
      case 'negation':
        a = add(user, i % 8 === 1 ? `I like ${food} ${tag(i)}.` : `The ${event} room is booked.`);
        add(
          user,
          i % 8 === 1 ? `I like ${FOODS[(i + 1) % FOODS.length]} ${tag(i)}.` : `The ${event} room is large.`,
        );
        b = add(
          user,
          i % 8 === 1 ? `I don't like ${food} ${tag(i)} anymore.` : `The ${event} room is not booked.`,
        );
        break;
      case 'changed_number':
        a = add(
          user,
          i % 8 === 2 ? `My ${rel} has ${2 + (i % 3)} ${pet}.` : `The ${event} ticket costs ${20 + i} euros.`,
        );
        add(
          user,
          i % 8 === 2
            ? `My ${rel} has ${2 + (i % 3)} ${PETS[(i + 1) % PETS.length]}.`
            : `The ${event} parking costs ${20 + i} euros.`,
        );
        b = add(
          user,
          i % 8 === 2
            ? `My ${rel} has ${5 + (i % 3)} ${pet} now.`
            : `The ${event} ticket costs ${30 + i} euros.`,
        );
        break;
      default:
        a = add(user, `The ${event} is on ${MONTHS[i % 6]} ${1 + (i % 27)}.`);
        add(
          user,
          `The ${EVENTS[(i + 1) % EVENTS.length]} ${tag(i + 1000)} is on ${MONTHS[(i + 1) % 6]} ${2 + (i % 27)}.`,
        );
        b = add(user, `The ${event} was moved to ${MONTHS[i % 6]} ${3 + (i % 27)}.`);
    }
    truth.add(`${a}|${b}|${kind}`);
    // Near-duplicates that agree, events that recur, other subjects with similar sentences.
    add(user, `My ${rel} called me yesterday.`);
    add(user, `I went to the ${event} on ${MONTHS[(i + 2) % 6]} ${1 + (i % 20)}.`);
    add(user, `I went to the ${event} on ${MONTHS[(i + 3) % 6]} ${2 + (i % 20)}.`);
    add(user, `We have ${1 + (i % 4)} ${pet} ${tag(i)} at the office.`);
    add(user, `I like ${FOODS[(i + 2) % FOODS.length]}.`);
  }
  return { memories, truth };
}

function score(pairs: { a: { id: string }; b: { id: string }; reason: string }[], truth: Set<string>) {
  const truthPairs = new Map(
    [...truth].map((k) => {
      const [a, b, r] = k.split('|');
      return [`${a}|${b}`, r!];
    }),
  );
  let tp = 0;
  let reasonOk = 0;
  for (const p of pairs) {
    const r = truthPairs.get(`${p.a.id}|${p.b.id}`);
    if (r !== undefined) {
      tp++;
      if (r === p.reason) reasonOk++;
    }
  }
  const precision = pairs.length ? tp / pairs.length : 1;
  const recall = tp / truth.size;
  const f1 = precision + recall ? (2 * precision * recall) / (precision + recall) : 0;
  return {
    planted: truth.size,
    found: pairs.length,
    true_positives: tp,
    precision: round(precision, 3),
    recall: round(recall, 3),
    f1: round(f1, 3),
    reason_accuracy: round(tp ? reasonOk / tp : 0, 3),
  };
}

const stats = (xs: number[]) => {
  const s = [...xs].sort((a, b) => a - b);
  const q = (p: number) => round(s[Math.min(s.length - 1, Math.floor(p * s.length))] ?? NaN);
  return { runs: xs.length, p50_ms: q(0.5), p90_ms: q(0.9), max_ms: round(s.at(-1) ?? NaN) };
};

async function timeIt(n: number, fn: () => Promise<void>) {
  const xs: number[] = [];
  for (let i = 0; i < n; i++) {
    const t0 = performance.now();
    await fn();
    xs.push(performance.now() - t0);
  }
  return stats(xs);
}

const { memories, truth } = plantedSet(SUBJECTS);
log(`planted set: ${memories.length} memories, ${truth.size} planted conflicts`);
const t0 = performance.now();
// Per user, as the service scans them (memories of different users never contradict each other).
const users = [...new Set(memories.map((m) => m.user))];
const pure = users.flatMap((u) =>
  findContradictions(
    memories.filter((m) => m.user === u),
    { limit: 10_000 },
  ),
);
const pureMs = performance.now() - t0;
const quality = score(pure, truth);
log('quality (pure)', quality);
if (process.argv.includes('--errors')) {
  // Analysis: the pairs found that were not planted, and the planted ones not found.
  const text = new Map(memories.map((m) => [m.id, `${m.user}: ${m.content}`]));
  const planted = new Set([...truth].map((k) => k.split('|').slice(0, 2).join('|')));
  const found = new Set(pure.map((p) => `${p.a.id}|${p.b.id}`));
  const fp = pure.filter((p) => !planted.has(`${p.a.id}|${p.b.id}`)).slice(0, 15);
  const fn = [...planted].filter((k) => !found.has(k)).slice(0, 15);
  console.log(
    JSON.stringify(
      {
        false_positives: fp.map((p) => [p.reason, text.get(p.a.id), text.get(p.b.id)]),
        missed: fn.map((k) => k.split('|').map((id) => text.get(id))),
      },
      null,
      2,
    ),
  );
  process.exit(0);
}

const dir = mkdtempSync(join(tmpdir(), 'bench-reasoning-'));
const core = await startCore({ EMBEDDING_DIM: '768' });
const svc = await startTestService(memoryReasoningService, { env: { MEMORY_CORE_URL: core.url }, dir });
try {
  const coreReq = jsonClient(core.url);
  for (let i = 0; i < memories.length; i += 500) {
    const batch = memories
      .slice(i, i + 500)
      .map((m) => ({ id: m.id, content: m.content, user_id: 'bench', event_time: m.created_at }));
    const r = await coreReq('POST', '/v1/memories/batch', { memories: batch });
    if (r.status !== 201) throw new Error(JSON.stringify(r.body));
  }
  log(`stored ${memories.length} memories in the memory core`);
  const http = await svc.request('POST', '/v1/contradictions', { user_id: 'bench', limit: 1000 });
  const qualityHttp = score(http.body.pairs, truth);
  const contradictions = await timeIt(REPEATS, async () => {
    await svc.request('POST', '/v1/contradictions', { user_id: 'bench', limit: 1000 });
  });
  log('contradictions', contradictions);
  const profile = await timeIt(REPEATS, async () => {
    await svc.request('POST', '/v1/profile/bench/extract');
  });
  log('profile', profile);
  const context = await timeIt(REPEATS * 5, async () => {
    const r = await svc.request('POST', '/v1/context', {
      query: 'when is the meeting',
      user_id: 'bench',
      max_tokens: 1000,
    });
    if (r.status !== 200) throw new Error(JSON.stringify(r.body));
  });
  log('context', context);
  emit({
    bench: 'reasoning',
    machine: machine(),
    memories: memories.length,
    contradictions_quality: quality,
    contradictions_quality_http: qualityHttp,
    latency: {
      contradictions_pure_ms: round(pureMs),
      contradictions_http: contradictions,
      profile_extract_http: profile,
      context_http_1000_tokens: context,
    },
  });
} finally {
  await svc.stop();
  await core.destroy();
  rmSync(dir, { recursive: true, force: true });
}
