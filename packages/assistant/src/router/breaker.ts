// A circuit breaker per route target.
//
//   closed ──(N consecutive failures)──▶ open ──(cool-down elapsed)──▶ half_open
//     ▲                                   ▲                               │
//     └──────────(the probe succeeds)─────┼───────────────────────────────┤
//                                         └──────(the probe fails)────────┘
//
// - closed: every request goes through; a failure adds to the consecutive-failure count, a success (or a 4xx: the
//   target answered, so it is alive) resets it. At `failureThreshold` consecutive failures the breaker opens.
// - open: requests are refused at once (the router answers 503 `circuit_open` with the seconds left of the
//   cool-down) until `cooldownMs` have passed since it opened.
// - half_open: exactly ONE request (the probe) is let through; the others are refused as while open. The probe's
//   success closes the breaker, its failure opens it again for a new cool-down.
//
// What counts as a failure is the caller's decision (the router: network errors, timeouts, 5xx; never a 4xx).
// The clock is injectable so tests can step through the cool-down without sleeping.

export type BreakerState = 'closed' | 'open' | 'half_open';

export interface BreakerOptions {
  /** Consecutive failures that open the breaker (ROUTER_BREAKER_FAILURES, default 5). */
  failureThreshold?: number;
  /** Time an open breaker waits before letting one probe through (ROUTER_BREAKER_COOLDOWN_MS, default 10 s). */
  cooldownMs?: number;
  /** Milliseconds since the epoch; `Date.now` unless a test injects its own clock. */
  now?: () => number;
  /** Called on every state change (for logs). */
  onStateChange?: (from: BreakerState, to: BreakerState) => void;
}

/** The last failure, without any request data: what happened and when. */
export interface BreakerFailure {
  code: string;
  message: string;
  at: string;
}

export interface BreakerSnapshot {
  state: BreakerState;
  consecutive_failures: number;
  total_failures: number;
  total_successes: number;
  /** Times the breaker opened (including re-opens after a failed probe). */
  opened_count: number;
  /** While open: milliseconds until a probe is let through; 0 otherwise. */
  retry_after_ms: number;
  last_error: BreakerFailure | null;
  failure_threshold: number;
  cooldown_ms: number;
}

export class CircuitBreaker {
  readonly failureThreshold: number;
  readonly cooldownMs: number;
  private readonly now: () => number;
  private readonly onStateChange: ((from: BreakerState, to: BreakerState) => void) | undefined;
  private current: BreakerState = 'closed';
  private openedAt = 0;
  private probeInFlight = false;
  private consecutive = 0;
  private failures = 0;
  private successes = 0;
  private opens = 0;
  private last: BreakerFailure | null = null;

  constructor(options: BreakerOptions = {}) {
    this.failureThreshold = options.failureThreshold ?? 5;
    this.cooldownMs = options.cooldownMs ?? 10_000;
    if (!Number.isInteger(this.failureThreshold) || this.failureThreshold < 1)
      throw new RangeError('failureThreshold must be an integer ≥ 1');
    if (!(this.cooldownMs >= 0)) throw new RangeError('cooldownMs must be ≥ 0');
    this.now = options.now ?? Date.now;
    this.onStateChange = options.onStateChange;
  }

  /** The state now (an open breaker whose cool-down has passed reads as half_open). */
  get state(): BreakerState {
    if (this.current === 'open' && this.now() - this.openedAt >= this.cooldownMs) {
      this.transition('half_open');
    }
    return this.current;
  }

  /** Milliseconds until an open breaker lets a probe through (0 when not open). */
  retryAfterMs(): number {
    if (this.state !== 'open') return 0;
    return Math.max(0, this.openedAt + this.cooldownMs - this.now());
  }

  /**
   * Whether a request could go through now, without claiming anything (the router's check before queueing).
   * In half_open this is true while no probe is in flight.
   */
  canPass(): boolean {
    const s = this.state;
    return s === 'closed' || (s === 'half_open' && !this.probeInFlight);
  }

  /**
   * Claims the right to send one request. Closed: always true. Open: false. Half-open: true for the first caller
   * (the probe) until its result is reported, false for the others. Every `true` must be followed by exactly one
   * of `success`, `failure` or `release`.
   */
  tryAcquire(): boolean {
    const s = this.state;
    if (s === 'closed') return true;
    if (s === 'open' || this.probeInFlight) return false;
    this.probeInFlight = true;
    return true;
  }

  /** The request succeeded (or the target answered with a 4xx, which proves it is up): closes the breaker. */
  success(): void {
    this.successes++;
    this.consecutive = 0;
    this.probeInFlight = false;
    if (this.current !== 'closed') this.transition('closed');
  }

  /** The request failed (network error, timeout, 5xx): counts towards opening; a failed probe re-opens. */
  failure(code: string, message: string): void {
    this.failures++;
    this.consecutive++;
    this.last = { code, message, at: new Date(this.now()).toISOString() };
    const wasProbe = this.probeInFlight;
    this.probeInFlight = false;
    if (wasProbe || this.current === 'half_open' || this.consecutive >= this.failureThreshold) {
      if (this.current !== 'open') this.open();
    }
  }

  /** The acquired request ended without telling anything about the target (e.g. cancelled before sending). */
  release(): void {
    this.probeInFlight = false;
  }

  /** Back to closed with the counts cleared (an operator's reset). */
  reset(): void {
    this.consecutive = 0;
    this.probeInFlight = false;
    if (this.current !== 'closed') this.transition('closed');
  }

  snapshot(): BreakerSnapshot {
    const state = this.state;
    return {
      state,
      consecutive_failures: this.consecutive,
      total_failures: this.failures,
      total_successes: this.successes,
      opened_count: this.opens,
      retry_after_ms: this.retryAfterMs(),
      last_error: this.last,
      failure_threshold: this.failureThreshold,
      cooldown_ms: this.cooldownMs,
    };
  }

  private open(): void {
    this.openedAt = this.now();
    this.opens++;
    this.transition('open');
  }

  private transition(to: BreakerState): void {
    const from = this.current;
    if (from === to) return;
    this.current = to;
    this.onStateChange?.(from, to);
  }
}
