import { assert, assertEquals, assertRejects, assertThrows } from "./assert.ts";
import { Label, ShardWriter } from "../src/data/shards.ts";
import { evaluateStage } from "../src/eval/stage.ts";
import { paramCount, pnetArch } from "../src/nets/arch.ts";
import { randomNetData } from "../src/nets/net.ts";
import { encodeWeights } from "../src/nets/weights_io.ts";
import { archFlops, quantizeNet } from "../src/optimize/mod.ts";
import {
  optimizeReport,
  parseReportManifest,
  readReportManifest,
  reportJson,
  reportMarkdown,
} from "../src/optimize/report.ts";
import { Rng } from "../src/util/random.ts";

async function fixture() {
  const dir = await Deno.makeTempDir();
  const rng = new Rng(11);
  const w = await ShardWriter.open(`${dir}/val`, { size: 12, seed: 11, source: {} });
  for (let i = 0; i < 61; i++) {
    const label = [Label.Negative, Label.Positive, Label.Part][i % 3];
    const px = new Uint8Array(432).map(() => rng.int(0, 256));
    w.add(
      label,
      px,
      label === Label.Negative ? undefined : [0, 1, 2, 3].map(() => rng.uniform(-0.3, 0.3)),
    );
  }
  await w.close();
  const base = randomNetData(pnetArch(), 3);
  const slim = randomNetData(pnetArch({ channels: [5, 9, 16] }), 4);
  const px = new Uint8Array(432 * 16).map(() => rng.int(0, 256));
  const int8 = quantizeNet(base, { pixels: px, count: 16, size: 12 });
  await Deno.writeFile(`${dir}/base.mtcnn`, encodeWeights(base));
  await Deno.writeFile(`${dir}/slim.mtcnn`, encodeWeights(slim));
  await Deno.writeFile(`${dir}/int8.mtcnn`, encodeWeights(int8));
  const manifest = parseReportManifest({
    data: "random crops",
    val: { pnet: [`${dir}/val`] },
    // listed out of order: the report sorts by VARIANT_ORDER
    models: [
      { net: "pnet", variant: "ptq-int8", path: `${dir}/int8.mtcnn` },
      { net: "pnet", variant: "slim", path: `${dir}/slim.mtcnn`, note: "channels 5/9/16" },
      { net: "pnet", variant: "base", path: `${dir}/base.mtcnn` },
    ],
  }, "m.json");
  return { dir, base, slim, int8, manifest };
}

Deno.test("optimizeReport() measures each variant with evaluateStage and gives its params, FLOPs, file size and dtype", async () => {
  const { dir, base, slim, int8, manifest } = await fixture();
  const rows = await optimizeReport(manifest);
  assertEquals(rows.map((r) => r.variant), ["base", "slim", "ptq-int8"]);
  assertEquals(rows.map((r) => r.dtype), ["fp32", "fp32", "int8"]);
  assertEquals(rows[1].params, paramCount(slim.arch));
  assert(rows[1].params < rows[0].params);
  assertEquals(rows[1].flops, archFlops(slim.arch));
  assertEquals(rows[2].fileBytes, (await Deno.stat(`${dir}/int8.mtcnn`)).size);
  assert(rows[2].fileBytes < rows[0].fileBytes / 2, "int8 file is smaller");
  for (const [r, d] of [[rows[0], base], [rows[2], int8]] as const) {
    const m = await evaluateStage(d, [`${dir}/val`], { threshold: 0.6, net: "pnet" });
    assertEquals(r.metrics.clsLoss, m.clsLoss);
    assertEquals(r.metrics.recallAtThreshold, m.recallAtThreshold);
  }
  const md = reportMarkdown(rows, manifest);
  assert(md.includes("Validation data: random crops."), md);
  const slimLine = md.split("\n").find((l) => l.startsWith("| slim |"))!;
  assert(
    slimLine.includes(`${rows[1].params} (${(rows[1].params / rows[0].params).toFixed(2)}×)`),
    slimLine,
  );
  assert(md.includes("- slim: channels 5/9/16"), md);
  const json = reportJson(rows, manifest);
  assertEquals(json.rows[2].dtype, "int8");
  assertEquals(json.rows[0].clsAcc, rows[0].metrics.clsAcc);
});

Deno.test("report manifests: one-line errors name the file and the field", async () => {
  const ok = {
    data: "x",
    val: { pnet: ["v"] },
    models: [{ net: "pnet", variant: "base", path: "p" }],
  };
  const msg = (v: unknown) => assertThrows(() => parseReportManifest(v, "m.json")).message;
  assertEquals(msg({ ...ok, data: "" }), "m.json: data must say what the data are");
  assertEquals(
    msg({ ...ok, models: [{ net: "qnet", variant: "a", path: "p" }] }),
    'm.json: models[0].net "qnet" is not pnet, rnet or onet',
  );
  assertEquals(
    msg({ ...ok, models: [{ net: "rnet", variant: "a", path: "p" }] }),
    "m.json: models[0].net has no validation folders in val.rnet",
  );
  assertEquals(
    msg({ ...ok, models: [ok.models[0], ok.models[0]] }),
    "m.json: models lists pnet:base twice",
  );
  const { dir, manifest } = await fixture();
  const missing = {
    ...manifest,
    // a good model first: every file is checked before any model is measured
    models: [manifest.models[0], {
      net: "pnet" as const,
      variant: "gone",
      path: `${dir}/no.mtcnn`,
    }],
  };
  let measured = 0;
  const e = await assertRejects(() => optimizeReport(missing, () => measured++));
  assertEquals(measured, 0);
  assertEquals(e.message, `m.json: pnet:gone has no weights file "${dir}/no.mtcnn"`);
  await Deno.writeTextFile(`${dir}/bad.json`, "{ nope");
  const e2 = await assertRejects(() => readReportManifest(`${dir}/bad.json`));
  assert(e2.message.startsWith(`${dir}/bad.json: not JSON`), e2.message);
  assert(!e2.message.includes("\n"));
});

Deno.test("optimizeReport() reads original:<net> as the imported original MTCNN weights", async () => {
  const { dir } = await fixture();
  const manifest = parseReportManifest({
    data: "random crops",
    val: { pnet: [`${dir}/val`] },
    models: [{ net: "pnet", variant: "original", path: "original:pnet" }],
  });
  const [row] = await optimizeReport(manifest);
  assertEquals(row.dtype, "fp32");
  assertEquals(row.params, 6632);
  assert(row.fileBytes > 6632 * 4, `${row.fileBytes} bytes`);
  assert(row.metrics.samples === 61);
});
