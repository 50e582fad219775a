import type { ToolModel } from '../limits/admission.js';

/*
 * Models a request names inside its tools: built-in tools that run another model with the
 * org's key, beside the one routed. Each is held to the caller's model lists as the routed
 * model is (admission), before any provider is asked: otherwise a key limited to a cheap model
 * reaches any image model or advisor its provider sells, as OpenRouter's `models` would
 * (route-model.ts's refuseUpstreamModelChoice).
 */

/**
 * The image model of a Responses `image_generation` tool that names none: "Default:
 * `gpt-image-2.6-sunburst`" (OpenAI API reference, ImageGeneration tool `model`).
 */
export const OPENAI_IMAGE_TOOL_DEFAULT_MODEL = 'gpt-image-2.6-sunburst';

/**
 * The image model of an `openrouter:image_generation` tool that names none ("defaults to
 * `openai/gpt-5-image`", openrouter.ai/docs/guides/features/server-tools/image-generation).
 */
export const OPENROUTER_IMAGE_TOOL_DEFAULT_MODEL = 'openai/gpt-5-image';

/**
 * The models named in the request's `tools`, in every dialect that carries one, undefined when
 * there are none (most requests: only a tools array is looked at):
 * - OpenAI Responses `image_generation`: `model` (OpenAI's default image model when left out)
 *   and the SVG author's `svg.model`;
 * - Claude's advisor (`advisor_20260301`, also on OpenRouter's Messages API): `model`;
 * - OpenRouter's server tools (`openrouter:*`): `parameters.model`; left out, the image
 *   generation tool uses OpenRouter's default image model, and the advisor the model the
 *   executor names in its call (`model: null`: nothing the request says), and an advisor's own
 *   tools (`parameters.tools`) are looked at too.
 * The body's nesting is bounded (read-body.ts), and so is the walk into an advisor's tools.
 */
export function toolModelsOf(body: Readonly<Record<string, unknown>>): readonly ToolModel[] | undefined {
  const tools = body.tools;
  if (!Array.isArray(tools) || tools.length === 0) return undefined;
  const found: ToolModel[] = [];
  collect(tools, 'tools', found);
  return found.length === 0 ? undefined : found;
}

function collect(tools: readonly unknown[], path: string, found: ToolModel[]): void {
  for (let index = 0; index < tools.length; index++) {
    const tool = tools[index];
    if (tool === null || typeof tool !== 'object') continue;
    const fields = tool as Record<string, unknown>;
    const type = fields.type;
    if (typeof type !== 'string') continue;
    const at = `${path}[${index}]`;
    if (type === 'image_generation') {
      found.push({ model: modelOr(fields.model, OPENAI_IMAGE_TOOL_DEFAULT_MODEL), param: `${at}.model` });
      const svg = fields.svg as Record<string, unknown> | null | undefined;
      // Left out, the SVG author is the routed model or OpenAI's default author.
      if (svg && typeof svg === 'object' && svg.model != null)
        found.push({ model: modelOr(svg.model, null), param: `${at}.svg.model` });
    } else if (type.startsWith('advisor_')) {
      found.push({ model: modelOr(fields.model, null), param: `${at}.model` });
    } else if (type.startsWith('openrouter:')) {
      const parameters = fields.parameters as Record<string, unknown> | null | undefined;
      const options = parameters && typeof parameters === 'object' ? parameters : undefined;
      const param = `${at}.parameters.model`;
      if (options?.model != null) found.push({ model: modelOr(options.model, null), param });
      else if (type === 'openrouter:image_generation')
        found.push({ model: OPENROUTER_IMAGE_TOOL_DEFAULT_MODEL, param });
      else if (type === 'openrouter:advisor') found.push({ model: null, param });
      if (Array.isArray(options?.tools)) collect(options.tools, `${at}.parameters.tools`, found);
    }
  }
}

/** A named model; `fallback` when left out (null); null (no name the request gives) when not a string. */
function modelOr(value: unknown, fallback: string | null): string | null {
  if (value === undefined || value === null) return fallback;
  return typeof value === 'string' ? value : null;
}
