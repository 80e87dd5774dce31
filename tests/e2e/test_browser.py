"""A real browser (Debian's Chromium, driven by Playwright) does a learner's whole login."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from sso_bridge.demo.stack import DemoStack

ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts"
CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
FLAGS = ["--headless=new", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
         "--disable-background-networking", "--disable-component-update", "--disable-sync"]

pytestmark = pytest.mark.browser


def test_learner_signs_in_with_a_browser_and_sees_their_name_in_sakai(stack: DemoStack) -> None:
    sync_api = pytest.importorskip("playwright.sync_api")
    assert Path(CHROMIUM).exists(), "Debian's chromium package is missing (scripts/setup.sh)"
    ARTIFACTS.mkdir(exist_ok=True)
    target = stack.sakai.url + "/portal/site/welcome"
    with sync_api.sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=FLAGS,
                                             headless=True)
        try:
            page = browser.new_page()
            page.goto(f"{stack.bridge_url}/saml/login?target={target}")
            page.fill("input[name=username]", "walter")
            page.fill("input[name=password]", "walterpass")
            page.screenshot(path=str(ARTIFACTS / "browser-1-idp-login.png"))
            page.press("input[name=password]", "Enter")
            page.wait_for_url(target, timeout=15_000)
            page.wait_for_selector("text=Walter Tester")
            page.screenshot(path=str(ARTIFACTS / "browser-2-sakai-portal.png"))
            assert "walter@example.org" in page.content()
            cookies = {c["name"]: c for c in page.context.cookies()}
            assert cookies["JSESSIONID"]["value"].endswith("." + stack.sakai.config.server_id)
            assert cookies["JSESSIONID"]["httpOnly"]
        finally:
            browser.close()
