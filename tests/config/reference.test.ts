/**
 * docs/telemetry-reference.md is what the code emits: regenerated here and compared, as the
 * dashboards are. Its Prometheus names agree with the ones the platform's catalog states beside
 * each metric, and with the ones the dashboards and rules query.
 */
import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { repoRoot } from '../../infra/runner/paths.ts';
import { prometheusName, renderReference } from '../../docs/reference/reference.ts';
import { catalog } from '@tradeobs/platform';

describe('the telemetry reference', () => {
  it('is up to date with the code (npm run reference)', async () => {
    const committed = await readFile(join(repoRoot, 'docs/telemetry-reference.md'), 'utf8');
    assert.equal(
      committed,
      await renderReference(),
      'docs/telemetry-reference.md is stale: run npm run reference',
    );
  });

  it("names each platform metric as the catalog's comment beside it says, where it has one", async () => {
    const source = await readFile(join(repoRoot, 'libs/platform/src/metrics.ts'), 'utf8');
    for (const [key, definition] of Object.entries(catalog)) {
      const at = source.search(new RegExp(`\\n  ${key}: (counter|gauge|histogram|upDownCounter)\\(`)) + 1;
      const comment = /\/\/ (\w+)[^\n]*\n\s*$/.exec(source.slice(Math.max(0, at - 200), at))?.[1];
      const kind = definition.kind === 'upDownCounter' ? 'updowncounter' : definition.kind;
      if (comment !== undefined)
        assert.equal(prometheusName(definition.name, definition.unit, kind), comment, key);
    }
  });
});
