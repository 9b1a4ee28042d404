import { TaskQueueConfigError } from '../../src/index.js';
import { resolveModuleOptions } from '../../src/task-queue.options.js';

describe("protocol 'celery' options", () => {
  it("defaults to our own protocol, and to Celery's default queue in Celery mode", () => {
    expect(resolveModuleOptions({ brokerUrl: 'redis://h:6379' }, {})).toMatchObject({
      protocol: 'taskqueue',
      defaultQueue: 'default',
    });
    expect(resolveModuleOptions({ brokerUrl: 'redis://h:6379', protocol: 'celery' }, {})).toMatchObject({
      protocol: 'celery',
      defaultQueue: 'celery',
    });
    expect(
      resolveModuleOptions({ brokerUrl: 'redis://h:6379', protocol: 'celery', defaultQueue: 'py' }, {}).defaultQueue,
    ).toBe('py');
  });

  it('refuses the memory broker and unknown protocols, naming the option', () => {
    expect(() => resolveModuleOptions({ brokerUrl: 'memory://', protocol: 'celery' }, {})).toThrow(
      TaskQueueConfigError,
    );
    expect(() => resolveModuleOptions({ brokerUrl: 'memory://', protocol: 'celery' }, {})).toThrow(/protocol/);
    expect(() =>
      resolveModuleOptions({ brokerUrl: 'redis://h:6379', protocol: 'amqp' as unknown as 'celery' }, {}),
    ).toThrow(/protocol/);
    expect(() =>
      resolveModuleOptions({ brokerUrl: 'redis://h:6379', protocol: 'celery', durability: { replicas: 1 } }, {}),
    ).toThrow(/durability/);
    expect(() =>
      resolveModuleOptions({ brokerUrl: 'redis://h:6379', protocol: 'celery', queues: { py: { shards: 4 } } }, {}),
    ).toThrow(/sharded queues/);
    expect(() => resolveModuleOptions({ brokerUrl: 'redis+cluster://h:7000,h:7001', protocol: 'celery' }, {})).toThrow(
      /single Redis server/,
    );
  });
});
