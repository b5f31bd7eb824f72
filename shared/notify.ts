/**
 * What greenlight tells people on the notification topic: one message per deployment outcome and one
 * per approval that waits. Each message is published once with `MessageStructure: json`, so every
 * subscriber gets the form it can read:
 *
 * - `default` and `email`: plain text (e-mail, SQS, Lambda, …): what, where, who, why, and links.
 * - `https`: an AWS Chatbot / Amazon Q Developer in chat applications custom notification
 *   (`version: "1.0"`, `source: "custom"`, `content`, `metadata`); Chatbot subscribes to a topic over
 *   HTTPS and renders only that format. Other HTTPS subscribers get the same JSON.
 *
 * Message attributes (String; left out when unknown) let a subscription filter on application,
 * environment, outcome, version, digest, tag, pusher, approver and deployment.
 */
import { PublishCommand, type PublishCommandInput, type SNSClient } from '@aws-sdk/client-sns';
import type { ApprovalAudit, AuditRecord, Outcome } from './audit.ts';
import type { PendingApproval } from './approval/records.ts';
import type { LinksConfig } from './config/schema.ts';

/** What a notification is about: how a deployment ended, or an approval that waits for a person. */
export type NotificationEvent = Outcome | 'awaiting-approval';

/** The Chatbot custom-notification event (its documented schema, the parts greenlight fills). */
export interface ChatNotification {
  version: '1.0';
  source: 'custom';
  id: string;
  content: { textType: 'client-markdown'; title: string; description: string; nextSteps: string[]; keywords: string[] };
  metadata: { threadId: string; summary: string; eventType: string; relatedResources: string[]; additionalContext: Record<string, string> };
}

/** One notification in every form greenlight publishes it. */
export interface Notification {
  /** At most 99 printable ASCII characters: what SNS accepts as an e-mail subject. */
  subject: string;
  /** Plain text for e-mail and every subscriber without a form of its own. */
  text: string;
  /** The chat form (Chatbot custom notification). */
  chat: ChatNotification;
  /** SNS message attributes for filter policies: only known, non-empty values. */
  attributes: Record<string, string>;
}

/** A labelled link of a notification. */
export interface Link {
  label: string;
  url: string;
}

/** SNS refuses a subject of 100 characters or more. */
export const maxSubjectLength = 99;
const maxChatValue = 300;

// ── text helpers ──────────────────────────────────────────────────────────────────────────────────

/** A subject SNS accepts: printable ASCII, one line, at most `maxSubjectLength` characters. */
export function subjectLine(text: string): string {
  const ascii = text
    .normalize('NFKD')
    .replace(/[\u0300-\u036f]/g, '')
    .replace(/\s+/g, ' ')
    .replace(/[^\x20-\x7e]/g, '?')
    .trim();
  return ascii.length <= maxSubjectLength ? ascii : `${ascii.slice(0, maxSubjectLength - 3).trimEnd()}...`;
}

/** A value shortened for a subject, so the words around it still fit. */
function short(text: string, max = 32): string {
  return text.length <= max ? text : `${text.slice(0, max - 3)}...`;
}

/**
 * A user-supplied value (a tag, a comment, an ARN, a cause) in chat markdown: an inline code span on
 * one line, where no character is markup in Slack, Teams or Chime (`*_~[]|` are inert in a code span;
 * the backtick, `<`, `>` and `&`, which Slack reads even there, become look-alikes).
 */
export function chatValue(text: string, max = maxChatValue): string {
  const flat = text.replace(/\s+/g, ' ').trim();
  const cut = flat.length > max ? `${flat.slice(0, max - 1)}…` : flat;
  const inert = cut.replace(/`/g, 'ʼ').replace(/</g, '‹').replace(/>/g, '›').replace(/&/g, '＆');
  return `\`${inert === '' ? ' ' : inert}\``;
}

/** An ARN a person reads: `release-managers/alice` for an assumed role, `user/bob` for a user. */
export function principalName(arn: string): string {
  const assumed = /^arn:[^:]+:sts::\d{12}:assumed-role\/(.+)$/.exec(arn);
  if (assumed) return assumed[1]!;
  const iam = /^arn:[^:]+:iam::\d{12}:(.+)$/.exec(arn);
  return iam ? iam[1]! : arn;
}

function duration(ms: number): string {
  const seconds = Math.round(ms / 1000);
  if (seconds < 60) return `${seconds}s`;
  const minutes = Math.floor(seconds / 60);
  if (minutes < 60) return `${minutes}m ${seconds % 60}s`;
  return `${Math.floor(minutes / 60)}h ${minutes % 60}m`;
}

// ── links ─────────────────────────────────────────────────────────────────────────────────────────

const consoleHosts: Record<string, (region: string) => string> = {
  aws: (region) => `${region}.console.aws.amazon.com`,
  'aws-cn': (region) => `${region}.console.amazonaws.cn`,
  'aws-us-gov': (region) => `${region}.console.amazonaws-us-gov.com`,
};

/** Partition, region and account of an ARN, if it is one. */
function arnParts(arn: string): { partition: string; region: string; account: string } | null {
  const [prefix, partition, , region, account] = arn.split(':');
  return prefix === 'arn' && partition && region && account ? { partition, region, account } : null;
}

/** The execution in the Step Functions console (null for an ARN of a partition without a known console). */
export function executionConsoleUrl(executionArn: string): string | null {
  const parts = arnParts(executionArn);
  const host = parts && consoleHosts[parts.partition];
  if (!parts || !host) return null;
  return `https://${host(parts.region)}/states/home?region=${parts.region}#/v2/executions/details/${executionArn}`;
}

/** The image, by digest, in the ECR console of the execution's account and region. */
export function imageConsoleUrl(executionArn: string, image: { repository: string; digest: string }): string | null {
  const parts = arnParts(executionArn);
  const host = parts && consoleHosts[parts.partition];
  if (!parts || !host) return null;
  return `https://${host(parts.region)}/ecr/repositories/private/${parts.account}/${image.repository}/_/image/${image.digest}/details?region=${parts.region}`;
}

/** The configured change link with `{tag}`, `{digest}` and `{repository}` filled in (URL-encoded; `/` and `:` kept). */
export function changeUrl(template: string | undefined, image: { repository: string; tag: string; digest: string }): string | null {
  if (!template) return null;
  const encode = (value: string) => encodeURIComponent(value).replace(/%2F/gi, '/').replace(/%3A/gi, ':');
  const values: Record<string, string> = { tag: image.tag, digest: image.digest, repository: image.repository };
  return template.replace(/\{(tag|digest|repository)\}/g, (_, name: string) => encode(values[name]!));
}

function linksOf(executionArn: string, image: { repository: string; tag: string; digest: string } | null, links: LinksConfig | undefined): Link[] {
  const found: Array<Link | null> = [
    { label: 'Execution', url: executionConsoleUrl(executionArn) ?? '' },
    image ? { label: 'Image in ECR', url: imageConsoleUrl(executionArn, image) ?? '' } : null,
    image ? { label: 'Change', url: changeUrl(links?.change, image) ?? '' } : null,
  ];
  return found.filter((link): link is Link => !!link && link.url !== '');
}

// ── assembling ────────────────────────────────────────────────────────────────────────────────────

interface Facts {
  event: NotificationEvent;
  deploymentId: string;
  executionArn: string;
  application: string | null;
  environment: string | null;
  image: { repository: string; tag: string; digest: string } | null;
  version: string | null;
  pusher: string | null;
  approver: string | null;
}

/** Attributes for filter policies, String only, unknown values left out (SNS refuses an empty one). */
function attributesOf(facts: Facts): Record<string, string> {
  const values: Record<string, string | null | undefined> = {
    application: facts.application,
    environment: facts.environment,
    outcome: facts.event,
    version: facts.version,
    digest: facts.image?.digest,
    tag: facts.image?.tag,
    pusher: facts.pusher,
    approver: facts.approver,
    deployment: facts.deploymentId,
  };
  return Object.fromEntries(Object.entries(values).filter((entry): entry is [string, string] => typeof entry[1] === 'string' && entry[1] !== ''));
}

const emoji: Record<NotificationEvent, string> = {
  succeeded: '✅',
  'already-deployed': '☑️',
  failed: '❌',
  rejected: '🚫',
  superseded: '⏭️',
  expired: '⌛',
  unverified: '⚠️',
  'awaiting-approval': '⏳',
};

/** A row of the text form: a label and a value, left out when the value is unknown. */
type Row = [label: string, value: string | null | undefined];

interface Parts {
  facts: Facts;
  subject: string;
  /** The first line of the text: what happened, where, in plain words. */
  headline: string;
  /** The chat title: the same, with the user-supplied values as code spans. */
  title: string;
  rows: Row[];
  links: Link[];
  /** Commands a person may run next, with what they do, under a line that introduces them. */
  commands: { intro: string; list: Array<{ label: string; command: string }> };
}

function assemble({ facts, subject, headline, title, rows, links, commands }: Parts): Notification {
  const known = rows.filter((row): row is [string, string] => typeof row[1] === 'string' && row[1] !== '');
  const width = Math.max(...known.map(([label]) => label.length), ...links.map((l) => l.label.length)) + 2;
  const text = [
    headline,
    '',
    ...known.map(([label, value]) => `  ${label.padEnd(width)}${value.replace(/\n/g, ' ')}`),
    ...(links.length > 0 ? ['', ...links.map((l) => `  ${l.label.padEnd(width)}${l.url}`)] : []),
    ...(commands.list.length > 0 ? ['', commands.intro, ...commands.list.map((c) => `  ${c.command}`)] : []),
  ].join('\n');
  const attributes = attributesOf(facts);
  const chat: ChatNotification = {
    version: '1.0',
    source: 'custom',
    id: `${facts.deploymentId}:${facts.event}`,
    content: {
      textType: 'client-markdown',
      title: `${emoji[facts.event]} ${title}`,
      description: known.map(([label, value]) => `${label}: ${chatValue(value)}`).join('\n'),
      nextSteps: [...commands.list.map((c) => `${c.label}: ${chatValue(c.command)}`), ...links.map((l) => `${l.label}: ${l.url}`)],
      keywords: [facts.event, ...(facts.application ? [facts.application] : []), ...(facts.environment ? [facts.environment] : [])],
    },
    metadata: {
      // One thread per deployment: the approval that waits and the outcome that follows.
      threadId: facts.deploymentId,
      summary: subject,
      eventType: `greenlight.${facts.event}`,
      relatedResources: [facts.executionArn],
      additionalContext: attributes,
    },
  };
  return { subject, text, chat, attributes };
}

// ── outcomes ──────────────────────────────────────────────────────────────────────────────────────

/** What of a record a notification needs, read from its approvals and kept timeline. */
function readRecord(record: AuditRecord) {
  const steps = record.timeline?.steps ?? [];
  const environments: string[] = [];
  const note = (name: unknown) => {
    if (typeof name === 'string' && name !== '' && !environments.includes(name)) environments.push(name);
  };
  for (const stage of record.stages) note((stage as { environment?: unknown } | null)?.environment);
  for (const step of steps) note(step.environment);
  for (const approval of [...record.approvals, ...(record.timeline?.approvals ?? [])]) note(approval.environment);
  const decided = (decision: ApprovalAudit['decision']) => record.approvals.filter((a) => a.decision === decision);
  const approved = decided('approve');
  const rejected = decided('reject').at(-1);
  const rollback = steps.filter((s) => s.name === 'Roll Back' && s.result === 'succeeded').at(-1);
  const timelinePushers = (record.timeline?.approvals ?? []).flatMap((a) => a.pushers);
  return {
    environments,
    environment: environments.at(-1) ?? null,
    approved,
    rejected,
    expired: (record.timeline?.approvals ?? []).filter((a) => a.decision === 'expired').at(-1),
    rolledBackTo: rollback ? (/^back to (.+)$/.exec(rollback.detail)?.[1] ?? null) : null,
    pusher: record.image?.pushedBy ?? [...record.approvals.flatMap((a) => a.pushers), ...timelinePushers][0] ?? null,
  };
}

/**
 * The notification of a deployment's outcome, from its audit record: what happened and where in the
 * subject, who pushed and who decided, why it ended so, and where to look.
 */
export function outcomeNotification(record: AuditRecord, options: { links?: LinksConfig } = {}): Notification {
  const read = readRecord(record);
  const image = record.image ? { repository: record.image.repository, tag: record.image.tag, digest: record.image.digest } : null;
  const name = record.application ?? image?.repository ?? record.deploymentId;
  const tag = image?.tag ?? '(no tag)';
  const env = read.environment;
  const envs = read.environments.join(' → ');
  const rejecter = read.rejected?.approver ?? null;
  const approver = rejecter ?? read.approved.at(-1)?.approver ?? null;
  const facts: Facts = {
    event: record.outcome,
    deploymentId: record.deploymentId,
    executionArn: record.executionArn,
    application: record.application,
    environment: env,
    image,
    version: record.versionLabel,
    pusher: read.pusher,
    approver,
  };
  const s = (text: string) => subjectLine(`greenlight: ${short(name)} ${short(tag)} ${text}`);
  const c = chatValue;
  const where = env ? ` in ${env}` : '';
  const cWhere = env ? ` in ${c(env)}` : '';
  let subject: string;
  let headline: string;
  let title: string;
  switch (record.outcome) {
    case 'succeeded':
      subject = s(`deployed to ${short(env ?? 'its stages')}`);
      headline = `${name} ${tag} is deployed to ${envs || 'its stages'} and healthy.`;
      title = `${c(name)} ${c(tag)} deployed to ${c(envs || 'its stages')}`;
      break;
    case 'already-deployed':
      subject = s(`already deployed${where ? ` in ${short(env!)}` : ''}, nothing changed`);
      headline = `${name} ${tag} changed nothing: ${envs || 'its stages'} already run this image${record.versionLabel ? ` (${record.versionLabel})` : ''}.`;
      title = `${c(name)} ${c(tag)} already deployed${cWhere}, nothing changed`;
      break;
    case 'failed':
      if (record.error === 'RollbackFailedError') {
        subject = s(`FAILED${where ? ` in ${short(env!)}` : ''}, rollback failed: ACTION NEEDED`);
        headline = `${name} ${tag} failed${where} and the rollback failed too: ${env ?? 'the environment'} needs a person now.`;
        title = `${c(name)} ${c(tag)} failed${cWhere} and the rollback failed: action needed`;
      } else if (read.rolledBackTo || record.error === 'DeploymentFailedError') {
        subject = s(`FAILED${where ? ` in ${short(env!)}` : ''}, rolled back`);
        headline = `${name} ${tag} failed${where} and was rolled back${read.rolledBackTo ? ` to ${read.rolledBackTo}` : ''}.`;
        title = `${c(name)} ${c(tag)} failed${cWhere}, rolled back${read.rolledBackTo ? ` to ${c(read.rolledBackTo)}` : ''}`;
      } else {
        subject = s(`FAILED${where ? ` in ${short(env!)}` : ''}${record.error ? ` (${short(record.error, 40)})` : ''}`);
        headline = `${name} ${tag} failed${where}${record.error ? `: ${record.error}` : ''}.`;
        title = `${c(name)} ${c(tag)} failed${cWhere}`;
      }
      break;
    case 'superseded':
      subject = s(`superseded${where ? ` in ${short(env!)}` : ''}`);
      headline = `${name} ${tag} was superseded${where}: a newer push (or another deployment) took its place, so it stopped there.`;
      title = `${c(name)} ${c(tag)} superseded${cWhere}`;
      break;
    case 'rejected':
      if (rejecter) {
        subject = s(`rejected for ${short(env ?? 'promotion')} by ${short(principalName(rejecter), 40)}`);
        headline = `${name} ${tag} was rejected for ${env ?? 'promotion'} by ${rejecter}${read.rejected?.comment ? `: “${read.rejected.comment}”` : ''}.`;
        title = `${c(name)} ${c(tag)} rejected for ${c(env ?? 'promotion')} by ${c(principalName(rejecter))}`;
      } else {
        subject = s(`not deployed: rejected${record.error ? ` (${short(record.error, 40)})` : ''}`);
        headline = `${name} ${tag} was not deployed anywhere: ${record.cause ?? record.error ?? 'the push was rejected'}.`;
        title = `${c(name)} ${c(tag)} rejected, not deployed`;
      }
      break;
    case 'expired':
      subject = s(`approval for ${short(env ?? 'promotion')} expired`);
      headline = `Nobody decided on ${name} ${tag} for ${env ?? 'its promotion'} in time: the approval expired and ${env ?? 'the target environment'} was not touched.`;
      title = `${c(name)} ${c(tag)}: approval for ${c(env ?? 'promotion')} expired`;
      break;
    case 'unverified':
      subject = s(`UNVERIFIED${where ? ` in ${short(env!)}` : ''}: ACTION NEEDED`);
      headline = `ACTION NEEDED: ${name} ${tag} updated ${env ?? 'an environment'} and greenlight could not verify its health or roll it back; look at it now.`;
      title = `${c(name)} ${c(tag)} unverified${cWhere}: action needed`;
      break;
  }
  const finished = Date.parse(record.finishedAt) - Date.parse(record.startedAt);
  const approvals = read.approved.map((a) => `${a.approver}${a.environment ? ` for ${a.environment}` : ''}${a.comment ? `: “${a.comment}”` : ''}`);
  const rows: Row[] = [
    ['application', record.application],
    ['environments', envs],
    ['image', image ? `${image.repository}:${image.tag}` : null],
    ['digest', image?.digest],
    ['version', record.versionLabel],
    ['pushed by', read.pusher],
    ['approved by', approvals.join('; ')],
    ['rejected by', rejecter ? `${rejecter}${read.rejected?.comment ? `: “${read.rejected.comment}”` : ''}` : null],
    ['started', `${record.startedAt}${Number.isFinite(finished) ? ` (took ${duration(Math.max(0, finished))})` : ''}`],
    ['outcome', `${record.outcome}${record.error ? ` (${record.error})` : ''}`],
    ['why', record.outcome === 'succeeded' || record.outcome === 'already-deployed' ? null : record.cause],
  ];
  return assemble({
    facts,
    subject,
    headline,
    title,
    rows,
    links: linksOf(record.executionArn, image, options.links),
    commands: { intro: 'The whole story, every step with its time:', list: [{ label: 'Details', command: `greenlight show ${record.deploymentId}` }] },
  });
}

// ── approvals ─────────────────────────────────────────────────────────────────────────────────────

/** What the pusher line says: who, or why nobody can say yet, and whether it matters. */
function pushedByLine(record: PendingApproval, unknown: string | undefined): string {
  const who = record.pushers && record.pushers.length > 0 ? record.pushers.join(', ') : (record.pushedBy ?? '(unknown)');
  if (record.separationOfDuties === 'off') return `${who} — separation of duties is OFF for this stage: a pusher may approve`;
  if (unknown) return `${who} — not known for sure yet (${unknown}); approval is refused until it is (install.cloudTrailRule: true records every push)`;
  return `${who} (may not approve)`;
}

/**
 * The message approvers get: what waits, where it goes, who pushed it, until when, the commands to
 * decide with, and links to the execution, the image and the change.
 */
export function approvalNotification(record: PendingApproval, options: { unknownPusher?: string; links?: LinksConfig } = {}): Notification {
  const image = { repository: record.image.repository, tag: record.image.tag, digest: record.image.digest };
  const facts: Facts = {
    event: 'awaiting-approval',
    deploymentId: record.id,
    executionArn: record.executionArn,
    application: record.application,
    environment: record.targetEnvironment,
    image,
    version: record.versionLabel,
    pusher: record.pushers?.[0] ?? record.pushedBy,
    approver: null,
  };
  const from = record.sourceEnvironment ? ` in ${record.sourceEnvironment}` : '';
  return assemble({
    facts,
    subject: subjectLine(`greenlight: ${short(record.application)} ${short(record.image.tag)} waits for approval to ${short(record.targetEnvironment, 40)}`),
    headline: `${record.application} ${record.image.tag} is healthy${from} and waits for your approval to deploy to ${record.targetEnvironment}.`,
    title: `${chatValue(record.application)} ${chatValue(record.image.tag)} waits for approval to ${chatValue(record.targetEnvironment)}`,
    rows: [
      ['image', `${record.image.repository}:${record.image.tag} (${record.image.digest})`],
      ['version', `${record.versionLabel} (the same bundle that runs in ${record.sourceEnvironment ?? 'the previous stage'})`],
      ['running now', `${record.runningInTarget ?? '(nothing yet)'} in ${record.targetEnvironment}`],
      ['pushed by', pushedByLine(record, options.unknownPusher)],
      ['approvers', record.approvers.join(', ')],
      ['expires', record.expiresAt],
    ],
    links: linksOf(record.executionArn, image, options.links),
    commands: {
      intro: 'Decide with your own AWS identity:',
      list: [
        { label: 'Approve', command: `greenlight approve ${record.id} --comment "…"` },
        { label: 'Reject', command: `greenlight reject ${record.id} --reason "…"` },
      ],
    },
  });
}

// ── publishing ────────────────────────────────────────────────────────────────────────────────────

/** The Publish request of a notification: one message per protocol (`MessageStructure: json`) and its attributes. */
export function publishInput(topicArn: string, notification: Notification): PublishCommandInput {
  return {
    TopicArn: topicArn,
    Subject: notification.subject,
    MessageStructure: 'json',
    Message: JSON.stringify({ default: notification.text, email: notification.text, https: JSON.stringify(notification.chat) }),
    MessageAttributes: Object.fromEntries(Object.entries(notification.attributes).map(([name, value]) => [name, { DataType: 'String', StringValue: value }])),
  };
}

/** Publishes a notification to the topic; returns SNS's message id. */
export async function publish(sns: SNSClient, topicArn: string, notification: Notification): Promise<string | undefined> {
  return (await sns.send(new PublishCommand(publishInput(topicArn, notification)))).MessageId;
}
