import { Logger } from '@nestjs/common';
import { TransactionHost, type TransactionalAdapter } from '@nestjs-cls/transactional';
import type { SqlClient } from '../interfaces/index.js';
import { asSqlClient, registerTransactionScopeResolver, type TransactionScope } from '../outbox/transaction-scope.js';

const logger = new Logger('TaskQueueTransactional');

/** The publishes held by one transaction (or savepoint) until it commits. */
class HeldPublishes implements TransactionScope {
  private held: Array<() => Promise<void>> = [];
  private committed = false;

  constructor(readonly client: SqlClient | undefined) {}

  /** Holds `publish` until the commit; once committed (a signal handler publishing during the flush), runs it now. */
  afterCommit(publish: () => Promise<void>): Promise<void> | void {
    if (this.committed) return publish();
    this.held.push(publish);
  }

  /** A savepoint released: its publishes now wait for the enclosing transaction. */
  adopt(child: HeldPublishes): void {
    this.held.push(...child.held);
    child.held = [];
  }

  /**
   * The transaction committed: publishes, in order. A failure is logged, not
   * thrown: the transaction has committed already (the outbox is for when a
   * lost publish is not acceptable).
   */
  async flush(): Promise<void> {
    this.committed = true;
    const held = this.held;
    this.held = [];
    for (const publish of held) {
      try {
        await publish();
      } catch (err) {
        logger.error(`A task held until commit could not be published: ${(err as Error).message}`);
      }
    }
  }
}

/** Held publishes per transaction object (an EntityManager, a client), as the adapter hands it to the host. */
const held = new WeakMap<object, HeldPublishes>();
const connections = new Set<string | undefined>();

registerTransactionScopeResolver(() => {
  for (const name of connections) {
    let host: TransactionHost<any>;
    try {
      host = TransactionHost.getInstance(name);
    } catch {
      continue; // that plugin is not (or no longer) registered
    }
    if (!host.isTransactionActive()) continue;
    const tx = host.tx as unknown;
    const scope = tx !== null && typeof tx === 'object' ? held.get(tx) : undefined;
    if (scope) return scope;
  }
  return undefined;
});

const isObject = (v: unknown): v is object => v !== null && typeof v === 'object';

/**
 * Wraps a `@nestjs-cls/transactional` adapter so that tasks published inside
 * its transactions (`@Transactional()`, `TransactionHost.withTransaction()`)
 * are held until the transaction commits and dropped when it rolls back; with
 * the module's `outbox`, they are written to the outbox table through the
 * transaction instead. Works with any adapter; the outbox needs one whose
 * transaction has `query(text, params)` (TypeORM, node-postgres).
 *
 * @example
 * ```ts
 * ClsModule.forRoot({
 *   plugins: [
 *     new ClsPluginTransactional({
 *       imports: [TypeOrmModule],
 *       adapter: publishAfterCommit(new TransactionalAdapterTypeOrm({ dataSourceToken: DataSource })),
 *     }),
 *   ],
 * })
 * ```
 * @publicApi
 */
export function publishAfterCommit<A extends TransactionalAdapter<any, any, any>>(
  adapter: A,
  options: { connectionName?: string } = {},
): A {
  connections.add(options.connectionName);
  const factory = adapter.optionsFactory.bind(adapter);
  const wrapped = Object.create(Object.getPrototypeOf(adapter)) as A;
  Object.assign(wrapped, adapter);
  wrapped.optionsFactory = (connection, extraProviders) => {
    const inner = factory(connection, extraProviders);
    const nested = inner.wrapWithNestedTransaction;
    return {
      ...inner,
      wrapWithTransaction: async (txOptions, fn, setTx) => {
        let scope: HeldPublishes | undefined;
        let scopeTx: object | undefined;
        try {
          const result = await inner.wrapWithTransaction(txOptions, fn, (tx) => {
            if (isObject(tx) && scope === undefined) {
              scopeTx = tx;
              held.set(tx, (scope = new HeldPublishes(asSqlClient(tx))));
            }
            setTx(tx);
          });
          // resolved: committed
          await scope?.flush();
          return result;
        } finally {
          if (scopeTx && held.get(scopeTx) === scope) held.delete(scopeTx);
        }
      },
      ...(nested
        ? {
            wrapWithNestedTransaction: async (txOptions, fn, setTx, parentTx) => {
              const parent = isObject(parentTx) ? held.get(parentTx) : undefined;
              let child: HeldPublishes | undefined;
              let childTx: object | undefined;
              let previous: HeldPublishes | undefined;
              try {
                const result = await nested(
                  txOptions,
                  fn,
                  (tx) => {
                    if (isObject(tx) && child === undefined) {
                      childTx = tx;
                      previous = held.get(tx);
                      held.set(tx, (child = new HeldPublishes(asSqlClient(tx))));
                    }
                    setTx(tx);
                  },
                  parentTx,
                );
                // the savepoint is released: its publishes wait for the enclosing commit
                if (child) parent ? parent.adopt(child) : await child.flush();
                return result;
              } finally {
                if (childTx) previous ? held.set(childTx, previous) : held.delete(childTx);
              }
            },
          }
        : {}),
    };
  };
  return wrapped;
}
