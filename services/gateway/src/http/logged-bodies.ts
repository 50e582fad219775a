import { createHmac } from 'node:crypto';
import { createRedactor, type RedactionRule, type Redactor } from '@kordon/redaction';
import type { BodySealer, SealedBodies } from '../body-keys/body-keys.js';
import { loggingPolicyOf, type RegistryState } from '../registry/registry.js';
import { answerContentText } from '../translate/index.js';

/** The longest text an event carries (RequestCompleted's redactedPrompt/redactedResponse). */
export const MAX_LOGGED_CHARS = 32_768;
/**
 * Text read past the cut: a secret that starts before the cut is redacted whole if it ends
 * within this (a PEM private key is ~3 KiB; a JWT a few). Redacting a 10 MB body whole only
 * to keep its first 32 KiB held the event loop for ~0.5 s (35–120 ms a MB).
 */
export const REDACTION_MARGIN_CHARS = 65_536;

type Policy = ReturnType<typeof loggingPolicyOf>;

/**
 * What a request's event may carry of its prompt and answer, by the org's logging policy:
 * nothing (`none`, the default), the texts (`redacted`: the messages' text, the answer's
 * text), or the whole bodies (`full`: the request's JSON, the answer as returned). Either way
 * it passes through the redaction engine (built-in detectors, then the org's rules), and is
 * then sealed under the org's key of the day (body-keys/) before it is put in an event:
 * nothing reaches the log, the database or the spool unredacted, and retention can delete it.
 */
export class LoggedBodies {
  /** One redactor per policy object (a new LoggingPolicySet brings a new one). */
  readonly #redactors = new WeakMap<Policy, Redactor>();
  readonly #hashKey: Buffer;

  readonly #sealer: BodySealer | undefined;

  /** Without a sealer (no SQL store for the keys) no body is logged, whatever the policy. */
  constructor(idSecret: Buffer, sealer: BodySealer | undefined) {
    // Its own key: hashes in logged text correlate values without being the ids' key.
    this.#hashKey = createHmac('sha256', idSecret).update('kordon logged-bodies hash key').digest();
    this.#sealer = sealer;
  }

  /** Null when the org logs no bodies: nothing is extracted or redacted. */
  policy(registry: RegistryState, orgId: string): Policy | null {
    if (!this.#sealer) return null;
    const policy = loggingPolicyOf(registry, orgId);
    return policy.bodies === 'none' ? null : policy;
  }

  /**
   * The redacted texts sealed for the request's event, under a key of the org made after its
   * latest erasure (registry's `loggedTextErasedBefore`, decision 0021).
   */
  seal(
    registry: RegistryState,
    orgId: string,
    requestId: string,
    prompt: string | null,
    response: string | null,
  ): SealedBodies | null {
    if (!this.#sealer) return null;
    return this.#sealer.seal(orgId, requestId, prompt, response, registry.loggedTextErasedBefore.get(orgId));
  }

  prompt(policy: Policy, orgId: string, body: Record<string, unknown>): string {
    const redactor = this.#redactor(policy, orgId);
    return policy.bodies === 'full' ? redactJson(redactor, body) : redactText(redactor, promptText(body));
  }

  /**
   * `full`: the answer's body as returned; null for a stream, whose frames are not kept: it is
   * logged by its text in both policies (read as JSON, a structured output lost its layout,
   * `10.50` became `10.5` and an id past 2^53 another number).
   */
  response(policy: Policy, orgId: string, full: string | null, text: () => string): string {
    const redactor = this.#redactor(policy, orgId);
    if (policy.bodies !== 'full' || full === null) return redactText(redactor, text());
    let answer: unknown;
    try {
      answer = JSON.parse(full);
    } catch {
      return redactText(redactor, full);
    }
    return redactJson(redactor, answer);
  }

  #redactor(policy: Policy, orgId: string): Redactor {
    let redactor = this.#redactors.get(policy);
    if (!redactor) {
      redactor = createRedactor({
        hashKey: this.#hashKey,
        hashScope: orgId,
        rules: redactionRules(policy.rules),
      });
      this.#redactors.set(policy, redactor);
    }
    return redactor;
  }
}

/** Characters of a body read before the cut (the margin lets redaction shrink it and still fill the cut). */
const READ_CHARS = MAX_LOGGED_CHARS + REDACTION_MARGIN_CHARS;

/**
 * Where `text` may be cut at `at` with every secret it keeps redacted whole: at `at`, or past
 * a secret the cut would split (found in a margin read past it), or before one the margin
 * itself splits. Nothing past it is ever stored, however much redaction shrinks what precedes.
 */
function safeCut(redactor: Redactor, text: string, at: number): number {
  if (text.length <= at) return text.length;
  const readTo = at + REDACTION_MARGIN_CHARS;
  for (const finding of redactor.findings(text.slice(0, readTo))) {
    if (finding.start >= at) break;
    if (finding.end <= at) continue;
    return finding.end < readTo || text.length <= readTo ? finding.end : finding.start;
  }
  return at;
}

/**
 * A text redacted and cut: a secret the cut splits was read whole. Read only to a safe cut
 * of READ_CHARS: when redaction shrank the text, that read limit fell inside the stored 32 KiB.
 */
function redactText(redactor: Redactor, text: string): string {
  return redactor.redactString(text.slice(0, safeCut(redactor, text, READ_CHARS))).slice(0, MAX_LOGGED_CHARS);
}

/**
 * A JSON body redacted value by value, then serialised and cut: redacting the serialised text
 * missed a secret after a newline or tab (escaped as `\n`, the `n` a letter before it), and
 * the walk also replaces the values of fields named like secrets (`api_key`, `password`).
 */
function redactJson(redactor: Redactor, value: unknown): string {
  const text = JSON.stringify(redactor.redactValue(boundedCopy(redactor, value)));
  return (text ?? '').slice(0, MAX_LOGGED_CHARS);
}

/**
 * The start of a JSON value: about READ_CHARS of it (redacting a 10 MB body whole held the
 * event loop), the string where that runs out cut where `safeCut` says, nothing after it.
 */
function boundedCopy(redactor: Redactor, value: unknown): unknown {
  let room = READ_CHARS;
  const copy = (item: unknown): unknown => {
    if (typeof item === 'string') {
      if (item.length + 2 <= room) {
        room -= item.length + 2;
        return item;
      }
      const cut = item.slice(0, safeCut(redactor, item, Math.max(room - 2, 0)));
      room = 0;
      return cut;
    }
    if (Array.isArray(item)) {
      const out: unknown[] = [];
      room -= 2;
      for (const element of item) {
        if (room <= 0) break;
        out.push(copy(element));
        room -= 1;
      }
      return out;
    }
    if (item && typeof item === 'object') {
      const out: Record<string, unknown> = {};
      room -= 2;
      for (const [key, field] of Object.entries(item)) {
        if (room <= 0) break;
        room -= key.length + 4;
        out[key] = copy(field);
      }
      return out;
    }
    room -= String(item).length;
    return item;
  };
  return copy(value);
}

/** An org's logging rules (`LoggingPolicySet.rules`) as the redaction engine takes them. */
export function redactionRules(rules: Policy['rules']): RedactionRule[] {
  return rules.map((rule) => ({
    id: rule.name,
    pattern: rule.pattern,
    action: rule.action,
    caseInsensitive: rule.caseInsensitive,
    group: rule.group,
    keepLast: rule.keepLast,
  }));
}

/**
 * The text of a prompt: system and messages (OpenAI, Anthropic), or the Responses
 * `instructions` and `input` (a tool's result there is an item's `output`).
 */
export function promptText(body: Record<string, unknown>): string {
  const parts: string[] = [];
  const add = (value: unknown) => {
    if (typeof value === 'string') parts.push(value);
    else if (Array.isArray(value)) for (const item of value) add(item);
    else if (value && typeof value === 'object') {
      const part = value as { text?: unknown; content?: unknown; output?: unknown };
      if (typeof part.text === 'string') parts.push(part.text);
      if (part.content !== undefined) add(part.content);
      if (typeof part.output === 'string') parts.push(part.output);
    }
  };
  add(body.instructions);
  add(body.system);
  add(body.messages);
  add(body.input);
  return parts.join('\n');
}

/**
 * The text of a finished answer in the caller's dialect (OpenAI choices, Anthropic content,
 * Responses output).
 */
export function answerText(json: string): string {
  try {
    const answer = JSON.parse(json) as {
      choices?: Array<{ message?: { content?: unknown } }>;
      content?: Array<{ text?: unknown }>;
      output?: unknown[];
    };
    if (Array.isArray(answer.choices))
      return answer.choices.map((c) => answerContentText(c.message?.content)).join('\n');
    if (Array.isArray(answer.content))
      return answer.content.map((block) => (typeof block.text === 'string' ? block.text : '')).join('\n');
    if (Array.isArray(answer.output)) return responsesOutputText(answer.output);
    return '';
  } catch {
    return '';
  }
}

/**
 * A Responses answer's output items: messages' text and refusals, tool calls' arguments.
 * The JSON has no `output_text` (the SDKs compute it), and reasoning items are not the answer.
 */
function responsesOutputText(output: unknown[]): string {
  const parts: string[] = [];
  for (const item of output) {
    if (!item || typeof item !== 'object') continue;
    const { type, name, content, arguments: args, input } = item as Record<string, unknown>;
    if (type === 'message' && Array.isArray(content)) {
      for (const part of content as Array<{ text?: unknown; refusal?: unknown } | null>) {
        if (typeof part?.text === 'string') parts.push(part.text);
        else if (typeof part?.refusal === 'string') parts.push(part.refusal);
      }
    } else if (type === 'function_call' || type === 'custom_tool_call') {
      // A function call carries `arguments`, a custom tool call its free-form `input`.
      const text = type === 'function_call' ? args : input;
      if (typeof text === 'string') parts.push(typeof name === 'string' ? `${name} ${text}` : text);
    }
  }
  return parts.join('\n');
}
