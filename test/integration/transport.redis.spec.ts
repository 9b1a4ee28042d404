import { RedisTransport } from '../../src/transport/index.js';
import { cleanupPrefix, REDIS_URL, testPrefix } from '../utils/redis.js';
import { describeTransportContract } from './transport.contract.js';

describeTransportContract('redis', async () => {
  const prefix = testPrefix('contract');
  const transport = new RedisTransport({ url: REDIS_URL, prefix });
  return {
    transport,
    cleanup: async () => {
      await transport.close();
      await cleanupPrefix(prefix);
    },
  };
});
