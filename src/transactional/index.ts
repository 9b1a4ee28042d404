/**
 * `nestjs-taskqueue/transactional`: publishing tied to database transactions
 * with `@nestjs-cls/transactional`. A subpath of its own so that applications
 * without it never load it.
 */
export { publishAfterCommit } from './publish-after-commit.js';
