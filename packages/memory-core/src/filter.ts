// The filter language shared by list, search and the compat metadata_filter, compiled to SQL.
//   { "<path>": value }                      equality (null means "is null")
//   { "<path>": { "$eq"|"$ne"|"$gt"|"$gte"|"$lt"|"$lte": v, "$in"|"$nin": [v…], "$exists": bool } }
//   { "$and": [filter…] }, { "$or": [filter…] }
// A path is a memory field (below) or a dotted path into metadata ("metadata.topic.name" or just "topic.name").
import { badRequest } from '@synthians/kit';

export type Scalar = string | number | boolean | null;
export interface Sql {
  sql: string;
  params: Scalar[];
}

const fields: Record<string, string> = {
  id: 'm.id',
  user_id: 'm.user_id',
  session_id: 'm.session_id',
  created_at: 'm.created_at',
  updated_at: 'm.updated_at',
  event_time: 'm.event_time',
  quickrecal_score: 'm.quickrecal',
  access_count: 'm.access_count',
  last_access: 'm.last_access',
  embedding_model: 'm.embedding_model',
  'emotion.dominant': "json_extract(m.emotion, '$.dominant')",
  'emotion.valence': "json_extract(m.emotion, '$.valence')",
  'emotion.intensity': "json_extract(m.emotion, '$.intensity')",
};
const timeFields = new Set(['created_at', 'updated_at', 'event_time', 'last_access']);
const operators = new Set(['$eq', '$ne', '$gt', '$gte', '$lt', '$lte', '$in', '$nin', '$exists']);
const segment = /^[A-Za-z0-9_-]+$/;
const maxDepth = 8;

export function compileFilter(filter: unknown, where = 'filter'): Sql {
  const parts: string[] = [];
  const params: Scalar[] = [];
  compileObject(filter, where, parts, params, 0);
  return { sql: parts.length ? parts.join(' AND ') : '1', params };
}

function compileObject(
  filter: unknown,
  where: string,
  parts: string[],
  params: Scalar[],
  depth: number,
): void {
  if (depth > maxDepth) throw badRequest('invalid_filter', `${where}: nested too deeply`);
  if (typeof filter !== 'object' || filter === null || Array.isArray(filter)) {
    throw badRequest('invalid_filter', `${where} must be an object of path → condition`);
  }
  for (const [key, cond] of Object.entries(filter)) {
    if (key === '$and' || key === '$or') {
      if (!Array.isArray(cond) || cond.length === 0) {
        throw badRequest('invalid_filter', `${where}.${key} must be a non-empty array of filters`);
      }
      const subs = cond.map((c, i) => {
        const sub: string[] = [];
        compileObject(c, `${where}.${key}[${i}]`, sub, params, depth + 1);
        return sub.length ? `(${sub.join(' AND ')})` : '1';
      });
      parts.push(`(${subs.join(key === '$and' ? ' AND ' : ' OR ')})`);
      continue;
    }
    if (key.startsWith('$')) throw badRequest('invalid_filter', `${where}: unknown operator ${key}`);
    if (key === 'tags' || key === 'tag') {
      parts.push(compileTags(cond, `${where}.${key}`, params));
      continue;
    }
    const column = columnFor(key, where);
    const isTime = timeFields.has(key);
    if (typeof cond === 'object' && cond !== null && !Array.isArray(cond)) {
      const entries = Object.entries(cond);
      if (entries.length === 0) throw badRequest('invalid_filter', `${where}.${key}: empty condition`);
      for (const [op, value] of entries) {
        if (!operators.has(op)) {
          throw badRequest('invalid_filter', `${where}.${key}: unknown operator ${op}`, {
            allowed: [...operators],
          });
        }
        parts.push(compileOp(column, op, value, `${where}.${key}`, params, isTime));
      }
    } else {
      parts.push(compileOp(column, '$eq', cond, `${where}.${key}`, params, isTime));
    }
  }
}

function columnFor(path: string, where: string): string {
  const known = fields[path];
  if (known) return known;
  const rest = path.startsWith('metadata.') ? path.slice('metadata.'.length) : path;
  const segments = rest.split('.');
  if (segments.some((s) => !segment.test(s))) {
    throw badRequest(
      'invalid_filter',
      `${where}: invalid path "${path}" (letters, digits, _ and - between dots)`,
    );
  }
  return `json_extract(m.metadata, '$.${segments.map((s) => `"${s}"`).join('.')}')`;
}

function scalar(value: unknown, where: string, isTime: boolean): Scalar {
  if (isTime && typeof value === 'string') {
    const ms = Date.parse(value);
    if (Number.isNaN(ms)) throw badRequest('invalid_filter', `${where}: not a date: ${value}`);
    return ms;
  }
  if (typeof value === 'boolean') return value ? 1 : 0;
  if (typeof value === 'number') {
    if (!Number.isFinite(value)) throw badRequest('invalid_filter', `${where}: numbers must be finite`);
    return value;
  }
  if (typeof value === 'string' || value === null) return value;
  throw badRequest('invalid_filter', `${where}: values must be strings, numbers, booleans or null`);
}

function compileOp(
  column: string,
  op: string,
  value: unknown,
  where: string,
  params: Scalar[],
  isTime: boolean,
) {
  switch (op) {
    case '$eq':
    case '$ne': {
      const v = scalar(value, where, isTime);
      if (v === null) return `${column} IS ${op === '$eq' ? '' : 'NOT '}NULL`;
      params.push(v);
      return op === '$eq' ? `${column} = ?` : `(${column} IS NULL OR ${column} != ?)`;
    }
    case '$gt':
    case '$gte':
    case '$lt':
    case '$lte': {
      // Checked before scalar(), which turns booleans into 0/1.
      if (value === null || typeof value === 'boolean')
        throw badRequest('invalid_filter', `${where}.${op} needs a number or string`);
      const v = scalar(value, where, isTime);
      params.push(v);
      const sym = { $gt: '>', $gte: '>=', $lt: '<', $lte: '<=' }[op];
      return `${column} ${sym} ?`;
    }
    case '$in':
    case '$nin': {
      if (!Array.isArray(value) || value.length === 0 || value.length > 1000) {
        throw badRequest('invalid_filter', `${where}.${op} needs an array of 1 to 1000 values`);
      }
      const vs = value.map((v) => scalar(v, where, isTime));
      params.push(...vs);
      const list = vs.map(() => '?').join(', ');
      return op === '$in' ? `${column} IN (${list})` : `(${column} IS NULL OR ${column} NOT IN (${list}))`;
    }
    case '$exists':
      if (typeof value !== 'boolean')
        throw badRequest('invalid_filter', `${where}.$exists needs true or false`);
      return `${column} IS ${value ? 'NOT ' : ''}NULL`;
  }
  throw badRequest('invalid_filter', `${where}: unknown operator ${op}`);
}

function compileTags(cond: unknown, where: string, params: Scalar[]): string {
  const exists = (tags: string[]) => {
    params.push(...tags);
    return `EXISTS (SELECT 1 FROM memory_tags t WHERE t.memory_key = m.key AND t.tag IN (${tags.map(() => '?').join(', ')}))`;
  };
  const asTags = (v: unknown): string[] => {
    const list = Array.isArray(v) ? v : [v];
    if (list.length === 0 || list.some((t) => typeof t !== 'string')) {
      throw badRequest('invalid_filter', `${where}: tags are non-empty lists of strings`);
    }
    return list as string[];
  };
  if (typeof cond === 'object' && cond !== null && !Array.isArray(cond)) {
    const out: string[] = [];
    for (const [op, value] of Object.entries(cond)) {
      if (op === '$in' || op === '$eq') out.push(exists(asTags(value)));
      else if (op === '$nin' || op === '$ne') out.push(`NOT ${exists(asTags(value))}`);
      else if (op === '$all') out.push(...asTags(value).map((t) => exists([t])));
      else throw badRequest('invalid_filter', `${where}: unknown operator ${op} (tags take $in, $nin, $all)`);
    }
    return out.join(' AND ');
  }
  // A bare list means "has all of these tags".
  return asTags(cond)
    .map((t) => exists([t]))
    .join(' AND ');
}
