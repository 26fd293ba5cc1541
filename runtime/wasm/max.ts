/**
 * The max reduction over the middle axis of [outer, n, inner] and its gradient mask as a
 * WebAssembly module, every size inlined, exporting `fused(x, y)` over byte offsets in the
 * imported memory (run like the fused elementwise modules, runtime/wasm/fused-run.ts).
 *
 * IEEE maximum is associative and commutative, NaN and ±0 included (NaN if any element is, +0
 * over −0), so the maxima may be taken in any grouping with the same bits: f32x4.max is about 8
 * dependent x86 instructions, so each loop keeps four running maxima and combines them at the end.
 * Loop shapes, by the group's width (inner): contiguous rows (1); groups of 2 or 3 read as vectors
 * (smallGroups); 4 to 32 walked a group of 4 at a time; wider, x's rows streamed into y, for the
 * max (rowStream) and for the mask (maskStream), so memory is read in order.
 */
import { ModuleBuilder } from "./builder.js";
import { block, br, brIf, f32, f32x4, forRange, get, i32, i32x4, loop, select, set, v128, when, type Expr, type Local, type Stmt } from "./emit.js";

const isCount = (x: unknown) => typeof x === "number" && Number.isInteger(x) && x >= 0 && x < 2 ** 30;
const fail = (what: string): never => { throw new Error(`max: ${what}`); };
/** Groups wider than this (the max only) stream x's rows into y (see rowStream). */
const ROWS_FROM = 32;

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
  const mx = f.local("f32"), acc = f.local("v128"), v = f.local("f32"), strideRow = f.local("i32");
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
    const vaccs = [f.local("v128"), f.local("v128"), f.local("v128")], saccs = [f.local("f32"), f.local("f32"), f.local("f32")];
    /**
     * into = the max of a group's n elements (row + k·inner): four running maxima over k ≡ 0, 1, 2, 3
     * (mod 4) — into and three more — combined, then the last n % 4.
     */
    const runningMax = <T extends "f32" | "v128">(into: Local<T>, more: Local<T>[], lowest: Expr<T>, max: (a: Expr<T>, b: Expr<T>) => Expr<T>, load: (offset: number) => Expr<T>): Stmt[] => {
      const all = [into, ...more], n4 = n & -4, step = 4 * inner;
      return [
        ...all.map((a) => set(a, lowest)),
        set(strideRow, get(row)),
        forRange(k, i32.const(0), i32.const(n4), 4,
          ...all.map((a, j) => set(a, max(get(a), load(4 * j * inner)))),
          set(strideRow, i32.add(get(strideRow), i32.const(4 * step)))),
        set(into, max(max(get(all[0]!), get(all[1]!)), max(get(all[2]!), get(all[3]!)))),
        forRange(k, i32.const(n4), i32.const(n), 1, set(into, max(get(into), load(0))), set(strideRow, i32.add(get(strideRow), i32.const(step)))),
      ];
    };
    const groupStart = (): Stmt => set(row, at(get(x), i32.add(i32.mul(get(o), i32.const(n * inner)), get(i))));
    const vecGroup: Stmt[] = [
      groupStart(),
      ...runningMax(acc, vaccs, f32x4.const(-Infinity), f32x4.max, (off) => v128.load(get(strideRow), off)),
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
      ...runningMax(mx, saccs, f32.const(-Infinity), f32.max, (off) => f32.load(get(strideRow), off)),
      ...(mask ? [set(found, i32.const(0)), markFirst(inner)] : [f32.store(at(get(y), i32.add(i32.mul(get(o), i32.const(inner)), get(i))), get(mx))]),
    ];
    body = !mask && (inner === 2 || inner === 3) ? smallGroups()
      : !mask && inner > ROWS_FROM ? rowStream()
      : mask && inner > ROWS_FROM && n >= 2 ? maskStream()
      : [forRange(i, i32.const(0), i32.const(i4), 4, ...vecGroup), forRange(i, i32.const(i4), i32.const(inner), 1, ...group)];
  }
  f.body(set(ones, i32x4.splat(i32.const(-1))), forRange(o, i32.const(0), i32.const(outer), 1, ...body));
  return m.encode();

  /**
   * Wide groups (the max only): y's row set to −∞, then each of the n rows of x maxed into it in
   * turn, streaming memory once. Walking the rows a group at a time touched a new page every row
   * ([1, 4096, 1024]: 9.1 ms).
   */
  function rowStream(): Stmt[] {
    const dst = (c: Expr<"i32">) => at(get(y), i32.add(i32.mul(get(o), i32.const(inner)), c));
    const i4 = inner & -4;
    return [
      forRange(i, i32.const(0), i32.const(i4), 4, v128.store(dst(get(i)), f32x4.const(-Infinity))),
      forRange(i, i32.const(i4), i32.const(inner), 1, f32.store(dst(get(i)), f32.const(-Infinity))),
      set(row, at(get(x), i32.mul(get(o), i32.const(n * inner)))),
      forRange(k, i32.const(0), i32.const(n), 1,
        forRange(i, i32.const(0), i32.const(i4), 4, v128.store(dst(get(i)), f32x4.max(v128.load(dst(get(i))), v128.load(at(get(row), get(i)))))),
        forRange(i, i32.const(i4), i32.const(inner), 1, f32.store(dst(get(i)), f32.max(f32.load(dst(get(i))), f32.load(at(get(row), get(i)))))),
        set(row, i32.add(get(row), i32.const(4 * inner)))),
    ];
  }

  /**
   * The mask of wide groups: one pass over x's rows keeps, per column, the running maximum and the
   * first row that reached it, in y's rows 0 and 1 as scratch: a row replaces them where its value
   * is greater (strictly: a tie keeps the earlier row, −0 and +0 tie as == has them) or is the
   * column's first NaN. Then each row k of y is 1 where that first row is k (rows 0 and 1 last,
   * from one load). The same marks as the group walk: the first element == the column's IEEE
   * maximum, or its first NaN.
   */
  function maskStream(): Stmt[] {
    const i4 = inner & -4, kv = f.local("v128"), ks = f.local("f32");
    const yAtRow = (r: number, c: Expr<"i32">) => at(get(y), i32.add(i32.mul(get(o), i32.const(n * inner)), i32.add(i32.const(r * inner), c)));
    const xAt = (c: Expr<"i32">) => at(get(row), c);
    // A row's new maximum: greater, or a NaN where the maximum is not yet one.
    const vecUpd = (xe: Expr<"v128">, me: Expr<"v128">) => v128.or(f32x4.gt(xe, me), v128.andnot(f32x4.eq(me, me), f32x4.eq(xe, xe)));
    const sUpd = (xe: Expr<"f32">, me: Expr<"f32">) => i32.or(f32.gt(xe, me), i32.and(f32.eq(me, me), i32.eqz(f32.eq(xe, xe))));
    const one = (m: Expr<"v128">) => v128.and(m, f32x4.const(1));
    return [
      forRange(i, i32.const(0), i32.const(i4), 4, v128.store(yAtRow(0, get(i)), f32x4.const(-Infinity)), v128.store(yAtRow(1, get(i)), v128.zero())),
      forRange(i, i32.const(i4), i32.const(inner), 1, f32.store(yAtRow(0, get(i)), f32.const(-Infinity)), f32.store(yAtRow(1, get(i)), f32.const(0))),
      set(row, at(get(x), i32.mul(get(o), i32.const(n * inner)))),
      forRange(k, i32.const(0), i32.const(n), 1,
        set(ks, f32.convert_i32_s(get(k))), set(kv, f32x4.splat(get(ks))),
        forRange(i, i32.const(0), i32.const(i4), 4,
          set(vv, v128.load(xAt(get(i)))), set(acc, v128.load(yAtRow(0, get(i)))), set(hv, vecUpd(get(vv), get(acc))),
          v128.store(yAtRow(0, get(i)), v128.bitselect(get(vv), get(acc), get(hv))),
          v128.store(yAtRow(1, get(i)), v128.bitselect(get(kv), v128.load(yAtRow(1, get(i))), get(hv)))),
        forRange(i, i32.const(i4), i32.const(inner), 1,
          set(v, f32.load(xAt(get(i)))), set(mx, f32.load(yAtRow(0, get(i)))), set(hit, sUpd(get(v), get(mx))),
          f32.store(yAtRow(0, get(i)), select(get(v), get(mx), get(hit))),
          f32.store(yAtRow(1, get(i)), select(get(ks), f32.load(yAtRow(1, get(i))), get(hit)))),
        set(row, i32.add(get(row), i32.const(4 * inner)))),
      forRange(k, i32.const(2), i32.const(n), 1,
        set(ks, f32.convert_i32_s(get(k))), set(kv, f32x4.splat(get(ks))),
        forRange(i, i32.const(0), i32.const(i4), 4, v128.store(yAtRow(0, i32.add(i32.mul(get(k), i32.const(inner)), get(i))), one(f32x4.eq(v128.load(yAtRow(1, get(i))), get(kv))))),
        forRange(i, i32.const(i4), i32.const(inner), 1, f32.store(yAtRow(0, i32.add(i32.mul(get(k), i32.const(inner)), get(i))), select(f32.const(1), f32.const(0), f32.eq(f32.load(yAtRow(1, get(i))), get(ks)))))),
      forRange(i, i32.const(0), i32.const(i4), 4,
        set(fv, v128.load(yAtRow(1, get(i)))),
        v128.store(yAtRow(0, get(i)), one(f32x4.eq(get(fv), v128.zero()))),
        v128.store(yAtRow(1, get(i)), one(f32x4.eq(get(fv), f32x4.const(1))))),
      forRange(i, i32.const(i4), i32.const(inner), 1,
        set(v, f32.load(yAtRow(1, get(i)))),
        f32.store(yAtRow(0, get(i)), select(f32.const(1), f32.const(0), f32.eq(get(v), f32.const(0)))),
        f32.store(yAtRow(1, get(i)), select(f32.const(1), f32.const(0), f32.eq(get(v), f32.const(1))))),
    ];
  }

  /**
   * Groups of 2 or 3 (the max only): the block of n·inner floats read as vectors, P = lcm(inner, 4)
   * floats a chunk; lane l of the chunk's vector v always holds column (4v + l) mod inner, so
   * running maxima per vector position (four of them a position when inner is 2) take whole
   * chunks, their lanes are combined per column, and the last rows (n·inner mod P floats) follow.
   */
  function smallGroups(): Stmt[] {
    const P = inner === 2 ? 4 : 12, V = P / 4, U = inner === 2 ? 4 : 1, chunks = Math.floor((n * inner) / (P * U)) * U;
    const accs = Array.from({ length: V * U }, () => f.local("v128")), cols = Array.from({ length: inner }, () => f.local("f32"));
    const colMax: Expr<"f32">[][] = cols.map(() => []);
    for (let v = 0; v < V; v++) for (let l = 0; l < 4; l++) colMax[(4 * v + l) % inner]!.push(f32x4.extract_lane(get(accs[v]!), l));
    const tail: Stmt[] = [];
    for (let t = chunks * P; t < n * inner; t++) tail.push(set(cols[t % inner]!, f32.max(get(cols[t % inner]!), f32.load(get(row), 4 * t))));
    return [
      set(row, at(get(x), i32.mul(get(o), i32.const(n * inner)))),
      ...accs.map((a) => set(a, f32x4.const(-Infinity))),
      set(strideRow, get(row)),
      forRange(k, i32.const(0), i32.const(chunks), U,
        ...accs.map((a, j) => set(a, f32x4.max(get(a), v128.load(get(strideRow), 16 * j)))),
        set(strideRow, i32.add(get(strideRow), i32.const(4 * P * U)))),
      // the U sets of running maxima into the first
      ...accs.slice(0, V).flatMap((a, v) => Array.from({ length: U - 1 }, (_, u) => set(a, f32x4.max(get(a), get(accs[(u + 1) * V + v]!))))),
      ...cols.map((c, i) => set(c, colMax[i]!.reduce((p, q) => f32.max(p, q)))),
      ...tail,
      ...cols.map((c, i) => f32.store(at(get(y), i32.add(i32.mul(get(o), i32.const(inner)), i32.const(i))), get(c))),
    ];
  }
}

