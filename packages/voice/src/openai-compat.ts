// Reachability check for OpenAI-compatible servers (speech to text and text to speech): `GET /v1/models`, which
// costs nothing, instead of a billed request. Any answer proves the server is up; an auth failure or a 5xx is
// "not ok". The API key is sent, never reported.
import { systemErrorCode } from './stt/common.ts';

/** `root` is the server root without `/v1` (e.g. `http://127.0.0.1:8080`). */
export async function checkOpenAiServer(
  root: string,
  apiKey: string | undefined,
  timeoutMs: number,
): Promise<{ ok: boolean; detail: string }> {
  const headers: Record<string, string> = {};
  if (apiKey) headers.authorization = `Bearer ${apiKey}`;
  const signal = AbortSignal.timeout(Math.min(timeoutMs, 5000));
  try {
    const res = await fetch(`${root}/v1/models`, { headers, signal });
    await res.body?.cancel();
    if (res.status === 401 || res.status === 403)
      return { ok: false, detail: `${root} rejected the API key (HTTP ${res.status})` };
    if (res.status >= 500) return { ok: false, detail: `${root} answered HTTP ${res.status}` };
    return { ok: true, detail: `${root} reachable (HTTP ${res.status})` };
  } catch (err) {
    const why = signal.aborted ? 'timeout' : (systemErrorCode(err) ?? 'connection failed');
    return { ok: false, detail: `cannot reach ${root}: ${why}` };
  }
}
