import { RedisTransport } from '../../src/transport/index.js';
import { testPrefix } from '../utils/redis.js';
import { TestRedisSentinel } from '../utils/redis-servers.js';
import { describeTransportContract } from './transport.contract.js';

// The same contract through Sentinel (a master, a replica, three sentinels, started for this file).
let sentinel: TestRedisSentinel;

beforeAll(async () => {
  sentinel = await TestRedisSentinel.start();
}, 60_000);

afterAll(async () => {
  await sentinel?.stop();
});

describeTransportContract('redis sentinel', async () => {
  const transport = new RedisTransport({ url: sentinel.url, prefix: testPrefix('contract-sentinel') });
  expect(transport.cluster).toBe(false);
  return { transport, cleanup: () => transport.close() };
});
