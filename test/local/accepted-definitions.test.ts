import { randomUUID } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { acceptedDefinitions } from '../../local/services/step-functions/accepted-definitions.ts';
import { validateDefinition } from '../../local/services/step-functions/execution.ts';
import type { AslMachine } from '../../local/services/step-functions/definition.ts';

/** A definition no earlier run has seen (its Comment is new), valid or with a dangling Next. */
const definition = (valid: boolean): AslMachine =>
  ({ Comment: `accepted-definitions ${randomUUID()}`, StartAt: 'A', States: { A: valid ? { Type: 'Pass', End: true } : { Type: 'Pass', Next: 'Nowhere' } } }) as AslMachine;

describe('definitions the ASL validator accepted', () => {
  it('are remembered by their exact text, so the next start of the endpoint skips the schema compile', () => {
    const valid = definition(true);
    // As the endpoint receives it (the validator may add to the object it is given).
    const key = { validationOptions: { checkArn: false, checkPaths: true }, definition: structuredClone(valid) };
    expect(acceptedDefinitions().lookUp(key).accepted).toBe(false);
    validateDefinition(structuredClone(valid));
    expect(acceptedDefinitions().lookUp(key).accepted).toBe(true);
    // Another text (one more state) is validated afresh.
    expect(acceptedDefinitions().lookUp({ ...key, definition: { ...valid, States: { ...valid.States, B: { Type: 'Succeed' } } } }).accepted).toBe(false);
  });

  it('never remembers a refusal: a definition with findings is refused every time', () => {
    const invalid = definition(false);
    expect(() => validateDefinition(invalid)).toThrow(/MISSING_TRANSITION_TARGET/);
    expect(acceptedDefinitions().lookUp({ validationOptions: { checkArn: false, checkPaths: true }, definition: invalid }).accepted).toBe(false);
    expect(() => validateDefinition(invalid)).toThrow(/MISSING_TRANSITION_TARGET/);
  });
});
