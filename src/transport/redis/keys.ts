/**
 * The one place Redis key names are made. Every key of a queue shares the hash
 * tag `{<queue>}`, so every key one script touches lands in one Cluster slot.
 * The suffixes are mirrored in scripts/includes/common.lua.
 */
export class RedisKeys {
  constructor(readonly prefix: string) {}

  /** KEYS[1] of every script: "<prefix>:{<queue>}:". */
  base(queue: string): string {
    return `${this.prefix}:{${queue}}:`;
  }

  ready(queue: string, priority: number): string {
    return `${this.base(queue)}ready:${priority}`;
  }

  delayed(queue: string): string {
    return `${this.base(queue)}delayed`;
  }

  delayedMessages(queue: string): string {
    return `${this.base(queue)}dmsg`;
  }

  active(queue: string): string {
    return `${this.base(queue)}active`;
  }

  leases(queue: string): string {
    return `${this.base(queue)}leases`;
  }

  wake(queue: string): string {
    return `${this.base(queue)}wake`;
  }

  revoked(queue: string): string {
    return `${this.base(queue)}revoked`;
  }

  dead(queue: string): string {
    return `${this.base(queue)}dead`;
  }

  rejected(queue: string): string {
    return `${this.base(queue)}rejected`;
  }

  redeliveries(queue: string): string {
    return `${this.base(queue)}redeliv`;
  }

  result(queue: string, id: string): string {
    return `${this.base(queue)}r:${id}`;
  }

  /** Marker of a message published with a once TTL (publish-if-absent on its id). */
  published(queue: string, id: string): string {
    return `${this.base(queue)}pub:${id}`;
  }

  chord(queue: string, id: string): string {
    return `${this.base(queue)}chord:${id}`;
  }

  /** Pub/sub channel on which a task's final record is published (whatever its queue). */
  done(id: string): string {
    return `${this.prefix}:done:${id}`;
  }

  /**
   * The same announcement on Redis Cluster: a channel in the queue's slot, so the
   * scripts publish it with SPUBLISH (sharded pub/sub) instead of broadcasting to every node.
   */
  doneIn(queue: string, id: string): string {
    return `${this.base(queue)}done:${id}`;
  }

  /** HASH of worker id → heartbeat JSON (with its expiry). Tagged apart from every queue. */
  workers(): string {
    return `${this.prefix}:{@workers}`;
  }

  /** The rate-limit state of a task (one slot for all of them: `{@rate}`). */
  rate(task: string): string {
    return `${this.prefix}:{@rate}:${task}`;
  }

  /** Pub/sub channel of remote-control messages to every worker. */
  control(): string {
    return `${this.prefix}:control`;
  }

  /** Pub/sub channel of the replies to control request `id`. */
  reply(id: string): string {
    return `${this.prefix}:reply:${id}`;
  }

  /** Pattern matching every key of every queue under this prefix. */
  allPattern(): string {
    return `${this.prefix}:*`;
  }

  /** The capped stream of task and worker events (one per prefix). */
  events(): string {
    return `${this.prefix}:events`;
  }
}
