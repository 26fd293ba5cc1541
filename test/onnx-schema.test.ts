/**
 * src/onnx/schema.ts is generated from src/onnx/onnx.proto (bin/onnx-schema.mjs): it must be what the
 * generator makes of today's .proto, and a model must survive encode → decode through it exactly as
 * through the parsed .proto (the wire format is the schema's, not the descriptor's).
 */
import { readFileSync } from "node:fs";
import protobuf from "protobufjs";
import { describe, expect, it } from "vitest";
// @ts-expect-error — a plain .mjs build script, no declarations
import { schemaSource } from "../bin/onnx-schema.mjs";
import { decodeModel, encodeModel } from "../src/onnx/proto.js";

const protoText = readFileSync(new URL("../src/onnx/onnx.proto", import.meta.url), "utf8");

describe("ONNX schema descriptor", () => {
  it("is what bin/onnx-schema.mjs generates from onnx.proto", () => {
    const generated = readFileSync(new URL("../src/onnx/schema.ts", import.meta.url), "utf8");
    expect(generated).toBe((schemaSource as (t: string) => string)(protoText));
  });

  it("decodes and encodes the same bytes as the parsed .proto", () => {
    const parsed = protobuf.parse(protoText, { keepCase: true }).root.lookupType("onnx.ModelProto");
    for (const name of ["mlp", "batchnorm", "residual-layernorm"]) {
      const bytes = new Uint8Array(readFileSync(new URL(`./fixtures/onnx/${name}.onnx`, import.meta.url)));
      const theirs = Buffer.from(parsed.encode(parsed.decode(bytes)).finish());
      expect(Buffer.from(encodeModel(decodeModel(bytes)))).toEqual(theirs);
      expect(theirs.length).toBeGreaterThan(1000);
      const fields = parsed.toObject(parsed.decode(bytes), { defaults: false });
      expect(Buffer.from(encodeModel(fields))).toEqual(theirs); // their decoded fields, our encoder
    }
  });
});
