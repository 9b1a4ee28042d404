import { MemoryBeatStore } from '../../src/transport/memory/memory-beat.store.js';
import { MemoryTransport } from '../../src/transport/index.js';
import { describeBeatStoreContract } from './beat-store.contract.js';

describeBeatStoreContract('memory', async () => {
  const transport = new MemoryTransport();
  return { store: MemoryBeatStore.for(transport), transport, cleanup: () => transport.close() };
});

describe('MemoryBeatStore.for', () => {
  afterEach(async () => {
    await MemoryTransport.resetShared();
  });

  it('shares schedules between stores of the same shared broker, not across brokers', async () => {
    const a = MemoryBeatStore.for(MemoryTransport.shared('beat-a'));
    const b = MemoryBeatStore.for(MemoryTransport.shared('beat-a'));
    const c = MemoryBeatStore.for(MemoryTransport.shared('beat-c'));
    await a.upsert({ name: 'x', task: 't', queue: 'q', every: 10, args: [], catchUp: 'skip', source: 'api' }, 0);
    expect((await b.list()).map((s) => s.name)).toEqual(['x']);
    expect(await c.list()).toEqual([]);
  });

  it('publishes claimed ticks through the shared transport', async () => {
    const t = MemoryTransport.shared('beat-pub');
    const s = await MemoryBeatStore.for(t).upsert(
      { name: 'x', task: 't', queue: 'q', every: 10, args: [], catchUp: 'skip', source: 'api' },
      0,
    );
    expect(
      await MemoryBeatStore.for(MemoryTransport.shared('beat-pub')).claim(s, 10, {
        queue: 'q',
        id: 'm1',
        priority: 5,
        raw: '{"id":"m1","priority":5}',
      }),
    ).toBe('published');
    expect(await MemoryTransport.shared('beat-pub').counts('q')).toMatchObject({ ready: 1 });
  });
});
