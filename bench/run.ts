import { mkdirSync, readdirSync, writeFileSync } from 'node:fs';
import { cpus, totalmem } from 'node:os';
import { join } from 'node:path';
import { sizeThreadPool } from '@aispm/core';
import type { Benchmark } from './harness.ts';

/**
 * `npm run bench -- NAME` runs bench/NAME.bench.ts and writes bench/results/NAME.json.
 * Benchmarks run real components and are not timed tests.
 */
// As the aispm command does, before anything uses libuv's pool.
sizeThreadPool();
const here = import.meta.dirname;
const available = readdirSync(here)
  .filter((f) => f.endsWith('.bench.ts'))
  .map((f) => f.replace('.bench.ts', ''));
const name = process.argv[2];

if (!name || name === '--help' || name === '-h') {
  process.stdout.write(
    `Usage: npm run bench -- NAME\n\nRuns bench/NAME.bench.ts and writes bench/results/NAME.json.\nAvailable: ${available.join(', ') || '(none yet)'}\n`,
  );
  process.exit(name ? 0 : 2);
}
if (!available.includes(name)) {
  process.stderr.write(`bench: no benchmark "${name}"; available: ${available.join(', ') || '(none yet)'}\n`);
  process.exit(2);
}

const { default: bench } = (await import(join(here, `${name}.bench.ts`))) as { default: Benchmark };
process.stderr.write(`bench ${name}: ${bench.description}\n`);
const outcome = await bench.run((line) => process.stderr.write(`  ${line}\n`));
const result = {
  name,
  at: new Date().toISOString(),
  machine: {
    cpus: cpus().length,
    cpu: cpus()[0]?.model ?? 'unknown',
    memory_gib: Math.round(totalmem() / 2 ** 30),
    node: process.versions.node,
  },
  metrics: outcome.metrics,
  params: outcome.params,
  noisy: outcome.noisy,
  ...(outcome.notes ? { notes: outcome.notes } : {}),
};
mkdirSync(join(here, 'results'), { recursive: true });
const file = join(here, 'results', `${name}.json`);
writeFileSync(file, `${JSON.stringify(result, null, 2)}\n`);

const width = Math.max(...Object.keys(outcome.metrics).map((k) => k.length));
process.stdout.write(
  `\n${name} on ${result.machine.cpus} × ${result.machine.cpu}, Node ${result.machine.node}${outcome.noisy ? ' (NOISY: repeat before quoting)' : ''}\n`,
);
for (const [metric, { value, unit }] of Object.entries(outcome.metrics)) {
  process.stdout.write(
    `  ${metric.padEnd(width)}  ${value.toLocaleString('en-US', { maximumFractionDigits: 2 })} ${unit}\n`,
  );
}
process.stdout.write(`  params: ${JSON.stringify(outcome.params)}\n  written to ${file}\n`);
