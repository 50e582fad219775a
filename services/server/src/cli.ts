#!/usr/bin/env node
import { configFileVariables } from '@kordon/gateway';
import { ConfigError, loadConfig, unknownSettingMessage, unknownSettings } from './config.js';
import { startKordon } from './kordon.js';
import { closeLogger, createLogger, logReady } from './logger.js';

const USAGE = `usage: kordon <command>

commands:
  start    run gateway, admin API, portal, projections and scheduler in one process

environment (see docs/operations.md):
  KORDON_PORT (8080)  KORDON_HOST (127.0.0.1)  KORDON_DATA_DIR (./.kordon)
  KORDON_DATABASE_URL (PostgreSQL instead of the embedded store)  KORDON_LOG_LEVEL (info)
  KORDON_LOG_FILE (stdout)  KORDON_LOG_ROTATE_SIZE (100m)  KORDON_LOG_ROTATE_INTERVAL (daily)  KORDON_LOG_KEEP (14)`;

async function main(argv: string[]): Promise<number> {
  const command = argv[0];
  if (command !== 'start') {
    process.stderr.write(`${USAGE}\n`);
    return command === undefined || command === '--help' || command === 'help' ? 0 : 2;
  }
  let config: ReturnType<typeof loadConfig>;
  try {
    config = loadConfig(process.env);
  } catch (error) {
    if (error instanceof ConfigError) {
      process.stderr.write(`kordon: ${error.message}\n`);
      return 78; // EX_CONFIG
    }
    throw error;
  }
  const logger = createLogger(config);
  // A log file that cannot be written refuses the start here, on stderr, naming the variable.
  await logReady(logger, config.logFile?.path);
  // Named, never its value: a misspelled KORDON_MASTER_KEY still holds a secret.
  const readByConfigFile = config.configFile ? configFileVariables(config.configFile) : undefined;
  for (const unknown of unknownSettings(process.env, readByConfigFile)) {
    logger.warn({ variable: unknown.name, meant: unknown.meant }, unknownSettingMessage(unknown));
  }

  // Handlers go in before the start, so a signal that arrives while it is starting
  // still stops it cleanly (once started) instead of killing it mid-write.
  let signal: NodeJS.Signals | 'fault' | undefined;
  let onSignal: (() => void) | undefined;
  let kordon: Awaited<ReturnType<typeof startKordon>> | undefined;
  const handle = (received: NodeJS.Signals | 'fault') => {
    if (signal) {
      // A second signal while draining (Ctrl-C twice, a process manager's repeated TERM): the
      // operator will not wait out KORDON_SHUTDOWN_TIMEOUT_MS. Open requests end now; events
      // are still flushed before the exit, so nothing recorded is lost.
      if (received !== 'fault') kordon?.endDrainNow();
      return;
    }
    signal = received;
    onSignal?.();
  };
  process.on('SIGTERM', handle);
  process.on('SIGINT', handle);
  // A promise no one awaited that rejects, or an exception no one caught, is a bug somewhere:
  // Node's default ends the process at once, with the events still buffered. Logged, it stops
  // the process as a signal does (drained, events flushed), with exit code 1.
  process.on('unhandledRejection', (reason) => {
    logger.error({ err: reason }, 'unhandled promise rejection: stopping');
    handle('fault');
  });
  process.on('uncaughtException', (error) => {
    logger.error({ err: error }, 'uncaught exception: stopping');
    handle('fault');
  });

  let running: Awaited<ReturnType<typeof startKordon>>;
  try {
    running = await startKordon(config, logger, process.env);
  } catch (error) {
    // Into the log as well as on stderr (below), and the log file closed with it on disk.
    logger.fatal({ err: error }, 'failed to start');
    await closeLogger(logger);
    throw error;
  }
  kordon = running;
  return new Promise<number>((resolve) => {
    onSignal = () => {
      logger.info({ signal }, 'shutting down');
      running
        .stop()
        .then(
          () => (signal === 'fault' ? 1 : 0),
          (error: unknown) => {
            logger.error({ err: error }, 'shutdown failed');
            return 1;
          },
        )
        // The log file's last lines are on disk before the process exits.
        .then((code) => closeLogger(logger).then(() => resolve(code)));
    };
    if (signal) onSignal();
  });
}

main(process.argv.slice(2)).then(
  (code) => process.exit(code),
  (error: unknown) => {
    process.stderr.write(
      `kordon: failed to start: ${error instanceof Error ? error.message : String(error)}\n`,
    );
    process.exit(1);
  },
);
