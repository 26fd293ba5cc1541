// A kiln compute thread: runs exported kernels of the kernel module, and of fused loops' modules,
// on a shared arena.
// Plain JavaScript on purpose — it needs no loader, only the module and memories it is sent.
// Protocol (see workers.ts): ctrl[0] = job sequence (−1: exit), ctrl[1] = last finished job,
// ctrl[2] = instance id (a module on a memory), ctrl[3] = export index (−1: drop that instance,
// its network was released), ctrl[4] = arguments per chunk, ctrl[6] = 1 once listening, ctrl[7] = last claimed
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
/** Per instance id: its exports and the names a job's export index refers to (the kernel module's, or a fused loop's). */
const instances = new Map();
/** One argument array per length, reused: a chunk call allocates nothing here. */
const argArrays = [];
let seen = 0;

// Spin for the next job before sleeping: a sleeping thread takes 50–150 µs to wake on a VM
// (measured), and the kernels of one step follow each other within microseconds. The spin is
// fixed at KILN_SPIN_US (default 500; see workers.ts). It used to halve whenever a job had been
// taken back while this thread spun (a sign it had no core), but a virtual machine's stall of a
// millisecond does that at idle too, and at a spin of zero this thread, 50–150 µs from waking,
// never again won a job smaller than that: the split of small products was lost for good. On a
// busy machine the pool's judge (threads.ts) stops handing out jobs, so this thread soon sleeps.
const SPIN_MS = Number(process.env.KILN_SPIN_US ?? 500) / 1000;

for (;;) {
  const until = performance.now() + SPIN_MS;
  while (Atomics.load(ctrl, 0) === seen && performance.now() < until);
  Atomics.wait(ctrl, 0, seen);
  const seq = Atomics.load(ctrl, 0);
  if (seq < 0) break;
  seen = seq;
  if (Atomics.compareExchange(ctrl, 7, seq - 1, seq) !== seq - 1) continue; // taken back before we came
  if (ctrl[3] === -1) {
    instances.delete(ctrl[2]);
  } else {
    // Memories are attached by message before the first job that uses them.
    while (!instances.has(ctrl[2])) {
      const m = receiveMessageOnPort(port);
      if (!m) { Atomics.wait(ctrl, 5, 0, 1); continue; } // not delivered yet: wait 1 ms and look again
      const exports = new WebAssembly.Instance(m.message.module, { env: { memory: m.message.memory } }).exports;
      instances.set(m.message.id, { exports, names: m.message.names });
    }
    const inst = instances.get(ctrl[2]);
    const fn = inst.exports[inst.names[ctrl[3]]];
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
