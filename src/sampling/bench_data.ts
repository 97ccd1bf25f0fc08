/**
 * Pieces of `deno task bench:data`: the image list both sides sample, one
 * in-process gen-pnet measurement (run in a fresh process per row, so the
 * peak RSS is that row's), and a run of the seed's own Python + OpenCV
 * `gen_dataset/gen_Pnet_data.py` on the same images.
 *
 * The seed's script runs from a scratch folder holding copies of the seed's
 * `gen_dataset/gen_Pnet_data.py`, `tools/utils.py` and `config.py`, taken from
 * a checkout (or a bare git directory) at bench time and never stored in
 * this repository. Its logic is untouched: it runs as shipped (`mode = 'val'`
 * reads `./annotations/wider_anno_val.txt`, written here with absolute image
 * paths). Modules it imports but does not use for sampling (torch,
 * torchvision, easydict) are replaced by empty stand-ins when absent.
 *
 * @example
 * ```ts
 * const images = await benchImages("data/sample", 150);
 * const row = await measureGenPnet({ root: "data/sample", images: 150, workers: 1, out: "/tmp/b" });
 * ```
 *
 * @module
 */
import { readWiderGt } from "../data/wider.ts";
import type { ImageAnnotation } from "../data/types.ts";
import { generatePnetDataset } from "./generate.ts";

/** One measured run. */
export interface BenchRow {
  name: string;
  images: number;
  workers: number;
  /** Seconds spent sampling (module loading excluded, worker start-up included). */
  seconds: number;
  crops: number;
  /** CPU seconds (user + system, all threads) spent sampling; NaN where unknown. */
  cpu: number;
  /** Peak resident set size of the process, bytes. */
  peakRss: number;
  /** Seconds of the whole process, start-up included. */
  wall?: number;
}

/**
 * `count` images with at least one face from a WIDER-layout root's train then
 * val ground truth, paths relative to the root (the seed's script fails on
 * images without faces, so both sides get only images with faces). When the
 * root has fewer, the list starts over: a repeated image is sampled again
 * with its own random stream (its list index), the same work as a new one.
 *
 * @example
 * ```ts
 * const images = await benchImages("data/sample", 300); // paths like "WIDER_train/images/..."
 * ```
 */
export async function benchImages(root: string, count: number): Promise<ImageAnnotation[]> {
  const distinct: ImageAnnotation[] = [];
  for (const split of ["train", "val"]) {
    const gt = `${root}/wider_face_split/wider_face_${split}_bbx_gt.txt`;
    let list: ImageAnnotation[];
    try {
      list = await readWiderGt(gt);
    } catch (e) {
      if (split === "val" && e instanceof Deno.errors.NotFound) continue;
      throw e;
    }
    for (const im of list) {
      const faces = im.faces.filter((f) => f.w > 0 && f.h > 0);
      if (faces.length > 0) distinct.push({ path: `WIDER_${split}/images/${im.path}`, faces });
      if (distinct.length === count) return distinct;
    }
  }
  if (distinct.length === 0) throw new TypeError(`Cannot bench on "${root}": no image has a face`);
  return Array.from({ length: count }, (_, i) => distinct[i % distinct.length]);
}

/**
 * Peak resident set size of this process in bytes (VmHWM), or the current RSS where /proc is absent.
 *
 * @example
 * ```ts
 * console.log(`${(peakRss() / 1048576).toFixed(0)} MiB`);
 * ```
 */
export function peakRss(): number {
  try {
    const m = /^VmHWM:\s+(\d+)\s+kB/m.exec(Deno.readTextFileSync("/proc/self/status"));
    if (m) return Number(m[1]) * 1024;
  } catch {
    // no /proc: fall through
  }
  return Deno.memoryUsage().rss;
}

/**
 * User + system CPU seconds of this process so far (all threads), NaN where /proc is absent.
 *
 * @example
 * ```ts
 * const c0 = cpuSeconds(); work(); console.log(cpuSeconds() - c0);
 * ```
 */
export function cpuSeconds(): number {
  try {
    const stat = Deno.readTextFileSync("/proc/self/stat");
    // Fields after the parenthesised command name: state is field 3, utime 14, stime 15.
    const f = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
    return (Number(f[11]) + Number(f[12])) / 100; // USER_HZ is 100 on Linux
  } catch {
    return NaN;
  }
}

/**
 * Runs gen-pnet in this process on the bench images and measures it.
 *
 * @example
 * ```ts
 * const row = await measureGenPnet({ root: "data/sample", images: 150, workers: 2, out: "/tmp/p" });
 * ```
 */
export async function measureGenPnet(opts: {
  root: string;
  images: number;
  workers: number;
  out: string;
  /** Shard size in bytes of pixels (default: the writer's). */
  shardBytes?: number;
}): Promise<BenchRow> {
  const images = await benchImages(opts.root, opts.images);
  const cpu0 = cpuSeconds();
  const t0 = performance.now();
  let done = 0;
  const summary = await generatePnetDataset({
    onImage: (n) => (done = n),
    images,
    imagesDir: opts.root,
    out: opts.out,
    seed: 1,
    workers: opts.workers,
    overwrite: true,
    shardBytes: opts.shardBytes,
  });
  const seconds = (performance.now() - t0) / 1000;
  const cpu = cpuSeconds() - cpu0;
  if (summary.failed) {
    throw new TypeError(
      `gen-pnet could not read ${summary.failed} bench images: ${summary.failures[0]}`,
    );
  }
  return {
    name: "gen-pnet",
    images: done,
    workers: opts.workers,
    seconds,
    crops: summary.crops,
    cpu,
    peakRss: peakRss(),
  };
}

/** The seed files the bench copies into its scratch folder. */
export const SEED_FILES = ["gen_dataset/gen_Pnet_data.py", "tools/utils.py", "config.py"] as const;

/**
 * Reads a file of the seed repository from a work tree (`dir/path`) or a
 * bare / mirror git directory (`git show HEAD:path`); undefined when absent.
 *
 * @example
 * ```ts
 * const script = await readSeedFile("../MTCNN_PyTorch", "gen_dataset/gen_Pnet_data.py");
 * ```
 */
export async function readSeedFile(dir: string, path: string): Promise<string | undefined> {
  try {
    return await Deno.readTextFile(`${dir}/${path}`);
  } catch {
    // not a work tree: try git
  }
  try {
    const r = await new Deno.Command("git", {
      args: ["--git-dir", dir, "show", `HEAD:${path}`],
      stdout: "piped",
      stderr: "null",
    }).output();
    return r.success ? new TextDecoder().decode(r.stdout) : undefined;
  } catch {
    return undefined;
  }
}

/**
 * The first interpreter of `candidates` that imports cv2 and numpy, with OpenCV's version.
 *
 * @example
 * ```ts
 * const py = await findPythonWithCv2(["python3", "/usr/bin/python3"]); // { python, opencv: "4.6.0" }
 * ```
 */
export async function findPythonWithCv2(
  candidates: string[],
): Promise<{ python: string; opencv: string } | undefined> {
  for (const python of candidates) {
    try {
      const r = await new Deno.Command(python, {
        args: ["-c", "import cv2, numpy; print(cv2.__version__)"],
        stdout: "piped",
        stderr: "null",
      }).output();
      if (r.success) return { python, opencv: new TextDecoder().decode(r.stdout).trim() };
    } catch {
      // not installed
    }
  }
  return undefined;
}

const STAND_IN = "def __getattr__(name):\n    return lambda *args, **kwargs: None\n";
const EASYDICT = "class EasyDict(dict):\n" +
  "    def __getattr__(self, k):\n        return self[k]\n" +
  "    def __setattr__(self, k, v):\n        self[k] = v\n";

/** Times the seed's script after numpy and cv2 are loaded; writes seconds and ru_maxrss. */
const RUNNER = `import json, os, resource, runpy, sys, time
import cv2, numpy
def cpu():
    r = resource.getrusage(resource.RUSAGE_SELF)
    return r.ru_utime + r.ru_stime
c, t = cpu(), time.perf_counter()
runpy.run_path(os.path.join("gen_dataset", "gen_Pnet_data.py"), run_name="__main__")
seconds, cpu = time.perf_counter() - t, cpu() - c
peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
json.dump({"seconds": seconds, "cpu": cpu, "peakRss": peak}, open("bench_result.json", "w"))
`;

/**
 * Runs the seed's gen_Pnet_data.py (Python + OpenCV) on `images` (paths
 * relative to `root`) in the scratch folder `work`, which it fills and leaves
 * for the caller to remove. Crops are the lines of its three label files.
 *
 * @example
 * ```ts
 * const row = await measureSeedScript({ python: "python3", seedRepo, root, images, work: "/tmp/seed" });
 * ```
 */
export async function measureSeedScript(opts: {
  python: string;
  seedRepo: string;
  root: string;
  images: ImageAnnotation[];
  work: string;
}): Promise<BenchRow> {
  const { work } = opts;
  for (const path of SEED_FILES) {
    const text = await readSeedFile(opts.seedRepo, path);
    if (text === undefined) {
      throw new TypeError(`Cannot read "${path}" from the seed at "${opts.seedRepo}"`);
    }
    await Deno.mkdir(`${work}/${path.slice(0, path.lastIndexOf("/") + 1) || "."}`, {
      recursive: true,
    });
    await Deno.writeTextFile(`${work}/${path}`, text);
  }
  // Stand-ins only for modules this interpreter lacks.
  const shims = `${work}/stand_ins`;
  for (
    const [mod, files] of [
      ["torch", { "torch/__init__.py": STAND_IN }],
      ["torchvision", {
        "torchvision/__init__.py": STAND_IN,
        "torchvision/transforms/__init__.py": STAND_IN,
      }],
      ["easydict", { "easydict/__init__.py": EASYDICT }],
    ] as const
  ) {
    const ok = await new Deno.Command(opts.python, {
      args: ["-c", `import ${mod}`],
      stderr: "null",
    })
      .output();
    if (ok.success) continue;
    for (const [file, text] of Object.entries(files)) {
      await Deno.mkdir(`${shims}/${file.slice(0, file.lastIndexOf("/"))}`, { recursive: true });
      await Deno.writeTextFile(`${shims}/${file}`, text);
    }
  }
  const root = await Deno.realPath(opts.root);
  await Deno.mkdir(`${work}/annotations`, { recursive: true });
  const anno = opts.images.map((im) =>
    [`${root}/${im.path}`, ...im.faces.flatMap((f) => [f.x, f.y, f.w, f.h])].join(" ")
  );
  await Deno.writeTextFile(`${work}/annotations/wider_anno_val.txt`, anno.join("\n") + "\n");
  await Deno.writeTextFile(`${work}/bench_runner.py`, RUNNER);
  const t0 = performance.now();
  const r = await new Deno.Command(opts.python, {
    args: ["bench_runner.py"],
    cwd: work,
    env: { PYTHONPATH: shims, PYTHONDONTWRITEBYTECODE: "1" },
    stdout: "null",
    stderr: "piped",
  }).output();
  const wall = (performance.now() - t0) / 1000;
  if (!r.success) {
    const err = new TextDecoder().decode(r.stderr).trim().split("\n").pop();
    throw new TypeError(`the seed's gen_Pnet_data.py failed: ${err}`);
  }
  const res = JSON.parse(await Deno.readTextFile(`${work}/bench_result.json`));
  let crops = 0;
  for (const label of ["pos", "neg", "part"]) {
    const text = await Deno.readTextFile(`${work}/annotations/${label}_12_val.txt`);
    crops += text.split("\n").filter((l) => l.trim() !== "").length;
  }
  return {
    name: "seed gen_Pnet_data.py",
    images: opts.images.length,
    workers: 1,
    seconds: res.seconds,
    crops,
    cpu: res.cpu,
    peakRss: res.peakRss,
    wall,
  };
}
