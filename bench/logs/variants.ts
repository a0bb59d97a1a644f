/** The variants of bench/logs/cpu.ts, shared with the process that runs one (cpu-variant.ts). */
export const variants = ['idle', 'line', 'record', 'both'] as const;
export type Variant = (typeof variants)[number];

export interface VariantResult {
  variant: Variant;
  calls: number;
  /** Calls with the warm-up's: what the collector should have accepted from this process. */
  totalCalls: number;
  cpuMicros: number;
  seconds: number;
  /** Records the library's exporters gave up on (logExportStats). */
  droppedRecords: number;
}
