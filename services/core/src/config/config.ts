import { readFileSync } from 'node:fs';
import { z } from 'zod';
import { ConfigError } from '../errors.ts';
import { CAPTURE_POLICIES, type CapturePolicy } from '../event/types.ts';

/**
 * All configuration, parsed and validated once at start-up. Every key comes
 * from the environment (AISPM_*), has a default that works on one machine,
 * and, when wrong, stops start-up with its name and the form it expects.
 * Secrets may be given as KEY_FILE (a path) instead of KEY.
 */
export interface Config {
  mode: 'embedded' | 'distributed';
  tenant: string;
  dataDir: string;
  partitions: number;
  logLevel: 'debug' | 'info' | 'warn' | 'error' | 'silent';
  kafka: { brokers: string[]; clientId: string };
  clickhouse: { url: string; username: string; password: string; database: string };
  capture: { policy: CapturePolicy; hmacKey: string | null; maxContentBytes: number };
  topics: { events: string; scores: string; findings: string; state: string; deadLetter: string };
}

interface Key<T> {
  env: string;
  expected: string;
  schema: z.ZodType<T>;
  default: T;
  secret?: boolean;
}

const port = z.string().regex(/^[^\s,:]+:\d{1,5}$/);
const topicName = z.string().regex(/^[A-Za-z0-9._-]{1,249}$/);
const topic = (env: string, name: string): Key<string> => ({
  env,
  expected: 'a Kafka topic name (letters, digits, . _ -)',
  schema: topicName,
  default: name,
});

/** The one place defaults live. */
export const CONFIG_KEYS = {
  mode: {
    env: 'AISPM_MODE',
    expected: '"embedded" (in-process bus, chdb) or "distributed" (Kafka, ClickHouse server)',
    schema: z.enum(['embedded', 'distributed']),
    default: 'embedded',
  } satisfies Key<Config['mode']>,
  tenant: {
    env: 'AISPM_TENANT',
    expected: 'a tenant id of 1-64 letters, digits, . _ -',
    schema: z.string().regex(/^[A-Za-z0-9._-]{1,64}$/),
    default: 'default',
  } satisfies Key<string>,
  dataDir: {
    env: 'AISPM_DATA_DIR',
    expected: 'a folder path for embedded-mode data',
    schema: z.string().min(1),
    default: './data',
  } satisfies Key<string>,
  partitions: {
    env: 'AISPM_PARTITIONS',
    expected: 'an integer from 1 to 1024 (partitions of the events topic)',
    schema: z.coerce.number().int().min(1).max(1024),
    default: 8,
  } satisfies Key<number>,
  logLevel: {
    env: 'AISPM_LOG_LEVEL',
    expected: 'one of debug, info, warn, error, silent',
    schema: z.enum(['debug', 'info', 'warn', 'error', 'silent']),
    default: 'info',
  } satisfies Key<Config['logLevel']>,
  kafkaBrokers: {
    env: 'KAFKA_BROKERS',
    expected: 'comma-separated host:port list, e.g. 127.0.0.1:9092',
    schema: z.string().transform((s, ctx) => {
      const list = s
        .split(',')
        .map((b) => b.trim())
        .filter(Boolean);
      if (list.length === 0 || !list.every((b) => port.safeParse(b).success)) {
        ctx.addIssue({ code: 'custom', message: 'bad broker list' });
        return z.NEVER;
      }
      return list;
    }),
    default: ['127.0.0.1:9092'],
  } satisfies Key<string[]>,
  kafkaClientId: {
    env: 'AISPM_KAFKA_CLIENT_ID',
    expected: 'a client id string',
    schema: z.string().min(1),
    default: 'aispm',
  } satisfies Key<string>,
  clickhouseUrl: {
    env: 'AISPM_CLICKHOUSE_URL',
    expected: 'an http(s) URL of a ClickHouse server, e.g. http://127.0.0.1:8123',
    schema: z.url({ protocol: /^https?$/ }),
    default: 'http://127.0.0.1:8123',
  } satisfies Key<string>,
  clickhouseUser: {
    env: 'AISPM_CLICKHOUSE_USER',
    expected: 'a ClickHouse user name',
    schema: z.string().min(1),
    default: 'default',
  } satisfies Key<string>,
  clickhousePassword: {
    env: 'AISPM_CLICKHOUSE_PASSWORD',
    expected: 'the ClickHouse password (or AISPM_CLICKHOUSE_PASSWORD_FILE, a path to it)',
    schema: z.string(),
    default: '',
    secret: true,
  } satisfies Key<string>,
  clickhouseDatabase: {
    env: 'AISPM_CLICKHOUSE_DATABASE',
    expected: 'a database name of letters, digits and _',
    schema: z.string().regex(/^[A-Za-z_][A-Za-z0-9_]{0,63}$/),
    default: 'aispm',
  } satisfies Key<string>,
  capturePolicy: {
    env: 'AISPM_CAPTURE_POLICY',
    expected: `one of ${CAPTURE_POLICIES.join(', ')}`,
    schema: z.enum(CAPTURE_POLICIES),
    default: 'redacted',
  } satisfies Key<CapturePolicy>,
  captureHmacKey: {
    env: 'AISPM_CAPTURE_HMAC_KEY',
    expected:
      'a secret of at least 16 characters (or AISPM_CAPTURE_HMAC_KEY_FILE); required when the capture policy is "hash"',
    schema: z.string().min(16).nullable(),
    default: null,
    secret: true,
  } satisfies Key<string | null>,
  captureMaxBytes: {
    env: 'AISPM_CAPTURE_MAX_BYTES',
    expected: 'an integer from 0 to 1048576 (bytes kept per captured text)',
    schema: z.coerce.number().int().min(0).max(1_048_576),
    default: 8192,
  } satisfies Key<number>,
  topicEvents: topic('AISPM_TOPIC_EVENTS', 'aispm.events.v1'),
  topicScores: topic('AISPM_TOPIC_SCORES', 'aispm.scores.v1'),
  topicFindings: topic('AISPM_TOPIC_FINDINGS', 'aispm.findings.v1'),
  topicState: topic('AISPM_TOPIC_STATE', 'aispm.state.v1'),
  topicDeadLetter: topic('AISPM_TOPIC_DEAD_LETTER', 'aispm.events.dlq.v1'),
};

type Env = Record<string, string | undefined>;

function read<T>(key: Key<T>, env: Env): T {
  let raw = env[key.env];
  const file = env[`${key.env}_FILE`];
  if (raw === undefined && key.secret && file !== undefined) {
    try {
      raw = readFileSync(file, 'utf8').trim();
    } catch (err) {
      throw new ConfigError(
        `${key.env}_FILE`,
        `cannot read ${file} (${(err as Error).message}); expected a readable file holding ${key.expected}`,
      );
    }
  }
  if (raw === undefined || raw === '') return key.default;
  const parsed = key.schema.safeParse(raw);
  if (!parsed.success) {
    const shown = key.secret ? '(hidden)' : JSON.stringify(raw);
    throw new ConfigError(key.env, `got ${shown}; expected ${key.expected}`);
  }
  return parsed.data;
}

/** Parses the configuration from the environment; `overrides` (from CLI flags) win over it. */
export function loadConfig(
  env: Env = process.env,
  overrides: Partial<Record<keyof typeof CONFIG_KEYS, string>> = {},
): Config {
  const merged: Env = { ...env };
  for (const [name, value] of Object.entries(overrides)) {
    if (value !== undefined) merged[CONFIG_KEYS[name as keyof typeof CONFIG_KEYS].env] = value;
  }
  const k = CONFIG_KEYS;
  const config: Config = {
    mode: read(k.mode, merged),
    tenant: read(k.tenant, merged),
    dataDir: read(k.dataDir, merged),
    partitions: read(k.partitions, merged),
    logLevel: read(k.logLevel, merged),
    kafka: { brokers: read(k.kafkaBrokers, merged), clientId: read(k.kafkaClientId, merged) },
    clickhouse: {
      url: read(k.clickhouseUrl, merged),
      username: read(k.clickhouseUser, merged),
      password: read(k.clickhousePassword, merged),
      database: read(k.clickhouseDatabase, merged),
    },
    capture: {
      policy: read(k.capturePolicy, merged),
      hmacKey: read(k.captureHmacKey, merged),
      maxContentBytes: read(k.captureMaxBytes, merged),
    },
    topics: {
      events: read(k.topicEvents, merged),
      scores: read(k.topicScores, merged),
      findings: read(k.topicFindings, merged),
      state: read(k.topicState, merged),
      deadLetter: read(k.topicDeadLetter, merged),
    },
  };
  if (config.capture.policy === 'hash' && config.capture.hmacKey === null) {
    throw new ConfigError(
      k.captureHmacKey.env,
      `is required when ${k.capturePolicy.env}=hash; expected ${k.captureHmacKey.expected}`,
    );
  }
  return config;
}
