export * from './gateway.js';
export * from './runtime-secrets.js';
