import type { CanvasJSON } from '../../src/index.js';

/**
 * An in-memory reference evaluator of Celery 5's canvas semantics, written
 * apart from the planner so the two can be checked against each other: it
 * evaluates a canvas's JSON directly, with the tasks as plain functions.
 * A failing task makes the whole canvas fail (throws).
 *
 * The rules it follows (Celery's):
 * - a chain hands each step the previous result; a group of one task in a
 *   chain is that task;
 * - a group hands each member the same input and gives the list of results;
 *   groups directly inside a group or a chord header are flattened into it;
 * - a chord runs its header as a group, then its body with the header's list.
 */
export function evaluate(
  node: CanvasJSON,
  tasks: Record<string, (...args: unknown[]) => unknown>,
  prepend?: unknown[],
): unknown {
  switch (node.type) {
    case 'signature': {
      const fn = tasks[node.task];
      if (!fn) throw new Error(`reference: no task ${node.task}`);
      return fn(...(prepend && !node.immutable ? [...prepend, ...node.args] : node.args));
    }
    case 'chain': {
      const steps = splice(node.steps);
      let value = evaluate(steps[0], tasks, prepend);
      for (const step of steps.slice(1)) value = evaluate(step, tasks, [value]);
      return value;
    }
    case 'group':
      return members(node.members).map((m) => evaluate(m, tasks, prepend));
    case 'chord': {
      const results = members(node.header).map((m) => evaluate(m, tasks, prepend));
      return evaluate(node.body, tasks, [results]);
    }
  }
}

/** A chain's steps: nested chains spliced in, groups of one unrolled. */
function splice(steps: CanvasJSON[]): CanvasJSON[] {
  return steps.flatMap((s) => {
    if (s.type === 'chain') return splice(s.steps);
    if (s.type === 'group' && members(s.members).length === 1) return splice(members(s.members));
    return [s];
  });
}

/** A group's members with the groups directly inside it flattened. */
function members(list: CanvasJSON[]): CanvasJSON[] {
  return list.flatMap((m) => (m.type === 'group' ? members(m.members) : [m]));
}
