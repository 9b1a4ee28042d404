import type { SqlClient } from '../interfaces/task-options.interface.js';

/**
 * The database transaction a publish happens in, as the task client sees it.
 * Supplied by an integration (`nestjs-taskqueue/transactional` for
 * `@nestjs-cls/transactional`); the core never loads one itself.
 */
export interface TransactionScope {
  /**
   * Runs `publish` once the transaction commits; drops it when the transaction
   * rolls back. When the transaction has committed already, runs it now (and
   * returns its promise).
   */
  afterCommit(publish: () => Promise<void>): Promise<void> | void;
  /** The transaction's SQL client (a TypeORM EntityManager, a node-postgres client), for the outbox. */
  readonly client?: SqlClient;
}

type ScopeResolver = () => TransactionScope | undefined;

const resolvers = new Set<ScopeResolver>();

/**
 * Registers a way to find the transaction of the current call (async context).
 * Returns a function that removes it. @internal
 */
export function registerTransactionScopeResolver(resolver: ScopeResolver): () => void {
  resolvers.add(resolver);
  return () => resolvers.delete(resolver);
}

/** The transaction the current call runs in, if an integration knows of one. @internal */
export function currentTransactionScope(): TransactionScope | undefined {
  for (const resolve of resolvers) {
    const scope = resolve();
    if (scope) return scope;
  }
  return undefined;
}

/** `value` as a SQL client when it has `query(text, params)`. @internal */
export function asSqlClient(value: unknown): SqlClient | undefined {
  return value !== null && typeof value === 'object' && typeof (value as SqlClient).query === 'function'
    ? (value as SqlClient)
    : undefined;
}
