import type { PublishOptions } from '../interfaces/task-options.interface.js';
import type { CanvasJSON, ChordJSON, ChordMembership, GroupJSON, SignatureJSON } from '../protocol/canvas-json.js';
import type { TaskDefaults, WorkflowFields } from '../protocol/message.factory.js';

/**
 * Turns a canvas into what must be published, as pure data: freezing applies
 * Celery's composition rules and assigns every task its id and queue up front
 * (so results can be handed out before anything runs), planning lists the
 * messages and chord states to create. Used by the client for a new workflow
 * and by the worker for the next steps.
 *
 * The composition rules (Celery 5's), applied when a canvas is frozen:
 * - nested chains are spliced: `chain(a, chain(b, c))` is `chain(a, b, c)`;
 * - in a chain, a group of one task is that task, and a group followed by a
 *   step becomes a chord with that step as its body (right to left, so
 *   `g1 | g2 | t` is `chord(g1, chord(g2, t))`);
 * - a group directly inside a group or a chord header is flattened into it:
 *   `group(x, group(y, z))` gives `[x, y, z]`; a group at the end of a chain is
 *   not: `group(chain(a, group(b, c)))` gives `[[b, c]]`;
 * - callbacks of a composite move onto its tasks: a chain's `link` onto its last
 *   step and its `linkError` onto every step; a group's `linkError` onto every
 *   member; a chord's both onto its body. A group keeps its own `link`, which
 *   runs once with the list of its results.
 *
 * Something that waits for a group (a later step, a chord it belongs to, its
 * own link) gets the group's results through a join task ({@link JOIN_TASK}),
 * a chord whose body hands the results on; so does a chord whose body is not
 * a task. Every such join runs in every worker, unregistered.
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
}

export interface Plan {
  chords: ChordOp[];
  publishes: PublishOp[];
}

/** Where the header results go in a chord body's arguments. */
export const CHORD_RESULTS_PLACEHOLDER = '\u0000taskqueue:chord-results\u0000';

/**
 * The built-in task that hands a group's results on (as a chord body whose
 * result is its first argument). Its id is the group's (or chord's) id.
 */
export const JOIN_TASK = 'taskqueue.join';

/** Returns a normalized deep copy (Celery's composition rules) with every id and queue assigned. */
export function freeze(node: CanvasJSON, ctx: FreezeContext): CanvasJSON {
  return assign(normalize(node), ctx);
}

function normalize(node: CanvasJSON): CanvasJSON {
  switch (node.type) {
    case 'signature': {
      const out: SignatureJSON = { ...node };
      if (node.link) out.link = node.link.map(normalize);
      if (node.linkError) out.linkError = node.linkError.map(normalize);
      return out;
    }
    case 'chain': {
      const flat: CanvasJSON[] = [];
      const push = (n: CanvasJSON): void => {
        if (n.type === 'chain') n.steps.forEach(push);
        else if (n.type === 'group' && n.members.length === 1 && !n.link?.length) push(n.members[0]);
        else flat.push(n);
      };
      node.steps.forEach((s) => push(normalize(s)));
      let steps: CanvasJSON[] = [];
      for (let i = flat.length - 1; i >= 0; i--) {
        const s = flat[i];
        if (s.type === 'group' && !s.link?.length && steps.length) {
          steps[0] = { type: 'chord', header: s.members, body: steps[0] };
        } else steps.unshift(s);
      }
      for (const eb of node.linkError ?? []) steps = steps.map((s) => addErrback(s, normalize(eb)));
      if (node.link?.length) steps[steps.length - 1] = addLinks(steps[steps.length - 1], node.link.map(normalize));
      // a chain of one group stays a chain: the group is then not flattened into an enclosing one
      return steps.length === 1 && steps[0].type !== 'group' ? steps[0] : { type: 'chain', steps };
    }
    case 'group': {
      let members = flattenGroups(node.members.map(normalize));
      for (const eb of node.linkError ?? []) members = members.map((m) => addErrback(m, normalize(eb)));
      const out: GroupJSON = { type: 'group', members };
      if (node.id) out.id = node.id;
      if (node.link?.length) out.link = node.link.map(normalize);
      return out;
    }
    case 'chord': {
      let body = normalize(node.body);
      for (const eb of node.linkError ?? []) body = addErrback(body, normalize(eb));
      if (node.link?.length) body = addLinks(body, node.link.map(normalize));
      const out: ChordJSON = { type: 'chord', header: flattenGroups(node.header.map(normalize)), body };
      if (node.id) out.id = node.id;
      return out;
    }
  }
}

/** Groups directly inside a group or a chord header join it (those with a link of their own stay). */
function flattenGroups(members: CanvasJSON[]): CanvasJSON[] {
  return members.flatMap((m) => (m.type === 'group' && !m.link?.length ? flattenGroups(m.members) : [m]));
}

/** `node.linkError(eb)` with Celery's meaning for each kind of node. */
function addErrback(node: CanvasJSON, eb: CanvasJSON): CanvasJSON {
  switch (node.type) {
    case 'signature':
      return { ...node, linkError: [...(node.linkError ?? []), eb] };
    case 'chain':
      return { ...node, steps: node.steps.map((s) => addErrback(s, eb)) };
    case 'group':
      return { ...node, members: node.members.map((m) => addErrback(m, eb)) };
    case 'chord':
      return { ...node, body: addErrback(node.body, eb) };
  }
}

/** `node.link(...links)` with Celery's meaning for each kind of node (a group keeps its own). */
function addLinks(node: CanvasJSON, links: CanvasJSON[]): CanvasJSON {
  switch (node.type) {
    case 'signature':
    case 'group':
      return { ...node, link: [...(node.link ?? []), ...links] };
    case 'chain':
      return { ...node, steps: [...node.steps.slice(0, -1), addLinks(node.steps[node.steps.length - 1], links)] };
    case 'chord':
      return { ...node, body: addLinks(node.body, links) };
  }
}

function assign(node: CanvasJSON, ctx: FreezeContext): CanvasJSON {
  switch (node.type) {
    case 'signature': {
      const defaults = ctx.defaults(node.task);
      const options = { ...node.options };
      options.taskId ??= ctx.newId();
      options.queue ??= defaults?.queue ?? ctx.defaultQueue;
      const out: SignatureJSON = { ...node, options };
      if (node.link) out.link = node.link.map((l) => assign(l, ctx));
      if (node.linkError) out.linkError = node.linkError.map((l) => assign(l, ctx));
      return out;
    }
    case 'chain':
      return { ...node, steps: node.steps.map((s) => assign(s, ctx)) };
    case 'group': {
      const members = node.members.map((m) => assign(m, ctx));
      const out: GroupJSON = { ...node, id: node.id ?? ctx.newId(), members };
      out.queue = members.length ? entryQueue(members[0]) : ctx.defaultQueue;
      if (node.link) out.link = node.link.map((l) => assign(l, ctx));
      return out;
    }
    case 'chord': {
      const header = node.header.map((h) => assign(h, ctx));
      const body = assign(node.body, ctx);
      return { ...node, id: node.id ?? ctx.newId(), header, body, queue: entryQueue(body) };
    }
  }
}

/** The queue of the first task a frozen node runs. */
function entryQueue(node: CanvasJSON): string {
  switch (node.type) {
    case 'signature':
      return node.options!.queue!;
    case 'chain':
      return entryQueue(node.steps[0]);
    case 'group':
      return node.queue!;
    case 'chord':
      return node.header.length ? entryQueue(node.header[0]) : entryQueue(node.body);
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
 * Every frozen canvas can be planned: nothing is refused here.
 */
export function plan(
  node: CanvasJSON,
  prepend: unknown[] | undefined,
  cont: Continuation,
  out: Plan = { chords: [], publishes: [] },
): Plan {
  switch (node.type) {
    case 'signature':
      out.publishes.push(signatureOp(node, prepend, cont));
      return out;
    case 'chain':
      return plan(node.steps[0], prepend, { ...cont, rest: [...node.steps.slice(1), ...cont.rest] }, out);
    case 'group':
      if (cont.rest.length || cont.member || node.link?.length) return planChord(joinChord(node), prepend, cont, out);
      for (const m of node.members) plan(m, prepend, { rest: [], parentId: cont.parentId, rootId: cont.rootId }, out);
      return out;
    case 'chord':
      return planChord(node, prepend, cont, out);
  }
}

/** A group that something waits for: a chord whose body, the join task, hands the results on. */
function joinChord(node: GroupJSON): ChordJSON {
  return { type: 'chord', id: node.id, queue: node.queue, header: node.members, body: joinTask(node) };
}

function joinTask(node: GroupJSON | ChordJSON, linkError?: CanvasJSON[]): SignatureJSON {
  const sig: SignatureJSON = {
    type: 'signature',
    task: JOIN_TASK,
    args: [],
    options: { taskId: node.id!, queue: node.queue! },
  };
  if (node.type === 'group' && node.link?.length) sig.link = node.link;
  if (linkError?.length) sig.linkError = linkError;
  return sig;
}

function startsWithTask(node: CanvasJSON): boolean {
  return node.type === 'signature' || (node.type === 'chain' && node.steps[0].type === 'signature');
}

function planChord(node: ChordJSON, prepend: unknown[] | undefined, cont: Continuation, out: Plan): Plan {
  const id = node.id!;
  let body = node.body;
  let bodyCont = cont;
  if (!startsWithTask(body)) {
    // A body that is not a task (a group, a chord) runs after a join task that
    // hands it the header's results; the join answers for it if the header fails.
    bodyCont = { ...cont, rest: [body, ...cont.rest] };
    body = joinTask(node, errbacksOf(body));
  }
  if (node.header.length === 0) return plan(body, [[]], bodyCont, out);
  const bodyOp = plan(body, [CHORD_RESULTS_PLACEHOLDER], bodyCont).publishes[0];
  const queue = bodyOp.options.queue!;
  out.chords.push({
    queue,
    id,
    size: node.header.length,
    body: bodyOp,
    insert: bodyOp.args[0] === CHORD_RESULTS_PLACEHOLDER,
  });
  node.header.forEach((h, index) =>
    plan(h, prepend, { rest: [], member: { id, index, queue }, parentId: cont.parentId, rootId: cont.rootId }, out),
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

/**
 * The error callbacks that answer for a frozen node that fails before it runs
 * (a chord body whose header failed): those of the tasks it would start with,
 * each distinct callback once.
 */
export function errbacksOf(node: CanvasJSON): CanvasJSON[] {
  const all = (n: CanvasJSON): CanvasJSON[] => {
    switch (n.type) {
      case 'signature':
        return n.linkError ?? [];
      case 'chain':
        return all(n.steps[0]);
      case 'group':
        return n.members.flatMap(all);
      case 'chord':
        return all(n.body);
    }
  };
  const seen = new Set<string>();
  return all(node).filter((eb) => {
    const key = JSON.stringify(eb, (k, v: unknown) => (k === 'taskId' ? undefined : v));
    return seen.has(key) ? false : (seen.add(key), true);
  });
}

/** Every task of a frozen node, join tasks included. */
export function taskRefs(node: CanvasJSON): TaskRef[] {
  switch (node.type) {
    case 'signature':
      return [{ id: node.options!.taskId!, queue: node.options!.queue!, task: node.task }];
    case 'chain':
      return node.steps.flatMap(taskRefs);
    case 'group':
      return [...node.members.flatMap(taskRefs), { id: node.id!, queue: node.queue!, task: JOIN_TASK }];
    case 'chord':
      return [
        ...node.header.flatMap(taskRefs),
        ...(startsWithTask(node.body) ? [] : [{ id: node.id!, queue: node.queue!, task: JOIN_TASK }]),
        ...taskRefs(node.body),
      ];
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
      return { kind: 'group', id: node.id!, members: node.members.map((m) => resultShape(m)), parent };
    case 'chord':
      return resultShape(node.body, {
        kind: 'group',
        id: node.id!,
        members: node.header.map((h) => resultShape(h)),
        parent,
      });
  }
}

/** What a task hands on when checking a plan: stands for a result not known yet. */
const SOME_RESULT = null;

/**
 * Checks a whole workflow before anything is published: plans every step the
 * workers will plan later (the rest of each chain, chord bodies, links, error
 * callbacks) and hands each of those messages to `check` (which builds it, so
 * bad options fail now). The first plan's own messages are not handed over:
 * publishing builds them before it writes anything. Whatever passes here, a
 * worker can continue (only what depends on results, their size, is left).
 */
export function checkPlan(first: Plan, check: (op: PublishOp) => void): void {
  const pending: Plan[] = [first];
  for (let p = pending.pop(); p; p = pending.pop()) {
    for (const op of [...p.publishes, ...p.chords.map((c) => c.body)]) {
      if (p !== first) check(op);
      const cont = { parentId: op.options.taskId, rootId: op.options.rootId ?? op.options.taskId };
      const { chain, chord, link, linkError } = op.workflow;
      if (chain?.length) pending.push(plan(chain[0], [SOME_RESULT], { ...cont, rest: chain.slice(1), member: chord }));
      for (const l of link ?? []) pending.push(plan(l, [SOME_RESULT], { ...cont, rest: [] }));
      for (const eb of linkError ?? []) pending.push(plan(eb, [op.options.taskId, SOME_RESULT], { ...cont, rest: [] }));
    }
  }
}
