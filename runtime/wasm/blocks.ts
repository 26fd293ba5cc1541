/**
 * WebAssembly kernels of the block-moving ops (slice, pad, concat) and of the max reduction and
 * its gradient mask, one module per call site with every size inlined, exporting
 * `fused(in0, …, out)` over byte offsets in the imported memory (run like the fused elementwise
 * modules, runtime/wasm/fused-run.ts). Specs hold integers only.
 */
import { ModuleBuilder } from "./builder.js";
import { block, br, brIf, f32, f32x4, forRange, get, i32, i32x4, loop, select, set, v128, when, type Expr, type Local, type Stmt } from "./emit.js";

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
 * Max over the middle axis of [outer, n, inner] (`mask` false: y has [outer, inner]) or the mask
 * of its first maximal element (`mask` true: y has x's shape, 1 there, 0 elsewhere). The max is
 * IEEE maximum (NaN if any element is; +0 over −0), as f32.max and Math.max; the mask marks the
 * first element equal to it, or the first NaN.
 */
export function emitMax(outer: number, n: number, inner: number, mask: boolean): Uint8Array {
  if (![outer, n, inner].every(isCount) || n === 0) fail("bad max sizes");
  const m = new ModuleBuilder();
  m.importMemory("env", "memory", 1);
  const f = m.func("fused", ["i32", "i32"]);
  const [x, y] = f.i32Params() as [Local<"i32">, Local<"i32">];
  const o = f.local("i32"), i = f.local("i32"), k = f.local("i32"), row = f.local("i32"), found = f.local("i32"), hit = f.local("i32");
  const mx = f.local("f32"), acc = f.local("v128"), v = f.local("f32");
  const vv = f.local("v128"), hv = f.local("v128"), fv = f.local("v128"), ones = f.local("v128");
  const at = (base: Expr<"i32">, floats: Expr<"i32">) => i32.add(base, i32.shl(floats, i32.const(2)));
  const lane = (l: number) => f32x4.extract_lane(get(acc), l);
  const yAt = (floats: Expr<"i32">) => at(i32.add(get(y), i32.sub(get(row), get(x))), floats);
  const isMax = (val: Expr<"f32">) => i32.or(f32.eq(val, get(mx)), i32.eqz(f32.eq(val, val)));
  // The mask pass over one group: elements row + k·inner for k < n, the max in mx.
  const markFirst = (step: number): Stmt => forRange(k, i32.const(0), i32.const(n), 1,
    set(v, f32.load(at(get(row), i32.mul(get(k), i32.const(step))))),
    set(hit, i32.and(i32.eqz(get(found)), isMax(get(v)))),
    f32.store(yAt(i32.mul(get(k), i32.const(step))), select(f32.const(1), f32.const(0), get(hit))),
    set(found, i32.or(get(found), get(hit))),
  );
  let body: Stmt[];
  if (inner === 1) {
    // Contiguous rows: a vector max, its lanes, then the tail. The mask: the row zeroed four at a
    // time, then a scan to the first element equal to the max (or NaN), which gets the 1.
    // f32x4.max (NaN and ±0 rules) is ~8 dependent x86 instructions, so one accumulator waits on
    // itself: four take 16 floats per step (max is associative and commutative, NaN and ±0
    // included: the same bits), 4.4× fewer cycles per float over rows of 64.
    const n4 = n & -4, n16 = n & -16;
    const accs = [acc, f.local("v128"), f.local("v128"), f.local("v128")] as const;
    body = [
      set(row, i32.add(get(x), i32.mul(get(o), i32.const(4 * n)))),
      ...accs.map((a) => set(a, f32x4.const(-Infinity))),
      ...(n16 > 0 ? [
        forRange(k, i32.const(0), i32.const(n16), 16,
          ...accs.map((a, j) => set(a, f32x4.max(get(a), v128.load(at(get(row), i32.add(get(k), i32.const(4 * j)))))))),
        set(acc, f32x4.max(f32x4.max(get(accs[0]), get(accs[1])), f32x4.max(get(accs[2]), get(accs[3])))),
      ] : []),
      forRange(k, i32.const(n16), i32.const(n4), 4, set(acc, f32x4.max(get(acc), v128.load(at(get(row), get(k)))))),
      set(mx, f32.max(f32.max(lane(0), lane(1)), f32.max(lane(2), lane(3)))),
      forRange(k, i32.const(n4), i32.const(n), 1, set(mx, f32.max(get(mx), f32.load(at(get(row), get(k)))))),
      ...(mask ? [
        forRange(k, i32.const(0), i32.const(n4), 4, v128.store(yAt(get(k)), f32x4.const(0))),
        forRange(k, i32.const(n4), i32.const(n), 1, f32.store(yAt(get(k)), f32.const(0))),
        set(k, i32.const(0)),
        block(loop(
          brIf(1, i32.ge_s(get(k), i32.const(n))),
          brIf(1, isMax(f32.load(at(get(row), get(k))))),
          set(k, i32.add(get(k), i32.const(1))),
          br(0),
        )),
        when(i32.lt_s(get(k), i32.const(n)), f32.store(yAt(get(k)), f32.const(1))),
      ] : [f32.store(at(get(y), get(o)), get(mx))]),
    ];
  } else {
    // Strided groups: four neighbouring groups (o, i..i+3) at a time in the lanes of a vector
    // (lane-wise f32x4.max is f32.max, and the mask's first-hit flags are per lane), then one
    // scalar group at a time for the last inner % 4.
    const i4 = inner & -4;
    const groupStart = (): Stmt => set(row, at(get(x), i32.add(i32.mul(get(o), i32.const(n * inner)), get(i))));
    const vecGroup: Stmt[] = [
      groupStart(),
      set(acc, f32x4.const(-Infinity)),
      forRange(k, i32.const(0), i32.const(n), 1, set(acc, f32x4.max(get(acc), v128.load(at(get(row), i32.mul(get(k), i32.const(inner))))))),
      ...(mask ? [
        set(fv, v128.zero()),
        forRange(k, i32.const(0), i32.const(n), 1,
          set(vv, v128.load(at(get(row), i32.mul(get(k), i32.const(inner))))),
          // equal to the max, or NaN (not equal to itself), and no earlier hit in the lane
          set(hv, v128.andnot(v128.or(f32x4.eq(get(vv), get(acc)), v128.xor(f32x4.eq(get(vv), get(vv)), get(ones))), get(fv))),
          v128.store(yAt(i32.mul(get(k), i32.const(inner))), v128.and(get(hv), f32x4.const(1))),
          set(fv, v128.or(get(fv), get(hv))),
        ),
      ] : [v128.store(at(get(y), i32.add(i32.mul(get(o), i32.const(inner)), get(i))), get(acc))]),
    ];
    const group: Stmt[] = [
      groupStart(),
      set(mx, f32.const(-Infinity)),
      forRange(k, i32.const(0), i32.const(n), 1, set(mx, f32.max(get(mx), f32.load(at(get(row), i32.mul(get(k), i32.const(inner))))))),
      ...(mask ? [set(found, i32.const(0)), markFirst(inner)] : [f32.store(at(get(y), i32.add(i32.mul(get(o), i32.const(inner)), get(i))), get(mx))]),
    ];
    body = [forRange(i, i32.const(0), i32.const(i4), 4, ...vecGroup), forRange(i, i32.const(i4), i32.const(inner), 1, ...group)];
  }
  f.body(set(ones, i32x4.splat(i32.const(-1))), forRange(o, i32.const(0), i32.const(outer), 1, ...body));
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
