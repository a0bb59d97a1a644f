/**
 * The Prometheus text exposition format 0.0.4, as far as the exporter needs it: gauges, with
 * HELP and TYPE once per family, escaped label values and special values as Prometheus reads them.
 */
interface Sample {
  labels: Record<string, string>;
  value: number;
}

export interface Family {
  name: string;
  help: string;
  samples: Sample[];
}

/** Label values: backslash, double quote and line feed are escaped (exposition format 0.0.4). */
function escapeLabelValue(value: string): string {
  return value.replace(/\\/g, '\\\\').replace(/"/g, '\\"').replace(/\n/g, '\\n');
}

/** HELP text: backslash and line feed are escaped; a double quote is not. */
function escapeHelp(help: string): string {
  return help.replace(/\\/g, '\\\\').replace(/\n/g, '\\n');
}

function formatValue(value: number): string {
  if (Number.isNaN(value)) return 'NaN';
  if (value === Infinity) return '+Inf';
  if (value === -Infinity) return '-Inf';
  return String(value);
}

/** The families in order, each with its HELP and TYPE once; families without samples are left out. */
export function render(families: Family[]): string {
  const lines: string[] = [];
  for (const family of families) {
    if (family.samples.length === 0) continue;
    lines.push(`# HELP ${family.name} ${escapeHelp(family.help)}`, `# TYPE ${family.name} gauge`);
    for (const { labels, value } of family.samples) {
      const pairs = Object.entries(labels).map(([name, v]) => `${name}="${escapeLabelValue(v)}"`);
      lines.push(`${family.name}${pairs.length > 0 ? `{${pairs.join(',')}}` : ''} ${formatValue(value)}`);
    }
  }
  return lines.length > 0 ? `${lines.join('\n')}\n` : '';
}

/** Collects samples by metric name, keeping the order in which names are first declared. */
export class Families {
  readonly #byName = new Map<string, Family>();

  declare(name: string, help: string): void {
    if (!this.#byName.has(name)) this.#byName.set(name, { name, help, samples: [] });
  }

  add(name: string, labels: Record<string, string>, value: number | boolean | undefined): void {
    const family = this.#byName.get(name);
    if (!family) throw new Error(`metric ${name} used before it was declared`);
    if (value === undefined) return;
    family.samples.push({ labels, value: typeof value === 'boolean' ? Number(value) : value });
  }

  list(): Family[] {
    return [...this.#byName.values()];
  }
}
