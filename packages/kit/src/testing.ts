// Helpers for tests that talk to a real service over HTTP (shared by every package's test support).

export interface JsonResponse {
  status: number;
  // Loosely typed: tests read many response shapes.
  // eslint-disable-next-line @typescript-eslint/no-explicit-any
  body: any;
}

/** A JSON request function bound to a base URL; bodies that are strings are sent as they are. */
export function jsonClient(baseUrl: string) {
  return async (
    method: string,
    path: string,
    body?: unknown,
    headers: Record<string, string> = {},
  ): Promise<JsonResponse> => {
    const init: RequestInit = { method, headers: { ...headers } };
    if (body !== undefined) {
      init.body = typeof body === 'string' ? body : JSON.stringify(body);
      (init.headers as Record<string, string>)['content-type'] ??= 'application/json';
    }
    const res = await fetch(baseUrl + path, init);
    const text = await res.text();
    let parsed: unknown = text;
    try {
      parsed = text ? JSON.parse(text) : undefined;
    } catch {
      /* not JSON (NDJSON, metrics, HTML) */
    }
    return { status: res.status, body: parsed };
  };
}

/** A deterministic pseudo-random unit vector (xorshift32), for tests that supply embeddings. */
export function unitVector(seed: number, dim = 768): number[] {
  let s = (seed * 2654435761) >>> 0 || 1;
  const v: number[] = [];
  let norm = 0;
  for (let i = 0; i < dim; i++) {
    s ^= s << 13;
    s >>>= 0;
    s ^= s >>> 17;
    s ^= s << 5;
    s >>>= 0;
    const x = s / 4294967296 - 0.5;
    v.push(x);
    norm += x * x;
  }
  return v.map((x) => x / Math.sqrt(norm));
}
