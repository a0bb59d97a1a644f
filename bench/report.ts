/** Shared by the benchmarks: the median and percentiles, and writing one section of docs/benchmarks.md. */
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { repoRoot } from '../infra/runner/paths.ts';

export function median(values: readonly number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  const middle = Math.floor(sorted.length / 2);
  return sorted.length % 2 ? (sorted[middle] ?? 0) : ((sorted[middle - 1] ?? 0) + (sorted[middle] ?? 0)) / 2;
}

/**
 * The order of one round when every round runs each item once: rotated by the round's number,
 * so that no item always runs first (or last) while the machine warms up or drifts.
 */
export function rotation<T>(items: readonly T[], round: number): T[] {
  return items.map((_, i) => items[(i + round) % items.length] as T);
}

/** The nearest-rank percentile `p` (0–100) of `values`. */
export function percentile(values: readonly number[], p: number): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1))] ?? 0;
}

/** Replaces the section that starts with `heading` (up to the next `## `), or appends it. */
export function replaceSection(heading: string, section: string): void {
  const file = join(repoRoot, 'docs/benchmarks.md');
  const existing = readFileSync(file, 'utf8');
  const start = existing.indexOf(`${heading}\n`);
  const body = `${section.trimEnd()}\n`;
  if (start < 0) {
    writeFileSync(file, `${existing.trimEnd()}\n\n${body}`);
  } else {
    const next = existing.indexOf('\n## ', start + heading.length);
    writeFileSync(
      file,
      `${existing.slice(0, start)}${body}${next >= 0 ? `\n${existing.slice(next + 1)}` : ''}`,
    );
  }
  process.stdout.write(section);
}
