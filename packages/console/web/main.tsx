// The Synthians console: hash routes #/talk (default), #/memory, #/health.
import { render } from 'preact';
import { useEffect, useState } from 'preact/hooks';
import { HealthPage } from './health.tsx';
import { MemoryPage } from './memory.tsx';
import { TalkView } from './talk.tsx';
import { api } from './api.ts';
import { LoginPage, type SessionState } from './login.tsx';
import './styles.css';

type Route = 'talk' | 'memory' | 'health';
const ROUTES: { id: Route; label: string }[] = [
  { id: 'talk', label: 'Talk' },
  { id: 'memory', label: 'Memory' },
  { id: 'health', label: 'Health' },
];

function currentRoute(): Route {
  const r = location.hash.replace(/^#\/?/, '').split(/[/?]/)[0];
  return r === 'memory' || r === 'health' ? r : 'talk';
}

function App() {
  const [route, setRoute] = useState<Route>(currentRoute());
  // undefined while asking; with a token, the pages wait for the login (their requests would get 401).
  const [session, setSession] = useState<SessionState | undefined>(undefined);
  const refreshSession = () =>
    void api<SessionState>('/api/session')
      .then(setSession)
      .catch(() => setSession({ token_required: false, authenticated: true }));
  useEffect(refreshSession, []);
  useEffect(() => {
    const on = () => setRoute(currentRoute());
    window.addEventListener('hashchange', on);
    return () => window.removeEventListener('hashchange', on);
  }, []);
  useEffect(() => {
    const label = ROUTES.find((r) => r.id === route)?.label ?? '';
    document.title = `${label} · Synthians console`;
  }, [route]);

  return (
    <>
      <a
        class="skip"
        href="#main"
        onClick={(e) => {
          e.preventDefault();
          document.getElementById('main')?.focus();
        }}
      >
        Skip to content
      </a>
      <header class="top">
        <div class="brand">
          <span class="logo" aria-hidden="true" />
          <span>Synthians</span>
        </div>
        <nav aria-label="Main">
          <ul>
            {ROUTES.map((r) => (
              <li key={r.id}>
                <a href={`#/${r.id}`} aria-current={route === r.id ? 'page' : undefined}>
                  {r.label}
                </a>
              </li>
            ))}
          </ul>
        </nav>
      </header>
      <main id="main" tabIndex={-1}>
        <h1 class="sr-only">{ROUTES.find((r) => r.id === route)?.label}</h1>
        {session && !session.authenticated && <LoginPage onLogin={refreshSession} />}
        {session?.authenticated && route === 'talk' && <TalkView />}
        {session?.authenticated && route === 'memory' && <MemoryPage />}
        {session?.authenticated && route === 'health' && <HealthPage />}
      </main>
    </>
  );
}

render(<App />, document.getElementById('app')!);
