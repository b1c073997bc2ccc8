// The log scan runs on its own, after all other suites have written their logs (scripts/test.sh).
import base from './jest.config.js';

const { projects } = base;
/** @type {import('jest').Config} */
export default {
  ...projects[0],
  displayName: 'leaks',
  testMatch: ['<rootDir>/test/leaks/**/*.test.ts'],
};
