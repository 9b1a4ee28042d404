import { TaskQueueConfigError } from '../errors/index.js';
import type { PublishOptions } from '../interfaces/task-options.interface.js';
import type { CanvasJSON, ChordJSON, ChordMembership, GroupJSON, SignatureJSON } from '../protocol/canvas-json.js';
import type { TaskDefaults, WorkflowFields } from '../protocol/message.factory.js';

/**
 * Turns a canvas into what must be published, as pure data: freezing assigns
 * every task its id and queue up front (so results can be handed out before
 * anything runs), planning lists the messages and chord states to create.
 * Used by the client for a new workflow and by the worker for the next steps.
 */

export interface FreezeContext {
  /** The task's @Task() defaults when this process knows the task. */
  defaults(task: string): TaskDefaults | undefined;
  defaultQueue: string;
  newId(): string;
}

/** A task of a frozen workflow. */
export interface TaskRef {
  id: string;
  queue: string;
  task: string;
}

/** The shape of a workflow's result: one task's, or a group's (in order). */
export type ResultShape =
  | { kind: 'task'; ref: TaskRef; parent?: ResultShape }
  | { kind: 'group'; id: string; members: ResultShape[]; parent?: ResultShape };

export interface PublishOp {
  task: string;
  args: unknown[];
  options: PublishOptions;
  workflow: WorkflowFields;
}

export interface ChordOp {
  /** The body's queue: the chord's state lives with it. */
  queue: string;
  id: string;
  size: number;
  /** The body's message; when `insert`, its first argument is CHORD_RESULTS_PLACEHOLDER. */
  body: PublishOp;
  insert: boolean;
  /** Tasks that can only run after the body (marked failed with it). */
  downstream: TaskRef[];
}

export interface Plan {
  chords: ChordOp[];
  publishes: PublishOp[];
}

/** Where the header results go in a chord body's arguments. */
export const CHORD_RESULTS_PLACEHOLDER = '\u0000taskqueue:chord-results\u0000';

/** Returns a normalized deep copy with every id and queue assigned. */
export function freeze(node: CanvasJSON, ctx: FreezeContext): CanvasJSON {
  switch (node.type) {
    case 'signature': {
      const defaults = ctx.defaults(node.task);
      const options = { ...node.options };
      options.taskId ??= ctx.newId();
      options.queue ??= defaults?.queue ?? ctx.defaultQueue;
      const out: SignatureJSON = { ...node, options };
      if (node.link) out.link = node.link.map((l) => freeze(l, ctx));
      if (node.linkError) out.linkError = node.linkError.map((l) => freeze(l, ctx));
      return out;
    }
    case 'chain': {
      // flatten nested chains, then upgrade "group followed by a step" to a chord, as Celery does
      const flat: CanvasJSON[] = [];
      for (const s of node.steps) {
        if (s.type === 'chain') {
          const f = freeze(s, ctx);
          flat.push(...(f.type === 'chain' ? f.steps : [f]));
        } else flat.push(s);
      }
      const steps: CanvasJSON[] = [];
      for (let i = 0; i < flat.length; i++) {
        const s = flat[i];
        if (s.type === 'group' && i < flat.length - 1) {
          steps.push({ type: 'chord', header: s.members, body: flat[++i] });
        } else steps.push(s);
      }
      const frozen = steps.map((s) => freeze(s, ctx));
      return frozen.length === 1 ? frozen[0] : { type: 'chain', steps: frozen };
    }
    case 'group':
      return { type: 'group', id: node.id ?? ctx.newId(), members: node.members.map((m) => freeze(m, ctx)) };
    case 'chord': {
      const header: CanvasJSON[] = [];
      for (const h of node.header) header.push(...(h.type === 'group' ? h.members : [h]));
      const body = freeze(node.body, ctx);
      if (
        body.type === 'group' ||
        body.type === 'chord' ||
        (body.type === 'chain' && body.steps[0].type !== 'signature')
      ) {
        throw new TaskQueueConfigError(
          'chord body',
          node.body,
          'a chord body must be a task or a chain that starts with a task',
        );
      }
      return { type: 'chord', id: node.id ?? ctx.newId(), header: header.map((h) => freeze(h, ctx)), body };
    }
  }
}

/** Continuation of a node: the steps after it, and the chord its end belongs to. */
export interface Continuation {
  rest: CanvasJSON[];
  member?: ChordMembership;
  parentId?: string;
  rootId?: string;
}

/**
 * Plans publishing a frozen node. `prepend` is what the parent hands down
 * (its result, or for errbacks the failed id and error); undefined at the root.
 */
export function plan(
  node: CanvasJSON,
  prepend: unknown[] | undefined,
  cont: Continuation,
  out: Plan = { chords: [], publishes: [] },
): Plan {
  switch (node.type) {
    case 'signature': {
      out.publishes.push(signatureOp(node, prepend, cont));
      return out;
    }
    case 'chain':
      return plan(node.steps[0], prepend, { ...cont, rest: [...node.steps.slice(1), ...cont.rest] }, out);
    case 'group': {
      if (cont.rest.length || cont.member) {
        throw new TaskQueueConfigError(
          'group',
          node,
          'a group that something waits for must be a chord header (chain(group, task) is upgraded automatically)',
        );
      }
      for (const m of node.members) plan(m, prepend, { rest: [], parentId: cont.parentId, rootId: cont.rootId }, out);
      return out;
    }
    case 'chord':
      return planChord(node, prepend, cont, out);
  }
}

function planChord(node: ChordJSON, prepend: unknown[] | undefined, cont: Continuation, out: Plan): Plan {
  const id = node.id!;
  const bodyPlan = plan(node.body, [CHORD_RESULTS_PLACEHOLDER], { ...cont }, { chords: [], publishes: [] });
  const body = bodyPlan.publishes[0];
  const bodyQueue = body.options.queue!;
  if (node.header.length === 0) {
    body.args = body.args.map((a) => (a === CHORD_RESULTS_PLACEHOLDER ? [] : a));
    out.publishes.push(body);
    return out;
  }
  out.chords.push({
    queue: bodyQueue,
    id,
    size: node.header.length,
    body,
    insert: body.args[0] === CHORD_RESULTS_PLACEHOLDER,
    downstream: [...taskRefs(node.body), ...cont.rest.flatMap(taskRefs)],
  });
  node.header.forEach((h, index) =>
    plan(
      h,
      prepend,
      { rest: [], member: { id, index, queue: bodyQueue }, parentId: cont.parentId, rootId: cont.rootId },
      out,
    ),
  );
  return out;
}

function signatureOp(node: SignatureJSON, prepend: unknown[] | undefined, cont: Continuation): PublishOp {
  const o = node.options ?? {};
  const args = prepend && !node.immutable ? [...prepend, ...node.args] : [...node.args];
  const options: PublishOptions = {
    ...(o as PublishOptions),
    parentId: cont.parentId,
    rootId: cont.rootId ?? (cont.parentId ? undefined : o.taskId),
  };
  const workflow: WorkflowFields = {};
  if (cont.rest.length) workflow.chain = cont.rest;
  if (cont.member) workflow.chord = cont.member;
  if (node.link?.length) workflow.link = node.link;
  if (node.linkError?.length) workflow.linkError = node.linkError;
  return { task: node.task, args, options, workflow };
}

/** Every task of a frozen node. */
export function taskRefs(node: CanvasJSON): TaskRef[] {
  switch (node.type) {
    case 'signature':
      return [{ id: node.options!.taskId!, queue: node.options!.queue!, task: node.task }];
    case 'chain':
      return node.steps.flatMap(taskRefs);
    case 'group':
      return node.members.flatMap(taskRefs);
    case 'chord':
      return [...node.header.flatMap(taskRefs), ...taskRefs(node.body)];
  }
}

/** The result shape of a frozen node: what its caller waits for. */
export function resultShape(node: CanvasJSON, parent?: ResultShape): ResultShape {
  switch (node.type) {
    case 'signature':
      return { kind: 'task', ref: taskRefs(node)[0], parent };
    case 'chain': {
      let shape: ResultShape | undefined = parent;
      for (const s of node.steps) shape = resultShape(s, shape);
      return shape!;
    }
    case 'group':
      return { kind: 'group', id: (node as GroupJSON).id!, members: node.members.map((m) => resultShape(m)), parent };
    case 'chord':
      return resultShape(node.body, {
        kind: 'group',
        id: node.id!,
        members: node.header.map((h) => resultShape(h)),
        parent,
      });
  }
}
