export { HttpReceiver, type Fault, type ReceivedRequest, type Answer } from './http-receiver.ts';
export {
  PagerDutyReceiver,
  pagerDutyEventErrors,
  type PagerDutyReceiverOptions,
  type PagerDutyAlert,
} from './pagerduty-receiver.ts';
export { HecReceiver, splitHecBody, type HecReceiverOptions } from './hec-receiver.ts';
export { JsonReceiver, type JsonReceiverOptions } from './json-receiver.ts';
