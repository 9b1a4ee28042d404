import { Injectable, Logger, type OnModuleInit } from '@nestjs/common';
import { DiscoveryService, MetadataScanner, ModuleRef, Reflector } from '@nestjs/core';
import type { SignalHandlerMeta } from './on-task-signal.decorator.js';
import { TASK_SIGNAL_HANDLER, TaskSignal, type TaskSignalName } from './task-signal.constants.js';
import type { TaskSignalPayloads } from './task-signal.payloads.js';

interface Emitter2 {
  emit(event: string, ...values: unknown[]): boolean;
  hasListeners(event?: string): boolean;
}

/** What a task-end listener is told of the message. @internal */
export interface TaskEndInfo {
  task: string;
  retries: number;
  created: number;
  eta?: number;
}

/** @internal */
export type TaskEndListener = (msg: TaskEndInfo, queue: string, state: string, runtimeMs: number) => void;

interface Handler {
  tasks?: Set<string>;
  call: (payload: unknown) => unknown;
  site: string;
}

/**
 * Delivers signals to @OnTaskSignal() methods and, when @nestjs/event-emitter
 * is installed and EventEmitterModule imported, as events to @OnEvent()
 * listeners. With no listener, emitting costs a map lookup: the payload is not
 * even built. A listener that throws is logged; it never breaks the task.
 * @publicApi
 */
@Injectable()
export class SignalEmitter implements OnModuleInit {
  private readonly logger = new Logger('TaskSignals');
  private emitter?: Emitter2;
  private ready: Promise<void> = Promise.resolve();
  private readonly handlers = new Map<TaskSignalName, Handler[]>();

  constructor(
    private readonly moduleRef: ModuleRef,
    private readonly discovery: DiscoveryService,
    private readonly scanner: MetadataScanner,
    private readonly reflector: Reflector,
  ) {}

  async onModuleInit(): Promise<void> {
    this.collectHandlers();
    try {
      const mod = (await import('@nestjs/event-emitter')) as unknown as {
        EventEmitter2: new () => Emitter2;
        EventEmitterReadinessWatcher?: new () => { waitUntilReady(): Promise<void> };
      };
      this.emitter = this.moduleRef.get(mod.EventEmitter2, { strict: false });
      if (mod.EventEmitterReadinessWatcher) {
        try {
          const watcher = this.moduleRef.get(mod.EventEmitterReadinessWatcher, { strict: false });
          this.ready = watcher.waitUntilReady();
        } catch {
          // older @nestjs/event-emitter: no watcher
        }
      }
    } catch {
      // @nestjs/event-emitter is not installed, or EventEmitterModule is not imported.
      this.emitter = undefined;
    }
  }

  /** Resolves once @OnEvent() listeners are subscribed (call before emitting lifecycle signals). */
  whenReady(): Promise<void> {
    return this.ready;
  }

  private collectHandlers(): void {
    for (const wrapper of this.discovery.getProviders()) {
      const { instance } = wrapper;
      if (!instance || wrapper.isAlias || !wrapper.isDependencyTreeStatic()) continue;
      const proto = Object.getPrototypeOf(instance);
      if (!proto || proto === Object.prototype) continue;
      for (const name of this.scanner.getAllMethodNames(proto)) {
        const method = (instance as Record<string, unknown>)[name] as (...a: unknown[]) => unknown;
        const metas = this.reflector.get<SignalHandlerMeta[] | undefined>(TASK_SIGNAL_HANDLER, method);
        for (const meta of metas ?? []) {
          const list = this.handlers.get(meta.signal) ?? [];
          list.push({
            tasks: meta.tasks && new Set(meta.tasks),
            call: (p) => method.call(instance, p),
            site: `${wrapper.metatype?.name ?? 'provider'}#${name}`,
          });
          this.handlers.set(meta.signal, list);
        }
      }
    }
  }

  /**
   * Calls `handler` for every `signal` of this process (for the library's own
   * listeners, such as the event stream). Returns a function that unsubscribes.
   */
  subscribe<S extends TaskSignalName>(
    signal: S,
    handler: (payload: TaskSignalPayloads[S]) => void,
    site: string,
  ): () => void {
    const entry: Handler = { call: (p) => handler(p as TaskSignalPayloads[S]), site };
    this.handlers.set(signal, [...(this.handlers.get(signal) ?? []), entry]);
    return () => {
      const rest = (this.handlers.get(signal) ?? []).filter((h) => h !== entry);
      if (rest.length) this.handlers.set(signal, rest);
      else this.handlers.delete(signal);
    };
  }

  private readonly endListeners: TaskEndListener[] = [];

  /**
   * The library's own per-task hook (metrics): called when a run ends, with
   * the message and the outcome as they are, so no payload is built for it.
   * @internal
   */
  onTaskEnd(listener: TaskEndListener): void {
    this.endListeners.push(listener);
  }

  /** @internal */
  ended(msg: TaskEndInfo, queue: string, state: string, runtimeMs: number): void {
    for (const l of this.endListeners) {
      try {
        l(msg, queue, state, runtimeMs);
      } catch (err) {
        this.fail(TaskSignal.Postrun, 'task end listener', err);
      }
    }
  }

  /** True when someone listens to `signal` (build the payload only then). */
  has(signal: TaskSignalName): boolean {
    if (this.handlers.has(signal)) return true;
    const e = this.emitter;
    return e !== undefined && e.hasListeners(signal);
  }

  /** Emits `signal` with the payload `make()` builds, only if someone listens. Synchronous listeners run before this returns. */
  emit<S extends TaskSignalName>(signal: S, make: () => TaskSignalPayloads[S]): void {
    const handlers = this.handlers.get(signal);
    const e = this.emitter;
    const toEmitter = e !== undefined && e.hasListeners(signal);
    if (!handlers && !toEmitter) return;
    const payload = make();
    const task = (payload as { task?: string }).task;
    for (const h of handlers ?? []) {
      if (h.tasks && (task === undefined || !h.tasks.has(task))) continue;
      try {
        const r = h.call(payload);
        if (r && typeof (r as Promise<unknown>).catch === 'function')
          (r as Promise<unknown>).catch((err) => this.fail(signal, h.site, err));
      } catch (err) {
        this.fail(signal, h.site, err);
      }
    }
    if (toEmitter) {
      try {
        e.emit(signal, payload);
      } catch (err) {
        this.fail(signal, '@OnEvent listener', err);
      }
    }
  }

  private fail(signal: string, site: string, err: unknown): void {
    this.logger.error(
      `Listener ${site} of ${signal} threw: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}`,
    );
  }
}
