/**
 * Dashboards as code: the committed JSON is what the builders produce, and every dashboard
 * follows the conventions Grafana provisioning and the live query test rely on. Grafana itself
 * does not run here; every panel query is parsed by promtool, and run against the real
 * Prometheus by the live test.
 */
import assert from 'node:assert/strict';
import { mkdtemp, readdir, readFile, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { parse, stringify } from 'yaml';
import { run } from '../../infra/runner/exec.ts';
import { ensureInstalled } from '../../infra/runner/install.ts';
import { repoRoot } from '../../infra/runner/paths.ts';
import { allDashboards, fileName, panelQueries, render } from '@tradeobs/dashboards';
import { withVariables } from '../support/promql.ts';

const generatedDir = join(repoRoot, 'dashboards/generated');
const provisioningDir = join(repoRoot, 'dashboards/provisioning');
const dashboards = allDashboards();

interface Json {
  [key: string]: unknown;
}

function isObject(value: unknown): value is Json {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/** Every value of a JSON tree, depth first. */
function* walk(value: unknown): Generator {
  yield value;
  if (Array.isArray(value)) for (const item of value) yield* walk(item);
  else if (isObject(value)) for (const item of Object.values(value)) yield* walk(item);
}

/** The panels of a dashboard as plain JSON, as Grafana will read them; rows left out. */
function panels(dashboard: unknown): Json[] {
  const all = isObject(dashboard) && Array.isArray(dashboard.panels) ? dashboard.panels : [];
  return all.filter((panel): panel is Json => isObject(panel) && panel.type !== 'row');
}

function committed(): Promise<Json[]> {
  return Promise.all(
    dashboards.map(async (dashboard) => {
      const json: unknown = JSON.parse(await readFile(join(generatedDir, fileName(dashboard)), 'utf8'));
      assert.ok(isObject(json));
      return json;
    }),
  );
}

/** The datasource state an Explore link opens, decoded from its `panes` parameter. */
function explorePanes(url: string): unknown {
  const panes = new URLSearchParams(url.slice(url.indexOf('?') + 1)).get('panes');
  return panes === null ? undefined : JSON.parse(panes);
}

describe('generated dashboards', () => {
  it('are the JSON the builders produce now', async () => {
    for (const dashboard of dashboards) {
      const file = join(generatedDir, fileName(dashboard));
      const onDisk = await readFile(file, 'utf8').catch(() => '');
      assert.ok(onDisk === render(dashboard), `${file} is stale: run npm run dashboards`);
    }
    const expected = new Set(dashboards.map(fileName));
    for (const file of await readdir(generatedDir)) {
      assert.ok(expected.has(file), `dashboards/generated/${file} has no builder: run npm run dashboards`);
    }
  });

  it('have unique uids', () => {
    const uids = dashboards.map((dashboard) => dashboard.uid);
    assert.equal(new Set(uids).size, uids.length, `uids: ${uids.join(', ')}`);
  });

  it('have a service variable, and an instance variable of the selected service', () => {
    for (const dashboard of dashboards) {
      const variables = dashboard.templating.list ?? [];
      const names = variables.map((variable) => variable.name);
      assert.ok(names.includes('service'), `${String(dashboard.uid)} has no service variable`);
      const instance = variables.find((variable) => variable.name === 'instance');
      assert.ok(instance, `${String(dashboard.uid)} has no instance variable`);
      assert.ok(
        typeof instance.query === 'string' && instance.query.includes('$service'),
        'instances of the selected service',
      );
      assert.equal(instance.multi, true);
      assert.equal(instance.includeAll, true);
      assert.equal(instance.allValue, '.*');
    }
  });

  it('link to traces with a service Jaeger can search, also in the All state', async () => {
    for (const dashboard of await committed()) {
      for (const value of walk(dashboard)) {
        if (!isObject(value) || typeof value.url !== 'string' || !value.url.startsWith('/explore?')) continue;
        // $service is `.*` in the All state, a service Jaeger does not know.
        assert.doesNotMatch(value.url, /\$\{?service\b/, `${String(dashboard.uid)}: ${String(value.title)}`);
      }
    }
  });

  it('put dashboard and panel links where Grafana 12 shows them: no placement', async () => {
    for (const dashboard of await committed()) {
      for (const value of walk(dashboard)) {
        if (isObject(value) && typeof value.url === 'string')
          assert.ok(
            !('placement' in value),
            `${String(dashboard.uid)}: ${String(value.title)} has a placement`,
          );
      }
      for (const link of Array.isArray(dashboard.links) ? dashboard.links : []) {
        assert.ok(
          isObject(link) && !('placement' in link),
          `${String(dashboard.uid)}: a link has a placement`,
        );
      }
    }
  });

  it('give every stat panel thresholds of its own, never Grafana default red from 80', async () => {
    for (const dashboard of await committed()) {
      for (const panel of panels(dashboard).filter((panel) => panel.type === 'stat')) {
        const fieldConfig = isObject(panel.fieldConfig) ? panel.fieldConfig : {};
        const defaults = isObject(fieldConfig.defaults) ? fieldConfig.defaults : {};
        assert.ok(
          isObject(defaults.thresholds) && Array.isArray(defaults.thresholds.steps),
          `${String(dashboard.uid)} / ${String(panel.title)}: no thresholds`,
        );
      }
    }
  });

  it('never sum gauges that every instance reports alike', () => {
    // One shared value (the portfolio, the bots, the pipelines in NATS KV) reported by every
    // instance of a service: a sum doubles it with two instances, and after a restart.
    const shared = [
      'portfolio_total_value_usd',
      'portfolio_cash_balance_usd',
      'portfolio_positions_count',
      'portfolio_drawdown_ratio',
      'portfolio_daily_pnl_usd',
      'risk_exposure_usd',
      'strategy_profit_loss_usd',
      'strategy_win_rate',
      'trading_bots_active_total',
      'trading_bot_pnl_usd',
      'pipeline_cache_size',
      'jetstream_consumer_pending',
      'jetstream_consumer_ack_pending',
    ];
    for (const { dashboard, panel, expr } of panelQueries(dashboards)) {
      for (const metric of shared) {
        assert.doesNotMatch(
          expr,
          new RegExp(`\\bsum\\b(\\s*by\\s*\\([^)]*\\))?\\s*\\(\\s*${metric}\\b`),
          `${dashboard} / ${panel}`,
        );
      }
    }
  });

  it('give every panel a unit (logs aside), a query and a link to traces in Jaeger', async () => {
    for (const dashboard of await committed()) {
      for (const panel of panels(dashboard)) {
        const where = `${String(dashboard.uid)} / ${String(panel.title)}`;
        const fieldConfig = isObject(panel.fieldConfig) ? panel.fieldConfig : {};
        const defaults = isObject(fieldConfig.defaults) ? fieldConfig.defaults : {};
        // Log records have no unit; every panel of numbers does.
        if (panel.type !== 'logs')
          assert.ok(typeof defaults.unit === 'string' && defaults.unit !== '', `${where}: no unit`);
        const targets = Array.isArray(panel.targets) ? panel.targets : [];
        assert.ok(
          targets.length > 0 && targets.every((target) => isObject(target) && target.expr !== ''),
          `${where}: no query`,
        );
        const links = Array.isArray(panel.links) ? panel.links : [];
        assert.ok(
          links.some(
            (link) => isObject(link) && typeof link.url === 'string' && link.url.startsWith('/explore?'),
          ),
          `${where}: no link to traces`,
        );
      }
    }
  });

  it('lay panels out on the grid without overlaps', async () => {
    for (const dashboard of await committed()) {
      const taken = new Set<string>();
      for (const panel of isObject(dashboard) && Array.isArray(dashboard.panels) ? dashboard.panels : []) {
        assert.ok(isObject(panel) && isObject(panel.gridPos));
        const { x, y, w, h } = panel.gridPos as Record<'x' | 'y' | 'w' | 'h', number>;
        assert.ok(
          x >= 0 && w > 0 && x + w <= 24,
          `${String(dashboard.uid)} / ${String(panel.title)}: x ${x}, w ${w}`,
        );
        for (let row = y; row < y + h; row += 1) {
          for (let column = x; column < x + w; column += 1) {
            const cell = `${column},${row}`;
            assert.ok(
              !taken.has(cell),
              `${String(dashboard.uid)} / ${String(panel.title)} overlaps at ${cell}`,
            );
            taken.add(cell);
          }
        }
      }
    }
  });

  it('use no variables but $service, $instance and $__rate_interval in queries', () => {
    for (const { dashboard, panel, expr } of panelQueries(dashboards)) {
      const variables = expr.match(/\$\{?[\w]+/g) ?? [];
      for (const variable of variables) {
        assert.ok(
          ['$service', '$instance', '$__rate_interval'].includes(variable),
          `${dashboard} / ${panel}: ${variable}`,
        );
      }
    }
  });

  it('have queries that promtool parses as PromQL, LogsQL ones only where VictoriaLogs is the datasource', async () => {
    const queries = panelQueries(dashboards).filter((query) => query.language === 'promql');
    const rules = queries.map(({ expr }, index) => ({
      record: `dashboard_query_${index}`,
      expr: withVariables(expr),
    }));
    const file = join(await mkdtemp(join(tmpdir(), 'dashboard-queries-')), 'queries.yml');
    await writeFile(file, stringify({ groups: [{ name: 'dashboard-queries', rules }] }));
    const { promtool } = await ensureInstalled();
    await run('promtool check rules on the dashboard queries', promtool, ['check', 'rules', file]);
  });
});

describe('grafana provisioning', () => {
  interface DatasourceFile {
    datasources: { uid: string; type: string; isDefault?: boolean; jsonData?: Json }[];
  }

  it('defines every datasource a dashboard refers to, panel links and cross-links included', async () => {
    const { datasources } = parse(
      await readFile(join(provisioningDir, 'datasources/datasources.yaml'), 'utf8'),
    ) as DatasourceFile;
    const defined = new Set(datasources.map((datasource) => datasource.uid));
    assert.equal(datasources.filter((datasource) => datasource.isDefault === true).length, 1);

    const referenced = new Set<string>();
    for (const dashboard of await committed()) {
      for (const value of walk(dashboard)) {
        if (!isObject(value)) continue;
        if (isObject(value.datasource) && typeof value.datasource.uid === 'string') {
          referenced.add(value.datasource.uid);
        }
        if (typeof value.url === 'string' && value.url.startsWith('/explore?')) {
          for (const inner of walk(explorePanes(value.url))) {
            if (isObject(inner) && isObject(inner.datasource) && typeof inner.datasource.uid === 'string') {
              referenced.add(inner.datasource.uid);
            }
          }
        }
      }
    }
    for (const datasource of datasources) {
      for (const value of walk(datasource.jsonData)) {
        if (isObject(value) && typeof value.datasourceUid === 'string') referenced.add(value.datasourceUid);
      }
    }
    assert.deepEqual(
      [...referenced].filter((uid) => !defined.has(uid)),
      [],
      'uids with no provisioned datasource',
    );
    assert.deepEqual([...referenced].sort(), [...defined].sort(), 'every provisioned datasource is used');
  });

  it('loads the dashboards from files into one folder', async () => {
    const { providers } = parse(
      await readFile(join(provisioningDir, 'dashboards/dashboards.yaml'), 'utf8'),
    ) as {
      providers: { type: string; folder: string; options: { path: string } }[];
    };
    assert.equal(providers.length, 1);
    assert.equal(providers[0]?.type, 'file');
    assert.ok(providers[0]?.options.path.startsWith('/'), 'an absolute path on the Grafana host');
  });
});
