/**
 * The registry of tasks: name, one-line description and a lazy loader, so
 * that `main.ts` lists every task without importing any of them.
 * Add a task here and in deno.json's "tasks" (`deno run -A main.ts <name>`).
 */
import type { Task } from "../src/cli/mod.ts";

export interface TaskEntry {
  description: string;
  load: () => Promise<{ default: Task }>;
}

export const TASKS: Record<string, TaskEntry> = {
  "demo": {
    description:
      "Run the pipeline end to end on the synthetic sample data (and ../shared when present)",
    load: () => import("./demo.ts"),
  },
  "build:kernels": {
    description: "Compile the AssemblyScript kernels (kernels/assembly) to kernels/build/*.wasm",
    load: () => import("./build_kernels.ts"),
  },
  "wider:convert": {
    description: "Convert WIDER FACE .mat annotations to wider_face_*_bbx_gt.txt",
    load: () => import("./wider_convert.ts"),
  },
  "sample": {
    description: "Write the synthetic sample dataset (WIDER layout, exact ground truth)",
    load: () => import("./sample.ts"),
  },
  "gen-pnet": {
    description:
      "Sample PNet training crops (positive / part / negative, 12 px) into a shard dataset",
    load: () => import("./gen_pnet.ts"),
  },
  "gen-landmarks": {
    description: "Sample landmark crops (12/24/48 px, mirrored copies) from LFW or CelebA lists",
    load: () => import("./gen_landmarks.ts"),
  },
  "dataset:show": {
    description: "Print a sample dataset's manifest and write a contact sheet of labelled samples",
    load: () => import("./dataset_show.ts"),
  },
  "bench:data": {
    description:
      "Benchmark gen-pnet speed and peak RSS (1, 2 workers) against the seed's Python script",
    load: () => import("./bench_data.ts"),
  },
  "gen-rnet": {
    description: "Mine RNet training crops (24 px) with the trained PNet into a shard dataset",
    load: () => import("./gen_rnet.ts"),
  },
  "gen-onet": {
    description: "Mine ONet training crops (48 px) with the trained PNet + RNet into a shard dataset",
    load: () => import("./gen_onet.ts"),
  },
  "train": {
    description: "Train PNet, RNet or ONet on shard datasets (Adam, OHEM, workers, resumable)",
    load: () => import("./train.ts"),
  },
  "bench": {
    description:
      "Inference speed (benchncnn style): PNet, pyramid, RNet, ONet, cascade on the AS engine, tfjs-wasm, onnxruntime",
    load: () => import("./bench.ts"),
  },
  "bench:train": {
    description: "Training samples/s: the trainer on 1 and 2 workers vs stock tfjs-wasm",
    load: () => import("./bench_train.ts"),
  },
  "import": {
    description: "Import pretrained MTCNN weights (original TFLite release or ONNX models)",
    load: () => import("./import.ts"),
  },
  "export": {
    description: "Export nets to TFLite, ONNX, ncnn (.param/.bin) or a tfjs graph model",
    load: () => import("./export.ts"),
  },
  "eval:stage": {
    description: "One net on a shard dataset: the seed's cls loss / offset loss / cls acc, recall at the stage threshold",
    load: () => import("./eval_stage.ts"),
  },
  "eval:wider": {
    description:
      "WIDER FACE val AP (easy/medium/hard) of a prediction folder, as the official tool",
    load: () => import("./eval_wider.ts"),
  },
  "eval:faces": {
    description: "Recall and precision at IoU 0.5 of cascades on annotated photos (../shared/faces)",
    load: () => import("./eval_faces.ts"),
  },
  "eval:fddb": {
    description: "FDDB discrete and continuous ROC of a detection file, over all ten folds",
    load: () => import("./eval_fddb.ts"),
  },
  "detect": {
    description: "Detect faces (boxes, scores, 5 landmarks) in images with the MTCNN cascade",
    load: () => import("./detect.ts"),
  },
  "quantize": {
    description: "Int8 post-training quantisation of a .mtcnn net (calibration on shard datasets)",
    load: () => import("./quantize.ts"),
  },
  "prune": {
    description: "Taylor channel pruning of a trained net into a smaller net, with a table per step",
    load: () => import("./prune.ts"),
  },
  "qat": {
    description:
      "Quantisation-aware training of a net into int8 (fake quant, STE); table float / PTQ / QAT",
    load: () => import("./qat.ts"),
  },
  "report:optimize": {
    description:
      "Per-net table of every optimised variant (seed's metrics, params, FLOPs, file size): Markdown + JSON",
    load: () => import("./report_optimize.ts"),
  },
  "distill": {
    description: "Knowledge distillation: train a student with and without a teacher, compare the three",
    load: () => import("./distill.ts"),
  },
};
