import { assert, assertEquals, assertRejects, assertThrows, maxAbsDiff } from "./assert.ts";
import { type NetArch, onetArch, pnetArch, rnetArch } from "../src/nets/arch.ts";
import { randomNetData } from "../src/nets/net.ts";
import { decodeWeights, encodeWeights } from "../src/nets/weights_io.ts";
import { forwardSim, quantizeNet } from "../src/optimize/mod.ts";
import { createEngine } from "../src/deploy/engine.ts";
import {
  createInt8Engine,
  headExp,
  int8Reference,
  int8Unsupported,
} from "../src/deploy/engine_int8.ts";
import { Rng } from "../src/util/random.ts";
import { relaxedSimdSupported } from "../kernels/mod.ts";

function pixels(count: number, seed: number): Uint8Array {
  const rng = new Rng(seed);
  return Uint8Array.from({ length: count }, () => rng.nextUint32() & 255);
}

/** A random net quantised on random crops of its input size, through the weights file. */
function int8Net(arch: NetArch, seed: number, bits: 7 | 8 = 8) {
  const data = randomNetData(arch, seed);
  const s = arch.input.size;
  const q = quantizeNet(data, { pixels: pixels(s * s * 3 * 16, seed + 1), count: 16, size: s }, {
    bits,
  });
  return { data, q: decodeWeights(encodeWeights(q)) };
}

const CASES: [string, NetArch, number, number, number][] = [
  ["PNet 37x29", pnetArch(), 2, 37, 29],
  ["PNet channels 5/9/3, 23x18", pnetArch({ channels: [5, 9, 3] }), 1, 23, 18],
  ["RNet", rnetArch(), 3, 24, 24],
  ["RNet pruned 13/22/7, dense 9", rnetArch({ channels: [13, 22, 7], dense: 9 }), 2, 24, 24],
  ["ONet", onetArch(), 2, 48, 48],
];

Deno.test("int8 engine: head outputs equal the TypeScript twin bit for bit (odd sizes and channel counts)", async () => {
  for (const [label, arch, n, h, w] of CASES) {
    const { q } = int8Net(arch, 3);
    const px = pixels(n * h * w * 3, 17);
    const ref = int8Reference(q, px, n, h, w);
    const eng = await createInt8Engine(q);
    const out = eng.run(px, n, h, w);
    assertEquals([out.outH, out.outW], [ref.output.outH, ref.output.outW], label);
    assertEquals(Array.from(out.cls), Array.from(ref.output.cls), `${label} cls`);
    assertEquals(Array.from(out.box), Array.from(ref.output.box), `${label} box`);
    if (ref.output.landmarks) {
      assertEquals(Array.from(out.landmarks!), Array.from(ref.output.landmarks), label);
    }
  }
});

Deno.test("int8 engine agrees with the fake-quantised float simulation (cls and box within 0.02)", async () => {
  for (const [label, arch, n, h, w] of CASES) {
    const { q } = int8Net(arch, 4);
    const eng = await createInt8Engine(q);
    const px = pixels(n * h * w * 3, 23);
    const out = eng.run(px, n, h, w);
    const per = h * w * 3;
    for (let b = 0; b < n; b++) {
      const sim = forwardSim(q, px.subarray(b * per, (b + 1) * per), h, w, {
        activations: q.quant!.activations,
      });
      const m = sim.cls.length;
      assert(maxAbsDiff(sim.cls, out.cls.subarray(b * m, (b + 1) * m)) < 0.02, `${label} cls`);
      assert(
        maxAbsDiff(sim.box, out.box.subarray(b * m * 4, (b + 1) * m * 4)) < 0.02,
        `${label} box`,
      );
      if (sim.landmarks) {
        assert(
          maxAbsDiff(sim.landmarks, out.landmarks!.subarray(b * m * 10, (b + 1) * m * 10)) < 0.02,
          label,
        );
      }
    }
  }
});

Deno.test("int8 engine, 7-bit activations (i8 quad kernels): plain and relaxed builds equal the twin bit for bit and the simulation within 0.02", async () => {
  for (const [label, arch, n, h, w] of CASES) {
    const { q } = int8Net(arch, 8, 7);
    assertEquals(q.quant!.bits, 7, "bits survive the file");
    const px = pixels(n * h * w * 3, 31);
    const ref = int8Reference(q, px, n, h, w).output;
    assert(ref.cls.length > 0);
    const builds = relaxedSimdSupported() ? [false, true] : [false];
    for (const relaxedSimd of builds) {
      const eng = await createInt8Engine(q, { relaxedSimd });
      const out = eng.run(px, n, h, w);
      assertEquals(Array.from(out.cls), Array.from(ref.cls), `${label} ${eng.variant} cls`);
      assertEquals(Array.from(out.box), Array.from(ref.box), `${label} ${eng.variant} box`);
    }
    const per = h * w * 3;
    const sim = forwardSim(q, px.subarray(0, per), h, w, {
      activations: q.quant!.activations,
      bits: 7,
    });
    assert(maxAbsDiff(sim.cls, ref.cls.subarray(0, sim.cls.length)) < 0.02, `${label} sim cls`);
    assert(maxAbsDiff(sim.box, ref.box.subarray(0, sim.box.length)) < 0.02, `${label} sim box`);
  }
});

Deno.test("int8 engine: float pixels (fractional too) are quantised in the kernel as the twin does, 8 and 7 bits", async () => {
  for (const bits of [8, 7] as const) {
    for (const [label, arch, n, h, w] of [CASES[1], CASES[3]]) {
      const { q } = int8Net(arch, 12, bits);
      const rng = new Rng(41);
      // values with fractions, and the extremes of the range
      const px = Float32Array.from(
        { length: n * h * w * 3 },
        (_, i) => i % 17 === 0 ? 255 : i % 19 === 0 ? 0 : Math.fround(rng.next() * 255),
      );
      const ref = int8Reference(q, px, n, h, w).output;
      const eng = await createInt8Engine(q);
      const out = eng.run(px, n, h, w);
      assertEquals(Array.from(out.cls), Array.from(ref.cls), `${label} ${bits}-bit cls`);
      assertEquals(Array.from(out.box), Array.from(ref.box), `${label} ${bits}-bit box`);
      // integral floats give what the same bytes give
      const u8 = pixels(n * h * w * 3, 43);
      assertEquals(
        Array.from(eng.run(Float32Array.from(u8), n, h, w).cls),
        Array.from(eng.run(u8, n, h, w).cls),
        `${label} ${bits}-bit float vs u8`,
      );
    }
  }
});

Deno.test("headExp() (the int8 heads' softmax exponential) is e^x within 1e-12 relative, clamped at +-700", () => {
  for (let x = -50; x <= 50; x += 0.0137) {
    const want = Math.exp(x);
    assert(Math.abs(headExp(x) - want) <= 1e-12 * want, `x = ${x}: ${headExp(x)} vs ${want}`);
  }
  assertEquals(headExp(0), 1);
  assertEquals(headExp(1e9), headExp(700));
  assert(headExp(-1e9) > 0 && headExp(-1e9) === headExp(-700));
});

Deno.test("createEngine() runs int8 nets on the int8 kernels, or on the float kernels with int8: false", async () => {
  const { q } = int8Net(rnetArch(), 5);
  const px = pixels(4 * 24 * 24 * 3, 29);
  const int8 = await createEngine(q);
  assertEquals((int8 as { precision?: string }).precision, "int8");
  const ref = int8Reference(q, px, 4, 24, 24).output;
  assertEquals(Array.from(int8.run(px, 4, 24, 24).cls), Array.from(ref.cls));
  const fp = await createEngine(q, { int8: false });
  assertEquals((fp as { precision?: string }).precision, undefined);
  // the float kernels on the dequantised weights see no activation rounding: close, not equal
  const f = fp.run(px, 4, 24, 24);
  assert(maxAbsDiff(f.cls, ref.cls) < 0.1, "fp vs int8 cls");
  // normalised input (the detector's crops) gives the same as pixels
  const x = Float32Array.from(px, (v) => Math.fround(Math.fround(v - 127.5) * 0.0078125));
  assertEquals(Array.from(int8.runNormalized(x, 4).cls), Array.from(ref.cls));
});

Deno.test("int8 engine: a wrong input size is a one-line RangeError; unsupported nets say why", async () => {
  const { q } = int8Net(onetArch(), 6);
  const eng = await createInt8Engine(q);
  assertThrows(
    () => eng.run(new Uint8Array(47 * 47 * 3), 1, 47, 47),
    RangeError,
    "input must be 48x48",
  );
  const fp = randomNetData(pnetArch(), 1);
  assertEquals(int8Unsupported(fp), "the net holds no int8 tensors");
  await assertRejects(
    () => createInt8Engine(fp),
    TypeError,
    "int8 engine (pnet): the net holds no int8 tensors",
  );
});
