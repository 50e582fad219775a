import { Catalogue, type EventOf } from './define.js';
import { accessEvents } from './events/access.js';
import { fraudEvents } from './events/fraud.js';
import { limitEvents } from './events/limits.js';
import { loggingEvents } from './events/logging.js';
import { providerKeyEvents } from './events/provider-keys.js';
import { providerEvents } from './events/providers.js';
import { proxyKeyEvents } from './events/proxy-keys.js';
import { routingEvents } from './events/routing.js';
import { ssoEvents } from './events/sso.js';
import { tenancyEvents } from './events/tenancy.js';
import { usageEvents } from './events/usage.js';

export { Catalogue, defineEvent, EventDecodeError, type EventDefinition, type EventOf } from './define.js';
export * from './events/access.js';
export {
  looksLikeSecret,
  MODEL_NAME_MAX_LENGTH,
  MODEL_NAME_PATTERN,
  modelPattern,
  PERIOD_SPEC_PATTERN,
  periodSpec,
} from './events/fields.js';
export * from './events/fraud.js';
export * from './events/limits.js';
export * from './events/logging.js';
export * from './events/provider-keys.js';
export * from './events/providers.js';
export * from './events/proxy-keys.js';
export * from './events/routing.js';
export * from './events/sso.js';
export * from './events/tenancy.js';
export * from './events/usage.js';

/** Every event type Kordon writes, at the version written today. */
export const kordonDefinitions = [
  ...tenancyEvents,
  ...accessEvents,
  ...providerEvents,
  ...providerKeyEvents,
  ...proxyKeyEvents,
  ...usageEvents,
  ...limitEvents,
  ...fraudEvents,
  ...routingEvents,
  ...loggingEvents,
  ...ssoEvents,
] as const;

export const kordonCatalogue = new Catalogue(kordonDefinitions);

/** Any decoded Kordon event; narrow it with `switch (event.type)`. */
export type KordonEvent = EventOf<typeof kordonDefinitions>;
export type KordonEventType = KordonEvent['type'];
/** One event type of the union, e.g. `KordonEventOf<'RequestCompleted'>`. */
export type KordonEventOf<T extends KordonEventType> = Extract<KordonEvent, { type: T }>;
/** The data of one event type at today's version. */
export type KordonEventData<T extends KordonEventType> = KordonEventOf<T>['data'];
