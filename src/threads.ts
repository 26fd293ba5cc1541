import { threadJobs as jobsPerWorker } from "../runtime/pool.js";

/**
 * Kernel parts each worker thread of the shared pool has run so far, one entry per worker
 * (empty while one thread is used): how a page or a test sees that threads are in use.
 * @example threadJobs() // [5120]: one worker, 5,120 parts of kernels run on it
 */
export const threadJobs = (): number[] => jobsPerWorker();
