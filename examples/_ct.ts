import { deepMlp } from "./lib/deep.js";
import { compile } from "../src/index.js";
process.env.KILN_DEBUG = "1";
const t = performance.now();
const net = compile(deepMlp({ c: 2 }), { inputs: 784, batch: 64, probes: { activationNorm: true, gradNorm: true } });
console.log("compile ms", performance.now() - t);
