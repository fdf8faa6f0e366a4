// @aispm/gateway: OTLP/HTTP ingest (protobuf and JSON) for stock OpenTelemetry exporters → the events topic.

export { buildGateway, gatewayBounds, type Gateway, type GatewayOptions } from './gateway.ts';
export { startGateway, type RunningGateway } from './start.ts';
export { parseApiKeys, apiKeyDigest, type ApiKeys } from './api-keys.ts';
export { GATEWAY_ERRORS, GatewayError, type GatewayErrorCode } from './errors.ts';
export { decodeTraceResponse } from './otlp/proto.ts';
export { decodeAndMap, type Decoded } from './decode.ts';
