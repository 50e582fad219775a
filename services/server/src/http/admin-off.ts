import { sendJson } from './respond.js';
import type { Handler } from './server.js';

/**
 * What `/admin/...` answers on a process started with KORDON_ADMIN_API=off (a data-plane
 * replica): the admin API's own 404 problem, naming the setting, so whoever points the portal
 * or a script at this process learns where to go instead. Written here rather than borrowed
 * from the admin package, which such a process does not load.
 */
export function adminApiOff(): Handler {
  return (req, res) => {
    const instance = (req.url ?? '/').split('?', 1)[0] ?? '/';
    sendJson(
      res,
      404,
      {
        type: '/admin/v1/docs#problem-not_found',
        title: 'Not found',
        status: 404,
        detail:
          'This Kordon process does not serve the admin API (KORDON_ADMIN_API=off): send admin requests to a process that does.',
        instance,
        code: 'not_found',
      },
      { 'content-type': 'application/problem+json; charset=utf-8' },
    );
  };
}
