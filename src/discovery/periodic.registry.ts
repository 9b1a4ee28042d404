import { Injectable } from '@nestjs/common';
import type { PeriodicMetadata } from '../decorators/periodic.decorator.js';
import type { TaskDefinition } from './task.registry.js';

/** One @Periodic() found at bootstrap, as written; the beat layer validates and resolves it. @internal */
export interface DiscoveredPeriodic {
  /** `Class#method`, for messages. */
  site: string;
  /** The task the method is registered as (implicitly when it has no @Task()). */
  task: TaskDefinition;
  meta: PeriodicMetadata;
}

/** Every @Periodic() of this application, filled by the explorer. Final after bootstrap. @internal */
@Injectable()
export class PeriodicRegistry {
  private readonly entries: DiscoveredPeriodic[] = [];

  add(entry: DiscoveredPeriodic): void {
    this.entries.push(entry);
  }

  all(): readonly DiscoveredPeriodic[] {
    return this.entries;
  }
}
