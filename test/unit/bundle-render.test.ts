import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { describe, expect, it } from 'vitest';
import { parse as parseYaml } from 'yaml';
import { renderBundle } from '../../shared/bundle/render.ts';
import { readBundleTemplates } from '../../shared/bundle/templates.ts';
import { BundleRenderError } from '../../shared/errors.ts';

const registry = '123456789012.dkr.ecr.eu-west-1.amazonaws.com';
const pin = (repository: string, hex = 'a') => `${registry}/${repository}@sha256:${hex.repeat(64)}`;
const text = (bytes: Uint8Array | undefined) => new TextDecoder().decode(bytes);
const examples = resolve(import.meta.dirname, '../../examples/bundles');

describe('renderBundle', () => {
  it('renders a v1 Dockerrun with the pinned image and ebextensions', () => {
    const templates = readBundleTemplates(examples, { dockerrun: 'hello-api/Dockerrun.aws.json', ebextensions: 'hello-api/.ebextensions' });
    const rendered = renderBundle(templates, { 'hello-api': pin('hello-api') });
    expect(rendered.dockerrunVersion).toBe(1);
    expect(Object.keys(rendered.entries).sort()).toEqual(['.ebextensions/01-env.config', 'Dockerrun.aws.json']);
    const dockerrun = JSON.parse(text(rendered.entries['Dockerrun.aws.json']));
    expect(dockerrun.Image.Name).toBe(pin('hello-api'));
    expect(dockerrun.Ports[0].ContainerPort).toBe(8080);
    expect(rendered.images).toEqual({ 'hello-api': pin('hello-api') });
  });

  it('re-serialises the Dockerrun as stable two-space JSON', () => {
    const rendered = renderBundle({ dockerrun: '{"AWSEBDockerrunVersion":"1","Image":{"Name":"{{ image:api }}"},"Ports":[{"ContainerPort":80}]}' }, { api: pin('api') });
    expect(text(rendered.entries['Dockerrun.aws.json'])).toBe(
      `{\n  "AWSEBDockerrunVersion": "1",\n  "Image": {\n    "Name": "${pin('api')}"\n  },\n  "Ports": [\n    {\n      "ContainerPort": 80\n    }\n  ]\n}\n`,
    );
  });

  it('renders a v2 Dockerrun with one pinned image per container', () => {
    const templates = readBundleTemplates(examples, { dockerrun: 'shop/Dockerrun.aws.json' });
    const images = { 'shop-client': pin('shop-client', 'c'), 'shop-server': pin('shop-server', 'd'), 'shop-worker': pin('shop-worker', 'e'), 'shop-nginx': pin('shop-nginx', 'f') };
    const rendered = renderBundle(templates, images);
    expect(rendered.dockerrunVersion).toBe(2);
    const containers = JSON.parse(text(rendered.entries['Dockerrun.aws.json'])).containerDefinitions;
    expect(containers.map((c: { name: string; image: string }) => [c.name, c.image])).toEqual([
      ['client', images['shop-client']],
      ['server', images['shop-server']],
      ['worker', images['shop-worker']],
      ['nginx', images['shop-nginx']],
    ]);
    expect(containers[3].links).toEqual(['client', 'server']);
    expect(rendered.images).toEqual(images);
  });

  it('renders a v3 bundle with docker-compose.yml', () => {
    const templates = readBundleTemplates(examples, { dockerrun: 'reports/Dockerrun.aws.json', compose: 'reports/docker-compose.yml' });
    const rendered = renderBundle(templates, { reports: pin('reports') });
    expect(rendered.dockerrunVersion).toBe(3);
    expect(parseYaml(text(rendered.entries['docker-compose.yml'])).services.reports.image).toBe(pin('reports'));
  });

  it('refuses v3 without a compose template', () => {
    expect(() => renderBundle({ dockerrun: '{"AWSEBDockerrunVersion":"3"}' }, {})).toThrow(/version 3 runs Docker Compose/);
  });

  it('refuses a compose template next to a v1 Dockerrun', () => {
    expect(() => renderBundle({ dockerrun: `{"AWSEBDockerrunVersion":1,"Image":{"Name":"nginx:1"}}`, compose: 'services: {}' }, {})).toThrow(BundleRenderError);
  });

  it('refuses a compose service that builds instead of pulling', () => {
    const compose = 'services:\n  web:\n    build: .\n';
    expect(() => renderBundle({ dockerrun: '{"AWSEBDockerrunVersion":"3"}', compose }, {})).toThrow(/service web must name an image and must not build/);
  });

  it.each([['"4"'], ['"2"'], ['null']])('names an unsupported AWSEBDockerrunVersion %s', (value) => {
    expect(() => renderBundle({ dockerrun: `{"AWSEBDockerrunVersion":${value}}` }, {})).toThrow(new RegExp(`AWSEBDockerrunVersion ${value.replace(/"/g, '\\"')}`));
  });

  it('needs Image.Name in a v1 Dockerrun', () => {
    expect(() => renderBundle({ dockerrun: '{"AWSEBDockerrunVersion":"1","Image":{}}' }, {})).toThrow(/needs Image\.Name/);
  });

  it('needs named containers with images in a v2 Dockerrun', () => {
    expect(() => renderBundle({ dockerrun: '{"AWSEBDockerrunVersion":2,"containerDefinitions":[]}' }, {})).toThrow(/non-empty containerDefinitions/);
    expect(() => renderBundle({ dockerrun: '{"AWSEBDockerrunVersion":2,"containerDefinitions":[{"name":"a"}]}' }, {})).toThrow(/containerDefinitions\[0\] needs both name and image/);
  });

  it('names the repository and file of a placeholder without an image', () => {
    const ebextensions = { '01-x.config': 'option_settings:\n  X: "{{image:sidecar}}"\n' };
    expect(() =>
      renderBundle({ dockerrun: '{"AWSEBDockerrunVersion":"1","Image":{"Name":"{{image:api}}"},"Ports":[{"ContainerPort":80}]}', ebextensions }, { api: pin('api') }),
    ).toThrow(/\.ebextensions\/01-x\.config uses \{\{image:sidecar\}\}/);
  });

  it('refuses one of our ECR images referenced by tag instead of digest', () => {
    const dockerrun = `{"AWSEBDockerrunVersion":2,"containerDefinitions":[{"name":"a","image":"{{image:api}}","memory":128},{"name":"b","image":"${registry}/worker:latest","memory":128}]}`;
    expect(() => renderBundle({ dockerrun }, { api: pin('api'), worker: pin('worker') })).toThrow(/worker:latest, which is not pinned by digest/);
  });

  it('accepts third-party images by tag', () => {
    const dockerrun = `{"AWSEBDockerrunVersion":2,"containerDefinitions":[{"name":"a","image":"{{image:api}}","memory":128},{"name":"cache","image":"redis:7","memoryReservation":64}]}`;
    expect(renderBundle({ dockerrun }, { api: pin('api') }).images).toEqual({ api: pin('api') });
  });

  it('refuses a Dockerrun that is not JSON or an ebextension that is not YAML', () => {
    expect(() => renderBundle({ dockerrun: '{nope' }, {})).toThrow(/not valid JSON/);
    const dockerrun = '{"AWSEBDockerrunVersion":"1","Image":{"Name":"nginx:1"},"Ports":[{"ContainerPort":80}]}';
    expect(() => renderBundle({ dockerrun, ebextensions: { 'bad.config': 'a: [' } }, {})).toThrow(/\.ebextensions\/bad\.config is neither YAML nor JSON/);
  });

  it('never emits a Dockerfile', () => {
    const rendered = renderBundle({ dockerrun: '{"AWSEBDockerrunVersion":"1","Image":{"Name":"nginx:1"},"Ports":[{"ContainerPort":80}]}', ebextensions: { Dockerfile: 'x: 1' } }, {});
    expect(Object.keys(rendered.entries)).toEqual(['Dockerrun.aws.json', '.ebextensions/Dockerfile.config']);
  });
});

describe('readBundleTemplates', () => {
  const fixtures = resolve(import.meta.dirname, '../fixtures');

  it('reads only .config files of the ebextensions folder, sorted', () => {
    const templates = readBundleTemplates(fixtures, { dockerrun: 'bundle-templates/Dockerrun.aws.json', ebextensions: 'bundle-templates/.ebextensions' });
    expect(Object.keys(templates.ebextensions ?? {})).toEqual(['01-a.config', '02-b.config']);
    expect(templates.dockerrun).toBe(readFileSync(resolve(fixtures, 'bundle-templates/Dockerrun.aws.json'), 'utf8'));
  });

  it('names the absolute path of a missing template', () => {
    expect(() => readBundleTemplates(fixtures, { dockerrun: 'nowhere/Dockerrun.aws.json' })).toThrow(resolve(fixtures, 'nowhere/Dockerrun.aws.json'));
    expect(() => readBundleTemplates(fixtures, { dockerrun: 'bundle-templates/Dockerrun.aws.json', ebextensions: 'missing' })).toThrow(BundleRenderError);
  });
});
