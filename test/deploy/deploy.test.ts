import { execFile, spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { isAbsolute, join } from 'node:path';
import { promisify } from 'node:util';
import { CONFIG_KEYS } from '@aispm/core';
import { ChdbStore, migrate } from '@aispm/store';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseAllDocuments } from 'yaml';
import {
  buildDashboards,
  datasourceProvisioning,
  DATASOURCE_UID,
  OPERATOR_DATASOURCE_UID,
} from '../../dashboards/index.ts';
import { REPO } from '../setup/python.ts';

/**
 * The deployment files hold together without a Docker engine or a cluster (issue 24):
 * docker-compose.yml as compose-go (the library Docker Compose is built on) loads it,
 * the Helm chart as Helm 4 lints and renders it, and both against the services'
 * own configuration schema and command lines — so a key the services do not read,
 * a command they do not have, or a secret not mounted fails here, not at deploy time.
 */
const run = promisify(execFile);
const BUILD = join(REPO, '.vitest-tmp/deploy');
const CLI = join(REPO, 'services/cli/src/main.ts');

/** Every environment variable the services read: each config key, and KEY_FILE for secrets. */
const KNOWN_ENV = new Set(
  Object.values(CONFIG_KEYS as Record<string, { env: string; secret?: boolean }>).flatMap((key) =>
    key.secret ? [key.env, `${key.env}_FILE`] : [key.env],
  ),
);

/** The compose smoke script, and the tables it counts as the tenant's reader (which the readers' test checks). */
const SMOKE = join(REPO, 'deploy/compose/smoke.sh');
const asked = (text: string, pattern: RegExp): string[] => [...text.matchAll(pattern)].map((m) => m[1]!);
const smokeTables = asked(readFileSync(SMOKE, 'utf8'), /positive (\w+)/g);

interface ComposeService {
  image: string;
  build_target?: string;
  command: string[] | null;
  environment: string[] | null;
  ports: { target: number; published: string }[] | null;
  volumes: string[] | null;
  secrets: string[] | null;
  profiles: string[] | null;
  read_only: boolean;
  replicas?: number;
  depends_on: string[] | null;
}
interface Compose {
  services: Record<string, ComposeService>;
  secrets: Record<string, string>;
}

/** `aispm <command…> --help` for the leading words of an argument list: the command must exist and take its flags. */
const helpCache = new Map<string, string>();
function checkCommandLine(args: readonly string[]): void {
  const words = args.slice(0, args.findIndex((a) => a.startsWith('-')) >>> 0);
  const key = words.join(' ');
  let help = helpCache.get(key);
  if (help === undefined) {
    const result = spawnSync(process.execPath, [CLI, ...words, '--help'], { encoding: 'utf8', timeout: 60_000 });
    expect(result.status, `aispm ${key} --help: ${result.stderr}`).toBe(0);
    help = result.stdout;
    helpCache.set(key, help);
  }
  for (const flag of args.filter((a) => a.startsWith('--'))) {
    expect(help, `aispm ${key} has no ${flag}`).toContain(flag);
  }
}

let compose: Compose;
let composeEnv: Record<string, Record<string, string>>;
beforeAll(async () => {
  mkdirSync(BUILD, { recursive: true });
  const binary = join(BUILD, 'compose-check');
  await run('go', ['build', '-o', binary, '.'], { cwd: join(REPO, 'test/deploy/compose-check'), timeout: 600_000 });
  const { stdout } = await run(binary, [join(REPO, 'docker-compose.yml')], { cwd: REPO, timeout: 60_000 });
  compose = JSON.parse(stdout) as Compose;
  // Values too, from the file itself (compose-go gave the keys after interpolation and merges).
  const doc = parseAllDocuments(readFileSync(join(REPO, 'docker-compose.yml'), 'utf8'))[0]!.toJS({
    maxAliasCount: 100,
  }) as { services: Record<string, { environment?: Record<string, unknown> }> };
  composeEnv = Object.fromEntries(
    Object.entries(doc.services).map(([name, s]) => [
      name,
      Object.fromEntries(Object.entries(s.environment ?? {}).map(([k, v]) => [k, String(v)])),
    ]),
  );
}, 600_000);

describe('docker-compose.yml, loaded by compose-go', () => {
  const aispmServices = (): [string, ComposeService][] =>
    Object.entries(compose.services).filter(([, s]) => s.build_target === 'aispm');

  it('runs the pipeline: Kafka, ClickHouse, Grafana, gateway, two processors, alerter, topic and migration jobs', () => {
    expect(Object.keys(compose.services).sort()).toEqual(
      [
        'alerter',
        'clickhouse',
        'fleet',
        'gateway',
        'grafana',
        'grafana-embedded',
        'kafka',
        'migrate',
        'processor',
        'topics',
      ].sort(),
    );
    expect(compose.services.processor!.replicas).toBe(2);
    expect(compose.services.kafka!.image).toMatch(/^apache\/kafka:/);
    expect(compose.services.clickhouse!.image).toMatch(/^clickhouse\/clickhouse-server:/);
  });

  it('gives every aispm service only configuration keys the services read, and commands they have', () => {
    expect(aispmServices().length).toBeGreaterThanOrEqual(6);
    for (const [name, service] of aispmServices()) {
      for (const key of service.environment ?? []) {
        expect(KNOWN_ENV.has(key), `${name}: ${key} is not a configuration key of aispm`).toBe(true);
      }
      expect(service.read_only, `${name} runs on a read-only root filesystem`).toBe(true);
      checkCommandLine(service.command ?? []);
    }
  });

  it('mounts every secret a service names, from a file in the repository', () => {
    for (const [name, service] of Object.entries(compose.services)) {
      const refs = [...Object.values(composeEnv[name] ?? {}), ...(service.command ?? [])].flatMap((value) =>
        [...value.matchAll(/\/run\/secrets\/([\w-]+)/g)].map((m) => m[1]!),
      );
      for (const secret of refs) {
        expect(service.secrets ?? [], `${name} reads /run/secrets/${secret}`).toContain(secret);
      }
    }
    for (const [secret, file] of Object.entries(compose.secrets)) {
      expect(existsSync(file), `secret ${secret}: ${file}`).toBe(true);
    }
  });

  it('binds only files that exist, and publishes the gateway and Grafana ports', () => {
    for (const [name, service] of Object.entries(compose.services)) {
      for (const volume of service.volumes ?? []) {
        const source = volume.slice(0, volume.indexOf(':'));
        if (isAbsolute(source)) expect(existsSync(source), `${name} binds ${source}`).toBe(true);
      }
    }
    const gatewayPort = (CONFIG_KEYS.gatewayPort as { default: number }).default;
    expect(compose.services.gateway!.ports).toEqual([{ target: gatewayPort, published: String(gatewayPort) }]);
    expect(compose.services.grafana!.ports).toEqual([{ target: 3000, published: '3000' }]);
  });

  it('has a demo profile with everything, a distributed one without the fleet, and an embedded one with Grafana only', () => {
    const inProfile = (profile: string): string[] =>
      Object.entries(compose.services)
        .filter(([, s]) => (s.profiles ?? []).includes(profile))
        .map(([name]) => name)
        .sort();
    expect(inProfile('embedded')).toEqual(['grafana-embedded']);
    expect(inProfile('demo')).toEqual(
      Object.keys(compose.services)
        .filter((n) => n !== 'grafana-embedded')
        .sort(),
    );
    expect(inProfile('distributed')).toEqual(inProfile('demo').filter((n) => n !== 'fleet'));
  });

  it("gives Grafana what the provisioned datasource expands: the SQL host, a tenant and that tenant's key", () => {
    const provisioned = JSON.stringify(datasourceProvisioning({ host: '$AISPM_SQL_HOST' }));
    for (const name of ['grafana', 'grafana-embedded']) {
      for (const variable of provisioned.match(/\$AISPM_[A-Z_]+/g) ?? []) {
        expect(Object.keys(composeEnv[name]!), `${name} needs ${variable}`).toContain(variable.slice(1));
      }
    }
    expect(composeEnv.grafana!.AISPM_SQL_HOST).toBe('clickhouse');
  });

  it('has a smoke script that asks for what the compose file provisions (run where Docker is)', () => {
    expect(spawnSync('bash', ['-n', SMOKE]).status, 'bash -n deploy/compose/smoke.sh').toBe(0);
    const text = readFileSync(SMOKE, 'utf8');
    const dashboards = buildDashboards();
    for (const uid of asked(text, /\/api\/dashboards\/uid\/([\w-]+)/g))
      expect(dashboards.map((d) => d.uid)).toContain(uid);
    expect(asked(text, /\/api\/datasources\/uid\/([\w-]+)\/health/g).sort()).toEqual(
      [DATASOURCE_UID, OPERATOR_DATASOURCE_UID].sort(),
    );
    expect(Number(/dashboards" -ge (\d+)/.exec(text)![1])).toBe(dashboards.length);
    const user = /--user (\w+) --password "\$read_key"/.exec(text)![1]!;
    expect(composeEnv.grafana!.AISPM_SQL_USER).toBe(user);
    // The same key, with the same default, as Grafana's datasource is given.
    expect(composeEnv.grafana!.AISPM_SQL_KEY).toMatch(/^\$\{AISPM_SQL_KEY:-.+\}$/);
    expect(text).toContain(`read_key=${composeEnv.grafana!.AISPM_SQL_KEY}`);
    expect(smokeTables.length).toBeGreaterThan(0);
  });
});

describe('the ClickHouse readers of the compose file', () => {
  let dir: string;
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it("filters every table to the tenant, hides the tables without one, and shows the operator only the pipeline's", async () => {
    dir = mkdtempSync(join(tmpdir(), 'aispm-deploy-'));
    const store = await ChdbStore.open({ path: join(dir, 'chdb'), database: 'aispm' });
    try {
      await migrate(store);
      const tables = await store.query<{ name: string; tenant: string }>(
        "SELECT t.name AS name, toString(countIf(c.name = 'tenant')) AS tenant FROM system.tables t " +
          "LEFT JOIN system.columns c ON c.database = t.database AND c.table = t.name WHERE t.database = 'aispm' " +
          'GROUP BY t.name',
      );
      const xml = readFileSync(join(REPO, 'deploy/compose/clickhouse/tenant-readers.xml'), 'utf8');
      const filtersOf = (user: string): Map<string, string> => {
        const body = new RegExp(`<${user}>([\\s\\S]*?)</${user}>`).exec(xml)![1]!;
        return new Map([...body.matchAll(/<(\w+)><filter>(.*?)<\/filter><\/\1>/g)].map((m) => [m[1]!, m[2]!]));
      };
      const tenant = filtersOf('acme');
      const operator = filtersOf('operator');
      expect(tables.length).toBeGreaterThan(10);
      for (const name of smokeTables) {
        expect(tenant.get(name), `the smoke script counts ${name} as acme`).toBe("tenant = 'acme'");
      }
      for (const table of tables) {
        expect(tenant.get(table.name), `acme: ${table.name}`).toBe(table.tenant === '1' ? "tenant = 'acme'" : '0');
        // The operator reads the pipeline's own tables, and nothing of a tenant's.
        const pipeline = table.name === 'pipeline_stats' || table.name === 'aispm_migrations';
        expect(operator.get(table.name), `operator: ${table.name}`).toBe(pipeline ? undefined : '0');
      }
    } finally {
      await store.close();
    }
  }, 120_000);
});

describe('Dockerfile', () => {
  const text = readFileSync(join(REPO, 'Dockerfile'), 'utf8');
  const stages = new Map<string, string>();
  for (const part of text.split(/^FROM /m).slice(1)) stages.set(/ AS (\S+)/.exec(part.split('\n')[0]!)![1]!, part);

  it('builds a non-root service image with production dependencies only, a health check, and a Grafana image', () => {
    expect([...stages.keys()]).toEqual(['build', 'deps', 'aispm', 'grafana']);
    const runtime = stages.get('aispm')!;
    expect(runtime).toMatch(/^USER node$/m);
    expect(runtime).toMatch(/^HEALTHCHECK /m);
    expect(runtime).toContain('COPY --from=deps /app/node_modules node_modules');
    expect(runtime).not.toMatch(/npm (ci|install)/);
    expect(stages.get('deps')).toContain('npm ci --omit=dev');
    expect(stages.get('grafana')).toContain('COPY --from=build /out/grafana');
  });

  it('copies only what exists', () => {
    for (const [, body] of stages) {
      for (const m of body.matchAll(/^COPY (?!--from)(?:--\S+ )*(.+) \S+$/gm)) {
        for (const source of m[1]!.split(' ')) {
          expect(existsSync(join(REPO, source)), `COPY ${source}`).toBe(true);
        }
      }
    }
  });
});

interface Manifest {
  kind: string;
  metadata: { name: string };
  spec: Record<string, unknown>;
}
interface Container {
  name: string;
  args?: string[];
  env?: { name: string }[];
  volumeMounts?: { name: string }[];
  securityContext?: { readOnlyRootFilesystem?: boolean };
  resources?: { requests?: unknown; limits?: unknown };
  livenessProbe?: unknown;
  readinessProbe?: unknown;
}
interface PodSpec {
  containers: Container[];
  volumes?: { name: string }[];
  securityContext?: { runAsNonRoot?: boolean };
}

describe('the Helm chart, with Helm 4', () => {
  const chart = join(REPO, 'deploy/helm/aispm');
  let helm: string;
  beforeAll(async () => {
    const { stdout } = await run('bash', [join(REPO, 'scripts/tools/helm.sh')], { timeout: 1_200_000 });
    helm = stdout.trim();
  }, 1_200_000);

  async function render(...set: string[]): Promise<Manifest[]> {
    const { stdout } = await run(helm, ['template', 'r1', chart, ...set.flatMap((s) => ['--set', s])]);
    return parseAllDocuments(stdout)
      .map((d) => d.toJS() as Manifest | null)
      .filter((m): m is Manifest => m !== null);
  }
  const podOf = (m: Manifest): PodSpec => (m.spec as { template: { spec: PodSpec } }).template.spec;

  it('passes helm lint --strict', async () => {
    const { stdout } = await run(helm, ['lint', '--strict', chart]);
    expect(stdout).toContain('0 chart(s) failed');
  });

  it('renders Deployments whose containers read only configuration keys of aispm and run its commands', async () => {
    for (const set of [[], ['processor.autoscaling.enabled=true', 'config.routes=routes', 'config.policy=policy']]) {
      const manifests = await render(...set);
      const workloads = manifests.filter((m) => m.kind === 'Deployment' || m.kind === 'Job');
      expect(workloads.map((m) => m.metadata.name).sort()).toEqual(
        ['r1-aispm-alerter', 'r1-aispm-gateway', 'r1-aispm-migrate', 'r1-aispm-processor', 'r1-aispm-topics'].sort(),
      );
      for (const workload of workloads) {
        const pod = podOf(workload);
        expect(pod.securityContext?.runAsNonRoot, workload.metadata.name).toBe(true);
        const volumes = new Set((pod.volumes ?? []).map((v) => v.name));
        for (const container of pod.containers) {
          const where = `${workload.metadata.name}/${container.name}`;
          for (const { name } of container.env ?? []) {
            expect(KNOWN_ENV.has(name), `${where}: ${name} is not a configuration key of aispm`).toBe(true);
          }
          for (const { name } of container.volumeMounts ?? [])
            expect(volumes.has(name), `${where} mounts ${name}`).toBe(true);
          expect(container.securityContext?.readOnlyRootFilesystem, where).toBe(true);
          expect(container.resources?.requests, where).toBeDefined();
          if (workload.kind === 'Deployment') {
            expect(container.livenessProbe, where).toBeDefined();
            expect(container.readinessProbe, where).toBeDefined();
          }
          checkCommandLine(container.args ?? []);
        }
      }
    }
  }, 120_000);

  it('gives every Deployment a PodDisruptionBudget, denies other traffic, and scales the processor on lag when asked', async () => {
    const manifests = await render('processor.autoscaling.enabled=true');
    const selectorOf = (m: Manifest): unknown =>
      (m.spec as { selector: { matchLabels: unknown } }).selector.matchLabels;
    const budgets = manifests.filter((m) => m.kind === 'PodDisruptionBudget').map(selectorOf);
    for (const deployment of manifests.filter((m) => m.kind === 'Deployment')) {
      expect(budgets, deployment.metadata.name).toContainEqual(selectorOf(deployment));
    }
    expect(manifests.filter((m) => m.kind === 'NetworkPolicy')).toHaveLength(1);
    const scaler = manifests.find((m) => m.kind === 'ScaledObject')!;
    expect(scaler.spec).toMatchObject({ scaleTargetRef: { name: 'r1-aispm-processor' } });
    const processor = manifests.find((m) => m.metadata.name === 'r1-aispm-processor' && m.kind === 'Deployment')!;
    expect(processor.spec.replicas).toBeUndefined();
    expect(manifests.some((m) => m.kind === 'StatefulSet' || /kafka|clickhouse/i.test(m.metadata.name))).toBe(false);
  });
});
