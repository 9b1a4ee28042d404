import { RedisTransport } from '../../src/transport/index.js';
import { testPrefix } from '../utils/redis.js';
import { TestRedisCluster } from '../utils/redis-servers.js';
import { describeTransportContract } from './transport.contract.js';

// The same contract on a Redis Cluster of 3 masters and 3 replicas, started for this file.
let cluster: TestRedisCluster;

beforeAll(async () => {
  cluster = await TestRedisCluster.start();
}, 60_000);

afterAll(async () => {
  await cluster?.stop();
});

describeTransportContract('redis cluster', async () => {
  const transport = new RedisTransport({ url: cluster.url, prefix: testPrefix('contract-cluster') });
  expect(transport.cluster).toBe(true);
  return { transport, cleanup: () => transport.close() };
});
