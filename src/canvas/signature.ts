import { TaskQueueConfigError } from '../errors/index.js';
import type { PublishOptions } from '../interfaces/task-options.interface.js';
import type {
  CanvasJSON,
  CompositeCallbacksJSON,
  ChainJSON,
  ChordJSON,
  GroupJSON,
  SignatureJSON,
  SignatureOptionsJSON,
} from '../protocol/canvas-json.js';
import { assertJsonSafe, assertName } from '../protocol/validate.js';

/** What publishing a canvas hands back: AsyncResult, or GroupResult for a group. */
export interface CanvasResult<R> {
  readonly id: string;
  get(options?: { timeout?: number | string; propagate?: boolean }): Promise<R>;
  ready(): Promise<boolean>;
  successful(): Promise<boolean>;
  failed(): Promise<boolean>;
  revoke(): Promise<void>;
}

/**
 * The handle types publishing returns, filled in by the client layer through
 * declaration merging (`task`: AsyncResult, `group`: GroupResult), so this
 * pure-data layer does not import the client.
 */
// eslint-disable-next-line @typescript-eslint/no-unused-vars
export interface CanvasResultTypes<R> {}

/** What publishing a task, chain or chord returns. */
export type TaskResultOf<R> = CanvasResultTypes<R> extends { task: infer H } ? H : CanvasResult<R>;
/** What publishing a group returns. */
export type GroupResultOf<R> = CanvasResultTypes<R> extends { group: infer H } ? H : CanvasResult<R>;

/** Publishes canvases; TaskClient is one. Canvases built from a client's handles are bound to it. */
export interface CanvasPublisher {
  applyCanvas<R>(
    canvas: Canvas<R, unknown>,
    args?: readonly unknown[],
    options?: PublishOptions,
  ): Promise<CanvasResult<R>>;
}

/**
 * Base of every workflow element. Plain data underneath (`toJSON()`), bound to a
 * publisher so `delay()` works where the canvas was built.
 * `R` is the type of the element's result.
 * @publicApi
 */
export abstract class Canvas<R = unknown, H = TaskResultOf<R>> {
  /** @internal phantom type of the result */
  declare readonly __result?: R;
  protected publisher?: CanvasPublisher;

  abstract toJSON(): CanvasJSON;

  /** Binds (a copy of) this canvas to a publisher, e.g. after `fromJSON`. */
  bind(publisher: CanvasPublisher): this {
    const copy = this.clone();
    copy.publisher = publisher;
    return copy;
  }

  /** The publisher of this canvas or of the first bound element inside it. */
  boundPublisher(): CanvasPublisher | undefined {
    return this.publisher;
  }

  protected abstract clone(): this;

  /** Publishes the workflow; `args` are prepended to the first task's arguments (partial signatures). */
  delay(...args: unknown[]): Promise<H> {
    return this.applyAsync(args);
  }

  applyAsync(args: readonly unknown[] = [], options?: PublishOptions): Promise<H> {
    const publisher = this.boundPublisher();
    if (!publisher) {
      throw new TaskQueueConfigError(
        'canvas',
        this.toJSON(),
        'it is not bound to a TaskClient: build it from client handles, or call client.applyCanvas(canvas) / canvas.bind(client)',
      );
    }
    return publisher.applyCanvas(this, args, options) as Promise<H>;
  }
}

/** Any canvas, whatever its result. */
export type AnyCanvas = Canvas<unknown, unknown>;

/** Options a signature may carry (JSON-safe). @publicApi */
export type SignatureOptions = Omit<PublishOptions, 'eta' | 'expires' | 'parentId' | 'rootId'> & {
  eta?: Date | number;
  expires?: number | string;
};

/**
 * One task call, not yet sent: Celery's signature. `s()` makes it partial (the
 * parent's result is prepended to its arguments), `si()` immutable.
 * @publicApi
 */
export class Signature<R = unknown> extends Canvas<R> {
  constructor(
    readonly task: string,
    readonly args: readonly unknown[] = [],
    readonly options: SignatureOptions = {},
    readonly immutable = false,
    readonly links: readonly AnyCanvas[] = [],
    readonly errbacks: readonly AnyCanvas[] = [],
  ) {
    super();
    assertName('signature task', task);
    if (!Array.isArray(args))
      throw new TaskQueueConfigError('signature args', args, `signature of "${task}" takes its arguments as an array`);
    assertJsonSafe(task, args);
  }

  protected clone(): this {
    const copy = new Signature<R>(
      this.task,
      this.args,
      this.options,
      this.immutable,
      this.links,
      this.errbacks,
    ) as this;
    copy.publisher = this.publisher;
    return copy;
  }

  private with(
    changes: Partial<Pick<Signature<R>, 'args' | 'options' | 'immutable' | 'links' | 'errbacks'>>,
  ): Signature<R> {
    const copy = new Signature<R>(
      this.task,
      changes.args ?? this.args,
      changes.options ?? this.options,
      changes.immutable ?? this.immutable,
      changes.links ?? this.links,
      changes.errbacks ?? this.errbacks,
    );
    copy.publisher = this.publisher;
    return copy;
  }

  /** A copy with options merged in (queue, countdown, priority, ...). */
  set(options: SignatureOptions): Signature<R> {
    return this.with({ options: { ...this.options, ...options } });
  }

  /** A copy that ignores the parent's result. */
  si(): Signature<R> {
    return this.with({ immutable: true });
  }

  /** Applies `callback` with this task's result when it succeeds. */
  link(callback: AnyCanvas): Signature<R> {
    return this.with({ links: [...this.links, callback] });
  }

  /** Applies `errback` with (failed task id, error) when this task fails for good. */
  linkError(errback: AnyCanvas): Signature<R> {
    return this.with({ errbacks: [...this.errbacks, errback] });
  }

  /** Celery's name for `linkError` (`sig.on_error(errback)`). */
  onError(errback: AnyCanvas): Signature<R> {
    return this.linkError(errback);
  }

  override boundPublisher(): CanvasPublisher | undefined {
    return this.publisher;
  }

  toJSON(): SignatureJSON {
    const json: SignatureJSON = { type: 'signature', task: this.task, args: [...this.args] };
    const options = optionsToJSON(this.options);
    if (Object.keys(options).length) json.options = options;
    if (this.immutable) json.immutable = true;
    if (this.links.length) json.link = this.links.map((l) => l.toJSON());
    if (this.errbacks.length) json.linkError = this.errbacks.map((l) => l.toJSON());
    return json;
  }
}

function optionsToJSON(o: SignatureOptions): SignatureOptionsJSON {
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(o)) if (v !== undefined) out[k] = v instanceof Date ? v.getTime() : v;
  assertJsonSafe('signature options', [out]);
  return out as SignatureOptionsJSON;
}

type ResultOf<C> = C extends Canvas<infer R, unknown> ? R : unknown;
type LastOf<T extends readonly unknown[]> = T extends readonly [...unknown[], infer L] ? L : T[number];

/**
 * A chain, group or chord. Its callbacks follow Celery: `link` runs once with
 * the composite's result (a chain's last result, a group's list of results, a
 * chord body's result); `linkError` runs with (failed task id, error) when one of
 * its tasks fails for good (a chord's when a header task or its body fails).
 */
abstract class Composite<R, H = TaskResultOf<R>> extends Canvas<R, H> {
  protected links: readonly AnyCanvas[] = [];
  protected errbacks: readonly AnyCanvas[] = [];

  protected abstract children(): readonly AnyCanvas[];

  /** Applies `callback` with this workflow's result when it succeeds. */
  link(callback: AnyCanvas): this {
    const copy = this.clone();
    copy.links = [...this.links, callback];
    return copy;
  }

  /** Applies `errback` with (failed task id, error) when a task of this workflow fails for good. */
  linkError(errback: AnyCanvas): this {
    const copy = this.clone();
    copy.errbacks = [...this.errbacks, errback];
    return copy;
  }

  /** Celery's name for `linkError` (`chain(...).on_error(errback)`). */
  onError(errback: AnyCanvas): this {
    return this.linkError(errback);
  }

  /** True when `link` or `linkError` was called on this composite. */
  hasCallbacks(): boolean {
    return this.links.length > 0 || this.errbacks.length > 0;
  }

  /** Copies this composite's publisher and callbacks onto `copy` (for `clone()`). */
  protected keep(copy: this): this {
    copy.publisher = this.publisher;
    copy.links = this.links;
    copy.errbacks = this.errbacks;
    return copy;
  }

  /** The callbacks as JSON, merged into the composite's own. */
  protected callbacksJSON(): CompositeCallbacksJSON {
    const out: CompositeCallbacksJSON = {};
    if (this.links.length) out.link = this.links.map((l) => l.toJSON());
    if (this.errbacks.length) out.linkError = this.errbacks.map((l) => l.toJSON());
    return out;
  }

  override boundPublisher(): CanvasPublisher | undefined {
    if (this.publisher) return this.publisher;
    for (const c of this.children()) {
      const p = c.boundPublisher();
      if (p) return p;
    }
    return undefined;
  }
}

/** Tasks one after another, each receiving the previous result. @publicApi */
export class Chain<R = unknown> extends Composite<R> {
  readonly steps: readonly AnyCanvas[];

  constructor(steps: Iterable<AnyCanvas>) {
    super();
    this.steps = [...steps];
    if (this.steps.length === 0) throw new TaskQueueConfigError('chain', [], 'a chain needs at least one step');
  }

  protected children(): readonly AnyCanvas[] {
    return this.steps;
  }

  protected clone(): this {
    return this.keep(new Chain<R>(this.steps) as this);
  }

  toJSON(): ChainJSON {
    return { type: 'chain', steps: this.steps.map((s) => s.toJSON()), ...this.callbacksJSON() };
  }
}

/** Tasks in parallel; the result is the list of their results, in order. @publicApi */
export class Group<R extends unknown[] = unknown[]> extends Composite<R, GroupResultOf<R>> {
  readonly members: readonly AnyCanvas[];

  constructor(members: Iterable<AnyCanvas>) {
    super();
    this.members = [...members];
  }

  protected children(): readonly AnyCanvas[] {
    return this.members;
  }

  protected clone(): this {
    return this.keep(new Group<R>(this.members) as this);
  }

  toJSON(): GroupJSON {
    return { type: 'group', members: this.members.map((m) => m.toJSON()), ...this.callbacksJSON() };
  }
}

/** A group whose results, in order, go to one callback once every header task succeeded. @publicApi */
export class Chord<R = unknown> extends Composite<R> {
  readonly header: readonly AnyCanvas[];

  constructor(
    header: Iterable<AnyCanvas> | Group,
    readonly body: AnyCanvas,
  ) {
    super();
    // a group given as the header is its members, unless it has callbacks of its own to keep
    this.header =
      header instanceof Group && !header.hasCallbacks()
        ? header.members
        : header instanceof Group
          ? [header]
          : [...header];
  }

  protected children(): readonly AnyCanvas[] {
    return [...this.header, this.body];
  }

  protected clone(): this {
    return this.keep(new Chord<R>(this.header, this.body) as this);
  }

  toJSON(): ChordJSON {
    return {
      type: 'chord',
      header: this.header.map((h) => h.toJSON()),
      body: this.body.toJSON(),
      ...this.callbacksJSON(),
    };
  }
}

/** `chain(a, b, c)`: b gets a's result, c gets b's. @publicApi */
export function chain<T extends readonly AnyCanvas[]>(...steps: T): Chain<ResultOf<LastOf<T>>> {
  return new Chain(steps);
}

/** `group(a, b)` or `group(iterable)`. @publicApi */
export function group<T extends readonly AnyCanvas[]>(
  ...members: T
): Group<{ [K in keyof T]: ResultOf<T[K]> } & unknown[]>;
export function group<R = unknown>(members: Iterable<Canvas<R, unknown>>): Group<R[]>;
export function group(...args: unknown[]): Group {
  if (
    args.length === 1 &&
    !(args[0] instanceof Canvas) &&
    typeof (args[0] as Iterable<AnyCanvas>)?.[Symbol.iterator] === 'function'
  ) {
    return new Group(args[0] as Iterable<AnyCanvas>);
  }
  return new Group(args as AnyCanvas[]);
}

/** `chord(header, body)`: body runs once, with the header's results in order. @publicApi */
export function chord<R>(header: Iterable<AnyCanvas> | Group, body: Canvas<R, unknown>): Chord<R> {
  return new Chord<R>(header, body);
}

/** Rebuilds a canvas from its JSON (validated). Bind it to a client to publish it. @publicApi */
export function canvasFromJSON(json: unknown, path = 'canvas'): Canvas<unknown, CanvasResult<unknown>> {
  if (typeof json !== 'object' || json === null) throw new TaskQueueConfigError(path, json, 'expected a canvas object');
  const j = json as Record<string, unknown>;
  const list = (v: unknown, p: string): AnyCanvas[] => {
    if (!Array.isArray(v)) throw new TaskQueueConfigError(p, v, 'expected an array');
    return v.map((x, i) => canvasFromJSON(x, `${p}[${i}]`));
  };
  const withCallbacks = (c: Chain | Group | Chord): Canvas<unknown, CanvasResult<unknown>> => {
    let out: Chain | Group | Chord = c;
    if (j.link !== undefined) for (const l of list(j.link, `${path}.link`)) out = out.link(l);
    if (j.linkError !== undefined) for (const l of list(j.linkError, `${path}.linkError`)) out = out.linkError(l);
    return out;
  };
  switch (j.type) {
    case 'signature': {
      if (j.options !== undefined && (typeof j.options !== 'object' || j.options === null))
        throw new TaskQueueConfigError(`${path}.options`, j.options, 'expected an object');
      return new Signature(
        j.task as string,
        (j.args ?? []) as unknown[],
        (j.options ?? {}) as SignatureOptions,
        j.immutable === true,
        j.link === undefined ? [] : list(j.link, `${path}.link`),
        j.linkError === undefined ? [] : list(j.linkError, `${path}.linkError`),
      );
    }
    case 'chain':
      return withCallbacks(new Chain(list(j.steps, `${path}.steps`)));
    case 'group':
      return withCallbacks(new Group(list(j.members, `${path}.members`)));
    case 'chord':
      return withCallbacks(new Chord(list(j.header, `${path}.header`), canvasFromJSON(j.body, `${path}.body`)));
    default:
      throw new TaskQueueConfigError(`${path}.type`, j.type, "expected 'signature', 'chain', 'group' or 'chord'");
  }
}
