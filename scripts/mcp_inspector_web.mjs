// Drives MCP Inspector's web UI in headless Chromium as a person would (scripts/mcp_inspector_check.sh --web runs it):
// connect to the gateway's route, sign in as bob on the service's development login, allow the consent page, come back
// to the Inspector, open Tools, and call lookup_customer. Prints one line per check; exits 1 on the first failure.
//
//   node scripts/mcp_inspector_web.mjs <inspector URL with its API token> <dir holding node_modules/playwright-core> [demo|upstream]
//
// `upstream`: sign in through "Sign in with your company account" as carol at the company's provider
// (scripts/dev_oidc_provider.mjs: its development login and consent pages) instead of picking bob.
//
// Env: CHROMIUM (default /usr/bin/chromium), SCREENSHOTS (a dir: one PNG per step).
import { createRequire } from 'node:module';
import { join } from 'node:path';

const [inspectorUrl, modulesDir, login = 'demo'] = process.argv.slice(2);
const { chromium } = createRequire(join(modulesDir, 'package.json'))('playwright-core');
const shots = process.env.SCREENSHOTS;

const browser = await chromium.launch({
  executablePath: process.env.CHROMIUM ?? '/usr/bin/chromium',
  // No network beyond this machine: background fetches would only fail.
  args: ['--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'],
});
const fail = async (why) => {
  console.error(`FAIL: ${why}`);
  await browser.close();
  process.exit(1);
};
try {
  const page = await browser.newPage({ viewport: { width: 1400, height: 900 } });
  // A page whose form or redirect a Content-Security-Policy blocks says so on the console, and nothing happens.
  const blocked = [];
  page.on('console', (m) => {
    if (/Content Security Policy/.test(m.text())) blocked.push(m.text().slice(0, 300));
  });
  const shot = async (name) => shots && page.screenshot({ path: join(shots, `${name}.png`) });

  await page.goto(inspectorUrl);
  const connect = page.getByRole('switch', { name: /Connect or disconnect/ }).first();
  await connect.waitFor({ timeout: 15_000 });
  await shot('1-inspector');
  // The switch's track covers its input: click it through.
  await connect.click({ force: true });

  await page.waitForURL(/\/interaction\//, { timeout: 15_000 }).catch(() => fail(`the Inspector did not send the browser to the service's login (at ${page.url()})`));
  console.log('ok: Connect sent the browser to the service (discovery from the 401, registration, authorization request)');
  await shot(`2-login-${login}`);
  if (login === 'upstream') {
    await page.getByRole('link', { name: 'Sign in with your company account' }).click();
    await page.waitForURL(/^http:\/\/127\.0\.0\.1:3001\//, { timeout: 10_000 }).catch(() => fail(`the company login did not open (at ${page.url().split('?')[0]})`));
    await page.fill('input[name=login]', 'carol');
    await page.fill('input[name=password]', 'any');
    await shot('2b-company-login');
    await page.getByRole('button', { name: 'Sign-in' }).click();
    // The provider's own consent for our service (its development page), then back to our callback.
    await page.getByRole('button', { name: 'Continue' }).click({ timeout: 10_000 });
    console.log('ok: carol signed in at the company\'s provider and was sent back to the service');
  } else {
    await page.getByRole('button', { name: /Bob/ }).click();
  }
  await page.getByRole('button', { name: 'Allow' }).waitFor({ timeout: 10_000 }).catch(() => fail('no consent page after the login'));
  const tools = await page.locator('ul ul li code').allInnerTexts();
  if (tools.join(',') !== 'lookup_customer') await fail(`the consent page asks for tools ${JSON.stringify(tools)}, expected ["lookup_customer"]`);
  console.log(`ok: ${login === 'upstream' ? 'carol' : 'bob'} signed in; the consent page asks for lookup_customer on the gateway route`);
  await shot('3-consent');
  await page.getByRole('button', { name: 'Allow' }).click();
  await page.waitForURL(/^http:\/\/127\.0\.0\.1:6274\/(\?.*)?$/, { timeout: 15_000 }).catch(() =>
    fail(`Allow did not lead back to the Inspector (at ${page.url().split('?')[0]}${blocked.length ? `; blocked: ${blocked[0]}` : ''})`),
  );
  await page.getByText('Connected', { exact: true }).first().waitFor({ timeout: 15_000 }).catch(() => fail('the Inspector did not connect after the authorization'));
  console.log('ok: Allow led back to the Inspector, which connected to the gateway with its delegation token');
  await shot('4-connected');

  await page.getByText('Tools', { exact: true }).first().click();
  await page.getByText('Tools (1)').waitFor({ timeout: 10_000 }).catch(() => fail('the Tools tab does not list exactly one tool'));
  await page.getByText('lookup_customer', { exact: true }).first().click();
  await page.getByLabel('customerId').first().fill('c-42');
  await page.getByRole('button', { name: 'Execute Tool' }).click();
  await page.getByText('Ada Lovelace').first().waitFor({ timeout: 10_000 }).catch(() => fail('tools/call lookup_customer showed no result'));
  console.log('ok: Tools lists one tool (lookup_customer) of the route\'s three; Execute Tool returned customer c-42');
  await shot('5-tool-result');
  if (blocked.length) await fail(`the browser blocked: ${blocked[0]}`);
} catch (err) {
  await fail(err instanceof Error ? err.message.split('\n')[0] : String(err));
}
await browser.close();
