/**
 * The thread pool's judge (./threads.ts): whether splitting kernel calls across threads pays on
 * this machine now, measured, not assumed.
 *
 * Over a window of split calls worth JUDGE_MS of work alone, it weighs their time from start to
 * end (handing out, the caller's chunks, waiting for the workers') against their call sites'
 * measured alone times. A worker without a core (another process holds it) runs few chunks, or
 * makes the caller wait for one it was descheduled in. A window more than 0.9 of alone sends the
 * pool alone (each call's `alone`: the same bits) for a while, then it probes again with a
 * window; while probes keep failing the while doubles, up to SOLO_MS · 16, and each window that
 * pays halves it again (on a busy machine a probe passes now and then by luck, and the window
 * after it fails: a reset to SOLO_MS then cost W7 a tenth under load). A probe stops as soon as
 * it has lost a tenth of a window, so probing a busy machine costs about a percent.
 *
 * Measured on this 2-vCPU VM, idle: over a 20 ms window the split runs at 1.6–1.9× alone most of
 * the time, but for stretches of 20–500 ms at 0.7× (the worker misses two calls in three and
 * makes the caller wait on the third: its vCPU is not running). The window is long in time, not
 * in calls: over 32 calls of 40 µs a single stall of a millisecond or two — which a VM's cores
 * have now and then even when idle — outweighed everything the split had saved.
 */
import type { SplitSite } from "./kernels/types.js";

/** How long the pool runs on the calling thread alone after splits stopped paying. */
const SOLO_MS = 50;
/**
 * A verdict weighs at least JUDGE_MS of work (its calls' alone time) and at least JUDGE_CALLS
 * calls: long enough that one stall does not decide it, for small calls and large.
 */
const JUDGE_MS = 20;
const JUDGE_CALLS = 16;
/** A site runs alone, timed, once every this many calls: its alone time, the judge's yardstick. */
const ALONE_EVERY = 64;

/**
 * Whether this call of a site runs alone, timed: calls 4, 8, 16, … up to ALONE_EVERY, then one in
 * every ALONE_EVERY (the first calls pay for cold caches and a new worker's first job).
 */
function timeAlone(n: number): boolean {
  return n < 4 ? false : n <= ALONE_EVERY ? (n & (n - 1)) === 0 : n % ALONE_EVERY === 0;
}

/** A site's alone time: a moving average, weight 1/4 for the newest. */
export function timedAlone(site: SplitSite, ms: number): void {
  site.aloneMs = site.aloneMs === site.aloneMs ? site.aloneMs + (ms - site.aloneMs) / 4 : ms;
}

export class Judge {
  /** Whether the judge may run calls alone: tests of the split itself turn it off. */
  judging = true;
  /** Times the pool fell back to the calling thread alone (KILN_DEBUG, tests). */
  soloSpells = 0;
  /** When the solo spell ends (performance.now() ms); 0 outside one. */
  soloUntil = 0;
  /** The next spell's length, should the window after it fail. */
  soloMs = SOLO_MS;
  /** The window is a probe after a solo spell: it ends as soon as it has lost 0.1 · JUDGE_MS. */
  probing = false;
  private wallSum = 0;
  private aloneSum = 0;
  private calls = 0;

  /**
   * Whether call n of `site` may split: not during a solo spell (whose end opens a probe), nor
   * when it is one of the site's calls timed alone.
   */
  maySplit(site: SplitSite | undefined, n: number): boolean {
    if (this.soloUntil !== 0 && performance.now() >= this.soloUntil) { this.soloUntil = 0; this.probing = true; } // does a split pay again?
    return this.soloUntil === 0 && (site === undefined || !this.judging || !timeAlone(n));
  }

  /** A split call took `wall` ms where alone it takes `alone` ms. */
  verdict(wall: number, alone: number): void {
    if (!this.judging) return;
    this.wallSum += wall;
    this.aloneSum += alone;
    this.calls++;
    const lost = this.wallSum - this.aloneSum;
    if ((this.aloneSum < JUDGE_MS || this.calls < JUDGE_CALLS) && !(this.probing && lost > 0.1 * JUDGE_MS)) return;
    if (this.wallSum > 0.9 * this.aloneSum) {
      this.soloUntil = performance.now() + this.soloMs;
      this.soloMs = Math.min(SOLO_MS * 16, this.soloMs * 2);
      this.soloSpells++;
    } else {
      this.soloMs = Math.max(SOLO_MS, this.soloMs / 2);
    }
    this.wallSum = 0; this.aloneSum = 0; this.calls = 0; this.probing = false;
  }
}
