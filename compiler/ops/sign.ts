import { unaryOp } from "./shared.js";
/** y = sign x ∈ {−1, 0, 1} (NaN stays NaN); its derivative is 0 almost everywhere. */
export const sign = unaryOp("sign", "sign", () => null);
