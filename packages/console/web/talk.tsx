// The Talk view: push-to-talk, hands-free, the conversation, typed turns and sessions.
import { useEffect, useRef, useState } from 'preact/hooks';
import { formatDate } from './api.ts';
import { useStore } from './store.ts';
import {
  dismissError,
  newSession,
  pressTalk,
  refreshSessions,
  releaseTalk,
  selectSession,
  sendText,
  setHandsFree,
  talk,
} from './talk-model.ts';

export function TalkView() {
  const s = useStore(talk);
  const [text, setText] = useState('');
  const logRef = useRef<HTMLDivElement>(null);

  useEffect(() => {
    void refreshSessions();
  }, []);

  useEffect(() => {
    const el = logRef.current;
    if (el) el.scrollTop = el.scrollHeight;
  }, [s.messages, s.partial]);

  const submit = async (e: Event) => {
    e.preventDefault();
    if (await sendText(text)) setText('');
  };

  return (
    <div class="talk">
      <aside class="panel sessions" aria-labelledby="sessions-title">
        <div class="panel-head">
          <h2 id="sessions-title">Sessions</h2>
          <button type="button" class="btn" onClick={() => void newSession()}>
            New session
          </button>
        </div>
        {s.sessions.length === 0 && <p class="empty">No sessions yet.</p>}
        <ul class="session-list" aria-label="Sessions">
          {s.sessions.map((x) => (
            <li key={x.session_id}>
              <button
                type="button"
                class="session"
                aria-current={x.session_id === s.sessionId ? 'true' : undefined}
                onClick={() => void selectSession(x.session_id)}
              >
                <span class="session-id">{x.session_id}</span>
                <span class="muted small">
                  {formatDate(x.created_at)} · {x.status}
                  {typeof x.interaction_count === 'number' ? ` · ${x.interaction_count} messages` : ''}
                </span>
              </button>
            </li>
          ))}
        </ul>
      </aside>

      <section class="panel convo" aria-labelledby="talk-title">
        <div class="panel-head">
          <h2 id="talk-title">Conversation</h2>
          <p class="muted small current-session">
            {s.sessionId ? (
              <>
                Session <code>{s.sessionId}</code>
              </>
            ) : (
              'New session on the first turn'
            )}
          </p>
        </div>

        <div class="controls">
          <button
            type="button"
            class={`ptt${s.holding ? ' holding' : ''}`}
            aria-pressed={s.holding}
            aria-describedby="ptt-help"
            onPointerDown={(e) => {
              if (e.button !== 0) return;
              pressTalk();
            }}
            onPointerUp={() => releaseTalk()}
            onPointerLeave={() => releaseTalk()}
            onPointerCancel={() => releaseTalk()}
            onBlur={() => releaseTalk()}
            onContextMenu={(e) => e.preventDefault()}
            onKeyDown={(e) => {
              if (e.key === ' ' || e.code === 'Space') {
                e.preventDefault();
                if (!e.repeat) pressTalk();
              }
            }}
            onKeyUp={(e) => {
              if (e.key === ' ' || e.code === 'Space') {
                e.preventDefault();
                releaseTalk();
              }
            }}
          >
            <span class="ptt-dot" aria-hidden="true" />
            Push to talk
          </button>
          <p id="ptt-help" class="muted small sr-only-sm">
            Hold the button (or Space) while you speak, release to send.
          </p>
          <label class="check">
            <input
              type="checkbox"
              checked={s.handsFree}
              onChange={(e) => setHandsFree((e.currentTarget as HTMLInputElement).checked)}
            />
            Hands-free (wake word)
          </label>
          <div class="indicators">
            <span class="label-inline" id="state-label">
              State
            </span>
            <span role="status" aria-label="Assistant state" class={`state state-${s.state}`}>
              {s.state}
            </span>
            <span class="label-inline" id="level-label" aria-hidden="true">
              Mic
            </span>
            <div
              class="meter"
              role="meter"
              aria-label="Input level"
              aria-valuemin={0}
              aria-valuemax={1}
              aria-valuenow={Math.round(s.level * 100) / 100}
            >
              <div class="meter-fill" style={{ width: `${Math.min(100, Math.sqrt(s.level) * 100)}%` }} />
            </div>
          </div>
        </div>

        {s.info && <p class="info small">{s.info}</p>}
        {s.error && (
          <div class="alert" role="alert">
            <span>{s.error}</span>
            <button type="button" class="btn-link" onClick={dismissError}>
              Dismiss
            </button>
          </div>
        )}

        <div class="log" role="log" aria-label="Conversation" aria-live="polite" tabIndex={0} ref={logRef}>
          {s.messages.length === 0 && !s.partial && (
            <p class="empty">Say something with “Push to talk”, or type a message below.</p>
          )}
          {s.messages.map((m) => (
            <div key={m.id} class={`msg ${m.role}${m.notice ? ' notice' : ''}`}>
              <span class="msg-text">{m.text}</span>
              {m.audio && (
                <span class="msg-audio" aria-label="Reply audio length">
                  {m.audio}
                </span>
              )}
            </div>
          ))}
          {s.partial && (
            <div class="partial" aria-label="Hearing">
              {s.partial}…
            </div>
          )}
        </div>

        <form class="composer" onSubmit={(e) => void submit(e)}>
          <label for="message" class="sr-only">
            Message
          </label>
          <input
            id="message"
            type="text"
            autoComplete="off"
            placeholder="Type a message…"
            value={text}
            onInput={(e) => setText((e.currentTarget as HTMLInputElement).value)}
          />
          <button type="submit" class="btn primary" disabled={s.sending || text.trim() === ''}>
            Send
          </button>
        </form>
      </section>
    </div>
  );
}
