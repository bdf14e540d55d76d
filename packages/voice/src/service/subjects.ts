// Bus subjects of the voice pipeline (NATS syntax; the in-process bus uses the same).
import type { VadEvent } from '../vad/detector.ts';

export const subjects = {
  /** Cleaned 16 kHz mono float32 little-endian frames of one stream. */
  audioFrames: (stream: string) => `audio.frames.${stream}`,
  /** Published once when a stream's audio ends (payload `{}`). */
  audioEnd: (stream: string) => `audio.end.${stream}`,
  /** VAD events of one stream (JSON, see `vadEventJson`). */
  vadEvents: (stream: string) => `vad.events.${stream}`,
  /** The stream id: the last token of a subject. */
  streamOf: (subject: string) => subject.slice(subject.lastIndexOf('.') + 1),
};

/** The wire form of a VAD event (WebSocket and bus): snake_case, times in ms of stream time. */
export function vadEventJson(e: VadEvent, streamId: string): Record<string, unknown> {
  return {
    type: e.type,
    stream_id: streamId,
    timestamp_ms: Math.round(e.timestampMs * 10) / 10,
    detected_at_ms: Math.round(e.detectedAtMs * 10) / 10,
    probability: Math.round(e.probability * 1000) / 1000,
  };
}
