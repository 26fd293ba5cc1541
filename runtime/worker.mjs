// A kiln compute thread: runs exported kernels of the kernel module on a shared arena.
// Plain JavaScript on purpose — it needs no loader, only the module and memories it is sent.
// Protocol (see workers.ts): ctrl[0] = job sequence (−1: exit), ctrl[1] = last finished job,
// ctrl[2] = memory id, ctrl[3] = export index (−1: drop that memory's instance, its network was
// released), ctrl[4] = arguments per chunk, ctrl[6] = 1 once listening, ctrl[7] = last claimed
// job, ctrl[8..9] = the job's tickets [base, end), ctrl[10] = chunks run here; chunk c's
// arguments at args[c·n …]. A job is this worker's only if it moves ctrl[7] from seq − 1 to seq
// before the caller takes it back; then it claims chunks from the pool's shared ticket counter
// (tickets[0], compare-and-swap while below end) until none is left, counting each one done in
// tickets[1].
import { receiveMessageOnPort, workerData } from "node:worker_threads";

const { ctrlBuffer, argsBuffer, ticketsBuffer, port } = workerData;
const ctrl = new Int32Array(ctrlBuffer);
const args = new Float64Array(argsBuffer);
const tickets = new Int32Array(ticketsBuffer);
Atomics.store(ctrl, 6, 1); // listening: the caller may hand this worker jobs (see workers.ts)
const instances = new Map();
/** One argument array per length, reused: a chunk call allocates nothing here. */
const argArrays = [];
let names = [];
let seen = 0;

// Spin for the next job before sleeping: a sleeping thread takes 50–150 µs to wake on a VM
// (measured), and the kernels of one step follow each other within microseconds. The spin adapts:
// a job seen while spinning that the caller had already taken back means this thread was not
// running when the job came (the machine is busy), and spinning then only takes the core from the
// thread it waits for — so the spin halves; a job this thread runs doubles it again, up to
// KILN_SPIN_US (default 100; see workers.ts).
const MAX_SPIN_MS = Number(process.env.KILN_SPIN_US ?? 100) / 1000;
let spinMs = MAX_SPIN_MS;

for (;;) {
  const until = performance.now() + spinMs;
  while (Atomics.load(ctrl, 0) === seen && performance.now() < until);
  const caught = Atomics.load(ctrl, 0) !== seen;
  Atomics.wait(ctrl, 0, seen);
  const seq = Atomics.load(ctrl, 0);
  if (seq < 0) break;
  seen = seq;
  if (Atomics.compareExchange(ctrl, 7, seq - 1, seq) !== seq - 1) {
    if (caught) spinMs = spinMs < 0.008 ? 0 : spinMs / 2; // taken back while we spun: we had no core
    continue;
  }
  spinMs = Math.min(MAX_SPIN_MS, Math.max(0.008, spinMs * 2));
  if (ctrl[3] === -1) {
    instances.delete(ctrl[2]);
  } else {
    // Memories are attached by message before the first job that uses them.
    while (!instances.has(ctrl[2])) {
      const m = receiveMessageOnPort(port);
      if (!m) { Atomics.wait(ctrl, 5, 0, 1); continue; } // not delivered yet: wait 1 ms and look again
      names = m.message.names;
      instances.set(m.message.id, new WebAssembly.Instance(m.message.module, { env: { memory: m.message.memory } }).exports);
    }
    const fn = instances.get(ctrl[2])[names[ctrl[3]]];
    const n = ctrl[4], base = ctrl[8], end = ctrl[9];
    const a = (argArrays[n] ??= new Array(n).fill(0));
    for (;;) {
      const v = Atomics.load(tickets, 0);
      if (((v - end) | 0) >= 0) break; // every chunk claimed (or this job is long over)
      if (Atomics.compareExchange(tickets, 0, v, (v + 1) | 0) !== v) continue;
      const o = ((v - base) | 0) * n;
      for (let k = 0; k < n; k++) a[k] = args[o + k];
      fn.apply(null, a);
      ctrl[10]++;
      Atomics.add(tickets, 1, 1);
      Atomics.notify(tickets, 1);
    }
  }
  Atomics.store(ctrl, 1, seq);
  Atomics.notify(ctrl, 1);
}
