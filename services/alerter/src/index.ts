export type { DeliveryResult, Destination, Notification } from './notification.ts';
