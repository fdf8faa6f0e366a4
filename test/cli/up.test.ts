import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { resourceFromAttributes } from '@opentelemetry/resources';
import { BasicTracerProvider, SimpleSpanProcessor } from '@opentelemetry/sdk-trace-base';
import { OTLPTraceExporter } from '@opentelemetry/exporter-trace-otlp-proto';
import { ChdbStore } from '@aispm/store';
import { afterAll, describe, expect, it } from 'vitest';
import { until } from '../support/until.ts';

/**
 * `aispm up` on the embedded default, as an operator runs it: a stock OTLP
 * exporter sends a GenAI span to its gateway, and after Ctrl-C the event is in
 * the store with its score.
 */
const repo = join(import.meta.dirname, '../..');
const dataDir = mkdtempSync(join(tmpdir(), 'aispm-up-'));
afterAll(() => rmSync(dataDir, { recursive: true, force: true }));

describe('aispm up (embedded, gateway on)', () => {
  it('takes OTLP traces from a stock exporter through the whole pipeline into the store', async () => {
    const child = spawn(process.execPath, [join(repo, 'services/cli/src/main.ts'), 'up', '--status-every', '1'], {
      cwd: repo,
      env: {
        ...process.env,
        AISPM_DATA_DIR: dataDir,
        AISPM_GATEWAY_PORT: '0',
        AISPM_METRICS_PORT: '0',
        AISPM_GATEWAY_KEYS: 'acme:acme-key-0123456789abcdef',
        AISPM_LOG_LEVEL: 'info',
      },
    });
    let stderr = '';
    const url = await new Promise<string>((resolve, reject) => {
      child.stderr.on('data', (chunk: Buffer) => {
        stderr += chunk.toString();
        const match = /"url":"(http:\/\/[^"]+)"/.exec(stderr);
        if (match?.[1]) resolve(match[1]);
      });
      child.on('exit', (code) => reject(new Error(`aispm up exited with ${code}: ${stderr}`)));
    });
    const exporter = new OTLPTraceExporter({
      url: `${url}/v1/traces`,
      headers: { authorization: 'Bearer acme-key-0123456789abcdef' },
    });
    const provider = new BasicTracerProvider({
      resource: resourceFromAttributes({ 'service.name': 'billing-app', 'deployment.environment.name': 'prod' }),
      spanProcessors: [new SimpleSpanProcessor(exporter)],
    });
    const span = provider.getTracer('test').startSpan('chat gpt-4o', {
      attributes: {
        'gen_ai.operation.name': 'chat',
        'gen_ai.provider.name': 'openai',
        'gen_ai.request.model': 'gpt-4o',
        'gen_ai.usage.input_tokens': 321,
        'gen_ai.usage.output_tokens': 45,
        'gen_ai.agent.name': 'billing-bot',
      },
    });
    span.end();
    await provider.shutdown();

    // The processor stores asynchronously: wait for a status line that counts the event, then stop.
    // The deadline leaves room within the test's own timeout, so a hang fails with the child's last lines.
    await until(() => /"stored":1\b/.test(stderr), 'a status line counting the stored event', {
      timeoutMs: 40_000,
      everyMs: 100,
      context: () => `aispm up's last lines:\n${stderr.trim().split('\n').slice(-15).join('\n')}`,
    });
    const exited = new Promise<number | null>((resolve) => child.on('close', resolve));
    child.kill('SIGINT');
    expect(await exited).toBe(0);

    const store = await ChdbStore.open({ path: join(dataDir, 'chdb'), database: 'aispm' });
    try {
      const rows = await store.query<Record<string, unknown>>(
        `SELECT e.tenant AS tenant, e.app AS app, e.agent AS agent, e.provider AS provider,
                e.input_tokens AS input_tokens, e.output_tokens AS output_tokens, s.learning AS learning
         FROM events AS e FINAL INNER JOIN anomaly_scores AS s FINAL USING (event_id)`,
      );
      expect(rows).toEqual([
        {
          tenant: 'acme',
          app: 'billing-app',
          agent: 'billing-bot',
          provider: 'openai',
          input_tokens: 321,
          output_tokens: 45,
          learning: true,
        },
      ]);
    } finally {
      await store.close();
    }
  });
});
