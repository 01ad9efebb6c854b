"""Every DBC message is sent by the code of its sender node, and only by it, and decoded by
the code of every receiver node: all cores run on one in-process wire for three seconds."""

from collections import Counter, defaultdict

from bms.settings import load_settings
from bms.timing import Schedule
from dbc.codec import CanFrame, pack_codec
from master.core import MasterCore
from sim.current_sensor import CurrentSensorSim
from sim.observer import PackObserver
from slave.afe.sim import SimAfe
from slave.core import SlaveCore


def test_every_message_has_its_senders_and_receivers_in_the_code() -> None:
    settings = load_settings(None, ["pack.modules=2"])
    codec = pack_codec()
    master = MasterCore(settings, codec, 0.0)
    slaves = [SlaveCore(settings, m, SimAfe(settings, m, 0.0), codec, 0.0) for m in range(2)]
    sensor = CurrentSensorSim(settings, codec, 0.0)
    observer = PackObserver(settings, codec, 0.0)
    slave_schedule = Schedule(settings.slave.measurement_period_s, 0.0)
    sent_by: dict[str, set[str]] = defaultdict(set)

    def emit(node: str, frames: list[CanFrame]) -> list[CanFrame]:
        for frame in frames:
            sent_by[codec.lookup(frame.arbitration_id, frame.is_extended_id)[0].name].add(node)
        return frames

    for step in range(300):
        now = step / 100
        wire = emit("Master", master.tick(now)) + emit("IVT_S", sensor.tick(now))
        if slave_schedule.due(now):
            for slave in slaves:
                wire += emit("Slave", slave.tick(now))
        for frame in wire:  # like a real bus, every node hears every frame, its own too
            for core in (master, sensor, observer, *slaves):
                core.on_frame(frame, now)

    decoded_by = {"Master": master.receiver.decoded, "Observer": observer.receiver.decoded,
                  "Slave": sum((s.receiver.decoded for s in slaves), Counter())}
    for name, layout in codec.layouts.items():
        assert sent_by[name] == set(layout.senders), f"{name} sent by {sent_by[name]}"
        for node in layout.receivers:
            assert decoded_by[node][name] > 0, f"{node} never decoded {name}"
    # what the master and the slaves decode, they also handle
    assert master.statistics.frames_ignored == 0
    assert all(s.statistics.frames_ignored == 0 for s in slaves)
    assert master.state.name == "STANDBY"
    assert sum(master.receiver.failures.values()) == 0
    assert master.receiver.total_statistics().errors == 0
