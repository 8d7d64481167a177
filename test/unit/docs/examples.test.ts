import { readFileSync } from 'node:fs';
import { validateMessage } from '#shared/contracts/validate.ts';
import type { MessageType } from '#shared/flows/registry.ts';

/** The README points newcomers at these bodies: they must stay valid as the contract evolves. */
const EXAMPLES: Record<string, MessageType> = {
  'asset-sync.json': 'AssetSyncRequest',
  'event-opt-out.json': 'OptOutNotification',
  'unavailability.json': 'UnavailabilityNotification',
  'asset-sync-ack.json': 'AssetSyncAck',
  'legacy-ack.json': 'LegacyMsgAck',
};

describe('docs/examples', () => {
  it.each(Object.entries(EXAMPLES))('%s is a valid %s', (file, type) => {
    const body = JSON.parse(
      readFileSync(new URL(`../../../docs/examples/${file}`, import.meta.url), 'utf-8'),
    );
    const result = validateMessage(type, body);
    expect(result.ok ? [] : result.violations).toEqual([]);
  });
});
