"""Click through issue 15's demo check against a running `make demo` (Playwright, Debian's chromium):
sign in, open a tenant from the MSP overview, "New job…", tick two online IgniteNet access points, config push of
one key, preview, confirm, wait for the job's outcome; prints it and saves a screenshot.

    make install-dev   # Playwright is a development dependency
    .venv/bin/python scripts/demo_eccloud_push.py [BASE_URL] [USERNAME] [PASSWORD] [TENANT]
    (defaults: http://127.0.0.1:8000 msp-tech portal-demo-2026 "Bakery Chain")
"""
from __future__ import annotations

import os
import sys
from pathlib import Path

from playwright.sync_api import sync_playwright


def main() -> int:
    base, user, password, tenant = (sys.argv[1:] + [None] * 4)[:4]
    base, user = base or "http://127.0.0.1:8000", user or "msp-tech"
    password, tenant = password or "portal-demo-2026", tenant or "Bakery Chain"
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=os.environ.get("CHROMIUM", "/usr/bin/chromium"), args=["--no-sandbox"])
        page = browser.new_page(viewport={"width": 1440, "height": 900})
        page.goto(f"{base}/login/?next=/")  # the one goto: everything after is clicks
        page.fill("#id_username", user)
        page.fill("#id_password", password)
        page.click("main button[type=submit]")
        page.click(f'table a:has-text("{tenant}")')
        page.click("#dashboard-new-job")
        page.wait_for_selector("#pick-devices")
        rows = page.locator("#pick-devices tr:has(input[type=checkbox])")
        picked = 0
        for index in range(rows.count()):
            row = rows.nth(index)
            if picked < 2 and "online" in row.inner_text().lower():
                row.locator("input[type=checkbox]").check()
                picked += 1
        if not picked:
            print("no online access point to push to")
            return 1
        page.check("#job-form input[name=kind][value=config_push]")
        page.fill("#change-key-1", "radio/r5/channel")
        page.fill("#change-value-1", "149")
        page.click("#preview-job")
        page.wait_for_selector("#device-preview")
        page.click("#confirm-job")
        page.wait_for_selector("#job-live")
        page.wait_for_function("['succeeded','partial','failed'].includes(document.querySelector('#job-live').dataset.status)",
                               timeout=180_000)
        status = page.get_attribute("#job-live", "data-status")
        print(f"{page.url}: {status}")
        print(page.inner_text("#job-items"))
        Path("test-artifacts").mkdir(exist_ok=True)  # git-ignored, beside the browser tests' screenshots
        page.screenshot(path="test-artifacts/demo-eccloud-push.png", full_page=True)
        browser.close()
    return 0 if status == "succeeded" else 1


if __name__ == "__main__":
    raise SystemExit(main())
