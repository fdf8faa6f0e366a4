import { defineConfig } from 'vitest/config';

/**
 * One configuration for the whole repository. The global setup brings up a real
 * Kafka broker (KAFKA_BROKERS, else testcontainers, else the local KRaft broker
 * from deploy/local/kafka) before any test runs; it fails the run, saying what to
 * install, if none can start.
 */
export default defineConfig({
  test: {
    include: ['services/*/src/**/*.test.ts', 'test/**/*.test.ts'],
    globalSetup: ['test/setup/kafka.global.ts'],
    pool: 'forks',
    testTimeout: 60_000,
    hookTimeout: 120_000,
    reporters: [process.env.CI ? 'verbose' : 'default', './test/setup/closing-line-reporter.ts'],
  },
});
