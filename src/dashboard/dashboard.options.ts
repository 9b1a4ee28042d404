/** Options of TaskQueueDashboardModule. @publicApi */
export interface TaskQueueDashboardOptions {
  /** Where the dashboard is served. @default 'taskqueue' */
  path?: string;
  /**
   * Who may see it and act (revoke, purge, replay). Return false to answer 403.
   * The dashboard shows task arguments, results and errors: it is required,
   * unless `public: true` says explicitly that anyone who reaches the server
   * may use it.
   */
  canActivate?: (request: unknown) => boolean | Promise<boolean>;
  /**
   * Mount the dashboard without `canActivate`, open to anyone who reaches the
   * server (a private network, a local demo). Without it, a missing
   * `canActivate` stops the application from booting.
   * @default false
   */
  public?: boolean;
  /** Hide the buttons that change anything and answer 403 to every change. @default false */
  readOnly?: boolean;
}

/** @internal */
export const DASHBOARD_OPTIONS = Symbol('TASK_QUEUE_DASHBOARD_OPTIONS');

/** The cookie and header of the dashboard's CSRF token (double submit). @internal */
export const DASHBOARD_CSRF_COOKIE = 'taskqueue_csrf';
/** @internal */
export const DASHBOARD_CSRF_HEADER = 'x-taskqueue-csrf';
