/**
 * Every config the stack runs is checked by the program that runs it: `otelcol validate` for
 * each collector profile, `jaeger validate`, `promtool`, `amtool` and `nats-server -t`.
 */
import assert from 'node:assert/strict';
import { mkdtemp } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { before, describe, it } from 'node:test';
import { collectorConfigFiles, defineComponents, stackEnvironment } from '../../infra/runner/components.ts';
import { run } from '../../infra/runner/exec.ts';
import { type Binaries, ensureInstalled } from '../../infra/runner/install.ts';
import { repoRoot, statePaths } from '../../infra/runner/paths.ts';
import { renderDirectory, renderFile } from '../../infra/runner/render.ts';
import {
  collectorProfiles,
  jaegerStorages,
  natsClusterSizes,
  readSettings,
} from '../../infra/runner/settings.ts';

/**
 * What each vendor profile needs from the environment, with placeholder values: enough for
 * `otelcol validate`, which checks the configuration but sends nothing.
 */
const placeholderCredentials = {
  AWS_REGION: 'eu-west-1',
  AMP_REMOTE_WRITE_URL:
    'https://aps-workspaces.eu-west-1.amazonaws.com/workspaces/ws-placeholder/api/v1/remote_write',
  // Given explicitly so that the SigV4 extension does not look for an instance role.
  AWS_ACCESS_KEY_ID: 'AKIAPLACEHOLDER',
  AWS_SECRET_ACCESS_KEY: 'placeholder',
  CLOUDWATCH_LOG_GROUP: '/trading-platform/services',
  CLOUDWATCH_LOG_STREAM: 'otel',
  DD_API_KEY: 'placeholder',
  OTLP_VENDOR_ENDPOINT: 'https://otlp.vendor.invalid',
  OTLP_VENDOR_HEADERS: '{authorization: "Basic cGxhY2Vob2xkZXI="}',
  GATEWAY_0_ENDPOINT: '127.0.0.1:24317',
  GATEWAY_1_ENDPOINT: '127.0.0.1:34317',
  GATEWAY_NAME: 'gateway-0',
  GATEWAY_TLS_CERT_FILE: '/run/secrets/gateway-tls/tls.crt',
  GATEWAY_TLS_KEY_FILE: '/run/secrets/gateway-tls/tls.key',
  GATEWAY_CA_FILE: '/run/secrets/gateway-tls/ca.crt',
  GATEWAY_TOKEN_FILE: '/run/secrets/gateway-token/token',
};

let binaries: Binaries;
let env: NodeJS.ProcessEnv;

before(async () => {
  process.env.STACK_STATE_DIR = await mkdtemp(join(tmpdir(), 'stack-validate-'));
  binaries = await ensureInstalled();
  env = { ...process.env, ...stackEnvironment(readSettings({})), ...placeholderCredentials };
});

describe('collector configs', () => {
  for (const profile of collectorProfiles()) {
    it(`otelcol validate accepts profile ${profile}`, async () => {
      const args = collectorConfigFiles(profile).flatMap((file) => ['--config', file]);
      await run(`validating collector profile ${profile}`, binaries.otelcol, ['validate', ...args], { env });
    });
  }

  it('otelcol validate accepts profile local with the tail-sampling option', async () => {
    const args = collectorConfigFiles('local', { tailSampling: true }).flatMap((file) => ['--config', file]);
    await run('validating local with tail sampling', binaries.otelcol, ['validate', ...args], { env });
  });
});

describe('jaeger configs', () => {
  for (const storage of jaegerStorages) {
    it(`jaeger validate accepts the ${storage} config`, async () => {
      const file = join(repoRoot, 'jaeger', storage === 'memory' ? 'config.yaml' : 'config-badger.yaml');
      await run(`validating ${file}`, binaries.jaeger, ['validate', '--config', file], { env });
    });
  }
});

describe('prometheus, alertmanager and nats configs', () => {
  const render = (template: string) =>
    renderFile(join(repoRoot, template), env as Record<string, string>, statePaths.config());

  it('promtool check config accepts the rendered Prometheus config', async () => {
    await run('promtool check config', binaries.promtool, [
      'check',
      'config',
      await render('infra/prometheus/prometheus.yml'),
    ]);
  });

  it('promtool check rules accepts every rule file, rendered', async () => {
    const rendered = await renderDirectory(
      join(repoRoot, 'infra/prometheus/rules'),
      env as Record<string, string>,
      join(statePaths.config(), 'rules'),
    );
    assert.ok(rendered.length > 0, 'rule files in infra/prometheus/rules');
    await run('promtool check rules', binaries.promtool, ['check', 'rules', ...rendered]);
  });

  it('amtool check-config accepts the rendered Alertmanager config', async () => {
    await run('amtool check-config', binaries.amtool, [
      'check-config',
      await render('infra/alertmanager/alertmanager.yml'),
    ]);
  });

  // Each node's config as the runner renders it: the single node's, and a cluster node's.
  for (const natsCluster of natsClusterSizes.slice(0, 2)) {
    it(`nats-server -t accepts every node's config with NATS_CLUSTER=${natsCluster}`, async () => {
      const settings = readSettings({ NATS_CLUSTER: natsCluster });
      const nodes = defineComponents(settings).filter((component) => component.group === 'nats');
      assert.equal(nodes.length, Number(natsCluster));
      for (const node of nodes) {
        const { args } = await node.prepare(binaries, { ...env, ...stackEnvironment(settings) } as Record<
          string,
          string
        >);
        await run(`nats-server -t (${node.name})`, binaries.natsServer, ['-t', ...args]);
      }
    });
  }
});
