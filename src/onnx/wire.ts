/**
 * A walk over a model's protobuf wire format, with the schema's field types, before protobufjs
 * decodes it (./proto.ts decodeModel). It refuses two kinds of file protobufjs would take:
 *
 * - A string field that is not UTF-8. protobufjs decodes bad bytes to U+FFFD, so two different
 *   invalid names became one name: a node reading a value nothing defines was wired to the graph
 *   input (ONNX Runtime refuses such a node).
 * - A file whose decoded objects would take far more memory than the file: protobufjs makes an
 *   object per message, a Long per int64 and a string per name, so 6,000,000 empty initializers
 *   (two bytes each, a 12 MB file) took 2.3 GB and 15,000,000 ran the process out of heap. The
 *   walk adds up what decoding will allocate (COST, rough V8 sizes) and refuses a file that would
 *   take more than BUDGET_FIXED + BUDGET_PER_BYTE × its size, naming the field that holds most.
 *
 * The walk allocates nothing per field. On bytes that are not well-formed protobuf it stops and
 * leaves the verdict to protobufjs (which then refuses the file), having refused only if what it
 * counted up to there is already over the budget.
 */
import { DecodeError } from "../../runtime/errors.js";
import { ONNX_SCHEMA } from "./schema.js";

/** Rough bytes of heap per decoded item (V8, 64-bit). */
const COST = { message: 160, string: 32, bytes: 64, long: 48, number: 8 } as const;
const BUDGET_FIXED = 64 * 2 ** 20;
const BUDGET_PER_BYTE = 8;

type Kind = "message" | "string" | "bytes" | "long" | "varint" | "fixed32" | "fixed64";
interface Field { readonly name: string; readonly kind: Kind; readonly type?: MessageType }
interface MessageType { readonly name: string; readonly fields: Map<number, Field> }

const SCALAR: Readonly<Record<string, Kind>> = {
  double: "fixed64", fixed64: "fixed64", sfixed64: "fixed64", float: "fixed32", fixed32: "fixed32", sfixed32: "fixed32",
  int64: "long", uint64: "long", sint64: "long", int32: "varint", uint32: "varint", sint32: "varint", bool: "varint",
  string: "string", bytes: "bytes",
};
/** The wire type each kind is written with (2 also for packed numbers). */
const WIRE: Readonly<Record<Kind, number>> = { message: 2, string: 2, bytes: 2, long: 0, varint: 0, fixed32: 5, fixed64: 1 };

interface Descriptor { fields?: Record<string, { type: string; id: number }>; values?: object; nested?: Record<string, Descriptor> }

/** The message types of the schema by full name, their fields resolved (enums are varints). */
function buildTypes(): MessageType {
  const types = new Map<string, MessageType>(), enums = new Set<string>(), pending: [string, Descriptor][] = [];
  const visit = (scope: string, d: Descriptor) => {
    for (const [name, sub] of Object.entries(d.nested ?? {})) {
      const full = scope ? `${scope}.${name}` : name;
      if (sub.values) enums.add(full);
      if (sub.fields) { types.set(full, { name, fields: new Map() }); pending.push([full, sub]); }
      visit(full, sub);
    }
  };
  visit("", ONNX_SCHEMA as Descriptor);
  // A field's type name is looked up from its message's scope outwards, as protobuf does.
  const resolve = (scope: string, name: string): string | undefined => {
    for (let s = scope; ; s = s.slice(0, Math.max(0, s.lastIndexOf(".")))) {
      const full = s ? `${s}.${name}` : name;
      if (types.has(full) || enums.has(full)) return full;
      if (!s) return undefined;
    }
  };
  for (const [full, d] of pending) {
    const t = types.get(full)!;
    for (const [name, f] of Object.entries(d.fields!)) {
      const ref = SCALAR[f.type] ? undefined : resolve(full, f.type);
      const kind: Kind = SCALAR[f.type] ?? (ref && types.has(ref) ? "message" : "varint");
      t.fields.set(f.id, { name, kind, ...(kind === "message" ? { type: types.get(ref!)! } : {}) });
    }
  }
  return types.get("onnx.ModelProto")!;
}

let modelType: MessageType | null = null;
const utf8 = new TextDecoder("utf-8", { fatal: true });

/** Refuse a model whose strings are not UTF-8 or whose decoding would outgrow the budget (see the file comment). */
export function checkWire(bytes: Uint8Array): void {
  modelType ??= buildTypes();
  const budget = BUDGET_FIXED + BUDGET_PER_BYTE * bytes.length;
  const spent = new Map<string, number>(); // per "Message.field": bytes of heap
  let total = COST.message, pos = 0;
  const charge = (t: MessageType, f: Field, n: number) => {
    total += n;
    const key = `${t.name}.${f.name}`;
    spent.set(key, (spent.get(key) ?? 0) + n);
  };
  // Returns −1 past the end or on an over-long varint (not protobuf: protobufjs will say so).
  const varint = (): number => {
    let v = 0, scale = 1;
    for (let i = 0; i < 10; i++) {
      if (pos >= bytes.length) return -1;
      const b = bytes[pos++]!;
      v += (b & 0x7f) * scale;
      if (b < 0x80) return v;
      scale *= 128;
    }
    return -1;
  };
  const stack: { type: MessageType; end: number }[] = [{ type: modelType, end: bytes.length }];
  walk: while (stack.length > 0) {
    const top = stack[stack.length - 1]!;
    if (pos >= top.end) { stack.pop(); continue; }
    const key = varint();
    if (key < 0) break;
    const id = Math.floor(key / 8), wire = key % 8;
    let len = 0;
    if (wire === 2) {
      len = varint();
      if (len < 0 || pos + len > top.end) break;
    }
    const f = top.type.fields.get(id);
    if (f && wire === WIRE[f.kind]) {
      if (f.kind === "message") { charge(top.type, f, COST.message); stack.push({ type: f.type!, end: pos + len }); continue; }
      if (f.kind === "string") {
        try { utf8.decode(bytes.subarray(pos, pos + len)); } catch {
          throw new DecodeError(`ONNX: a string of ${top.type.name}.${f.name} (at byte ${pos}) is not valid UTF-8; expected text, got the bytes ${hex(bytes.subarray(pos, pos + Math.min(len, 16)))}${len > 16 ? "…" : ""}`);
        }
        charge(top.type, f, COST.string + len);
      } else if (f.kind === "bytes") charge(top.type, f, COST.bytes + len);
      else charge(top.type, f, f.kind === "long" ? COST.long : COST.number);
    } else if (f && wire === 2 && f.kind !== "message" && f.kind !== "string" && f.kind !== "bytes") {
      // Packed numbers: one item per varint (a byte below 0x80 ends one) or per 4 or 8 bytes.
      let items = f.kind === "fixed32" ? len / 4 : f.kind === "fixed64" ? len / 8 : 0;
      if (f.kind === "long" || f.kind === "varint") for (let i = pos; i < pos + len; i++) if (bytes[i]! < 0x80) items++;
      charge(top.type, f, Math.floor(items) * (f.kind === "long" ? COST.long : COST.number));
    }
    // Skip the value (unknown fields too: protobufjs skips them without keeping anything).
    if (wire === 0) { if (varint() < 0) break; }
    else if (wire === 1) pos += 8;
    else if (wire === 2) pos += len;
    else if (wire === 5) pos += 4;
    else break walk; // groups (3, 4) and 6, 7: not in this schema; protobufjs decides
    if (total > budget) break;
  }
  if (total > budget) {
    const [field, most] = [...spent].reduce((a, b) => (b[1] > a[1] ? b : a));
    throw new DecodeError(`ONNX: decoding this ${mb(bytes.length)} file would take about ${mb(total)} of memory (${mb(most)} for ${field}); expected at most ${mb(budget)} (${BUDGET_PER_BYTE}× the file plus ${mb(BUDGET_FIXED)})`);
  }
}

const mb = (n: number) => `${(n / 2 ** 20).toFixed(n < 2 ** 20 ? 2 : 1)} MiB`;
const hex = (b: Uint8Array) => Array.from(b, (x) => x.toString(16).padStart(2, "0")).join(" ");
