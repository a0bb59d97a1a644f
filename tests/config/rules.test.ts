/**
 * Prometheus rules: `promtool test rules` runs the unit tests in infra/prometheus/tests/, and
 * the rules themselves are held to the conventions the alerts' readers rely on: every alert
 * has a severity, a summary, a description with its values, a runbook section, and tests that
 * show it firing and staying silent. (`promtool check rules` runs in validate.test.ts.)
 */
import assert from 'node:assert/strict';
import { mkdtemp, readdir, readFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { basename, join, resolve } from 'node:path';
import { before, describe, it } from 'node:test';
import { parse } from 'yaml';
import { headingAnchor } from '../../apps/notifier/src/runbooks.ts';
import { defineComponents, infrastructure, stackEnvironment } from '../../infra/runner/components.ts';
import { run } from '../../infra/runner/exec.ts';
import { ensureInstalled } from '../../infra/runner/install.ts';
import { repoRoot } from '../../infra/runner/paths.ts';
import { renderDirectory } from '../../infra/runner/render.ts';
import { readSettings } from '../../infra/runner/settings.ts';

const rulesDir = join(repoRoot, 'infra/prometheus/rules');
const testsDir = join(repoRoot, 'infra/prometheus/tests');
const runbooks = join(repoRoot, 'docs/runbooks.md');

interface Rule {
  alert?: string;
  record?: string;
  expr: string;
  labels?: Record<string, string>;
  annotations?: Record<string, string>;
}

interface RuleFile {
  groups: { name: string; rules: Rule[] }[];
}

interface RuleTestFile {
  rule_files: string[];
  tests: { name: string; alert_rule_test?: { alertname: string; exp_alerts?: unknown[] }[] }[];
}

async function yamlFiles(dir: string): Promise<string[]> {
  return (await readdir(dir))
    .filter((file) => file.endsWith('.yml'))
    .sort()
    .map((file) => join(dir, file));
}

async function readYaml<T>(file: string): Promise<T> {
  return parse(await readFile(file, 'utf8')) as T;
}

/** The one alert that always fires, by design: it has no silent case and routes nowhere but the notifier. */
const watchdog = 'Watchdog';

/** Rule files whose every alert is computed from what the services push through the collector. */
const pushedDataFiles = ['flow.yml', 'services.yml', 'slo.yml', 'trading.yml'];

/** Rule files on what Prometheus scrapes from the NATS exporter itself, not through the collector. */
const scrapedDataFiles = ['nats.yml'];

/**
 * The values the rules are rendered with for their unit tests. Instances as infra/prometheus/tests
 * expect them (services.yml): two workers and three dispatchers, different numbers so that a
 * placeholder in the wrong job's record shows.
 */
const testValues = {
  RUNBOOK_BASE_URL: 'https://runbooks.example/runbooks.md',
  WORKER_INSTANCES: '2',
  TRIGGER_DISPATCHER_INSTANCES: '3',
};

let ruleFiles: string[];
let testFiles: string[];
let alerts: (Rule & { alert: string; file: string })[];
let records: (Rule & { record: string })[];
let tests: RuleTestFile[];

before(async () => {
  ruleFiles = await yamlFiles(rulesDir);
  testFiles = await yamlFiles(testsDir);
  alerts = [];
  records = [];
  for (const file of ruleFiles) {
    const { groups } = await readYaml<RuleFile>(file);
    for (const rule of groups.flatMap((group) => group.rules)) {
      if (rule.alert !== undefined) alerts.push({ ...rule, alert: rule.alert, file: basename(file) });
      if (rule.record !== undefined) records.push({ ...rule, record: rule.record });
    }
  }
  tests = await Promise.all(testFiles.map((file) => readYaml<RuleTestFile>(file)));
});

describe('prometheus rule unit tests', () => {
  it('promtool test rules passes every test file', async () => {
    assert.ok(testFiles.length > 0, `test files in ${testsDir}`);
    const { promtool } = await ensureInstalled();
    // Rendered as the runner renders the rules, side by side as in the repository so that the
    // tests' `../rules/` paths hold, with a base URL for the runbook links.
    const out = await mkdtemp(join(tmpdir(), 'rules-test-'));
    await renderDirectory(rulesDir, testValues, join(out, 'rules'));
    const rendered = await renderDirectory(testsDir, testValues, join(out, 'tests'));
    await run('promtool test rules', promtool, ['test', 'rules', ...rendered]);
  });

  it('promtool check rules accepts the rules as the runner renders them, by default and scaled out', async () => {
    // The placeholders in expressions (the expected instances) make the files PromQL only once
    // rendered; every name they use must be one the runner provides.
    const { promtool } = await ensureInstalled();
    const out = await mkdtemp(join(tmpdir(), 'rules-check-'));
    for (const [name, env] of Object.entries({
      default: {},
      scaled: { NATS_CLUSTER: '3', WORKER_INSTANCES: '2', TRIGGER_DISPATCHER_INSTANCES: '2' },
    })) {
      const rendered = await renderDirectory(rulesDir, stackEnvironment(readSettings(env)), join(out, name));
      await run(`promtool check rules (${name})`, promtool, ['check', 'rules', ...rendered]);
    }
  });

  it('every rule file is under test', () => {
    const tested = new Set(tests.flatMap((test) => test.rule_files.map((file) => resolve(testsDir, file))));
    for (const file of ruleFiles) assert.ok(tested.has(file), `no test file loads ${basename(file)}`);
  });

  it('every alert has a test where it fires and one where it stays silent', () => {
    const cases = tests.flatMap((test) => test.tests.flatMap((group) => group.alert_rule_test ?? []));
    for (const name of new Set(alerts.map((rule) => rule.alert))) {
      const mine = cases.filter((test) => test.alertname === name);
      assert.ok(
        mine.some((test) => (test.exp_alerts ?? []).length > 0),
        `${name}: no test expects it to fire`,
      );
      if (name === watchdog) continue;
      assert.ok(
        mine.some((test) => (test.exp_alerts ?? []).length === 0),
        `${name}: no test expects it to stay silent`,
      );
    }
  });
});

describe('alert conventions', () => {
  it('every alert has a severity that Alertmanager routes', () => {
    for (const rule of alerts) {
      const allowed = rule.alert === watchdog ? ['none'] : ['critical', 'warning'];
      assert.ok(
        allowed.includes(rule.labels?.severity ?? ''),
        `${rule.alert} (${rule.file}): severity ${String(rule.labels?.severity)}`,
      );
    }
  });

  it("every alert on the services' data says so, so that the pipeline's outage inhibits it", () => {
    for (const rule of alerts.filter((alert) => pushedDataFiles.includes(alert.file)))
      assert.equal(rule.labels?.via, 'collector', `${rule.alert} (${rule.file}): label via`);
  });

  it("no alert on the NATS exporter's data claims the collector, so that it stays live while the collector is down", () => {
    const scraped = alerts.filter((alert) => scrapedDataFiles.includes(alert.file));
    assert.ok(scraped.length > 0, `alerts in ${scrapedDataFiles.join(', ')}`);
    for (const rule of scraped) {
      assert.equal(rule.labels?.via, undefined, `${rule.alert} (${rule.file}): label via`);
      assert.match(
        rule.expr,
        /job="nats(-exporter)?"/,
        `${rule.alert} (${rule.file}): reads the exporter's jobs`,
      );
    }
  });

  it('no alert compares a counter with its past value unguarded, which a telemetry gap makes fire', () => {
    // `x unless x offset 5m` sees a series that comes back after a gap as new, with its lifetime
    // total; the guard that the service reported then (process_uptime_seconds offset) stops that.
    for (const rule of alerts.filter((alert) => / offset /.test(alert.expr)))
      assert.match(rule.expr, /process_uptime_seconds offset/, `${rule.alert}: an offset without the guard`);
  });

  it('ServiceDown expects exactly the services the stack runs, the load generator aside', () => {
    const expected = records
      .filter((rule) => rule.record === 'platform:service_expected:info')
      .map((rule) => rule.labels?.job)
      .sort();
    const running = defineComponents(readSettings({}))
      .filter((component) => !infrastructure.includes(component.group) && component.name !== 'loadgen')
      .map((component) => component.name)
      .sort();
    assert.deepEqual(expected, running);
  });

  it('ServiceInstanceDown expects an instance count for each of those services, the scaled ones from the runner', () => {
    const inventory = records
      .filter((rule) => rule.record === 'platform:service_expected:info')
      .map((rule) => rule.labels?.job)
      .sort();
    const counts = records.filter((rule) => rule.record === 'platform:service_instances_expected');
    assert.deepEqual(counts.map((rule) => rule.labels?.job).sort(), inventory);
    const scaled: Record<string, string> = {
      worker: 'vector(${WORKER_INSTANCES})',
      'trigger-dispatcher': 'vector(${TRIGGER_DISPATCHER_INSTANCES})',
    };
    for (const rule of counts) {
      const job = rule.labels?.job ?? '';
      assert.equal(rule.expr.trim(), scaled[job] ?? 'vector(1)', `instances of ${job}`);
    }
  });

  it('every alert has a summary and a description that shows its values', () => {
    for (const rule of alerts) {
      assert.ok(rule.annotations?.summary, `${rule.alert}: no summary`);
      assert.match(
        rule.annotations.description ?? '',
        /\{\{[^}]*\$(value|labels)/,
        `${rule.alert}: the description shows no value or label`,
      );
    }
  });

  it('every alert links to its section of docs/runbooks.md, under RUNBOOK_BASE_URL', async () => {
    const headings = new Set(
      (await readFile(runbooks, 'utf8'))
        .split('\n')
        .filter((line) => /^#{2,4} /.test(line))
        .map((line) => headingAnchor(line.replace(/^#+ /, ''))),
    );
    for (const rule of alerts) {
      assert.equal(
        rule.annotations?.runbook_url,
        `\${RUNBOOK_BASE_URL}#${headingAnchor(rule.alert)}`,
        `${rule.alert}: runbook_url`,
      );
      assert.ok(headings.has(headingAnchor(rule.alert)), `docs/runbooks.md has no section ${rule.alert}`);
    }
  });
});
