"""The web flows' pure decisions, as tables: sign-up, confirm, unsubscribe, regions;
and the confirmation email's render."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from bot.render.transactional import render_confirmation
from bot.types import SubscriberStatus
from bot.web.flows import (
    ConfirmOutcome,
    SignupAction,
    UnsubscribeOutcome,
    choose_regions,
    confirm_outcome,
    signup_action,
    unsubscribe_outcome,
)
from tests.render_editions import fixture_config

S = SubscriberStatus
RENDER_CONFIG = Path(__file__).parent / "fixtures" / "render" / "config.yaml"
REGIONS = ("Middle East", "Asia-Pacific", "Europe", "More from the site")


@pytest.mark.parametrize(
    ("current", "action"),
    [
        (None, SignupAction.CREATE),
        (S.PENDING, SignupAction.RESEND),
        (S.ACTIVE, SignupAction.NOTHING),
        (S.UNSUBSCRIBED, SignupAction.REOPEN),
        (S.BOUNCED, SignupAction.REOPEN),
        (S.COMPLAINED, SignupAction.NOTHING),
    ],
)
def test_signup_action(current: SubscriberStatus | None, action: SignupAction) -> None:
    assert signup_action(current) is action


T0 = datetime(2026, 11, 24, 12, 0, tzinfo=UTC)
WAIT = timedelta(minutes=10)


@pytest.mark.parametrize(
    ("current", "since", "action"),
    [
        (S.PENDING, timedelta(0), SignupAction.NOTHING),  # just mailed
        (S.PENDING, timedelta(minutes=9, seconds=59), SignupAction.NOTHING),
        (S.PENDING, WAIT, SignupAction.RESEND),
        (S.PENDING, timedelta(days=2), SignupAction.RESEND),
        (S.UNSUBSCRIBED, timedelta(0), SignupAction.REOPEN),  # a new sign-up, mailed once
        (None, timedelta(0), SignupAction.CREATE),
    ],
)
def test_a_pending_address_is_mailed_again_only_after_a_while(
    current: SubscriberStatus | None, since: timedelta, action: SignupAction
) -> None:
    got = signup_action(current, last_change=T0, now=T0 + since, resend_after=WAIT)
    assert got is action


@pytest.mark.parametrize(
    ("current", "outcome"),
    [
        (S.PENDING, ConfirmOutcome.ACTIVATED),
        (S.ACTIVE, ConfirmOutcome.ALREADY_ACTIVE),
        (S.UNSUBSCRIBED, ConfirmOutcome.NOT_PENDING),
        (S.BOUNCED, ConfirmOutcome.NOT_PENDING),
        (S.COMPLAINED, ConfirmOutcome.NOT_PENDING),
    ],
)
def test_confirm_outcome(current: SubscriberStatus, outcome: ConfirmOutcome) -> None:
    assert confirm_outcome(current) is outcome


@pytest.mark.parametrize(
    ("current", "outcome"),
    [
        (S.ACTIVE, UnsubscribeOutcome.UNSUBSCRIBED),
        (S.PENDING, UnsubscribeOutcome.UNSUBSCRIBED),
        (S.UNSUBSCRIBED, UnsubscribeOutcome.ALREADY),
        (S.BOUNCED, UnsubscribeOutcome.ALREADY),  # a stronger status stays
        (S.COMPLAINED, UnsubscribeOutcome.ALREADY),
    ],
)
def test_unsubscribe_outcome(current: SubscriberStatus, outcome: UnsubscribeOutcome) -> None:
    assert unsubscribe_outcome(current) is outcome


@pytest.mark.parametrize(
    ("scope", "chosen", "expected"),
    [
        (None, [], None),  # the sign-up form, nothing ticked: every region
        ("all", [], None),
        ("all", ["Europe"], None),  # "every region" wins over stray ticks
        (None, ["Europe", "Middle East"], ("Middle East", "Europe")),  # config order
        ("some", ["Europe"], ("Europe",)),
        ("some", ["Europe", "Europe"], ("Europe",)),
        ("some", list(REGIONS), None),  # all of them ticked is every region
        ("some", ["More from the site"], ("More from the site",)),  # the fallback too
    ],
)
def test_choose_regions(
    scope: str | None, chosen: list[str], expected: tuple[str, ...] | None
) -> None:
    assert choose_regions(REGIONS, scope, chosen) == expected


@pytest.mark.parametrize(
    ("scope", "chosen", "message"),
    [
        ("some", [], "tick at least one"),
        ("some", ["Atlantis"], "unknown region"),
        ("none", ["Europe"], "choose every region"),
        ("some", ["Europe"] * 5, "too many"),
    ],
)
def test_choose_regions_refuses(scope: str, chosen: list[str], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        choose_regions(REGIONS, scope, chosen)


def test_the_confirmation_email_is_in_the_brand_and_carries_the_link() -> None:
    url = "https://newsletter.example.org/confirm/abc.DEF-123_x"
    email = render_confirmation(fixture_config(), url, timedelta(days=7))
    assert email.subject == "Confirm your subscription to Weekly Round-Up"
    assert f'href="{url}"' in email.html
    assert "#b5121b" in email.html  # the accent colour, inlined
    assert "<style" in email.html and 'style="' in email.html
    assert "2000 Example Avenue NW" in email.html and "2000 Example Avenue NW" in email.text
    assert url in email.text.splitlines()
    assert "7 days" in email.text
    assert "-roundup." not in email.html + email.text  # no per-recipient tokens left


@pytest.mark.parametrize("url", ["javascript:alert(1)", "/confirm/x", 'https://a.example/"><b>'])
def test_the_confirmation_email_refuses_a_link_that_is_not_http(url: str) -> None:
    with pytest.raises(ValueError, match="not an absolute"):
        render_confirmation(fixture_config(), url, timedelta(days=7))


def test_serve_refuses_to_start_without_a_secret_or_a_base_url(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from bot.cli import main

    monkeypatch.delenv("ROUNDUP_SECRET_KEY", raising=False)
    monkeypatch.setenv("DATABASE_URL", f"sqlite:///{tmp_path / 'x.db'}")
    assert main(["serve", "--config", str(RENDER_CONFIG), "--port", "9"]) == 2
    assert "ROUNDUP_SECRET_KEY" in capsys.readouterr().err

    no_base = tmp_path / "config.yaml"
    no_base.write_text(RENDER_CONFIG.read_text().replace("  base_url:", "  # base_url:"))
    monkeypatch.setenv("ROUNDUP_SECRET_KEY", "k" * 40)
    assert main(["serve", "--config", str(no_base)]) == 2
    assert "base_url" in capsys.readouterr().err
