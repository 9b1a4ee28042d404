import { TaskState, type AsyncResult, type ResultRecord } from 'nestjs-taskqueue';

/** Where a client follows a queued task: by id alone. */
export interface TaskLinks {
  statusUrl: string;
  waitUrl: string;
}

export function taskLinks(result: AsyncResult<unknown>): TaskLinks {
  const id = encodeURIComponent(result.id);
  return { statusUrl: `/tasks/${id}`, waitUrl: `/tasks/${id}/wait` };
}

/** What GET /tasks/:id answers. */
export interface TaskView {
  id: string;
  task?: string;
  state: TaskState;
  retries?: number;
  result?: unknown;
  progress?: unknown;
  error?: { type: string; message: string };
}

/** A stored record as the API shows it (no remote stack traces to HTTP clients). */
export function taskView(id: string, rec: ResultRecord | null): TaskView {
  if (!rec) return { id, state: TaskState.PENDING };
  const view: TaskView = { id, task: rec.task, state: rec.state, retries: rec.retries ?? 0 };
  if (rec.state === TaskState.SUCCESS) view.result = rec.result;
  else if (rec.state === TaskState.PROGRESS) view.progress = rec.meta;
  else if (rec.error) view.error = { type: rec.error.type, message: rec.error.message };
  return view;
}
