// Hidden-layer nonlinearities of the memory MLP with their first and second derivatives (the second is needed by
// the outer loop, which differentiates through the inner gradient).

export interface ActivationFn {
  /** φ(z) */
  f(z: number): number;
  /** φ'(z) */
  d(z: number): number;
  /** φ''(z) */
  dd(z: number): number;
  /** Writes φ(z) to h[outIdx] and φ'(z) to h[dIdx]; returns z. */
  both(z: number, h: Float32Array, outIdx: number, dIdx: number): number;
}

const sigmoid = (z: number) => 1 / (1 + Math.exp(-z));

/** SiLU (swish): φ = z·σ(z), φ' = σ(1 + z(1−σ)), φ'' = σ(1−σ)(2 + z(1−2σ)). */
const silu: ActivationFn = {
  f: (z) => z * sigmoid(z),
  d: (z) => {
    const s = sigmoid(z);
    return s * (1 + z * (1 - s));
  },
  dd: (z) => {
    const s = sigmoid(z);
    return s * (1 - s) * (2 + z * (1 - 2 * s));
  },
  both: (z, h, o, d) => {
    const s = 1 / (1 + Math.exp(-z));
    h[o] = z * s;
    h[d] = s * (1 + z * (1 - s));
    return z;
  },
};

/** erf by Abramowitz & Stegun 7.1.26 (|error| < 1.5e-7). */
function erf(x: number): number {
  const sign = x < 0 ? -1 : 1;
  const a = Math.abs(x);
  const t = 1 / (1 + 0.3275911 * a);
  const y =
    1 -
    ((((1.061405429 * t - 1.453152027) * t + 1.421413741) * t - 0.284496736) * t + 0.254829592) *
      t *
      Math.exp(-a * a);
  return sign * y;
}

const INV_SQRT2 = 1 / Math.SQRT2;
const INV_SQRT2PI = 1 / Math.sqrt(2 * Math.PI);
const Phi = (z: number) => 0.5 * (1 + erf(z * INV_SQRT2));
const phi = (z: number) => INV_SQRT2PI * Math.exp(-0.5 * z * z);

/** GELU: φ = z·Φ(z), φ' = Φ + z·ϕ, φ'' = ϕ·(2 − z²). */
const gelu: ActivationFn = {
  f: (z) => z * Phi(z),
  d: (z) => Phi(z) + z * phi(z),
  dd: (z) => phi(z) * (2 - z * z),
  both: (z, h, o, d) => {
    const P = Phi(z);
    h[o] = z * P;
    h[d] = P + z * phi(z);
    return z;
  },
};

/** tanh: φ' = 1 − φ², φ'' = −2φ(1 − φ²). */
const tanh: ActivationFn = {
  f: (z) => Math.tanh(z),
  d: (z) => {
    const t = Math.tanh(z);
    return 1 - t * t;
  },
  dd: (z) => {
    const t = Math.tanh(z);
    return -2 * t * (1 - t * t);
  },
  both: (z, h, o, d) => {
    const t = Math.tanh(z);
    h[o] = t;
    h[d] = 1 - t * t;
    return z;
  },
};

export function activation(name: 'silu' | 'gelu' | 'tanh'): ActivationFn {
  return name === 'silu' ? silu : name === 'gelu' ? gelu : tanh;
}
