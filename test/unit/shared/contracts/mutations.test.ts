import fc from 'fast-check';
import { validateMessage } from '#shared/contracts/validate.ts';
import { MESSAGE_TYPES } from '#shared/flows/registry.ts';
import { mutatedJson, mutatedMessage, NUMBER_PLACEHOLDER } from './arbitraries.ts';

/** The mutations that break the contract whatever they hit: none of them may ever be accepted. */
const ALWAYS_REFUSED = ['wrong-type', 'missing-field', 'extra-field', 'proto-key'] as const;

describe.each(MESSAGE_TYPES)('%s mutations', (type) => {
  it.each(ALWAYS_REFUSED)('refuses every %s mutation', (kind) => {
    fc.assert(
      fc.property(mutatedMessage(type, kind), (mutated) => {
        expect(validateMessage(type, JSON.parse(mutatedJson(mutated))).ok).toBe(false);
      }),
      { numRuns: 50 },
    );
  });

  it('keeps an unmutated message valid through its JSON text', () => {
    fc.assert(
      fc.property(mutatedMessage(type, 'valid'), (mutated) => {
        expect(validateMessage(type, JSON.parse(mutatedJson(mutated))).ok).toBe(true);
      }),
      { numRuns: 20 },
    );
  });

  it('writes a huge number literal where the mutation placed it', () => {
    fc.assert(
      fc.property(mutatedMessage(type, 'huge-number'), (mutated) => {
        const text = mutatedJson(mutated);
        expect(text).toContain(mutated.literal);
        expect(text).not.toContain(JSON.stringify(NUMBER_PLACEHOLDER));
      }),
      { numRuns: 20 },
    );
  });
});
