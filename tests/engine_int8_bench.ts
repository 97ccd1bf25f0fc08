/**
 * The int8 engine (src/deploy/engine_int8.ts) against the fp32 engine, single
 * thread, the original weights quantised by PTQ: PNet on 640×480, RNet ×256,
 * ONet ×64 (u8 RGB pixels in, heads out). Calibration here uses random crops
 * (speed does not depend on the ranges; accuracy is `deno task quantize`'s).
 * The `7-bit` rows quantise activations to 0..127 and run the i8 quad
 * kernels (relaxed SIMD when the runtime has it). The `half` rows run the same nets with every channel count halved (random
 * weights, quantised the same way): what pruning to half width plus int8
 * would cost.
 *
 *   deno bench -A tests/engine_int8_bench.ts
 */
import { createEngine } from "../src/deploy/engine.ts";
import { onetArch, pnetArch, rnetArch } from "../src/nets/arch.ts";
import {
  ensureOriginalWeights,
  loadNetData,
  type NetData,
  randomNetData,
} from "../src/nets/mod.ts";
import { quantizeNet } from "../src/optimize/mod.ts";
import { Rng } from "../src/util/random.ts";

type Name = "pnet" | "rnet" | "onet";
const paths = await ensureOriginalWeights();
const rng = new Rng(7);
const bytes = (n: number) => Uint8Array.from({ length: n }, () => rng.int(0, 256));
const calib = (size: number) => ({ pixels: bytes(64 * size * size * 3), count: 64, size });

const WORK: Record<Name, { n: number; h: number; w: number; px: Uint8Array; size: number }> = {
  pnet: { n: 1, h: 480, w: 640, px: bytes(480 * 640 * 3), size: 12 },
  rnet: { n: 256, h: 24, w: 24, px: bytes(256 * 24 * 24 * 3), size: 24 },
  onet: { n: 64, h: 48, w: 48, px: bytes(64 * 48 * 48 * 3), size: 48 },
};
const HALF: Record<Name, NetData> = {
  pnet: randomNetData(pnetArch({ channels: [5, 8, 16] }), 1),
  rnet: randomNetData(rnetArch({ channels: [14, 24, 32], dense: 64 }), 1),
  onet: randomNetData(onetArch({ channels: [16, 32, 32, 64], dense: 128 }), 1),
};

for (const name of ["pnet", "rnet", "onet"] as Name[]) {
  const { n, h, w, px, size } = WORK[name];
  const data = await loadNetData(paths[name]);
  const fp32 = await createEngine(data);
  const int8 = await createEngine(quantizeNet(data, calib(size)));
  const half8 = await createEngine(quantizeNet(HALF[name], calib(size)));
  const int7 = await createEngine(quantizeNet(data, calib(size), { bits: 7 }));
  const half7 = await createEngine(quantizeNet(HALF[name], calib(size), { bits: 7 }));
  const label = `${name} ${n > 1 ? `x${n}` : `${w}x${h}`}`;
  Deno.bench(`${label} fp32`, { group: name, baseline: true }, () => void fp32.run(px, n, h, w));
  Deno.bench(`${label} int8`, { group: name }, () => void int8.run(px, n, h, w));
  Deno.bench(`${label} int8 half channels`, { group: name }, () => void half8.run(px, n, h, w));
  Deno.bench(
    `${label} int8 7-bit acts (${int7.variant})`,
    { group: name },
    () => void int7.run(px, n, h, w),
  );
  Deno.bench(
    `${label} int8 7-bit half channels`,
    { group: name },
    () => void half7.run(px, n, h, w),
  );
}
