"""`bms site`'s service between real brokers: packs (their masters' messages, published at
each pack's own Mosquitto) reach it through the bridges to the site broker; its limits reach
an inverter on a CAN bus (udp_multicast in the private namespace, decoded with the BYD HVS
DBC). A site broker outage: within the pack timeout the inverter is told 0 A both ways, and
when the broker is back the site recovers and has every state published meanwhile."""

from __future__ import annotations

import asyncio
import contextlib
import threading
import time
from dataclasses import dataclass, field
from typing import Any

import can
import pytest

from bms.settings import Settings, load_settings
from dbc.codec import inverter_codec
from dbc.endpoint import FrameReceiver, FrameSender
from dbc.inverter_byd_hvs_frames import BydInverterIdentity, BydLimits
from master.telemetry.payloads import pack_bytes
from sim.broker import USERS_ENV
from sim.site_brokers import SITE_USER
from sitectl.core import UNLEARNT_MARGIN
from sitectl.service import SiteService
from testbed.waiting import wait_until
from tests.sim.test_site_brokers import SITE, Site, site, with_brokers

PACKS = ["pack-a", "pack-b"]  # the packs of the site fixture (tests/sim/test_site_brokers.py)
__all__ = ["site"]  # the fixture: its brokers, the bridges up
INVERTER_BUS: dict[str, Any] = {"interface": "udp_multicast", "channel": "239.74.170.9",
                                "port": 43390, "hop_limit": 0}
PACK_TIMEOUT_S = 2.0
PUBLISH_PERIOD_S = 0.5
TIMEOUT_S = 30.0


@dataclass
class Inverter:
    """A BYD HVS inverter's side, as far as the test needs: it wakes the battery and reads
    the limits frames."""

    limits: list[tuple[float, BydLimits]] = field(default_factory=list)
    stop: threading.Event = field(default_factory=threading.Event)

    def run(self) -> None:
        codec = inverter_codec("byd_hvs")
        receiver, sender = FrameReceiver(codec, 0, "Inverter"), FrameSender(codec)
        with can.Bus(**INVERTER_BUS) as bus:
            last_identity_s = 0.0
            while not self.stop.is_set():
                if time.monotonic() - last_identity_s > 1.0:
                    frame = sender.encode(BydInverterIdentity(identity_request=False))
                    bus.send(can.Message(arbitration_id=frame.arbitration_id,
                                         data=frame.data, is_extended_id=False))
                    last_identity_s = time.monotonic()
                message = bus.recv(0.05)
                if message is None:
                    continue
                from dbc.codec import CanFrame
                reception = receiver.receive(CanFrame(message.arbitration_id,
                                                      bytes(message.data)))
                if reception is not None and isinstance(reception.frame, BydLimits):
                    self.limits.append((time.monotonic(), reception.frame))

    def latest(self) -> BydLimits | None:
        return self.limits[-1][1] if self.limits else None


def settings_for(site: Site) -> Settings:
    return load_settings(None, [
        "pack.modules=4", "pack.cells_per_module=16", "pack.chemistry=\"LFP\"",
        "pack.cell_capacity_ah=100.0", "endpoints.vcu=false", "endpoints.inverter=\"byd_hvs\"",
        f"mqtt.port={site.plan.site.port}",
        "site.packs=[" + ",".join(f'"{p}"' for p in PACKS) + "]",
        f"site.pack_timeout_s={PACK_TIMEOUT_S}",
        *(f"bus.inverter.{k}={v!r}".replace("'", '"') for k, v in INVERTER_BUS.items())])


async def publish_packs(site: Site, sent: dict[str, list[float]], stop: asyncio.Event) -> None:
    """Each pack's master as it publishes (state QoS 1, limits QoS 0), connected, at its own
    broker; reconnecting whenever that broker is away."""
    async def one(pack: str) -> None:
        while not stop.is_set():
            with contextlib.suppress(Exception):
                async with site.client(pack, "bms-master") as client:
                    while not stop.is_set():
                        t = time.time()
                        await client.publish(f"bms/{pack}/state", pack_bytes({
                            "t": t, "state": "NORMAL", "voltage_v": 209.0, "current_a": 0.0,
                            "contactors": {"main_plus": True, "main_minus": True,
                                           "precharge": False},
                            "soc_pct": 50.0, "soe_kwh": 10.0, "soh_pct": 100.0,
                            "capacity_ah": 100.0, "resistance_mohm": 29.4, "faults": [],
                            "warnings": []}), qos=1)
                        sent[pack].append(t)
                        await client.publish(f"bms/{pack}/limits", pack_bytes({
                            "t": t, "charge_a": 50.0, "discharge_a": 80.0,
                            "voltage_max_v": 227.2, "voltage_min_v": 179.2}), qos=0)
                        with contextlib.suppress(TimeoutError):
                            await asyncio.wait_for(stop.wait(), PUBLISH_PERIOD_S)
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), PUBLISH_PERIOD_S)

    await asyncio.gather(*(one(pack) for pack in PACKS))


@with_brokers
async def test_a_site_broker_outage_stops_the_inverter_and_the_site_recovers(
        site: Site, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("BMS_SITE_PASSWORD", site.plan.site.passwords_env[USERS_ENV[SITE_USER]])
    assert SITE == "site"
    service = SiteService(settings_for(site))
    heard: dict[str, list[float]] = {pack: [] for pack in PACKS}
    take = service.on_message

    def on_message(topic: str, payload: bytes, now_s: float) -> None:
        pack, _, kind = topic.removeprefix("bms/").partition("/")
        if kind == "state":
            import msgpack
            heard[pack].append(float(msgpack.unpackb(payload)["t"]))
        take(topic, payload, now_s)

    service.on_message = on_message  # type: ignore[method-assign]
    sent: dict[str, list[float]] = {pack: [] for pack in PACKS}
    inverter = Inverter()
    listener = threading.Thread(target=inverter.run, name="inverter", daemon=True)
    listener.start()
    stop, publishing = asyncio.Event(), asyncio.Event()
    tasks = [asyncio.create_task(service.run(stop), name="site"),
             asyncio.create_task(publish_packs(site, sent, publishing), name="packs")]
    try:
        def charging() -> bool:  # both packs' limits, less the margins
            limits = inverter.latest()
            return limits is not None and \
                abs(limits.charge_current_a - 2 * 50.0 * 0.95 * (1 - UNLEARNT_MARGIN)) < 0.2

        await wait_until(charging, TIMEOUT_S, "the inverter is told both packs' limits")
        # from here on the site's session exists at the site broker: nothing may be lost
        first = {pack: len(sent[pack]) for pack in PACKS}
        await site.site.stop()
        stopped_s = time.monotonic()

        def zero_at() -> float | None:
            return next((at_s for at_s, frame in inverter.limits if at_s > stopped_s
                         and frame.charge_current_a == frame.discharge_current_a == 0.0), None)

        await wait_until(lambda: zero_at() is not None, PACK_TIMEOUT_S + 3.0,
                         "0 A both ways after the pack timeout")
        zero_after_s = (zero_at() or 0.0) - stopped_s
        assert zero_after_s >= PACK_TIMEOUT_S - 0.5  # not before the packs fell silent
        report = service.core.report
        assert report is not None
        assert report.warnings, report
        assert all(w.startswith(("site_pack_silent", "site_pack_limits_missing"))
                   for w in report.warnings), report.warnings
        outage_sent = {pack: len(sent[pack]) for pack in PACKS}
        await site.site.start()
        await wait_until(charging, TIMEOUT_S, "the site recovers when the broker is back")
        publishing.set()
        def missing() -> dict[str, list[float]]:
            return {p: sorted(set(sent[p][first[p]:]) - set(heard[p])) for p in PACKS}

        with contextlib.suppress(AssertionError):
            await wait_until(lambda: not any(missing().values()), TIMEOUT_S,
                             "every state published during the outage reached the site")
        assert not any(missing().values()), (missing(), {p: len(sent[p]) for p in PACKS})
        assert all(len(sent[p]) > outage_sent[p] - 1 for p in PACKS)
        print(f"0 A {zero_after_s:.2f} s after the site broker stopped "
              f"(pack timeout {PACK_TIMEOUT_S} s)")
    finally:
        publishing.set()
        stop.set()
        await asyncio.gather(*tasks, return_exceptions=True)
        inverter.stop.set()
        listener.join(timeout=5)
