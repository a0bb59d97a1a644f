import { mkdir, readdir, readFile, rm, writeFile } from 'node:fs/promises';
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

/**
 * Renders every `.yml` file of `templateDir` into `outputDir`, which holds nothing else
 * afterwards: a rule file removed from the repository is gone from what Prometheus loads.
 */
export async function renderDirectory(
  templateDir: string,
  values: Record<string, string>,
  outputDir: string,
) {
  await rm(outputDir, { recursive: true, force: true });
  const files = (await readdir(templateDir)).filter((file) => file.endsWith('.yml')).sort();
  return Promise.all(files.map((file) => renderFile(join(templateDir, file), values, outputDir)));
}
