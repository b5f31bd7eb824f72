// The demo's scenarios, for `greenlight demo --help` and its --scenario choices without loading the
// demo (it imports the whole local endpoint).

export const scenarios = ['deploy', 'broken', 'multi', 'promote'] as const;
export type Scenario = (typeof scenarios)[number];
