import type { TestProject } from 'vitest/node';
import { startKafkaBroker } from './kafka-broker.ts';

/**
 * vitest globalSetup: one real Kafka broker for the whole run, handed to tests
 * through `inject('kafkaBrokers')` and `inject('kafkaLabel')`.
 */
declare module 'vitest' {
  export interface ProvidedContext {
    /** Bootstrap addresses (host:port) of the test broker. */
    kafkaBrokers: string[];
    /** What broker runs and where, for test titles. */
    kafkaLabel: string;
  }
}

export default async function setup(project: TestProject): Promise<() => Promise<void>> {
  const broker = await startKafkaBroker();
  console.log(`Kafka: ${broker.label}`);
  project.provide('kafkaBrokers', broker.brokers);
  project.provide('kafkaLabel', broker.label);
  return () => broker.stop();
}
