// The audio-turn WebSocket protocol of the coordinator (GET /v1/audio).
//
// Client → server
//   1. {"type":"start","format":{"encoding":"pcm_s16le"|"pcm_f32le","sample_rate":8000..192000,"channels":1|2},
//       "session_id"?: "…", "user_id"?: "…",
//       "options"?: {"wake_word"?: true|false, "tts"?: {"sample_rate"?: 16000, "encoding"?: "pcm_s16le", "pace"?: true}}}
//      (like the VAD agent's start message). Messages sent before `ready` are queued, not refused.
//   2. Binary messages: microphone PCM in the declared format, any chunk size, at real time (or faster for a file).
//   3. {"type":"text","text":"…"}: a typed turn on the same socket (answered and spoken like a spoken one; a turn
//      in progress is interrupted first).
//   4. {"type":"stop"}: end of audio. Open speech is closed (and becomes a turn), the turn in progress finishes
//      (reply audio included), then the server sends {"type":"done"} and closes with 1000.
//
// Server → client (JSON text messages, plus binary reply audio)
//   {"type":"ready","session_id":string|null,"wake_word":bool,"wake_words":[…],"stt":"pocketsphinx",
//    "tts":{"sample_rate","encoding","channels":1},"turn_end_silence_ms":550,"turn_early_end_ms":250}
//      (turn_early_end_ms is 0 when off or when the STT engine has no command grammar)
//   {"type":"state","state":"idle"|"listening"|"thinking"|"speaking"}
//   {"type":"vad","event":"speech_start"|"speech_end","timestamp_ms","detected_at_ms"}   (stream time of the
//      16 kHz audio received so far: ms since the first sample)
//   {"type":"wake","name":"hey_jarvis","score":0.98,"timestamp_ms"}
//   {"type":"transcript","final":true,"text":"what time is it","stt_ms","end_of_turn":"command"|"vad"|"max_utterance"}
//      (partials: "final":false, when the STT provider streams them). end_of_turn says what ended the turn: a whole
//      command heard after TURN_EARLY_END_MS of silence, the VAD's speech_end (TURN_END_SILENCE_MS), or
//      MAX_UTTERANCE_MS. After an early end the VAD's speech_end for that segment still comes; speech that goes
//      on in the same breath is the next utterance (and a barge-in once it has lasted 250 ms).
//   {"type":"reply","text":"It's 3:04 PM.","index":0,"turn_id"?}                 one per sentence, as it is ready
//   {"type":"tts_start","sample_rate":16000,"encoding":"pcm_s16le","channels":1}      once per reply
//   <binary messages: the reply audio, mono PCM in that rate/encoding, whole samples, in order>
//   {"type":"tts_end","interrupted":false}                    (true after barge-in, a TTS failure or a new turn)
//   {"type":"barge_in","timestamp_ms","detected_at_ms"}
//   {"type":"turn","turn_id","session_id","skill","text","reply","end_of_turn"?,"interrupted","timings":{…}}
//   {"type":"notice","message","timer_id","kind","fired_at"}   (a timer of this session fired). It is then spoken:
//      {"type":"reply","text","index","notice":true}, tts_start … tts_end, at once when no turn is in progress and
//      the user is not speaking, else right after; a turn that starts first says it at the start of its reply
//      instead. An announcement is not a turn (no `turn` event); barge-in stops it like a reply.
//   {"type":"error","error":{"code","message"}}      fatal ones (bad start, unsupported format, non-finite or
//      truncated samples, idle, too many streams) are followed by a close (1008 bad input, 1011 server fault, 1013
//      full); a bad control message and STT/TTS/turn failures are not: the session goes back to listening.
//   {"type":"done"}
//
// Framing of the reply audio: every binary message from the server lies between a `tts_start` and its `tts_end`
// and carries whole mono samples (2 bytes for s16le, 4 for f32le) at the `tts_start` rate; the server sends it
// paced at real time, at most TTS_LEAD_MS ahead of playback (start option tts.pace=false sends it as fast as it
// is synthesised, e.g. for a file client). `tts_end` comes when the client should have finished playing.
//
// Barge-in: user speech (VAD speech_start, + BARGE_IN_MIN_MS) while the reply is being prepared or spoken aborts
// the turn, stops the audio, and sends `barge_in`, then `tts_end` {interrupted:true}, and the state goes to
// listening (that speech is the next turn). The server cannot un-send audio already delivered: the client MUST
// drop its playback buffer when it receives `barge_in` (with pacing that is at most ~TTS_LEAD_MS of audio).
//
// Echo: the microphone hears the assistant's own voice. Clients must use acoustic echo cancellation (browsers do
// with getUserMedia({audio:{echoCancellation:true}})) or mute the microphone while playing; otherwise the reply
// itself triggers barge-in. Tests feed the user's speech separately from the reply audio.
//
// Speech recognition: the offline default (pocketsphinx) only recognises the command grammar (ASSISTANT_COMMANDS);
// free-form questions need a Whisper-class provider (STT_PROVIDER=openai with whisper.cpp / faster-whisper, or
// wyoming).
import { z } from 'zod';
import { badRequest } from '@synthians/kit';
import { assertSupportedFormat, type PcmEncoding, type PcmFormat } from '@synthians/voice';

const id = z.string().regex(/^[A-Za-z0-9_.:@-]{1,128}$/, '1-128 letters, digits or _ . : @ -');
const encoding = z.enum(['pcm_s16le', 'pcm_f32le']);

export const audioStartSchema = z
  .object({
    type: z.literal('start'),
    format: z.object({ encoding, sample_rate: z.number().int(), channels: z.number().int() }).strict(),
    session_id: id.optional(),
    user_id: id.optional(),
    stream_id: z.string().max(128).optional(),
    options: z
      .object({
        wake_word: z.boolean().optional(),
        tts: z
          .object({
            sample_rate: z.number().int().min(8000).max(48000).optional(),
            encoding: encoding.optional(),
            pace: z.boolean().optional(),
          })
          .strict()
          .optional(),
      })
      .strict()
      .optional(),
  })
  .strict();

export interface AudioStart {
  format: PcmFormat;
  sessionId?: string;
  userId?: string;
  wakeWord?: boolean;
  tts: { sampleRate: number; encoding: PcmEncoding; pace: boolean };
}

/** Validates the first message (400 invalid_json / invalid_stream_start / unsupported_audio_format). */
export function parseAudioStart(text: string): AudioStart {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    throw badRequest('invalid_json', 'The first message must be a JSON start message');
  }
  const parsed = audioStartSchema.safeParse(value);
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    throw badRequest(
      'invalid_stream_start',
      `Invalid start message: ${issue ? `${issue.path.join('.') || '(message)'}: ${issue.message}` : 'bad shape'}`,
    );
  }
  const d = parsed.data;
  const format: PcmFormat = {
    encoding: d.format.encoding,
    sampleRate: d.format.sample_rate,
    channels: d.format.channels,
  };
  assertSupportedFormat(format);
  const start: AudioStart = {
    format,
    tts: {
      sampleRate: d.options?.tts?.sample_rate ?? 16000,
      encoding: d.options?.tts?.encoding ?? 'pcm_s16le',
      pace: d.options?.tts?.pace ?? true,
    },
  };
  if (d.session_id !== undefined) start.sessionId = d.session_id;
  if (d.user_id !== undefined) start.userId = d.user_id;
  if (d.options?.wake_word !== undefined) start.wakeWord = d.options.wake_word;
  return start;
}

export type VoiceState = 'idle' | 'listening' | 'thinking' | 'speaking';

/** A control message after start: {"type":"text","text"} or {"type":"stop"}. */
export type ControlMessage = { type: 'text'; text: string } | { type: 'stop' };

export function parseControl(text: string): ControlMessage {
  let msg: { type?: unknown; text?: unknown };
  try {
    msg = JSON.parse(text) as { type?: unknown; text?: unknown };
  } catch {
    throw badRequest('invalid_json', 'Control messages must be JSON');
  }
  if (msg?.type === 'stop') return { type: 'stop' };
  if (msg?.type === 'text') {
    if (typeof msg.text !== 'string')
      throw badRequest('invalid_message', 'A text message needs "text": string');
    return { type: 'text', text: msg.text };
  }
  throw badRequest('unknown_message', `Unknown control message type ${JSON.stringify(msg?.type)}`);
}
