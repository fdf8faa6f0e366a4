export type { DeliveryResult, Destination, Notification } from './notification.ts';
export type { Dispatcher, Outgoing } from './dispatch.ts';
