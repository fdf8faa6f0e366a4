import { execFile } from 'node:child_process';
import { createRequire } from 'node:module';
import { promisify } from 'node:util';
import { describe, expect, it } from 'vitest';
import { KAFKAJS_REQUIRED, kafkajsFixes, verifyKafkajsFixes } from './kafkajs.ts';
import { upstreamModule } from './testing/kafkajs.ts';

const require = createRequire(import.meta.url);
const loaded = (id: string): unknown => require.cache[require.resolve(`kafkajs/src/${id}`)]?.exports;
/** The process's kafkajs, except module `id`, which is as shipped (a replacement that did not apply). */
const unpatched =
  (id: string) =>
  (other: string): unknown =>
    other === id ? upstreamModule(`kafkajs/src/${id}`) : loaded(other);

describe('verifyKafkajsFixes', () => {
  it('passes where @aispm/bus loaded kafkajs, pinned exactly', () => {
    expect(KAFKAJS_REQUIRED).toMatch(/^\d+\.\d+\.\d+$/);
    expect(Object.values(kafkajsFixes).every(Boolean)).toBe(true);
    expect(() => verifyKafkajsFixes()).not.toThrow();
  });

  it.each([
    ['protocol/encoder.js', 'fastEncoder'],
    ['producer/groupMessagesPerPartition.js', 'linearGrouping'],
    ['protocol/recordBatch/crc32C/index.js', 'fastCrc32c'],
    ['network/requestQueue/index.js', 'requestQueue'],
  ])('fails, naming the versions and the fix, when %s is kafkajs’s own', (id, fix) => {
    expect(() => verifyKafkajsFixes(unpatched(id), '2.2.5')).toThrow(
      expect.objectContaining({
        code: 'kafkajs_unpatched',
        message: expect.stringMatching(
          new RegExp(
            `^kafkajs 2\\.2\\.5 is installed and aispm requires kafkajs ${KAFKAJS_REQUIRED.replaceAll('.', '\\.')} exactly; these fixes did not apply: ${fix} .*install kafkajs@${KAFKAJS_REQUIRED}`,
          ),
        ) as unknown,
      }),
    );
  });

  it('makes a process that loaded kafkajs first fail at start-up, when it makes a KafkaBus', async () => {
    const script =
      "await import('kafkajs'); const { KafkaBus } = await import('@aispm/bus'); " +
      "try { new KafkaBus({ brokers: ['127.0.0.1:1'] }); console.log('started'); } catch (err) { console.log(err.code + ': ' + err.message); }";
    const { stdout } = await promisify(execFile)(process.execPath, ['--input-type=module', '-e', script], {
      cwd: import.meta.dirname,
    });
    expect(stdout).toMatch(
      /^kafkajs_unpatched: kafkajs \S+ is installed .*fastEncoder.*load kafkajs through @aispm\/bus/,
    );
  });
});
