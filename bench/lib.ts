// Small helpers shared by the benchmarks: repeated rounds, medians, memory and Markdown tables.

/** Median of the numbers (the figure every benchmark reports). */
export function median(xs: readonly number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  const mid = Math.floor(s.length / 2);
  return s.length % 2 ? s[mid]! : (s[mid - 1]! + s[mid]!) / 2;
}

/** Runs `fn` `rounds` times and returns each round's result. */
export async function rounds<T>(n: number, fn: (round: number) => Promise<T> | T): Promise<T[]> {
  const out: T[] = [];
  for (let i = 0; i < n; i++) out.push(await fn(i));
  return out;
}

/** Resident set size in MiB. */
export function rssMiB(): number {
  return process.memoryUsage.rss() / 2 ** 20;
}

/** Samples RSS every few ms while `fn` runs and returns its result with the peak. */
export async function withPeakRss<T>(fn: () => Promise<T>): Promise<{ result: T; peakMiB: number }> {
  let peak = rssMiB();
  const timer = setInterval(() => (peak = Math.max(peak, rssMiB())), 5);
  try {
    const result = await fn();
    peak = Math.max(peak, rssMiB());
    return { result, peakMiB: peak };
  } finally {
    clearInterval(timer);
  }
}

export function table(head: readonly string[], rows: readonly (readonly (string | number)[])[]): string {
  const line = (cells: readonly (string | number)[]) => `| ${cells.join(" | ")} |`;
  return [line(head), line(head.map(() => "---")), ...rows.map(line)].join("\n");
}

export function fmt(n: number, digits = 0): string {
  return n.toLocaleString("en-US", { maximumFractionDigits: digits, minimumFractionDigits: digits });
}
