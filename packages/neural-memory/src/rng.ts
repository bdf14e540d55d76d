// Deterministic pseudo-random numbers: xoshiro128** (Blackman & Vigna) seeded through splitmix32, with Gaussians by
// the Box–Muller transform (the second value of each pair is kept as a spare). The whole state — four 32-bit words
// and the spare — is exported and restored by `state()` / `Rng.fromState()`, so a deserialised model continues the
// exact same stream.

function splitmix32(x: number): number {
  x = (x + 0x9e3779b9) | 0;
  x ^= x >>> 16;
  x = Math.imul(x, 0x21f0aaad);
  x ^= x >>> 15;
  x = Math.imul(x, 0x735a2d97);
  x ^= x >>> 15;
  return x >>> 0;
}

const rotl = (x: number, k: number) => (x << k) | (x >>> (32 - k));

export interface RngState {
  /** The four xoshiro128** state words. */
  s: [number, number, number, number];
  /** The cached second Box–Muller value, or null. */
  spare: number | null;
}

export class Rng {
  private readonly s = new Uint32Array(4);
  private spare: number | null = null;

  /** Any finite number is a seed; its integer part (up to 2^53) selects the stream. */
  constructor(seed: number) {
    const n = Number.isFinite(seed) ? Math.trunc(Math.abs(seed)) : 0;
    const lo = n >>> 0;
    const hi = Math.floor(n / 4294967296) >>> 0;
    let x = splitmix32(lo ^ splitmix32(hi ^ (seed < 0 ? 0x5bd1e995 : 0)));
    for (let i = 0; i < 4; i++) {
      x = splitmix32(x + i);
      this.s[i] = x;
    }
    if ((this.s[0]! | this.s[1]! | this.s[2]! | this.s[3]!) === 0) this.s[0] = 1;
  }

  static fromState(state: RngState): Rng {
    const r = new Rng(0);
    for (let i = 0; i < 4; i++) r.s[i] = state.s[i]! >>> 0;
    r.spare = state.spare;
    return r;
  }

  state(): RngState {
    return { s: [this.s[0]!, this.s[1]!, this.s[2]!, this.s[3]!], spare: this.spare };
  }

  /** Uniform 32-bit unsigned integer. */
  u32(): number {
    const s = this.s;
    const result = Math.imul(rotl(Math.imul(s[1]!, 5), 7), 9) >>> 0;
    const t = s[1]! << 9;
    s[2] = s[2]! ^ s[0]!;
    s[3] = s[3]! ^ s[1]!;
    s[1] = s[1]! ^ s[2]!;
    s[0] = s[0]! ^ s[3]!;
    s[2] = s[2]! ^ t;
    s[3] = rotl(s[3]!, 11);
    return result;
  }

  /** Uniform in [0, 1) with 53 random bits. */
  uniform(): number {
    const a = this.u32() >>> 5;
    const b = this.u32() >>> 6;
    return (a * 67108864 + b) / 9007199254740992;
  }

  /** Uniform integer in [0, n). */
  int(n: number): number {
    return Math.floor(this.uniform() * n);
  }

  /** Standard normal (Box–Muller). */
  gaussian(): number {
    if (this.spare !== null) {
      const g = this.spare;
      this.spare = null;
      return g;
    }
    const u = 1 - this.uniform(); // (0, 1]
    const v = this.uniform();
    const r = Math.sqrt(-2 * Math.log(u));
    this.spare = r * Math.sin(2 * Math.PI * v);
    return r * Math.cos(2 * Math.PI * v);
  }

  /** In-place Fisher–Yates shuffle. */
  shuffle<T>(items: T[]): T[] {
    for (let i = items.length - 1; i > 0; i--) {
      const j = this.int(i + 1);
      const tmp = items[i]!;
      items[i] = items[j]!;
      items[j] = tmp;
    }
    return items;
  }
}
