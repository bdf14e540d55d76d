// The speech engines of the audio route, built once per coordinator from its configuration (on the first
// connection, so a coordinator without audio clients never loads them): STT, TTS and the wake-word engine.
import {
  createSttProvider,
  DEFAULT_COMMANDS,
  sttFromSettings,
  ttsFromSettings,
  wakeFromSettings,
  type SttProvider,
  type SttSettings,
  type TtsProvider,
  type TtsSettings,
  type WakeEngine,
  type WakeSettings,
} from '@synthians/voice';
import type { Logger } from '@synthians/kit';

/**
 * The pocketsphinx command grammar of the assistant: the voice package's DEFAULT_COMMANDS plus phrases the
 * coordinator's skills answer (small talk, help, timers, date). Every word is in the CMU dictionary.
 */
export const ASSISTANT_COMMANDS: readonly string[] = Object.freeze([
  ...DEFAULT_COMMANDS,
  'hello',
  'good morning',
  'how are you',
  'who are you',
  'what can you do',
  'what day is it',
  'set a timer for two minutes',
  'set a timer for thirty seconds',
  'set a timer for one hour',
  'what timers do i have',
  'cancel all timers',
  'thanks',
  'goodbye',
]);

export interface VoiceEngines {
  stt: SttProvider;
  tts: TtsProvider;
  /** Undefined when WAKE_WORD_MODELS is "none". */
  wake: WakeEngine | undefined;
  close(): Promise<void>;
}

export type EngineSettings = SttSettings & TtsSettings & WakeSettings & { STT_COMMANDS?: string | undefined };

export async function createVoiceEngines(c: EngineSettings, logger?: Logger): Promise<VoiceEngines> {
  const stt =
    c.STT_PROVIDER === 'pocketsphinx'
      ? createSttProvider({
          provider: 'pocketsphinx',
          timeoutMs: c.STT_TIMEOUT_MS,
          commands: [
            ...ASSISTANT_COMMANDS,
            ...(c.STT_COMMANDS ?? '')
              .split(',')
              .map((s) => s.trim())
              .filter((s) => s !== ''),
          ],
        })
      : sttFromSettings(c);
  let tts: TtsProvider | undefined;
  try {
    tts = ttsFromSettings(c);
    const wake = await wakeFromSettings(c, logger);
    const t = tts;
    // Warm-up: the first synthesis pays for loading the engine (espeak-ng: compiling its WebAssembly, ~0.5 s).
    try {
      for await (const chunk of t.synthesize('Ready.')) void chunk;
    } catch (err) {
      logger?.warn({ err: String(err) }, 'TTS warm-up failed');
    }
    return {
      stt,
      tts: t,
      wake,
      async close() {
        await Promise.allSettled([stt.close(), t.close()]);
      },
    };
  } catch (err) {
    await stt.close().catch(() => undefined);
    await tts?.close().catch(() => undefined);
    throw err;
  }
}
