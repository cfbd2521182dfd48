// Loads streamrun's --http dashboard in headless Chromium (Debian's /usr/bin/chromium, driven by
// puppeteer-core) with every request off the job's own origin refused, waits until its charts
// show points of the running job, saves a screenshot and prints what it saw as JSON.
//   node dashboard.mjs URL SCREENSHOT.png
import puppeteer from "puppeteer-core";

const [url, shot] = process.argv.slice(2);
const origin = new URL(url).origin;
const browser = await puppeteer.launch({
  executablePath: process.env.CHROMIUM || "/usr/bin/chromium",
  headless: true,
  args: ["--no-sandbox", "--disable-gpu", "--no-first-run", "--disable-extensions",
         "--disable-background-networking", "--disable-component-update", "--disable-sync",
         "--disable-dev-shm-usage"],
});
const offsite = [], errors = [];
try {
  const page = await browser.newPage();
  await page.setViewport({ width: 1280, height: 1000 });
  await page.setRequestInterception(true);
  page.on("request", (r) => {
    if (r.url().startsWith(origin + "/") || r.url() === origin) r.continue();
    else { offsite.push(r.url()); r.abort(); }
  });
  page.on("pageerror", (e) => errors.push(String(e)));
  page.on("console", (m) => { if (m.type() === "error") errors.push(m.text()); });
  await page.goto(url, { waitUntil: "load", timeout: 30000 });
  // live: the page updates itself; wait for two updates with points in every query's charts
  await page.waitForFunction(() => {
    const qs = [...document.querySelectorAll(".query")];
    return +(document.body.dataset.updates || 0) >= 2 && qs.length > 0 &&
      qs.every((q) => +q.querySelector('[data-chart="rates"] svg').dataset.points > 0);
  }, { timeout: 30000, polling: 250 });
  const first = await page.evaluate(() => +document.body.dataset.updates);
  await new Promise((r) => setTimeout(r, 2500));
  const seen = await page.evaluate(() => ({
    updates: +document.body.dataset.updates,
    state: document.getElementById("state").textContent,
    queries: [...document.querySelectorAll(".query")].map((q) => ({
      name: q.dataset.query,
      status: q.querySelector(".pill").textContent,
      plan: q.querySelector("details pre").textContent,
      points: Object.fromEntries([...q.querySelectorAll("[data-chart]")].map(
        (c) => [c.dataset.chart, +(c.querySelector("svg")?.dataset.points ?? 0)])),
    })),
    errors: document.getElementById("errors").textContent,
  }));
  seen.updatesWhileWatching = seen.updates - first;
  await page.screenshot({ path: shot, fullPage: true });
  seen.offsite = offsite;
  seen.pageErrors = errors;
  console.log(JSON.stringify(seen));
} finally {
  await browser.close();
}
