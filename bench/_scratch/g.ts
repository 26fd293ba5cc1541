import { createRequire } from "node:module";
const require = createRequire(import.meta.url);
const tf = require("@tensorflow/tfjs-core");
require("@tensorflow/tfjs-core/dist/register_all_gradients");
require("@tensorflow/tfjs-backend-cpu");
await tf.setBackend("cpu");
const g = tf.grad((x: any) => tf.sum(tf.add(tf.mul(x, x), 1)));
console.log(g(tf.tensor1d([1, 2, 3])).dataSync());
