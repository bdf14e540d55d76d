// Summarises a V8 .cpuprofile (e.g. from a benchmark server started with BENCH_SERVER_NODE_ARGS="--cpu-prof
// --cpu-prof-dir=/tmp/prof"): top functions by self time and by inclusive time, and time per source file.
// Prints one JSON object.
//
//   node --import tsx bench/profile-summary.ts <file.cpuprofile> [--top 25] [--match memory-core]
import { readFileSync } from 'node:fs';
import { emit, flag, intFlag, round } from './lib/util.ts';

interface Node {
  id: number;
  callFrame: { functionName: string; url: string; lineNumber: number };
  hitCount?: number;
  children?: number[];
}
interface Profile {
  nodes: Node[];
  startTime: number;
  endTime: number;
  samples: number[];
  timeDeltas: number[];
}

const file = process.argv.slice(2).find((a) => !a.startsWith('--') && a.endsWith('.cpuprofile'));
if (!file) {
  process.stderr.write('usage: bench/profile-summary.ts <file.cpuprofile> [--top 25] [--match text]\n');
  process.exit(2);
}
const top = intFlag('top', 25);
const match = flag('match');
const profile = JSON.parse(readFileSync(file, 'utf8')) as Profile;

const byId = new Map(profile.nodes.map((n) => [n.id, n]));
const parent = new Map<number, number>();
for (const n of profile.nodes) for (const c of n.children ?? []) parent.set(c, n.id);
// Self time per node from the sample deltas (µs).
const self = new Map<number, number>();
for (let i = 0; i < profile.samples.length; i++) {
  const id = profile.samples[i]!;
  self.set(id, (self.get(id) ?? 0) + (profile.timeDeltas[i] ?? 0));
}
const short = (url: string) =>
  url
    .replace(/^file:\/\//, '')
    .replace(/^.*\/node_modules\//, 'node_modules/')
    .replace(/^.*\/packages\//, 'packages/');
const label = (n: Node) =>
  `${n.callFrame.functionName || '(anonymous)'} ${short(n.callFrame.url)}:${n.callFrame.lineNumber + 1}`;

const selfByFn = new Map<string, number>();
const inclusiveByFn = new Map<string, number>();
const byFile = new Map<string, number>();
for (const [id, us] of self) {
  const n = byId.get(id)!;
  const l = label(n);
  selfByFn.set(l, (selfByFn.get(l) ?? 0) + us);
  const f = n.callFrame.url
    ? short(n.callFrame.url).replace(/:\d+$/, '')
    : `(${n.callFrame.functionName || 'native'})`;
  byFile.set(f, (byFile.get(f) ?? 0) + us);
  // Inclusive: every distinct function on the stack gets the sample once.
  const seen = new Set<string>();
  for (let cur: number | undefined = id; cur !== undefined; cur = parent.get(cur)) {
    const lab = label(byId.get(cur)!);
    if (seen.has(lab)) continue;
    seen.add(lab);
    inclusiveByFn.set(lab, (inclusiveByFn.get(lab) ?? 0) + us);
  }
}
const totalUs = profile.endTime - profile.startTime;
const rank = (m: Map<string, number>) =>
  [...m]
    .filter(([k]) => !match || k.includes(match))
    .sort((a, b) => b[1] - a[1])
    .slice(0, top)
    .map(([k, us]) => ({ ms: round(us / 1000, 1), pct: round((100 * us) / totalUs, 1), fn: k }));

emit({
  file,
  wall_ms: round(totalUs / 1000, 1),
  idle_ms: round((selfByFn.get('(idle) :0') ?? 0) / 1000, 1),
  top_self: rank(selfByFn),
  top_inclusive: rank(inclusiveByFn),
  by_file: rank(byFile),
});
