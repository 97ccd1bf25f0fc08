/**
 * Training step throughput (forward + backward + Adam update) of the nets on
 * tfjs: the wasm backend with the training kernels (src/train/grad_kernels.ts,
 * mode "fast"), the wasm backend with the tfjs-op compositions only (mode
 * "composed": the state before, whose MaxPoolGrad is the wasm backend's own
 * and wrong for most shapes), and the cpu backend (PNet only: it is slow).
 * Loss: softmax cross-entropy + 0.5 MSE of the boxes (+ 0.5 MSE of the
 * landmarks for ONet), as the trainer's; forward(net, x, { fuse: false }).
 *
 * Then each gradient kernel (kernels/mod.ts, private memory, the default
 * build) against its TypeScript twin at RNet-like sizes, batch 32.
 *
 *   deno bench -A tests/train_bench.ts     # Deno's bench table (ms per step / call)
 *   deno run -A tests/train_bench.ts [reps] # median / min / max ms and samples/s, a
 *                                           # per-kernel profile of one step, kernels vs twins
 */
import * as tf from "@tensorflow/tfjs-core";
import {
  createNet,
  forward,
  initBackend,
  type Net,
  type NetArch,
  onetArch,
  pnetArch,
  randomNetData,
  rnetArch,
} from "../src/nets/mod.ts";
import { enableTrainingKernels, type TrainingKernelMode } from "../src/train/mod.ts";
import * as K from "../kernels/mod.ts";
import * as R from "../kernels/reference.ts";
import { Rng } from "../src/util/random.ts";

await initBackend("cpu");
await initBackend("wasm");
enableTrainingKernels();

type Setup = "fast" | "composed" | "cpu";
const SETUP_LABEL: Record<Setup, string> = {
  fast: "wasm + training kernels",
  composed: "wasm, tfjs-op compositions (before)",
  cpu: "cpu backend",
};

interface Case {
  group: string;
  setup: Setup;
  batch: number;
  step: () => void;
}

/** One training problem: a random net as variables, a batch, its targets, Adam. */
function makeStep(arch: NetArch, batch: number, setup: Setup): () => void {
  const use = () => {
    // both backends are initialised: setBackend switches synchronously
    const backend = setup === "cpu" ? "cpu" : "wasm";
    if (tf.getBackend() !== backend) void tf.setBackend(backend);
    if (setup !== "cpu") enableTrainingKernels({ mode: setup as TrainingKernelMode });
  };
  use();
  const data = randomNetData(arch, 1);
  const base = createNet(data.arch, data.params);
  const params: Record<string, tf.Tensor> = {};
  for (const [k, v] of Object.entries(base.params)) {
    params[k] = tf.variable(v, true, `${setup}.${arch.name}.${k}`);
    v.dispose();
  }
  const net: Net = { arch, params, meta: {} };
  const size = arch.input.size;
  const rng = new Rng(7);
  const x = tf.tensor4d(
    Float32Array.from({ length: batch * size * size * 3 }, () => rng.uniform(-1, 1)),
    [batch, size, size, 3],
  );
  const labels = tf.oneHot(
    tf.tensor1d(Array.from({ length: batch }, () => rng.int(0, 2)), "int32"),
    2,
  );
  const boxes = tf.tensor2d(
    Float32Array.from({ length: batch * 4 }, () => rng.uniform(-0.3, 0.3)),
    [batch, 4],
  );
  const marks = tf.tensor2d(
    Float32Array.from({ length: batch * 10 }, () => rng.uniform(0, 1)),
    [batch, 10],
  );
  const opt = tf.train.adam(1e-3);
  const loss = () => {
    const out = forward(net, x, { fuse: false, normalized: true });
    let l = tf.add(
      tf.losses.softmaxCrossEntropy(labels, tf.reshape(out.logits, [batch, 2])),
      tf.mul(0.5, tf.losses.meanSquaredError(boxes, tf.reshape(out.box, [batch, 4]))),
    );
    if (out.landmarks) l = tf.add(l, tf.mul(0.5, tf.losses.meanSquaredError(marks, out.landmarks)));
    return l as tf.Scalar;
  };
  return () => {
    use();
    const cost = opt.minimize(loss, true);
    cost!.dataSync();
    cost!.dispose();
  };
}

const NETS: [string, NetArch, number, Setup[]][] = [
  ["PNet batch 256 (12x12)", pnetArch(), 256, ["fast", "composed", "cpu"]],
  ["RNet batch 256 (24x24)", rnetArch(), 256, ["fast", "composed"]],
  ["ONet batch 64 (48x48)", onetArch(), 64, ["fast", "composed"]],
];

const cases: Case[] = [];
for (const [group, arch, batch, setups] of NETS) {
  for (const setup of setups) {
    cases.push({ group, setup, batch, step: makeStep(arch, batch, setup) });
  }
}

for (const c of cases) {
  Deno.bench({
    name: `${c.group}: ${SETUP_LABEL[c.setup]}`,
    group: c.group,
    baseline: c.setup === "fast",
    // a cpu step takes seconds
    ...(c.setup === "cpu" ? { n: 3, warmup: 1 } : {}),
    fn: c.step,
  });
}

// ---------------------------------------------------------------------------
// Gradient kernels against their twins

function geometry(
  n: number,
  size: number,
  c: number,
  k: number,
  s: number,
  pad: number,
  out: number,
) {
  return {
    batch: n,
    inHeight: size,
    inWidth: size,
    channels: c,
    outHeight: out,
    outWidth: out,
    filterHeight: k,
    filterWidth: k,
    strideHeight: s,
    strideWidth: s,
    padTop: pad,
    padLeft: pad,
  };
}

const krng = new Rng(11);
const rand = (n: number) => Float32Array.from({ length: n }, () => krng.uniform(-1, 1));
const conv = geometry(32, 11, 28, 3, 1, 0, 9); // RNet conv2, 28 -> 48
const convX = rand(32 * 11 * 11 * 28);
const convDy = rand(32 * 9 * 9 * 48);
const convF = rand(3 * 3 * 28 * 48);
const pool = geometry(32, 22, 28, 3, 2, 0, 11); // RNet pool1 (ceil = TF same here)
const poolX = rand(32 * 22 * 22 * 28);
const poolY = new Float32Array(32 * 11 * 11 * 28);
for (let b = 0; b < 32; b++) {
  for (let oy = 0; oy < 11; oy++) {
    for (let ox = 0; ox < 11; ox++) {
      for (let c = 0; c < 28; c++) {
        let m = -Infinity;
        for (let ky = 0; ky < 3; ky++) {
          for (let kx = 0; kx < 3; kx++) {
            const iy = oy * 2 + ky;
            const ix = ox * 2 + kx;
            if (iy < 22 && ix < 22) m = Math.max(m, poolX[((b * 22 + iy) * 22 + ix) * 28 + c]);
          }
        }
        poolY[((b * 11 + oy) * 11 + ox) * 28 + c] = m;
      }
    }
  }
}
const poolDy = rand(poolY.length);
const alpha = rand(28);
const dw = geometry(32, 23, 32, 3, 1, 1, 23); // a slim net's depthwise 3x3, same padding
const dwX = rand(32 * 23 * 23 * 32);
const dwDy = rand(32 * 23 * 23 * 32);
const dwF = rand(3 * 3 * 32);
const segX = rand(4096 * 64);
const segIds = Int32Array.from({ length: 4096 }, () => krng.int(0, 256));

const KERNEL_CASES: [string, (impl: typeof R) => unknown][] = [
  ["conv2dFilterGrad 32x11x11x28 -> 48, 3x3", (m) => m.conv2dFilterGrad(convX, convDy, conv, 48)],
  ["conv2dInputGrad 32x11x11x28 <- 48, 3x3", (m) => m.conv2dInputGrad(convDy, convF, conv, 48)],
  ["maxPoolGrad 32x22x22x28, 3/2", (m) => m.maxPoolGrad(poolX, poolY, poolDy, pool)],
  ["preluGrad 32x22x22x28", (m) => m.preluGrad(poolX, alpha, poolX)],
  ["sumRows 15488x28", (m) => m.sumRows(poolX, 32 * 22 * 22, 28)],
  ["depthwiseFilterGrad 32x23x23x32, 3x3", (m) => m.depthwiseFilterGrad(dwX, dwDy, dw)],
  ["depthwiseInputGrad 32x23x23x32, 3x3", (m) => m.depthwiseInputGrad(dwDy, dwF, dw)],
  ["unsortedSegmentSum 4096x64 -> 256", (m) => m.unsortedSegmentSum(segX, segIds, 64, 256)],
];
const IMPLS: [string, typeof R][] = [
  [`AssemblyScript (${K.GRAD_KERNELS.variant})`, K as unknown as typeof R],
  ["TypeScript twin", R],
];
for (const [name, fn] of KERNEL_CASES) {
  for (const [label, impl] of IMPLS) {
    Deno.bench({
      name: `${name}: ${label}`,
      group: name,
      baseline: impl !== R,
      fn: () => void fn(impl),
    });
  }
}

/** Kernel time by kernel name over one step (op-level wrappers left out: they double count). */
async function profileStep(step: () => void): Promise<[string, number, number][]> {
  const info = await tf.profile(step);
  const byName = new Map<string, [number, number]>();
  for (const k of info.kernels) {
    if (k.name.endsWith("__op")) continue;
    const [ms, calls] = byName.get(k.name) ?? [0, 0];
    byName.set(k.name, [ms + (k.kernelTimeMs as number), calls + 1]);
  }
  return [...byName].map(([n, [ms, calls]]) => [n, ms, calls] as [string, number, number])
    .sort((a, b) => b[1] - a[1]);
}

if (import.meta.main) {
  const reps = Number(Deno.args[0] ?? 9);
  console.log(
    `training step (forward + backward + Adam), median / min / max ms over ${reps} steps ` +
      `(after 2 warm-ups; cpu: ${Math.min(reps, 3)}), 1 thread`,
  );
  let group = "";
  for (const c of cases) {
    if (c.group !== group) {
      group = c.group;
      console.log(`\n${group}`);
    }
    c.step();
    c.step();
    const n = c.setup === "cpu" ? Math.min(reps, 3) : reps;
    const t: number[] = [];
    for (let i = 0; i < n; i++) {
      const s = performance.now();
      c.step();
      t.push(performance.now() - s);
    }
    t.sort((a, b) => a - b);
    const med = t.length % 2 ? t[(t.length - 1) / 2] : (t[t.length / 2 - 1] + t[t.length / 2]) / 2;
    console.log(
      `  ${SETUP_LABEL[c.setup].padEnd(36)} ${med.toFixed(1).padStart(8)} ${
        t[0].toFixed(1).padStart(8)
      } ${t[t.length - 1].toFixed(1).padStart(8)} ms  ${
        (c.batch / med * 1000).toFixed(0).padStart(6)
      } samples/s`,
    );
  }
  for (const c of cases.filter((c) => c.setup === "fast")) {
    const rows = await profileStep(c.step);
    const total = rows.reduce((a, r) => a + r[1], 0);
    console.log(
      `\nprofile of one step, ${c.group}, ${SETUP_LABEL[c.setup]}: ${
        total.toFixed(1)
      } ms in kernels`,
    );
    for (const [name, ms, calls] of rows.slice(0, 12)) {
      console.log(
        `  ${name.padEnd(36)} ${ms.toFixed(1).padStart(7)} ms ${
          (100 * ms / total).toFixed(0).padStart(3)
        } %  (${calls} calls)`,
      );
    }
  }
  console.log(`\ngradient kernels vs twins, median ms over ${reps} calls (after 1 warm-up)`);
  for (const [name, fn] of KERNEL_CASES) {
    const meds = IMPLS.map(([, impl]) => {
      fn(impl);
      const t: number[] = [];
      for (let i = 0; i < reps; i++) {
        const s = performance.now();
        fn(impl);
        t.push(performance.now() - s);
      }
      return t.sort((a, b) => a - b)[reps >> 1];
    });
    console.log(
      `  ${name.padEnd(42)} ${IMPLS[0][0]} ${meds[0].toFixed(2).padStart(8)}   twin ${
        meds[1].toFixed(1).padStart(8)
      }   ${(meds[1] / meds[0]).toFixed(0).padStart(4)}x`,
    );
  }
}
