/**
 * Module assembly: a function space (imports first, then defined functions), function types
 * deduplicated by signature, one imported shared memory, exports, and the code section.
 *
 * The memory is imported, not defined, so the JS side owns it: the same
 * `WebAssembly.Memory({ shared: true })` backs the arena's Float32Array views and can be handed
 * to worker threads, each instantiating the same compiled module on it.
 *
 * @example
 *   const m = new ModuleBuilder();
 *   m.importMemory();
 *   const f = m.func("double", ["i32"], []);
 *   const [p] = f.params;
 *   f.body(f32.store(get(p), f32.mul(f32.load(get(p)), f32.const(2))));
 *   new WebAssembly.Module(m.encode());
 */
import { append, moduleBytes, name, section, uleb, vec } from "./encode.js";
import { flatten, type FuncRef, type Local, type Stmt, type ValType } from "./emit.js";
import { CTL, EXTERN, FUNCTYPE, LIMITS, SECTION, VALTYPE } from "./opcodes.js";

/** Largest shared memory a 32-bit module may declare: 65536 pages of 64 KiB = 4 GiB. */
export const MAX_PAGES = 65536;

export class FuncBuilder implements FuncRef {
  readonly params: readonly Local[];
  private readonly localTypes: ValType[] = [];
  private code: Stmt[] | undefined;

  constructor(
    readonly name: string,
    readonly index: number,
    readonly paramTypes: readonly ValType[],
    readonly results: readonly ValType[],
    readonly exported: boolean,
  ) {
    this.params = paramTypes.map((type, index) => ({ type, index }));
  }

  /** Params typed as i32 (every kernel argument is an offset, size or flag). */
  i32Params(): Local<"i32">[] {
    return this.params.map((p) => {
      if (p.type !== "i32") throw new Error(`${this.name}: param ${p.index} is ${p.type}, not i32`);
      return p as Local<"i32">;
    });
  }

  /** Param i, checked to have the given type. */
  param<T extends ValType>(i: number, type: T): Local<T> {
    const p = this.params[i];
    if (!p || p.type !== type) throw new Error(`${this.name}: param ${i} is ${p?.type}, not ${type}`);
    return p as Local<T>;
  }

  /** A fresh local; its index follows the params and earlier locals. */
  local<T extends ValType>(type: T): Local<T> {
    this.localTypes.push(type);
    return { type, index: this.paramTypes.length + this.localTypes.length - 1 };
  }

  locals<T extends ValType>(type: T, n: number): Local<T>[] {
    return Array.from({ length: n }, () => this.local(type));
  }

  body(...code: Stmt[]): void {
    if (this.code) throw new Error(`${this.name}: body already set`);
    this.code = code;
  }

  /** Code-section entry: size, locals as run-length (count, type) groups, instructions, end. */
  encodeBody(): number[] {
    if (!this.code) throw new Error(`${this.name}: no body`);
    const groups: number[][] = [];
    let i = 0;
    while (i < this.localTypes.length) {
      let j = i;
      while (j < this.localTypes.length && this.localTypes[j] === this.localTypes[i]) j++;
      groups.push([...uleb(j - i), VALTYPE[this.localTypes[i]!]]);
      i = j;
    }
    const payload = vec(groups);
    for (const s of this.code) flatten(s.code, payload);
    payload.push(CTL.end);
    return append(uleb(payload.length), payload);
  }
}

interface ImportedFunc extends FuncRef { readonly module: string; readonly field: string }

export class ModuleBuilder {
  private readonly types: string[] = [];
  private memory: { module: string; field: string; minPages: number } | undefined;
  private readonly importedFuncs: ImportedFunc[] = [];
  private readonly funcs: FuncBuilder[] = [];

  /** Import `env.memory` as shared with the largest maximum, so any shared memory matches. */
  importMemory(module = "env", field = "memory", minPages = 1): void {
    this.memory = { module, field, minPages };
  }

  /** Imports must all be declared before the first defined function (indices come first). */
  importFunc(module: string, field: string, params: readonly ValType[], results: readonly ValType[]): FuncRef {
    if (this.funcs.length > 0) throw new Error("importFunc: declare imports before functions");
    const f = { module, field, index: this.importedFuncs.length, paramTypes: params, results };
    this.importedFuncs.push(f);
    return f;
  }

  func(fname: string, params: readonly ValType[], results: readonly ValType[] = [], exported = true): FuncBuilder {
    const f = new FuncBuilder(fname, this.importedFuncs.length + this.funcs.length, params, results, exported);
    this.funcs.push(f);
    return f;
  }

  private typeIndex(params: readonly ValType[], results: readonly ValType[]): number {
    const key = `${params.join(",")}->${results.join(",")}`;
    let i = this.types.indexOf(key);
    if (i < 0) i = this.types.push(key) - 1;
    return i;
  }

  encode(): Uint8Array {
    const imports: number[][] = [];
    if (this.memory) {
      const { module, field, minPages } = this.memory;
      imports.push([...name(module), ...name(field), EXTERN.memory, LIMITS.sharedMinMax, ...uleb(minPages), ...uleb(MAX_PAGES)]);
    }
    for (const f of this.importedFuncs) {
      imports.push([...name(f.module), ...name(f.field), EXTERN.func, ...uleb(this.typeIndex(f.paramTypes, f.results))]);
    }
    const funcTypes = this.funcs.map((f) => uleb(this.typeIndex(f.paramTypes, f.results)));
    const exports = this.funcs.filter((f) => f.exported).map((f) => [...name(f.name), EXTERN.func, ...uleb(f.index)]);
    const types = this.types.map((key) => {
      const [ps, rs] = key.split("->") as [string, string];
      const enc = (s: string) => vec(s === "" ? [] : s.split(",").map((t) => [VALTYPE[t as ValType]]));
      return [FUNCTYPE, ...enc(ps), ...enc(rs)];
    });
    return moduleBytes([
      section(SECTION.type, vec(types)),
      section(SECTION.import, vec(imports)),
      section(SECTION.function, vec(funcTypes)),
      section(SECTION.export, vec(exports)),
      section(SECTION.code, vec(this.funcs.map((f) => f.encodeBody()))),
    ]);
  }
}
