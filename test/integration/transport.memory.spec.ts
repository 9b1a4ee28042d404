import { MemoryTransport } from '../../src/transport/index.js';
import { describeTransportContract } from './transport.contract.js';

describeTransportContract('memory', async () => {
  const transport = new MemoryTransport();
  return { transport, cleanup: () => transport.close() };
});

describe('MemoryTransport.shared', () => {
  afterEach(async () => {
    await MemoryTransport.resetShared();
  });

  it('returns one broker per name', () => {
    const a = MemoryTransport.shared('contract-a');
    expect(MemoryTransport.shared('contract-a')).toBe(a);
    expect(MemoryTransport.shared('contract-b')).not.toBe(a);
    expect(MemoryTransport.shared()).toBe(MemoryTransport.shared('default'));
  });

  it('lets a publisher and a consumer that look it up separately see the same messages', async () => {
    const publisher = MemoryTransport.shared('contract-shared');
    const consumer = MemoryTransport.shared('contract-shared');
    await publisher.publish([{ queue: 'q', id: 'm1', priority: 5, raw: '{"id":"m1","priority":5}' }]);
    expect(await consumer.counts('q')).toMatchObject({ ready: 1 });
  });

  it('resetShared gives fresh brokers', async () => {
    const before = MemoryTransport.shared('contract-reset');
    await before.publish([{ queue: 'q', id: 'm1', priority: 5, raw: '{"id":"m1","priority":5}' }]);
    await MemoryTransport.resetShared();
    const after = MemoryTransport.shared('contract-reset');
    expect(after).not.toBe(before);
    expect(await after.counts('q')).toMatchObject({ ready: 0 });
  });

  it('caps the dead-letter list at parkedCap, keeping the newest', async () => {
    const t = new MemoryTransport({ parkedCap: 2 });
    for (const id of ['a', 'b', 'c']) await t.reject('q', id, `{"id":"${id}"}`, 'malformed');
    expect((await t.listRejected('q')).map((e) => e.id)).toEqual(['c', 'b']);
    await t.close();
  });
});
