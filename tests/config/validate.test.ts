/**
 * Every config the stack runs is checked by the program that runs it: `otelcol validate` for
 * each collector profile, `jaeger validate`, `promtool`, `amtool` and `nats-server -t`.
 */
import assert from 'node:assert/strict';
import { mkdtemp, readdir } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { before, describe, it } from 'node:test';
import { collectorConfigFiles, stackEnvironment } from '../../infra/runner/components.ts';
import { run } from '../../infra/runner/exec.ts';
import { type Binaries, ensureInstalled } from '../../infra/runner/install.ts';
import { repoRoot, statePaths } from '../../infra/runner/paths.ts';
import { renderFile } from '../../infra/runner/render.ts';
import { collectorProfiles, jaegerStorages, readSettings } from '../../infra/runner/settings.ts';

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

  it('promtool check rules accepts every rule file', async () => {
    const dir = join(repoRoot, 'infra/prometheus/rules');
    const files = (await readdir(dir)).filter((f) => f.endsWith('.yml')).map((f) => join(dir, f));
    assert.ok(files.length > 0, `rule files in ${dir}`);
    await run('promtool check rules', binaries.promtool, ['check', 'rules', ...files]);
  });

  it('amtool check-config accepts the rendered Alertmanager config', async () => {
    await run('amtool check-config', binaries.amtool, [
      'check-config',
      await render('infra/alertmanager/alertmanager.yml'),
    ]);
  });

  it('nats-server -t accepts the rendered NATS config', async () => {
    await run('nats-server -t', binaries.natsServer, ['-t', '-c', await render('infra/nats/nats.conf')]);
  });
});
