import { createRequire } from 'node:module';
import type * as Kafkajs from 'kafkajs';
import { fastEncoder, recordBatchCrc32c, type EncoderClass } from './kafkajs-encoding.ts';
import { groupMessagesPerPartition } from './kafkajs-grouping.ts';
import { fixKafkajsRequestQueue } from './kafkajs-request-queue.ts';

/**
 * kafkajs, loaded with this project's fixes in place. Code that runs kafkajs
 * (the bus, the changelog) takes it from here rather than importing 'kafkajs':
 * kafkajs's modules take the replaced ones when they load, so the replacements
 * must be in the module cache first.
 */
const require = createRequire(import.meta.url);

/**
 * Puts `replace(original)` in the module cache as kafkajs's module `id`. False,
 * leaving kafkajs as it is, when the module that takes it (`loadedBy`, the module
 * itself by default) already loaded (something imported 'kafkajs' first, e.g. a
 * test), or when the module's source lacks `marker`: it is not the code replaced.
 */
function replaceModule<T>(id: string, marker: string, replace: (original: T) => unknown, loadedBy = id): boolean {
  if (require.cache[require.resolve(`kafkajs/src/${loadedBy}`)]) return false;
  const path = require.resolve(`kafkajs/src/${id}`);
  const original = require(path) as T;
  const cached = require.cache[path];
  if (!cached || !String(original).includes(marker)) return false;
  cached.exports = replace(original);
  return true;
}

/** Which fixes are active in this process (tests check them). */
export const kafkajsFixes = {
  // kafkajs-grouping.ts: linear instead of quadratic, taken by the producer's sendMessages.js.
  linearGrouping: replaceModule(
    'producer/groupMessagesPerPartition.js',
    '[...current, message]',
    () => groupMessagesPerPartition,
    'producer/sendMessages.js',
  ),
  // kafkajs-encoding.ts: an Encoder without zero-filling that writes varints in place and
  // joins nested encoders by reference, and a faster CRC32C.
  fastEncoder: replaceModule<EncoderClass>(
    'protocol/encoder.js',
    'this.buf = Buffer.alloc(Encoder.nextPowerOfTwo(initialSize))',
    fastEncoder,
  ),
  fastCrc32c: replaceModule(
    'protocol/recordBatch/crc32C/index.js',
    'unsigned(crc32C(buffer))',
    () => recordBatchCrc32c,
  ),
  requestQueue: false,
};

export const kafkajs = require('kafkajs') as typeof Kafkajs;
kafkajsFixes.requestQueue = fixKafkajsRequestQueue();
