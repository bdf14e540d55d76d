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
import { pc2Stt, pc2Tts, type Pc2Link } from './pc2.ts';

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

/**
 * The engines; with `pc2`, recognition and synthesis go to the PC2 worker and these local engines answer when it
 * is down (see pc2.ts).
 */
export async function createVoiceEngines(
  c: EngineSettings,
  logger?: Logger,
  pc2?: Pc2Link,
): Promise<VoiceEngines> {
  const commands = [
    ...ASSISTANT_COMMANDS,
    ...(c.STT_COMMANDS ?? '')
      .split(',')
      .map((s) => s.trim())
      .filter((s) => s !== ''),
  ];
  const localStt =
    c.STT_PROVIDER === 'pocketsphinx'
      ? createSttProvider({ provider: 'pocketsphinx', timeoutMs: c.STT_TIMEOUT_MS, commands })
      : sttFromSettings(c);
  const stt = pc2
    ? pc2Stt(localStt, pc2, c.STT_PROVIDER === 'pocketsphinx' ? localStt.completePhrases : undefined)
    : localStt;
  let tts: TtsProvider | undefined;
  try {
    tts = ttsFromSettings(c);
    const wake = await wakeFromSettings(c, logger);
    const t = tts;
    // Warm-up: the first synthesis pays for loading the engine (espeak-ng: compiling its WebAssembly, ~0.5 s).
    // With a PC2 worker the local engine is still warmed: it is the fallback.
    try {
      for await (const chunk of t.synthesize('Ready.')) void chunk;
    } catch (err) {
      logger?.warn({ err: String(err) }, 'TTS warm-up failed');
    }
    return {
      stt,
      tts: pc2 ? pc2Tts(t, pc2) : t,
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
