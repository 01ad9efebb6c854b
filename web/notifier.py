"""Sending the alarms of `bms web` (web/alarms.py) with apprise, in the background: `send`
only queues (a bounded queue: a notification that does not fit is dropped, counted and
logged), one task delivers them in order, each URL with a deadline of its own, and a URL
that fails is logged and does not hold up the others or the next notification.

Logs name a URL by its scheme and host as apprise masks them (`safe_address`), never with
the password or token that apprise URLs carry. Apprise's own logger is quieted to errors
(unless configured): its warnings repeat ours and name ntfy topics and webhook paths.
"""

from __future__ import annotations

import asyncio
import ipaddress
import logging
from collections.abc import Iterable
from dataclasses import dataclass
from types import TracebackType
from urllib.parse import urlsplit

import apprise

from bms.errors import ConfigError
from web.alarms import Notification

log = logging.getLogger(__name__)
QUEUE_CAPACITY = 100
SEND_TIMEOUT_S = 30.0  # per URL; apprise's own HTTP timeouts are shorter (4 s)
STOP_TIMEOUT_S = 10.0
APPRISE_LOGGER = "apprise"
NOTIFY_TYPES = {"fatal": apprise.NotifyType.FAILURE, "warning": apprise.NotifyType.WARNING}


def safe_address(url: str) -> str:
    """``scheme://host`` of an apprise URL, for logs: the host as apprise's privacy mode
    shows it (it masks a Telegram bot token, the host of ``tgram://``), ``...`` for what
    is no host name (an ntfy.sh topic), the scheme alone for a URL apprise does not know."""
    service = apprise.Apprise.instantiate(url)
    if service is None:
        return f"{urlsplit(url).scheme}://"
    parts = urlsplit(service.url(privacy=True))  # type: ignore[no-untyped-call]
    host = parts.hostname or ""
    return f"{parts.scheme}://{host if _is_host_name(host) else '...'}"


def _is_host_name(host: str) -> bool:
    try:
        ipaddress.ip_address(host)
    except ValueError:
        return "." in host or host == "localhost"
    return True


@dataclass
class NotifierStatistics:
    sent: int = 0  # deliveries to one URL that apprise confirmed
    failed: int = 0  # deliveries that failed or timed out
    dropped: int = 0  # notifications not queued (queue full, or stopped)


class Notifier:
    """``async with Notifier(urls) as notifier: notifier.send(notification)``."""

    def __init__(self, urls: Iterable[str] = (), capacity: int = QUEUE_CAPACITY,
                 send_timeout_s: float = SEND_TIMEOUT_S) -> None:
        """``urls``: those of the configured routes, checked here (ConfigError for one
        apprise does not know); others are loaded when first used."""
        self.send_timeout_s = send_timeout_s
        apprise_log = logging.getLogger(APPRISE_LOGGER)
        if apprise_log.level == logging.NOTSET:
            apprise_log.setLevel(logging.ERROR)
        self.statistics = NotifierStatistics()
        self._services: dict[str, apprise.Apprise | None] = {}
        for url in urls:
            if self._service(url) is None:
                raise ConfigError(f"web.alarms: {safe_address(url)} is not an apprise URL "
                                  "(or its plugin's package is missing): docs/alarms.md")
        self._queue: asyncio.Queue[Notification] = asyncio.Queue(maxsize=capacity)
        self._task: asyncio.Task[None] | None = None
        self._stopped = False

    async def __aenter__(self) -> Notifier:
        self.start()
        return self

    async def __aexit__(self, exc_type: type[BaseException] | None,
                        exc: BaseException | None, tb: TracebackType | None) -> None:
        await self.stop()

    def start(self) -> None:
        if self._task is None and not self._stopped:
            self._task = asyncio.create_task(self._run(), name="alarm-notifier")

    def send(self, notification: Notification) -> bool:
        """Queue a notification; never waits. False when it was dropped."""
        if self._stopped:
            self.statistics.dropped += 1
            log.error("alarm dropped, the notifier is stopped: %s", notification.title)
            return False
        try:
            self._queue.put_nowait(notification)
        except asyncio.QueueFull:
            self.statistics.dropped += 1
            log.error("alarm queue full (%d): dropped %s (%d dropped so far)",
                      self._queue.maxsize, notification.title, self.statistics.dropped)
            return False
        return True

    async def stop(self, timeout_s: float = STOP_TIMEOUT_S) -> None:
        """Deliver what is queued, within ``timeout_s``, then stop. Safe to call twice."""
        self._stopped = True
        task, self._task = self._task, None
        if task is None:
            if self._queue.qsize():
                log.error("alarms: %d never delivered (not started)", self._queue.qsize())
            return
        try:
            async with asyncio.timeout(timeout_s):
                await self._queue.join()
        except TimeoutError:
            log.error("alarms: %d not delivered within %.1f s of stopping",
                      self._queue.qsize() + 1, timeout_s)  # and the one under way
        task.cancel()
        await asyncio.wait([task])

    async def _run(self) -> None:
        while True:
            notification = await self._queue.get()
            try:
                for url in notification.urls:
                    await self._deliver(url, notification)
            finally:
                self._queue.task_done()

    async def _deliver(self, url: str, notification: Notification) -> None:
        service = self._service(url)
        delivered = False
        try:
            if service is None:
                log.error("alarm to %s: not an apprise URL", safe_address(url))
            else:
                async with asyncio.timeout(self.send_timeout_s):
                    delivered = bool(await service.async_notify(
                        title=notification.title, body=notification.body,
                        notify_type=_notify_type(notification)))
                if not delivered:
                    log.error("alarm to %s not delivered: %s", safe_address(url),
                              notification.title)
        except TimeoutError:
            log.error("alarm to %s timed out after %g s: %s", safe_address(url),
                      self.send_timeout_s, notification.title)
        except Exception:  # a plugin's bug must not end the deliveries
            log.exception("alarm to %s failed: %s", safe_address(url), notification.title)
        if delivered:
            self.statistics.sent += 1
        else:
            self.statistics.failed += 1

    def _service(self, url: str) -> apprise.Apprise | None:
        if url not in self._services:
            service = apprise.Apprise()
            self._services[url] = service if service.add(url) else None
        return self._services[url]


def _notify_type(notification: Notification) -> apprise.NotifyType:
    if notification.cleared:
        return apprise.NotifyType.SUCCESS
    return NOTIFY_TYPES.get(notification.severity, apprise.NotifyType.INFO)
