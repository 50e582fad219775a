import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { UpstreamErrorResponse } from '../../upstream/upstream-client.js';
import { redactProviderError } from '../../upstream/upstream-error.js';
import { openAIErrorInfo } from './openai-error.js';

const response = (status: number, json: unknown): UpstreamErrorResponse => ({
  status,
  headers: {},
  json,
  text: JSON.stringify(json),
});

describe('OpenAI error bodies', () => {
  it('OpenAI: a spent quota is not retryable, a rate limit is', () => {
    const quota = openAIErrorInfo(
      response(429, {
        error: {
          message: 'You exceeded your current quota',
          type: 'insufficient_quota',
          code: 'insufficient_quota',
        },
      }),
    );
    assert.equal(quota.type, 'quota_exceeded');
    assert.equal(quota.retryable, false);
    // A billing stop named by its own code, under the type insufficient_quota or not.
    for (const [type, code] of [
      ['insufficient_quota', 'project_spend_limit_exceeded'],
      ['insufficient_quota', 'some_billing_code_to_come'],
      [undefined, 'credit_balance_exhausted'],
      ['requests', 'organization_spend_limit_exceeded'],
      [undefined, 'organization_usage_limit_exceeded'],
    ])
      assert.equal(
        openAIErrorInfo(response(429, { error: { message: 'You exceeded your current quota', type, code } }))
          .type,
        'quota_exceeded',
        `${type} ${code}`,
      );
    const rate = openAIErrorInfo(
      response(429, {
        error: { message: 'Rate limit reached', type: 'requests', code: 'rate_limit_exceeded' },
      }),
    );
    assert.equal(rate.type, 'rate_limit');
    assert.equal(rate.retryable, true);
    assert.equal(rate.quotaModel, undefined);
  });

  it("OpenAI: a 429 naming a model's own limit names the model (quotaModel); the organization's limit does not", () => {
    const limited = (message: string) =>
      openAIErrorInfo(response(429, { error: { message, type: 'requests', code: 'rate_limit_exceeded' } }));
    assert.equal(
      limited(
        'Rate limit reached for o3 in organization org-abc on requests per min (RPM): Limit 500, Used 500, Requested 1.',
      ).quotaModel,
      'o3',
    );
    assert.equal(
      limited('Rate limit reached for gpt-4o on requests per min (RPM): Limit 3, Used 3, Requested 1.')
        .quotaModel,
      'gpt-4o',
    );
    assert.equal(
      limited(
        'Rate limit reached for organization org-abc on tokens per min (TPM): Limit 250000, Used 250000.',
      ).quotaModel,
      undefined,
    );
    // Groq names the model in backticks, its limits being per model too.
    assert.equal(
      limited(
        'Rate limit reached for model `llama-3.3-70b-versatile` in organization `org_01abc` service tier `on_demand` on tokens per minute (TPM): Limit 12000, Used 9000, Requested 4000. Please try again in 6.78s.',
      ).quotaModel,
      'llama-3.3-70b-versatile',
    );
    assert.equal(
      openAIErrorInfo(response(400, { error: { message: 'too long', code: 'context_length_exceeded' } }))
        .type,
      'context_length_exceeded',
    );
  });

  it('OpenAI variants of compatible servers', () => {
    assert.equal(
      openAIErrorInfo(response(404, { error: 'model "llama3" not found, try pulling it first' })).message,
      'model "llama3" not found, try pulling it first',
    );
    assert.equal(
      openAIErrorInfo(response(400, { object: 'error', message: 'bad', type: 'BadRequestError', code: 400 }))
        .code,
      '400',
    );
    assert.equal(
      openAIErrorInfo(response(422, { detail: [{ msg: 'field required' }, { msg: 'extra' }] })).message,
      'field required; extra',
    );
    // Mistral's 422 (pydantic): each error names its field, which the caller should hear.
    const mistral = {
      object: 'error',
      message: {
        detail: [
          {
            type: 'extra_forbidden',
            loc: ['body', 'store'],
            msg: 'Extra inputs are not permitted',
            input: true,
          },
          { type: 'missing', loc: ['body', 'messages', 0, 'content'], msg: 'Field required' },
        ],
      },
      type: 'invalid_request_error',
      param: null,
      code: null,
    };
    assert.equal(
      openAIErrorInfo(response(422, mistral)).message,
      'store: Extra inputs are not permitted; messages.0.content: Field required',
    );
    assert.equal(openAIErrorInfo(response(502, undefined)).retryable, true);
  });

  it('Azure content filter', () => {
    const info = openAIErrorInfo(
      response(400, { error: { code: 'content_filter', message: 'The response was filtered' } }),
    );
    assert.equal(info.type, 'content_filter');
    assert.equal(info.retryable, false);
  });

  it("OpenRouter's 403 for an input its moderation flagged is a content-filter refusal, not a refused key", () => {
    const flagged = (metadata: unknown, message = 'Your input was flagged for "harassment".') =>
      openAIErrorInfo(response(403, { error: { code: 403, message, metadata } }));
    const info = flagged({
      reasons: ['harassment'],
      flagged_input: 'you are an idiot...',
      provider_name: 'OpenAI',
      model_slug: 'openai/gpt-4o',
    });
    assert.deepEqual(info, {
      status: 403,
      type: 'content_filter',
      message: 'Your input was flagged for "harassment".',
      code: 'content_filter',
      retryable: false,
    });
    // The reasons say it when the message does not; the caller's flagged text is never repeated.
    assert.equal(
      flagged({ reasons: ['violence', 'hate'], flagged_input: 'secret words' }, '').message,
      "the provider's moderation flagged the input (violence, hate)",
    );
    assert.equal(flagged({ flagged_input: 'x' }, '').message, "the provider's moderation flagged the input");
    // Other metadata (OpenRouter's provider errors) on a 403 is still a refused key.
    assert.equal(flagged({ provider_name: 'OpenAI', raw: 'denied' }).type, 'permission');
  });

  it('the field at fault (`param`) is kept, bounded, as OpenAI and the compatible servers name it', () => {
    const schema = openAIErrorInfo(
      response(400, {
        error: {
          message: "Invalid schema for response_format 'answer'",
          type: 'invalid_request_error',
          param: 'text.format.schema',
          code: 'invalid_json_schema',
        },
      }),
    );
    assert.equal(schema.param, 'text.format.schema');
    const vllm = { object: 'error', message: 'bad', type: 'BadRequestError', param: 'tools[2]', code: 400 };
    assert.equal(openAIErrorInfo(response(400, vllm)).param, 'tools[2]');
    // No param, or one that is no field path worth passing on: left out, the rest read as ever.
    for (const param of [null, 7, '', 'x'.repeat(257), 'messages\n[0]', { path: 'a' }]) {
      const info = openAIErrorInfo(
        response(400, { error: { message: 'bad', code: 'invalid_value', param } }),
      );
      assert.equal(info.param, undefined, JSON.stringify(param));
      assert.equal(info.code, 'invalid_value');
    }
    assert.equal(
      openAIErrorInfo(response(400, { error: { message: 'bad', param: 'x'.repeat(256) } })).param?.length,
      256,
    );
  });

  it('a param that quotes a secret is dropped with the secrets cut out of the message', () => {
    const secret = '0123456789abcdef0123456789abcdef'; // an Azure key: no shape to recognise
    const info = openAIErrorInfo(
      response(400, { error: { message: `bad key ${secret}`, param: `api-key=${secret}` } }),
    );
    const clean = redactProviderError(info, [secret]);
    assert.equal(clean.param, undefined);
    assert.doesNotMatch(clean.message, new RegExp(secret));
    const keyShaped = redactProviderError({ ...info, message: 'bad', param: 'sk-proj-abcdefghijklmnop' }, []);
    assert.equal(keyShaped.param, undefined);
    assert.equal(
      redactProviderError({ ...info, param: 'input[0].content' }, [secret]).param,
      'input[0].content',
    );
  });

  it('a code or type that quotes a secret is dropped; one that does not is kept', () => {
    const secret = 'a123456789abcdef0123456789abcdef'; // an Azure key that reads as an identifier
    const info = openAIErrorInfo(response(429, { error: { message: 'no', type: secret, code: secret } }));
    const clean = redactProviderError(info, [secret]);
    assert.equal(clean.code, undefined);
    assert.equal(clean.openAIType, undefined);
    const plain = redactProviderError({ ...info, code: 'rate_limit_exceeded', openAIType: 'tokens' }, [
      secret,
    ]);
    assert.equal(plain.code, 'rate_limit_exceeded');
    assert.equal(plain.openAIType, 'tokens');
  });

  it("a model or deployment the provider does not have (OpenAI's model_not_found, Azure's DeploymentNotFound) is the provider's not serving it", () => {
    const openai = openAIErrorInfo(
      response(404, {
        error: {
          message: 'The model `gpt-9` does not exist or you do not have access to it.',
          type: 'invalid_request_error',
          param: null,
          code: 'model_not_found',
        },
      }),
    );
    const azure = openAIErrorInfo(
      response(404, {
        error: {
          code: 'DeploymentNotFound',
          message: 'The API deployment for this resource does not exist.',
        },
      }),
    );
    for (const info of [openai, azure]) {
      assert.equal(info.modelNotServed, true);
      assert.equal(info.type, 'not_found');
      assert.equal(info.retryable, false);
    }
    // Another 404 (a wrong path, an unknown stored response) says nothing of the model.
    for (const json of [
      { error: { code: '404', message: 'Resource not found' } },
      {
        error: {
          message: "Previous response with id 'resp_1' not found.",
          code: 'previous_response_not_found',
        },
      },
    ])
      assert.equal(openAIErrorInfo(response(404, json)).modelNotServed, undefined, JSON.stringify(json));
  });

  /** Azure's 400 for a prompt its content filter refused (Azure "Content filtering"). */
  const filtered = (innererror: unknown) =>
    response(400, {
      error: {
        message:
          "The response was filtered due to the prompt triggering Azure OpenAI's content management policy.",
        type: null,
        param: 'prompt',
        code: 'content_filter',
        status: 400,
        innererror,
      },
    });

  it("Azure's innererror of a content-filter refusal is kept: its code and each category's flags and labels", () => {
    const innererror = {
      code: 'ResponsibleAIPolicyViolation',
      content_filter_result: {
        hate: { filtered: true, severity: 'high' },
        jailbreak: { filtered: false, detected: false },
        self_harm: { filtered: false, severity: 'safe' },
      },
    };
    const info = openAIErrorInfo(filtered(innererror));
    assert.deepEqual(info.innerError, innererror);
    assert.equal(info.param, 'prompt');
    assert.equal(info.type, 'content_filter');
  });

  it("Azure's REST reference shape (inner_error, content_filter_results: its v1 API's) is kept under its names", () => {
    const inner_error = {
      code: 'ResponsibleAIPolicyViolation',
      content_filter_results: {
        sexual: { filtered: true, severity: 'high' },
        violence: { filtered: false, severity: 'safe' },
      },
    };
    const info = openAIErrorInfo(
      response(400, {
        error: {
          inner_error,
          code: 'content_filter',
          message:
            "The response was filtered due to the prompt triggering Azure OpenAI's content management policy.",
          param: 'prompt',
          type: null,
        },
      }),
    );
    assert.deepEqual(info.innerError, inner_error);
    assert.equal(info.innerErrorField, 'inner_error');
    assert.equal(info.type, 'content_filter');
    // The deployment API's innererror is where an unset field says.
    assert.equal(
      openAIErrorInfo(filtered({ code: 'ResponsibleAIPolicyViolation' })).innerErrorField,
      undefined,
    );
    // A secret quoted in content_filter_results drops it, and where it was.
    const secret = '0123456789abcdef0123456789abcdef';
    const quoting = { ...info, innerError: { content_filter_results: { hate: { severity: secret } } } };
    const redacted = redactProviderError(quoting, [secret]);
    assert.equal(redacted.innerError, undefined);
    assert.equal(redacted.innerErrorField, undefined);
    assert.equal(redactProviderError(info, [secret]).innerErrorField, 'inner_error');
  });

  it('only the known shape of an innererror is kept, bounded: no lists, objects, long text or odd names', () => {
    const info = openAIErrorInfo(
      filtered({
        code: 'ResponsibleAIPolicyViolation',
        revised_prompt: 'a prompt the caller did not write',
        content_filter_result: {
          custom_blocklists: { filtered: true, details: [{ filtered: true, id: 'words' }] },
          protected_material_code: {
            filtered: false,
            detected: true,
            citation: { URL: 'https://github.com/x/y', license: 'MIT' },
          },
          error: { code: 'Timeout', message: 'The content filter did not run in time. Please retry later.' },
          'not a name': { filtered: true },
          hate: 'high',
          violence: { filtered: true, severity: 'x'.repeat(33), score: 4 },
        },
      }),
    );
    assert.deepEqual(info.innerError, {
      code: 'ResponsibleAIPolicyViolation',
      content_filter_result: {
        custom_blocklists: { filtered: true },
        protected_material_code: { filtered: false, detected: true },
        error: { code: 'Timeout' },
        violence: { filtered: true },
      },
    });
    const many = Object.fromEntries(
      Array.from({ length: 40 }, (_, i) => [
        `category_${i}`,
        Object.fromEntries(Array.from({ length: 20 }, (_, j) => [`flag_${j}`, true])),
      ]),
    );
    const bounded = openAIErrorInfo(filtered({ content_filter_result: many })).innerError;
    assert.equal(Object.keys(bounded?.content_filter_result ?? {}).length, 16);
    assert.equal(Object.keys(bounded?.content_filter_result?.category_0 ?? {}).length, 8);
    assert.equal(bounded?.code, undefined);
    // Nothing of the shape: no innererror at all.
    for (const junk of [
      undefined,
      null,
      'ResponsibleAIPolicyViolation',
      [],
      { code: 7 },
      { content_filter_result: [] },
    ])
      assert.equal(openAIErrorInfo(filtered(junk)).innerError, undefined, JSON.stringify(junk));
  });

  it('an innererror that quotes a secret is dropped', () => {
    const secret = '0123456789abcdef0123456789abcdef'; // an Azure key, a valid label by its shape
    const info = openAIErrorInfo(
      filtered({
        code: 'ResponsibleAIPolicyViolation',
        content_filter_result: { hate: { severity: secret } },
      }),
    );
    assert.equal(info.innerError?.content_filter_result?.hate?.severity, secret);
    assert.equal(redactProviderError(info, [secret]).innerError, undefined);
    const keyShaped = openAIErrorInfo(
      filtered({
        code: 'ResponsibleAIPolicyViolation',
        content_filter_result: { hate: { severity: 'sk-abcdefghijkl' } },
      }),
    );
    assert.equal(redactProviderError(keyShaped, []).innerError, undefined);
    assert.deepEqual(
      redactProviderError(openAIErrorInfo(filtered({ code: 'ResponsibleAIPolicyViolation' })), [secret])
        .innerError,
      {
        code: 'ResponsibleAIPolicyViolation',
      },
    );
  });
});
