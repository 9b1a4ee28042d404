import type { INestApplicationContext } from '@nestjs/common';

/**
 * For process entrypoints (worker, beat): on SIGTERM or SIGINT, run `stop`
 * (drain) first, then close the application, then exit 0; a second signal
 * exits 1 at once. Draining comes before `app.close()` because Nest runs the
 * application's own onModuleDestroy hooks before any shutdown hook of ours, and
 * running work may still need those providers.
 * @internal
 */
export function closeOnSignals(
  app: INestApplicationContext,
  role: string,
  stop: () => Promise<void>,
  exitOnSignal: boolean,
): void {
  let stopping = false;
  const onSignal = (signal: NodeJS.Signals) => {
    if (stopping) process.exit(1);
    stopping = true;
    stop()
      .then(() => app.close())
      .then(() => exitOnSignal && process.exit(0))
      .catch((err) => {
        console.error(`${role} shutdown after ${signal} failed:`, err);
        process.exit(1);
      });
  };
  process.on('SIGTERM', onSignal);
  process.on('SIGINT', onSignal);
}
