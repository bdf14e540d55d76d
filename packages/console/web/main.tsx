// The Synthians console: hash routes #/talk (default), #/memory, #/health.
import { render } from 'preact';
import { useEffect, useState } from 'preact/hooks';
import { HealthPage } from './health.tsx';
import { MemoryPage } from './memory.tsx';
import { TalkView } from './talk.tsx';
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
        {route === 'talk' && <TalkView />}
        {route === 'memory' && <MemoryPage />}
        {route === 'health' && <HealthPage />}
      </main>
    </>
  );
}

render(<App />, document.getElementById('app')!);
