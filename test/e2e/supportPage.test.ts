/**
 * The local support page in a real headless Chromium (Debian's `chromium`, driven by playwright-core,
 * which downloads no browser of its own): a support engineer finds a dead-lettered opt-out by its device,
 * resubmits it from the page (declining the confirmation once, then accepting it), and sees it DELIVERED.
 * Writes a screenshot to `.local/support-page.png`; `UPDATE_SCREENSHOT=1` writes docs/support-page.png, the
 * README's, instead (so a test run leaves the tracked picture alone).
 *
 * The browser: `CHROMIUM_PATH`, default /usr/bin/chromium (`apt-get install -y chromium`).
 */
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { type BrowserContext, chromium, type Page } from 'playwright-core';
import { optOut } from '#test/helpers/messages.ts';
import { API, dermsSim, post, uid, waitFor, waitForState } from './helpers.ts';

const CHROMIUM = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';
const REPO_ROOT = resolve(fileURLToPath(import.meta.url), '../../..');
const SCREENSHOT =
  process.env.UPDATE_SCREENSHOT === '1'
    ? resolve(REPO_ROOT, 'docs/support-page.png')
    : resolve(REPO_ROOT, '.local/support-page.png');
/** The flags that work on the project's machines (no sandbox as root, nothing fetched in the background). */
const CHROMIUM_ARGS = [
  '--no-sandbox',
  '--disable-gpu',
  '--disable-quic',
  '--no-first-run',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
];

let userDataDir: string;
let context: BrowserContext;
let page: Page;

beforeAll(async () => {
  if (!existsSync(CHROMIUM)) {
    throw new Error(`No Chromium at ${CHROMIUM}: apt-get install -y chromium, or set CHROMIUM_PATH`);
  }
  userDataDir = mkdtempSync(join(tmpdir(), 'support-page-chromium-'));
  context = await chromium.launchPersistentContext(userDataDir, {
    executablePath: CHROMIUM,
    headless: true,
    args: CHROMIUM_ARGS,
    httpCredentials: { username: 'support-local', password: 'local-secret' },
    viewport: { width: 1500, height: 1000 },
  });
  page = context.pages()[0] ?? (await context.newPage());
}, 60_000);

afterAll(async () => {
  await context?.close();
  if (userDataDir) rmSync(userDataDir, { recursive: true, force: true });
});

/** Searches the Find widget by device and answers the state its row shows for `messageId`. */
async function stateOnPage(deviceId: string, messageId: string): Promise<string | null> {
  const find = page.locator('#find-message');
  await find.locator('input[name="deviceId"]').fill(deviceId);
  await Promise.all([page.waitForEvent('load'), find.getByRole('button', { name: 'Search' }).click()]);
  const row = page.locator(`#find-message tr[data-message-id="${messageId}"]`);
  return (await row.count()) === 1 ? row.locator('td.state').textContent() : null;
}

describe('local support page, in headless Chromium', () => {
  it('is behind the support credentials', async () => {
    expect((await fetch(`${API()}/support/`)).status).toBe(401);
  });

  it('finds a dead-lettered opt-out by its device, resubmits it after confirming, and sees it DELIVERED', async () => {
    const deviceId = `DU${uid()}`;
    const message = optOut({ optOutId: `OO-${uid()}`, deviceId });
    // DERMS refuses it once for good (400): dead-lettered at once; the resubmit then gets through.
    await dermsSim.fault({
      match: { businessKey: message.optOutId },
      action: 'status',
      status: 400,
      times: 1,
    });
    const accepted = await post<{ messageId: string }>('/v1/dacs/event-opt-outs', message);
    expect(accepted.status).toBe(202);
    const { messageId } = accepted.body;
    await waitForState(messageId, ['DEAD_LETTERED']);

    await page.goto(`${API()}/support/`);
    expect(await stateOnPage(deviceId, messageId)).toBe('DEAD_LETTERED');

    const resubmit = page
      .locator(`#dead-letters tr[data-message-id="${messageId}"]`)
      .getByRole('button', { name: 'Resubmit' });
    const asked: string[] = [];
    page.once('dialog', (dialog) => {
      asked.push(dialog.message());
      void dialog.dismiss();
    });
    await resubmit.click();
    expect(asked).toEqual([expect.stringContaining(`Resubmit optOut message ${messageId}`)]);
    expect(await stateOnPage(deviceId, messageId)).toBe('DEAD_LETTERED');
    // The README's picture: the dead letter found by its device, and its Resubmit button.
    await page.screenshot({ path: SCREENSHOT, fullPage: true });

    page.once('dialog', (dialog) => void dialog.accept());
    await Promise.all([page.waitForEvent('load'), resubmit.click()]);
    await expect(page.locator('#dead-letters .notice').textContent()).resolves.toContain(
      `Resubmitted ${messageId}`,
    );

    await waitFor(
      async () => (await stateOnPage(deviceId, messageId)) === 'DELIVERED',
      30_000,
      'the page to show the opt-out DELIVERED',
    );
    const delivered = (await dermsSim.calls('/v1/event-opt-outs')).filter(
      (c) => c.idempotencyKey === message.optOutId,
    );
    expect(delivered).toHaveLength(1);
  }, 90_000);
});
