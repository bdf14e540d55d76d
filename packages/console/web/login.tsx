// The console's login when the assistant runs with an API token: the token is sent once to POST /api/session,
// which answers with an HttpOnly cookie; the page never keeps the token itself.
import { useState } from 'preact/hooks';
import { api, errorMessage } from './api.ts';

export interface SessionState {
  token_required: boolean;
  authenticated: boolean;
}

export function LoginPage({ onLogin }: { onLogin: () => void }) {
  const [token, setToken] = useState('');
  const [error, setError] = useState('');
  const [busy, setBusy] = useState(false);
  const submit = async (e: Event) => {
    e.preventDefault();
    setBusy(true);
    setError('');
    try {
      await api<SessionState>('/api/session', { method: 'POST', body: { token: token.trim() } });
      setToken('');
      onLogin();
    } catch (err) {
      setError(errorMessage(err));
    } finally {
      setBusy(false);
    }
  };
  return (
    <form class="login" onSubmit={(e) => void submit(e)}>
      <h2>Log in</h2>
      <p>
        This assistant requires its API token (<code>SYNTHIANS_API_TOKEN</code>). It is sent once; the browser
        then keeps a session cookie for 12 hours.
      </p>
      <label for="login-token">API token</label>
      <input
        id="login-token"
        type="password"
        autocomplete="current-password"
        value={token}
        onInput={(e) => setToken((e.target as HTMLInputElement).value)}
        required
      />
      <button type="submit" class="btn primary" disabled={busy || token.trim() === ''}>
        Log in
      </button>
      {error && (
        <p role="alert" class="alert">
          {error}
        </p>
      )}
    </form>
  );
}
