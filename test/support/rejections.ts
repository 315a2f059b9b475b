/**
 * Unhandled promise rejections, caught per test: the sync node must never leave a promise
 * rejected and unhandled (issue #13), and a test asserts that the list stays empty.
 */
import { afterEach, beforeEach } from 'node:test';

/**
 * The unhandled rejections of the running test, collected from its start (the list is emptied
 * before each test of this file and the listener removed after it). Call at the top level of a
 * test file: it registers the file's beforeEach and afterEach hooks.
 */
export function collectRejections(): unknown[] {
  const rejections: unknown[] = [];
  const onRejection = (reason: unknown): void => {
    rejections.push(reason);
  };
  beforeEach(() => {
    rejections.length = 0;
    process.on('unhandledRejection', onRejection);
  });
  afterEach(() => {
    process.off('unhandledRejection', onRejection);
  });
  return rejections;
}
