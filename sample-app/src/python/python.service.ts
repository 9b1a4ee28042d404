import { Injectable } from '@nestjs/common';
import { Task } from 'nestjs-taskqueue';

/** A task Python code can call (with TASKQUEUE_PROTOCOL=celery): `app.send_task('sample.multiply', (4, 5), queue='default')`. */
@Injectable()
export class PythonService {
  @Task({ name: 'sample.multiply' })
  multiply(a: number, b: number): number {
    return a * b;
  }
}
