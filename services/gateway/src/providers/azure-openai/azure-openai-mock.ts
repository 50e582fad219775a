/**
 * Test support: Azure OpenAI's URLs and headers in front of the OpenAI mock of
 * @kordon/mock-providers, which keeps the answer logic and plays the scenarios.
 *
 * - `POST /openai/deployments/{deployment}/chat/completions?api-version=...` and
 *   `/embeddings`, and `POST /openai/responses?api-version=...` with the deployment in the
 *   body's `model`: `api-version` must be present (else 404 "Resource not found").
 * - The v1 API: `POST /openai/v1/chat/completions`, `/embeddings` and `/responses`, the
 *   deployment in the body's `model`; `api-version` is optional, `v1` or `preview` when given
 *   (else 400).
 * - Either way the deployment must be known (else 404 `DeploymentNotFound`) and `api-key` (or
 *   an Entra `Authorization: Bearer`) present (else 401). The call goes to the OpenAI mock with
 *   the deployment's model and the key as a bearer token; the scenario travels in
 *   `x-mock-scenario`.
 * - The answer is piped back as it arrives, chunk by chunk (split frames stay split), and a
 *   reset of the OpenAI mock's connection becomes a reset of ours.
 * - Headers become Azure's: only `x-ratelimit-remaining-*` of the rate-limit set,
 *   `apim-request-id`, and on 429 `retry-after-ms` beside `retry-after`. 401 and 429 bodies are
 *   rewritten into Azure's wording (`{ error: { code: "401", message } }`).
 */
import { request as httpRequest, type IncomingMessage, type ServerResponse } from 'node:http';
import { SCENARIO_HEADER } from '@kordon/mock-providers';
import {
  type MockHttpOptions,
  type MockHttpServer,
  type MockReply,
  type MockRequest,
  reset,
  scenarioText,
  startMockHttpServer,
} from '../provider-mock-server.js';

export interface AzureOpenAIMockOptions extends MockHttpOptions {
  /** The OpenAI mock's origin. */
  readonly openAIUrl: string;
  /** Deployment name -> the model it serves. */
  readonly deployments: Readonly<Record<string, string>>;
}

const DEPLOYMENT_PATH = /^\/openai\/deployments\/([^/]+)\/(chat\/completions|embeddings)$/;
const V1_PATH = /^\/openai\/v1\/(chat\/completions|embeddings|responses|responses\/compact)$/;
const V1_API_VERSIONS = ['v1', 'preview'];

/** Where a call is for: the deployment, the OpenAI operation, the api-version it came with. */
interface AzureCall {
  readonly deployment: string | undefined;
  readonly operation: string;
  readonly apiVersion: string;
}

/** The call a request makes, or Azure's refusal of its path or api-version. */
function azureCall(request: MockRequest): AzureCall | MockReply {
  const notFound = azureError(404, '404', 'Resource not found');
  if (request.method !== 'POST') return notFound;
  const apiVersion = request.query.get('api-version');
  const bodyModel = (request.body as { model?: unknown } | undefined)?.model;
  const named = typeof bodyModel === 'string' ? bodyModel : undefined;
  const v1 = V1_PATH.exec(request.path);
  if (v1?.[1] !== undefined) {
    if (apiVersion !== null && !V1_API_VERSIONS.includes(apiVersion))
      return azureError(400, 'BadRequest', 'API version not supported');
    return { deployment: named, operation: v1[1], apiVersion: apiVersion ?? 'v1' };
  }
  if (!apiVersion) return notFound;
  if (request.path === '/openai/responses') return { deployment: named, operation: 'responses', apiVersion };
  const match = DEPLOYMENT_PATH.exec(request.path);
  if (match?.[1] === undefined || match[2] === undefined) return notFound;
  return { deployment: match[1], operation: match[2], apiVersion };
}

function azureError(status: number, code: string, message: string): MockReply {
  return { kind: 'json', status, body: { error: { code, message } } };
}

const ACCESS_DENIED =
  'Access denied due to invalid subscription key or wrong API endpoint. Make sure to provide a valid key for an ' +
  'active subscription and use a correct regional API endpoint for your resource.';

export function startAzureOpenAIMock(options: AzureOpenAIMockOptions): Promise<MockHttpServer> {
  const openAI = new URL(options.openAIUrl);
  return startMockHttpServer((request) => {
    const call = azureCall(request);
    if ('kind' in call) return call;
    const { deployment, operation, apiVersion } = call;
    const model =
      deployment !== undefined && Object.hasOwn(options.deployments, deployment)
        ? options.deployments[deployment]
        : undefined;
    if (model === undefined) {
      return azureError(
        404,
        'DeploymentNotFound',
        'The API deployment for this resource does not exist. If you created the deployment within the last 5 minutes, please wait a moment and try again.',
      );
    }
    const apiKey = request.headers['api-key'];
    const bearer = request.headers.authorization;
    if (typeof apiKey !== 'string' && typeof bearer !== 'string')
      return azureError(401, '401', ACCESS_DENIED);
    const body = JSON.stringify({ ...(request.body as Record<string, unknown> | undefined), model });
    const headers: Record<string, string> = {
      'content-type': 'application/json',
      'content-length': String(Buffer.byteLength(body)),
      authorization: typeof apiKey === 'string' ? `Bearer ${apiKey}` : String(bearer),
    };
    const scenario = scenarioText(request.scenario);
    if (scenario !== '') headers[SCENARIO_HEADER] = scenario;
    return {
      kind: 'pipe',
      pipe: (res) => pipe(res, { openAI, path: `/v1/${operation}`, headers, body, apiVersion, request }),
    };
  }, options);
}

interface PipeTarget {
  readonly openAI: URL;
  readonly path: string;
  readonly headers: Record<string, string>;
  readonly body: string;
  readonly apiVersion: string;
  readonly request: MockRequest;
}

function pipe(res: ServerResponse, target: PipeTarget): Promise<void> {
  return new Promise((resolve) => {
    const upstream = httpRequest(
      {
        host: target.openAI.hostname,
        port: target.openAI.port,
        path: target.path,
        method: 'POST',
        headers: target.headers,
      },
      (answer) => {
        const status = answer.statusCode ?? 502;
        const headers = azureHeaders(answer);
        if (status === 401 || status === 429) {
          rewriteError(res, answer, status, headers, target.apiVersion).then(resolve, resolve);
          return;
        }
        res.writeHead(status, headers);
        answer.on('data', (chunk: Buffer) => res.write(chunk));
        answer.on('close', () => {
          if (answer.complete) res.end();
          else void reset(res);
          resolve();
        });
        answer.on('error', () => {});
      },
    );
    upstream.on('error', () => {
      void reset(res);
      resolve();
    });
    // Our caller went away: so does our call to the OpenAI mock.
    res.on('close', () => {
      if (!res.writableFinished) upstream.destroy();
    });
    upstream.end(target.body);
  });
}

function azureHeaders(answer: IncomingMessage): Record<string, string> {
  const headers: Record<string, string> = {};
  const copy = [
    'content-type',
    'x-ratelimit-remaining-requests',
    'x-ratelimit-remaining-tokens',
    'retry-after',
  ];
  for (const name of copy) {
    const value = answer.headers[name];
    if (typeof value === 'string') headers[name] = value;
  }
  const requestId = answer.headers['x-request-id'];
  if (typeof requestId === 'string') headers['apim-request-id'] = requestId;
  const retryAfter = headers['retry-after'];
  if (retryAfter !== undefined) headers['retry-after-ms'] = String(Number(retryAfter) * 1000);
  return headers;
}

async function rewriteError(
  res: ServerResponse,
  answer: IncomingMessage,
  status: number,
  headers: Record<string, string>,
  apiVersion: string,
): Promise<void> {
  for await (const _chunk of answer) {
    // The OpenAI wording is replaced by Azure's.
  }
  const retryAfter = headers['retry-after'] ?? '1';
  const message =
    status === 401
      ? ACCESS_DENIED
      : `Requests to the ChatCompletions_Create Operation under Azure OpenAI API version ${apiVersion} have exceeded ` +
        `token rate limit of your current OpenAI S0 pricing tier. Please retry after ${retryAfter} seconds.`;
  const body = JSON.stringify({ error: { code: String(status), message } });
  res.writeHead(status, {
    ...headers,
    'content-type': 'application/json',
    'content-length': String(Buffer.byteLength(body)),
  });
  res.end(body);
}
