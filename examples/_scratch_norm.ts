import { batchNorm, compile, dropout, layerNorm, linear, printIR, relu, seq, sgd } from "../src/index.js";
const model = seq(linear(6, 5), layerNorm(5), relu, dropout(0.1), linear(5, 5), batchNorm(5), relu, linear(5, 3));
const which = process.argv[2] ?? "opt";
const net = compile(model, { inputs: 6, batch: 4, optimizer: sgd({ lr: 0.1, momentum: 0.9 }), optimize: which !== "ref" });
console.log(printIR(net.ir.train));
console.log("nodes", net.ir.train.nodes.length);
