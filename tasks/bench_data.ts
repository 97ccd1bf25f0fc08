/**
 * `deno task bench:data`: gen-pnet speed and peak memory on the synthetic
 * sample's images for 1 and 2 workers, at N and 2N images, against the
 * seed's own Python + OpenCV gen_Pnet_data.py on the same images.
 *
 * Every row runs in a fresh process (`--child`), so its peak RSS is its own.
 *
 * ```
 * deno task bench:data
 * deno task bench:data --images 150 --workers 1,2 --json bench_data.json
 * ```
 */
import { type Task, UsageError } from "../src/cli/mod.ts";
import { writeJsonAtomic } from "../src/io/mod.ts";
import { writeSyntheticDataset } from "../src/data/synthetic/mod.ts";
import {
  benchImages,
  type BenchRow,
  findPythonWithCv2,
  measureGenPnet,
  measureSeedScript,
  readSeedFile,
  SEED_FILES,
} from "../src/sampling/bench_data.ts";

/** Where a fetched copy of the seed (digital-nomad-cheng/MTCNN_PyTorch) is looked for. */
const SEED_REPO_CANDIDATES = [
  "../MTCNN_PyTorch",
  "/work/.mirror/digital-nomad-cheng+MTCNN_PyTorch/repo",
];

const MiB = 1048576;

function fmtRow(r: BenchRow): string[] {
  return [
    r.name,
    String(r.workers),
    String(r.images),
    r.seconds.toFixed(2),
    (r.images / r.seconds).toFixed(1),
    (r.crops / r.seconds).toFixed(0),
    Number.isFinite(r.cpu) ? r.cpu.toFixed(2) : "?",
    (r.peakRss / MiB).toFixed(0),
    r.wall !== undefined ? r.wall.toFixed(2) : "",
  ];
}

function table(rows: string[][]): string {
  const head = [
    "run",
    "workers",
    "images",
    "seconds",
    "images/s",
    "crops/s",
    "CPU s",
    "peak RSS MiB",
    "process s",
  ];
  const all = [head, ...rows];
  const w = head.map((_, c) => Math.max(...all.map((r) => r[c].length)));
  const line = (r: string[]) =>
    "| " + r.map((v, c) => (c === 0 ? v.padEnd(w[c]) : v.padStart(w[c]))).join(" | ") + " |";
  return [
    line(head),
    "| " + w.map((n, c) => (c === 0 ? "-".repeat(n) : "-".repeat(n - 1) + ":")).join(" | ") + " |",
    ...rows.map(line),
  ].join("\n");
}

async function child(args: string[]): Promise<BenchRow> {
  const t0 = performance.now();
  const r = await new Deno.Command(Deno.execPath(), {
    args: [
      "run",
      "-A",
      new URL("../main.ts", import.meta.url).pathname,
      "bench:data",
      "--child",
      ...args,
    ],
    stdout: "piped",
    stderr: "piped",
  }).output();
  const wall = (performance.now() - t0) / 1000;
  if (!r.success) {
    throw new TypeError(
      `bench child failed: ${new TextDecoder().decode(r.stderr).trim().split("\n").pop()}`,
    );
  }
  const out = new TextDecoder().decode(r.stdout).trim().split("\n").pop()!;
  return { ...JSON.parse(out), wall };
}

const best = (runs: BenchRow[]) => runs.reduce((a, b) => (b.seconds < a.seconds ? b : a));

const task: Task = {
  name: "bench:data",
  description:
    "Benchmark gen-pnet speed and peak RSS (1, 2 workers) against the seed's Python script",
  flags: {
    root: {
      type: "string",
      default: "data/sample",
      meta: "DIR",
      help: "WIDER-layout sample (made with `deno task sample` defaults when absent)",
    },
    images: {
      type: "integer",
      default: 300,
      meta: "N",
      help: "rows at N and 2N images with faces (the sample's list starts over when shorter)",
    },
    workers: { type: "list", default: ["1", "2"], help: "gen-pnet worker counts" },
    repeat: { type: "integer", default: 1, meta: "R", help: "runs per row; the fastest is kept" },
    "seed-repo": {
      type: "string",
      meta: "DIR",
      help: `checkout or git dir of the seed (MTCNN_PyTorch) [default: $MTCNN_SEED_REPO, ${
        SEED_REPO_CANDIDATES.join(", ")
      }]`,
    },
    python: {
      type: "string",
      meta: "EXE",
      help: "Python with cv2 and numpy [default: python3, /usr/bin/python3]",
    },
    json: { type: "string", meta: "FILE", help: "also write the rows as JSON" },
    child: {
      type: "boolean",
      default: false,
      help: "internal: run one gen-pnet row in this process, print JSON",
    },
    scratch: {
      type: "string",
      meta: "DIR",
      help:
        "where both sides write their output (the seed: one JPEG per crop) [default: the system temp dir]",
    },
    "shard-mib": {
      type: "number",
      default: 1,
      meta: "MIB",
      help: "gen-pnet shard size: small, so that the N and 2N rows both cycle their shard buffers",
    },
    out: { type: "string", meta: "DIR", help: "internal (--child): dataset folder" },
  },
  async run({ flags }) {
    const root = (flags.root as string).replace(/\/+$/, "");
    const n = flags.images as number;
    if (n < 1) throw new UsageError(`bench:data: --images must be >= 1, got ${n}`);
    const repeat = flags.repeat as number;
    if (repeat < 1) throw new UsageError(`bench:data: --repeat must be >= 1, got ${repeat}`);
    const workers = (flags.workers as string[]).map((w) => {
      const v = Number(w);
      if (!Number.isInteger(v) || v < 1) {
        throw new UsageError(`bench:data: --workers values must be integers >= 1, got "${w}"`);
      }
      return v;
    });

    if (flags.child) {
      const row = await measureGenPnet({
        root,
        images: n,
        workers: workers[0],
        out: flags.out as string,
        shardBytes: Math.round((flags["shard-mib"] as number) * MiB),
      });
      console.log(JSON.stringify(row));
      return;
    }

    try {
      await Deno.stat(`${root}/wider_face_split/wider_face_train_bbx_gt.txt`);
    } catch {
      if (root !== "data/sample") {
        throw new TypeError(
          `Cannot read "${root}": no wider_face_split/wider_face_train_bbx_gt.txt`,
        );
      }
      console.log(`making the synthetic sample in ${root} (deno task sample defaults)...`);
      await writeSyntheticDataset(root, { seed: 1, train: 300, val: 100, workers: 2 });
    }
    const images2 = await benchImages(root, 2 * n);
    const distinct = new Set(images2.map((im) => im.path)).size;
    const shardMib = flags["shard-mib"] as number;
    if (!(shardMib > 0)) {
      throw new UsageError(`bench:data: --shard-mib must be > 0, got ${shardMib}`);
    }
    const scratch = await Deno.makeTempDir({
      prefix: "bench_data_",
      dir: flags.scratch as string | undefined,
    });
    const rows: BenchRow[] = [];
    const notes: string[] = [];
    try {
      for (const w of workers) {
        for (const count of [n, 2 * n]) {
          const runs: BenchRow[] = [];
          for (let k = 0; k < repeat; k++) {
            runs.push(
              await child([
                "--root",
                root,
                "--images",
                String(count),
                "--workers",
                String(w),
                "--out",
                `${scratch}/pnet`,
                "--shard-mib",
                String(shardMib),
              ]),
            );
          }
          rows.push(best(runs));
        }
      }

      const py = flags.python
        ? await findPythonWithCv2([flags.python as string])
        : await findPythonWithCv2(["python3", "/usr/bin/python3"]);
      const repos = flags["seed-repo"]
        ? [flags["seed-repo"] as string]
        : [Deno.env.get("MTCNN_SEED_REPO"), ...SEED_REPO_CANDIDATES].filter((d): d is string =>
          !!d
        );
      let seedRepo: string | undefined;
      for (const dir of repos) {
        if (await readSeedFile(dir, SEED_FILES[0]) !== undefined) {
          seedRepo = dir;
          break;
        }
      }
      if (!py) {
        notes.push(
          "skip seed row: no python3 with cv2 and numpy (apt-get install python3-opencv python3-numpy)",
        );
      } else if (!seedRepo) {
        notes.push(`skip seed row: no copy of the seed's ${SEED_FILES[0]} (give --seed-repo DIR)`);
      } else {
        for (const count of [n, 2 * n]) {
          const runs: BenchRow[] = [];
          for (let k = 0; k < repeat; k++) {
            const work = `${scratch}/seed-${count}-${k}`;
            await Deno.mkdir(work);
            const row = await measureSeedScript({
              python: py.python,
              seedRepo,
              root,
              images: images2.slice(0, count),
              work,
            });
            runs.push({ ...row, name: `seed gen_Pnet_data.py (OpenCV ${py.opencv})` });
            await Deno.remove(work, { recursive: true });
          }
          rows.push(best(runs));
        }
      }
    } finally {
      await Deno.remove(scratch, { recursive: true }).catch(() => {});
    }

    console.log(
      `bench:data on ${root}: ${n} and ${2 * n} images with faces (${distinct} distinct), ` +
        `best of ${repeat}; ` +
        `output under ${
          flags.scratch ?? "the system temp dir"
        }; gen-pnet shards of ${shardMib} MiB`,
    );
    console.log(table(rows.map(fmtRow)));
    for (const note of notes) console.log(note);
    const rate = (r?: BenchRow) => (r ? r.images / r.seconds : NaN);
    const find = (name: string, w: number, count: number) =>
      rows.find((r) => r.name.startsWith(name) && r.workers === w && r.images === count);
    const seed = find("seed", 1, 2 * n);
    const one = find("gen-pnet", 1, 2 * n), two = find("gen-pnet", 2, 2 * n);
    if (one && seed) {
      const x = rate(one) / rate(seed);
      console.log(
        `gen-pnet 1 worker / seed script, images/s at ${2 * n} images: ${
          x.toFixed(2)
        }x (target >= 3x: ${x >= 3 ? "met" : "NOT met"})`,
      );
      const ms = (r: BenchRow) => (1000 * r.cpu / r.images).toFixed(1);
      console.log(
        `CPU per image (user + system, all threads): gen-pnet ${ms(one)} ms, seed script ${
          ms(seed)
        } ms (a ratio that other load on the machine does not move)`,
      );
    }
    if (one && two) {
      const x = rate(two) / rate(one);
      console.log(
        `gen-pnet 2 workers / 1 worker, images/s at ${2 * n} images: ${
          x.toFixed(2)
        }x (target >= 1.7x: ${x >= 1.7 ? "met" : "NOT met"})`,
      );
    }
    for (const w of workers) {
      const a = find("gen-pnet", w, n), b = find("gen-pnet", w, 2 * n);
      if (a && b) {
        console.log(
          `gen-pnet ${w} worker(s) peak RSS ${n} -> ${2 * n} images: ${
            ((b.peakRss - a.peakRss) / MiB).toFixed(1)
          } MiB`,
        );
      }
    }
    if (flags.json) {
      await writeJsonAtomic(flags.json as string, {
        root,
        images: [n, 2 * n],
        repeat,
        rows,
        notes,
      });
      console.log(`wrote ${flags.json}`);
    }
  },
};
export default task;
