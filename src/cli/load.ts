/**
 * What the command-line tool reads: a module exporting a model expression and its compile
 * options. Accepted shapes (the first that fits):
 *   export default { model, options }           export const model = …; export const options = …
 *   --export NAME  naming either a { model, options } object or a model (options from `options`)
 */
import { existsSync } from "node:fs";
import { resolve } from "node:path";
import { pathToFileURL } from "node:url";
import { KilnError } from "../../runtime/errors.js";
import type { CompileOptions } from "../compile.js";
import type { LayerNode } from "../layers/node.js";

export interface Loaded {
  readonly model: LayerNode;
  readonly options: CompileOptions;
  readonly file: string;
}

const isLayer = (x: unknown): x is LayerNode => typeof x === "object" && x !== null && typeof (x as { kind?: unknown }).kind === "string";
const isPair = (x: unknown): x is { model: unknown; options?: unknown } => typeof x === "object" && x !== null && "model" in x;

export async function loadModule(file: string, exportName?: string): Promise<Loaded> {
  const path = resolve(file);
  if (!existsSync(path)) throw new KilnError(`cannot load ${file}: expected a model file (.ts, .mts, .mjs or .js exporting model and options), but there is no such file`);
  let mod: Record<string, unknown>;
  try {
    mod = (await import(pathToFileURL(path).href)) as Record<string, unknown>;
  } catch (e) {
    if (e instanceof KilnError) throw e; // a model that fails its own checks says so itself
    // A module may throw anything (a string, null): the message is whatever it threw, as text.
    const message = (e instanceof Error ? e.message : String(e)).split("\n")[0];
    if ((e as { code?: unknown } | null)?.code === "ERR_UNKNOWN_FILE_EXTENSION" && /\.[cm]?ts$/.test(path)) {
      // Installed from npm, the kiln command runs plain JavaScript: TypeScript needs tsx beside it.
      throw new KilnError(`cannot load ${file}: a TypeScript model file needs tsx in the project (npm install --save-dev tsx), or the model in plain JavaScript (model.mjs); Node said: ${message}`, { cause: e });
    }
    throw new KilnError(`cannot load ${file}: ${message}`, { cause: e });
  }
  const pick = exportName !== undefined ? mod[exportName] : mod.default ?? mod.model;
  if (exportName !== undefined && pick === undefined) {
    throw new KilnError(`${file} has no export named ${JSON.stringify(exportName)} (it exports: ${Object.keys(mod).join(", ") || "nothing"})`);
  }
  const [model, options] = isPair(pick) ? [pick.model, pick.options ?? mod.options] : [pick, mod.options];
  if (!isLayer(model)) {
    throw new KilnError(`${file}: expected a model expression (export default { model, options }, or export const model = seq(…)), got ${typeof model}`);
  }
  if (typeof options !== "object" || options === null) {
    throw new KilnError(`${file}: expected compile options (export const options = { inputs: 784, batch: 128, … }), got ${typeof options}`);
  }
  return { model, options: options as CompileOptions, file };
}
