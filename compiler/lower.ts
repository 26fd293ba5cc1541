/**
 * Lowering: a graph becomes a program the runtime can run — one buffer per value (the reference
 * plan; issue-3 memory planning shares them), one kernel call per node. Outputs that update an
 * input of the same name and kind (parameters, state, optimizer buffers) become copy-backs.
 */
import type { Instr, Program } from "../runtime/program.js";
import { UPDATABLE, type Graph } from "./ir/graph.js";
import { size, type V, type ValueType } from "./ir/types.js";
import { ops } from "./ops/index.js";
import type { Lowered } from "./ops/def.js";
import type { MemoryPlan } from "./plan.js";


/**
 * Lower with a memory plan: buffers placed at their planned offsets, updates planned in place
 * need no copy-back.
 */
export function lowerPlanned(g: Graph, plan: MemoryPlan): Program {
  const p = lower(g);
  return {
    ...p,
    buffers: p.buffers.map((b, v) => {
      const off = plan.offsets[v], ext = plan.external[v];
      return ext !== null && ext !== undefined ? { ...b, external: ext } : off !== null && off !== undefined ? { ...b, offset: off } : b;
    }),
    updates: p.updates.filter((u) => plan.external[u.from] === null),
    scratchBytes: plan.scratchBytes,
  };
}

export function lower(g: Graph): Program {
  const steps = g.nodes.map((n) => {
    const lowerNode = ops[n.op].lower as (a: unknown, ins: readonly ValueType[], outs: readonly ValueType[]) => Lowered;
    const l = lowerNode(n.attrs, n.inputs.map((v) => g.values[v]!), n.outputs.map((v) => g.values[v]!));
    const step: Instr = { kernel: l.kernel, args: [...n.inputs, ...n.outputs], params: l.params };
    // A generated kernel's source stays unwritten until read (planned programs run its wasm).
    const source = Object.getOwnPropertyDescriptor(l, "source");
    if (source?.get) Object.defineProperty(step, "source", { get: source.get, enumerable: true, configurable: true });
    else if (source?.value !== undefined) Object.assign(step, { source: source.value as string });
    return l.wasm === undefined ? step : Object.assign(step, { wasm: l.wasm });
  });
  // An output updates the first input of its name and kind (a map, not a scan per output).
  const inputsByKey = new Map<string, V>();
  for (const i of g.inputs) if (!inputsByKey.has(`${i.kind}:${i.name}`)) inputsByKey.set(`${i.kind}:${i.name}`, i.value);
  const updates = g.outputs.flatMap((o) => {
    const to = UPDATABLE.has(o.kind) ? inputsByKey.get(`${o.kind}:${o.name}`) : undefined;
    return to === undefined ? [] : [{ from: o.value, to }];
  });
  return {
    buffers: g.values.map((v) => ({ length: size(v.shape), dtype: v.dtype })),
    steps,
    inputs: g.inputs.map((i) => ({ name: i.name, buffer: i.value })),
    outputs: g.outputs.map((o) => ({ name: o.name, buffer: o.value })),
    updates,
  };
}
