/**
 * The IR: one SSA graph of primitive ops, plain immutable data. Values are numbered; each is
 * defined once, by a graph input or by a node, and nodes are in topological order. The same
 * kind of graph holds a forward pass, a gradient, a whole train step and an eval program.
 *
 * The io-ts codec gives the JSON check; `checkGraph` then enforces what a codec cannot
 * (definitions before uses, shape rules, sane sizes), so a decoded graph is always runnable.
 */
import { either } from "fp-ts";
import { pipe } from "fp-ts/lib/function.js";
import * as t from "io-ts";
import { closed } from "./closed.js";
import { DecodeError, GraphError } from "../../runtime/errors.js";
import { ops, type AttrsOf, type OpName } from "../ops/index.js";
import { report } from "./report.js";
import { DType, fmtType, sameShape, size, type V, type ValueType } from "./types.js";

export const InputKind = t.keyof({ data: null, labels: null, param: null, state: null, optim: null, scalar: null });
export type InputKind = t.TypeOf<typeof InputKind>;
export const OutputKind = t.keyof({ loss: null, logits: null, grad: null, param: null, state: null, optim: null, probe: null });
export type OutputKind = t.TypeOf<typeof OutputKind>;

export interface Input { readonly name: string; readonly kind: InputKind; readonly value: V }
export interface Output { readonly name: string; readonly kind: OutputKind; readonly value: V }
/**
 * `scope`, when present, names the user code that emitted the node (`fn "swish" at 2.1.1`): it is
 * for people reading the IR (printIR shows it) and means nothing to the compiler.
 *
 * `at` (optional, provenance for messages only — no pass or kernel reads it): where the node came
 * from, as "part@where" strings, the first the node's own: "forward@37" (layer path), "backward@37",
 * "loss@", "optimizer@37.weight", "clip@", "probe@gradNorm:37". A fused node lists its members'.
 */
export type Node = {
  [K in OpName]: { readonly op: K; readonly inputs: readonly V[]; readonly outputs: readonly V[]; readonly attrs: AttrsOf<K>; readonly scope?: string; readonly at?: readonly string[] }
}[OpName];
export interface Graph {
  readonly values: readonly ValueType[];
  readonly inputs: readonly Input[];
  readonly nodes: readonly Node[];
  readonly outputs: readonly Output[];
}

/** Largest tensor a graph may declare: 2²⁸ elements (1 GiB of float32). */
export const MAX_ELEMENTS = 2 ** 28;
/**
 * Most axes a tensor may have (numpy's limit was 32): a kernel's index arithmetic is unrolled
 * per axis, and thousands of axes of 1 (a hostile ONNX file) overflowed the generated code.
 */
export const MAX_RANK = 32;

const Index = t.refinement(t.number, (n) => Number.isInteger(n) && n >= 0, "non-negative integer");
const Dim = t.refinement(t.number, (n) => Number.isInteger(n) && n >= 1 && n <= MAX_ELEMENTS, "positive integer dimension");
const ValueTypeC = closed({ shape: t.array(Dim), dtype: DType });
const InputC = closed({ name: t.string, kind: InputKind, value: Index });
const OutputC = closed({ name: t.string, kind: OutputKind, value: Index });
const OpNameC = t.keyof(Object.fromEntries(Object.keys(ops).map((k) => [k, null])) as Record<OpName, null>, "op name");
const Origins = t.union([t.undefined, t.array(t.string)]);
const NodeFields = closed({ op: OpNameC, inputs: t.array(Index), outputs: t.array(Index), attrs: t.unknown, at: Origins });
/** The node fields, and `scope` if present (a string); any other key is refused by NodeFields. */
const NodeBase = new t.Type<t.TypeOf<typeof NodeFields> & { scope?: string }, unknown, unknown>(
  "NodeBase",
  (u): u is t.TypeOf<typeof NodeFields> & { scope?: string } => either.isRight(NodeBase.validate(u, [])),
  (u, c) => {
    if (typeof u !== "object" || u === null || !Object.hasOwn(u, "scope")) return NodeFields.validate(u, c);
    const { scope, ...rest } = u as Record<string, unknown>;
    if (typeof scope !== "string") return t.failure(scope, [...c, { key: "scope", type: t.string, actual: scope }], "string scope");
    return pipe(NodeFields.validate(rest, c), either.map((n) => ({ ...n, scope })));
  },
  t.identity,
);

/** A node: the base fields, then the attributes checked by the codec of that node's op. */
const NodeC = new t.Type<Node, unknown, unknown>(
  "Node",
  (u): u is Node => either.isRight(NodeC.validate(u, [])),
  (u, c) => pipe(
    NodeBase.validate(u, c),
    either.chain((n) => pipe(
      ops[n.op].attrs.validate(n.attrs, [...c, { key: "attrs", type: ops[n.op].attrs, actual: n.attrs }]),
      either.map((attrs) => {
        const { at, ...rest } = n;
        return (at === undefined ? { ...rest, attrs } : { ...rest, attrs, at }) as Node;
      }),
    )),
  ),
  (n) => ({
    op: n.op, inputs: n.inputs, outputs: n.outputs, attrs: (ops[n.op].attrs as t.Type<unknown>).encode(n.attrs),
    ...(n.scope === undefined ? {} : { scope: n.scope }),
    ...(n.at === undefined ? {} : { at: [...n.at] }),
  }),
);

export const GraphC = closed({ values: t.array(ValueTypeC), inputs: t.array(InputC), nodes: t.array(NodeC), outputs: t.array(OutputC) }, "Graph");

/** Output kinds that write back into the input of the same name and kind. */
export const UPDATABLE: ReadonlySet<string> = new Set(["param", "state", "optim"]);

/**
 * Check the invariants a codec cannot: SSA order, arities, shape rules, unique names. Linear in
 * the graph (every pass's result goes through here): messages are built only on failure, and an
 * updating output finds its input through a map, not a scan of the inputs.
 *
 * `inferredFrom`: nodes from this index on had their output types made by their op's shape rule
 * as they were emitted (GraphBuilder.emitMulti, from the same immutable value types), so the
 * rule is not run a second time for them; every other check still is.
 */
export function checkGraph(g: Graph, inferredFrom = Infinity): Graph {
  const defined = new Array<boolean>(g.values.length).fill(false);
  const fail = (msg: string): never => { throw new GraphError(msg); };
  const ref = (v: V, where: () => string) => {
    if (v >= g.values.length) fail(`${where()}: value ${v} does not exist (graph has ${g.values.length})`);
    return v;
  };
  g.values.forEach((v, i) => {
    if (v.shape.length > MAX_RANK) fail(`values[${i}]: a rank-${v.shape.length} tensor; at most ${MAX_RANK} axes`);
    if (size(v.shape) > MAX_ELEMENTS) fail(`values[${i}]: ${fmtType(v)} exceeds ${MAX_ELEMENTS} elements`);
  });
  const unique = (names: readonly string[], what: string) => {
    const seen = new Set<string>();
    for (const n of names) { if (seen.has(n)) fail(`${what} name ${JSON.stringify(n)} appears twice`); seen.add(n); }
  };
  unique(g.inputs.map((i) => i.name), "input");
  unique(g.outputs.map((o) => o.name), "output");
  g.inputs.forEach((inp, i) => {
    if (defined[ref(inp.value, () => `inputs[${i}]`)]) fail(`inputs[${i}]: value ${inp.value} defined twice`);
    defined[inp.value] = true;
  });
  g.nodes.forEach((n, i) => {
    const where = () => `nodes[${i}] ${n.op}`;
    const def = ops[n.op];
    if (def.arity !== null && n.inputs.length !== def.arity) fail(`${where()}: expected ${def.arity} inputs, got ${n.inputs.length}`);
    for (const v of n.inputs) if (!defined[ref(v, where)]) fail(`${where()}: uses value ${v} before it is defined`);
    const want = i >= inferredFrom ? n.outputs.map((v) => g.values[v]!) : (def.shapes as (ins: readonly ValueType[], a: unknown) => readonly ValueType[])(n.inputs.map((v) => g.values[v]!), n.attrs);
    if (n.outputs.length !== want.length) fail(`${where()}: expected ${want.length} outputs, got ${n.outputs.length}`);
    n.outputs.forEach((v, k) => {
      if (defined[ref(v, where)]) fail(`${where()}: value ${v} defined twice`);
      const got = g.values[v]!;
      if (want[k]!.dtype !== got.dtype || !sameShape(want[k]!.shape, got.shape)) {
        fail(`${where()}: declares ${fmtType(got)} but the shape rule gives ${fmtType(want[k]!)}`);
      }
      defined[v] = true;
    });
  });
  const inputsByName = new Map(g.inputs.map((x) => [x.name, x]));
  g.outputs.forEach((o, i) => {
    if (!defined[ref(o.value, () => `outputs[${i}]`)]) fail(`outputs[${i}]: value ${o.value} is never defined`);
    // An output that updates an input (parameter, state, optimizer buffer) must fit it exactly.
    const named = UPDATABLE.has(o.kind) ? inputsByName.get(o.name) : undefined;
    const target = named?.kind === o.kind ? named : undefined;
    if (target) {
      const want = g.values[target.value]!, got = g.values[o.value]!;
      if (want.dtype !== got.dtype || !sameShape(want.shape, got.shape)) {
        fail(`outputs[${i}] ${JSON.stringify(o.name)}: updates an input of type ${fmtType(want)} with ${fmtType(got)}`);
      }
    }
  });
  return g;
}

/** Graph → plain JSON-able data. */
export const encodeGraph = (g: Graph): unknown => GraphC.encode(g as t.TypeOf<typeof GraphC>);

/** JSON data → checked graph, or a DecodeError with the path of the first bad field. */
export function decodeGraph(json: unknown): Graph {
  const r = GraphC.decode(json);
  if (either.isLeft(r)) throw new DecodeError(`invalid IR graph: ${report(r.left)}`);
  try {
    return checkGraph(r.right);
  } catch (e) {
    if (e instanceof GraphError) throw new DecodeError(`invalid IR graph: ${e.message}`);
    throw e;
  }
}
