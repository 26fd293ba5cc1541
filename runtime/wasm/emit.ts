/**
 * A small typed instruction DSL over the WebAssembly stack machine. An `Expr<T>` is code that
 * leaves exactly one value of type T on the stack; a `Stmt` is code that leaves the stack as it
 * found it. Operations take their operands as expressions, so kernels read as nested calls
 * (`f32x4.add(get(acc), f32x4.mul(get(a), get(b)))`) and emit in post-order, which is exactly the
 * stack machine's order. The types keep an f32 from being passed where an i32 address is meant;
 * anything else the WebAssembly validator checks when the module is compiled.
 */
import { f32bytes, f64bytes, sleb, uleb } from "./encode.js";
import { ATOMIC, ATOMIC_PREFIX, BLOCKTYPE_EMPTY, CTL, F32, F32X4, F64, I32, I32X4, SIMD_PREFIX, V128 } from "./opcodes.js";

export type ValType = "i32" | "f32" | "f64" | "v128";
/**
 * Instruction bytes as a tree of chunks: composing an expression nests its operands' chunks
 * instead of copying them (copying would cost O(size × depth)); the function builder flattens
 * each body once.
 */
export type Bytes = readonly (number | Bytes)[];
export interface Expr<T extends ValType = ValType> {
  readonly type: T;
  readonly code: Bytes;
  /**
   * An address known to be `base + disp` with disp a constant (see displaced): loads and stores
   * emit `base` and put disp in their offset immediate, which V8 folds into the instruction's
   * address, where `code`'s i32.add would cost a `lea` per access. Every other use reads `code`.
   */
  readonly displaced?: { readonly base: Bytes; readonly disp: number };
}
export interface Stmt { readonly stmt: true; readonly code: Bytes }
export interface Local<T extends ValType = ValType> { readonly type: T; readonly index: number }
/** A callable function: its index in the module's function space and its signature. */
export interface FuncRef { readonly index: number; readonly paramTypes: readonly ValType[]; readonly results: readonly ValType[] }

type I = Expr<"i32">;
type F = Expr<"f32">;
type D = Expr<"f64">;
type V = Expr<"v128">;
type Code = Bytes | Expr | Stmt;

const cat = (parts: readonly Code[]): Bytes => parts.map((p) => ("code" in p ? p.code : p));

/** Append the bytes of a chunk tree to out, in order. */
export function flatten(b: Bytes, out: number[] = []): number[] {
  for (const x of b) if (typeof x === "number") out.push(x); else flatten(x, out);
  return out;
}
const expr = <T extends ValType>(type: T, ...parts: Code[]): Expr<T> => ({ type, code: cat(parts) });
/**
 * `base + disp` (disp ≥ 0 a constant) as an address whose constant part loads and stores move
 * into their offset immediate (Expr.displaced). The two agree for every in-bounds address: an
 * offset immediate is added without wrapping, an i32.add wraps only past 4 GiB.
 */
export const displaced = (base: I, disp: number): I => {
  const code = cat([base, [I32.const, ...sleb(disp)], [I32.add]]);
  if (disp === 0) return base;
  if (disp < 0 || !Number.isInteger(disp)) return { type: "i32", code }; // an offset immediate is unsigned
  return { type: "i32", code, displaced: base.displaced ? { base: base.displaced.base, disp: base.displaced.disp + disp } : { base: base.code, disp } };
};
/** a + b, keeping a displaced operand's constant apart (see displaced). */
function addAddresses(a: I, b: I): I {
  const code = cat([a, b, [I32.add]]);
  const da = a.displaced, db = b.displaced;
  if (!da && !db) return { type: "i32", code };
  return { type: "i32", code, displaced: { base: cat([da ? da.base : a.code, db ? db.base : b.code, [I32.add]]), disp: (da?.disp ?? 0) + (db?.disp ?? 0) } };
}
/** A memory access's address operand and offset immediate, with a displaced address's constant moved into the immediate. */
const access = (addr: I, offset: number): [Bytes, number] => addr.displaced ? [addr.displaced.base, offset + addr.displaced.disp] : [addr.code, offset];
const mem = (addr: I, offset: number, op: readonly number[]): Bytes => {
  const [a, o] = access(addr, offset);
  return [a, op, memarg(2, o)];
};
const memStore = (addr: I, v: Expr, offset: number, op: readonly number[]): Stmt => {
  const [a, o] = access(addr, offset);
  return stmt(a, v, op, memarg(2, o));
};
export const stmt = (...parts: Code[]): Stmt => ({ stmt: true, code: cat(parts) });
const simd = (op: number): number[] => [SIMD_PREFIX, ...uleb(op)];
/** memarg = alignment hint (log2 bytes; a hint only, misaligned access still works) + offset. */
const memarg = (alignLog2: number, offset: number): number[] => [...uleb(alignLog2), ...uleb(offset)];

// ── variables ───────────────────────────────────────────────────────────────────────────────
export const get = <T extends ValType>(l: Local<T>): Expr<T> => expr(l.type, [CTL.local_get, ...uleb(l.index)]);
export const set = <T extends ValType>(l: Local<T>, v: Expr<T>): Stmt => stmt(v, [CTL.local_set, ...uleb(l.index)]);
export const tee = <T extends ValType>(l: Local<T>, v: Expr<T>): Expr<T> => expr(l.type, v, [CTL.local_tee, ...uleb(l.index)]);
/** select(a, b, c) = c ≠ 0 ? a : b, both operands evaluated (branch-free). */
export const select = <T extends ValType>(a: Expr<T>, b: Expr<T>, c: I): Expr<T> => expr(a.type, a, b, c, [CTL.select]);
export const call = (f: FuncRef, ...args: Expr[]): Stmt => {
  if (f.results.length !== 0) throw new Error("call: use callValue for functions with results");
  return stmt(...args, [CTL.call, ...uleb(f.index)]);
};
export const callValue = <T extends ValType>(type: T, f: FuncRef, ...args: Expr[]): Expr<T> =>
  expr(type, ...args, [CTL.call, ...uleb(f.index)]);

// ── control flow ────────────────────────────────────────────────────────────────────────────
// Branch targets are relative depths: 0 = innermost enclosing block/loop. A `br` to a block
// jumps past its end; to a loop, back to its start.
export const block = (...body: Stmt[]): Stmt => stmt([CTL.block, BLOCKTYPE_EMPTY], ...body, [CTL.end]);
export const loop = (...body: Stmt[]): Stmt => stmt([CTL.loop, BLOCKTYPE_EMPTY], ...body, [CTL.end]);
/** Return from the function (one without results). */
export const ret = (): Stmt => stmt([CTL.return]);
export const br = (depth: number): Stmt => stmt([CTL.br, ...uleb(depth)]);
export const brIf = (depth: number, cond: I): Stmt => stmt(cond, [CTL.br_if, ...uleb(depth)]);
export const when = (cond: I, ...then: Stmt[]): Stmt => stmt(cond, [CTL.if, BLOCKTYPE_EMPTY], ...then, [CTL.end]);
export const ifElse = (cond: I, then: readonly Stmt[], otherwise: readonly Stmt[]): Stmt =>
  stmt(cond, [CTL.if, BLOCKTYPE_EMPTY], ...then, [CTL.else], ...otherwise, [CTL.end]);
export const seq = (...body: Stmt[]): Stmt => stmt(...body);
/** flags & bit ≠ 0, as 0 or 1. */
export const hasFlag = (flags: I, bit: number): I => i32.ne(i32.and(flags, i32.const(bit)), i32.const(0));
/**
 * Emit make(true) or make(false), chosen at run time: a loop specialized on a flag costs one
 * branch outside it instead of one per element.
 */
export const branchOn = (cond: I, make: (on: boolean) => Stmt[]): Stmt => ifElse(cond, make(true), make(false));
/** Trap (RuntimeError "unreachable"): the kernels' way to refuse bad input instead of guessing. */
export const trap = (): Stmt => stmt([CTL.unreachable]);

/**
 * for (i = from; i < to; i += step) body — signed compare, `to` re-evaluated each trip.
 * Shaped as a guard block around a bottom-tested loop (one branch per iteration):
 *   block  br_if 0 (i ≥ to)  loop  body  i += step  br_if 0 (i < to)  end  end
 * Inside body, br(1) breaks out of the loop; br(0) restarts the body without the increment, so
 * it is not a `continue`.
 */
export function forRange(i: Local<"i32">, from: I, to: I, step: number | I, ...body: Stmt[]): Stmt {
  const inc = typeof step === "number" ? i32.const(step) : step;
  return block(
    set(i, from),
    brIf(0, i32.ge_s(get(i), to)),
    loop(...body, set(i, i32.add(get(i), inc)), brIf(0, i32.lt_s(get(i), to))),
  );
}

// ── scalar arithmetic ───────────────────────────────────────────────────────────────────────
const bin = <T extends ValType, R extends ValType>(rt: R, op: number) => (a: Expr<T>, b: Expr<T>): Expr<R> => expr(rt, a, b, [op]);
const un = <T extends ValType, R extends ValType>(rt: R, op: number) => (a: Expr<T>): Expr<R> => expr(rt, a, [op]);

export const i32 = {
  const: (n: number): I => expr("i32", [I32.const, ...sleb(n)]),
  add: addAddresses, sub: bin<"i32", "i32">("i32", I32.sub), mul: bin<"i32", "i32">("i32", I32.mul),
  div_u: bin<"i32", "i32">("i32", I32.div_u), rem_u: bin<"i32", "i32">("i32", I32.rem_u),
  and: bin<"i32", "i32">("i32", I32.and), or: bin<"i32", "i32">("i32", I32.or), xor: bin<"i32", "i32">("i32", I32.xor),
  shl: bin<"i32", "i32">("i32", I32.shl), shr_s: bin<"i32", "i32">("i32", I32.shr_s), shr_u: bin<"i32", "i32">("i32", I32.shr_u),
  eqz: un<"i32", "i32">("i32", I32.eqz), eq: bin<"i32", "i32">("i32", I32.eq), ne: bin<"i32", "i32">("i32", I32.ne),
  lt_s: bin<"i32", "i32">("i32", I32.lt_s), lt_u: bin<"i32", "i32">("i32", I32.lt_u), gt_s: bin<"i32", "i32">("i32", I32.gt_s),
  le_s: bin<"i32", "i32">("i32", I32.le_s), ge_s: bin<"i32", "i32">("i32", I32.ge_s), ge_u: bin<"i32", "i32">("i32", I32.ge_u),
  load: (addr: I, offset = 0): I => expr("i32", mem(addr, offset, [I32.load])),
  store: (addr: I, v: I, offset = 0): Stmt => memStore(addr, v, offset, [I32.store]),
  /** Atomically add v to the i32 at addr (4-byte aligned, shared memory); the old value. */
  atomic_add: (addr: I, v: I): I => expr("i32", addr, v, [ATOMIC_PREFIX, ...uleb(ATOMIC.i32_rmw_add)], memarg(2, 0)),
  atomic_load: (addr: I): I => expr("i32", addr, [ATOMIC_PREFIX, ...uleb(ATOMIC.i32_load)], memarg(2, 0)),
  /** Atomically: old = [addr]; if old = expected then [addr] = replacement; the old value. */
  atomic_cmpxchg: (addr: I, expected: I, replacement: I): I =>
    expr("i32", addr, expected, replacement, [ATOMIC_PREFIX, ...uleb(ATOMIC.i32_rmw_cmpxchg)], memarg(2, 0)),
  trunc_f32_s: un<"f32", "i32">("i32", I32.trunc_f32_s),
  reinterpret_f32: un<"f32", "i32">("i32", I32.reinterpret_f32),
  /** min(a, b) as a branch-free select. */
  min_s: (a: I, b: I): I => select(a, b, i32.lt_s(a, b)),
  max_s: (a: I, b: I): I => select(a, b, i32.gt_s(a, b)),
};

export const f32 = {
  const: (x: number): F => expr("f32", [F32.const, ...f32bytes(x)]),
  add: bin<"f32", "f32">("f32", F32.add), sub: bin<"f32", "f32">("f32", F32.sub),
  mul: bin<"f32", "f32">("f32", F32.mul), div: bin<"f32", "f32">("f32", F32.div),
  max: bin<"f32", "f32">("f32", F32.max), min: bin<"f32", "f32">("f32", F32.min),
  sqrt: un<"f32", "f32">("f32", F32.sqrt), neg: un<"f32", "f32">("f32", F32.neg),
  nearest: un<"f32", "f32">("f32", F32.nearest), floor: un<"f32", "f32">("f32", F32.floor),
  eq: bin<"f32", "i32">("i32", F32.eq), lt: bin<"f32", "i32">("i32", F32.lt), gt: bin<"f32", "i32">("i32", F32.gt), le: bin<"f32", "i32">("i32", F32.le),
  load: (addr: I, offset = 0): F => expr("f32", mem(addr, offset, [F32.load])),
  store: (addr: I, v: F, offset = 0): Stmt => memStore(addr, v, offset, [F32.store]),
  convert_i32_s: un<"i32", "f32">("f32", F32.convert_i32_s),
  demote_f64: un<"f64", "f32">("f32", F32.demote_f64),
  reinterpret_i32: un<"i32", "f32">("f32", F32.reinterpret_i32),
};

export const f64 = {
  const: (x: number): D => expr("f64", [F64.const, ...f64bytes(x)]),
  add: bin<"f64", "f64">("f64", F64.add), sub: bin<"f64", "f64">("f64", F64.sub),
  mul: bin<"f64", "f64">("f64", F64.mul), div: bin<"f64", "f64">("f64", F64.div),
  gt: bin<"f64", "i32">("i32", F64.gt),
  promote_f32: un<"f32", "f64">("f64", F64.promote_f32),
  convert_i32_s: un<"i32", "f64">("f64", F64.convert_i32_s),
};

// ── SIMD ────────────────────────────────────────────────────────────────────────────────────
const vbin = (op: number) => (a: V, b: V): V => expr("v128", a, b, simd(op));
const vun = (op: number) => (a: V): V => expr("v128", a, simd(op));

export const v128 = {
  load: (addr: I, offset = 0): V => expr("v128", mem(addr, offset, simd(V128.load))),
  store: (addr: I, v: V, offset = 0): Stmt => memStore(addr, v, offset, simd(V128.store)),
  /** Load one 32-bit value and broadcast it to all lanes (x86: vbroadcastss). */
  load32_splat: (addr: I, offset = 0): V => expr("v128", mem(addr, offset, simd(V128.load32_splat))),
  zero: (): V => expr("v128", simd(V128.const), new Array<number>(16).fill(0)),
  and: vbin(V128.and), or: vbin(V128.or), xor: vbin(V128.xor), andnot: vbin(V128.andnot),
  /** bitselect(a, b, mask) = (a & mask) | (b & ~mask). */
  bitselect: (a: V, b: V, mask: V): V => expr("v128", a, b, mask, simd(V128.bitselect)),
  /** 1 if any bit is set (a mask with any lane true), else 0. */
  any_true: (a: V): I => expr("i32", a, simd(V128.any_true)),
  /** Byte shuffle of the 32 bytes of (a, b); f32 lane shuffles pass 4 lane indices 0..7. */
  shuffle32: (a: V, b: V, lanes: readonly [number, number, number, number]): V =>
    expr("v128", a, b, simd(V128.i8x16_shuffle), lanes.flatMap((l) => [4 * l, 4 * l + 1, 4 * l + 2, 4 * l + 3])),
};

export const f32x4 = {
  splat: (x: F): V => expr("v128", x, simd(F32X4.splat)),
  const: (x: number): V => expr("v128", simd(V128.const), [0, 1, 2, 3].flatMap(() => f32bytes(x))),
  extract_lane: (v: V, lane: number): F => expr("f32", v, simd(F32X4.extract_lane), [lane]),
  /** v with lane k replaced by x. */
  replace_lane: (v: V, lane: number, x: F): V => expr("v128", v, x, simd(F32X4.replace_lane), [lane]),
  add: vbin(F32X4.add), sub: vbin(F32X4.sub), mul: vbin(F32X4.mul), div: vbin(F32X4.div),
  min: vbin(F32X4.min), max: vbin(F32X4.max), pmin: vbin(F32X4.pmin), pmax: vbin(F32X4.pmax),
  lt: vbin(F32X4.lt), gt: vbin(F32X4.gt), eq: vbin(F32X4.eq), le: vbin(F32X4.le),
  sqrt: vun(F32X4.sqrt), neg: vun(F32X4.neg), abs: vun(F32X4.abs), nearest: vun(F32X4.nearest), floor: vun(F32X4.floor),
  convert_i32x4_s: vun(F32X4.convert_i32x4_s),
  /** a·b + c as a separate multiply and add (two roundings): core SIMD, valid everywhere. */
  madd: (a: V, b: V, c: V): V => f32x4.add(c, f32x4.mul(a, b)),
  /**
   * a·b + c, relaxed SIMD: one fused multiply-add (one rounding) on hardware with FMA, else the
   * multiply and add above — chosen by the engine, the same way for every call in a process.
   * Valid only where wasmFeatures().relaxedSimd (features.ts).
   */
  relaxed_madd: (a: V, b: V, c: V): V => expr("v128", a, b, c, simd(F32X4.relaxed_madd)),
};

export const i32x4 = {
  splat: (x: I): V => expr("v128", x, simd(I32X4.splat)),
  add: vbin(I32X4.add), sub: vbin(I32X4.sub), ge_s: vbin(I32X4.ge_s),
  shl: (v: V, n: I): V => expr("v128", v, n, simd(I32X4.shl)),
  shr_u: (v: V, n: I): V => expr("v128", v, n, simd(I32X4.shr_u)),
  /** v with lane k replaced by x. */
  replace_lane: (v: V, lane: number, x: I): V => expr("v128", v, x, simd(I32X4.replace_lane), [lane]),
  trunc_sat_f32x4_s: vun(I32X4.trunc_sat_f32x4_s),
  extract_lane: (v: V, lane: number): I => expr("i32", v, simd(I32X4.extract_lane), [lane]),
};
