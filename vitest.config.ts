import { defineConfig } from 'vitest/config';

// Three projects: the unit tests run in parallel; the PC/SC tests share one pcscd and its two
// vpcd slots (and one of them restarts pcscd), so they run one file at a time; the shipped suites
// run last, alone, since each keeps both cores busy with browsers, portals and cards.
// `jpki-hil-sources`: the package's own entries (jpki-hil/steps, which the shipped step modules
// import) resolve to the sources under test, not to the built dist/.
export default defineConfig({
  resolve: { conditions: ['jpki-hil-sources'] },
  ssr: { resolve: { conditions: ['jpki-hil-sources'], externalConditions: ['jpki-hil-sources'] } },
  test: {
    // Two unit files at a time on a 2-core machine (vitest's default is one fewer than the cores):
    // most of them wait on child processes, sockets and browsers rather than compute.
    maxWorkers: 2,
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
