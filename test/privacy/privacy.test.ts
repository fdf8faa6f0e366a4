import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { loadConfig, silentLogger, type Config } from '@aispm/core';
import { startRuntime, type Runtime } from '@aispm/cli';
import { startGateway, type RunningGateway } from '@aispm/gateway';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ensurePythonVenv, type PythonEnv } from '../setup/python.ts';
import { until } from '../support/until.ts';
import { CORPUS, ENCODINGS, core, readableForms, variants, type CorpusEntry } from './corpus.ts';

/**
 * The default capture policy end to end: a corpus of secrets and PII, in every
 * encoding they travel in, goes through the real gateway (OTLP/JSON) and the
 * embedded pipeline (bus, processor, chdb) in prompts, completions, tool
 * arguments and results, url.full, status messages and identifier attributes
 * (enduser.id, gen_ai.conversation.id, aispm.identity, aispm.scopes,
 * error.type, agent and tool names, service.name). Then nothing of it may be
 * readable: (a) in any string of any row of any table, (b) in any file of the
 * data folder, and (c) Yelp's detect-secrets finds nothing in an export of
 * every stored string, while it does find the raw corpus.
 */
const run = promisify(execFile);
const KEY = `privacy-key-${randomBytes(8).toString('hex')}`;
const dataDir = mkdtempSync(join(tmpdir(), 'aispm-privacy-'));
const scratch = mkdtempSync(join(tmpdir(), 'aispm-privacy-scan-'));

let python: PythonEnv;
let config: Config;
let runtime: Runtime;
let gateway: RunningGateway;

/** One sample: a value (in one spelling) and the text carrying it, in one encoding. */
interface Sample {
  name: string;
  value: string;
  encoded: string;
  identifier: boolean;
}

const samples: Sample[] = CORPUS.flatMap((entry) =>
  variants(entry).flatMap((value) =>
    Object.entries(ENCODINGS).map(([encoding, encode]) => ({
      name: `${entry.name} ${JSON.stringify(value)} (${encoding})`,
      value,
      encoded: encode(entry.text.replace(entry.value, value)),
      identifier: entry.identifier === true,
    })),
  ),
);

const hex = (bytes: number): string => randomBytes(bytes).toString('hex');
const str = (key: string, value: string) => ({ key, value: { stringValue: value } });
const list = (key: string, values: string[]) => ({
  key,
  value: { arrayValue: { values: values.map((v) => ({ stringValue: v })) } },
});

/** An LLM call carrying the sample everywhere, and a tool call carrying it in its payloads and name. */
function spans(sample: Sample, nowNs: bigint): object[] {
  const base = { traceId: hex(16), startTimeUnixNano: String(nowNs), endTimeUnixNano: String(nowNs + 5_000_000n) };
  // Identifier attributes take the value in its own spelling too: that is how an email becomes a user id.
  const id = sample.identifier ? sample.value : sample.encoded;
  return [
    {
      ...base,
      spanId: hex(8),
      name: 'chat',
      status: { code: 2, message: sample.encoded },
      attributes: [
        str('gen_ai.operation.name', 'chat'),
        str('gen_ai.provider.name', 'openai'),
        str('gen_ai.request.model', `gpt-4o ${id}`),
        str('gen_ai.agent.name', `agent ${id}`),
        str(
          'gen_ai.input.messages',
          JSON.stringify([{ role: 'user', parts: [{ type: 'text', content: sample.encoded }] }]),
        ),
        str('gen_ai.output.messages', sample.encoded),
        str('gen_ai.response.finish_reasons', id),
        str('url.full', sample.encoded),
        str('enduser.id', id),
        str('gen_ai.conversation.id', `conv ${sample.encoded}`),
        str('aispm.identity', sample.encoded),
        list('aispm.scopes', ['repo:read', id]),
        str('error.type', id),
        str('http.request.header.x-debug', sample.encoded),
      ],
    },
    {
      ...base,
      spanId: hex(8),
      name: 'execute_tool',
      attributes: [
        str('gen_ai.operation.name', 'execute_tool'),
        str('gen_ai.tool.name', `lookup ${id}`),
        str('gen_ai.tool.call.arguments', JSON.stringify({ query: sample.encoded })),
        str('gen_ai.tool.call.result', sample.encoded),
        str('enduser.id', sample.encoded),
      ],
    },
  ];
}

async function post(body: object): Promise<void> {
  const response = await fetch(`${gateway.url}/v1/traces`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', authorization: `Bearer ${KEY}` },
    body: JSON.stringify(body),
  });
  const text = await response.text();
  if (response.status !== 200) throw new Error(`gateway answered ${response.status}: ${text}`);
  const answer = JSON.parse(text || '{}') as { partialSuccess?: { rejectedSpans?: string | number } };
  expect(Number(answer.partialSuccess?.rejectedSpans ?? 0), text).toBe(0);
}

/** Every string in a value: a row, an array, a map. */
function strings(value: unknown, out: string[]): void {
  if (typeof value === 'string') out.push(value);
  else if (Array.isArray(value)) for (const item of value) strings(item, out);
  else if (value !== null && typeof value === 'object') for (const item of Object.values(value)) strings(item, out);
}

/** Files under a folder, recursively. */
function files(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((entry) => {
    const path = join(dir, entry.name);
    return entry.isDirectory() ? files(path) : entry.isFile() ? [path] : [];
  });
}

interface DetectSecretsResult {
  results: Record<string, { type: string; line_number: number }[]>;
}

interface Detected {
  type: string;
  lineNumber: number;
  line: string;
}

/** detect-secrets with its default plugins and filters over one file: what it reports, with the lines. */
async function detectSecrets(file: string): Promise<Detected[]> {
  const { stdout } = await run(python.bin('detect-secrets'), ['scan', '--all-files', file], {
    cwd: scratch,
    maxBuffer: 256 * 1024 * 1024,
  });
  const lines = readFileSync(file, 'utf8').split('\n');
  const report = JSON.parse(stdout) as DetectSecretsResult;
  return Object.values(report.results)
    .flat()
    .map((found) => ({ type: found.type, lineNumber: found.line_number, line: lines[found.line_number - 1] ?? '' }));
}

const stored: string[] = [];
let tables: string[] = [];
let sent = 0;

beforeAll(async () => {
  python = await ensurePythonVenv();
  config = loadConfig({
    AISPM_DATA_DIR: dataDir,
    AISPM_GATEWAY_PORT: '0',
    AISPM_METRICS_PORT: '0',
    AISPM_GATEWAY_KEYS: `acme:${KEY}`,
    AISPM_PARTITIONS: '2',
    AISPM_LOG_LEVEL: 'silent',
  });
  expect(config.capture.policy).toBe('redacted');
  runtime = await startRuntime(config, silentLogger);
  gateway = await startGateway({ bus: runtime.bus, config, log: silentLogger });

  const nowNs = BigInt(Date.now()) * 1_000_000n;
  const all = samples.flatMap((sample) => spans(sample, nowNs));
  for (let i = 0; i < all.length; i += 200) {
    await post({
      resourceSpans: [
        {
          resource: { attributes: [str('service.name', 'privacy-app'), str('deployment.environment.name', 'test')] },
          scopeSpans: [{ scope: { name: 'privacy-test' }, spans: all.slice(i, i + 200) }],
        },
      ],
    });
  }
  // An app named by an address, and bidi, zero-width and control characters in identifiers.
  const [llm, tool] = spans(samples[0]!, nowNs) as [{ attributes: object[] }, { attributes: object[] }];
  llm.attributes.push(str('gen_ai.agent.name', 'billing\u202egnp.exe\u2066\u200b\u0007bot'));
  tool.attributes.push(str('gen_ai.conversation.id', `conv\u0000\u001b[2J${'x'.repeat(3000)}`));
  await post({
    resourceSpans: [
      {
        resource: { attributes: [str('service.name', 'ops+bot@example-corp.com')] },
        scopeSpans: [{ scope: { name: 'privacy-test' }, spans: [llm, tool] }],
      },
    ],
  });
  sent = all.length + 2;

  await until(
    async () => {
      const [row] = await runtime.store.query<{ n: string }>('SELECT count() AS n FROM events FINAL');
      return Number(row?.n) >= sent;
    },
    `${sent} events stored`,
    { timeoutMs: 240_000, everyMs: 500 },
  );
  // Let the scores, entity and inventory stages catch up, then read back every table.
  await runtime.drain?.();
  const listed = await runtime.store.query<{ name: string }>(
    "SELECT name FROM system.tables WHERE database = currentDatabase() AND engine NOT IN ('View', 'MaterializedView')",
  );
  tables = listed.map((t) => t.name);
  for (const table of tables) {
    const rows = await runtime.store.query<Record<string, unknown>>(`SELECT * FROM \`${table}\``);
    strings(rows, stored);
  }
}, 600_000);

afterAll(async () => {
  await gateway?.close();
  await runtime?.close();
  rmSync(dataDir, { recursive: true, force: true });
  rmSync(scratch, { recursive: true, force: true });
}, 120_000);

describe('privacy under the default (redacted) capture policy', () => {
  it('stored the events, and every table was read back', () => {
    expect(tables).toEqual(expect.arrayContaining(['events']));
    expect(stored.length).toBeGreaterThan(sent);
  });

  it('(a) no stored string, in any table, holds a corpus value in any readable form', () => {
    const leaks: string[] = [];
    const cores = stored.map(core);
    for (const sample of samples) {
      const forms = readableForms(sample.value);
      const hit = stored.find((text) => forms.some((form) => text.includes(form)));
      const compact = core(sample.value);
      const hitCore = compact.length >= 8 ? cores.find((text) => text.includes(compact)) : undefined;
      if (hit !== undefined || hitCore !== undefined) leaks.push(`${sample.name}: ${(hit ?? hitCore)!.slice(0, 300)}`);
    }
    expect(leaks).toEqual([]);
  });

  it('(a) identifier fields are clean: no control, bidi or zero-width characters, at most 256 characters', async () => {
    const rows = await runtime.store.query<Record<string, unknown>>(
      'SELECT app, agent, user, identity, scopes, conversation_id, tool_name, error_type, finish_reasons, request_model FROM events',
    );
    const values: string[] = [];
    strings(rows, values);
    for (const value of values) {
      // eslint-disable-next-line no-control-regex -- the characters that must be gone
      expect(value).not.toMatch(/[\u0000-\u001f\u007f-\u009f\u200b-\u200f\u202a-\u202e\u2066-\u2069\ufeff]/);
      expect(value.length).toBeLessThanOrEqual(256);
    }
    const users = rows.map((row) => row.user).filter((user): user is string => typeof user === 'string');
    expect(users.some((user) => /^\[EMAIL:[0-9a-f]{16}\]$/.test(user))).toBe(true);
  });

  it('(b) no file in the data folder holds a corpus value as plain bytes', () => {
    const leaks: string[] = [];
    const everything = files(dataDir);
    expect(everything.length).toBeGreaterThan(0);
    const needles = [...new Set(samples.flatMap((sample) => readableForms(sample.value)))].map((form) =>
      Buffer.from(form),
    );
    for (const file of everything) {
      if (statSync(file).size > 512 * 1024 * 1024) continue;
      const bytes = readFileSync(file);
      for (const needle of needles) if (bytes.includes(needle)) leaks.push(`${file}: ${needle.toString()}`);
    }
    expect(leaks).toEqual([]);
  });

  it('(c) detect-secrets finds the raw corpus, and nothing in what was stored', async () => {
    // The raw corpus, one secret a line: as plain text, as the JSON a span payload carries it in, and the bare
    // value as a JSON string (where the entropy plugins look).
    const secrets = CORPUS.filter((entry) => entry.sensitivity === 'secret');
    const caught = new Set<number>();
    for (const [name, line] of [
      ['raw-corpus.txt', (entry: CorpusEntry) => entry.text.replace(/\n/g, '\\n')],
      ['raw-corpus.json', (entry: CorpusEntry) => JSON.stringify({ text: entry.text })],
      ['raw-values.json', (entry: CorpusEntry) => JSON.stringify({ value: entry.value })],
    ] as const) {
      const file = join(scratch, name);
      writeFileSync(file, `${secrets.map(line).join('\n')}\n`);
      for (const found of await detectSecrets(file)) caught.add(found.lineNumber);
    }
    // The scanner is honest only if it catches the corpus unredacted (PII is not its business).
    expect(caught.size / secrets.length).toBeGreaterThanOrEqual(0.6);

    const exported = join(scratch, 'stored-export.txt');
    writeFileSync(exported, `${stored.join('\n')}\n`);
    expect(await detectSecrets(exported)).toEqual([]);
  }, 300_000);
});
