import { AispmError } from '@aispm/core';

/** The errors both bus implementations raise, with the same codes and wording. */
export function invalidTopic(message: string): AispmError {
  return new AispmError('bus_invalid_topic', message);
}

export function invalidOption(message: string): AispmError {
  return new AispmError('bus_invalid_option', message);
}

export function topicMissing(topic: string): AispmError {
  return new AispmError(
    'bus_topic_missing',
    `topic ${topic} does not exist; create it with ensureTopics before publishing to it or subscribing to it`,
  );
}

export function busClosed(kind: string): AispmError {
  return new AispmError('bus_closed', `the ${kind} bus is closed; create a new bus to publish or subscribe`);
}

export function commitRefused(message: string): AispmError {
  return new AispmError('bus_commit_refused', message);
}

/** A manual commit asked of a subscription that commits on return. */
export function notManual(topic: string, group: string): AispmError {
  return invalidOption(
    `commit() on group ${group} of ${topic}: the subscription commits on return; subscribe with commit: 'manual' to commit by hand`,
  );
}

/** Parses a commit offset: a decimal whole number, as the bus hands offsets out. */
export function commitOffset(offset: string): bigint {
  if (!/^\d{1,19}$/.test(offset))
    throw commitRefused(
      `commit offset ${JSON.stringify(offset)} is not a whole decimal number; pass a record's offset + 1`,
    );
  return BigInt(offset);
}
