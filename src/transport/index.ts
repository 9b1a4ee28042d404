export * from './transport.interface.js';
export { RedisTransport, type RedisTransportOptions } from './redis/redis.transport.js';
export { RedisKeys } from './redis/keys.js';
export { MemoryTransport } from './memory/memory.transport.js';
