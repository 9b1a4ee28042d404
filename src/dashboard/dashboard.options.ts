/** Options of TaskQueueDashboardModule. @publicApi */
export interface TaskQueueDashboardOptions {
  /** Where the dashboard is served. @default 'taskqueue' */
  path?: string;
  /**
   * Who may see it and act (revoke, purge). Return false to answer 403. The
   * dashboard shows task arguments and errors: protect it in production.
   * @default everyone
   */
  canActivate?: (request: unknown) => boolean | Promise<boolean>;
  /** Hide the buttons that change anything (revoke, purge). @default false */
  readOnly?: boolean;
}

/** @internal */
export const DASHBOARD_OPTIONS = Symbol('TASK_QUEUE_DASHBOARD_OPTIONS');
