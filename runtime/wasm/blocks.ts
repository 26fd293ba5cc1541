/**
 * WebAssembly kernels of the block-moving ops (slice, pad, concat, broadcast, transpose, tril) and
 * of one_hot (the max reduction is in max.ts), one module per call site with every size inlined,
 * exporting `fused(in0, …, out)` over byte offsets in the imported memory (run like the fused
 * elementwise modules, runtime/wasm/fused-run.ts). Specs hold integers only.
 */
import { ModuleBuilder } from "./builder.js";
import { block, br, brIf, f32, f32x4, forRange, get, i32, loop, set, v128, when, type Expr, type Local, type Stmt } from "./emit.js";

const isCount = (x: unknown) => typeof x === "number" && Number.isInteger(x) && x >= 0 && x < 2 ** 30;
const fail = (what: string): never => { throw new Error(`blocks: ${what}`); };

/**
 * Output block o (of `outer`, `dstStride` floats each) is assembled from pieces: `width` floats
 * copied from input `src` at o·srcStride + srcOffset (or zeros when src is −1) to dstOffset.
 */
export interface BlockSpec {
  readonly inputs: number;
  readonly outer: number;
  readonly dstStride: number;
  readonly pieces: readonly { readonly src: number; readonly srcOffset: number; readonly srcStride: number; readonly dstOffset: number; readonly width: number }[];
}

const addr = (base: Local<"i32">, floats: Expr<"i32">): Expr<"i32"> => i32.add(get(base), i32.shl(floats, i32.const(2)));

/** Copy (or zero) `width` floats, four at a time then one at a time. */
function copyRun(j: Local<"i32">, width: number, dst: (k: Expr<"i32">) => Expr<"i32">, src: ((k: Expr<"i32">) => Expr<"i32">) | null): Stmt[] {
  const w4 = width & -4;
  return [
    forRange(j, i32.const(0), i32.const(w4), 4, v128.store(dst(get(j)), src ? v128.load(src(get(j))) : f32x4.const(0))),
    forRange(j, i32.const(w4), i32.const(width), 1, f32.store(dst(get(j)), src ? f32.load(src(get(j))) : f32.const(0))),
  ];
}

export function emitBlocks(s: BlockSpec): Uint8Array {
  if (!isCount(s.inputs) || !isCount(s.outer) || !isCount(s.dstStride)) fail("bad sizes");
  for (const p of s.pieces) {
    if (!(p.src === -1 || (Number.isInteger(p.src) && p.src >= 0 && p.src < s.inputs))) fail("bad piece source");
    if (![p.srcOffset, p.srcStride, p.dstOffset, p.width].every(isCount) || p.dstOffset + p.width > s.dstStride) fail("bad piece");
  }
  const m = new ModuleBuilder();
  m.importMemory("env", "memory", 1);
  const f = m.func("fused", Array<"i32">(s.inputs + 1).fill("i32"));
  const params = f.i32Params(), out = params[s.inputs]!;
  const o = f.local("i32"), j = f.local("i32"), srcRow = f.local("i32"), dstRow = f.local("i32");
  const body: Stmt[] = [set(dstRow, i32.add(get(out), i32.mul(get(o), i32.const(4 * s.dstStride))))];
  for (const p of s.pieces) {
    if (p.width === 0) continue;
    const dst = (k: Expr<"i32">) => addr(dstRow, i32.add(k, i32.const(p.dstOffset)));
    if (p.src === -1) { body.push(...copyRun(j, p.width, dst, null)); continue; }
    body.push(set(srcRow, i32.add(get(params[p.src]!), i32.mul(get(o), i32.const(4 * p.srcStride)))));
    body.push(...copyRun(j, p.width, dst, (k) => addr(srcRow, i32.add(k, i32.const(p.srcOffset)))));
  }
  f.body(forRange(o, i32.const(0), i32.const(s.outer), 1, ...body));
  return m.encode();
}

/**
 * y = x read at strides, y viewed as runs [d0, …, dk] and x read at Σ ij·sj: a broadcast
 * (compiler/ops/broadcast_to.ts merges the dimensions into as few runs as the layout allows:
 * three or fewer for every broadcast of a rank-2 tensor; sk ∈ {0, 1}) or a transpose
 * (compiler/ops/transpose.ts: permuted strides). A loop per outer run, and each row of dk floats
 * a copy of x (sk = 1) or one x value splatted (sk = 0), four at a time, or x gathered at stride
 * sk (a transpose that moves the last axis).
 */
export function emitBroadcast(d: readonly number[], s: readonly number[]): Uint8Array {
  if (d.length === 0 || d.length !== s.length || ![...d, ...s].every(isCount)) fail("bad broadcast view");
  const m = new ModuleBuilder();
  m.importMemory("env", "memory", 1);
  const f = m.func("fused", ["i32", "i32"]);
  const [x, y] = f.i32Params() as [Local<"i32">, Local<"i32">];
  const outer = d.slice(0, -1).map(() => f.local("i32"));
  const j = f.local("i32"), src = f.local("i32"), dst = f.local("i32"), v = f.local("v128");
  const at = (base: Local<"i32">, floats: Expr<"i32">) => i32.add(get(base), i32.shl(floats, i32.const(2)));
  const n = d.at(-1)!, n4 = n & -4;
  const sk = s.at(-1)!;
  const row: Stmt[] = sk === 1
    ? copyRun(j, n, (k) => at(dst, k), (k) => at(src, k))
    : sk > 1
    ? [forRange(j, i32.const(0), i32.const(n), 1, f32.store(at(dst, get(j)), f32.load(at(src, i32.mul(get(j), i32.const(sk))))))]
    : [
      set(v, f32x4.splat(f32.load(get(src)))),
      forRange(j, i32.const(0), i32.const(n4), 4, v128.store(at(dst, get(j)), get(v))),
      forRange(j, i32.const(n4), i32.const(n), 1, f32.store(at(dst, get(j)), f32.load(get(src)))),
    ];
  // x's offset of the row: Σ over the outer runs of index · stride (in floats).
  const offset = outer.reduce<Expr<"i32">>((acc, i, k) => i32.add(acc, i32.mul(get(i), i32.const(s[k]!))), i32.const(0));
  const inner: Stmt[] = [set(src, at(x, offset)), ...row, set(dst, i32.add(get(dst), i32.const(4 * n)))];
  const loops = outer.reduceRight<Stmt[]>((body, i, k) => [forRange(i, i32.const(0), i32.const(d[k]!), 1, ...body)], inner);
  f.body(set(dst, get(y)), ...loops);
  return m.encode();
}

/**
 * y[r, c] = 1 if labels[r] = c else 0, for `rows` int32 labels and `classes` columns (one_hot):
 * each row zeroed four floats at a time, then one 1 stored where the label is in range (an
 * unsigned compare: a negative label is out of range too, and its row stays zeros).
 */
export function emitOneHot(rows: number, classes: number): Uint8Array {
  if (!isCount(rows) || !isCount(classes) || classes < 1) fail("bad one-hot sizes");
  const m = new ModuleBuilder();
  m.importMemory("env", "memory", 1);
  const f = m.func("fused", ["i32", "i32"]);
  const [labels, y] = f.i32Params() as [Local<"i32">, Local<"i32">];
  const r = f.local("i32"), j = f.local("i32"), row = f.local("i32"), c = f.local("i32");
  f.body(forRange(r, i32.const(0), i32.const(rows), 1,
    set(row, addr(y, i32.mul(get(r), i32.const(classes)))),
    ...copyRun(j, classes, (k) => addr(row, k), null),
    set(c, i32.load(addr(labels, get(r)))),
    when(i32.lt_u(get(c), i32.const(classes)), f32.store(addr(row, get(c)), f32.const(1))),
  ));
  return m.encode();
}

/**
 * torch.tril / torch.triu over the last two axes of `outer` matrices [m, n]: row i keeps columns
 * j with j − i ≤ diagonal (tril) or j − i ≥ diagonal (triu) and zeroes the rest; each row one run
 * copied and one zeroed, four floats at a time, then one at a time.
 */
export function emitTril(outer: number, m: number, n: number, diagonal: number, upper: boolean): Uint8Array {
  if (![outer, m, n].every(isCount) || !Number.isInteger(diagonal) || Math.abs(diagonal) >= 2 ** 30) fail("bad tril sizes");
  const mod = new ModuleBuilder();
  mod.importMemory("env", "memory", 1);
  const f = mod.func("fused", ["i32", "i32"]);
  const [x, y] = f.i32Params() as [Local<"i32">, Local<"i32">];
  const o = f.local("i32"), i = f.local("i32"), j = f.local("i32"), k = f.local("i32"), src = f.local("i32"), dst = f.local("i32");
  const clamp = (v: Expr<"i32">) => i32.min_s(i32.max_s(v, i32.const(0)), i32.const(n));
  // Columns [from, to) copied from x (keep) or zeroed.
  const run = (from: Expr<"i32">, to: Expr<"i32">, keep: boolean): Stmt[] => [
    set(j, from),
    block(loop(
      brIf(1, i32.gt_s(i32.add(get(j), i32.const(4)), to)),
      v128.store(addr(dst, get(j)), keep ? v128.load(addr(src, get(j))) : f32x4.const(0)),
      set(j, i32.add(get(j), i32.const(4))), br(0),
    )),
    forRange(j, get(j), to, 1, f32.store(addr(dst, get(j)), keep ? f32.load(addr(src, get(j))) : f32.const(0))),
  ];
  // k: the first column not kept (tril) or the first kept (triu).
  f.body(forRange(o, i32.const(0), i32.const(outer * m), 1,
    set(i, i32.rem_u(get(o), i32.const(m))),
    set(src, addr(x, i32.mul(get(o), i32.const(n)))),
    set(dst, addr(y, i32.mul(get(o), i32.const(n)))),
    set(k, clamp(i32.add(get(i), i32.const(upper ? diagonal : diagonal + 1)))),
    ...(upper ? [...run(i32.const(0), get(k), false), ...run(get(k), i32.const(n), true)] : [...run(i32.const(0), get(k), true), ...run(get(k), i32.const(n), false)]),
  ));
  return mod.encode();
}
