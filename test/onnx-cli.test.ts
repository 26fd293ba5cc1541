/** `kiln export` (a model file and a checkpoint → ONNX, checked in ONNX Runtime) and `kiln inspect model.onnx`. */
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import * as ort from "onnxruntime-node";
import { describe, expect, it } from "vitest";
import { cliOutput } from "./helpers/cli.js";
import { compile } from "../src/index.js";
import { model, options } from "../examples/models/mlp.js";

const out = cliOutput;

describe("kiln export", () => {
  it("writes the checkpoint's eval program as ONNX that ONNX Runtime runs to net.predict's outputs", async () => {
    const dir = mkdtempSync(join(tmpdir(), "kiln-export-"));
    try {
      const net = compile(model, { ...options, threads: 1 });
      net.setTotalSteps(2); // mlp.ts's cosine spans the run it is told
      const x = Float32Array.from({ length: 3 * 784 }, (_, i) => Math.sin(i));
      for (let s = 0; s < 2; s++) net.trainStep(Float32Array.from({ length: options.batch * 784 }, (_, i) => Math.cos(i * (s + 1))), Int32Array.from({ length: options.batch }, (_, i) => i % 10));
      await net.save(join(dir, "ck.safetensors"));
      const text = await out(["export", "examples/models/mlp.ts", "--checkpoint", join(dir, "ck.safetensors"), "--onnx", join(dir, "m.onnx"), "--fold-batchnorm"]);
      expect(text).toMatch(/wrote .*m\.onnx: ONNX opset 17, input x \[batch, 784\] → logits \[batch, 10\], 270,346 parameters \(batchNorm folded\)/);
      const session = await ort.InferenceSession.create(join(dir, "m.onnx"), { intraOpNumThreads: 1 });
      const got = (await session.run({ x: new ort.Tensor("float32", x, [3, 784]) })).logits!.data as Float32Array;
      const want = net.predict(x);
      const scale = Math.max(...Array.from(want, Math.abs));
      expect(Math.max(...Array.from(want, (w, i) => Math.abs(w - got[i]!))) / scale).toBeLessThanOrEqual(1e-5);
      await expect(out(["export", "examples/models/mlp.ts", "--onnx", join(dir, "n.onnx")])).rejects.toThrow(/--checkpoint FILE and --onnx OUT are required/);
      expect(await out(["export", "--help"])).toMatch(/usage: kiln export/);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe("kiln inspect model.onnx", () => {
  it("prints the imported model tree and its IR", async () => {
    const text = await out(["inspect", "test/fixtures/onnx/residual-layernorm.onnx", "--graph", "eval", "--after", "none"]);
    expect(text).toMatch(/^test\/fixtures\/onnx\/residual-layernorm\.onnx: imported from ONNX, 10 input features/);
    expect(text).toMatch(/3: residual {2}\(544 params\)\n {4}3\.fn: seq/);
    expect(text).toMatch(/total: 820 parameters/);
    expect(text).toMatch(/── eval after none ──\n\{ lambda x:f32\[32,10\] 0\.weight:f32\[16,10\]/);
    expect(text).toMatch(/= normalize\[axis=1 eps=0\.00001\]/);
    await expect(out(["inspect", "test/fixtures/onnx/nothing.onnx"])).rejects.toThrow(/cannot read ONNX model "test\/fixtures\/onnx\/nothing\.onnx": ENOENT/);
  });
});
