/**
 * `deno task report:optimize`: every optimised variant of PNet, RNet and ONet
 * (base, slim, larger, pruned, pruned from scratch, PTQ / QAT int8,
 * distilled) measured on the same validation shards, in the seed's terms,
 * with parameters, FLOPs and file size; written as Markdown and JSON.
 *
 *   deno task report:optimize                                  # weights/optimize.json
 *   deno task report:optimize --model pnet:mine=w/best_pnet.mtcnn --out out/report
 */
import { type Task, UsageError } from "../src/cli/mod.ts";
import { writeJsonAtomic, writeTextFileAtomic } from "../src/io/mod.ts";
import {
  optimizeReport,
  parseReportManifest,
  readReportManifest,
  reportJson,
  type ReportManifest,
  reportMarkdown,
} from "../src/optimize/report.ts";

const task: Task = {
  name: "report:optimize",
  description:
    "Per-net table of every optimised variant (cls loss / offset loss / cls acc, params, FLOPs, file size)",
  flags: {
    manifest: {
      type: "string",
      meta: "FILE",
      default: "weights/optimize.json",
      help: "JSON list of the models to compare and the validation shards per net",
    },
    model: {
      type: "list",
      meta: "NET:VARIANT=FILE,..",
      help: "add (or replace) models, e.g. pnet:mine=w/best_pnet.mtcnn",
    },
    only: { type: "list", meta: "NET,..", help: "report only these nets" },
    out: {
      type: "string",
      meta: "DIR",
      default: "weights/report",
      help: "writes optimize_report.md and optimize_report.json here",
    },
  },
  async run({ flags }) {
    const base = await readReportManifest(flags.manifest as string);
    const models = [...base.models];
    for (const spec of (flags.model as string[] | undefined) ?? []) {
      const m = /^(pnet|rnet|onet):([^=]+)=(.+)$/.exec(spec);
      if (!m) throw new UsageError(`--model: "${spec}" is not NET:VARIANT=FILE`);
      const i = models.findIndex((x) => x.net === m[1] && x.variant === m[2]);
      const entry = { net: m[1], variant: m[2], path: m[3] };
      if (i >= 0) models[i] = entry as ReportManifest["models"][number];
      else models.push(entry as ReportManifest["models"][number]);
    }
    const only = flags.only as string[] | undefined;
    const manifest = parseReportManifest(
      { ...base, models: models.filter((m) => !only || only.includes(m.net)) },
      flags.manifest as string,
    );
    const rows = await optimizeReport(manifest, (m, i, n) => {
      if (Deno.stderr.isTerminal()) {
        Deno.stderr.writeSync(
          new TextEncoder().encode(`\r[${i + 1}/${n}] ${m.net}:${m.variant}        `),
        );
      }
    });
    if (Deno.stderr.isTerminal()) Deno.stderr.writeSync(new TextEncoder().encode("\n"));
    const md = reportMarkdown(rows, manifest);
    console.log(md);
    const out = flags.out as string;
    await Deno.mkdir(out, { recursive: true });
    await writeTextFileAtomic(`${out}/optimize_report.md`, md + "\n");
    await writeJsonAtomic(`${out}/optimize_report.json`, reportJson(rows, manifest));
    console.log(`\nwrote ${out}/optimize_report.md and ${out}/optimize_report.json`);
  },
};

export default task;
