export * from './appender.js';
export * from './event-store-contract.js';
export * from './events.js';
export * from './postgres.js';
export * from './request-events.js';
export * from './stores.js';
