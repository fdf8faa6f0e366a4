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
