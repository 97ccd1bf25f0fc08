/**
 * `deno task wider:convert`: WIDER FACE `.mat` ground truth to the
 * `wider_face_<mode>_bbx_gt.txt` text format (the seed's transform_mat2txt.py,
 * with the split chosen by a flag instead of an edit).
 *
 * ```
 * deno task wider:convert --mode val                     # data/WIDER/wider_face_split/wider_face_val.mat
 * deno task wider:convert --mat path/wider_face_train.mat --out train_gt.txt
 * ```
 */
import { type Task, UsageError } from "../src/cli/mod.ts";
import { formatWiderGt, readWiderMat } from "../src/data/wider.ts";
import { writeTextFileAtomic } from "../src/io/mod.ts";

/** The .mat file and output path the flags select. */
export function resolvePaths(flags: {
  mat?: string;
  mode?: string;
  dataDir: string;
  out?: string;
}): { mat: string; out: string } {
  if (flags.mat !== undefined && flags.mode !== undefined) {
    throw new UsageError("wider:convert: give --mat or --mode, not both");
  }
  let mat: string;
  if (flags.mat !== undefined) mat = flags.mat;
  else if (flags.mode !== undefined) {
    mat = `${flags.dataDir}/wider_face_split/wider_face_${flags.mode}.mat`;
  } else throw new UsageError("wider:convert: give --mode train|val or --mat FILE (see --help)");
  const out = flags.out ?? mat.replace(/(\.mat)?$/i, "_bbx_gt.txt");
  if (out === mat) throw new UsageError(`wider:convert: --out must differ from the input "${mat}"`);
  return { mat, out };
}

const task: Task = {
  name: "wider:convert",
  description: "Convert WIDER FACE .mat annotations to wider_face_*_bbx_gt.txt",
  flags: {
    mode: {
      type: "string",
      choices: ["train", "val"],
      help: "convert <data-dir>/wider_face_split/wider_face_<mode>.mat",
    },
    mat: { type: "string", meta: "FILE", help: "the .mat file to convert (instead of --mode)" },
    "data-dir": {
      type: "string",
      default: "data/WIDER",
      meta: "DIR",
      help: "WIDER root, for --mode",
    },
    out: {
      type: "string",
      meta: "FILE",
      help: "output text file [default: beside the .mat, wider_face_<mode>_bbx_gt.txt]",
    },
  },
  async run({ flags }) {
    const { mat, out } = resolvePaths({
      mat: flags.mat as string | undefined,
      mode: flags.mode as string | undefined,
      dataDir: flags["data-dir"] as string,
      out: flags.out as string | undefined,
    });
    const wider = await readWiderMat(mat);
    await writeTextFileAtomic(out, formatWiderGt(wider.images));
    const faces = wider.images.reduce((n, im) => n + im.faces.length, 0);
    console.log(
      `${out}: ${wider.images.length} images, ${faces} faces (${wider.events.length} events, from ${mat})`,
    );
  },
};

export default task;
