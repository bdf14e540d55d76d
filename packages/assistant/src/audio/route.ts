// GET /v1/audio on the coordinator: the WebSocket plumbing of spoken turns (protocol.ts), one VoiceSession per
// connection. Messages of a connection are handled one at a time, in order; reply audio is sent concurrently.
import websocket from '@fastify/websocket';
import type { RawData, WebSocket } from 'ws';
import { AppError, badRequest, type App, type Logger } from '@synthians/kit';
import type { SessionPort } from '../coordinator/sessions.ts';
import type { TurnEngine } from '../coordinator/turn-engine.ts';
import { createVoiceEngines, type EngineSettings, type VoiceEngines } from './engines.ts';
import type { Pc2Link } from './pc2.ts';
import { parseAudioStart, parseControl } from './protocol.ts';
import { errorBody, VoiceSession, type VoiceSettings } from './session.ts';

export interface AudioRouteConfig extends EngineSettings {
  AUDIO_MAX_STREAMS: number;
  AUDIO_IDLE_TIMEOUT_MS: number;
  AUDIO_MAX_MESSAGE_BYTES: number;
  AUDIO_WAKE_WORD: boolean;
  AUDIO_DENOISE: boolean;
  AUDIO_AGC: boolean;
  TURN_END_SILENCE_MS: number;
  TURN_EARLY_END_MS: number;
  BARGE_IN_MIN_MS: number;
  FOLLOW_UP_MS: number;
  LISTEN_TIMEOUT_MS: number;
  MAX_UTTERANCE_MS: number;
  WAKE_MIN_COMMAND_MS: number;
  TTS_LEAD_MS: number;
}

export interface AudioRouteContext {
  engine: TurnEngine;
  sessions: SessionPort;
  config: AudioRouteConfig;
  logger?: Logger;
  /** Engines to use instead of building them from the configuration (tests, embedding). */
  engines?: VoiceEngines;
  /** The PC2 worker, when PC2_URL is set: speech goes there, the local engines are the fallback. */
  pc2?: Pc2Link;
}

export function voiceSettings(c: AudioRouteConfig): VoiceSettings {
  return {
    turnEndSilenceMs: c.TURN_END_SILENCE_MS,
    turnEarlyEndMs: c.TURN_EARLY_END_MS,
    bargeInMinMs: c.BARGE_IN_MIN_MS,
    followUpMs: c.FOLLOW_UP_MS,
    listenTimeoutMs: c.LISTEN_TIMEOUT_MS,
    maxUtteranceMs: c.MAX_UTTERANCE_MS,
    wakeMinCommandMs: c.WAKE_MIN_COMMAND_MS,
    ttsLeadMs: c.TTS_LEAD_MS,
    denoise: c.AUDIO_DENOISE,
    agc: c.AUDIO_AGC,
    wakeWordDefault: c.AUDIO_WAKE_WORD,
  };
}

const utf8 = new TextDecoder();
const rawBytes = (data: RawData): Uint8Array => {
  if (Array.isArray(data)) return new Uint8Array(Buffer.concat(data));
  if (data instanceof ArrayBuffer) return new Uint8Array(data);
  return new Uint8Array(data.buffer, data.byteOffset, data.byteLength);
};

function closeCode(err: unknown): number {
  if (!AppError.isInstance(err)) return 1011;
  return err.statusCode === 503 ? 1013 : 1008;
}

/** Registers GET /v1/audio; `close` ends the open connections and frees the engines (at shutdown). */
export async function registerAudioRoute(
  app: App,
  ctx: AudioRouteContext,
): Promise<{ close(): Promise<void> }> {
  const c = ctx.config;
  const settings = voiceSettings(c);
  await app.register(websocket, { options: { maxPayload: c.AUDIO_MAX_MESSAGE_BYTES } });
  let engines: Promise<VoiceEngines> | undefined = ctx.engines ? Promise.resolve(ctx.engines) : undefined;
  const getEngines = () => {
    engines ??= createVoiceEngines(c, ctx.logger, ctx.pc2).catch((err: unknown) => {
      engines = undefined;
      ctx.logger?.error({ err: String(err) }, 'speech engines failed to load');
      throw AppError.isInstance(err) ? err : new AppError(503, 'speech_unavailable', String(err));
    });
    return engines;
  };
  const sockets = new Set<WebSocket>();
  const sessions = new Set<VoiceSession>();

  app.get(
    '/v1/audio',
    {
      websocket: true,
      schema: {
        tags: ['coordinator'],
        summary: 'WebSocket: spoken turns (PCM in; events, transcripts, replies and TTS audio out)',
        description:
          'See packages/assistant/src/audio/protocol.ts: a JSON start message declaring the PCM format, binary ' +
          'PCM, {"type":"text"} and {"type":"stop"}; the server sends ready/state/vad/wake/transcript/reply/' +
          'tts_start/<binary audio>/tts_end/barge_in/turn/notice/error/done.',
        hide: true,
      },
    },
    (socket: WebSocket) => {
      if (sockets.size >= c.AUDIO_MAX_STREAMS) {
        socket.send(
          JSON.stringify({
            type: 'error',
            error: {
              code: 'too_many_streams',
              message: 'The server is at its audio stream limit; retry later',
            },
          }),
        );
        socket.close(1013, 'too many streams');
        return;
      }
      sockets.add(socket);
      let session: VoiceSession | undefined;
      let started = false;
      let finished = false;
      let chain: Promise<void> = Promise.resolve();
      let idle: NodeJS.Timeout | undefined;
      const send = (msg: object | Uint8Array) => {
        if (socket.readyState !== socket.OPEN) return;
        socket.send(msg instanceof Uint8Array ? msg : JSON.stringify(msg));
      };
      const release = () => {
        clearTimeout(idle);
        if (finished) return;
        finished = true;
        sockets.delete(socket);
        const s = session;
        session = undefined;
        if (s) {
          sessions.delete(s);
          void s
            .close()
            .catch((err: unknown) => ctx.logger?.warn({ err: String(err) }, 'closing audio session'));
        }
      };
      const fail = (err: unknown) => {
        if (finished) return;
        if (!AppError.isInstance(err)) ctx.logger?.error({ err }, 'audio stream failed');
        send({ type: 'error', error: errorBody(err) });
        socket.close(closeCode(err), errorBody(err).code.slice(0, 100));
        release();
      };
      const armIdle = () => {
        clearTimeout(idle);
        idle = setTimeout(
          () => fail(badRequest('stream_idle', `No data for ${c.AUDIO_IDLE_TIMEOUT_MS} ms`)),
          c.AUDIO_IDLE_TIMEOUT_MS,
        );
      };
      const enqueue = (fn: () => Promise<void>) => {
        chain = chain.then(() => (finished ? undefined : fn()));
        chain = chain.catch(fail);
      };
      armIdle();
      socket.on('message', (data: RawData, isBinary: boolean) => {
        if (finished) return;
        armIdle();
        if (!started) {
          started = true;
          if (isBinary) {
            fail(
              badRequest(
                'missing_stream_start',
                'Send a JSON start message declaring the audio format first',
              ),
            );
            return;
          }
          let start: ReturnType<typeof parseAudioStart>;
          try {
            start = parseAudioStart(utf8.decode(rawBytes(data)));
          } catch (err) {
            fail(err);
            return;
          }
          enqueue(async () => {
            if (start.sessionId !== undefined) {
              const s = await ctx.sessions.getSession(start.sessionId);
              if (!s) throw new AppError(404, 'session_not_found', `Unknown session ${start.sessionId}`);
              if (s.status !== 'active')
                throw new AppError(409, 'session_not_active', `Session ${start.sessionId} is ${s.status}`);
            }
            const e = await getEngines();
            const opened = await VoiceSession.open({
              engine: ctx.engine,
              engines: e,
              settings,
              start,
              send,
              logger: ctx.logger,
            });
            if (finished) {
              await opened.close();
              return;
            }
            session = opened;
            sessions.add(opened);
            send({
              type: 'ready',
              session_id: start.sessionId ?? null,
              wake_word: opened.wakeWords.length > 0,
              wake_words: opened.wakeWords,
              stt: e.stt.name,
              tts: { sample_rate: start.tts.sampleRate, encoding: start.tts.encoding, channels: 1 },
              turn_end_silence_ms: settings.turnEndSilenceMs,
              turn_early_end_ms: e.stt.completePhrases ? settings.turnEarlyEndMs : 0,
            });
            send({ type: 'state', state: opened.state });
          });
          return;
        }
        if (isBinary) {
          const bytes = rawBytes(data);
          enqueue(async () => session?.push(bytes));
          return;
        }
        let msg: ReturnType<typeof parseControl>;
        try {
          msg = parseControl(utf8.decode(rawBytes(data)));
        } catch (err) {
          send({ type: 'error', error: errorBody(err) });
          return;
        }
        if (msg.type === 'text') {
          const text = msg.text;
          enqueue(async () => session?.text(text));
        } else {
          enqueue(async () => {
            await session?.end();
            send({ type: 'done' });
            socket.close(1000, 'done');
            release();
          });
        }
      });
      socket.on('close', release);
      socket.on('error', release);
    },
  );

  return {
    async close() {
      for (const s of sockets) s.close(1001, 'server shutting down');
      await Promise.allSettled([...sessions].map((s) => s.close()));
      const e = engines && !ctx.engines ? await engines.catch(() => undefined) : undefined;
      await e?.close();
    },
  };
}
