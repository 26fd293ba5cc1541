/**
 * The ONNX wire format, through protobufjs and the official schema (./onnx.proto, as shipped by
 * ONNX 1.12 — IR version 8, compiled to protobufjs's JSON descriptor in ./schema.ts, so no file is
 * read and no .proto parser is bundled: ONNX works in a browser as in Node). Nothing here knows the
 * encoding: protobufjs reads and writes it.
 *
 * The interfaces below type the part of the schema kiln reads and writes. A decoded message has
 * every field of its type (protobufjs puts proto2 defaults on the prototype); int64 fields come
 * back as `Long` objects, read through `int()`.
 *
 * Decoding is the boundary with files from anywhere: every exception of the decoder (truncated
 * input, wrong wire types, a RangeError from deeply nested messages) becomes a DecodeError.
 */
import protobuf from "protobufjs/light.js";
import { DecodeError } from "../../runtime/errors.js";
import { ONNX_SCHEMA } from "./schema.js";
import { checkWire } from "./wire.js";

/** protobufjs's 64-bit integer (from the `long` package), or a plain number when encoding. */
export interface LongLike { readonly low: number; readonly high: number; readonly unsigned: boolean; toNumber(): number }
export type Int64 = number | LongLike;

export interface TensorShapeDim { dim_value?: Int64; dim_param?: string }
export interface ValueInfo {
  name: string;
  type?: { tensor_type?: { elem_type?: number; shape?: { dim: TensorShapeDim[] } | null } | null } | null;
}
export interface Tensor {
  name: string;
  dims: Int64[];
  data_type: number;
  float_data: number[];
  int64_data: Int64[];
  int32_data: number[];
  double_data: number[];
  raw_data: Uint8Array;
  data_location: number;
  external_data: { key: string; value: string }[];
  segment?: unknown;
}
export interface Attribute {
  name: string;
  type: number;
  f: number;
  i: Int64;
  s: Uint8Array;
  t?: Tensor | null;
  g?: Graph | null;
  floats: number[];
  ints: Int64[];
  graphs: Graph[];
}
export interface Node {
  name: string;
  op_type: string;
  domain: string;
  input: string[];
  output: string[];
  attribute: Attribute[];
}
export interface Graph {
  name: string;
  node: Node[];
  initializer: Tensor[];
  sparse_initializer: unknown[];
  input: ValueInfo[];
  output: ValueInfo[];
  value_info: ValueInfo[];
}
export interface Model {
  ir_version: Int64;
  opset_import: { domain: string; version: Int64 }[];
  producer_name: string;
  producer_version: string;
  graph?: Graph | null;
  functions: unknown[];
}

/** TensorProto.DataType and AttributeProto.AttributeType values kiln uses. */
export const DataType = { FLOAT: 1, INT32: 6, INT64: 7, DOUBLE: 11 } as const;
export const AttrType = { FLOAT: 1, INT: 2, STRING: 3, TENSOR: 4, GRAPH: 5, FLOATS: 6, INTS: 7 } as const;
export const EXTERNAL = 1;

let modelType: protobuf.Type | null = null;

/** The ModelProto message type, built once (when first needed) from the schema's descriptor. */
function ModelProto(): protobuf.Type {
  if (modelType === null) modelType = protobuf.Root.fromJSON(ONNX_SCHEMA).lookupType("onnx.ModelProto");
  return modelType;
}

/**
 * An int64 field as a number; a KilnError if it is not a safe integer (a declared dimension of
 * 2⁶³ must not turn into a rounded float that passes a size check).
 */
export function int(x: Int64 | undefined | null, what: string): number {
  const n = typeof x === "number" ? x : x === undefined || x === null ? 0 : x.toNumber();
  if (!Number.isSafeInteger(n)) {
    throw new DecodeError(`ONNX: ${what} is not an integer kiln can use (${String(x)})`);
  }
  return n;
}

/** Bytes → ModelProto, every decoder failure a DecodeError. */
export function decodeModel(bytes: Uint8Array): Model {
  if (!(bytes instanceof Uint8Array)) throw new DecodeError(`ONNX: expected the bytes of a model (Uint8Array), got ${bytes === null ? "null" : typeof bytes}`);
  checkWire(bytes); // strings that are not UTF-8, decoding that would outgrow the file (./wire.ts)
  try {
    return ModelProto().decode(bytes) as unknown as Model;
  } catch (e) {
    const why = e instanceof RangeError && /call stack/i.test(e.message) ? "messages nested too deeply" : (e as Error)?.message ?? String(e);
    throw new DecodeError(`ONNX: not a valid ModelProto (${why})`, { cause: e });
  }
}

/** ModelProto → bytes (a plain object shaped like the schema; int64 fields as numbers). */
export function encodeModel(model: object): Uint8Array {
  const type = ModelProto();
  const problem = type.verify(model);
  if (problem !== null) throw new DecodeError(`ONNX export: invalid ModelProto (${problem})`);
  return new Uint8Array(type.encode(type.fromObject(model)).finish()); // a plain copy, not a pooled Buffer
}

/** A name for messages: quoted, at most 60 characters (names come from files from anywhere). */
export const quoteName = (s: string | undefined): string => {
  const t = String(s ?? "");
  return JSON.stringify(t.length > 60 ? `${t.slice(0, 57)}...` : t);
};
