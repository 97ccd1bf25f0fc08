/**
 * SVG to pixels: resvg (Rust, compiled to WebAssembly, `@resvg/resvg-wasm`) with the DejaVu
 * Sans font from the `dejavu-fonts-ttf` npm package, both read from the npm cache (no
 * network; needs `--allow-read`). No system fonts are consulted, so the same SVG gives the
 * same pixels on every machine.
 *
 * The WebAssembly module is instantiated when this module is first imported (resvg offers no
 * synchronous start), after which {@linkcode renderSvg} is synchronous.
 *
 * @example
 * ```ts
 * import { renderSvg } from "./render.ts";
 * const img = renderSvg('<svg xmlns="http://www.w3.org/2000/svg" width="40" height="20"/>');
 * img.width;   // 40
 * ```
 * @module
 */
import { initWasm, Resvg } from "@resvg/resvg-wasm";
// Brings the font package into Deno's npm cache; the font file is read from there.
import "dejavu-fonts-ttf/package.json" with { type: "json" };
import type { RgbImage } from "../image/types.ts";

/** The font family every chart uses. */
export const FONT_FAMILY = "DejaVu Sans";

const FONT_FILES = ["DejaVuSans.ttf", "DejaVuSans-Bold.ttf"];

function packageFile(specifier: string, what: string): Uint8Array<ArrayBuffer> {
  const url = new URL(import.meta.resolve(specifier));
  try {
    return Deno.readFileSync(url);
  } catch (e) {
    throw new TypeError(`Cannot load ${what}: ${url.href}: ${(e as Error).message}`);
  }
}

await initWasm(packageFile("@resvg/resvg-wasm/index_bg.wasm", "the resvg renderer"));

let fonts: Uint8Array[] | undefined;

/**
 * Renders an SVG document to an RGB image on a white background (transparent parts become
 * white). Text uses DejaVu Sans (regular and bold). Throws a one-line `TypeError` on SVG
 * that resvg cannot parse.
 *
 * @example
 * ```ts
 * const img = renderSvg(lineChartSvg({ series: [{ name: "a", xs: [0, 1], ys: [0, 1] }] }));
 * ```
 */
export function renderSvg(svg: string): RgbImage {
  fonts ??= FONT_FILES.map((f) => packageFile(`dejavu-fonts-ttf/ttf/${f}`, `the font ${f}`));
  let resvg;
  try {
    resvg = new Resvg(svg, {
      background: "white",
      font: {
        fontBuffers: fonts,
        defaultFontFamily: FONT_FAMILY,
        sansSerifFamily: FONT_FAMILY,
      },
    });
  } catch (e) {
    throw new TypeError(`Cannot render SVG: ${String((e as Error).message ?? e).split("\n")[0]}`);
  }
  try {
    const rendered = resvg.render();
    const { width, height } = rendered;
    const rgba = rendered.pixels;
    rendered.free();
    const data = new Uint8Array(width * height * 3);
    for (let i = 0, j = 0; j < data.length; i += 4, j += 3) {
      data[j] = rgba[i];
      data[j + 1] = rgba[i + 1];
      data[j + 2] = rgba[i + 2];
    }
    return { width, height, data };
  } finally {
    resvg.free();
  }
}
