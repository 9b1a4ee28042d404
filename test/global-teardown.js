export default async function globalTeardown() {
  const child = globalThis.__TQ_REDIS__;
  if (child && child.exitCode === null) child.kill('SIGTERM');
}
