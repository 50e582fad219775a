import type { PassportInstance as Passport } from '../passport.js';
import type { AnyRoute } from '../route.js';
import { apiTokenRoutes } from './api-tokens.js';
import { auditRoutes } from './audit.js';
import { authRoutes } from './auth.js';
import { invitationRoutes } from './invitations.js';
import { loggingRoutes } from './logging.js';
import { orgRoutes } from './orgs.js';
import { policyRoutes } from './policies.js';
import { priceRoutes } from './prices.js';
import { providerRoutes } from './providers.js';
import { proxyKeyRoutes } from './proxy-keys.js';
import { requestRoutes } from './requests.js';
import { spendRoutes } from './spend.js';
import { ssoRoutes } from './sso.js';
import { teamRoutes } from './teams.js';
import { userRoutes } from './users.js';

/** Every route of the admin API, in the order the reference lists them. */
export function adminRoutes(passport: Passport): AnyRoute[] {
  return [
    ...authRoutes(passport),
    ...orgRoutes,
    ...userRoutes,
    ...invitationRoutes,
    ...teamRoutes,
    ...proxyKeyRoutes,
    ...providerRoutes,
    ...policyRoutes,
    ...priceRoutes,
    ...apiTokenRoutes,
    ...auditRoutes,
    ...requestRoutes,
    ...spendRoutes,
    ...loggingRoutes,
    ...ssoRoutes,
  ];
}
