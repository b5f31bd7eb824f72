import { execFile } from 'node:child_process';
import { chmodSync, mkdirSync, mkdtempSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { promisify } from 'node:util';
import { describe, expect, it } from 'vitest';
import { excludeMatcher, scanIncludes } from '../../shared/bundle/files.ts';
import { renderBundle } from '../../shared/bundle/render.ts';
import { readBundleTemplates } from '../../shared/bundle/templates.ts';
import { readBundle, sha256Hex, zipBundle, zipEntryModes } from '../../shared/bundle/zip.ts';
import { BundleRenderError } from '../../shared/errors.ts';

const root = resolve(import.meta.dirname, '../..');
const image = `123456789012.dkr.ecr.eu-west-1.amazonaws.com/api@sha256:${'a'.repeat(64)}`;
const dockerrun = '{"AWSEBDockerrunVersion":"1","Image":{"Name":"{{image:api}}"},"Ports":[{"ContainerPort":80}]}';

/** A folder with the given files (text, and a mode when it matters), returned as its path. */
function folderWith(files: Record<string, string | { text: string; mode: number }>): string {
  const folder = mkdtempSync(join(tmpdir(), 'greenlight-include-'));
  for (const [path, content] of Object.entries(files)) {
    mkdirSync(dirname(join(folder, path)), { recursive: true });
    const { text, mode } = typeof content === 'string' ? { text: content, mode: 0o644 } : content;
    writeFileSync(join(folder, path), text);
    chmodSync(join(folder, path), mode);
  }
  return folder;
}

function zipOf(folder: string, bundle: { include: string[]; exclude?: string[] }): Uint8Array {
  const rendered = renderBundle(readBundleTemplates(folder, { dockerrun: 'app/Dockerrun.aws.json', ...bundle }), { api: image });
  return zipBundle(rendered.entries, rendered.executables);
}

describe('bundle.include', () => {
  it('places included files at their paths relative to the Dockerrun template folder, where EB and /var/app/current expect them', () => {
    const templates = readBundleTemplates(root, {
      dockerrun: 'examples/dockdj/Dockerrun.aws.json',
      include: ['examples/dockdj'],
      exclude: ['Dockerfile', 'app/', 'README.md'],
    });
    const rendered = renderBundle(templates, { 'dockdj-web': image });
    expect(Object.keys(rendered.entries).sort()).toEqual([
      '.platform/hooks/predeploy/01-migrate.sh',
      '.platform/nginx/conf.d/timeouts.conf',
      'Dockerrun.aws.json',
      'gunicorn/gunicorn.conf.py',
      'proxy/conf.d/default.conf',
    ]);
    expect(rendered.executables).toEqual(['.platform/hooks/predeploy/01-migrate.sh']);
    // The template itself is rendered (pinned image), never copied as it is.
    expect(new TextDecoder().decode(rendered.entries['Dockerrun.aws.json'])).toContain(image);
  });

  it('writes platform hooks and files executable at the source 0755, everything else 0644, whatever the source modes', () => {
    const folder = folderWith({
      'app/Dockerrun.aws.json': dockerrun,
      'app/.platform/hooks/predeploy/01-migrate.sh': { text: '#!/bin/sh\n', mode: 0o600 },
      'app/.platform/confighooks/postdeploy/02-reload.sh': { text: '#!/bin/sh\n', mode: 0o644 },
      'app/bin/warm-cache': { text: '#!/bin/sh\n', mode: 0o700 },
      'app/proxy/conf.d/default.conf': { text: 'server {}\n', mode: 0o600 },
      'app/.platform/nginx/conf.d/x.conf': { text: 'x;\n', mode: 0o664 },
    });
    const modes = zipEntryModes(zipOf(folder, { include: ['app/.platform', 'app/bin', 'app/proxy'] }));
    expect(modes).toEqual({
      '.platform/confighooks/postdeploy/02-reload.sh': 0o755,
      '.platform/hooks/predeploy/01-migrate.sh': 0o755,
      '.platform/nginx/conf.d/x.conf': 0o644,
      'Dockerrun.aws.json': 0o644,
      'bin/warm-cache': 0o755,
      'proxy/conf.d/default.conf': 0o644,
    });
  });

  it('gives identical bytes in any time zone and under any umask (child processes with their own TZ and umask)', async () => {
    // The four children run at once (each is a tsx start): same processes, less waiting.
    const hash = async (tz: string, umask: string) =>
      (
        await promisify(execFile)('sh', ['-c', `umask ${umask} && exec "$0" --import tsx test/fixtures/scripts/bundle-hash.ts "$1"`, process.execPath, mkdtempSync(join(tmpdir(), 'greenlight-tz-'))], {
          cwd: root,
          env: { ...process.env, TZ: tz },
          encoding: 'utf8',
        })
      ).stdout.trim();
    const hashes = await Promise.all([hash('UTC', '022'), hash('Pacific/Kiritimati', '077'), hash('America/St_Johns', '002'), hash('Asia/Kathmandu', '027')]);
    expect(hashes[0]).toMatch(/^[0-9a-f]{64}$/);
    expect(new Set(hashes).size).toBe(1);
  }, 60_000);

  it('sorts entries and keeps their bytes, so the same files zip to the same hash', () => {
    const files = { 'app/Dockerrun.aws.json': dockerrun, 'app/proxy/b.conf': 'b\n', 'app/proxy/a.conf': 'a\n', 'app/.platform/nginx/conf.d/z.conf': 'z\n' };
    const zip = zipOf(folderWith(files), { include: ['app/proxy', 'app/.platform'] });
    expect(Object.keys(readBundle(zip))).toEqual(['.platform/nginx/conf.d/z.conf', 'Dockerrun.aws.json', 'proxy/a.conf', 'proxy/b.conf']);
    expect(sha256Hex(zipOf(folderWith(Object.fromEntries(Object.entries(files).reverse())), { include: ['app/.platform', 'app/proxy'] }))).toBe(sha256Hex(zip));
  });
});

describe('bundle.exclude', () => {
  it('reads patterns as .ebignore does: names at any depth, anchored paths, folders, and ! to bring a file back', () => {
    const excluded = excludeMatcher(['*.pyc', '__pycache__/', '/docs/*.md', 'tests/', '!keep.pyc']);
    expect(excluded('app/module.pyc')).toBe(true);
    expect(excluded('module.pyc')).toBe(true);
    expect(excluded('keep.pyc')).toBe(false);
    expect(excluded('app/__pycache__/x.py')).toBe(true);
    expect(excluded('docs/intro.md')).toBe(true);
    expect(excluded('app/docs/intro.md')).toBe(false);
    expect(excluded('tests/test_api.py')).toBe(true);
    expect(excluded('proxy/tests')).toBe(false);
    expect(excluded('proxy/conf.d/default.conf')).toBe(false);
  });

  it('leaves excluded files out of the zip', () => {
    const folder = folderWith({
      'app/Dockerrun.aws.json': dockerrun,
      'app/Dockerfile': 'FROM scratch\n',
      'app/src/main.py': 'print(1)\n',
      'app/src/main.pyc': 'x',
      'app/proxy/conf.d/default.conf': 'server {}\n',
    });
    const files = Object.keys(readBundle(zipOf(folder, { include: ['app'], exclude: ['Dockerfile', '*.pyc', 'src/'] })));
    expect(files).toEqual(['Dockerrun.aws.json', 'proxy/conf.d/default.conf']);
  });
});

describe('what an include may not bring', () => {
  it('refuses a Dockerfile, which would make EB build instead of pulling, and says how to leave it out', () => {
    const folder = folderWith({ 'app/Dockerrun.aws.json': dockerrun, 'app/Dockerfile': 'FROM scratch\n', 'app/proxy/x.conf': 'x\n' });
    const { problems } = scanIncludes(folder, { dockerrun: 'app/Dockerrun.aws.json', include: ['app'] });
    expect(problems).toEqual([{ index: 0, message: expect.stringMatching(/^Dockerfile is a Dockerfile: .*build an image instead of running the pushed one; add it to bundle\.exclude/) }]);
    expect(() => zipOf(folder, { include: ['app'] })).toThrow(BundleRenderError);
    expect(() => renderBundle({ dockerrun, files: [{ entry: 'Dockerfile', bytes: new Uint8Array(), executable: false }] }, { api: image })).toThrow(/Dockerfile is a Dockerfile/);
  });

  it('names each include it cannot use: missing, outside the bundle root, a symbolic link, adding nothing', () => {
    const folder = folderWith({ 'app/Dockerrun.aws.json': dockerrun, 'app/empty/.keep': '', 'elsewhere/x.conf': 'x\n', 'app/proxy/real.conf': 'x\n' });
    symlinkSync(join(folder, 'app/proxy/real.conf'), join(folder, 'app/proxy/link.conf'));
    const { problems } = scanIncludes(folder, {
      dockerrun: 'app/Dockerrun.aws.json',
      include: ['app/missing', 'elsewhere', 'app/proxy', 'app/empty'],
      exclude: ['.keep'],
    });
    expect(problems).toEqual([
      { index: 0, message: expect.stringMatching(/^cannot read app\/missing .*no such file or folder/) },
      { index: 1, message: expect.stringMatching(/^elsewhere is not inside the folder of the Dockerrun template/) },
      { index: 2, message: expect.stringMatching(/^proxy\/link\.conf is a symbolic link/) },
      { index: 3, message: expect.stringMatching(/^app\/empty adds no file to the bundle/) },
    ]);
  });

  it('refuses an included file that would replace a file greenlight renders', () => {
    const files = [{ entry: 'Dockerrun.aws.json', bytes: new TextEncoder().encode('{}'), executable: false }];
    expect(() => renderBundle({ dockerrun, files }, { api: image })).toThrow(/Dockerrun\.aws\.json is written by greenlight/);
  });
});
