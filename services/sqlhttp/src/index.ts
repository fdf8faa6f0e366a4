// @aispm/sqlhttp: ClickHouse's HTTP interface, read-only and per tenant, over the store's engine
// (Grafana's ClickHouse datasource and ordinary ClickHouse clients against a one-machine install).

export { startSqlEndpoint, type RunningSqlEndpoint } from './start.ts';
export { buildSqlEndpoint, type SqlEndpoint } from './server.ts';
export {
  sqlEndpointConfig,
  SQL_ENDPOINT_DEFAULTS,
  type SqlEndpointOptions,
  type SqlEndpointConfig,
} from './options.ts';
export {
  NO_READ_KEYS,
  OPERATOR_KEYS_ENV,
  OPERATOR_USER,
  parseOperatorKeys,
  parseReadKeys,
  READ_KEYS_ENV,
  type OperatorKeys,
  type Principal,
  type ReadKeys,
} from './keys.ts';
export { OPERATOR_TABLES } from './schema.ts';
export { ClickHouseHttpError, httpStatusOf } from './errors.ts';
