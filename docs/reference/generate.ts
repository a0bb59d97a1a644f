/** Writes docs/telemetry-reference.md from the code: `npm run reference`. */
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { renderReference } from './reference.ts';

const target = join(import.meta.dirname, '../telemetry-reference.md');
await writeFile(target, await renderReference());
console.log(`written ${target}`);
