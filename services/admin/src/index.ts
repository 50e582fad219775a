export { ADMIN_API_VERSION, type AdminApi, type AdminApiOptions, startAdminApi } from './admin.js';
export { adminTokenWeakness } from './auth/admin-token.js';
export { ACTIONS, type Action, PERMISSIONS, ROLES, type Role } from './rbac/permissions.js';
export {
  enforceRequestLogRetention,
  type RequestLog,
  type RetentionOptions,
  type RetentionResult,
  startRequestLog,
} from './request-log/index.js';
