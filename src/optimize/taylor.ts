/**
 * First-order Taylor ranking of convolution filters (Molchanov et al. 2016):
 * a filter's importance is |mean over batch and positions of a · ∂L/∂a|, with
 * `a` its activation after the conv and its activation function, L the
 * training loss (no OHEM), L2-normalised per layer and averaged over batches.
 *
 * How it is computed exactly without a hook inside the training graph: scaling
 * channel c of the activation by a gate s (at s = 1) changes L by
 * dL/ds = Σ_positions a·∂L/∂a. Max pooling and flatten commute with a positive
 * gate, and the next linear layer (conv, dense on the flattened HWC rows, or
 * the 1×1 heads) sees s·a exactly as if its input-channel-c weights were
 * scaled by s; so dL/ds = Σ W[.., c, ..] · ∂L/∂W[.., c, ..] over that layer's
 * channel-c slice: the parameter gradients of one ordinary backward pass.
 *
 * @example
 * ```ts
 * await initTrainingBackend("wasm");
 * const scores = await taylorScores(data, readBatches(["d/val"], { batchSize: 256, seed: 0, shuffle: false }), loss);
 * scores.conv2; // Float32Array, one per filter, L2 norm 1
 * ```
 */
import { type NetArch, planArch } from "../nets/arch.ts";
import type { NetData } from "../nets/net.ts";
import type { Batch } from "../data/shards.ts";
import { packParams, TrainGraph } from "../train/backprop.ts";
import { computeLoss, type LossConfig } from "../train/losses.ts";

/** A conv layer whose filters can be removed, and the layer that reads them. */
export interface PrunableConv {
  /** Conv layer name, e.g. `conv2`. */
  conv: string;
  /** Index of the conv in `arch.layers`. */
  index: number;
  filters: number;
  /** Per-channel parameters between the conv and its consumer (PReLU alphas). */
  perChannel: string[];
  /** Weight tensors that read the channels: one conv/dense, or every head. */
  consumers: string[];
  /** Positions per channel in a consumer's input rows (conv: kh·kw; dense after flatten: h·w). */
  positions: number;
  /** Spatial positions of the conv's output at the training size (for the mean). */
  outPositions: number;
}

/**
 * The conv layers of `arch` whose filters may be pruned: every conv of the
 * trunk whose output reaches a conv, a dense layer (through flatten) or the
 * heads through only activations, max pooling and flatten. Head layers are
 * never listed (they keep their units).
 *
 * @example
 * ```ts
 * prunableConvs(pnetArch()).map((p) => p.conv); // ["conv1", "conv2", "conv3"]
 * ```
 */
export function prunableConvs(arch: NetArch): PrunableConv[] {
  const plan = planArch(arch);
  const layers = arch.layers;
  const out: PrunableConv[] = [];
  layers.forEach((layer, i) => {
    if (layer.kind !== "conv") return;
    const perChannel: string[] = [];
    const convShape = plan.shapes[i];
    const outPositions = convShape.length === 3 ? convShape[0] * convShape[1] : 1;
    let spatialBeforeFlatten = outPositions;
    for (let j = i + 1; j < layers.length; j++) {
      const l = layers[j];
      if (l.kind === "prelu") perChannel.push(`${l.name}.alpha`);
      else if (l.kind === "relu") continue;
      else if (l.kind === "maxpool") {
        const s = plan.shapes[j];
        spatialBeforeFlatten = s[0] * (s as number[])[1];
      } else if (l.kind === "flatten") {
        const next = layers[j + 1];
        if (next?.kind !== "dense") return;
        out.push({
          conv: layer.name,
          index: i,
          filters: layer.filters,
          perChannel,
          consumers: [`${next.name}.weight`],
          positions: spatialBeforeFlatten,
          outPositions,
        });
        return;
      } else if (l.kind === "conv") {
        out.push({
          conv: layer.name,
          index: i,
          filters: layer.filters,
          perChannel,
          consumers: [`${l.name}.weight`],
          positions: l.kh * l.kw,
          outPositions,
        });
        return;
      } else if (l.kind === "cls" || l.kind === "box" || l.kind === "landmarks") {
        if (plan.trunkOut.length !== 3) return;
        out.push({
          conv: layer.name,
          index: i,
          filters: layer.filters,
          perChannel,
          consumers: plan.heads.map((h) => `${h.name}.weight`),
          positions: 1,
          outPositions,
        });
        return;
      } else return; // depthwise, dense: not a channel-sliced consumer
    }
  });
  return out;
}

/**
 * Index of (position p, channel c) of a consumer weight stored
 * [positions·C, units] row-major (HWIO conv or [in, out] dense in HWC order).
 */
export function consumerIndex(p: number, c: number, C: number, units: number, o: number): number {
  return (p * C + c) * units + o;
}

/** Raw (unnormalised) per-filter Σ W·∂L/∂W over each consumer's channel slice. */
export function gateGradients(
  data: NetData,
  grads: Record<string, Float32Array>,
): Record<string, Float64Array> {
  const res: Record<string, Float64Array> = {};
  for (const p of prunableConvs(data.arch)) {
    const s = new Float64Array(p.filters);
    for (const name of p.consumers) {
      const w = data.params[name];
      const g = grads[name];
      const units = w.length / (p.positions * p.filters);
      for (let pos = 0; pos < p.positions; pos++) {
        for (let c = 0; c < p.filters; c++) {
          const base = consumerIndex(pos, c, p.filters, units, 0);
          let acc = 0;
          for (let o = 0; o < units; o++) acc += w[base + o] * g[base + o];
          s[c] += acc;
        }
      }
    }
    res[p.conv] = s;
  }
  return res;
}

/**
 * Taylor scores of every prunable filter of `data` over `batches` (needs an
 * initialised training backend: `initTrainingBackend`). Per batch: the loss
 * (batch mean, no OHEM) is back-propagated, each filter's mean a·∂L/∂a over
 * positions taken in absolute value; the batch values are averaged, then
 * each layer's vector is L2-normalised (a layer of all zeros stays zero).
 */
export async function taylorScores(
  data: NetData,
  batches: AsyncIterable<Batch> | Iterable<Batch>,
  loss: LossConfig,
): Promise<Record<string, Float32Array>> {
  const convs = prunableConvs(data.arch);
  const sums: Record<string, Float64Array> = {};
  for (const p of convs) sums[p.conv] = new Float64Array(p.filters);
  const g = new TrainGraph(data.arch);
  let n = 0;
  try {
    g.setParams(packParams(data.arch, data.params));
    for await (const b of batches) {
      const out = g.forward(b.pixels, b.count, true);
      const r = computeLoss(out, b, loss, { ohem: false });
      const flat = g.backward(r);
      const grads: Record<string, Float32Array> = {};
      for (const s of g.layout.slots) grads[s.name] = flat.subarray(s.offset, s.offset + s.size);
      const gate = gateGradients(data, grads);
      for (const p of convs) {
        const dst = sums[p.conv];
        const src = gate[p.conv];
        for (let c = 0; c < p.filters; c++) dst[c] += Math.abs(src[c] / p.outPositions);
      }
      n++;
    }
  } finally {
    g.dispose();
  }
  if (n === 0) throw new RangeError(`taylorScores(${data.arch.name}): no batches`);
  const res: Record<string, Float32Array> = {};
  for (const p of convs) {
    const v = sums[p.conv];
    let norm = 0;
    for (let c = 0; c < v.length; c++) norm += (v[c] / n) ** 2;
    norm = Math.sqrt(norm);
    res[p.conv] = Float32Array.from(v, (x) => (norm > 0 ? x / n / norm : 0));
  }
  return res;
}
