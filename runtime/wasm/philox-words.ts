/**
 * Raw Philox4x32-10 words in WebAssembly, for the initializers (../rng.ts): the blocks of
 * counters (first + b, c1, 0, 0), b = 0 … count−1, under a key (k0, k1) given at run time, written
 * block after block (word w of block b at out + 16·b + 4·w).
 *
 * The same rounds as the dropout masks (fused-philox.ts): four blocks side by side in i32x4 lanes,
 * the 32×32 → 64-bit products by i64x2.extmul, then a 4×4 transpose (pack.ts) so each block's
 * four words are stored together. The key schedule (k + r·W) is computed once per call into 20
 * vectors. JavaScript's philox (../rng.ts) needs a float64 multiply, a subtraction and a rounding
 * per high word; here it is one extmul per two lanes: the words of the lecture's 559k weights
 * take ~1 ms instead of ~9.
 *
 * `count` must be a multiple of 4 (the caller rounds up: a block is a pure function of its
 * counter, so extra blocks are harmless).
 */
import { ModuleBuilder } from "./builder.js";
import { forRange, get, i32, i32x4, set, v128, type Expr, type Local } from "./emit.js";
import { rounds, vconst, VECTOR_WORDS, W0, W1 } from "./fused-philox.js";
import { transpose4 } from "./pack.js";

/** Module bytes: `words(k0, k1, c1, first, count, out)`, memory imported as env.memory. */
export function philoxWordsBytes(): Uint8Array {
  const m = new ModuleBuilder();
  m.importMemory();
  const f = m.func("words", ["i32", "i32", "i32", "i32", "i32", "i32"], []);
  const [k0, k1, c1, first, count, out] = f.i32Params();
  const b = f.local("i32");
  const keys = f.locals("v128", 20);
  const c = f.locals("v128", 6), t = f.locals("v128", 4);
  const key = (r: number): readonly [Expr<"v128">, Expr<"v128">] => [get(keys[2 * r]!), get(keys[2 * r + 1]!)];
  const schedule = Array.from({ length: 10 }, (_, r) => [
    set(keys[2 * r]!, i32x4.splat(i32.add(get(k0), i32.const((r * W0) | 0)))),
    set(keys[2 * r + 1]!, i32x4.splat(i32.add(get(k1), i32.const((r * W1) | 0)))),
  ]).flat();
  const [c0, c1v] = c as [Local<"v128">, Local<"v128">];
  const tr = transpose4(c.slice(0, 4), t);
  f.body(
    ...schedule,
    forRange(b, i32.const(0), get(count), 4,
      set(c0, i32x4.add(i32x4.splat(i32.add(get(first), get(b))), vconst([0, 1, 2, 3]))),
      set(c1v, i32x4.splat(get(c1))),
      ...rounds(VECTOR_WORDS, c, key),
      // c_w lane j = word w of block b + j; transposed, column j = block b + j's four words.
      ...tr.setup,
      ...tr.cols.map((col, j) => v128.store(i32.add(get(out), i32.mul(i32.add(get(b), i32.const(j)), i32.const(16))), col)),
    ),
  );
  return m.encode();
}
