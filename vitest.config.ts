import { defineConfig } from 'vitest/config';

// Three projects: the unit tests run in parallel; the PC/SC tests share one pcscd and its two
// vpcd slots (and one of them restarts pcscd), so they run one file at a time; the shipped suites
// run last, alone, since each keeps both cores busy with browsers, portals and cards.
export default defineConfig({
  test: {
    testTimeout: 60_000,
    hookTimeout: 120_000,
    pool: 'forks',
    projects: [
      { extends: true, test: { name: 'unit', include: ['test/**/*.test.ts'], exclude: ['test/pcsc/**', 'test/suites/**'] } },
      { extends: true, test: { name: 'pcsc', include: ['test/pcsc/**/*.test.ts'], fileParallelism: false, sequence: { groupOrder: 1 } } },
      { extends: true, test: { name: 'suites', include: ['test/suites/**/*.test.ts'], fileParallelism: false, sequence: { groupOrder: 2 } } },
    ],
  },
});
