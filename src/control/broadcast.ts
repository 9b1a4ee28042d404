import { randomUUID } from 'node:crypto';
import { TaskQueueConfigError } from '../errors/index.js';
import { toMs, type Duration } from '../protocol/duration.js';
import type { ControlCommand, ControlReply, Transport } from '../transport/transport.interface.js';

/** Which workers a remote-control call asks, and how long it waits for their replies. @publicApi */
export interface ControlOptions {
  /** Worker ids to ask; every live worker when absent. With it, the call returns once they all replied. */
  destination?: string[];
  /** How long to wait for replies. @default '1s' */
  timeout?: Duration;
}

/** A worker's reply to a remote-control call. @publicApi */
export interface WorkerReply<T = unknown> {
  worker: string;
  ok: boolean;
  /** What the worker answered (when ok). */
  data?: T;
  /** Why it could not (when not ok): an unknown task, a bad argument … */
  error?: string;
}

/** Sends a control command to the workers and collects their replies. @internal */
export async function broadcast<T>(
  transport: Transport,
  command: ControlCommand,
  args: Record<string, unknown> | undefined,
  options: ControlOptions | Duration = {},
  caller: string = command,
): Promise<Array<WorkerReply<T>>> {
  const o: ControlOptions = typeof options === 'object' ? options : { timeout: options };
  if (
    o.destination !== undefined &&
    (!Array.isArray(o.destination) || o.destination.some((d) => typeof d !== 'string'))
  )
    throw new TaskQueueConfigError(`${caller}({ destination })`, o.destination, 'expected an array of worker ids');
  const timeoutMs = toMs(o.timeout ?? '1s', `${caller}({ timeout })`);
  const replies: ControlReply[] = await transport.control(
    { id: randomUUID(), command, args, reply: true, ...(o.destination ? { destination: o.destination } : {}) },
    timeoutMs,
  );
  return replies.map((r) => ({ worker: r.worker, ok: r.ok, data: r.data as T, error: r.error }));
}
