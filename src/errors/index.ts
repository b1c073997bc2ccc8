export * from './app-error.ts';
export { httpStatusFor } from './http-status.ts';
