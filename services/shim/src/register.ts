import { context, propagation, trace } from '@opentelemetry/api';
import { createLogger, describeError, loadConfig, type Publisher, type ToolRisk } from '@aispm/core';
import { OTLPTraceExporter } from '@opentelemetry/exporter-trace-otlp-proto';
import { resourceFromAttributes } from '@opentelemetry/resources';
import { NodeSDK } from '@opentelemetry/sdk-node';
import type { SpanExporter, SpanProcessor } from '@opentelemetry/sdk-trace-base';
import {
  aiGuard,
  aiTelemetry,
  type AiGuardMiddleware,
  type AiTelemetryOptions,
  type AiTelemetrySettings,
} from './ai-sdk.ts';
import { BoundedExportProcessor, type QueueOptions, type QueueStats } from './bounded-processor.ts';
import { ContentCapture, type CaptureSettings } from './content.ts';
import { attachGuard, guardOf, startGuard, type GuardOptions } from './guard-hook.ts';
import { agentHelpers, type AgentHelpers } from './helpers.ts';
import { instrumentClient } from './instrument.ts';
import { KafkaEventExporter, type KafkaExporterStats } from './kafka-exporter.ts';
import { AiSdkInstrumentation } from './patch.ts';
import type { ShimTracing } from './tracing.ts';

export type ExporterOptions =
  /**
   * Avro events straight onto Kafka, as the gateway publishes them (brokers and topics default to
   * KAFKA_BROKERS, AISPM_TOPIC_EVENTS, AISPM_TOPIC_ATTRIBUTED).
   */
  | { kind: 'kafka'; brokers?: string[]; topic?: string; attributedTopic?: string; clientId?: string; bus?: Publisher }
  /** OTLP/HTTP protobuf to the gateway (or any OTLP endpoint), e.g. http://127.0.0.1:4318/v1/traces. */
  | { kind: 'otlp'; url: string; headers?: Record<string, string> }
  /** Any OTel SpanExporter, behind the same bounded queue. */
  | { kind: 'custom'; exporter: SpanExporter };

export interface RegisterOptions {
  /** service.name: the app, as aispm's inventory names it. */
  service: string;
  /** Default AISPM_TENANT (the Kafka exporter's tenant; the gateway takes it from the API key instead). */
  tenant?: string;
  /** deployment.environment.name (default "default"). */
  environment?: string;
  version?: string;
  exporter: ExporterOptions;
  /** Default AISPM_CAPTURE_POLICY, AISPM_CAPTURE_HMAC_KEY, AISPM_CAPTURE_MAX_BYTES (redacted, none, 8192). */
  capture?: Partial<CaptureSettings>;
  queue?: QueueOptions;
  /** aispm.identity on every span: the principal the app or agent acts as. */
  identity?: string;
  /** aispm.scopes on every span: what that principal is allowed. */
  scopes?: string[];
  /** Declared risk class per tool name (aispm.tool.risk); undeclared tools are "unknown". */
  tools?: Record<string, ToolRisk>;
  /** More span processors (another backend; an InMemorySpanExporter in tests). They see content as the policy left it. */
  spanProcessors?: SpanProcessor[];
  /** Wrap openai and @anthropic-ai/sdk classes when they are loaded after register() (default true; see patch.ts). */
  patchOnImport?: boolean;
  /** How long shutdown() waits for the last spans to be exported (default 5000 ms). */
  shutdownTimeoutMs?: number;
  /** Where warnings go (default: JSON log lines on stderr). */
  warn?: (message: string) => void;
  /**
   * Guard mode: prompts (openai, @anthropic-ai/sdk, the `ai` SDK through aiGuard()) and tool arguments and
   * results (withTool, MCP callTool) are checked in-process against a policy before they go on: `block` throws
   * GuardBlockedError (code guard_blocked) and the provider or tool is never called, `redact` sends the text
   * with the stretch masked. The detectors load only when this is set.
   */
  guard?: GuardOptions;
}

export interface ShimStats extends QueueStats {
  /** Kafka exporter only: events published, non-AI spans ignored, AI spans rejected as invalid events. */
  events?: KafkaExporterStats;
}

export interface Shim extends AgentHelpers {
  /** Instruments an openai, @anthropic-ai/sdk or MCP client in place and returns it. */
  instrument<T>(client: T): T;
  /** `experimental_telemetry` settings for the `ai` SDK, mapped to the GenAI conventions under the capture policy. */
  aiTelemetry(options?: AiTelemetryOptions): AiTelemetrySettings;
  /** Guard mode for the `ai` SDK: `wrapLanguageModel({ model, middleware: shim.aiGuard() })` (passes all through without guard mode). */
  aiGuard(): AiGuardMiddleware;
  /** Resolves once guard mode has loaded its policy and detectors (at once without guard mode); rejects if it cannot. */
  guardReady(): Promise<void>;
  stats(): ShimStats;
  forceFlush(): Promise<void>;
  /** Exports what is queued (waiting at most shutdownTimeoutMs), then stops; never throws. */
  shutdown(): Promise<void>;
}

let active: Shim | undefined;

/**
 * Sets up the OpenTelemetry Node SDK for an AI app, in one call:
 *
 *   const shim = register({ service: 'billing-bot', exporter: { kind: 'kafka' } });
 *   const openai = shim.instrument(new OpenAI());
 *
 * NodeSDK brings the AsyncLocalStorage context manager (so an agent's LLM and tool
 * spans nest under it across awaits), W3C propagation and the global tracer
 * provider other instrumentations use. Resource auto-detection is off: the
 * process detector records command-line arguments, which carry secrets too often.
 */
export function register(options: RegisterOptions): Shim {
  const config = loadConfig(process.env);
  const warn = options.warn ?? createWarn();
  const capture = new ContentCapture({
    policy: options.capture?.policy ?? config.capture.policy,
    hmacKey: options.capture?.hmacKey ?? config.capture.hmacKey,
    maxContentBytes: options.capture?.maxContentBytes ?? config.capture.maxContentBytes,
    identifiers: options.capture?.identifiers ?? { ...config.capture.identifiers, keyFile: null },
    detect: options.capture?.detect ?? config.capture.detect,
  });
  const tenant = options.tenant ?? config.tenant;
  let kafka: KafkaEventExporter | undefined;
  let exporter: SpanExporter;
  switch (options.exporter.kind) {
    case 'kafka':
      exporter = kafka = new KafkaEventExporter({
        tenant,
        topic: options.exporter.topic ?? config.topics.events,
        attributedTopic: options.exporter.attributedTopic ?? config.topics.attributed,
        capture: capture.settings,
        brokers: options.exporter.brokers ?? config.kafka.brokers,
        ...(options.exporter.clientId === undefined ? {} : { clientId: options.exporter.clientId }),
        ...(options.exporter.bus === undefined ? {} : { bus: options.exporter.bus }),
        warn,
      });
      break;
    case 'otlp':
      exporter = new OTLPTraceExporter({ url: options.exporter.url, headers: options.exporter.headers ?? {} });
      break;
    case 'custom':
      exporter = options.exporter.exporter;
      break;
  }
  const queue = new BoundedExportProcessor(exporter, options.queue ?? {}, warn);
  const tracing: ShimTracing = {
    tracer: trace.getTracer('@aispm/shim', '0.1.0'),
    capture,
    principal: {
      ...(options.identity === undefined ? {} : { identity: options.identity }),
      ...(options.scopes === undefined ? {} : { scopes: options.scopes }),
    },
    toolRisks: new Map(Object.entries(options.tools ?? {})),
  };
  if (options.guard !== undefined) attachGuard(tracing, startGuard(options.guard, warn));
  const patcher = options.patchOnImport === false ? [] : [new AiSdkInstrumentation(tracing)];
  const sdk = new NodeSDK({
    serviceName: options.service,
    resource: resourceFromAttributes({
      'deployment.environment.name': options.environment ?? 'default',
      'aispm.tenant': tenant,
      ...(options.version === undefined ? {} : { 'service.version': options.version }),
    }),
    autoDetectResources: false,
    spanProcessors: [queue, ...(options.spanProcessors ?? [])],
    logRecordProcessors: [],
    instrumentations: patcher,
  });
  sdk.start();
  let stopped: Promise<void> | undefined;
  const shim: Shim = {
    ...agentHelpers(tracing),
    instrument: (client) => instrumentClient(tracing, client),
    aiTelemetry: (telemetry) => aiTelemetry(tracing, telemetry),
    aiGuard: () => aiGuard(tracing),
    guardReady: () => guardOf(tracing)?.ready ?? Promise.resolve(),
    stats: () => ({ ...queue.stats(), ...(kafka ? { events: { ...kafka.stats } } : {}) }),
    forceFlush: () => queue.forceFlush(),
    shutdown: () =>
      (stopped ??= (async () => {
        const timeoutMs = options.shutdownTimeoutMs ?? 5000;
        let timer: NodeJS.Timeout | undefined;
        const deadline = new Promise<'timeout'>((resolve) => (timer = setTimeout(() => resolve('timeout'), timeoutMs)));
        const done = sdk.shutdown().then(
          () => 'done' as const,
          (err: unknown) => {
            warn(`aispm shim: shutting down failed: ${describeError(err)}`);
            return 'done' as const;
          },
        );
        if ((await Promise.race([done, deadline])) === 'timeout') {
          warn(`aispm shim: ${queue.stats().queued} spans were not exported within ${timeoutMs} ms of shutdown`);
        }
        clearTimeout(timer);
        for (const instrumentation of patcher) instrumentation.disable();
        // Release the globals so a later register() (a test, a restart in-process) takes effect.
        trace.disable();
        context.disable();
        propagation.disable();
        if (active === shim) active = undefined;
      })()),
  };
  active = shim;
  return shim;
}

/** Instruments a client with the most recently registered shim (a no-op before register()). */
export function instrument<T>(client: T): T {
  return active ? active.instrument(client) : client;
}

function createWarn(): (message: string) => void {
  const log = createLogger('warn', 'aispm-shim');
  return (message) => log.warn(message);
}
