/**
 * Feature detection (runtime/wasm/features.ts) and the kernel module variants it selects:
 * relaxed SIMD found natively or enabled with the V8 flag, the KILN_RELAXED_SIMD=0 opt-out, and
 * relaxed_madd emitted exactly in the FMA variant. The detection runs once per process, so the
 * first-use and opt-out behaviour is checked in fresh child processes.
 */
import { execFileSync } from "node:child_process";
import { fileURLToPath } from "node:url";
import { describe, expect, it } from "vitest";
import { relaxedProbeBytes, wasmFeatures } from "../runtime/wasm/features.js";
import { kernelBytes, kernelModule } from "../runtime/wasm/module.js";

const moduleTs = fileURLToPath(new URL("../runtime/wasm/module.ts", import.meta.url));
const featuresTs = fileURLToPath(new URL("../runtime/wasm/features.ts", import.meta.url));

/** Run `code` (an async function body; its return value is printed as JSON) in a fresh Node. */
function fresh(code: string, env: Record<string, string> = {}): unknown {
  const script = `const out = await (async () => { ${code} })(); console.log(JSON.stringify(out));`;
  const stdout = execFileSync(process.execPath, ["--import", "tsx", "--input-type=module", "-e", script], {
    env: { ...process.env, ...env }, encoding: "utf8", timeout: 60_000,
  });
  return JSON.parse(stdout.trim().split("\n").pop()!);
}

/** Whether the bytes contain f32x4.relaxed_madd: 0xFD prefix, then 0x105 as LEB128 (0x85 0x02). */
function hasRelaxedMadd(bytes: Uint8Array): boolean {
  for (let i = 0; i + 2 < bytes.length; i++) if (bytes[i] === 0xfd && bytes[i + 1] === 0x85 && bytes[i + 2] === 0x02) return true;
  return false;
}

describe("wasm features", () => {
  it("finds relaxed SIMD (natively or by enabling the V8 flag) unless opted out", () => {
    const f = wasmFeatures();
    if (process.env["KILN_RELAXED_SIMD"] === "0") {
      expect(f).toEqual({ relaxedSimd: false, fma: false, relaxedSimdSource: "disabled" });
      return;
    }
    expect(f.relaxedSimd).toBe(true); // V8 has had relaxed SIMD (behind a flag) since before Node 20
    expect(["native", "flag"]).toContain(f.relaxedSimdSource);
    expect(WebAssembly.validate(relaxedProbeBytes())).toBe(true);
  });

  it("enables relaxed SIMD at run time in a fresh process (Node 20: off until the flag is set)", () => {
    const out = fresh(`
      const { relaxedProbeBytes, wasmFeatures } = await import(${JSON.stringify(featuresTs)});
      const before = WebAssembly.validate(relaxedProbeBytes());
      const f = wasmFeatures();
      return { before, after: WebAssembly.validate(relaxedProbeBytes()), f };`, { KILN_RELAXED_SIMD: "" }) as
      { before: boolean; after: boolean; f: { relaxedSimd: boolean; relaxedSimdSource: string } };
    expect(out.after).toBe(true);
    expect(out.f.relaxedSimd).toBe(true);
    expect(out.f.relaxedSimdSource).toBe(out.before ? "native" : "flag");
  });

  it("KILN_RELAXED_SIMD=0 opts out: no flag set, no relaxed SIMD in the default module", () => {
    const out = fresh(`
      const { relaxedProbeBytes, wasmFeatures } = await import(${JSON.stringify(featuresTs)});
      const { kernelBytes } = await import(${JSON.stringify(moduleTs)});
      const native = WebAssembly.validate(relaxedProbeBytes());
      const bytes = kernelBytes();
      let relaxed = false;
      for (let i = 0; i + 2 < bytes.length; i++) if (bytes[i] === 0xfd && bytes[i + 1] === 0x85 && bytes[i + 2] === 0x02) relaxed = true;
      return { f: wasmFeatures(), native, after: WebAssembly.validate(relaxedProbeBytes()), valid: WebAssembly.validate(bytes), relaxed };`,
    { KILN_RELAXED_SIMD: "0" }) as { f: unknown; native: boolean; after: boolean; valid: boolean; relaxed: boolean };
    expect(out.f).toEqual({ relaxedSimd: false, fma: false, relaxedSimdSource: "disabled" });
    expect(out.after).toBe(out.native); // the flag was left alone
    expect(out.valid).toBe(true);
    expect(out.relaxed).toBe(false);
  });

  it("emits relaxed_madd only in the FMA variant; the default module is the detected one", () => {
    expect(hasRelaxedMadd(kernelBytes({ fma: false }))).toBe(false);
    if (wasmFeatures().relaxedSimd) {
      const fma = kernelBytes({ fma: true });
      expect(hasRelaxedMadd(fma)).toBe(true);
      expect(WebAssembly.validate(fma)).toBe(true);
    } else {
      expect(() => kernelBytes({ fma: true })).toThrow(/relaxed SIMD/);
    }
    expect(kernelModule()).toBe(kernelModule({ fma: wasmFeatures().fma }));
    expect(hasRelaxedMadd(kernelBytes())).toBe(wasmFeatures().fma);
  });
});
