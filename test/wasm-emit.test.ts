/**
 * The WebAssembly emitter: LEB128 against the spec's examples, a small function built with the
 * instruction DSL, and the kernel module's shape (one shared-memory import, named exports).
 */
import { describe, expect, it } from "vitest";
import { ModuleBuilder } from "../runtime/wasm/builder.js";
import { displaced, f32, f32x4, flatten, forRange, get, i32, set, stmt, v128 } from "../runtime/wasm/emit.js";
import { sleb, uleb } from "../runtime/wasm/encode.js";
import { createMemory, kernelBytes, kernelModule } from "../runtime/wasm/module.js";

describe("LEB128", () => {
  it("unsigned", () => {
    expect(uleb(0)).toEqual([0x00]);
    expect(uleb(127)).toEqual([0x7f]);
    expect(uleb(128)).toEqual([0x80, 0x01]);
    expect(uleb(624485)).toEqual([0xe5, 0x8e, 0x26]);
    expect(uleb(0xffffffff)).toEqual([0xff, 0xff, 0xff, 0xff, 0x0f]);
    expect(() => uleb(-1)).toThrow(RangeError);
  });
  it("signed", () => {
    expect(sleb(0)).toEqual([0x00]);
    expect(sleb(63)).toEqual([0x3f]);
    expect(sleb(64)).toEqual([0xc0, 0x00]);
    expect(sleb(-1)).toEqual([0x7f]);
    expect(sleb(-64)).toEqual([0x40]);
    expect(sleb(-65)).toEqual([0xbf, 0x7f]);
    expect(sleb(-123456)).toEqual([0xc0, 0xbb, 0x78]);
    expect(sleb(0x7fffffff)).toEqual([0xff, 0xff, 0xff, 0xff, 0x07]);
    expect(sleb(-0x80000000)).toEqual([0x80, 0x80, 0x80, 0x80, 0x78]);
  });
});

describe("instruction DSL", () => {
  it("builds a function that runs: y[i] = 2·x[i] + 1 with a vector body and a scalar tail", () => {
    const m = new ModuleBuilder();
    m.importMemory();
    const f = m.func("affine", ["i32", "i32", "i32"]);
    const [x, y, n] = f.i32Params();
    const i = f.local("i32"), n4 = f.local("i32");
    const at = (base: typeof x, idx: typeof i) => i32.add(get(base), i32.shl(get(idx), i32.const(2)));
    f.body(
      set(n4, i32.and(get(n), i32.const(-4))),
      forRange(i, i32.const(0), get(n4), 4, v128.store(at(y, i), f32x4.add(f32x4.mul(v128.load(at(x, i)), f32x4.const(2)), f32x4.const(1)))),
      forRange(i, get(n4), get(n), 1, f32.store(at(y, i), f32.add(f32.mul(f32.load(at(x, i)), f32.const(2)), f32.const(1)))),
    );
    const memory = createMemory(1 << 16);
    const inst = new WebAssembly.Instance(new WebAssembly.Module(m.encode()), { env: { memory } });
    const view = new Float32Array(memory.buffer);
    view.set([0, 1, 2, 3, 4, 5, 6], 0);
    (inst.exports.affine as (x: number, y: number, n: number) => void)(0, 64, 7);
    expect(Array.from(view.subarray(16, 23))).toEqual([1, 3, 5, 7, 9, 11, 13]);
  });

  it("a displaced address puts its constant in the offset immediate of loads and stores, and is the full sum anywhere else", () => {
    const m = new ModuleBuilder();
    m.importMemory();
    const f = m.func("probe", ["i32", "i32"], ["i32"]);
    const [p, q] = f.i32Params();
    const addr = () => i32.add(get(p), displaced(i32.shl(get(q), i32.const(2)), 48)); // p + 4q + 48
    const load = f32.load(addr(), 4), store = f32.store(addr(), f32.const(7));
    expect(flatten(load.code).slice(-3)).toEqual([0x2a, 2, 52]); // f32.load, align 4, offset 48 + 4
    expect(flatten(store.code).slice(-3)).toEqual([0x38, 2, 48]); // f32.store, offset 48
    // Copy [p + 4q + 52] to byte 0, store 7 at p + 4q + 48, return p + 4q + 48 as a value.
    f.body(f32.store(i32.const(0), load), store, stmt(addr()));
    const memory = createMemory(1 << 16);
    const inst = new WebAssembly.Instance(new WebAssembly.Module(m.encode()), { env: { memory } });
    const view = new Float32Array(memory.buffer);
    view[(1000 + 20 + 52) / 4] = 3.5;
    expect((inst.exports.probe as (p: number, q: number) => number)(1000, 5)).toBe(1000 + 20 + 48);
    expect(view[0]).toBe(3.5);
    expect(view[(1000 + 20 + 48) / 4]).toBe(7);
  });
});

/** Module.imports/exports exist at run time but not in the lib typings kiln compiles against. */
const ModuleInfo = WebAssembly.Module as unknown as {
  imports(m: WebAssembly.Module): { module: string; name: string; kind: string }[];
  exports(m: WebAssembly.Module): { name: string; kind: string }[];
};

describe("kernel module", () => {
  it("validates, imports only a shared memory, and exports the kernels", () => {
    expect(WebAssembly.validate(kernelBytes())).toBe(true);
    const mod = kernelModule();
    expect(ModuleInfo.imports(mod)).toEqual([{ module: "env", name: "memory", kind: "memory" }]);
    expect(ModuleInfo.exports(mod).map((e) => e.name).sort()).toEqual([
      "addBias", "allFinite", "allUnit", "batchNormBwd", "batchNormFwd", "colSum", "copy", "dot", "fill", "gemv", "gemvOuter", "layerNormBwd", "layerNormFwd", "reduceSum", "relu", "reluBackward", "sgd", "sgemm", "sgemmBatch",
      "softmaxCrossEntropy",
    ]);
    // A non-shared memory is refused: the module declares its import shared.
    expect(() => new WebAssembly.Instance(mod, { env: { memory: new WebAssembly.Memory({ initial: 1, maximum: 2 }) } })).toThrow();
  });
});
