import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { basename, join } from 'node:path';
import { StackError } from './log.ts';

const placeholder = /\$\{([A-Z][A-Z0-9_]*)\}/g;

/**
 * Fills `${NAME}` placeholders for programs whose configs cannot read the environment
 * (Prometheus, Alertmanager, NATS). Digit placeholders such as Prometheus' `${1}` are left
 * alone; an unknown name is an error rather than an empty string.
 */
export function renderTemplate(text: string, values: Record<string, string>, source: string): string {
  return text.replace(placeholder, (_match, name: string) => {
    const value = values[name];
    if (value === undefined) {
      throw new StackError(`${source}: unknown placeholder \${${name}}`);
    }
    return value;
  });
}

/** Renders `template` into `outputDir` under the same file name and returns the new path. */
export async function renderFile(template: string, values: Record<string, string>, outputDir: string) {
  const output = join(outputDir, basename(template));
  await mkdir(outputDir, { recursive: true });
  await writeFile(output, renderTemplate(await readFile(template, 'utf8'), values, template));
  return output;
}
