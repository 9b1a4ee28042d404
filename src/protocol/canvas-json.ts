import type { TaskHeaders } from './envelope.js';

/**
 * The serialized form of workflows (Celery's canvas): plain JSON that can be
 * stored and sent, and that messages carry as their remaining workflow.
 */

/** Options a signature may carry. Durations are ms numbers or strings like '5s'; times are epoch ms. */
export interface SignatureOptionsJSON {
  countdown?: number | string;
  eta?: number;
  expires?: number | string;
  priority?: number;
  queue?: string;
  headers?: TaskHeaders;
  taskId?: string;
  timeLimit?: number | string;
  softTimeLimit?: number | string;
}

export interface SignatureJSON {
  type: 'signature';
  task: string;
  args: unknown[];
  options?: SignatureOptionsJSON;
  /** Ignores the parent's result (Celery's `.si()`). */
  immutable?: boolean;
  /** Signatures applied with this task's result when it succeeds. */
  link?: CanvasJSON[];
  /** Signatures applied with (failed task id, error) when it fails for good. */
  linkError?: CanvasJSON[];
}

/** Callbacks a chain, group or chord carries; planning moves them onto its tasks (see the planner). */
export interface CompositeCallbacksJSON {
  /** Applied with the composite's result when it succeeds. */
  link?: CanvasJSON[];
  /** Applied with (failed task id, error) when a task of the composite fails for good. */
  linkError?: CanvasJSON[];
}

export interface ChainJSON extends CompositeCallbacksJSON {
  type: 'chain';
  steps: CanvasJSON[];
}

export interface GroupJSON extends CompositeCallbacksJSON {
  type: 'group';
  members: CanvasJSON[];
  /** Assigned when the group is published; also the id of its join task when something waits for it. */
  id?: string;
  /** Assigned when the group is published: where its join task runs (its first task's queue). */
  queue?: string;
}

export interface ChordJSON extends CompositeCallbacksJSON {
  type: 'chord';
  header: CanvasJSON[];
  body: CanvasJSON;
  /** Assigned when the chord is published; also the id of its join task when its body is not a task. */
  id?: string;
  /** Assigned when the chord is published: where its join task runs (its body's first task's queue). */
  queue?: string;
}

export type CanvasJSON = SignatureJSON | ChainJSON | GroupJSON | ChordJSON;

/** A header task's membership in a chord: its result goes to slot `index` of chord `id`. */
export interface ChordMembership {
  id: string;
  index: number;
  /** The queue of the chord's body (the chord's state lives with it). */
  queue: string;
}
