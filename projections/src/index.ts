export * from './in-memory-runner.js';
export * from './projection.js';
export * from './sql-runner.js';
