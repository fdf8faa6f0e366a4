import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { z } from 'zod';
import { ConfigError } from '../errors.ts';
import { CAPTURE_POLICIES, type CapturePolicy } from '../event/types.ts';
import type { ContentDetectOptions } from '../detect/scanners.ts';
import { deriveIdentifierKey, IDENTIFIER_POLICIES, type IdentifierOptions } from '../content/identifiers.ts';

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
  /** The embedded bus (a SQLite log under the data dir): how hard each acknowledged publish is synced. */
  bus: { fsync: 'normal' | 'full' };
  logLevel: 'debug' | 'info' | 'warn' | 'error' | 'silent';
  kafka: { brokers: string[]; clientId: string; sessionTimeoutMs: number };
  clickhouse: {
    url: string;
    username: string;
    password: string;
    database: string;
    /** Days the per-minute rollups are kept (migration 014's TTL, given to migrate() as rollup_retention_days). */
    rollupRetentionDays?: number;
  };
  capture: {
    policy: CapturePolicy;
    hmacKey: string | null;
    maxContentBytes: number;
    /** PII and secrets in identifier fields (user, identity, scopes, ...): see content/identifiers.ts. */
    identifiers: IdentifierOptions;
    /** The content detectors, which see the texts before this policy applies (detect/scanners.ts). */
    detect: ContentDetectOptions;
  };
  topics: {
    /** Spans as mapped (events and span links), keyed by tenant and trace: the traces stage's input. */
    events: string;
    /** Events after trace assembly, keyed by tenant, app and agent: the agents stage's input. */
    attributed: string;
    /** The traces stage's changelog (distributed mode). */
    traceState: string;
    scores: string;
    findings: string;
    state: string;
    deadLetter: string;
    /** Events re-keyed by user, identity, model and tool, and the entities stage's changelog. */
    entities: string;
    entityState: string;
    /** GenAI log events (prompts, completions) and GenAI metric points, from the gateway's /v1/logs and /v1/metrics. */
    genaiLogs: string;
    genaiMetrics: string;
  };
  /** Which store: chdb in-process or a ClickHouse server; 'auto' follows the mode. */
  store: 'auto' | 'chdb' | 'clickhouse';
  processor: {
    group: string;
    maxBatchSize: number;
    concurrency: number;
    findingThreshold: number;
    /**
     * Behavioural detections (services/processor/src/detectors): the rule pack and
     * per-tenant overrides (the shipped pack when null), the inventory policy (nothing
     * judged approved or not when null), the quiet period that resolves a finding,
     * and how often the posture score is written.
     */
    detection: {
      rulesFile: string | null;
      overridesFile: string | null;
      policyFile: string | null;
      quietMinutes: number;
      postureIntervalS: number;
    };
    /** Seconds between the pipeline stats rows the processor writes to the store (pipeline_stats). */
    statsIntervalS: number;
    /** Run the entities stage: fleet-wide baselines of users, identities, models and tools. */
    fleet: boolean;
    /** How long the entities stage lets re-keyed records gather into fuller batches (SubscribeOptions.lingerMs). */
    entitiesLingerMs: number;
    /** Trace assembly: how long an event waits for its agent ancestor, and its bounds. */
    attribution: { waitMs: number; maxSpansPerTrace: number; maxTraces: number };
  };
  /** Baselines and drift of the processor's analytics (services/processor: baseline/, drift/). */
  analytics: {
    minEvents: number;
    minMinutes: number;
    halfLifeHours: number;
    windowMinutes: number;
    psiWatch: number;
    psiAct: number;
    /** Most entities one tenant may have tracked per processor stage; events of further ones are scored without a baseline. */
    maxEntitiesPerTenant: number;
    /** Days of event time without an event after which an entity's baseline is dropped (and its checkpoint deleted). */
    entityIdleDays: number;
  };
  gateway: {
    host: string;
    port: number;
    maxBodyBytes: number;
    maxInFlight: number;
    /** Open connections the public listener keeps; more are closed as they arrive. */
    maxConnections: number;
    publishTimeoutMs: number;
    /** `tenant:key` entries (or `tenant:sha256:<hex>`), one per line or comma-separated; parsed by the gateway. */
    keys: string | null;
    /** Requests one tenant may have in flight; 0: a quarter of maxInFlight (at least 1). */
    tenantMaxInFlight: number;
    /** Bytes of request bodies (as sent and inflated) and of their records held at once, all tenants. */
    maxBytesInFlight: number;
    /** The same for one tenant; 0: a quarter of maxBytesInFlight, at least twice maxBodyBytes. */
    tenantMaxBytesInFlight: number;
    headerTimeoutMs: number;
    /** Longest pause between two pieces of a request body. */
    bodyIdleTimeoutMs: number;
    /** Longest a whole request body may take to arrive, from the request's start. */
    bodyTimeoutMs: number;
    /** Worker threads that decode and map large bodies; 0: all on the main thread. */
    workers: number;
    /** Bodies of at least this many bytes (after decompression) are decoded and mapped on a worker. */
    offloadBytes: number;
    /** Events and bytes published and not yet committed by the processor's group past which intake answers 503; 0: no bound. */
    backlogMaxEvents: number;
    backlogMaxBytes: number;
    /** Where GET /metrics (Prometheus) is served: its own listener, loopback by default, never the public one. */
    metricsHost: string;
    metricsPort: number;
  };
  /**
   * The read-only SQL endpoint (ClickHouse's HTTP interface over the embedded store, for Grafana
   * and ClickHouse clients): on in embedded mode when `keys` is set; never over a ClickHouse server.
   */
  sql: {
    /** `tenant:key` entries (or `tenant:sha256:<hex>`), one per line or comma-separated; parsed by the endpoint. */
    keys: string | null;
    host: string;
    port: number;
    maxConcurrent: number;
    maxQueued: number;
    maxQueryBytes: number;
    maxExecutionSeconds: number;
    maxResultBytes: number;
    maxMemoryBytes: number;
    /** The operator's read keys (`operator:key` entries): the pipeline's own tables, no tenant's rows. */
    operatorKeys: string | null;
    guardCacheEntries: number;
    schemaCacheMs: number;
  };
  /** The alerter (services/alerter): findings → routes → destinations, and its silences API. */
  alerter: {
    routesFile: string;
    group: string;
    dlqTopic: string;
    retryMaxAttempts: number;
    retryMaxElapsedMs: number;
    backoffBaseMs: number;
    backoffCapMs: number;
    breakerFailures: number;
    breakerCooldownMs: number;
    /** `tenant:key` entries (or `tenant:sha256:<hex>`) of the silences API; parsed by the alerter. */
    apiKeys: string | null;
    host: string;
    port: number;
    grafanaUrl: string | null;
  };
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
  busFsync: {
    env: 'AISPM_BUS_FSYNC',
    expected:
      '"normal" (an acknowledged publish survives a crash of aispm; an OS crash or power loss may take the last ones) or "full" (synced to disk before the acknowledgement)',
    schema: z.enum(['normal', 'full']),
    default: 'normal',
  } satisfies Key<Config['bus']['fsync']>,
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
  retentionDaysRollups: {
    env: 'AISPM_RETENTION_DAYS_ROLLUPS',
    expected:
      'an integer from 1 to 3650 (days the per-minute rollup tables keep a minute, set when migrate creates them)',
    schema: z.coerce.number().int().min(1).max(3650),
    default: 400,
  } satisfies Key<number>,
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
  detect: {
    env: 'AISPM_DETECT',
    expected:
      '"true" or "false" (run the content detectors, prompt injection and PII/secrets, on every text where it enters aispm)',
    schema: z.enum(['true', 'false']).transform((value) => value === 'true'),
    default: true,
  } satisfies Key<boolean>,
  detectMaxBytes: {
    env: 'AISPM_DETECT_MAX_BYTES',
    expected: 'an integer from 256 to 1048576 (bytes of each text the content detectors scan; the rest is not scanned)',
    schema: z.coerce.number().int().min(256).max(1_048_576),
    default: 32_768,
  } satisfies Key<number>,
  identifierPolicy: {
    env: 'AISPM_IDENTIFIER_POLICY',
    expected:
      'one of pseudonymise (PII in identifier fields becomes a keyed HMAC pseudonym, secrets are masked), mask (both become placeholders), keep',
    schema: z
      .enum([...IDENTIFIER_POLICIES, 'pseudonymize'])
      .transform((value) => (value === 'pseudonymize' ? 'pseudonymise' : value)),
    default: 'pseudonymise',
  } satisfies Key<IdentifierOptions['policy']>,
  identifierHmacKey: {
    env: 'AISPM_IDENTIFIER_HMAC_KEY',
    expected:
      'a secret of at least 16 characters (or AISPM_IDENTIFIER_HMAC_KEY_FILE) keying the pseudonyms of identifiers; by default derived from AISPM_CAPTURE_HMAC_KEY, else a random key kept in the data folder',
    schema: z.string().min(16).nullable(),
    default: null,
    secret: true,
  } satisfies Key<string | null>,
  topicEvents: topic('AISPM_TOPIC_EVENTS', 'aispm.events.v1'),
  topicScores: topic('AISPM_TOPIC_SCORES', 'aispm.scores.v1'),
  topicFindings: topic('AISPM_TOPIC_FINDINGS', 'aispm.findings.v1'),
  topicState: topic('AISPM_TOPIC_STATE', 'aispm.state.v1'),
  topicDeadLetter: topic('AISPM_TOPIC_DEAD_LETTER', 'aispm.events.dlq.v1'),
  topicEntities: topic('AISPM_TOPIC_ENTITIES', 'aispm.entities.v1'),
  topicAttributed: topic('AISPM_TOPIC_ATTRIBUTED', 'aispm.attributed.v1'),
  topicTraceState: topic('AISPM_TOPIC_TRACE_STATE', 'aispm.trace-state.v1'),
  topicEntityState: topic('AISPM_TOPIC_ENTITY_STATE', 'aispm.entity-state.v1'),
  topicGenaiLogs: topic('AISPM_TOPIC_GENAI_LOGS', 'aispm.genai-logs.v1'),
  topicGenaiMetrics: topic('AISPM_TOPIC_GENAI_METRICS', 'aispm.genai-metrics.v1'),
  store: {
    env: 'AISPM_STORE',
    expected: '"auto" (chdb in embedded mode, a ClickHouse server in distributed mode), "chdb" or "clickhouse"',
    schema: z.enum(['auto', 'chdb', 'clickhouse']),
    default: 'auto',
  } satisfies Key<Config['store']>,
  processorGroup: {
    env: 'AISPM_PROCESSOR_GROUP',
    expected: 'a Kafka consumer group id (letters, digits, . _ -)',
    schema: topicName,
    default: 'aispm-processor',
  } satisfies Key<string>,
  kafkaSessionTimeoutMs: {
    env: 'AISPM_KAFKA_SESSION_TIMEOUT_MS',
    expected: "an integer from 6000 to 300000 (ms before the group gives a silent member's partitions to others)",
    schema: z.coerce.number().int().min(6000).max(300_000),
    default: 30_000,
  } satisfies Key<number>,
  processorBatch: {
    env: 'AISPM_PROCESSOR_BATCH',
    expected: 'an integer from 1 to 100000 (events the processor scores, stores and checkpoints per batch)',
    schema: z.coerce.number().int().min(1).max(100_000),
    // Batches share fixed costs (a store part per table, produce requests, checkpoints, a commit): on the
    // pipeline bench 1000 gave ~18% fewer events/s and ~20% more CPU per event than 5000.
    default: 5000,
  } satisfies Key<number>,
  processorConcurrency: {
    env: 'AISPM_PROCESSOR_CONCURRENCY',
    expected: 'an integer from 1 to 64 (partitions the processor handles at once)',
    schema: z.coerce.number().int().min(1).max(64),
    default: 4,
  } satisfies Key<number>,
  processorFleet: {
    env: 'AISPM_PROCESSOR_FLEET',
    expected: '"true" or "false" (fleet-wide baselines of users, identities, models and tools: the entities stage)',
    schema: z.enum(['true', 'false']).transform((value) => value === 'true'),
    default: true,
  } satisfies Key<boolean>,
  processorEntitiesLinger: {
    env: 'AISPM_PROCESSOR_ENTITIES_LINGER_MS',
    expected:
      'an integer from 0 to 10000 (ms the entities stage waits for fuller batches: each batch checkpoints every entity it touched)',
    schema: z.coerce.number().int().min(0).max(10_000),
    default: 1000,
  } satisfies Key<number>,
  attributionWait: {
    env: 'AISPM_ATTRIBUTION_WAIT_MS',
    expected:
      "an integer from 0 to 3600000 (ms an event without its own agent waits for its agent span: runs of up to a minute, plus the exporters' 5 s batching)",
    schema: z.coerce.number().int().min(0).max(3_600_000),
    default: 90_000,
  } satisfies Key<number>,
  traceMaxSpans: {
    env: 'AISPM_TRACE_MAX_SPANS',
    expected:
      'an integer from 10 to 2000 (spans of one trace kept for attribution; later ones are attributed with what is known)',
    schema: z.coerce.number().int().min(10).max(2000),
    default: 1000,
  } satisfies Key<number>,
  tracesMax: {
    env: 'AISPM_TRACES_MAX',
    expected:
      'an integer from 100 to 10000000 (traces held per events partition for attribution; a tenant may hold a quarter)',
    schema: z.coerce.number().int().min(100).max(10_000_000),
    default: 20_000,
  } satisfies Key<number>,
  findingThreshold: {
    env: 'AISPM_FINDING_THRESHOLD',
    expected: 'a number from 0 to 1 (anomaly score from which an event raises a finding)',
    schema: z.coerce.number().min(0).max(1),
    default: 0.8,
  } satisfies Key<number>,
  findingQuietMinutes: {
    env: 'AISPM_FINDING_QUIET_MINUTES',
    expected:
      'an integer from 1 to 525600 (minutes of event time without an occurrence after which a finding is resolved)',
    schema: z.coerce.number().int().min(1).max(525_600),
    default: 60,
  } satisfies Key<number>,
  rulesFile: {
    env: 'AISPM_RULES_FILE',
    expected:
      'a path to a behaviour rule pack (JSON, like rules/behaviour/behaviour.v1.json); reloaded when it changes',
    schema: z.string().min(1).nullable(),
    default: null,
  } satisfies Key<string | null>,
  rulesOverridesFile: {
    env: 'AISPM_RULES_OVERRIDES_FILE',
    expected:
      'a path to per-tenant rule overrides (JSON: tenant → rule → enabled, severity, params); reloaded when it changes',
    schema: z.string().min(1).nullable(),
    default: null,
  } satisfies Key<string | null>,
  policyFile: {
    env: 'AISPM_POLICY_FILE',
    expected:
      'a path to the inventory policy (JSON, like rules/policy/policy.example.json: approved providers, models, endpoints, apps; owners; agent scopes)',
    schema: z.string().min(1).nullable(),
    default: null,
  } satisfies Key<string | null>,
  postureIntervalS: {
    env: 'AISPM_POSTURE_INTERVAL_S',
    expected: 'an integer from 5 to 86400 (seconds between posture scores written to the store)',
    schema: z.coerce.number().int().min(5).max(86_400),
    default: 60,
  } satisfies Key<number>,
  statsIntervalS: {
    env: 'AISPM_STATS_INTERVAL_S',
    expected:
      'an integer from 1 to 3600 (seconds between the pipeline stats, lag, throughput, drops, dead letters, the processor writes to the pipeline_stats table)',
    schema: z.coerce.number().int().min(1).max(3600),
    default: 15,
  } satisfies Key<number>,
  baselineMinEvents: {
    env: 'AISPM_BASELINE_MIN_EVENTS',
    expected: 'an integer from 1 to 1000000 (events before a baseline is trusted; earlier scores say "learning")',
    schema: z.coerce.number().int().min(1).max(1_000_000),
    default: 50,
  } satisfies Key<number>,
  baselineMinMinutes: {
    env: 'AISPM_BASELINE_MIN_MINUTES',
    expected: 'an integer from 0 to 525600 (minutes of event time before a baseline is trusted)',
    schema: z.coerce.number().int().min(0).max(525_600),
    default: 30,
  } satisfies Key<number>,
  baselineHalfLifeHours: {
    env: 'AISPM_BASELINE_HALF_LIFE_HOURS',
    expected: 'a number from 0.1 to 8760 (hours of event time after which an observation weighs half)',
    schema: z.coerce.number().min(0.1).max(8760),
    default: 72,
  } satisfies Key<number>,
  driftWindowMinutes: {
    env: 'AISPM_DRIFT_WINDOW_MINUTES',
    expected: 'an integer from 1 to 10080 (length of the tumbling drift window)',
    schema: z.coerce.number().int().min(1).max(10_080),
    default: 15,
  } satisfies Key<number>,
  driftPsiWatch: {
    env: 'AISPM_DRIFT_PSI_WATCH',
    expected: 'a number from 0 to 10 (PSI from which a window is at "watch")',
    schema: z.coerce.number().min(0).max(10),
    default: 0.1,
  } satisfies Key<number>,
  driftPsiAct: {
    env: 'AISPM_DRIFT_PSI_ACT',
    expected: 'a number from 0 to 10 (PSI from which a window is at "act")',
    schema: z.coerce.number().min(0).max(10),
    default: 0.25,
  } satisfies Key<number>,
  maxEntitiesPerTenant: {
    env: 'AISPM_MAX_ENTITIES_PER_TENANT',
    expected:
      'an integer from 1 to 10000000 (entities, agents or users, models, tools…, one tenant may have tracked per processor stage; events of further ones are stored and scored without a baseline)',
    schema: z.coerce.number().int().min(1).max(10_000_000),
    // ~3.4 KB of memory and one processor_state row per entity: 20,000 per tenant and stage is ~70 MB per stage.
    default: 20_000,
  } satisfies Key<number>,
  entityIdleDays: {
    env: 'AISPM_ENTITY_IDLE_DAYS',
    expected:
      'a number from 1 to 365 (days of event time without an event after which an entity is forgotten: baseline dropped, checkpoint deleted)',
    schema: z.coerce.number().min(1).max(365),
    default: 14,
  } satisfies Key<number>,
  gatewayHost: {
    env: 'AISPM_GATEWAY_HOST',
    expected: 'an interface address for the OTLP/HTTP gateway to listen on, e.g. 127.0.0.1 or 0.0.0.0',
    schema: z.string().min(1),
    default: '127.0.0.1',
  } satisfies Key<string>,
  gatewayPort: {
    env: 'AISPM_GATEWAY_PORT',
    expected: 'a TCP port from 0 to 65535 (4318 is the OTLP/HTTP default)',
    schema: z.coerce.number().int().min(0).max(65535),
    default: 4318,
  } satisfies Key<number>,
  gatewayMaxBodyBytes: {
    env: 'AISPM_GATEWAY_MAX_BODY_BYTES',
    expected: 'an integer from 1024 to 268435456 (bytes of one request, measured after decompression)',
    schema: z.coerce.number().int().min(1024).max(268_435_456),
    default: 16_777_216,
  } satisfies Key<number>,
  gatewayMaxInFlight: {
    env: 'AISPM_GATEWAY_MAX_IN_FLIGHT',
    expected: 'an integer from 1 to 10000 (requests decoded or awaiting Kafka at once; more get 429)',
    schema: z.coerce.number().int().min(1).max(10_000),
    default: 64,
  } satisfies Key<number>,
  gatewayMaxConnections: {
    env: 'AISPM_GATEWAY_MAX_CONNECTIONS',
    expected: 'an integer from 1 to 1000000 (open connections the gateway keeps; more are closed at once)',
    schema: z.coerce.number().int().min(1).max(1_000_000),
    default: 1024,
  } satisfies Key<number>,
  gatewayPublishTimeoutMs: {
    env: 'AISPM_GATEWAY_PUBLISH_TIMEOUT_MS',
    expected: 'an integer from 100 to 120000 (ms to wait for Kafka to acknowledge before answering 503)',
    schema: z.coerce.number().int().min(100).max(120_000),
    default: 10_000,
  } satisfies Key<number>,
  gatewayKeys: {
    env: 'AISPM_GATEWAY_KEYS',
    expected:
      'API keys as tenant:key or tenant:sha256:<64 hex>, one per line or comma-separated (or AISPM_GATEWAY_KEYS_FILE, a path to them)',
    schema: z.string().min(1).nullable(),
    default: null,
    secret: true,
  } satisfies Key<string | null>,
  gatewayTenantMaxInFlight: {
    env: 'AISPM_GATEWAY_TENANT_MAX_IN_FLIGHT',
    expected:
      'an integer from 0 to 10000 (requests one tenant may have in flight; more get 429; 0: a quarter of AISPM_GATEWAY_MAX_IN_FLIGHT)',
    schema: z.coerce.number().int().min(0).max(10_000),
    default: 0,
  } satisfies Key<number>,
  gatewayMaxBytesInFlight: {
    env: 'AISPM_GATEWAY_MAX_BYTES_IN_FLIGHT',
    expected:
      'an integer from 1048576 to 17179869184 (bytes of request bodies, as sent and inflated, and of their records, held at once; more get 429)',
    schema: z.coerce.number().int().min(1_048_576).max(17_179_869_184),
    default: 268_435_456,
  } satisfies Key<number>,
  gatewayTenantMaxBytesInFlight: {
    env: 'AISPM_GATEWAY_TENANT_MAX_BYTES_IN_FLIGHT',
    expected:
      'an integer from 0 to 17179869184 (the same for one tenant, at least twice AISPM_GATEWAY_MAX_BODY_BYTES; 0: a quarter of AISPM_GATEWAY_MAX_BYTES_IN_FLIGHT)',
    schema: z.coerce.number().int().min(0).max(17_179_869_184),
    default: 0,
  } satisfies Key<number>,
  gatewayHeaderTimeoutMs: {
    env: 'AISPM_GATEWAY_HEADER_TIMEOUT_MS',
    expected: 'an integer from 100 to 600000 (ms a client may take to send the request headers)',
    schema: z.coerce.number().int().min(100).max(600_000),
    default: 10_000,
  } satisfies Key<number>,
  gatewayBodyIdleTimeoutMs: {
    env: 'AISPM_GATEWAY_BODY_IDLE_TIMEOUT_MS',
    expected: 'an integer from 100 to 600000 (ms a request body may pause between two pieces before a 408)',
    schema: z.coerce.number().int().min(100).max(600_000),
    default: 10_000,
  } satisfies Key<number>,
  gatewayBodyTimeoutMs: {
    env: 'AISPM_GATEWAY_BODY_TIMEOUT_MS',
    expected: 'an integer from 100 to 3600000 (ms a whole request body may take to arrive before a 408)',
    schema: z.coerce.number().int().min(100).max(3_600_000),
    default: 30_000,
  } satisfies Key<number>,
  gatewayWorkers: {
    env: 'AISPM_GATEWAY_WORKERS',
    expected: 'an integer from 0 to 64 (threads that decode and map large bodies off the main thread; 0: none)',
    schema: z.coerce.number().int().min(0).max(64),
    default: 1,
  } satisfies Key<number>,
  gatewayOffloadBytes: {
    env: 'AISPM_GATEWAY_OFFLOAD_BYTES',
    expected:
      'an integer from 0 to 268435456 (bodies of at least this many bytes, after decompression, are decoded on a worker thread)',
    schema: z.coerce.number().int().min(0).max(268_435_456),
    default: 262_144,
  } satisfies Key<number>,
  backlogMaxEvents: {
    env: 'AISPM_BACKLOG_MAX_EVENTS',
    expected:
      'an integer from 0 to 1000000000 (events on the events topic not yet committed by the processor past which the gateway answers 503; 0: no bound)',
    schema: z.coerce.number().int().min(0).max(1_000_000_000),
    default: 200_000,
  } satisfies Key<number>,
  backlogMaxBytes: {
    env: 'AISPM_BACKLOG_MAX_BYTES',
    expected:
      'an integer from 0 to 1099511627776 (bytes of those events past which the gateway answers 503; 0: no bound)',
    schema: z.coerce.number().int().min(0).max(1_099_511_627_776),
    default: 268_435_456,
  } satisfies Key<number>,
  metricsHost: {
    env: 'AISPM_METRICS_HOST',
    expected: 'an interface address for the Prometheus /metrics listener, e.g. 127.0.0.1 (the default: loopback only)',
    schema: z.string().min(1),
    default: '127.0.0.1',
  } satisfies Key<string>,
  metricsPort: {
    env: 'AISPM_METRICS_PORT',
    expected: 'a TCP port from 0 to 65535 for the Prometheus /metrics listener (0: any free port)',
    schema: z.coerce.number().int().min(0).max(65535),
    default: 9464,
  } satisfies Key<number>,
  sqlKeys: {
    env: 'AISPM_SQL_KEYS',
    expected:
      'read keys of the SQL endpoint as tenant:key or tenant:sha256:<64 hex>, one per line or comma-separated (or AISPM_SQL_KEYS_FILE, a path to them); a client signs in as user <tenant> with password <key>',
    schema: z.string().min(1).nullable(),
    default: null,
    secret: true,
  } satisfies Key<string | null>,
  sqlHost: {
    env: 'AISPM_SQL_HOST',
    expected:
      'an interface address for the read-only SQL endpoint to listen on, e.g. 127.0.0.1 (the default: loopback only)',
    schema: z.string().min(1),
    default: '127.0.0.1',
  } satisfies Key<string>,
  sqlPort: {
    env: 'AISPM_SQL_PORT',
    expected:
      "a TCP port from 0 to 65535 for the read-only SQL endpoint (8123 is ClickHouse's HTTP port; 0: any free port)",
    schema: z.coerce.number().int().min(0).max(65535),
    default: 8123,
  } satisfies Key<number>,
  sqlMaxConcurrent: {
    env: 'AISPM_SQL_MAX_CONCURRENT',
    expected: 'an integer from 1 to 64 (SQL queries run at once, each on a read-only connection of its own)',
    schema: z.coerce.number().int().min(1).max(64),
    default: 2,
  } satisfies Key<number>,
  sqlMaxQueued: {
    env: 'AISPM_SQL_MAX_QUEUED',
    expected: 'an integer from 0 to 10000 (SQL queries waiting for a connection; more are refused)',
    schema: z.coerce.number().int().min(0).max(10_000),
    default: 64,
  } satisfies Key<number>,
  sqlMaxQueryBytes: {
    env: 'AISPM_SQL_MAX_QUERY_BYTES',
    expected: 'an integer from 1024 to 16777216 (bytes of one SQL query text, after decompression)',
    schema: z.coerce.number().int().min(1024).max(16_777_216),
    default: 262_144,
  } satisfies Key<number>,
  sqlMaxExecutionSeconds: {
    env: 'AISPM_SQL_MAX_EXECUTION_SECONDS',
    expected:
      'an integer from 1 to 86400 (seconds after which the engine stops a SQL query; a client may ask for less)',
    schema: z.coerce.number().int().min(1).max(86_400),
    default: 30,
  } satisfies Key<number>,
  sqlMaxResultBytes: {
    env: 'AISPM_SQL_MAX_RESULT_BYTES',
    expected:
      'an integer from 1024 to 17179869184 (bytes of one SQL result, uncompressed, as the engine measures it; a client may ask for less)',
    schema: z.coerce.number().int().min(1024).max(17_179_869_184),
    default: 268_435_456,
  } satisfies Key<number>,
  sqlMaxMemoryBytes: {
    env: 'AISPM_SQL_MAX_MEMORY_BYTES',
    expected: 'an integer from 1048576 to 1099511627776 (bytes of memory one SQL query may use)',
    schema: z.coerce.number().int().min(1_048_576).max(1_099_511_627_776),
    default: 2_147_483_648,
  } satisfies Key<number>,
  sqlOperatorKeys: {
    env: 'AISPM_SQL_OPERATOR_KEYS',
    expected:
      'operator read keys of the SQL endpoint as operator:key or operator:sha256:<64 hex>, one per line or comma-separated (or AISPM_SQL_OPERATOR_KEYS_FILE, a path to them); a client signs in as user operator and reads the pipeline tables (pipeline_stats, aispm_migrations), never a tenant row',
    schema: z.string().min(1).nullable(),
    default: null,
    secret: true,
  } satisfies Key<string | null>,
  sqlGuardCacheEntries: {
    env: 'AISPM_SQL_GUARD_CACHE_ENTRIES',
    expected: 'an integer from 0 to 1000000 (SQL guard verdicts remembered per principal and query text; 0: none)',
    schema: z.coerce.number().int().min(0).max(1_000_000),
    default: 1024,
  } satisfies Key<number>,
  sqlSchemaCacheMs: {
    env: 'AISPM_SQL_SCHEMA_CACHE_MS',
    expected:
      "an integer from 0 to 600000 (milliseconds the SQL endpoint trusts the store's table list before reading it again; 0: read for every query)",
    schema: z.coerce.number().int().min(0).max(600_000),
    default: 2000,
  } satisfies Key<number>,
  alertRoutesFile: {
    env: 'AISPM_ALERT_ROUTES_FILE',
    expected:
      'a path to the alert routes file (JSON, like rules/alerts/routes.v1.json: routing tree, destinations, silences)',
    schema: z.string().min(1),
    default: 'rules/alerts/routes.v1.json',
  } satisfies Key<string>,
  alerterGroup: {
    env: 'AISPM_ALERTER_GROUP',
    expected: 'a Kafka consumer group id (letters, digits, . _ -) for the alerter on the findings topic',
    schema: topicName,
    default: 'aispm-alerter',
  } satisfies Key<string>,
  topicAlertsDlq: topic('AISPM_TOPIC_ALERTS_DLQ', 'aispm.alerts.dlq.v1'),
  alertRetryMaxAttempts: {
    env: 'AISPM_ALERT_RETRY_MAX_ATTEMPTS',
    expected:
      'an integer from 1 to 1000 (attempts to deliver one alert to one destination before it goes to the alerts DLQ)',
    schema: z.coerce.number().int().min(1).max(1000),
    default: 12,
  } satisfies Key<number>,
  alertRetryMaxElapsedMs: {
    env: 'AISPM_ALERT_RETRY_MAX_ELAPSED_MS',
    expected:
      'an integer from 1000 to 86400000 (ms one alert may keep retrying to one destination before it goes to the alerts DLQ)',
    schema: z.coerce.number().int().min(1000).max(86_400_000),
    default: 600_000,
  } satisfies Key<number>,
  alertBackoffBaseMs: {
    env: 'AISPM_ALERT_BACKOFF_BASE_MS',
    expected: 'an integer from 1 to 600000 (ms of the first retry backoff; it doubles per attempt, with full jitter)',
    schema: z.coerce.number().int().min(1).max(600_000),
    default: 500,
  } satisfies Key<number>,
  alertBackoffCapMs: {
    env: 'AISPM_ALERT_BACKOFF_CAP_MS',
    expected: 'an integer from 1 to 3600000 (ms the retry backoff grows to at most; a longer Retry-After still wins)',
    schema: z.coerce.number().int().min(1).max(3_600_000),
    default: 60_000,
  } satisfies Key<number>,
  alertBreakerFailures: {
    env: 'AISPM_ALERT_BREAKER_FAILURES',
    expected:
      'an integer from 1 to 1000 (consecutive failed attempts to one destination that open its circuit breaker)',
    schema: z.coerce.number().int().min(1).max(1000),
    default: 5,
  } satisfies Key<number>,
  alertBreakerCooldownMs: {
    env: 'AISPM_ALERT_BREAKER_COOLDOWN_MS',
    expected: 'an integer from 10 to 3600000 (ms an open breaker waits before one probe attempt)',
    schema: z.coerce.number().int().min(10).max(3_600_000),
    default: 30_000,
  } satisfies Key<number>,
  alertApiKeys: {
    env: 'AISPM_ALERT_API_KEYS',
    expected:
      'keys of the alerter silences API as tenant:key or tenant:sha256:<64 hex>, one per line or comma-separated (or AISPM_ALERT_API_KEYS_FILE, a path to them); without them the API is off',
    schema: z.string().min(1).nullable(),
    default: null,
    secret: true,
  } satisfies Key<string | null>,
  alertApiHost: {
    env: 'AISPM_ALERT_API_HOST',
    expected:
      'an interface address for the alerter API (silences, /healthz, /metrics), e.g. 127.0.0.1 (the default: loopback only)',
    schema: z.string().min(1),
    default: '127.0.0.1',
  } satisfies Key<string>,
  alertApiPort: {
    env: 'AISPM_ALERT_API_PORT',
    expected: 'a TCP port from 0 to 65535 for the alerter API (0: any free port)',
    schema: z.coerce.number().int().min(0).max(65535),
    default: 9465,
  } satisfies Key<number>,
  grafanaUrl: {
    env: 'AISPM_GRAFANA_URL',
    expected:
      'the http(s) URL of Grafana, e.g. http://127.0.0.1:3000, for drill-down links in alerts (none when unset)',
    schema: z.url({ protocol: /^https?$/ }).nullable(),
    default: null,
  } satisfies Key<string | null>,
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

/**
 * The identifier policy and its key: AISPM_IDENTIFIER_HMAC_KEY, else one derived
 * from AISPM_CAPTURE_HMAC_KEY, else a random key kept in `<data dir>/identifier-hmac.key`
 * (created on first use). Gateways and shims that must agree on pseudonyms share a configured key.
 */
function identifierOptions(env: Env): IdentifierOptions {
  const k = CONFIG_KEYS;
  const captureKey = read(k.captureHmacKey, env);
  const hmacKey = read(k.identifierHmacKey, env) ?? (captureKey === null ? null : deriveIdentifierKey(captureKey));
  return {
    policy: read(k.identifierPolicy, env),
    hmacKey,
    keyFile: hmacKey === null ? resolve(read(k.dataDir, env), 'identifier-hmac.key') : null,
  };
}

/**
 * The consumer groups of the pipeline's stages, all named from AISPM_PROCESSOR_GROUP, so
 * that the processor, the GenAI sink, the drain and the gateway's backlog bound agree.
 */
export function consumerGroups(group: string): {
  traces: string;
  agents: string;
  entities: string;
  genaiLogs: string;
  genaiMetrics: string;
} {
  return {
    traces: group,
    agents: `${group}.agents`,
    entities: `${group}.entities`,
    genaiLogs: `${group}.genai-logs`,
    genaiMetrics: `${group}.genai-metrics`,
  };
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
    bus: { fsync: read(k.busFsync, merged) },
    logLevel: read(k.logLevel, merged),
    kafka: {
      brokers: read(k.kafkaBrokers, merged),
      clientId: read(k.kafkaClientId, merged),
      sessionTimeoutMs: read(k.kafkaSessionTimeoutMs, merged),
    },
    clickhouse: {
      url: read(k.clickhouseUrl, merged),
      username: read(k.clickhouseUser, merged),
      password: read(k.clickhousePassword, merged),
      database: read(k.clickhouseDatabase, merged),
      rollupRetentionDays: read(k.retentionDaysRollups, merged),
    },
    capture: {
      policy: read(k.capturePolicy, merged),
      hmacKey: read(k.captureHmacKey, merged),
      maxContentBytes: read(k.captureMaxBytes, merged),
      identifiers: identifierOptions(merged),
      detect: { enabled: read(k.detect, merged), maxBytes: read(k.detectMaxBytes, merged) },
    },
    topics: {
      events: read(k.topicEvents, merged),
      scores: read(k.topicScores, merged),
      findings: read(k.topicFindings, merged),
      state: read(k.topicState, merged),
      deadLetter: read(k.topicDeadLetter, merged),
      entities: read(k.topicEntities, merged),
      attributed: read(k.topicAttributed, merged),
      traceState: read(k.topicTraceState, merged),
      entityState: read(k.topicEntityState, merged),
      genaiLogs: read(k.topicGenaiLogs, merged),
      genaiMetrics: read(k.topicGenaiMetrics, merged),
    },
    store: read(k.store, merged),
    processor: {
      group: read(k.processorGroup, merged),
      maxBatchSize: read(k.processorBatch, merged),
      concurrency: read(k.processorConcurrency, merged),
      findingThreshold: read(k.findingThreshold, merged),
      fleet: read(k.processorFleet, merged),
      detection: {
        rulesFile: read(k.rulesFile, merged),
        overridesFile: read(k.rulesOverridesFile, merged),
        policyFile: read(k.policyFile, merged),
        quietMinutes: read(k.findingQuietMinutes, merged),
        postureIntervalS: read(k.postureIntervalS, merged),
      },
      statsIntervalS: read(k.statsIntervalS, merged),
      entitiesLingerMs: read(k.processorEntitiesLinger, merged),
      attribution: {
        waitMs: read(k.attributionWait, merged),
        maxSpansPerTrace: read(k.traceMaxSpans, merged),
        maxTraces: read(k.tracesMax, merged),
      },
    },
    analytics: {
      minEvents: read(k.baselineMinEvents, merged),
      minMinutes: read(k.baselineMinMinutes, merged),
      halfLifeHours: read(k.baselineHalfLifeHours, merged),
      windowMinutes: read(k.driftWindowMinutes, merged),
      psiWatch: read(k.driftPsiWatch, merged),
      psiAct: read(k.driftPsiAct, merged),
      maxEntitiesPerTenant: read(k.maxEntitiesPerTenant, merged),
      entityIdleDays: read(k.entityIdleDays, merged),
    },
    gateway: {
      host: read(k.gatewayHost, merged),
      port: read(k.gatewayPort, merged),
      maxBodyBytes: read(k.gatewayMaxBodyBytes, merged),
      maxInFlight: read(k.gatewayMaxInFlight, merged),
      maxConnections: read(k.gatewayMaxConnections, merged),
      publishTimeoutMs: read(k.gatewayPublishTimeoutMs, merged),
      keys: read(k.gatewayKeys, merged),
      tenantMaxInFlight: read(k.gatewayTenantMaxInFlight, merged),
      maxBytesInFlight: read(k.gatewayMaxBytesInFlight, merged),
      tenantMaxBytesInFlight: read(k.gatewayTenantMaxBytesInFlight, merged),
      headerTimeoutMs: read(k.gatewayHeaderTimeoutMs, merged),
      bodyIdleTimeoutMs: read(k.gatewayBodyIdleTimeoutMs, merged),
      bodyTimeoutMs: read(k.gatewayBodyTimeoutMs, merged),
      workers: read(k.gatewayWorkers, merged),
      offloadBytes: read(k.gatewayOffloadBytes, merged),
      backlogMaxEvents: read(k.backlogMaxEvents, merged),
      backlogMaxBytes: read(k.backlogMaxBytes, merged),
      metricsHost: read(k.metricsHost, merged),
      metricsPort: read(k.metricsPort, merged),
    },
    sql: {
      keys: read(k.sqlKeys, merged),
      host: read(k.sqlHost, merged),
      port: read(k.sqlPort, merged),
      maxConcurrent: read(k.sqlMaxConcurrent, merged),
      maxQueued: read(k.sqlMaxQueued, merged),
      maxQueryBytes: read(k.sqlMaxQueryBytes, merged),
      maxExecutionSeconds: read(k.sqlMaxExecutionSeconds, merged),
      maxResultBytes: read(k.sqlMaxResultBytes, merged),
      maxMemoryBytes: read(k.sqlMaxMemoryBytes, merged),
      operatorKeys: read(k.sqlOperatorKeys, merged),
      guardCacheEntries: read(k.sqlGuardCacheEntries, merged),
      schemaCacheMs: read(k.sqlSchemaCacheMs, merged),
    },
    alerter: {
      routesFile: read(k.alertRoutesFile, merged),
      group: read(k.alerterGroup, merged),
      dlqTopic: read(k.topicAlertsDlq, merged),
      retryMaxAttempts: read(k.alertRetryMaxAttempts, merged),
      retryMaxElapsedMs: read(k.alertRetryMaxElapsedMs, merged),
      backoffBaseMs: read(k.alertBackoffBaseMs, merged),
      backoffCapMs: read(k.alertBackoffCapMs, merged),
      breakerFailures: read(k.alertBreakerFailures, merged),
      breakerCooldownMs: read(k.alertBreakerCooldownMs, merged),
      apiKeys: read(k.alertApiKeys, merged),
      host: read(k.alertApiHost, merged),
      port: read(k.alertApiPort, merged),
      grafanaUrl: read(k.grafanaUrl, merged),
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
