/** Messages between the page (main.ts) and its trainer worker (trainer.ts). */
export interface IrPair { readonly before: string; readonly after: string }

export type FromPage =
  | { readonly kind: "setup"; readonly digits: string }
  | { readonly kind: "train"; readonly steps: number }
  | { readonly kind: "stop" }
  | { readonly kind: "bench"; readonly steps: number }
  | { readonly kind: "predict"; readonly pixels: Float32Array }
  | { readonly kind: "save"; readonly format: "safetensors" | "onnx" }
  | { readonly kind: "load"; readonly bytes: Uint8Array; readonly name: string };

export type ToPage =
  | { readonly kind: "ready"; readonly train: number; readonly test: number; readonly ms: number; readonly ir: { readonly train: IrPair; readonly eval: IrPair }; readonly summary: { readonly params: number } }
  | { readonly kind: "progress"; readonly step: number; readonly steps: number; readonly epoch: number; readonly loss: number; readonly samplesPerSecond: number; readonly jobs: number[] }
  | { readonly kind: "eval"; readonly step: number; readonly accuracy: number }
  | { readonly kind: "done"; readonly step: number; readonly accuracy: number; readonly ms: number; readonly jobs: number[]; readonly stopped: boolean }
  | { readonly kind: "probabilities"; readonly p: number[] }
  | { readonly kind: "checkpoint"; readonly format: "safetensors" | "onnx"; readonly bytes: Uint8Array }
  | { readonly kind: "loaded"; readonly name: string; readonly accuracy: number }
  | { readonly kind: "bench"; readonly steps: number; readonly samplesPerSecond: number; readonly seconds: number[]; readonly check: string; readonly jobs: number[] }
  | { readonly kind: "error"; readonly message: string };
