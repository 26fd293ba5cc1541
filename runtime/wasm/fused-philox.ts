/**
 * The dropout mask of a fused kernel, recomputed from the counter-based RNG (../rng.ts) exactly
 * as the JavaScript kernels do: key (seed, stream), counter (⌊i/4⌋, step, 0, 0), word i mod 4 of
 * the Philox4x32-10 block, keep ⇔ (word >>> 8)·2⁻²⁴ ≥ p, value fround(1/(1 − p)) or +0.
 *
 * The 32×32 → 64-bit products are i64.mul of zero-extended operands (high word) and i32.mul
 * (low word); vector loops run four consecutive blocks side by side in i32x4 lanes, with
 * i64x2.extmul_{low,high}_i32x4_u for the products (maskQuad: 16 elements per Philox evaluation).
 * The key schedule depends only on (seed, stream), so its 20 words are constants.
 * `keep` is decided in integers: (word >>> 8)·2⁻²⁴ ≥ p ⇔ (word >>> 8) ≥ ⌈p·2²⁴⌉, since word >>> 8
 * is an integer and p·2²⁴ is exact in float64 — the same decision as the float comparison.
 */
import type { FuncBuilder } from "./builder.js";
import { get, i32, i32x4, select, set, v128, when, type Expr, type Local, type Stmt, type ValType } from "./emit.js";
import { uleb } from "./encode.js";
import type { FLanes, VecLanes } from "./fused-lanes.js";
import type { LaneType } from "./lanes.js";
import { SIMD_PREFIX, V128 } from "./opcodes.js";

const M0 = 0xd2511f53, M1 = 0xcd9e8d57;
/** The key schedule's increments (also philox-words.ts's run-time keys). */
export const W0 = 0x9e3779b9, W1 = 0xbb67ae85;
const ROUNDS = 10;
type I = Expr<"i32">;

/** Signed LEB128 of a non-negative integer below 2^53 (an i64.const immediate). */
function sleb64(n: number): number[] {
  const out: number[] = [];
  for (;;) {
    const byte = n % 128;
    n = Math.floor(n / 128);
    const done = n === 0 && (byte & 0x40) === 0;
    out.push(done ? byte : byte | 0x80);
    if (done) return out;
  }
}

/** High 32 bits of the 64-bit product a·m (a, m unsigned): i64.extend_i32_u, i64.mul, i64.shr_u 32, i32.wrap_i64. */
const mulhi = (a: I, m: number): I =>
  ({ type: "i32", code: [a.code, 0xad, 0x42, ...sleb64(m), 0x7e, 0x42, 32, 0x88, 0xa7] });

/** One mask op's state: the current block's four words, which block they are, and the step. */
export interface MaskState {
  readonly words: readonly Local<"i32">[]; // c0..c3, then two temporaries
  readonly block: Local<"i32">; // ⌊i/4⌋ of the words held, −1 before the first
  /** Four blocks at once: counter words (one block per lane) and temporaries, then the four groups' values. */
  readonly quadWords: readonly Local<"v128">[];
  readonly quadValues: readonly Local<"v128">[];
  readonly step: Local<"i32">;
  readonly seed: number;
  readonly stream: number;
  /** ⌈p·2²⁴⌉ and fround(1/(1 − p)). */
  readonly threshold: number;
  readonly scale: number;
}

export function maskState(f: FuncBuilder, step: Local<"i32">, p: number, seed: number, stream: number): MaskState {
  return {
    words: f.locals("i32", 6), block: f.local("i32"), quadWords: f.locals("v128", 6), quadValues: f.locals("v128", 4),
    step, seed, stream, threshold: Math.ceil(p * 2 ** 24), scale: Math.fround(1 / (1 - p)),
  };
}

/** 32-bit word arithmetic for one block (i32) or four blocks side by side (i32x4). */
export interface Words<T extends "i32" | "v128"> {
  const(k: number): Expr<T>;
  xor(a: Expr<T>, b: Expr<T>): Expr<T>;
  /** High / low 32 bits of the 64-bit product a·m (a must be a plain local read: it may be used twice). */
  mulhi(a: Expr<T>, m: number): Expr<T>;
  mullo(a: Expr<T>, m: number): Expr<T>;
}

const SCALAR_WORDS: Words<"i32"> = { const: (k) => i32.const(k), xor: i32.xor, mulhi, mullo: (a, m) => i32.mul(a, i32.const(m)) };

const SIMD_EXTMUL_LOW_U = 0xde, SIMD_EXTMUL_HIGH_U = 0xdf, SIMD_I32X4_MUL = 0xb5;
export const vconst = (lanes: readonly number[]): Expr<"v128"> =>
  ({ type: "v128", code: [SIMD_PREFIX, ...uleb(V128.const), ...new Uint8Array(Uint32Array.from(lanes).buffer)] });
const vop = (op: number, a: Expr<"v128">, b: Expr<"v128">): Expr<"v128"> => ({ type: "v128", code: [a.code, b.code, SIMD_PREFIX, ...uleb(op)] });
export const VECTOR_WORDS: Words<"v128"> = {
  const: (k) => vconst([k, k, k, k]),
  xor: v128.xor,
  // i64x2.extmul_{low,high}_i32x4_u give the four full products; their odd 32-bit halves are the high words.
  mulhi: (a, m) => v128.shuffle32(vop(SIMD_EXTMUL_LOW_U, a, vconst([m, m, m, m])), vop(SIMD_EXTMUL_HIGH_U, a, vconst([m, m, m, m])), [1, 3, 5, 7]),
  mullo: (a, m) => vop(SIMD_I32X4_MUL, a, vconst([m, m, m, m])),
};

/** Round r's key words (k0 + r·W0, k1 + r·W1): constants, or reads of locals holding them. */
export type RoundKeys<T extends "i32" | "v128"> = (r: number) => readonly [Expr<T>, Expr<T>];

/** The key schedule of a key known when the kernel is emitted. */
const constKeys = <T extends "i32" | "v128">(W: Words<T>, seed: number, stream: number): RoundKeys<T> =>
  (r) => [W.const((seed + r * W0) >>> 0), W.const((stream + r * W1) >>> 0)];

/**
 * The ten rounds on counter words c0..c3 (c0, c1 already set; c2 = c3 = 0) with temporaries t0, t2:
 *   (c0, c1, c2, c3) ← (hi(M1·c2) ^ c1 ^ k0, lo(M1·c2), hi(M0·c0) ^ c3 ^ k1, lo(M0·c0)),  k += (W0, W1).
 */
export function rounds<T extends "i32" | "v128">(W: Words<T>, c: readonly Local<T>[], keys: RoundKeys<T>): Stmt[] {
  const [c0, c1, c2, c3, t0, t2] = c as [Local<T>, Local<T>, Local<T>, Local<T>, Local<T>, Local<T>];
  const out: Stmt[] = [];
  // Counter words known to be zero (c2, c3 start at 0; c1 = lo(M1·0) after round 0) are skipped.
  let z1 = false, z2 = true, z3 = true;
  for (let r = 0; r < ROUNDS; r++) {
    const [k0, k1] = keys(r);
    const x1 = z1 ? k0 : W.xor(get(c1), k0);
    const x3 = z3 ? k1 : W.xor(get(c3), k1);
    out.push(
      set(t0, z2 ? x1 : W.xor(W.mulhi(get(c2), M1), x1)), // hi(M1·c2) ^ c1 ^ k0
      set(t2, W.xor(W.mulhi(get(c0), M0), x3)), //           hi(M0·c0) ^ c3 ^ k1
      ...(z2 ? [] : [set(c1, W.mullo(get(c2), M1))]), //      lo(M1·c2)
      set(c3, W.mullo(get(c0), M0)), //                      lo(M0·c0)
      set(c0, get(t0)),
      set(c2, get(t2)),
    );
    // c1 = lo(M1·c2) is zero after a round whose c2 was (its local then keeps a stale value,
    // never read); c2 = t2 and c3 = lo(M0·c0) are assumed non-zero.
    z1 = z2; z2 = false; z3 = false;
  }
  return out;
}

/** Philox4x32-10 of counter (block, step, 0, 0) into the state's words; block = the counter. */
function philoxBlock(m: MaskState, counter: I): Stmt[] {
  const [c0, c1] = m.words as [Local<"i32">, Local<"i32">];
  return [set(m.block, counter), set(c0, get(m.block)), set(c1, get(m.step)), ...rounds(SCALAR_WORDS, m.words, constKeys(SCALAR_WORDS, m.seed, m.stream))];
}

/** The mask value from a word (lane type of L): (word >>> 8) ≥ threshold ? scale : +0. */
function maskValue<F extends LaneType, J extends ValType>(L: FLanes<F, J>, m: MaskState, word: Expr<J>): Expr<F> {
  return L.select(L.ige_s(L.ishr_u(word, 8), L.iconst(m.threshold)), L.const(m.scale), L.const(0));
}

/**
 * Four lanes at flat indices idx..idx+3 with idx a multiple of 4: exactly one Philox block.
 */
export function maskVector(L: FLanes<"v128", "v128">, m: MaskState, idx: I): { setup: Stmt[]; value: Expr<"v128"> } {
  const [c0, c1, c2, c3] = m.words as [Local<"i32">, Local<"i32">, Local<"i32">, Local<"i32">];
  const word = i32x4.replace_lane(i32x4.replace_lane(i32x4.replace_lane(i32x4.splat(get(c0)), 1, get(c1)), 2, get(c2)), 3, get(c3));
  return { setup: philoxBlock(m, i32.shr_u(idx, i32.const(2))), value: maskValue(L, m, word) };
}

/** One element at flat index idx (a local): a new block only when ⌊idx/4⌋ changed. */
export function maskScalar(L: FLanes<"f32", "i32">, m: MaskState, idx: Local<"i32">): { setup: Stmt[]; value: Expr<"f32"> } {
  const [c0, c1, c2, c3] = m.words as [Local<"i32">, Local<"i32">, Local<"i32">, Local<"i32">];
  const b = i32.shr_u(get(idx), i32.const(2));
  const odd = () => i32.and(get(idx), i32.const(1));
  const word = select(select(get(c3), get(c2), odd()), select(get(c1), get(c0), odd()), i32.and(get(idx), i32.const(2)));
  return { setup: [when(i32.ne(b, get(m.block)), ...philoxBlock(m, b))], value: maskValue(L, m, word) };
}

/**
 * Sixteen lanes at flat indices idx..idx+15, idx a multiple of 4: blocks ⌊idx/4⌋ + 0…3 computed
 * side by side (lane b of word vector l = word l of block b), their mask values transposed so
 * quadValues[g] holds the four lanes of group g.
 */
export function maskQuad(V: VecLanes, m: MaskState, idx: I): Stmt[] {
  const [c0, c1] = m.quadWords as [Local<"v128">, Local<"v128">];
  const vs = m.quadWords.slice(0, 4).map(() => V.localF());
  const [q0, q1, q2, q3] = m.quadValues as [Local<"v128">, Local<"v128">, Local<"v128">, Local<"v128">];
  const [v0, v1, v2, v3] = vs as [Local<"v128">, Local<"v128">, Local<"v128">, Local<"v128">];
  return [
    set(c0, i32x4.add(i32x4.splat(i32.shr_u(idx, i32.const(2))), vconst([0, 1, 2, 3]))),
    set(c1, i32x4.splat(get(m.step))),
    ...rounds(VECTOR_WORDS, m.quadWords, constKeys(VECTOR_WORDS, m.seed, m.stream)),
    ...vs.map((v, l) => set(v, maskValue(V, m, get(m.quadWords[l]!)))),
    // 4×4 transpose: q_g = (v0[g], v1[g], v2[g], v3[g]).
    set(q0, v128.shuffle32(get(v0), get(v1), [0, 4, 1, 5])), set(q1, v128.shuffle32(get(v2), get(v3), [0, 4, 1, 5])),
    set(q2, v128.shuffle32(get(v0), get(v1), [2, 6, 3, 7])), set(q3, v128.shuffle32(get(v2), get(v3), [2, 6, 3, 7])),
    set(v0, v128.shuffle32(get(q0), get(q1), [0, 1, 4, 5])), set(v1, v128.shuffle32(get(q0), get(q1), [2, 3, 6, 7])),
    set(v2, v128.shuffle32(get(q2), get(q3), [0, 1, 4, 5])), set(v3, v128.shuffle32(get(q2), get(q3), [2, 3, 6, 7])),
    set(q0, get(v0)), set(q1, get(v1)), set(q2, get(v2)), set(q3, get(v3)),
  ];
}
