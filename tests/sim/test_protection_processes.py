"""Protection in the real virtual pack: processes on udp_multicast, faults injected on its
simulation bus, the outcome seen by an independent listener on the pack and vehicle buses."""

from __future__ import annotations

import asyncio
import os
import random
import signal
import sys
from pathlib import Path

import pytest

from bms.can_port import CanPort
from bms.settings import bus_kwargs
from dbc.codec import CanFrame, pack_codec
from dbc.frames import OPEN, Contactors, MasterState
from dbc.sim_frames import (
    ContactorFault,
    ContactorId,
    InjectContactor,
    InjectCurrent,
    VcuCommand,
    VcuCommandRequest,
)
from sim.observer import PackObserver
from testbed.packs import RunningPack, finish, online_pack
from testbed.waiting import wait_until

pytestmark = pytest.mark.multiprocess
NORMAL_WITHIN_S = 8.0


def state(observer: PackObserver) -> MasterState | None:
    return observer.bms_status.state if observer.bms_status else None


def box_contactors(observer: PackObserver) -> Contactors | None:
    feedback = observer.contactor_feedback
    return feedback.contactors if feedback else None


async def driving(pack: RunningPack) -> None:
    await wait_until(lambda: state(pack.observer) is MasterState.NORMAL
                     and box_contactors(pack.observer) == Contactors(True, True, False),
                     NORMAL_WITHIN_S, "the pack closes its contactors for the VCU")


async def opened_with_fault(pack: RunningPack, group: str, within_s: float,
                            expected: Contactors = OPEN) -> None:
    observer = pack.observer
    await wait_until(lambda: state(observer) is MasterState.ERROR
                     and box_contactors(observer) == expected
                     and observer.bms_status is not None
                     and group in observer.bms_status.fault_groups,
                     within_s, f"ERROR, contactors {expected}, fault group {group}")


async def test_over_voltage_injected_with_the_cli_opens_the_contactors(tmp_path: Path) -> None:
    async with online_pack(tmp_path, 2) as pack:
        await driving(pack)
        injector = await asyncio.create_subprocess_exec(
            sys.executable, "-m", "bms", "inject", "cell-voltage", "--config", str(pack.config),
            "--module", "1", "--cell", "7", "--mv", "4350",
            stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.STDOUT)
        output, _ = await injector.communicate()
        assert injector.returncode == 0, output
        await opened_with_fault(pack, "CellVoltage", 2.0)
        pack.process.send_signal(signal.SIGINT)
        code, log = await finish(pack.process)
    assert code == 0, log
    events = pack.master_stats()["events"]
    assert "cell_overvoltage_msl set (fatal) at module 1 #7 value 4350, limit 4250" in events


async def test_killing_a_slave_opens_the_contactors(tmp_path: Path) -> None:
    async with online_pack(tmp_path, 3, "--keep-going") as pack:
        await driving(pack)
        os.kill(pack.pid("slave 1"), signal.SIGKILL)
        await opened_with_fault(pack, "Slave", 1.5)
        pack.process.send_signal(signal.SIGINT)
        code, _ = await finish(pack.process)
    assert code == 1  # a child died
    assert "slave_lost set (fatal) at module 1" in pack.master_stats()["events"]


async def test_a_welded_contactor_is_detected(tmp_path: Path) -> None:
    async with online_pack(tmp_path, 2) as pack:
        await driving(pack)
        await pack.inject(InjectContactor(ContactorId.MAIN_PLUS, ContactorFault.WELDED))
        await pack.inject(VcuCommand(VcuCommandRequest.STANDBY))
        await opened_with_fault(pack, "Contactor", 2.0, expected=Contactors(main_plus=True))
        pack.process.send_signal(signal.SIGINT)
        await finish(pack.process)
    assert "contactor_welded set (fatal) at #0" in pack.master_stats()["events"]


async def test_a_precharge_that_cannot_finish_fails_after_the_configured_tries(
        tmp_path: Path) -> None:
    extra = ('[sim.vcu]\nrequest = "standby"\n\n'
             "[contactors]\nprecharge_tries = 2\nprecharge_timeout_s = 1.0\n"
             "precharge_pause_s = 0.5\n")
    async with online_pack(tmp_path, 2, extra=extra) as pack:
        await wait_until(lambda: state(pack.observer) is MasterState.STANDBY, 5.0, "STANDBY")
        await pack.inject(InjectCurrent(-2.0, 0.0))  # the inverter draws while precharging
        await pack.inject(VcuCommand(VcuCommandRequest.DRIVE))
        await opened_with_fault(pack, "Precharge", 6.0)
        pack.process.send_signal(signal.SIGINT)
        await finish(pack.process)
    events = pack.master_stats()["events"]
    for attempt in (1, 2):
        # 2 A drawn through the 50 ohm resistor: a 100 V gap, give or take the pack's IR drop
        # (pack and bus voltages come from two devices, sampled at slightly different moments)
        assert 99.0 < failed_precharge_gap_v(events, attempt) < 101.0, events
    assert "state PRECHARGE -> ERROR: precharge failed 2 times" in events


def failed_precharge_gap_v(events: list[str], attempt: int) -> float:
    prefix = f"precharge try {attempt} of 2 failed after 1 s: pack-bus gap "
    gaps = [event.removeprefix(prefix).removesuffix(" V") for event in events
            if event.startswith(prefix)]
    assert len(gaps) == 1, events
    return float(gaps[0])


@pytest.mark.parametrize(("timeout_s", "opens"), [(1.0, True), (0.0, False)],
                         ids=["monitored", "not-monitored"])
async def test_vcu_heartbeat_loss_as_configured(tmp_path: Path, timeout_s: float,
                                                opens: bool) -> None:
    extra = f"[master]\nvcu_heartbeat_timeout_s = {timeout_s}\n"
    async with online_pack(tmp_path, 2, extra=extra) as pack:
        await driving(pack)
        await pack.inject(VcuCommand(silence_heartbeat_s=3.0))
        if opens:
            await opened_with_fault(pack, "Vcu", 2.5)
        else:
            loop = asyncio.get_running_loop()
            observer = pack.observer
            await wait_until(lambda: observer.vcu_request_at_s is not None
                             and loop.time() - observer.vcu_request_at_s > 2.0, 3.0,
                             "the VCU silent for twice the monitored timeout")
            assert state(observer) is MasterState.NORMAL
        pack.process.send_signal(signal.SIGINT)
        await finish(pack.process)


async def test_malformed_and_random_frames_never_crash_the_master(tmp_path: Path) -> None:
    rng = random.Random(7)
    valid_ids = sorted({layout.base_id for layout in pack_codec().layouts.values()})
    sent = 0
    async with online_pack(tmp_path, 2, "--keep-going") as pack:
        await driving(pack)
        async with CanPort(bus_kwargs(pack.settings, "pack"), "test-fuzzer") as fuzzer:
            loop = asyncio.get_running_loop()
            end = loop.time() + 3.0
            while loop.time() < end:  # paced like a busy bus: 20 frames every 10 ms
                for _ in range(20):
                    ident = rng.choice(valid_ids) + rng.randrange(0, 3) if rng.random() < 0.6 \
                        else rng.randrange(0, 0x800)
                    data = bytes(rng.randrange(256) for _ in range(rng.randrange(0, 9)))
                    fuzzer.send(CanFrame(ident, data))
                    sent += 1
                await asyncio.sleep(0.01)
        master = pack.pid("master")
        os.kill(master, 0)  # still alive
        pack.process.send_signal(signal.SIGINT)
        code, log = await finish(pack.process)
    assert code == 0, log  # no child died
    stats = pack.master_stats()
    rejected = sum(stats["decode_failures"].values()) + sum(  # type: ignore[union-attr]
        m["e2e_errors"] for m in stats["modules"].values())  # type: ignore[union-attr]
    assert sent > 3000
    assert rejected > sent // 10
    assert stats["frames_received"] > sent  # type: ignore[operator]
    assert "Traceback" not in (pack.run_dir / "master.log").read_text()
