// The Talk view's state and logic, kept outside the components so the conversation survives a change of view:
// microphone (AudioWorklet) → binary WebSocket messages, reply audio playback, typed turns, sessions.
import workletUrl from './mic-worklet.ts?worker&url';
import { api, errorMessage, type SessionDetail, type SessionView, type TurnResponse } from './api.ts';
import { recordTurn, Store } from './store.ts';

export type VoiceState = 'idle' | 'listening' | 'thinking' | 'speaking';

export interface Msg {
  id: number;
  role: 'user' | 'assistant';
  text: string;
  notice?: boolean;
  /** "1.8 s audio" once the reply's audio finished playing or was interrupted. */
  audio?: string;
}

export interface TalkState {
  messages: Msg[];
  partial: string;
  state: VoiceState;
  level: number;
  micOpen: boolean;
  holding: boolean;
  handsFree: boolean;
  info: string;
  error: string;
  sessions: SessionView[];
  sessionId: string | null;
  sending: boolean;
}

export const USER_ID = 'console';

export const talk = new Store<TalkState>({
  messages: [],
  partial: '',
  state: 'idle',
  level: 0,
  micOpen: false,
  holding: false,
  handsFree: false,
  info: '',
  error: '',
  sessions: [],
  sessionId: null,
  sending: false,
});

const patch = (p: Partial<TalkState>) => talk.update((s) => ({ ...s, ...p }));

let msgSeq = 0;
function addMessage(m: Omit<Msg, 'id'>): number {
  const id = ++msgSeq;
  talk.update((s) => ({ ...s, messages: [...s.messages, { ...m, id }] }));
  return id;
}
function editMessage(id: number, fn: (m: Msg) => Msg): void {
  talk.update((s) => ({ ...s, messages: s.messages.map((m) => (m.id === id ? fn(m) : m)) }));
}

// ---- Audio context, microphone ----

let ctx: AudioContext | null = null;
function audioContext(): AudioContext {
  if (!ctx) ctx = new AudioContext({ latencyHint: 'interactive' });
  if (ctx.state === 'suspended') void ctx.resume();
  return ctx;
}

/** The rate of reply audio we ask for: the context's, within what the server accepts. */
const ttsRate = (rate: number) => Math.min(48000, Math.max(8000, Math.round(rate)));

class Mic {
  private stream: MediaStream | null = null;
  private source: MediaStreamAudioSourceNode | null = null;
  private node: AudioWorkletNode | null = null;
  private sink: GainNode | null = null;
  private starting: Promise<void> | null = null;
  private lastLevelAt = 0;
  private levelPeak = 0;
  private static moduleLoaded: Promise<void> | null = null;
  onChunk: (pcm: ArrayBuffer) => void = () => {};

  get open(): boolean {
    return this.node !== null || this.starting !== null;
  }

  start(): Promise<void> {
    if (this.node) return Promise.resolve();
    if (this.starting) return this.starting;
    this.starting = this.doStart().finally(() => {
      this.starting = null;
    });
    return this.starting;
  }

  private async doStart(): Promise<void> {
    const ac = audioContext();
    Mic.moduleLoaded ??= ac.audioWorklet.addModule(workletUrl).catch((err: unknown) => {
      Mic.moduleLoaded = null;
      throw err;
    });
    const [stream] = await Promise.all([
      navigator.mediaDevices.getUserMedia({
        // Echo cancellation keeps the reply out of the microphone (barge-in); noise suppression and gain are the
        // server's job (RNNoise and AGC in its preprocessor): doing them twice made speech harder to recognise.
        audio: { echoCancellation: true, noiseSuppression: false, autoGainControl: false, channelCount: 1 },
      }),
      Mic.moduleLoaded,
    ]);
    if (this.stopRequested) {
      for (const t of stream.getTracks()) t.stop();
      this.stopRequested = false;
      return;
    }
    this.stream = stream;
    this.source = ac.createMediaStreamSource(stream);
    this.node = new AudioWorkletNode(ac, 'mic-capture', {
      numberOfInputs: 1,
      numberOfOutputs: 1,
      channelCount: 1,
      channelCountMode: 'explicit',
    });
    // A silent path to the destination keeps the graph pulling the worklet.
    this.sink = ac.createGain();
    this.sink.gain.value = 0;
    this.source.connect(this.node);
    this.node.connect(this.sink);
    this.sink.connect(ac.destination);
    this.node.port.onmessage = (e: MessageEvent<{ pcm: ArrayBuffer; rms: number }>) => {
      this.onChunk(e.data.pcm);
      this.levelPeak = Math.max(this.levelPeak, e.data.rms);
      const now = performance.now();
      if (now - this.lastLevelAt >= 100) {
        this.lastLevelAt = now;
        patch({ level: Math.min(1, Math.round(this.levelPeak * 1000) / 1000) });
        this.levelPeak = 0;
      }
    };
    patch({ micOpen: true });
  }

  private stopRequested = false;

  stop(): void {
    if (this.starting && !this.node) this.stopRequested = true;
    this.source?.disconnect();
    this.node?.disconnect();
    this.sink?.disconnect();
    if (this.node) this.node.port.onmessage = null;
    for (const t of this.stream?.getTracks() ?? []) t.stop();
    this.stream = null;
    this.source = null;
    this.node = null;
    this.sink = null;
    patch({ micOpen: false, level: 0 });
  }
}

// ---- Reply audio playback ----

class Player {
  private sources = new Set<AudioBufferSourceNode>();
  private nextTime = 0;
  private rate = 16000;
  /** The reply being received: its message and the samples received so far. */
  private current: { msgId: number | null; samples: number; rate: number } | null = null;
  private timers = new Map<number, ReturnType<typeof setTimeout>>();
  private pending = new Map<number, { msgId: number | null; seconds: number }>();
  private seq = 0;

  begin(rate: number, msgId: number | null): void {
    if (this.current) this.end(true);
    this.rate = rate;
    this.current = { msgId, samples: 0, rate };
  }

  push(data: ArrayBuffer): void {
    if (!this.current) return;
    const pcm = new Int16Array(data, 0, data.byteLength >> 1);
    if (pcm.length === 0) return;
    this.current.samples += pcm.length;
    const ac = audioContext();
    const buffer = ac.createBuffer(1, pcm.length, this.rate);
    const out = buffer.getChannelData(0);
    for (let i = 0; i < pcm.length; i++) out[i] = pcm[i]! / 0x8000;
    const node = ac.createBufferSource();
    node.buffer = buffer;
    node.connect(ac.destination);
    const at = Math.max(this.nextTime, ac.currentTime + 0.03);
    node.start(at);
    this.nextTime = at + buffer.duration;
    this.sources.add(node);
    node.onended = () => this.sources.delete(node);
  }

  /** tts_end: the reply's length is shown once what is scheduled has played (at once when interrupted). */
  end(interrupted: boolean): void {
    const cur = this.current;
    if (!cur) return;
    this.current = null;
    const seconds = cur.samples / cur.rate;
    const key = ++this.seq;
    this.pending.set(key, { msgId: cur.msgId, seconds });
    const remaining = interrupted || !ctx ? 0 : Math.max(0, this.nextTime - ctx.currentTime);
    this.timers.set(
      key,
      setTimeout(() => this.finish(key), remaining * 1000 + 20),
    );
  }

  private finish(key: number): void {
    const p = this.pending.get(key);
    clearTimeout(this.timers.get(key));
    this.timers.delete(key);
    this.pending.delete(key);
    if (p && p.msgId !== null) {
      const text = `${p.seconds.toFixed(1)} s audio`;
      editMessage(p.msgId, (m) => ({ ...m, audio: text }));
    }
  }

  /** Barge-in or a new press: silence now, drop what is scheduled, settle every reply's length. */
  stopAll(): void {
    for (const s of this.sources) {
      try {
        s.stop();
      } catch {
        // not started yet
      }
      s.disconnect();
    }
    this.sources.clear();
    this.nextTime = 0;
    if (this.current) this.end(true);
    for (const key of [...this.pending.keys()]) this.finish(key);
  }

  get playing(): boolean {
    return this.sources.size > 0 || this.current !== null;
  }
}

// ---- The audio WebSocket ----

type Mode = 'ptt' | 'hands';

class VoiceSocket {
  readonly ws: WebSocket;
  private queue: ArrayBuffer[] = [];
  closedByUs = false;
  gotReady = false;
  fatal: { code: string; message: string } | null = null;
  replyMsgId: number | null = null;
  /** Ignore reply audio (PTT pressed during a hands-free reply). */
  muted = false;

  constructor(
    readonly mode: Mode,
    readonly wakeWord: boolean,
    rate: number,
    sessionId: string | null,
    onMessage: (s: VoiceSocket, data: unknown) => void,
    onClose: (s: VoiceSocket, ev: CloseEvent) => void,
  ) {
    const url = `${location.protocol === 'https:' ? 'wss' : 'ws'}://${location.host}/v1/audio`;
    this.ws = new WebSocket(url);
    this.ws.binaryType = 'arraybuffer';
    const start = {
      type: 'start',
      format: { encoding: 'pcm_s16le', sample_rate: rate, channels: 1 },
      ...(sessionId ? { session_id: sessionId } : {}),
      user_id: USER_ID,
      options: { wake_word: wakeWord, tts: { sample_rate: ttsRate(rate), encoding: 'pcm_s16le' } },
    };
    this.ws.onopen = () => {
      this.ws.send(JSON.stringify(start));
      for (const b of this.queue) this.ws.send(b);
      this.queue = [];
    };
    this.ws.onmessage = (e: MessageEvent) => onMessage(this, e.data);
    this.ws.onclose = (e) => onClose(this, e);
  }

  get live(): boolean {
    return this.ws.readyState === WebSocket.CONNECTING || this.ws.readyState === WebSocket.OPEN;
  }

  send(data: ArrayBuffer | string): void {
    if (this.ws.readyState === WebSocket.OPEN) this.ws.send(data);
    else if (this.ws.readyState === WebSocket.CONNECTING) {
      if (typeof data === 'string') {
        const json = data;
        this.ws.addEventListener('open', () => this.ws.send(json), { once: true });
      } else this.queue.push(data);
    }
  }

  close(): void {
    this.closedByUs = true;
    if (this.live) this.ws.close(1000);
  }
}

// ---- The controller ----

const mic = new Mic();
const player = new Player();
let ptt: VoiceSocket | null = null;
/** The PTT socket is streaming the microphone (between press and release). */
let pttStreaming = false;
let hands: VoiceSocket | null = null;
let handsFailures = 0;
let handsWakeWord = true;
let reconnectTimer: ReturnType<typeof setTimeout> | null = null;

mic.onChunk = (pcm) => {
  if (ptt && pttStreaming) ptt.send(pcm);
  else if (hands && hands.live) hands.send(pcm);
};

/** The socket whose `state` drives the indicator: the PTT turn when there is one, else hands-free. */
function stateSocket(): VoiceSocket | null {
  if (ptt && ptt.live) return ptt;
  if (hands && hands.live) return hands;
  return null;
}

function syncIdle(): void {
  if (!stateSocket()) patch({ state: 'idle', partial: '' });
}

function updateMicUse(): void {
  const needed = pttStreaming || talk.get().handsFree;
  if (!needed && mic.open) mic.stop();
}

function onMessage(s: VoiceSocket, data: unknown): void {
  if (data instanceof ArrayBuffer) {
    if (!s.muted) player.push(data);
    return;
  }
  if (typeof data !== 'string') return;
  let m: Record<string, unknown>;
  try {
    m = JSON.parse(data) as Record<string, unknown>;
  } catch {
    return;
  }
  switch (m.type) {
    case 'ready': {
      s.gotReady = true;
      if (s.mode === 'hands') handsFailures = 0;
      const sid = typeof m.session_id === 'string' ? m.session_id : null;
      if (sid && !talk.get().sessionId) patch({ sessionId: sid });
      if (s.mode === 'hands') {
        const words = Array.isArray(m.wake_words) ? (m.wake_words as unknown[]).map(String) : [];
        if (m.wake_word === true)
          patch({
            info: `Hands-free: say “${(words[0] ?? 'the wake word').replace(/_/g, ' ')}”, then speak.`,
          });
      }
      break;
    }
    case 'state':
      if (stateSocket() === s && typeof m.state === 'string') {
        const st = m.state as VoiceState;
        patch(st === 'listening' ? { state: st } : { state: st, partial: '' });
      }
      break;
    case 'wake':
      patch({ info: 'Wake word heard: listening.' });
      break;
    case 'transcript': {
      const text = typeof m.text === 'string' ? m.text.trim() : '';
      if (m.final === true) {
        patch({ partial: '' });
        if (text) addMessage({ role: 'user', text });
        s.replyMsgId = null;
      } else patch({ partial: text });
      break;
    }
    case 'reply': {
      const text = typeof m.text === 'string' ? m.text : '';
      if (m.notice === true) {
        s.replyMsgId = addMessage({ role: 'assistant', text, notice: true });
        // The next reply sentence of a turn starts its own message.
        const noticeId = s.replyMsgId;
        s.replyMsgId = null;
        lastAssistant.set(s, noticeId);
      } else if (m.index === 0 || s.replyMsgId === null) {
        s.replyMsgId = addMessage({ role: 'assistant', text });
        lastAssistant.set(s, s.replyMsgId);
      } else {
        const id = s.replyMsgId;
        editMessage(id, (msg) => ({ ...msg, text: `${msg.text} ${text}`.trim() }));
      }
      break;
    }
    case 'tts_start': {
      if (s.muted && s.mode === 'hands') s.muted = false;
      if (s.muted) break;
      const rate = typeof m.sample_rate === 'number' ? m.sample_rate : 16000;
      player.begin(rate, lastAssistant.get(s) ?? null);
      break;
    }
    case 'tts_end':
      if (!s.muted) player.end(m.interrupted === true);
      break;
    case 'barge_in':
      player.stopAll();
      break;
    case 'turn': {
      const sid = typeof m.session_id === 'string' ? m.session_id : null;
      if (sid && !talk.get().sessionId) patch({ sessionId: sid });
      s.replyMsgId = null;
      if (m.timings && typeof m.timings === 'object')
        recordTurn({
          source: 'voice',
          text: typeof m.text === 'string' ? m.text : '',
          timings: m.timings as Record<string, number>,
          ...(typeof m.turn_id === 'string' ? { turn_id: m.turn_id } : {}),
        });
      void refreshSessions();
      break;
    }
    case 'notice':
      break;
    case 'error': {
      const e = (m.error ?? {}) as { code?: string; message?: string };
      const code = e.code ?? 'error';
      if (s.mode === 'hands' && code === 'wake_word_unavailable') {
        s.fatal = { code, message: e.message ?? '' };
        break;
      }
      if (!s.gotReady) s.fatal = { code, message: e.message ?? code };
      patch({ error: e.message ?? code });
      break;
    }
    default:
      break;
  }
}

const lastAssistant = new WeakMap<VoiceSocket, number>();

function onClose(s: VoiceSocket, ev: CloseEvent): void {
  if (s === ptt) {
    ptt = null;
    if (pttStreaming) {
      pttStreaming = false;
      patch({ holding: false });
      updateMicUse();
    }
    if (!s.gotReady && !s.closedByUs && !s.fatal)
      patch({ error: `The audio connection closed (${ev.code}${ev.reason ? `: ${ev.reason}` : ''}).` });
  }
  if (s === hands) {
    hands = null;
    if (talk.get().handsFree && !s.closedByUs) {
      if (
        (s.fatal?.code === 'wake_word_unavailable' || ev.reason === 'wake_word_unavailable') &&
        handsWakeWord
      ) {
        handsWakeWord = false;
        patch({
          info: 'Wake word unavailable on this server: hands-free now listens without it (every utterance is a turn).',
        });
        openHands();
      } else {
        handsFailures = s.gotReady ? 0 : handsFailures + 1;
        if (handsFailures >= 4) {
          patch({
            handsFree: false,
            error: s.fatal?.message ?? `The audio connection keeps closing (${ev.code}); hands-free is off.`,
          });
          updateMicUse();
        } else {
          reconnectTimer = setTimeout(
            () => {
              reconnectTimer = null;
              if (talk.get().handsFree && !hands) openHands();
            },
            500 * 2 ** handsFailures,
          );
        }
      }
    }
  }
  syncIdle();
}

function openSocket(mode: Mode, wakeWord: boolean): VoiceSocket {
  const rate = audioContext().sampleRate;
  return new VoiceSocket(mode, wakeWord, rate, talk.get().sessionId, onMessage, onClose);
}

function micError(err: unknown): string {
  const name = (err as { name?: string }).name;
  if (name === 'NotAllowedError') return 'Microphone access was denied. Allow it in the browser to talk.';
  if (name === 'NotFoundError') return 'No microphone was found.';
  return `Cannot open the microphone: ${errorMessage(err)}`;
}

/** Push-to-talk pressed: barge in on any playback, open a turn socket and stream the microphone. */
export function pressTalk(): void {
  if (pttStreaming) return;
  player.stopAll();
  patch({ error: '', holding: true, partial: '' });
  if (talk.get().handsFree && hands) {
    // Hands-free already hears everything: pressing only cuts the reply being played.
    hands.muted = true;
    return;
  }
  if (ptt) ptt.close();
  pttStreaming = true;
  ptt = openSocket('ptt', false);
  mic.start().catch((err: unknown) => {
    patch({ error: micError(err), holding: false });
    pttStreaming = false;
    ptt?.close();
    ptt = null;
    syncIdle();
  });
}

/** Push-to-talk released: end of audio; the server finishes the turn, sends `done` and closes. */
export function releaseTalk(): void {
  if (!talk.get().holding) return;
  patch({ holding: false });
  if (!pttStreaming) return;
  pttStreaming = false;
  ptt?.send(JSON.stringify({ type: 'stop' }));
  updateMicUse();
}

function openHands(): void {
  hands = openSocket('hands', handsWakeWord);
}

/** The hands-free socket follows the current session: reopen it on a change. */
function restartHands(): void {
  if (!talk.get().handsFree || !hands) return;
  const old = hands;
  hands = null;
  old.close();
  openHands();
}

export function setHandsFree(on: boolean): void {
  if (on === talk.get().handsFree) return;
  patch({ handsFree: on, error: '', info: on ? 'Hands-free: connecting…' : '' });
  if (reconnectTimer) clearTimeout(reconnectTimer);
  reconnectTimer = null;
  if (on) {
    handsFailures = 0;
    handsWakeWord = true;
    openHands();
    mic.start().catch((err: unknown) => {
      patch({ error: micError(err), handsFree: false, info: '' });
      hands?.close();
      hands = null;
      syncIdle();
    });
  } else {
    player.stopAll();
    hands?.close();
    hands = null;
    updateMicUse();
    syncIdle();
  }
}

// ---- Typed turns and sessions ----

export async function sendText(text: string): Promise<boolean> {
  const t = text.trim();
  if (!t || talk.get().sending) return false;
  patch({ sending: true, error: '' });
  addMessage({ role: 'user', text: t });
  try {
    const sid = talk.get().sessionId;
    const r = await api<TurnResponse>('/v1/turns', {
      method: 'POST',
      body: { text: t, ...(sid ? { session_id: sid } : {}), user_id: USER_ID },
    });
    addMessage({ role: 'assistant', text: r.reply });
    if (!talk.get().sessionId) patch({ sessionId: r.session_id });
    recordTurn({ source: 'text', text: t, timings: r.timings ?? {}, turn_id: r.turn_id });
    void refreshSessions();
    return true;
  } catch (err) {
    patch({ error: errorMessage(err) });
    return false;
  } finally {
    patch({ sending: false });
  }
}

export async function refreshSessions(): Promise<void> {
  try {
    const r = await api<{ sessions?: SessionView[]; items?: SessionView[] }>(
      `/v1/sessions?user_id=${USER_ID}&limit=20`,
    );
    patch({ sessions: r.sessions ?? r.items ?? [] });
  } catch (err) {
    patch({ error: `Cannot load the sessions: ${errorMessage(err)}` });
  }
}

export async function selectSession(id: string): Promise<void> {
  patch({ error: '' });
  try {
    const s = await api<SessionDetail>(`/v1/sessions/${encodeURIComponent(id)}`);
    const messages: Msg[] = [];
    for (const t of s.turns ?? []) {
      if (t.role !== 'user' && t.role !== 'assistant') continue;
      messages.push({ id: ++msgSeq, role: t.role, text: t.content });
    }
    player.stopAll();
    patch({ sessionId: id, messages, partial: '' });
    restartHands();
  } catch (err) {
    patch({ error: `Cannot open the session: ${errorMessage(err)}` });
  }
}

export async function newSession(): Promise<void> {
  patch({ error: '' });
  try {
    const s = await api<SessionView>('/v1/sessions', { method: 'POST', body: { user_id: USER_ID } });
    player.stopAll();
    patch({ sessionId: s.session_id, messages: [], partial: '' });
    restartHands();
    await refreshSessions();
  } catch (err) {
    patch({ error: `Cannot create a session: ${errorMessage(err)}` });
  }
}

export function dismissError(): void {
  patch({ error: '' });
}
