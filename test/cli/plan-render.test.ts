/**
 * `greenlight plan --render --diff` and `greenlight validate`, run in-process through cli/main.ts
 * against the local endpoint (the harness sets AWS_ENDPOINT_URL and credentials for this process).
 */
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { main } from '../../cli/main.ts';
import { type Pipeline, startPipeline } from '../workflow/harness.ts';

const configPath = new URL('../fixtures/workflow.greenlight.yml', import.meta.url).pathname;
let pipeline: Pipeline;

/** Runs the CLI in this process and returns its exit code and what it printed. */
async function greenlight(...args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  let stdout = '';
  let stderr = '';
  const out = vi.spyOn(process.stdout, 'write').mockImplementation((chunk) => {
    stdout += String(chunk);
    return true;
  });
  const err = vi.spyOn(process.stderr, 'write').mockImplementation((chunk) => {
    stderr += String(chunk);
    return true;
  });
  try {
    const code = await main(['node', 'greenlight', ...args]);
    return { code, stdout, stderr };
  } finally {
    out.mockRestore();
    err.mockRestore();
  }
}

beforeAll(async () => {
  pipeline = await startPipeline({ configPath });
}, 60_000);
afterAll(() => pipeline?.close());

describe('greenlight plan --render --diff', () => {
  const uri = (repository: string) => pipeline.stack.aws.ecr.repositoryUri(repository);

  it('renders the bundle a push would deploy and diffs it against what each target environment runs', async () => {
    const first = await pipeline.deploy('hello-api', 'v1.0.0');
    expect(first.description.status).toBe('SUCCEEDED');
    pipeline.stack.aws.faults.dropEcrEvents = 1; // pushed, not deployed: what plan is for
    const next = await pipeline.push('hello-api', 'v1.1.0');

    const run = await greenlight('plan', 'hello-api:v1.1.0', '--config', configPath, '--render', '--diff');
    expect(run.stderr).toBe('');
    expect(run.code).toBe(0);
    expect(run.stdout).toMatch(/Bundle rendered for hello-api-dev \(promoted as the same bytes to hello-api-staging\): Dockerrun v1, 2 files/);
    expect(run.stdout).toContain(`hello-api  ${uri('hello-api')}@${next}  this push`);
    expect(run.stdout).toMatch(/-rw-r--r-- +\d+ +\.ebextensions\/01-env\.config/);
    expect(run.stdout).toContain(`"Name": "${uri('hello-api')}@${next}"`);
    const label = first.output.stages[0].release.versionLabel as string;
    for (const environment of ['hello-api-dev', 'hello-api-staging']) {
      expect(run.stdout).toContain(`Diff against ${environment} (runs version ${label}; a/ runs now, b/ this push):`);
    }
    expect(run.stdout).toContain('--- a/Dockerrun.aws.json');
    expect(run.stdout).toContain(`-    "Name": "${uri('hello-api')}@${first.digest}",`);
    expect(run.stdout).toContain(`+    "Name": "${uri('hello-api')}@${next}",`);
    // The ebextensions did not change: the diff names only the Dockerrun.
    expect(run.stdout).not.toContain('a/.ebextensions/01-env.config');
    expect(run.stdout).toContain('Nothing was deployed (dry run).');
  });

  it('uses, for the other containers, the digests the push would use, and says which file changes', async () => {
    pipeline.stack.aws.faults.dropEcrEvents = 3;
    const seeded: Record<string, string> = {};
    for (const repository of ['shop-client', 'shop-worker', 'shop-nginx']) seeded[repository] = await pipeline.push(repository, 'v1.0.0');
    const deployed = await pipeline.deploy('shop-server', 'v1.0.0');
    expect(deployed.description.status).toBe('SUCCEEDED');
    pipeline.stack.aws.faults.dropEcrEvents = 2;
    const client = await pipeline.push('shop-client', 'v1.1.0');
    await pipeline.push('shop-worker', 'v1.1.0'); // newer in ECR, never deployed: the push of the client would not take it

    const run = await greenlight('plan', 'shop-client:v1.1.0', '--config', configPath, '--render', '--diff', '--json');
    expect(run.code).toBe(0);
    const plan = JSON.parse(run.stdout);
    expect(plan.bundle.images).toEqual([
      { repository: 'shop-client', reference: `${uri('shop-client')}@${client}`, source: 'pushed' },
      { repository: 'shop-server', reference: `${uri('shop-server')}@${deployed.digest}`, source: 'sibling' },
      { repository: 'shop-worker', reference: `${uri('shop-worker')}@${seeded['shop-worker']}`, source: 'sibling' },
      { repository: 'shop-nginx', reference: `${uri('shop-nginx')}@${seeded['shop-nginx']}`, source: 'sibling' },
    ]);
    expect(plan.bundle.files).toEqual([{ name: 'Dockerrun.aws.json', size: expect.any(Number), mode: '0644' }]);
    expect(plan.bundle.dockerrun.containerDefinitions[0].image).toBe(`${uri('shop-client')}@${client}`);
    const [diff] = plan.diff;
    expect(diff).toMatchObject({ environment: 'shop-dev', runningVersion: deployed.output.stages[0].release.versionLabel, identical: false });
    const changed = (diff.patch as string).split('\n').filter((line) => /^[-+] /.test(line));
    expect(changed).toEqual([`-      "image": "${uri('shop-client')}@${seeded['shop-client']}",`, `+      "image": "${uri('shop-client')}@${client}",`]);
  });

  it('says a bundle is identical to what runs when the push would change nothing', async () => {
    const run = await greenlight('plan', 'shop-server:v1.0.0', '--config', configPath, '--diff', '--json');
    const plan = JSON.parse(run.stdout);
    expect(plan.diff).toEqual([expect.objectContaining({ environment: 'shop-dev', identical: true, patch: '' })]);
  });

  it('renders with placeholder digests, and says so, when AWS is not asked', async () => {
    const run = await greenlight('plan', 'dockdj-web:v2.0.0', '--config', configPath, '--render', '--diff', '--offline');
    expect(run.code).toBe(0);
    expect(run.stdout).toContain('dockdj-web  000000000000.dkr.ecr.us-east-1.amazonaws.com/dockdj-web@sha256:0000000000000000000000000000000000000000000000000000000000000000  placeholder digest');
    expect(run.stdout).toMatch(/-rwxr-xr-x +\d+ +\.platform\/hooks\/predeploy\/01-migrate\.sh/);
    expect(run.stdout).toMatch(/-rw-r--r-- +\d+ +proxy\/conf\.d\/default\.conf/);
    expect(run.stdout).not.toContain('Dockerfile');
    expect(run.stdout).toContain('note: AWS was not asked (--offline): every digest is a placeholder');
    expect(run.stdout).toContain('Diff: not available, --offline');
  });
});

describe('greenlight validate', () => {
  it('names every problem with its path and exits 1; a valid file exits 0', async () => {
    const folder = mkdtempSync(join(tmpdir(), 'greenlight-cli-validate-'));
    writeFileSync(join(folder, 'Dockerrun.aws.json'), '{"AWSEBDockerrunVersion":"1","Image":{"Name":"{{image:api}}"},"Ports":[{"ContainerPort":80}]}');
    const bad = join(folder, 'bad.yml');
    writeFileSync(bad, 'applications:\n  api:\n    images: [api]\n    bundle: { dockerrun: Dockerrun.aws.json, include: [nothing-here] }\n    stages: [{ environment: api-dev, tags: ["regex:(?<=v)1"] }]\n    health: { timeout: 0s }\n');
    const run = await greenlight('validate', '--config', bad, '--json');
    expect(run.code).toBe(1);
    expect(JSON.parse(run.stdout)).toEqual({
      file: bad,
      valid: false,
      problems: [
        { path: 'applications.api.stages.0.tags.0', message: expect.stringContaining('RE2') },
        { path: 'applications.api.health.timeout', message: expect.stringContaining('positive') },
        { path: 'applications.api.bundle.include.0', message: expect.stringContaining('cannot read nothing-here') },
      ],
      warnings: [],
    });
    const text = await greenlight('validate', '--config', bad);
    expect(text.stdout).toContain('✘ applications.api.health.timeout: a duration must be positive');
    expect(text.stdout).toContain('3 problems in');

    const good = join(folder, 'good.yml');
    writeFileSync(good, 'applications:\n  api:\n    images: [api]\n    bundle: { dockerrun: Dockerrun.aws.json }\n    stages: [{ environment: api-dev, tags: ["git_*"] }, { environment: api-prod, tags: ["v*"] }]\n');
    const ok = await greenlight('validate', '--config', good);
    expect(ok.code).toBe(0);
    expect(ok.stdout).toContain('! applications.api.stages.1: stage api-prod looks unreachable');
    expect(ok.stdout).toContain('is valid: 1 application (api), every bundle renders, 1 warning');
  });
});
