// One audio connection: microphone PCM → FusedPreprocessor (resample, high-pass, RNNoise, AGC, Silero VAD) →
// wake word (16 kHz) → STT stream per utterance → TurnEngine → TTS sentence by sentence, paced to the client.
//
// State machine per connection (see protocol.ts for the events):
//   idle      --wake word-->                      listening   (wake word off: any speech_start goes straight on)
//   listening --speech_start--> (utterance) --speech_end--> thinking --first reply sentence--> speaking
//   speaking  --reply played--> listening (follow-up window, FOLLOW_UP_MS) --no speech--> idle
//   listening --no speech for LISTEN_TIMEOUT_MS--> idle
//   thinking/speaking --user speech_start (+BARGE_IN_MIN_MS)--> barge_in: turn aborted, audio stopped, listening
//
// Stream time: every position is in samples of the 16 kHz output of the preprocessor (aligned to the input
// timeline), so VAD and wake-word timestamps and the utterance audio line up whatever the chunking.
//
// The wake word: "hey jarvis, what time is it" in one breath is one VAD segment; the utterance then starts at
// the wake word's detection (the audio after it) and counts only if the segment goes on for WAKE_MIN_COMMAND_MS
// after it. "hey jarvis … (pause) … what time is it": the wake segment ends with too little after the wake word,
// and the next segment is the command.
import { AppError, type Logger } from '@synthians/kit';
import { FusedPreprocessor, type SttStream, type VadEvent, type WakeEvent } from '@synthians/voice';
import type { Notice, TurnEngine, TurnResult } from '../coordinator/turn-engine.ts';
import type { VoiceEngines } from './engines.ts';
import type { AudioStart, VoiceState } from './protocol.ts';
import { Speaker } from './speaker.ts';

const RATE = 16000;
const PER_MS = RATE / 1000;

export interface VoiceSettings {
  turnEndSilenceMs: number;
  bargeInMinMs: number;
  followUpMs: number;
  listenTimeoutMs: number;
  maxUtteranceMs: number;
  wakeMinCommandMs: number;
  ttsLeadMs: number;
  denoise: boolean;
  agc: boolean;
  wakeWordDefault: boolean;
}

type Send = (msg: object | Uint8Array) => void;

interface Utterance {
  stream: SttStream;
  /** Stream time (ms) of the VAD onset, or of the wake word when the command follows it in one segment. */
  startMs: number;
  afterWake: boolean;
  samples: number;
}

interface ActiveTurn {
  id: number;
  abort: AbortController;
  speaker?: Speaker;
  done: Promise<void>;
}

export function errorBody(err: unknown): { code: string; message: string } {
  if (AppError.isInstance(err)) return { code: err.code, message: err.message };
  return { code: 'internal_error', message: 'Internal error' };
}

const elapsed = (t0: number) => Math.round((performance.now() - t0) * 10) / 10;

export class VoiceSession {
  state: VoiceState = 'idle';
  sessionId: string | undefined;
  private readonly useWake: boolean;
  private pos = 0;
  private utterance: Utterance | undefined;
  private vadSpeaking = false;
  /** Stream time (ms) at which a pending barge-in is confirmed (BARGE_IN_MIN_MS after speech_start). */
  private pendingBarge: VadEvent | undefined;
  private turn: ActiveTurn | undefined;
  private turnSeq = 0;
  private timer: NodeJS.Timeout | undefined;
  private closed = false;
  private readonly offNotice: () => void;

  private constructor(
    private readonly engine: TurnEngine,
    private readonly engines: VoiceEngines,
    private readonly settings: VoiceSettings,
    private readonly start: AudioStart,
    private readonly pre: FusedPreprocessor,
    private readonly wake: Awaited<ReturnType<NonNullable<VoiceEngines['wake']>['create']>> | undefined,
    private readonly send: Send,
    private readonly logger?: Logger,
  ) {
    this.useWake = wake !== undefined;
    this.sessionId = start.sessionId;
    const onNotice = (n: Notice & { session_id: string }) => {
      if (n.session_id === this.sessionId)
        this.send({
          type: 'notice',
          message: n.message,
          timer_id: n.timer_id,
          kind: n.kind,
          fired_at: n.fired_at,
        });
    };
    engine.events.on('notice', onNotice);
    this.offNotice = () => engine.events.off('notice', onNotice);
  }

  static async open(o: {
    engine: TurnEngine;
    engines: VoiceEngines;
    settings: VoiceSettings;
    start: AudioStart;
    send: Send;
    logger?: Logger;
  }): Promise<VoiceSession> {
    const wantWake = o.start.wakeWord ?? o.settings.wakeWordDefault;
    if (wantWake && o.start.wakeWord === true && !o.engines.wake)
      throw new AppError(400, 'wake_word_unavailable', 'No wake word is configured (WAKE_WORD_MODELS=none)');
    const pre = await FusedPreprocessor.create({
      input: o.start.format,
      stages: { denoise: o.settings.denoise, agc: o.settings.agc },
      vad: { minSilenceMs: o.settings.turnEndSilenceMs },
    });
    let wake;
    try {
      wake = wantWake && o.engines.wake ? await o.engines.wake.create() : undefined;
    } catch (err) {
      await pre.close();
      throw err;
    }
    const s = new VoiceSession(o.engine, o.engines, o.settings, o.start, pre, wake, o.send, o.logger);
    s.setState(s.useWake ? 'idle' : 'listening');
    if (!s.useWake) s.armTimer(o.settings.listenTimeoutMs);
    return s;
  }

  get wakeWords(): string[] {
    return this.useWake ? (this.engines.wake?.models ?? []) : [];
  }

  /** Microphone PCM in the declared format. Fatal errors (bad samples) reject. */
  async push(bytes: Uint8Array): Promise<void> {
    if (this.closed) return;
    const { samples, events } = await this.pre.push(bytes);
    await this.process(samples, events);
  }

  /** End of audio: closes open speech (a turn), waits for the turn in progress to finish. */
  async end(): Promise<void> {
    if (this.closed) return;
    const { samples, events } = await this.pre.end();
    await this.process(samples, events);
    while (this.turn) await this.turn.done;
  }

  /** A typed turn: interrupts the turn in progress. */
  text(text: string): void {
    if (this.closed) return;
    this.cancelUtterance();
    if (this.turn) this.interrupt(undefined);
    this.startTurn('text', async () => ({ text }));
  }

  /** Disconnect: aborts everything, frees the preprocessor and the wake detector; no half-heard turn is run. */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    clearTimeout(this.timer);
    this.offNotice();
    this.cancelUtterance();
    const t = this.turn;
    if (t) {
      t.abort.abort();
      t.speaker?.stop();
    }
    await Promise.allSettled([this.pre.close(), this.wake?.close()]);
  }

  // ---- audio path ----------------------------------------------------------------------------------------

  private async process(samples: Float32Array, vadEvents: VadEvent[]): Promise<void> {
    const chunkStart = this.pos;
    this.pos += samples.length;
    const wakeEvents: WakeEvent[] = this.wake && samples.length > 0 ? await this.wake.push(samples) : [];
    if (this.closed) return;
    type Ev = { at: number; vad?: VadEvent; wake?: WakeEvent };
    const evs: Ev[] = [
      ...vadEvents.map((e) => ({ at: e.detectedAtMs, vad: e })),
      ...wakeEvents.map((e) => ({ at: e.timestampMs, wake: e })),
    ].sort((a, b) => a.at - b.at);
    let cursor = chunkStart;
    const feed = (to: number) => {
      const u = this.utterance;
      const from = Math.max(cursor, chunkStart);
      if (u && to > from) {
        const part = samples.subarray(from - chunkStart, to - chunkStart);
        try {
          u.stream.write(part);
          u.samples += part.length;
        } catch (err) {
          this.logger?.warn({ err: String(err) }, 'STT stream write failed');
        }
      }
      cursor = Math.max(cursor, to);
    };
    for (const e of evs) {
      feed(Math.min(this.pos, Math.max(chunkStart, Math.round(e.at * PER_MS))));
      if (e.vad) this.onVad(e.vad);
      else if (e.wake) this.onWake(e.wake);
    }
    feed(this.pos);
    const u = this.utterance;
    if (u && u.samples / PER_MS >= this.settings.maxUtteranceMs) this.finishUtterance(this.pos / PER_MS);
    const b = this.pendingBarge;
    if (b && this.vadSpeaking && this.pos / PER_MS >= b.detectedAtMs + this.settings.bargeInMinMs) {
      this.pendingBarge = undefined;
      this.bargeIn(b);
    }
  }

  private onVad(e: VadEvent): void {
    this.send({
      type: 'vad',
      event: e.type,
      timestamp_ms: Math.round(e.timestampMs),
      detected_at_ms: Math.round(e.detectedAtMs),
    });
    if (e.type === 'speech_start') {
      this.vadSpeaking = true;
      if (this.turn) {
        if (this.settings.bargeInMinMs > 0) this.pendingBarge = e;
        else this.bargeIn(e);
        return;
      }
      if (this.state === 'idle' && !this.useWake) this.setState('listening');
      if (this.state === 'listening') this.beginUtterance(e.timestampMs, e.audio, false);
      return;
    }
    this.vadSpeaking = false;
    this.pendingBarge = undefined;
    const u = this.utterance;
    if (!u) return;
    if (u.afterWake && e.timestampMs - u.startMs < this.settings.wakeMinCommandMs) {
      // Only the wake word in this segment: wait for the command.
      this.cancelUtterance();
      this.armTimer(this.settings.listenTimeoutMs);
      return;
    }
    this.finishUtterance(e.timestampMs, e.detectedAtMs);
  }

  private onWake(e: WakeEvent): void {
    this.send({
      type: 'wake',
      name: e.name,
      score: Math.round(e.score * 1000) / 1000,
      timestamp_ms: e.timestampMs,
    });
    if (this.turn || this.utterance) return;
    if (this.state !== 'idle' && this.state !== 'listening') return;
    this.setState('listening');
    this.armTimer(this.settings.listenTimeoutMs);
    // Speech still going on after the wake word may be the command itself.
    if (this.vadSpeaking) this.beginUtterance(e.timestampMs, undefined, true);
  }

  private beginUtterance(startMs: number, prefix: Float32Array | undefined, afterWake: boolean): void {
    clearTimeout(this.timer);
    const stream = this.engines.stt.stream({
      onPartial: (text) => this.send({ type: 'transcript', final: false, text }),
    });
    this.utterance = { stream, startMs, afterWake, samples: 0 };
    if (prefix && prefix.length > 0) {
      stream.write(prefix);
      this.utterance.samples += prefix.length;
    }
  }

  private cancelUtterance(): void {
    const u = this.utterance;
    this.utterance = undefined;
    u?.stream.cancel();
  }

  private finishUtterance(endMs: number, detectedAtMs = endMs): void {
    const u = this.utterance;
    if (!u) return;
    this.utterance = undefined;
    const speechEndWall = performance.now();
    this.startTurn(
      'voice',
      async () => {
        const t0 = performance.now();
        const tr = await u.stream.end();
        const sttMs = elapsed(t0);
        const text = tr.text.trim();
        this.send({ type: 'transcript', final: true, text, stt_ms: sttMs });
        return { text, sttMs };
      },
      { speechEndWall, vadEndDelayMs: Math.round(detectedAtMs - endMs) },
    );
  }

  // ---- turns ---------------------------------------------------------------------------------------------

  private startTurn(
    channel: 'voice' | 'text',
    getText: () => Promise<{ text: string; sttMs?: number }>,
    voice?: { speechEndWall: number; vadEndDelayMs: number },
  ): void {
    clearTimeout(this.timer);
    const id = ++this.turnSeq;
    const abort = new AbortController();
    const turn: ActiveTurn = { id, abort, done: Promise.resolve() };
    this.turn = turn;
    this.setState('thinking');
    turn.done = this.runTurn(turn, channel, getText, voice).finally(() => {
      if (this.turn === turn) this.turn = undefined;
    });
  }

  private async runTurn(
    turn: ActiveTurn,
    channel: 'voice' | 'text',
    getText: () => Promise<{ text: string; sttMs?: number }>,
    voice?: { speechEndWall: number; vadEndDelayMs: number },
  ): Promise<void> {
    const live = () => !this.closed && this.turn === turn && !turn.abort.signal.aborted;
    const timings: Record<string, number> = {};
    if (voice) timings.vad_end_delay_ms = voice.vadEndDelayMs;
    let text: string;
    try {
      const got = await getText();
      text = got.text;
      if (got.sttMs !== undefined) timings.stt_ms = got.sttMs;
    } catch (err) {
      if (!live()) return;
      this.send({ type: 'error', error: errorBody(err) });
      this.backToListening(this.settings.listenTimeoutMs);
      return;
    }
    if (!live()) return;
    if (text === '') {
      // Nothing recognised (noise, or not a command): no turn.
      this.backToListening(this.settings.listenTimeoutMs);
      return;
    }
    const speaker = new Speaker({
      tts: this.engines.tts,
      options: this.start.tts,
      leadMs: this.settings.ttsLeadMs,
      send: this.send,
      signal: turn.abort.signal,
      onStart: () => {
        if (live()) this.setState('speaking');
      },
      onFirstAudio: () => {
        if (voice) timings.speech_end_to_first_audio_ms = elapsed(voice.speechEndWall);
      },
      onError: (err) => this.send({ type: 'error', error: errorBody(err) }),
    });
    turn.speaker = speaker;
    const t0 = performance.now();
    let result: TurnResult;
    try {
      result = await this.engine.run(
        {
          text,
          ...(this.sessionId ? { session_id: this.sessionId } : {}),
          ...(this.start.userId ? { user_id: this.start.userId } : {}),
          channel,
        },
        {
          signal: turn.abort.signal,
          onSentence: (sentence, index) => {
            if (!live()) return;
            if (index === 0) timings.engine_first_sentence_ms = elapsed(t0);
            this.send({ type: 'reply', text: sentence, index });
            speaker.say(sentence);
          },
        },
      );
    } catch (err) {
      speaker.stop();
      if (!live()) return;
      this.send({ type: 'error', error: errorBody(err) });
      await speaker.finished;
      this.backToListening(this.settings.listenTimeoutMs);
      return;
    }
    this.sessionId ??= result.session_id;
    timings.engine_ms = elapsed(t0);
    speaker.close();
    const interrupted = !(await speaker.finished);
    if (speaker.firstAudioMs !== undefined) timings.tts_first_audio_ms = speaker.firstAudioMs;
    if (!this.closed)
      this.send({
        type: 'turn',
        turn_id: result.turn_id,
        session_id: result.session_id,
        skill: result.skill,
        text,
        reply: result.reply,
        interrupted: interrupted || result.interrupted || turn.abort.signal.aborted,
        timings: { ...timings, engine: result.timings },
      });
    if (!live()) return;
    this.backToListening(this.useWake ? this.settings.followUpMs : this.settings.listenTimeoutMs);
  }

  /** User speech over the reply: abort the turn, cut the audio, listen (that speech is the next utterance). */
  private bargeIn(e: VadEvent): void {
    this.interrupt(e);
    this.setState('listening');
    this.beginUtterance(e.timestampMs, e.audio, false);
  }

  private interrupt(e: VadEvent | undefined): void {
    const t = this.turn;
    if (!t) return;
    this.turn = undefined;
    const audible = t.speaker?.stop() ?? false;
    t.abort.abort();
    if (e)
      this.send({
        type: 'barge_in',
        timestamp_ms: Math.round(e.timestampMs),
        detected_at_ms: Math.round(e.detectedAtMs),
      });
    if (audible) this.send({ type: 'tts_end', interrupted: true });
  }

  private backToListening(timeoutMs: number): void {
    this.setState('listening');
    this.armTimer(timeoutMs);
  }

  /** Listening without speech: back to idle after `ms`. */
  private armTimer(ms: number): void {
    clearTimeout(this.timer);
    if (this.closed) return;
    this.timer = setTimeout(() => {
      if (this.closed || this.turn || this.utterance || this.state !== 'listening') return;
      this.setState('idle');
    }, ms);
    this.timer.unref();
  }

  private setState(state: VoiceState): void {
    if (this.state === state || this.closed) return;
    this.state = state;
    this.send({ type: 'state', state });
  }
}
