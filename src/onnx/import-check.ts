/**
 * The nodes of an imported graph held to the ONNX operator schemas of the ops kiln reads, before
 * any pattern is matched: how many inputs and outputs each takes, which attributes it has (for
 * the model's opset), each attribute's type and its value in the field that type names, and no
 * attribute given twice. ONNX Runtime refuses a model that breaks any of these; without the
 * checks a damaged file loaded as another model — a second `transB` or a misspelt `transb` was
 * ignored and W not transposed, an INT attribute with its value in `f` read as 0, Relu(x, W) read
 * as Relu(x).
 */
import { DecodeError } from "../../runtime/errors.js";
import { nodeLabel } from "./import-graph.js";
import { AttrType, quoteName, type Attribute, type Node } from "./proto.js";

const { FLOAT: F, INT: I, STRING: S, TENSOR: T, FLOATS: FS, INTS: IS } = AttrType;
const STRINGS = 8, SPARSE_TENSOR = 11;
/** The field holding an attribute's value, by type (a repeated field holds the list types). */
const FIELD: Readonly<Record<number, string>> = { [F]: "f", [I]: "i", [S]: "s", [T]: "t", [SPARSE_TENSOR]: "sparse_tensor" };
/** The repeated field of each list type. */
const LIST: Readonly<Record<number, string>> = { [FS]: "floats", [IS]: "ints", [STRINGS]: "strings", 9: "tensors", 10: "graphs" };
const TYPE_NAME: Readonly<Record<number, string>> = { [F]: "FLOAT", [I]: "INT", [S]: "STRING", [T]: "TENSOR", [FS]: "FLOATS", [IS]: "INTS", [STRINGS]: "STRINGS", [SPARSE_TENSOR]: "SPARSE_TENSOR" };

/** An attribute of an op: its type and the opsets [from, until) that define it. */
type AttrSpec = readonly [type: number, from?: number, until?: number];
interface OpSpec {
  /** Inputs and outputs, at least and at most (at most may depend on the opset). */
  readonly inputs: readonly [number | ((opset: number) => number), number | ((opset: number) => number)];
  readonly outputs: readonly [number, number | ((opset: number) => number)];
  readonly attrs?: Readonly<Record<string, AttrSpec>>;
}

const unary: OpSpec = { inputs: [1, 1], outputs: [1, 1] };
const binary: OpSpec = { inputs: [2, 2], outputs: [1, 1] };

const MANY = 2 ** 31 - 1;
const reduceFrom = (v: number): OpSpec => ({
  inputs: [1, (o) => (o < v ? 1 : 2)], outputs: [1, 1],
  attrs: { axes: [IS, 1, v], keepdims: [I], noop_with_empty_axes: [I, v] },
});
const alphaOnly: OpSpec = { ...unary, attrs: { alpha: [F] } };

/** The schemas of the ops kiln reads (import-match.ts SUPPORTED, import-primitives.ts PRIMITIVE_OPS), opsets 7 to 22. */
const OPS: Readonly<Record<string, OpSpec>> = {
  Gemm: { inputs: [2, 3], outputs: [1, 1], attrs: { alpha: [F], beta: [F], transA: [I], transB: [I] } },
  MatMul: binary, Add: binary, Sub: binary, Mul: binary, Div: binary, Pow: binary,
  Relu: unary, Tanh: unary, Sigmoid: unary, Erf: unary, Sqrt: unary, Identity: unary,
  LeakyRelu: { ...unary, attrs: { alpha: [F] } },
  Flatten: { ...unary, attrs: { axis: [I] } },
  Reshape: { inputs: [2, 2], outputs: [1, 1], attrs: { allowzero: [I, 14] } },
  Dropout: { inputs: [1, (v) => (v < 12 ? 1 : 3)], outputs: [1, 2], attrs: { ratio: [F, 7, 12], seed: [I, 12] } },
  LayerNormalization: { inputs: [2, 3], outputs: [1, 3], attrs: { axis: [I], epsilon: [F], stash_type: [I] } },
  BatchNormalization: {
    inputs: [5, 5], outputs: [1, (v) => (v < 14 ? 5 : 3)],
    attrs: { epsilon: [F], momentum: [F], spatial: [I, 7, 9], training_mode: [I, 14] },
  },
  ReduceMean: {
    inputs: [1, (v) => (v < 18 ? 1 : 2)], outputs: [1, 1],
    attrs: { axes: [IS, 1, 18], keepdims: [I], noop_with_empty_axes: [I, 18] },
  },
  Neg: unary, Exp: unary, Log: unary, Abs: unary, Sign: unary, Reciprocal: unary, Softplus: unary, Softsign: unary, HardSwish: unary,
  Elu: alphaOnly, Selu: { ...unary, attrs: { alpha: [F], gamma: [F] } }, HardSigmoid: { ...unary, attrs: { alpha: [F], beta: [F] } },
  Gelu: { ...unary, attrs: { approximate: [S, 20] } },
  Max: { inputs: [1, MANY], outputs: [1, 1] }, Min: { inputs: [1, MANY], outputs: [1, 1] }, Sum: { inputs: [1, MANY], outputs: [1, 1] },
  ReduceSum: reduceFrom(13), ReduceMax: reduceFrom(18), ReduceLogSumExp: reduceFrom(18), ReduceL2: reduceFrom(18), ReduceProd: reduceFrom(18),
  Celu: alphaOnly, PRelu: binary,
  Greater: binary, Less: binary, GreaterOrEqual: binary, LessOrEqual: binary, Equal: binary, And: binary, Or: binary, Not: unary,
  Where: { inputs: [3, 3], outputs: [1, 1] },
  Split: { inputs: [1, (o) => (o < 13 ? 1 : 2)], outputs: [1, MANY], attrs: { axis: [I], split: [IS, 1, 13], num_outputs: [I, 18] } },
  Softmax: { ...unary, attrs: { axis: [I] } }, LogSoftmax: { ...unary, attrs: { axis: [I] } },
  Cast: { ...unary, attrs: { to: [I], saturate: [I, 19] } },
  Squeeze: { inputs: [1, (o) => (o < 13 ? 1 : 2)], outputs: [1, 1], attrs: { axes: [IS, 1, 13] } },
  Unsqueeze: { inputs: [(o) => (o < 13 ? 1 : 2), (o) => (o < 13 ? 1 : 2)], outputs: [1, 1], attrs: { axes: [IS, 1, 13] } },
  Expand: binary, Gather: { ...binary, attrs: { axis: [I] } },
  Concat: { inputs: [1, MANY], outputs: [1, 1], attrs: { axis: [I] } },
  Slice: { inputs: [(o) => (o < 10 ? 1 : 3), (o) => (o < 10 ? 1 : 5)], outputs: [1, 1], attrs: { starts: [IS, 1, 10], ends: [IS, 1, 10], axes: [IS, 1, 10] } },
  Pad: { inputs: [(o) => (o < 11 ? 1 : 2), (o) => (o < 11 ? 1 : o < 18 ? 3 : 4)], outputs: [1, 1], attrs: { pads: [IS, 1, 11], mode: [S], value: [F, 1, 11] } },
  Clip: { inputs: [1, (o) => (o < 11 ? 1 : 3)], outputs: [1, 1], attrs: { min: [F, 1, 11], max: [F, 1, 11] } },
  Shape: { ...unary, attrs: { start: [I, 15], end: [I, 15] } },
  Transpose: { ...unary, attrs: { perm: [IS] } }, Trilu: { inputs: [1, 2], outputs: [1, 1], attrs: { upper: [I] } }, ConstantOfShape: { ...unary, attrs: { value: [T, 9] } },
  Constant: {
    inputs: [0, 0], outputs: [1, 1],
    attrs: {
      value: [T], sparse_value: [SPARSE_TENSOR, 11], value_float: [F, 12], value_floats: [FS, 12],
      value_int: [I, 12], value_ints: [IS, 12], value_string: [S, 12], value_strings: [STRINGS, 12],
    },
  },
};

const at = (n: number | ((opset: number) => number), opset: number) => (typeof n === "number" ? n : n(opset));

/** Every node of the default domain whose op kiln reads, held to its schema (a DecodeError naming the node otherwise). */
export function checkNodes(nodes: readonly Node[], opset: number): void {
  for (const node of nodes) {
    if (node.domain !== "" && node.domain !== "ai.onnx") continue;
    const spec = Object.hasOwn(OPS, node.op_type) ? OPS[node.op_type]! : undefined;
    if (!spec) continue; // listed as unsupported by fromOnnx, all of them in one error
    const fail = (what: string): never => { throw new DecodeError(`ONNX: ${nodeLabel(node)} (opset ${opset}): ${what}`); };
    // Trailing empty names are inputs left out (optional ones); a missing required one is an empty name inside.
    let given = node.input.length;
    while (given > 0 && node.input[given - 1] === "") given--;
    const [minIn, maxIn] = [at(spec.inputs[0], opset), at(spec.inputs[1], opset)];
    if (given < minIn || given > maxIn) fail(`expected ${minIn === maxIn ? minIn : `${minIn} to ${maxIn}`} input${maxIn === 1 ? "" : "s"}, got ${given}`);
    if (node.input.slice(0, minIn).some((v) => v === "")) fail(`expected its ${minIn} required input${minIn === 1 ? "" : "s"} named, got an empty name`);
    const [minOut, maxOut] = [spec.outputs[0], at(spec.outputs[1], opset)];
    if (node.output.length < minOut || node.output.length > maxOut) fail(`expected ${minOut === maxOut ? minOut : `${minOut} to ${maxOut}`} output${maxOut === 1 ? "" : "s"}, got ${node.output.length}`);
    if (node.output[0] === "") fail("expected its first output named, got an empty name");
    const seen = new Set<string>();
    for (const a of node.attribute) {
      if (seen.has(a.name)) fail(`the attribute ${quoteName(a.name)} is given twice`);
      seen.add(a.name);
      checkAttribute(a, spec, opset, node.op_type, fail);
    }
    if (node.op_type === "Constant" && node.attribute.length !== 1) fail(`expected exactly one value attribute, got ${node.attribute.length}`);
  }
}

function checkAttribute(a: Attribute, spec: OpSpec, opset: number, op: string, fail: (what: string) => never): void {
  const known = spec.attrs ?? {};
  const want = Object.hasOwn(known, a.name) ? known[a.name] : undefined;
  const [type, from = 1, until = Infinity] = want ?? [0];
  if (!want || opset < from || opset >= until) {
    const names = Object.entries(known).filter(([, [, f = 1, u = Infinity]]) => opset >= f && opset < u).map(([k]) => k);
    fail(`expected attributes among ${names.length ? names.join(", ") : `none (${op} takes no attribute)`}, got ${quoteName(a.name)}`);
  }
  if (a.type !== type) fail(`the attribute ${quoteName(a.name)} must be of type ${TYPE_NAME[type]}, got type ${TYPE_NAME[a.type] ?? a.type}`);
  // A singular value is present only when its field was written (protobufjs keeps defaults on the prototype).
  const field = FIELD[type];
  if (field !== undefined && !Object.hasOwn(a, field)) fail(`the attribute ${quoteName(a.name)} is of type ${TYPE_NAME[type]} but carries no value in its field ${field}`);
  const v = a as unknown as Record<string, unknown>;
  const other = Object.entries(FIELD).find(([t, f]) => Number(t) !== type && Object.hasOwn(a, f))?.[1]
    ?? Object.entries(LIST).find(([t, f]) => Number(t) !== type && ((v[f] as unknown[] | undefined)?.length ?? 0) > 0)?.[1];
  if (other !== undefined) fail(`the attribute ${quoteName(a.name)} is of type ${TYPE_NAME[type]} but carries a value in the field ${other}`);
}
