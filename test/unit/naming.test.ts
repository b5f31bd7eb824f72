import { describe, expect, it } from 'vitest';
import { bundleKey, executionName, versionLabel } from '../../shared/naming.ts';

const digest = `sha256:${'0123456789abcdef'.repeat(4)}`;

describe('executionName', () => {
  it('names app, tag and the first 16 hex digits of the digest', () => {
    expect(executionName('api', { tag: 'v1.2.3', digest })).toBe('api-v1-2-3-0123456789abcdef');
  });

  it('gives the same name for the same push', () => {
    expect(executionName('api', { tag: 'git_abc', digest })).toBe(executionName('api', { tag: 'git_abc', digest }));
  });

  it('replaces every character Step Functions refuses', () => {
    const name = executionName('my app/€', { tag: 'v1.2.3', digest });
    expect(name).toMatch(/^[A-Za-z0-9_-]+$/);
    expect(name).toBe('my-app---v1-2-3-0123456789abcdef');
  });

  it('stays within 80 characters and keeps the whole digest part', () => {
    const name = executionName('a'.repeat(100), { tag: 't'.repeat(128), digest });
    expect(name.length).toBeLessThanOrEqual(80);
    expect(name.endsWith('-0123456789abcdef')).toBe(true);
    expect(name).toContain('aaa');
    expect(name).toContain('ttt');
  });

  it('keeps a long tag whole when the app name is short', () => {
    const tag = 't'.repeat(59);
    expect(executionName('api', { tag, digest })).toBe(`api-${tag}-0123456789abcdef`);
    expect(executionName('api', { tag, digest })).toHaveLength(80);
  });

  it('tells different digests apart', () => {
    const other = `sha256:${'f'.repeat(64)}`;
    expect(executionName('api', { tag: 'v1', digest })).not.toBe(executionName('api', { tag: 'v1', digest: other }));
  });
});

describe('versionLabel', () => {
  it('joins the tag and 12 hex digits of the bundle hash', () => {
    expect(versionLabel('v1.2.3', 'abcdef0123456789'.repeat(4))).toBe('v1.2.3-abcdef012345');
  });

  it('truncates the tag to stay within 100 characters', () => {
    const label = versionLabel('x'.repeat(128), 'abcdef0123456789'.repeat(4));
    expect(label).toHaveLength(100);
    expect(label.endsWith('-abcdef012345')).toBe(true);
  });
});

describe('bundleKey', () => {
  it('addresses the bundle by its content', () => {
    expect(bundleKey('shop', 'ab'.repeat(32))).toBe(`bundles/shop/${'ab'.repeat(32)}.zip`);
  });
});
