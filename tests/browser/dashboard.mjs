// Logs in to the tthc-watch dashboard as a person would, in Debian's headless
// Chromium, and prints what the page shows as JSON.
// Usage: node dashboard.mjs BASE_URL TOKEN [SCREENSHOT_DIR]
// With AUDIT_UNIT, AUDIT_MONTH (YYYY-MM) and AUDIT_XLSX (a path), it also
// filters the auditors' list to that unit and month and downloads its XLSX.
import { chromium } from 'playwright-core';

const [base, token, shots] = process.argv.slice(2);
const browser = await chromium.launch({
  executablePath: process.env.CHROMIUM || '/usr/bin/chromium',
  args: ['--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
    '--disable-background-networking', '--disable-component-update', '--disable-sync'],
});
try {
  const out = {};
  for (const [name, viewport] of [['desktop', { width: 1280, height: 900 }], ['phone', { width: 390, height: 844 }]]) {
    const page = await browser.newPage({ viewport, locale: 'vi-VN' });
    await page.goto(`${base}/dashboard`);
    out[`${name}_login_url`] = page.url();
    await page.fill('input[name="token"]', token);
    await Promise.all([page.waitForURL(`${base}/dashboard`), page.click('button[type="submit"], input[type="submit"]')]);
    const text = async (id) => (await page.textContent(`#${id}`))?.trim();
    out[name] = {
      overdue: await text('count-overdue'),
      due_today: await text('count-due-today'),
      due_soon: await text('count-due-soon'),
      open: await text('count-open'),
      overall: await text('overall-on-time'),
      trend: await page.locator('svg#trend').count(),
      // Where the on-time rate is on the first screen (px from the top).
      kpi_top: await page.evaluate(() => document.getElementById('kpi-on-time')?.getBoundingClientRect().top ?? -1),
      // The narrowest unit cell of the pending letters (never one letter per line).
      letter_unit_width: await page.evaluate(() => Math.min(9999, ...[...document.querySelectorAll('#letters-pending td.c-unit')].map((e) => e.getBoundingClientRect().width))),
      // Nothing may stick out sideways on a phone.
      overflow: await page.evaluate(() => document.documentElement.scrollWidth - window.innerWidth),
    };
    if (shots) {
      await page.screenshot({ path: `${shots}/dashboard-${name}.png`, fullPage: false });
    }
    // A dossier code in the overdue list opens its page.
    const first = page.locator('#list-overdue a').first();
    const code = (await first.textContent())?.trim();
    await Promise.all([page.waitForURL(/\/dossiers\//), first.click()]);
    out[`${name}_dossier`] = {
      clicked: code,
      code: await text('dossier-code'),
      computed_due: await text('computed-due'),
      days: await page.locator('table.days tbody tr').count(),
      overflow: await page.evaluate(() => document.documentElement.scrollWidth - window.innerWidth),
    };
    if (shots) {
      await page.screenshot({ path: `${shots}/dossier-${name}.png`, fullPage: name === 'desktop' });
    }
    if (name === 'desktop' && process.env.AUDIT_XLSX) {
      // The auditors' list: one unit, one month, downloaded as Excel.
      await page.goto(`${base}/dashboard`);
      await Promise.all([page.waitForURL(/\/dashboard\/dossiers/), page.click('#nav-dossiers')]);
      await page.selectOption('#f-unit', process.env.AUDIT_UNIT);
      await page.fill('#f-month', process.env.AUDIT_MONTH);
      await Promise.all([page.waitForURL(/unit=/), page.click('#f-apply')]);
      const [download] = await Promise.all([page.waitForEvent('download'), page.click('#download-xlsx')]);
      await download.saveAs(process.env.AUDIT_XLSX);
      out.auditor = {
        url: page.url(),
        total: await text('total'),
        shown: await text('shown'),
        listed: await page.locator('#dossier-list tbody tr').count(),
        file: download.suggestedFilename(),
        first_link: await page.locator('#dossier-list td.c-code a').first().getAttribute('href'),
      };
      if (shots) {
        await page.screenshot({ path: `${shots}/auditor-desktop.png`, fullPage: false });
      }
    }
    if (name === 'phone' && process.env.ACK_URL) {
      // A leader's one-tap link on a phone: the page, its one button, what it recorded.
      const ack = await browser.newPage({ viewport, locale: 'vi-VN' });
      await ack.goto(process.env.ACK_URL);
      if (shots) {
        await ack.screenshot({ path: `${shots}/ack-phone.png`, fullPage: false });
      }
      const before = await ack.locator('#confirm').count();
      await Promise.all([ack.waitForSelector('#recorded'), ack.click('#confirm')]);
      out.ack = {
        button: before,
        recorded: (await ack.textContent('#recorded'))?.trim(),
        overflow: await ack.evaluate(() => document.documentElement.scrollWidth - window.innerWidth),
      };
      if (shots) {
        await ack.screenshot({ path: `${shots}/ack-recorded-phone.png`, fullPage: false });
      }
      await ack.close();
    }
    await page.close();
  }
  console.log(JSON.stringify(out));
} finally {
  await browser.close();
}
