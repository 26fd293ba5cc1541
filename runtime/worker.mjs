// A kiln compute thread: runs exported kernels of the kernel module on a shared arena.
// Plain JavaScript on purpose — it needs no loader, only the module and memories it is sent.
// Protocol (see threads.ts): ctrl[0] = job sequence (−1: exit), ctrl[1] = last finished job,
// ctrl[2] = memory id, ctrl[3] = export index, ctrl[4] = argument count; arguments in `args`.
import { receiveMessageOnPort, workerData } from "node:worker_threads";

const { ctrlBuffer, argsBuffer, port } = workerData;
const ctrl = new Int32Array(ctrlBuffer);
const args = new Float64Array(argsBuffer);
Atomics.store(ctrl, 6, 1); // listening: the caller may hand this worker parts (see workers.ts)
const instances = new Map();
let names = [];
let seen = 0;

// Spin this long for the next job before sleeping: a sleeping thread takes 50–150 µs to wake on
// a VM (measured), and the kernels of one step follow each other within microseconds.
const SPIN_MS = Number(process.env.KILN_SPIN_US ?? 1000) / 1000;

for (;;) {
  const until = performance.now() + SPIN_MS;
  while (Atomics.load(ctrl, 0) === seen && performance.now() < until);
  Atomics.wait(ctrl, 0, seen);
  const seq = Atomics.load(ctrl, 0);
  if (seq < 0) break;
  seen = seq;
  // Memories are attached by message before the first job that uses them.
  while (!instances.has(ctrl[2])) {
    const m = receiveMessageOnPort(port);
    if (!m) { Atomics.wait(ctrl, 5, 0, 1); continue; } // not delivered yet: wait 1 ms and look again
    names = m.message.names;
    instances.set(m.message.id, new WebAssembly.Instance(m.message.module, { env: { memory: m.message.memory } }).exports);
  }
  const exports = instances.get(ctrl[2]);
  const fn = exports[names[ctrl[3]]];
  const n = ctrl[4];
  switch (n) {
    case 0: fn(); break;
    default: fn(...Array.from(args.subarray(0, n)));
  }
  Atomics.store(ctrl, 1, seq);
  Atomics.notify(ctrl, 1);
}
