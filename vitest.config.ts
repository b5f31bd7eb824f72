import { availableParallelism } from 'node:os';
import { defineConfig } from 'vitest/config';

/**
 * Files whose assertions compare the handlers' real time with the state machine's scaled waits: with
 * both cores busy with other files the handlers' share grows and they fail (health-schedule counted 4
 * looks for at most 3 in a full parallel run, and passes alone), so they run last, by themselves.
 */
const alone = ['test/workflow/health-schedule.test.ts'];

export default defineConfig({
  test: {
    pool: 'forks',
    // Vitest's default (cores - 1) is one worker on a 2-core machine: every file ran after the other.
    // Most integration files spend most of their time waiting (scaled timers, local sockets, child
    // processes; the longest, concurrency, is ~70% idle), so three workers a core keep both cores
    // busy (issue 12: npm test ≤ 60 s on 2 cores). Measured on 2 cores: 4 workers 104 s, 6 workers
    // 77 s, 8 workers 79 s of vitest wall time for ~125 s of CPU.
    maxWorkers: availableParallelism() * 3,
    testTimeout: 60_000,
    hookTimeout: 60_000,
    env: { AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED: 'true' },
    projects: [
      {
        extends: true,
        test: {
          name: 'unit',
          include: ['test/unit/**/*.test.ts'],
          // Unit tests mock the SDK clients and keep no endpoint: their files share a worker and the
          // modules it loaded (starting a process and loading the SDK per file was half their CPU).
          isolate: false,
        },
      },
      {
        extends: true,
        test: {
          name: 'integration',
          include: ['test/**/*.test.ts'],
          exclude: ['test/unit/**', ...alone],
          // Handlers read their settings from process.env at load, and each file starts its own
          // endpoint: each file gets its own process.
          isolate: true,
        },
      },
      {
        extends: true,
        test: {
          name: 'alone',
          include: alone,
          isolate: true,
          // After every other file, by itself: see `alone` above.
          sequence: { groupOrder: 1 },
        },
      },
    ],
  },
});
