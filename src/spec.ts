/**
 * Model specs: a model expression as plain JSON, and back.
 *
 *   { "kind": "seq", "layers": [
 *       { "kind": "linear", "in": 784, "out": 256, "bias": true,
 *         "init": { "kind": "he", "distribution": "normal", "mode": "fanIn" }, "biasInit": { "kind": "zeros" } },
 *       { "kind": "relu" }, { "kind": "dropout", "p": 0.1 }, … ] }
 *
 * `fromSpec` checks the JSON with an io-ts codec (closed objects: an unknown key is an error),
 * then builds the model with the real combinators, so every run-time check of `seq`, `linear`, …
 * applies too. Errors carry the path of the bad field: `layers[3].out: expected positive integer,
 * got -4` (DecodeError from the codec; ModelError, prefixed with the path, from a combinator).
 * Nesting is refused beyond MAX_SPEC_DEPTH levels of seq/residual before anything recurses.
 *
 * Initializers: he, xavier, normal with a numeric variance, zeros, ones. `init.normal` with a
 * variance FUNCTION is stored as the number it gives at the layer's fan-in — the only value
 * compile() ever asks of it — so the stored spec initializes the same parameters bit for bit.
 */
import { either } from "fp-ts";
import * as t from "io-ts";
import { closed } from "../compiler/ir/closed.js";
import { report } from "../compiler/ir/report.js";
import { DecodeError, KilnError, ModelError } from "../runtime/errors.js";
import * as init from "./init.js";
import type { Distribution, FanMode, Initializer } from "./init.js";
import { batchNorm } from "./layers/batchNorm.js";
import { dropout } from "./layers/dropout.js";
import { layerNorm } from "./layers/layerNorm.js";
import { linear } from "./layers/linear.js";
import type { BuiltinActivation, LayerNode } from "./layers/node.js";
import { gelu, leakyRelu, sigmoid, silu, tanh } from "./layers/activations.js";
import { concat } from "./layers/concat.js";
import { relu } from "./layers/relu.js";
import { residual } from "./layers/residual.js";
import { seq } from "./layers/seq.js";
import { asLayer } from "./layers/shapes.js";

export type InitSpec =
  | { readonly kind: "he"; readonly distribution?: Distribution; readonly mode?: FanMode }
  | { readonly kind: "xavier"; readonly distribution?: Distribution }
  | { readonly kind: "normal"; readonly variance: number }
  | { readonly kind: "zeros" }
  | { readonly kind: "ones" };

export type LayerSpec =
  | { readonly kind: "linear"; readonly in: number; readonly out: number; readonly bias?: boolean; readonly init?: InitSpec; readonly biasInit?: InitSpec }
  | { readonly kind: "relu" }
  | { readonly kind: "dropout"; readonly p: number }
  | { readonly kind: "layerNorm"; readonly n: number; readonly eps?: number; readonly affine?: boolean }
  | { readonly kind: "batchNorm"; readonly n: number; readonly eps?: number; readonly momentum?: number }
  | { readonly kind: "residual"; readonly fn: LayerSpec }
  | { readonly kind: "seq"; readonly layers: readonly LayerSpec[] }
  | { readonly kind: "concat"; readonly branches: readonly LayerSpec[] }
  | ({ readonly kind: "activation" } & BuiltinActivation);

/** Deepest nesting of seq/residual a spec may have (a real model needs a handful). */
export const MAX_SPEC_DEPTH = 64;
/** Most layers in one seq (spreading more into `seq(...)` risks the engine's argument limit). */
export const MAX_SEQ_LAYERS = 10_000;
/** Most JSON objects and arrays in a spec. */
const MAX_SPEC_NODES = 1_000_000;

// ─────────────────────────────── codec ───────────────────────────────

const num = (name: string, ok: (n: number) => boolean) => t.refinement(t.number, ok, name);
const PositiveInt = num("positive integer", (n) => Number.isInteger(n) && n >= 1);
const PositiveNumber = num("finite number > 0", (n) => Number.isFinite(n) && n > 0);
const Variance = num("finite number ≥ 0", (n) => Number.isFinite(n) && n >= 0);
const DropP = num("number in [0, 1)", (n) => n >= 0 && n < 1);
const Momentum = num("number in [0, 1]", (n) => n >= 0 && n <= 1);
const DistributionC = t.keyof({ normal: null, uniform: null }, `"normal" or "uniform"`);
const ModeC = t.keyof({ fanIn: null, fanOut: null }, `"fanIn" or "fanOut"`);

/** A field that may be absent; present, it must pass `c` (errors keep the field's own path). */
function optional<C extends t.Mixed>(c: C): t.Type<t.TypeOf<C> | undefined, t.OutputOf<C> | undefined, unknown> {
  return new t.Type(c.name, (u): u is t.TypeOf<C> | undefined => u === undefined || c.is(u),
    (u, ctx) => (u === undefined ? t.success(undefined) : c.validate(u, ctx)), (a) => (a === undefined ? undefined : c.encode(a)));
}

/** An object told apart by its `kind`; an unknown kind is reported at `.kind` with the choices. */
function tagged<A>(name: string, cases: () => Record<string, t.Decoder<unknown, unknown>>, tag = "kind"): t.Type<A, A, unknown> {
  const codec: t.Type<A, A, unknown> = new t.Type<A, A, unknown>(
    name,
    (u): u is A => either.isRight(codec.validate(u, [{ key: "", type: codec, actual: u }])),
    (u, c) => {
      const cs = cases();
      if (typeof u !== "object" || u === null || Array.isArray(u)) return t.failure(u, c, `${name} object { "${tag}": …, … }`);
      const kind = (u as Record<string, unknown>)[tag];
      if (typeof kind !== "string" || !Object.hasOwn(cs, kind)) {
        return t.failure(kind, [...c, { key: tag, type: t.string, actual: kind }], `${name} ${tag}, one of ${Object.keys(cs).join(", ")}`);
      }
      return cs[kind]!.validate(u, c) as t.Validation<A>;
    },
    t.identity,
  );
  return codec;
}

export const InitSpecC: t.Type<InitSpec, InitSpec, unknown> = tagged("initializer", () => ({
  he: closed({ kind: t.literal("he"), distribution: optional(DistributionC), mode: optional(ModeC) }),
  xavier: closed({ kind: t.literal("xavier"), distribution: optional(DistributionC) }),
  normal: closed({ kind: t.literal("normal"), variance: Variance }),
  zeros: closed({ kind: t.literal("zeros") }),
  ones: closed({ kind: t.literal("ones") }),
}));

export const LayerSpecC: t.Type<LayerSpec, LayerSpec, unknown> = tagged("layer", () => layerCases);
const layerCases: Record<LayerSpec["kind"], t.Decoder<unknown, unknown>> = {
  linear: closed({
    kind: t.literal("linear"), in: PositiveInt, out: PositiveInt,
    bias: optional(t.boolean), init: optional(InitSpecC), biasInit: optional(InitSpecC),
  }),
  relu: closed({ kind: t.literal("relu") }),
  dropout: closed({ kind: t.literal("dropout"), p: DropP }),
  layerNorm: closed({ kind: t.literal("layerNorm"), n: PositiveInt, eps: optional(PositiveNumber), affine: optional(t.boolean) }),
  batchNorm: closed({ kind: t.literal("batchNorm"), n: PositiveInt, eps: optional(PositiveNumber), momentum: optional(Momentum) }),
  residual: closed({ kind: t.literal("residual"), fn: LayerSpecC }),
  seq: closed({
    kind: t.literal("seq"),
    layers: t.refinement(t.array(LayerSpecC), (a) => a.length >= 1 && a.length <= MAX_SEQ_LAYERS, `1 to ${MAX_SEQ_LAYERS} layers`),
  }),
  concat: closed({
    kind: t.literal("concat"),
    branches: t.refinement(t.array(LayerSpecC), (a) => a.length >= 1 && a.length <= MAX_SEQ_LAYERS, `1 to ${MAX_SEQ_LAYERS} branches`),
  }),
  activation: tagged("activation", () => ({
    tanh: closed({ kind: t.literal("activation"), name: t.literal("tanh") }),
    sigmoid: closed({ kind: t.literal("activation"), name: t.literal("sigmoid") }),
    silu: closed({ kind: t.literal("activation"), name: t.literal("silu") }),
    gelu: closed({ kind: t.literal("activation"), name: t.literal("gelu"), approximate: t.keyof({ none: null, tanh: null }, `"none" or "tanh"`) }),
    leakyRelu: closed({ kind: t.literal("activation"), name: t.literal("leakyRelu"), slope: num("finite number", Number.isFinite) }),
  }), "name"),
};

/** Refuse deep or huge JSON with an explicit stack, before any recursive walk sees it. */
function checkBounds(json: unknown): void {
  // seq nests two JSON levels per model level (object, layers array); an init adds one.
  const maxJsonDepth = 2 * MAX_SPEC_DEPTH + 3;
  const stack: [unknown, number][] = [[json, 0]];
  let count = 0;
  while (stack.length > 0) {
    const [v, depth] = stack.pop()!;
    if (typeof v !== "object" || v === null) continue;
    if (depth > maxJsonDepth) throw new DecodeError(`invalid model spec: nested deeper than ${MAX_SPEC_DEPTH} levels of seq/residual`);
    if (++count > MAX_SPEC_NODES) throw new DecodeError(`invalid model spec: more than ${MAX_SPEC_NODES} objects and arrays`);
    for (const k of Object.keys(v)) stack.push([(v as Record<string, unknown>)[k], depth + 1]);
  }
}

// ─────────────────────────────── spec → model ───────────────────────────────

function initFrom(s: InitSpec | undefined): Initializer | undefined {
  if (s === undefined) return undefined;
  switch (s.kind) {
    case "he": return init.he({ distribution: s.distribution, mode: s.mode });
    case "xavier": return init.xavier({ distribution: s.distribution });
    case "normal": return init.normal({ variance: s.variance });
    case "zeros": return init.zeros();
    case "ones": return init.ones();
  }
}

const at = (path: string): string => (path === "" ? "(root)" : path);

/** Run a combinator; its ModelError gets the spec path of the layer in front. */
function made(path: string, f: () => LayerNode): LayerNode {
  try {
    return f();
  } catch (e) {
    if (e instanceof ModelError) throw new ModelError(`${at(path)}: ${e.message}`, { cause: e });
    throw e;
  }
}

function build(s: LayerSpec, path: string, depth: number): LayerNode {
  if (depth > MAX_SPEC_DEPTH) throw new DecodeError(`invalid model spec: ${at(path)}: nested deeper than ${MAX_SPEC_DEPTH} levels of seq/residual`);
  const sub = (key: string) => (path === "" ? key : `${path}.${key}`);
  switch (s.kind) {
    case "linear": return made(path, () => linear(s.in, s.out, { bias: s.bias, init: initFrom(s.init), biasInit: initFrom(s.biasInit) }));
    case "relu": return relu;
    case "dropout": return made(path, () => dropout(s.p));
    case "layerNorm": return made(path, () => layerNorm(s.n, { eps: s.eps, affine: s.affine }));
    case "batchNorm": return made(path, () => batchNorm(s.n, { eps: s.eps, momentum: s.momentum }));
    case "residual": {
      const fn = build(s.fn, sub("fn"), depth + 1);
      return made(path, () => (residual as (f: LayerNode) => LayerNode)(fn));
    }
    case "seq": {
      const layers = s.layers.map((l, i) => build(l, `${sub("layers")}[${i}]`, depth + 1));
      return made(path, () => (seq as (...ls: LayerNode[]) => LayerNode)(...layers));
    }
    case "concat": {
      const branches = s.branches.map((l, i) => build(l, `${sub("branches")}[${i}]`, depth + 1));
      return made(path, () => (concat as (...ls: LayerNode[]) => LayerNode)(...branches));
    }
    case "activation": return activation(s);
  }
}

/**
 * Build a model from its JSON spec (parsed JSON, e.g. `JSON.parse(text)`), with every check of
 * the combinators. Malformed specs throw a DecodeError with the path of the bad field.
 * @example const model = fromSpec(JSON.parse(readFileSync("model.json", "utf8")));
 */
export function fromSpec(json: unknown): LayerNode {
  checkBounds(json);
  const r = LayerSpecC.decode(json);
  if (either.isLeft(r)) throw new DecodeError(`invalid model spec: ${report(r.left)}`);
  return build(r.right, "", 0);
}

// ─────────────────────────────── model → spec ───────────────────────────────

function initTo(i: Initializer, fanIn: number, path: string): InitSpec {
  const p = i?.params;
  const fail = (why: string): never => { throw new ModelError(`${path}: cannot write initializer ${i?.label ?? String(i)} as a spec: ${why}`); };
  if (p === undefined) return fail("it was not made by kiln's init functions");
  switch (i.kind) {
    case "he": return { kind: "he", distribution: p.distribution ?? "normal", mode: p.mode ?? "fanIn" };
    case "xavier": return { kind: "xavier", distribution: p.distribution ?? "normal" };
    case "normal": {
      // A variance function is only ever called at the layer's fan-in: store that number.
      const v = typeof p.variance === "function" ? p.variance(fanIn) : p.variance;
      if (typeof v !== "number" || !Number.isFinite(v) || v < 0) return fail(`its variance at fan-in ${fanIn} is ${String(v)}, expected a finite number ≥ 0`);
      return { kind: "normal", variance: v };
    }
    case "constant":
      if (p.value === 0) return { kind: "zeros" };
      if (p.value === 1) return { kind: "ones" };
      return fail(`constant ${String(p.value)} has no spec form`);
    default: return fail(`kind ${JSON.stringify(i.kind)} has no spec form`);
  }
}

function activation(s: BuiltinActivation): LayerNode {
  switch (s.name) {
    case "tanh": return tanh;
    case "sigmoid": return sigmoid;
    case "silu": return silu;
    case "gelu": return gelu({ approximate: s.approximate });
    case "leakyRelu": return leakyRelu(s.slope);
  }
}

function specOf(node: LayerNode, path: string, depth: number): LayerSpec {
  if (depth > MAX_SPEC_DEPTH) throw new ModelError(`${at(path)}: nested deeper than ${MAX_SPEC_DEPTH} levels of seq/residual, which fromSpec would refuse`);
  const sub = (key: string) => (path === "" ? key : `${path}.${key}`);
  switch (node.kind) {
    case "linear": return {
      kind: "linear", in: node.in, out: node.out, bias: node.bias,
      init: initTo(node.init, node.in, sub("init")), biasInit: initTo(node.biasInit, node.in, sub("biasInit")),
    };
    case "relu": return { kind: "relu" };
    case "dropout": return { kind: "dropout", p: node.p };
    case "layerNorm": return { kind: "layerNorm", n: node.n, eps: node.eps, affine: node.affine };
    case "batchNorm": return { kind: "batchNorm", n: node.n, eps: node.eps, momentum: node.momentum };
    case "residual": return { kind: "residual", fn: specOf(node.fn, sub("fn"), depth + 1) };
    case "seq":
      if (node.layers.length > MAX_SEQ_LAYERS) throw new ModelError(`${at(path)}: a seq of ${node.layers.length} layers; specs allow ${MAX_SEQ_LAYERS}`);
      return { kind: "seq", layers: node.layers.map((l, i) => specOf(l, `${sub("layers")}[${i}]`, depth + 1)) };
    case "concat":
      if (node.branches.length > MAX_SEQ_LAYERS) throw new ModelError(`${at(path)}: a concat of ${node.branches.length} branches; specs allow ${MAX_SEQ_LAYERS}`);
      return { kind: "concat", branches: node.branches.map((l, i) => specOf(l, `${sub("branches")}[${i}]`, depth + 1)) };
    case "fn":
      if (node.builtin !== undefined) return { kind: "activation", ...node.builtin };
      return userCode(node, path);
    case "layer": return userCode(node, path);
  }
}

/** A spec holds data, never code: a user's fn or layer cannot be written, and saying so beats dropping it. */
function userCode(node: { kind: string; name: string }, path: string): never {
  throw new ModelError(`toSpec: ${at(path)} is ${node.kind} ${JSON.stringify(node.name)}, user code (a JavaScript function), which a spec cannot hold; `
    + "rebuild that part of the model in code (its parameters still save and load with net.save)");
}

/**
 * The JSON spec of a model expression (plain data: `JSON.stringify` it). Every field is written
 * out, defaults included, so `fromSpec(toSpec(m))` is the same model.
 * @example writeFileSync("model.json", JSON.stringify(toSpec(model), null, 2));
 */
export function toSpec(model: LayerNode): LayerSpec {
  try {
    asLayer("toSpec argument", model);
  } catch (e) {
    if (e instanceof KilnError) throw e;
    throw new ModelError(`toSpec: expected a model expression, got something that could not be inspected (${String(e)})`);
  }
  return specOf(model, "", 0);
}
