import { KordonError } from '@kordon/events';

/**
 * A redactor configuration that cannot be used: a custom rule whose pattern the RE2 engine
 * refuses, an unknown detector id, a hash key that is too short. Not retryable: the same
 * configuration will be refused again. `ruleId` names the rule or detector at fault.
 */
export class RedactionConfigError extends KordonError {
  readonly ruleId: string | undefined;

  constructor(message: string, options: { ruleId?: string; cause?: unknown } = {}) {
    super('config_invalid', message, { cause: options.cause });
    this.name = 'RedactionConfigError';
    this.ruleId = options.ruleId;
  }
}
