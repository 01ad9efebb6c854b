"""Every DBC message is sent by the code of its sender node, and only by it, and decoded by
the code of every receiver node: the whole virtual pack runs on its wires, once with each
inverter protocol."""

from collections import Counter, defaultdict

import pytest

from bms.settings import load_settings
from dbc.codec import Codec, inverter_codec, pack_codec, sim_codec, vehicle_codec
from dbc.frames import MasterState
from dbc.sim_frames import (
    CellQuantity,
    ContactorFault,
    ContactorId,
    InjectCell,
    InjectCharger,
    InjectContactor,
    InjectCurrent,
    InjectSensor,
    InjectSlave,
    SensorFault,
    SlaveFault,
    VcuCommand,
)
from sim.lockstep import LockstepPack
from sim.observer import PackObserver

CODECS = {"pack": pack_codec(), "vehicle": vehicle_codec(), "sim": sim_codec()}
# the pack of each inverter protocol: its voltage class (16 LFP cells, 64 LFP cells)
PACKS = {"can_bms": ["pack.modules=2", "pack.cells_per_module=8", "pack.chemistry=LFP"],
         "byd_hvs": ["pack.modules=4", "pack.chemistry=LFP"],
         "pylon_hv": ["pack.modules=4", "pack.chemistry=LFP"]}


@pytest.mark.parametrize("protocol", sorted(PACKS))
def test_every_message_has_its_senders_and_receivers_in_the_code(protocol: str) -> None:
    # every endpoint at once: a VCU, a charger and an inverter (on its own bus); the IVT-S
    # configured at start
    settings = load_settings(None, [*PACKS[protocol], "endpoints.charger=elcon",
                                    f"endpoints.inverter={protocol}", "sensor.configure=true"])
    codecs: dict[str, Codec] = {**CODECS, "inverter": inverter_codec(protocol)}
    pack = LockstepPack(settings)
    observer = PackObserver(settings, 0.0)
    pack.wires.listen("pack", observer.on_frame)
    pack.wires.listen("vehicle", observer.on_vehicle_frame)
    pack.wires.listen("inverter", observer.on_inverter_frame)
    sent_by: dict[str, set[str]] = defaultdict(set)
    current_frames = []

    def run(seconds: float) -> None:
        for item in pack.run(seconds):
            layout, _ = codecs[item.bus].lookup(item.frame.arbitration_id,
                                                item.frame.is_extended_id)
            sent_by[layout.name].add(item.node)
            if layout.name == "IVT_Msg_Result_I":
                current_frames.append(item)

    run(12.0 if protocol == "byd_hvs" else 4.0)  # BYD's states come every 10 s
    assert pack.master.state is MasterState.NORMAL
    # every simulation-bus command once (harmless ones)
    for command in (InjectCell(0, 1, CellQuantity.TEMPERATURE, 26.0, 0.2),
                    InjectSlave(1, SlaveFault.RESUME), InjectSensor(SensorFault.RESUME),
                    InjectContactor(ContactorId.PRECHARGE, ContactorFault.NONE),
                    InjectCurrent(-1.0, 0.2), VcuCommand(), InjectCharger(0)):
        pack.inject(command)
    run(1.0)

    master, slaves, charger, inverter = pack.master, pack.slaves, pack.charger, pack.inverter
    # the harness gives the cells the box's current itself; a slave process takes it from
    # the sensor's frames (its simulated AFE carries the current): as one would (that it
    # hears them on a bus, the slave-process tests show)
    last = current_frames[-1]
    slaves[0].on_frame(last.frame, last.time_s)
    assert charger is not None
    assert inverter is not None
    assert master.inverter_receiver is not None
    assert observer.inverter_receiver is not None
    decoded_by = {
        "Master": master.receiver.decoded + master.vehicle_receiver.decoded
        + master.inverter_receiver.decoded,
        "Observer": observer.receiver.decoded + observer.vehicle_receiver.decoded
        + observer.inverter_receiver.decoded,
        "Slave": sum((s.receiver.decoded for s in slaves), Counter())
        + sum((f.receiver.decoded for f in pack.faults), Counter()),  # its fault injection
        "ContactorBox": pack.box.receiver.decoded,
        "IVT_S": pack.box.sensor.command_receiver.decoded,
        "HvBox": pack.box.sim_receiver.decoded,
        "Vcu": pack.vcu.receiver.decoded + pack.vcu.sim_receiver.decoded,
        "Charger": charger.receiver.decoded + charger.sim_receiver.decoded,
        "Inverter": inverter.receiver.decoded,
    }
    for codec in codecs.values():
        for name, layout in codec.layouts.items():
            assert sent_by[name] == set(layout.senders), f"{name} sent by {sent_by[name]}"
            for node in layout.receivers:
                assert decoded_by[node][name] > 0, f"{node} never decoded {name}"
    # what the master and the slaves decode, they also handle
    assert master.statistics.frames_ignored == 0
    assert all(s.statistics.frames_ignored == 0 for s in slaves)
    assert sum(master.receiver.failures.values()) == 0
    assert master.receiver.total_statistics().errors == 0


def test_lockstep_is_deterministic() -> None:
    settings = load_settings(None, ["pack.modules=2"])
    first = [(f.time_s, f.bus, f.frame) for f in LockstepPack(settings).run(4.0)]
    again = [(f.time_s, f.bus, f.frame) for f in LockstepPack(settings).run(4.0)]
    assert first == again
    assert len(first) > 1000
