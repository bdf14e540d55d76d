// LoCoMo retrieval over HTTP with the builtin embedding provider: evidence recall@5 and @10 for vector, lexical and
// hybrid search on ../shared/bench/locomo-dev (3 conversations). Protocol (the data set's README): every turn is one
// memory ("speaker: text" plus the image caption), the session date is its event time, dia_id and session are
// metadata; each conversation is one user_id; questions of categories 1–4 are scored by
// |evidence ∩ top-k dia_ids| / |evidence|, averaged over questions.
//   npm run bench:locomo [-- --data ../shared/bench/locomo-dev]
import { readFileSync, readdirSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { MONTHS } from '../packages/kit/src/words.ts';
import { expectStatus, request, closeAgents } from './lib/http.ts';
import { removeDir, repoRoot, startServer } from './lib/server.ts';
import { emit, flag, log, machine, round } from './lib/util.ts';

interface Turn {
  speaker: string;
  dia_id: string;
  text: string;
  blip_caption?: string;
}
interface Question {
  question: string;
  evidence?: string[];
  category: number;
}

const dataDir = resolve(flag('data') ?? join(repoRoot, '../shared/bench/locomo-dev'));
const modes = ['vector', 'lexical', 'hybrid'] as const;

/** "1:56 pm on 8 May, 2023" → epoch ms (UTC). */
function sessionTime(text: string): number | undefined {
  const m = /(\d{1,2}):(\d{2})\s*(am|pm)\s+on\s+(\d{1,2})\s+(\w+),?\s+(\d{4})/i.exec(text);
  if (!m) return undefined;
  const month = MONTHS.indexOf(m[5]!.toLowerCase());
  let hour = Number(m[1]) % 12;
  if (m[3]!.toLowerCase() === 'pm') hour += 12;
  return Date.UTC(Number(m[6]), month, Number(m[4]), hour, Number(m[2]));
}

/** Evidence ids, some written as "D8:6; D9:17". */
const evidenceIds = (q: Question) =>
  (q.evidence ?? [])
    .flatMap((e) => e.split(/[;,]\s*/))
    .map((e) => e.trim())
    .filter(Boolean);

async function main() {
  const files = readdirSync(dataDir)
    .filter((f) => /^conv-\d+\.json$/.test(f))
    .sort();
  if (files.length === 0) throw new Error(`no conv-*.json under ${dataDir}`);
  const server = await startServer({ env: { EMBEDDING_PROVIDER: 'builtin', MEMORY_SYNC: 'normal' } });
  const perConversation: Record<string, unknown>[] = [];
  const totals = Object.fromEntries(modes.map((m) => [m, { r5: 0, r10: 0 }]));
  let questions = 0;
  let memories = 0;
  const latencies: number[] = [];
  try {
    for (const file of files) {
      const conv = JSON.parse(readFileSync(join(dataDir, file), 'utf8')) as Record<string, unknown>;
      const user = file.replace('.json', '');
      const rows: Record<string, unknown>[] = [];
      for (let k = 1; Array.isArray(conv[`session_${k}`]); k++) {
        const when = sessionTime(String(conv[`session_${k}_date_time`] ?? ''));
        for (const t of conv[`session_${k}`] as Turn[]) {
          const text = `${t.speaker}: ${t.text}${t.blip_caption ? ` [image: ${t.blip_caption}]` : ''}`;
          rows.push({
            content: text,
            user_id: user,
            event_time: when,
            metadata: { dia_id: t.dia_id, session: k, speaker: t.speaker },
          });
        }
      }
      for (let i = 0; i < rows.length; i += 1000) {
        const r = await request(
          server.url,
          'POST',
          '/v1/memories/batch',
          JSON.stringify({ memories: rows.slice(i, i + 1000) }),
        );
        expectStatus(r, 201, 'batch ingest');
      }
      memories += rows.length;
      const qs = (conv.qa as Question[]).filter(
        (q) => q.category >= 1 && q.category <= 4 && evidenceIds(q).length > 0,
      );
      const sums = Object.fromEntries(modes.map((m) => [m, { r5: 0, r10: 0 }]));
      for (const q of qs) {
        const evidence = new Set(evidenceIds(q));
        for (const mode of modes) {
          const body = JSON.stringify({
            query: q.question,
            mode,
            top_k: 10,
            user_id: user,
            track_access: false,
          });
          const r = await request(server.url, 'POST', '/v1/search', body);
          expectStatus(r, 200, 'search');
          latencies.push(r.ms);
          const ids = (
            JSON.parse(r.body.toString()) as { results: { metadata: { dia_id: string } }[] }
          ).results.map((x) => x.metadata.dia_id);
          const hits = (k: number) => ids.slice(0, k).filter((id) => evidence.has(id)).length / evidence.size;
          sums[mode]!.r5 += hits(5);
          sums[mode]!.r10 += hits(10);
          totals[mode]!.r5 += hits(5);
          totals[mode]!.r10 += hits(10);
        }
      }
      questions += qs.length;
      perConversation.push({
        conversation: user,
        memories: rows.length,
        questions: qs.length,
        ...Object.fromEntries(
          modes.map((m) => [
            m,
            {
              recall_at_5: round(sums[m]!.r5 / qs.length, 3),
              recall_at_10: round(sums[m]!.r10 / qs.length, 3),
            },
          ]),
        ),
      });
      log(`${user}: ${rows.length} memories, ${qs.length} questions`);
    }
  } finally {
    await server.stop();
    removeDir(server.dir);
    closeAgents();
  }
  latencies.sort((a, b) => a - b);
  const overall = Object.fromEntries(
    modes.map((m) => [
      m,
      {
        recall_at_5: round(totals[m]!.r5 / questions, 3),
        recall_at_10: round(totals[m]!.r10 / questions, 3),
      },
    ]),
  );
  emit({
    benchmark: 'locomo-retrieval',
    data: dataDir,
    embedding_provider: 'builtin',
    memories,
    questions,
    overall,
    per_conversation: perConversation,
    target: {
      hybrid_recall_at_10: '>= 0.65',
      met: (overall.hybrid as { recall_at_10: number }).recall_at_10 >= 0.65,
    },
    search_latency_ms: {
      p50: round(latencies[Math.floor(latencies.length / 2)]!),
      p99: round(latencies[Math.floor(latencies.length * 0.99)]!),
    },
    machine: machine(),
  });
}

await main();
