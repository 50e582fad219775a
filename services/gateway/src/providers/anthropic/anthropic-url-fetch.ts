/**
 * Whether a Messages body makes Claude fetch a URL, which an organization with URL fetching
 * turned off refuses (400 `organization_url_fetch_disabled`; @anthropic-ai/sdk 1.17: "Anthropic
 * has turned off URL image and document sources, the `web_fetch` tool and `mcp_servers` for the
 * organization"): an image or document block whose `source.type` is `url` (in a message, or in
 * a tool result's content), a `web_fetch_*` tool, or an `mcp_servers` list that is not empty.
 * Read only when a key of the request's provider said so lately (`KeyChoice.urlFetchDisabled`),
 * so the hot path pays nothing otherwise.
 */
import { isRecord } from '../../translate/json-object.js';

export function fetchesUrls(body: Readonly<Record<string, unknown>> | undefined): boolean {
  if (body === undefined) return false;
  if (Array.isArray(body.mcp_servers) && body.mcp_servers.length > 0) return true;
  if (Array.isArray(body.tools) && body.tools.some(isWebFetchTool)) return true;
  if (!Array.isArray(body.messages)) return false;
  for (const message of body.messages) {
    if (!isRecord(message) || !Array.isArray(message.content)) continue;
    for (const block of message.content) if (blockFetchesUrl(block)) return true;
  }
  return false;
}

function blockFetchesUrl(block: unknown): boolean {
  if (!isRecord(block)) return false;
  if ((block.type === 'image' || block.type === 'document') && isRecord(block.source))
    return block.source.type === 'url';
  // A tool result's content may hold images and documents of its own.
  if (block.type === 'tool_result' && Array.isArray(block.content))
    return block.content.some(blockFetchesUrl);
  return false;
}

function isWebFetchTool(tool: unknown): boolean {
  return isRecord(tool) && typeof tool.type === 'string' && tool.type.startsWith('web_fetch_');
}
