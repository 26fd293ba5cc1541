/**
 * The few SVG text primitives the charts are built from. Everything that reaches the output goes
 * through `esc` (text and attribute values) or `num` (coordinates), so the document is well-formed
 * and byte-identical for the same input whatever the data holds.
 */
import { LONE_SURROGATE } from "../validate.js";

// Characters XML 1.0 forbids even when escaped (C0 controls except tab, LF, CR; U+FFFE/U+FFFF),
// and UTF-16 halves without a partner: a writer would turn those into U+FFFD anyway, so do it here
// and keep the string and the file in agreement.
const FORBIDDEN = /[\u0000-\u0008\u000B\u000C\u000E-\u001F\uFFFE\uFFFF]/g;
const LONE_SURROGATES = new RegExp(LONE_SURROGATE.source, "g");
const ENTITY: Record<string, string> = { "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&apos;" };

/**
 * XML-escape text for element content or a double-quoted attribute value.
 * @example esc('a<b & "c"') // 'a&lt;b &amp; &quot;c&quot;'
 */
export function esc(text: unknown): string {
  return String(text)
    .replace(FORBIDDEN, "")
    .replace(LONE_SURROGATES, "\uFFFD")
    .replace(/[&<>"']/g, (c) => ENTITY[c]!);
}

/**
 * A coordinate with at most 2 decimals and no trailing zeros (`-0` becomes `0`); non-finite → `0`
 * so a bug upstream can never write `NaN` into an attribute.
 * @example num(12.3456) // "12.35"; num(3) // "3"
 */
export function num(x: number): string {
  if (!Number.isFinite(x)) return "0";
  // Far beyond any canvas; the clamp keeps toFixed out of its exponent form (1e+21).
  const s = (Math.round(Math.max(-1e9, Math.min(1e9, x)) * 100) / 100).toFixed(2).replace(/\.?0+$/, "");
  return s === "-0" ? "0" : s;
}

/**
 * One element as text; attributes in the given order (determinism), `undefined` ones omitted,
 * strings escaped, numbers through `num`.
 * @example el("line", { x1: 0, y1: 0, x2: 10, y2: 0, stroke: "#333" }) // '<line x1="0" ... />'
 */
export function el(tag: string, attrs: Record<string, string | number | undefined>, body?: string): string {
  let s = `<${tag}`;
  for (const [k, v] of Object.entries(attrs)) {
    if (v === undefined) continue;
    s += ` ${k}="${typeof v === "number" ? num(v) : esc(v)}"`;
  }
  return body === undefined ? `${s}/>` : `${s}>${body}</${tag}>`;
}

/**
 * A text element; `content` is escaped here.
 * @example text(10, 20, "σ² = 2/n", { "text-anchor": "middle" })
 */
export function text(x: number, y: number, content: string, attrs: Record<string, string | number | undefined> = {}): string {
  return el("text", { x, y, ...attrs }, esc(content));
}

const SUPERSCRIPT: Record<string, string> = {
  "-": "⁻", "0": "⁰", "1": "¹", "2": "²", "3": "³", "4": "⁴", "5": "⁵", "6": "⁶", "7": "⁷", "8": "⁸", "9": "⁹",
};

/**
 * A power of ten as a label with Unicode superscripts (survives copy-paste, needs no tspan tricks).
 * @example decade(-8) // "10⁻⁸"
 */
export function decade(exponent: number): string {
  return "10" + String(exponent).replace(/[-0-9]/g, (c) => SUPERSCRIPT[c]!);
}

/**
 * Rough width of a label in pixels; DejaVu/Helvetica average about 0.6 em per character. Used for
 * margins and legend boxes only, so a small error costs a few pixels of white space.
 * @example textWidth("10⁻⁸", 11) // ≈ 26
 */
export function textWidth(label: string, fontSize: number): number {
  let w = 0;
  for (const ch of label) w += /[⁰¹²³⁴⁵⁶⁷⁸⁹⁻]/.test(ch) ? 0.42 : /[ il.,:;'|!1]/.test(ch) ? 0.36 : 0.62;
  return w * fontSize;
}

/**
 * Cut a label to at most `max` characters (code points, never half a surrogate pair) with "…".
 * @example clip("a very long series name", 8) // "a very …"
 */
export function clip(label: string, max: number): string {
  const chars = Array.from(label);
  return chars.length <= max ? label : chars.slice(0, Math.max(1, max - 1)).join("") + "…";
}
