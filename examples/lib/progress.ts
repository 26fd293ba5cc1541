/** A one-line progress bar on stderr (redrawn in place on a terminal, a line per 10% otherwise). */
export class Progress {
  private readonly start = performance.now();
  private lastPrinted = -1;

  constructor(private readonly total: number, private readonly label: string) {}

  update(done: number, info: string): void {
    const tty = process.stderr.isTTY;
    const decile = Math.floor((10 * done) / this.total);
    if (!tty && decile === this.lastPrinted && done !== this.total) return;
    this.lastPrinted = decile;
    const secs = (performance.now() - this.start) / 1000;
    const width = 24, filled = Math.round((width * done) / this.total);
    const bar = "█".repeat(filled) + "░".repeat(width - filled);
    const line = `${this.label} ${bar} ${done}/${this.total} ${(done / secs).toFixed(1)} steps/s ${info}`;
    process.stderr.write(tty ? `\r${line}\x1b[K` : `${line}\n`);
    if (tty && done === this.total) process.stderr.write("\n");
  }
}
