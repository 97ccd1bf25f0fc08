/**
 * The AssemblyScript engine against its peers, single thread, the same (original) weights:
 * tfjs on its wasm backend, and onnxruntime-web (wasm SIMD, 1 thread) running the net as
 * exported by src/deploy/export_onnx.ts. Rows: PNet on 640×480, the PNet pyramid of a
 * 640×480 image (min face 20, factor 0.709, every level), RNet ×256, ONet ×64. Each
 * engine reads its own input format, made once (AS: u8 RGB pixels; tfjs: a float tensor;
 * onnxruntime: NCHW floats), normalises inside and returns its outputs to JavaScript.
 *
 *   deno bench -A tests/engine_bench.ts        # Deno's bench table
 *   deno run -A tests/engine_bench.ts [N]      # wall and CPU-time medians over N runs side
 *                                              # by side, then the engine's per-layer profile
 *
 * On a shared machine the CPU-time column (this process's user + system time) is the one
 * to read: it does not count time the process spent waiting for a core.
 */
import process from "node:process";
import * as ort from "onnxruntime-web";
import { resizeBilinearU8 } from "../kernels/mod.ts";
import { createEngine, type Engine } from "../src/deploy/engine.ts";
import { exportOnnx } from "../src/deploy/export_onnx.ts";
import { pyramidScales } from "../src/detect/boxes.ts";
import {
  createNet,
  ensureOriginalWeights,
  forward,
  initBackend,
  loadNetData,
  type Net,
  type NetData,
  tf,
} from "../src/nets/mod.ts";
import { relaxedSimdSupported } from "../kernels/mod.ts";
import { Rng } from "../src/util/random.ts";

await initBackend("wasm");
ort.env.wasm.numThreads = 1;
ort.env.logLevel = "error";

type Name = "pnet" | "rnet" | "onet";
const NAMES: Name[] = ["pnet", "rnet", "onet"];
const paths = await ensureOriginalWeights();
const DATA = Object.fromEntries(
  await Promise.all(NAMES.map(async (n) => [n, await loadNetData(paths[n])])),
) as Record<Name, NetData>;

const rng = new Rng(7);
const bytes = (n: number) => Uint8Array.from({ length: n }, () => rng.int(0, 256));
const IMAGE = bytes(480 * 640 * 3);
const SCALES = pyramidScales(640, 480, 20, 0.709);
const LEVELS = SCALES.map((s) => {
  const w = Math.ceil(640 * s), h = Math.ceil(480 * s);
  return { w, h, px: resizeBilinearU8(IMAGE, 640, 480, 3, w, h) };
});
const CROPS = { rnet: bytes(256 * 24 * 24 * 3), onet: bytes(64 * 48 * 48 * 3) };

/** One workload: a list of (n, h, w, u8 pixels) inputs for one net. */
interface Workload {
  group: string;
  net: Name;
  inputs: { n: number; h: number; w: number; px: Uint8Array }[];
}
const WORKLOADS: Workload[] = [
  { group: "PNet 640x480", net: "pnet", inputs: [{ n: 1, h: 480, w: 640, px: IMAGE }] },
  {
    group: `PNet pyramid 640x480 (min face 20: ${SCALES.length} levels)`,
    net: "pnet",
    inputs: LEVELS.map(({ w, h, px }) => ({ n: 1, h, w, px })),
  },
  { group: "RNet x256", net: "rnet", inputs: [{ n: 256, h: 24, w: 24, px: CROPS.rnet }] },
  { group: "ONet x64", net: "onet", inputs: [{ n: 64, h: 48, w: 48, px: CROPS.onet }] },
];

interface Case {
  group: string;
  name: string;
  fn: () => unknown;
}
const cases: Case[] = [];

// the AS engine: relaxed SIMD when the runtime has it, and plain SIMD
const engines: { label: string; e: Record<Name, Engine> }[] = [];
for (const relaxedSimd of relaxedSimdSupported() ? [true, false] : [false]) {
  const e = Object.fromEntries(
    await Promise.all(NAMES.map(async (n) => [n, await createEngine(DATA[n], { relaxedSimd })])),
  ) as Record<Name, Engine>;
  engines.push({ label: `AS engine (${e.pnet.variant})`, e });
}
for (const { label, e } of engines) {
  for (const wl of WORKLOADS) {
    const engine = e[wl.net];
    cases.push({
      group: wl.group,
      name: label,
      fn: () => wl.inputs.forEach(({ n, h, w, px }) => engine.run(px, n, h, w)),
    });
  }
}

// tfjs-wasm
const NETS = Object.fromEntries(
  NAMES.map((n) => [n, createNet(DATA[n].arch, DATA[n].params)]),
) as Record<Name, Net>;
for (const wl of WORKLOADS) {
  const xs = wl.inputs.map(({ n, h, w, px }) => tf.tensor4d(px, [n, h, w, 3], "float32"));
  const net = NETS[wl.net];
  cases.push({
    group: wl.group,
    name: "tfjs-wasm",
    fn: () =>
      xs.forEach((x) =>
        tf.tidy(() => {
          const o = forward(net, x);
          o.cls.dataSync();
          o.box.dataSync();
          o.landmarks?.dataSync();
        })
      ),
  });
}

// onnxruntime-web on the exported ONNX (normalisation folded into conv1, input NCHW 0..255)
const SESSIONS = Object.fromEntries(
  await Promise.all(
    NAMES.map(async (n) => [
      n,
      await ort.InferenceSession.create(exportOnnx(DATA[n]), { logSeverityLevel: 3 }),
    ]),
  ),
) as Record<Name, ort.InferenceSession>;
for (const wl of WORKLOADS) {
  const session = SESSIONS[wl.net];
  const feeds = wl.inputs.map(({ n, h, w, px }) => {
    const nchw = new Float32Array(n * 3 * h * w);
    for (let i = 0; i < n; i++) {
      for (let c = 0; c < 3; c++) {
        for (let p = 0; p < h * w; p++) nchw[(i * 3 + c) * h * w + p] = px[(i * h * w + p) * 3 + c];
      }
    }
    return { [session.inputNames[0]]: new ort.Tensor("float32", nchw, [n, 3, h, w]) };
  });
  cases.push({
    group: wl.group,
    name: "onnxruntime-web (exported ONNX)",
    fn: async () => {
      for (const f of feeds) await session.run(f);
    },
  });
}

const GROUPS = WORKLOADS.map((w) => w.group);
cases.sort((a, b) => GROUPS.indexOf(a.group) - GROUPS.indexOf(b.group));
for (const c of cases) {
  Deno.bench({
    name: `${c.group}: ${c.name}`,
    group: c.group,
    baseline: c.name === "onnxruntime-web (exported ONNX)",
    async fn() {
      await c.fn();
    },
  });
}

/** This process's CPU time in ms. */
function cpuMs(): number {
  const u = process.cpuUsage();
  return (u.user + u.system) / 1000;
}

function median(t: number[]): number {
  const s = [...t].sort((a, b) => a - b);
  return s.length % 2 ? s[(s.length - 1) / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
}

if (import.meta.main) {
  const reps = Number(Deno.args[0] ?? 15);
  console.log(`median ms over ${reps} runs (after 3 warm-ups), 1 thread: wall clock / CPU time`);
  const flops = (wl: Workload) =>
    wl.inputs.reduce((s, { n, h, w }) => s + engines[0].e[wl.net].flops(n, h, w), 0);
  for (const group of GROUPS) {
    const wl = WORKLOADS.find((w) => w.group === group)!;
    const gflop = flops(wl) / 1e9;
    console.log(`\n${group} (${gflop.toFixed(3)} GFLOP)`);
    const rows: { name: string; wall: number; cpu: number }[] = [];
    for (const c of cases.filter((c) => c.group === group)) {
      for (let i = 0; i < 3; i++) await c.fn();
      const wall: number[] = [];
      const cpu: number[] = [];
      for (let i = 0; i < reps; i++) {
        const s = performance.now();
        const u = cpuMs();
        await c.fn();
        cpu.push(cpuMs() - u);
        wall.push(performance.now() - s);
      }
      rows.push({ name: c.name, wall: median(wall), cpu: median(cpu) });
    }
    const ort = rows.find((r) => r.name.startsWith("onnxruntime"))!;
    for (const r of rows) {
      console.log(
        `  ${r.name.padEnd(32)} ${r.wall.toFixed(1).padStart(7)} ${r.cpu.toFixed(1).padStart(7)}  ${
          (gflop / r.cpu * 1e3).toFixed(1).padStart(5)
        } GFLOP/s  ${(ort.cpu / r.cpu).toFixed(2)}x onnxruntime`,
      );
    }
  }
  // where the engine's time goes, layer by layer (CPU time, median)
  for (const { label, e } of engines) {
    for (const wl of WORKLOADS.filter((w) => w.inputs.length === 1)) {
      const { n, h, w, px } = wl.inputs[0];
      const runs = Array.from({ length: reps }, () => e[wl.net].profile(px, n, h, w, cpuMs));
      console.log(`\n${label}, ${wl.group}: per kernel call (CPU ms, GFLOP/s)`);
      runs[0].forEach((l, i) => {
        const ms = median(runs.map((r) => r[i].ms));
        const rate = l.flops ? `${(l.flops / ms / 1e6).toFixed(1).padStart(6)}` : "";
        console.log(`  ${l.name.padEnd(28)} ${ms.toFixed(2).padStart(7)} ${rate}`);
      });
    }
  }
}
