/**
 * Reader for the IDX format of MNIST-family files (http://yann.lecun.com/exdb/mnist/):
 *
 *   bytes 0–1  zero;  byte 2  dtype (0x08 = uint8);  byte 3  number of dimensions d;
 *   then d big-endian uint32 sizes; then the row-major data, nothing after it.
 *
 * Images (magic 0x00000803, [count, rows, cols]) become one Float32Array scaled to [0, 1];
 * labels (magic 0x00000801, [count]) one Int32Array — no object per sample.
 *
 * Files may be gzipped (detected by the 0x1f8b magic). A corrupt file is a DecodeError naming the
 * file, and nothing is allocated beyond what the file can justify: the header is checked against
 * the byte length (or, for gzip, against the most a deflate stream of that size can expand to)
 * before any array is made, and decompression is capped at the size the header declares.
 */
import { constants as zc, gunzipSync } from "node:zlib";
import { DecodeError, InputError, KilnError } from "../../runtime/errors.js";
import { readRegularFileAsync, UnreadableFile } from "../io/read-file.js";
import { typeName } from "../validate.js";

/** Images of an IDX file: `pixels[i·rows·cols + r·cols + c]` = byte/255. */
export interface IdxImages {
  readonly count: number;
  readonly rows: number;
  readonly cols: number;
  readonly pixels: Float32Array;
}

/** Labels of an IDX file: one class index per sample. */
export interface IdxLabels {
  readonly count: number;
  readonly labels: Int32Array;
}

export type IdxKind = "images" | "labels";

/**
 * Largest tensor accepted (2³⁰ elements = 4 GiB as float32). Larger than every MNIST-family file
 * (EMNIST byclass has 0.55·2³⁰); a header above it is corrupt, not a dataset.
 */
export const MAX_IDX_ELEMENTS = 2 ** 30;

/** Deflate expands at most 1032:1 (a 258-byte match per ≥2 bits); the slack covers gzip framing. */
const DEFLATE_MAX_RATIO = 1032;
const GZIP_SLACK = 1024;
/** Output cap while probing a gzip prefix for the header (16 bytes are needed). */
const PROBE_CAP = 1 << 20;

const DIMS: Record<IdxKind, number> = { images: 3, labels: 1 };
const DTYPE_NAMES: Record<number, string> = {
  0x08: "uint8", 0x09: "int8", 0x0b: "int16", 0x0c: "int32", 0x0d: "float32", 0x0e: "float64",
};
const hex = (n: number, digits: number): string => "0x" + n.toString(16).padStart(digits, "0");

/** value/255 for every byte, so the conversion loop is one table look-up per pixel. */
const SCALE = new Float32Array(256).map((_, i) => i / 255);

/**
 * Decode an IDX file already in memory (gzipped or not).
 * @param file the name used in error messages.
 * @throws DecodeError when the bytes are not a well-formed IDX file of that kind.
 * @example
 * const { count, rows, cols, pixels } = decodeIdx(bytes, "train-images-idx3-ubyte.gz", "images");
 */
export function decodeIdx(bytes: Uint8Array, file: string, kind: "images"): IdxImages;
export function decodeIdx(bytes: Uint8Array, file: string, kind: "labels"): IdxLabels;
export function decodeIdx(bytes: Uint8Array, file: string, kind: IdxKind): IdxImages | IdxLabels;
export function decodeIdx(bytes: Uint8Array, file: string, kind: IdxKind): IdxImages | IdxLabels {
  if (kind !== "images" && kind !== "labels") throw new InputError(`decodeIdx: expected kind "images" or "labels", got ${JSON.stringify(kind) ?? String(kind)}`);
  if (!(bytes instanceof Uint8Array)) {
    throw new InputError(`decodeIdx(${String(file)}): expected the file's bytes as a Uint8Array, got ${typeName(bytes)}`);
  }
  const gz = bytes.length >= 2 && bytes[0] === 0x1f && bytes[1] === 0x8b;
  const where = gz ? `${file} (after gunzip)` : file;
  const head = gz ? gunzipHead(bytes, file) : bytes;
  const dims = parseHeader(head, where, kind);
  const headerBytes = 4 + 4 * dims.length;
  const elements = dims.reduce((a, b) => a * b, 1);
  const shape = dims.join("×");
  if (elements > MAX_IDX_ELEMENTS) {
    throw new DecodeError(`${where}: header declares ${shape} = ${elements} elements, more than the ` +
      `${MAX_IDX_ELEMENTS} kiln accepts; the header is corrupt`);
  }
  const total = headerBytes + elements;
  let raw: Uint8Array;
  if (gz) {
    const bound = bytes.length * DEFLATE_MAX_RATIO + GZIP_SLACK;
    if (total > bound) {
      throw new DecodeError(`${where}: header declares ${shape} (${total} bytes), but ${bytes.length} ` +
        `gzip bytes expand to at most ${bound}; the header is corrupt`);
    }
    raw = gunzipExact(bytes, total, file, shape);
  } else {
    raw = bytes;
  }
  if (raw.length < total) {
    throw new DecodeError(`${where}: truncated: header declares ${shape}, expected ${total} bytes ` +
      `(${headerBytes} header + ${elements} data), found ${raw.length}`);
  }
  if (raw.length > total) {
    throw new DecodeError(`${where}: ${raw.length - total} bytes of trailing data: header declares ` +
      `${shape}, expected ${total} bytes, found ${raw.length}`);
  }
  const data = raw.subarray(headerBytes);
  if (kind === "labels") {
    return { count: dims[0]!, labels: Int32Array.from(data) };
  }
  const pixels = allocate(elements, where);
  for (let i = 0; i < elements; i++) pixels[i] = SCALE[data[i]!]!;
  return { count: dims[0]!, rows: dims[1]!, cols: dims[2]!, pixels };
}

/**
 * Read and decode an IDX file (gzipped or not) from disk.
 * @throws InputError when the file cannot be read, DecodeError when it is not a valid IDX file.
 * @example
 * const { labels } = await readIdx("/usr/share/datasets/fashion-mnist/t10k-labels-idx1-ubyte.gz", "labels");
 */
export async function readIdx(path: string, kind: "images"): Promise<IdxImages>;
export async function readIdx(path: string, kind: "labels"): Promise<IdxLabels>;
export async function readIdx(path: string, kind: IdxKind): Promise<IdxImages | IdxLabels> {
  // A number would be read as a file descriptor (0: stdin); a URL or Buffer is not a path the messages can name.
  if (typeof path !== "string") throw new InputError(`readIdx: expected a path (string), got ${typeof path}`);
  if (kind !== "images" && kind !== "labels") throw new InputError(`readIdx: expected kind "images" or "labels", got ${JSON.stringify(kind) ?? String(kind)}`);
  let bytes: Uint8Array;
  try {
    bytes = await readRegularFileAsync(path, `IDX ${kind} file`); // not a FIFO or /dev/zero
  } catch (e) {
    if (!(e instanceof UnreadableFile)) throw e;
    throw new InputError(`${path}: cannot read the IDX ${kind} file: ${e.reason}`, { cause: e });
  }
  return decodeIdx(bytes, path, kind);
}

/** The dims of the header, checked against the expected kind. `head` holds at least the header or is short. */
function parseHeader(head: Uint8Array, where: string, kind: IdxKind): number[] {
  const want = DIMS[kind];
  const magic = kind === "images" ? "0x00000803" : "0x00000801";
  if (head.length < 4) {
    throw new DecodeError(`${where}: truncated: expected a 4-byte IDX magic ${magic}, found ${head.length} bytes`);
  }
  const found = hex(((head[0]! << 24) | (head[1]! << 16) | (head[2]! << 8) | head[3]!) >>> 0, 8);
  if (head[0] !== 0 || head[1] !== 0) {
    throw new DecodeError(`${where}: bad magic: expected ${magic} (IDX ${kind}), found ${found}; not an IDX file`);
  }
  const dtype = head[2]!;
  if (dtype !== 0x08) {
    const name = DTYPE_NAMES[dtype] ?? "unknown";
    throw new DecodeError(`${where}: unsupported dtype ${hex(dtype, 2)} (${name}) in magic ${found}; ` +
      `expected 0x08 (uint8)`);
  }
  if (head[3] !== want) {
    throw new DecodeError(`${where}: expected ${want} dimension${want > 1 ? "s" : ""} (IDX ${kind}, magic ` +
      `${magic}), found ${head[3]} (magic ${found})`);
  }
  const headerBytes = 4 + 4 * want;
  if (head.length < headerBytes) {
    throw new DecodeError(`${where}: truncated header: expected ${headerBytes} bytes, found ${head.length}`);
  }
  const view = new DataView(head.buffer, head.byteOffset, headerBytes);
  const dims: number[] = [];
  for (let d = 0; d < want; d++) dims.push(view.getUint32(4 + 4 * d, false));
  if (dims.includes(0)) {
    throw new DecodeError(`${where}: header declares shape ${dims.join("×")}; expected every dimension ≥ 1`);
  }
  return dims;
}

/**
 * The first bytes of a gzip stream (at least 16, the largest header read here, unless the stream
 * is shorter), decompressing only a prefix of the compressed bytes. Z_SYNC_FLUSH makes zlib return
 * what a truncated input decodes to instead of failing. The prefix grows ×4; should one step jump
 * past PROBE_CAP (a bomb right at the start), bisect back to a prefix whose output fits.
 */
function gunzipHead(gz: Uint8Array, file: string): Uint8Array {
  const need = 16;
  const probe = (n: number): Uint8Array | undefined => {
    try {
      return gunzipSync(gz.subarray(0, n), { finishFlush: zc.Z_SYNC_FLUSH, maxOutputLength: PROBE_CAP });
    } catch (e) {
      if (e instanceof RangeError) return undefined; // output would exceed PROBE_CAP
      throw gzipError(e, file);
    }
  };
  let lo = 0;
  let hi = 0;
  for (let n = 256; ; n *= 4) {
    const len = Math.min(n, gz.length);
    const out = probe(len);
    if (out === undefined) { hi = len; break; }
    if (out.length >= need || len === gz.length) return out;
    lo = len;
  }
  // output(lo) < need and output(hi) > PROBE_CAP; one input byte adds far less than PROBE_CAP.
  while (hi - lo > 1) {
    const mid = lo + ((hi - lo) >>> 1);
    const out = probe(mid);
    if (out === undefined) hi = mid;
    else if (out.length >= need) return out;
    else lo = mid;
  }
  throw new DecodeError(`${file}: gzip stream expands by more than ${PROBE_CAP} bytes within one input byte; ` +
    `expected an IDX header at its start`);
}

/** Decompress the whole stream, refusing to produce more than the `total` bytes the header justifies. */
function gunzipExact(gz: Uint8Array, total: number, file: string, shape: string): Uint8Array {
  let out: { buffer: Uint8Array; engine: { bytesWritten: number } };
  try {
    // info: how many input bytes the stream took. Node stops at bytes after the last member that
    // start no new one (it ignored [0, 1, 2, 3] after a member): those are trailing data too.
    out = gunzipSync(gz, { maxOutputLength: total, info: true } as Parameters<typeof gunzipSync>[1]) as unknown as typeof out;
  } catch (e) {
    if (e instanceof RangeError) {
      throw new DecodeError(`${file} (after gunzip): header declares ${shape}, expected ${total} bytes, ` +
        `found more (trailing data, or a decompression bomb)`);
    }
    throw gzipError(e, file);
  }
  const rest = gz.length - out.engine.bytesWritten;
  if (rest > 0) throw new DecodeError(`${file}: ${rest} bytes of trailing data after the gzip stream; expected the stream to end the file`);
  return out.buffer;
}

function gzipError(e: unknown, file: string): DecodeError {
  const detail = e instanceof Error ? e.message : String(e);
  return new DecodeError(`${file}: corrupt gzip stream (${detail}); expected a gzipped IDX file`);
}

/** A Float32Array of n elements; an allocation failure becomes a KilnError, never a bare RangeError. */
function allocate(n: number, where: string): Float32Array {
  try {
    return new Float32Array(n);
  } catch {
    throw new KilnError(`${where}: could not allocate ${n} float32 values (${(n * 4 / 2 ** 20).toFixed(0)} MiB)`);
  }
}
