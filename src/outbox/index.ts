export { OutboxRelay, type OutboxLag } from './outbox.relay.js';
export { outboxMigration, DEFAULT_OUTBOX_TABLE } from './outbox.sql.js';
export {
  currentTransactionScope,
  registerTransactionScopeResolver,
  asSqlClient,
  type TransactionScope,
} from './transaction-scope.js';
