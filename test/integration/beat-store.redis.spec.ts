import { RedisBeatStore } from '../../src/transport/redis/redis-beat.store.js';
import { RedisTransport } from '../../src/transport/index.js';
import { cleanupPrefix, REDIS_URL, testPrefix } from '../utils/redis.js';
import { describeBeatStoreContract } from './beat-store.contract.js';

describeBeatStoreContract('redis', async () => {
  const prefix = testPrefix('beat-store');
  const transport = new RedisTransport({ url: REDIS_URL, prefix });
  const store = new RedisBeatStore(transport.redis, transport.keys);
  return {
    store,
    transport,
    cleanup: async () => {
      await transport.close();
      await cleanupPrefix(prefix);
    },
  };
});

describe('RedisBeatStore key layout', () => {
  it("keeps a schedule's state in its queue's hash slot, and beat-wide keys under {@beat}", () => {
    const store = new RedisBeatStore(
      { defineCommand: () => undefined } as never,
      new RedisTransport({ prefix: 'p', client: { defineCommand: () => undefined } as never }).keys,
    );
    expect(store.keys.schedule('email', 'nightly')).toBe('p:{email}:beat:nightly');
    expect(store.keys.index()).toBe('p:{@beat}:index');
    expect(store.keys.leader()).toBe('p:{@beat}:leader');
    expect(store.keys.heartbeat()).toBe('p:{@beat}:heartbeat');
  });
});
