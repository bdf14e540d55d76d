// One audio connection: microphone PCM → FusedPreprocessor (resample, high-pass, RNNoise, AGC, Silero VAD) →
// wake word (16 kHz) → STT stream per utterance → TurnEngine → TTS sentence by sentence, paced to the client.
//
// State machine per connection (see protocol.ts for the events):
//   idle      --wake word-->                      listening   (wake word off: any speech_start goes straight on)
//   listening --speech_start--> (utterance) --speech_end--> thinking --first reply sentence--> speaking
//   speaking  --reply played--> listening (follow-up window, FOLLOW_UP_MS) --no speech--> idle
//   listening --no speech for LISTEN_TIMEOUT_MS--> idle
//   thinking/speaking --user speech_start (+BARGE_IN_MIN_MS)--> barge_in: turn aborted, audio stopped, listening
//   a timer of the session fires --> `notice`; spoken at once when nothing else is going on (speaking, then the
//   follow-up window), else as soon as the turn in progress is over (a turn that starts first says it instead)
//
// Stream time: every position is in samples of the 16 kHz output of the preprocessor (aligned to the input
// timeline), so VAD and wake-word timestamps and the utterance audio line up whatever the chunking.
//
// The wake word: "hey jarvis, what time is it" in one breath is one VAD segment; the utterance then starts at
// the wake word's detection (the audio after it) and counts only if the segment goes on for WAKE_MIN_COMMAND_MS
// after it. "hey jarvis … (pause) … what time is it": the wake segment ends with too little after the wake word,
// and the next segment is the command.
//
// Early end of turn (TURN_EARLY_END_MS, only with an STT engine that has a closed command grammar, i.e.
// pocketsphinx): once the VAD has heard TURN_EARLY_END_MS of silence after the speech (its open pause, before
// TURN_END_SILENCE_MS makes it a speech_end), the utterance so far is recognised. If that gives a whole command
// that no longer command of the grammar extends, the turn starts at once ("end_of_turn":"command"). Otherwise
// (nothing recognised, or e.g. "set a timer" when "set a timer for five minutes" exists) the VAD decides as
// usual, and its speech_end reuses that recognition when no speech came in between (the rest is silence).
// Speech that goes on in the same VAD segment after an early end is treated like new speech: it becomes the next
// utterance, and interrupts the reply (barge-in) once it has lasted RESUME_CONFIRM_MS without a pause.
import { AppError, type Logger } from '@synthians/kit';
import { FusedPreprocessor, type SttStream, type VadEvent, type WakeEvent } from '@synthians/voice';
import type { Notice, TurnEngine, TurnResult } from '../coordinator/turn-engine.ts';
import type { VoiceEngines } from './engines.ts';
import type { AudioStart, VoiceState } from './protocol.ts';
import { Speaker } from './speaker.ts';

const RATE = 16000;
const PER_MS = RATE / 1000;
/** Speech that resumes after an early end must go on this long, unpaused, before it interrupts the reply. */
const RESUME_CONFIRM_MS = 250;
/** Audio handed to the utterance from before resumed speech (as the VAD's prefix padding does). */
const RESUME_PREFIX_MS = 300;
/** Recent audio kept for pending barge-ins, beyond BARGE_IN_MIN_MS. */
const RECENT_MS = 2000;
/** The VAD window: resumed speech is first seen at the end of one. */
const VAD_WINDOW_MS = 32;

export interface VoiceSettings {
  turnEndSilenceMs: number;
  /** 0 = off. See "Early end of turn" above. */
  turnEarlyEndMs: number;
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
  /** The audio written so far (for the early-end recognition). */
  audio: Float32Array[];
  /** The VAD pause an early-end recognition was last started on (one try per pause). */
  triedPauseMs?: number;
}

/** An early-end recognition of an utterance, started on a VAD pause. */
interface Speculation {
  u: Utterance;
  /** The pause's start: the end of speech (stream ms). */
  boundaryMs: number;
  /** Stream time (ms) and wall clock when it started. */
  atMs: number;
  wall: number;
  abort: AbortController;
  /** The recognised text. */
  result: Promise<string>;
}

type EndOfTurn = 'vad' | 'command' | 'max_utterance';

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
  /**
   * User speech during a turn, not yet confirmed as a barge-in: confirmed at `confirmAtMs` (BARGE_IN_MIN_MS after
   * the speech_start; for speech resumed after an early end RESUME_CONFIRM_MS more, and still unpaused). Its
   * utterance gets `event.audio` plus the audio from `audioFromMs` on.
   */
  private pendingBarge:
    { event: VadEvent; confirmAtMs: number; audioFromMs: number; resumed: boolean } | undefined;
  private turn: ActiveTurn | undefined;
  private turnSeq = 0;
  /** The early-end recognition in progress or finished for the current pause. */
  private early: Speculation | undefined;
  /** A turn was ended early and the VAD segment it came from has not ended yet. */
  private earlySegmentOpen = false;
  private readonly recent: RecentAudio;
  private timer: NodeJS.Timeout | undefined;
  private closed = false;
  private readonly offNotice: () => void;
  /** Fired timers of this session waiting to be spoken. */
  private readonly announcements: Notice[] = [];

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
    this.recent = new RecentAudio((settings.bargeInMinMs + RECENT_MS) * PER_MS);
    this.sessionId = start.sessionId;
    const onNotice = (n: Notice & { session_id: string }) => {
      if (n.session_id !== this.sessionId || this.closed) return;
      this.send({
        type: 'notice',
        message: n.message,
        timer_id: n.timer_id,
        kind: n.kind,
        fired_at: n.fired_at,
      });
      this.announcements.push(n);
      this.announce();
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
    this.early?.abort.abort();
    this.early = undefined;
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
    this.recent.push(samples, chunkStart);
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
          u.audio.push(part.slice());
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
    if (u && u.samples / PER_MS >= this.settings.maxUtteranceMs)
      this.finishUtterance(this.pos / PER_MS, this.pos / PER_MS, 'max_utterance');
    this.checkPause();
    const b = this.pendingBarge;
    if (b && this.vadSpeaking && this.pos / PER_MS >= b.confirmAtMs) {
      // Resumed speech must still be going on (a pause may be the end of a short noise).
      if (b.resumed && this.pre.vadPausedSinceMs !== undefined) return;
      this.pendingBarge = undefined;
      const since = this.recent.since(Math.round(b.audioFromMs * PER_MS));
      this.bargeIn({ ...b.event, audio: b.event.audio ? concatAudio([b.event.audio, since]) : since });
    }
    // A notice that came while the user was speaking: now, if the speech did not become a turn.
    if (this.announcements.length > 0) this.announce();
  }

  /** Acts on the VAD's open pause: the early end of turn, and speech resumed after one. */
  private checkPause(): void {
    const paused = this.pre.vadPausedSinceMs;
    const nowMs = this.pos / PER_MS;
    const spec = this.early;
    if (spec && (spec.u !== this.utterance || spec.boundaryMs !== paused)) {
      // Speech went on, or the utterance ended some other way: that recognition is void.
      spec.abort.abort();
      this.early = undefined;
    }
    if (this.earlySegmentOpen && this.vadSpeaking && paused === undefined) this.resumeAfterEarlyEnd(nowMs);
    const u = this.utterance;
    const phrases = this.engines.stt.completePhrases;
    const wait = this.settings.turnEarlyEndMs;
    if (!u || this.early || paused === undefined || !phrases || wait <= 0) return;
    if (nowMs - paused < wait || u.triedPauseMs === paused) return;
    if (u.afterWake && paused - u.startMs < this.settings.wakeMinCommandMs) return;
    u.triedPauseMs = paused;
    this.speculate(u, paused, nowMs, phrases);
  }

  private speculate(u: Utterance, boundaryMs: number, atMs: number, phrases: readonly string[]): void {
    const abort = new AbortController();
    const wall = performance.now();
    const result = this.engines.stt
      .transcribe(concatAudio(u.audio), { signal: abort.signal })
      .then((tr) => tr.text.trim());
    const spec: Speculation = { u, boundaryMs, atMs, wall, abort, result };
    this.early = spec;
    result.then(
      (text) => {
        if (this.closed || this.early !== spec || this.utterance !== u) return;
        // Nothing, or a command that a longer one extends: let the VAD decide (its end reuses this result).
        // (An engine without a grammar — a PC2 worker running whisper — may hear a fragment: not a command.)
        if (text === '' || !phrases.includes(text) || extendedByAnother(text, phrases)) return;
        this.early = undefined;
        this.utterance = undefined;
        u.stream.cancel();
        this.earlySegmentOpen = true;
        this.startTurn('voice', () => this.finalTranscript(result, wall, 'command'), {
          speechEndWall: wall,
          vadEndDelayMs: Math.round(atMs - boundaryMs),
        });
      },
      () => undefined, // failed or aborted: the VAD's end decides, with a fresh recognition
    );
  }

  /** Speech went on in the VAD segment whose turn ended early: handled like new speech. */
  private resumeAfterEarlyEnd(nowMs: number): void {
    this.earlySegmentOpen = false;
    const startMs = Math.max(0, nowMs - VAD_WINDOW_MS);
    const audioFromMs = Math.max(0, startMs - RESUME_PREFIX_MS);
    if (this.turn) {
      this.pendingBarge = {
        event: { type: 'speech_start', timestampMs: startMs, probability: 1, detectedAtMs: nowMs },
        confirmAtMs: nowMs + RESUME_CONFIRM_MS + this.settings.bargeInMinMs,
        audioFromMs,
        resumed: true,
      };
    } else if (this.state === 'listening' && !this.utterance) {
      this.beginUtterance(startMs, this.recent.since(Math.round(audioFromMs * PER_MS)), false);
    }
  }

  private onVad(e: VadEvent): void {
    this.send({
      type: 'vad',
      event: e.type,
      timestamp_ms: Math.round(e.timestampMs),
      detected_at_ms: Math.round(e.detectedAtMs),
    });
    this.earlySegmentOpen = false;
    if (e.type === 'speech_start') {
      this.vadSpeaking = true;
      this.pendingBarge = undefined;
      if (this.turn) {
        if (this.settings.bargeInMinMs > 0)
          this.pendingBarge = {
            event: e,
            confirmAtMs: e.detectedAtMs + this.settings.bargeInMinMs,
            audioFromMs: e.detectedAtMs,
            resumed: false,
          };
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
    this.utterance = { stream, startMs, afterWake, samples: 0, audio: [] };
    if (prefix && prefix.length > 0) {
      stream.write(prefix);
      this.utterance.samples += prefix.length;
      this.utterance.audio.push(prefix);
    }
  }

  private cancelUtterance(): void {
    const u = this.utterance;
    this.utterance = undefined;
    u?.stream.cancel();
    if (this.early) {
      this.early.abort.abort();
      this.early = undefined;
    }
  }

  private finishUtterance(endMs: number, detectedAtMs = endMs, endOfTurn: EndOfTurn = 'vad'): void {
    const u = this.utterance;
    if (!u) return;
    this.utterance = undefined;
    // An early-end recognition of this same pause heard the same speech (the rest is silence): reuse it.
    const spec = this.early;
    this.early = undefined;
    const reuse = spec?.u === u && spec.boundaryMs === endMs ? spec.result : undefined;
    if (spec && !reuse) spec.abort.abort();
    const speechEndWall = performance.now();
    const result = (async () => {
      if (reuse) {
        const got = await reuse.catch(() => undefined);
        if (got !== undefined) {
          u.stream.cancel();
          return got;
        }
      }
      return (await u.stream.end()).text.trim();
    })();
    this.startTurn('voice', () => this.finalTranscript(result, speechEndWall, endOfTurn), {
      speechEndWall,
      vadEndDelayMs: Math.round(detectedAtMs - endMs),
    });
  }

  /** Waits for the recognition, sends the final transcript; `stt_ms` is the wait from the end of turn. */
  private async finalTranscript(
    result: Promise<string>,
    since: number,
    endOfTurn: EndOfTurn,
  ): Promise<{ text: string; sttMs: number; endOfTurn: EndOfTurn }> {
    const text = await result;
    const sttMs = elapsed(since);
    this.send({ type: 'transcript', final: true, text, stt_ms: sttMs, end_of_turn: endOfTurn });
    return { text, sttMs, endOfTurn };
  }

  // ---- announcements -------------------------------------------------------------------------------------

  /** Speaks the waiting notices when nothing else is going on (no turn, no utterance being heard). */
  private announce(): void {
    if (this.closed || this.turn || this.utterance || this.vadSpeaking || this.announcements.length === 0)
      return;
    const notices = this.announcements.splice(0);
    const sessionId = this.sessionId!;
    const id = ++this.turnSeq;
    const abort = new AbortController();
    const turn: ActiveTurn = { id, abort, done: Promise.resolve() };
    this.turn = turn;
    turn.done = (async () => {
      const live = () => !this.closed && this.turn === turn && !abort.signal.aborted;
      // A turn may have delivered some already (it speaks pending notices first).
      const claimed = (
        await Promise.all(
          notices.map((n) => this.engine.claimNotice(sessionId, n.timer_id).catch(() => undefined)),
        )
      ).filter((n): n is Notice => n !== undefined);
      if (!live()) return;
      if (claimed.length === 0) {
        this.turn = undefined;
        return;
      }
      const speaker = new Speaker({
        tts: this.engines.tts,
        options: this.start.tts,
        leadMs: this.settings.ttsLeadMs,
        send: this.send,
        signal: abort.signal,
        onStart: () => {
          if (live()) this.setState('speaking');
        },
        onError: (err) => this.send({ type: 'error', error: errorBody(err) }),
      });
      turn.speaker = speaker;
      claimed.forEach((n, index) => {
        this.send({ type: 'reply', text: n.message, index, notice: true });
        speaker.say(n.message);
      });
      speaker.close();
      await speaker.finished;
      if (!live()) return;
      this.turn = undefined;
      this.backToListening(this.useWake ? this.settings.followUpMs : this.settings.listenTimeoutMs);
    })().finally(() => {
      if (this.turn === turn) this.turn = undefined;
      this.announce();
    });
  }

  // ---- turns ---------------------------------------------------------------------------------------------

  private startTurn(
    channel: 'voice' | 'text',
    getText: () => Promise<{ text: string; sttMs?: number; endOfTurn?: EndOfTurn }>,
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
      this.announce();
    });
  }

  private async runTurn(
    turn: ActiveTurn,
    channel: 'voice' | 'text',
    getText: () => Promise<{ text: string; sttMs?: number; endOfTurn?: EndOfTurn }>,
    voice?: { speechEndWall: number; vadEndDelayMs: number },
  ): Promise<void> {
    const live = () => !this.closed && this.turn === turn && !turn.abort.signal.aborted;
    const timings: Record<string, number> = {};
    if (voice) timings.vad_end_delay_ms = voice.vadEndDelayMs;
    let text: string;
    let endOfTurn: EndOfTurn | undefined;
    try {
      const got = await getText();
      text = got.text;
      endOfTurn = got.endOfTurn;
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
    // For the coordinator's metrics: the stages of a spoken turn around the engine (VAD end, STT, first audio).
    this.engine.events.emit('voice_turn', { timings: { ...timings } });
    if (!this.closed)
      this.send({
        type: 'turn',
        turn_id: result.turn_id,
        session_id: result.session_id,
        skill: result.skill,
        text,
        reply: result.reply,
        ...(endOfTurn ? { end_of_turn: endOfTurn } : {}),
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

/** Joins the chunks of an utterance. */
function concatAudio(chunks: readonly Float32Array[]): Float32Array {
  const out = new Float32Array(chunks.reduce((n, c) => n + c.length, 0));
  let at = 0;
  for (const c of chunks) {
    out.set(c, at);
    at += c.length;
  }
  return out;
}

/** True when some other phrase of the grammar starts with all the words of `text`. */
export function extendedByAnother(text: string, phrases: readonly string[]): boolean {
  const prefix = `${text} `;
  return phrases.some((p) => p.startsWith(prefix));
}

/** The last `max` samples of the stream, by stream position. */
class RecentAudio {
  private chunks: { at: number; samples: Float32Array }[] = [];
  private end = 0;
  constructor(private readonly max: number) {}

  push(samples: Float32Array, at: number): void {
    if (samples.length === 0) return;
    this.chunks.push({ at, samples: samples.slice() });
    this.end = at + samples.length;
    while (this.chunks.length > 1 && this.chunks[1]!.at <= this.end - this.max) this.chunks.shift();
  }

  /** Samples from stream position `from` (clamped to what is kept) to the end. */
  since(from: number): Float32Array {
    const parts: Float32Array[] = [];
    for (const c of this.chunks) {
      const lo = Math.max(from, c.at) - c.at;
      if (lo < c.samples.length) parts.push(c.samples.subarray(Math.max(0, lo)));
    }
    return concatAudio(parts);
  }
}
