/** A value built on first use and kept: an SDK client costs start-up time, so a cold start builds only those it calls. */
export function lazy<T>(build: () => T): () => T {
  let value: T | undefined;
  return () => (value ??= build());
}
