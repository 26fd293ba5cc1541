/**
 * Memory planning: every value of a program gets a byte offset in one scratch region, reused as
 * soon as the value is dead (liveness over the node order), with best-fit placement in a free
 * list. Values bound outside the program (parameters, state, optimizer buffers) take no scratch;
 * an output that updates one of them is written straight into it when its producer is
 * elementwise and is the input's last reader — parameters are updated in place, no copy.
 */
import { alignUp } from "../runtime/arena.js";
import { UPDATABLE, type Graph } from "./ir/graph.js";
import { size, type V } from "./ir/types.js";
import { ops } from "./ops/index.js";

export interface MemoryPlan {
  /** Byte offset of each value in the scratch region, or null when the value lives outside it. */
  readonly offsets: readonly (number | null)[];
  /** For values stored in an external buffer: the input whose buffer they use. */
  readonly external: readonly (string | null)[];
  readonly scratchBytes: number;
  /** What one buffer per value would take (the unplanned figure, for comparison). */
  readonly unplannedBytes: number;
}


/** Best-fit free list over [0, end): blocks kept sorted by offset and merged when adjacent. */
class FreeList {
  private blocks: { offset: number; bytes: number }[] = [];
  end = 0;

  take(bytes: number): number {
    let best = -1;
    this.blocks.forEach((b, i) => { if (b.bytes >= bytes && (best < 0 || b.bytes < this.blocks[best]!.bytes)) best = i; });
    if (best < 0) {
      // Grow the region, absorbing a free block that touches its end.
      const last = this.blocks[this.blocks.length - 1];
      if (last && last.offset + last.bytes === this.end) {
        this.blocks.pop();
        this.end = last.offset + bytes;
        return last.offset;
      }
      const offset = this.end;
      this.end += bytes;
      return offset;
    }
    const b = this.blocks[best]!;
    const offset = b.offset;
    if (b.bytes === bytes) this.blocks.splice(best, 1);
    else { b.offset += bytes; b.bytes -= bytes; }
    return offset;
  }

  give(offset: number, bytes: number): void {
    let i = 0;
    while (i < this.blocks.length && this.blocks[i]!.offset < offset) i++;
    this.blocks.splice(i, 0, { offset, bytes });
    // Merge with the following and the preceding block when they touch.
    const next = this.blocks[i + 1];
    if (next && offset + bytes === next.offset) { this.blocks[i]!.bytes += next.bytes; this.blocks.splice(i + 1, 1); }
    const prev = this.blocks[i - 1];
    if (prev && prev.offset + prev.bytes === offset) { prev.bytes += this.blocks[i]!.bytes; this.blocks.splice(i, 1); }
  }
}

export function planMemory(g: Graph): MemoryPlan {
  const bytesOf = (v: V) => alignUp(size(g.values[v]!.shape) * 4);
  const offsets: (number | null)[] = new Array(g.values.length).fill(null);
  const external: (string | null)[] = new Array(g.values.length).fill(null);
  const end = g.nodes.length;
  const lastUse = new Array<number>(g.values.length).fill(-1);
  g.nodes.forEach((n, i) => n.inputs.forEach((v) => { lastUse[v] = i; }));
  for (const o of g.outputs) lastUse[o.value] = end;
  // An update output aliases its external input only if nothing reads that input afterwards.
  // (the first input of the output's name and kind, found through a map: a scan per output
  // was quadratic in the parameter count)
  const updatable = new Map<string, string>();
  for (const i of g.inputs) if (UPDATABLE.has(i.kind) && !updatable.has(`${i.kind}:${i.name}`)) updatable.set(`${i.kind}:${i.name}`, i.name);
  const updates = new Map<V, string>();
  for (const o of g.outputs) {
    const target = updatable.get(`${o.kind}:${o.name}`);
    if (target !== undefined) updates.set(o.value, target);
  }
  const inputOf = new Map(g.inputs.map((i) => [i.value, i]));

  const free = new FreeList();
  const refs = new Map<number, number>(); // offset → number of values sharing it (in-place chains)
  const place = (v: V, offset: number) => { offsets[v] = offset; refs.set(offset, (refs.get(offset) ?? 0) + 1); };
  const release = (v: V) => {
    const off = offsets[v];
    if (off === null || off === undefined) return;
    const left = refs.get(off)! - 1;
    refs.set(off, left);
    if (left === 0) free.give(off, bytesOf(v));
  };

  for (const i of g.inputs) {
    if (UPDATABLE.has(i.kind)) external[i.value] = i.name;
    else place(i.value, free.take(bytesOf(i.value)));
  }
  g.nodes.forEach((n, idx) => {
    const def = ops[n.op];
    const used = new Set<V>();
    const inPlace = def.elementwise ? def.inPlaceOutputs?.(n.attrs as never) ?? n.outputs.length : 0;
    for (const [j, v] of n.outputs.entries()) {
      const shape = g.values[v]!.shape;
      // Inputs this output could overwrite: same shape and dtype, dying at this node.
      const candidates = j < inPlace
        ? n.inputs.filter((u) => !used.has(u) && lastUse[u] === idx && g.values[u]!.dtype === g.values[v]!.dtype
          && size(g.values[u]!.shape) === size(shape) && g.values[u]!.shape.length === shape.length)
        : [];
      const target = updates.get(v);
      const ext = target !== undefined ? candidates.find((u) => external[u] === target) : undefined;
      if (ext !== undefined) {
        external[v] = target!;
        used.add(ext);
        continue;
      }
      const reuse = candidates.find((u) => offsets[u] !== null && !inputOf.has(u));
      if (reuse !== undefined && !updates.has(v)) {
        used.add(reuse);
        place(v, offsets[reuse]!);
        continue;
      }
      place(v, free.take(bytesOf(v)));
    }
    for (const u of new Set(n.inputs)) if (lastUse[u] === idx) release(u);
    // Outputs nobody reads die at once.
    for (const v of n.outputs) if (lastUse[v] === -1) release(v);
  });
  const unplannedBytes = g.values.reduce((s, _t, v) => s + (external[v] === null ? bytesOf(v) : 0), 0);
  return { offsets, external, scratchBytes: free.end, unplannedBytes };
}
