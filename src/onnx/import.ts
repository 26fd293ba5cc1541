/**
 * Import: an ONNX model (as torch.onnx.export writes an MLP) → a kiln model expression built
 * from the combinators a user writes (seq, linear, layerNorm, batchNorm, relu, dropout,
 * residual) and its weights under the names compile() gives them.
 *
 * The graph is walked from its input: at each value the matchers (./import-match.ts) name the
 * layer its readers compute; a value read by a layer and by an Add that joins that layer's
 * output back is a residual. Before any matching, every node whose op type kiln cannot express
 * is listed, all of them in one KilnError.
 */
import { DecodeError, KilnError } from "../../runtime/errors.js";
import { features, type LayerNode } from "../layers/node.js";
import { residual } from "../layers/residual.js";
import { seq } from "../layers/seq.js";
import { traceModel } from "../programs.js";
import { MAX_SEQ_LAYERS, MAX_SPEC_DEPTH } from "../spec.js";
import { checkNodes } from "./import-check.js";
import { nodeLabel, OnnxGraph } from "./import-graph.js";
import { matchers, SUPPORTED, type Matched } from "./import-match.js";
import { importPrimitives, PRIMITIVE_OPS } from "./import-primitives.js";
import { decodeModel, quoteName } from "./proto.js";

export interface Imported {
  /** The model expression: `seq(linear(784, 256), relu, …)`. */
  readonly model: LayerNode;
  /** Parameters by the names compile(model, …) gives them ("0.weight" [out, in], …). */
  readonly params: Record<string, Float32Array>;
  /** Running statistics by name ("1.running_mean", …) and each batchNorm's `num_batches_tracked` (0). */
  readonly state: Record<string, Float32Array | BigInt64Array>;
  /** Input features per sample. */
  readonly inputs: number;
}

const LIST = 40;

/** A chain of layers from one value to another, with their tensors in declaration order. */
interface Chain { layers: LayerNode[]; params: Float32Array[]; state: Float32Array[] }

class Walker {
  readonly claimed = new Set<number>();
  constructor(readonly g: OnnxGraph) {
    for (const k of g.constantNodes) this.claimed.add(k);
  }

  readonly free = (v: string): readonly number[] => this.g.usersOf(v).filter((k) => !this.claimed.has(k));

  /**
   * Layers from value v until `stop` (the graph output when null); `depth` levels of seq/residual
   * hold them. With `open`, a value no layer reads ends the chain early, after at least one layer
   * (`stopped`: the rest is for ./import-primitives.ts), instead of failing.
   */
  chain(v: string, stop: string | null, width: number, depth = 1, open = false): { chain: Chain; width: number; stopped?: string } {
    const chain: Chain = { layers: [], params: [], state: [] };
    const end = stop ?? this.g.output;
    while (v !== end) {
      let m: Matched;
      try {
        m = this.match(v, width, depth);
      } catch (e) {
        if (!open || chain.layers.length === 0 || !(e instanceof KilnError) || e instanceof DecodeError) throw e;
        return { chain, width, stopped: v };
      }
      if (m.layer) chain.layers.push(m.layer);
      // A seq holds at most MAX_SEQ_LAYERS (as a spec does): seq(...) of 150,000 overflowed the stack.
      if (chain.layers.length > MAX_SEQ_LAYERS) throw new DecodeError(`ONNX: the graph is a chain of more than ${MAX_SEQ_LAYERS} layers from ${quoteName(v)}; kiln reads at most ${MAX_SEQ_LAYERS} in one seq`);
      chain.params.push(...m.params);
      chain.state.push(...m.state);
      width = m.layer ? features(m.layer).out ?? width : width;
      v = m.out;
    }
    return { chain, width };
  }

  private match(v: string, width: number, depth: number): Matched {
    for (const m of matchers) {
      const found = m({ g: this.g, free: this.free }, v, width);
      if (found) { found.nodes.forEach((k) => this.claimed.add(k)); return found; }
    }
    const users = this.free(v);
    // A residual: v read by the block and by the Add that sums v with the block's output.
    for (const k of users) {
      const add = this.g.nodes[k]!;
      const w = add.input[0] === v ? add.input[1] : add.input[0];
      if (users.length !== 2 || add.op_type !== "Add" || add.input.length !== 2 || w === v || w === undefined) continue;
      // residual(seq(…)) is two levels; refused before recursing (tracing the model recurses too).
      if (depth + 2 > MAX_SPEC_DEPTH) throw new DecodeError(`ONNX: ${nodeLabel(add)} closes a residual block nested more than ${MAX_SPEC_DEPTH} levels of seq/residual deep; kiln reads at most ${MAX_SPEC_DEPTH}`);
      this.claimed.add(k);
      const { chain } = this.chain(v, w, width, depth + 2);
      if (chain.layers.length === 0) throw new KilnError(`ONNX: ${nodeLabel(add)} adds a value to itself through no layer; kiln's residual needs a block`);
      const fn = chain.layers.length === 1 ? chain.layers[0]! : seq(...chain.layers);
      return { layer: residual(fn), params: chain.params, state: chain.state, nodes: [], out: add.output[0]! };
    }
    if (users.length === 0) throw new KilnError(`ONNX: the value ${quoteName(v)} is read by no node, but the output ${quoteName(this.g.output)} is not reached from it`);
    const list = users.map((k) => nodeLabel(this.g.nodes[k]!)).join(", ");
    throw new KilnError(`ONNX: cannot express the graph in kiln's layers: the value ${quoteName(v)} is read by ${list}, which form no layer kiln has (linear, layerNorm, batchNorm, relu, dropout, residual)`);
  }
}

/**
 * Decode an ONNX model and express it with kiln's combinators.
 * @example
 * const { model, params, state, inputs } = fromOnnx(readFileSync("torch_mlp.onnx"));
 * const net = compile(model, { inputs, batch: 64 });
 * for (const [k, v] of Object.entries(params)) net.params[k]!.set(v);
 * for (const [k, v] of Object.entries(state)) (net.state[k] as typeof v).set(v as never);
 */
export function fromOnnx(bytes: Uint8Array): Imported {
  const g = new OnnxGraph(decodeModel(bytes));
  checkNodes(g.nodes, g.opset);
  const foreign = (n: { domain: string }) => n.domain !== "" && n.domain !== "ai.onnx";
  const known = (op: string) => SUPPORTED.has(op) || PRIMITIVE_OPS.has(op);
  const unsupported = g.nodes.flatMap((n, k) =>
    !g.constantNodes.has(k) && (!known(n.op_type) || foreign(n)) ? [foreign(n) ? `${nodeLabel(n)} of the domain ${quoteName(n.domain)}` : nodeLabel(n)] : []);
  if (unsupported.length > 0) {
    const shown = unsupported.slice(0, LIST).join(", ") + (unsupported.length > LIST ? `, and ${unsupported.length - LIST} more` : "");
    const all = [...new Set([...SUPPORTED, ...PRIMITIVE_OPS])].sort();
    throw new KilnError(`ONNX: ${unsupported.length} node${unsupported.length === 1 ? "" : "s"} kiln cannot express: ${shown}. Supported (of the default ONNX domain): ${all.join(", ")}`);
  }
  // kiln's layers as far as the graph is a chain of them (the model reads as seq(linear, relu, …)),
  // the rest as one layer of primitives (./import-primitives.ts); failing that, all of it as one.
  let asLayers: KilnError | null = null;
  try {
    const layered = fromLayers(g);
    if (layered !== null) return layered;
  } catch (e) {
    if (!(e instanceof KilnError) || e instanceof DecodeError) throw e;
    asLayers = e;
  }
  try {
    const { model, params, state } = importPrimitives(g);
    return { model, params, state, inputs: g.features };
  } catch (e) {
    if (asLayers === null || !(e instanceof KilnError) || e instanceof DecodeError) throw e;
    throw new KilnError(`${asLayers.message}; nor as one layer of primitives: ${e.message.replace(/^ONNX: /, "")}`, { cause: e });
  }
}

/**
 * The graph as kiln's layers, with the nodes after the last layer that matched as a layer of
 * primitives; null when that split is not worth it. The tail's tensors are named
 * "<its index>.<ONNX name>", so the split is made when the tail has none (a softmax head), or
 * when the layers before it include a batchNorm or dropout (which stay kiln's layers: batchNorm
 * keeps its num_batches_tracked, as PyTorch's state dict has it); otherwise (or when the tail does
 * not import) the whole graph as one layer keeps the ONNX names.
 */
function fromLayers(g: OnnxGraph): Imported | null {
  const walker = new Walker(g);
  const { chain, width, stopped } = walker.chain(g.input, null, g.features, 1, true);
  if (stopped !== undefined) {
    let tail: ReturnType<typeof importPrimitives>;
    try {
      tail = importPrimitives(g, { from: stopped, width, skip: walker.claimed });
    } catch (e) {
      if (!(e instanceof KilnError) || e instanceof DecodeError) throw e;
      return null; // the whole graph as one layer says what does not fit
    }
    const hasTensors = Object.keys(tail.params).length + Object.keys(tail.state).length > 0;
    if (hasTensors && !chain.layers.some(trains)) return null;
    chain.layers.push(tail.model);
    chain.params.push(...Object.values(tail.params));
    chain.state.push(...Object.values(tail.state));
    return named(g, chain);
  }
  const left = g.nodes.flatMap((n, k) => (walker.claimed.has(k) ? [] : [nodeLabel(n)]));
  if (left.length > 0) throw new KilnError(`ONNX: ${left.length} node(s) are not on the path from the input to the output: ${left.slice(0, LIST).join(", ")}`);
  if (chain.layers.length === 0) throw new KilnError("ONNX: the graph computes nothing (its output is its input); there is no model to import");
  return named(g, chain);
}

/** Whether a layer (or one inside it) trains differently from its inference graph (batchNorm, dropout). */
function trains(l: LayerNode): boolean {
  switch (l.kind) {
    case "batchNorm": case "dropout": return true;
    case "seq": return l.layers.some(trains);
    case "residual": return trains(l.fn);
    default: return false;
  }
}

/** The chain as seq(…), its tensors under the names compile() gives them. */
function named(g: OnnxGraph, chain: Chain): Imported {
  const model = seq(...chain.layers);

  // The names compile() gives: trace the model and take its parameters and state in order.
  const { ctx } = traceModel(model, "eval", { inputs: g.features, batch: 1, seed: 0 });
  const zip = (specs: readonly { name: string; shape: readonly number[] }[], data: readonly Float32Array[], what: string) => {
    if (specs.length !== data.length) throw new DecodeError(`ONNX: the model has ${specs.length} ${what} but the graph gives ${data.length}`);
    return Object.fromEntries(specs.map((p, k) => {
      const want = p.shape.reduce((a, b) => a * b, 1);
      if (data[k]!.length !== want) throw new DecodeError(`ONNX: ${p.name} needs ${want} values, the graph gives ${data[k]!.length}`);
      return [p.name, data[k]!];
    }));
  };
  const counters = Object.fromEntries(ctx.batchNorms.map((p) => [`${p}num_batches_tracked`, new BigInt64Array(1)]));
  return { model, params: zip(ctx.params, chain.params, "parameters"), state: { ...zip(ctx.state, chain.state, "running statistics"), ...counters }, inputs: g.features };
}
