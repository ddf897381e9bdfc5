"""The outbox worker: claim due invitations, send them with no database connection held,
record the results; reconcile sends whose outcome is unknown before anything is retried."""

from __future__ import annotations

import logging
import signal
import threading
import time
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime
from zoneinfo import ZoneInfo

from flask import current_app
from sqlalchemy import func, select

from survey_app.config import slowest_batch_seconds
from survey_app.extensions import db
from survey_app.metrics import observe_sms_batch
from survey_app.models import Invitation, InvitationStatus, utcnow
from survey_app.services.dossiers import quiet_hours_end

from .outbox import claim_batch, reconcile, record_results, stale_sends
from .providers import Outcome, SmsProvider, make_provider

log = logging.getLogger(__name__)
EXPIRE_EVERY_SECONDS = 60


class Worker:
    """One worker process: a loop of claim, send (in a thread pool), record."""

    def __init__(self, provider: SmsProvider | None = None):
        config = current_app.config
        self.provider = provider or make_provider(current_app)
        self.batch_size = config["SMS_BATCH_SIZE"]
        self.pool = ThreadPoolExecutor(
            max(1, config["SMS_WORKER_CONCURRENCY"]), thread_name_prefix="sms-send"
        )
        self.stopping = threading.Event()
        self.sent = 0
        self.tally: Counter[str] = Counter()  # what became of each invitation claimed
        self.quiet_until: datetime | None = None  # set while quiet hours hold the sends back
        self._expired_at = 0.0

    def stop(self, *_args) -> None:
        """Finish the current batch, then leave the loop (SIGTERM, SIGINT)."""
        self.stopping.set()

    def run_batch(self) -> int:
        """Claim, send and record one batch; the number of invitations claimed."""
        now, started = utcnow(), time.monotonic()
        resume = quiet_hours_end(now)
        if resume != now:  # nothing goes out at night, even a backlog
            if self.quiet_until != resume:
                log.info("quiet hours: nothing is sent until %s", local_time(resume))
            self.quiet_until = resume
            return 0
        self.quiet_until = None
        claimed = claim_batch(self.batch_size, now, self.tally)
        db.session.remove()  # the connection goes back to the pool before the provider call
        if not claimed:
            return 0
        results = list(self.pool.map(self.provider.send, [c.sms for c in claimed]))
        record_results(list(zip(claimed, results, strict=True)))
        db.session.remove()
        for claim, result in zip(claimed, results, strict=True):
            self.tally[_fate(result, claim.attempts)] += 1
        outcomes = Counter(str(r.outcome) for r in results)
        self.sent += outcomes["sent"]
        seconds = time.monotonic() - started
        observe_sms_batch(outcomes, seconds)
        log.info(  # one line per batch: what the provider said, never to whom
            "sms batch: %d claimed %s",
            len(claimed),
            dict(outcomes),
            extra={
                "claimed": len(claimed),
                "outcomes": dict(outcomes),
                "duration_ms": round(seconds * 1000, 1),
            },
        )
        return len(claimed)

    def reconcile_stale(self) -> None:
        """Settle sends left in `sending` past their lease."""
        stale = stale_sends()
        db.session.remove()
        if stale:
            counts = reconcile(self.provider, stale)
            db.session.remove()
            log.info("reconciled %d unknown sends: %s", len(stale), counts)

    def expire(self) -> None:
        """Expire conversations and invitations nobody answered in time (at most once a minute)."""
        if time.monotonic() - self._expired_at < EXPIRE_EVERY_SECONDS:
            return
        from .inbound import expire_stale

        expire_stale()
        db.session.commit()
        db.session.remove()
        self._expired_at = time.monotonic()

    def run(self, once: bool = False) -> int:
        """Loop until stopped (or, with once, until nothing is due); the number sent."""
        poll = current_app.config["SMS_POLL_SECONDS"]
        try:
            while not self.stopping.is_set():
                self.reconcile_stale()
                self.expire()
                claimed = self.run_batch()
                if claimed:
                    continue
                if once:
                    break
                self.stopping.wait(poll)
        finally:
            self.pool.shutdown(wait=True)
            db.session.remove()
        return self.sent

    def explain(self) -> list[str]:
        """Why this run sent what it sent (or nothing): for `flask sms worker --once`."""
        lines = []
        fates = [(n, FATES[k]) for k, n in sorted(self.tally.items()) if k != "sent" and n]
        if fates:
            lines.append("not sent: " + "; ".join(f"{n} {what}" for n, what in fates))
        if self.quiet_until is not None:
            config = current_app.config
            lines.append(
                f"quiet hours ({config['SMS_QUIET_START']:02d}:00-{config['SMS_QUIET_END']:02d}:00 "
                f"{config['TIMEZONE']}): nothing is sent now; sending resumes at "
                f"{local_time(self.quiet_until)}; {_queued_summary()}"
            )
        elif not self.tally:
            lines.append(f"nothing was due: {_queued_summary()}")
        return lines


#: How each claimed invitation ended in this run, in words for the operator.
FATES = {
    "sent": "sent",
    "opted_out": "skipped: the number opted out",
    "failed": "failed permanently (see the invitations' error codes)",
    "retry": "will be retried later (a transient provider error)",
    "unknown": "outcome unknown (checked with the provider when the lease ends)",
}


def _fate(result, attempts: int) -> str:
    """The FATES key of one send's result (as record_results stores it)."""
    if result.outcome == Outcome.SENT:
        return "sent"
    if result.outcome == Outcome.UNKNOWN:
        return "unknown"
    if result.outcome == Outcome.RETRY and attempts < current_app.config["SMS_MAX_ATTEMPTS"]:
        return "retry"
    return "opted_out" if result.is_opt_out else "failed"


def local_time(moment: datetime) -> str:
    """A moment as the operator reads it: local date and time with the zone's name."""
    zone = current_app.config["TIMEZONE"]
    return moment.astimezone(ZoneInfo(zone)).strftime(f"%H:%M on %Y-%m-%d ({zone})")


def _queued_summary() -> str:
    """How many invitations wait, and when the next one is due."""
    count, first = db.session.execute(
        select(func.count(), func.min(Invitation.next_attempt_at)).where(
            Invitation.status == InvitationStatus.QUEUED
        )
    ).one()
    db.session.remove()
    if not count:
        return "no invitation is queued"
    return f"{count} queued, the next due at {local_time(first)}"


def run_worker(once: bool = False) -> Worker:
    """Run the worker in the current app context, stopping cleanly on SIGTERM or SIGINT; the
    worker, with what it sent and why it sent nothing more."""
    worker = Worker()
    config = current_app.config
    slowest = slowest_batch_seconds(config)
    if config["SMS_SEND_LEASE_SECONDS"] <= slowest:
        log.warning(
            "SMS_SEND_LEASE_SECONDS=%s is not above the slowest batch (%s s: %s texts, "
            "%s at a time, %s s timeout): a slow send may be reconciled while in flight",
            config["SMS_SEND_LEASE_SECONDS"],
            slowest,
            config["SMS_BATCH_SIZE"],
            config["SMS_WORKER_CONCURRENCY"],
            config["SMS_PROVIDER_TIMEOUT"],
        )
    if threading.current_thread() is threading.main_thread():
        signal.signal(signal.SIGTERM, worker.stop)
        signal.signal(signal.SIGINT, worker.stop)
    log.info("sms worker started (provider %s)", worker.provider.name)
    sent = worker.run(once=once)
    log.info("sms worker stopped after %d texts", sent)
    return worker
