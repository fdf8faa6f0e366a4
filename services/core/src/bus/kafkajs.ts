import { createRequire } from 'node:module';
import type * as Kafkajs from 'kafkajs';
import { installFastCrc32c, installUnzeroedEncoder } from './kafkajs-encoding.ts';
import { QUADRATIC_GROUPING, groupMessagesPerPartition } from './kafkajs-grouping.ts';
import { fixKafkajsRequestQueue } from './kafkajs-request-queue.ts';

/**
 * kafkajs, loaded with this project's fixes in place. Code that runs kafkajs
 * (the bus, the changelog) takes it from here rather than importing 'kafkajs':
 * one of the fixes must be in the module cache before kafkajs's producer loads.
 */
const require = createRequire(import.meta.url);

/**
 * Puts the linear groupMessagesPerPartition (kafkajs-grouping.ts) in the module cache
 * where kafkajs's sendMessages.js will look it up. False, leaving kafkajs as it is,
 * when sendMessages.js already loaded (something imported 'kafkajs' first, e.g. a
 * test) or the module is not the quadratic code this replaces.
 */
function installLinearGrouping(): boolean {
  if (require.cache[require.resolve('kafkajs/src/producer/sendMessages.js')]) return false;
  const path = require.resolve('kafkajs/src/producer/groupMessagesPerPartition.js');
  const original = require(path) as (...args: never[]) => unknown;
  const cached = require.cache[path];
  if (!cached || !original.toString().includes(QUADRATIC_GROUPING)) return false;
  cached.exports = groupMessagesPerPartition;
  return true;
}

/** Which fixes are active in this process (tests check them). */
export const kafkajsFixes = {
  linearGrouping: installLinearGrouping(),
  unzeroedEncoder: installUnzeroedEncoder(),
  fastCrc32c: installFastCrc32c(),
  requestQueue: false,
};

export const kafkajs = require('kafkajs') as typeof Kafkajs;
kafkajsFixes.requestQueue = fixKafkajsRequestQueue();
