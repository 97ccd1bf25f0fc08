/**
 * Adam over one flat parameter vector, in plain TypeScript (deterministic, the
 * same bytes on every machine and for any number of workers), and the
 * multi-step learning-rate schedule of the seed (LR × gamma at each milestone epoch).
 *
 * @example
 * ```ts
 * const adam = new Adam(params.length, { beta1: 0.9, beta2: 0.999, epsilon: 1e-8 });
 * adam.step(params, grads, lrAt({ lr: 1e-3, milestones: [6, 8], gamma: 0.1 }, epoch));
 * ```
 */

/** Adam's constants. */
export interface AdamConfig {
  beta1: number;
  beta2: number;
  epsilon: number;
  /** L2 penalty added to the gradient (PyTorch's `weight_decay`; default 0). */
  weightDecay: number;
}

/** PyTorch's defaults. */
export const DEFAULT_ADAM: AdamConfig = { beta1: 0.9, beta2: 0.999, epsilon: 1e-8, weightDecay: 0 };

/** Multi-step schedule: `lr · gamma^(number of milestones <= epoch)`; epochs count from 0. */
export interface LrSchedule {
  lr: number;
  milestones: number[];
  gamma: number;
}

/**
 * The learning rate of a (0-based) epoch.
 *
 * @example
 * ```ts
 * lrAt({ lr: 0.01, milestones: [10, 40], gamma: 0.1 }, 10); // 0.001
 * ```
 */
export function lrAt(s: LrSchedule, epoch: number): number {
  let lr = s.lr;
  for (const m of s.milestones) if (epoch >= m) lr *= s.gamma;
  return lr;
}

/** Default milestones for a run of `epochs`: at 60 % and 85 % of it. */
export function defaultMilestones(epochs: number): number[] {
  const ms = [Math.round(0.6 * epochs), Math.round(0.85 * epochs)].filter((m) =>
    m > 0 && m < epochs
  );
  return [...new Set(ms)];
}

/** Adam's state, for checkpoints. */
export interface AdamState {
  t: number;
  m: Float32Array;
  v: Float32Array;
}

/** Adam on a flat Float32Array of parameters. */
export class Adam {
  t = 0;
  m: Float32Array;
  v: Float32Array;

  constructor(readonly size: number, readonly cfg: AdamConfig = DEFAULT_ADAM) {
    this.m = new Float32Array(size);
    this.v = new Float32Array(size);
  }

  /** Applies one update to `params` in place with `grads` at learning rate `lr`. */
  step(params: Float32Array, grads: Float32Array, lr: number): void {
    if (params.length !== this.size || grads.length !== this.size) {
      throw new RangeError(
        `Adam.step: ${params.length} params / ${grads.length} grads, optimizer has ${this.size}`,
      );
    }
    this.t++;
    const { beta1, beta2, epsilon, weightDecay } = this.cfg;
    const c1 = 1 - Math.pow(beta1, this.t);
    const c2 = 1 - Math.pow(beta2, this.t);
    const m = this.m;
    const v = this.v;
    for (let i = 0; i < this.size; i++) {
      const g = grads[i] + weightDecay * params[i];
      const mi = beta1 * m[i] + (1 - beta1) * g;
      const vi = beta2 * v[i] + (1 - beta2) * g * g;
      m[i] = mi;
      v[i] = vi;
      params[i] -= lr * (mi / c1) / (Math.sqrt(vi / c2) + epsilon);
    }
  }

  /** A copy of the state. */
  state(): AdamState {
    return { t: this.t, m: this.m.slice(), v: this.v.slice() };
  }

  /** Restores a state saved by {@linkcode Adam.state}. */
  load(s: AdamState): void {
    if (s.m.length !== this.size || s.v.length !== this.size) {
      throw new RangeError(
        `Adam.load: state for ${s.m.length} parameters, optimizer has ${this.size}`,
      );
    }
    this.t = s.t;
    this.m = s.m.slice();
    this.v = s.v.slice();
  }
}
