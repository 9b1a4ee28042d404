/**
 * The SQL of the transactional outbox (PostgreSQL). One table of messages
 * waiting to be moved to the broker, and a statement-level trigger that
 * NOTIFYs the relays when rows are inserted (delivered at commit, so a relay
 * wakes only for committed rows).
 */

/** Default name of the outbox table (and of its NOTIFY channel). */
export const DEFAULT_OUTBOX_TABLE = 'taskqueue_outbox';

const IDENT = /^[a-z_][a-z0-9_]{0,47}(\.[a-z_][a-z0-9_]{0,47})?$/;

/** Whether `table` is a name the outbox accepts: `name` or `schema.name`, lower case, letters, digits, `_`. */
export function isOutboxTableName(table: string): boolean {
  return typeof table === 'string' && IDENT.test(table);
}

function names(table: string) {
  if (!isOutboxTableName(table)) throw new RangeError(`Invalid outbox table name: ${String(table)}`);
  const bare = table.slice(table.lastIndexOf('.') + 1);
  return { table, fn: `${table}_notify`, trigger: `${bare}_notify`, channel: table };
}

/**
 * The migration that creates (`up`) or drops (`down`) the outbox table, its
 * NOTIFY function and trigger. Idempotent; run it with your migration tool,
 * e.g. in a TypeORM migration: `await queryRunner.query(outboxMigration().up)`.
 * @publicApi
 */
export function outboxMigration(table: string = DEFAULT_OUTBOX_TABLE): { up: string; down: string } {
  const n = names(table);
  const up = `CREATE TABLE IF NOT EXISTS ${n.table} (
  id bigserial PRIMARY KEY,
  created_at timestamptz NOT NULL DEFAULT now(),
  payload text NOT NULL
);
CREATE OR REPLACE FUNCTION ${n.fn}() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  PERFORM pg_notify('${n.channel}', '');
  RETURN NULL;
END $$;
DROP TRIGGER IF EXISTS ${n.trigger} ON ${n.table};
CREATE TRIGGER ${n.trigger} AFTER INSERT ON ${n.table}
  FOR EACH STATEMENT EXECUTE FUNCTION ${n.fn}();`;
  const down = `DROP TABLE IF EXISTS ${n.table};
DROP FUNCTION IF EXISTS ${n.fn}();`;
  return { up, down };
}

/** The statements the outbox and its relay run. @internal */
export function outboxStatements(table: string) {
  const n = names(table);
  return {
    channel: n.channel,
    insert: `INSERT INTO ${n.table} (payload) VALUES ($1)`,
    /** Committed rows no other relay holds, oldest first. */
    claim: `SELECT id, payload FROM ${n.table} ORDER BY id LIMIT $1 FOR UPDATE SKIP LOCKED`,
    remove: `DELETE FROM ${n.table} WHERE id = ANY($1::bigint[])`,
    /** Age in ms of the oldest row, and (capped) how many rows wait. */
    lag: `SELECT (SELECT (extract(epoch FROM clock_timestamp() - created_at) * 1000)::float8 FROM ${n.table} ORDER BY id LIMIT 1) AS lag_ms,
  (SELECT count(*)::int FROM (SELECT 1 FROM ${n.table} LIMIT 10000) c) AS pending`,
    /** Serializes concurrent `synchronize` runs (tests, several processes booting at once). */
    lock: `SELECT pg_advisory_xact_lock(hashtext('${n.table}'))`,
  };
}
