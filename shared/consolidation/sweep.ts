/**
 * The deadline sweep's side of consolidation. `functions/sweep` runs every minute: `findOverdue` queries
 * the sparse `byDeadline` index for requests due (past their deadline, refused by DERMS, or frozen and
 * not delivered by an owner that may be gone), `claimOverdue` moves each one's entry a requeue interval
 * ahead (one conditional write: one deadline command per interval, never before a Retry-After of DACS
 * runs out), and the command it queues runs `consolidateOnDeadline`.
 */
export { DEFAULT_DEADLINE_REQUEUE_SECONDS, deadlineRequeueSeconds } from './context.ts';
export { consolidateOnDeadline } from './freeze.ts';
export { claimOverdue, findOverdue } from './store.ts';
