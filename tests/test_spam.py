"""SpamAssassin's verdict on what we mail: the round-up and the confirmation.

The demo edition goes to the outbox through a real `roundup demo` process, and a
double opt-in confirmation through the outbox transport; Debian's `spamassassin`
then scores both with its local rules only (``-L``: no network, no DNS
blocklists). Each must score 0.5 or less. A hidden preheader coloured like the
background in 1px type used to cost 1.7 (HTML_FONT_LOW_CONTRAST, FONT_INVIS_MSGID).

Without `spamassassin` the test skips, unless ``ROUNDUP_REQUIRE_SPAMASSASSIN=1``
(CI installs it), when it fails.
"""

from __future__ import annotations

import mailbox
import os
import re
import shutil
import subprocess
import sys
from datetime import timedelta
from pathlib import Path

from bot.clock import FixedClock
from bot.config import load_config
from bot.render.transactional import render_confirmation
from bot.send import Message, OutboxTransport, Recipient
from bot.tokens import confirm_url
from bot.types import Subscriber, SubscriberStatus
from tests.conftest import skip_or_fail

ROOT = Path(__file__).resolve().parent.parent
MAX_SCORE = 0.5
REQUIRE_ENV = "ROUNDUP_REQUIRE_SPAMASSASSIN"
_STATUS = re.compile(r"^X-Spam-Status: \w+, score=(-?[\d.]+) .*?tests=(.*?)(?=^\S)", re.M | re.S)


def _spamassassin() -> str:
    found = shutil.which("spamassassin")
    if found is None:
        skip_or_fail("spamassassin is not installed (apt-get install spamassassin)", REQUIRE_ENV)
    assert found is not None
    return found


def _demo_edition(tmp_path: Path) -> mailbox.mboxMessage:
    env = {**os.environ, "NO_COLOR": "1", "HOME": str(tmp_path)}
    env.pop("ROUNDUP_CONFIG", None)
    env.pop("DATABASE_URL", None)
    var = tmp_path / "var"
    config = ROOT / "config" / "feeds.yaml"
    result = subprocess.run(
        [sys.executable, "-m", "bot", "demo", "--config", str(config), "--var", str(var)],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stderr
    boxes = [p for p in (var / "outbox").glob("*.mbox") if not p.name.endswith("-test.mbox")]
    assert len(boxes) == 1, boxes
    return mailbox.mbox(boxes[0])[0]


def _confirmation(tmp_path: Path) -> mailbox.mboxMessage:
    config = load_config(ROOT / "config" / "feeds.yaml")
    clock = FixedClock()
    pending = Subscriber(email="reader@example.org", status=SubscriberStatus.PENDING, id=7)
    url = confirm_url(config, "s" * 48, pending, clock.now())
    email = render_confirmation(config, url, timedelta(days=7))
    outbox = OutboxTransport(config, tmp_path / "confirm", clock)
    message = Message(subject=email.subject, html=email.html, text=email.text)
    try:
        assert outbox.send(message, [Recipient(pending.email)]).accepted
    finally:
        outbox.close()
    return mailbox.mbox(next((tmp_path / "confirm").glob("*.mbox")))[0]


def test_the_round_up_and_the_confirmation_score_at_most_half_a_point(tmp_path: Path) -> None:
    spamassassin = _spamassassin()
    both = tmp_path / "both.mbox"
    box = mailbox.mbox(both)
    box.add(_demo_edition(tmp_path))
    box.add(_confirmation(tmp_path))
    box.close()
    # One process for both messages: loading the rules takes most of its time.
    with both.open("rb") as mail:
        result = subprocess.run(
            [spamassassin, "-L", "-t", "--mbox"],
            stdin=mail,
            env={**os.environ, "HOME": str(tmp_path)},
            capture_output=True,
            timeout=240,
        )
    assert result.returncode == 0, result.stderr.decode(errors="replace")
    scores = [
        (float(score), " ".join(rules.split()))
        for score, rules in _STATUS.findall(result.stdout.decode(errors="replace"))
    ]
    assert len(scores) == 2, result.stdout.decode(errors="replace")[-2000:]
    for (score, rules), what in zip(scores, ("the round-up", "the confirmation"), strict=True):
        assert score <= MAX_SCORE, f"{what} scores {score}: {rules}"
