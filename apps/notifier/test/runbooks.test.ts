import assert from 'node:assert/strict';
import { mkdtemp, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { headingAnchor, runbooksPage } from '../src/runbooks.ts';

describe('runbooks page', () => {
  it('gives headings the anchors GitHub gives them, which the alerts link to', async () => {
    const file = join(await mkdtemp(join(tmpdir(), 'runbooks-')), 'runbooks.md');
    await writeFile(
      file,
      '# Runbooks\n\n### ServiceDown\n\n**Meaning**: `job` is down.\n\n## Alerting path\n',
    );
    const page = await runbooksPage(file);
    assert.match(page, /<h3 id="servicedown">ServiceDown<\/h3>/);
    assert.match(page, /<h2 id="alerting-path">Alerting path<\/h2>/);
    assert.match(page, /<strong>Meaning<\/strong>: <code>job<\/code> is down./);
  });

  it('makes anchors as GitHub does', () => {
    assert.equal(headingAnchor('TelemetryComponentDown'), 'telemetrycomponentdown');
    assert.equal(headingAnchor('Service level objectives'), 'service-level-objectives');
    assert.equal(
      headingAnchor('Notes on the HTTP overhead (2026-12-01)'),
      'notes-on-the-http-overhead-2026-12-01',
    );
  });
});
