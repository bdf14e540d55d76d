// Configuration of the coordinator's audio turns (GET /v1/audio): the speech engines (the same STT_*, TTS_* and
// WAKE_WORD_* variables as the voice services) and the conversation timing of the per-connection state machine.
import { env } from '@synthians/kit';
import { sttVariables, ttsVariables, wakeWordVariables } from '@synthians/voice';

export const audioTurnVariables = {
  AUDIO_ENABLED: env
    .bool(true)
    .describe(
      'Serve spoken turns over the WebSocket GET /v1/audio (speech engines load on the first connection)',
    ),
  AUDIO_MAX_STREAMS: env
    .int(8, 1, 1000)
    .describe('Concurrent audio connections; more are refused (error too_many_streams, close 1013)'),
  AUDIO_IDLE_TIMEOUT_MS: env
    .int(60000, 1000, 3600000)
    .describe('An audio connection that sends nothing for this long is closed (stream_idle)'),
  AUDIO_MAX_MESSAGE_BYTES: env
    .int(1024 * 1024, 1024, 64 * 1024 * 1024)
    .describe('Largest WebSocket message (a PCM chunk or a control message) on /v1/audio'),
  AUDIO_WAKE_WORD: env
    .bool(true)
    .describe(
      'Default of the start option wake_word: true = a wake word (WAKE_WORD_MODELS) opens listening; false = every speech segment is a turn',
    ),
  AUDIO_DENOISE: env
    .bool(true)
    .describe(
      'RNNoise noise suppression in front of the VAD, wake word and STT (the high-pass filter always runs)',
    ),
  AUDIO_AGC: env
    .bool(false)
    .describe(
      'Automatic gain control in front of the VAD, wake word and STT (off: with RNNoise it made pocketsphinx misrecognise espeak-ng commands depending on their alignment)',
    ),
  TURN_END_SILENCE_MS: env
    .int(550, 50, 10000)
    .describe(
      'End of a spoken turn: the VAD minimum silence after speech before speech_end (the VAD default is 550)',
    ),
  TURN_EARLY_END_MS: env
    .int(250, 0, 10000)
    .describe(
      'With a command grammar (pocketsphinx): after this much silence the words so far are recognised, and a complete command that no longer command extends ends the turn at once, before TURN_END_SILENCE_MS; 0 = off',
    ),
  BARGE_IN_MIN_MS: env
    .int(0, 0, 5000)
    .describe(
      'Extra speech (beyond the VAD speech_start, itself ≥ 250 ms of speech) needed before user speech interrupts the reply',
    ),
  FOLLOW_UP_MS: env
    .int(8000, 0, 600000)
    .describe('After a reply: listening for a follow-up question without the wake word, then idle'),
  LISTEN_TIMEOUT_MS: env
    .int(8000, 500, 600000)
    .describe('Listening (after the wake word) with no speech for this long goes back to idle'),
  MAX_UTTERANCE_MS: env
    .int(15000, 1000, 600000)
    .describe('A spoken turn longer than this is cut and recognised as it is'),
  WAKE_MIN_COMMAND_MS: env
    .int(400, 0, 10000)
    .describe(
      'Speech after the wake word in the same segment shorter than this is not a command (wait for the next segment)',
    ),
  TTS_LEAD_MS: env
    .int(250, 0, 10000)
    .describe(
      'Reply audio is sent paced at real time, at most this far ahead of playback (bounds what a client still plays after barge_in)',
    ),
  STT_COMMANDS: env
    .optionalString()
    .describe(
      'pocketsphinx: extra command phrases (comma-separated) added to the built-in ones (DEFAULT_COMMANDS and the assistant skills)',
    ),
  PC2_URL: env
    .url()
    .describe(
      'The PC2 ML worker (e.g. http://127.0.0.1:5560): speech recognition and synthesis go there, the local engines answer when it is down (health: degraded); unset: local engines only',
    ),
  PC2_TIMEOUT_MS: env
    .int(10000, 100, 600000)
    .describe('Timeout of one request to the PC2 worker (then the local engine answers)'),
  PC2_RETRY_MS: env
    .int(5000, 0, 3600000)
    .describe(
      'After a failed PC2 request, the local engines answer for this long before the worker is tried again',
    ),
  ...sttVariables,
  ...ttsVariables,
  ...wakeWordVariables,
};
