/**
 * A fused elementwise kernel as a WebAssembly SIMD module: one exported function `fused(in0, …,
 * out0, …)` taking the byte offsets of its inputs and outputs in the imported `env.memory`; for a
 * loop without sums or checks also `fusedPart(in0, …, out0, …, lo, hi)`, one part of it for a
 * thread, and the constants fusedSplit, fusedUnit and fusedWork that say how it splits (splitOf).
 *
 * The spec holds numbers and op names only (shape, strides, ops, constants); each op's lowering
 * comes from the table the compiler passes (FusedLowering), so the module is a pure function of
 * the spec and that table. Semantics are those of the unfused graph, op by op in float32: each
 * code result is rounded to float32, constants are float32 (as the `constant` op's buffer). The generated JavaScript
 * kernel instead keeps intermediates in float64 and rounds on store, so chains of ops may differ
 * from it by a few float32 roundings.
 *
 * Loop nest: the domain's dimensions are first coalesced (adjacent dimensions merge when every
 * operand is contiguous across them), then rows of the innermost dimension run as
 *   [head: scalar until the flat index is a multiple of 4, only with masks] [f32x4 body] [scalar tail]
 * when every operand's inner stride is 0 (splat once per row) or 1; otherwise a scalar strided
 * loop. Rows shorter than a vector (2 or 3 elements; no masks, no sums) run with the dimension
 * above them as one row of vectors instead (fused-gather.ts). Scalar inputs are loaded once. All
 * inputs of an element group are loaded before any output is stored, so an output may share an
 * input's buffer (in-place updates).
 */
import { ModuleBuilder } from "./builder.js";
import { f32, forRange, get, i32, i32x4, set, stmt, v128, type Expr, type Local, type Stmt, type ValType } from "./emit.js";
import { bind, scalarLanes, vecLanes, type AnyLanes, type FLanes, type ScalarLanes, type VecLanes, type Valued } from "./fused-lanes.js";
import type { LaneType } from "./lanes.js";
import { maskQuad, maskScalar, maskState, maskVector, type MaskState } from "./fused-philox.js";
import { BLOCK, keptStart, sumState, UNROLL } from "./fused-sums.js";
import { coalesce, fail, FUSED_DTYPE, isIndex, splitOf, validate, type FusedSpec, type FusedTable } from "./fused-spec.js";
import { chunkOf, elementOffset, gather, smallKind } from "./fused-gather.js";

export { FUSED_DTYPE, type FusedLowering, type FusedSpec, type FusedTable } from "./fused-spec.js";

/** The longest code (ops) a loop over rows of 2 or 3 runs as vectors with (see `small`). */
const SMALL_ROW_MAX_CODE = 200;

/**
 * `check` (checkNumerics, src/numerics-kernels.ts): positions in spec.outputs whose values the
 * kernel also checks as it stores them — it then returns 1 if all were finite, else 0. v − v is
 * +0 (all bits 0) for finite v and NaN otherwise, so the bitwise or of every v − v is 0 exactly
 * when all were finite: an or is one cycle, where a sum's chain would pace the loop (W7's update
 * kernels ran ~25% slower with a float sum). Without `check` the module's bytes are unchanged.
 */
export function emitFusedElementwise(spec: FusedSpec, table: FusedTable, check: readonly number[] = []): Uint8Array {
  validate(spec, table);
  const sumSpecs = spec.sums ?? [];
  if (!check.every((o) => isIndex(o, spec.outputs.length + sumSpecs.length))) fail("bad checked output");
  const m = new ModuleBuilder();
  m.importMemory("env", "memory", 1);
  const k = spec.inputs.length, nOut = spec.outputs.length;
  // The loop nest, the same for the whole call and its parts.
  const barriers = new Set(sumSpecs.flatMap((x) => keptStart(spec.shape, x.cols, fail) ?? []));
  const { dims, strides } = coalesce(spec.shape, spec.inputs.map((x) => x.strides), barriers);
  const rank = dims.length, n = dims[rank - 1]!;
  // Slots some output depends on (others are dead code).
  const live = new Set<number>([...spec.outputs, ...sumSpecs.map((x) => x.slot)]);
  for (let j = spec.code.length - 1; j >= 0; j--) if (live.has(k + j)) spec.code[j]!.args.forEach((a) => live.add(a));
  const maskArg = new Set(spec.code.flatMap((c, j) => (c.op === "mask" && live.has(k + j) ? [c.args[0]!] : [])));
  const read = spec.inputs.map((_x, j) => live.has(j) && spec.code.some((c, q) => live.has(k + q) && c.op !== "mask" && c.args.includes(j)) || spec.outputs.includes(j) || sumSpecs.some((x) => x.slot === j));
  const isScalar = (j: number) => strides[j]!.every((st) => st === 0);
  const inner = (j: number) => strides[j]![rank - 1]!;
  const vectorize = n >= 4 && spec.inputs.every((_x, j) => !read[j] || isScalar(j) || inner(j) <= 1);
  const hasMask = maskArg.size > 0;
  // Rows shorter than a vector: the last two dimensions as one row, in chunks (fused-gather.ts).
  // Its code is emitted up to 3 + 9 times (vectors of a chunk, an unrolled tail): long loops stay scalar.
  const small = rank >= 2 && n < 4 && !hasMask && sumSpecs.length === 0 && spec.code.length <= SMALL_ROW_MAX_CODE
    && spec.inputs.every((x, j) => !read[j] || isScalar(j) || x.dtype === FUSED_DTYPE.f32);
  const rowDims = small ? 2 : 1, rowLen = small ? dims[rank - 2]! * n : n;
  const kind = (j: number) => smallKind(strides[j]![rank - 2]!, inner(j), n);
  const needHead = vectorize && hasMask && rank > 1 && n % 4 !== 0;
  emit("fused", false);
  // A loop without sums or checks may run in parts, one per thread (see splitOf).
  // (A small-row loop of rank 2 is one row: no outer dimension to split.)
  const split = sumSpecs.length === 0 && check.length === 0 && !(small && rank === 2) ? splitOf(spec, dims) : null;
  if (split) {
    emit("fusedPart", true);
    for (const [name, value] of [["fusedSplit", split.extent], ["fusedUnit", split.unit], ["fusedWork", split.work]] as const) {
      m.func(name, [], ["i32"]).body(stmt(i32.const(value)));
    }
  }
  return m.encode();

  /** The function `name`: the whole domain, or (part) the split axis's range [lo, hi) (its last two parameters). */
  function emit(name: string, part: boolean): void {
    const f = m.func(name, Array<ValType>(k + nOut + sumSpecs.length + (part ? 2 : 0)).fill("i32"), check.length ? ["i32"] : []);
    const params = f.i32Params().slice(0, k + nOut + sumSpecs.length);
    const [lo, hi] = part ? f.i32Params().slice(-2) as [Local<"i32">, Local<"i32">] : [undefined, undefined];
    // Declared only when checking: an unchecked module keeps its bytes.
    const acc = check.length ? { v: f.local("v128"), s: f.local("i32") } : null;
    const sums = sumState(f, sumSpecs, params.slice(k + nOut));
    // Checks of the sums read their outputs once they are final (checked positions after the outputs).
    const sumChecks = check.filter((o) => o >= nOut).flatMap((o) => sums.check(o - nOut, acc!.s));
    if (spec.shape.some((d) => d === 0)) {
      // No element: sums are 0 (times the scale, as the unfused reductions).
      f.body(...sums.prologue, ...sums.epilogue, ...(check.length ? [...sumChecks, stmt(i32.eqz(get(acc!.s)))] : []));
      return;
    }

    const S = scalarLanes(f), V = vecLanes(f);
    const prologue: Stmt[] = [];
    // Loop-invariant inputs: one f32 local and its splat (scalars once, row-broadcast inputs per row).
    const fixed = new Map<number, { s: Local<"f32">; v: Local<"v128"> }>();
    const loadFloat = (j: number, addr: Expr<"i32">) => (spec.inputs[j]!.dtype === FUSED_DTYPE.i32 ? S.loadInt(addr) : S.load(addr));
    const fix = (j: number, addr: Expr<"i32">): Stmt[] => {
      const l = { s: f.local("f32"), v: f.local("v128") };
      fixed.set(j, l);
      return [set(l.s, loadFloat(j, addr)), set(l.v, V.splat(get(l.s)))];
    };
    spec.inputs.forEach((_x, j) => { if (read[j] && isScalar(j)) prologue.push(...fix(j, get(params[j]!))); });
    const steps = new Map<number, Local<"i32">>();
    for (const j of maskArg) {
      const l = f.local("i32");
      steps.set(j, l);
      prologue.push(set(l, i32.load(get(params[j]!))));
    }
    const masks = new Map<number, MaskState>();
    spec.code.forEach((c, q) => {
      if (c.op !== "mask" || !live.has(k + q)) return;
      const [p, seed, stream] = c.num as [number, number, number];
      const st = maskState(f, steps.get(c.args[0]!)!, p, seed, stream);
      masks.set(q, st);
      prologue.push(set(st.block, i32.const(-1)));
    });

    // Row state: each read input's byte address at the row start, the outputs' too, the row's flat index.
    const rowPtr = params.map(() => f.local("i32"));
    const rowIdx = f.local("i32"), col = f.local("i32"), off = f.local("i32"), idx = f.local("i32");
    const outer = dims.slice(0, -rowDims).map(() => f.local("i32"));

    /**
     * One element group (4 lanes or 1) at column `col`: loads, the code in SSA order, stores, sums
     * (into accumulator u of a total). `quad`: the group's place in a run of four whose masks
     * maskQuad computed.
     */
    function group<F extends LaneType, I extends ValType>(L: FLanes<F, I>, quad?: number, u = 0, custom?: (j: number) => Expr<F> | undefined): Stmt[] {
      const vec = L.width === 4;
      const out: Stmt[] = [set(off, i32.shl(get(col), i32.const(2)))];
      if (hasMask && quad === undefined) out.push(set(idx, i32.add(get(rowIdx), get(col))));
      const val = new Map<number, () => Expr<F>>();
      spec.inputs.forEach((inp, j) => {
        if (!read[j]) return;
        const fx = fixed.get(j);
        if (fx) { val.set(j, () => get((vec ? fx.v : fx.s) as Local<F>)); return; }
        const s = inner(j), given = custom?.(j);
        const addr = s === 1 ? i32.add(get(rowPtr[j]!), get(off)) : i32.add(get(rowPtr[j]!), i32.mul(get(col), i32.const(4 * s)));
        const b = bind(L, given ?? (inp.dtype === FUSED_DTYPE.i32 ? L.loadInt(addr) : L.load(addr)));
        out.push(b.set);
        val.set(j, b.get);
      });
      spec.code.forEach((c, q) => {
        if (!live.has(k + q)) return;
        const args = c.args.map((slot) => () => val.get(slot)!());
        const r = quad !== undefined && c.op === "mask" ? { setup: [], value: get(masks.get(q)!.quadValues[quad]!) as Expr<F> } : op(L, c.op, c.num, args, masks.get(q));
        const l = bind(L, r.value);
        out.push(...r.setup, l.set);
        val.set(k + q, l.get);
      });
      spec.outputs.forEach((s, o) => out.push(L.store(i32.add(get(rowPtr[k + o]!), get(off)), val.get(s)!())));
      out.push(...sums.add(L, (s) => val.get(s)!(), get(off), u));
      const a = (vec ? acc?.v : acc?.s) as Local<I>;
      for (const o of check.filter((x) => x < nOut)) out.push(set(a, L.ior(get(a), L.bits(L.sub(val.get(spec.outputs[o]!)!(), val.get(spec.outputs[o]!)!())))));
      return out;
    }

    function op<F extends LaneType, I extends ValType>(L: FLanes<F, I>, code: string, num: readonly number[], args: readonly (() => Expr<F>)[], mask: MaskState | undefined): Valued<F> {
      if (code === "const") return { setup: [], value: L.const(Math.fround(num[0]!)) };
      if (code === "mask") {
        return (L.width === 4 ? maskVector(L as unknown as VecLanes, mask!, get(idx)) : maskScalar(L as unknown as ScalarLanes, mask!, idx)) as unknown as Valued<F>;
      }
      return table[code]!.lower(L, args, num);
    }

    const loopOver = (from: Expr<"i32">, to: Expr<"i32">, L: AnyLanes): Stmt => forRange(col, from, to, L.width, ...group(L as FLanes<LaneType, ValType>));
    /**
     * Vectors over columns [from, to) (pure expressions; flat index of `from` ≡ 0 mod 4). With masks,
     * runs of 16 columns first: their four Philox blocks are computed side by side (maskQuad).
     */
    function vectors(from: Expr<"i32">, to: Expr<"i32">): Stmt[] {
      if (!hasMask && sumSpecs.length === 0) return [loopOver(from, to, V)];
      // Runs of four vectors: each mask's four Philox blocks side by side, each total's four
      // accumulators (column sums: fewer loop trips, 5-10% faster in a microbenchmark).
      const q = f.local("i32"), next = set(col, i32.add(get(col), i32.const(4)));
      const quads = [...masks.values()].flatMap((st) => maskQuad(V, st, i32.add(get(rowIdx), get(col))));
      const run = Array.from({ length: UNROLL }, (_, u) => [...(u ? [next] : []), ...group(V, hasMask ? u : undefined, u)]).flat();
      return [
        set(q, i32.add(from, i32.and(i32.sub(to, from), i32.const(-4 * UNROLL)))),
        forRange(col, from, get(q), 4, ...quads, ...run),
        loopOver(get(q), to, V),
      ];
    }
    /** vectors() in blocks of BLOCK columns when there are totals (their lanes flushed into float64 after each). */
    function blocks(from: Expr<"i32">, to: Expr<"i32">): Stmt[] {
      if (!sums.totals) return vectors(from, to);
      const b = f.local("i32"), end = f.local("i32");
      return [forRange(b, from, to, BLOCK,
        set(end, i32.min_s(i32.add(get(b), i32.const(BLOCK)), to)),
        ...sums.blockStart, ...vectors(get(b), get(end)), ...sums.blockEnd)];
    }
    function row(): Stmt[] {
      const body: Stmt[] = [];
      spec.inputs.forEach((_x, j) => {
        if (!read[j] || isScalar(j)) return;
        let addr: Expr<"i32"> = get(params[j]!);
        outer.forEach((d, q) => { if (strides[j]![q]) addr = i32.add(addr, i32.mul(get(d), i32.const(4 * strides[j]![q]!))); });
        body.push(set(rowPtr[j]!, addr));
      });
      for (let o = 0; o < nOut; o++) body.push(set(rowPtr[k + o]!, i32.add(get(params[k + o]!), i32.shl(get(rowIdx), i32.const(2)))));
      body.push(...sums.row(get(rowIdx)));
      // Row-broadcast inputs (inner stride 0): one load per row.
      spec.inputs.forEach((_x, j) => { if (read[j] && !isScalar(j) && (small ? kind(j) === "fixed" : inner(j) === 0)) body.push(...fix(j, get(rowPtr[j]!))); });
      if (small) return [...body, ...smallRow()];
      // A part of a one-dimensional domain: elements [lo, hi), lo a multiple of 16 (splitOf).
      const from = rank === 1 && lo ? get(lo) : i32.const(0), to = rank === 1 && hi ? get(hi) : i32.const(n);
      if (!vectorize) return [...body, loopOver(from, to, S)];
      if (!needHead) {
        const to4 = rank === 1 && hi ? i32.and(get(hi), i32.const(-4)) : i32.const(n & -4);
        return [...body, ...blocks(from, to4), loopOver(to4, to, S)];
      }
      // Head up to the next flat index ≡ 0 (mod 4), so each vector is exactly one Philox block.
      const head = f.local("i32"), end = f.local("i32");
      return [
        ...body,
        set(head, i32.min_s(i32.const(n), i32.and(i32.sub(i32.const(0), get(rowIdx)), i32.const(3)))),
        set(end, i32.add(get(head), i32.and(i32.sub(i32.const(n), get(head)), i32.const(-4)))),
        loopOver(i32.const(0), get(head), S),
        ...blocks(get(head), get(end)),
        loopOver(get(end), i32.const(n), S),
      ];
    }
    /** A row of m·n elements (n < 4): chunks of P = lcm(n, 4) as P/4 vectors, then the scalar tail. */
    function smallRow(): Stmt[] {
      const P = chunkOf(n), perChunk = P / n, m = dims[rank - 2]!, chunks = Math.floor(m / perChunk);
      const ins = spec.inputs.map((_x, j) => j).filter((j) => read[j] && !fixed.has(j) && kind(j) !== "flat");
      const start = f.local("i32"), out: Stmt[] = [];
      const ab = (j: number) => [strides[j]![rank - 2]!, inner(j), n] as const;
      const lanes = (j: number, v: number) => [0, 1, 2, 3].map((l) => elementOffset(...ab(j), 4 * v + l));
      // Periodic inputs: the chunk's P floats once a row; gathered inputs: a pointer per chunk.
      const pattern = new Map<number, Local<"v128">[]>(), ptr = new Map<number, Local<"i32">>();
      for (const j of ins) {
        if (kind(j) === "periodic") {
          const ls = Array.from({ length: P / 4 }, () => f.local("v128"));
          pattern.set(j, ls);
          ls.forEach((l, v) => out.push(set(l, gather(get(rowPtr[j]!), lanes(j, v)))));
        } else {
          const l = f.local("i32");
          ptr.set(j, l);
          out.push(set(l, get(rowPtr[j]!)));
        }
      }
      const vectors = Array.from({ length: P / 4 }, (_, v) => [
        set(col, i32.add(get(start), i32.const(4 * v))),
        ...group(V, undefined, 0, (j) => (pattern.has(j) ? get(pattern.get(j)![v]!) : ptr.has(j) ? gather(get(ptr.get(j)!), lanes(j, v)) : undefined)),
      ]).flat();
      const bumps = [...ptr].map(([j, l]) => set(l, i32.add(get(l), i32.const(4 * strides[j]![rank - 2]! * perChunk))));
      if (chunks > 0) out.push(forRange(start, i32.const(0), i32.const(chunks * P), P, ...vectors, ...bumps));
      // The tail: rows chunks·P/n … m−1, each element at a constant offset from the row's start.
      for (let t = chunks * P; t < m * n; t++) {
        out.push(set(col, i32.const(t)), ...group(S, undefined, 0, (j) => (ins.includes(j) ? f32.load(get(rowPtr[j]!), elementOffset(...ab(j), t)) : undefined)));
      }
      return out;
    }
    // Outer dimensions as nested loops; the row's flat index advances by its length per row.
    // A part of a domain of rank ≥ 2: rows [lo, hi) of the outermost dimension, whose flat index
    // starts at lo times the elements below it.
    let nest: Stmt[] = [...row(), set(rowIdx, i32.add(get(rowIdx), i32.const(rowLen)))];
    for (let d = rank - 1 - rowDims; d >= 0; d--) {
      const range = d === 0 && lo && hi ? [get(lo), get(hi)] : [i32.const(0), i32.const(dims[d]!)];
      nest = [forRange(outer[d]!, range[0]!, range[1]!, 1, ...nest)];
    }
    const below = dims.slice(1).reduce((a, b) => a * b, 1);
    const firstIdx = rank > 1 && lo ? i32.mul(get(lo), i32.const(below)) : i32.const(0);
    if (!check.length) f.body(...prologue, ...sums.prologue, set(rowIdx, firstIdx), ...nest, ...sums.epilogue);
    else {
      const { v, s } = acc!, lane = (l: number) => i32x4.extract_lane(get(v), l);
      const any = i32.or(i32.or(i32.or(lane(0), lane(1)), i32.or(lane(2), lane(3))), get(s));
      f.body(set(v, v128.zero()), set(s, i32.const(0)), ...prologue, ...sums.prologue, set(rowIdx, i32.const(0)), ...nest, ...sums.epilogue, ...sumChecks, stmt(i32.eqz(any)));
    }
  }
}
