/**
 * The part of the WebAssembly JS API kiln uses. Node provides it at run time; TypeScript only
 * declares it in the DOM library, which would also drag in browser globals.
 */
declare namespace WebAssembly {
  interface MemoryDescriptor { initial: number; maximum?: number; shared?: boolean }
  class Memory {
    constructor(descriptor: MemoryDescriptor);
    readonly buffer: ArrayBuffer | SharedArrayBuffer;
    grow(delta: number): number;
  }
  type ImportValue = Memory | ((...args: number[]) => number | void) | number;
  type Imports = Record<string, Record<string, ImportValue>>;
  type ExportValue = Memory | ((...args: number[]) => number) | unknown;
  class Module {
    constructor(bytes: Uint8Array | ArrayBuffer);
    static validate(bytes: Uint8Array | ArrayBuffer): boolean;
  }
  class Instance {
    constructor(module: Module, imports?: Imports);
    readonly exports: Record<string, ExportValue>;
  }
  class CompileError extends Error {}
  class LinkError extends Error {}
  class RuntimeError extends Error {}
  function validate(bytes: Uint8Array | ArrayBuffer): boolean;
}
