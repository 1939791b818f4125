"""Look at Icinga Web 2 pages in headless Chromium, as an admin would, and say what they show.

Run by Debian's /usr/bin/python3, whose python3-selenium drives chromium-driver (the virtualenv has no Selenium):
tests/icingaweb2.py starts it. Reads a job as JSON on stdin:
  {"url": BASE, "user": ..., "password": ..., "shots": DIR, "timeout": SECONDS,
   "pages": [{"name": ..., "path": "/monitoring/...", "wait_for": [TEXT, ...]}, ...]}
logs in through the login form, then opens each page, reloading it until every `wait_for` text shows (the IDO
catches up with icinga2 within seconds), saves a full-page screenshot DIR/NAME.png, and prints on stdout one JSON
object: {NAME: what the page shows}. A page that never shows its texts is reported with "missing", not an error:
the test says what it expected.
"""
import json
import sys
import time

from selenium import webdriver
from selenium.common.exceptions import WebDriverException
from selenium.webdriver.common.by import By
from selenium.webdriver.support import expected_conditions
from selenium.webdriver.support.ui import WebDriverWait

WIDTH, HEIGHT = 1400, 900

# What a page shows, read in the page itself: the columns' text, the state of each row or of the objects (a
# service's host, then the service), the
# plugin output, notes, links and perfdata table of a detail page (Icinga Web 2.11's monitoring module markup).
READ = """
const text = (selector) => { const e = document.querySelector(selector); return e ? e.innerText : null; };
const content = document.querySelector('#col1 .content') || document.body;
return {
  text: content.innerText,
  rows: Array.from(content.querySelectorAll('table.table-row-selectable > tbody > tr')).map(tr => ({
    state: (tr.querySelector('td.state-col') || {className: ''}).className,
    text: tr.innerText})),
  states: Array.from(document.querySelectorAll('#col1 .controls td.state-col')).map(td => td.className),
  output: text('#col1 [id^="check-output-"]'),
  notes: text('#col1 [id$="-notes"]'),
  links: Array.from(content.querySelectorAll('a[href]')).map(a => ({href: a.href,
                                                                    text: a.innerText.trim()})),
  perfdata: Array.from(content.querySelectorAll('[id^="check-perfdata-"] tr')).map(
    tr => Array.from(tr.querySelectorAll('th, td')).map(cell => cell.innerText.trim())),
};
"""

# A long plugin output is folded to a few lines: unfold it, as an admin would to read it.
EXPAND = """
document.querySelectorAll('#col1 .collapsible-control').forEach(b => b.click());
"""

# The page scrolls inside its columns: the window must grow by what they hide for a full-page shot.
HIDDEN = """
return Math.max(0, ...Array.from(document.querySelectorAll('#col1, #col1 .content, #col2, #col2 .content'))
                .map(e => e.scrollHeight - e.clientHeight));
"""


def browser():
    options = webdriver.ChromeOptions()
    for argument in ("--headless=new", "--no-sandbox", "--disable-dev-shm-usage", "--disable-gpu",
                     "--no-proxy-server", "--window-size=%d,%d" % (WIDTH, HEIGHT)):
        options.add_argument(argument)
    return webdriver.Chrome(options=options)


def log_in(driver, job):
    driver.get(job["url"] + "/authentication/login")
    driver.find_element(By.NAME, "username").send_keys(job["user"])
    driver.find_element(By.NAME, "password").send_keys(job["password"])
    driver.find_element(By.NAME, "btn_submit").click()
    WebDriverWait(driver, job["timeout"]).until(expected_conditions.url_contains("/dashboard"))


def look(driver, job, page):
    end = time.monotonic() + job["timeout"]
    while True:
        driver.get(job["url"] + page["path"])
        WebDriverWait(driver, job["timeout"]).until(
            lambda d: d.execute_script("return document.readyState") == "complete"
            and d.find_elements(By.CSS_SELECTOR, "#col1 .content"))
        driver.execute_script(EXPAND)
        seen = driver.execute_script(READ)
        missing = [text for text in page.get("wait_for", []) if text not in seen["text"]]
        if not missing or time.monotonic() > end:
            break
        time.sleep(1)
    driver.set_window_size(WIDTH, HEIGHT + driver.execute_script(HIDDEN) + 50)
    time.sleep(0.3)  # the layout follows the new size
    seen["screenshot"] = "%s/%s.png" % (job["shots"], page["name"])
    driver.save_screenshot(seen["screenshot"])
    driver.set_window_size(WIDTH, HEIGHT)
    seen["missing"] = missing
    return seen


def main():
    job = json.load(sys.stdin)
    driver = browser()
    try:
        log_in(driver, job)
        result = {page["name"]: look(driver, job, page) for page in job["pages"]}
    except WebDriverException as error:
        sys.exit("browser: %s" % error.msg)
    finally:
        driver.quit()
    json.dump(result, sys.stdout)


if __name__ == "__main__":
    main()
