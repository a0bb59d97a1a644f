/**
 * Certificates for tests of TLS hops (the library to a collector, an agent to a gateway), made
 * with the openssl CLI in a directory the test owns.
 */
import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { LOOPBACK } from '../../infra/runner/ports.ts';

const exec = promisify(execFile);

export interface Certificates {
  ca: string;
  serverCert: string;
  serverKey: string;
  clientCert: string;
  clientKey: string;
}

/**
 * A CA and two leaf certificates signed by it, P-256 keys, valid for a day. Our own openssl
 * configuration, so that the extensions do not depend on the system's openssl.cnf: Go's TLS
 * wants a CA marked as one, and the leaves carry the extended key usage of their side.
 */
export async function makeCertificates(dir: string): Promise<Certificates> {
  const config = join(dir, 'openssl.cnf');
  await writeFile(
    config,
    [
      '[req]',
      'distinguished_name = dn',
      'prompt = no',
      '[dn]',
      '[ca]',
      'basicConstraints = critical,CA:TRUE',
      'keyUsage = critical,keyCertSign,cRLSign',
      'subjectKeyIdentifier = hash',
      '[server]',
      'basicConstraints = critical,CA:FALSE',
      'keyUsage = critical,digitalSignature,keyEncipherment',
      'extendedKeyUsage = serverAuth',
      `subjectAltName = IP:${LOOPBACK}`,
      '[client]',
      'basicConstraints = critical,CA:FALSE',
      'keyUsage = critical,digitalSignature,keyEncipherment',
      'extendedKeyUsage = clientAuth',
      '',
    ].join('\n'),
  );
  const file = (name: string) => join(dir, name);
  const newKey = ['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes'];
  const openssl = (args: string[]) => exec('openssl', args, { cwd: dir });
  await openssl([
    ...['req', '-x509', '-config', config, '-extensions', 'ca', ...newKey],
    ...['-keyout', file('ca-key.pem'), '-out', file('ca.pem'), '-days', '1'],
    ...['-subj', '/CN=telemetry-tls-test CA'],
  ]);
  const leaf = async (name: 'server' | 'client', subject: string) => {
    await openssl([
      ...['req', '-new', '-config', config, ...newKey],
      ...['-keyout', file(`${name}-key.pem`), '-out', file(`${name}.csr`), '-subj', subject],
    ]);
    await openssl([
      ...['x509', '-req', '-in', file(`${name}.csr`), '-CA', file('ca.pem'), '-CAkey', file('ca-key.pem')],
      ...['-set_serial', `0x${randomBytes(8).toString('hex')}`, '-days', '1'],
      ...['-extfile', config, '-extensions', name, '-out', file(`${name}.pem`)],
    ]);
  };
  await leaf('server', `/CN=${LOOPBACK}`);
  await leaf('client', '/CN=telemetry-tls-test client');
  return {
    ca: file('ca.pem'),
    serverCert: file('server.pem'),
    serverKey: file('server-key.pem'),
    clientCert: file('client.pem'),
    clientKey: file('client-key.pem'),
  };
}

/** What an agent and a gateway need for the TLS hop with a bearer token between them. */
export interface GatewayCredentials {
  certificates: Certificates;
  token: string;
  /** For a gateway (profiles/gateway.yaml): its certificate, key and the tokens it accepts. */
  gateway: Record<string, string>;
  /** For an agent (profiles/gateway-agent.yaml): the CA to check gateways with and its token. */
  agent: Record<string, string>;
}

export async function makeGatewayCredentials(dir: string): Promise<GatewayCredentials> {
  const certificates = await makeCertificates(dir);
  const token = randomBytes(24).toString('base64url');
  const tokenFile = join(dir, 'gateway-token');
  await writeFile(tokenFile, `${token}\n`, { mode: 0o600 });
  return {
    certificates,
    token,
    gateway: {
      GATEWAY_TLS_CERT_FILE: certificates.serverCert,
      GATEWAY_TLS_KEY_FILE: certificates.serverKey,
      GATEWAY_TOKEN_FILE: tokenFile,
    },
    agent: { GATEWAY_CA_FILE: certificates.ca, GATEWAY_TOKEN_FILE: tokenFile },
  };
}
