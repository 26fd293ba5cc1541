// A compute worker for thread-pool tests: runtime/worker.mjs's protocol, plus ways to misbehave
// that a descheduled thread would, chosen by the test in ctrl[11]:
//   0 normal;
//   1 hold: claim one chunk, then keep it until every other chunk of the call is done (a worker
//     descheduled mid-chunk), then run it;
//   2 late: claim the job but no chunk until every chunk is done, then wait for ctrl[12] before
//     finishing the job (a worker descheduled right after waking).
// ctrl[13] counts chunks held (mode 1).
const { receiveMessageOnPort, workerData } = require("node:worker_threads");
const { ctrlBuffer, argsBuffer, ticketsBuffer, port } = workerData;
const ctrl = new Int32Array(ctrlBuffer), args = new Float64Array(argsBuffer), tickets = new Int32Array(ticketsBuffer);
const instances = new Map();
let seen = 0;
Atomics.store(ctrl, 6, 1);
const waitUntil = (a, i, value) => { for (let v = Atomics.load(a, i); v !== value; v = Atomics.load(a, i)) Atomics.wait(a, i, v, 5); };
for (;;) {
  Atomics.wait(ctrl, 0, seen);
  const seq = Atomics.load(ctrl, 0);
  if (seq < 0) break;
  seen = seq;
  if (Atomics.compareExchange(ctrl, 7, seq - 1, seq) !== seq - 1) continue;
  if (ctrl[3] === -1) instances.delete(ctrl[2]);
  else {
    while (!instances.has(ctrl[2])) {
      const m = receiveMessageOnPort(port);
      if (!m) { Atomics.wait(ctrl, 5, 0, 1); continue; }
      instances.set(m.message.id, { exports: new WebAssembly.Instance(m.message.module, { env: { memory: m.message.memory } }).exports, names: m.message.names });
    }
    const inst = instances.get(ctrl[2]);
    const fn = inst.exports[inst.names[ctrl[3]]];
    const n = ctrl[4], base = ctrl[8], end = ctrl[9], mode = ctrl[11];
    if (mode === 2) { waitUntil(tickets, 1, end); waitUntil(ctrl, 12, 1); }
    for (let held = false; ;) {
      const v = Atomics.load(tickets, 0);
      if (((v - end) | 0) >= 0) break;
      if (Atomics.compareExchange(tickets, 0, v, (v + 1) | 0) !== v) continue;
      if (mode === 1 && !held) { held = true; ctrl[13]++; waitUntil(tickets, 1, (end - 1) | 0); }
      const o = (v - base) * n;
      fn(...Array.from(args.subarray(o, o + n)));
      ctrl[10]++;
      Atomics.add(tickets, 1, 1);
      Atomics.notify(tickets, 1);
    }
  }
  Atomics.store(ctrl, 1, seq);
  Atomics.notify(ctrl, 1);
}
