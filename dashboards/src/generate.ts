/**
 * Writes dashboards/generated/<uid>.json for every dashboard, and removes files of dashboards
 * that no longer exist, so that the folder is exactly what Grafana should provision.
 *
 *   npm run dashboards
 */
import { mkdir, readdir, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { allDashboards, fileName, render } from './index.ts';

const outputDir = join(import.meta.dirname, '..', 'generated');

await mkdir(outputDir, { recursive: true });
const dashboards = allDashboards();
const wanted = new Set(dashboards.map(fileName));
for (const file of await readdir(outputDir)) {
  if (file.endsWith('.json') && !wanted.has(file)) await rm(join(outputDir, file));
}
for (const dashboard of dashboards) {
  await writeFile(join(outputDir, fileName(dashboard)), render(dashboard));
}
console.log(`${dashboards.length} dashboards written to ${outputDir}`);
