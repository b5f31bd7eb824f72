// A function-URL handler for the endpoint tests (registered by the test, not by serverless.yml).

/** Every event this handler received, oldest first (shared through globalThis with the test). */
export function received(): Array<Record<string, any>> {
  const shared = globalThis as { urlEchoEvents?: Array<Record<string, any>> };
  shared.urlEchoEvents ??= [];
  return shared.urlEchoEvents;
}

/** Answers with the event it got, as a function URL response. */
export async function echo(event: Record<string, any>) {
  received().push(event);
  return { statusCode: 200, headers: { 'content-type': 'application/json' }, body: JSON.stringify({ requestContext: event.requestContext, body: event.body }) };
}
