"""What every HTTP client of the tool shares (Akeneo, Account Manager, WebDAV, the SFCC job APIs):
one bounded retry policy and the rule of what is worth another try.

Our own loop rather than urllib3's Retry: one policy must also cover renewing a refused token and
malformed bodies, and bound the total time spent waiting, whatever the number of tries.
"""

from __future__ import annotations

import logging
import random
import threading
import time
from dataclasses import dataclass, field
from typing import Callable, TypeVar

import requests

from .errors import TransformerError

log = logging.getLogger("akeneo_sfcc")
RETRY_STATUSES = frozenset({408, 429, 500, 502, 503, 504})
T = TypeVar("T")


class Spending:
    """The seconds a command has spent on failed attempts and on the pauses between them, summed
    over all its threads and requests: one budget per command, not per connection."""

    def __init__(self):
        self.seconds = 0.0
        self._lock = threading.Lock()

    def add(self, seconds: float) -> float:
        with self._lock:
            self.seconds += seconds
            return self.seconds


@dataclass(frozen=True)
class RetryPolicy:
    """How hard to try: `attempts` tries per request, waits doubling from `base` up to `cap`
    seconds (with jitter, or as the server's Retry-After says); at most `budget` seconds spent on
    failed attempts and waits by the whole command (one policy per command), and no retry after
    `deadline` (a `time.monotonic()` value)."""

    attempts: int = 6
    base: float = 1.0
    cap: float = 30.0
    budget: float = 300.0
    deadline: float | None = None
    spending: Spending = field(default_factory=Spending, compare=False, repr=False)

    def delay(self, attempt: int, retry_after: float | None) -> float:
        if retry_after is not None:
            return retry_after
        return min(self.cap, self.base * 2 ** attempt) * random.uniform(0.5, 1.0)

    def allows(self, pause: float, spent: float) -> bool:
        """Whether one more wait of `pause` seconds fits the command's budget and deadline."""
        return spent + pause <= self.budget and (self.deadline is None or time.monotonic() + pause <= self.deadline)


class Retryable(Exception):
    """A failure worth another try; `reason` says what happened, for the final error."""

    def __init__(self, reason: str, retry_after: float | None = None):
        super().__init__(reason)
        self.reason, self.retry_after = reason, retry_after


def with_retries(policy: RetryPolicy, where: str, attempt: Callable[[], T], error: type[TransformerError],
                 sleep: Callable[[float], None] = time.sleep) -> T:
    """`attempt()` until it stops raising Retryable, each retry said on stderr (the `akeneo_sfcc`
    logger); then `error` (retryable: trying later may work) with the real time it took."""
    started = time.monotonic()
    for number in range(policy.attempts):
        began = time.monotonic()
        try:
            return attempt()
        except Retryable as failure:
            last = failure
            pause = policy.delay(number, failure.retry_after)
            spent = policy.spending.add(time.monotonic() - began)
            if number + 1 == policy.attempts or not policy.allows(pause, spent):
                break
            log.warning("%s: %s, retrying in %.0f s (attempt %d/%d)", where, failure.reason, pause, number + 2,
                        policy.attempts)
            policy.spending.add(pause)
            sleep(pause)
    limit = "" if number + 1 == policy.attempts else " (the command's retry budget or deadline is spent)"
    raise error(f"{where}: {last.reason}; gave up after {number + 1} tries in {time.monotonic() - started:.0f}s{limit}",
                retryable=True)


def request(session: requests.Session, method: str, url: str, timeout: tuple[float, float], **kwargs) -> requests.Response:
    """One exchange; a timeout, a dropped connection or a status worth another try raise Retryable."""
    try:
        response = session.request(method, url, timeout=timeout, **kwargs)
    except requests.Timeout:
        raise Retryable(f"no answer within {timeout[1]:.0f}s") from None
    except requests.ConnectionError as exc:
        raise Retryable(f"connection failed ({cause(exc)})") from None
    except (requests.exceptions.ChunkedEncodingError, requests.exceptions.ContentDecodingError):
        raise Retryable("the answer was cut short (fewer bytes than announced)") from None
    if response.status_code in RETRY_STATUSES:
        response.close()
        raise Retryable(f"HTTP {response.status_code}", retry_after(response))
    if not kwargs.get("stream") and method != "HEAD" and short(response):
        raise Retryable("the answer was cut short (fewer bytes than announced)")
    return response


def short(response: requests.Response) -> bool:
    """Whether fewer bytes came than the Content-Length announced. urllib3 2 raises on such a
    body (ChunkedEncodingError above), but urllib3 1.x, which requests still accepts, hands over what came:
    a JSON page would then fail to parse, any other body would be taken whole. `raw.tell()` counts the
    bytes read from the wire, before any Content-Encoding is undone."""
    try:
        announced = int(response.headers["Content-Length"])
    except (KeyError, ValueError):
        return False  # chunked, or a length no one can check
    if response.status_code in (204, 304) or response.status_code < 200:
        return False  # these have no body whatever the header says
    try:
        return response.raw.tell() < announced
    except (AttributeError, TypeError):
        return False  # not a urllib3 response (a test double)


def retry_after(response: requests.Response) -> float | None:
    try:
        return max(0.0, float(response.headers["Retry-After"]))
    except (KeyError, ValueError):
        return None


def cause(exc: Exception) -> str:
    text = str(exc.__context__ or exc)
    return "connection dropped" if "RemoteDisconnected" in text or "Connection aborted" in text else type(exc).__name__
