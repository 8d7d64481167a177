export * from './ack.ts';
export * from './errors.ts';
export * from './flags.ts';
export * from './service.ts';
export * from './types.ts';
