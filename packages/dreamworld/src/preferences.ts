// The `preferences` evaluator: turns the user's stored statements ("I love hiking", "I hate traffic", "I prefer
// tea") into weights on the scenario's variables whose names mention the same thing (`hiking_hours`,
// `traffic_minutes`, `tea`). Pure: the service fetches the memories, this module reads them.

export interface Preference {
  /** The thing liked or disliked, lower-case ("hiking", "traffic jams"). */
  object: string;
  /** +1 love … −1 hate. */
  strength: number;
  memory_id: string;
  statement: string;
}

const verbs: [RegExp, number][] = [
  [/\b(?:really |absolutely )?(?:love|adore)s?\b/, 1],
  [/\b(?:really |absolutely )?(?:like|enjoy|prefer)s?\b/, 0.6],
  [/\b(?:really |absolutely )?(?:hate|detest|loathe|can't stand|cannot stand)s?\b/, -1],
  [/\b(?:dislike|don't like|do not like|don't enjoy|do not enjoy|avoid)s?\b/, -0.6],
];

const statementPattern =
  /\bI\s+((?:really |absolutely )?(?:love|adore|like|enjoy|prefer|hate|detest|loathe|dislike|avoid|can't stand|cannot stand|don't like|do not like|don't enjoy|do not enjoy))\s+([^.,;!?\n]{2,60})/gi;

const stop = new Set([
  'a',
  'an',
  'the',
  'to',
  'my',
  'our',
  'it',
  'when',
  'and',
  'of',
  'in',
  'on',
  'for',
  'with',
  'being',
  'very',
  'much',
  'so',
]);

/** Every "I like/love/prefer/enjoy/hate/dislike/avoid/can't stand X" in the memories' text. */
export function extractPreferences(memories: { id: string; content: string }[]): Preference[] {
  const out: Preference[] = [];
  for (const m of memories) {
    for (const match of m.content.matchAll(statementPattern)) {
      const verb = match[1]!.toLowerCase();
      const strength = verbs.find(([re]) => re.test(verb))?.[1] ?? 0;
      const object = match[2]!
        .toLowerCase()
        .replace(/\s+(than|over|because|but|when)\b.*$/, '')
        .trim();
      if (strength !== 0 && object !== '')
        out.push({ object, strength, memory_id: m.id, statement: match[0] });
    }
  }
  return out;
}

/** Content words, lightly stemmed (plural s, -ing kept whole), for matching names to statements. */
export function words(text: string): string[] {
  return text
    .replace(/([a-z])([A-Z])/g, '$1 $2')
    .toLowerCase()
    .split(/[^a-z0-9]+/)
    .filter((w) => w.length > 1 && !stop.has(w))
    .map((w) => (w.length > 3 && w.endsWith('s') && !w.endsWith('ss') ? w.slice(0, -1) : w));
}

export interface PreferenceWeight {
  var: string;
  weight: number;
  matched: { object: string; strength: number; memory_id: string; statement: string }[];
}

/**
 * The weight of each variable: `scale` × the sum of the strengths of the statements sharing a content word with the
 * variable's name (split at _ and camelCase). Variables nothing mentions get no weight.
 */
export function preferenceWeights(preferences: Preference[], vars: string[], scale = 1): PreferenceWeight[] {
  const out: PreferenceWeight[] = [];
  for (const v of vars) {
    const names = new Set(words(v));
    const matched = preferences.filter((p) => words(p.object).some((w) => names.has(w)));
    if (matched.length === 0) continue;
    out.push({
      var: v,
      weight: scale * matched.reduce((s, p) => s + p.strength, 0),
      matched: matched.map((p) => ({ ...p })),
    });
  }
  return out;
}
