export * from './app-error.ts';
export { httpStatusFor } from './http-status.ts';
export * from './failure-reasons.ts';
