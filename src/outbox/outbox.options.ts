import { TaskQueueConfigError } from '../errors/index.js';
import type { InTransactionMode, OutboxOptions, ResolvedOutboxOptions } from '../interfaces/index.js';
import { toMs } from '../protocol/index.js';
import { DEFAULT_OUTBOX_TABLE, isOutboxTableName } from './outbox.sql.js';

const MODES: InTransactionMode[] = ['after-commit', 'immediate', 'outbox'];

/** Validates `inTransaction`; its default depends on whether an outbox is configured. */
export function resolveInTransaction(mode: unknown, hasOutbox: boolean): InTransactionMode {
  if (mode === undefined) return hasOutbox ? 'outbox' : 'after-commit';
  if (!MODES.includes(mode as InTransactionMode))
    throw new TaskQueueConfigError('inTransaction', mode, "expected 'after-commit', 'immediate' or 'outbox'");
  if (mode === 'outbox' && !hasOutbox)
    throw new TaskQueueConfigError('inTransaction', mode, 'needs the outbox option ({ outbox: { dataSource } })');
  return mode as InTransactionMode;
}

/** Defaults and validation of the `outbox` option. */
export function resolveOutboxOptions(o: OutboxOptions | undefined): ResolvedOutboxOptions | undefined {
  if (o === undefined) return undefined;
  if (typeof o !== 'object' || o === null) throw new TaskQueueConfigError('outbox', o, 'expected an object');
  if (typeof o.dataSource !== 'object' || o.dataSource === null)
    throw new TaskQueueConfigError(
      'outbox.dataSource',
      o.dataSource,
      'expected a TypeORM DataSource (PostgreSQL) or a node-postgres Pool',
    );
  const table = o.table ?? DEFAULT_OUTBOX_TABLE;
  if (!isOutboxTableName(table))
    throw new TaskQueueConfigError(
      'outbox.table',
      table,
      'use name or schema.name: lower-case letters, digits and _, starting with a letter or _, at most 48 characters each',
    );
  const relayIn = o.relay ?? true;
  let relay: ResolvedOutboxOptions['relay'] = false;
  if (relayIn !== false) {
    const r = relayIn === true ? {} : relayIn;
    if (typeof r !== 'object' || r === null)
      throw new TaskQueueConfigError('outbox.relay', relayIn, 'expected true, false or { batchSize, pollInterval }');
    const batchSize = r.batchSize ?? 500;
    if (!Number.isInteger(batchSize) || batchSize < 1 || batchSize > 10_000)
      throw new TaskQueueConfigError('outbox.relay.batchSize', batchSize, 'expected an integer from 1 to 10000');
    const pollIntervalMs = toMs(r.pollInterval ?? '5s', 'outbox.relay.pollInterval');
    if (pollIntervalMs < 10)
      throw new TaskQueueConfigError('outbox.relay.pollInterval', r.pollInterval, 'must be at least 10 ms');
    relay = { batchSize, pollIntervalMs };
  }
  const dedupeWindowMs = toMs(o.dedupeWindow ?? '1d', 'outbox.dedupeWindow');
  if (dedupeWindowMs < 1000)
    throw new TaskQueueConfigError('outbox.dedupeWindow', o.dedupeWindow, 'must be at least 1 s');
  return { dataSource: o.dataSource, table, synchronize: o.synchronize === true, relay, dedupeWindowMs };
}
