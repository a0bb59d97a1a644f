/**
 * Alertmanager's routing, checked by Alertmanager's own tool: `amtool config routes test` on the
 * rendered config says which receiver an alert with these labels reaches. (Inhibition has no
 * offline check: tests/e2e/observability.test.ts proves it on the live stack.)
 */
import { mkdtemp } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { before, describe, it } from 'node:test';
import { stackEnvironment } from '../../infra/runner/components.ts';
import { run } from '../../infra/runner/exec.ts';
import { type Binaries, ensureInstalled } from '../../infra/runner/install.ts';
import { repoRoot, statePaths } from '../../infra/runner/paths.ts';
import { renderFile } from '../../infra/runner/render.ts';
import { readSettings } from '../../infra/runner/settings.ts';

let binaries: Binaries;
let config: string;

before(async () => {
  process.env.STACK_STATE_DIR = await mkdtemp(join(tmpdir(), 'stack-alertmanager-'));
  binaries = await ensureInstalled();
  config = await renderFile(
    join(repoRoot, 'infra/alertmanager/alertmanager.yml'),
    stackEnvironment(readSettings({})),
    statePaths.config(),
  );
});

const cases: { labels: Record<string, string>; receiver: string; why: string }[] = [
  {
    labels: { alertname: 'Watchdog', severity: 'none' },
    receiver: 'watchdog',
    why: 'the notifier expects it',
  },
  {
    labels: { alertname: 'ServiceDown', severity: 'critical', job: 'api' },
    receiver: 'page',
    why: 'critical pages',
  },
  {
    labels: { alertname: 'HighPortfolioDrawdown', severity: 'critical', job: 'worker' },
    receiver: 'page',
    why: 'the portfolio in trouble pages',
  },
  {
    labels: { alertname: 'RiskLimitBreach', severity: 'warning', team: 'trading', job: 'worker' },
    receiver: 'strategy-owner',
    why: 'a risk limit doing its job is a trading decision',
  },
  {
    labels: { alertname: 'HighErrorRate', severity: 'warning', job: 'api' },
    receiver: 'ticket',
    why: 'warnings are for working hours',
  },
  {
    labels: { alertname: 'SomethingNew' },
    receiver: 'ticket',
    why: 'an alert without a severity is not lost',
  },
];

describe('alertmanager routing', () => {
  for (const { labels, receiver, why } of cases) {
    const pairs = Object.entries(labels).map(([name, value]) => `${name}=${value}`);
    it(`${pairs.join(' ')} goes to ${receiver}: ${why}`, async () => {
      // --verify.receivers makes amtool exit non-zero when the route ends elsewhere.
      await run(`amtool config routes test ${pairs.join(' ')}`, binaries.amtool, [
        'config',
        'routes',
        'test',
        `--config.file=${config}`,
        `--verify.receivers=${receiver}`,
        ...pairs,
      ]);
    });
  }
});
