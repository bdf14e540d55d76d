// Bad inputs for every route of an OpenAPI document, for the fuzz test (fuzz.test.ts): a bounded, deterministic list
// of requests built from each route's parameters and body schema. Every request is a valid-looking baseline (path
// parameters and required fields filled from their schemas) with one thing broken: NUL, a lone surrogate or invalid
// UTF-8 in one path parameter, query parameter or string field; a wrong type, null, a huge, negative or NaN-like
// number in one field; a missing required field, an extra field, prototype keys, deep nesting; an empty, non-JSON,
// scalar or oversized body, a wrong content type; JSON lines holding NUL, a lone surrogate or deep nesting. No case
// is meant to be valid (a loose schema may still accept one), but for one per path parameter: the longest value its
// schema allows, which the router must not refuse. Finding the right input is not the fuzzer's job, surviving the
// wrong one is.

/** The subset of JSON Schema (as @fastify/swagger writes it into OpenAPI 3) that the generator reads. */
export interface Schema {
  type?: string | string[];
  properties?: Record<string, Schema>;
  required?: string[];
  additionalProperties?: boolean | Schema;
  items?: Schema;
  enum?: unknown[];
  const?: unknown;
  anyOf?: Schema[];
  oneOf?: Schema[];
  allOf?: Schema[];
  default?: unknown;
  format?: string;
  pattern?: string;
  minLength?: number;
  maxLength?: number;
  minimum?: number;
  maximum?: number;
  exclusiveMinimum?: number;
  exclusiveMaximum?: number;
  minItems?: number;
  minProperties?: number;
  nullable?: boolean;
}

export interface OpenApiParameter {
  name: string;
  in: 'path' | 'query' | 'header' | 'cookie';
  required?: boolean;
  schema?: Schema;
}

export interface OpenApiOperation {
  parameters?: OpenApiParameter[];
  requestBody?: { content?: Record<string, { schema?: Schema }> };
}

export interface OpenApiDocument {
  paths?: Record<string, Record<string, OpenApiOperation>>;
}

export interface Route {
  method: string;
  /** The OpenAPI path template, e.g. /v1/memories/{id}. */
  template: string;
  operation: OpenApiOperation;
}

export interface Limits {
  /** The service's JSON body limit (bytes): `oversized` sends one byte more. */
  bodyBytes: number;
  /** The service's audio body limit, for services that take WAV bodies. */
  audioBytes?: number;
}

export interface BadRequest {
  method: string;
  /** The route's OpenAPI path template. */
  route: string;
  /** Path and query, percent-encoded exactly as sent. */
  url: string;
  /** What is wrong with it, e.g. `query limit: huge number` or `body /metadata: deep nesting`. */
  kind: string;
  headers: Record<string, string>;
  body?: Buffer;
}

const METHODS = ['get', 'post', 'put', 'patch', 'delete'];
const WITH_BODY = new Set(['POST', 'PUT', 'PATCH', 'DELETE']);

/** Every route of the document, in document order. */
export function routesOf(doc: OpenApiDocument): Route[] {
  const routes: Route[] = [];
  for (const [template, operations] of Object.entries(doc.paths ?? {})) {
    for (const [method, operation] of Object.entries(operations)) {
      if (METHODS.includes(method)) routes.push({ method: method.toUpperCase(), template, operation });
    }
  }
  return routes;
}

// ---- valid-looking values from schemas ----

function variants(schema: Schema): Schema[] | undefined {
  return schema.anyOf ?? schema.oneOf;
}

function typeOf(schema: Schema): string | undefined {
  const alt = variants(schema);
  if (alt?.[0]) return typeOf(alt[0]);
  if (Array.isArray(schema.type)) return schema.type.find((t) => t !== 'null');
  if (schema.type) return schema.type;
  if (schema.properties) return 'object';
  if (schema.enum?.length) return typeof schema.enum[0];
  return undefined;
}

function merged(schema: Schema): Schema {
  if (!schema.allOf) return schema;
  const out: Schema = {
    ...schema,
    allOf: undefined,
    properties: { ...schema.properties },
    required: [...(schema.required ?? [])],
  };
  for (const part of schema.allOf.map(merged)) {
    Object.assign(out.properties!, part.properties);
    out.required!.push(...(part.required ?? []));
    out.type ??= part.type;
  }
  return out;
}

/** A value the schema accepts, as far as a generator without a regex engine can tell (ids are `fuzz-1`). */
export function sample(input: Schema, depth = 0): unknown {
  const schema = merged(input);
  if (schema.const !== undefined) return schema.const;
  if (schema.enum?.length) return schema.enum[0];
  const alt = variants(schema);
  if (alt?.[0]) return sample(alt[0], depth);
  if (schema.default !== undefined) return schema.default;
  switch (typeOf(schema)) {
    case 'string':
      return sampleString(schema);
    case 'integer': {
      const low = schema.minimum ?? (schema.exclusiveMinimum !== undefined ? schema.exclusiveMinimum + 1 : 1);
      return schema.maximum !== undefined ? Math.min(low, schema.maximum) : low;
    }
    case 'number': {
      if (schema.exclusiveMinimum !== undefined && schema.exclusiveMaximum !== undefined)
        return (schema.exclusiveMinimum + schema.exclusiveMaximum) / 2;
      const low =
        schema.minimum ?? (schema.exclusiveMinimum !== undefined ? schema.exclusiveMinimum + 0.5 : 0.5);
      return schema.maximum !== undefined ? Math.min(low, schema.maximum) : low;
    }
    case 'boolean':
      return false;
    case 'array': {
      const n = Math.min(schema.minItems ?? 0, 3);
      return Array.from({ length: n }, () => sample(schema.items ?? {}, depth + 1));
    }
    case 'object':
      return sampleObject(schema, depth);
    default:
      return 'fuzz';
  }
}

function sampleString(schema: Schema): string {
  switch (schema.format) {
    case 'date-time':
      return '2026-01-01T00:00:00.000Z';
    case 'date':
      return '2026-01-01';
    case 'uri':
    case 'url':
      return 'http://127.0.0.1:9/';
    case 'email':
      return 'fuzz@example.org';
    case 'uuid':
      return '00000000-0000-4000-8000-000000000001';
  }
  let s = 'fuzz-1';
  if (schema.maxLength !== undefined && s.length > schema.maxLength)
    s = 'f'.repeat(Math.max(1, schema.maxLength));
  if (schema.minLength !== undefined && s.length < schema.minLength) s = s.padEnd(schema.minLength, 'x');
  return s;
}

/**
 * Optional fields the baseline fills as well: the text a handler checks first ("give content or an embedding"), so
 * that a broken field next to it gets past that check.
 */
const TEXT_FIELDS = new Set(['content', 'text', 'query']);

function sampleObject(schema: Schema, depth: number): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  if (depth > 6) return out;
  const props = schema.properties ?? {};
  for (const key of schema.required ?? []) out[key] = sample(props[key] ?? {}, depth + 1);
  for (const [key, sub] of Object.entries(props))
    if (TEXT_FIELDS.has(key) && !(key in out) && typeOf(sub) === 'string') out[key] = sample(sub, depth + 1);
  for (const key of Object.keys(props)) {
    if (Object.keys(out).length >= (schema.minProperties ?? 0)) break;
    if (!(key in out)) out[key] = sample(props[key]!, depth + 1);
  }
  return out;
}

// ---- the fields of a body schema ----

type Step = string | number;

interface Field {
  path: Step[];
  schema: Schema;
}

/** A schema that takes any JSON (or any object): where nesting, odd keys and odd types get in unchecked. */
function freeForm(schema: Schema): boolean {
  const s = merged(schema);
  const type = typeOf(s);
  if (type === undefined && !variants(s)) return true;
  return (
    type === 'object' && Object.keys(s.properties ?? {}).length === 0 && s.additionalProperties !== false
  );
}

/** Every property of the body (nested objects and the first item of arrays), up to three levels deep. */
function fieldsOf(schema: Schema, path: Step[] = [], out: Field[] = []): Field[] {
  const s = merged(schema);
  const alt = variants(s);
  const first = alt?.find((a) => typeOf(a) === 'object' || typeOf(a) === 'array') ?? alt?.[0];
  if (first && !s.properties) return fieldsOf(first, path, out);
  if (path.length >= 3) return out;
  if (typeOf(s) === 'object') {
    for (const [key, sub] of Object.entries(s.properties ?? {})) {
      out.push({ path: [...path, key], schema: sub });
      fieldsOf(sub, [...path, key], out);
    }
  } else if (typeOf(s) === 'array' && s.items && !freeForm(s.items)) {
    out.push({ path: [...path, 0], schema: s.items });
    if (typeOf(s.items) === 'object') fieldsOf(s.items, [...path, 0], out);
  }
  return out;
}

function schemaAt(root: Schema, path: Step[]): Schema {
  let s = merged(root);
  for (const step of path) {
    const alt = variants(s);
    if (alt && !s.properties && !s.items)
      s = merged(alt.find((a) => (typeof step === 'number' ? a.items : a.properties)) ?? alt[0]!);
    s = merged((typeof step === 'number' ? s.items : s.properties?.[step]) ?? {});
  }
  return s;
}

/** A copy of `base` with `value` at `path`, parents filled from the schema where the baseline has none. */
function withValue(base: unknown, root: Schema, path: Step[], value: unknown): unknown {
  const copy = structuredClone(base) as Record<Step, unknown>;
  let node = copy;
  for (let i = 0; i < path.length - 1; i++) {
    const step = path[i]!;
    let next = node[step];
    if (next === null || typeof next !== 'object') {
      next = sample(schemaAt(root, path.slice(0, i + 1)));
      if (next === null || typeof next !== 'object') next = typeof path[i + 1] === 'number' ? [] : {};
      node[step] = next;
    }
    node = next as Record<Step, unknown>;
  }
  node[path[path.length - 1]!] = value;
  return copy;
}

function without(base: unknown, key: string): unknown {
  const copy = { ...(base as Record<string, unknown>) };
  delete copy[key];
  return copy;
}

// ---- serialising what JSON.stringify cannot write ----

/**
 * Placeholders replaced in the serialised body: a number JSON.parse reads as Infinity, invalid UTF-8, and nesting
 * too deep for JSON.stringify (and structuredClone) to write.
 */
const OVERFLOW = '\u{E000}overflow';
const INVALID_UTF8 = '\u{E001}';
const DEEP = '\u{E002}deep:';

function jsonBody(value: unknown): Buffer {
  const text = JSON.stringify(value)
    .replaceAll(`"${OVERFLOW}"`, '1e400')
    .replace(new RegExp(`"${DEEP}(\\d+)"`), (_m, depth: string) => deeplyNested(Number(depth), 'object'));
  const bytes = Buffer.from(text);
  const marker = Buffer.from(INVALID_UTF8);
  const at = bytes.indexOf(marker);
  if (at < 0) return bytes;
  // ED A0 80 would be U+D800 in UTF-8, which UTF-8 cannot hold: the decoder must replace or refuse it.
  return Buffer.concat([
    bytes.subarray(0, at),
    Buffer.from([0xed, 0xa0, 0x80]),
    bytes.subarray(at + marker.length),
  ]);
}

/** `depth` levels of `{"a":…}` (objects) or `[…]` (arrays), built as text: no recursion on either side. */
export function deeplyNested(depth: number, kind: 'object' | 'array'): string {
  return kind === 'object'
    ? '{"a":'.repeat(depth) + '1' + '}'.repeat(depth)
    : '['.repeat(depth) + ']'.repeat(depth);
}

/** A JSON document of exactly `bytes` bytes: `{"x":"aaa…"}`. */
export function oversizedJson(bytes: number): Buffer {
  const body = Buffer.alloc(bytes, 0x61);
  body.write('{"x":"', 0);
  body.write('"}', bytes - 2);
  return body;
}

// ---- the cases ----

const JSON_TYPE = { 'content-type': 'application/json' };

/** The kind of the one case per path parameter that is not bad: the longest value its schema allows. */
export const LONGEST_ALLOWED = 'longest allowed';

/** The kind prefix of the JSON-lines cases (never acknowledged). */
export const JSON_LINES = 'JSON lines';

/** The kind prefix of the oversized-body cases (413 expected). */
export const OVERSIZED = 'body: oversized';

interface ValueCase {
  kind: string;
  value: unknown;
}

function wrongType(schema: Schema): unknown {
  switch (typeOf(schema)) {
    case 'string':
      return 12345;
    case 'integer':
    case 'number':
      return 'abc';
    case 'boolean':
      return 'true';
    case 'array':
      return 'fuzz';
    case 'object':
      return ['fuzz'];
    default:
      return { fuzz: [1, 'x', null] };
  }
}

const NUMBER_CASES: ValueCase[] = [
  { kind: 'huge number', value: 1e308 },
  { kind: 'number overflowing to Infinity', value: OVERFLOW },
  { kind: 'negative number', value: -1 },
  { kind: 'huge negative number', value: -1e308 },
  { kind: 'NaN string', value: 'NaN' },
  { kind: 'Infinity string', value: 'Infinity' },
];

function valueCases(field: Field, limits: Limits): ValueCase[] {
  const type = typeOf(merged(field.schema));
  const cases: ValueCase[] = [
    { kind: 'wrong type', value: wrongType(field.schema) },
    { kind: 'null', value: null },
  ];
  if (type === 'string' || type === undefined) {
    cases.push({ kind: 'NUL', value: 'fu\u0000zz' }, { kind: 'lone surrogate', value: 'fu\ud800zz' });
  }
  if (type === 'integer' || type === 'number') {
    cases.push(...NUMBER_CASES);
    if (type === 'integer')
      cases.push({ kind: 'fraction', value: 0.5 }, { kind: 'unsafe integer', value: 2 ** 53 + 2 });
  }
  if (freeForm(field.schema)) {
    const depth = nestingDepth(limits);
    cases.push(
      { kind: 'NUL in a key', value: { 'fu\u0000zz': 1 } },
      { kind: 'lone surrogate in a key', value: { 'fu\udc00zz': 1 } },
      { kind: 'deep nesting', value: `${DEEP}${depth}` },
    );
  }
  return cases;
}

/** Deep enough to break any recursive walk, small enough to fit every body limit. */
function nestingDepth(limits: Limits): number {
  return Math.min(20_000, Math.floor(limits.bodyBytes / 8));
}

function pathCases(): ValueCase[] {
  return [
    { kind: 'NUL', value: 'fu%00zz' },
    { kind: 'lone surrogate (invalid UTF-8)', value: 'fu%ED%A0%80zz' },
    { kind: 'truncated percent-encoding', value: 'fu%E0%A4%Azz' },
    { kind: 'encoded slash and dots', value: '..%2F..%2Ffuzz' },
    { kind: 'very long', value: 'f'.repeat(2000) },
    { kind: 'NaN', value: 'NaN' },
    { kind: 'huge number', value: '1e400' },
    { kind: 'negative number', value: '-1' },
  ];
}

function queryCases(schema: Schema): ValueCase[] {
  const type = typeOf(merged(schema));
  const cases: ValueCase[] = [
    { kind: 'NUL', value: 'fu%00zz' },
    { kind: 'lone surrogate (invalid UTF-8)', value: 'fu%ED%A0%80zz' },
    { kind: 'truncated percent-encoding', value: 'fu%E0%A4%Azz' },
    { kind: 'empty', value: '' },
  ];
  if (type === 'integer' || type === 'number') {
    cases.push(
      { kind: 'huge number', value: '1e308' },
      { kind: 'number overflowing to Infinity', value: '1e400' },
      { kind: 'negative number', value: '-1' },
      { kind: 'NaN', value: 'NaN' },
      { kind: 'Infinity', value: 'Infinity' },
      { kind: 'not a number', value: 'abc' },
    );
  }
  if (type === 'boolean') cases.push({ kind: 'not a boolean', value: 'maybe' });
  return cases;
}

/** The value a path parameter gets in every case but its own; the console proxy's wildcard gets a real route. */
function pathValue(route: Route, name: string): string {
  if (name === '*') return route.method === 'POST' ? 'search' : 'memories/fuzz-1';
  const param = route.operation.parameters?.find((p) => p.in === 'path' && p.name === name);
  return encodeURIComponent(String(sample(param?.schema ?? { type: 'string' })));
}

function buildUrl(route: Route, paths: Record<string, string>, query: [string, string][]): string {
  const path = route.template.replace(/\{([^}]+)\}/g, (_m, name: string) => paths[name] ?? 'fuzz-1');
  const qs = query.map(([k, v]) => `${k}=${v}`).join('&');
  return qs ? `${path}?${qs}` : path;
}

function rawQueryValue(v: unknown): string {
  return encodeURIComponent(typeof v === 'string' ? v : JSON.stringify(v));
}

/** The bad requests for one route: its parameters, then (for methods with a body) its body. */
export function badRequests(route: Route, limits: Limits): BadRequest[] {
  const out: BadRequest[] = [];
  const params = route.operation.parameters ?? [];
  const pathParams = params.filter((p) => p.in === 'path');
  const queryParams = params.filter((p) => p.in === 'query');
  const paths = Object.fromEntries(pathParams.map((p) => [p.name, pathValue(route, p.name)]));
  const query: [string, string][] = queryParams
    .filter((p) => p.required)
    .map((p) => [p.name, rawQueryValue(sample(p.schema ?? { type: 'string' }))]);
  const schema = route.operation.requestBody?.content?.['application/json']?.schema;
  const hasBody = WITH_BODY.has(route.method);
  const base = hasBody ? (schema ? sample(schema) : {}) : undefined;
  const send = (kind: string, url: string, body?: Buffer, contentType = 'application/json') =>
    out.push({
      method: route.method,
      route: route.template,
      url,
      kind,
      headers: body === undefined ? {} : { 'content-type': contentType },
      body,
    });
  const baseBody = base === undefined ? undefined : jsonBody(base);
  const url = buildUrl(route, paths, query);

  for (const p of pathParams) {
    const max = p.schema?.maxLength;
    // Not bad, but where the router and the schema can disagree: an id the schema allows must reach the handler.
    if (max !== undefined && max <= 4096)
      send(
        `path ${p.name}: ${LONGEST_ALLOWED}`,
        buildUrl(route, { ...paths, [p.name]: 'f'.repeat(max) }, query),
        baseBody,
      );
    for (const c of pathCases()) {
      const value =
        p.name === '*' ? `${paths[p.name]!.replace(/[^/]*$/, '')}${String(c.value)}` : String(c.value);
      send(`path ${p.name}: ${c.kind}`, buildUrl(route, { ...paths, [p.name]: value }, query), baseBody);
    }
  }
  for (const p of queryParams) {
    const others = query.filter(([k]) => k !== p.name);
    for (const c of queryCases(p.schema ?? {})) {
      send(
        `query ${p.name}: ${c.kind}`,
        buildUrl(route, paths, [...others, [p.name, String(c.value)]]),
        baseBody,
      );
    }
    send(
      `query ${p.name}: repeated`,
      buildUrl(route, paths, [...others, [p.name, 'a'], [p.name, 'b']]),
      baseBody,
    );
  }
  send('extra query parameter: NUL', buildUrl(route, paths, [...query, ['fuzz', 'fu%00zz']]), baseBody);
  send(
    'extra query parameter: lone surrogate',
    buildUrl(route, paths, [...query, ['fu%ED%A0%80zz', '1']]),
    baseBody,
  );
  if (!hasBody) return out;

  const fields = schema ? fieldsOf(schema) : [];
  for (const field of fields) {
    const where = `body /${field.path.join('/')}`;
    for (const c of valueCases(field, limits))
      send(`${where}: ${c.kind}`, url, jsonBody(withValue(base, schema!, field.path, c.value)));
  }
  const firstString = fields.find((f) => typeOf(merged(f.schema)) === 'string');
  const object = base !== null && typeof base === 'object' && !Array.isArray(base);
  if (firstString)
    send(
      `body /${firstString.path.join('/')}: invalid UTF-8`,
      url,
      jsonBody(withValue(base, schema!, firstString.path, `fu${INVALID_UTF8}zz`)),
    );
  for (const key of (object && merged(schema ?? {}).required) || [])
    send(`body: missing ${key}`, url, jsonBody(without(base, key)));
  if (object) {
    send('body: extra field', url, jsonBody({ ...(base as object), fuzz_extra: 'fuzz' }));
    send('body: extra field with NUL', url, jsonBody({ ...(base as object), fuzz_extra: 'fu\u0000zz' }));
    send(
      'body: extra field with lone surrogate',
      url,
      jsonBody({ ...(base as object), fuzz_extra: 'fu\udfffzz' }),
    );
  }
  send('body: empty object', url, Buffer.from('{}'));
  send('body: empty with JSON content type', url, Buffer.alloc(0));
  send('body: none', url);
  send('body: truncated JSON', url, Buffer.from('{"fuzz":'));
  send('body: not JSON', url, Buffer.from('fuzz'));
  send('body: JSON null', url, Buffer.from('null'));
  send('body: JSON string', url, Buffer.from('"fuzz"'));
  send('body: JSON number', url, Buffer.from('1e400'));
  send('body: JSON array', url, Buffer.from('[]'));
  send('body: __proto__ key', url, Buffer.from('{"__proto__":{"polluted":true}}'));
  send(
    'body: constructor.prototype key',
    url,
    Buffer.from('{"constructor":{"prototype":{"polluted":true}}}'),
  );
  send('body: deeply nested array', url, Buffer.from(deeplyNested(nestingDepth(limits), 'array')));
  send('body: deeply nested object', url, Buffer.from(deeplyNested(nestingDepth(limits), 'object')));
  send(
    'body: UTF-16 charset',
    url,
    Buffer.from(JSON.stringify(base), 'utf16le'),
    'application/json; charset=utf-16',
  );
  send('content type: text/plain', url, Buffer.from('fuzz'), 'text/plain');
  send('content type: form', url, Buffer.from('fuzz=1'), 'application/x-www-form-urlencoded');
  send(
    'content type: multipart',
    url,
    Buffer.from('--x\r\n\r\nfuzz\r\n--x--\r\n'),
    'multipart/form-data; boundary=x',
  );
  send('content type: bytes', url, Buffer.from([0, 1, 2, 0xff, 0xfe]), 'application/octet-stream');
  send('content type: WAV of garbage', url, Buffer.from('RIFF\x24\x00\x00\x00WAVEfmt garbage'), 'audio/wav');
  send('content type: malformed', url, baseBody, 'application/');
  // JSON lines (the memory core's import) are parsed by the route, not by the kit: the same rules must hold there.
  const line = (extra: string) => Buffer.from(`{"id":"fuzz-1","content":"fuzz",${extra}}\n`);
  send(`${JSON_LINES}: NUL`, url, line('"tags":["fu\\u0000zz"]'), 'application/x-ndjson');
  send(`${JSON_LINES}: lone surrogate`, url, line('"tags":["fu\\ud800zz"]'), 'application/x-ndjson');
  send(
    `${JSON_LINES}: deep nesting`,
    url,
    line(`"metadata":${deeplyNested(nestingDepth(limits), 'object')}`),
    'application/x-ndjson',
  );
  send(
    `${OVERSIZED} (${limits.bodyBytes + 1} bytes)`,
    url,
    oversizedJson(limits.bodyBytes + 1),
    JSON_TYPE['content-type'],
  );
  if (limits.audioBytes !== undefined)
    send(
      `${OVERSIZED} audio (${limits.audioBytes + 1} bytes)`,
      url,
      Buffer.alloc(limits.audioBytes + 1),
      'audio/wav',
    );
  return out;
}
