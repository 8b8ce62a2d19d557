"""A new shop's whole journey in a real headless Chromium, against the live server and a real Celery worker.

signup -> API keys (a key shown once) -> settings (a tiny model) -> catalog upload -> interactions upload
-> the import page follows the job -> the training job runs -> models -> dashboard -> preview of a
user's recommendations -> an item's similar items -> the key is revoked and stops working.

Every page is photographed at desktop and phone width into test-artifacts/screenshots/<step>-<width>.png.
Chromium is Debian's (`make browser` installs it); without it this test fails, unless
SKIP_BROWSER_TESTS=1 is set. Nothing here touches the ORM: the test sees only what a person sees
(Playwright's sync API runs an event loop in this thread, where Django refuses database calls).
"""

from __future__ import annotations

import os
import re
import shutil
import urllib.error
import urllib.request
from pathlib import Path

import pytest
from django.conf import settings
from playwright.sync_api import Page, Route, expect, sync_playwright

pytestmark = [pytest.mark.browser, pytest.mark.worker, pytest.mark.slow]

CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-dev-shm-usage",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
DESKTOP = {"width": 1280, "height": 800}
PHONE = {"width": 375, "height": 812}
SCREENSHOTS = Path(settings.BASE_DIR) / "test-artifacts" / "screenshots"
PICTURES = "https://img.shop.test/"
SECONDS = 1000  # Playwright timeouts are in milliseconds

PRODUCTS = {
    "Audio": ["Wireless earbuds", "Over-ear headphones", "Bluetooth speaker", "Earphones with mic",
              "Soundbar", "Portable radio", "Studio monitor", "Noise-cancelling headset"],
    "Kitchen": ["Electric kettle", "Chef's knife", "Cast-iron pan", "Coffee grinder",
                "Toaster", "Stand mixer", "Rice cooker", "Glass teapot"],
    "Books": ["Sci-fi novel", "Cookbook", "Travel guide", "Poetry collection",
              "History of Rome", "Gardening handbook", "Children's atlas", "Crime thriller"],
    "Garden": ["Watering can", "Pruning shears", "Seed tray", "Garden gloves",
               "Hose reel", "Bird feeder", "Compost bin", "Solar lantern"],
}  # fmt: skip
GROUPS = list(PRODUCTS)
USERS = 48


def chromium_executable() -> str:
    if os.environ.get("SKIP_BROWSER_TESTS") == "1":
        pytest.skip("SKIP_BROWSER_TESTS=1 is set: the browser tests are skipped.")
    found = shutil.which("chromium") or ("/usr/bin/chromium" if os.access("/usr/bin/chromium", os.X_OK) else None)
    if found is None:
        pytest.fail(
            "Chromium was not found (neither `chromium` on PATH nor /usr/bin/chromium). Install it with "
            "`make browser` (apt-get install chromium), or set SKIP_BROWSER_TESTS=1 to skip the browser tests.",
            pytrace=False,
        )
    return found


def catalog_csv() -> str:
    """32 products in 4 categories: sku<i> is in category i % 4, with a picture, a rating, some discounts."""
    lines = ["id,name,main_category,sub_category,image,link,ratings,no_of_ratings,discount_price,actual_price"]
    for i in range(32):
        group = GROUPS[i % 4]
        name = PRODUCTS[group][i // 4]
        price = 9 + 7 * (i % 9)
        original = round(price * 1.25, 2) if i % 3 == 0 else price
        lines.append(
            f'sku{i},"{name}",{group},{group} essentials,{PICTURES}sku{i}.svg,https://shop.test/p/sku{i},'
            f"{3.5 + (i % 3) * 0.5},{10 + i * 13},{price},{original}"
        )
    return "\n".join(lines) + "\n"


def interactions_csv() -> str:
    """Clustered: user<u> shops in category u % 4 only (6 of its 8 items, in a run that starts somewhere else for
    each user of the category), viewing one item and buying two a day, on two days.

    A model that learns anything beats popularity on this, and the two-item baskets give bought-together rules.
    """
    lines = ["user_id,item_id,event_type,timestamp"]
    for u in range(USERS):
        group = u % 4
        start = (u // 4 + 3 * group) % 8
        for k in range(6):
            item = group + 4 * ((start + k) % 8)
            event_type = "view" if k % 3 == 0 else "purchase"
            lines.append(f"user{u},sku{item},{event_type},2024-03-{1 + k // 3:02d}T{8 + k:02d}:{u % 60:02d}:00Z")
    return "\n".join(lines) + "\n"


def fake_picture(route: Route) -> None:
    """Product pictures come from a shop's CDN; the browser gets a drawn one here (the machine is offline)."""
    name = route.request.url.rsplit("/", 1)[-1].removesuffix(".svg")
    index = int(re.sub(r"\D", "", name) or 0)
    hue = (index % 4) * 90 + index * 3
    svg = (
        '<svg xmlns="http://www.w3.org/2000/svg" width="200" height="150" viewBox="0 0 200 150">'
        f'<rect width="200" height="150" fill="hsl({hue},60%,90%)"/>'
        f'<rect x="62" y="28" width="76" height="76" rx="14" fill="hsl({hue},55%,55%)"/>'
        f'<text x="100" y="132" font-family="sans-serif" font-size="16" text-anchor="middle" fill="#334">{name}</text>'
        "</svg>"
    )
    route.fulfill(status=200, content_type="image/svg+xml", body=svg)


def snap(page: Page, step: str) -> None:
    """Full-page screenshots at desktop and phone width; at phone width nothing may stick out sideways."""
    for size in (DESKTOP, PHONE):
        page.set_viewport_size(size)
        overflow = page.evaluate("document.documentElement.scrollWidth - document.documentElement.clientWidth")
        assert overflow <= 1, f"{step}: the page is {overflow}px wider than a {size['width']}px screen"
        page.screenshot(path=SCREENSHOTS / f"{step}-{size['width']}.png", full_page=True)
    page.set_viewport_size(DESKTOP)


def api_status(base_url: str, path: str, key: str) -> int:
    """The status of a GET with only an API key (no session cookie)."""
    request = urllib.request.Request(base_url + path, headers={"X-API-Key": key})  # noqa: S310 - the live server
    try:
        with urllib.request.urlopen(request, timeout=10) as response:  # noqa: S310
            return response.status
    except urllib.error.HTTPError as exc:
        return exc.code


@pytest.fixture
def chromium_path() -> str:
    """Checked before the worker and the live server start, so that a skip or a failure costs nothing."""
    return chromium_executable()


@pytest.fixture
def page(chromium_path: str, live_worker, live_server):
    """A desktop-sized page on the live server; product pictures are drawn, "Revoke?" confirmations accepted.

    Playwright starts after the worker and stops before it (and before the database is flushed): its event
    loop must not be running while Django touches the database in this thread.
    """
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=chromium_path, headless=True, args=CHROMIUM_ARGS)
        context = browser.new_context(viewport=DESKTOP, base_url=live_server.url)
        context.set_default_timeout(15 * SECONDS)
        context.route(PICTURES + "**", fake_picture)
        page = context.new_page()
        page.on("dialog", lambda dialog: dialog.accept())
        try:
            yield page
        finally:
            page.screenshot(path=SCREENSHOTS / "last-1280.png", full_page=True)  # where a failure stopped
            context.close()
            browser.close()


def test_a_new_shop_from_signup_to_previewed_recommendations(page: Page, live_server, tmp_path):
    nav = page.get_by_role("navigation", name="Main")

    # --- signup, and the first key ----------------------------------------------------------------------------
    page.goto("/signup/")
    page.get_by_label("Email").fill("owner@shop.test")
    page.get_by_label("Password").fill("a long enough password")
    page.get_by_label("Shop name").fill("Corner Shop")
    snap(page, "01-signup")
    page.get_by_role("button", name="Sign up").click()
    expect(page).to_have_url(re.compile(r"/keys/$"))
    expect(page.get_by_text("Corner Shop is ready")).to_be_visible()
    expect(page.locator("#new-key-value")).to_have_text(re.compile(r"^rk_"))

    # --- a second key for the storefront, shown once ----------------------------------------------------------
    page.get_by_label("Name").fill("storefront")
    page.get_by_role("button", name="Create key").click()
    expect(page.get_by_role("heading", name="New key “storefront”")).to_be_visible()
    key = page.locator("#new-key-value").inner_text().strip()
    assert key.startswith("rk_")
    snap(page, "02-api-keys")
    page.reload()
    expect(page.locator("#new-key")).to_have_count(0)
    expect(page.get_by_role("row", name=re.compile("storefront"))).to_contain_text("active")
    assert api_status(live_server.url, "/api/v1/trending", key) == 200

    # --- a new shop's pages say what to do first, instead of being blank -------------------------------------
    for path, step, hint in (
        ("/dashboard/", "02b-dashboard-empty", "No model yet"),
        ("/training/", "02c-training-empty", "No training jobs yet"),
        ("/models/", "02d-models-empty", "No model"),
        ("/preview/", "02e-preview-empty", "No items yet"),
    ):
        page.goto(path)
        expect(page.locator("main")).to_contain_text(hint)
        snap(page, step)

    # --- settings: a tiny model, and a synonym ----------------------------------------------------------------
    nav.get_by_role("link", name="Settings").click()
    training = page.locator("#training")
    for label, value in [
        ("Embedding dim", "8"),
        ("MLP layers", "16, 8"),
        ("Epochs", "12"),
        ("Batch size", "64"),
        ("Learning rate", "0.01"),
        ("Min interactions", "10"),
    ]:
        training.get_by_label(label, exact=True).fill(value)
    training.get_by_role("button", name="Save training settings").click()
    expect(page.get_by_text("Training settings saved.")).to_be_visible()
    recommendations = page.locator("#recommendations")
    recommendations.get_by_label("Synonyms").fill("earbuds: earphones, in-ear")
    recommendations.get_by_role("button", name="Save recommendation settings").click()
    expect(page.get_by_text("Recommendation settings saved.")).to_be_visible()
    expect(page.locator("#recommendations textarea")).to_have_value("earbuds: earphones, in-ear")
    snap(page, "03-settings")

    # --- the catalog upload, followed live --------------------------------------------------------------------
    catalog_file = tmp_path / "products.csv"
    catalog_file.write_text(catalog_csv())
    nav.get_by_role("link", name="Catalog").click()
    page.locator("#upload").get_by_label("File", exact=True).set_input_files(catalog_file)
    page.get_by_role("button", name="Upload catalog").click()
    expect(page.get_by_role("heading", name=re.compile(r"Catalog import #\d+"))).to_be_visible()
    status = page.locator("#import-status [data-field=status]")
    expect(status).to_have_text("succeeded", timeout=30 * SECONDS)
    expect(page.locator("#import-status")).to_contain_text("finished")
    expect(page.locator("#import-status [data-field=rows_imported]")).to_have_text("32")
    snap(page, "04-catalog-import")
    page.get_by_role("link", name="← Catalog").click()
    expect(page.locator("#stat-items")).to_have_text("32")
    snap(page, "05-catalog")

    # --- the interactions upload queues a training ------------------------------------------------------------
    interactions_file = tmp_path / "interactions.csv"
    interactions_file.write_text(interactions_csv())
    nav.get_by_role("link", name="Interactions").click()
    page.locator("#upload").get_by_label("File", exact=True).set_input_files(interactions_file)
    page.get_by_role("button", name="Upload interactions").click()
    expect(status).to_have_text("succeeded", timeout=30 * SECONDS)
    expect(page.locator("#import-status [data-field=rows_imported]")).to_have_text(str(USERS * 6))
    training_link = page.get_by_role("link", name=re.compile(r"training job #\d+"))
    expect(training_link).to_be_visible(timeout=15 * SECONDS)
    snap(page, "06-interactions-import")

    # --- the training job, followed live ----------------------------------------------------------------------
    training_link.click()
    expect(page.get_by_role("heading", name=re.compile(r"Training job #\d+"))).to_be_visible()
    expect(page.locator("#job-status [data-field=status]")).to_have_text("succeeded", timeout=60 * SECONDS)
    expect(page.locator("#result")).to_contain_text("v1")
    expect(page.locator("#curves svg[data-chart=loss] path")).to_have_count(1)
    snap(page, "07-training-job")

    # --- the models page lists the version with its metrics ---------------------------------------------------
    nav.get_by_role("link", name="Models").click()
    version = page.locator("table.versions tbody tr").first
    expect(version).to_contain_text("v1")
    expect(version.locator(".badge.active")).to_have_text("active")
    expect(version.locator("td").nth(1)).to_have_text(re.compile(r"\d\.\d{3} / \d\.\d{3}"))  # HR@10 model / popularity
    expect(page.locator("svg[data-chart=hr_at_10] circle")).to_have_count(2)
    snap(page, "08-models")

    # --- the dashboard now shows the shop's counts and its model ----------------------------------------------
    nav.get_by_role("link", name="Dashboard").click()
    expect(page.locator("#stat-items")).to_have_text("32")
    expect(page.locator("#stat-users")).to_have_text(str(USERS))
    expect(page.locator("#stat-events")).to_have_text(str(USERS * 6))
    expect(page.locator("#get-started")).to_have_count(0)
    expect(page.locator("table.metrics")).to_contain_text("Popularity baseline")
    snap(page, "09-dashboard")

    # --- the preview: a user's recommendations ----------------------------------------------------------------
    nav.get_by_role("link", name="Preview").click()
    expect(page.locator("#no-model")).to_have_count(0)
    expect(page.locator("#trending li.item")).to_have_count(10)
    page.locator("#user-preview .examples a").first.click()
    results = page.locator("#results")
    expect(results).to_contain_text("For user user0")
    expect(results).to_contain_text("strategy: neumf")
    expect(results).to_contain_text("model v1")
    expect(page.locator("#fallback-flag")).to_have_count(0)
    expect(results.locator("li.item")).to_have_count(10)
    first = results.locator("li.item").first
    expect(first.locator("img")).to_have_attribute("src", re.compile(r"^https://img\.shop\.test/sku\d+\.svg$"))
    expect(first.locator(".reason")).to_have_text(re.compile(r"^Similar to .+, from their recent activity$"))
    expect(results).to_contain_text("Audio › Audio essentials")  # user0 shops in Audio
    # Pictures are lazy: bring each into view, then wait until every one has loaded (not just been requested).
    for picture in results.locator("img").all():
        picture.scroll_into_view_if_needed()
    page.wait_for_function(
        "[...document.querySelectorAll('#results img')].every(img => img.complete && img.naturalWidth > 0)",
        timeout=10 * SECONDS,
    )
    page.evaluate("window.scrollTo(0, 0)")
    snap(page, "10-preview")

    # --- an item and its neighbours ---------------------------------------------------------------------------
    name = first.locator(".name").inner_text()
    first.locator("a.item-link").click()
    expect(page.get_by_role("heading", level=1)).to_have_text(name)
    similar = page.locator("#similar li.item")
    expect(similar.first).to_be_visible()
    assert similar.count() >= 5
    expect(similar.first.locator(".reason")).to_have_text(f"Similar to {name}")
    expect(page.locator("#bought-together li.item").first.locator(".rule")).to_contain_text("confidence")
    snap(page, "11-preview-item")
    onward = similar.first.locator(".name").inner_text()
    similar.first.locator("a.item-link").click()
    expect(page.get_by_role("heading", level=1)).to_have_text(onward)

    # --- a bad user id is answered beside the field -----------------------------------------------------------
    nav.get_by_role("link", name="Preview").click()
    page.get_by_label("User id").fill("not an id!")
    page.get_by_role("button", name="Show").click()
    expect(page.locator(".field.has-error .error")).to_contain_text("is not a valid id")

    # --- the storefront key is revoked and stops working at once ----------------------------------------------
    nav.get_by_role("link", name="API keys").click()
    page.get_by_role("row", name=re.compile("storefront")).get_by_role("button", name="Revoke").click()
    expect(page.get_by_text(re.compile(r"was revoked; it stops working at once"))).to_be_visible()
    expect(page.get_by_role("row", name=re.compile("storefront"))).to_contain_text("revoked")
    snap(page, "12-api-keys-revoked")
    assert api_status(live_server.url, "/api/v1/trending", key) == 401

    # --- the remaining lists, an unknown address, and signing out ---------------------------------------------
    nav.get_by_role("link", name="Interactions").click()
    expect(page.locator("main")).to_contain_text("succeeded")
    snap(page, "13-interactions")
    nav.get_by_role("link", name="Training").click()
    expect(page.locator("main")).to_contain_text("succeeded")
    snap(page, "14-training")
    page.goto("/no/such/page/")
    expect(page.locator("main")).to_contain_text("There is nothing at this address")
    snap(page, "15-not-found")
    page.goto("/dashboard/")
    page.get_by_role("button", name="Log out").first.click()
    expect(page).to_have_url(re.compile(r"/login/"))
    snap(page, "16-login")
