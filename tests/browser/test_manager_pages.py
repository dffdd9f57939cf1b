"""A manager's day in a real browser: log in, confirm a suggestion with one click and with one key, confirm a
selection, record a meeting with a field missing and see it named, fail to open another manager's client.
Screenshots of the queue and the operators' desk at laptop and phone widths go to docs/screenshots/ when
TOUCHPOINT_UPDATE_SCREENSHOTS=1."""

from __future__ import annotations

import os
import uuid
from datetime import timedelta
from pathlib import Path

import pytest
from playwright.async_api import Browser, Page, expect

from schemas.actions import ACTION_ADAPTER, SetOutcome
from schemas.topics import ACTIONS
from tests.integration.helpers import read_topic
from tests.integration.reporting_world import ACCOUNTS, NOW, PASSWORD, Reporting

pytestmark = pytest.mark.integration

SCREENSHOTS = Path(__file__).resolve().parents[2] / "docs" / "screenshots"
LAPTOP = {"width": 1280, "height": 800}
PHONE = {"width": 390, "height": 844}


def base_url(reporting: Reporting) -> str:
    return str(reporting.client.make_url("")).rstrip("/")


async def logged_in(browser: Browser, reporting: Reporting, role: str, viewport: dict[str, int] = LAPTOP) -> Page:
    context = await browser.new_context(base_url=base_url(reporting), viewport=viewport)  # type: ignore[arg-type]
    page = await context.new_page()
    await page.goto("/queue")
    await expect(page).to_have_url(f"{base_url(reporting)}/login?next=/queue")
    await page.get_by_label("Email").fill(ACCOUNTS[role][0])
    await page.get_by_label("Password").fill(PASSWORD)
    await page.get_by_role("button", name="Log in").click()
    return page


async def confirmed(reporting: Reporting, count: int) -> dict[str, str]:
    records = await read_topic(reporting.kafka, reporting.kafka.topics(ACTIONS), expect=count)
    actions = [ACTION_ADAPTER.validate_json(r.value) for r in records]
    return {str(a.interaction_id): a.outcome for a in actions if isinstance(a, SetOutcome)}


async def test_a_manager_confirms_with_one_click_with_one_key_and_a_selection(
    browser: Browser, reporting: Reporting
) -> None:
    office = reporting.office
    page = await logged_in(browser, reporting, "manager")
    await expect(page).to_have_url(f"{base_url(reporting)}/queue")
    items = page.locator("li.item")
    await expect(items).to_have_count(3)

    # One click on the suggestion of the missed call ("No answer").
    missed = page.locator(f'li.item[data-id="{office.ann_missed}"]')
    await missed.get_by_role("button", name="✓ No answer").click()
    await expect(missed).to_have_count(0)
    await expect(page.locator(".flash")).to_contain_text("Sent: no answer")
    assert await confirmed(reporting, 1) == {str(office.ann_missed): "no_answer"}

    # One key: the first item is the flagged call (no Enter there: it needs a verdict); j moves to the email.
    flagged = page.locator(f'li.item[data-id="{office.ann_flagged}"]')
    await expect(flagged.get_by_role("button", name="Wrong number")).to_be_visible()
    await expect(flagged.get_by_role("button", name="Call back")).to_be_visible()
    await page.keyboard.press("j")
    await page.keyboard.press("Enter")
    await expect(page.locator(f'li.item[data-id="{office.ann_email}"]')).to_have_count(0)
    await page.keyboard.press("w")
    await expect(flagged).to_have_count(0)
    assert await confirmed(reporting, 3) == {
        str(office.ann_missed): "no_answer",
        str(office.ann_email): "done",
        str(office.ann_flagged): "wrong_number",
    }

    # A selection: the page reloads with all three (nothing applies them here: no classifier runs in this test).
    await page.goto("/queue")
    await page.locator(f'li.item[data-id="{office.ann_missed}"] input[type=checkbox]').check()
    await page.locator(f'li.item[data-id="{office.ann_email}"] input[type=checkbox]').check()
    await page.get_by_role("button", name="Confirm selected").click()
    await expect(page.locator(".flash")).to_contain_text("Sent: 2")
    assert len(await read_topic(reporting.kafka, reporting.kafka.topics(ACTIONS), expect=5)) == 5


async def test_a_meeting_with_a_field_missing_names_it_and_another_managers_client_stays_closed(
    browser: Browser, reporting: Reporting
) -> None:
    office = reporting.office
    page = await logged_in(browser, reporting, "manager")
    await page.goto(f"/contacts/{office.ann_contact}")
    await page.get_by_role("link", name="Record a meeting").click()
    await expect(page.get_by_label("Last name")).to_have_value("Doe")
    await page.get_by_label("First name").fill("")
    await page.get_by_label("Topic").fill("Renewal")
    await page.get_by_role("button", name="Save meeting").click()
    alert = page.get_by_role("alert")
    await expect(alert).to_contain_text("the client's first name is required")
    await expect(alert).to_contain_text("the result is required")
    await expect(page.get_by_label("Topic")).to_have_value("Renewal")
    assert await read_topic(reporting.kafka, reporting.kafka.topics(ACTIONS), timeout=1) == []

    response = await page.goto(f"/contacts/{office.bob_contact}")
    assert response is not None
    assert response.status == 404
    await expect(page.get_by_role("heading", name="Not found")).to_be_visible()
    await expect(page.locator("body")).not_to_contain_text("Roe")


@pytest.mark.skipif(not os.environ.get("TOUCHPOINT_UPDATE_SCREENSHOTS"), reason="set TOUCHPOINT_UPDATE_SCREENSHOTS=1")
async def test_screenshots_of_every_page(browser: Browser, reporting: Reporting) -> None:
    """Every page a person opens, as the role that opens it, at laptop and phone widths."""
    office = reporting.office
    await reporting.pool.execute(
        """INSERT INTO contact_consents (contact_id, channel, granted, source, recorded_by, recorded_at)
           VALUES ($1, 'email', true, 'said yes on the call of 30 Nov', 'otto@example.com', $2),
                  ($1, 'sms', false, 'asked for no texts', 'otto@example.com', $2)""",
        office.ann_contact,
        NOW - timedelta(hours=2),
    )
    merged = uuid.uuid4()
    await reporting.pool.execute(
        """INSERT INTO contacts (id, owner_id, first_name, last_name, created_automatically, merged_into)
           VALUES ($1, 'm-ann', 'Jane', 'Doe', false, $2)""",
        merged,
        office.ann_contact,
    )
    shots = {
        "manager": [("queue", "/queue"), ("contact", f"/contacts/{office.ann_contact}"),
                    ("meeting", f"/contacts/{office.ann_contact}/meetings/new"), ("audit-manager", "/audit"),
                    ("not-found", f"/contacts/{office.bob_contact}")],
        "supervisor": [("queue-supervisor", "/queue"), ("reports", "/reports"), ("audit", "/audit")],
        "operator": [("desk", "/desk?q=(415) 555-0201"), ("contact-operator", f"/contacts/{office.ann_contact}"),
                     ("contact-merged", f"/contacts/{merged}")],
        "analyst": [("interactions-analyst", "/interactions"), ("reports-analyst", "/reports")],
        "admin": [("users", "/admin/users"), ("handover", "/admin/handover?manager_id=m-ann&team=east")],
    }  # fmt: skip
    SCREENSHOTS.mkdir(exist_ok=True)
    for width, viewport in (("laptop", LAPTOP), ("phone", PHONE)):
        context = await browser.new_context(base_url=base_url(reporting), viewport=viewport)  # type: ignore[arg-type]
        login = await context.new_page()
        await login.goto("/login")
        await login.screenshot(path=SCREENSHOTS / f"login-{width}.png", full_page=True)
        await context.close()
        for role, pages in shots.items():
            page = await logged_in(browser, reporting, role, viewport)
            for name, path in pages:
                await page.goto(path)
                await page.screenshot(path=SCREENSHOTS / f"{name}-{width}.png", full_page=True)
            await page.context.close()
