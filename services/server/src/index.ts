export * from './config.js';
export * from './kordon.js';
export * from './logger.js';
