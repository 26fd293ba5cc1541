/**
 * Random PyTorch models through torch.onnx.export (test/fixtures/random_onnx_fixtures.py): each
 * imports, predicts what PyTorch predicted, and trains three SGD steps as PyTorch did (a model
 * with dropout: predictions only). The committed eight cover every op the generator drew before
 * attention (57 op types, opsets 13-17), three more its --training exports (random-70xx: a weight
 * transposed by a node, DOUBLE numbers, shapes of shapes, Dropout), three its attention blocks
 * (random-9184, -9140, -9521); set KILN_ONNX_FIXTURES_DIR to a directory the script wrote to
 * sweep more.
 *
 * Tolerances: predictions 1e-5 relative (as test/onnx-import.test.ts); training 1e-4, as three
 * steps of float32 with different summation orders drift further on these untuned models.
 */
import { readdirSync, readFileSync } from "node:fs";
import { resolve } from "node:path";
import { pathToFileURL } from "node:url";
import { describe, expect, it } from "vitest";
import { compile, sgd } from "../src/index.js";
import { fromOnnx } from "../src/onnx/import.js";
import { load, relErr, type OnnxFixture } from "./helpers/onnx.js";

const other = process.env["KILN_ONNX_FIXTURES_DIR"];
const dir = other ? pathToFileURL(resolve(other) + "/") : new URL("./fixtures/onnx/", import.meta.url);
const names = readdirSync(dir).filter((f) => /^random-\d+\.json$/.test(f)).map((f) => f.slice(0, -5)).sort();

describe("random PyTorch models through ONNX", () => {
  it("there are fixtures to read", () => expect(names.length).toBeGreaterThan(0));
  for (const name of names) {
    it(`${name}: PyTorch's predictions, and its three SGD steps`, () => {
      const fx = JSON.parse(readFileSync(new URL(`${name}.json`, dir), "utf8")) as OnnxFixture;
      const imported = fromOnnx(new Uint8Array(readFileSync(new URL(`${name}.onnx`, dir))));
      const net = compile(imported.model, { inputs: imported.inputs, batch: 8, seed: 0, optimizer: sgd({ lr: fx.train?.lr ?? 0.05 }) });
      load(net, imported);
      expect(relErr(net.predict(fx.x.data), fx.logits.data)).toBeLessThanOrEqual(1e-5);
      if (fx.train === null) return; // dropout: random masks, no trajectory to compare
      const losses = fx.train.steps.map((s) => net.trainStep(s.x.data, s.labels));
      expect(relErr(losses, fx.train.losses)).toBeLessThanOrEqual(1e-4);
      expect(relErr(net.predict(fx.x.data), fx.train.logits.data)).toBeLessThanOrEqual(1e-4);
    });
  }
});
