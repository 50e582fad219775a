export { type CompiledRule, compileRules, type RedactionRule, redactionRuleSchema } from './custom-rules.js';
export { DETECTOR_CATALOGUE, DETECTOR_IDS, type DetectorId, type RedactionAction } from './detectors.js';
export { RedactionConfigError } from './errors.js';
export {
  createRedactor,
  type DetectorSetting,
  isSensitiveKey,
  type Redactor,
  type RedactorOptions,
} from './redactor.js';
export type { Finding } from './scan.js';
